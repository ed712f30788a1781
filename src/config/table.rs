//! One mapping of the file as it is read: its dotted key, the keys the reading code asks
//! for, and what is left over.
//!
//! Owns the rules every section shares. A key exists because the code reading its section
//! asks for it, so the list of accepted keys in an "unknown key" message is that code and
//! cannot drift from it. Each ask says whether the extension acts on the key ([`Acts`]);
//! a key RoadRunner defines that is present but not acted on is noted for the warning at
//! start. A null value means "not set". Values are substituted from the environment as
//! they are read (see [`super::env`]), and placed at their key when they are wrong.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use serde_yaml::Value;

use super::env::{self, Lookup};
use super::error::{ConfigError, Problem, key_name, quote, show};
use super::values::{DURATION_FORMS, FromValue, format_duration};

/// Whether the extension does something with a key. Flipping a key to `Yes` is what
/// taking it up means here; it then leaves the "not acted on" warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acts {
    Yes,
    /// RoadRunner defines the key; it is accepted, and named in the warning at start.
    No,
    /// It acts on command-started workers only (`ticker.pool.command` set): in a forked
    /// pool it is named in the warning as [`Acts::No`] keys are.
    WithCommand,
}

/// What one reading of a file shares between its tables.
pub(super) struct Reading<'a> {
    pub file: &'a Path,
    env: Lookup<'a>,
    /// Keys set that not every pool acts on, dotted, in reading order.
    noted: RefCell<Vec<(String, Acts)>>,
    /// Keys of RoadRunner's sections that no code here asks for, dotted, in reading order.
    ignored: RefCell<Vec<String>>,
    /// Values read that the file may not mean as they are read ([`FromValue::doubt`]), one
    /// line each from the dotted key on.
    doubts: RefCell<Vec<String>>,
}

impl<'a> Reading<'a> {
    pub fn new(file: &'a Path, env: Lookup<'a>) -> Reading<'a> {
        Reading {
            file,
            env,
            noted: RefCell::default(),
            ignored: RefCell::default(),
            doubts: RefCell::default(),
        }
    }

    /// The dotted keys set that this pool does not act on, in the order they were read:
    /// [`Acts::No`] ones, and [`Acts::WithCommand`] ones unless `command_started`.
    /// And the keys [`Table::finish_ignoring_unknown`] let through.
    /// And the doubts about values read.
    pub fn into_unused(self, command_started: bool) -> (Vec<String>, Vec<String>, Vec<String>) {
        let not_acted_on = self
            .noted
            .into_inner()
            .into_iter()
            .filter(|(_, acts)| *acts == Acts::No || !command_started)
            .map(|(key, _)| key)
            .collect();
        (
            not_acted_on,
            self.ignored.into_inner(),
            self.doubts.into_inner(),
        )
    }
}

pub(super) struct Table<'a> {
    reading: &'a Reading<'a>,
    /// Dotted; empty for the top level.
    key: String,
    entries: Vec<(String, Value)>,
    known: Vec<&'static str>,
}

