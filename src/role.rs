//! What this PHP process is: a ticker master, or inert (and why).
//!
//! Owns the decision made once at extension startup from the environment and the config.
//! Pure: the caller reads the environment and the file and passes them in.

use crate::config::{Config, ConfigError, Source, TickerConfig};

/// The environment variable RoadRunner sets in its workers, and that this extension sets in
/// a master so that a dispatcher sees `RR_MODE === 'ticker'`.
pub const RR_MODE: &str = "RR_MODE";
pub const MODE: &str = "ticker";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// This process runs the pool: the config has a `ticker` section and no master is above.
    Master {
        config: Box<Config>,
        ticker: Box<TickerConfig>,
    },
    /// The extension does nothing; `Ticker\Worker::create()` explains why.
    Inert { reason: String },
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Master { .. } => "master",
            Role::Inert { .. } => "inert",
        }
    }

    /// Decides the role. A config error is returned, not folded into `Inert`: the caller
    /// refuses to start, because running half-configured would hide the mistake.
    pub fn decide(
        rr_mode: Option<&str>,
        source: &Source,
        loaded: Result<Option<Config>, ConfigError>,
    ) -> Result<Role, ConfigError> {
        if let Some(mode) = rr_mode.filter(|m| !m.is_empty()) {
            return Ok(Role::Inert {
                reason: format!(
                    "RR_MODE is already set to '{mode}', so this process is a worker of another \
                     master (RoadRunner or a ticker master); a ticker master only starts where \
                     RR_MODE is unset"
                ),
            });
        }
        let Some(config) = loaded? else {
            return Ok(Role::Inert {
                reason: format!(
                    "no config file: {} does not exist (set TICKER_CONFIG or the INI setting \
                     ticker.config to name one)",
                    source.path().display()
                ),
            });
        };
        match config.ticker.clone() {
            Some(ticker) => Ok(Role::Master {
                config: Box::new(config),
                ticker: Box::new(ticker),
            }),
            None => Ok(Role::Inert {
                reason: format!(
                    "{} has no `ticker` section, so the extension is inert",
                    config.path.display()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse;

    fn source() -> Source {
        Source::locate(None, None, Path::new("/app"))
    }

    #[test]
    fn a_ticker_section_without_rr_mode_makes_a_master() {
        let config = parse("ticker:\n  interval: 1s\n", Path::new("/app/.rr.yaml")).unwrap();
        let role = Role::decide(None, &source(), Ok(Some(config))).unwrap();
        assert_eq!(role.name(), "master");
    }

    #[test]
    fn rr_mode_set_by_another_master_makes_the_extension_inert() {
        let config = parse("ticker: {}\n", Path::new("/app/.rr.yaml")).unwrap();
        let role = Role::decide(Some("http"), &source(), Ok(Some(config))).unwrap();
        let Role::Inert { reason } = role else {
            panic!("expected inert");
        };
        assert!(reason.contains("'http'"), "{reason}");
    }

    #[test]
    fn no_file_or_no_section_is_inert_with_a_reason() {
        let role = Role::decide(None, &source(), Ok(None)).unwrap();
        assert!(matches!(role, Role::Inert { reason } if reason.contains("/app/.rr.yaml")));
        let config = parse("http: {}\n", Path::new("/app/.rr.yaml")).unwrap();
        let role = Role::decide(None, &source(), Ok(Some(config))).unwrap();
        assert!(matches!(role, Role::Inert { reason } if reason.contains("no `ticker` section")));
    }

    #[test]
    fn a_config_error_is_passed_on() {
        let err = parse("ticker: [", Path::new("/app/.rr.yaml")).unwrap_err();
        assert!(Role::decide(None, &source(), Err(err)).is_err());
    }
}
