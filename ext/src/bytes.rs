//! Binary-safe PHP strings: payloads carry bytes, not necessarily UTF-8.

use ext_php_rs::convert::{FromZval, IntoZval};
use ext_php_rs::error::Result;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendStr, Zval};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl IntoZval for Bytes {
    const TYPE: DataType = DataType::String;
    const NULLABLE: bool = false;

    fn set_zval(self, zv: &mut Zval, persistent: bool) -> Result<()> {
        zv.set_zend_string(ZendStr::new(&self.0, persistent));
        Ok(())
    }
}

impl<'a> FromZval<'a> for Bytes {
    const TYPE: DataType = DataType::String;

    fn from_zval(zval: &'a Zval) -> Option<Self> {
        zval.zend_str().map(|s| Bytes(s.as_bytes().to_vec()))
    }
}
