//! Properties of the parser over generated input: arbitrary text never panics and every
//! refusal is one line; generated `ticker` sections (written inline or through `${VAR}`)
//! mean what they say; unknown keys are always named; Go durations add up; the depth scan
//! never counts less nesting than YAML reads.
//!
//! `cargo test` runs proptest's default number of cases (256 each); `PROPTEST_CASES`
//! raises it, e.g. `PROPTEST_CASES=20000 cargo test --release -p ticker --lib config::properties`.

use std::path::Path;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_yaml::Value;

use super::tests::{FILE, env_of};
use super::{
    ConfigError, DEFAULT_INTERVAL, DEFAULT_POOL_TIMEOUT, DEFAULT_WATCH_TICK, MAX_WORKERS,
    MIN_INTERVAL, MIN_WATCH_TICK, Megabytes, Missed, TickerConfig, When, limits, parse_with_env,
    values,
};

fn parse(text: &str, vars: &[(String, String)]) -> Result<super::Config, ConfigError> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(var, _)| var == name)
            .map(|(_, value)| value.clone())
    };
    parse_with_env(text, Path::new(FILE), &lookup)
}

/// What holds of every outcome: a refusal is one line naming the file, and a config obeys
/// the typed config's own rules.
fn check_outcome(outcome: &Result<super::Config, ConfigError>) -> Result<(), TestCaseError> {
    match outcome {
        Err(err) => {
            let text = err.to_string();
            prop_assert!(!text.contains(['\n', '\r']), "{text:?}");
            prop_assert!(
                text.starts_with(&format!("ticker: config {FILE}: ")),
                "{text}"
            );
        }
        Ok(config) => {
            if let Some(ticker) = &config.ticker {
                prop_assert!(ticker.interval().is_some_and(|i| i >= MIN_INTERVAL));
                prop_assert!((1..=MAX_WORKERS).contains(&ticker.pool.num_workers));
                prop_assert!(ticker.pool.supervisor.watch_tick >= MIN_WATCH_TICK);
            }
        }
    }
    Ok(())
}

/// Pieces of YAML around this module's keys, to reach deeper than random text does.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("ticker:"),
        Just("pool:"),
        Just("supervisor:"),
        Just("server:"),
        Just("logs:"),
        Just("interval:"),
        Just("num_workers:"),
        Just("watch_tick:"),
        Just("max_worker_memory:"),
        Just("command:"),
        Just("env:"),
        Just("relay:"),
        Just("on_init:"),
        Just("level:"),
        Just("\n"),
        Just("\n  "),
        Just("\n    "),
        Just("\n      "),
        Just(" "),
        Just("- "),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(", "),
        Just("\""),
        Just("'"),
        Just("#"),
        Just("|"),
        Just("&a "),
        Just("*a"),
        Just("<<: "),
        Just("${X}"),
        Just("${Y:-2s}"),
        Just("$"),
        Just("${"),
        Just("1s"),
        Just("50us"),
        Just("1ns"),
        Just("0"),
        Just("-1"),
        Just("4"),
        Just("501"),
        Just("99999999999999999999"),
        Just("true"),
        Just("~"),
        Just("php w.php"),
        Just("tcp://127.0.0.1:7000"),
    ];
    vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused_in_one_line(text in any::<String>()) {
        check_outcome(&parse(&text, &[]))?;
    }

    #[test]
    fn yaml_shaped_text_is_read_or_refused_in_one_line(
        text in yamlish(),
        x in prop_oneof![Just(""), Just("4"), Just("fast"), Just("1ms")],
    ) {
        check_outcome(&parse(&text, &[("X".into(), x.into())]))?;
    }
}

/// A duration written the Go way, and its value.
fn go_duration() -> impl Strategy<Value = (String, Duration)> {
    let unit = prop_oneof![
        Just(("ns", 1u64)),
        Just(("us", 1_000)),
        Just(("µs", 1_000)),
        Just(("ms", 1_000_000)),
        Just(("s", 1_000_000_000)),
        Just(("m", 60_000_000_000)),
        Just(("h", 3_600_000_000_000)),
    ];
    vec((0u64..100_000, unit), 1..4).prop_map(|parts| {
        let text: String = parts
            .iter()
            .map(|(n, (unit, _))| format!("{n}{unit}"))
            .collect();
        let nanos = parts.iter().map(|(n, (_, scale))| n * scale).sum();
        (text, Duration::from_nanos(nanos))
    })
}

