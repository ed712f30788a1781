//! Several instances, their schedules (`ticker.cluster`): real PHP masters against a real
//! `redis-server` that each test starts on a free loopback port (without persistence, in a
//! scratch directory) and stops at its end, even when it fails.
//!
//! Every test checks the same two things over all of its instances: no tick number is
//! handed to a worker twice, and ordered by number, the ticks' fencing tokens never go down
//! (a tick from a stale leader would carry an older token than the ticks before it). Times
//! are compared only where the rules give a bound by construction (a tick due after a
//! leader's deadline); takeover times are measured and asserted with a wide margin.
//!
//! The Redis scripts are also driven directly through [`ticker::cluster::store::Store`].

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ticker::cluster::grid::{Grid, Settled};
use ticker::cluster::numbering::{Anchor, Recurrence};
use ticker::cluster::store::{Named, Store};
use ticker::cluster::wire::{Known, Reply, Request};
use ticker::config::CatchUp;
use ticker::schedule::cron::{CronExpr, CronSchedule, UnixInstant};
use ticker::schedule::jitter;
use ticker::schedule::zone::Zone;

use crate::harness::{DEADLINE, Php, Running, free_port, http_get};

const TTL: Duration = Duration::from_secs(1);
const INTERVAL: Duration = Duration::from_millis(100);

/// A `redis-server` of the test's own. Dropping it kills it and removes its directory.
pub(crate) struct Redis {
    pub(crate) port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// What clients must `AUTH` with, if anything.
    password: Option<String>,
}

impl Redis {
    pub(crate) fn start(name: &str) -> Redis {
        Redis::start_with(name, None)
    }

    /// One that asks clients for `password`, as a production server does.
    pub(crate) fn with_password(name: &str, password: &str) -> Redis {
        Redis::start_with(name, Some(password.to_string()))
    }

    fn start_with(name: &str, password: Option<String>) -> Redis {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "ticker-e2e-redis-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("redis scratch dir");
        let mut redis = Redis {
            port: free_port(),
            dir,
            child: None,
            password,
        };
        redis.restart();
        redis
    }

    pub(crate) fn url(&self) -> String {
        let auth = self
            .password
            .as_ref()
            .map_or(String::new(), |p| format!(":{p}@"));
        format!("redis://{auth}127.0.0.1:{}/0", self.port)
    }

