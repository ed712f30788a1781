//! The documentation's shell commands: every command of a `sh` block, and every `$ ` line
//! of a `console` or output block, checked by its program ([`CHECKS`]). What can run here
//! runs: the `ticker` commands and `kill` signals against a real master, `gcc` on the page's
//! C example. What cannot (root installs, PIE, RoadRunner, a benchmark of minutes) must
//! match a command a tested script runs, or name what exists: a Makefile target and
//! variable, a Cargo package, test target and test, an INI setting the extension registers,
//! an environment variable the code reads, a file of the repository.
//!
//! A file's blocks are one shell session from the repository's root: a `cd` holds for the
//! blocks after it. A program with no check fails the test, saying where to add one.

use std::path::{Component, Path, PathBuf};
use std::process::Command as Process;
use std::str::FromStr;

use nix::sys::signal::Signal;

use super::{Block, all_blocks, assert_all, files_under, root};
use crate::harness::{DEADLINE, Php, Running, extension, info, scratch_dir};

/// One command as a shell would run it: its `NAME=value` assignments, its words, the
/// directory it runs in; where it is, and the C example above it on its page.
#[derive(Clone)]
struct Command {
    file: PathBuf,
    at: String,
    env: Vec<(String, String)>,
    words: Vec<String>,
    dir: PathBuf,
    c_example: Option<String>,
}

