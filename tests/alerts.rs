//! The alerting rules (`charts/workload-variant-autoscaler/files/wva-alerts.rules.yaml`,
//! generated from `wva_api::alerts::ALERTS`) under `promtool test rules`: every alert has a
//! case whose series fire it and a case whose series must not.
//!
//! promtool comes with Debian's prometheus package (`tests/run.sh` installs it): found as
//! `$WVA_PROMTOOL_BIN`, else next to the prometheus binary.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use wva_api::alerts::ALERTS;

const TESTS: &str = "tests/alerts/wva-alerts.test.yaml";

#[test]
fn promtool_passes_every_alert_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let promtool = wva_testkit::promtool_binary().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(&promtool)
        .args(["test", "rules", TESTS])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    assert!(
        out.status.success(),
        "promtool test rules {TESTS} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_alert_has_a_firing_and_a_silent_case() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTS))
        .expect("the promtool tests");
    let tests: Value = serde_saphyr::from_str(&text).expect("YAML");
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().expect("alert_rule_test"))
        .collect();
    for alert in ALERTS {
        let of_alert = || cases.iter().filter(|c| c["alertname"] == alert.name);
        let fires = |c: &&&Value| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty());
        assert!(
            of_alert().any(|c| fires(&c)),
            "no case fires {}",
            alert.name
        );
        assert!(
            of_alert().any(|c| !fires(&c)),
            "no case where {} must stay silent",
            alert.name
        );
    }
}
