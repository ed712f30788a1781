//! Which file is the config: `TICKER_CONFIG`, the INI setting `ticker.config`, or
//! `./.rr.yaml`.
//!
//! Owns the order of precedence and how the choice is described in `php --ri ticker` and
//! in messages. It reads nothing: the caller passes the environment and INI values in.

use std::path::{Path, PathBuf};

/// The environment variable that names the config file.
pub const ENV_VAR: &str = "TICKER_CONFIG";
/// The INI setting that names the config file.
pub const INI_SETTING: &str = "ticker.config";
/// The file looked for in the current directory when nothing names one.
pub const DEFAULT_FILE: &str = ".rr.yaml";

/// Where the config comes from, in order of precedence: the environment variable
/// TICKER_CONFIG, then the INI setting `ticker.config`, then `./.rr.yaml` in the current
/// directory. Empty strings count as unset. The environment wins over INI because INI is
/// usually set machine-wide and the environment per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(PathBuf),
    Ini(PathBuf),
    Default(PathBuf),
}

impl Source {
    /// Relative paths are resolved against `cwd`, so that the path in messages and in
    /// `Config.path` stays right even if the process changes directory later.
    pub fn locate(env: Option<&str>, ini: Option<&str>, cwd: &Path) -> Source {
        let set = |value: Option<&str>| value.filter(|v| !v.trim().is_empty()).map(|v| cwd.join(v));
        if let Some(path) = set(env) {
            Source::Env(path)
        } else if let Some(path) = set(ini) {
            Source::Ini(path)
        } else {
            Source::Default(cwd.join(DEFAULT_FILE))
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Env(path) | Source::Ini(path) | Source::Default(path) => path,
        }
    }

    /// True when the user named the file, so that its absence is an error.
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Source::Default(_))
    }

    /// What chose the file, for `php --ri` and messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Env(_) => ENV_VAR.to_string(),
            Source::Ini(_) => format!("ini {INI_SETTING}"),
            Source::Default(_) => format!("default ./{DEFAULT_FILE}"),
        }
    }

    /// "named by TICKER_CONFIG", "the default ./.rr.yaml": for messages about the file.
    pub(super) fn origin(&self) -> String {
        if self.is_explicit() {
            format!("named by {}", self.describe())
        } else {
            format!("the {}", self.describe())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefers_env_then_ini_then_default() {
        let cwd = Path::new("/srv/app");
        assert_eq!(
            Source::locate(Some("/etc/a.yaml"), Some("/etc/b.yaml"), cwd),
            Source::Env("/etc/a.yaml".into())
        );
        assert_eq!(
            Source::locate(None, Some("/etc/b.yaml"), cwd),
            Source::Ini("/etc/b.yaml".into())
        );
        assert_eq!(
            Source::locate(Some(""), Some("/etc/b.yaml"), cwd),
            Source::Ini("/etc/b.yaml".into())
        );
        assert_eq!(
            Source::locate(Some(""), Some(""), cwd),
            Source::Default("/srv/app/.rr.yaml".into())
        );
        assert_eq!(
            Source::locate(None, None, cwd),
            Source::Default("/srv/app/.rr.yaml".into())
        );
        assert_eq!(
            Source::locate(Some("conf/rr.yaml"), None, cwd),
            Source::Env("/srv/app/conf/rr.yaml".into())
        );
        assert_eq!(
            Source::locate(None, Some("../rr.yaml"), cwd).path(),
            Path::new("/srv/app/../rr.yaml")
        );
    }

    #[test]
    fn source_describes_itself() {
        let cwd = Path::new("/srv");
        let env = Source::locate(Some("a.yaml"), None, cwd);
        let ini = Source::locate(None, Some("a.yaml"), cwd);
        let default = Source::locate(None, None, cwd);
        assert_eq!(
            (env.describe(), env.is_explicit()),
            ("TICKER_CONFIG".to_string(), true)
        );
        assert_eq!(
            (ini.describe(), ini.is_explicit()),
            ("ini ticker.config".to_string(), true)
        );
        assert_eq!(
            (default.describe(), default.is_explicit()),
            ("default ./.rr.yaml".to_string(), false)
        );
        assert_eq!(env.origin(), "named by TICKER_CONFIG");
        assert_eq!(default.origin(), "the default ./.rr.yaml");
    }
}