impl<'a> Table<'a> {
    /// The top level of the file: a mapping, or nothing at all.
    pub fn root(reading: &'a Reading<'a>, value: Value) -> Result<Table<'a>, ConfigError> {
        match value {
            Value::Null | Value::Mapping(_) => Ok(Table::new(reading, String::new(), value)),
            _ => Err(ConfigError::file(
                reading.file,
                "the top level is not a mapping; expected sections such as ticker: and server:",
            )),
        }
    }

    /// A table with nothing in it, for defaults.
    pub fn empty(reading: &'a Reading<'a>, key: &str) -> Table<'a> {
        Table::new(reading, key.to_string(), Value::Null)
    }

    fn new(reading: &'a Reading<'a>, key: String, value: Value) -> Table<'a> {
        let entries = match value {
            Value::Mapping(map) => map
                .into_iter()
                .map(|(name, value)| (key_name(&name), value))
                .collect(),
            _ => Vec::new(),
        };
        Table {
            reading,
            key,
            entries,
            known: Vec::new(),
        }
    }

    /// The config file being read.
    pub fn file(&self) -> &Path {
        self.reading.file
    }

    /// The dotted key of `name` in this table.
    pub fn key(&self, name: &str) -> String {
        if self.key.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.key)
        }
    }

    /// An error at `name` in this table.
    pub fn error(&self, name: &str, detail: impl Into<String>) -> ConfigError {
        ConfigError::at(self.reading.file, &self.key(name), detail)
    }

    /// Marks `name` as known and takes its value, if set (null is not set).
    fn take(&mut self, name: &'static str, acts: Acts) -> Option<Value> {
        self.known.push(name);
        let value = self
            .entries
            .iter_mut()
            .find(|(key, _)| key == name)
            .map(|(_, value)| std::mem::take(value))
            .filter(|value| !value.is_null())?;
        if acts != Acts::Yes {
            self.reading.noted.borrow_mut().push((self.key(name), acts));
        }
        Some(value)
    }

    /// Reads the value at `name`, substituted from the environment; `None` when not set.
    pub fn get<T: FromValue>(
        &mut self,
        name: &'static str,
        acts: Acts,
    ) -> Result<Option<T>, ConfigError> {
        let Some(written) = self.take(name, acts) else {
            return Ok(None);
        };
        let place = |problem: Problem, origin: String| {
            let expected = problem.expected.unwrap_or(T::FORMS.into());
            ConfigError::at(
                self.reading.file,
                &format!("{}{}", self.key(name), problem.at),
                format!(
                    "{}{origin} {}; expected {expected}",
                    problem.shown, problem.problem
                ),
            )
        };
        let (value, notes) = env::substitute_value(&written, self.reading.env)
            .map_err(|problem| place(problem, String::new()))?;
        if !T::EMPTY_IS_A_VALUE
            && let Some((note, because)) = notes
                .iter()
                .find_map(|note| Some((note, note.empty_because_unset()?)))
        {
            return Err(place(
                Problem::shown(quote(&note.written), because).within(&note.at),
                String::new(),
            ));
        }
        let read = T::from_value(&value).or_else(|problem| {
            // A substituted value is a string; a key that wants a number or a boolean
            // reads it as YAML reads it unquoted.
            let substituted = notes.iter().any(|note| note.at.is_empty());
            match &value {
                Value::String(text) if substituted => {
                    let retyped = env::retype(text);
                    if retyped == value {
                        Err(problem)
                    } else {
                        T::from_value(&retyped)
                    }
                }
                _ => Err(problem),
            }
        });
        // Only where the extension acts on the value: the rest is RoadRunner's to read.
        if read.is_ok()
            && acts == Acts::Yes
            && let Some(doubt) = T::doubt(&value)
        {
            let key = self.key(name);
            self.reading
                .doubts
                .borrow_mut()
                .push(format!("{key}: {doubt}"));
        }
        read.map(Some).map_err(|problem| {
            let origin = notes
                .iter()
                .find(|note| note.at == problem.at)
                .map(env::Note::origin)
                .unwrap_or_default();
            place(problem, origin)
        })
    }

    /// The mapping at `name`: `None` when the key is missing, an empty table when it is
    /// there with nothing under it. `expecting` follows "expected" when it is not a mapping.
    pub fn table(
        &mut self,
        name: &'static str,
        expecting: &str,
    ) -> Result<Option<Table<'a>>, ConfigError> {
        self.known.push(name);
        let Some(index) = self.entries.iter().position(|(key, _)| key == name) else {
            return Ok(None);
        };
        let value = std::mem::take(&mut self.entries[index].1);
        match value {
            Value::Null | Value::Mapping(_) => {
                Ok(Some(Table::new(self.reading, self.key(name), value)))
            }
            _ => Err(self.error(
                name,
                format!("{} is not a mapping; expected {expecting}", show(&value)),
            )),
        }
    }

    /// Every entry of this table as a mapping of its own, in the file's order: for a table
    /// whose keys are names the file chooses (`ticker.schedules`). `expecting` follows
    /// "expected" for an entry that is not a mapping.
    pub fn tables(&mut self, expecting: &str) -> Result<Vec<(String, Table<'a>)>, ConfigError> {
        let entries = std::mem::take(&mut self.entries);
        entries
            .into_iter()
            .map(|(name, value)| match value {
                Value::Null | Value::Mapping(_) => {
                    let table = Table::new(self.reading, self.key(&name), value);
                    Ok((name, table))
                }
                _ => Err(self.error(
                    &name,
                    format!("{} is not a mapping; expected {expecting}", show(&value)),
                )),
            })
            .collect()
    }

    /// [`Table::table`], with an empty table for a missing key.
    pub fn table_or_empty(
        &mut self,
        name: &'static str,
        expecting: &str,
    ) -> Result<Table<'a>, ConfigError> {
        let table = self.table(name, expecting)?;
        Ok(table.unwrap_or_else(|| Table::empty(self.reading, &self.key(name))))
    }

    /// Refuses a duration below `floor`, read from `name`; `zero` says what 0 means there.
    pub fn at_least(
        &self,
        name: &str,
        duration: Duration,
        floor: Duration,
        zero: &str,
    ) -> Result<Duration, ConfigError> {
        if duration >= floor {
            return Ok(duration);
        }
        let floor = format_duration(floor);
        Err(self.error(
            name,
            format!(
                "{} is below the shortest {name} of {floor}; \
                 expected {DURATION_FORMS}, of {floor} or more ({zero})",
                format_duration(duration)
            ),
        ))
    }

    /// A key RoadRunner defines that the extension neither reads nor acts on: any value is
    /// accepted, and it is named in the warning.
    pub fn accept(&mut self, name: &'static str) {
        self.take(name, Acts::No);
    }

    /// Refuses keys nobody asked for, naming the first, the accepted key it is closest to
    /// if one is close, and listing those accepted.
    pub fn finish(self) -> Result<(), ConfigError> {
        let Some(unknown) = self.unknown().next() else {
            return Ok(());
        };
        let hint = nearest(unknown, &self.known)
            .map_or_else(String::new, |near| format!(" (did you mean {near}?)"));
        let detail = match self.known.as_slice() {
            [] => "unknown key; expected no keys here".to_string(),
            [only] => format!("unknown key{hint}; expected {only}"),
            known => format!("unknown key{hint}; expected one of {}", known.join(", ")),
        };
        Err(self.error(unknown, detail))
    }

    /// For RoadRunner's own sections (`server`, `logs`), which its other plugins read too
    /// and its next versions may extend: keys nobody asked for are let through, as
    /// RoadRunner lets them through, and named in the warning at start.
    pub fn finish_ignoring_unknown(self) {
        let keys: Vec<String> = self.unknown().map(|name| self.key(name)).collect();
        self.reading.ignored.borrow_mut().extend(keys);
    }

    fn unknown(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .map(|(key, _)| key.as_str())
            .filter(|key| !self.known.contains(key))
    }
}

