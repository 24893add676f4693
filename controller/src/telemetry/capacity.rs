//! The token-capacity analyzer's figures per model as `wva_required_capacity`,
//! `wva_spare_capacity` and `wva_saturation_utilization`, and the removal of the series of
//! models that no longer have them.

use std::collections::{BTreeMap, HashSet};
use wva_api::metrics::WvaMetrics;
use wva_api::metrics::prometheus::GaugeVec;
use wva_engine::ModelReport;

/// One model's figures from the engine's capacity analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityFigures {
    /// Required capacity (RC).
    pub required: f64,
    /// Spare capacity (SC).
    pub spare: f64,
    /// Demand over supply.
    pub utilization: f64,
}

impl CapacityFigures {
    /// The figures of `report`; `None` when the model has no capacity analysis (it uses the
    /// saturation analyzer, or the safety net decided).
    pub fn of(report: &ModelReport) -> Option<Self> {
        report.capacity.as_ref().map(|c| CapacityFigures {
            required: c.required,
            spare: c.spare,
            utilization: c.utilization,
        })
    }
}

/// The models (namespace, model ID) whose capacity gauges are exported.
#[derive(Debug, Default)]
pub struct CapacitySeries {
    exported: HashSet<(String, String)>,
}

impl CapacitySeries {
    /// Sets the gauges of every model of a cycle that has figures, and deletes those of every
    /// model exported before that has none now or is not in the cycle. A model listed more
    /// than once (one report per prefill/decode role) shows its busiest role: the figures
    /// with the highest utilization.
    pub fn publish<'a>(
        &mut self,
        metrics: &WvaMetrics,
        models: impl IntoIterator<Item = (&'a str, &'a str, Option<CapacityFigures>)>,
    ) {
        let mut busiest: BTreeMap<(&str, &str), CapacityFigures> = BTreeMap::new();
        for (namespace, model_id, figures) in models {
            let Some(figures) = figures else {
                continue;
            };
            busiest
                .entry((namespace, model_id))
                .and_modify(|kept| {
                    if figures.utilization > kept.utilization {
                        *kept = figures;
                    }
                })
                .or_insert(figures);
        }
        let mut now = HashSet::new();
        for ((namespace, model_id), figures) in busiest {
            let values = [figures.required, figures.spare, figures.utilization];
            for (gauge, value) in gauges(metrics).into_iter().zip(values) {
                gauge.with_label_values(&[model_id, namespace]).set(value);
            }
            now.insert((namespace.to_string(), model_id.to_string()));
        }
        for (namespace, model_id) in self.exported.difference(&now) {
            delete(metrics, namespace, model_id);
        }
        self.exported = now;
    }
}

/// The three gauges, in the order of [`CapacityFigures`]' fields.
fn gauges(metrics: &WvaMetrics) -> [&GaugeVec; 3] {
    [
        &metrics.wva_required_capacity,
        &metrics.wva_spare_capacity,
        &metrics.wva_saturation_utilization,
    ]
}

fn delete(metrics: &WvaMetrics, namespace: &str, model_id: &str) {
    // An absent label set is not an error worth reporting.
    for gauge in gauges(metrics) {
        drop(gauge.remove_label_values(&[model_id, namespace]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Registry;
    use wva_api::metrics::MetricSet;

    use crate::testing::metrics_text as text;

    fn figures(required: f64, spare: f64, utilization: f64) -> Option<CapacityFigures> {
        Some(CapacityFigures {
            required,
            spare,
            utilization,
        })
    }

    #[test]
    fn gauges_follow_the_models_with_a_capacity_analysis() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, None).expect("registers");
        let mut series = CapacitySeries::default();
        series.publish(
            &metrics,
            [
                ("llm-d", "org/llama", figures(4096.0, 0.0, 0.92)),
                ("llm-d", "org/mistral", figures(0.0, 12_000.0, 0.31)),
                ("llm-d", "org/v1-model", None),
            ],
        );
        let out = text(&registry);
        for line in [
            r#"wva_required_capacity{model_id="org/llama",namespace="llm-d"} 4096"#,
            r#"wva_spare_capacity{model_id="org/llama",namespace="llm-d"} 0"#,
            r#"wva_saturation_utilization{model_id="org/llama",namespace="llm-d"} 0.92"#,
            r#"wva_spare_capacity{model_id="org/mistral",namespace="llm-d"} 12000"#,
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
        assert!(
            !out.contains("org/v1-model"),
            "a V1 model has no series: {out}"
        );

        // llama falls back to the safety net (no analysis), mistral is gone.
        series.publish(&metrics, [("llm-d", "org/llama", None)]);
        let out = text(&registry);
        assert!(!out.contains("org/llama"), "{out}");
        assert!(!out.contains("org/mistral"), "{out}");

        series.publish(&metrics, [("llm-d", "org/llama", figures(1.0, 2.0, 0.5))]);
        assert!(
            text(&registry)
                .contains(r#"wva_spare_capacity{model_id="org/llama",namespace="llm-d"} 2"#)
        );
        series.publish(&metrics, []);
        assert!(!text(&registry).contains("org/llama"), "no model left");

        // A prefill/decode model has a report per role: the busiest role's figures show.
        series.publish(
            &metrics,
            [
                ("llm-d", "org/llama", figures(0.0, 500.0, 0.4)),
                ("llm-d", "org/llama", figures(2048.0, 0.0, 0.95)),
            ],
        );
        assert!(
            text(&registry)
                .contains(r#"wva_required_capacity{model_id="org/llama",namespace="llm-d"} 2048"#)
        );
    }
}
