//! The PHP extension `ticker`: module entry, startup, `php --ri ticker`, and the `Ticker\`
//! classes.
//!
//! A thin layer over the PHP-free crate `ticker` (the repository's root): it reads PHP's INI
//! and environment, hands them to [`ticker::role`] and [`ticker::config`], and exposes
//! [`ticker::master`] and [`ticker::worker`] through the RoadRunner-shaped classes in
//! [`worker`] and [`payload`]. Logic that tests can drive without PHP belongs there, not
//! here. This crate is the only one that links PHP's symbols.

mod bytes;
mod exception;
mod payload;
mod worker;

use std::sync::OnceLock;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, IniEntryDefs, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

use ticker::config::{self, Source};
use ticker::log;
use ticker::role::{self, Role};

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

static INI_ENTRIES: IniEntryDefs<2> = IniEntryDefs::new([
    IniEntryDef::new(c"ticker.config", c"", IniEntryPermission::System),
    IniEntryDef::end(),
]);

fn startup(_ty: i32, module_number: i32) -> i32 {
    IniEntryDef::register(INI_ENTRIES.as_slice(), module_number);
    if let Err(e) = exception::register() {
        eprintln!("ticker: cannot register {}: {e}", exception::NAME);
        return 1;
    }
    let ini = ExecutorGlobals::get()
        .ini_values()
        .get(config::INI_SETTING)
        .cloned()
        .flatten();
    let env = std::env::var(config::ENV_VAR).ok();
    let cwd = std::env::current_dir().unwrap_or_default();
    let source = Source::locate(env.as_deref(), ini.as_deref(), &cwd);
    let rr_mode = std::env::var(role::RR_MODE).ok();
    // Under another master the file is that master's business: do not even read it.
    let loaded = match rr_mode.as_deref() {
        Some(mode) if !mode.is_empty() => Ok(None),
        _ => config::load(&source),
    };
    let role = match Role::decide(rr_mode.as_deref(), &source, loaded) {
        Ok(role) => role,
        Err(error) => {
            // Refuse to run half-configured: one line naming file, key, value and forms,
            // a non-zero status, and no worker started.
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    if let Role::Master { config, .. } = &role {
        log::configure(&config.logs);
        if let Some(warning) = config.not_acted_on_warning() {
            log::warn(format_args!("{warning}"));
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
        info_table_row!(
            "config file",
            format!(
                "{} ({})",
                state.source.path().display(),
                state.source.describe()
            )
        );
        match &state.role {
            Role::Master { ticker, .. } => {
                info_table_row!(
                    "interval",
                    humantime::format_duration(ticker.interval).to_string()
                );
                info_table_row!("num_workers", ticker.pool.num_workers.to_string());
            }
            Role::Inert { reason } => info_table_row!("inert because", reason.as_str()),
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
        .info_function(info)
}
