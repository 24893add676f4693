//! Publishing decisions as `wva_*` metrics, and removing the series of variants that are gone.

use crate::keys::{self, VaRef};
use crate::run::effects::Scaling;
use std::collections::{HashMap, HashSet};
use wva_api::metrics::WvaMetrics;
use wva_engine::Decision;

/// The label value when a variant's accelerator is unknown.
const UNKNOWN: &str = "unknown";

/// Which series are exported per VA, so that stale ones can be deleted. The metrics handles
/// are passed in: this is plain bookkeeping.
#[derive(Debug, Default)]
pub struct Series {
    /// VA → accelerator label of the series currently exported.
    gauges: HashMap<VaRef, String>,
    /// VA → (direction, reason) label pairs of the scaling counter.
    counted: HashMap<VaRef, Vec<(&'static str, String)>>,
    /// VA → fallback sources of the safety-net counter.
    fallbacks: HashMap<VaRef, Vec<String>>,
    /// VA → (model ID, accelerator) label pairs of the GPU-limited counter.
    limited: HashMap<VaRef, Vec<(String, String)>>,
    /// VAs whose model-ID-not-found counter is exported.
    model_id_not_found: HashSet<VaRef>,
}

impl Series {
    /// Sets the three gauges of `decision`. When the variant's accelerator label changed, the
    /// new series is set before the old one is deleted, so an HPA never sees none. A
    /// `scaling` counts one operation in the scaling counter.
    pub fn publish(&mut self, metrics: &WvaMetrics, decision: &Decision, scaling: Option<Scaling>) {
        let key = keys::decided(decision);
        let accelerator = decision
            .accelerator
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(UNKNOWN);
        let labels = [
            decision.variant.as_str(),
            decision.namespace.as_str(),
            accelerator,
        ];
        let desired = f64::from(decision.desired_replicas);
        let current = f64::from(decision.current_replicas);
        metrics
            .wva_desired_replicas
            .with_label_values(&labels)
            .set(desired);
        metrics
            .wva_current_replicas
            .with_label_values(&labels)
            .set(current);
        let ratio = if current > 0.0 {
            desired / current
        } else {
            desired
        };
        metrics
            .wva_desired_ratio
            .with_label_values(&labels)
            .set(ratio);
        if let Some(old) = self.gauges.insert(key.clone(), accelerator.to_string())
            && old != accelerator
        {
            delete_gauges(metrics, &key, &old);
        }
        if decision.limited {
            metrics
                .wva_gpu_limited_decisions_total
                .with_label_values(&[
                    &decision.variant,
                    &decision.namespace,
                    &decision.model_id,
                    accelerator,
                ])
                .inc();
            let pair = (decision.model_id.clone(), accelerator.to_string());
            let limited = self.limited.entry(key.clone()).or_default();
            if !limited.contains(&pair) {
                limited.push(pair);
            }
        }
        if let Some(scaling) = scaling {
            let pair = (
                scaling.direction.metric_label(),
                decision.reason.as_str().to_string(),
            );
            metrics
                .wva_replica_scaling_total
                .with_label_values(&[&decision.variant, &decision.namespace, pair.0, &pair.1])
                .inc();
            let counted = self.counted.entry(key).or_default();
            if !counted.contains(&pair) {
                counted.push(pair);
            }
        }
    }

    /// Counts one safety-net activation of `decision`'s variant.
    pub fn count_safety_net(&mut self, metrics: &WvaMetrics, decision: &Decision) {
        let source = decision.fallback_source.map_or("", |f| f.as_str());
        metrics
            .wva_safety_net_activations_total
            .with_label_values(&[&decision.variant, &decision.namespace, source])
            .inc();
        let sources = self.fallbacks.entry(keys::decided(decision)).or_default();
        if !sources.iter().any(|s| s == source) {
            sources.push(source.to_string());
        }
    }

    /// Counts one start of a model ID mismatch of `va` (its `ModelIDNotFound` event).
    pub fn count_model_id_not_found(&mut self, metrics: &WvaMetrics, va: &VaRef) {
        metrics
            .wva_model_id_not_found_total
            .with_label_values(&[va.name.as_str(), keys::namespace(va)])
            .inc();
        self.model_id_not_found.insert(va.clone());
    }

