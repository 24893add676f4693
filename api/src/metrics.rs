//! The Prometheus metrics the controller emits, declared once.
//!
//! `#[derive(MetricSet)]` turns each field into a registered collector and a row of
//! `generated/docs/metrics.md`; the doc comment is the HELP text. When CONTROLLER_INSTANCE is
//! set every metric carries the `controller_instance` label, and never otherwise.

pub use prometheus;

use crate::MetricSet;
use prometheus::{Gauge, GaugeVec, Histogram, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec};
use serde::Serialize;
use std::collections::HashMap;

/// The label added to every metric when a controller instance is configured.
pub const CONTROLLER_INSTANCE_LABEL: &str = "controller_instance";

/// One row of the metric table, generated from an annotated field.
#[derive(Debug, Serialize, PartialEq)]
pub struct MetricSpec {
    /// The metric name.
    pub name: &'static str,
    /// `gauge`, `counter` or `histogram`.
    pub kind: &'static str,
    /// The HELP text (first paragraph of the doc comment).
    pub help: &'static str,
    /// Variable label names, in the order `with_label_values` expects.
    pub labels: &'static [&'static str],
}

/// A struct of collectors: implemented by `#[derive(MetricSet)]`.
pub trait MetricSet: Sized {
    /// The metric table, one row per field.
    const SPECS: &'static [MetricSpec];

    /// Creates every collector and registers it in `registry`; with `controller_instance`
    /// set (and non-empty), each carries the `controller_instance` label.
    fn register(
        registry: &prometheus::Registry,
        controller_instance: Option<&str>,
    ) -> Result<Self, prometheus::Error>;
}

/// The constant labels of every metric: `controller_instance` exactly when one is configured.
pub fn instance_labels(controller_instance: Option<&str>) -> HashMap<String, String> {
    controller_instance
        .filter(|instance| !instance.is_empty())
        .map(|instance| (CONTROLLER_INSTANCE_LABEL.to_string(), instance.to_string()))
        .into_iter()
        .collect()
}

/// Every metric WVA emits. HPA and KEDA read `wva_desired_replicas`.
#[derive(MetricSet, Clone)]
pub struct WvaMetrics {
    /// Desired number of replicas for each variant
    #[metric(labels("variant_name", "namespace", "accelerator_type"))]
    pub wva_desired_replicas: GaugeVec,

    /// Current number of replicas for each variant
    #[metric(labels("variant_name", "namespace", "accelerator_type"))]
    pub wva_current_replicas: GaugeVec,

    /// Ratio of the desired number of replicas and the current number of replicas for each variant
    #[metric(labels("variant_name", "namespace", "accelerator_type"))]
    pub wva_desired_ratio: GaugeVec,

    /// Total number of replica scaling operations
    #[metric(labels("variant_name", "namespace", "direction", "reason"))]
    pub wva_replica_scaling_total: IntCounterVec,

    /// Duration of one engine cycle (collection, decisions, status and metric updates)
    #[metric(buckets(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0))]
    pub wva_engine_cycle_duration_seconds: Histogram,

    /// Prometheus queries made by the collector, by signal and result (`success` or `error`)
    #[metric(labels("signal", "result"))]
    pub wva_prometheus_queries_total: IntCounterVec,

    /// Safety-net activations: decisions replaced by a fallback because signals were missing
    #[metric(labels("variant_name", "namespace", "fallback_source"))]
    pub wva_safety_net_activations_total: IntCounterVec,

    /// Runtime updates of watched ConfigMaps, by ConfigMap and result (`applied` or `rejected`)
    #[metric(labels("configmap", "result"))]
    pub wva_config_updates_total: IntCounterVec,

    /// Scale-from-zero activations: a model at zero started one replica of this variant because requests waited for it at the inference gateway
    #[metric(labels("model_id", "namespace", "variant_name"))]
    pub wva_scale_from_zero_activations_total: IntCounterVec,

    /// Seconds from the controller first reading a gateway queue above 0 for a model at zero to its scale-from-zero decision being published (metric and VA status)
    #[metric(buckets(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))]
    pub wva_scale_from_zero_decision_seconds: Histogram,

    /// Keys of the main ConfigMap that no parameter reads (ignored), counted each time a version of the ConfigMap is read
    #[metric(labels("configmap"))]
    pub wva_config_unknown_keys_total: IntCounterVec,

    /// Capacity the token-capacity analyzer (V2) finds missing for each model: max(0, demand / scaleUpThreshold - anticipated supply), in tokens (KV-cache fractions when no replica reports its KV-cache size); absent for models under the saturation analyzer (V1) or the safety net
    #[metric(labels("model_id", "namespace"))]
    pub wva_required_capacity: GaugeVec,

