//! How a forked worker ends: right after PHP's request shutdown, without PHP's module
//! shutdown.
//!
//! A worker is a fork of the master, which keeps every module loaded and shuts them down
//! once, at its own exit. In a worker, the module shutdown only frees tables that the worker
//! shares with the master copy-on-write, so every write of it copies a page: about 10 ms of
//! CPU per worker, which is most of what stopping 500 workers costs. Everything the
//! application sees still runs: shutdown functions, destructors, output buffers, every
//! extension's request shutdown (`RSHUTDOWN` and post-deactivation). Then the SAPI's own
//! end of the request (the CLI flushes stdout), and the process exits with PHP's exit
//! status. Persistent connections (`pconnect`, persistent PDO) are closed by the kernel
//! rather than by their extension's goodbye.
//!
//! `ticker.worker_module_shutdown=1` keeps PHP's whole shutdown in every worker.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::sync::OnceLock;

use ext_php_rs::zend::ExecutorGlobals;
use ticker::sys;

use super::IniSwitchError;

/// The INI switch that keeps PHP's module shutdown in workers.
pub const INI: &CStr = c"ticker.worker_module_shutdown";

type Hook = Option<unsafe extern "C" fn() -> c_int>;

/// The SAPI's own end-of-request hook, called before the worker exits.
static SAPI_DEACTIVATE: OnceLock<Hook> = OnceLock::new();

/// Whether workers skip PHP's module shutdown: unless [`INI`] is on.
pub fn fast_exit_wanted() -> Result<bool, IniSwitchError> {
    super::ini_switch(INI).map(|keep| !keep)
}

/// In a new worker: end the process when PHP's request ends.
pub fn install() {
    // SAFETY: runs on PHP's only thread in a freshly forked worker, during a method call;
    // the SAPI reads `deactivate` only when the request ends, on this same thread.
    unsafe {
        let module = &mut *std::ptr::addr_of_mut!(ext_php_rs::ffi::sapi_module);
        let _ = SAPI_DEACTIVATE.set(module.deactivate);
        module.deactivate = Some(deactivate_then_exit);
    }
}

/// The SAPI's end of the request, then the worker's exit with PHP's status.
unsafe extern "C" fn deactivate_then_exit() -> c_int {
    if let Some(Some(deactivate)) = SAPI_DEACTIVATE.get() {
        // SAFETY: the SAPI's own hook, called where PHP would call it.
        unsafe { deactivate() };
    }
    sys::exit_flushed(ExecutorGlobals::get().exit_status)
}
