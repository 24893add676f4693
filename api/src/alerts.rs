//! The alerting rules, declared once.
//!
//! build.rs renders [`ALERTS`] into the chart's `files/wva-alerts.rules.yaml`: a plain
//! Prometheus rules file for a Prometheus without the Operator, which the chart's
//! PrometheusRule template also embeds (`.Files.Get`), so both always agree. Each alert has a
//! runbook section in `docs/troubleshooting.md` (its anchor is the lower-cased alert name), and
//! `tests/alerts/wva-alerts.test.yaml` fires each with `promtool test rules`.

use crate::render::{RenderError, to_yaml};
use serde::Serialize;
use std::collections::BTreeMap;

/// Path of the rules file, relative to the chart directory.
pub const RULES_FILE: &str = "files/wva-alerts.rules.yaml";

/// The rule group's name.
pub const GROUP: &str = "workload-variant-autoscaler";

/// One alerting rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alert {
    /// The alert name.
    pub name: &'static str,
    /// The PromQL expression; every series it returns fires.
    pub expr: &'static str,
    /// How long the expression must hold before the alert fires (a Prometheus duration).
    pub for_: &'static str,
    /// `warning` or `critical`.
    pub severity: &'static str,
    /// One line.
    pub summary: &'static str,
    /// What happens and for which object (templated with `$labels`).
    pub description: &'static str,
}

impl Alert {
    /// The runbook section of the alert in `docs/troubleshooting.md`.
    pub fn runbook(&self) -> String {
        format!("docs/troubleshooting.md#{}", self.name.to_lowercase())
    }
}

/// The namespace of a model or VA in a description: scraped through the chart's ServiceMonitor
/// the metric's `namespace` label becomes `exported_namespace` (the target's namespace, the
/// controller's, takes `namespace`); scraped with `honor_labels` it stays `namespace`.
macro_rules! model_namespace {
    () => {
        "{{ or $labels.exported_namespace $labels.namespace }}"
    };
}

/// Every alert WVA ships. Per-model and per-VA expressions group by both `exported_namespace`
/// and `namespace`, so they work with either scrape configuration.
pub const ALERTS: &[Alert] = &[
    Alert {
        name: "WVAOptimizationLoopStalled",
        expr: "time() - max by (namespace, controller_instance) (wva_last_successful_cycle_timestamp_seconds) > 3 * max by (namespace, controller_instance) (wva_engine_interval_seconds)",
        for_: "2m",
        severity: "critical",
        summary: "The WVA engine loop has not completed a cycle in 3 intervals",
        description: "No engine cycle of the WVA controller in namespace {{ $labels.namespace }} has completed for {{ $value | humanizeDuration }} (more than 3 times GLOBAL_OPT_INTERVAL): wva_desired_replicas of every model is frozen.",
    },
    Alert {
        name: "WVAMetricsCollectionFailing",
        expr: "sum by (namespace, controller_instance, signal) (rate(wva_prometheus_queries_total{result=\"error\"}[5m])) / sum by (namespace, controller_instance, signal) (rate(wva_prometheus_queries_total[5m])) > 0.5",
        for_: "5m",
        severity: "warning",
        summary: "Most WVA Prometheus queries fail",
        description: "More than half of the {{ $labels.signal }} queries of the WVA controller in namespace {{ $labels.namespace }} failed over the last 5 minutes: the models it manages are on the safety net.",
    },
    Alert {
        name: "WVAModelOnSafetyNet",
        expr: "max by (exported_namespace, namespace, model_id) (wva_model_safety_net) == 1",
        for_: "10m",
        severity: "warning",
        summary: "A model has been on the WVA safety net for 10 minutes",
        description: concat!(
            "Model {{ $labels.model_id }} in namespace ",
            model_namespace!(),
            " has been decided by the safety net (signals missing or collection failed) for 10 minutes: its replicas do not follow the load."
        ),
    },
    Alert {
        name: "WVAModelSaturatedAtMaxReplicas",
        expr: "max by (exported_namespace, namespace, model_id) (wva_model_saturated_at_max) == 1",
        for_: "10m",
        severity: "warning",
        summary: "A model needs more capacity but every variant is at maxReplicas",
        description: concat!(
            "Model {{ $labels.model_id }} in namespace ",
            model_namespace!(),
            " has been short of capacity for 10 minutes while every variant is at its maxReplicas."
        ),
    },
    Alert {
        name: "WVAReplicaScalingThrashing",
        expr: "sum by (exported_namespace, namespace, variant_name) (increase(wva_replica_scaling_total{direction=\"scale-up\"}[30m])) >= 2 and sum by (exported_namespace, namespace, variant_name) (increase(wva_replica_scaling_total{direction=\"scale-down\"}[30m])) >= 2",
        for_: "0m",
        severity: "warning",
        summary: "A variant scaled up and down repeatedly within 30 minutes",
        description: concat!(
            "Variant {{ $labels.variant_name }} (the VariantAutoscaling of that name; its spec.modelID is the model) in namespace ",
            model_namespace!(),
            " scaled up at least twice and down at least twice within 30 minutes."
        ),
    },
    Alert {
        name: "WVAGPUResourceExhausted",
        expr: "sum by (exported_namespace, namespace, model_id, accelerator_type) (increase(wva_gpu_limited_decisions_total[10m])) > 0 and on (accelerator_type) (max by (accelerator_type) (wva_free_gpus) == 0)",
        for_: "5m",
        severity: "warning",
        summary: "No free GPUs of a type while a model needs more",
        description: concat!(
            "Scale-ups of model {{ $labels.model_id }} in namespace ",
            model_namespace!(),
            " are limited: no {{ $labels.accelerator_type }} GPU is free (limited mode)."
        ),
    },
    Alert {
        name: "WVAVariantTargetMissing",
        expr: "max by (exported_namespace, namespace, model_id) (wva_model_missing_targets) > 0",
        for_: "10m",
        severity: "warning",
        summary: "A VariantAutoscaling points at a missing Deployment",
        description: concat!(
            "{{ $value }} VariantAutoscaling(s) of model {{ $labels.model_id }} in namespace ",
            model_namespace!(),
            " have pointed at a missing Deployment for 10 minutes: they are not scaled."
        ),
    },
];

