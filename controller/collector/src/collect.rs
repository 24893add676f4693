//! One collection cycle: a fixed number of batched queries, mapped to variants through the
//! caller's pod index.

use crate::error::QueryError;
use crate::latency::LatencySignal;
use crate::promql::{self, metric};
use crate::response::{RawSample, parse_vector};
use crate::tokens::{TokenSignal, kv_capacity_tokens};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A variant's key, chosen by the caller (e.g. `namespace/va-name`).
pub type VariantKey = Arc<str>;

/// A model in a namespace: variants of one model in different namespaces are separate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelKey {
    /// The namespace.
    pub namespace: String,
    /// The model ID (vLLM's `model_name`).
    pub model: String,
}

impl ModelKey {
    /// The key of `model` in `namespace`.
    pub fn new(namespace: impl Into<String>, model: impl Into<String>) -> Self {
        ModelKey {
            namespace: namespace.into(),
            model: model.into(),
        }
    }
}

/// What one cycle collects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// The watched namespace (`WATCH_NAMESPACE`); every query is filtered to it when set.
    pub namespace: Option<String>,
    /// The models whose request counts are wanted (scale-to-zero).
    pub models: HashSet<ModelKey>,
    /// The distinct retention periods of those models; one request-count query each.
    pub retentions: BTreeSet<Duration>,
    /// Whether to read the token-capacity analyzer's inputs ([`TokenSignal`]): one more
    /// query per signal. Set when some model in scope uses that analyzer.
    pub token_capacity: bool,
    /// Whether to read the HYBRID mode's inputs ([`LatencySignal`], and the average token
    /// sizes when `token_capacity` does not read them already): 4 (or 6) more queries.
    pub hybrid: bool,
}

/// The pod a series belongs to: its variant and the model the variant serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTarget {
    /// The variant owning the pod.
    pub variant: VariantKey,
    /// The variant's model ID; series of the pod with another `model_name` are dropped.
    pub model: Arc<str>,
}

/// (namespace, pod name) → variant, built by the caller from its informer caches (pods and
/// their owners). The collector makes no API calls; series of pods not in the index (deleted
/// pods, pods of unmanaged Deployments) are dropped and counted.
#[derive(Debug, Clone, Default)]
pub struct PodIndex {
    pods: HashMap<String, HashMap<String, PodTarget>>,
    len: usize,
}

impl PodIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that pod `pod` in `namespace` belongs to `variant`, which serves `model`.
    pub fn insert(&mut self, namespace: &str, pod: &str, variant: VariantKey, model: Arc<str>) {
        let previous = self
            .pods
            .entry(namespace.to_string())
            .or_default()
            .insert(pod.to_string(), PodTarget { variant, model });
        if previous.is_none() {
            self.len += 1;
        }
    }

    /// The target of a pod, if known.
    pub fn get(&self, namespace: &str, pod: &str) -> Option<&PodTarget> {
        self.pods.get(namespace)?.get(pod)
    }

    /// Number of pods.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no pod is known.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &PodTarget)> {
        self.pods
            .values()
            .flat_map(|pods| pods.iter().map(|(pod, target)| (pod.as_str(), target)))
    }
}

/// One pod's saturation signals. `None` means missing (no series, NaN or ±Inf), never 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodSignals {
    /// Peak KV-cache usage over the last minute (0..1).
    pub kv_cache_usage: Option<f64>,
    /// Peak waiting-queue length over the last minute.
    pub queue_length: Option<f64>,
    /// KV-cache size in tokens (`num_gpu_blocks × block_size`); read only with
    /// [`Scope::token_capacity`].
    pub kv_capacity_tokens: Option<f64>,
    /// Average prompt tokens per request over the last 5 minutes; `None` also when no
    /// request finished. Read only with [`Scope::token_capacity`].
    pub avg_input_tokens: Option<f64>,
    /// Average generated tokens per request over the last 5 minutes, like
    /// [`PodSignals::avg_input_tokens`].
    pub avg_output_tokens: Option<f64>,
    /// Prefix-cache hits per queried token over the last 5 minutes (0..1); `None` also when
    /// nothing was queried. Read only with [`Scope::token_capacity`].
    pub prefix_cache_hit_rate: Option<f64>,
    /// vLLM engine ranks (data parallelism): the distinct `engine` label values of the pod's
    /// KV-cache and queue series; `None` when they carry no `engine` label. The KV-cache and
    /// queue values are then those of the busiest engine.
    pub engines: Option<u32>,
    /// Requests finished per second over the last minute; read only with [`Scope::hybrid`]
    /// (as are the three below).
    pub arrival_rate: Option<f64>,
    /// Mean time to first token over the last minute, seconds; `None` also when no request
    /// finished.
    pub ttft_seconds: Option<f64>,
    /// Mean inter-token latency over the last minute, seconds.
    pub itl_seconds: Option<f64>,
    /// Mean requests running over the last minute.
    pub running_batch: Option<f64>,
}

