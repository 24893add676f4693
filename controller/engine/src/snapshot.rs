//! The engine's input: everything one cycle needs, gathered by the caller.

use crate::queueing::PerfParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use wva_core::saturation::{
    AnalyzerThresholds, DEFAULT_KEY, DEFAULT_RETENTION_PERIOD, SaturationEntry,
    SaturationThresholds, ScaleToZeroEntry, ScaleUpStep, analyzers_for, entry_for,
    saturation_resolution_errors, scale_to_zero_resolution_errors, scale_up_step_for,
    thresholds_for,
};
use wva_core::service_class::ModelClass;

/// The cost of a variant whose `variantCost` is missing or cannot be parsed.
pub const DEFAULT_COST: f64 = 10.0;

/// Parses a VA's `variantCost`; anything that is not a finite, non-negative number is
/// [`DEFAULT_COST`].
pub fn parse_cost(text: &str) -> f64 {
    match text.trim().parse::<f64>() {
        Ok(cost) if cost.is_finite() && cost >= 0.0 => cost,
        _ => DEFAULT_COST,
    }
}

/// One engine cycle's input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// The time of the cycle, in seconds (Unix time in the controller, simulated time in the
    /// simulator). The engine never reads a clock; it only stamps decisions with this.
    pub now: i64,
    /// The active configuration.
    #[serde(default)]
    pub config: EngineConfig,
    /// The model groups, one per (namespace, modelID).
    #[serde(default)]
    pub models: Vec<ModelGroup>,
    /// Free GPUs per accelerator type, when known (used only in limited mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_gpus: Option<BTreeMap<String, u32>>,
}

/// The configuration the engine reads: ConfigMap entries and global flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineConfig {
    /// Entries of the global `wva-saturation-scaling-config`, by data key.
    #[serde(default)]
    pub saturation: BTreeMap<String, SaturationEntry>,
    /// Entries of namespace-local `wva-saturation-scaling-config` maps, by namespace. A
    /// non-empty local map replaces the global one for its namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_saturation: BTreeMap<String, BTreeMap<String, SaturationEntry>>,
    /// Entries of the global `wva-model-scale-to-zero-config`, by data key.
    #[serde(default)]
    pub scale_to_zero: BTreeMap<String, ScaleToZeroEntry>,
    /// Entries of namespace-local `wva-model-scale-to-zero-config` maps, by namespace. A
    /// non-empty local map replaces the global one for its namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_scale_to_zero: BTreeMap<String, BTreeMap<String, ScaleToZeroEntry>>,
    /// `WVA_SCALE_TO_ZERO`: scale-to-zero for models that no entry decides.
    #[serde(default)]
    pub scale_to_zero_enabled: bool,
    /// `WVA_LIMITED_MODE`: grant scale-ups only within free GPUs.
    #[serde(default)]
    pub limited_mode: bool,
    /// `EXPERIMENTAL_PROACTIVE_MODEL`: HYBRID mode, where the queueing model's target is
    /// arbitrated with the capacity analysis's (see [`crate::queueing`] and
    /// `docs/engine.md`). Off: CAPACITY-ONLY, decisions exactly as without the model.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hybrid: bool,
}

/// Where a model's scale-to-zero setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicySource {
    /// The model's own entry.
    ModelEntry,
    /// The `default` entry.
    DefaultEntry,
    /// The `WVA_SCALE_TO_ZERO` parameter.
    GlobalFlag,
}

/// A model's resolved scale-to-zero policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleToZeroPolicy {
    /// Whether the model may scale to zero.
    pub enabled: bool,
    /// Which setting decided `enabled`.
    pub source: PolicySource,
    /// The window over which the caller counts requests.
    #[serde(serialize_with = "as_seconds")]
    pub retention: Duration,
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// The local map of `namespace` when present and non-empty, else the global one.
fn effective<'a, E>(
    global: &'a BTreeMap<String, E>,
    local: &'a BTreeMap<String, BTreeMap<String, E>>,
    namespace: &str,
) -> &'a BTreeMap<String, E> {
    local
        .get(namespace)
        .filter(|m| !m.is_empty())
        .unwrap_or(global)
}

