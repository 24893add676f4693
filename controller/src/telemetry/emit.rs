//! Publishing decisions as `wva_*` metrics, and removing the series of variants that are gone.

use std::collections::BTreeMap;
use wva_api::metrics::WvaMetrics;
use wva_engine::Decision;

/// The label value when a variant's accelerator is unknown.
const UNKNOWN: &str = "unknown";

/// Publishes decisions; remembers which series exist so that stale ones can be deleted.
pub struct Emitter {
    metrics: WvaMetrics,
    /// (namespace, VA) → accelerator label of the series currently exported.
    series: BTreeMap<(String, String), String>,
    /// (namespace, VA) → (direction, reason) label pairs of the scaling counter.
    counted: BTreeMap<(String, String), Vec<(String, String)>>,
    /// (namespace, VA) → fallback sources of the safety-net counter.
    fallbacks: BTreeMap<(String, String), Vec<String>>,
}

impl Emitter {
    /// An emitter writing to `metrics`.
    pub fn new(metrics: WvaMetrics) -> Self {
        Emitter {
            metrics,
            series: BTreeMap::new(),
            counted: BTreeMap::new(),
            fallbacks: BTreeMap::new(),
        }
    }

    /// Sets the three gauges of `decision`. When the variant's accelerator label changed, the
    /// new series is set before the old one is deleted, so an HPA never sees none. When the
    /// desired replicas differ from `previous_desired` (the last published decision), the
    /// scaling counter counts one operation.
    pub fn publish(&mut self, decision: &Decision, previous_desired: Option<u32>) {
        let key = (decision.namespace.clone(), decision.variant.clone());
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
        self.metrics
            .wva_desired_replicas
            .with_label_values(&labels)
            .set(desired);
        self.metrics
            .wva_current_replicas
            .with_label_values(&labels)
            .set(current);
        let ratio = if current > 0.0 {
            desired / current
        } else {
            desired
        };
        self.metrics
            .wva_desired_ratio
            .with_label_values(&labels)
            .set(ratio);
        if let Some(old) = self.series.insert(key.clone(), accelerator.to_string())
            && old != accelerator
        {
            self.delete_gauges(&key, &old);
        }
        let before = previous_desired.unwrap_or(decision.current_replicas);
        if decision.desired_replicas != before {
            let direction = if decision.desired_replicas > before {
                "scale-up"
            } else {
                "scale-down"
            };
            let pair = (direction.to_string(), decision.reason.as_str().to_string());
            self.metrics
                .wva_replica_scaling_total
                .with_label_values(&[&decision.variant, &decision.namespace, &pair.0, &pair.1])
                .inc();
            let counted = self.counted.entry(key).or_default();
            if !counted.contains(&pair) {
                counted.push(pair);
            }
        }
    }

    /// Counts one safety-net activation of `decision`'s variant.
    pub fn count_safety_net(&mut self, decision: &Decision) {
        let source = decision.fallback_source.map_or("", |f| f.as_str());
        self.metrics
            .wva_safety_net_activations_total
            .with_label_values(&[&decision.variant, &decision.namespace, source])
            .inc();
        let key = (decision.namespace.clone(), decision.variant.clone());
        let sources = self.fallbacks.entry(key).or_default();
        if !sources.iter().any(|s| s == source) {
            sources.push(source.to_string());
        }
    }

    /// Deletes every series of a variant (its Deployment or VA is gone).
    pub fn forget(&mut self, namespace: &str, variant: &str) {
        let key = (namespace.to_string(), variant.to_string());
        if let Some(accelerator) = self.series.remove(&key) {
            self.delete_gauges(&key, &accelerator);
        }
        for (direction, reason) in self.counted.remove(&key).unwrap_or_default() {
            // Absent label sets are not an error worth reporting.
            drop(
                self.metrics
                    .wva_replica_scaling_total
                    .remove_label_values(&[variant, namespace, &direction, &reason]),
            );
        }
        for source in self.fallbacks.remove(&key).unwrap_or_default() {
            drop(
                self.metrics
                    .wva_safety_net_activations_total
                    .remove_label_values(&[variant, namespace, &source]),
            );
        }
    }

    /// Variants that currently have series.
    pub fn published(&self) -> impl Iterator<Item = &(String, String)> {
        self.series.keys()
    }

    fn delete_gauges(&self, (namespace, variant): &(String, String), accelerator: &str) {
        let labels = [variant.as_str(), namespace.as_str(), accelerator];
        for gauge in [
            &self.metrics.wva_desired_replicas,
            &self.metrics.wva_current_replicas,
            &self.metrics.wva_desired_ratio,
        ] {
            drop(gauge.remove_label_values(&labels));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, Registry, TextEncoder};
    use wva_api::metrics::MetricSet;
    use wva_engine::{Action, MetricsCondition, MetricsReason, Reason};

    fn decision(accelerator: &str, desired: u32, current: u32) -> Decision {
        Decision {
            namespace: "llm-d".into(),
            model_id: "m".into(),
            variant: "llama-8b".into(),
            accelerator: Some(accelerator.into()),
            current_replicas: current,
            desired_replicas: desired,
            action: Action::ScaleUp,
            reason: Reason::ScaleUp,
            message: String::new(),
            safety_net: false,
            fallback_source: None,
            limited: false,
            clamped: false,
            metrics_available: MetricsCondition {
                status: true,
                reason: MetricsReason::MetricsFound,
                message: String::new(),
            },
        }
    }

    fn text(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .expect("encodes");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn publishes_gauges_counts_changes_and_deletes_series() {
        let registry = Registry::new();
        let mut emitter = Emitter::new(WvaMetrics::register(&registry, None).expect("registers"));
        emitter.publish(&decision("H100", 3, 2), Some(2));
        emitter.publish(&decision("H100", 3, 2), Some(3));
        let out = text(&registry);
        assert!(out.contains(r#"wva_desired_replicas{accelerator_type="H100",namespace="llm-d",variant_name="llama-8b"} 3"#), "{out}");
        assert!(out.contains(r#"wva_desired_ratio{accelerator_type="H100",namespace="llm-d",variant_name="llama-8b"} 1.5"#), "{out}");
        assert!(out.contains(r#"wva_replica_scaling_total{direction="scale-up",namespace="llm-d",reason="scale-up",variant_name="llama-8b"} 1"#), "{out}");
        emitter.publish(&decision("A100", 3, 0), Some(3));
        let out = text(&registry);
        assert!(
            !out.contains(r#"accelerator_type="H100""#),
            "old accelerator series deleted: {out}"
        );
        assert!(out.contains(r#"wva_desired_ratio{accelerator_type="A100",namespace="llm-d",variant_name="llama-8b"} 3"#), "{out}");
        let mut fallback = decision("A100", 3, 3);
        fallback.safety_net = true;
        fallback.fallback_source = Some(wva_engine::FallbackSource::PreviousDesired);
        emitter.count_safety_net(&fallback);
        assert!(text(&registry).contains(r#"wva_safety_net_activations_total{fallback_source="previous-desired",namespace="llm-d",variant_name="llama-8b"} 1"#));
        emitter.forget("llm-d", "llama-8b");
        let out = text(&registry);
        assert!(!out.contains("llama-8b"), "{out}");
    }
}