impl Command {
    fn program(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    fn line(&self) -> String {
        self.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(self.words.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn fail(&self, why: impl std::fmt::Display) -> String {
        format!("{}: `{}`: {why}", self.at, self.line())
    }
}

/// What a file's commands leave for the next: the directory, what `gcc -o` built.
struct Session {
    dir: PathBuf,
    built: Vec<String>,
}

impl Session {
    fn new() -> Session {
        Session {
            dir: root(),
            built: Vec::new(),
        }
    }
}

type Check = fn(&Command, &mut Session, &Facts) -> Result<(), String>;

/// Each program the docs run, and how its commands are checked.
const CHECKS: &[(&str, Check)] = &[
    ("cd", change_directory),
    ("sudo", as_root),
    ("php", php),
    ("ticker", on_a_master),
    ("kill", on_a_master),
    ("make", make),
    ("cargo", cargo_test),
    ("composer", composer),
    ("pie", pie_install),
    ("gcc", gcc),
    ("./app", built_here),
    ("phpize", in_a_tested_script),
    ("./configure", in_a_tested_script),
    ("bench/run", options_it_knows),
    ("rr", rr_serve),
];

/// Variables read by programs other than this repository's, which its code need not name.
const OTHERS_VARIABLES: &[(&str, &str)] = &[
    ("PROPTEST_CASES", "proptest"),
    ("LD_LIBRARY_PATH", "the dynamic linker"),
    ("USE_ZEND_ALLOC_HUGE_PAGES", "PHP's allocator"),
];

/// The signals after which a master stops; it must go on after any other the docs send.
const STOPPING: &[Signal] = &[Signal::SIGTERM, Signal::SIGINT];

/// What the checks compare against, gathered once.
struct Facts {
    /// The extension's INI settings, as `php --ri ticker` lists them.
    ini: Vec<String>,
    makefile: String,
    /// The commands of the scripts `make test` runs, as words.
    tested: Vec<Vec<String>>,
    /// The source files that may read an environment variable.
    sources: Vec<String>,
}

impl Facts {
    fn gather() -> Facts {
        let ini = info(Php::new("docs-shell-ini"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("ticker."))
            .collect();
        let root = root();
        let makefile = read(&root.join("Makefile"));
        let mut scripts = vec![makefile.clone(), read(&root.join(".ci/run"))];
        for dir in ["tests/packaging", "tests/c"] {
            scripts.extend(
                files_under(&root.join(dir), &["sh"])
                    .iter()
                    .map(|p| read(p)),
            );
        }
        let tested = scripts
            .iter()
            .flat_map(|text| text.lines().flat_map(|l| commands_of(l.trim())))
            .collect();
        let mut sources = Vec::new();
        for dir in ["src", "ext", "tests", "php", "examples"] {
            sources.extend(
                files_under(&root.join(dir), &["rs", "php"])
                    .iter()
                    .map(|p| read(p)),
            );
        }
        Facts {
            ini,
            makefile,
            tested,
            sources,
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The words of each command of one shell line (comments dropped, split at `&&`, `||`,
/// `;` and `|`); none if the line does not parse.
fn commands_of(line: &str) -> Vec<Vec<String>> {
    let Some(words) = shlex::split(line) else {
        return Vec::new();
    };
    words
        .split(|w| matches!(w.as_str(), "&&" | "||" | ";" | "|"))
        .filter(|c| !c.is_empty())
        .map(<[String]>::to_vec)
        .collect()
}

/// The blocks whose commands are checked here: `sh`, and the `$ ` lines of transcripts
/// (`console`) and of output blocks (no language).
pub(super) const SHELL: &[&str] = &["sh", "console", ""];

/// The command lines of a block: every line of a `sh` block (a trailing `\` joins the
/// next), the `$ ` lines of the others.
fn lines_of(block: &Block) -> Vec<String> {
    if block.lang != "sh" {
        return block
            .text
            .lines()
            .filter_map(|l| l.strip_prefix("$ "))
            .map(str::to_string)
            .collect();
    }
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in block.text.lines() {
        match line.strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    lines
}

/// Every command of the docs, with the directory its file's session is in.
fn commands(blocks: &[Block]) -> Vec<Command> {
    let mut found = Vec::new();
    for (at, block) in blocks.iter().enumerate() {
        if block.is_fragment() || !SHELL.contains(&block.lang.as_str()) {
            continue;
        }
        let c_example = blocks[..at]
            .iter()
            .rfind(|b| b.file == block.file && b.lang == "c")
            .map(|b| b.text.clone());
        for line in lines_of(block) {
            for mut words in commands_of(&line) {
                let assignments = words
                    .iter()
                    .take_while(|w| w.split_once('=').is_some_and(|(k, _)| is_name(k)))
                    .count();
                let env = words
                    .drain(..assignments)
                    .map(|w| {
                        let (k, v) = w.split_once('=').expect("an assignment");
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                found.push(Command {
                    file: block.file.clone(),
                    at: block.at(),
                    env,
                    words,
                    dir: root(),
                    c_example: c_example.clone(),
                });
            }
        }
    }
    found
}

fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `path` against `dir` (which `$PWD` names too), `..` and `.` resolved by their text.
fn resolve(dir: &Path, path: &str) -> PathBuf {
    let path = path.strip_prefix("$PWD/").unwrap_or(path);
    let mut out = PathBuf::new();
    for part in dir.join(path).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every command's program has a check, and passes it; a `ticker` or `kill` command is
/// run on a master by the test after this one.
#[test]
fn every_shell_command_names_what_exists() {
    let blocks = all_blocks();
    let facts = Facts::gather();
    let mut sessions: std::collections::HashMap<PathBuf, Session> = Default::default();
    let mut failures = Vec::new();
    let found = commands(&blocks);
    for mut command in found.iter().cloned() {
        let session = sessions
            .entry(command.file.clone())
            .or_insert_with(Session::new);
        command.dir = session.dir.clone();
        if let Err(failure) = check(&command, session, &facts) {
            failures.push(failure);
        }
    }
    assert_all("shell commands", found.len(), failures);
}

fn check(command: &Command, session: &mut Session, facts: &Facts) -> Result<(), String> {
    for (name, _) in &command.env {
        if OTHERS_VARIABLES.iter().any(|(n, _)| n == name) {
            continue;
        }
        let quoted = [format!("\"{name}\""), format!("'{name}'")];
        if !facts
            .sources
            .iter()
            .any(|s| quoted.iter().any(|q| s.contains(q.as_str())))
        {
            return Err(command.fail(format!(
                "{name} is read by no code of src/, ext/, tests/, php/ or examples/ (another \
                 program's variable goes in OTHERS_VARIABLES of tests/e2e/docs/shell.rs)"
            )));
        }
    }
    let program = command.program();
    let Some((_, check)) = CHECKS.iter().find(|(p, _)| *p == program) else {
        return Err(command.fail(format!(
            "no check for `{program}` commands: add one to CHECKS in tests/e2e/docs/shell.rs \
             (run it, or compare it with what a tested script runs), or mark the block \
             `fragment` if it is not meant to be run"
        )));
    };
    check(command, session, facts)
}

fn change_directory(command: &Command, session: &mut Session, _: &Facts) -> Result<(), String> {
    let [dir] = command.args() else {
        return Err(command.fail("expected one directory"));
    };
    let dir = resolve(&command.dir, dir);
    if !dir.is_dir() {
        return Err(command.fail(format!("{} is not a directory", dir.display())));
    }
    session.dir = dir;
    Ok(())
}

/// `sudo X` is checked as `X`.
fn as_root(command: &Command, session: &mut Session, facts: &Facts) -> Result<(), String> {
    let mut rest = command.clone();
    rest.words.remove(0);
    check(&rest, session, facts)
}

/// Only the `-d` settings, the script and the `-d extension=` file are checked: what runs
/// is the reader's application (the quick start and the examples run in tests of their own).
fn php(command: &Command, _: &mut Session, facts: &Facts) -> Result<(), String> {
    let mut args = command.args().iter();
    while let Some(arg) = args.next() {
        let setting = match arg.strip_prefix("-d") {
            Some("") => args.next().map(String::as_str).unwrap_or_default(),
            Some(setting) => setting,
            None if arg.starts_with('-') => {
                return Err(command.fail(format!("no check for php's {arg}")));
            }
            None => {
                if arg.contains('/') && !resolve(&command.dir, arg).is_file() {
                    return Err(command.fail(format!("{arg}: no such file")));
                }
                break;
            }
        };
        let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
        if key == "extension" {
            extension_file(command, value)?;
        } else if !facts.ini.iter().any(|k| k == key) {
            return Err(command.fail(format!(
                "-d {key}: not an INI setting of the extension (it has {})",
                facts.ini.join(", ")
            )));
        }
    }
    Ok(())
}

/// `ticker.so` or `ticker` (the installed module), a path to the built one, or a path of
/// the reader's ending in the built file's name.
fn extension_file(command: &Command, value: &str) -> Result<(), String> {
    let built = extension();
    let name = built.file_name().expect("a file name").to_string_lossy();
    if value == "ticker.so" || value == "ticker" {
        return Ok(());
    }
    let Some(file) = value.strip_suffix(&*name) else {
        return Err(command.fail(format!(
            "extension={value}: expected ticker.so, ticker or a path of {name}"
        )));
    };
    if Path::new(value).is_relative()
        && resolve(&command.dir, file) != root().join("target/release")
    {
        return Err(command.fail(format!(
            "extension={value}: a relative path must lead to target/release/{name}"
        )));
    }
    Ok(())
}

/// Run by [`every_ticker_command_and_signal_works_on_a_master`].
fn on_a_master(_: &Command, _: &mut Session, _: &Facts) -> Result<(), String> {
    Ok(())
}

/// In the repository's root: a target of the Makefile, and variables it uses. Elsewhere (the
/// Makefile phpize writes): a command a tested script runs.
fn make(command: &Command, session: &mut Session, facts: &Facts) -> Result<(), String> {
    if command.dir != root() {
        return in_a_tested_script(command, session, facts);
    }
    for arg in command.args() {
        if let Some((var, _)) = arg.split_once('=') {
            if !facts.makefile.contains(&format!("$({var})")) {
                return Err(command.fail(format!("the Makefile does not use {var}")));
            }
        } else if !facts.makefile.lines().any(|l| {
            l.strip_prefix(arg.as_str())
                .is_some_and(|r| r.starts_with(':'))
        }) {
            return Err(command.fail(format!("the Makefile has no target {arg}")));
        }
    }
    Ok(())
}

/// `cargo test`: its package, test target and filter name what exists; a filter of the
/// end-to-end tests (this binary) selects at least one.
fn cargo_test(command: &Command, _: &mut Session, _: &Facts) -> Result<(), String> {
    let mut args = command.args().iter();
    if args.next().map(String::as_str) != Some("test") {
        return Err(command.fail("no check for cargo commands other than `cargo test`"));
    }
    let (mut target, mut filter) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--release" | "--lib" => {}
            "-p" => {
                let package = args.next().map(String::as_str).unwrap_or_default();
                let manifest = read(&root().join("Cargo.toml"));
                if !manifest.contains(&format!("name = \"{package}\"")) {
                    return Err(command.fail(format!("no package {package} in Cargo.toml")));
                }
            }
            "--test" => target = args.next().cloned(),
            other if !other.starts_with('-') => filter = Some(other.to_string()),
            other => return Err(command.fail(format!("no check for cargo's {other}"))),
        }
    }
    let Some(filter) = filter else { return Ok(()) };
    match target.as_deref() {
        Some("e2e") => {
            let listed = Process::new(std::env::current_exe().expect("this test binary"))
                .args(["--list", &filter])
                .output()
                .expect("list the end-to-end tests");
            let count = String::from_utf8_lossy(&listed.stdout)
                .lines()
                .filter(|l| l.ends_with(": test"))
                .count();
            if count == 0 {
                return Err(command.fail(format!("no end-to-end test matches {filter}")));
            }
        }
        Some(other) => return Err(command.fail(format!("no check for the test target {other}"))),
        None => {
            let module = filter.trim_end_matches("::").replace("::", "/");
            let found = files_under(&root().join("src"), &["rs"]).iter().any(|p| {
                let p = p.with_extension("");
                p.ends_with(&module) || p.ends_with(format!("{module}/mod"))
            });
            if !found {
                return Err(command.fail(format!("no module {filter} under src/")));
            }
        }
    }
    Ok(())
}

/// `composer require` names the package of composer.json; `composer install` runs where a
/// composer.json is; any other, as a tested script runs it.
fn composer(command: &Command, session: &mut Session, facts: &Facts) -> Result<(), String> {
    match command.args().first().map(String::as_str) {
        Some("require") => package_name(command, "composer.json", command.args().get(1)),
        Some("install") if command.dir.join("composer.json").is_file() => Ok(()),
        Some("install") => Err(command.fail("no composer.json in the directory")),
        _ => in_a_tested_script(command, session, facts),
    }
}

/// PIE cannot reach GitHub here: the package named is the one pie/composer.json declares
/// (tests/packaging/composer.sh checks that package).
fn pie_install(command: &Command, _: &mut Session, _: &Facts) -> Result<(), String> {
    match command.args() {
        [install, package] if install == "install" => {
            package_name(command, "pie/composer.json", Some(package))
        }
        _ => Err(command.fail("no check for pie commands other than `pie install PACKAGE`")),
    }
}

fn package_name(command: &Command, manifest: &str, named: Option<&String>) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_str(&read(&root().join(manifest))).expect("a composer.json");
    let name = json["name"].as_str().unwrap_or_default();
    if named.map(String::as_str) != Some(name) {
        return Err(command.fail(format!("{manifest} names the package {name}")));
    }
    Ok(())
}

/// Compiles the page's C example above as `app.c`, in a directory where `include/` and
/// `target/release/` are the repository's and the build's; the installed header and library
/// (`make install`) are on gcc's search paths.
fn gcc(command: &Command, session: &mut Session, _: &Facts) -> Result<(), String> {
    let Some(source) = &command.c_example else {
        return Err(command.fail("no C example above it on the page"));
    };
    let (dir, _) = scratch_dir("docs-gcc");
    std::fs::write(dir.join("app.c"), source).expect("write app.c");
    let built = extension()
        .parent()
        .expect("the build's directory")
        .to_owned();
    std::fs::create_dir_all(dir.join("target")).expect("target/");
    std::os::unix::fs::symlink(root().join("include"), dir.join("include")).expect("include/");
    std::os::unix::fs::symlink(&built, dir.join("target/release")).expect("target/release/");
    let out = Process::new("gcc")
        .args(command.args())
        .current_dir(&dir)
        .env("CPATH", root().join("include"))
        .env("LIBRARY_PATH", &built)
        .output()
        .expect("gcc runs");
    if !out.status.success() {
        return Err(command.fail(String::from_utf8_lossy(&out.stderr)));
    }
    let mut args = command.args().iter();
    while let Some(arg) = args.next() {
        if arg == "-o" {
            session.built.extend(args.next().cloned());
        }
    }
    Ok(())
}

/// A program the page built just before (with `gcc -o`); it runs until stopped.
fn built_here(command: &Command, session: &mut Session, _: &Facts) -> Result<(), String> {
    let name = command.program().trim_start_matches("./");
    if !session.built.iter().any(|b| b == name) {
        return Err(command.fail("nothing on the page built it"));
    }
    Ok(())
}

/// Commands that cannot run here (they install as root, or need the network): the same
/// words begin a command of a script `make test` runs (tests/packaging/, tests/c/, the
/// Makefile, .ci/run), so a change to either shows here.
fn in_a_tested_script(command: &Command, _: &mut Session, facts: &Facts) -> Result<(), String> {
    let words: Vec<String> = command
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(command.words.iter().cloned())
        .collect();
    if facts.tested.iter().any(|c| c.starts_with(&words)) {
        return Ok(());
    }
    Err(command.fail(
        "no script make test runs has this command (tests/packaging/, tests/c/, the Makefile, .ci/run)",
    ))
}

/// A program too slow to run in a test: each `--option` is one its source handles (quoted,
/// as argparse declares it; `--help` comes with argparse).
fn options_it_knows(command: &Command, _: &mut Session, _: &Facts) -> Result<(), String> {
    let program = root().join(command.program());
    let dir = program.parent().expect("its directory");
    let source: String = std::fs::read_dir(dir)
        .expect("its directory")
        .flatten()
        .filter(|e| e.path().is_file() && e.path().extension().is_none_or(|x| x != "md"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    for option in command.args().iter().filter(|a| a.starts_with("--")) {
        let argparse_help = option == "--help" && source.contains("argparse");
        if !argparse_help && !source.contains(&format!("\"{option}\"")) {
            return Err(command.fail(format!("{option}: not an option of {}", program.display())));
        }
    }
    Ok(())
}

/// RoadRunner is not installed here: `rr serve` runs where a `.rr.yaml` is that the
/// extension reads too.
fn rr_serve(command: &Command, _: &mut Session, _: &Facts) -> Result<(), String> {
    if command.args() != ["serve"] {
        return Err(command.fail("no check for rr commands other than `rr serve`"));
    }
    let path = command.dir.join(".rr.yaml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| command.fail(format!("{}: {e}", path.display())))?;
    ticker::config::parse_with_env(&text, &path, &|name| std::env::var(name).ok())
        .map(|_| ())
        .map_err(|e| command.fail(e))
}

/// A master with two workers and the schedules the docs name (`beat`, and `default`),
/// neither due for an hour, so that a worker is free for `ticker run`.
fn master(name: &str) -> Running {
    master_with(
        name,
        "ticker:
  interval: 1h
  pool:
    num_workers: 2
    destroy_timeout: 5s
  schedules:
    beat:
      every: 1h
",
    )
}

/// The smallest application: a worker loop that answers every tick.
pub(super) const APP: &str = "<?php\n$worker = Ticker\\Worker::create();\nwhile ($worker->waitPayload()) {\n    $worker->respond(new Ticker\\Payload('OK'));\n}\n";

/// A master of `yaml` whose workers answer every tick, once it answers `ticker status`.
pub(super) fn master_with(name: &str, yaml: &str) -> Running {
    let php = Php::new(name).yaml(yaml);
    let app = php.file("app.php", APP);
    let run = php.spawn(&[app.as_os_str()]);
    let pid = run.pid.to_string();
    run.wait_for("the master to answer", |r| {
        r.ticker(&["status", &pid]).status.success()
    });
    run
}

/// The docs' pids (`12345`, `<master>`) stand for the master's.
fn with_pid(words: &[String], pid: i32) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            if w == "<master>" || (!w.is_empty() && w.chars().all(|c| c.is_ascii_digit())) {
                pid.to_string()
            } else {
                w.clone()
            }
        })
        .collect()
}

/// Every `ticker` command of the docs succeeds on a running master (a refused `ticker run`,
/// all workers busy for a moment, is tried again); every signal `kill` sends leaves it
/// answering, but SIGTERM and SIGINT, which stop it cleanly.
#[test]
fn every_ticker_command_and_signal_works_on_a_master() {
    let blocks = all_blocks();
    let found = commands(&blocks);
    let mut run = master("docs-shell-master");
    let pid = run.pid.to_string();
    let mut failures = Vec::new();
    let mut stopping = Vec::new();
    let mut checked = 0;
    for command in found.iter().filter(|c| c.program() == "ticker") {
        checked += 1;
        let args = if command.args().first().is_some_and(|a| a == "calendar") {
            command.args().to_vec()
        } else {
            with_pid(command.args(), run.pid)
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let deadline = std::time::Instant::now() + DEADLINE;
        let exited = loop {
            let exited = run.ticker(&args);
            let refused_run = args.first() == Some(&"run") && exited.status.code() == Some(1);
            if !refused_run || std::time::Instant::now() > deadline {
                break exited;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        if !exited.status.success() {
            failures.push(command.fail(format!("{:?}: {}", exited.status, exited.stderr)));
        }
    }
    for command in found.iter().filter(|c| c.program() == "kill") {
        checked += 1;
        let name = match command.args() {
            [flag, name, _] if flag == "-s" => name.clone(),
            [flag, _] => flag.trim_start_matches('-').to_string(),
            _ => {
                failures.push(command.fail("expected kill -SIGNAL PID"));
                continue;
            }
        };
        let signal = match Signal::from_str(&format!("SIG{name}")) {
            Ok(signal) => signal,
            Err(_) => {
                failures.push(command.fail(format!("{name} is not a signal")));
                continue;
            }
        };
        if STOPPING.contains(&signal) {
            stopping.push(signal);
            continue;
        }
        run.signal(signal as i32);
        run.wait_for(&format!("the master to answer after SIG{name}"), |r| {
            r.ticker(&["status", &pid]).status.success()
        });
    }
    run.stop_with(libc::SIGTERM);
    stopping.dedup();
    for signal in stopping {
        master("docs-shell-stop").stop_with(signal as i32);
    }
    assert_all("ticker commands and signals", checked, failures);
}

/// What the two tests above rely on, shown failing on a broken command.
#[test]
fn a_command_that_names_nothing_real_fails_its_check() {
    let facts = Facts::gather();
    let broken = [
        "php -d ticker.enabled=1 app.php",
        "TICKER_ENABLED=1 php app.php",
        "make install-inis",
        "cargo test --release --test e2e no_such_suite::",
        "pie install ticker/ticker",
        "./configure --enable-ticker",
        "bench/run --fast",
        "tickr status",
    ];
    for line in broken {
        let block = Block {
            file: PathBuf::from("broken.md"),
            line: 1,
            lang: "sh".into(),
            words: Vec::new(),
            text: format!("{line}\n"),
        };
        let command = commands(std::slice::from_ref(&block)).remove(0);
        assert!(
            check(&command, &mut Session::new(), &facts).is_err(),
            "`{line}` passed its check"
        );
    }
}