/// The most `model_name` values kept per variant in [`Signals::other_models`].
pub const MAX_OTHER_MODELS: usize = 4;

/// The request counts of one retention period: for each model in scope, the number of
/// requests finished over the period, `None` when Prometheus has no series for the model.
pub type RequestCounts = HashMap<ModelKey, Option<f64>>;

/// What one cycle read.
#[derive(Debug, Default)]
pub struct Signals {
    /// Every pod of the index, by variant then pod name, with its signals.
    pub variants: HashMap<VariantKey, BTreeMap<String, PodSignals>>,
    /// Set when the KV-cache query failed: every `kv_cache_usage` is then unknown because of a
    /// Prometheus error, not missing data.
    pub kv_error: Option<QueryError>,
    /// Set when the queue-length query failed.
    pub queue_error: Option<QueryError>,
    /// Request counts per retention period, or the error of that period's query.
    pub request_counts: BTreeMap<Duration, Result<RequestCounts, QueryError>>,
    /// The token-capacity queries that ran (none unless [`Scope::token_capacity`]), each
    /// with its error when it failed: the signal is then missing on every pod. These errors
    /// are not in [`Signals::first_error`]: the saturation signals are still good.
    pub token_queries: BTreeMap<TokenSignal, Option<QueryError>>,
    /// The HYBRID queries that ran (none unless [`Scope::hybrid`]), each with its error, like
    /// [`Signals::token_queries`].
    pub latency_queries: BTreeMap<LatencySignal, Option<QueryError>>,
    /// For each variant whose pods report series of other models, the distinct `model_name`
    /// values of those series (at most [`MAX_OTHER_MODELS`] per variant, the first in
    /// lexical order): what the variant's pods serve when its model ID matches none of them.
    pub other_models: HashMap<VariantKey, BTreeSet<String>>,
    /// Counters of the cycle.
    pub stats: CycleStats,
    /// How long each query of the cycle took, retries included, and whether it failed.
    pub timings: Vec<QueryTiming>,
}

/// The duration and outcome of one query of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTiming {
    /// The signal the query reads: `kv_cache_usage`, `queue_length` or `request_count`.
    pub signal: &'static str,
    /// Wall time from the first request to the last answer (retries included).
    pub duration: Duration,
    /// The query failed (after its retries) or its answer could not be read.
    pub failed: bool,
}

/// Counters of one cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleStats {
    /// Queries run (each retried query counts once): 2 + one per retention period + 4 with
    /// [`Scope::token_capacity`] + 4 with [`Scope::hybrid`] (6 without `token_capacity`:
    /// the two average token sizes).
    pub queries: usize,
    /// HTTP requests sent, retries included.
    pub http_requests: usize,
    /// Series received.
    pub series: usize,
    /// Series of pods not in the index (dropped).
    pub unknown_pod_series: usize,
    /// Series whose `model_name` differs from the model of the pod's variant (dropped).
    pub other_model_series: usize,
    /// Series without a `pod`/`pod_name` label (dropped).
    pub unlabelled_series: usize,
    /// Samples that were NaN or ±Inf (kept as missing).
    pub non_finite_samples: usize,
}

impl Signals {
    /// The signals of `pod` of `variant`.
    pub fn pod(&self, variant: &str, pod: &str) -> Option<&PodSignals> {
        self.variants.get(variant)?.get(pod)
    }

    /// The first query error of the cycle, if any: the engine's `PrometheusError`.
    pub fn first_error(&self) -> Option<&QueryError> {
        self.kv_error
            .as_ref()
            .or(self.queue_error.as_ref())
            .or_else(|| self.request_counts.values().find_map(|r| r.as_ref().err()))
    }

    /// Requests finished by `model` in `namespace` over `retention`: `Ok(None)` when missing
    /// (or the retention was not in scope), `Err` when that query failed.
    pub fn request_count(
        &self,
        namespace: &str,
        model: &str,
        retention: Duration,
    ) -> Result<Option<f64>, &QueryError> {
        match self.request_counts.get(&retention) {
            None => Ok(None),
            Some(Err(error)) => Err(error),
            Some(Ok(counts)) => Ok(counts
                .get(&ModelKey::new(namespace, model))
                .copied()
                .flatten()),
        }
    }