    /// Starts it (again, on the same port, with no data) and waits until it answers.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server runs already");
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("redis log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(self.password.iter().flat_map(|p| ["--requirepass", p]))
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("redis-server starts (scripts/install-deps.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + DEADLINE;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {} within {DEADLINE:?}: {}",
                self.port,
                std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it and waits for it: its data is gone.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(DEADLINE))
            .expect("a connection to the test's redis-server")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A master of the cluster on `redis`, with its metrics on `metrics`.
fn instance(name: &str, redis: &Redis, key: &str, metrics: u16) -> Running {
    Php::new(name)
        .yaml(&format!(
            "ticker:\n  interval: 100ms\n  metrics:\n    address: 127.0.0.1:{metrics}\n  cluster:\n    \
             redis: {}\n    key: {key}\n    ttl: 1s\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n",
            redis.url()
        ))
        .start("journal.php")
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of the journal's `start` and the
/// header's `dueHrtime`.
fn hrtime() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// A tick as a worker started it: from a "start" entry of an instance's journal.
#[derive(Debug, Clone)]
struct Started {
    instance: usize,
    tick: u64,
    fence: u64,
    skipped: u64,
    /// The header's `due` (Unix seconds) and `dueHrtime`, and when the handler started.
    due: f64,
    due_hrtime: u64,
    start: u64,
}

fn started(runs: &[&Running]) -> Vec<Started> {
    let mut all = vec![];
    for (instance, run) in runs.iter().enumerate() {
        for e in run.journal().events("start") {
            let header = e.header();
            all.push(Started {
                instance,
                tick: e.tick(),
                fence: header["fence"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("a fence in the header {header}")),
                skipped: e.header_u64("skipped"),
                due: header["due"].as_f64().expect("due"),
                due_hrtime: e.header_u64("dueHrtime"),
                start: e.u64("start"),
            });
        }
    }
    all.sort_by_key(|s| (s.tick, s.start));
    all
}

/// No number twice across the instances; ordered by number, fences never go down.
fn assert_unique_and_fenced(all: &[Started]) {
    for pair in all.windows(2) {
        assert!(
            pair[0].tick != pair[1].tick,
            "tick {} was handed out twice: {:?} and {:?}",
            pair[0].tick,
            pair[0],
            pair[1]
        );
        assert!(
            pair[0].fence <= pair[1].fence,
            "tick {} (fence {}) came after tick {} (fence {}): a stale leader ticked",
            pair[1].tick,
            pair[1].fence,
            pair[0].tick,
            pair[0].fence
        );
    }
}

fn ticking(runs: &[&Running]) -> Vec<usize> {
    let mut instances: Vec<usize> = started(runs).iter().map(|s| s.instance).collect();
    instances.dedup();
    instances.sort_unstable();
    instances.dedup();
    instances
}

fn wait_for_ticks(runs: &[&Running], what: &str, check: impl Fn(&[Started]) -> bool) {
    runs[0].wait_for_within(what, DEADLINE, |_| check(&started(runs)));
}

/// `n` instances of the cluster `ticker:<name>`, once they tick.
fn ticking_cluster(name: &str, n: usize, redis: &Redis) -> Vec<Running> {
    let key = format!("ticker:{name}");
    let runs: Vec<Running> = (0..n)
        .map(|i| instance(&format!("cluster-{name}-{i}"), redis, &key, free_port()))
        .collect();
    wait_for_ticks(&runs.iter().collect::<Vec<_>>(), "5 ticks", |all| {
        all.len() >= 5
    });
    runs
}

fn status_json(run: &Running) -> serde_json::Value {
    let exited = run.ticker(&["status", "--json"]);
    exited.assert_success();
    serde_json::from_str(&exited.stdout).expect("status JSON")
}

#[test]
fn of_three_instances_exactly_one_ticks_and_no_number_comes_twice() {
    let redis = Redis::start("three");
    let ports = [free_port(), free_port(), free_port()];
    let mut runs: Vec<Running> = (0..3)
        .map(|i| {
            instance(
                &format!("cluster-three-{i}"),
                &redis,
                "ticker:three",
                ports[i],
            )
        })
        .collect();
    let refs: Vec<&Running> = runs.iter().collect();
    wait_for_ticks(&refs, "20 ticks", |all| all.len() >= 20);
    let all = started(&refs);
    assert_unique_and_fenced(&all);
    let leaders = ticking(&refs);
    assert_eq!(leaders.len(), 1, "one instance ticks: {all:?}");
    let leader = leaders[0];
    assert!(
        all.iter().all(|s| s.fence == all[0].fence),
        "one term: {all:?}"
    );
    // The first leader starts the grid at tick 0.
    assert_eq!(all[0].tick, 0, "{all:?}");

    // Status and metrics: one leader, two followers that name it, the same token.
    let leader_pid = runs[leader].pid;
    for (i, run) in runs.iter().enumerate() {
        let status = status_json(run);
        let cluster = &status["cluster"];
        let role = if i == leader { "leader" } else { "follower" };
        assert_eq!(cluster["role"], role, "{status}");
        assert_eq!(cluster["token"], all[0].fence, "{status}");
        assert!(
            cluster["holder"]
                .as_str()
                .is_some_and(|h| h.ends_with(&format!(":{leader_pid}"))),
            "{status}"
        );
        assert_eq!(cluster["key"], "ticker:three");
        let table = run.ticker(&["status"]).stdout;
        assert!(
            table.contains(&format!("cluster  {role}  key ticker:three")),
            "{table}"
        );
        let metrics = http_get(ports[i], "/metrics");
        let leads = u8::from(i == leader);
        assert!(
            metrics.contains(&format!("ticker_cluster_role{{role=\"leader\"}} {leads}")),
            "{metrics}"
        );
        assert!(metrics.contains("ticker_cluster_lease_token{"), "{metrics}");
    }
    for run in &mut runs {
        run.stop_with(libc::SIGTERM);
        run.assert_nothing_left();
    }
    let all = started(&runs.iter().collect::<Vec<_>>());
    assert_unique_and_fenced(&all);
    // The leader let the lease go when it stopped.
    let mut redis_connection = redis.connection();
    let lease: Option<String> = redis::cmd("GET")
        .arg("ticker:three:lease")
        .query(&mut redis_connection)
        .unwrap();
    assert_eq!(lease, None);
}

#[test]
fn when_the_leader_is_killed_another_takes_over_and_numbering_goes_on() {
    let redis = Redis::start("kill");
    let mut runs = ticking_cluster("kill", 3, &redis);
    let refs: Vec<&Running> = runs.iter().collect();
    let old = ticking(&refs)[0];
    let killed_at = hrtime();
    runs[old].signal(libc::SIGKILL);
    let exited = runs[old].wait_exit(DEADLINE);
    assert!(!exited.status.success());
    let refs: Vec<&Running> = runs.iter().collect();
    wait_for_ticks(&refs, "5 ticks of a new leader", |all| {
        all.iter().filter(|s| s.instance != old).count() >= 5
    });
    let all = started(&refs);
    assert_unique_and_fenced(&all);
    let before: Vec<&Started> = all.iter().filter(|s| s.instance == old).collect();
    let after: Vec<&Started> = all.iter().filter(|s| s.instance != old).collect();
    let new = after[0].instance;
    assert!(
        after.iter().all(|s| s.instance == new),
        "one new leader: {all:?}"
    );
    let (last_old, first_new) = (before.last().unwrap(), after[0]);
    assert!(
        first_new.fence > last_old.fence,
        "{first_new:?} after {last_old:?}"
    );
    assert!(first_new.tick > last_old.tick);
    // Failover shows as skipped ticks in the new leader's first header (at least the gap;
    // a tick delivered just before the kill and not recorded yet counts as skipped too).
    let gap = first_new.tick - last_old.tick - 1;
    assert!(
        first_new.skipped >= gap,
        "{gap} ticks between {last_old:?} and {first_new:?}, {} reported",
        first_new.skipped
    );
    let takeover = Duration::from_nanos(first_new.start.saturating_sub(killed_at));
    eprintln!(
        "cluster takeover after SIGKILL of the leader: {takeover:?} (ttl {TTL:?} + interval {INTERVAL:?})"
    );
    // The rule is ttl + one interval; the margin is for a loaded machine.
    assert!(
        takeover < TTL + INTERVAL + Duration::from_secs(10),
        "takeover took {takeover:?}"
    );
    for (i, run) in runs.iter_mut().enumerate() {
        if i != old {
            run.stop_with(libc::SIGTERM);
        }
        run.assert_nothing_left();
    }
}

#[test]
fn while_redis_is_down_no_instance_ticks_and_ticking_resumes_after() {
    let mut redis = Redis::start("down");
    let mut runs = ticking_cluster("down", 2, &redis);
    let refs: Vec<&Running> = runs.iter().collect();
    redis.stop();
    let stopped = unix_now();
    runs[0].wait_for("both instances to notice", |_| {
        runs.iter()
            .all(|r| r.stderr().contains("cluster: Redis does not answer"))
    });
    std::thread::sleep(TTL * 2);
    let restarted = unix_now();
    let during = started(&refs).len();
    redis.restart();
    wait_for_ticks(&refs, "5 ticks after Redis is back", |all| {
        all.iter().filter(|s| s.due > restarted).count() >= 5
    });
    let all = started(&refs);
    assert_unique_and_fenced(&all);
    // A leader's last renewal went out before Redis stopped, so nothing it may tick is due
    // later than one ttl after that.
    let silent: Vec<&Started> = all
        .iter()
        .filter(|s| s.due > stopped + TTL.as_secs_f64() && s.due < restarted)
        .collect();
    assert!(silent.is_empty(), "ticks while Redis was down: {silent:?}");
    assert!(all.len() > during);
    // Redis came back empty; the instances carried the schedule over: numbers go on, and
    // so do the tokens.
    let (old, new): (Vec<&Started>, Vec<&Started>) =
        all.iter().partition(|s| s.due < stopped + 1.0);
    let (last_old, first_new) = (old.last().unwrap(), new[0]);
    assert!(
        first_new.tick > last_old.tick,
        "{first_new:?} after {last_old:?}"
    );
    assert!(
        first_new.fence > last_old.fence,
        "{first_new:?} after {last_old:?}"
    );
    for run in &mut runs {
        let exited = run.stop_with(libc::SIGTERM);
        assert!(
            exited.stderr.contains("cluster: Redis answers again"),
            "{}",
            exited.stderr
        );
        assert_eq!(
            exited
                .stderr
                .matches("cluster: Redis does not answer")
                .count(),
            1,
            "logged once\n{}",
            exited.stderr
        );
        run.assert_nothing_left();
    }
    let logs: String = runs.iter().map(Running::stderr).collect();
    assert!(
        logs.contains("restored from what this instance knew"),
        "{logs}"
    );
}

#[test]
fn a_leader_paused_past_its_ttl_does_not_tick_as_a_stale_leader() {
    let redis = Redis::start("pause");
    let mut runs = ticking_cluster("pause", 2, &redis);
    let refs: Vec<&Running> = runs.iter().collect();
    let paused = ticking(&refs)[0];
    let other = 1 - paused;
    let old_fence = started(&refs)[0].fence;
    let paused_at = hrtime();
    runs[paused].signal(libc::SIGSTOP);
    wait_for_ticks(&refs, "the other instance to take over", |all| {
        all.iter().any(|s| s.instance == other)
    });
    // Well past its ttl, then it runs again.
    while hrtime() < paused_at + 3 * TTL.as_nanos() as u64 {
        std::thread::sleep(Duration::from_millis(50));
    }
    runs[paused].signal(libc::SIGCONT);
    let resumed_at = hrtime();
    wait_for_ticks(&refs, "5 more ticks after the resume", |all| {
        all.iter().filter(|s| s.start > resumed_at).count() >= 5
    });
    // Its old term's ticks were all due before its deadline and started before it resumed.
    let all = started(&refs);
    for s in all
        .iter()
        .filter(|s| s.instance == paused && s.fence == old_fence)
    {
        assert!(
            s.due_hrtime < paused_at + TTL.as_nanos() as u64,
            "stale tick {s:?}"
        );
        assert!(s.start < resumed_at, "stale tick {s:?}");
    }
    // It ticks again only with a lease of its own: the other one stops and lets it go.
    let other_fence = all
        .iter()
        .filter(|s| s.instance == other)
        .map(|s| s.fence)
        .max();
    runs[other].stop_with(libc::SIGTERM);
    let refs: Vec<&Running> = runs.iter().collect();
    wait_for_ticks(&refs, "the resumed instance to lead again", |all| {
        all.iter()
            .any(|s| s.instance == paused && Some(s.fence) > other_fence)
    });
    let all = started(&refs);
    assert_unique_and_fenced(&all);
    for s in all
        .iter()
        .filter(|s| s.instance == paused && s.start > resumed_at)
    {
        assert!(
            Some(s.fence) > other_fence,
            "ticked without a new lease: {s:?}"
        );
    }
    for run in &mut runs {
        if run.is_running() {
            run.stop_with(libc::SIGTERM);
        }
        run.assert_nothing_left();
    }
}

/// A tick of a named schedule as a worker started it.
#[derive(Debug, Clone)]
struct Occurrence {
    instance: usize,
    tick: u64,
    fence: u64,
    skipped: u64,
    due: f64,
    /// A cron schedule's occurrence, as the header writes it.
    scheduled: Option<String>,
    /// The header's `catchUp`: the one run for what passed while no instance ran.
    catch_up: bool,
    start: u64,
}

/// The ticks of `schedule` over every instance, by number.
fn occurrences(runs: &[&Running], schedule: &str) -> Vec<Occurrence> {
    let mut all = vec![];
    for (instance, run) in runs.iter().enumerate() {
        for e in run.journal().events("start") {
            let header = e.header();
            if header["schedule"] != schedule {
                continue;
            }
            all.push(Occurrence {
                instance,
                tick: e.tick(),
                fence: e.header_u64("fence"),
                skipped: e.header_u64("skipped"),
                due: header["due"].as_f64().expect("due"),
                scheduled: header["scheduled"].as_str().map(str::to_string),
                catch_up: header["catchUp"] == true,
                start: e.u64("start"),
            });
        }
    }
    all.sort_by_key(|o| (o.tick, o.start));
    all
}

/// Of `schedule`, across a failover from `old`: numbered from 0, no number and no
/// occurrence twice, fences that never go down, the old leader's ticks all before the new
/// one's, and every number nobody ran counted as skipped in the new leader's first header.
fn assert_goes_on(runs: &[&Running], schedule: &str, old: usize) {
    let all = occurrences(runs, schedule);
    assert_eq!(all[0].tick, 0, "{schedule} numbers from 0: {all:?}");
    for pair in all.windows(2) {
        assert!(
            pair[0].tick != pair[1].tick,
            "{schedule}: tick {} was handed out twice: {:?} and {:?}",
            pair[0].tick,
            pair[0],
            pair[1]
        );
        assert!(
            pair[0].fence <= pair[1].fence,
            "{schedule}: {:?} came after {:?}: a stale leader ticked",
            pair[1],
            pair[0]
        );
        assert!(
            pair[0].due < pair[1].due,
            "{schedule}: {:?} is not due after {:?}",
            pair[1],
            pair[0]
        );
    }
    let mut scheduled: Vec<&String> = all.iter().filter_map(|o| o.scheduled.as_ref()).collect();
    let runs_of_cron = scheduled.len();
    scheduled.dedup();
    assert_eq!(
        scheduled.len(),
        runs_of_cron,
        "{schedule}: an occurrence ran twice: {all:?}"
    );
    let before: Vec<&Occurrence> = all.iter().filter(|o| o.instance == old).collect();
    let after: Vec<&Occurrence> = all.iter().filter(|o| o.instance != old).collect();
    let (last_old, first_new) = (before.last().unwrap(), after[0]);
    eprintln!("{schedule} across the failover: {last_old:?} then {first_new:?}");
    assert!(
        first_new.tick > last_old.tick && first_new.fence > last_old.fence,
        "{schedule}: {first_new:?} after {last_old:?}"
    );
    // Within a term numbers go up by one (a tick skipped for want of a worker shows in the
    // next header, as across the failover).
    for pair in all.windows(2) {
        let gap = pair[1].tick - pair[0].tick - 1;
        assert!(
            pair[1].skipped >= gap,
            "{schedule}: {gap} number(s) between {:?} and {:?}, {} reported skipped",
            pair[0],
            pair[1],
            pair[1].skipped
        );
    }
}

#[test]
fn two_schedules_go_on_across_a_failover_each_numbered_once() {
    let redis = Redis::start("named");
    let yaml = |metrics: u16| {
        format!(
            "ticker:\n  metrics:\n    address: 127.0.0.1:{metrics}\n  cluster:\n    redis: {}\n    \
             key: ticker:named\n    ttl: 1s\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n  \
             schedules:\n    beat:\n      every: 200ms\n      jitter: 200ms\n    clock:\n      \
             cron: \"* * * * * *\"\n      timezone: UTC\n",
            redis.url()
        )
    };
    let mut runs: Vec<Running> = (0..2)
        .map(|i| {
            Php::new(&format!("cluster-named-{i}"))
                .yaml(&yaml(free_port()))
                .start("journal.php")
        })
        .collect();
    let refs: Vec<&Running> = runs.iter().collect();
    // Runs of beat and of clock, on instances other than `but`.
    let counts = |runs: &[&Running], but: Option<usize>| {
        let of = |schedule| {
            occurrences(runs, schedule)
                .iter()
                .filter(|o| Some(o.instance) != but)
                .count()
        };
        (of("beat"), of("clock"))
    };
    refs[0].wait_for_within("2 runs of clock and 10 of beat", DEADLINE, |_| {
        let (beat, clock) = counts(&refs, None);
        beat >= 10 && clock >= 2
    });
    let mut leaders: Vec<usize> = ["beat", "clock"]
        .iter()
        .flat_map(|s| occurrences(&refs, s))
        .map(|o| o.instance)
        .collect();
    leaders.sort_unstable();
    leaders.dedup();
    assert_eq!(leaders.len(), 1, "one instance runs both schedules");
    let old = leaders[0];
    // What Redis holds: an anchor for each schedule, beside the lease.
    let mut redis_connection = redis.connection();
    let mut names: Vec<String> = redis::cmd("HKEYS")
        .arg("ticker:named:schedules")
        .query(&mut redis_connection)
        .unwrap();
    names.sort();
    assert_eq!(names, ["beat", "clock"]);
    // beat's grid carries its jitter's phase, the same on every instance.
    let beat: String = redis::cmd("HGET")
        .arg("ticker:named:schedules")
        .arg("beat")
        .query(&mut redis_connection)
        .unwrap();
    let phase = jitter::phase("beat", Some(Duration::from_millis(200)));
    let def = serde_json::from_str::<serde_json::Value>(&beat).unwrap()["def"].clone();
    assert_eq!(
        def,
        format!("every 200000000 phase {}", phase.as_nanos()),
        "{beat}"
    );

    runs[old].signal(libc::SIGKILL);
    assert!(!runs[old].wait_exit(DEADLINE).status.success());
    let refs: Vec<&Running> = runs.iter().collect();
    refs[1 - old].wait_for_within(
        "2 runs of clock and 10 of beat on the new leader",
        DEADLINE,
        |_| {
            let (beat, clock) = counts(&refs, Some(old));
            beat >= 10 && clock >= 2
        },
    );
    assert_goes_on(&refs, "beat", old);
    assert_goes_on(&refs, "clock", old);
    for (i, run) in runs.iter_mut().enumerate() {
        if i != old {
            run.stop_with(libc::SIGTERM);
        }
        run.assert_nothing_left();
    }
    let refs: Vec<&Running> = runs.iter().collect();
    assert_goes_on(&refs, "beat", old);
    assert_goes_on(&refs, "clock", old);
    // Both leaders ticked beat on one grid, its phase kept across the failover: every run
    // is due whole intervals after the first (to the header's microsecond, and the
    // instances' readings of the wall clock; numbers are not, as what passed while no
    // instance led gets none).
    let beats = occurrences(&refs, "beat");
    for o in &beats {
        let intervals = (o.due - beats[0].due) / 0.2;
        assert!(
            (intervals - intervals.round()).abs() < 0.005,
            "{o:?} off the grid of {:?}",
            beats[0]
        );
    }
}

/// A cluster `key` on `redis` that runs one schedule, `pair`, every `every` seconds and
/// catches up.
fn catching_up(redis: &Redis, key: &str, every: u64) -> String {
    format!(
        "ticker:\n  cluster:\n    redis: {}\n    key: {key}\n    ttl: 1s\n  pool:\n    \
         num_workers: 2\n    destroy_timeout: 5s\n  schedules:\n    pair:\n      \
         cron: \"*/{every} * * * * *\"\n      timezone: UTC\n      catch_up: once\n",
        redis.url()
    )
}

/// The anchor Redis holds for `schedule` of the cluster `key`: after a leader released the
/// lease, its last occurrence handed out (Unix nanoseconds) and the number after it.
fn anchor(redis: &Redis, key: &str, schedule: &str) -> (i64, u64) {
    let value: String = redis::cmd("HGET")
        .arg(format!("{key}:schedules"))
        .arg(schedule)
        .query(&mut redis.connection())
        .expect("an anchor in Redis");
    let anchor: serde_json::Value = serde_json::from_str(&value).expect("a JSON anchor");
    (
        anchor["at"].as_i64().expect("at"),
        anchor["next"].as_u64().expect("next"),
    )
}

fn nanos_of(occurrence: &Occurrence) -> i64 {
    let text = occurrence
        .scheduled
        .as_deref()
        .expect("a cron run's scheduled");
    UnixInstant::parse_rfc3339(text)
        .expect("RFC 3339")
        .as_nanos()
}

/// Sleeps until the wall clock is past `at` (Unix nanoseconds).
fn sleep_past(at: i64) {
    while unix_now() * 1e9 < at as f64 {
        std::thread::sleep(Duration::from_millis(100));
    }
}

const SECOND: i64 = 1_000_000_000;

/// The first instance of a cluster runs `pair` `runs` times, then stops, releasing the lease.
fn first_runs(name: &str, yaml: &str, runs: usize) -> Running {
    let mut first = Php::new(name).yaml(yaml).start("journal.php");
    first.wait_for_within(&format!("{runs} run(s) of pair"), DEADLINE, |r| {
        occurrences(&[r], "pair").len() >= runs
    });
    first.stop_with(libc::SIGTERM);
    first
}

#[test]
fn a_cluster_started_again_makes_up_once_for_what_passed_while_no_instance_ran() {
    let redis = Redis::start("catch-up");
    let key = "ticker:catch-up";
    let yaml = catching_up(&redis, key, 1);
    let first = first_runs("cluster-catch-up-first", &yaml, 2);
    let ran = occurrences(&[&first], "pair");
    assert!(
        !ran[0].catch_up,
        "nothing to make up for in a new cluster: {ran:?}"
    );
    // The leader released the lease and recorded its last run; nothing runs for a while.
    let (last, next) = anchor(&redis, key, "pair");
    sleep_past(last + 3 * SECOND + SECOND / 2);

    let mut again = Php::new("cluster-catch-up-again")
        .yaml(&yaml)
        .start("journal.php");
    again.wait_for_within("2 runs of pair", DEADLINE, |r| {
        occurrences(&[r], "pair").len() >= 2
    });
    let runs = occurrences(&[&again], "pair");
    let caught_up = &runs[0];
    assert!(caught_up.catch_up, "the first run makes up: {runs:?}");
    let at = nanos_of(caught_up);
    assert!(
        at >= last + 3 * SECOND,
        "for the latest missed: {caught_up:?}"
    );
    assert_eq!(caught_up.tick, next, "numbered on: {caught_up:?}");
    assert_eq!(
        i64::try_from(caught_up.skipped).unwrap(),
        (at - last) / SECOND,
        "every occurrence after {last} up to its own: {caught_up:?}"
    );
    // The next occurrence goes on after it, numbered on.
    if runs[1].tick == next + 1 {
        assert_eq!(nanos_of(&runs[1]), at + SECOND, "{runs:?}");
    }
    let exited = again.stop_with(libc::SIGTERM);
    assert!(
        exited.stderr.contains("pair missed") && exited.stderr.contains("catching up"),
        "{}",
        exited.stderr
    );
    // Once for each term: a loaded machine may lose the lease, and the next term makes up
    // for its own gap, never for this one again.
    let runs = occurrences(&[&again], "pair");
    for term in runs.chunk_by(|a, b| a.fence == b.fence) {
        let made_up: Vec<&Occurrence> = term.iter().filter(|o| o.catch_up).collect();
        assert!(made_up.len() <= 1, "{runs:?}");
        assert!(made_up.iter().all(|o| o.tick == next || nanos_of(o) > at));
    }
}

/// The occurrences a run stands for, as instants (Unix nanoseconds), first and last: a
/// catch-up run's as its log line says, any other run its own occurrence.
fn spans(run: &Running) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = occurrences(&[run], "pair")
        .iter()
        .filter(|o| !o.catch_up)
        .map(|o| (nanos_of(o), nanos_of(o)))
        .collect();
    for line in run.stderr().lines().filter(|l| l.contains("pair missed")) {
        let from = line
            .split(", from ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next());
        let to = line
            .split(" to ")
            .nth(1)
            .and_then(|rest| rest.split(',').next());
        let instant = |text: Option<&str>| {
            UnixInstant::parse_rfc3339(text.unwrap_or_else(|| panic!("a span in {line:?}")))
                .unwrap_or_else(|e| panic!("{e} in {line:?}"))
                .as_nanos()
        };
        spans.push((instant(from), instant(to)));
    }
    spans
}

#[test]
fn a_failover_after_a_catch_up_makes_up_for_nothing_again() {
    let redis = Redis::start("catch-up-failover");
    let key = "ticker:catch-up-failover";
    let yaml = catching_up(&redis, key, 4);
    let first = first_runs("cluster-catch-up-failover-first", &yaml, 1);
    let (last, _) = anchor(&redis, key, "pair");
    // Two occurrences pass with no instance running.
    sleep_past(last + 9 * SECOND);

    let mut runs: Vec<Running> = (0..2)
        .map(|i| {
            Php::new(&format!("cluster-catch-up-failover-{i}"))
                .yaml(&yaml)
                .start("journal.php")
        })
        .collect();
    let refs: Vec<&Running> = runs.iter().collect();
    refs[0].wait_for_within("a catch-up run", DEADLINE, |_| {
        occurrences(&refs, "pair").iter().any(|o| o.catch_up)
    });
    let leader = occurrences(&refs, "pair")
        .iter()
        .find(|o| o.catch_up)
        .expect("a catch-up run")
        .instance;
    // The leader stops right after the catch-up run, most likely before its next
    // occurrence: the lease it releases must still cover what the run stood for.
    runs[leader].stop_with(libc::SIGTERM);
    let other = 1 - leader;
    runs[other].wait_for_within("a run of pair on the next leader", DEADLINE, |r| {
        occurrences(&[r], "pair").iter().any(|o| !o.catch_up)
    });
    runs[other].stop_with(libc::SIGTERM);

    let refs: Vec<&Running> = [&first].into_iter().chain(runs.iter()).collect();
    let all = occurrences(&refs, "pair");
    for pair in all.windows(2) {
        assert!(pair[0].tick != pair[1].tick, "a number twice: {all:?}");
    }
    let catch_ups = all.iter().filter(|o| o.catch_up).count();
    let mut spans: Vec<(i64, i64)> = refs.iter().flat_map(|r| spans(r)).collect();
    spans.sort_unstable();
    eprintln!("runs {all:?}, spans {spans:?}");
    assert_eq!(
        spans.len(),
        all.len(),
        "each catch-up run says what it stands for ({catch_ups} of {all:?})"
    );
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "an occurrence made up for twice: {:?} and {:?} ({all:?})",
            pair[0],
            pair[1]
        );
    }
    let down = spans
        .iter()
        .filter(|(from, to)| *from <= last + 4 * SECOND && last + 4 * SECOND <= *to)
        .count();
    assert_eq!(down, 1, "the time down made up for once: {spans:?}");
}

fn store(redis: &Redis, key: &str, me: &str) -> Store {
    let config = ticker::config::parse(
        &format!(
            "ticker:\n  cluster:\n    redis: {}\n    key: {key}\n    ttl: 1s\n",
            redis.url()
        ),
        Path::new("/app/.rr.yaml"),
    )
    .expect("a valid config");
    let cluster = config.ticker.unwrap().cluster.unwrap();
    Store::new(&cluster, INTERVAL, me.into()).expect("a store")
}

/// An `Acquired` reply's token, grid, where the grid came from, last, granted and fresh.
fn acquired(reply: Reply) -> (u64, Grid, Settled, Option<u64>, Option<u64>, bool) {
    let Reply::Acquired {
        token,
        grid,
        settled,
        last,
        granted,
        fresh,
        ..
    } = reply
    else {
        panic!("not acquired: {reply:?}");
    };
    (token, grid, settled, last, granted, fresh)
}

fn wall() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

#[test]
fn the_redis_scripts_fence_every_write_and_carry_the_schedule_over_lost_data() {
    let mut redis = Redis::start("store");
    let mut a = store(&redis, "ticker:store", "host-a:1");
    let mut b = store(&redis, "ticker:store", "host-b:2");
    let acquire = |known: Known| Request::Acquire { known };

    // The first instance takes the lease.
    let (token, grid, settled, _, _, fresh) =
        acquired(a.handle(&acquire(Known::default()), wall()));
    assert_eq!((token, settled, fresh), (1, Settled::New, true));
    // Redis had nothing: the grid starts a ttl and an interval from now.
    let start = Duration::from_nanos(grid.start_ns);
    assert!(start > wall() + TTL / 2 && start < wall() + TTL + INTERVAL * 2);

    let Reply::Held {
        holder,
        pttl_ms,
        seen,
    } = b.handle(&acquire(Known::default()), wall())
    else {
        panic!("the second finds it held");
    };
    assert_eq!(
        (holder.token, holder.name.as_deref()),
        (1, Some("host-a:1"))
    );
    assert!(pttl_ms.is_some_and(|ms| ms <= 1000));
    assert_eq!(seen.grid, Some(grid));

    // Only the holder's token writes.
    let renew = |token| Request::Renew {
        token,
        grant: Some(9),
        last: Some(3),
        until: None,
    };
    assert!(matches!(b.handle(&renew(2), wall()), Reply::Lost { holder: Some(h) } if h.token == 1));
    assert_eq!(a.handle(&renew(1), wall()), Reply::Done);
    assert_eq!(
        a.handle(
            &Request::Record {
                token: 1,
                last: Some(4),
                handed: vec![]
            },
            wall()
        ),
        Reply::Done
    );
    assert!(matches!(
        b.handle(
            &Request::Record {
                token: 7,
                last: Some(99),
                handed: vec![]
            },
            wall()
        ),
        Reply::Lost { .. }
    ));
    let release = Request::Release {
        token: 1,
        last: Some(5),
        upto: Some(5),
        until: None,
        handed: vec![],
    };
    assert_eq!(a.handle(&release, wall()), Reply::Done);

    // The next leader gets the next token and goes on after tick 5, not after the grant.
    let (token, kept, settled, last, granted, fresh) =
        acquired(b.handle(&acquire(Known::default()), wall()));
    assert_eq!((token, settled, fresh), (2, Settled::Kept, false));
    assert_eq!((kept, last, granted), (grid, Some(5), Some(5)));

    // Redis loses everything; what an instance knew brings the schedule and tokens back.
    redis.stop();
    assert!(matches!(
        a.handle(&acquire(Known::default()), wall()),
        Reply::Failed { .. }
    ));
    redis.restart();
    let known = Known {
        fence: 2,
        grid: Some(grid),
        last: Some(5),
        granted: Some(12),
        until: None,
    };
    let (token, restored, settled, last, granted, fresh) =
        acquired(a.handle(&acquire(known), wall()));
    assert_eq!((token, settled, fresh), (3, Settled::Restored, true));
    assert_eq!((restored, last, granted), (grid, Some(5), Some(12)));
    // The other store's connection died with the old server: it fails once and connects
    // afresh for the next request.
    let mut reply = b.handle(&acquire(Known::default()), wall());
    if matches!(reply, Reply::Failed { .. }) {
        reply = b.handle(&acquire(Known::default()), wall());
    }
    let Reply::Held { seen, .. } = reply else {
        panic!("held: {reply:?}");
    };
    assert_eq!(
        (seen.fence, seen.grid, seen.granted),
        (3, Some(grid), Some(12))
    );
}

#[test]
fn after_redis_loses_its_data_a_leader_whose_token_is_handed_out_again_loses_the_lease() {
    let mut redis = Redis::start("reissued");
    let mut a = store(&redis, "ticker:reissued", "host:1");
    // The same host:pid, as two containers with one hostname and PHP as pid 1 would have.
    let mut b = store(&redis, "ticker:reissued", "host:1");
    let acquire = |fence| Request::Acquire {
        known: Known {
            fence,
            ..Known::default()
        },
    };
    let (first, ..) = acquired(a.handle(&acquire(0), wall()));
    let (second, ..) = acquired({
        assert_eq!(
            a.handle(
                &Request::Release {
                    token: first,
                    last: None,
                    upto: None,
                    until: None,
                    handed: vec![],
                },
                wall()
            ),
            Reply::Done
        );
        a.handle(&acquire(first), wall())
    });
    assert_eq!((first, second), (1, 2));

    // Redis loses everything while `a` leads under token 2; `b` has seen only token 1, and
    // the counter, starting afresh, hands token 2 out again.
    redis.stop();
    redis.restart();
    let mut reply = b.handle(&acquire(first), wall());
    if matches!(reply, Reply::Failed { .. }) {
        reply = b.handle(&acquire(first), wall());
    }
    let (reissued, ..) = acquired(reply);
    assert_eq!(reissued, second, "the same token, held by another instance");

    // The old leader's fenced writes no longer match: it learns it lost, and `b` leads alone.
    let renew = Request::Renew {
        token: second,
        grant: Some(9),
        last: Some(3),
        until: None,
    };
    let mut reply = a.handle(&renew, wall());
    if matches!(reply, Reply::Failed { .. }) {
        reply = a.handle(&renew, wall());
    }
    assert!(
        matches!(reply, Reply::Lost { holder: Some(ref h) } if h.token == second),
        "{reply:?}"
    );
    assert_eq!(b.handle(&renew, wall()), Reply::Done);
}

#[test]
fn the_redis_scripts_keep_each_named_schedules_anchor_fenced() {
    let redis = Redis::start("anchors");
    let named = || {
        vec![
            Named {
                id: 1,
                name: "beat".into(),
                recurrence: Recurrence::Every {
                    every: INTERVAL,
                    phase: Duration::ZERO,
                },
                catch_up: CatchUp::None,
            },
            Named {
                id: 2,
                name: "clock".into(),
                recurrence: Recurrence::Cron(Box::new(CronSchedule::new(
                    CronExpr::parse("* * * * * *").unwrap(),
                    Zone::lookup("UTC").unwrap(),
                ))),
                catch_up: CatchUp::None,
            },
        ]
    };
    let mut a = store(&redis, "ticker:anchors", "host-a:1").with_schedules(named());
    let mut b = store(&redis, "ticker:anchors", "host-b:2").with_schedules(named());
    let acquire = Request::Acquire {
        known: Known::default(),
    };
    let Reply::Acquired {
        token,
        until,
        named: starts,
        ..
    } = a.handle(&acquire, wall())
    else {
        panic!("the first takes the lease");
    };
    assert_eq!(until, None);
    // Redis was empty: both schedules start at 0, a ttl from now.
    let nanos = |d: Duration| d.as_nanos() as u64;
    let first = |id: u32| {
        starts
            .iter()
            .find(|(of, _)| *of == id)
            .and_then(|(_, r)| r.first)
            .unwrap_or_else(|| panic!("schedule {id} starts: {starts:?}"))
    };
    let ((beat_at, beat), (clock_at, clock)) = (first(1), first(2));
    assert_eq!((beat, clock), (0, 0));
    assert!(beat_at > nanos(wall() + TTL / 2) && clock_at > nanos(wall() + TTL / 2));
    let mut connection = redis.connection();
    let mut names: Vec<String> = redis::cmd("HKEYS")
        .arg("ticker:anchors:schedules")
        .query(&mut connection)
        .unwrap();
    names.sort();
    assert_eq!(names, ["beat", "clock"]);

    // The leader is granted 2 s past both, and hands the first of each out.
    let granted = beat_at.max(clock_at) + 2_000_000_000;
    let renew = Request::Renew {
        token,
        grant: None,
        last: None,
        until: Some(granted),
    };
    assert_eq!(a.handle(&renew, wall()), Reply::Done);
    let record = |token: u64, handed: Vec<(u32, Anchor)>| Request::Record {
        token,
        last: None,
        handed,
    };
    let handed = vec![
        (1, Anchor::handed(beat_at, 0)),
        (2, Anchor::handed(clock_at, 0)),
    ];
    assert_eq!(a.handle(&record(token, handed), wall()), Reply::Done);
    // Another token writes no anchor.
    let stale = vec![(1, Anchor::handed(beat_at, 999))];
    assert!(matches!(
        b.handle(&record(token + 1, stale), wall()),
        Reply::Lost { .. }
    ));
    // The leader stops as if it had handed out everything it was granted.
    let release = Request::Release {
        token,
        last: None,
        upto: None,
        until: Some(granted),
        handed: vec![],
    };
    assert_eq!(a.handle(&release, wall()), Reply::Done);

    // The next leader goes on after `until`, counting what the old one may have handed out.
    let Reply::Acquired {
        until,
        named: starts,
        ..
    } = b.handle(&acquire, wall())
    else {
        panic!("the second takes the lease");
    };
    assert_eq!(until, Some(granted));
    let first = |id: u32| {
        starts
            .iter()
            .find(|(of, _)| *of == id)
            .and_then(|(_, r)| r.first)
            .unwrap()
    };
    let ((beat_at2, beat), (clock_at2, clock)) = (first(1), first(2));
    assert!(beat_at2 > granted && clock_at2 > granted);
    assert_eq!(beat, 1 + (granted - beat_at) / nanos(INTERVAL));
    assert_eq!(clock, 1 + (granted - clock_at) / 1_000_000_000);
    // The beat's grid goes on through its first tick.
    assert_eq!((beat_at2 - beat_at) % nanos(INTERVAL), 0);
}