    /// Capacity the token-capacity analyzer (V2) finds spare for each model: max(0, supply - demand / scaleDownBoundary), in the unit of wva_required_capacity; absent like it
    #[metric(labels("model_id", "namespace"))]
    pub wva_spare_capacity: GaugeVec,

    /// Demand over supply of each model under the token-capacity analyzer (V2), 0 when there is no supply; absent like wva_required_capacity
    #[metric(labels("model_id", "namespace"))]
    pub wva_saturation_utilization: GaugeVec,

    /// Models the last engine cycle decided
    pub wva_cycle_models: IntGauge,

    /// Variants (VariantAutoscalings) the last engine cycle decided
    pub wva_cycle_variants: IntGauge,

    /// Duration of one Prometheus query of an engine cycle, by signal (`kv_cache_usage`, `queue_length`, `request_count`), retries included; failed queries are counted by `wva_prometheus_queries_total{result="error"}`
    #[metric(
        labels("signal"),
        buckets(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    )]
    pub wva_prometheus_query_duration_seconds: HistogramVec,

    /// Decisions the GPU limiter of limited mode cut (it granted fewer replicas than the scale-up asked for)
    #[metric(labels("variant_name", "namespace", "model_id", "accelerator_type"))]
    pub wva_gpu_limited_decisions_total: IntCounterVec,

    /// Controller errors by kind (`status_write`, ...), each counted when it is handled
    #[metric(labels("kind"))]
    pub wva_errors_total: IntCounterVec,

    /// Unix time (seconds) at which the last engine cycle completed
    pub wva_last_successful_cycle_timestamp_seconds: Gauge,

    /// The engine interval in force (GLOBAL_OPT_INTERVAL), in seconds
    pub wva_engine_interval_seconds: Gauge,

    /// Free GPUs per accelerator type in the last cycle's inventory (limited mode only)
    #[metric(labels("accelerator_type"))]
    pub wva_free_gpus: IntGaugeVec,

    /// Always 1; the labels are the effective settings: `analyzer`, `scale_to_zero` and `limited_mode` (`true` or `false`)
    #[metric(labels("analyzer", "scale_to_zero", "limited_mode"))]
    pub wva_config_info: IntGaugeVec,

    /// Freshness of a model's saturation signals in the last cycle: 1 for its `state` (`fresh`: read; `stale`: the query failed, the previous decision holds; `missing`: no replica reports), 0 for the others
    #[metric(labels("model_id", "namespace", "state"))]
    pub wva_model_metrics_freshness: IntGaugeVec,

    /// 1 when the safety net decided the model in the last cycle (signals missing or collection failed), else 0
    #[metric(labels("model_id", "namespace"))]
    pub wva_model_safety_net: IntGaugeVec,

    /// 1 when the model needed more capacity in the last cycle but every variant was at its maxReplicas, else 0
    #[metric(labels("model_id", "namespace"))]
    pub wva_model_saturated_at_max: IntGaugeVec,

    /// Average spare capacity of the model's non-saturated replicas by signal (`kv_cache`: fraction of the KV cache, `queue`: requests), from the last saturation analysis
    #[metric(labels("model_id", "namespace", "signal"))]
    pub wva_model_spare_capacity: GaugeVec,

    /// Replicas of the model with a signal at or above its saturation threshold, from the last saturation analysis
    #[metric(labels("model_id", "namespace"))]
    pub wva_model_saturated_replicas: IntGaugeVec,

    /// VariantAutoscalings of the model whose scale target Deployment is missing (0 when every one exists); per model, so that no series names a VA whose Deployment is gone
    #[metric(labels("model_id", "namespace"))]
    pub wva_model_missing_targets: IntGaugeVec,

    /// Times a variant's pods ran while no vLLM series carried its VA's modelID as `model_name` (each counted when it starts, with the `ModelIDNotFound` event)
    #[metric(labels("variant_name", "namespace"))]
    pub wva_model_id_not_found_total: IntCounterVec,

    /// HPAs and ScaledObjects annotated llm-d.ai/managed that discovery skipped, by reason (`InvalidAnnotation`, `DiscoveryConflict`), each counted when it starts, with the Warning event on the object
    #[metric(labels("namespace", "kind", "name", "reason"))]
    pub wva_discovery_skipped_total: IntCounterVec,
}

/// The `wva_` metric names a PromQL expression reads, with the `_bucket`, `_sum` and `_count`
/// suffixes of histogram series removed when the base name is declared in `specs`.
pub fn metrics_read_by<'e>(expr: &'e str, specs: &[MetricSpec]) -> Vec<&'e str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|token| token.starts_with("wva_"))
        .map(|token| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| token.strip_suffix(suffix))
                .find(|base| {
                    specs
                        .iter()
                        .any(|s| s.name == *base && s.kind == "histogram")
                })
                .unwrap_or(token)
        })
        .collect()
}
