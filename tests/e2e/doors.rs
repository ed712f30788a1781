//! The control socket and the metrics endpoint against what other users and clients do: a
//! runtime directory someone else controls, a socket served by another user, a
//! `ticker.control` that names a file or another master's socket, answers the `ticker`
//! command cannot read, floods of idle connections, and clients that take every file
//! descriptor the master may have.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    DEADLINE, Exited, Php, Running, assert_gaps_explained, free_port, http_get, is_alive,
    run_ticker,
};

const NOBODY: u32 = 65534;

/// A directory outside any run's scratch directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str, mode: u32) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("ticker-e2e-doors-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("make a temp dir");
        chmod(&dir, mode);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The tests run as root, as `make test` does here: this makes `path` another user's.
fn give_to_nobody(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY))
        .expect("chown to nobody (the end-to-end tests run as root)");
}

fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()))
                .collect()
        })
        .unwrap_or_default()
}

/// The command failed as a command should: status 1 (never a panic's 101), a message on
/// stderr, nothing on stdout.
fn assert_refused(exited: &Exited, what: &str, needle: &str) {
    assert_eq!(
        exited.status.code(),
        Some(1),
        "{what}: exit status 1\n--- stderr ---\n{}\n--- stdout ---\n{}",
        exited.stderr,
        exited.stdout
    );
    assert!(
        exited.stderr.starts_with("ticker: ") && exited.stderr.contains(needle),
        "{what}: the message names {needle:?}\n--- stderr ---\n{}",
        exited.stderr
    );
    assert!(!exited.stderr.contains("panicked"), "{}", exited.stderr);
    assert!(
        exited.stdout.is_empty(),
        "{what}: nothing printed as if believed: {}",
        exited.stdout
    );
}

#[test]
fn a_runtime_dir_someone_else_controls_is_refused_by_master_and_command() {
    let open = TempDir::new("open", 0o777);
    let foreign = TempDir::new("foreign", 0o700);
    give_to_nobody(&foreign.0);
    let real = TempDir::new("real", 0o700);
    let link = TempDir::new("link", 0o700);
    let link_path = link.0.join("run");
    std::os::unix::fs::symlink(&real.0, &link_path).expect("symlink");
    let cases: [(&str, &Path, &str); 3] = [
        ("mode 0777", &open.0, "has mode 0777"),
        ("owned by nobody", &foreign.0, "belongs to uid 65534"),
        ("a symlink", &link_path, "is a symbolic link"),
    ];
    let mut runs: Vec<Running> = cases
        .iter()
        .map(|(name, dir, _)| {
            Php::new(&format!("unsafe-runtime-{}", name.replace(' ', "-")))
                .yaml("ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\n")
                .env("TICKER_RUNTIME_DIR", dir)
                .start("journal.php")
        })
        .collect();
    for (run, (name, dir, why)) in runs.iter_mut().zip(cases) {
        // It ticks on without its control socket, and says why at error level.
        run.wait_done(3);
        let stderr = run.stderr();
        assert!(
            stderr.contains("error: no control socket") && stderr.contains(why),
            "{name}: the master names the problem\n{stderr}"
        );
        assert!(
            sockets_in(dir).is_empty(),
            "{name}: nothing bound in {}",
            dir.display()
        );
        assert!(
            sockets_in(&real.0).is_empty(),
            "{name}: nothing bound through the link"
        );
        // The command does not look for masters there either.
        for args in [
            vec!["list"],
            vec!["status"],
            vec!["status", &run.pid.to_string()],
        ] {
            let exited = run_ticker(&args, dir, run.dir());
            assert_refused(&exited, &format!("{name}: ticker {}", args.join(" ")), why);
        }
        run.stop_with(libc::SIGTERM);
        run.assert_nothing_left();
    }

    // A missing one is made, private, and serves.
    let fresh = TempDir::new("fresh", 0o700);
    let dir = fresh.0.join("ticker");
    let mut run = Php::new("fresh-runtime")
        .yaml("ticker:\n  interval: 30ms\n  pool:\n    num_workers: 1\n")
        .env("TICKER_RUNTIME_DIR", &dir)
        .start("journal.php");
    run.wait_done(3);
    let meta = std::fs::symlink_metadata(&dir).expect("the runtime dir was made");
    assert!(meta.is_dir() && meta.mode() & 0o777 == 0o700 && meta.uid() == 0);
    let status = run_ticker(&["status", "--json"], &dir, run.dir());
    status.assert_success();
    assert!(
        status
            .stdout
            .contains(&format!("\"master_pid\":{}", run.pid))
    );
    run.stop_with(libc::SIGTERM);
    assert!(sockets_in(&dir).is_empty(), "the master removed its socket");
    run.assert_nothing_left();
}

