//! Cycle-level metrics: what one engine cycle processed, how its Prometheus queries went, the
//! GPU inventory, the effective configuration, and the per-model and per-VA gauges, with the
//! bookkeeping that deletes the series of models and VAs that are gone.

use crate::keys::{self, VaRef};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use wva_api::metrics::WvaMetrics;
use wva_collector::QueryTiming;
use wva_engine::{Analysis, Cycle, Decision, EngineConfig, MetricsReason, ModelReport};

/// The `state` values of `wva_model_metrics_freshness`.
const FRESHNESS_STATES: [&str; 3] = ["fresh", "stale", "missing"];

/// The `signal` values of `wva_model_spare_capacity`.
const SPARE_SIGNALS: [&str; 2] = ["kv_cache", "queue"];

/// The `analyzer` label of `wva_config_info`: the analyzer the global `default` saturation
/// entry selects, `token-capacity` when it has an enabled analyzer in `analyzers` (V2), else
/// `saturation` (V1). Per-model overrides and namespace-local maps may select the other one.
pub fn analyzer_label(config: &EngineConfig) -> &'static str {
    let v2 = config
        .saturation
        .get(wva_api::saturation::DEFAULT_KEY)
        .is_some_and(crate::analyzers::selects_token_capacity);
    if v2 { "token-capacity" } else { "saturation" }
}

/// The labels of `wva_config_info`: analyzer, scale-to-zero, limited mode.
pub fn config_labels(config: &EngineConfig) -> [String; 3] {
    [
        analyzer_label(config).to_string(),
        config.scale_to_zero_enabled.to_string(),
        config.limited_mode.to_string(),
    ]
}

/// A model: (namespace, model ID).
type ModelRef = (String, String);

/// The series published per model, per accelerator type and for the configuration, so that
/// stale ones can be deleted.
#[derive(Debug, Default)]
pub struct CycleSeries {
    models: HashSet<ModelRef>,
    targets: BTreeSet<ModelRef>,
    accelerators: BTreeSet<String>,
    config: Option<[String; 3]>,
}

impl CycleSeries {
    /// Observes the duration of every query of the cycle and counts it by result.
    pub fn observe_queries(metrics: &WvaMetrics, timings: &[QueryTiming]) {
        for timing in timings {
            metrics
                .wva_prometheus_query_duration_seconds
                .with_label_values(&[timing.signal])
                .observe(timing.duration.as_secs_f64());
            let result = if timing.failed { "error" } else { "success" };
            metrics
                .wva_prometheus_queries_total
                .with_label_values(&[timing.signal, result])
                .inc();
        }
    }

    /// Sets `wva_config_info` to the effective settings (replacing an older label set).
    pub fn publish_config(&mut self, metrics: &WvaMetrics, labels: [String; 3]) {
        if self.config.as_ref() == Some(&labels) {
            return;
        }
        if let Some(old) = self.config.take() {
            drop(
                metrics
                    .wva_config_info
                    .remove_label_values(&label_refs(&old)),
            );
        }
        metrics
            .wva_config_info
            .with_label_values(&label_refs(&labels))
            .set(1);
        self.config = Some(labels);
    }

    /// Sets the free GPUs per accelerator type (limited mode); types no longer in the
    /// inventory, and every type when there is no inventory, lose their series.
    pub fn publish_free_gpus(
        &mut self,
        metrics: &WvaMetrics,
        free: Option<&BTreeMap<String, u32>>,
    ) {
        let now: BTreeSet<String> = free
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        for gone in self.accelerators.difference(&now) {
            drop(metrics.wva_free_gpus.remove_label_values(&[gone]));
        }
        for (accelerator, count) in free.into_iter().flatten() {
            metrics
                .wva_free_gpus
                .with_label_values(&[accelerator])
                .set(i64::from(*count));
        }
        self.accelerators = now;
    }

