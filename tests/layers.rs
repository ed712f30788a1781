//! The crate's layers run one way: the pure core (decisions over values and injected time)
//! imports nothing that does I/O, the formats import values and no decision, and no module
//! imports another that imports it back. Read from the sources' `use crate::…` paths (test
//! modules and comments left out), so that a new import that breaks the layering fails
//! here, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that decide and format, and never touch the system: their unit tests need no
/// process, socket, file or clock.
const PURE: &[&str] = &[
    "config",
    "schedule",
    "timetable",
    "pool",
    "workers",
    "tick",
    "supervisor",
    "payload",
    "message",
    "frame",
    "metrics",
    "histogram",
    "pid",
    "spin",
    "cluster::catch_up",
    "cluster::grid",
    "cluster::lease",
    "cluster::numbering",
    "cluster::status",
    "cluster::wire",
    "state::record",
];

/// Modules that format what goes to and comes from a worker: they import values (`tick`,
/// `schedule`'s instants), never one of [`DECISIONS`], so that a decision can change or
/// move without touching a format.
const FORMATS: &[&str] = &["payload", "message", "frame"];

/// Modules that decide about ticks and workers.
const DECISIONS: &[&str] = &["pool", "workers", "supervisor"];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The module path of a file under `src/` (`config::values`, `cluster`), `None` for the
/// binaries and the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.first().is_some_and(|p| p == "bin") || parts == ["lib"] {
        return None;
    }
    Some(parts.join("::"))
}

/// The `crate::a::b` paths a file uses outside its test modules and comments.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("crate::") {
            let path: String = line[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let path = path.trim_end_matches(':');
            if !path.is_empty() {
                found.insert(path.to_string());
            }
        }
    }
    found
}

/// Each module and the modules it imports, by their first segment, and by file.
fn graph() -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_file = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let uses = imports(&std::fs::read_to_string(&file).expect("read a source"));
        let first = |m: &str| m.split("::").next().unwrap_or_default().to_string();
        let entry = top.entry(first(&module)).or_default();
        for used in &uses {
            if first(used) != first(&module) {
                entry.insert(first(used));
            }
        }
        by_file.insert(module, uses);
    }
    (top, by_file)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (top, _) = graph();
    // Depth-first search for a path back to where it began.
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        for next in graph.get(from).into_iter().flatten() {
            path.push(next.clone());
            if next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen, path)) {
                return true;
            }
            path.pop();
        }
        false
    }
    for module in top.keys() {
        let mut path = vec![module.clone()];
        assert!(
            !reaches(&top, module, module, &mut BTreeSet::new(), &mut path),
            "an import cycle: {}",
            path.join(" -> ")
        );
    }
}

#[test]
fn the_pure_core_imports_only_the_pure_core() {
    let (_, by_file) = graph();
    let pure = |path: &str| {
        PURE.iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}::")))
    };
    let mut checked = 0;
    for (module, uses) in &by_file {
        if !pure(module) {
            continue;
        }
        checked += 1;
        for used in uses {
            assert!(
                pure(used),
                "{module} is pure and imports crate::{used}, which is not"
            );
        }
    }
    assert!(checked >= PURE.len(), "every pure module was read");
}

#[test]
fn formats_import_values_not_decisions() {
    let (_, by_file) = graph();
    let first = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    for format in FORMATS {
        let uses = by_file.get(*format).expect("every format was read");
        for used in uses {
            assert!(
                !DECISIONS.contains(&first(used).as_str()),
                "{format} formats values and imports crate::{used}, which decides"
            );
        }
    }
}
