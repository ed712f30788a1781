//! The body and header of a tick, as PHP code receives them.
//!
//! Owns the tick payload's format, which is part of the public API (documented in
//! docs/worker-api.md): body `{"tick":N}` as RoadRunner's ticker plugin sends it, and a JSON header that
//! keeps the plugin's `lastTick` and adds what a precise ticker knows. Pure formatting.

use serde::{Deserialize, Serialize};

use crate::config::DEFAULT_NAME;
use crate::message::ToWorker;
use crate::schedule::cron::local_time;
use crate::schedule::zone::Zone;
use crate::schedule::{Mono, WallClock};
use crate::tick::Delivery;

#[derive(Serialize)]
struct Body {
    /// [`crate::tick::Tick::body_number`]: a manual run's is counted down from
    /// `PHP_INT_MAX`.
    tick: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    /// Unix seconds of the previous delivered tick; null for the first (RoadRunner sends
    /// Go's zero time there, an artifact no one should have to special-case).
    last_tick: Option<u64>,
    /// Unix time this tick was due, in seconds with microseconds.
    due: f64,
    /// The due instant on PHP's `hrtime(true)` clock (CLOCK_MONOTONIC, ns), so that a worker
    /// measures lateness as `hrtime(true) - dueHrtime` without wall-clock noise.
    due_hrtime: u64,
    /// Ticks skipped since the previous delivered tick (no worker was free); a catch-up
    /// run adds the occurrences it stands for.
    skipped: u64,
    /// 1, or 2 when the tick runs again because the first worker called `stop()`.
    attempt: u32,
    /// The schedule's name: `default` for `ticker.interval`'s.
    schedule: &'a str,
    /// A cron schedule's occurrence in its zone, RFC 3339 with the offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled: Option<String>,
    /// In a cluster, the fencing token of the lease under which the tick was handed out: it
    /// grows with every new leader, so a handler can refuse work from a stale one.
    #[serde(skip_serializing_if = "Option::is_none")]
    fence: Option<u64>,
    /// An operator's `ticker run`: outside the schedule's grid, its body's number counted
    /// down from `PHP_INT_MAX`. Left out for the ticks of the grid.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    manual: bool,
    /// The one run at start for the occurrences missed while no master ran (`catch_up:
    /// once`). Left out for every other tick.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    catch_up: bool,
}

/// The part of a header a worker reads itself: see [`due_instant`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Due {
    due_hrtime: u64,
}

/// The instant a tick is due, read back from its header; `None` for a header that is not
/// this ticker's (a RoadRunner master's, say). The master hands a tick to a free worker a
/// little early, and the worker holds it until this instant.
pub fn due_instant(header: &[u8]) -> Option<Mono> {
    serde_json::from_slice::<Due>(header)
        .ok()
        .map(|d| Mono(d.due_hrtime))
}

/// Where a tick comes from, beyond what the tick itself says.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The schedule's name.
    pub schedule: &'a str,
    /// A cron schedule's zone, in which `scheduled` is written; `None` for an interval.
    pub zone: Option<&'a Zone>,
    /// In a cluster, the fencing token of the term that hands the tick out.
    pub fence: Option<u64>,
}

impl Origin<'static> {
    /// `ticker.interval`'s schedule, on its own.
    pub const DEFAULT: Origin<'static> = Origin {
        schedule: DEFAULT_NAME,
        zone: None,
        fence: None,
    };
}