    /// Sets `wva_model_missing_targets` for every model with a VA in the cycle, from each
    /// VA's (namespace, model ID, target found), and deletes the series of models without VAs.
    pub fn publish_missing_targets<'a>(
        &mut self,
        metrics: &WvaMetrics,
        vas: impl IntoIterator<Item = (&'a str, &'a str, bool)>,
    ) {
        let mut missing: BTreeMap<ModelRef, i64> = BTreeMap::new();
        for (namespace, model, found) in vas {
            *missing
                .entry((namespace.to_string(), model.to_string()))
                .or_default() += i64::from(!found);
        }
        for ((namespace, model), count) in &missing {
            metrics
                .wva_model_missing_targets
                .with_label_values(&[model, namespace])
                .set(*count);
        }
        for (namespace, model) in &self.targets {
            if !missing.contains_key(&(namespace.clone(), model.clone())) {
                drop(
                    metrics
                        .wva_model_missing_targets
                        .remove_label_values(&[model, namespace]),
                );
            }
        }
        self.targets = missing.into_keys().collect();
    }

    /// Sets the per-model gauges from `cycle` and deletes those of models that are gone.
    /// `max_replicas`: each VA's maxReplicas, when set.
    pub fn publish_models(
        &mut self,
        metrics: &WvaMetrics,
        cycle: &Cycle,
        max_replicas: &HashMap<VaRef, u32>,
    ) {
        let mut now = HashSet::new();
        let mut by_model: HashMap<(&str, &str), Vec<&Decision>> = HashMap::new();
        for decision in &cycle.decisions {
            by_model
                .entry((&decision.namespace, &decision.model_id))
                .or_default()
                .push(decision);
        }
        // A prefill/decode model has one report per role; its gauges combine them.
        let mut reports: BTreeMap<(&str, &str), Vec<&ModelReport>> = BTreeMap::new();
        for report in &cycle.models {
            reports
                .entry((&report.namespace, &report.model_id))
                .or_default()
                .push(report);
        }
        for ((namespace, model), reports) in reports {
            let decisions = by_model.remove(&(namespace, model)).unwrap_or_default();
            let state = freshness(&decisions);
            for candidate in FRESHNESS_STATES {
                metrics
                    .wva_model_metrics_freshness
                    .with_label_values(&[model, namespace, candidate])
                    .set(i64::from(candidate == state));
            }
            let safety_net = decisions.iter().any(|d| d.safety_net);
            metrics
                .wva_model_safety_net
                .with_label_values(&[model, namespace])
                .set(i64::from(safety_net));
            // Some role needs more and every variant of that role is at maxReplicas.
            let saturated_at_max = reports.iter().any(|report| {
                let wants_more = report.analysis.as_ref().is_some_and(|a| a.should_scale_up);
                let mut of_role = decisions
                    .iter()
                    .filter(|d| d.role == report.role)
                    .peekable();
                wants_more
                    && of_role.peek().is_some()
                    && of_role.all(|d| {
                        max_replicas
                            .get(&keys::decided(d))
                            .is_some_and(|max| d.desired_replicas >= *max)
                    })
            });
            metrics
                .wva_model_saturated_at_max
                .with_label_values(&[model, namespace])
                .set(i64::from(saturated_at_max));
            let analyses: Vec<&Analysis> =
                reports.iter().filter_map(|r| r.analysis.as_ref()).collect();
            if analyses.is_empty() {
                delete_analysis(metrics, model, namespace);
            } else {
                // The tighter role's spare, the saturated replicas of every role.
                let least = |spare: fn(&Analysis) -> f64| {
                    analyses
                        .iter()
                        .map(|a| spare(a))
                        .fold(f64::INFINITY, f64::min)
                };
                let spares = [least(|a| a.avg_spare_kv), least(|a| a.avg_spare_queue)];
                for (signal, spare) in SPARE_SIGNALS.into_iter().zip(spares) {
                    metrics
                        .wva_model_spare_capacity
                        .with_label_values(&[model, namespace, signal])
                        .set(spare);
                }
                let saturated: u32 = analyses.iter().map(|a| a.saturated_replicas).sum();
                metrics
                    .wva_model_saturated_replicas
                    .with_label_values(&[model, namespace])
                    .set(i64::from(saturated));
            }
            now.insert((namespace.to_string(), model.to_string()));
        }
        for (namespace, model) in self.models.difference(&now) {
            delete_model(metrics, model, namespace);
        }
        self.models = now;
    }
}

/// `fresh` when a variant of the model read its signals, `stale` when the query failed (the
/// previous decision holds), else `missing`.
fn freshness(decisions: &[&Decision]) -> &'static str {
    if decisions.iter().any(|d| d.metrics_available.status) {
        "fresh"
    } else if decisions
        .iter()
        .any(|d| d.metrics_available.reason == MetricsReason::PrometheusError)
    {
        "stale"
    } else {
        "missing"
    }
}

