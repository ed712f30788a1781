//! What is wrong with a config file, said in one line.
//!
//! Owns the message format, `ticker: config <file>: <dotted.key>: <value> <problem>; expected
//! <accepted forms>`, how a YAML value is shown inside it and how much of a long one, and
//! the wording of serde_yaml's own errors. The readers of values and sections build their
//! errors here; nothing here knows which keys exist.

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

/// The most characters of one value a message repeats: enough to recognise it, short
/// enough that a value of megabytes (through `${VAR}`, or the C ABI) still makes one short
/// line.
const SHOWN_CHARS: usize = 64;

/// How a message repeats text the user wrote: whole, or its first [`SHOWN_CHARS`] characters
/// followed by `… (N bytes)`, N being the length of all of it. `quoted` puts the text in
/// double quotes with Rust's escapes (so that `""`, `" "` and `"\0"` are visible), the
/// ellipsis outside them. Every value and name a message quotes goes through here.
fn excerpt(text: &str, bytes: usize, quoted: bool) -> String {
    let head = text
        .char_indices()
        .nth(SHOWN_CHARS)
        .map_or(text, |(end, _)| &text[..end]);
    let mut out = if quoted {
        format!("{head:?}")
    } else {
        head.to_string()
    };
    if head.len() < bytes {
        let _ = write!(out, "… ({bytes} bytes)");
    }
    out
}

/// A string the user wrote, quoted as messages quote it (see [`excerpt`]).
pub(super) fn quote(text: &str) -> String {
    excerpt(text, text.len(), true)
}

/// A name the user wrote, unquoted, as it appears inside a dotted key (see [`excerpt`]).
pub(super) fn shorten(text: &str) -> String {
    excerpt(text, text.len(), false)
}

/// A mapping key as it appears in a dotted key: a string as it is (shortened), anything
/// else as [`show`] writes it.
pub(super) fn key_name(key: &Value) -> String {
    key.as_str().map_or_else(|| show(key), shorten)
}

/// A value as it appears in messages: strings quoted, other scalars as YAML writes them,
/// lists and mappings in flow style, all on one line, and cut as [`excerpt`] cuts text.
pub(super) fn show(value: &Value) -> String {
    if let Value::String(text) = value {
        return quote(text);
    }
    let mut out = Shown::default();
    write_value(&mut out, value);
    excerpt(&out.kept, out.bytes, false)
}

/// Bytes kept of a rendering: more than [`SHOWN_CHARS`] characters of any width, so that the
/// cut is [`excerpt`]'s to make.
const KEPT_BYTES: usize = (SHOWN_CHARS + 1) * 4;

/// A rendering that keeps its first [`KEPT_BYTES`] and counts the rest, so that a huge list
/// is measured without being held.
#[derive(Default)]
struct Shown {
    kept: String,
    bytes: usize,
}

impl fmt::Write for Shown {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes += s.len();
        let mut end = KEPT_BYTES.saturating_sub(self.kept.len()).min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.kept.push_str(&s[..end]);
        Ok(())
    }
}

fn write_value(out: &mut Shown, value: &Value) {
    let _ = match value {
        Value::Null => out.write_str("~"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Number(n) => write!(out, "{n}"),
        Value::String(s) => write!(out, "{s:?}"),
        Value::Sequence(items) => {
            let _ = out.write_str("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_str(", ");
                }
                write_value(out, item);
            }
            out.write_str("]")
        }
        Value::Mapping(map) => {
            let _ = out.write_str("{");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_str(", ");
                }
                write_value(out, key);
                let _ = out.write_str(": ");
                write_value(out, item);
            }
            out.write_str("}")
        }
        Value::Tagged(tagged) => {
            let _ = write!(out, "{} ", tagged.tag);
            write_value(out, &tagged.value);
            Ok(())
        }
    };
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
    fn long_values_are_cut_to_a_head_and_their_length() {
        let huge = "x".repeat(2 << 20);
        let shown = show(&Value::String(huge.clone()));
        assert_eq!(
            shown,
            format!("\"{}\"… (2097152 bytes)", "x".repeat(SHOWN_CHARS))
        );
        assert_eq!(quote(&huge), shown);
        assert_eq!(
            shorten(&huge),
            format!("{}… (2097152 bytes)", "x".repeat(SHOWN_CHARS))
        );
        let exact = "y".repeat(SHOWN_CHARS);
        assert_eq!(
            quote(&exact),
            format!("{exact:?}"),
            "nothing cut, nothing added"
        );
        let many = Value::Sequence(vec![Value::Bool(true); 100_000]);
        let shown = show(&many);
        assert!(shown.starts_with("[true, true, "), "{shown}");
        assert!(shown.ends_with("… (600000 bytes)"), "{shown}");
    }

    #[test]
    fn cuts_fall_between_characters() {
        // Four bytes each: a cut by bytes would split one.
        let wide = "🦀".repeat(1000);
        let quoted = quote(&wide);
        assert_eq!(
            quoted,
            format!("\"{}\"… (4000 bytes)", "🦀".repeat(SHOWN_CHARS))
        );
        let nested = Value::Sequence(vec![Value::String(wide)]);
        let shown = show(&nested);
        assert!(shown.starts_with("[\"🦀🦀"), "{shown}");
        assert!(shown.ends_with("… (4004 bytes)"), "{shown}");
        assert_eq!(
            key_name(&Value::String("é".repeat(100))),
            format!("{}… (200 bytes)", "é".repeat(SHOWN_CHARS))
        );
    }
}
