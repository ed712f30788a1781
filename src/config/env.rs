//! `${NAME}`, `$NAME` and `${NAME:-default}` in the file's values, replaced from the
//! environment as RoadRunner does before it interprets a value.
//!
//! Owns the syntax (RoadRunner's, which is Go's `os.Expand` plus `:-` defaults) and what a
//! substitution leaves behind: the variables that were unset, so that a section can tell
//! "empty because NAME is not set" from a value written empty. Only the values this
//! extension reads are substituted (the sections do it as they read them); the rest of the
//! file is RoadRunner's business. The environment comes in as a [`Lookup`], so that tests
//! never touch the process's own.

use serde_yaml::Value;

use super::error::{Problem, key_name, quote, shorten};

/// The environment: a variable's value, or `None` when it is not set.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's environment. A value that is not UTF-8 is read lossily.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// What substituting one string did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Substituted {
    pub text: String,
    /// Variables referred to without a default that are not set, in order of appearance.
    pub unset: Vec<String>,
}

/// A reference that cannot be read. RoadRunner drops such text silently; here it would
/// change the meaning of a value this extension acts on. The message follows the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum BadReference {
    #[error("has a \"${{\" without its closing \"}}\"")]
    Unclosed,
    #[error("has \"${{}}\", which names no variable")]
    Empty,
}

