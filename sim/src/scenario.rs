//! What a simulation runs: the model's variants and their vLLM replicas, the load profile and
//! the configuration; the built-in default scenario and the loaders for user files.

use crate::autoscaler::{AutoscalerSpec, HpaSpec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use wva_api::config::{DynamicConfig, ScaleFromZeroActuation, StaticConfig};
use wva_api::crd::VariantAutoscaling;
use wva_api::params::{Key, ParamValue, Sources};
use wva_api::saturation::{DEFAULT_KEY, SaturationEntry, ScaleToZeroEntry, parse_saturation};
use wva_core::service_class::{ModelClass, Slo, parse_service_classes};
use wva_engine::parse_cost;

/// The most pods the simulator runs per variant, whatever the engine asks for (like an HPA
/// `maxReplicas`); keeps a run in seconds.
pub const MAX_PODS: u32 = 500;

/// Annotation prefix for the emulated replica's parameters on a VA given with `--va`.
pub const ANNOTATION_PREFIX: &str = "sim.wva.llmd.ai/";

/// One emulated vLLM replica's capacity and speed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSpec {
    /// KV-cache capacity in tokens (`num_gpu_blocks × block_size`).
    pub kv_capacity_tokens: f64,
    /// Maximum concurrently running sequences (`--max-num-seqs`).
    pub max_num_seqs: u32,
    /// Maximum tokens in one engine step (`--max-num-batched-tokens`). The emulator's
    /// one-second ticks do not model engine steps, so it only reaches the snapshot, as the
    /// variant's batch limit the token-capacity analyzer (V2) sizes a replica with.
    pub max_num_batched_tokens: u32,
    /// Prompt tokens processed per second.
    pub prefill_tokens_per_second: f64,
    /// Output tokens generated per second, summed over the batch.
    pub decode_tokens_per_second: f64,
    /// Output tokens per second of one sequence (the inter-token latency limit).
    pub decode_tokens_per_second_per_seq: f64,
    /// Seconds from pod creation until the replica serves (model load).
    pub startup_seconds: u64,
}

/// One variant: a VA with its Deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantSpec {
    /// VA name.
    pub name: String,
    /// Cost per replica (per hour in the summary).
    pub cost: f64,
    /// Accelerator type.
    pub accelerator: String,
    /// GPUs per replica.
    pub gpus_per_replica: u32,
    /// VA `minReplicas`.
    pub min_replicas: Option<u32>,
    /// VA `maxReplicas`.
    pub max_replicas: Option<u32>,
    /// Replicas at the start.
    pub initial_replicas: u32,
    /// The emulated replica.
    pub replica: ReplicaSpec,
    /// What applies the desired replicas to the Deployment (the chart's HPA unless `--hpa`
    /// or `--keda` say otherwise).
    pub autoscaler: AutoscalerSpec,
}

/// One point of the load profile; the load is linear between points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadPoint {
    /// Seconds from the start.
    pub time: f64,
    /// Arriving requests per second.
    pub requests_per_second: f64,
    /// Mean prompt tokens per request.
    pub input_tokens: f64,
    /// Mean output tokens per request.
    pub output_tokens: f64,
}

/// A complete simulation setup.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// Namespace of the VAs.
    pub namespace: String,
    /// The model.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// The variants.
    pub variants: Vec<VariantSpec>,
    /// The load profile, by time.
    pub profile: Vec<LoadPoint>,
    /// Saturation-scaling ConfigMap entries.
    pub saturation: BTreeMap<String, SaturationEntry>,
    /// Scale-to-zero ConfigMap entries.
    pub scale_to_zero: BTreeMap<String, ScaleToZeroEntry>,
    /// Simulated seconds.
    pub duration_seconds: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Seconds between engine cycles (`GLOBAL_OPT_INTERVAL`).
    pub engine_interval_seconds: u64,
    /// Seconds between scale-from-zero checks (`SCALE_FROM_ZERO_CHECK_INTERVAL`, in whole
    /// seconds: the simulator's clock ticks once a second).
    pub scale_from_zero_check_seconds: u64,
    /// Most scale-from-zero activations whose replica is not ready yet
    /// (`SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY`).
    pub scale_from_zero_max_concurrency: u32,
    /// How an activation reaches the Deployment (`SCALE_FROM_ZERO_ACTUATION`): `metric` (the
    /// variant's autoscaler reads it: KEDA activates at its next poll, an HPA with
    /// `minReplicas` 0 after its scale-up window) or `scale` (the controller patches the scale
    /// subresource from 0 to 1 at once, for a plain HPA).
    #[serde(serialize_with = "serialize_actuation")]
    pub scale_from_zero_actuation: ScaleFromZeroActuation,
    /// HYBRID mode (`EXPERIMENTAL_PROACTIVE_MODEL`): the queueing model, learned from the
    /// emulated replicas' latencies, arbitrated with the capacity analysis.
    pub hybrid: bool,
    /// The model's service class (from the service-class ConfigMap), whose SLOs HYBRID mode
    /// sizes for.
    pub service_class: Option<ModelClass>,
}

