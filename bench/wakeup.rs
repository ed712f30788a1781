//! The floor under "lateness": how late one plain Rust process, no PHP and no pool, returns
//! to each due instant of a fixed grid on this host, in two ways:
//!
//! - **sleep**: one absolute `clock_nanosleep` per tick at 1 ns timer slack, nothing else:
//!   the kernel's and the hypervisor's own wake-up latency;
//! - **spin**: a worker's own wait ([`ticker::sys::wait_until`] with [`Goal::Tail`]: sleep
//!   until a learned window before the instant, then spin).
//!
//! A tail that shows here (a virtual CPU descheduled, the kernel's own work) is the host's:
//! no ticker on this machine can return sooner than its own process is run. The benchmark
//! reports it next to measurement 1 (`bench/README.md`).
//!
//!   cargo run --release --example wakeup_floor -- [INTERVAL_US [TICKS [sleep|spin]]]
//!
//! Prints one JSON line: {"mode":"spin","interval_us":1000,"ticks":N,"p50_us":..,"p99_us":..,
//! "p999_us":..,"max_us":..,"cpu_us_per_tick":..}.

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

use ticker::spin::{Goal, SpinWindow};
use ticker::sys;

fn main() {
    let mut args = std::env::args().skip(1);
    let interval_us: u64 = args
        .next()
        .map_or(1000, |a| a.parse().expect("INTERVAL_US"));
    let ticks: usize = args.next().map_or(10_000, |a| a.parse().expect("TICKS"));
    let mode = args.next().unwrap_or_else(|| "spin".to_owned());
    let spin = match mode.as_str() {
        "spin" => true,
        "sleep" => false,
        other => panic!("mode {other:?}: expected sleep or spin"),
    };

    let interval = Duration::from_micros(interval_us);
    let mut window = SpinWindow::new(Goal::Tail);
    sys::set_timer_slack(Some(Duration::from_nanos(1))).expect("timer slack");
    let cpu_before = cpu_time();
    let start = sys::monotonic_now();
    let mut late = Vec::with_capacity(ticks);
    for n in 1..=ticks as u64 {
        let due = start + interval * n as u32;
        if spin {
            sys::wait_until(due, &mut window);
        } else {
            sys::sleep_until(due);
        }
        late.push(sys::monotonic_now().since(due));
    }
    let cpu = cpu_time() - cpu_before;
    late.sort_unstable();
    let pct = |p: f64| {
        let k = ((p / 100.0 * ticks as f64).ceil() as usize).clamp(1, ticks) - 1;
        late[k].as_secs_f64() * 1e6
    };
    println!(
        r#"{{"mode":"{mode}","interval_us":{interval_us},"ticks":{ticks},"p50_us":{:.1},"p99_us":{:.1},"p999_us":{:.1},"max_us":{:.1},"cpu_us_per_tick":{:.2}}}"#,
        pct(50.0),
        pct(99.0),
        pct(99.9),
        pct(100.0),
        cpu.as_secs_f64() * 1e6 / ticks as f64,
    );
}

/// This process's CPU time, user and system.
fn cpu_time() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(usage.user_time()) + tv(usage.system_time())
}
