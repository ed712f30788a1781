//! Jitter: the offsets that spread schedules sharing a grid or an expression, so that they
//! do not all fall due at the same instant.
//!
//! Owns the hash that turns a schedule's name (and, for a cron schedule, the occurrence)
//! into an offset in `[0, jitter)`. The hash depends on nothing but its inputs, so every
//! instance of a cluster and every restart draw the same offsets. What an offset moves (a
//! cron run, an interval's whole grid) is its caller's ([`crate::timetable`],
//! [`crate::cluster::numbering`]).

use std::time::Duration;

use super::cron::UnixInstant;

/// The offset in `[0, jitter)` of the cron run of `name` at `at`: schedules that share an
/// expression do not all run at the same instant, and one schedule's runs do not all
/// come the same time late.
pub fn of_run(name: &str, at: UnixInstant, jitter: Option<Duration>) -> Duration {
    spread(name, Some(at), jitter)
}

/// The phase of the interval schedule `name`: one offset in `[0, jitter)` that shifts its
/// whole grid, so that its runs keep their distance. In whole microseconds: far finer than
/// a run's lateness, and short enough to read where the phase is shown.
pub fn phase(name: &str, jitter: Option<Duration>) -> Duration {
    let phase = spread(name, None, jitter);
    Duration::from_micros(u64::try_from(phase.as_micros()).unwrap_or(u64::MAX))
}

fn spread(name: &str, at: Option<UnixInstant>, jitter: Option<Duration>) -> Duration {
    let Some(jitter) = jitter.filter(|j| !j.is_zero()) else {
        return Duration::ZERO;
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(name.as_bytes());
    if let Some(at) = at {
        hasher.update(&at.as_nanos().to_le_bytes());
    }
    let spread = u128::from(hasher.finalize()) * jitter.as_nanos() / (u128::from(u32::MAX) + 1);
    Duration::from_nanos(u64::try_from(spread).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_phase_depends_on_the_name_alone_and_lies_within_the_jitter() {
        assert_eq!(phase("beat", Some(SECOND)), phase("beat", Some(SECOND)));
        assert_ne!(phase("beat", Some(SECOND)), phase("pulse", Some(SECOND)));
        assert_eq!(phase("beat", None), Duration::ZERO);
        assert_eq!(phase("beat", Some(Duration::ZERO)), Duration::ZERO);
        for jitter in [Duration::from_nanos(1), Duration::from_millis(7), SECOND] {
            for i in 0..1000 {
                let phase = phase(&format!("s{i}"), Some(jitter));
                assert!(phase < jitter);
                assert_eq!(phase.subsec_nanos() % 1000, 0, "whole microseconds");
            }
        }
    }

    #[test]
    fn phases_spread_over_the_whole_jitter() {
        // 1,000 names over 10 slices of a second: each slice gets some, none most.
        let mut slices = [0u32; 10];
        for i in 0..1000 {
            let at = phase(&format!("s{i}"), Some(SECOND));
            slices[(at.as_millis() / 100) as usize] += 1;
        }
        assert!(
            slices.iter().all(|&n| (50..=150).contains(&n)),
            "{slices:?}"
        );
    }

    #[test]
    fn a_cron_runs_offset_depends_on_the_occurrence_too() {
        let jitter = Some(Duration::from_secs(30));
        let at = UnixInstant::from_secs(1_700_000_000);
        let later = UnixInstant::from_secs(1_700_003_600);
        assert_eq!(of_run("report", at, jitter), of_run("report", at, jitter));
        assert_ne!(
            of_run("report", at, jitter),
            of_run("report", later, jitter)
        );
        assert!(of_run("report", at, jitter) < Duration::from_secs(30));
    }
}
