//! The PHP extension `ticker`: module entry, startup, `php --ri ticker`, and the `Ticker\`
//! classes.
//!
//! A thin layer over the PHP-free crate `ticker` (the repository's root): it reads PHP's state
//! at startup (the SAPI, the CLI's `-d` settings, INI, the environment, the file this
//! extension was loaded from), hands it to [`ticker::role`] and [`ticker::config`], and exposes
//! [`ticker::master`], [`ticker::worker`] and [`ticker::relay`] through the RoadRunner-shaped
//! classes in [`worker`] and [`payload`]. Logic that tests can drive without PHP belongs
//! there, not here. This crate is the only one that links PHP's symbols.

mod bytes;
mod exception;
mod payload;
mod schedules;
mod worker;
mod worker_exit;

use std::ffi::{CStr, c_char, c_void};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, IniEntryDefs, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

use ticker::config::{self, Source};
use ticker::relay;
use ticker::role::{self, Facts, Role};

pub use payload::Payload;
pub use worker::Worker;

/// What startup decided about this process, and from which file.
struct Startup {
    role: Role,
    source: Source,
}

static STARTUP: OnceLock<Startup> = OnceLock::new();

fn startup_state() -> Option<&'static Startup> {
    STARTUP.get()
}

/// The INI switch that keeps forked workers' memory on 4 KB pages (see
/// [`ticker::huge_pages`]).
const HUGE_PAGES_INI: &CStr = c"ticker.huge_pages";

static INI_ENTRIES: IniEntryDefs<5> = IniEntryDefs::new([
    IniEntryDef::new(c"ticker.config", c"", IniEntryPermission::System),
    IniEntryDef::new(worker_exit::INI, c"0", IniEntryPermission::System),
    IniEntryDef::new(HUGE_PAGES_INI, c"1", IniEntryPermission::System),
    // `auto` (role::ENABLE_INI_DEFAULT) by default: no say. An empty value is PHP's `Off`.
    IniEntryDef::new(c"ticker.enable", c"auto", IniEntryPermission::System),
    IniEntryDef::end(),
]);

/// An on/off INI setting of this extension that holds neither; the pool does not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "ticker: {}: {value:?} is neither on nor off; expected 1 or On, 0 or Off",
    .name.to_string_lossy()
)]
struct IniSwitchError {
    name: &'static CStr,
    value: String,
}

/// An on/off INI setting of this extension, read when the pool starts: `1`, `On`, `yes`,
/// `true` are on; `0`, `Off` (which PHP's INI parser leaves as the empty string), `no`,
/// `false` are off; anything else is refused with the setting named.
fn ini_switch(name: &'static CStr) -> Result<bool, IniSwitchError> {
    let ini = ExecutorGlobals::get().ini_values();
    let value = ini
        .get(name.to_string_lossy().as_ref())
        .cloned()
        .flatten()
        .unwrap_or_default();
    if value.trim().is_empty() {
        return Ok(false);
    }
    role::switch_value(&value).ok_or(IniSwitchError { name, value })
}

/// What the master takes from INI, beyond the config file.
fn master_options() -> Result<ticker::master::Options, IniSwitchError> {
    let ini = ExecutorGlobals::get().ini_values();
    Ok(ticker::master::Options {
        huge_pages: ini_switch(HUGE_PAGES_INI)?,
        php_timezone: ini.get("date.timezone").cloned().flatten(),
    })
}