#[derive(Serialize)]
struct RulesFile {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    alert: &'static str,
    expr: &'static str,
    #[serde(rename = "for")]
    for_: &'static str,
    labels: BTreeMap<&'static str, &'static str>,
    annotations: BTreeMap<&'static str, String>,
}

/// The rules file: a header comment, then `groups:` (also the PrometheusRule's `spec`).
pub fn rules_yaml() -> Result<String, RenderError> {
    let file = RulesFile {
        groups: vec![Group {
            name: GROUP,
            rules: ALERTS
                .iter()
                .map(|a| Rule {
                    alert: a.name,
                    expr: a.expr,
                    for_: a.for_,
                    labels: [("severity", a.severity)].into(),
                    annotations: [
                        ("summary", a.summary.to_string()),
                        ("description", a.description.to_string()),
                        ("runbook", a.runbook()),
                    ]
                    .into(),
                })
                .collect(),
        }],
    };
    let body = to_yaml("the alerting rules", &file)?;
    Ok(format!(
        "# {}\n# Alerting rules of the workload-variant-autoscaler; runbooks in docs/troubleshooting.md.\n{body}",
        crate::render::HEADER
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{MetricSet, WvaMetrics, metrics_read_by};

    #[test]
    fn alerts_read_only_declared_metrics_and_are_unique_and_described() {
        let declared: Vec<&str> = WvaMetrics::SPECS.iter().map(|s| s.name).collect();
        let mut names = std::collections::BTreeSet::new();
        for alert in ALERTS {
            assert!(names.insert(alert.name), "{} declared twice", alert.name);
            let read = metrics_read_by(alert.expr, WvaMetrics::SPECS);
            assert!(!read.is_empty(), "{} reads no WVA metric", alert.name);
            for metric in read {
                assert!(
                    declared.contains(&metric),
                    "{} reads {metric}, which WvaMetrics does not declare",
                    alert.name
                );
            }
            assert!(
                alert.description.contains("$labels.namespace"),
                "{} description names no namespace",
                alert.name
            );
            assert!(["warning", "critical"].contains(&alert.severity));
        }
    }

    #[test]
    fn every_alert_has_a_runbook_section() {
        let guide = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/troubleshooting.md"),
        )
        .expect("docs/troubleshooting.md");
        for alert in ALERTS {
            assert!(
                guide.contains(&format!("### {}\n", alert.name)),
                "docs/troubleshooting.md has no `### {}` section",
                alert.name
            );
        }
    }
}
