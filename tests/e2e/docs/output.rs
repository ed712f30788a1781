//! The output the docs show that is neither a command (`$ ` lines, `shell.rs`) nor a `ticker
//! status` answer (`status.rs`): log lines, `php --ri ticker` excerpts, a cluster's lines, a
//! crontab, an example's file tree. Each block is known by how its first line starts
//! ([`SCENARIOS`]) and checked against what really produces it: PHP run with the built
//! extension, a cluster of masters on a real `redis-server`, the example's handler, or (for
//! the two that are not program output) what they claim. An output block that no check knows
//! fails [`every_output_block_shown_has_a_check`], so a new one cannot go unchecked.
//!
//! Lines are compared by shape ([`shape`]): every number is `N`, and what is the test's rather
//! than the reader's is spelled as the docs spell it (the run's directory as `/app`, this host
//! as `web-1`, the test's Redis as `redis.internal`); every word must match. A block's lines
//! must be consecutive lines of the output, in order; a `...` line stands for any number.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::shell::APP;
use super::status::ANSWERS;
use super::{Block, all_blocks, assert_all, numbers_as_n, root};
use crate::cluster::Redis;
use crate::harness::{DEADLINE, Exited, Load, Php, Running, run_ticker_alone};

/// Each kind of output block: how its first line starts, and what checks it.
const SCENARIOS: &[(&str, By)] = &[
    (
        "ticker: config /app/.rr.yaml: ticker.pool.num_workers:",
        By::Php(Run {
            rr_yaml: Some("ticker:\n  pool:\n    num_workers: 501\n"),
            ..Run::MASTER
        }),
    ),
    (
        "ticker: warn: config /app/.rr.yaml: RoadRunner keys accepted",
        By::Php(Run {
            rr_yaml: Some(
                "server:\n  command: php app.php\n  relay: pipes\nlogs:\n  mode: production\n  \
                 errorOutput: stderr\nticker:\n  interval: 1s\n  pool:\n    num_workers: 1\n    \
                 destroy_timeout: 5s\n",
            ),
            ..Run::MASTER
        }),
    ),
    (
        "ticker: config /app/.rr.yaml: nests mappings and lists deeper",
        By::Php(Run {
            rr_yaml: Some(NESTED),
            ..Run::MASTER
        }),
    ),
    (
        "ticker: TICKER_ENABLE=1 in the environment",
        By::Php(Run {
            rr_yaml: None,
            load: Load::IniFile,
            env: &[("TICKER_ENABLE", "1")],
            ..Run::MASTER
        }),
    ),
    (
        "ticker: the master stopped: 500 workers need an open file limit",
        By::Php(Run {
            rr_yaml: Some("ticker:\n  pool:\n    num_workers: 500\n"),
            nofile: Some(256),
            app: THROWN,
            ..Run::MASTER
        }),
    ),
    (
        "role => inert",
        By::Php(Run {
            load: Load::IniFile,
            ..Run::INFO
        }),
    ),
    (
        "role => master",
        By::Php(Run {
            rr_yaml: Some("ticker:\n  interval: 100ms\n  pool:\n    num_workers: 2\n"),
            load: Load::IniFile,
            ini: &["ticker.enable=1"],
            ..Run::INFO
        }),
    ),
    (
        "role => worker",
        By::Php(Run {
            env: &[("RR_RELAY", "pipes")],
            ..Run::INFO
        }),
    ),
    (
        "ticker: info: cluster: lease helper",
        By::Cluster(Moment::Leading),
    ),
    (
        "ticker: info: cluster: follower:",
        By::Cluster(Moment::TakingOver),
    ),
    ("cluster  follower", By::Cluster(Moment::Following)),
    ("ticker: info: pair missed", By::Cluster(Moment::CatchingUp)),
    ("# m  h  dom mon dow", By::Crontab),
    ("app.php ", By::Tree),
    ("worker ", By::Handler),
];

