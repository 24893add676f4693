//! `wva simulate --compare` and `--plot`: the comparison table, the picture, and the copies of
//! both in the docs and the README.

mod common;

use common::{json, sample, temp_file, wva};

/// The lines of the `policy comparison` table the binary prints (title and header included).
fn policy_table(out: &str) -> Vec<&str> {
    out.lines()
        .skip_while(|l| !l.starts_with("policy comparison"))
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn compare_runs_one_sized_v2_and_hybrid_under_the_charts_hpa_and_a_fast_one() {
    let r = wva(&["simulate", "--compare"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let table = policy_table(&r.out);
    assert_eq!(table[0], "policy comparison (same scenario, same seed):");
    assert_eq!(
        table[1].split_whitespace().collect::<Vec<_>>(),
        [
            "policy",
            "time",
            "saturated",
            "replica-minutes",
            "cost",
            "TTFT",
            "p95",
            "scale",
            "events"
        ]
    );
    let names: Vec<&str> = table[2..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "one/hpa",
            "sized/hpa",
            "v2/hpa",
            "hybrid/hpa",
            "one/hpa-fast",
            "sized/hpa-fast",
            "v2/hpa-fast",
            "hybrid/hpa-fast"
        ]
    );
    // The main run is one/hpa: its summary is the table's first row.
    let v = json(&wva(&["simulate", "--compare", "--json"]).out);
    let policies = v["policies"].as_array().expect("policies");
    assert_eq!(policies[0]["policy"], "one/hpa");
    assert_eq!(policies[0]["summary"], v["summary"]);
    let saturated = |i: usize| policies[i]["summary"]["secondsSaturated"].as_u64().unwrap();
    let cost = |i: usize| policies[i]["summary"]["cost"].as_f64().unwrap();
    // sized saturates less than one; the fast HPA less than the chart's.
    assert!(saturated(1) < saturated(0), "{policies:?}");
    assert!(saturated(4) < saturated(0), "{policies:?}");
    assert!(saturated(5) < saturated(1), "{policies:?}");
    // V2 sits between: less saturated than one, cheaper than sized, under either HPA.
    for (one, sized, v2) in [(0, 1, 2), (4, 5, 6)] {
        assert!(saturated(v2) < saturated(one), "{policies:?}");
        assert!(cost(v2) < cost(sized), "{policies:?}");
    }
    // HYBRID never saturates longer than `one` (scale-down waits for the model's agreement),
    // and with the fast HPA it saturates less.
    assert!(saturated(3) <= saturated(0), "{policies:?}");
    assert!(saturated(7) < saturated(4), "{policies:?}");
}

#[test]
fn compare_takes_a_list_of_policies_and_rejects_unknown_ones() {
    let v = json(
        &wva(&[
            "simulate",
            "--json",
            "--duration",
            "10m",
            "--compare",
            "one/keda,sized/run",
        ])
        .out,
    );
    let policies = v["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 2);
    assert_eq!(policies[0]["policy"], "one/keda");
    assert_eq!(policies[1]["summary"]["scaleUpStep"], "sized");
    let without = json(&wva(&["simulate", "--json", "--duration", "10m"]).out);
    assert!(
        without.get("policies").is_none(),
        "no --compare, no policies"
    );
    for bad in ["fast", "two/hpa", "one/hpa-slow", "v3/hpa"] {
        let r = wva(&["simulate", "--compare", bad]);
        assert_eq!(r.code, 1, "{bad}");
        assert_eq!(
            r.err,
            format!(
                "error: command line: --compare policy {bad:?} is not ENGINE/AUTOSCALER; ENGINE is one of one, sized, v2, hybrid, AUTOSCALER one of hpa, hpa-fast, keda, run (e.g. sized/hpa-fast)\n"
            )
        );
    }
}

#[test]
fn v2_policy_decides_in_token_units_from_the_replicas_kv_size_and_request_size() {
    let v2 = wva(&[
        "simulate",
        "--json",
        "--saturation-config",
        &sample("saturation-v2.yaml"),
    ]);
    assert_eq!(v2.code, 0, "{}", v2.err);
    let v2 = json(&v2.out);
    let rows = v2["timeline"].as_array().expect("timeline");
    let analysed: Vec<&serde_json::Value> = rows.iter().filter_map(|r| r.get("capacity")).collect();
    // Every cycle with replicas reporting is a V2 analysis, in tokens (the emulated replicas
    // report their KV size and request size, not the KV-fraction fallback).
    assert!(
        analysed.len() > rows.len() / 2,
        "{} of {}",
        analysed.len(),
        rows.len()
    );
    for c in &analysed {
        assert_eq!(c["unit"], "tokens", "{c}");
    }
    // The burst needs more than the ready replicas hold: demand above supply, a scale-up.
    assert!(
        analysed
            .iter()
            .any(|c| c["demand"].as_f64() > c["supply"].as_f64()
                && c["required"].as_f64() > Some(0.0)),
        "{analysed:?}"
    );
    assert_eq!(v2["summary"]["analyzer"], "token-capacity");
    let text = wva(&[
        "simulate",
        "--saturation-config",
        &sample("saturation-v2.yaml"),
    ])
    .out;
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.ends_with("seed 1, token-capacity analyzer (V2)")),
        "{text:.300}"
    );
    assert!(text.contains("\nsummary (token-capacity analyzer (V2)):\n"));
    // The V1 run has no capacity analysis.
    let v1 = json(&wva(&["simulate", "--json"]).out);
    assert_eq!(v1["summary"]["analyzer"], "saturation");
    assert!(
        v1["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .all(|r| r.get("capacity").is_none())
    );
    // The `v2` policy of --compare is that configuration.
    let compared = json(&wva(&["simulate", "--json", "--compare", "v2/run"]).out);
    assert_eq!(compared["policies"][0]["policy"], "v2/run");
    assert_eq!(compared["policies"][0]["summary"], v2["summary"]);
}

/// The SVG of `wva simulate ARGS --plot FILE`.
fn plot(name: &str, args: &[&str]) -> String {
    let file = temp_file(name, "");
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--plot", &file]);
    let r = wva(&all);
    assert_eq!(r.code, 0, "{}", r.err);
    std::fs::read_to_string(&file).expect("the plot is written")
}

#[test]
fn plot_draws_load_replicas_saturation_and_ttft_with_axes_and_legend() {
    let svg = plot("run.svg", &["--duration", "20m"]);
    assert!(svg.starts_with("<svg "), "{}", &svg[..100.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    for text in [
        "meta/llama-3.1-8b: scaleUpStep one, HPA",
        "load",
        "requests/s",
        "replicas per variant",
        "llama-8b-a100 ready",
        "llama-8b-a100 desired (WVA)",
        "llama-8b-h100 ready",
        "KV-cache usage (average of ready replicas)",
        "kvCacheThreshold",
        "waiting requests (gateway + replica queues)",
        "time to first token, p95 per 30 s",
        "seconds",
        "time (minutes)",
    ] {
        assert!(
            svg.contains(&format!(">\n{text}\n</text>")),
            "no text {text:?}"
        );
    }
    // Five panels, one x axis each.
    assert_eq!(svg.matches(">\ntime (minutes)\n</text>").count(), 5);
    let html = plot("run.html", &["--duration", "20m"]);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.100}");
    assert!(html.contains("<svg "));
    let r = wva(&["simulate", "--plot", "run.png"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: run.png: --plot writes .svg or .html, not \"png\"; name the file e.g. run.svg\n"
    );
}

#[test]
fn compare_plot_draws_each_policy_in_its_own_column() {
    let svg = plot(
        "compare.svg",
        &["--duration", "10m", "--compare", "one/hpa,sized/hpa-fast"],
    );
    for title in ["one/hpa", "sized/hpa-fast"] {
        assert!(
            svg.contains(&format!(">\n{title}\n</text>")),
            "no column {title}"
        );
    }
    assert_eq!(svg.matches(">\ntime (minutes)\n</text>").count(), 10);
}

fn workspace_file(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn docs_picture_is_what_the_binary_draws() {
    let drawn = plot("docs.svg", &["--compare"]);
    assert!(
        workspace_file("docs/simulate.svg") == drawn,
        "docs/simulate.svg is not what the binary draws; regenerate it with `cargo run -q -- simulate --compare --plot docs/simulate.svg`"
    );
}

/// The README's table of the `--compare` policies, in Markdown.
fn readme_table(out: &str) -> String {
    let mut table = String::from(
        "| policy | time saturated (min:s) | replica-minutes | cost | TTFT p95 | scale events |\n|---|---|---|---|---|---|\n",
    );
    for row in &policy_table(out)[2..] {
        let c: Vec<&str> = row.split_whitespace().collect();
        let p95 = c[4].trim_end_matches('s');
        table += &format!(
            "| `{}` | {} | {} | {} | {p95} s | {} |\n",
            c[0], c[1], c[2], c[3], c[5]
        );
    }
    table
}

#[test]
fn readme_and_docs_tables_are_what_the_binary_prints() {
    let out = wva(&["simulate", "--compare"]).out;
    let want = readme_table(&out);
    assert!(
        workspace_file("README.md").contains(&want),
        "README.md: the table of `cargo run -q -- simulate --compare` has drifted; it is now\n{want}"
    );
    let table = policy_table(&out).join("\n");
    assert!(
        workspace_file("docs/simulate.md").contains(&format!("```\n{table}\n```")),
        "docs/simulate.md: the policy table of `cargo run -q -- simulate --compare` has drifted; it is now\n{table}"
    );
}
