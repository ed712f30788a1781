//! Properties of cron schedules over generated expressions, zones and start instants
//! (2020-2035): the next 20 occurrences strictly increase, each one's local time matches the
//! fields (or, for a fixed-time job whose time fell into a gap, is the gap's end on that
//! day), and they are exactly those a plain reading of the rules gives.
//!
//! That reading ([`Model`]) is independent of croner: it lists the wall-clock times the
//! generated field values name, day by day, and maps each to its instants with jiff (one,
//! both passes of a fold, or the gap's end), never parsing text. A sweep over every DST
//! transition of the zones from 2020 to 2027 compares the two as well, with jobs at and
//! around the shifted hours.
//!
//! `cargo test` runs proptest's default number of cases (256); `PROPTEST_CASES` raises it,
//! e.g. `PROPTEST_CASES=5000 cargo test --release -p ticker --lib schedule::cron::properties`.

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use proptest::prelude::*;

use super::*;

/// Zones with every kind of shift: none, an hour at 02:00 or 03:00, half an hour
/// (Lord_Howe), 45 minutes off the hour (Chatham), at midnight (Santiago, Havana, and Tehran
/// until 2022).
const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Tehran",
    "America/Havana",
    "Pacific/Chatham",
];

const OCCURRENCES: usize = 20;

/// One field as generated, before it is written out.
#[derive(Debug, Clone)]
enum Spec {
    Star,
    Value(u32),
    Range(u32, u32),
    /// `*/n`.
    Step(u32),
    /// `a-b/n`.
    RangeStep(u32, u32, u32),
    /// Distinct values, at least two.
    List(Vec<u32>),
}

impl Spec {
    /// The values it names, within `min..=max`.
    fn values(&self, min: u32, max: u32) -> Vec<u32> {
        match self {
            Spec::Star => (min..=max).collect(),
            Spec::Value(v) => vec![*v],
            Spec::Range(a, b) => (*a..=*b).collect(),
            Spec::Step(n) => (min..=max).step_by(*n as usize).collect(),
            Spec::RangeStep(a, b, n) => (*a..=*b).step_by(*n as usize).collect(),
            Spec::List(values) => values.clone(),
        }
    }

    /// Written out; `names` writes month and weekday values as names where there are any.
    fn write(&self, field: Field, names: bool) -> String {
        let one = |v: u32| match field {
            Field::Month if names => MONTH_NAMES[v as usize - 1].to_string(),
            Field::DayOfWeek if names => WEEKDAY_NAMES[v as usize % 7].to_string(),
            _ => v.to_string(),
        };
        match self {
            Spec::Star => "*".to_string(),
            Spec::Value(v) => one(*v),
            Spec::Range(a, b) => format!("{}-{}", one(*a), one(*b)),
            Spec::Step(n) => format!("*/{n}"),
            Spec::RangeStep(a, b, n) => format!("{}-{}/{n}", one(*a), one(*b)),
            Spec::List(values) => values.iter().map(|v| one(*v)).collect::<Vec<_>>().join(","),
        }
    }
}

fn spec(min: u32, max: u32, star_weight: u32) -> impl Strategy<Value = Spec> {
    let range = (min..max).prop_flat_map(move |a| (Just(a), a + 1..=max));
    prop_oneof![
        star_weight => Just(Spec::Star),
        3 => (min..=max).prop_map(Spec::Value),
        1 => range.clone().prop_map(|(a, b)| Spec::Range(a, b)),
        1 => (1..=max).prop_map(Spec::Step),
        1 => (range, 1..=max).prop_map(|((a, b), n)| Spec::RangeStep(a, b, n)),
        1 => proptest::collection::btree_set(min..=max, 2..5)
            .prop_map(|set| Spec::List(set.into_iter().collect())),
    ]
}

