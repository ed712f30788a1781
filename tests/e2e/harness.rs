//! The harness: real `php -d extension=<built .so> <fixture.php>` processes.
//!
//! A run loads the extension with `-d` unless it says otherwise ([`Load`]): also from an ini
//! file in a scan directory, as distributions enable extensions for every process.
//!
//! Workers are forks of the master unless `TICKER_E2E_WORKERS=command` is set: then the
//! config a run names (or its `.rr.yaml`) gets `ticker.pool.command`, the run's own PHP
//! command line (`php -d extension=<built .so> <fixture.php>`, its `-d` settings included),
//! so that every suite runs against command-started workers too ([`command_mode`]; `make
//! test` runs the suites that apply twice). A config that has a pool command already, has no
//! `ticker` section or is not YAML is left as it is.
//!
//! Every run gets a fresh scratch directory as its cwd, with stdout and stderr going to
//! files there (nothing ever blocks on a pipe) and the fixture's journal written there too.
//! The environment is the test's, minus `RR_MODE`, `RR_RELAY`, `TICKER_CONFIG`,
//! `TICKER_ENABLE` and `PHP_INI_SCAN_DIR`, plus a marker
//! variable unique to the run: every process the run starts (the master, its workers, and
//! anything they fork) inherits it, so `/proc/*/environ` finds whatever a run left behind
//! without trusting the extension's own bookkeeping. Every wait has a deadline; on timeout
//! the run's processes are killed and the test fails. Dropping a [`Running`] kills whatever
//! is left of it, so a failing test leaves no process behind either; its directory is
//! removed when the test passed and kept when it failed.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The deadline of every wait that should take a fraction of it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The extension under test: `TICKER_EXT`, else the release build, else the debug build.
/// Never skips: without a built extension the test fails and says how to build one.
pub fn extension() -> PathBuf {
    if let Some(path) = std::env::var_os("TICKER_EXT").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "TICKER_EXT names {}, which does not exist: build it with `cargo build --release --workspace`",
            path.display()
        );
        // PHP resolves a relative `extension=` against its extension_dir, not the cwd.
        return path.canonicalize().expect("canonical path of TICKER_EXT");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for profile in ["release", "debug"] {
        let path = root.join("target").join(profile).join("libticker_php.so");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "no built extension: neither TICKER_EXT nor {root}/target/{{release,debug}}/libticker_php.so; \
         run `cargo build --release --workspace` first",
        root = root.display()
    );
}

/// A file under `tests/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    assert!(path.exists(), "missing fixture {}", path.display());
    path
}

/// The `ticker` command, built next to the extension (`cargo build --release --workspace` builds both).
pub fn ticker_command() -> PathBuf {
    let path = extension().with_file_name("ticker");
    assert!(
        path.is_file(),
        "no `ticker` command next to the extension at {}: run `cargo build --release --workspace`",
        path.display()
    );
    path
}

/// Whether this run of the suites starts workers from a command (`TICKER_E2E_WORKERS=command`)
/// rather than forking them (unset, or `fork`).
pub fn command_mode() -> bool {
    match std::env::var("TICKER_E2E_WORKERS").as_deref() {
        Ok("command") => true,
        Ok("fork") | Ok("") | Err(_) => false,
        Ok(other) => panic!("TICKER_E2E_WORKERS={other:?}: expected command or fork"),
    }
}

/// `yaml` with `ticker.pool.command: command` added, if it is a config with a `ticker`
/// section and no pool command; `None` otherwise.
fn with_pool_command(yaml: &str, command: &[String]) -> Option<String> {
    let mut root: serde_yaml::Value = serde_yaml::from_str(yaml).ok()?;
    let ticker = root.get_mut("ticker")?;
    if ticker.is_null() {
        *ticker = serde_yaml::Value::Mapping(Default::default());
    }
    let ticker = ticker.as_mapping_mut()?;
    let pool = ticker
        .entry("pool".into())
        .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
    if pool.is_null() {
        *pool = serde_yaml::Value::Mapping(Default::default());
    }
    let pool = pool.as_mapping_mut()?;
    if pool.contains_key("command") {
        return None;
    }
    pool.insert(
        "command".into(),
        serde_yaml::Value::Sequence(command.iter().map(|w| w.as_str().into()).collect()),
    );
    serde_yaml::to_string(&root).ok()
}