proptest! {
    #[test]
    fn go_durations_add_up((text, expected) in go_duration()) {
        prop_assert_eq!(values::parse_go_duration(&text), Ok(expected));
    }

    #[test]
    fn go_durations_read_back_as_go_writes_them(nanos in 0u64..=i64::MAX as u64) {
        let d = Duration::from_nanos(nanos);
        let (hours, rest) = (d.as_secs() / 3600, d.as_secs() % 3600);
        let text = format!("{hours}h{}m{}.{:09}s", rest / 60, rest % 60, d.subsec_nanos());
        prop_assert_eq!(values::parse_go_duration(&text), Ok(d));
    }

    #[test]
    fn a_written_duration_reads_back_as_the_same_duration(nanos in 0u64..=i64::MAX as u64) {
        let d = Duration::from_nanos(nanos);
        let text = values::format_duration(d);
        prop_assert_eq!(values::parse_go_duration(&text), Ok(d), "{}", text);
    }

    #[test]
    fn a_written_duration_of_whole_units_reads_back_too(
        n in 0u64..100_000,
        unit in prop::sample::select(vec![1u64, 1_000, 1_000_000, 1_000_000_000, 60_000_000_000, 3_600_000_000_000]),
    ) {
        let d = Duration::from_nanos(n * unit);
        let text = values::format_duration(d);
        prop_assert_eq!(values::parse_go_duration(&text), Ok(d), "{}", text);
    }
}

/// A value of a generated section: written inline, or through an environment variable.
#[derive(Debug, Clone)]
struct Written {
    text: String,
    via_env: bool,
}

#[derive(Debug, Clone)]
struct Section {
    interval: Option<(Written, Duration)>,
    missed: Option<(Written, Missed)>,
    overlap: Option<(Written, bool)>,
    num_workers: Option<(Written, usize)>,
    max_jobs: Option<(Written, u64)>,
    destroy_timeout: Option<(Written, Duration)>,
    watch_tick: Option<(Written, Duration)>,
    max_worker_memory: Option<(Written, u32)>,
}

fn written<T: std::fmt::Debug + Clone>(
    value: impl Strategy<Value = (String, T)>,
) -> impl Strategy<Value = Option<(Written, T)>> {
    proptest::option::of(
        (value, any::<bool>())
            .prop_map(|((text, value), via_env)| (Written { text, via_env }, value)),
    )
}

fn at_least(floor: Duration) -> impl Strategy<Value = (String, Duration)> {
    go_duration().prop_map(move |(text, d)| {
        // Zero means the default; anything else below the floor is tested apart.
        if d.is_zero() || d >= floor {
            (text, d)
        } else {
            (format!("{}ns", floor.as_nanos()), floor)
        }
    })
}

fn section() -> impl Strategy<Value = Section> {
    let missed = prop_oneof![
        Just(("skip".to_string(), Missed::Skip)),
        Just(("DELAY".to_string(), Missed::Delay)),
        Just(("burst".to_string(), Missed::Burst)),
    ];
    (
        written(at_least(MIN_INTERVAL)),
        written(missed),
        written(any::<bool>().prop_map(|b| (b.to_string(), b))),
        written((0..=MAX_WORKERS).prop_map(|n| (n.to_string(), n))),
        written(any::<u64>().prop_map(|n| (n.to_string(), n))),
        written(go_duration()),
        written(at_least(MIN_WATCH_TICK)),
        written(any::<u32>().prop_map(|n| (n.to_string(), n))),
    )
        .prop_map(
            |(interval, missed, overlap, num_workers, max_jobs, destroy, watch, memory)| Section {
                interval,
                missed,
                overlap,
                num_workers,
                max_jobs,
                destroy_timeout: destroy,
                watch_tick: watch,
                max_worker_memory: memory,
            },
        )
}

fn w<T>(value: &Option<(Written, T)>) -> Option<&Written> {
    value.as_ref().map(|(written, _)| written)
}

impl Section {
    /// The YAML, and the environment its `${VAR}` values need.
    fn render(&self) -> (String, Vec<(String, String)>) {
        let mut vars = Vec::new();
        let mut line = |indent: usize, key: &str, value: Option<&Written>| match value {
            None => String::new(),
            Some(Written { text, via_env }) => {
                let text = if *via_env {
                    let name = format!("TICKER_{}", key.to_uppercase());
                    vars.push((name.clone(), text.clone()));
                    format!("${{{name}}}")
                } else {
                    text.clone()
                };
                format!("{}{key}: {text}\n", " ".repeat(indent))
            }
        };
        let mut yaml = String::from("ticker:\n");
        yaml += &line(2, "interval", w(&self.interval));
        yaml += &line(2, "missed", w(&self.missed));
        yaml += &line(2, "overlap", w(&self.overlap));
        yaml += "  pool:\n";
        yaml += &line(4, "num_workers", w(&self.num_workers));
        yaml += &line(4, "max_jobs", w(&self.max_jobs));
        yaml += &line(4, "destroy_timeout", w(&self.destroy_timeout));
        yaml += "    supervisor:\n";
        yaml += &line(6, "watch_tick", w(&self.watch_tick));
        yaml += &line(6, "max_worker_memory", w(&self.max_worker_memory));
        (yaml, vars)
    }