/// What checks a kind of block.
enum By {
    /// PHP with the extension: its output.
    Php(Run),
    /// The masters of a cluster: what one of them prints at a moment of [`cluster_run`].
    Cluster(Moment),
    /// Each line's five fields are a cron expression ticker reads, and the page's `yaml`
    /// block after it has a schedule of that expression, named after the line's script.
    Crontab,
    /// Each line's path is a file of the example beside it, and each class its description
    /// names is one the file names (or a class it uses names).
    Tree,
    /// The example's handler, given ticks: its lines (stderr).
    Handler,
}

/// How PHP is run, in a directory of its own with `app.php` in it.
#[derive(Clone, Copy)]
struct Run {
    /// `app.php`.
    app: &'static str,
    /// The `.rr.yaml` beside `app.php`, if any.
    rr_yaml: Option<&'static str>,
    load: Load,
    ini: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    /// The soft and hard `RLIMIT_NOFILE` PHP starts with.
    nofile: Option<u32>,
    /// Whether the block shows stdout (else stderr).
    stdout: bool,
}

impl Run {
    /// `php -d extension=ticker.so app.php`: a master, or its error.
    const MASTER: Run = Run {
        app: APP,
        rr_yaml: None,
        load: Load::CommandLine,
        ini: &[],
        env: &[],
        args: &["app.php"],
        nofile: None,
        stdout: false,
    };

    /// `php --ri ticker`, beside the `.rr.yaml` of the quick start.
    const INFO: Run = Run {
        rr_yaml: Some("ticker:\n  interval: 1s\n  pool:\n    num_workers: 2\n"),
        args: &["--ri", "ticker"],
        stdout: true,
        ..Run::MASTER
    };
}

/// The worker loop, printing the message of the `Ticker\Exception` it ends with: for a block
/// that shows what the exception says.
const THROWN: &str = "<?php\n$worker = Ticker\\Worker::create();\ntry {\n    while ($worker->waitPayload()) {\n        $worker->respond(new Ticker\\Payload('OK'));\n    }\n} catch (Ticker\\Exception $e) {\n    fwrite(STDERR, $e->getMessage() . \"\\n\");\n    exit(1);\n}\n";

/// A config nested deeper than the limit (64 levels) on its third line.
const NESTED: &str = "ticker:\n  pool:\n    num_workers: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n";

/// The moments of one cluster's life the docs show, in the order [`cluster_run`] goes
/// through them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Moment {
    /// The first instance, `web-1`, of a new cluster: its log.
    Leading,
    /// A second instance, `web-2`, while `web-1` leads: its `ticker status`.
    Following,
    /// `web-2` once `web-1` was killed: its log.
    TakingOver,
    /// An instance started a few seconds after the last one stopped: its log.
    CatchingUp,
}

/// The scenario of a block, if one knows it.
fn scenario(block: &Block) -> Option<&'static By> {
    let first = block.text.lines().next().unwrap_or("");
    SCENARIOS
        .iter()
        .find(|(start, _)| first.starts_with(start))
        .map(|(_, by)| by)
}

/// Blocks that show a program's output: no language, no `$ ` command line, not a `ticker
/// status` answer.
fn output_blocks() -> Vec<Block> {
    all_blocks()
        .into_iter()
        .filter(|b| b.lang.is_empty())
        .filter(|b| !b.text.lines().any(|l| l.starts_with("$ ")))
        .filter(|b| {
            let first = b.text.split_whitespace().next().unwrap_or("");
            !ANSWERS.iter().any(|(word, _)| *word == first)
        })
        .collect()
}

fn blocks_by(which: impl Fn(&By) -> bool) -> Vec<(Block, &'static By)> {
    output_blocks()
        .into_iter()
        .filter_map(|b| scenario(&b).map(|by| (b, by)))
        .filter(|(_, by)| which(by))
        .collect()
}

