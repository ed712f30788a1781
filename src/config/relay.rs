//! The relay to a RoadRunner-style master as written: `RR_RELAY` and `server.relay`.
//!
//! Owns RoadRunner's forms (`pipes`, `tcp://host:port`, `unix:///path`), reading them and
//! writing them back. Pure: opening a relay is [`crate::relay`]'s.

use std::fmt;
use std::path::PathBuf;

/// The environment variable a RoadRunner-style master names its relay in.
pub const RR_RELAY: &str = "RR_RELAY";

/// The accepted forms, for messages.
pub const FORMS: &str = "pipes, tcp://host:port or unix:///path/to/socket";

/// Where a worker's master is (`RR_RELAY`, and `server.relay` in a config). Its `Display` is
/// the `RR_RELAY` form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Relay {
    /// The worker's stdin (frames from the master) and stdout (frames to it).
    #[default]
    Pipes,
    /// `host:port`, without the `tcp://`.
    Tcp(String),
    /// The socket path, without the `unix://`; a relative path is relative to the cwd.
    Unix(PathBuf),
}

/// An `RR_RELAY` value that names no relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRelay(pub String);

impl fmt::Display for BadRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{RR_RELAY}={:?} is not a relay; expected {FORMS}",
            self.0
        )
    }
}

impl std::error::Error for BadRelay {}

impl Relay {
    /// Reads an `RR_RELAY` value, as RoadRunner writes it.
    pub fn parse(value: &str) -> Result<Relay, BadRelay> {
        let bad = || BadRelay(value.to_owned());
        if value == "pipes" {
            return Ok(Relay::Pipes);
        }
        if let Some(address) = value.strip_prefix("tcp://") {
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            let valid = !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0);
            return valid
                .then(|| Relay::Tcp(address.to_owned()))
                .ok_or_else(bad);
        }
        let path = value.strip_prefix("unix://").ok_or_else(bad)?;
        (!path.is_empty())
            .then(|| Relay::Unix(PathBuf::from(path)))
            .ok_or_else(bad)
    }

    /// For `php --ri ticker`: the relay and what it is.
    pub fn describe(&self) -> String {
        match self {
            Relay::Pipes => "pipes (stdin and stdout)".to_owned(),
            Relay::Tcp(_) => format!("{self} (a TCP socket)"),
            Relay::Unix(_) => format!("{self} (a Unix socket)"),
        }
    }
}

impl fmt::Display for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Relay::Pipes => f.write_str("pipes"),
            Relay::Tcp(address) => write!(f, "tcp://{address}"),
            Relay::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_in_roadrunners_forms() {
        assert_eq!(Relay::parse("pipes"), Ok(Relay::Pipes));
        assert_eq!(
            Relay::parse("tcp://127.0.0.1:6001"),
            Ok(Relay::Tcp("127.0.0.1:6001".into()))
        );
        assert_eq!(
            Relay::parse("tcp://[::1]:6001"),
            Ok(Relay::Tcp("[::1]:6001".into()))
        );
        assert_eq!(
            Relay::parse("unix:///run/rr.sock"),
            Ok(Relay::Unix("/run/rr.sock".into()))
        );
        assert_eq!(
            Relay::parse("unix://rr.sock"),
            Ok(Relay::Unix("rr.sock".into()))
        );
        for value in ["pipes", "tcp://localhost:7000", "unix:///tmp/rr.sock"] {
            assert_eq!(Relay::parse(value).unwrap().to_string(), value);
        }
    }

    #[test]
    fn other_values_are_refused_naming_the_value_and_the_forms() {
        for value in [
            "",
            "pipe",
            "PIPES",
            "tcp://localhost",
            "tcp://:7000",
            "tcp://host:http",
            "tcp://host:0",
            "tcp://host:70000",
            "unix://",
            "udp://1.2.3.4:5",
            "/tmp/rr.sock",
        ] {
            let err = Relay::parse(value).unwrap_err();
            let line = err.to_string();
            assert!(
                line.contains(&format!("RR_RELAY={value:?}")) && line.contains(FORMS),
                "{line}"
            );
        }
    }
}
