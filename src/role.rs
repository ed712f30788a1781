//! What this PHP process is: a ticker master, a worker of a RoadRunner-style master, or inert
//! (and why).
//!
//! Owns the decision made once at extension startup. An extension enabled in php.ini starts in
//! every PHP process of the machine (`php -v`, composer, phpunit, `php -S`, php-fpm), so a
//! process runs a pool only when it asked to ([`Asked`]): the extension was loaded on the CLI's
//! command line, or one of the two switches ([`ENABLE_INI`], [`ENABLE_ENV`]) is on. It must also
//! be able to: the `cli` SAPI, and no other master above it (`RR_MODE` and `RR_RELAY` unset).
//! Only then is the config read; every other process is inert without touching it, except a
//! process started with `RR_RELAY` (by RoadRunner, or by a ticker master's command mode): it is
//! that master's worker, and `Ticker\Worker::create()` serves it over the relay.
//!
//! Pure: the caller reads PHP's and the process's state into [`Facts`] and passes in how to
//! load the config. Telling whether an `extension=` entry names this extension needs the
//! file system, so the caller passes that test in too ([`loaded_on_command_line`]).

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, Source, TickerConfig};
use crate::relay::Relay;

/// The environment variable RoadRunner sets in its workers, and that this extension sets in
/// a master so that a dispatcher sees `RR_MODE === 'ticker'`.
pub const RR_MODE: &str = "RR_MODE";
pub const MODE: &str = "ticker";

/// The INI switch: `php -d ticker.enable=1 app.php`, or a pool-specific ini file.
pub const ENABLE_INI: &str = "ticker.enable";
/// The INI switch's default: no say. Not empty, because PHP's INI parser turns `Off`,
/// `false`, `no` and `none` into an empty string, and those must mean off.
pub const ENABLE_INI_DEFAULT: &str = "auto";
/// The environment switch, for containers: `TICKER_ENABLE=1 php app.php`.
pub const ENABLE_ENV: &str = "TICKER_ENABLE";
/// The only SAPI that can run a pool: the others serve requests (or embed PHP) and own
/// their processes.
pub const CLI_SAPI: &str = "cli";
/// The module name, as a bare `extension=` value names it (`ticker`, `ticker.so`).
pub const MODULE: &str = "ticker";

/// What startup reads from PHP and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// `sapi_module.name` (`PHP_SAPI`).
    pub sapi: &'a str,
    pub rr_mode: Option<&'a str>,
    /// `RR_RELAY`, which a RoadRunner-style master sets in the workers it starts.
    pub rr_relay: Option<&'a str>,
    /// The environment switch [`ENABLE_ENV`].
    pub enable_env: Option<&'a str>,
    /// The INI switch [`ENABLE_INI`], as PHP's INI parser left it (`On` is `1`, `Off` empty,
    /// [`ENABLE_INI_DEFAULT`] when not set).
    pub enable_ini: Option<&'a str>,
    /// An `extension=` of the CLI's command line (`-d`) names this extension.
    pub on_command_line: bool,
}

/// Why a process runs a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `php -d extension=ticker.so app.php`.
    CommandLine,
    /// `ticker.enable=1`.
    Ini,
    /// `TICKER_ENABLE=1`.
    Env,
}

impl Asked {
    /// For `php --ri ticker` and messages.
    pub fn describe(self) -> &'static str {
        match self {
            Asked::CommandLine => "loaded with -d extension on the command line",
            Asked::Ini => "ticker.enable=1",
            Asked::Env => "TICKER_ENABLE=1 in the environment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// This process runs the pool: it asked to, can, and its config has a `ticker` section.
    Master {
        asked: Asked,
        config: Box<Config>,
        ticker: Box<TickerConfig>,
    },
    /// A RoadRunner-style master (RoadRunner, or a ticker master's command mode) started this
    /// process with `RR_RELAY`: `Ticker\Worker::create()` is its worker over that relay.
    Worker { relay: Relay },
    /// The extension does nothing; `Ticker\Worker::create()` explains why.
    Inert {
        reason: String,
        /// The config was read (and said nothing to run); false when the process never
        /// looked at it.
        read_config: bool,
    },
}

/// Why startup refuses to go on: PHP prints it as one line and exits 1, no worker started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartupError {
    /// The config of a process that asked to be a master is broken.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A switch holds a value that is neither on nor off.
    #[error(
        "ticker: {name}: {value:?} is neither on nor off; expected 1, on, yes or true to run a \
         pool, 0, off, no or false (or unset) not to"
    )]
    Switch { name: &'static str, value: String },
    /// A switch asked for a master and the config has nothing to run.
    #[error("ticker: {} asks this process to run a pool, but {what}", .asked.describe())]
    NothingToRun { asked: Asked, what: String },
}