/// A line with every run of digits as `N`, after each `(real, shown)` of `names` is
/// replaced: the test's own paths and hosts spelled as the docs spell them.
fn shape(line: &str, names: &[(String, &str)]) -> String {
    let mut line = line.trim_end().to_string();
    for (real, shown) in names {
        line = line.replace(real.as_str(), shown);
    }
    numbers_as_n(&line)
}

/// Whether the lines shown are, by shape, in what was printed: each stretch between `...`
/// lines as consecutive lines, the stretches in order.
fn shows(shown: &str, printed: &str, names: &[(String, &str)]) -> bool {
    let shown: Vec<String> = shown.lines().map(|l| shape(l, &[])).collect();
    let printed: Vec<String> = printed.lines().map(|l| shape(l, names)).collect();
    let mut from = 0;
    for stretch in shown.split(|l| l == "...").filter(|s| !s.is_empty()) {
        match printed[from..]
            .windows(stretch.len())
            .position(|w| w == stretch)
        {
            Some(at) => from += at + stretch.len(),
            None => return false,
        }
    }
    true
}

fn mismatch(block: &Block, what: &str, printed: &str) -> String {
    format!(
        "{}: {what} printed\n{printed}\nbut the docs show\n{}",
        block.at(),
        block.text
    )
}

/// Polls `printed` until `block` shows in it (or [`DEADLINE`] passes); the failure, if it
/// never does.
fn settle(
    block: &Block,
    what: &str,
    names: &[(String, &str)],
    printed: impl Fn() -> String,
) -> Result<(), String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = printed();
        if shows(&block.text, &now, names) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(mismatch(block, what, &now));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The run's directory, as it is and as the kernel resolves it, shown as `/app`.
fn app_dir(dir: &Path) -> Vec<(String, &'static str)> {
    let mut names = vec![(dir.display().to_string(), "/app")];
    if let Ok(real) = dir.canonicalize() {
        names.insert(0, (real.display().to_string(), "/app"));
    }
    names
}

/// Runs `run` until it exits, or until it printed the block's lines (a master goes on: it is
/// stopped then); whether it printed them.
fn check_run(block: &Block, run: &Run) -> Result<(), String> {
    let mut php = Php::new("docs-output").load(run.load);
    for setting in run.ini {
        php = php.ini(*setting);
    }
    for (name, value) in run.env {
        php = php.env(name, *value);
    }
    if let Some(yaml) = run.rr_yaml {
        php.file(".rr.yaml", yaml);
    }
    php.file("app.php", run.app);
    if let Some(limit) = run.nofile {
        php = php.under("prlimit".to_string(), [format!("--nofile={limit}:{limit}")]);
    }
    let names = app_dir(&php.dir);
    let args: Vec<&std::ffi::OsStr> = run.args.iter().map(std::ffi::OsStr::new).collect();
    let mut running = php.spawn(&args);
    let printed = |r: &Running| if run.stdout { r.stdout() } else { r.stderr() };
    let deadline = Instant::now() + DEADLINE;
    while running.is_running()
        && !shows(&block.text, &printed(&running), &names)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    if running.is_running() {
        running.signal(libc::SIGTERM);
    }
    let exited = running.wait_exit(DEADLINE);
    let printed = if run.stdout {
        exited.stdout
    } else {
        exited.stderr
    };
    if shows(&block.text, &printed, &names) {
        Ok(())
    } else {
        Err(mismatch(block, &format!("{:?}", run.args), &printed))
    }
}

/// Every output block is known to a check: one of [`SCENARIOS`] here, or a `ticker status`
/// answer's (`status.rs`).
#[test]
fn every_output_block_shown_has_a_check() {
    let found = output_blocks();
    let failures = found
        .iter()
        .filter(|b| scenario(b).is_none())
        .map(|b| {
            format!(
                "{}: no check knows an output block that starts `{}`: add one to SCENARIOS in \
                 tests/e2e/docs/output.rs (or, if it is not output, give the block a language)",
                b.at(),
                b.text.lines().next().unwrap_or("")
            )
        })
        .collect();
    assert_all("output blocks", found.len(), failures);
}