/// Hours lean towards those DST moves (00:00 to 03:59, and 23:00), so that generated jobs
/// meet gaps and folds often.
fn hour_spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        3 => spec(0, 23, 2),
        2 => prop::sample::select(vec![0u32, 1, 2, 3, 23]).prop_map(Spec::Value),
    ]
}

#[derive(Debug, Clone)]
struct Generated {
    /// `None`: the 5-field form, which runs at second 0.
    seconds: Option<Spec>,
    minutes: Spec,
    hours: Spec,
    days: Spec,
    months: Spec,
    weekdays: Spec,
    names: bool,
}

impl Generated {
    fn text(&self) -> String {
        let mut fields = vec![];
        if let Some(seconds) = &self.seconds {
            fields.push(seconds.write(Field::Second, false));
        }
        fields.push(self.minutes.write(Field::Minute, false));
        fields.push(self.hours.write(Field::Hour, false));
        fields.push(self.days.write(Field::DayOfMonth, false));
        fields.push(self.months.write(Field::Month, self.names));
        fields.push(self.weekdays.write(Field::DayOfWeek, self.names));
        fields.join(" ")
    }

    fn model(&self) -> Model {
        let seconds = self.seconds.clone().unwrap_or(Spec::Value(0));
        let fixed = [&seconds, &self.minutes, &self.hours]
            .iter()
            .all(|spec| matches!(spec, Spec::Value(_)));
        Model {
            seconds: seconds.values(0, 59),
            minutes: self.minutes.values(0, 59),
            hours: self.hours.values(0, 23),
            days: self.days.values(1, 31).into_iter().collect(),
            months: self.months.values(1, 12).into_iter().collect(),
            // 7 is Sunday, as 0 is.
            weekdays: self
                .weekdays
                .values(0, 7)
                .into_iter()
                .map(|d| d % 7)
                .collect(),
            any_day: matches!(self.days, Spec::Star),
            any_weekday: matches!(self.weekdays, Spec::Star),
            fixed,
        }
    }
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        proptest::option::of(spec(0, 59, 2)),
        spec(0, 59, 2),
        hour_spec(),
        // Days lean towards `*`, so that jobs run on the days DST moves.
        spec(1, 31, 6),
        spec(1, 12, 6),
        spec(0, 7, 6),
        any::<bool>(),
    )
        .prop_map(
            |(seconds, minutes, hours, days, months, weekdays, names)| Generated {
                seconds,
                minutes,
                hours,
                days,
                months,
                weekdays,
                names,
            },
        )
}

/// The rules read plainly from the field values.
#[derive(Debug)]
struct Model {
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: BTreeSet<u32>,
    months: BTreeSet<u32>,
    weekdays: BTreeSet<u32>,
    any_day: bool,
    any_weekday: bool,
    fixed: bool,
}

impl Model {
    /// A day runs the job if its month is listed and its day of month or its weekday is:
    /// either, when both fields are restricted; else the restricted one (`*` lets any day).
    fn day_matches(&self, date: Date) -> bool {
        let day = self.days.contains(&(date.day() as u32));
        let weekday = self
            .weekdays
            .contains(&(date.weekday().to_sunday_zero_offset() as u32));
        let day = if self.any_day || self.any_weekday {
            day && weekday
        } else {
            day || weekday
        };
        day && self.months.contains(&(date.month() as u32))
    }

    fn time_matches(&self, dt: DateTime) -> bool {
        self.hours.contains(&(dt.hour() as u32))
            && self.minutes.contains(&(dt.minute() as u32))
            && self.seconds.contains(&(dt.second() as u32))
    }

    /// Only a day of the month that no listed month has, with any weekday, never runs.
    fn never_matches(&self) -> bool {
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let longest = |month: u32| LONGEST[month as usize - 1];
        self.any_weekday
            && !self.any_day
            && self
                .months
                .iter()
                .all(|m| self.days.first().is_none_or(|d| *d > longest(*m)))
    }