/// A switch's value: `Some(true)` on, `Some(false)` off, `None` when it has no say.
fn switch(name: &'static str, value: Option<&str>) -> Result<Option<bool>, StartupError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match switch_value(value) {
        Some(on) => Ok(Some(on)),
        None => Err(StartupError::Switch {
            name,
            value: value.to_owned(),
        }),
    }
}

/// `1`, `on`, `yes`, `true` (any case) are on; `0`, `off`, `no`, `false` off; anything else
/// is neither.
pub fn switch_value(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// The INI switch: its default has no say, and an empty value is off (see
/// [`ENABLE_INI_DEFAULT`]).
fn ini_switch(value: Option<&str>) -> Result<Option<bool>, StartupError> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case(ENABLE_INI_DEFAULT) => Ok(None),
        Some("") => Ok(Some(false)),
        Some(v) => switch(ENABLE_INI, Some(v)),
    }
}

fn inert(reason: String) -> Role {
    Role::Inert {
        reason,
        read_config: false,
    }
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Master { .. } => "master",
            Role::Worker { .. } => "worker",
            Role::Inert { .. } => "inert",
        }
    }

    /// Decides the role. `load` reads the config and runs only for a process that asked to
    /// be a master and can be one. An error is returned, not folded into `Inert`: the caller
    /// refuses to start, because running half-configured would hide the mistake.
    ///
    /// The environment switch wins over the INI one (INI is usually set machine-wide, the
    /// environment per process), and either wins over how the extension was loaded, so
    /// `TICKER_ENABLE=0` keeps one command inert wherever the extension comes from.
    ///
    /// Before any of that, a process another master started is never a master: `RR_RELAY`
    /// makes it that master's worker, whatever it asked (the switches a master's environment
    /// holds reach its workers too), and `RR_MODE` alone makes it inert.
    pub fn decide(
        facts: &Facts<'_>,
        source: &Source,
        load: impl FnOnce(&Source) -> Result<Option<Config>, ConfigError>,
    ) -> Result<Role, StartupError> {
        if facts.sapi != CLI_SAPI {
            return Ok(inert(format!(
                "SAPI {} cannot run a pool; only the {CLI_SAPI} SAPI (php app.php) can",
                facts.sapi
            )));
        }
        if let Some(value) = facts.rr_relay.filter(|v| !v.is_empty()) {
            return Ok(match Relay::parse(value) {
                Ok(relay) => Role::Worker { relay },
                Err(bad) => inert(format!(
                    "{bad}, so this process cannot serve the master that started it"
                )),
            });
        }
        if let Some(mode) = facts.rr_mode.filter(|m| !m.is_empty()) {
            return Ok(inert(format!(
                "RR_MODE is already set to '{mode}', so this process is a worker of another \
                 master (RoadRunner or a ticker master) or was started by one; a ticker master \
                 only starts where RR_MODE is unset, and without RR_RELAY there is no relay \
                 to serve that master over (to run a pool here, start it without RR_MODE: \
                 env -u RR_MODE php app.php, or unset RR_MODE in the shell or the \
                 container's environment)"
            )));
        }
        let env = switch(ENABLE_ENV, facts.enable_env)?;
        let ini = ini_switch(facts.enable_ini)?;
        let asked = match (env, ini) {
            (Some(true), _) => Asked::Env,
            (Some(false), _) => {
                return Ok(inert(format!(
                    "{ENABLE_ENV} is off in the environment, so this process runs no pool"
                )));
            }
            (None, Some(true)) => Asked::Ini,
            (None, Some(false)) => {
                return Ok(inert(format!(
                    "{ENABLE_INI} is off, so this process runs no pool"
                )));
            }
            (None, None) if facts.on_command_line => Asked::CommandLine,
            // Loaded already: a `-d extension=` hint would load it twice, which PHP
            // refuses ("Module already loaded"), so only the switches are offered.
            (None, None) => {
                return Ok(inert(format!(
                    "loaded from php.ini, not asked to run a pool (set {ENABLE_INI}=1 or \
                     {ENABLE_ENV}=1: php -d {ENABLE_INI}=1 app.php, or {ENABLE_ENV}=1 php \
                     app.php)"
                )));
            }
        };
        let switched = asked != Asked::CommandLine;
        let Some(config) = load(source)? else {
            let what = format!(
                "there is no config file: {} does not exist (set TICKER_CONFIG or the INI \
                 setting ticker.config to name one)",
                source.path().display()
            );
            return Self::nothing_to_run(asked, switched, what);
        };
        match config.ticker.clone() {
            Some(ticker) => Ok(Role::Master {
                asked,
                config: Box::new(config),
                ticker: Box::new(ticker),
            }),
            None => {
                let what = format!("{} has no `ticker` section", config.path.display());
                Self::nothing_to_run(asked, switched, what)
            }
        }
    }

    /// A switch is a promise to run a pool, so nothing to run is an error there. Loaded on
    /// the command line without a config, the extension stays inert and says why:
    /// `php -d extension=ticker.so vendor/bin/phpunit` must still run the tests.
    fn nothing_to_run(asked: Asked, switched: bool, what: String) -> Result<Role, StartupError> {
        if switched {
            Err(StartupError::NothingToRun { asked, what })
        } else {
            Ok(Role::Inert {
                reason: format!("{what}, so the extension is inert"),
                read_config: true,
            })
        }
    }
}