    fn expected(&self) -> TickerConfig {
        let mut t = TickerConfig {
            state_file: Path::new(FILE).with_file_name("ticker-state.rr.yaml.json"),
            ..TickerConfig::default()
        };
        let nonzero = |d: Duration, default| if d.is_zero() { default } else { d };
        let default = &mut t.schedules[0];
        if let Some((_, d)) = self.interval {
            default.when = When::Every(nonzero(d, DEFAULT_INTERVAL));
        }
        if let Some((_, m)) = self.missed {
            default.missed = m;
            t.schedule_defaults.missed = m;
        }
        if let Some((_, b)) = self.overlap {
            default.overlap = b;
            t.schedule_defaults.overlap = b;
        }
        if let Some((_, n)) = self.num_workers.as_ref().filter(|(_, n)| *n != 0) {
            t.pool.num_workers = *n;
        }
        t.pool.max_jobs = self.max_jobs.as_ref().map(|(_, n)| *n).filter(|&n| n != 0);
        if let Some((_, d)) = self.destroy_timeout {
            t.pool.destroy_timeout = nonzero(d, DEFAULT_POOL_TIMEOUT);
        }
        if let Some((_, d)) = self.watch_tick {
            t.pool.supervisor.watch_tick = nonzero(d, DEFAULT_WATCH_TICK);
        }
        t.pool.supervisor.max_worker_memory = self
            .max_worker_memory
            .as_ref()
            .map(|(_, n)| *n)
            .filter(|&n| n != 0)
            .map(Megabytes::new);
        t
    }
}

/// Keys this module reads under `ticker`, `ticker.pool` and `pool.supervisor`.
const KNOWN: [&str; 24] = [
    "interval",
    "cluster",
    "missed",
    "overlap",
    "metrics",
    "control",
    "pool",
    "num_workers",
    "max_jobs",
    "max_queue_size",
    "allocate_timeout",
    "reset_timeout",
    "destroy_timeout",
    "stream_timeout",
    "debug",
    "command",
    "supervisor",
    "dynamic_allocator",
    "watch_tick",
    "ttl",
    "idle_ttl",
    "exec_ttl",
    "max_worker_memory",
    "address",
];

proptest! {
    #[test]
    fn generated_ticker_sections_mean_what_they_say(section in section()) {
        let (yaml, vars) = section.render();
        let config = parse(&yaml, &vars).map_err(|e| TestCaseError::fail(format!("{yaml}\n{e}")))?;
        prop_assert_eq!(config.ticker, Some(section.expected()), "{}", yaml);
        prop_assert_eq!(config.not_acted_on, Vec::<String>::new());
    }

    #[test]
    fn durations_below_a_floor_are_refused_naming_the_key(
        per_million in 1u64..1_000_000,
        watch in any::<bool>(),
    ) {
        let floor = if watch { MIN_WATCH_TICK } else { MIN_INTERVAL };
        let nanos = (floor.as_nanos() as u64 * per_million / 1_000_000).max(1);
        let text = match nanos % 1000 {
            0 => format!("{}us", nanos / 1000),
            _ => format!("{nanos}ns"),
        };
        let (yaml, key) = if watch {
            (format!("ticker:\n  pool:\n    supervisor:\n      watch_tick: {text}\n"),
             "ticker.pool.supervisor.watch_tick")
        } else {
            (format!("ticker:\n  interval: {text}\n"), "ticker.interval")
        };
        let err = parse(&yaml, &[]).unwrap_err();
        prop_assert_eq!(err.key(), Some(key));
        prop_assert!(err.to_string().contains("is below the shortest"), "{}", err);
    }

    #[test]
    fn an_unknown_key_is_named_with_those_accepted(
        key in "[a-z][a-z_]{0,15}",
        level in 0..3usize,
        section in section(),
    ) {
        // `null` is YAML's null, not a name.
        prop_assume!(!KNOWN.contains(&key.as_str()) && key != "null");
        let (yaml, vars) = section.render();
        // Insert the key as the first entry of the chosen mapping.
        let (marker, indent, prefix) = [
            ("ticker:\n", 2, "ticker"),
            ("  pool:\n", 4, "ticker.pool"),
            ("    supervisor:\n", 6, "ticker.pool.supervisor"),
        ][level];
        let yaml = yaml.replacen(marker, &format!("{marker}{}{key}: 1\n", " ".repeat(indent)), 1);
        let err = parse(&yaml, &vars).unwrap_err();
        let dotted = format!("{prefix}.{key}");
        prop_assert_eq!(err.key(), Some(dotted.as_str()), "{}", yaml);
        let text = err.to_string();
        prop_assert!(text.contains(&format!("{dotted}: unknown key")), "{}", text);
        prop_assert!(text.contains("; expected one of "), "{}", text);
    }

    #[test]
    fn a_variable_and_its_default(
        name in "[A-Z_][A-Z0-9_]{0,8}",
        value in proptest::option::of("[a-z0-9]{0,6}"),
        default in "[a-z0-9]{0,6}",
    ) {
        let vars: Vec<(&str, &str)> = value.iter().map(|v| (name.as_str(), v.as_str())).collect();
        let yaml = format!("server:\n  env:\n    A: ${{{name}:-{default}}}\n    B: ${name}\n");
        let config = parse_with_env(&yaml, Path::new(FILE), &env_of(&vars)).unwrap();
        let set = value.clone().unwrap_or_default();
        let a = if set.is_empty() { default.clone() } else { set.clone() };
        prop_assert_eq!(config.server.env.get("A"), Some(&a));
        prop_assert_eq!(config.server.env.get("B"), Some(&set));
    }
}

