//! What the decision scenarios do and read beyond the shared harness: write the scale-to-zero
//! ConfigMap, read one `/metrics` value and the log's lines. Only the kube client is used, so
//! all of it works against a real cluster too.

use crate::harness::{Cluster, DEADLINE, Wva};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

impl Cluster {
    /// Creates or replaces the ConfigMap `name` of the scenario's namespace with `data`.
    pub async fn put_config_map(&self, name: &str, data: &[(&str, &str)]) {
        let data: BTreeMap<&str, &str> = data.iter().copied().collect();
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.namespace},
            "data": data,
        });
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .patch(
                name,
                &PatchParams::apply("wva-e2e").force(),
                &Patch::Apply(config_map),
            )
            .await
            .expect("ConfigMap applied");
    }
}

/// The value of `wva_desired_replicas` for the VA `variant` in `namespace` in a `/metrics`
/// text, if the series exists.
pub fn desired_replicas(metrics: &str, namespace: &str, variant: &str) -> Option<f64> {
    gauge(metrics, "wva_desired_replicas", namespace, variant)
}

/// The value of the series of `name` labelled with `namespace` and `variant_name`.
pub fn gauge(metrics: &str, name: &str, namespace: &str, variant: &str) -> Option<f64> {
    let (ns, va) = (
        format!("namespace=\"{namespace}\""),
        format!("variant_name=\"{variant}\""),
    );
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.rsplit_once("} ")?;
        let labels: Vec<&str> = labels.split(',').collect();
        (labels.contains(&ns.as_str()) && labels.contains(&va.as_str()))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// The log lines containing every one of `needles`.
pub fn log_lines(wva: &Wva, needles: &[&str]) -> Vec<String> {
    wva.log()
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits until at least `count` log lines contain every one of `needles`; returns them.
pub async fn wait_log_lines(wva: &Wva, needles: &[&str], count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines = log_lines(wva, needles);
        if lines.len() >= count {
            return lines;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {count} log lines with {needles:?}; log:\n{}",
            wva.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn reads_one_gauge() {
    let metrics = "# TYPE wva_desired_replicas gauge\n\
        wva_desired_replicas{accelerator_type=\"H100\",namespace=\"ns\",variant_name=\"a\"} 10\n\
        wva_desired_replicas{accelerator_type=\"A100\",namespace=\"ns\",variant_name=\"b\"} 1\n";
    assert_eq!(desired_replicas(metrics, "ns", "a"), Some(10.0));
    assert_eq!(desired_replicas(metrics, "ns", "b"), Some(1.0));
    assert_eq!(desired_replicas(metrics, "other", "a"), None);
}

/// Asserts that `/metrics` has a series of the declared metric `name` and that every series of
/// it carries exactly the labels `generated/docs/metrics.md` documents (plus `le` on histogram
/// buckets); returns the series lines.
pub fn documented_series<'m>(metrics: &'m str, name: &str) -> Vec<&'m str> {
    use wva_api::metrics::{MetricSet, WvaMetrics};
    let spec = WvaMetrics::SPECS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is not declared"));
    let series_name = if spec.kind == "histogram" {
        format!("{name}_bucket")
    } else {
        name.to_string()
    };
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(&series_name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect();
    assert!(!lines.is_empty(), "no {series_name} series in:\n{metrics}");
    let mut expected: Vec<&str> = spec.labels.to_vec();
    if spec.kind == "histogram" {
        expected.push("le");
    }
    expected.sort_unstable();
    for line in &lines {
        let mut labels: Vec<&str> = line
            .split_once('{')
            .and_then(|(_, rest)| rest.rsplit_once('}'))
            .map(|(labels, _)| {
                labels
                    .split("\",")
                    .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort_unstable();
        assert_eq!(labels, expected, "labels of {line}");
    }
    lines
}