    /// The instants a wall-clock time the job names runs at.
    fn instants(&self, tz: &TimeZone, wall: DateTime) -> Vec<Timestamp> {
        match tz.to_ambiguous_zoned(wall).offset() {
            AmbiguousOffset::Unambiguous { offset } => vec![offset.to_timestamp(wall).unwrap()],
            // `before` is the offset of the first pass.
            AmbiguousOffset::Fold { before, after } => {
                let first = before.to_timestamp(wall).unwrap();
                if self.fixed {
                    vec![first]
                } else {
                    vec![first, after.to_timestamp(wall).unwrap()]
                }
            }
            AmbiguousOffset::Gap { after, .. } if self.fixed => {
                // The gap's end: the transition that opened it.
                let end = tz
                    .following(after.to_timestamp(wall).unwrap())
                    .next()
                    .unwrap()
                    .timestamp();
                assert_eq!(
                    end.to_zoned(tz.clone()).date(),
                    wall.date(),
                    "the zones here have no gap across midnight"
                );
                vec![end]
            }
            AmbiguousOffset::Gap { .. } => vec![],
        }
    }

    /// The first `n` occurrences after `after`: wall-clock times in order, day by day, until
    /// `n` are found and three hours of wall-clock time more (longer than any fold here, so
    /// that no instant of a second pass can come before those found) have been listed.
    fn occurrences(&self, tz: &TimeZone, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut found = vec![];
        let mut enough_at: Option<DateTime> = None;
        let mut date = after.to_zoned(tz.clone()).date().yesterday().unwrap();
        'days: while date.year() < 2200 {
            if enough_at.is_some_and(|stop| date > stop.date()) {
                break;
            }
            if self.day_matches(date) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        for &s in &self.seconds {
                            let wall = date.at(h as i8, m as i8, s as i8, 0);
                            if enough_at.is_some_and(|stop| wall > stop) {
                                break 'days;
                            }
                            found
                                .extend(self.instants(tz, wall).into_iter().filter(|t| *t > after));
                            if enough_at.is_none() && found.len() >= n {
                                enough_at = Some(wall + SignedDuration::from_hours(3));
                            }
                        }
                    }
                }
            }
            date = date.tomorrow().unwrap();
        }
        found.sort();
        found.dedup();
        found.truncate(n);
        found
    }
}

/// Checks the first `n` occurrences of `text` against `model` in `zone_name`, from `after`.
fn check(
    text: &str,
    model: &Model,
    zone_name: &str,
    after: Timestamp,
    n: usize,
) -> Result<(), TestCaseError> {
    let parsed = CronExpr::parse(text);
    if model.never_matches() {
        prop_assert!(
            matches!(parsed, Err(CronError::NeverMatches { .. })),
            "{text}: {parsed:?}"
        );
        return Ok(());
    }
    let expr = parsed.map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
    prop_assert_eq!(expr.is_fixed_time(), model.fixed, "{}", text);
    let zone = zone(zone_name);
    let tz = zone.rules().clone();
    let schedule = CronSchedule::new(expr, zone);
    let from = UnixInstant::from_timestamp(after).unwrap();
    let got: Vec<Occurrence> = schedule.occurrences_after(from).take(n).collect();

    let mut previous = from;
    for occurrence in &got {
        prop_assert!(
            occurrence.at() > previous,
            "{text} in {zone_name} from {from}: {} does not come after {previous}",
            occurrence.local()
        );
        previous = occurrence.at();
        let local = occurrence.at().timestamp().to_zoned(tz.clone());
        prop_assert_eq!(
            occurrence.local(),
            local
                .timestamp()
                .display_with_offset(local.offset())
                .to_string()
        );
        let wall = local.datetime();
        prop_assert!(wall.second() < 60);
        prop_assert!(
            model.day_matches(wall.date()),
            "{text} in {zone_name}: {} is not on a day it names",
            occurrence.local()
        );
        if !model.time_matches(wall) {
            // Only a fixed-time job moved out of a gap runs at a time it does not name: at
            // the gap's end, where the wall clock jumped past its time.
            let time = wall.date().at(
                model.hours[0] as i8,
                model.minutes[0] as i8,
                model.seconds[0] as i8,
                0,
            );
            let moved = model.fixed
                && matches!(
                    tz.to_ambiguous_zoned(time).offset(),
                    AmbiguousOffset::Gap { .. }
                )
                && tz
                    .preceding(
                        local
                            .timestamp()
                            .checked_add(SignedDuration::from_nanos(1))
                            .unwrap(),
                    )
                    .next()
                    .is_some_and(|t| t.timestamp() == local.timestamp());
            prop_assert!(
                moved,
                "{text} in {zone_name}: {} is not a time it names",
                occurrence.local()
            );
        }
    }

    // Compared as local times with their offsets, which is what a failure should show.
    let expected: Vec<String> = model
        .occurrences(&tz, after, n)
        .into_iter()
        .map(|t| {
            let local = t.to_zoned(tz.clone());
            t.display_with_offset(local.offset()).to_string()
        })
        .collect();
    let got: Vec<&str> = got.iter().map(Occurrence::local).collect();
    prop_assert_eq!(got, expected, "{} in {} from {}", text, zone_name, from);
    Ok(())
}

