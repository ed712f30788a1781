//! A harness for end-to-end tests: real `php -d extension=<built .so>` processes.
//!
//! Each [`App`] runs in a fresh directory with its own `ticker.yaml`, a PHP script built from
//! [`journal_app`] (every tick appends a line to `journal.txt`) and files for stdout and
//! stderr, so nothing blocks on a pipe. Every wait has a deadline; a test that would hang
//! fails instead, and dropping an [`App`] kills whatever it left running.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The extension under test: `TICKER_EXT`, else the release build, else the debug build.
pub fn extension() -> PathBuf {
    if let Some(path) = std::env::var_os("TICKER_EXT") {
        // PHP resolves a relative `extension=` against its extension_dir, not the cwd.
        return PathBuf::from(path)
            .canonicalize()
            .expect("TICKER_EXT names a file that exists");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for profile in ["release", "debug"] {
        let path = root.join("target").join(profile).join("libticker.so");
        if path.exists() {
            return path;
        }
    }
    panic!("no built extension: run `cargo build --release --lib` or set TICKER_EXT");
}

/// The `ticker` command, built next to the extension.
pub fn ticker_command() -> PathBuf {
    let path = extension().with_file_name("ticker");
    assert!(
        path.exists(),
        "no `ticker` command next to the extension: run `cargo build --release`"
    );
    path
}

/// A fresh, empty directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("ticker-e2e-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A PHP app that journals every tick as `pid tick attempt skipped dueHrtime startHrtime
/// endHrtime`, runs `handler` (PHP code that sees `$w`, `$tick`, `$header`; it may
/// `continue` to skip the respond), answers `OK`, and makes the master stop
/// (SIGTERM) once tick `$stopAt` (argv[1], 0: never) has been handled.
pub fn journal_app(handler: &str) -> String {
    format!(
        r#"<?php
declare(strict_types=1);
$w = Ticker\Worker::create();
$journal = __DIR__ . '/journal.txt';
$stopAt = (int) ($argv[1] ?? 0);
while ($p = $w->waitPayload()) {{
    $start = hrtime(true);
    $tick = json_decode($p->body, true)['tick'];
    $header = json_decode($p->header, true);
    $record = function () use ($journal, $tick, $header, $start): void {{
        file_put_contents($journal, sprintf("%d %d %d %d %d %d %d\n", getmypid(), $tick,
            $header['attempt'], $header['skipped'], $header['dueHrtime'], $start, hrtime(true)),
            FILE_APPEND | LOCK_EX);
    }};
    {handler}
    $record();
    $w->respond(new Ticker\Payload('OK'));
    if ($stopAt > 0 && $tick >= $stopAt) {{
        posix_kill(posix_getppid(), SIGTERM);
    }}
}}
"#
    )
}

/// One journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub pid: i32,
    pub tick: u64,
    pub attempt: u32,
    pub skipped: u64,
    pub due: u64,
    pub start: u64,
    pub end: u64,
}

pub struct App {
    pub dir: PathBuf,
    child: Option<Child>,
    pub pid: i32,
}

/// How a finished app ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl App {
    /// Starts `php -d extension=... app.php [args]` with `TICKER_CONFIG=ticker.yaml`.
    pub fn start(name: &str, yaml: &str, php: &str, args: &[&str]) -> App {
        let dir = scratch_dir(name);
        std::fs::write(dir.join("ticker.yaml"), yaml).unwrap();
        std::fs::write(dir.join("app.php"), php).unwrap();
        let mut command = Command::new("php");
        command
            .arg("-d")
            .arg(format!("extension={}", extension().display()))
            .arg("app.php")
            .args(args)
            .current_dir(&dir)
            .env("TICKER_CONFIG", dir.join("ticker.yaml"))
            .env("TICKER_RUNTIME_DIR", &dir)
            .env_remove("RR_MODE")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap());
        let child = command.spawn().expect("php starts");
        let pid = child.id() as i32;
        App {
            dir,
            child: Some(child),
            pid,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    pub fn journal(&self) -> Vec<Entry> {
        read_journal(&self.dir.join("journal.txt"))
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid, signal) };
    }

    /// Waits until `check` holds, or fails the test with `what` and the master's stderr.
    pub fn wait_for(&self, what: &str, timeout: Duration, check: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "timed out waiting for {what}\n--- stderr ---\n{}",
            self.stderr()
        );
    }

    /// Waits until the journal has at least `n` lines.
    pub fn wait_ticks(&self, n: usize, timeout: Duration) {
        self.wait_for(&format!("{n} journaled ticks"), timeout, |app| {
            app.journal().len() >= n
        });
    }

    /// Waits for the master to exit; kills it and fails after `timeout`.
    pub fn finish(&mut self, timeout: Duration) -> Finished {
        let mut child = self.child.take().expect("not finished yet");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Finished {
                    status,
                    stdout: std::fs::read_to_string(self.dir.join("stdout.txt"))
                        .unwrap_or_default(),
                    stderr: self.stderr(),
                };
            }
            if Instant::now() > deadline {
                kill_tree(self.pid);
                let _ = child.wait();
                panic!(
                    "master {} did not exit within {timeout:?}\n--- stderr ---\n{}",
                    self.pid,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) -> Finished {
        self.signal(libc::SIGTERM);
        let finished = self.finish(Duration::from_secs(15));
        assert!(
            finished.status.success(),
            "master exited with {:?}\n--- stderr ---\n{}",
            finished.status,
            finished.stderr
        );
        finished
    }

    /// The master's worker processes now.
    pub fn workers(&self) -> Vec<i32> {
        children_of(self.pid)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_tree(self.pid);
            let _ = child.wait();
        }
    }
}

pub fn read_journal(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<u64> = line
                .split_whitespace()
                .map(|w| w.parse().ok())
                .collect::<Option<_>>()?;
            (f.len() == 7).then(|| Entry {
                pid: f[0] as i32,
                tick: f[1],
                attempt: f[2] as u32,
                skipped: f[3],
                due: f[4],
                start: f[5],
                end: f[6],
            })
        })
        .collect()
}

/// Direct children of `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut children = vec![];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let state = fields.first().copied().unwrap_or("");
        if fields.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(pid) && state != "Z" {
            children.push(child);
        }
    }
    children.sort_unstable();
    children
}

pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    !stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

fn kill_tree(pid: i32) {
    for child in children_of(pid) {
        // SAFETY: signalling a process this test started (or its child).
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Tick numbers in journal order.
pub fn ticks(journal: &[Entry]) -> Vec<u64> {
    journal.iter().map(|e| e.tick).collect()
}

/// Asserts that `numbers`, sorted, are exactly `first..=last` with nothing missing or twice.
pub fn assert_contiguous(numbers: &[u64]) {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    let first = sorted[0];
    let expected: Vec<u64> = (first..first + sorted.len() as u64).collect();
    assert_eq!(sorted, expected, "tick numbers are not contiguous");
}
