//! The documentation's examples, tried as a reader would: every fenced block of the Markdown
//! files is checked by its language, so an example that no longer works fails here.
//!
//! | block | checked by |
//! |---|---|
//! | `yaml` | the extension's config reader accepts it |
//! | `php` | `php -l` (a block without `<?php` gets one; a `class-body` block is put in a class) |
//! | `c` | `gcc -fsyntax-only` against `include/` |
//! | `sh`, `console`, none | each command by its program (`shell.rs`); each `$ ticker calendar ...` line is run, the lines up to the next `$ ` are its output |
//!
//! A `ticker status` answer shown (an output block, no language) is compared by shape with
//! a master's (`status.rs`); any other output block (log lines, `php --ri ticker`, a
//! cluster's lines, a crontab, a file tree) with what really prints it, or what it claims
//! (`output.rs`), and one that no check knows fails. A block in any other language fails
//! (`LANGUAGES`).
//!
//! Every relative link must lead to a file that exists, and an `#anchor` to one of its
//! headings.
//!
//! Words after the language in a block's info string (GitHub highlights by the first word
//! only) adjust the check: `fragment` skips a block that is not meant to stand alone (a
//! piece of a larger file, a sketch with `...`), and `NAME=value` sets an environment
//! variable a `yaml` block's `${NAME}` reads. Examples that run a master (they need a pool,
//! a config and a stop) have tests of their own below.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Php, run_ticker_alone, scratch_dir};

mod output;
mod shell;
mod status;

/// Every language a block may be written in, and what checks it. A block in any other fails
/// [`every_block_is_in_a_language_that_is_checked`]: give it one of these, or add its check.
const LANGUAGES: &[(&str, &str)] = &[
    ("yaml", "the config reader"),
    ("php", "php -l"),
    ("c", "gcc -fsyntax-only"),
    ("sh", "each command by its program (shell.rs)"),
    (
        "console",
        "its `$ ` lines by their program (shell.rs), the quick start's output",
    ),
    (
        "",
        "output: its `$ ` lines by their program (shell.rs), `$ ticker calendar`'s output, a \
         `ticker status` answer's shape (status.rs), any other output by what prints it or \
         what it claims (output.rs; one no check knows fails)",
    ),
];

/// A fenced block: where it is, its info string's words, its text (the fence's indentation
/// taken off).
struct Block {
    file: PathBuf,
    line: usize,
    lang: String,
    words: Vec<String>,
    text: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    fn is_fragment(&self) -> bool {
        self.words.iter().any(|w| w == "fragment")
    }

    /// The `NAME=value` words.
    fn env(&self) -> Vec<(String, String)> {
        self.words
            .iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every Markdown file a reader is pointed to: the READMEs and `docs/`, not the vendored
/// code's.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md")];
    for dir in [
        "docs", "php", "bench", "examples", "stubs", "include", "tests",
    ] {
        files.extend(files_under(&root.join(dir), &["md"]));
    }
    files.sort();
    files
}

/// The files under `dir` whose names end in one of `extensions`, vendored code left out.
fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "vendor" && name != "node_modules" {
            found.extend(files_under(&path, extensions));
        } else if path
            .extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
        {
            found.push(path);
        }
    }
    found
}

/// The fenced blocks of `text` (backtick fences, as the docs write them).
fn blocks_of(file: &Path, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut words = info.split_whitespace().map(str::to_string);
        let lang = words.next().unwrap_or_default();
        let mut body = String::new();
        for (_, inner) in lines.by_ref() {
            if inner.trim() == "```" {
                break;
            }
            body.push_str(inner.get(indent..).unwrap_or(inner.trim_start()));
            body.push('\n');
        }
        blocks.push(Block {
            file: file.strip_prefix(root()).unwrap_or(file).to_owned(),
            line: n + 1,
            lang,
            words: words.collect(),
            text: body,
        });
    }
    blocks
}

fn all_blocks() -> Vec<Block> {
    documents()
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).expect("read a Markdown file");
            blocks_of(file, &text)
        })
        .collect()
}

fn blocks(lang: &[&str]) -> Vec<Block> {
    all_blocks()
        .into_iter()
        .filter(|b| lang.contains(&b.lang.as_str()) && !b.is_fragment())
        .collect()
}