fn zone(name: &str) -> Zone {
    Zone::lookup(name).unwrap()
}

/// 2020-01-01T00:00:00Z and 2036-01-01T00:00:00Z.
const FROM_2020: i64 = 1_577_836_800;
const UNTIL_2036: i64 = 2_082_758_400;
/// 2028-01-01T00:00:00Z: the sweep's end. Eight years hold Tehran's last DST (2022) and
/// each other zone's rules many times over; the random cases reach on to 2035.
const UNTIL_2028: i64 = 1_830_297_600;

/// A start instant: anywhere in 2020-2035, or within hours before a DST transition of the
/// zone, on a whole second or not.
fn start(zone_name: &str, anywhere: i64, near: Option<(usize, i64)>, nanos: i32) -> Timestamp {
    let anywhere = Timestamp::new(anywhere, nanos).unwrap();
    let Some((nth, before)) = near else {
        return anywhere;
    };
    let tz = zone(zone_name).rules().clone();
    let transitions: Vec<Timestamp> = tz
        .following(Timestamp::from_second(FROM_2020).unwrap())
        .map(|t| t.timestamp())
        .take_while(|t| t.as_second() < UNTIL_2036)
        .collect();
    if transitions.is_empty() {
        return anywhere;
    }
    let transition = transitions[nth % transitions.len()];
    transition
        .checked_sub(SignedDuration::new(before, nanos))
        .unwrap()
}

proptest! {
    #[test]
    fn occurrences_increase_match_their_fields_and_are_those_the_rules_give(
        generated in generated(),
        zone_index in 0..ZONES.len(),
        anywhere in FROM_2020..UNTIL_2036,
        near in proptest::option::weighted(0.6, (any::<usize>(), 0i64..4 * 3600)),
        nanos in prop_oneof![Just(0i32), 0..1_000_000_000i32],
    ) {
        let zone_name = ZONES[zone_index];
        let after = start(zone_name, anywhere, near, nanos);
        check(&generated.text(), &generated.model(), zone_name, after, OCCURRENCES)?;
    }
}

/// Text of the characters cron uses, in fields of the usual number: some of it cron, most of
/// it nonsense.
fn cronish() -> impl Strategy<Value = String> {
    let regex = |r: &str| proptest::string::string_regex(r).unwrap();
    let field = prop_oneof![
        8 => regex(r"\*|[0-9]{1,2}|\*/[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}(/[0-9])?|[0-9]{1,2},[0-9]{1,2}"),
        1 => regex("[A-Za-z]{3}(-[A-Za-z]{3})?"),
        1 => regex("[0-9*,/#?+LWlw-]{1,6}"),
    ];
    prop_oneof![
        4 => proptest::collection::vec(field.clone(), 5..7).prop_map(|fields| fields.join(" ")),
        1 => proptest::collection::vec(field, 0..9).prop_map(|fields| fields.join(" ")),
        1 => regex("@?[ -~]{0,30}"),
    ]
}