/// The values of the `extension=` lines in the CLI's command-line settings
/// (`sapi_module.ini_entries`: one `name=value` line per `-d`, the value quoted when it does
/// not start with a letter or digit).
pub fn command_line_extensions(ini_entries: &str) -> Vec<&str> {
    ini_entries
        .lines()
        .filter_map(|line| line.split_once('='))
        // PHP matches the directive without regard to case.
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("extension"))
        .map(|(_, value)| unquote(value.trim()))
        .filter(|value| !value.is_empty())
        .collect()
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The files PHP tries for an `extension=` value: a value with a slash is a path (relative
/// to the cwd); a bare name is looked up in `extension_dir`, as given and then with `.so`.
pub fn extension_candidates(value: &str, extension_dir: &Path) -> Vec<PathBuf> {
    if value.contains('/') {
        vec![PathBuf::from(value)]
    } else {
        vec![
            extension_dir.join(value),
            extension_dir.join(format!("{value}.so")),
        ]
    }
}

/// True when an `extension=` of the command line names this extension: by its module name
/// (`ticker`, `ticker.so`), or as a file that `is_this` recognises as the loaded one.
pub fn loaded_on_command_line(
    ini_entries: &str,
    extension_dir: &Path,
    is_this: impl Fn(&Path) -> bool,
) -> bool {
    command_line_extensions(ini_entries)
        .into_iter()
        .any(|value| {
            let bare = !value.contains('/');
            (bare && value.strip_suffix(".so").unwrap_or(value) == MODULE)
                || extension_candidates(value, extension_dir)
                    .iter()
                    .any(|path| is_this(path))
        })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::config::parse;

    /// The settings the CLI SAPI always puts first, before the `-d` ones.
    const HARDCODED: &str = "html_errors=0\nregister_argc_argv=1\nimplicit_flush=1\n\
                             output_buffering=0\nmax_execution_time=0\nmax_input_time=-1\n";

    fn source() -> Source {
        Source::locate(None, None, Path::new("/app"))
    }

    fn valid() -> Result<Option<Config>, ConfigError> {
        Ok(Some(
            parse("ticker:\n  interval: 1s\n", Path::new("/app/.rr.yaml")).unwrap(),
        ))
    }

    fn no_section() -> Result<Option<Config>, ConfigError> {
        Ok(Some(
            parse("http: {}\n", Path::new("/app/.rr.yaml")).unwrap(),
        ))
    }

    fn broken() -> Result<Option<Config>, ConfigError> {
        Err(parse("ticker: [", Path::new("/app/.rr.yaml")).unwrap_err())
    }

    fn cli() -> Facts<'static> {
        Facts {
            sapi: "cli",
            ..Facts::default()
        }
    }

    /// Decides with a config loader that must not be called.
    fn decide_unread(facts: Facts<'_>) -> Role {
        Role::decide(&facts, &source(), |_| {
            panic!("the config must not be read for {facts:?}")
        })
        .unwrap()
    }

    fn reason(role: &Role) -> &str {
        match role {
            Role::Inert { reason, .. } => reason,
            other => panic!("expected inert, got {other:?}"),
        }
    }

    fn asked(role: &Role) -> Asked {
        match role {
            Role::Master { asked, .. } => *asked,
            other => panic!("expected a master, got {other:?}"),
        }
    }

    #[test]
    fn every_sapi_but_cli_is_inert_whatever_it_asked_and_never_reads_the_config() {
        for sapi in [
            "cli-server",
            "fpm-fcgi",
            "cgi-fcgi",
            "apache2handler",
            "embed",
            "frankenphp",
            "phpdbg",
        ] {
            let facts = Facts {
                sapi,
                enable_env: Some("1"),
                enable_ini: Some("1"),
                on_command_line: true,
                ..Facts::default()
            };
            let role = decide_unread(facts);
            assert!(
                reason(&role).contains(&format!("SAPI {sapi} cannot run a pool")),
                "{role:?}"
            );
        }
    }

    #[test]
    fn rr_mode_set_by_another_master_makes_the_extension_inert_whatever_it_asked() {
        for (env, ini, cmd) in [
            (None, None, true),
            (Some("1"), None, false),
            (None, Some("1"), false),
        ] {
            let facts = Facts {
                rr_mode: Some("http"),
                enable_env: env,
                enable_ini: ini,
                on_command_line: cmd,
                ..cli()
            };
            let role = decide_unread(facts);
            let why = reason(&role);
            assert!(why.contains("'http'"), "{role:?}");
            assert!(
                why.contains("start it without RR_MODE: env -u RR_MODE php app.php"),
                "says how to unset it: {why}"
            );
        }
        // An empty RR_MODE is no master.
        let facts = Facts {
            rr_mode: Some(""),
            on_command_line: true,
            ..cli()
        };
        let role = Role::decide(&facts, &source(), |_| valid()).unwrap();
        assert_eq!(asked(&role), Asked::CommandLine);
    }

    #[test]
    fn rr_relay_makes_a_worker_of_the_master_that_started_it_whatever_it_asked() {
        let relays = [
            ("pipes", Relay::Pipes),
            ("unix:///run/rr.sock", Relay::Unix("/run/rr.sock".into())),
            ("tcp://127.0.0.1:6001", Relay::Tcp("127.0.0.1:6001".into())),
        ];
        for (value, relay) in relays {
            for (mode, env, ini, cmd) in [
                // RoadRunner, and a ticker master's command mode: RR_MODE=ticker.
                (Some("ticker"), None, None, false),
                (Some("ticker"), None, None, true),
                // A master's switches reach its workers through the environment; a value
                // that would be an error in a master is none of a worker's business.
                (Some("ticker"), Some("1"), Some("1"), true),
                (Some("ticker"), Some("maybe"), Some("2"), false),
                // RoadRunner's PHP library reads RR_RELAY alone, and so does the extension.
                (None, None, None, true),
                (Some("http"), None, None, false),
            ] {
                let facts = Facts {
                    rr_mode: mode,
                    rr_relay: Some(value),
                    enable_env: env,
                    enable_ini: ini,
                    on_command_line: cmd,
                    ..cli()
                };
                let role = decide_unread(facts);
                assert_eq!(
                    role,
                    Role::Worker {
                        relay: relay.clone()
                    },
                    "{facts:?}"
                );
                assert_eq!(role.name(), "worker");
            }
        }
    }

    #[test]
    fn an_rr_relay_that_names_no_relay_is_inert_naming_it() {
        let facts = Facts {
            rr_mode: Some("ticker"),
            rr_relay: Some("udp://1.2.3.4:5"),
            on_command_line: true,
            ..cli()
        };
        let role = decide_unread(facts);
        let why = reason(&role);
        assert!(
            why.contains(r#"RR_RELAY="udp://1.2.3.4:5" is not a relay"#)
                && why.contains("unix:///path"),
            "{why}"
        );
        // Empty is unset, as for RR_MODE.
        let facts = Facts {
            rr_relay: Some(""),
            on_command_line: true,
            ..cli()
        };
        let role = Role::decide(&facts, &source(), |_| valid()).unwrap();
        assert_eq!(asked(&role), Asked::CommandLine);
    }

    #[test]
    fn rr_relay_in_another_sapi_is_inert() {
        let facts = Facts {
            sapi: "fpm-fcgi",
            rr_mode: Some("ticker"),
            rr_relay: Some("pipes"),
            ..Facts::default()
        };
        assert!(reason(&decide_unread(facts)).contains("SAPI fpm-fcgi"));
    }

    #[test]
    fn loaded_from_php_ini_without_a_switch_is_inert_and_never_reads_the_config() {
        let role = decide_unread(cli());
        let why = reason(&role);
        assert!(
            why.contains("loaded from php.ini, not asked to run a pool")
                && why.contains("php -d ticker.enable=1 app.php")
                && why.contains("TICKER_ENABLE=1 php app.php"),
            "{why}"
        );
        // Loaded already: loading it again on the command line is refused by PHP.
        assert!(!why.contains("extension="), "{why}");
        // A switch that is off, or empty (PHP turns `Off` into ""), asks nothing either.
        for off in ["", " ", "0"] {
            let facts = Facts {
                enable_ini: Some(off),
                ..cli()
            };
            decide_unread(facts);
        }
    }

    #[test]
    fn each_way_of_asking_makes_a_master_with_a_ticker_section() {
        let cases: [(Option<&str>, Option<&str>, bool, Asked); 7] = [
            (None, None, true, Asked::CommandLine),
            (None, Some("1"), false, Asked::Ini),
            (None, Some("1"), true, Asked::Ini),
            (Some("1"), None, false, Asked::Env),
            (Some("true"), Some("0"), false, Asked::Env),
            (Some("ON"), None, true, Asked::Env),
            (Some(" yes "), Some("1"), true, Asked::Env),
        ];
        for (env, ini, cmd, expected) in cases {
            let facts = Facts {
                enable_env: env,
                enable_ini: ini,
                on_command_line: cmd,
                ..cli()
            };
            let role = Role::decide(&facts, &source(), |_| valid()).unwrap();
            assert_eq!(asked(&role), expected, "{facts:?}");
            assert_eq!(role.name(), "master");
        }
    }

    #[test]
    fn a_switch_that_is_off_wins_over_the_command_line_and_the_weaker_switch() {
        for (env, ini) in [
            (Some("0"), None),
            (Some("off"), Some("1")),
            (None, Some("0")),
        ] {
            let facts = Facts {
                enable_env: env,
                enable_ini: ini,
                on_command_line: true,
                ..cli()
            };
            let role = decide_unread(facts);
            assert!(reason(&role).contains("is off"), "{role:?}");
        }
    }

    #[test]
    fn a_switch_with_a_value_that_is_neither_on_nor_off_is_an_error_naming_it() {
        for (env, ini, name) in [
            (Some("maybe"), None, ENABLE_ENV),
            (None, Some("2"), ENABLE_INI),
        ] {
            let facts = Facts {
                enable_env: env,
                enable_ini: ini,
                ..cli()
            };
            let err = Role::decide(&facts, &source(), |_| panic!("not read")).unwrap_err();
            let line = err.to_string();
            assert!(
                matches!(err, StartupError::Switch { name: n, .. } if n == name)
                    && line.contains(name)
                    && line.contains("expected 1, on"),
                "{line}"
            );
        }
    }

    #[test]
    fn a_broken_config_is_an_error_for_every_way_of_asking() {
        for (env, ini, cmd) in [
            (None, None, true),
            (None, Some("1"), false),
            (Some("1"), None, false),
        ] {
            let facts = Facts {
                enable_env: env,
                enable_ini: ini,
                on_command_line: cmd,
                ..cli()
            };
            let err = Role::decide(&facts, &source(), |_| broken()).unwrap_err();
            assert!(matches!(err, StartupError::Config(_)), "{err:?}");
            assert!(err.to_string().starts_with("ticker: config /app/.rr.yaml"));
        }
    }

    #[test]
    fn on_the_command_line_no_file_or_no_section_is_inert_with_a_reason() {
        let facts = Facts {
            on_command_line: true,
            ..cli()
        };
        let read = Cell::new(0);
        let role = Role::decide(&facts, &source(), |_| {
            read.set(read.get() + 1);
            Ok(None)
        })
        .unwrap();
        assert_eq!(read.get(), 1);
        assert!(
            matches!(&role, Role::Inert { reason, read_config: true }
                if reason.contains("no config file") && reason.contains("/app/.rr.yaml")),
            "{role:?}"
        );
        let role = Role::decide(&facts, &source(), |_| no_section()).unwrap();
        assert!(reason(&role).contains("no `ticker` section"), "{role:?}");
    }

    #[test]
    fn a_switch_with_no_file_or_no_section_is_an_error_naming_the_switch() {
        for (env, ini, name) in [
            (Some("1"), None, "TICKER_ENABLE=1"),
            (None, Some("1"), "ticker.enable=1"),
        ] {
            let facts = Facts {
                enable_env: env,
                enable_ini: ini,
                on_command_line: true,
                ..cli()
            };
            let line = Role::decide(&facts, &source(), |_| Ok(None))
                .unwrap_err()
                .to_string();
            assert!(
                line.starts_with("ticker: ")
                    && line.contains(name)
                    && line.contains("no config file")
                    && line.contains("/app/.rr.yaml"),
                "{line}"
            );
            let line = Role::decide(&facts, &source(), |_| no_section())
                .unwrap_err()
                .to_string();
            assert!(
                line.contains(name) && line.contains("no `ticker` section"),
                "{line}"
            );
        }
    }

    /// What a combination must give, stated as docs/enabling.md states the rules.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Master(Asked),
        Worker,
        InertUnread,
        InertRead,
        ConfigError,
        NothingToRun(Asked),
    }

    #[test]
    fn every_combination_follows_the_rules_and_reads_the_config_only_when_asked() {
        type Loader = fn() -> Result<Option<Config>, ConfigError>;
        let configs: [(&str, Loader); 4] = [
            ("valid", valid),
            ("missing", || Ok(None)),
            ("no section", no_section),
            ("broken", broken),
        ];
        let switch = [None, Some("1"), Some("0")];
        // INI also has its default, and PHP's parser turns `Off` into an empty string.
        let ini_switch = [None, Some("auto"), Some("1"), Some("0"), Some("")];
        let mut combinations = 0;
        for sapi in ["cli", "cli-server", "fpm-fcgi"] {
            for rr_relay in [None, Some(""), Some("pipes"), Some("nowhere")] {
                for rr_mode in [None, Some(""), Some("http")] {
                    for enable_env in switch {
                        for enable_ini in ini_switch {
                            for on_command_line in [false, true] {
                                for (config, load) in configs {
                                    let facts = Facts {
                                        sapi,
                                        rr_mode,
                                        rr_relay,
                                        enable_env,
                                        enable_ini,
                                        on_command_line,
                                    };
                                    let by_another_master = rr_mode == Some("http")
                                        || rr_relay.is_some_and(|r| !r.is_empty());
                                    let asked = if sapi != "cli" || by_another_master {
                                        None
                                    } else {
                                        match (enable_env, enable_ini) {
                                            (Some("1"), _) => Some(Asked::Env),
                                            (Some("0"), _) | (None, Some("0" | "")) => None,
                                            (None, Some("1")) => Some(Asked::Ini),
                                            _ => on_command_line.then_some(Asked::CommandLine),
                                        }
                                    };
                                    let worker = sapi == "cli" && rr_relay == Some("pipes");
                                    let expected = match (asked, config) {
                                        _ if worker => Outcome::Worker,
                                        (None, _) => Outcome::InertUnread,
                                        (Some(asked), "valid") => Outcome::Master(asked),
                                        (Some(_), "broken") => Outcome::ConfigError,
                                        (Some(Asked::CommandLine), _) => Outcome::InertRead,
                                        (Some(asked), _) => Outcome::NothingToRun(asked),
                                    };
                                    let read = Cell::new(false);
                                    let outcome = match Role::decide(&facts, &source(), |_| {
                                        read.set(true);
                                        load()
                                    }) {
                                        Ok(Role::Master { asked, .. }) => Outcome::Master(asked),
                                        Ok(Role::Worker { .. }) => Outcome::Worker,
                                        Ok(Role::Inert { read_config, .. }) => {
                                            assert_eq!(read_config, read.get(), "{facts:?}");
                                            if read_config {
                                                Outcome::InertRead
                                            } else {
                                                Outcome::InertUnread
                                            }
                                        }
                                        Err(StartupError::Config(_)) => Outcome::ConfigError,
                                        Err(StartupError::NothingToRun { asked, .. }) => {
                                            Outcome::NothingToRun(asked)
                                        }
                                        Err(e) => panic!("{facts:?}: {e}"),
                                    };
                                    assert_eq!(outcome, expected, "{facts:?}, config {config}");
                                    assert_eq!(read.get(), asked.is_some(), "{facts:?}");
                                    combinations += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(combinations, 3 * 4 * 3 * 3 * 5 * 2 * 4);
    }

    #[test]
    fn the_extension_lines_of_the_command_line_are_found_quoted_or_not() {
        let entries = format!(
            "{HARDCODED}extension=ticker.so\nticker.config=\"/x/.rr.yaml\"\n\
             Extension=\"/abs/libticker_php.so\"\n extension = 'calendar' \nextension=\"\"\n"
        );
        assert_eq!(
            command_line_extensions(&entries),
            ["ticker.so", "/abs/libticker_php.so", "calendar"]
        );
        assert!(command_line_extensions(HARDCODED).is_empty());
    }

    #[test]
    fn a_bare_name_is_looked_up_in_extension_dir_and_a_path_is_taken_as_it_is() {
        let dir = Path::new("/usr/lib/php/20220829");
        assert_eq!(
            extension_candidates("libticker_php.so", dir),
            [
                dir.join("libticker_php.so"),
                dir.join("libticker_php.so.so")
            ]
        );
        assert_eq!(
            extension_candidates("libticker_php", dir),
            [dir.join("libticker_php"), dir.join("libticker_php.so")]
        );
        assert_eq!(
            extension_candidates("./build/x.so", dir),
            [PathBuf::from("./build/x.so")]
        );
    }

    #[test]
    fn the_command_line_names_this_extension_by_module_name_or_by_its_file() {
        let dir = Path::new("/ext");
        let this = |path: &Path| path == Path::new("/build/libticker_php.so");
        let ours = |entries: &str| loaded_on_command_line(entries, dir, this);
        assert!(ours(&format!("{HARDCODED}extension=ticker\n")));
        assert!(ours(&format!("{HARDCODED}extension=ticker.so\n")));
        assert!(ours(&format!(
            "{HARDCODED}extension=calendar\nextension=\"/build/libticker_php.so\"\n"
        )));
        assert!(!ours(HARDCODED));
        assert!(!ours(&format!(
            "{HARDCODED}extension=calendar\nticker.enable=1\nextension=/build/other.so\n"
        )));
        // A path ending in ticker.so is some other file unless it is the loaded one.
        assert!(!ours("extension=/elsewhere/ticker.so\n"));

        let in_dir = |path: &Path| path == Path::new("/ext/libticker_php.so");
        assert!(loaded_on_command_line(
            "extension=libticker_php\n",
            dir,
            in_dir
        ));
        assert!(loaded_on_command_line(
            "extension=libticker_php.so\n",
            dir,
            in_dir
        ));
    }
}
