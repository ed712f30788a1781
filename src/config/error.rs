//! What is wrong with a config file, said in one line.
//!
//! Owns the message format, `ticker: config <file>: <dotted.key>: <value> <problem>; expected
//! <accepted forms>`, how a YAML value is shown inside it, and the wording of serde_yaml's
//! own errors. The readers of values and sections build their errors here; nothing here
//! knows which keys exist.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// A problem with the config file. Displays as one line:
/// `ticker: config <file>: <dotted.key>: <value> <problem>; expected <accepted forms>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    path: PathBuf,
    /// Dotted, e.g. `ticker.pool.num_workers`; `None` for problems with the whole file.
    key: Option<String>,
    /// The value as written, the problem and the accepted forms, in one sentence.
    detail: String,
}

impl ConfigError {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub(super) fn file(path: &Path, detail: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            key: None,
            detail: detail.into(),
        }
    }

    pub(super) fn at(path: &Path, key: &str, detail: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.to_string()),
            ..ConfigError::file(path, detail)
        }
    }

    pub(super) fn yaml(path: &Path, err: &serde_yaml::Error) -> Self {
        let message = err.to_string();
        let detail = match err.location() {
            Some(at) => {
                // serde_yaml puts the position inside its message; move it to the front so
                // every YAML error reads the same way.
                let position = format!("line {} column {}", at.line(), at.column());
                let message = message.replacen(&format!(" at {position}"), "", 1);
                format!("invalid YAML at {position}: {message}")
            }
            None => format!("invalid YAML: {message}"),
        };
        ConfigError::file(path, detail)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = format!("ticker: config {}: ", self.path.display());
        if let Some(key) = &self.key {
            line.push_str(key);
            line.push_str(": ");
        }
        line.push_str(&self.detail);
        // Library messages and odd paths may carry newlines; the log wants one line.
        f.write_str(
            &line
                .split(['\n', '\r'])
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

impl std::error::Error for ConfigError {}

/// What is wrong with one value, before the section reading it places it at its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    /// Where inside the value, appended to the key: `[1]` for a list item, `.NAME` for an
    /// entry of a mapping; empty for the value itself.
    pub at: String,
    /// The value as it appears in the message (see [`show`]).
    pub shown: String,
    /// Worded to follow the value: "is negative", "is not a duration".
    pub problem: String,
    /// The accepted forms, when they are not those of the whole value's type.
    pub expected: Option<Cow<'static, str>>,
}

impl Problem {
    pub(super) fn new(value: &Value, problem: impl Into<String>) -> Problem {
        Problem::shown(show(value), problem)
    }

    pub(super) fn shown(shown: impl Into<String>, problem: impl Into<String>) -> Problem {
        Problem {
            at: String::new(),
            shown: shown.into(),
            problem: problem.into(),
            expected: None,
        }
    }

    /// The value has the wrong type: "is a string", "is a list", ...
    pub(super) fn wrong_type(value: &Value) -> Problem {
        let kind = match value {
            Value::Null => "is empty",
            Value::Bool(_) => "is a boolean",
            Value::Number(n) if n.is_f64() => "is a fractional number",
            Value::Number(_) => "is a number",
            Value::String(_) => "is a string",
            Value::Sequence(_) => "is a list",
            Value::Mapping(_) => "is a mapping",
            Value::Tagged(_) => "is a tagged value",
        };
        Problem::new(value, kind)
    }

    pub(super) fn expected(mut self, expected: impl Into<Cow<'static, str>>) -> Problem {
        self.expected = Some(expected.into());
        self
    }

    /// The problem is inside the value at `at` (`[1]`, `.NAME`).
    pub(super) fn within(mut self, at: &str) -> Problem {
        self.at.insert_str(0, at);
        self
    }
}

/// The longest a value is shown in a message; longer ones end with `…`.
const SHOWN_CHARS: usize = 80;

/// A value as it appears in messages: strings quoted (so that `""` and `" "` are visible),
/// other scalars as YAML writes them, lists and mappings in flow style, all on one line.
pub(super) fn show(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    if out.chars().count() > SHOWN_CHARS {
        out = out.chars().take(SHOWN_CHARS - 1).collect();
        out.push('…');
    }
    out
}

fn write_value(out: &mut String, value: &Value) {
    // Enough to fill a message; stops a huge value from being rendered whole.
    if out.len() > SHOWN_CHARS * 4 {
        return;
    }
    match value {
        Value::Null => out.push('~'),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            let _ = write!(out, "{s:?}");
        }
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Tagged(tagged) => {
            let _ = write!(out, "{} ", tagged.tag);
            write_value(out, &tagged.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn values_are_shown_on_one_line_with_strings_quoted() {
        assert_eq!(show(&yaml("fast")), "\"fast\"");
        assert_eq!(show(&yaml("\"a\\nb\"")), "\"a\\nb\"");
        assert_eq!(show(&yaml("-1")), "-1");
        assert_eq!(show(&yaml("2.5")), "2.5");
        assert_eq!(show(&yaml("true")), "true");
        assert_eq!(show(&yaml("~")), "~");
        assert_eq!(show(&yaml("[php, 3, \"\"]")), "[\"php\", 3, \"\"]");
        assert_eq!(show(&yaml("{a: 1}")), "{\"a\": 1}");
        assert_eq!(show(&yaml("!x 1")), "!x 1");
    }

    #[test]
    fn long_values_are_cut() {
        let long = Value::String("x".repeat(1000));
        let shown = show(&long);
        assert_eq!(shown.chars().count(), SHOWN_CHARS);
        assert!(shown.ends_with('…'));
        let many = Value::Sequence(vec![Value::Bool(true); 100_000]);
        assert_eq!(show(&many).chars().count(), SHOWN_CHARS);
    }
}