/// The job frame for a delivery.
pub fn job(delivery: &Delivery, clock: &WallClock, origin: &Origin<'_>) -> ToWorker {
    let due = clock.unix(delivery.tick.due);
    let header = Header {
        last_tick: delivery.last_tick.map(|at| clock.unix(at).as_secs()),
        due: due.as_micros() as f64 / 1e6,
        due_hrtime: delivery.tick.due.0,
        skipped: delivery
            .skipped
            .saturating_add(delivery.tick.catch_up.map_or(0, |c| c.missed)),
        attempt: delivery.tick.attempt,
        schedule: origin.schedule,
        scheduled: origin
            .zone
            .zip(delivery.tick.scheduled)
            .map(|(zone, at)| local_time(zone, at)),
        fence: origin.fence,
        manual: delivery.tick.manual,
        catch_up: delivery.tick.catch_up.is_some(),
    };
    ToWorker::Job {
        header: serde_json::to_vec(&header).expect("plain data serializes"),
        body: serde_json::to_vec(&Body {
            tick: delivery.tick.body_number(),
        })
        .expect("plain data serializes"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::schedule::Mono;
    use crate::schedule::cron::UnixInstant;
    use crate::tick::{ScheduleId, Tick};

    fn parts(job: ToWorker) -> (Value, Value) {
        let ToWorker::Job { header, body } = job else {
            panic!("not a job");
        };
        (
            serde_json::from_slice(&header).unwrap(),
            serde_json::from_slice(&body).unwrap(),
        )
    }

    #[test]
    fn the_first_tick_has_a_null_last_tick() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(1_700_000_000));
        let delivery = Delivery {
            pid: 1,
            tick: Tick::new(0, Mono(1_500_000)),
            skipped: 0,
            last_tick: None,
            waited: false,
        };
        let (header, body) = parts(job(&delivery, &clock, &Origin::DEFAULT));
        assert_eq!(body, json!({"tick": 0}));
        assert_eq!(
            header,
            json!({
                "lastTick": null,
                "due": 1_700_000_000.001_5,
                "dueHrtime": 1_500_000,
                "skipped": 0,
                "attempt": 1,
                "schedule": "default"
            })
        );
    }

    #[test]
    fn a_manual_run_says_so_and_carries_a_number_no_tick_of_the_grid_has() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(100));
        let delivery = Delivery {
            pid: 1,
            tick: Tick::manual(ScheduleId(1), 2, Mono(5_000_000_000)),
            skipped: 0,
            last_tick: Some(Mono(3_000_000_000)),
            waited: false,
        };
        let origin = Origin {
            schedule: "beat",
            ..Origin::DEFAULT
        };
        let (header, body) = parts(job(&delivery, &clock, &origin));
        assert_eq!(body, json!({"tick": i64::MAX - 1}), "the second manual run");
        assert_eq!(header["manual"], json!(true));
        assert_eq!(header["schedule"], json!("beat"));
        assert_eq!(header["lastTick"], json!(103));
        let grid = Delivery {
            tick: Tick::new(2, Mono(0)),
            ..delivery
        };
        let (header, body) = parts(job(&grid, &clock, &origin));
        assert_eq!(body, json!({"tick": 2}));
        assert!(header.get("manual").is_none(), "{header}");
    }

    #[test]
    fn a_cluster_leader_puts_its_fencing_token_in_the_header() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(100));
        let delivery = Delivery {
            pid: 1,
            tick: Tick::new(9, Mono(9_000_000_000)),
            skipped: 0,
            last_tick: None,
            waited: false,
        };
        let fenced = Origin {
            fence: Some(7),
            ..Origin::DEFAULT
        };
        let (header, _) = parts(job(&delivery, &clock, &fenced));
        assert_eq!(header["fence"], json!(7));
        let (header, _) = parts(job(&delivery, &clock, &Origin::DEFAULT));
        assert!(header.get("fence").is_none(), "{header}");
    }

    #[test]
    fn a_worker_reads_the_due_instant_back_from_the_header() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(100));
        let delivery = Delivery {
            pid: 1,
            tick: Tick::new(4, Mono(123_456_789)),
            skipped: 0,
            last_tick: None,
            waited: false,
        };
        let ToWorker::Job { header, .. } = job(&delivery, &clock, &Origin::DEFAULT) else {
            panic!("not a job");
        };
        assert_eq!(due_instant(&header), Some(Mono(123_456_789)));
        assert_eq!(due_instant(br#"{"lastTick":null}"#), None);
        assert_eq!(due_instant(b""), None);
    }

    #[test]
    fn later_ticks_carry_the_previous_tick_and_skips() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(100));
        let delivery = Delivery {
            pid: 1,
            tick: Tick {
                attempt: 2,
                ..Tick::new(7, Mono(7_000_000_000))
            },
            skipped: 3,
            last_tick: Some(Mono(3_000_000_000)),
            waited: true,
        };
        let (header, body) = parts(job(&delivery, &clock, &Origin::DEFAULT));
        assert_eq!(body, json!({"tick": 7}));
        assert_eq!(header["lastTick"], json!(103));
        assert_eq!(header["due"], json!(107.0));
        assert_eq!(header["skipped"], json!(3));
        assert_eq!(header["attempt"], json!(2));
    }

    #[test]
    fn a_cron_tick_names_its_schedule_and_its_occurrence_in_the_schedules_zone() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(1_743_296_400));
        // 2025-03-30T01:00:00Z: in Berlin, the first instant after the spring gap.
        let at = UnixInstant::from_secs(1_743_296_400);
        let delivery = Delivery {
            pid: 1,
            tick: Tick::of(ScheduleId(1), 0, Mono(0), Some(at)),
            skipped: 0,
            last_tick: None,
            waited: false,
        };
        let berlin = Zone::lookup("Europe/Berlin").unwrap();
        let origin = Origin {
            schedule: "nightly-report",
            zone: Some(&berlin),
            fence: None,
        };
        let (header, body) = parts(job(&delivery, &clock, &origin));
        assert_eq!(body, json!({"tick": 0}));
        assert_eq!(header["schedule"], json!("nightly-report"));
        assert_eq!(header["scheduled"], json!("2025-03-30T03:00:00+02:00"));
        let (header, _) = parts(job(&delivery, &clock, &Origin::DEFAULT));
        assert!(
            header.get("scheduled").is_none(),
            "an interval's tick has none: {header}"
        );
    }

    #[test]
    fn a_catch_up_run_says_so_and_counts_the_occurrences_it_stands_for_as_skipped() {
        let clock = WallClock::new(Mono(0), Duration::from_secs(100));
        let delivery = Delivery {
            pid: 1,
            tick: Tick {
                catch_up: Some(crate::tick::CatchUp { missed: 4 }),
                ..Tick::new(0, Mono(0))
            },
            skipped: 1,
            last_tick: None,
            waited: false,
        };
        let (header, _) = parts(job(&delivery, &clock, &Origin::DEFAULT));
        assert_eq!(header["catchUp"], json!(true));
        assert_eq!(header["skipped"], json!(5), "its own 4 and the pool's 1");
        let plain = Delivery {
            tick: Tick::new(1, Mono(0)),
            ..delivery
        };
        let (header, _) = parts(job(&plain, &clock, &Origin::DEFAULT));
        assert!(header.get("catchUp").is_none(), "{header}");
        assert_eq!(header["skipped"], json!(1));
    }
}
