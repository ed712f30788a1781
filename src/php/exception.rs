//! `Ticker\Exception`, a `RuntimeException` for everything the extension refuses.

use ext_php_rs::prelude::*;
use ext_php_rs::zend::ClassEntry;

unsafe extern "C" {
    static spl_ce_RuntimeException: *mut ClassEntry;
}

/// `RuntimeException` is SPL's; SPL registers it before any extension that loads later.
fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: SPL is compiled into PHP and sets this pointer during its own MINIT, which runs
    // before this extension's; the class entry lives until PHP shuts down.
    unsafe { spl_ce_RuntimeException.as_ref() }.expect("SPL's RuntimeException is registered")
}

#[php_class]
#[php(name = "Ticker\\Exception")]
#[php(extends(ce = runtime_exception, stub = "\\RuntimeException"))]
#[derive(Default)]
pub struct TickerException;

pub fn exception(message: impl Into<String>) -> PhpException {
    PhpException::from_class::<TickerException>(message.into())
}