fn serialize_actuation<S: serde::Serializer>(
    actuation: &ScaleFromZeroActuation,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(actuation.as_str())
}

/// The controller's declared default of a parameter: the simulator uses the same defaults.
fn declared_default<T: ParamValue>(key: Key<T>) -> Option<T> {
    key.resolve(&Sources::default()).ok()
}

/// The A100-class replica of the default scenario: cheaper, smaller and slower.
pub const STANDARD_REPLICA: ReplicaSpec = ReplicaSpec {
    kv_capacity_tokens: 60_000.0,
    max_num_seqs: 64,
    max_num_batched_tokens: 8192,
    prefill_tokens_per_second: 10_000.0,
    decode_tokens_per_second: 1_200.0,
    decode_tokens_per_second_per_seq: 40.0,
    startup_seconds: 90,
};

/// The H100-class replica of the default scenario: dearer, larger and faster.
pub const PREMIUM_REPLICA: ReplicaSpec = ReplicaSpec {
    kv_capacity_tokens: 150_000.0,
    max_num_seqs: 128,
    max_num_batched_tokens: 8192,
    prefill_tokens_per_second: 25_000.0,
    decode_tokens_per_second: 3_000.0,
    decode_tokens_per_second_per_seq: 60.0,
    startup_seconds: 90,
};

fn point(time: f64, rps: f64) -> LoadPoint {
    LoadPoint {
        time,
        requests_per_second: rps,
        input_tokens: 512.0,
        output_tokens: 256.0,
    }
}

impl Scenario {
    /// The built-in scenario: `meta/llama-3.1-8b` on a cheap slow variant and a dear fast one,
    /// through a ramp, a burst and an idle period, with scale-to-zero after 5 idle minutes.
    pub fn default_scenario() -> Scenario {
        let variant =
            |name: &str, cost: f64, accelerator: &str, replica: ReplicaSpec| VariantSpec {
                name: name.to_string(),
                cost,
                accelerator: accelerator.to_string(),
                gpus_per_replica: 1,
                min_replicas: Some(0),
                max_replicas: Some(10),
                initial_replicas: 1,
                replica,
                autoscaler: AutoscalerSpec::Hpa(HpaSpec::chart(Some(0), Some(10))),
            };
        let scale_to_zero = BTreeMap::from([(
            DEFAULT_KEY.to_string(),
            ScaleToZeroEntry {
                enable_scale_to_zero: Some(true),
                retention_period: Some("5m".to_string()),
                ..ScaleToZeroEntry::default()
            },
        )]);
        Scenario {
            namespace: "llm-inference".to_string(),
            model_id: "meta/llama-3.1-8b".to_string(),
            variants: vec![
                variant("llama-8b-a100", 40.0, "A100", STANDARD_REPLICA),
                variant("llama-8b-h100", 100.0, "H100", PREMIUM_REPLICA),
            ],
            profile: vec![
                point(0.0, 2.0),
                point(300.0, 2.0),
                point(900.0, 18.0),
                point(1500.0, 18.0),
                point(1501.0, 36.0),
                point(1800.0, 36.0),
                point(1801.0, 8.0),
                point(2400.0, 8.0),
                point(2700.0, 0.0),
                point(3600.0, 0.0),
            ],
            saturation: BTreeMap::new(),
            scale_to_zero,
            duration_seconds: 3600,
            seed: 1,
            engine_interval_seconds: 30,
            scale_from_zero_check_seconds: declared_default(
                DynamicConfig::SCALE_FROM_ZERO_CHECK_INTERVAL,
            )
            .map_or(1, |d| d.as_secs().max(1)),
            scale_from_zero_max_concurrency: declared_default(
                StaticConfig::SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY,
            )
            .unwrap_or(10),
            scale_from_zero_actuation: declared_default(StaticConfig::SCALE_FROM_ZERO_ACTUATION)
                .unwrap_or(ScaleFromZeroActuation::Metric),
            hybrid: declared_default(StaticConfig::EXPERIMENTAL_PROACTIVE_MODEL).unwrap_or(false),
            service_class: Some(ModelClass {
                class: "standard".to_string(),
                priority: 1,
                slo: Slo {
                    itl_ms: Some(40.0),
                    ttft_ms: Some(2000.0),
                },
            }),
        }
    }