/// The failures of every block, all listed, so one run shows every stale example.
fn assert_all(what: &str, checked: usize, failures: Vec<String>) {
    assert!(checked > 0, "no {what} found in the documentation");
    assert!(
        failures.is_empty(),
        "{} of {checked} {what} fail:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_yaml_example_is_a_config_the_extension_accepts() {
    let yaml = blocks(&["yaml"]);
    let failures = yaml
        .iter()
        .filter_map(|block| {
            let env = block.env();
            let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            ticker::config::parse_with_env(&block.text, Path::new(".rr.yaml"), &lookup)
                .err()
                .map(|err| format!("{}: {err}\n{}", block.at(), block.text))
        })
        .collect();
    assert_all("yaml blocks", yaml.len(), failures);
}

#[test]
fn every_block_is_in_a_language_that_is_checked() {
    let found = all_blocks();
    let failures = found
        .iter()
        .filter(|b| !LANGUAGES.iter().any(|(lang, _)| *lang == b.lang))
        .map(|b| {
            format!(
                "{}: no check for `{}` blocks: write it as one of {}, mark it `fragment` if it \
                 is a piece of something larger, or add a check for `{}` to LANGUAGES in \
                 tests/e2e/docs.rs",
                b.at(),
                b.lang,
                LANGUAGES
                    .iter()
                    .map(|(lang, by)| format!("`{lang}` ({by})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                b.lang
            )
        })
        .collect();
    assert_all("blocks", found.len(), failures);
}

/// Writes each block's source (as `source` makes it) to a file of its own and runs `check`
/// on it; the failures, each with what the checker printed.
fn compile_each(
    lang: &str,
    source: impl Fn(&Block) -> String,
    check: impl Fn(&Path) -> Command,
) -> (usize, Vec<String>) {
    let found = blocks(&[lang]);
    let (dir, _) = scratch_dir(&format!("docs-{lang}"));
    let failures = found
        .iter()
        .enumerate()
        .filter_map(|(i, block)| {
            let path = dir.join(format!("block-{i}.{lang}"));
            std::fs::write(&path, source(block)).expect("write a block");
            let out = check(&path).output().expect("the checker runs");
            (!out.status.success()).then(|| {
                format!(
                    "{}: {}{}",
                    block.at(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect();
    (found.len(), failures)
}

#[test]
fn every_php_example_is_valid_php() {
    let (checked, failures) = compile_each(
        "php",
        |block| {
            if block.words.iter().any(|w| w == "class-body") {
                format!("<?php\nfinal class Example\n{{\n{}}}\n", block.text)
            } else if block.text.trim_start().starts_with("<?php") {
                block.text.clone()
            } else {
                format!("<?php\n{}", block.text)
            }
        },
        |path| {
            let mut php = Command::new("php");
            php.args(["-n", "-l"]).arg(path);
            php
        },
    );
    assert_all("php blocks", checked, failures);
}

#[test]
fn every_c_example_compiles_against_the_header() {
    let (checked, failures) = compile_each(
        "c",
        |block| block.text.clone(),
        |path| {
            let mut gcc = Command::new("gcc");
            gcc.args(["-fsyntax-only", "-Wall", "-Werror", "-I"])
                .arg(root().join("include"))
                .arg(path);
            gcc
        },
    );
    assert_all("C blocks", checked, failures);
}

/// `$ ticker calendar ...` lines of shell blocks, each with the output shown under it.
#[test]
fn every_ticker_calendar_transcript_prints_what_it_shows() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for block in blocks(&["sh", "console", ""]) {
        let lines: Vec<&str> = block.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(command) = line.strip_prefix("$ ticker calendar ") else {
                continue;
            };
            let shown: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("$ "))
                .copied()
                .collect();
            let mut args = vec!["calendar".to_string()];
            args.extend(shlex::split(command).expect("a transcript's quoting"));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let exited = run_ticker_alone("docs-calendar", &args);
            let printed: Vec<&str> = exited.stdout.lines().chain(exited.stderr.lines()).collect();
            checked += 1;
            if printed != shown {
                failures.push(format!(
                    "{}: `{line}` printed\n{}\nbut the docs show\n{}",
                    block.at(),
                    printed.join("\n"),
                    shown.join("\n")
                ));
            }
        }
    }
    assert_all("`ticker calendar` transcripts", checked, failures);
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces
/// as `-`; a repeated one gets `-1`, `-2`, ...
fn anchors_of(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.trim_start_matches('#').strip_prefix(' ') else {
            continue;
        };
        if fenced || !line.starts_with('#') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = counts.entry(slug.clone()).or_insert(0);
        seen.push(if *repeats == 0 {
            slug
        } else {
            format!("{slug}-{repeats}")
        });
        *repeats += 1;
    }
    seen
}

/// The `[text](target)` links of `text` outside code.
fn links_of(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            links.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    links
}

#[test]
fn every_link_between_the_docs_leads_to_a_file_and_heading_that_exist() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).expect("read a Markdown file");
        let shown = file.strip_prefix(root()).unwrap_or(&file).to_owned();
        for (line, target) in links_of(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a file's directory").join(path)
            };
            if !dest.exists() {
                failures.push(format!(
                    "{}:{line}: {target}: no such file",
                    shown.display()
                ));
                continue;
            }
            if anchor.is_empty() || dest.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let headings = anchors_of(&std::fs::read_to_string(&dest).expect("read a link's file"));
            if !headings.iter().any(|h| h == anchor) {
                failures.push(format!(
                    "{}:{line}: {target}: no such heading",
                    shown.display()
                ));
            }
        }
    }
    assert_all("relative links", checked, failures);
}

/// The one block that contains `needle`, for the examples run as masters below.
fn example(needle: &str) -> Block {
    let mut found: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.text.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one example contains {needle:?}: {:?}",
        found.iter().map(Block::at).collect::<Vec<_>>()
    );
    found.remove(0)
}

/// A line as the docs show it and as a run prints it, alike: numbers (pids, counts, times)
/// as `N`, and a path (a runtime directory, a config file) left out.
fn shape(line: &str) -> String {
    let line = line.strip_prefix("^C").unwrap_or(line);
    let line = line.find(" /").map_or(line, |at| &line[..at]);
    numbers_as_n(line)
}

/// `line` with each run of digits as one `N`.
fn numbers_as_n(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

/// The README's quick start: its `app.php` beside its `.rr.yaml`, in the directory the
/// master starts in, run with `-d extension=` and stopped with SIGINT (Ctrl-C), prints the
/// lines shown under it.
#[test]
fn the_quick_start_prints_what_it_shows() {
    let readme: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.file == Path::new("README.md"))
        .collect();
    let at = readme
        .iter()
        .position(|b| {
            b.lang == "console" && b.text.starts_with("$ php -d extension=ticker.so app.php")
        })
        .expect("the quick start's transcript");
    let script = readme[..at]
        .iter()
        .rfind(|b| b.lang == "php")
        .expect("its app.php");
    let config = readme[..at]
        .iter()
        .rfind(|b| b.lang == "yaml")
        .expect("its .rr.yaml");
    let shown: Vec<&str> = readme[at].text.lines().skip(1).collect();
    let php = Php::new("docs-quick-start");
    php.file(".rr.yaml", &config.text);
    let path = php.file("app.php", &script.text);
    let mut run = php.spawn(&[path.as_os_str()]);
    let (told, printed_logs): (Vec<&str>, Vec<&str>) =
        shown.iter().partition(|l| !shape(l).starts_with("ticker:"));
    run.wait_for("the app's lines shown", |r| {
        r.stdout().lines().count() >= told.len()
    });
    let exited = run.stop_with(libc::SIGINT);
    let printed: Vec<String> = exited.stdout.lines().take(told.len()).map(shape).collect();
    let told: Vec<String> = told.iter().map(|l| shape(l)).collect();
    assert_eq!(printed, told, "the app's lines");
    let logged: Vec<String> = exited.stderr.lines().map(shape).collect();
    for line in printed_logs {
        assert!(
            logged.contains(&shape(line)),
            "the docs show `{line}`, the run logged:\n{}",
            exited.stderr
        );
    }
}

/// The schedules declared in code: the example runs as the master of a pool with no other
/// schedule, an operator's `ticker run` hands its schedule one run, and the handler prints
/// it.
#[test]
fn the_schedules_in_code_example_runs_its_schedule() {
    let script = example("Ticker\\Schedules::add(");
    let php = Php::new("docs-schedules-add").yaml(
        "ticker:
  pool:
    num_workers: 1
    destroy_timeout: 5s
",
    );
    let path = php.file("app.php", &script.text);
    let mut run = php.spawn(&[path.as_os_str()]);
    let pid = run.pid.to_string();
    run.wait_for("the master to answer", |r| {
        r.ticker(&["status", &pid]).status.success()
    });
    run.ticker(&["run", "invoices", &pid]).assert_success();
    run.wait_for("the handler's line", |r| r.stdout().contains("invoices"));
    let exited = run.stop_with(libc::SIGTERM);
    exited.assert_success();
    let printed = exited.stdout.lines().find(|l| l.contains("invoices"));
    assert_eq!(
        printed,
        Some("invoices: run 9223372036854775807 (manual)"),
        "{}",
        exited.stdout
    );
}