fn label_refs(labels: &[String; 3]) -> [&str; 3] {
    [&labels[0], &labels[1], &labels[2]]
}

fn delete_analysis(metrics: &WvaMetrics, model: &str, namespace: &str) {
    for signal in SPARE_SIGNALS {
        drop(
            metrics
                .wva_model_spare_capacity
                .remove_label_values(&[model, namespace, signal]),
        );
    }
    drop(
        metrics
            .wva_model_saturated_replicas
            .remove_label_values(&[model, namespace]),
    );
}

fn delete_model(metrics: &WvaMetrics, model: &str, namespace: &str) {
    for state in FRESHNESS_STATES {
        drop(
            metrics
                .wva_model_metrics_freshness
                .remove_label_values(&[model, namespace, state]),
        );
    }
    for gauge in [
        &metrics.wva_model_safety_net,
        &metrics.wva_model_saturated_at_max,
    ] {
        drop(gauge.remove_label_values(&[model, namespace]));
    }
    delete_analysis(metrics, model, namespace);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::metrics_text as text;
    use prometheus::Registry;
    use std::time::Duration;
    use wva_api::metrics::MetricSet;
    use wva_engine::{
        Analysis, MetricsCondition, ModelReport, PolicySource, Role, ScaleToZeroPolicy,
    };

    fn report(analysis: Option<Analysis>) -> ModelReport {
        ModelReport {
            role: wva_engine::Role::Both,
            namespace: "llm-d".into(),
            model_id: "meta/llama".into(),
            thresholds: Default::default(),
            scale_up_step: Default::default(),
            scale_to_zero: ScaleToZeroPolicy {
                enabled: false,
                source: PolicySource::GlobalFlag,
                retention: Duration::from_secs(600),
            },
            analysis,
            capacity: None,
            notes: Vec::new(),
        }
    }

    fn saturated() -> Analysis {
        Analysis {
            reporting_replicas: 2,
            non_saturated_replicas: 0,
            saturated_replicas: 2,
            unknown_replicas: 0,
            avg_spare_kv: 0.0,
            avg_spare_queue: 0.0,
            should_scale_up: true,
            scale_down_safe: false,
            sized_replicas: None,
            transition: None,
        }
    }

    #[test]
    fn model_gauges_follow_the_cycle_and_go_with_the_model() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, None).expect("registers");
        let mut series = CycleSeries::default();
        let at_max = crate::testing::decision(2, 2);
        let max: HashMap<VaRef, u32> = [(keys::decided(&at_max), 2)].into();
        let cycle = Cycle {
            now: 0,
            decisions: vec![at_max.clone()],
            models: vec![report(Some(saturated()))],
        };
        series.publish_models(&metrics, &cycle, &max);
        let out = text(&registry);
        for line in [
            r#"wva_model_metrics_freshness{model_id="meta/llama",namespace="llm-d",state="fresh"} 1"#,
            r#"wva_model_metrics_freshness{model_id="meta/llama",namespace="llm-d",state="stale"} 0"#,
            r#"wva_model_saturated_at_max{model_id="meta/llama",namespace="llm-d"} 1"#,
            r#"wva_model_safety_net{model_id="meta/llama",namespace="llm-d"} 0"#,
            r#"wva_model_saturated_replicas{model_id="meta/llama",namespace="llm-d"} 2"#,
            r#"wva_model_spare_capacity{model_id="meta/llama",namespace="llm-d",signal="kv_cache"} 0"#,
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
        let mut failed = at_max.clone();
        failed.safety_net = true;
        failed.metrics_available = MetricsCondition {
            status: false,
            reason: MetricsReason::PrometheusError,
            message: "down".into(),
        };
        let cycle = Cycle {
            now: 1,
            decisions: vec![failed],
            models: vec![report(None)],
        };
        series.publish_models(&metrics, &cycle, &HashMap::new());
        let out = text(&registry);
        assert!(out.contains(r#"wva_model_metrics_freshness{model_id="meta/llama",namespace="llm-d",state="stale"} 1"#), "{out}");
        assert!(
            out.contains(r#"wva_model_safety_net{model_id="meta/llama",namespace="llm-d"} 1"#),
            "{out}"
        );
        assert!(
            out.contains(
                r#"wva_model_saturated_at_max{model_id="meta/llama",namespace="llm-d"} 0"#
            ),
            "{out}"
        );
        assert!(
            !out.contains("wva_model_spare_capacity{"),
            "no analysis, no spare: {out}"
        );
        let empty = Cycle {
            now: 2,
            decisions: Vec::new(),
            models: Vec::new(),
        };
        series.publish_models(&metrics, &empty, &HashMap::new());
        assert!(
            !text(&registry).contains("meta/llama"),
            "model gone, series gone"
        );
    }

    #[test]
    fn a_prefill_decode_model_combines_its_roles() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, None).expect("registers");
        let mut series = CycleSeries::default();
        let mut prefill = crate::testing::decision(2, 2);
        prefill.role = Role::Prefill;
        prefill.variant = "llama-prefill".into();
        let mut decode = crate::testing::decision(2, 2);
        decode.role = Role::Decode;
        decode.variant = "llama-decode".into();
        // Prefill needs more and is at its maxReplicas; decode has room and no bound.
        let max: HashMap<VaRef, u32> = [(keys::decided(&prefill), 2)].into();
        let roomy = Analysis {
            non_saturated_replicas: 2,
            saturated_replicas: 0,
            avg_spare_kv: 0.3,
            avg_spare_queue: 4.0,
            should_scale_up: false,
            ..saturated()
        };
        let cycle = Cycle {
            now: 0,
            decisions: vec![prefill, decode],
            models: vec![
                ModelReport {
                    role: Role::Prefill,
                    ..report(Some(saturated()))
                },
                ModelReport {
                    role: Role::Decode,
                    ..report(Some(roomy))
                },
            ],
        };
        series.publish_models(&metrics, &cycle, &max);
        let out = text(&registry);
        for line in [
            r#"wva_model_saturated_at_max{model_id="meta/llama",namespace="llm-d"} 1"#,
            r#"wva_model_saturated_replicas{model_id="meta/llama",namespace="llm-d"} 2"#,
            r#"wva_model_spare_capacity{model_id="meta/llama",namespace="llm-d",signal="kv_cache"} 0"#,
            r#"wva_model_metrics_freshness{model_id="meta/llama",namespace="llm-d",state="fresh"} 1"#,
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
    }

    #[test]
    fn targets_gpus_and_config_replace_their_old_series() {
        let registry = Registry::new();
        let metrics = WvaMetrics::register(&registry, None).expect("registers");
        let mut series = CycleSeries::default();
        series.publish_missing_targets(
            &metrics,
            [
                ("llm-d", "meta/llama", false),
                ("llm-d", "meta/llama", true),
                ("llm-d", "acme/chat", true),
            ],
        );
        series.publish_free_gpus(&metrics, Some(&[("H100".to_string(), 0)].into()));
        series.publish_config(
            &metrics,
            ["saturation".into(), "true".into(), "false".into()],
        );
        let out = text(&registry);
        for line in [
            r#"wva_model_missing_targets{model_id="meta/llama",namespace="llm-d"} 1"#,
            r#"wva_model_missing_targets{model_id="acme/chat",namespace="llm-d"} 0"#,
            r#"wva_free_gpus{accelerator_type="H100"} 0"#,
            r#"wva_config_info{analyzer="saturation",limited_mode="false",scale_to_zero="true"} 1"#,
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
        series.publish_missing_targets(&metrics, std::iter::empty());
        series.publish_free_gpus(&metrics, None);
        series.publish_config(
            &metrics,
            ["saturation".into(), "false".into(), "false".into()],
        );
        let out = text(&registry);
        assert!(!out.contains("wva_model_missing_targets{"), "{out}");
        assert!(!out.contains("wva_free_gpus{"), "{out}");
        assert!(!out.contains(r#"scale_to_zero="true""#), "{out}");
    }

    #[test]
    fn the_analyzer_label_follows_the_default_entry() {
        let mut config = EngineConfig::default();
        assert_eq!(analyzer_label(&config), "saturation");
        let v2: wva_api::saturation::SaturationEntry =
            serde_saphyr::from_str("analyzers:\n  - name: saturation\n").expect("entry");
        config.saturation.insert("default".into(), v2);
        assert_eq!(analyzer_label(&config), "token-capacity");
    }
}