/// A status answer as a master gives it, with `interval` as its interval.
fn status_answer(interval: &str) -> String {
    format!(
        r#"{{"master_pid":4242,"version":"0.1.0","interval_secs":{interval},"uptime_secs":3.0,"target_workers":1,"master_rss_bytes":null,"ticks":{{"due":9,"delivered":9,"completed":9,"failed":0,"skipped":0}},"lateness":{{"samples":9,"p50_us":1,"p90_us":1,"p99_us":1,"max_us":1}},"workers":[]}}"#
    )
}

/// A server at `path`, run as uid nobody by PHP, that answers every request with `answer`.
fn serve_as_nobody(path: &Path, answer: &str) -> Child {
    let code = r#"
        [, $path, $answer] = $argv;
        $server = stream_socket_server("unix://$path", $errno, $error);
        if (!$server) { fwrite(STDERR, "$error\n"); exit(1); }
        chmod($path, 0777);
        while ($client = @stream_socket_accept($server, 30)) {
            fgets($client);
            @fwrite($client, $answer);
            fclose($client);
        }
    "#;
    let child = Command::new("php")
        .args(["-r", code, "--"])
        .arg(path)
        .arg(answer)
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .spawn()
        .expect("php starts as nobody");
    let deadline = Instant::now() + DEADLINE;
    while UnixStream::connect(path).is_err() {
        assert!(Instant::now() < deadline, "the fake server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn the_command_believes_only_a_server_of_its_own_user() {
    let public = TempDir::new("peer", 0o777);
    let path = public.0.join("fake.sock");
    let mut server = serve_as_nobody(&path, &status_answer("0.1"));
    let out = TempDir::new("peer-out", 0o700);
    for args in [
        vec!["status", path.to_str().unwrap()],
        vec!["status", "--json", path.to_str().unwrap()],
        vec!["reset", path.to_str().unwrap()],
    ] {
        let exited = run_ticker(&args, &out.0, &out.0);
        assert_refused(&exited, &args.join(" "), "uid 65534");
        assert!(exited.stderr.contains("not believed"), "{}", exited.stderr);
    }
    // Moved into a private runtime directory, the socket stays the other user's.
    let private = TempDir::new("peer-private", 0o700);
    std::fs::rename(&path, private.0.join("4242.sock")).expect("move the socket");
    for args in [
        vec!["status"],
        vec!["status", "4242"],
        vec!["reset", "4242"],
    ] {
        let exited = run_ticker(&args, &private.0, &out.0);
        assert_refused(&exited, &args.join(" "), "not believed");
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// A server in this process (root, so believed) that answers each of `n` connections
/// with `answer`, or holds them without a word when `answer` is `None`.
fn serve(path: &Path, answer: Option<Vec<u8>>, n: usize) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).expect("bind the fake server");
    std::thread::spawn(move || {
        let mut held = vec![];
        for _ in 0..n {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let mut line = [0u8; 64];
            let _ = client.read(&mut line);
            match &answer {
                Some(answer) => {
                    let _ = client.write_all(answer);
                }
                None => held.push(client),
            }
        }
        // Held ones are dropped once the command has given up on them.
        for mut client in held {
            let _ = client.read(&mut [0u8; 1]);
        }
    })
}

#[test]
fn answers_the_command_cannot_read_are_errors_not_crashes() {
    let dir = TempDir::new("answers", 0o700);
    let garbage: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    // What `ticker status` says, and what `ticker reset` says (for which a status
    // answer is no reset answer).
    let unreadable = "unreadable answer";
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "a negative interval",
            status_answer("-1").into_bytes(),
            "interval_secs is -1.0",
            "no message",
        ),
        (
            "a huge interval",
            status_answer("1e300").into_bytes(),
            "interval_secs is 1e300",
            "no message",
        ),
        (
            "a string interval",
            status_answer("\"1s\"").into_bytes(),
            unreadable,
            "no message",
        ),
        ("not JSON", b"hello".to_vec(), unreadable, unreadable),
        ("nothing", vec![], unreadable, unreadable),
        ("a JSON array", b"[1,2]".to_vec(), unreadable, "no message"),
        ("binary garbage", garbage, "not UTF-8", "not UTF-8"),
        ("17 MiB", vec![b' '; 17 << 20], "longer than", "longer than"),
    ];
    for (i, (what, answer, status_says, reset_says)) in cases.into_iter().enumerate() {
        let path = dir.0.join(format!("{i}.sock"));
        let p = path.to_str().unwrap().to_owned();
        let server = serve(&path, Some(answer), 3);
        for (args, says) in [
            (vec!["status", &p], status_says),
            (vec!["status", "--json", &p], status_says),
            (vec!["reset", &p], reset_says),
        ] {
            let exited = run_ticker(&args, &dir.0, &dir.0);
            assert_refused(&exited, &format!("{what}: ticker {}", args.join(" ")), says);
        }
        server.join().expect("the fake server");
    }

    // A reset answer without its message, or with ok false, is no success either.
    for (i, (answer, needle)) in [
        (r#"{"ok":true}"#, "no message"),
        (r#"{"ok":false,"message":"busy"}"#, "reset refused: busy"),
        (r#""reset started""#, "no message"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.0.join(format!("reset-{i}.sock"));
        let server = serve(&path, Some(answer.as_bytes().to_vec()), 1);
        let exited = run_ticker(&["reset", path.to_str().unwrap()], &dir.0, &dir.0);
        assert_refused(&exited, answer, needle);
        server.join().expect("the fake server");
    }

    // A server that never answers: the command gives up on its own.
    let path = dir.0.join("silent.sock");
    let server = serve(&path, None, 1);
    let started = Instant::now();
    let exited = run_ticker(&["status", path.to_str().unwrap()], &dir.0, &dir.0);
    assert_refused(&exited, "a silent server", "no answer within 5s");
    assert!(started.elapsed() < DEADLINE);
    server.join().expect("the fake server");
}

#[test]
fn ticker_control_leaves_alone_what_is_not_a_dead_socket_of_its_own() {
    // Pointed at its own config file: the file survives, and the master ticks on.
    let php = Php::new("control-at-config");
    let config = php.dir.join("ticker.yaml");
    let yaml = format!(
        "ticker:\n  interval: 30ms\n  control: {}\n  pool:\n    num_workers: 1\n",
        config.display()
    );
    let mut run = php.yaml(&yaml).start("journal.php");
    run.wait_done(3);
    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited
            .stderr
            .contains("exists and is not a socket; it is left alone"),
        "{}",
        exited.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&config).expect("the config is still there"),
        yaml
    );
    run.assert_nothing_left();

    // Pointed at a live socket of another master: that master keeps it.
    let shared = TempDir::new("shared", 0o700);
    let socket = shared.0.join("pool.sock");
    let yaml = format!(
        "ticker:\n  interval: 30ms\n  control: {}\n  pool:\n    num_workers: 1\n",
        socket.display()
    );
    let start = |name: &str| Php::new(name).yaml(&yaml).start("journal.php");
    let status_of = |socket: &Path| {
        let exited = run_ticker(
            &["status", "--json", socket.to_str().unwrap()],
            &shared.0,
            &shared.0,
        );
        exited.assert_success();
        let json: serde_json::Value = serde_json::from_str(&exited.stdout).expect("JSON");
        json["master_pid"].as_i64().expect("master_pid") as i32
    };
    let mut first = start("control-first");
    first.wait_done(3);
    let mut second = start("control-second");
    second.wait_done(3);
    let exited = second.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("listens on") && exited.stderr.contains("left alone"),
        "{}",
        exited.stderr
    );
    assert_eq!(
        status_of(&socket),
        first.pid,
        "the first master still answers there"
    );

    // At exit a master removes only the socket it bound: not a newer master's at its path.
    std::fs::remove_file(&socket).expect("remove the first master's socket");
    let mut third = start("control-third");
    third.wait_for("the third master to listen", |run| {
        run.stderr()
            .contains(&format!("listening on {}", socket.display()))
    });
    first.stop_with(libc::SIGTERM);
    assert_eq!(
        status_of(&socket),
        third.pid,
        "the third master keeps its socket"
    );
    third.stop_with(libc::SIGTERM);
    assert!(!socket.exists(), "and removes it when it stops");
    for run in [&first, &second, &third] {
        run.assert_nothing_left();
    }
}

