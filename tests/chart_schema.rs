//! The chart's values schema rejects the values the controller would reject, where JSON
//! Schema can say it: `helm template` fails naming the value (the controller's own checks,
//! e.g. a queue trigger below its threshold, run in `wva config` and at startup).

use std::path::PathBuf;
use std::process::Command;
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

/// A rule between two values (a trigger at or above its threshold) is beyond the schema: the
/// chart renders, and `wva config` on the rendered manifests rejects it, naming the key, the
/// value and the rule, exactly as the controller would.
#[test]
fn rules_between_values_are_caught_by_wva_config_on_the_rendered_chart() {
    let chart =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/workload-variant-autoscaler");
    let render = |extra: &[&str]| {
        let out = Command::new(tools::helm())
            .args(["template", "wva", "--namespace", "wva-system"])
            .arg(&chart)
            .args(BASE_URL)
            .args(extra)
            .output()
            .expect("helm runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let check = |manifests: Vec<u8>| {
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
            &manifests,
        )
    };
    let good = check(render(&[]));
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = check(render(&[
        "--set-json",
        r#"wva.capacityScaling.default={"kvCacheThreshold":0.8,"queueLengthThreshold":5,"kvSpareTrigger":0.1,"queueSpareTrigger":10}"#,
    ]));
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("error: ConfigMap wva-system/wva-saturation-scaling-config key default: queueSpareTrigger is 10, expected 0 <= queueSpareTrigger < queueLengthThreshold (5)"),
        "{err}"
    );
}