/// Replaces the references in `text`. `Ok(None)` when it has none, so that it is used as
/// written.
pub(super) fn substitute(text: &str, env: Lookup) -> Result<Option<Substituted>, BadReference> {
    if !text.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    let mut replaced = false;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let Some((reference, len)) = reference(after)? else {
            // A `$` that starts no reference stays, as in Go.
            out.push('$');
            rest = after;
            continue;
        };
        replaced = true;
        let (name, default) = match reference.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        let value = env(name);
        match (value, default) {
            (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                if !unset.iter().any(|n| n == name) {
                    unset.push(name.to_string());
                }
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(replaced.then_some(Substituted { text: out, unset }))
}

/// Shell variables with one-character names: `$1`, `$$`, `$@`, ... Go reads them as names,
/// so RoadRunner does (they are looked up like any other and are usually unset).
fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// The reference after a `$` and how many bytes it takes; `None` for a `$` that starts none.
fn reference(after: &str) -> Result<Option<(&str, usize)>, BadReference> {
    let bytes = after.as_bytes();
    match bytes.first() {
        None => Ok(None),
        Some(b'{') => match after.find('}') {
            Some(1) => Err(BadReference::Empty),
            Some(end) => Ok(Some((&after[1..end], end + 1))),
            None => Err(BadReference::Unclosed),
        },
        Some(&c) if is_special(c) => Ok(Some((&after[..1], 1))),
        Some(_) => {
            let len = bytes
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            Ok((len > 0).then(|| (&after[..len], len)))
        }
    }
}

/// A string that substitution changed, for messages and for the "unset" rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Note {
    /// Where inside the value it was, as in [`Problem::at`].
    pub at: String,
    /// The string as written in the file.
    pub written: String,
    pub unset: Vec<String>,
    /// True when nothing but whitespace is left.
    pub empty: bool,
}

impl Note {
    /// The origin of a value, for a message: ` (from "${TICK}s", with TICK unset; set it,
    /// or give it a default: ${TICK:-default})`.
    pub fn origin(&self) -> String {
        let written = quote(&self.written);
        match self.unset.as_slice() {
            [] => format!(" (from {written})"),
            names => format!(
                " (from {written}, with {} unset; {})",
                names_of(names, ", "),
                with_default(names)
            ),
        }
    }

    /// "is empty because TICK is not set (set it, or give it a default: ${TICK:-default})".
    pub fn empty_because_unset(&self) -> Option<String> {
        match self.unset.as_slice() {
            _ if !self.empty => None,
            [] => None,
            [name] => Some(format!(
                "is empty because {} is not set ({})",
                shorten(name),
                with_default(&self.unset)
            )),
            names => Some(format!(
                "is empty because {} are not set ({})",
                names_of(names, " and "),
                with_default(names)
            )),
        }
    }
}

/// What to do about unset variables: set them, or write the reference with a default, as
/// RoadRunner reads it too (`${NAME:-default}`).
fn with_default(names: &[String]) -> String {
    let defaults: Vec<String> = names
        .iter()
        .map(|name| format!("${{{name}:-default}}"))
        .collect();
    match names {
        [_] => format!("set it, or give it a default: {}", shorten(&defaults[0])),
        _ => format!(
            "set them, or give them defaults: {}",
            shorten(&defaults.join(", "))
        ),
    }
}

/// Variable names as a message lists them, cut as a value is: `${...}` takes anything up to
/// its `}` as a name, and a value may refer to any number of them.
fn names_of(names: &[String], separator: &str) -> String {
    shorten(&names.join(separator))
}

/// Substitutes every string in `value` (list items and mapping values too, not mapping
/// keys), and notes each one that changed. The results stay strings: see [`retype`].
pub(super) fn substitute_value(value: &Value, env: Lookup) -> Result<(Value, Vec<Note>), Problem> {
    let mut notes = Vec::new();
    let value = walk(value, env, String::new(), &mut notes)?;
    Ok((value, notes))
}

fn walk(value: &Value, env: Lookup, at: String, notes: &mut Vec<Note>) -> Result<Value, Problem> {
    Ok(match value {
        Value::String(text) => match substitute(text, env) {
            Ok(None) => value.clone(),
            Ok(Some(done)) => {
                notes.push(Note {
                    at,
                    written: text.clone(),
                    empty: done.text.trim().is_empty(),
                    unset: done.unset,
                });
                Value::String(done.text)
            }
            Err(problem) => return Err(Problem::new(value, problem.to_string()).within(&at)),
        },
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| walk(item, env, format!("{at}[{i}]"), notes))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(map) => {
            let mut out = serde_yaml::Mapping::new();
            for (key, item) in map {
                let name = key_name(key);
                out.insert(key.clone(), walk(item, env, format!("{at}.{name}"), notes)?);
            }
            Value::Mapping(out)
        }
        Value::Tagged(tagged) => {
            let mut tagged = tagged.clone();
            tagged.value = walk(&tagged.value, env, at, notes)?;
            Value::Tagged(tagged)
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    })
}

/// A substituted string as an unquoted scalar: a boolean or a number if YAML reads it so,
/// else the string. A key that wants a number or a boolean reads it so, as RoadRunner's
/// weakly typed decoding does (`num_workers: ${WORKERS}` is a number); a key that wants a
/// string keeps the string (`PIN: ${PIN}` stays `0123`). Never null: an empty result stays
/// an empty string, so that it is refused where a value is required instead of silently
/// meaning "not set".
pub(super) fn retype(text: &str) -> Value {
    let numeric = !text.is_empty()
        && text.len() <= 40
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c));
    if numeric && let Ok(value @ (Value::Bool(_) | Value::Number(_))) = serde_yaml::from_str(text) {
        return value;
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/app".into()),
            "A_1" => Some("x".into()),
            "EMPTY" => Some(String::new()),
            "WORKERS" => Some("4".into()),
            "1" => Some("one".into()),
            _ => None,
        }
    }

    fn expand(text: &str) -> String {
        match substitute(text, &env) {
            Ok(Some(done)) => done.text,
            Ok(None) => text.to_string(),
            Err(problem) => panic!("{text:?}: {problem}"),
        }
    }

    #[test]
    fn braced_bare_and_default_forms() {
        let cases = [
            ("${HOME}/bin", "/home/app/bin"),
            ("$HOME/bin", "/home/app/bin"),
            ("$A_1-$A_1", "x-x"),
            ("${A_1}y", "xy"),
            ("pre-$MISSING-post", "pre--post"),
            ("${MISSING}", ""),
            ("${MISSING:-1s}", "1s"),
            ("${EMPTY:-1s}", "1s"),
            ("${HOME:-/root}", "/home/app"),
            ("tcp://127.0.0.1:${RPC_PORT:-6001}", "tcp://127.0.0.1:6001"),
            ("${MISSING:-}", ""),
            ("${MISSING:-a:-b}", "a:-b"),
            ("$", "$"),
            ("a $ b", "a $ b"),
            ("$.x", "$.x"),
            ("no dollars", "no dollars"),
            ("µ$HOME", "µ/home/app"),
            // Go reads one-character shell names: `$1` is a variable, and so is `$$`.
            ("$1-$2", "one-"),
            ("cost: $5", "cost: "),
            ("${1}", "one"),
            // Braces take everything up to the first `}` as the name, as in Go.
            ("${BAD NAME}", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(expand(input), expected, "{input}");
        }
    }

    #[test]
    fn unset_variables_without_a_default_are_named_once() {
        let done = substitute("$A $MISSING ${MISSING} ${OTHER:-x} $NOPE", &env)
            .unwrap()
            .unwrap();
        assert_eq!(done.unset, ["A", "MISSING", "NOPE"]);
        let done = substitute("${EMPTY}", &env).unwrap().unwrap();
        assert_eq!(done.unset, Vec::<String>::new(), "set, even if empty");
        assert_eq!(substitute("plain", &env), Ok(None));
        assert_eq!(substitute("a $ b", &env), Ok(None));
    }

    #[test]
    fn malformed_references_are_problems() {
        assert_eq!(substitute("${HOME", &env), Err(BadReference::Unclosed));
        assert_eq!(
            BadReference::Unclosed.to_string(),
            "has a \"${\" without its closing \"}\""
        );
        assert_eq!(substitute("a${}b", &env), Err(BadReference::Empty));
        assert_eq!(
            BadReference::Empty.to_string(),
            "has \"${}\", which names no variable"
        );
    }

    #[test]
    fn substituted_strings_are_noted_and_stay_strings() {
        let value: Value = serde_yaml::from_str(
            "n: ${WORKERS}\nb: ${FLAG:-true}\ns: ${TICK:-1s}\ne: ${MISSING}\nq: '4'\nl: [php, $HOME]\n",
        )
        .unwrap();
        let (value, notes) = substitute_value(&value, &env).unwrap();
        assert_eq!(value["n"], Value::String("4".into()));
        assert_eq!(value["b"], Value::String("true".into()));
        assert_eq!(value["s"], Value::String("1s".into()));
        assert_eq!(value["e"], Value::String(String::new()));
        assert_eq!(value["q"], Value::String("4".into()));
        assert_eq!(value["l"][1], Value::String("/home/app".into()));
        let at: Vec<&str> = notes.iter().map(|n| n.at.as_str()).collect();
        assert_eq!(at, [".n", ".b", ".s", ".e", ".l[1]"]);
        let empty = &notes[3];
        assert_eq!(
            empty.empty_because_unset().as_deref(),
            Some(
                "is empty because MISSING is not set (set it, or give it a default: \
                 ${MISSING:-default})"
            )
        );
        assert_eq!(notes[0].empty_because_unset(), None);
        assert_eq!(notes[0].origin(), " (from \"${WORKERS}\")");
        assert_eq!(
            empty.origin(),
            " (from \"${MISSING}\", with MISSING unset; set it, or give it a default: \
             ${MISSING:-default})"
        );
        let two = Note {
            unset: vec!["A".into(), "B".into()],
            ..empty.clone()
        };
        assert_eq!(
            two.empty_because_unset().as_deref(),
            Some(
                "is empty because A and B are not set (set them, or give them defaults: \
                 ${A:-default}, ${B:-default})"
            )
        );
    }

    #[test]
    fn retyping_never_makes_null_or_structure() {
        for text in ["", "~", "null", "[1]", "{a: 1}", "a: b", "- x"] {
            assert_eq!(retype(text), Value::String(text.into()), "{text:?}");
        }
        assert_eq!(retype("false"), Value::Bool(false));
        assert_eq!(retype("-3"), Value::Number((-3).into()));
        assert!(matches!(retype("2.5"), Value::Number(_)));
        assert_eq!(
            retype("0123"),
            serde_yaml::from_str::<Value>("0123").unwrap()
        );
    }
}