    /// Approximate heap bytes held by this value (maps, keys, strings; not allocator slack).
    pub fn approx_heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let pods: usize = self
            .variants
            .values()
            .flat_map(|pods| pods.keys())
            .map(|pod| pod.capacity() + size_of::<String>() + size_of::<PodSignals>() + 16)
            .sum();
        let variants = self.variants.capacity()
            * (size_of::<VariantKey>() + size_of::<BTreeMap<String, PodSignals>>() + 8);
        let counts: usize = self
            .request_counts
            .values()
            .filter_map(|r| r.as_ref().ok())
            .map(|counts| {
                counts.capacity() * (size_of::<ModelKey>() + size_of::<Option<f64>>() + 8)
                    + counts
                        .keys()
                        .map(|k| k.namespace.capacity() + k.model.capacity())
                        .sum::<usize>()
            })
            .sum();
        let other_models: usize = self
            .other_models
            .values()
            .flatten()
            .map(|name| name.capacity() + size_of::<String>() + 16)
            .sum();
        pods + variants + counts + other_models
    }
}

/// The labels the collector reads; values borrow from the response when unescaped.
#[derive(Deserialize)]
struct SeriesLabels<'a> {
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pod: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pod_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    num_gpu_blocks: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    block_size: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    engine: Option<Cow<'a, str>>,
}

/// The texts of one cycle's queries.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleQueries {
    /// Per-pod peak KV-cache usage.
    pub kv_cache_usage: String,
    /// Per-pod peak waiting-queue length.
    pub queue_length: String,
    /// Request counts, one per retention period.
    pub request_counts: Vec<(Duration, String)>,
    /// The token-capacity signals, one query each; empty unless [`Scope::token_capacity`]
    /// (or [`Scope::hybrid`]: the two average token sizes).
    pub token_capacity: Vec<(TokenSignal, String)>,
    /// The HYBRID signals, one query each; empty unless [`Scope::hybrid`].
    pub latency: Vec<(LatencySignal, String)>,
}

