//! The `wva` binary as users run it: exit codes, messages, precedence, generated references.

use std::process::{Command, Output};

const URL: (&str, &str) = ("PROMETHEUS_BASE_URL", "https://prometheus:9090");

/// Runs `wva` with exactly `env` (nothing inherited) and `args`.
fn wva(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wva"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("wva runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn missing_prometheus_url_exits_1_and_says_how_to_fix_it() {
    let out = wva(&["config"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to load configuration - this is a fatal error"),
        "{err}"
    );
    assert!(err.contains("PROMETHEUS_BASE_URL is required but not set: set the env var PROMETHEUS_BASE_URL or the key PROMETHEUS_BASE_URL in ConfigMap workload-variant-autoscaler-system/wva-variantautoscaling-config"), "{err}");
}

#[test]
fn bad_flag_and_env_values_exit_1_naming_key_source_and_value() {
    let out = wva(
        &["config", "--leader-election-lease-duration=forever"],
        &[URL, ("METRICS_SECURE", "perhaps")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(r#"invalid value "forever" for LEADER_ELECTION_LEASE_DURATION from flag --leader-election-lease-duration"#), "{err}");
    assert!(err.contains(r#"invalid value "perhaps" for METRICS_SECURE from env var METRICS_SECURE: expected true/false, yes/no, on/off or 1/0 (any case)"#), "{err}");
}

#[test]
fn explicit_flag_beats_env_and_unpassed_flag_does_not() {
    let env = [
        URL,
        ("METRICS_BIND_ADDRESS", ":8080"),
        ("LEADER_ELECT", "true"),
    ];
    let out = wva(&["config", "--metrics-bind-address=:8443"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("METRICS_BIND_ADDRESS = :8443 (flag --metrics-bind-address)"),
        "{text}"
    );
    assert!(
        text.contains("LEADER_ELECT = true (env var LEADER_ELECT)"),
        "{text}"
    );
    assert!(
        text.contains("HEALTH_PROBE_BIND_ADDRESS = :8081 (default)"),
        "{text}"
    );
}

#[test]
fn secrets_are_redacted_and_unlanded_features_warn() {
    let env = [
        URL,
        ("PROMETHEUS_BEARER_TOKEN", "s3cr3t"),
        ("PROMETHEUS_METRICS_CACHE_TTL", "45s"),
    ];
    let out = wva(&["config"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("s3cr3t"));
    assert!(
        stdout(&out)
            .contains("PROMETHEUS_BEARER_TOKEN = <redacted> (env var PROMETHEUS_BEARER_TOKEN)")
    );
    assert!(stderr(&out).contains(r#"warning: PROMETHEUS_METRICS_CACHE_TTL="45s" has no effect yet: the Prometheus metrics cache has not landed"#), "{}", stderr(&out));
}

#[test]
fn run_help_lists_every_parameter_with_key_and_default() {
    let out = wva(&["run", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    let params: serde_json::Value =
        serde_json::from_str(&stdout(&wva(&["params", "--format", "json"], &[]))).expect("json");
    for spec in params.as_array().expect("array") {
        let key = spec["key"].as_str().expect("key");
        assert!(
            help.contains(&format!("{key}]")) || help.contains(&format!("  {key} ")),
            "{key} missing from --help"
        );
        if let Some(flag) = spec["flag"].as_str() {
            assert!(
                help.contains(&format!("--{flag}")),
                "--{flag} missing from --help"
            );
        }
    }
    assert!(help.contains("--leader-elect[=<BOOL>]"));
    assert!(
        help.contains("[default: 60s] [mutable]"),
        "GLOBAL_OPT_INTERVAL row"
    );
}

#[test]
fn params_and_crd_print_exactly_the_committed_references() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| std::fs::read_to_string(format!("{root}/{path}")).expect(path);
    assert_eq!(
        stdout(&wva(&["params"], &[])),
        read("generated/docs/parameters.md")
    );
    let crd = stdout(&wva(&["crd"], &[]));
    assert_eq!(crd, read("generated/crds/llmd.ai_variantautoscalings.yaml"));
    assert_eq!(
        crd,
        read("charts/workload-variant-autoscaler/crds/llmd.ai_variantautoscalings.yaml")
    );
}

#[test]
fn config_map_file_is_the_config_map_source_below_env() {
    let dir = std::env::temp_dir().join(format!("wva-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("cm.yaml");
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wva-variantautoscaling-config\ndata:\n  PROMETHEUS_BASE_URL: https://prometheus:9090\n  GLOBAL_OPT_INTERVAL: 120s\n  METRICS_BIND_ADDRESS: \":9090\"\n";
    std::fs::write(&path, manifest).expect("writes");
    let path = path.to_string_lossy().into_owned();
    let out = wva(
        &["config", "--config-map", &path],
        &[("METRICS_BIND_ADDRESS", ":8080")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("GLOBAL_OPT_INTERVAL = 120s (ConfigMap workload-variant-autoscaler-system/wva-variantautoscaling-config key GLOBAL_OPT_INTERVAL)"), "{text}");
    assert!(
        text.contains("METRICS_BIND_ADDRESS = :8080 (env var METRICS_BIND_ADDRESS)"),
        "{text}"
    );
    std::fs::write(dir.join("bad.yaml"), "data: [1, 2").expect("writes");
    let bad = dir.join("bad.yaml").to_string_lossy().into_owned();
    let out = wva(&["config", "--config-map", &bad], &[URL]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("--config-map {bad} is not a ConfigMap manifest")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_without_cluster_credentials_exits_1_saying_so() {
    let out = wva(
        &["run"],
        &[
            URL,
            ("HOME", "/nonexistent"),
            ("KUBECONFIG", "/nonexistent/kubeconfig"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to start the controller - this is a fatal error"),
        "{err}"
    );
    assert!(
        err.contains("/nonexistent/kubeconfig") || err.contains("Kubernetes credentials"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = wva(&["run", "--no-such-flag"], &[URL]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unexpected argument '--no-such-flag'"));
}

/// Writes `content` to a file of this test process and returns its path.
fn temp_manifest(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wva-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("writes");
    path.to_string_lossy().into_owned()
}

#[test]
fn config_checks_every_config_map_of_a_multi_document_file_under_its_own_name() {
    let sample = format!(
        "{}/docs/samples/configmaps.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = wva(&["config", "--config-map", &sample], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "ConfigMap workload-variant-autoscaler-system/wva-saturation-scaling-config: 2 valid entries, 0 rejected",
        "ConfigMap workload-variant-autoscaler-system/wva-model-scale-to-zero-config: 2 valid entries, 0 rejected",
        "configuration valid (main ConfigMap workload-variant-autoscaler-system/wva-variantautoscaling-config):",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: wva-variantautoscaling-config\n    namespace: team-a\n  data:\n    PROMETHEUS_BASE_URL: https://p:9090\n    GLOBAL_OPT_INTERVL: 30s\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: wva-saturation-scaling-config\n    namespace: team-a\n  data:\n    default: |\n      queueLengthThreshold: 5\n      queueSpareTrigger: 10\n";
    let out = wva(
        &["config", "--config-map", &temp_manifest("list.yaml", list)],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("warning: ConfigMap team-a/wva-variantautoscaling-config key GLOBAL_OPT_INTERVL is not a parameter and is ignored: did you mean GLOBAL_OPT_INTERVAL?"), "{err}");
    assert!(err.contains("error: ConfigMap team-a/wva-saturation-scaling-config key default: queueSpareTrigger is 10, expected 0 <= queueSpareTrigger < queueLengthThreshold (5)"), "{err}");
    assert!(
        stdout(&out).contains(
            "ConfigMap team-a/wva-saturation-scaling-config: 0 valid entries, 1 rejected"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn config_rejects_what_run_rejects() {
    for (env, expected) in [
        (
            ("PROMETHEUS_BASE_URL", "http://prometheus:9090"),
            "set PROMETHEUS_ALLOW_HTTP=true to accept it",
        ),
        (("PROMETHEUS_BASE_URL", "ftp://x"), "not \"ftp\""),
        (("CONTROLLER_INSTANCE", "bad label!"), "is not allowed"),
    ] {
        let env = if env.0 == URL.0 {
            vec![env]
        } else {
            vec![URL, env]
        };
        let out = wva(&["config"], &env);
        assert_eq!(out.status.code(), Some(1), "{env:?}");
        assert!(stderr(&out).contains(expected), "{env:?}: {}", stderr(&out));
        assert!(!stdout(&out).contains("configuration valid"), "{env:?}");
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wva"))
        .env_clear()
        .arg("params")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wva runs");
    drop(child.stdout.take()); // the reader goes away before wva writes
    let out = child.wait_with_output().expect("wva ends");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn decide_reads_the_snapshot_from_stdin() {
    let snapshot = std::fs::read(format!(
        "{}/sim/scenarios/snapshot.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample snapshot");
    let out = wva_testkit::tools::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_wva"))
            .env_clear()
            .args(["decide", "--snapshot", "-"]),
        &snapshot,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"decisions\""), "{}", stdout(&out));
}

/// The worked example of docs/engine.md ("Token-capacity analyzer (V2)"): its numbers, as
/// `wva decide` prints them for `sim/scenarios/snapshot-v2.json`.
#[test]
fn decide_runs_the_token_capacity_analyzer_on_the_v2_sample() {
    let path = format!(
        "{}/sim/scenarios/snapshot-v2.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = wva(&["decide", "--snapshot", &path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cycle: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let capacity = &cycle["models"][0]["capacity"];
    assert_eq!(capacity["unit"], "tokens");
    let number = |key: &str| capacity[key].as_f64().expect(key);
    assert_eq!(number("demand"), 128500.0);
    assert_eq!(number("supply"), 132000.0);
    assert_eq!(number("anticipatedSupply"), 132000.0);
    assert!((number("required") - 19176.47).abs() < 0.01, "{capacity}");
    assert_eq!(number("spare"), 0.0);
    assert!(
        (number("utilization") - 0.9735).abs() < 0.0001,
        "{capacity}"
    );
    let decisions = cycle["decisions"].as_array().expect("decisions");
    let a100 = &decisions[0];
    assert_eq!(
        (&a100["variant"], &a100["desiredReplicas"], &a100["reason"]),
        (&"a100".into(), &3.into(), &"scale-up".into())
    );
    assert_eq!(
        a100["message"],
        "demand 128500 tokens > 0.85 × anticipated supply 132000 tokens (required 19176 tokens): \
         +1 replicas of a100 (30000 tokens each, cost 0.67/1000 tokens), 2 -> 3"
    );
    let h100 = &decisions[1];
    assert_eq!(
        (&h100["desiredReplicas"], &h100["reason"]),
        (&1.into(), &"scale-up-other-variant".into())
    );
}

/// HYBRID mode on `sim/scenarios/snapshot-hybrid.json` (docs/engine.md, "HYBRID mode
/// (experimental)"): the model with a service class scales up before saturation because the
/// queueing model predicts its SLO is missed; the model without one runs capacity-only.
#[test]
fn decide_arbitrates_the_hybrid_sample() {
    let path = format!(
        "{}/sim/scenarios/snapshot-hybrid.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = wva(&["decide", "--snapshot", &path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cycle: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let decisions = cycle["decisions"].as_array().expect("decisions");
    let granite = &decisions[0];
    assert_eq!(
        (
            &granite["variant"],
            &granite["desiredReplicas"],
            &granite["reason"],
            &granite["optimizationReason"]
        ),
        (
            &"granite-8b-l40s".into(),
            &2.into(),
            &"scale-down".into(),
            &"CapacityOnlyMode".into()
        )
    );
    let message = granite["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "Hybrid mode: capacity-only: no service class for model ibm/granite-3.3-8b; capacity: "
        ),
        "{message}"
    );
    let llama = &decisions[1];
    assert_eq!(
        (
            &llama["variant"],
            &llama["desiredReplicas"],
            &llama["reason"],
            &llama["optimizationReason"]
        ),
        (
            &"llama-8b-h100".into(),
            &3.into(),
            &"scale-up".into(),
            &"OptimizationSucceeded".into()
        )
    );
    assert_eq!(
        llama["message"],
        "Hybrid mode: model wants 3 replicas for 40.00 req/s (at 20.00 req/s on each of 2 \
         replicas: predicted TTFT 42666.5 ms, ITL 33.1 ms; class premium SLO TTFT 2000 ms, ITL 30 \
         ms); capacity: KV spare 0.300 and queue spare 4.00 at or above triggers; removing a \
         replica would not be safe"
    );
}

/// The service-class ConfigMap (HYBRID mode) is checked as the controller checks it: as a
/// whole, every problem named.
#[test]
fn config_checks_the_service_class_config_map() {
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: serviceclass\n  namespace: team-a\ndata:\n  serviceClasses: |\n    - name: Premium\n      model: meta/llama\n      priority: 1\n      slo-itl: 24\n      slo-ttw: 500\n  performanceParameters: |\n    - variant: llama-h100\n      alpha: 8\n      beta: 0.01\n      gamma: 0.001\n";
    let out = wva(
        &[
            "config",
            "--config-map",
            &temp_manifest("classes.yaml", good),
        ],
        &[URL],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "ConfigMap team-a/serviceclass: 2 valid entries (service classes, read in HYBRID mode)"
        ),
        "{}",
        stdout(&out)
    );
    let bad = good
        .replace("priority: 1", "priority: 0")
        .replace("alpha: 8", "alpha: -8");
    let out = wva(
        &[
            "config",
            "--config-map",
            &temp_manifest("bad-classes.yaml", &bad),
        ],
        &[URL],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error: ConfigMap team-a/serviceclass: serviceClasses: class \"Premium\": priority is 0, expected 1 (highest) to 100 (lowest)"), "{err}");
    assert!(err.contains("error: ConfigMap team-a/serviceclass: performanceParameters: variant \"llama-h100\": alpha is -8, expected milliseconds above 0"), "{err}");
    assert!(
        stdout(&out).contains("ConfigMap team-a/serviceclass: rejected as a whole (2 problems)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn config_reports_bad_analyzer_entries() {
    let map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wva-saturation-scaling-config\n  namespace: team-a\ndata:\n  default: |\n    analyzers:\n      - name: saturation\n  llama: |\n    model_id: meta/llama\n    analyzers:\n      - name: saturaton\n        scaleDownBoundary: 0.9\n";
    let out = wva(
        &[
            "config",
            "--config-map",
            &temp_manifest("analyzers.yaml", map),
        ],
        &[URL],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: ConfigMap team-a/wva-saturation-scaling-config key llama: analyzers[0].name is \"saturaton\", expected one of: saturation; did you mean \"saturation\"?; \
             analyzers[0].scaleDownBoundary is 0.9, expected below scaleUpThreshold (0.85); otherwise a scale-down would at once call for a scale-up"
        ),
        "{err}"
    );
    assert!(
        stdout(&out).contains(
            "ConfigMap team-a/wva-saturation-scaling-config: 1 valid entries, 1 rejected"
        ),
        "{}",
        stdout(&out)
    );
}