    /// Deletes every series of a variant (its Deployment or VA is gone).
    pub fn forget(&mut self, metrics: &WvaMetrics, va: &VaRef) {
        let (namespace, variant) = (keys::namespace(va), va.name.as_str());
        if let Some(accelerator) = self.gauges.remove(va) {
            delete_gauges(metrics, va, &accelerator);
        }
        for (direction, reason) in self.counted.remove(va).unwrap_or_default() {
            // Absent label sets are not an error worth reporting.
            drop(
                metrics
                    .wva_replica_scaling_total
                    .remove_label_values(&[variant, namespace, direction, &reason]),
            );
        }
        for (model, accelerator) in self.limited.remove(va).unwrap_or_default() {
            drop(
                metrics
                    .wva_gpu_limited_decisions_total
                    .remove_label_values(&[variant, namespace, &model, &accelerator]),
            );
        }
        if self.model_id_not_found.remove(va) {
            drop(
                metrics
                    .wva_model_id_not_found_total
                    .remove_label_values(&[variant, namespace]),
            );
        }
        for source in self.fallbacks.remove(va).unwrap_or_default() {
            drop(
                metrics
                    .wva_safety_net_activations_total
                    .remove_label_values(&[variant, namespace, &source]),
            );
        }
    }

    /// Variants that currently have series.
    pub fn published(&self) -> impl Iterator<Item = &VaRef> {
        self.gauges.keys()
    }
}

fn delete_gauges(metrics: &WvaMetrics, va: &VaRef, accelerator: &str) {
    let labels = [va.name.as_str(), keys::namespace(va), accelerator];
    for gauge in [
        &metrics.wva_desired_replicas,
        &metrics.wva_current_replicas,
        &metrics.wva_desired_ratio,
    ] {
        drop(gauge.remove_label_values(&labels));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::metrics_text as text;
    use prometheus::Registry;
    use wva_api::metrics::MetricSet;

    fn decision(accelerator: &str, desired: u32, current: u32) -> Decision {
        Decision {
            accelerator: Some(accelerator.into()),
            model_id: "m".into(),
            ..crate::testing::decision(current, desired)
        }
    }

    #[test]
    fn publishes_gauges_counts_changes_and_deletes_series() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, None).expect("registers");
        let mut series = Series::default();
        let publish = |series: &mut Series, d: &Decision, previous: Option<u32>| {
            series.publish(&metrics, d, Scaling::of(d, previous));
        };
        publish(&mut series, &decision("H100", 3, 2), Some(2));
        publish(&mut series, &decision("H100", 3, 2), Some(3));
        let out = text(&registry);
        assert!(out.contains(r#"wva_desired_replicas{accelerator_type="H100",namespace="llm-d",variant_name="llama-8b"} 3"#), "{out}");
        assert!(out.contains(r#"wva_desired_ratio{accelerator_type="H100",namespace="llm-d",variant_name="llama-8b"} 1.5"#), "{out}");
        assert!(out.contains(r#"wva_replica_scaling_total{direction="scale-up",namespace="llm-d",reason="scale-up",variant_name="llama-8b"} 1"#), "{out}");
        publish(&mut series, &decision("A100", 3, 0), Some(3));
        let out = text(&registry);
        assert!(
            !out.contains(r#"accelerator_type="H100""#),
            "old accelerator series deleted: {out}"
        );
        assert!(out.contains(r#"wva_desired_ratio{accelerator_type="A100",namespace="llm-d",variant_name="llama-8b"} 3"#), "{out}");
        let mut limited = decision("A100", 3, 0);
        limited.limited = true;
        publish(&mut series, &limited, Some(3));
        assert!(text(&registry).contains(r#"wva_gpu_limited_decisions_total{accelerator_type="A100",model_id="m",namespace="llm-d",variant_name="llama-8b"} 1"#));
        let mut fallback = decision("A100", 3, 3);
        fallback.safety_net = true;
        fallback.fallback_source = Some(wva_engine::FallbackSource::PreviousDesired);
        series.count_safety_net(&metrics, &fallback);
        assert!(text(&registry).contains(r#"wva_safety_net_activations_total{fallback_source="previous-desired",namespace="llm-d",variant_name="llama-8b"} 1"#));
        let va = kube::runtime::reflector::ObjectRef::new("llama-8b").within("llm-d");
        series.count_model_id_not_found(&metrics, &va);
        assert!(text(&registry).contains(
            r#"wva_model_id_not_found_total{namespace="llm-d",variant_name="llama-8b"} 1"#
        ));
        series.forget(&metrics, &va);
        let out = text(&registry);
        assert!(!out.contains("llama-8b"), "{out}");
    }
}
