//! `Ticker\Payload`: an immutable body and header, like `Spiral\RoadRunner\Payload`.

use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use super::bytes::Bytes;

#[php_class]
#[php(name = "Ticker\\Payload")]
#[php(flags = ClassFlags::Final.union(ClassFlags::NoDynamicProperties))]
pub struct Payload {
    pub(crate) body: Vec<u8>,
    pub(crate) header: Vec<u8>,
}

#[php_impl]
impl Payload {
    /// Nulls become empty strings, as in RoadRunner's payload.
    pub fn __construct(body: Option<Bytes>, header: Option<Bytes>) -> Self {
        Payload {
            body: body.unwrap_or_default().0,
            header: header.unwrap_or_default().0,
        }
    }

    /// The payload's body: for a tick, `{"tick":N}`.
    #[php(getter)]
    pub fn get_body(&self) -> Bytes {
        Bytes(self.body.clone())
    }

    /// The payload's header: for a tick, a JSON object with `lastTick`, `due`, `dueHrtime`,
    /// `skipped` and `attempt`.
    #[php(getter)]
    pub fn get_header(&self) -> Bytes {
        Bytes(self.header.clone())
    }
}