/// Generated nesting: mappings and lists in block and flow style, and scalars that look
/// like structure.
#[derive(Debug, Clone)]
enum Node {
    Scalar(&'static str),
    Text(&'static str),
    Map(Vec<Node>),
    List(Vec<Node>),
    FlowList(Vec<Node>),
    FlowMap(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        Just(Node::Scalar("plain")),
        Just(Node::Scalar("a[0] and {b}")),
        Just(Node::Scalar("'it''s [[ {'")),
        Just(Node::Scalar("\"say \\\"[[\\\" {\"")),
        Just(Node::Scalar("x # [[[")),
        Just(Node::Scalar("http://h:1/[x]")),
        Just(Node::Text("[[[[\n  {{{{\n\"'")),
    ];
    leaf.prop_recursive(12, 200, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Node::Map),
            vec(inner.clone(), 0..4).prop_map(Node::List),
            vec(inner.clone(), 0..4).prop_map(Node::FlowList),
            vec(inner, 0..4).prop_map(Node::FlowMap),
        ]
    })
}

impl Node {
    /// Written as the value of a key at `indent`; `flow` when inside a flow collection.
    fn write(&self, out: &mut String, indent: usize, flow: bool) {
        match self {
            Node::Scalar(text) if flow => out.push_str(&serde_json::to_string(text).unwrap()),
            Node::Scalar(text) => out.push_str(text),
            Node::Text(text) if flow => out.push_str(&serde_json::to_string(text).unwrap()),
            Node::Text(text) => {
                out.push_str("|\n");
                for line in text.lines() {
                    out.push_str(&format!("{}{line}\n", " ".repeat(indent + 2)));
                }
                out.push_str(&" ".repeat(indent));
                out.push_str("# end");
            }
            Node::Map(items) | Node::List(items) if flow || items.is_empty() => {
                let as_flow = match self {
                    Node::Map(items) => Node::FlowMap(items.clone()),
                    _ => Node::FlowList(items.clone()),
                };
                as_flow.write(out, indent, true);
            }
            Node::Map(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(&format!("k{i}: "));
                    item.write(out, indent + 2, false);
                }
            }
            Node::List(items) => {
                for item in items {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str("- ");
                    item.write(out, indent + 4, false);
                }
            }
            Node::FlowList(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, indent, true);
                }
                out.push(']');
            }
            Node::FlowMap(items) => {
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&format!("k{i}: "));
                    item.write(out, indent, true);
                }
                out.push('}');
            }
        }
    }
}

/// How deeply YAML nests a value.
fn yaml_depth(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(yaml_depth).max().unwrap_or(0),
        Value::Mapping(map) => 1 + map.values().map(yaml_depth).max().unwrap_or(0),
        Value::Tagged(tagged) => yaml_depth(&tagged.value),
        _ => 0,
    }
}

proptest! {
    #[test]
    fn the_depth_scan_never_counts_less_than_yaml_reads(root in node()) {
        let mut text = String::from("root: ");
        root.write(&mut text, 0, false);
        text.push('\n');
        let value: Value = serde_yaml::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        let real = yaml_depth(&value);
        let scanned = limits::depth(&text);
        prop_assert!(
            (real..=real + 1).contains(&scanned),
            "YAML reads {} levels, the scan counts {}:\n{}", real, scanned, text
        );
    }
}