/// The log lines and `php --ri ticker` excerpts are what PHP prints.
#[test]
fn every_line_php_prints_in_the_docs_is_what_it_prints() {
    let found = blocks_by(|by| matches!(by, By::Php(_)));
    let failures = found
        .iter()
        .filter_map(|(block, by)| match by {
            By::Php(run) => check_run(block, run).err(),
            _ => None,
        })
        .collect();
    assert_all("blocks of PHP's output", found.len(), failures);
}

/// The masters of one cluster, each with its own directory: `ticker:billing` on a Redis that
/// asks for a password, with a 1 s ttl, ticking every 50 ms (so that the gap a killed leader
/// leaves, at least a tenth of the ttl, holds a tick), and a schedule `pair` every second that
/// catches up.
fn cluster_instance(name: &str, redis: &Redis) -> Running {
    let php = Php::new(name).yaml(&format!(
        "ticker:\n  interval: 50ms\n  cluster:\n    redis: {}\n    key: ticker:billing\n    \
         ttl: 1s\n  pool:\n    num_workers: 2\n    destroy_timeout: 5s\n  schedules:\n    \
         pair:\n      cron: \"* * * * * *\"\n      timezone: UTC\n      catch_up: once\n",
        redis.url()
    ));
    let app = php.file("app.php", APP);
    php.spawn(&[app.as_os_str()])
}

/// One cluster through the moments the docs show, each block compared with what the
/// instance of its moment prints then; the failures.
fn cluster_run(found: &[(Block, Moment)]) -> Vec<String> {
    let redis = Redis::with_password("docs-output", "s3cret");
    let host = ticker::sys::hostname();
    let names = vec![
        (format!("{host}:"), "web-1:"),
        ("127.0.0.1".to_string(), "redis.internal"),
    ];
    let mut failures = Vec::new();
    let mut compare = |moment: Moment, what: &str, printed: &dyn Fn() -> String| {
        for (block, _) in found.iter().filter(|(_, m)| *m == moment) {
            failures.extend(settle(block, what, &names, printed).err());
        }
    };
    let mut first = cluster_instance("docs-output-web-1", &redis);
    first.wait_for("web-1 to lead", |r| {
        r.stderr().contains("leader with token")
    });
    compare(Moment::Leading, "web-1", &|| first.stderr());

    let mut second = cluster_instance("docs-output-web-2", &redis);
    let pid = second.pid.to_string();
    second.wait_for("web-2 to follow", |r| {
        r.ticker(&["status", &pid]).stdout.contains("last tick")
    });
    compare(Moment::Following, "web-2's ticker status", &|| {
        second.ticker(&["status", &pid]).stdout
    });

    first.signal(libc::SIGKILL);
    first.wait_exit(DEADLINE);
    second.wait_for("web-2 to take over", |r| {
        r.stderr().contains("leader with token 2")
    });
    compare(Moment::TakingOver, "web-2", &|| second.stderr());

    // The schedule's last run is in Redis; a few of its occurrences pass with no instance.
    second.stop_with(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(3500));
    let mut again = cluster_instance("docs-output-web-1-again", &redis);
    again.wait_for("web-1 to lead again", |r| {
        r.stderr().contains("leader with token")
    });
    compare(Moment::CatchingUp, "the instance started again", &|| {
        again.stderr()
    });
    again.stop_with(libc::SIGTERM);
    failures
}

/// The lines of a cluster's instances are what they print, their `ticker status` line too.
#[test]
fn every_cluster_line_in_the_docs_is_what_an_instance_prints() {
    let found: Vec<(Block, Moment)> = blocks_by(|by| matches!(by, By::Cluster(_)))
        .into_iter()
        .filter_map(|(block, by)| match by {
            By::Cluster(moment) => Some((block, *moment)),
            _ => None,
        })
        .collect();
    let failures = cluster_run(&found);
    assert_all("blocks of a cluster's output", found.len(), failures);
}