/// CPU time (user and system) the process has used so far.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("a number of clock ticks"))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((fields[0] + fields[1]) * 1000 / hz)
}

/// Fails if the process used more than a quarter of one CPU since `since`. A master
/// ticking at 10 ms uses about 1 %, and less on a loaded machine, not more (this is CPU
/// time, not wall time); one whose loop spins on a listener it cannot accept from uses
/// half a CPU and more.
fn assert_not_spinning(pid: i32, cpu_before: Duration, since: Instant) {
    let cpu = cpu_time(pid) - cpu_before;
    let wall = since.elapsed();
    assert!(
        cpu < wall / 4,
        "the master used {cpu:?} of CPU in {wall:?}: its loop spins"
    );
}

/// The sample of a metric (with its labels) in Prometheus text.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        .parse()
        .expect("a count")
}

/// Kills one worker and waits for the pool to replace it.
fn replace_a_worker(run: &Running, within: Duration) {
    let before = run.workers();
    let victim = before[0];
    // SAFETY: kill(2) on a worker of the master this test started.
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);
    run.wait_for_within("the killed worker's replacement", within, |run| {
        let now = run.workers();
        !is_alive(victim) && now.len() == before.len() && now.iter().any(|p| !before.contains(p))
    });
}

const CAP: usize = 64;
const FLOOD: usize = 100;