    /// The engine's configuration of this scenario (its saturation and scale-to-zero entries).
    pub fn engine_config(&self) -> wva_engine::EngineConfig {
        wva_engine::EngineConfig {
            saturation: self.saturation.clone(),
            scale_to_zero: self.scale_to_zero.clone(),
            hybrid: self.hybrid,
            ..wva_engine::EngineConfig::default()
        }
    }

    /// The load at `time`, interpolated linearly; flat before the first and after the last
    /// point.
    pub fn load_at(&self, time: f64) -> LoadPoint {
        let p = &self.profile;
        let Some(first) = p.first() else {
            return point(time, 0.0);
        };
        if time <= first.time {
            return LoadPoint { time, ..*first };
        }
        for w in p.windows(2) {
            let (a, b) = (w[0], w[1]);
            if time <= b.time {
                let span = b.time - a.time;
                let f = if span > 0.0 {
                    (time - a.time) / span
                } else {
                    1.0
                };
                let lerp = |x: f64, y: f64| x + (y - x) * f;
                return LoadPoint {
                    time,
                    requests_per_second: lerp(a.requests_per_second, b.requests_per_second),
                    input_tokens: lerp(a.input_tokens, b.input_tokens),
                    output_tokens: lerp(a.output_tokens, b.output_tokens),
                };
            }
        }
        LoadPoint {
            time,
            ..p[p.len() - 1]
        }
    }
}

/// A user file that could not be used: the file, what is wrong (naming the field) and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file.
    pub file: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for InputError {}

fn input_error(file: &Path, message: impl Into<String>) -> InputError {
    InputError {
        file: file.display().to_string(),
        message: message.into(),
    }
}

/// Reads a file (`-` for stdin, at most 16 MiB), naming it in the error.
pub fn read(file: &Path) -> Result<String, InputError> {
    wva_api::input::read_input(&file.to_string_lossy()).map_err(|e| input_error(file, e))
}

const PROFILE_COLUMNS: [&str; 4] = [
    "time",
    "requests_per_second",
    "input_tokens",
    "output_tokens",
];
/// Upper bounds of the profile columns (7 days, 2,000 req/s, 1M tokens): keeps a run in seconds.
const PROFILE_MAX: [f64; 4] = [604_800.0, 2_000.0, 1_000_000.0, 1_000_000.0];

/// Parses a load profile: CSV lines `time,requests_per_second,input_tokens,output_tokens`
/// (seconds, requests per second, mean tokens); an optional header line; `#` comments.
pub fn parse_profile(file: &Path, text: &str) -> Result<Vec<LoadPoint>, InputError> {
    let mut points: Vec<LoadPoint> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = format!("line {}", index + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if points.is_empty() && cells.first().is_some_and(|c| c.parse::<f64>().is_err()) {
            continue; // header
        }
        if cells.len() != PROFILE_COLUMNS.len() {
            return Err(input_error(
                file,
                format!(
                    "{at}: expected 4 columns ({}), found {}; write e.g. `60,12.5,512,256`",
                    PROFILE_COLUMNS.join(","),
                    cells.len()
                ),
            ));
        }
        let mut values = [0.0; 4];
        for (i, cell) in cells.iter().enumerate() {
            values[i] = match cell.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 && v <= PROFILE_MAX[i] => v,
                _ => {
                    return Err(input_error(
                        file,
                        format!(
                            "{at}: column {} is {cell:?}, expected a number from 0 to {}",
                            PROFILE_COLUMNS[i], PROFILE_MAX[i]
                        ),
                    ));
                }
            };
        }
        if let Some(last) = points.last()
            && values[0] < last.time
        {
            return Err(input_error(
                file,
                format!(
                    "{at}: column time is {}, before the previous line's {}; sort the lines by time",
                    values[0], last.time
                ),
            ));
        }
        points.push(LoadPoint {
            time: values[0],
            requests_per_second: values[1],
            input_tokens: values[2],
            output_tokens: values[3],
        });
    }
    if points.is_empty() {
        return Err(input_error(
            file,
            "no data lines; write lines `time,requests_per_second,input_tokens,output_tokens`",
        ));
    }
    Ok(points)
}