/// The `yaml` block after `block` on its page.
fn yaml_after(block: &Block) -> Option<Block> {
    all_blocks()
        .into_iter()
        .find(|b| b.file == block.file && b.line > block.line && b.lang == "yaml")
}

/// A crontab's lines: each one's five fields are read by `ticker calendar`, and the
/// schedule the page maps it to (named after the line's script) has the same expression.
fn check_crontab(block: &Block) -> Result<(), String> {
    let mapped =
        yaml_after(block).ok_or_else(|| format!("{}: no yaml block after it", block.at()))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&mapped.text).map_err(|e| format!("{}: {e}", mapped.at()))?;
    let mut failures = Vec::new();
    for line in block.text.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(fields), Some(script)) = (
            words.get(..5),
            words.iter().rev().find(|w| w.ends_with(".php")),
        ) else {
            failures.push(format!("`{line}`: not five fields and a PHP script"));
            continue;
        };
        let expression = fields.join(" ");
        let calendar = run_ticker_alone("docs-crontab", &["calendar", &expression]);
        if !calendar.status.success() {
            failures.push(format!("`{expression}`: {}", calendar.stderr));
        }
        let name = Path::new(script)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cron = yaml["ticker"]["schedules"][name.as_str()]["cron"].as_str();
        if cron != Some(expression.as_str()) {
            failures.push(format!(
                "`{line}`: the schedule {name} of {} has cron {cron:?}, not {expression:?}",
                mapped.at()
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", block.at(), failures.join("; ")))
    }
}

/// The classes a description names: its words with a capital after a small letter
/// (`TickerBootloader`), and those before `::`.
fn classes_named(description: &str) -> Vec<String> {
    description
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .flat_map(|w| w.split("::").next())
        .filter(|w| {
            let camel = w
                .as_bytes()
                .windows(2)
                .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
            camel || description.contains(&format!("{w}::"))
        })
        .map(str::to_string)
        .collect()
}

/// The names (words) in `file` and in the files of the classes it `use`s (found by name
/// under the example and `php/src`).
fn reach_of(file: &Path, example: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut reach = text.clone();
    let sources: Vec<PathBuf> = [example.to_owned(), root().join("php/src")]
        .iter()
        .flat_map(|dir| super::files_under(dir, &["php"]))
        .collect();
    for used in text.lines().filter_map(|l| l.strip_prefix("use ")) {
        let class = used.trim_end_matches(';').rsplit('\\').next().unwrap_or("");
        let file = format!("{class}.php");
        for source in sources.iter().filter(|p| p.ends_with(&file)) {
            reach.push_str(&std::fs::read_to_string(source).unwrap_or_default());
        }
    }
    reach
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// An example's file tree: each path is a file beside the page; each class a description
/// names is named in that file or in a class it uses; a YAML file is a config ticker reads.
fn check_tree(block: &Block) -> Result<(), String> {
    let example = root().join(block.file.parent().unwrap_or(Path::new("")));
    let mut failures = Vec::new();
    for line in block.text.lines() {
        let Some((path, description)) = line.split_once(' ') else {
            failures.push(format!("`{line}`: no description"));
            continue;
        };
        let file = example.join(path);
        if !file.is_file() {
            failures.push(format!("{path}: no such file in {}", example.display()));
            continue;
        }
        let reach = reach_of(&file, &example);
        for class in classes_named(description) {
            if !reach.contains(&class) {
                failures.push(format!("{path}: names no {class}"));
            }
        }
        if path.ends_with(".yaml") {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if let Err(e) =
                ticker::config::parse_with_env(&text, &file, &|name| std::env::var(name).ok())
            {
                failures.push(format!("{path}: {e}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", block.at(), failures.join("; ")))
    }
}

/// The example's handler, `app/src/Tick/LogTickHandler.php` beside the page, given tick 0
/// (no previous tick) and tick 1 (one), each due now: what it writes to stderr.
fn handler_lines(block: &Block) -> Exited {
    let example = root().join(block.file.parent().unwrap_or(Path::new("")));
    let php = Php::new("docs-output-handler").load(Load::Manually);
    let script = php.file(
        "handler.php",
        &format!(
            "<?php\nspl_autoload_register(function (string $class): void {{\n    \
             foreach (['Ticker\\\\Spiral\\\\' => '{php}/Spiral/', 'App\\\\' => '{app}/'] as $prefix => $dir) {{\n        \
             if (str_starts_with($class, $prefix)) {{\n            \
             require $dir . str_replace('\\\\', '/', substr($class, strlen($prefix))) . '.php';\n        }}\n    }}\n}});\n\
             $handler = new App\\Tick\\LogTickHandler();\n\
             $handler->handle(new Ticker\\Spiral\\Tick(0, null, null, hrtime(true)));\n\
             $handler->handle(new Ticker\\Spiral\\Tick(1, new DateTimeImmutable('2025-01-01T10:00:00+00:00'), null, hrtime(true)));\n",
            php = root().join("php/src").display(),
            app = example.join("app/src").display(),
        ),
    );
    php.run(&[script.to_str().expect("a UTF-8 path")])
}

/// The crontab, the file tree and the handler's lines are what they claim.
#[test]
fn every_sample_and_example_output_in_the_docs_is_what_it_claims() {
    let found = blocks_by(|by| matches!(by, By::Crontab | By::Tree | By::Handler));
    let failures = found
        .iter()
        .filter_map(|(block, by)| match by {
            By::Crontab => check_crontab(block).err(),
            By::Tree => check_tree(block).err(),
            By::Handler => {
                let exited = handler_lines(block);
                (!shows(&block.text, &exited.stderr, &[]))
                    .then(|| mismatch(block, "the handler", &exited.stderr))
            }
            _ => None,
        })
        .collect();
    assert_all("samples and example output", found.len(), failures);
}

/// The checks above, shown failing on blocks that drifted by a word.
#[test]
fn a_block_that_no_longer_says_what_is_printed_fails_its_check() {
    let reworded = |needle: &str, from: &str, to: &str| -> Block {
        let mut block = output_blocks()
            .into_iter()
            .find(|b| b.text.starts_with(needle))
            .unwrap_or_else(|| panic!("a block starting {needle:?}"));
        assert!(block.text.contains(from), "{from:?} in {}", block.text);
        block.text = block.text.replacen(from, to, 1);
        block
    };
    let config = reworded(
        "ticker: config /app/.rr.yaml: ticker.pool",
        "range",
        "bounds",
    );
    let Some(By::Php(run)) = scenario(&config) else {
        panic!("a run for {}", config.at())
    };
    assert!(check_run(&config, run).is_err(), "{}", config.text);
    let info = reworded("role => inert", "not read", "unread");
    let Some(By::Php(run)) = scenario(&info) else {
        panic!("a run for {}", info.at())
    };
    assert!(check_run(&info, run).is_err(), "{}", info.text);
    let crontab = reworded("# m  h", "1-5", "1-9");
    assert!(check_crontab(&crontab).is_err(), "{}", crontab.text);
    let crontab = reworded("# m  h", "30   2", "30   3");
    assert!(check_crontab(&crontab).is_err(), "{}", crontab.text);
    let tree = reworded("app.php ", "AppBootloader.php", "AppBootloder.php");
    assert!(check_tree(&tree).is_err(), "{}", tree.text);
    let tree = reworded(
        "app.php ",
        "binds TickHandlerInterface",
        "binds TickHandler",
    );
    assert!(check_tree(&tree).is_err(), "{}", tree.text);
    let handler = reworded("worker ", "ms late", "ms early");
    assert!(
        !shows(&handler.text, &handler_lines(&handler).stderr, &[]),
        "{}",
        handler.text
    );
}