/// A master ticking at 10 ms with two workers and a metrics port, once it has handled
/// a few ticks.
fn ticking_at_10ms_with_metrics(name: &str) -> (Running, u16) {
    let port = free_port();
    let run = Php::new(name)
        .yaml(&format!(
            "ticker:\n  interval: 10ms\n  metrics:\n    address: \":{port}\"\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n"
        ))
        .start("journal.php");
    run.wait_done(5);
    (run, port)
}

#[test]
fn idle_connections_neither_stop_ticks_nor_lock_the_operator_out() {
    let (mut run, port) = ticking_at_10ms_with_metrics("idle-flood");
    let socket = run.dir().join(format!("{}.sock", run.pid));
    let cpu_before = cpu_time(run.pid);
    let since = Instant::now();
    let done_before = run.journal().done().len();

    // More than a door holds, on each door, sending nothing.
    let idle_tcp: Vec<TcpStream> = (0..FLOOD)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port"))
        .collect();
    let idle_unix: Vec<UnixStream> = (0..FLOOD)
        .map(|_| UnixStream::connect(&socket).expect("connect to the control socket"))
        .collect();

    // The operator gets answers: once the idle ones in front have timed out.
    let status = run.ticker(&["status", "--json"]);
    status.assert_success();
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
    let control = json["connections"]
        .as_array()
        .and_then(|doors| doors.iter().find(|d| d["door"] == "control"))
        .unwrap_or_else(|| panic!("the control door's connections: {json}"));
    assert!(
        control["open"]
            .as_u64()
            .is_some_and(|n| (1..=CAP as u64).contains(&n)),
        "{json}"
    );
    assert_eq!(control["max"], CAP, "{json}");
    let metrics = http_get(port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    let open = sample(&metrics, "ticker_operator_connections{door=\"metrics\"}");
    assert!((1..=CAP as u64).contains(&open), "{open} open\n{metrics}");
    assert!(
        sample(
            &metrics,
            "ticker_operator_connections_timed_out_total{door=\"metrics\"}"
        ) > 0
    );
    assert!(
        sample(
            &metrics,
            "ticker_operator_accept_paused_total{door=\"metrics\",reason=\"full\"}"
        ) > 0
    );

    // The pool is looked after as usual.
    replace_a_worker(&run, DEADLINE);
    let done_during = run.journal().done().len() - done_before;
    assert_not_spinning(run.pid, cpu_before, since);
    assert!(
        done_during >= 20,
        "ticks went on during the flood: {done_during} in {:?}",
        since.elapsed()
    );
    drop(idle_tcp);
    drop(idle_unix);

    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("connections open; taking no more"),
        "{}",
        exited.stderr
    );
    assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
}

#[test]
fn clients_at_the_fd_limit_leave_the_pool_its_descriptors() {
    let (mut run, port) = ticking_at_10ms_with_metrics("fd-limit");
    // A tight limit: room for 8 connections beside what is open and the 32 kept for workers.
    let open = std::fs::read_dir(format!("/proc/{}/fd", run.pid))
        .expect("fds")
        .count() as u64;
    let limit = libc::rlimit {
        rlim_cur: open + 32 + 8,
        rlim_max: open + 32 + 8,
    };
    // SAFETY: prlimit(2) on the master this test started, with a valid rlimit and no old one.
    let rc = unsafe { libc::prlimit(run.pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    let cpu_before = cpu_time(run.pid);
    let since = Instant::now();

    // Far more clients than descriptors, each holding its connection.
    let idle: Vec<TcpStream> = (0..FLOOD)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // The master can still start workers, soon: the descriptors they need were kept.
    replace_a_worker(&run, Duration::from_secs(5));
    replace_a_worker(&run, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(1));
    assert_not_spinning(run.pid, cpu_before, since);
    let status = run.ticker(&["status", "--json"]);
    status.assert_success();
    drop(idle);

    let exited = run.stop_with(libc::SIGTERM);
    assert!(
        !exited.stderr.contains("cannot start a worker"),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains("no file descriptor to spare"),
        "{}",
        exited.stderr
    );
    assert_gaps_explained(&exited.journal().done_ticks(), &exited.stderr, &[]);
    run.assert_nothing_left();
}