impl EngineConfig {
    /// The saturation entries in force for `namespace`.
    pub fn saturation_entries(&self, namespace: &str) -> &BTreeMap<String, SaturationEntry> {
        effective(&self.saturation, &self.namespace_saturation, namespace)
    }

    /// The scale-to-zero entries in force for `namespace`.
    pub fn scale_to_zero_entries(&self, namespace: &str) -> &BTreeMap<String, ScaleToZeroEntry> {
        effective(
            &self.scale_to_zero,
            &self.namespace_scale_to_zero,
            namespace,
        )
    }

    /// The thresholds of a model.
    pub fn thresholds(&self, namespace: &str, model_id: &str) -> SaturationThresholds {
        thresholds_for(self.saturation_entries(namespace), model_id, namespace)
    }

    /// The enabled token-capacity analyzers of a model; `None`: the saturation analyzer (V1).
    pub fn analyzers(&self, namespace: &str, model_id: &str) -> Option<Vec<AnalyzerThresholds>> {
        analyzers_for(self.saturation_entries(namespace), model_id, namespace)
    }

    /// The scale-up step of a model.
    pub fn scale_up_step(&self, namespace: &str, model_id: &str) -> ScaleUpStep {
        scale_up_step_for(self.saturation_entries(namespace), model_id, namespace)
    }

    /// The scale-to-zero policy of a model: `enable_scale_to_zero` of the model's entry, else
    /// of the `default` entry, else `WVA_SCALE_TO_ZERO`; `retention_period` of the model's
    /// entry, else of the `default` entry, else 10 minutes. A model entry matches on
    /// `model_id`, and on `namespace` when it names one (an entry naming the namespace beats
    /// one without; among equals the first data key wins).
    pub fn scale_to_zero_policy(&self, namespace: &str, model_id: &str) -> ScaleToZeroPolicy {
        let entries = self.scale_to_zero_entries(namespace);
        let model = entry_for(entries, model_id, namespace);
        let default = entries.get(DEFAULT_KEY);
        let (enabled, source) = match (
            model.and_then(|e| e.enable_scale_to_zero),
            default.and_then(|e| e.enable_scale_to_zero),
        ) {
            (Some(on), _) => (on, PolicySource::ModelEntry),
            (None, Some(on)) => (on, PolicySource::DefaultEntry),
            (None, None) => (self.scale_to_zero_enabled, PolicySource::GlobalFlag),
        };
        let retention_of = |e: Option<&ScaleToZeroEntry>| e.and_then(|e| e.retention().ok()?);
        let retention = retention_of(model)
            .or_else(|| retention_of(default))
            .unwrap_or(DEFAULT_RETENTION_PERIOD);
        ScaleToZeroPolicy {
            enabled,
            source,
            retention,
        }
    }
}

/// The variants of one model in one namespace, with the model's signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelGroup {
    /// Namespace of the VAs.
    pub namespace: String,
    /// The VAs' `modelID`.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// Whether the saturation signals of this model could be collected.
    #[serde(default)]
    pub signals: SignalStatus,
    /// Requests the model served over its scale-to-zero retention period; `None` when unknown
    /// (query failed or returned no data). Unknown never scales to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_count: Option<f64>,
    /// Requests waiting for this model at the inference gateway (the endpoint picker's
    /// flow-control queue); `None` when unknown or not read. Read for models at zero: above 0
    /// it starts one (see [`crate::wake`]), and it keeps a model from scaling to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_queue: Option<f64>,
    /// When scale-from-zero last started this model (same clock as [`Snapshot::now`]). Until
    /// its scale-to-zero retention period has passed, the model is not sent back to zero, and
    /// while no replica reports it keeps the started replica without a safety-net alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_from_zero_at: Option<i64>,
    /// The model's service class (HYBRID mode): its name, priority and latency targets;
    /// `None` when no class lists the model (HYBRID then runs capacity-only for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_class: Option<ModelClass>,
    /// The `model_name` values the pods of the model's variants report instead of
    /// [`ModelGroup::model_id`] (filled by the caller from the series it already read). When
    /// the model's signals are missing they are named in the MetricsAvailable message: the
    /// VA's `modelID` probably should be one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_model_names: Vec<String>,
    /// The model's variants (one per VA).
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// Outcome of collecting a model's saturation signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase", deny_unknown_fields)]
pub enum SignalStatus {
    /// Collected; per-replica values may still be individually missing.
    #[default]
    Ok,
    /// The Prometheus query failed.
    PrometheusError {
        /// The error, for the condition message.
        message: String,
    },
    /// The queries succeeded but returned no series for the model.
    NoData,
}

