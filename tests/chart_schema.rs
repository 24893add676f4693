//! The chart's values schema rejects the values the controller would reject, where JSON
//! Schema can say it: `helm template` fails naming the value (the controller's own checks,
//! e.g. a queue trigger below its threshold, run in `wva config` and at startup).

use std::path::PathBuf;
use std::process::{Command, Output};
use wva_testkit::tools;

/// The one value a vanilla install must set; the `--set`s of a test come after it and win.
const BASE_URL: [&str; 2] = [
    "--set",
    "wva.prometheus.baseURL=https://prometheus.monitoring.svc:9090",
];

/// `helm template` of the chart with `args`: (success, stderr).
fn template(args: &[&str]) -> (bool, String) {
    let chart =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/workload-variant-autoscaler");
    let out = Command::new(tools::helm())
        .args(["template", "wva"])
        .arg(&chart)
        .args(BASE_URL)
        .args(args)
        .output()
        .expect("helm runs: `bash tests/tools/install-helm.sh` or set WVA_HELM_BIN");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm template` of the chart in namespace `wva-system` with `extra`.
fn render(extra: &[&str]) -> Output {
    let chart =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/workload-variant-autoscaler");
    Command::new(tools::helm())
        .args(["template", "wva", "--namespace", "wva-system"])
        .arg(&chart)
        .args(BASE_URL)
        .args(extra)
        .output()
        .expect("helm runs")
}

/// `wva config` on rendered manifests, as the controller the chart installs reads them.
fn check(manifests: &[u8]) -> Output {
    tools::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_wva"))
            .env_clear()
            .env("POD_NAMESPACE", "wva-system")
            // The chart names the main ConfigMap after the release and passes the name on.
            .env(
                "CONFIG_MAP_NAME",
                "wva-workload-variant-autoscaler-variantautoscaling-config",
            )
            .args(["config", "--config-map", "-"]),
        manifests,
    )
}

#[test]
fn invalid_values_fail_the_render_naming_the_value() {
    for (set, expected) in [
        ("wva.reconcileInterval=0s", "wva.reconcileInterval"),
        ("wva.reconcileInterval=500ms", "wva.reconcileInterval"),
        ("wva.prometheus.baseURL=not a url", "wva.prometheus.baseURL"),
        ("wva.prometheus.baseURL=https://", "wva.prometheus.baseURL"),
        (
            "wva.prometheus.baseURL=http://prometheus:9090",
            "wva.prometheus.baseURL",
        ),
        (
            "wva.parameters.PROMETHEUS_QUERY_TIMEOUT=abc",
            "wva.parameters.PROMETHEUS_QUERY_TIMEOUT",
        ),
        (
            "wva.parameters.PROMETHEUS_QUERY_RETRIES=50",
            "wva.parameters.PROMETHEUS_QUERY_RETRIES: Must be less than or equal to 10",
        ),
        ("wva.parameters.LOG_JSON=perhaps", "wva.parameters.LOG_JSON"),
        (
            "wva.capacityScaling.default.kvCacheThreshold=0",
            "kvCacheThreshold: Must be greater than 0",
        ),
        (
            "wva.capacityScaling.default.queueLengthThreshold=0",
            "queueLengthThreshold: Must be greater than 0",
        ),
    ] {
        let (ok, err) = template(&["--set", set]);
        assert!(!ok, "{set} rendered");
        assert!(err.contains(expected), "{set}: {err}");
    }
    for fine in [
        "wva.reconcileInterval=30s",
        "wva.parameters.LOG_JSON=On",
        "wva.prometheus.allowHTTP=true,wva.prometheus.baseURL=http://prometheus:9090",
    ] {
        let (ok, err) = template(&["--set", fine]);
        assert!(ok, "{fine}: {err}");
    }
}

/// A rule between two values (a trigger at or above its threshold, both triggers 0) is beyond
/// JSON Schema: the chart's template refuses to render it, and `wva config` (the controller's
/// own check) rejects the same entry in a ConfigMap, both naming the field, the value and the
/// rule in the same words. The chart with valid values passes `wva config`.
#[test]
fn rules_between_values_fail_the_render_as_wva_config_names_them() {
    let good = render(&[]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let checked = check(&good.stdout);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let default = |kv: f64, queue: f64, kv_spare: f64, queue_spare: f64| {
        format!(
            r#"{{"kvCacheThreshold":{kv},"queueLengthThreshold":{queue},"kvSpareTrigger":{kv_spare},"queueSpareTrigger":{queue_spare}}}"#
        )
    };
    // (default entry, overrides, the entry as a ConfigMap holds it, the chart's error, the rule)
    let cases = [
        (
            default(0.8, 5.0, 0.1, 10.0),
            "{}".to_string(),
            "  default: |\n    kvCacheThreshold: 0.8\n    queueLengthThreshold: 5\n    kvSpareTrigger: 0.1\n    queueSpareTrigger: 10\n",
            "wva.capacityScaling.default: queueSpareTrigger is 10, ",
            "queueSpareTrigger is 10, expected 0 <= queueSpareTrigger < queueLengthThreshold (5)",
        ),
        (
            default(0.3, 5.0, 0.1, 3.0),
            r#"{"llama":{"modelID":"meta/llama","kvSpareTrigger":0.35}}"#.to_string(),
            "  default: |\n    kvCacheThreshold: 0.3\n    queueLengthThreshold: 5\n    kvSpareTrigger: 0.1\n    queueSpareTrigger: 3\n  llama: |\n    model_id: meta/llama\n    kvSpareTrigger: 0.35\n",
            "wva.capacityScaling.overrides.llama: kvSpareTrigger is 0.35, ",
            "kvSpareTrigger is 0.35, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.3)",
        ),
        (
            default(0.8, 5.0, 0.0, 0.0),
            "{}".to_string(),
            "  default: |\n    kvCacheThreshold: 0.8\n    queueLengthThreshold: 5\n    kvSpareTrigger: 0\n    queueSpareTrigger: 0\n",
            "wva.capacityScaling.default: kvSpareTrigger and queueSpareTrigger are both 0",
            "kvSpareTrigger and queueSpareTrigger are both 0, expected at least one above 0",
        ),
    ];
    for (default, overrides, data, chart_error, rule) in cases {
        let out = render(&[
            "--set-json",
            &format!("wva.capacityScaling.default={default}"),
            "--set-json",
            &format!("wva.capacityScaling.overrides={overrides}"),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{default} {overrides} rendered");
        assert!(err.contains(chart_error) && err.contains(rule), "{err}");
        let config_map = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wva-saturation-scaling-config\n  namespace: wva-system\ndata:\n{data}"
        );
        let rejected = check(config_map.as_bytes());
        let err = String::from_utf8_lossy(&rejected.stderr);
        assert_eq!(rejected.status.code(), Some(1), "{err}");
        assert!(
            err.contains("ConfigMap wva-system/wva-saturation-scaling-config key ")
                && err.contains(rule),
            "{err}"
        );
    }
}

/// `analyzers` (the token-capacity analyzer) renders into the saturation entries as
/// `wva config` and the controller read them; the schema rejects an unknown name and a
/// threshold out of range, and `wva config` the rule between the two thresholds.
#[test]
fn analyzers_render_into_the_saturation_entries() {
    let render = |analyzers: &str| {
        render(&[
            "--set-json",
            &format!("wva.capacityScaling.default.analyzers={analyzers}"),
            "--set-json",
            r#"wva.capacityScaling.overrides={"llama":{"modelID":"meta/llama","analyzers":[]}}"#,
        ])
    };
    let good = render(r#"[{"name":"saturation","scaleUpThreshold":0.9}]"#);
    let text = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    for entry in [
        "    analyzers:\n      - name: saturation\n        scaleUpThreshold: 0.9\n",
        "    model_id: \"meta/llama\"\n    analyzers:\n      []\n",
    ] {
        assert!(text.contains(entry), "{entry:?} not in {text}");
    }
    let checked = check(&good.stdout);
    let out = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        out.contains(
            "ConfigMap wva-system/wva-saturation-scaling-config: 2 valid entries, 0 rejected"
        ),
        "{out}"
    );

    for (analyzers, expected) in [
        (
            r#"[{"name":"saturaton"}]"#,
            "analyzers.0.name does not match: \"saturation\"",
        ),
        (
            r#"[{"name":"saturation","scaleUpThreshold":1.5}]"#,
            "scaleUpThreshold: Must be less than or equal to 1",
        ),
    ] {
        let out = render(analyzers);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{analyzers} rendered");
        assert!(err.contains(expected), "{analyzers}: {err}");
    }
    let crossed =
        render(r#"[{"name":"saturation","scaleUpThreshold":0.6,"scaleDownBoundary":0.8}]"#);
    assert!(
        crossed.status.success(),
        "the schema cannot compare two values"
    );
    let rejected = check(&crossed.stdout);
    let err = String::from_utf8_lossy(&rejected.stderr);
    assert_eq!(rejected.status.code(), Some(1), "{err}");
    assert!(
        err.contains("key default: analyzers[0].scaleDownBoundary is 0.8, expected below scaleUpThreshold (0.6)"),
        "{err}"
    );
}