/// Parses a saturation configuration: either one entry (the YAML of the ConfigMap's `default`
/// key, e.g. `kvCacheThreshold: 0.8`) or a whole ConfigMap with a `data:` map of entries.
pub fn parse_saturation_config(
    file: &Path,
    text: &str,
) -> Result<BTreeMap<String, SaturationEntry>, InputError> {
    let data = config_map_data(file, text, DEFAULT_KEY)?;
    let parsed = parse_saturation(&data);
    if let Some(e) = parsed.errors.first() {
        return Err(input_error(
            file,
            format!(
                "entry `{}`: {}; accepted keys: kvCacheThreshold, queueLengthThreshold, kvSpareTrigger, queueSpareTrigger, scaleUpStep (one|sized), model_id, namespace",
                e.key,
                e.message.trim()
            ),
        ));
    }
    Ok(parsed.entries)
}

/// The data of a ConfigMap manifest, or `text` alone as the value of `bare_key` when it is not
/// a manifest. A manifest has `kind:` or `apiVersion:`, or a top-level `data:` map of strings
/// (a bare value may have its own `data:` list, as the per-class service-class form does).
fn config_map_data(
    file: &Path,
    text: &str,
    bare_key: &str,
) -> Result<BTreeMap<String, String>, InputError> {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        data: BTreeMap<String, String>,
    }
    let top = |key: &str| text.lines().any(|l| l.starts_with(key));
    let manifest = top("kind:") || top("apiVersion:");
    if !manifest && !top("data:") {
        return Ok(BTreeMap::from([(bare_key.to_string(), text.to_string())]));
    }
    match serde_saphyr::from_str::<ConfigMap>(text) {
        Ok(c) => Ok(c.data),
        Err(_) if !manifest => Ok(BTreeMap::from([(bare_key.to_string(), text.to_string())])),
        Err(e) => Err(input_error(
            file,
            format!("not a ConfigMap with a data map: {e}"),
        )),
    }
}

/// Parses a service-class ConfigMap (or the YAML of one data key: a list of classes) and
/// returns the class of `model_id`; an error when the file is invalid or lists no class for
/// the model.
pub fn parse_service_class_config(
    file: &Path,
    text: &str,
    model_id: &str,
) -> Result<ModelClass, InputError> {
    let data = config_map_data(file, text, "serviceClasses")?;
    let classes = parse_service_classes(&data).map_err(|e| input_error(file, e.join("; ")))?;
    classes.of(model_id).cloned().ok_or_else(|| {
        input_error(
            file,
            format!(
                "no service class lists model {model_id:?}; add it to a class's `model` (or `data: [{{model: {model_id}, ...}}]`)"
            ),
        )
    })
}

fn annotation<T: std::str::FromStr>(
    file: &Path,
    va: &VariantAutoscaling,
    key: &str,
    default: T,
) -> Result<T, InputError> {
    let annotations = va.metadata.annotations.as_ref();
    match annotations.and_then(|a| a.get(&format!("{ANNOTATION_PREFIX}{key}"))) {
        None => Ok(default),
        Some(text) => text.trim().parse::<T>().map_err(|_| {
            input_error(
                file,
                format!(
                    "metadata.annotations.{ANNOTATION_PREFIX}{key} is {text:?}, expected a number"
                ),
            )
        }),
    }
}