/// The role a variant's pods play in prefill/decode disaggregation: the `llm-d.ai/role`
/// label of its target's pod template (`prefill`, `decode`; any other value or none is
/// `both`). The engine decides each (namespace, model, role) apart: prefill and decode pods
/// saturate on different work, so their signals are never averaged or summed together.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Serves whole requests (no disaggregation), the default.
    #[default]
    Both,
    /// Runs the prefill of disaggregated requests.
    Prefill,
    /// Runs the decode of disaggregated requests.
    Decode,
}

impl Role {
    /// The label value (`both`, `prefill`, `decode`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Both => "both",
            Role::Prefill => "prefill",
            Role::Decode => "decode",
        }
    }

    /// True for [`Role::Both`] (the serialized forms omit it).
    pub fn is_both(&self) -> bool {
        *self == Role::Both
    }

    /// How messages that name a model add the role: ` (role prefill)`, or nothing for
    /// [`Role::Both`].
    pub fn suffix(self) -> String {
        match self {
            Role::Both => String::new(),
            role => format!(" (role {})", role.as_str()),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One variant (one VA and its Deployment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    /// The VA name (`variant_name` label).
    pub name: String,
    /// Cost per replica (parsed `variantCost`; see [`parse_cost`]).
    #[serde(default = "default_cost")]
    pub cost: f64,
    /// Accelerator type, e.g. `H100`; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// GPUs one replica requests.
    #[serde(default = "one")]
    pub gpus_per_replica: u32,
    /// The prefill/decode role of the variant's pods; variants of one model with different
    /// roles are decided apart.
    #[serde(default, skip_serializing_if = "Role::is_both")]
    pub role: Role,
    /// vLLM engine ranks one replica runs (`--data-parallel-size-local`, else
    /// `--data-parallel-size`, from the target's container args); `None` = not set there. A
    /// replica's [`ReplicaSignals::engines`] beats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_parallel_size: Option<u32>,
    /// Replicas of the Deployment (`status.replicas`, or `spec.replicas` when 0).
    pub current_replicas: u32,
    /// Ready replicas.
    #[serde(default)]
    pub ready_replicas: u32,
    /// Replicas not yet ready. A variant with pending replicas does not receive a scale-up.
    #[serde(default)]
    pub pending_replicas: u32,
    /// The desired replicas of the previous decision (VA status); `None` or 0 = none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_desired: Option<u32>,
    /// VA `minReplicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// VA `maxReplicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// vLLM's `--max-num-batched-tokens` from the Deployment's container args (token-capacity
    /// analyzer); `None` when not set there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// vLLM's `--max-num-seqs` from the Deployment's container args (token-capacity
    /// analyzer); `None` when not set there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// The variant's performance parameters (HYBRID mode), learned or configured; `None`
    /// until known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf: Option<PerfParams>,
    /// Requests per second arriving at the variant (HYBRID mode); `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// Signals of the replicas that Prometheus reported for this variant.
    #[serde(default)]
    pub replicas: Vec<ReplicaSignals>,
}

impl Variant {
    /// The engines of capacity one replica of this variant counts as (data parallelism):
    /// the replica's own [`ReplicaSignals::engines`] when its series name engine ranks, else
    /// [`Variant::data_parallel_size`], else 1. Never 0.
    pub fn engines_of(&self, replica: Option<&ReplicaSignals>) -> u32 {
        replica
            .and_then(|r| r.engines)
            .or(self.data_parallel_size)
            .unwrap_or(1)
            .max(1)
    }
}

fn default_cost() -> f64 {
    DEFAULT_COST
}

fn one() -> u32 {
    1
}

/// Saturation signals of one replica; `None` = missing (never read as zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaSignals {
    /// Pod name.
    pub pod: String,
    /// vLLM engine ranks the pod's series show (distinct `engine` label values); `None` when
    /// its series carry no `engine` label. See [`Variant::engines_of`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engines: Option<u32>,
    /// KV-cache usage as a fraction (0-1), peak over the last minute.
    #[serde(default)]
    pub kv_cache_usage: Option<f64>,
    /// Waiting requests, peak over the last minute.
    #[serde(default)]
    pub queue_length: Option<f64>,
    /// KV-cache size in tokens: `num_gpu_blocks × block_size` of `vllm:cache_config_info`
    /// (token-capacity analyzer); `None` when the series is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_capacity_tokens: Option<f64>,
    /// Average prompt tokens per request over the last 5 minutes (`_sum`/`_count` rates of
    /// `vllm:request_prompt_tokens`); `None` when missing or no request finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_input_tokens: Option<f64>,
    /// Average generated tokens per request over the last 5 minutes
    /// (`vllm:request_generation_tokens`); `None` when missing or no request finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_output_tokens: Option<f64>,
    /// Prefix-cache hit rate over the last 5 minutes, 0-1 (`vllm:prefix_cache_hits` /
    /// `vllm:prefix_cache_queries`); `None` when missing or no query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hit_rate: Option<f64>,
}

impl Snapshot {
    /// Problems that make a recorded snapshot unusable, each naming the field by its path
    /// (e.g. `models[0].variants[1].minReplicas`) and the fix. Empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut saturation_maps = vec![("config.saturation".to_string(), &self.config.saturation)];
        for (ns, map) in &self.config.namespace_saturation {
            saturation_maps.push((format!("config.namespaceSaturation.{ns}"), map));
        }
        for (path, map) in saturation_maps {
            for e in saturation_resolution_errors(map) {
                problems.push(format!("{path}.{}: {}", e.key, e.message));
            }
        }
        let mut stz_maps = vec![("config.scaleToZero".to_string(), &self.config.scale_to_zero)];
        for (ns, map) in &self.config.namespace_scale_to_zero {
            stz_maps.push((format!("config.namespaceScaleToZero.{ns}"), map));
        }
        for (path, map) in stz_maps {
            for e in scale_to_zero_resolution_errors(map) {
                problems.push(format!(
                    "{path}.{}: {}; use a duration such as \"10m\"",
                    e.key, e.message
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut pods = std::collections::BTreeMap::new();
        for (i, m) in self.models.iter().enumerate() {
            let at = format!("models[{i}]");
            if m.model_id.is_empty() {
                problems.push(format!("{at}.modelID is empty; set the VAs' modelID"));
            }
            if !seen.insert((&m.namespace, &m.model_id)) {
                problems.push(format!(
                    "{at}: model {:?} in namespace {:?} appears twice; merge the groups",
                    m.model_id, m.namespace
                ));
            }
            for (field, value) in [
                ("requestCount", m.request_count),
                ("gatewayQueue", m.gateway_queue),
            ] {
                if let Some(c) = value
                    && !(c.is_finite() && c >= 0.0)
                {
                    problems.push(format!(
                        "{at}.{field} is {c}, expected a number 0 or more (omit it when unknown)"
                    ));
                }
            }
            let mut names = std::collections::BTreeSet::new();
            for (j, v) in m.variants.iter().enumerate() {
                let at = format!("{at}.variants[{j}]");
                validate_variant(&at, v, &mut problems);
                for (k, r) in v.replicas.iter().enumerate() {
                    let here = format!("{at}.replicas[{k}]");
                    if let Some(first) = pods.insert((&m.namespace, &r.pod), here.clone()) {
                        problems.push(format!(
                            "{here}.pod {:?} in namespace {:?} is already listed at {first}; list each pod once",
                            r.pod, m.namespace
                        ));
                    }
                }
                if !names.insert(&v.name) {
                    problems.push(format!(
                        "{at}.variants[{j}].name {:?} appears twice in the model; variant names must be unique",
                        v.name
                    ));
                }
            }
        }
        problems
    }
}

fn validate_variant(at: &str, v: &Variant, problems: &mut Vec<String>) {
    if v.name.is_empty() {
        problems.push(format!("{at}.name is empty; set the VA name"));
    }
    if !(v.cost.is_finite() && v.cost >= 0.0) {
        problems.push(format!(
            "{at}.cost is {}, expected a number 0 or more",
            v.cost
        ));
    }
    if v.ready_replicas > v.current_replicas {
        problems.push(format!(
            "{at}.readyReplicas ({}) is above currentReplicas ({}); ready replicas are some of the current ones",
            v.ready_replicas, v.current_replicas
        ));
    }
    if v.max_replicas == Some(0) {
        problems.push(format!(
            "{at}.maxReplicas is 0, expected at least 1 (omit it for no bound)"
        ));
    }
    if let (Some(min), Some(max)) = (v.min_replicas, v.max_replicas)
        && min > max
    {
        problems.push(format!(
            "{at}.minReplicas ({min}) is above maxReplicas ({max}); lower minReplicas or raise maxReplicas"
        ));
    }
    if v.data_parallel_size == Some(0) {
        problems.push(format!(
            "{at}.dataParallelSize is 0, expected at least 1 (omit it when not set)"
        ));
    }
    if let Some(x) = v.arrival_rate
        && !(x.is_finite() && x >= 0.0)
    {
        problems.push(format!(
            "{at}.arrivalRate is {x}, expected requests per second, 0 or more (omit it when unknown)"
        ));
    }
    if let Some(perf) = v.perf
        && !perf.is_valid()
    {
        problems.push(format!(
            "{at}.perf is {perf:?}, expected finite alpha above 0 and beta, gamma 0 or more (omit it when unknown)"
        ));
    }
    for (k, r) in v.replicas.iter().enumerate() {
        let checks = [
            ("kvCacheUsage", r.kv_cache_usage),
            ("queueLength", r.queue_length),
            ("kvCapacityTokens", r.kv_capacity_tokens),
            ("avgInputTokens", r.avg_input_tokens),
            ("avgOutputTokens", r.avg_output_tokens),
            ("prefixCacheHitRate", r.prefix_cache_hit_rate),
        ];
        for (field, value) in checks {
            if let Some(x) = value
                && !(x.is_finite() && x >= 0.0)
            {
                problems.push(format!(
                    "{at}.replicas[{k}].{field} is {x}, expected a number 0 or more (omit it when missing)"
                ));
            }
        }
        if r.engines == Some(0) {
            problems.push(format!(
                "{at}.replicas[{k}].engines is 0, expected at least 1 (omit it when unknown)"
            ));
        }
        if let Some(x) = r.prefix_cache_hit_rate
            && x.is_finite()
            && x > 1.0
        {
            problems.push(format!(
                "{at}.replicas[{k}].prefixCacheHitRate is {x}, expected a fraction from 0 to 1"
            ));
        }
        if let Some(x) = r.kv_cache_usage
            && x.is_finite()
            && x > 1.0
        {
            let hint = if x <= 100.0 {
                format!(" (it looks like a percent: write {})", x / 100.0)
            } else {
                String::new()
            };
            problems.push(format!(
                "{at}.replicas[{k}].kvCacheUsage is {x}, expected a fraction from 0 to 1{hint}"
            ));
        }
    }
}