/// A C string of PHP's, or `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that outlives the call.
unsafe fn c_str(ptr: *const c_char) -> Option<String> {
    // SAFETY: the caller guarantees a valid string or null.
    (!ptr.is_null()).then(|| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

/// The SAPI's name and its command-line INI settings (the CLI's `-d` lines).
fn sapi() -> (String, String) {
    // SAFETY: `sapi_module` is PHP's global SAPI description, filled in before any module
    // starts and not written to afterwards; MINIT runs on PHP's only thread. `name` is a
    // static string; `ini_entries` is null or the CLI's buffer of `-d` lines, kept until
    // the SAPI shuts down.
    unsafe {
        let module = &*std::ptr::addr_of!(ext_php_rs::ffi::sapi_module);
        (
            c_str(module.name).unwrap_or_default(),
            c_str(module.ini_entries).unwrap_or_default(),
        )
    }
}

/// The file this extension was loaded from, as PHP passed it to dlopen.
fn loaded_from() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr reads the loader's tables for an address inside this library (a
    // function of ours) and fills `info`; on failure it returns 0 and `info` is not used.
    let found = unsafe { libc::dladdr(get_module as *const c_void, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr succeeded, so `info` is filled and `dli_fname` is null or the
    // library's path, owned by the loader while the library stays loaded.
    unsafe { c_str(info.assume_init().dli_fname) }.map(PathBuf::from)
}

/// The same file, compared by device and inode (symlinks and `..` resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn startup(_ty: i32, module_number: i32) -> i32 {
    IniEntryDef::register(INI_ENTRIES.as_slice(), module_number);
    if let Err(e) = exception::register() {
        eprintln!("ticker: cannot register {}: {e}", exception::NAME);
        return 1;
    }
    let ini = ExecutorGlobals::get().ini_values();
    let ini_value = |name: &str| ini.get(name).cloned().flatten();
    let (sapi, ini_entries) = sapi();
    let on_command_line = sapi == role::CLI_SAPI
        && loaded_from().is_some_and(|this| {
            let extension_dir = PathBuf::from(ini_value("extension_dir").unwrap_or_default());
            role::loaded_on_command_line(&ini_entries, &extension_dir, |path| {
                same_file(path, &this)
            })
        });
    let rr_mode = std::env::var(role::RR_MODE).ok();
    let rr_relay = std::env::var(relay::RR_RELAY).ok();
    let enable_env = std::env::var(role::ENABLE_ENV).ok();
    let enable_ini = ini_value(role::ENABLE_INI);
    let facts = Facts {
        sapi: &sapi,
        rr_mode: rr_mode.as_deref(),
        rr_relay: rr_relay.as_deref(),
        enable_env: enable_env.as_deref(),
        enable_ini: enable_ini.as_deref(),
        on_command_line,
    };
    let env = std::env::var(config::ENV_VAR).ok();
    let cwd = std::env::current_dir().unwrap_or_default();
    let source = Source::locate(
        env.as_deref(),
        ini_value(config::INI_SETTING).as_deref(),
        &cwd,
    );
    let role = match Role::decide(&facts, &source, config::load) {
        Ok(role) => role,
        Err(error) => {
            // Refuse to run half-configured: one line naming what is wrong, a non-zero
            // status, and no worker started.
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    if let Role::Master { config, .. } = &role {
        ticker::logging::configure(&config.logs);
        for warning in config.warnings() {
            log::warn!("{warning}");
        }
        // SAFETY: MINIT runs on PHP's only thread before any script, so nothing reads the
        // environment concurrently. Setting it here, before PHP builds $_SERVER and $_ENV
        // from it, is what lets a dispatcher that reads those at boot see the mode.
        unsafe { std::env::set_var(role::RR_MODE, role::MODE) };
    }
    let _ = STARTUP.set(Startup { role, source });
    0
}

unsafe extern "C" {
    fn display_ini_entries(module: *mut ModuleEntry);
}

/// `php --ri ticker`.
extern "C" fn info(module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("ticker support", "enabled");
    info_table_row!("version", env!("CARGO_PKG_VERSION"));
    if let Some(state) = startup_state() {
        info_table_row!("role", state.role.name());
        let read = matches!(
            state.role,
            Role::Master { .. }
                | Role::Inert {
                    read_config: true,
                    ..
                }
        );
        info_table_row!(
            "config file",
            format!(
                "{} ({}{})",
                state.source.path().display(),
                state.source.describe(),
                if read { "" } else { ", not read" }
            )
        );
        match &state.role {
            Role::Master { asked, ticker, .. } => {
                info_table_row!("master because", asked.describe());
                let php_timezone = ExecutorGlobals::get()
                    .ini_values()
                    .get("date.timezone")
                    .cloned()
                    .flatten();
                let (zone, why) = ticker::master::fallback_zone(php_timezone.as_deref());
                for schedule in &ticker.schedules {
                    info_table_row!(
                        format!("schedule {}", schedule.name),
                        schedule.describe((zone.name(), why))
                    );
                }
                if ticker.keeps_state() {
                    info_table_row!(
                        "state file",
                        format!(
                            "{} (last runs, for catch_up once)",
                            ticker.state_file.display()
                        )
                    );
                }
                info_table_row!("num_workers", ticker.pool.num_workers.to_string());
                info_table_row!(
                    "workers",
                    match &ticker.pool.command {
                        None => "forked from the master".to_string(),
                        Some(command) =>
                            format!("started from ticker.pool.command: {}", command.0.join(" ")),
                    }
                );
            }
            Role::Worker { relay } => {
                info_table_row!(
                    "worker because",
                    "RR_RELAY is set: a RoadRunner-style master (RoadRunner, or a ticker \
                     master's command mode) started this process, and Ticker\\Worker::create() \
                     serves it over the relay"
                );
                info_table_row!("relay", relay.describe());
            }
            Role::Inert { reason, .. } => info_table_row!("inert because", reason.as_str()),
        }
    }
    info_table_end!();
    // SAFETY: PHP passes its own module entry; this prints the INI table for it.
    unsafe { display_ini_entries(module) };
}

#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    // The module is `ticker` whatever this crate is called: `php -m`, `--ri ticker`.
    module
        .name("ticker")
        .class::<Payload>()
        .class::<Worker>()
        .class::<schedules::Schedules>()
        .info_function(info)
}