/// A config with a `ticker.interval` and a `ticker.pool` section that holds
/// `destroy_timeout: 5s` and then `pool`: YAML lines indented by four spaces, such as
/// `"    num_workers: 2\n    max_jobs: 3\n"`. For [`Php::yaml`].
pub fn pool_yaml(interval: &str, pool: &str) -> String {
    format!("ticker:\n  interval: {interval}\n  pool:\n    destroy_timeout: 5s\n{pool}")
}

/// The value of the row `name` of [`Exited::info_rows`]; fails the test without one.
pub fn row<'a>(rows: &'a [(String, String)], name: &str) -> &'a str {
    rows.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name:?} row in {rows:?}"))
}

/// `php --ri ticker`, as `name => value` rows; PHP must exit 0 and print nothing on stderr.
pub fn info(php: Php) -> Vec<(String, String)> {
    info_with(php, &[])
}

/// `php <options> --ri ticker`, as [`info`].
pub fn info_with(php: Php, options: &[&str]) -> Vec<(String, String)> {
    let args: Vec<&str> = options.iter().copied().chain(["--ri", "ticker"]).collect();
    let exited = php.run(&args);
    exited.assert_success();
    assert_eq!(exited.stderr, "", "nothing on stderr");
    exited.info_rows()
}

/// A port on the loopback interface that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// `GET path` from `127.0.0.1:port`, the whole response.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("nothing listens on port {port}: {e}"));
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("set_read_timeout");
    // One write: `write!` on the stream writes each piece of the format apart, and PHP's
    // built-in server, given the request line in pieces on a busy machine, answers nothing
    // ("Invalid request (Malformed HTTP request)" in its log).
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

/// A fresh, empty directory for one run.
pub fn scratch_dir(name: &str) -> (PathBuf, String) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let id = format!("{name}-{}-{n}", std::process::id());
    let dir = std::env::temp_dir().join(format!("ticker-e2e-{id}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    // It is the run's runtime directory too, which the master refuses unless it is private.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod 700 the scratch dir");
    (dir, id)
}

const MARKER: &str = "TICKER_TEST_MARKER";

/// How a run loads the extension under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// `-d extension=<path>`: the command line asks for a master.
    CommandLine,
    /// `-dextension=<path>`, as one argument.
    CommandLineJoined,
    /// `extension=<path>` in `conf.d/20-ticker.ini` of the run's directory, added to PHP's
    /// scan directories with `PHP_INI_SCAN_DIR=:<dir>`: enabled for every process, the way
    /// distributions, Docker images and PIE do it.
    IniFile,
    /// Not by the harness: the test's own [`Php::ini`] settings load it.
    Manually,
}

/// How to run PHP: built up, then [`Php::start`]ed or [`Php::run`] to the end.
pub struct Php {
    pub dir: PathBuf,
    marker: String,
    env: Vec<(OsString, OsString)>,
    ini: Vec<String>,
    load: Load,
    /// A program that starts PHP: `php ...` is appended to it (see [`Php::under`]).
    wrapper: Vec<OsString>,
    terminal: Option<Terminal>,
}

/// A pseudo-terminal: the test holds the controlling side, PHP gets the other as stdin.
struct Terminal {
    _controller: OwnedFd,
    device: OwnedFd,
}

impl Php {
    /// A run named `name` (for its scratch directory), with no config named yet.
    pub fn new(name: &str) -> Php {
        let (dir, marker) = scratch_dir(name);
        Php {
            dir,
            marker,
            env: vec![],
            ini: vec![],
            load: Load::CommandLine,
            wrapper: vec![],
            terminal: None,
        }
    }

    /// Loads the extension as `load` says instead of with `-d extension=`.
    pub fn load(mut self, load: Load) -> Php {
        self.load = load;
        if load == Load::IniFile {
            let conf_d = self.dir.join("conf.d");
            std::fs::create_dir_all(&conf_d).expect("conf.d in the scratch dir");
            std::fs::write(
                conf_d.join("20-ticker.ini"),
                format!("extension={}\n", extension().display()),
            )
            .expect("write 20-ticker.ini");
            // The leading `:` keeps PHP's own scan directory, so the run gets the machine's
            // other extensions as usual.
            let mut scan = OsString::from(":");
            scan.push(&conf_d);
            return self.env("PHP_INI_SCAN_DIR", scan);
        }
        self
    }