/// The accepted key (or name) a mistyped one most likely meant: the fewest edits away (a swap of two
/// neighbours is one), case and `-` for `_` aside, within a third of its length (at least
/// one edit); the first of the closest ones in `known`'s order. `None` when none is that
/// close: a wrong guess would mislead more than no guess.
pub(crate) fn nearest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let plain = |key: &str| key.to_lowercase().replace('-', "_");
    let written = plain(unknown);
    let most = (written.chars().count() / 3).max(1);
    known
        .iter()
        .map(|&key| (strsim::osa_distance(&written, &plain(key)), key))
        .filter(|&(edits, _)| edits <= most)
        .min_by_key(|&(edits, _)| edits)
        .map(|(_, key)| key)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_mistyped_key_is_matched_to_the_nearest_accepted_one() {
        let known = [
            "interval",
            "num_workers",
            "max_jobs",
            "destroy_timeout",
            "ttl",
            "key",
        ];
        for (typed, meant) in [
            ("num_worker", "num_workers"),
            ("numworkers", "num_workers"),
            ("NumWorkers", "num_workers"),
            ("num-workers", "num_workers"),
            ("intreval", "interval"),
            ("intervall", "interval"),
            ("max_job", "max_jobs"),
            ("destroy_timout", "destroy_timeout"),
            ("tll", "ttl"),
        ] {
            assert_eq!(nearest(typed, &known), Some(meant), "{typed}");
        }
        for far in ["workers", "port", "timeout", "x", "colour"] {
            assert_eq!(nearest(far, &known), None, "{far}");
        }
        assert_eq!(nearest("anything", &[]), None);
    }
}
