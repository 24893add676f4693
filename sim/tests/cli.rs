//! `wva simulate` and `wva decide` as a user sees them: exit codes, stdout, stderr.

mod common;

use common::{Run, json, sample, temp_file, wva};
use std::path::Path;

#[test]
fn default_scenario_prints_timeline_summary_and_step_comparison() {
    let r = wva(&["simulate"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.is_empty(), "{}", r.err);
    let out = &r.out;
    assert!(out.starts_with("wva simulate: model meta/llama-3.1-8b in namespace llm-inference, 2 variants, 60:00 simulated, seed 1, scaleUpStep one"), "{out}");
    assert!(out.contains("llama-8b-a100  llama-8b-h100"), "{out}");
    // The ramp and the burst grow the cheap variant, the idle period scales to zero.
    assert!(out.contains("scale-up llama-8b-a100 1->2"), "{out}");
    assert!(out.contains("scale-down llama-8b-a100"), "{out}");
    assert!(out.contains("in-transition"), "{out}");
    assert!(out.contains("scale-to-zero llama-8b-a100 "), "{out}");
    // The chart's HPA holds WVA's scale-up for its 240 s window: WVA waits in transition
    // and the timeline says why.
    assert!(
        out.contains("in-transition llama-8b-a100 1->2  [held: llama-8b-a100 ScaleUpStabilized]"),
        "{out}"
    );
    assert!(
        !out.contains("scale-up llama-8b-h100"),
        "the dear variant never grows: {out}"
    );
    for line in [
        "summary (scaleUpStep one):",
        "  time saturated:   ",
        "  replica-minutes:  ",
        "  cost:             ",
        "  scale events:     ",
        "scale-up step comparison (same scenario, same seed):",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("scale-up step comparison"))
        .skip(2)
        .collect();
    assert!(rows[0].trim_start().starts_with("one "), "{rows:?}");
    assert!(rows[1].trim_start().starts_with("sized "), "{rows:?}");
}

/// The marker above each fenced sample in docs/simulate.md, followed by the `wva` arguments.
const CHECKED: &str = "<!-- checked against: wva ";

/// A line of the timeline table (` 14:30   17.2 ...`): the only lines a sample may leave out.
fn is_timeline_row(line: &str) -> bool {
    let b = line.trim_start().as_bytes();
    b.len() > 6
        && b[..5].iter().enumerate().all(|(i, c)| {
            if i == 2 {
                *c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[5] == b' '
}

/// Why sample line `i` (`want`) is not where the binary prints it; a timeline row is compared
/// with the row the binary prints at the same time.
fn mismatch(i: usize, want: &str, out: &str) -> String {
    let clock = want.split_whitespace().next().unwrap_or_default();
    let same_time = out
        .lines()
        .find(|l| is_timeline_row(l) && l.split_whitespace().next() == Some(clock));
    match same_time {
        Some(row) if is_timeline_row(want) => format!(
            "line {} of the sample is `{want}`, the binary prints `{row}`",
            i + 1
        ),
        _ => format!(
            "line {} of the sample (`{want}`) is not printed by the binary (or not in this order)",
            i + 1
        ),
    }
}

/// Checks one documented sample against the output; `Err` says where they part.
fn sample_matches(sample: &[&str], out: &str) -> Result<(), String> {
    let mut expected = sample.iter().enumerate().peekable();
    for line in out.lines() {
        match expected.peek() {
            Some((_, want)) if **want == line => {
                expected.next();
            }
            _ if is_timeline_row(line) => {}
            Some((i, want)) => return Err(mismatch(*i, want, out)),
            None => return Err(format!("the binary prints more: `{line}`")),
        }
    }
    match expected.next() {
        Some((i, want)) => Err(mismatch(i, want, out)),
        None => Ok(()),
    }
}

#[test]
fn documented_sample_output_is_what_the_binary_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/simulate.md");
    let doc = std::fs::read_to_string(path).expect("docs/simulate.md");
    let mut checked = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find(CHECKED) {
        rest = &rest[at + CHECKED.len()..];
        let (args, after) = rest.split_once(" -->").expect("marker ends with -->");
        let block = after
            .trim_start()
            .strip_prefix("```\n")
            .unwrap_or_else(|| panic!("a fenced block follows `{CHECKED}{args} -->`"));
        let (block, after) = block.split_once("\n```").expect("the fenced block ends");
        rest = after;
        // Files are named from the workspace root, where the docs' commands run.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let argv: Vec<String> = args
            .split_whitespace()
            .map(|a| match root.join(a) {
                file if a.contains('/') && file.exists() => file.display().to_string(),
                _ => a.to_string(),
            })
            .collect();
        let r = wva(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, 0, "wva {args}: {}", r.err);
        let sample: Vec<&str> = block.lines().collect();
        if let Err(e) = sample_matches(&sample, &r.out) {
            panic!(
                "docs/simulate.md: the sample of `wva {args}` has drifted from the binary: {e}.\n\
                 Regenerate it with `cargo run -q -- {args}` and paste the output into the block \
                 (timeline rows may be left out, every other line must stay)."
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no `{CHECKED}...` sample in {path}");
}

#[test]
fn sample_check_allows_only_elided_timeline_rows() {
    let out = "head\n 00:30    2.0  steady\n 01:00    2.0  steady\n\nsummary\n";
    assert_eq!(
        sample_matches(&["head", " 01:00    2.0  steady", "", "summary"], out),
        Ok(())
    );
    let drifted = sample_matches(&["head", " 01:00    2.0  safety-net", "", "summary"], out);
    assert_eq!(
        drifted,
        Err("line 2 of the sample is ` 01:00    2.0  safety-net`, the binary prints ` 01:00    2.0  steady`".into())
    );
    let missing = sample_matches(&["head", "summary"], out);
    assert_eq!(
        missing,
        Err(
            "line 2 of the sample (`summary`) is not printed by the binary (or not in this order)"
                .into()
        )
    );
    let short = sample_matches(&["head", ""], out);
    assert_eq!(short, Err("the binary prints more: `summary`".into()));
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let a = wva(&["simulate", "--seed", "9", "--duration", "20m"]);
    let b = wva(&["simulate", "--seed", "9", "--duration", "20m"]);
    let c = wva(&["simulate", "--seed", "10", "--duration", "20m"]);
    assert_eq!(a.out, b.out);
    assert_ne!(a.out, c.out);
    assert!(a.out.contains("20:00 simulated, seed 9"), "{}", a.out);
}

#[test]
fn json_report_has_timeline_summary_and_comparison() {
    let r = wva(&["simulate", "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r.out);
    assert_eq!(v["scenario"]["modelID"], "meta/llama-3.1-8b");
    // One row per engine cycle: 30 s, 60 s, ... 3570 s.
    assert_eq!(v["timeline"].as_array().map(Vec::len), Some(119));
    assert_eq!(v["timeline"][0]["time"], 30);
    assert_eq!(v["summary"]["scaleUpStep"], "one");
    let comparison = v["comparison"].as_array().expect("comparison");
    assert_eq!(comparison.len(), 2);
    assert_eq!(comparison[0]["scaleUpStep"], "one");
    assert_eq!(comparison[1]["scaleUpStep"], "sized");
    assert_eq!(comparison[0], v["summary"], "the main run is the `one` run");
    // What the sized step changes: less time saturated, at a higher peak.
    let saturated = |i: usize| comparison[i]["secondsSaturated"].as_u64().unwrap();
    assert!(saturated(1) < saturated(0), "{comparison:?}");
    let peak = |i: usize| {
        comparison[i]["variants"][0]["peakReplicas"]
            .as_u64()
            .unwrap()
    };
    assert!(peak(1) > peak(0), "{comparison:?}");
}

#[test]
fn scale_up_step_flag_and_saturation_config_select_sized() {
    let flag = json(&wva(&["simulate", "--json", "--scale-up-step", "sized"]).out);
    assert_eq!(flag["summary"]["scaleUpStep"], "sized");
    let file = wva(&[
        "simulate",
        "--json",
        "--saturation-config",
        &sample("saturation.yaml"),
    ]);
    assert_eq!(file.code, 0, "{}", file.err);
    let file = json(&file.out);
    assert_eq!(file["summary"], flag["summary"]);
    assert_eq!(file["summary"], file["comparison"][1]);
}

/// `wva simulate --va sim/scenarios/vas.yaml --profile sim/scenarios/profile.csv` plus `extra`.
fn simulate_sample_vas(extra: &[&str]) -> Run {
    let (vas, profile) = (sample("vas.yaml"), sample("profile.csv"));
    let mut args = vec!["simulate", "--va", &vas, "--profile", &profile];
    args.extend_from_slice(extra);
    wva(&args)
}

#[test]
fn user_vas_and_profile_replace_the_built_in_scenario() {
    let r = simulate_sample_vas(&[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.starts_with("wva simulate: model ibm/granite-3.3-8b in namespace team-a, 2 variants, 30:00 simulated"), "{}", r.out);
    assert!(
        r.out
            .contains("granite-8b-l40s: cost 25, L40S, KV 40000 tokens, max_num_seqs 48"),
        "{}",
        r.out
    );
    assert!(r.out.contains("min 1 max 8"), "{}", r.out);
}

/// The documented multi-variant example lists the VAs out of name order (L40S first), while
/// the engine returns its decisions sorted by name: each decision must reach its own variant.
#[test]
fn documented_multi_variant_example_keeps_every_variant_within_its_bounds() {
    let saturation = sample("saturation.yaml");
    let r = simulate_sample_vas(&["--saturation-config", &saturation, "--seed", "7", "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r.out);
    let variants = v["scenario"]["variants"].as_array().expect("variants");
    let names: Vec<&str> = variants
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["granite-8b-l40s", "granite-8b-h100"], "file order");
    let rows = v["timeline"].as_array().expect("timeline");
    for (i, spec) in variants.iter().enumerate() {
        let name = &names[i];
        let min = spec["minReplicas"].as_u64().unwrap_or(0);
        let max = spec["maxReplicas"].as_u64().expect("maxReplicas");
        for row in rows {
            let t = &row["time"];
            for column in ["replicas", "desired"] {
                let n = row[column][i].as_u64().expect("count");
                assert!(
                    (min..=max).contains(&n),
                    "{name} at {t}s: {column} {n} outside min {min} max {max}: {row}"
                );
            }
        }
        let summary = &v["summary"]["variants"][i];
        assert_eq!(summary["name"].as_str(), Some(*name));
        let peak = summary["peakReplicas"].as_u64().expect("peak");
        assert!(peak <= max, "{name} peaks at {peak} above max {max}");
    }
}

/// `wva simulate --profile sim/scenarios/idle.csv --json` plus `extra`: the built-in variants
/// go to zero in the first idle minutes, then requests come at 10:01 and at 35:01. The HPA
/// scales up at the sync that sees WVA's desired replicas and down after a 2 minute window
/// (`--hpa-scale-up-window 0s --hpa-scale-down-window 2m`), so the timeline is the engine's
/// and the wake's alone; the chart's HPA and KEDA are tested on the same profile below.
fn simulate_idle(extra: &[&str]) -> serde_json::Value {
    let profile = sample("idle.csv");
    let mut args = vec![
        "simulate",
        "--profile",
        &profile,
        "--json",
        "--hpa-scale-up-window",
        "0s",
        "--hpa-scale-down-window",
        "2m",
    ];
    args.extend_from_slice(extra);
    let r = wva(&args);
    assert_eq!(r.code, 0, "{}", r.err);
    json(&r.out)
}

/// The rows of the JSON timeline from `from` to `to` seconds.
fn rows_between(v: &serde_json::Value, from: u64, to: u64) -> Vec<&serde_json::Value> {
    v["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|r| (from..=to).contains(&r["time"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_model_at_zero_wakes_through_the_gateway_queue_on_its_cheapest_variant_only() {
    let v = simulate_idle(&[]);
    assert_eq!(v["scenario"]["scaleFromZeroActuation"], "metric");
    assert_eq!(v["scenario"]["scaleFromZeroCheckSeconds"], 1);
    assert_eq!(v["scenario"]["scaleFromZeroMaxConcurrency"], 10);
    let startup = v["scenario"]["variants"][0]["replica"]["startupSeconds"]
        .as_f64()
        .unwrap();
    let summary = &v["summary"];
    let wakes = summary["wakes"].as_array().expect("wakes");
    assert_eq!(wakes.len(), 2, "{summary}");
    assert_eq!(wakes[0]["time"], 601, "the first check that sees the queue");
    assert_eq!(wakes[1]["time"], 2101);
    for w in wakes {
        assert_eq!(w["variant"], "llama-8b-a100", "the cheapest variant: {w}");
        assert!(w["gatewayQueue"].as_u64().unwrap() > 0, "{w}");
        assert_eq!(w["firstRequests"], 10, "{w}");
        // The first request waited for the pod's start-up at least.
        let max = w["ttftMaxSeconds"].as_f64().unwrap();
        assert!(max >= startup, "{w}");
        assert!(w["ttftP50Seconds"].as_f64().unwrap() <= max, "{w}");
    }
    assert!(summary["wakeTtftMaxSeconds"].as_f64().unwrap() >= startup);
    // While the started pod loads: 1 desired on the cheap variant only, held by the
    // engine (not sent back to zero, no safety net).
    let loading = rows_between(&v, 630, 690);
    assert_eq!(loading.len(), 3);
    for row in loading {
        assert_eq!(row["desired"], serde_json::json!([1, 0]), "{row}");
        assert_eq!(row["replicas"], serde_json::json!([1, 0]), "{row}");
        assert_eq!(row["reason"], "scale-from-zero", "{row}");
    }
    let peak_h100 = &summary["variants"][1]["peakReplicas"];
    assert_eq!(peak_h100, 1, "only the pod it started with");
}

#[test]
fn no_pod_appears_while_the_gateway_queue_is_empty() {
    let v = simulate_idle(&[]);
    // At zero from 01:00 (scale-to-zero and the HPA window) until the requests come.
    for row in rows_between(&v, 180, 600) {
        assert_eq!(row["replicas"], serde_json::json!([0, 0]), "{row}");
        assert_eq!(row["desired"], serde_json::json!([0, 0]), "{row}");
    }
    // A model that starts at zero and gets no request never gets a pod.
    let va = std::fs::read_to_string(sample("vas.yaml"))
        .expect("vas.yaml")
        .replace(
            "  annotations:\n",
            "  annotations:\n    sim.wva.llmd.ai/initial-replicas: \"0\"\n",
        )
        .replace("minReplicas: 1", "minReplicas: 0");
    let va = temp_file("vas-at-zero.yaml", &va);
    let profile = temp_file(
        "idle-only.csv",
        "time,requests_per_second,input_tokens,output_tokens\n0,0,512,256\n1200,0,512,256\n",
    );
    let r = wva(&["simulate", "--va", &va, "--profile", &profile]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains(", 0 at start\n"), "{}", r.out);
    for line in [
        "  replica-minutes:  0.0 (granite-8b-l40s 0.0, peak 0, granite-8b-h100 0.0, peak 0)",
        "  scale events:     0",
        "  scale from zero:  no wake (actuation metric, gateway queue checked every 1s)",
    ] {
        assert!(r.out.contains(line), "missing {line:?} in {}", r.out);
    }
}

#[test]
fn the_first_requests_after_idle_are_reported_in_the_text_summary() {
    let profile = sample("idle.csv");
    let r = wva(&["simulate", "--profile", &profile]);
    assert_eq!(r.code, 0, "{}", r.err);
    let line = r
        .out
        .lines()
        .find(|l| l.starts_with("  scale from zero:  "))
        .unwrap_or_else(|| panic!("no scale-from-zero line in {}", r.out));
    assert!(
        line.starts_with("  scale from zero:  2 wakes (actuation metric, gateway queue checked every 1s); first 10 requests of each: TTFT p50 "),
        "{line}"
    );
    assert!(
        r.out
            .contains("\n    10:01 llama-8b-a100 from 0 to 1, gateway queue "),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("\n    35:01 llama-8b-a100 from 0 to 1, gateway queue "),
        "{}",
        r.out
    );
}

#[test]
fn the_check_interval_sets_when_the_queue_is_seen() {
    let v = simulate_idle(&["--scale-from-zero-check-interval", "10s"]);
    assert_eq!(v["scenario"]["scaleFromZeroCheckSeconds"], 10);
    // The first requests arrive at 10:01; the next check is at 10:10.
    assert_eq!(v["summary"]["wakes"][0]["time"], 610);
    for bad in ["500ms", "2m", "1.5s"] {
        let r = wva(&["simulate", "--scale-from-zero-check-interval", bad]);
        assert_eq!(r.code, 1, "{bad}");
        assert_eq!(
            r.err,
            format!(
                "error: command line: --scale-from-zero-check-interval is {bad}, expected whole seconds from 1s to 1m (the simulator's clock ticks once a second)\n"
            )
        );
    }
    let r = wva(&["simulate", "--scale-from-zero-check-interval", "often"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .starts_with("error: command line: --scale-from-zero-check-interval: "),
        "{}",
        r.err
    );
}

#[test]
fn scale_actuation_starts_the_pod_at_the_check_and_metric_waits_for_the_autoscaler() {
    let metric = simulate_idle(&[]);
    let scale = simulate_idle(&["--scale-from-zero-actuation", "scale"]);
    assert_eq!(scale["scenario"]["scaleFromZeroActuation"], "scale");
    let ttft = |v: &serde_json::Value| v["summary"]["wakes"][0]["ttftMaxSeconds"].as_f64().unwrap();
    let startup = scale["scenario"]["variants"][0]["replica"]["startupSeconds"]
        .as_f64()
        .unwrap();
    // The patch creates the pod in the second the queue is seen: the first request waits
    // exactly the start-up; KEDA-like activation adds the wait for the next sync (15 s).
    assert_eq!(ttft(&scale), startup);
    assert!(
        ttft(&metric) > ttft(&scale),
        "{} vs {}",
        ttft(&metric),
        ttft(&scale)
    );
    assert_eq!(scale["summary"]["wakes"][0]["variant"], "llama-8b-a100");
}

#[test]
fn bad_profile_names_the_file_line_and_column() {
    let file = temp_file(
        "bad.csv",
        "time,requests_per_second,input_tokens,output_tokens\n0,1,100,100\n60,lots,100,100\n",
    );
    let r = wva(&["simulate", "--profile", &file]);
    assert_eq!(r.code, 1);
    assert!(r.out.is_empty());
    assert_eq!(
        r.err,
        format!(
            "error: {file}: line 3: column requests_per_second is \"lots\", expected a number from 0 to 2000\n"
        )
    );
    let file = temp_file("short.csv", "0,1,100\n");
    let r = wva(&["simulate", "--profile", &file]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("line 1: expected 4 columns"), "{}", r.err);
    let file = temp_file("huge.csv", "0,1e9,100,100\n");
    let r = wva(&["simulate", "--profile", &file]);
    assert!(
        r.err
            .contains("column requests_per_second is \"1e9\", expected a number from 0 to 2000"),
        "{}",
        r.err
    );
    let file = temp_file("order.csv", "60,1,100,100\n0,1,100,100\n");
    assert!(
        wva(&["simulate", "--profile", &file])
            .err
            .contains("sort the lines by time")
    );
}

#[test]
fn bad_va_names_the_file_and_field() {
    let text = std::fs::read_to_string(sample("vas.yaml")).unwrap();
    let file = temp_file("cost.yaml", &text.replacen("\"25.0\"", "\"cheap\"", 1));
    let r = wva(&["simulate", "--va", &file]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.starts_with(&format!(
            "error: {file}: VA granite-8b-l40s: spec.variantCost is \"cheap\""
        )),
        "{}",
        r.err
    );
    let file = temp_file("annotation.yaml", &text.replacen("\"48\"", "\"many\"", 1));
    let r = wva(&["simulate", "--va", &file]);
    assert!(
        r.err
            .contains("metadata.annotations.sim.wva.llmd.ai/max-num-seqs is \"many\""),
        "{}",
        r.err
    );
    let file = temp_file("seqs.yaml", &text.replacen("\"48\"", "\"100000\"", 1));
    let r = wva(&["simulate", "--va", &file]);
    assert!(
        r.err
            .contains("max-num-seqs is 100000, expected a number from 1 to 4096"),
        "{}",
        r.err
    );
    let file = temp_file(
        "batched.yaml",
        &text.replacen(
            "sim.wva.llmd.ai/max-num-seqs: \"48\"",
            "sim.wva.llmd.ai/max-num-seqs: \"48\"\n    sim.wva.llmd.ai/max-num-batched-tokens: \"0\"",
            1,
        ),
    );
    let r = wva(&["simulate", "--va", &file]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .contains("max-num-batched-tokens is 0, expected a number from 1 to 10000000"),
        "{}",
        r.err
    );
    let file = temp_file(
        "other-model.yaml",
        &text.replacen("modelID: ibm/granite-3.3-8b", "modelID: other", 1),
    );
    let r = wva(&["simulate", "--va", &file]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("wva simulate runs one model"), "{}", r.err);
    let file = temp_file("not-a-va.yaml", "kind: Pod\n");
    let r = wva(&["simulate", "--va", &file]);
    assert!(r.err.contains("not a VariantAutoscaling"), "{}", r.err);
}

#[test]
fn bad_saturation_config_names_the_file_and_key() {
    let file = temp_file("step.yaml", "scaleUpStep: two\n");
    let r = wva(&["simulate", "--saturation-config", &file]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .starts_with(&format!("error: {file}: entry `default`:")),
        "{}",
        r.err
    );
    assert!(
        r.err.contains("two") && r.err.contains("sized"),
        "{}",
        r.err
    );
    let file = temp_file("range.yaml", "kvCacheThreshold: 0.05\n");
    let r = wva(&["simulate", "--saturation-config", &file]);
    assert!(
        r.err.contains(
            "kvSpareTrigger is 0.1, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.05)"
        ),
        "{}",
        r.err
    );
}

#[test]
fn missing_file_and_bad_duration_are_errors() {
    let r = wva(&["simulate", "--profile", "/nonexistent/profile.csv"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .starts_with("error: /nonexistent/profile.csv: cannot read:"),
        "{}",
        r.err
    );
    let r = wva(&["simulate", "--duration", "ten"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.starts_with("error: command line: --duration:"),
        "{}",
        r.err
    );
}

#[test]
fn decide_prints_decisions_for_a_recorded_snapshot() {
    let r = wva(&["decide", "--snapshot", &sample("snapshot.json")]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r.out);
    let decisions = v["decisions"].as_array().expect("decisions");
    let find = |name: &str| {
        decisions
            .iter()
            .find(|d| d["variant"] == name)
            .unwrap_or_else(|| panic!("{name} in {decisions:?}"))
    };
    // Prometheus error: the safety net keeps the previous desired 4.
    let granite = find("granite-8b-l40s");
    assert_eq!(granite["desiredReplicas"], 4);
    assert_eq!(granite["safetyNet"], true);
    assert_eq!(granite["fallbackSource"], "previous-desired");
    assert_eq!(granite["metricsAvailable"]["reason"], "PrometheusError");
    // Saturated llama: the cheap A100 variant would grow, but no A100 is free.
    let a100 = find("llama-70b-a100");
    assert_eq!(
        (a100["desiredReplicas"].as_u64(), a100["limited"].as_bool()),
        (Some(1), Some(true))
    );
    // ... so the replica goes to the H100 variant, which has 2 free H100s (one replica's worth).
    let h100 = find("llama-70b-h100");
    assert_eq!(
        (h100["desiredReplicas"].as_u64(), h100["reason"].as_str()),
        (Some(3), Some("scale-up"))
    );
    // No requests in the retention period: qwen goes to zero.
    let qwen = find("qwen-32b-h100");
    assert_eq!(
        (qwen["desiredReplicas"].as_u64(), qwen["reason"].as_str()),
        (Some(0), Some("scale-to-zero"))
    );
    assert_eq!(v["models"].as_array().map(Vec::len), Some(3));
}

#[test]
fn decide_rejects_bad_snapshots_with_the_field_path() {
    let r = wva(&["decide", "--snapshot", "/nonexistent.json"]);
    assert_eq!(r.code, 1);
    assert!(r.err.contains("cannot read"), "{}", r.err);
    let file = temp_file(
        "broken.json",
        "{\"now\": 1, \"models\": [ {\"namespace\": \"a\"} ] }",
    );
    let r = wva(&["decide", "--snapshot", &file]);
    assert_eq!(r.code, 1);
    assert!(r.out.is_empty());
    assert!(
        r.err.starts_with(&format!(
            "error: {file}: models[0]: missing field `modelID`"
        )),
        "{}",
        r.err
    );
    let file = temp_file(
        "negative.json",
        "{\"now\": 1, \"models\": [ {\"namespace\": \"a\", \"modelID\": \"m\", \"variants\": [{\"name\": \"v\", \"currentReplicas\": -1}]} ] }",
    );
    let r = wva(&["decide", "--snapshot", &file]);
    assert!(
        r.err.starts_with(&format!(
            "error: {file}: models[0].variants[0].currentReplicas: invalid value: integer `-1`"
        )),
        "{}",
        r.err
    );
    let text = std::fs::read_to_string(sample("snapshot.json")).unwrap();
    let file = temp_file(
        "bounds.json",
        &text.replacen(
            "\"maxReplicas\": 6",
            "\"maxReplicas\": 6, \"minReplicas\": 9",
            1,
        ),
    );
    let r = wva(&["decide", "--snapshot", &file]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .contains("models[0].variants[0].minReplicas (9) is above maxReplicas (6)"),
        "{}",
        r.err
    );
}

#[test]
fn decide_rejects_percents_impossible_counts_and_duplicate_pods() {
    let text = std::fs::read_to_string(sample("snapshot.json")).unwrap();
    let v: serde_json::Value = json(&text);
    let mut bad = v.clone();
    let variant = &mut bad["models"][0]["variants"][0];
    variant["replicas"][0]["kvCacheUsage"] = serde_json::json!(85);
    variant["readyReplicas"] = serde_json::json!(99);
    variant["maxReplicas"] = serde_json::json!(0);
    variant
        .as_object_mut()
        .expect("object")
        .remove("minReplicas");
    let first = variant["replicas"][0].clone();
    variant["replicas"]
        .as_array_mut()
        .expect("replicas")
        .push(first);
    let file = temp_file("percent.json", &bad.to_string());
    let r = wva(&["decide", "--snapshot", &file]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.is_empty());
    let at = "models[0].variants[0]";
    for expected in [
        format!(
            "{at}.replicas[0].kvCacheUsage is 85, expected a fraction from 0 to 1 (it looks like a percent: write 0.85)"
        ),
        format!("{at}.maxReplicas is 0, expected at least 1 (omit it for no bound)"),
        format!("{at}.readyReplicas (99) is above currentReplicas"),
        "is already listed at models[0].variants[0].replicas[0]; list each pod once".to_string(),
    ] {
        assert!(r.err.contains(&expected), "{expected} not in {}", r.err);
    }
}

#[test]
fn decide_reads_stdin_and_bounds_the_input() {
    let r = wva(&["decide", "--snapshot", "/dev/zero"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: /dev/zero: larger than 16777216 bytes, the most read from one input; pass the file itself\n"
    );
}

/// The A100 variant's desired replicas at `time` (s) of a `--json` run.
fn a100_desired_at(v: &serde_json::Value, time: u64) -> u64 {
    let row = v["timeline"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["time"] == time))
        .unwrap_or_else(|| panic!("no timeline row at {time}s"));
    row["desired"][0].as_u64().expect("desired")
}

/// HYBRID mode learns each variant's performance model from the emulated latencies and keeps
/// the replicas it says the load needs: on the built-in ramp without scale-up window, at
/// 18:00 the saturation analyzer alone scales the A100 variant down from 3 to 2 (and
/// saturates again), HYBRID keeps 3; over the hour it is saturated for less time. The header
/// names the mode and the service class.
#[test]
fn hybrid_mode_keeps_the_replicas_the_model_needs() {
    let args = ["simulate", "--json", "--hpa-scale-up-window", "0s"];
    let capacity_only = wva(&args);
    let hybrid = wva(&[&args[..], &["--hybrid"]].concat());
    assert_eq!(hybrid.code, 0, "{}", hybrid.err);
    let (c, h) = (json(&capacity_only.out), json(&hybrid.out));
    assert_eq!(
        (
            c["summary"]["hybrid"].clone(),
            h["summary"]["hybrid"].clone()
        ),
        (false.into(), true.into())
    );
    assert_eq!(a100_desired_at(&c, 1080), 2, "capacity-only scales down");
    assert_eq!(a100_desired_at(&h, 1080), 3, "HYBRID holds");
    let saturated = |v: &serde_json::Value| v["summary"]["secondsSaturated"].as_u64().unwrap();
    assert!(
        saturated(&h) < saturated(&c),
        "{} vs {}",
        saturated(&h),
        saturated(&c)
    );

    let text = wva(&["simulate", "--hybrid"]);
    let mut lines = text.out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with("scaleUpStep one, HYBRID mode"),
        "{}",
        text.out
    );
    assert_eq!(
        lines.next(),
        Some("  service class standard (priority 1): ITL 40 ms, TTFT 2000 ms")
    );
    assert!(
        text.out.contains("summary (scaleUpStep one, HYBRID mode):"),
        "{}",
        text.out
    );
}

/// `--service-class` takes the service-class ConfigMap (or one of its values) and gives the
/// model its class; a bad class or a class list without the model is an error naming the
/// file, the class and the field.
#[test]
fn service_class_file_sets_the_slo_and_bad_ones_are_errors() {
    let config_map = temp_file(
        "classes.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: service-classes-config\ndata:\n  premium.yaml: |\n    name: Premium\n    priority: 1\n    data:\n      - model: meta/llama-3.1-8b\n        slo-tpot: 30\n        slo-ttft: 500\n",
    );
    let r = wva(&["simulate", "--hybrid", "--service-class", &config_map]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.out.lines().nth(1),
        Some("  service class Premium (priority 1): ITL 30 ms, TTFT 500 ms")
    );

    let bad = temp_file(
        "bad-class.yaml",
        "name: gold\npriority: 0\ndata:\n  - model: meta/llama-3.1-8b\n    slo-tpot: -1\n",
    );
    let r = wva(&["simulate", "--service-class", &bad]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains(&format!("error: {bad}: serviceClasses: class \"gold\": priority is 0, expected 1 (highest) to 100 (lowest)")),
        "{}",
        r.err
    );
    assert!(r.err.contains("slo-tpot is -1"), "{}", r.err);

    let r = wva(&[
        "simulate",
        "--service-class",
        &config_map,
        "--va",
        &sample("vas.yaml"),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.err
            .contains("no service class lists model \"ibm/granite-3.3-8b\""),
        "{}",
        r.err
    );
}