    /// PHP runs as a shell runs a foreground job: in a session of its own whose controlling
    /// terminal (a new pseudo-terminal, set to `stty tostop`, the strictest) is its stdin,
    /// its process group the terminal's foreground group. A process of another group that
    /// reads the terminal, or writes to it, is stopped (SIGTTIN, SIGTTOU).
    pub fn terminal(mut self) -> Php {
        let (mut controller, mut device) = (-1, -1);
        // SAFETY: openpty(3) writes two descriptors, which are then owned here; name,
        // termios and window size are optional.
        let rc = unsafe {
            libc::openpty(
                &mut controller,
                &mut device,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and belong to nobody else.
        let (controller, device) = unsafe {
            (
                OwnedFd::from_raw_fd(controller),
                OwnedFd::from_raw_fd(device),
            )
        };
        // SAFETY: tcgetattr/tcsetattr(3) on the terminal just opened, with a valid termios.
        unsafe {
            let mut termios: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(device.as_raw_fd(), &mut termios), 0);
            termios.c_lflag |= libc::TOSTOP;
            assert_eq!(
                libc::tcsetattr(device.as_raw_fd(), libc::TCSANOW, &termios),
                0
            );
        }
        self.terminal = Some(Terminal {
            _controller: controller,
            device,
        });
        self
    }

    /// `TICKER_CONFIG` names `tests/fixtures/<relative>`.
    pub fn config(self, relative: &str) -> Php {
        let path = fixture(relative);
        self.env("TICKER_CONFIG", path)
    }

    /// `TICKER_CONFIG` names `ticker.yaml` in the run's directory, holding `yaml`: for a
    /// config that a test builds (see [`pool_yaml`]) rather than one of the fixtures.
    pub fn yaml(self, yaml: &str) -> Php {
        let path = self.file("ticker.yaml", yaml);
        self.env("TICKER_CONFIG", path)
    }

    /// journal.php runs the PHP statements `php` at every tick, after its own sleeps and
    /// before it journals "done" and responds. They see `$worker`, `$tick`, `$header` (the
    /// decoded header), `$payload`, `$entry` and `$journal`; `return false;` ends the tick
    /// there, with neither a "done" entry nor a respond() (after `$worker->error()` or
    /// `->stop()`). See TICKER_TEST_HANDLER in tests/fixtures/journal.php.
    pub fn handler(self, php: &str) -> Php {
        let path = self.php_file("handler.php", php);
        self.env("TICKER_TEST_HANDLER", path)
    }

    /// journal.php runs the PHP statements `php` once in the master, after its boot entry
    /// and before the loop starts the pool: the application's own set-up (signal handlers,
    /// shutdown functions). They see `$worker` and `$journal`. See TICKER_TEST_BOOT in
    /// tests/fixtures/journal.php.
    pub fn boot(self, php: &str) -> Php {
        let path = self.php_file("boot.php", php);
        self.env("TICKER_TEST_BOOT", path)
    }

    /// A PHP file of the statements `php`, in the run's directory.
    fn php_file(&self, name: &str, php: &str) -> PathBuf {
        self.file(name, &format!("<?php\ndeclare(strict_types=1);\n{php}\n"))
    }

    pub fn env(mut self, name: &str, value: impl Into<OsString>) -> Php {
        self.env.push((name.into(), value.into()));
        self
    }

    /// A `-d` INI setting, e.g. `ticker.config=/path`.
    pub fn ini(mut self, setting: impl Into<String>) -> Php {
        self.ini.push(setting.into());
        self
    }

    /// Writes a file into the run's directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).expect("write into the scratch dir");
        path
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    /// Runs `program args... php <the run's PHP arguments>` instead of PHP itself: a master
    /// written apart from the extension, which starts PHP as its worker. The run's process is
    /// then that program, with the same environment, directory and output files.
    pub fn under<I: Into<OsString>>(
        mut self,
        program: I,
        args: impl IntoIterator<Item = I>,
    ) -> Php {
        self.wrapper = std::iter::once(program.into())
            .chain(args.into_iter().map(Into::into))
            .collect();
        self
    }

    /// In command mode, the config the run names (`TICKER_CONFIG`, else `.rr.yaml` in its
    /// directory) with the run's PHP command line as `ticker.pool.command`: the path of
    /// the config to use instead, when there is one.
    fn command_mode_config(&self, args: &[&std::ffi::OsStr]) -> Option<PathBuf> {
        if !command_mode() || !self.wrapper.is_empty() {
            return None;
        }
        let named = self
            .env
            .iter()
            .rev()
            .find(|(name, _)| name == "TICKER_CONFIG")
            .map(|(_, value)| PathBuf::from(value));
        let path = named.unwrap_or_else(|| self.dir.join(".rr.yaml"));
        let yaml = std::fs::read_to_string(&path).ok()?;
        let mut worker = vec!["php".to_string()];
        match self.load {
            Load::CommandLine | Load::CommandLineJoined => {
                worker.push("-d".into());
                worker.push(format!("extension={}", extension().display()));
            }
            // The scan directory is in the environment, which workers get; the test's
            // own settings load it otherwise.
            Load::IniFile | Load::Manually => {}
        }
        for setting in &self.ini {
            worker.push("-d".into());
            worker.push(setting.clone());
        }
        worker.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        let yaml = with_pool_command(&yaml, &worker)?;
        let rewritten = self.dir.join("command-mode.yaml");
        std::fs::write(&rewritten, yaml).expect("write the command-mode config");
        Some(rewritten)
    }

    fn command(&self, args: &[&std::ffi::OsStr]) -> Command {
        let mut command = match self.wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg("php");
                command
            }
            None => Command::new("php"),
        };
        let extension = format!("extension={}", extension().display());
        match self.load {
            Load::CommandLine => {
                command.arg("-d").arg(extension);
            }
            Load::CommandLineJoined => {
                command.arg(format!("-d{extension}"));
            }
            Load::IniFile | Load::Manually => {}
        }
        for setting in &self.ini {
            command.arg("-d").arg(setting);
        }
        command
            .args(args)
            .current_dir(&self.dir)
            .env_remove("RR_MODE")
            .env_remove("RR_RELAY")
            .env_remove("TICKER_CONFIG")
            .env_remove("TICKER_ENABLE")
            .env_remove("PHP_INI_SCAN_DIR")
            .env(MARKER, &self.marker)
            .env("TICKER_TEST_JOURNAL", self.journal_path())
            // The control socket goes here rather than in a directory shared by every run.
            .env("TICKER_RUNTIME_DIR", &self.dir);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        if let Some(config) = self.command_mode_config(args) {
            command.env("TICKER_CONFIG", config);
        }
        command
            .stdout(std::fs::File::create(self.dir.join("stdout.txt")).expect("stdout file"))
            .stderr(std::fs::File::create(self.dir.join("stderr.txt")).expect("stderr file"));
        match &self.terminal {
            None => {
                // Its own process group, so that cleanup reaches whatever it started.
                command.stdin(Stdio::null()).process_group(0);
            }
            Some(terminal) => {
                let device = terminal.device.try_clone().expect("dup the terminal");
                command.stdin(Stdio::from(device));
                // SAFETY: only async-signal-safe calls between fork and exec: a new session
                // (a new process group too), and stdin as its controlling terminal.
                unsafe {
                    command.pre_exec(|| {
                        if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
        }
        command
    }

    /// Starts `php <fixture>`.
    pub fn start(self, script: &str) -> Running {
        let script = fixture(script);
        self.spawn(&[script.as_os_str()])
    }

    /// Starts `php <args>` (e.g. `--ri ticker`, or `-r code`).
    pub fn spawn(self, args: &[&std::ffi::OsStr]) -> Running {
        let child = self
            .command(args)
            .spawn()
            .expect("php starts (is PHP CLI installed?)");
        let pid = child.id() as i32;
        Running {
            pid,
            child: Some(child),
            php: self,
            seen: RefCell::new(BTreeSet::new()),
        }
    }

    /// Runs `php <args>` to its end (within [`DEADLINE`]).
    pub fn run(self, args: &[&str]) -> Exited {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let mut running = self.spawn(&args);
        running.wait_exit(DEADLINE)
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Exited {
    /// The journal the run left, if any.
    pub fn journal(&self) -> Journal {
        Journal::read(&self.dir.join("journal.jsonl"))
    }

    pub fn journal_exists(&self) -> bool {
        self.dir.join("journal.jsonl").exists()
    }

    /// The `name => value` rows of a `php --ri` (or `php -i`) table on stdout.
    pub fn info_rows(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|line| line.split_once(" => "))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "php exited with {:?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.status,
            self.stderr,
            self.stdout
        );
    }
}

/// Runs the `ticker` command with `args` and `TICKER_RUNTIME_DIR=runtime_dir`, to its end
/// (within [`DEADLINE`]), its output going to files in `out_dir`.
pub fn run_ticker(args: &[&str], runtime_dir: &Path, out_dir: &Path) -> Exited {
    let (stdout, stderr) = (
        out_dir.join("ticker-stdout.txt"),
        out_dir.join("ticker-stderr.txt"),
    );
    let mut child = Command::new(ticker_command())
        .args(args)
        .env("TICKER_RUNTIME_DIR", runtime_dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("the ticker command starts");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`ticker {}` did not exit within {DEADLINE:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Exited {
        status,
        stdout: std::fs::read_to_string(&stdout).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
        dir: out_dir.to_owned(),
    }
}

/// Runs the `ticker` command with `args` in a scratch directory of its own (its runtime
/// directory too, where no master runs), to its end.
pub fn run_ticker_alone(name: &str, args: &[&str]) -> Exited {
    let (dir, _) = scratch_dir(name);
    run_ticker(args, &dir, &dir)
}

/// A started PHP process (the master, for a ticker app).
pub struct Running {
    pub pid: i32,
    child: Option<Child>,
    php: Php,
    /// Every worker pid observed while the run went on.
    seen: RefCell<BTreeSet<i32>>,
}

impl Running {
    /// The run's directory: its cwd, and where its control socket is.
    pub fn dir(&self) -> &Path {
        &self.php.dir
    }

    /// Runs the `ticker` command with `args` against this run's control socket, to its end
    /// (within [`DEADLINE`]). Its output goes to files in the run's directory, like PHP's.
    pub fn ticker(&self, args: &[&str]) -> Exited {
        run_ticker(args, self.dir(), self.dir())
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.php.dir.join("stderr.txt")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.php.dir.join("stdout.txt")).unwrap_or_default()
    }

    pub fn journal(&self) -> Journal {
        let journal = Journal::read(&self.php.journal_path());
        self.seen
            .borrow_mut()
            .extend(journal.entries.iter().map(|e| e.pid));
        journal
    }

    /// The master's live (non-zombie) children now: its workers.
    pub fn workers(&self) -> Vec<i32> {
        let workers = children_of(self.pid);
        self.seen.borrow_mut().extend(workers.iter().copied());
        workers
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the process this test started; it has not been reaped yet
        // (`child` is still held), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(rc, 0, "cannot signal php {}", self.pid);
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// Polls `check` until it holds; kills the run and fails the test after `timeout`.
    pub fn wait_for_within(&self, what: &str, timeout: Duration, check: impl Fn(&Running) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return;
            }
            if Instant::now() > deadline {
                kill_marked(&self.php.marker);
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n--- stderr ---\n{}\n--- journal ---\n{}",
                    self.stderr(),
                    self.journal_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last `n` lines of the journal, for failure messages.
    fn journal_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.php.journal_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn wait_for(&self, what: &str, check: impl Fn(&Running) -> bool) {
        self.wait_for_within(what, DEADLINE, check);
    }

    /// Waits until the journal holds at least `n` "done" entries.
    pub fn wait_done(&self, n: usize) {
        self.wait_for(&format!("{n} handled ticks"), |run| {
            run.journal().done().len() >= n
        });
    }

    /// Waits until `n` more ticks are journaled as done than now. Reads only what the
    /// journal gained meanwhile, so it stays cheap on a long run at a short interval.
    pub fn wait_more_done(&self, n: usize, what: &str) {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.php.journal_path();
        let from = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.wait_for(what, |_| {
            let mut gained = String::new();
            let read = std::fs::File::open(&path).and_then(|mut file| {
                file.seek(SeekFrom::Start(from))?;
                file.read_to_string(&mut gained)
            });
            read.is_ok() && gained.matches(r#"{"event":"done""#).count() >= n
        });
    }

    /// Waits until a worker started handling `tick`, and returns that entry.
    pub fn wait_started(&self, tick: u64) -> Entry {
        self.wait_for(&format!("a worker to start tick {tick}"), |run| {
            run.journal().started(tick).is_some()
        });
        self.journal().started(tick).expect("just seen")
    }

    /// Waits for the process to exit; kills everything of the run and fails after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Exited {
        let mut child = self.child.take().expect("waited for once");
        let deadline = Instant::now() + timeout;
        loop {
            // Note the workers while they are there, for `assert_workers_gone`.
            self.workers();
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Exited {
                    status,
                    stdout: self.stdout(),
                    stderr: self.stderr(),
                    dir: self.php.dir.clone(),
                };
            }
            if Instant::now() > deadline {
                kill_marked(&self.php.marker);
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "php {} did not exit within {timeout:?}\n--- stderr ---\n{}",
                    self.pid,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` and waits for an exit with status 0.
    pub fn stop_with(&mut self, signal: libc::c_int) -> Exited {
        self.signal(signal);
        let exited = self.wait_exit(DEADLINE);
        exited.assert_success();
        exited
    }

    /// Fails unless every process of the run (the master, every worker seen, and anything
    /// else that inherited the run's marker) is gone within a few seconds.
    pub fn assert_nothing_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let _ = self.journal();
        let seen: Vec<i32> = self.seen.borrow().iter().copied().collect();
        loop {
            let mut left: BTreeSet<i32> = marked(&self.php.marker).into_iter().collect();
            left.extend(seen.iter().copied().filter(|&pid| is_alive(pid)));
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let described: Vec<String> = left.iter().map(|&pid| describe(pid)).collect();
                kill_marked(&self.php.marker);
                panic!(
                    "processes left behind: {described:?}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_marked(&self.php.marker);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test keeps its directory (journal, stdout, stderr) for a post-mortem.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.php.dir);
        }
    }
}

// ---------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------

/// The fields of /proc/<pid>/stat after the command name (which may hold spaces and
/// parentheses): state, ppid, pgrp, ...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Alive and not a zombie.
pub fn is_alive(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z" && s != "X"))
}

fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live children of `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    let parent = pid.to_string();
    let mut children: Vec<i32> = all_pids()
        .into_iter()
        .filter(|&child| {
            stat_fields(child)
                .is_some_and(|f| f.get(1) == Some(&parent) && f[0] != "Z" && f[0] != "X")
        })
        .collect();
    children.sort_unstable();
    children
}

/// Live processes whose environment carries `marker`.
fn marked(marker: &str) -> Vec<i32> {
    let needle = format!("{MARKER}={marker}");
    all_pids()
        .into_iter()
        .filter(|&pid| {
            is_alive(pid)
                && std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    environ
                        .split(|&b| b == 0)
                        .any(|var| var == needle.as_bytes())
                })
        })
        .collect()
}

fn kill_marked(marker: &str) {
    // Twice: a process may fork while the first pass runs.
    for _ in 0..2 {
        for pid in marked(marker) {
            // SAFETY: kill(2) on a process that carries this run's marker, so it is ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn describe(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    format!("{pid}: {}", cmdline.trim())
}

// ---------------------------------------------------------------------------------------
// A process that cannot die at once
// ---------------------------------------------------------------------------------------

/// Holds a process in the kernel's exit path: traced with `PTRACE_O_TRACEEXIT`, a process
/// that gets SIGKILL stops there until it is released, as one in uninterruptible sleep
/// would not die either. Its parent cannot reap it meanwhile. Every call must come from the
/// thread that made the hold (ptrace binds the tracer thread); dropping it releases.
pub struct ExitHold {
    pid: i32,
    held: bool,
}

impl ExitHold {
    pub fn seize(pid: i32) -> ExitHold {
        // SAFETY: ptrace(2) on a process of this test's run; no memory is passed.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_SEIZE,
                pid,
                std::ptr::null_mut::<libc::c_void>(),
                libc::PTRACE_O_TRACEEXIT as usize as *mut libc::c_void,
            )
        };
        assert_eq!(
            rc,
            0,
            "cannot trace {pid}: {}",
            std::io::Error::last_os_error()
        );
        ExitHold { pid, held: true }
    }

    /// Waits until the process was killed and stopped on its way out (other signals it
    /// gets are passed on); fails after `timeout`.
    pub fn wait_exit_stop(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: waitpid(2) on the tracee, with a valid pointer to the status.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG | libc::__WALL) };
            assert!(
                rc >= 0,
                "waitpid({}): {}",
                self.pid,
                std::io::Error::last_os_error()
            );
            if rc == self.pid && libc::WIFSTOPPED(status) {
                if status >> 8 == libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8) {
                    return;
                }
                let signal = match libc::WSTOPSIG(status) {
                    libc::SIGTRAP => 0,
                    other => other,
                };
                // SAFETY: resumes the tracee from a signal stop, passing its signal on.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_CONT,
                        self.pid,
                        std::ptr::null_mut::<libc::c_void>(),
                        signal as usize as *mut libc::c_void,
                    )
                };
            }
            assert!(
                Instant::now() < deadline,
                "{} was not killed within {timeout:?}",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets the process finish dying.
    pub fn release(mut self) {
        self.detach();
    }

    fn detach(&mut self) {
        if std::mem::take(&mut self.held) {
            // SAFETY: ptrace(2) on our tracee; detaching lets it go on (here: exit).
            unsafe {
                libc::ptrace(
                    libc::PTRACE_DETACH,
                    self.pid,
                    std::ptr::null_mut::<libc::c_void>(),
                    std::ptr::null_mut::<libc::c_void>(),
                )
            };
        }
    }
}

impl Drop for ExitHold {
    fn drop(&mut self) {
        self.detach();
    }
}

// ---------------------------------------------------------------------------------------
// The journal (see tests/fixtures/journal.php)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Entry {
    pub event: String,
    pub pid: i32,
    pub tick: Option<u64>,
    pub raw: Value,
}

impl Entry {
    pub fn tick(&self) -> u64 {
        self.tick.expect("a tick entry")
    }

    /// The payload's header, parsed.
    pub fn header(&self) -> Value {
        let text = self.raw["header"].as_str().expect("a header string");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("header {text:?} is not JSON: {e}"))
    }

    /// The payload's body, as received.
    pub fn body(&self) -> &str {
        self.raw["body"].as_str().expect("a body string")
    }

    /// A number in the payload's header (`attempt`, `skipped`, `dueHrtime`).
    pub fn header_u64(&self, key: &str) -> u64 {
        let header = self.header();
        header[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in the header {header}"))
    }

    pub fn u64(&self, key: &str) -> u64 {
        self.raw[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {}", self.raw))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Journal {
    pub entries: Vec<Entry>,
}

impl Journal {
    pub fn read(path: &Path) -> Journal {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let entries = text
            .lines()
            // A line being appended right now may be incomplete: skip what does not parse.
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|raw| Entry {
                event: raw["event"].as_str().unwrap_or_default().to_owned(),
                pid: raw["pid"].as_i64().unwrap_or_default() as i32,
                tick: raw["tick"].as_u64(),
                raw,
            })
            .collect();
        Journal { entries }
    }

    pub fn events(&self, event: &str) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.event == event).collect()
    }

    /// Ticks handled to the end, in journal order.
    pub fn done(&self) -> Vec<&Entry> {
        self.events("done")
    }

    pub fn done_ticks(&self) -> Vec<u64> {
        self.done().iter().map(|e| e.tick()).collect()
    }

    pub fn started(&self, tick: u64) -> Option<Entry> {
        self.entries
            .iter()
            .find(|e| e.event == "start" && e.tick == Some(tick))
            .cloned()
    }

    pub fn boot(&self) -> Entry {
        self.events("boot")
            .first()
            .map(|e| (*e).clone())
            .expect("the master journaled its boot")
    }
}

// ---------------------------------------------------------------------------------------
// Assertions over tick numbers and the master's log
// ---------------------------------------------------------------------------------------

/// The first number that directly follows `prefix` in `line` ("worker 123 ..." with
/// "worker " gives 123).
pub fn number_after(line: &str, prefix: &str) -> Option<u64> {
    line.match_indices(prefix).find_map(|(i, _)| {
        let digits: String = line[i + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// Fails unless every tick number missing below the highest one delivered is accounted for
/// twice: the master logged it as skipped, and the `skipped` header of a later delivery
/// counted it. A header counts the skips since the delivery before it, so the headers add up
/// to at least the missing numbers, and to at most the skips and drops logged (a skip after
/// the last delivery is in no header).
///
/// A tick is skipped when it comes due while no worker is free and another tick already
/// waits: a loaded machine does that to any test at a short interval, by running a worker's
/// handler or the master's wake-up late. What such a test can hold the master to is this
/// accounting, not a run without skips.
pub fn assert_skips_accounted(journal: &Journal, stderr: &str) {
    assert_schedule_skips_accounted(journal, stderr, None);
}

/// [`assert_skips_accounted`] for one schedule of a pool that has several: its deliveries
/// (by their header's `schedule`) and its log lines (`tick 7 of beat skipped: ...`).
pub fn assert_schedule_skips_accounted(journal: &Journal, stderr: &str, schedule: Option<&str>) {
    let deliveries: Vec<&Entry> = journal
        .events("start")
        .into_iter()
        .filter(|e| schedule.is_none_or(|name| e.header()["schedule"] == name))
        .collect();
    let of = schedule.map(|name| format!(" of {name} "));
    let stderr: String = stderr
        .lines()
        .filter(|line| of.as_ref().is_none_or(|of| line.contains(of.as_str())))
        .map(|line| format!("{line}\n"))
        .collect();
    let stderr = stderr.as_str();
    let first_runs: Vec<u64> = deliveries
        .iter()
        .filter(|e| e.header_u64("attempt") == 1)
        .map(|e| e.tick())
        .collect();
    assert_no_duplicates(&first_runs);
    let delivered: BTreeSet<u64> = first_runs.iter().copied().collect();
    let Some(&highest) = delivered.iter().next_back() else {
        panic!("no tick was delivered\n--- stderr ---\n{stderr}");
    };
    let missing: BTreeSet<u64> = (0..highest).filter(|n| !delivered.contains(n)).collect();
    let skipped = ticks_logged(stderr, "skipped");
    let unlogged: Vec<&u64> = missing.difference(&skipped).collect();
    assert!(
        unlogged.is_empty(),
        "ticks {unlogged:?} were not delivered and the master did not log them as skipped\n\
         --- stderr ---\n{stderr}"
    );
    let delivered_anyway: Vec<&u64> = skipped.intersection(&delivered).collect();
    assert!(
        delivered_anyway.is_empty(),
        "ticks {delivered_anyway:?} were logged as skipped and delivered"
    );
    let counted: u64 = deliveries.iter().map(|e| e.header_u64("skipped")).sum();
    let logged = skipped.len() + ticks_logged(stderr, "dropped").len();
    assert!(
        counted as usize >= missing.len() && counted as usize <= logged,
        "the headers count {counted} skipped ticks; {} are missing below tick {highest}, \
         {logged} were logged as skipped or dropped\n--- stderr ---\n{stderr}",
        missing.len()
    );
}

/// The tick numbers named first on the stderr lines that contain `word` ("tick 7 skipped:
/// ..." gives 7).
pub fn ticks_logged(stderr: &str, word: &str) -> BTreeSet<u64> {
    stderr
        .lines()
        .filter(|line| line.contains(word))
        .filter_map(|line| number_after(line, "tick "))
        .collect()
}

/// Fails if a tick number appears twice.
pub fn assert_no_duplicates(ticks: &[u64]) {
    let mut seen = BTreeSet::new();
    for &tick in ticks {
        assert!(
            seen.insert(tick),
            "tick {tick} was handled twice: {ticks:?}"
        );
    }
}

/// Fails unless `ticks`, sorted, are exactly 0..=k.
pub fn assert_exactly_zero_to_k(ticks: &[u64]) {
    assert_no_duplicates(ticks);
    let mut sorted = ticks.to_vec();
    sorted.sort_unstable();
    let expected: Vec<u64> = (0..sorted.len() as u64).collect();
    assert_eq!(sorted, expected, "ticks are not exactly 0..=k");
}

/// Fails on duplicates, and on any number missing below the highest one that the master's
/// stderr does not account for (a skipped, failed or dropped tick), or that `allowed` names.
pub fn assert_gaps_explained(ticks: &[u64], stderr: &str, allowed: &[u64]) {
    assert_no_duplicates(ticks);
    let seen: BTreeSet<u64> = ticks.iter().copied().collect();
    let Some(&max) = seen.iter().next_back() else {
        panic!("no tick was handled\n--- stderr ---\n{stderr}");
    };
    let mut explained = ticks_logged(stderr, "skipped");
    explained.extend(ticks_logged(stderr, "failed"));
    explained.extend(ticks_logged(stderr, "dropped"));
    explained.extend(allowed);
    let unexplained: Vec<u64> = (0..max)
        .filter(|n| !seen.contains(n) && !explained.contains(n))
        .collect();
    assert!(
        unexplained.is_empty(),
        "ticks {unexplained:?} are missing and the master logged nothing about them\n--- stderr ---\n{stderr}"
    );
}