/// Parses the VAs of one file (one or more YAML documents) into variants, using the
/// `sim.wva.llmd.ai/*` annotations for the emulated replica (defaults: the standard replica).
pub fn parse_vas(
    file: &Path,
    text: &str,
) -> Result<Vec<(String, String, VariantSpec)>, InputError> {
    let vas: Vec<VariantAutoscaling> = serde_saphyr::from_multiple(text).map_err(|e| {
        input_error(
            file,
            format!("not a VariantAutoscaling (llmd.ai/v1alpha1): {e}"),
        )
    })?;
    if vas.is_empty() {
        return Err(input_error(file, "no VariantAutoscaling document found"));
    }
    let mut out = Vec::new();
    for va in vas {
        let name = va.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(input_error(file, "metadata.name is missing; name the VA"));
        }
        let cost_text = &va.spec.variant_cost;
        let cost = parse_cost(cost_text);
        if !cost_text.trim().parse::<f64>().is_ok_and(|c| c == cost) {
            return Err(input_error(
                file,
                format!(
                    "VA {name}: spec.variantCost is {cost_text:?}, expected a numeric string such as \"10.0\""
                ),
            ));
        }
        let bound = |v: Option<i32>, field: &str| -> Result<Option<u32>, InputError> {
            v.map(|x| {
                u32::try_from(x).map_err(|_| {
                    input_error(
                        file,
                        format!("VA {name}: spec.{field} is {x}, expected 0 or more"),
                    )
                })
            })
            .transpose()
        };
        let min_replicas = bound(va.spec.min_replicas, "minReplicas")?;
        let max_replicas = bound(va.spec.max_replicas, "maxReplicas")?;
        if let (Some(lo), Some(hi)) = (min_replicas, max_replicas)
            && lo > hi
        {
            return Err(input_error(
                file,
                format!("VA {name}: spec.minReplicas ({lo}) is above spec.maxReplicas ({hi})"),
            ));
        }
        let d = STANDARD_REPLICA;
        let replica = ReplicaSpec {
            kv_capacity_tokens: annotation(file, &va, "kv-capacity-tokens", d.kv_capacity_tokens)?,
            max_num_seqs: annotation(file, &va, "max-num-seqs", d.max_num_seqs)?,
            max_num_batched_tokens: annotation(
                file,
                &va,
                "max-num-batched-tokens",
                d.max_num_batched_tokens,
            )?,
            prefill_tokens_per_second: annotation(
                file,
                &va,
                "prefill-tokens-per-second",
                d.prefill_tokens_per_second,
            )?,
            decode_tokens_per_second: annotation(
                file,
                &va,
                "decode-tokens-per-second",
                d.decode_tokens_per_second,
            )?,
            decode_tokens_per_second_per_seq: annotation(
                file,
                &va,
                "decode-tokens-per-second-per-seq",
                d.decode_tokens_per_second_per_seq,
            )?,
            startup_seconds: annotation(file, &va, "startup-seconds", d.startup_seconds)?,
        };
        let gpus_per_replica = annotation(file, &va, "gpus-per-replica", 1)?;
        let initial_replicas = annotation(file, &va, "initial-replicas", 1)?;
        let ranges = [
            ("kv-capacity-tokens", replica.kv_capacity_tokens, 1.0, 1e9),
            ("max-num-seqs", f64::from(replica.max_num_seqs), 1.0, 4096.0),
            (
                "max-num-batched-tokens",
                f64::from(replica.max_num_batched_tokens),
                1.0,
                1e7,
            ),
            (
                "prefill-tokens-per-second",
                replica.prefill_tokens_per_second,
                1.0,
                1e7,
            ),
            (
                "decode-tokens-per-second",
                replica.decode_tokens_per_second,
                1.0,
                1e7,
            ),
            (
                "decode-tokens-per-second-per-seq",
                replica.decode_tokens_per_second_per_seq,
                0.1,
                1e5,
            ),
            (
                "startup-seconds",
                replica.startup_seconds as f64,
                0.0,
                3600.0,
            ),
            ("gpus-per-replica", f64::from(gpus_per_replica), 0.0, 64.0),
            (
                "initial-replicas",
                f64::from(initial_replicas),
                0.0,
                f64::from(MAX_PODS),
            ),
        ];
        if let Some((key, value, lo, hi)) = ranges
            .iter()
            .find(|(_, v, lo, hi)| !(v.is_finite() && v >= lo && v <= hi))
        {
            return Err(input_error(
                file,
                format!(
                    "VA {name}: annotation {ANNOTATION_PREFIX}{key} is {value}, expected a number from {lo} to {hi}"
                ),
            ));
        }
        let accelerator = va
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(wva_api::crd::labels::ACCELERATOR_NAME).cloned())
            .unwrap_or_else(|| "unknown".to_string());
        let spec = VariantSpec {
            name,
            cost,
            accelerator,
            gpus_per_replica,
            min_replicas,
            max_replicas,
            initial_replicas,
            replica,
            autoscaler: AutoscalerSpec::Hpa(HpaSpec::chart(min_replicas, max_replicas)),
        };
        let namespace = va
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        out.push((namespace, va.spec.model_id.clone(), spec));
    }
    Ok(out)
}