impl CycleQueries {
    /// The queries for `scope`; their number does not depend on the number of models,
    /// variants or pods.
    pub fn for_scope(scope: &Scope) -> Self {
        let namespace = scope.namespace.as_deref();
        CycleQueries {
            kv_cache_usage: promql::per_pod_peak(metric::KV_CACHE_USAGE, namespace),
            queue_length: promql::per_pod_peak(metric::REQUESTS_WAITING, namespace),
            request_counts: scope
                .retentions
                .iter()
                .map(|&retention| (retention, promql::request_count(namespace, retention)))
                .collect(),
            token_capacity: token_signals(scope)
                .iter()
                .map(|&signal| (signal, signal.query(namespace)))
                .collect(),
            latency: if scope.hybrid {
                LatencySignal::ALL
                    .iter()
                    .map(|&signal| (signal, signal.query(namespace)))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        2 + self.request_counts.len() + self.token_capacity.len() + self.latency.len()
    }

    /// Always false: there are at least the two per-pod queries.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The token signals `scope` reads: all of them for the token-capacity analyzer, the two
/// average token sizes for the HYBRID mode alone.
fn token_signals(scope: &Scope) -> &'static [TokenSignal] {
    if scope.token_capacity {
        &TokenSignal::ALL
    } else if scope.hybrid {
        &[TokenSignal::AvgInputTokens, TokenSignal::AvgOutputTokens]
    } else {
        &[]
    }
}

/// Which per-pod field a query fills.
#[derive(Clone, Copy)]
pub(crate) enum PodField {
    KvCacheUsage,
    QueueLength,
    Token(TokenSignal),
    Latency(LatencySignal),
}

/// What the per-pod answers of a cycle fill: [`Signals::variants`] and
/// [`Signals::other_models`].
#[derive(Debug, Default)]
pub(crate) struct PodValues {
    /// Every indexed pod's signals, by variant.
    pub(crate) variants: HashMap<VariantKey, BTreeMap<String, PodSignals>>,
    /// The other models seen on each variant's pods.
    pub(crate) other_models: HashMap<VariantKey, BTreeSet<String>>,
    /// The `engine` label values seen on each pod's per-pod peak series, by (namespace, pod).
    engines: HashMap<(String, String), BTreeSet<String>>,
}

impl PodValues {
    /// Every indexed pod, all signals missing, no other model seen.
    pub(crate) fn empty(index: &PodIndex) -> Self {
        let mut variants: HashMap<VariantKey, BTreeMap<String, PodSignals>> = HashMap::new();
        for (pod, target) in index.iter() {
            variants
                .entry(target.variant.clone())
                .or_default()
                .insert(pod.to_string(), PodSignals::default());
        }
        PodValues {
            variants,
            other_models: HashMap::new(),
            engines: HashMap::new(),
        }
    }

    /// Records that a pod of `variant` reports a series of `model`, keeping at most
    /// [`MAX_OTHER_MODELS`] names (the first in lexical order).
    fn saw_other_model(&mut self, variant: &VariantKey, model: &str) {
        let names = self.other_models.entry(variant.clone()).or_default();
        if names.contains(model) {
            return;
        }
        names.insert(model.to_string());
        if names.len() > MAX_OTHER_MODELS {
            names.pop_last();
        }
    }
}

/// Parses a per-pod answer and stores its values into `variants`.
pub(crate) fn apply_pod_values(
    body: &[u8],
    field: PodField,
    index: &PodIndex,
    values: &mut PodValues,
    stats: &mut CycleStats,
) -> Result<(), crate::error::QueryFailure> {
    let samples: Vec<RawSample<'_, SeriesLabels<'_>>> = parse_vector(200, body)?;
    stats.series += samples.len();
    for sample in &samples {
        let labels = &sample.metric;
        let Some(pod) = labels.pod.as_deref().or(labels.pod_name.as_deref()) else {
            stats.unlabelled_series += 1;
            continue;
        };
        let namespace = labels.namespace.as_deref().unwrap_or_default();
        let Some(target) = index.get(namespace, pod) else {
            stats.unknown_pod_series += 1;
            continue;
        };
        let model_optional =
            matches!(field, PodField::Token(signal) if !signal.requires_model_label());
        let model_matches = match labels.model_name.as_deref() {
            Some(model) => model == &*target.model,
            None => model_optional,
        };
        if !model_matches {
            stats.other_model_series += 1;
            if let Some(model) = labels.model_name.as_deref() {
                values.saw_other_model(&target.variant, model);
            }
            continue;
        }
        let value = match field {
            PodField::Token(TokenSignal::KvCapacityTokens) => kv_capacity_tokens(
                labels.num_gpu_blocks.as_deref(),
                labels.block_size.as_deref(),
            ),
            _ => sample.finite_value(),
        };
        if value.is_none() {
            stats.non_finite_samples += 1;
        }
        let Some(signals) = values
            .variants
            .get_mut(&target.variant)
            .and_then(|pods| pods.get_mut(pod))
        else {
            continue;
        };
        if let (PodField::KvCacheUsage | PodField::QueueLength, Some(engine)) =
            (field, labels.engine.as_deref())
        {
            let ranks = values
                .engines
                .entry((namespace.to_string(), pod.to_string()))
                .or_default();
            ranks.insert(engine.to_string());
            signals.engines = Some(u32::try_from(ranks.len()).unwrap_or(u32::MAX));
        }
        let slot = match field {
            PodField::KvCacheUsage => &mut signals.kv_cache_usage,
            PodField::QueueLength => &mut signals.queue_length,
            PodField::Token(TokenSignal::KvCapacityTokens) => &mut signals.kv_capacity_tokens,
            PodField::Token(TokenSignal::AvgInputTokens) => &mut signals.avg_input_tokens,
            PodField::Token(TokenSignal::AvgOutputTokens) => &mut signals.avg_output_tokens,
            PodField::Token(TokenSignal::PrefixCacheHitRate) => &mut signals.prefix_cache_hit_rate,
            PodField::Latency(LatencySignal::ArrivalRate) => &mut signals.arrival_rate,
            PodField::Latency(LatencySignal::TimeToFirstToken) => &mut signals.ttft_seconds,
            PodField::Latency(LatencySignal::InterTokenLatency) => &mut signals.itl_seconds,
            PodField::Latency(LatencySignal::RunningBatch) => &mut signals.running_batch,
        };
        // Two series of one pod (e.g. `pod` and `pod_name` both set): keep the larger.
        *slot = match (*slot, value) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(())
}

/// Parses a request-count answer into the counts of the models in scope.
pub(crate) fn request_counts(
    body: &[u8],
    scope: &Scope,
    stats: &mut CycleStats,
) -> Result<RequestCounts, crate::error::QueryFailure> {
    let samples: Vec<RawSample<'_, SeriesLabels<'_>>> = parse_vector(200, body)?;
    stats.series += samples.len();
    let mut counts: RequestCounts = scope.models.iter().map(|m| (m.clone(), None)).collect();
    for sample in &samples {
        let (Some(namespace), Some(model)) = (&sample.metric.namespace, &sample.metric.model_name)
        else {
            stats.unlabelled_series += 1;
            continue;
        };
        let key = ModelKey::new(namespace.as_ref(), model.as_ref());
        let value = sample.finite_value();
        if value.is_none() {
            stats.non_finite_samples += 1;
        }
        if let Some(slot) = counts.get_mut(&key) {
            *slot = value;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A per-pod answer with one series per `(pod, model_name)`.
    fn answer(series: &[(&str, &str)]) -> Vec<u8> {
        let result: Vec<_> = series
            .iter()
            .map(|(pod, model)| {
                serde_json::json!({
                    "metric": {"namespace": "ns", "pod": pod, "model_name": model},
                    "value": [0, "0.5"],
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "status": "success",
            "data": {"resultType": "vector", "result": result},
        }))
        .unwrap()
    }

    #[test]
    fn other_models_are_named_per_variant_and_bounded() {
        let mut index = PodIndex::new();
        index.insert("ns", "a-1", "ns/a".into(), "org/a".into());
        index.insert("ns", "a-2", "ns/a".into(), "org/a".into());
        index.insert("ns", "b-1", "ns/b".into(), "org/b".into());
        let mut series = vec![("a-1", "org/a"), ("a-1", "org/x"), ("a-2", "org/x")];
        // b's pod serves six other models: the first MAX_OTHER_MODELS in lexical order stay.
        let names: Vec<String> = (0..6).rev().map(|i| format!("org/m{i}")).collect();
        series.extend(names.iter().map(|name| ("b-1", name.as_str())));
        let mut values = PodValues::empty(&index);
        let mut stats = CycleStats::default();

        apply_pod_values(
            &answer(&series),
            PodField::KvCacheUsage,
            &index,
            &mut values,
            &mut stats,
        )
        .unwrap();

        assert_eq!(stats.other_model_series, 8);
        assert_eq!(
            values.other_models["ns/a"],
            BTreeSet::from(["org/x".to_string()])
        );
        let kept: Vec<&str> = values.other_models["ns/b"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(kept, ["org/m0", "org/m1", "org/m2", "org/m3"]);
        assert_eq!(
            values.variants["ns/a"]["a-1"].kv_cache_usage,
            Some(0.5),
            "the series of the variant's own model is still read"
        );
    }

    #[test]
    fn engine_ranks_of_a_pod_are_counted_and_its_busiest_engine_read() {
        let mut index = PodIndex::new();
        index.insert("ns", "dp-1", "ns/dp".into(), "m".into());
        index.insert("ns", "plain-1", "ns/plain".into(), "m".into());
        let series = |rows: &[(&str, Option<&str>, &str)]| {
            let result: Vec<_> = rows
                .iter()
                .map(|(pod, engine, value)| {
                    let mut metric =
                        serde_json::json!({"namespace": "ns", "pod": pod, "model_name": "m"});
                    if let Some(engine) = engine {
                        metric["engine"] = serde_json::json!(engine);
                    }
                    serde_json::json!({"metric": metric, "value": [0, value]})
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "status": "success",
                "data": {"resultType": "vector", "result": result},
            }))
            .unwrap()
        };
        let mut values = PodValues::empty(&index);
        let mut stats = CycleStats::default();
        let kv = series(&[
            ("dp-1", Some("0"), "0.2"),
            ("dp-1", Some("1"), "0.7"),
            ("dp-1", Some("2"), "0.4"),
            ("plain-1", None, "0.3"),
        ]);
        // The queue series name a fourth rank: the pod runs four engines.
        let queue = series(&[("dp-1", Some("1"), "2"), ("dp-1", Some("3"), "5")]);
        apply_pod_values(&kv, PodField::KvCacheUsage, &index, &mut values, &mut stats).unwrap();
        apply_pod_values(
            &queue,
            PodField::QueueLength,
            &index,
            &mut values,
            &mut stats,
        )
        .unwrap();

        let dp = values.variants["ns/dp"]["dp-1"];
        assert_eq!(dp.engines, Some(4));
        assert_eq!((dp.kv_cache_usage, dp.queue_length), (Some(0.7), Some(5.0)));
        assert_eq!(
            values.variants["ns/plain"]["plain-1"].engines, None,
            "no engine label: unknown (the controller then reads the args)"
        );
    }
}
