//! `Ticker\Exception`, a plain `RuntimeException` subclass for everything the extension
//! refuses.
//!
//! It is registered with a bare class builder rather than as a Rust-backed class, so that it
//! keeps `RuntimeException`'s own object handlers and constructor: PHP code can
//! `new Ticker\Exception('...')`, extend it, and catch it like any exception.

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::ClassEntry;

pub const NAME: &str = "Ticker\\Exception";

unsafe extern "C" {
    static spl_ce_RuntimeException: *mut ClassEntry;
}

/// `RuntimeException` is SPL's; SPL registers it before any extension that loads later.
fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: SPL is compiled into PHP and sets this pointer during its own MINIT, which runs
    // before this extension's; the class entry lives until PHP shuts down.
    unsafe { spl_ce_RuntimeException.as_ref() }.expect("SPL's RuntimeException is registered")
}

/// Registers the class; called from the module's startup.
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new(NAME)
        .extends((runtime_exception, "\\RuntimeException"))
        // The engine points into the argument tables for the life of the process: keep them.
        .registration(|_class, tables| std::mem::forget(tables))
        .register()
}

/// A `Ticker\Exception` to throw.
pub fn exception(message: impl Into<String>) -> PhpException {
    // Looked up per throw: throws are rare, and a class entry is not `Sync` to cache.
    let class = ClassEntry::try_find(NAME).expect("Ticker\\Exception is registered at startup");
    PhpException::new(message.into(), 0, class)
}