proptest! {
    #[test]
    fn any_text_is_parsed_or_refused_in_one_line(text in cronish()) {
        match CronExpr::parse(&text) {
            Ok(expr) => {
                if !text.trim().starts_with('@') {
                    prop_assert!(expr.cron.pattern == super::tests::croner_alone(&text), "{text}");
                }
                // What parses runs: it has a next occurrence, after the start.
                let schedule = CronSchedule::new(expr, zone("UTC"));
                let from = UnixInstant::from_secs(FROM_2020);
                let next = schedule.next_after(from);
                prop_assert!(next.is_some_and(|o| o.at() > from), "{text}");
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!message.is_empty());
                prop_assert!(!message.contains(['\n', '\r']), "{message}");
            }
        }
    }
}

/// Every transition of the zones from 2020 to 2027, with fixed-time jobs at the minutes
/// where the shifts begin and end, in the hours around it, and jobs that follow real time,
/// each from three hours before: the cases the random ones meet only now and then.
#[test]
fn every_transition_from_2020_to_2027_in_every_zone() {
    let mut transitions_seen = 0;
    for zone_name in ZONES {
        let tz = zone(zone_name).rules().clone();
        for transition in tz
            .following(Timestamp::from_second(FROM_2020).unwrap())
            .take_while(|t| t.timestamp().as_second() < UNTIL_2028)
        {
            let at = transition.timestamp();
            let before = (at - SignedDuration::from_secs(1)).to_zoned(tz.clone());
            let after_it = at.to_zoned(tz.clone());
            if before.offset() == after_it.offset() {
                // A change of name or of the DST flag only: no wall-clock shift.
                continue;
            }
            transitions_seen += 1;
            let mut hours: BTreeSet<i8> = BTreeSet::new();
            for hour in [before.hour(), after_it.hour()] {
                hours.extend([(hour + 23) % 24, hour, (hour + 1) % 24]);
            }
            let any = || Spec::Star;
            let job = |seconds: Option<Spec>, minutes: Spec, hours: Spec| Generated {
                seconds,
                minutes,
                hours,
                days: any(),
                months: any(),
                weekdays: any(),
                names: false,
            };
            let shifted: BTreeSet<u32> = [before.hour(), after_it.hour()]
                .into_iter()
                .map(|h| h as u32)
                .collect();
            let shifted = if shifted.len() == 1 {
                Spec::Value(*shifted.first().unwrap())
            } else {
                Spec::List(shifted.into_iter().collect())
            };
            let mut jobs = vec![
                job(None, Spec::Step(15), any()),
                job(None, Spec::Value(0), any()),
                job(Some(Spec::Step(20)), any(), any()),
                job(None, any(), Spec::Value(before.hour() as u32)),
                job(None, Spec::Step(10), shifted),
            ];
            for hour in &hours {
                // On the hour, Lord_Howe's half hour, Chatham's 45 minutes, and the last
                // minute before each.
                for minute in [0, 29, 30, 44, 45, 59] {
                    jobs.push(job(None, Spec::Value(minute), Spec::Value(*hour as u32)));
                }
            }
            let from = at - SignedDuration::from_hours(3);
            for job in jobs {
                // A fixed-time job meets the transition on its first or second run.
                let n = if job.model().fixed { 3 } else { OCCURRENCES };
                check(&job.text(), &job.model(), zone_name, from, n)
                    .unwrap_or_else(|err| panic!("{err}"));
            }
        }
    }
    // Berlin, New York, Lord_Howe, Santiago, Havana and Chatham twice a year, Tehran until
    // 2022.
    assert!(transitions_seen >= 100, "{transitions_seen}");
}
