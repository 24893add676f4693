//! Autoscaler manifests given with `--hpa FILE`: `autoscaling/v2` HorizontalPodAutoscalers and
//! KEDA ScaledObjects (`keda.sh/v1alpha1`), the ones you would apply, one or more YAML
//! documents. Each applies to the variant named by its `spec.scaleTargetRef.name`; fields left
//! out take Kubernetes' (or KEDA's) defaults, not the chart's.

use crate::autoscaler::{
    AutoscalerSpec, DEFAULT_SYNC_SECONDS, DEFAULT_TOLERANCE, HpaSpec, KedaSpec, Rules,
    parse_quantity,
};
use crate::scenario::InputError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::Path;
use wva_api::helm_values::{HpaValues, ScalingPolicy, SelectPolicy};

/// The metric WVA publishes and the autoscaler reads.
const METRIC: &str = "wva_desired_replicas";

/// The KEDA ScaledObject of the docs (`docs/samples/keda-scaledobject.yaml`): `--keda`
/// without a file uses its polling interval, cooldown, activation threshold and behavior.
pub const KEDA_SAMPLE: &str = include_str!("../../docs/samples/keda-scaledobject.yaml");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetRef {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RulesManifest {
    stabilization_window_seconds: Option<u32>,
    select_policy: Option<SelectPolicy>,
    policies: Option<Vec<ScalingPolicy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Behavior {
    scale_up: Option<RulesManifest>,
    scale_down: Option<RulesManifest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HpaManifestSpec {
    scale_target_ref: TargetRef,
    min_replicas: Option<u32>,
    max_replicas: u32,
    #[serde(default)]
    metrics: Vec<MetricSpec>,
    behavior: Option<Behavior>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricSpec {
    #[serde(rename = "type")]
    kind: String,
    external: Option<ExternalMetric>,
}

#[derive(Deserialize)]
struct ExternalMetric {
    metric: MetricName,
    target: MetricTarget,
}

#[derive(Deserialize)]
struct MetricName {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricTarget {
    #[serde(rename = "type")]
    kind: String,
    average_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScaledObjectSpec {
    scale_target_ref: TargetRef,
    polling_interval: Option<u64>,
    cooldown_period: Option<u64>,
    min_replica_count: Option<u32>,
    max_replica_count: Option<u32>,
    advanced: Option<Advanced>,
    #[serde(default)]
    triggers: Vec<Trigger>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Advanced {
    horizontal_pod_autoscaler_config: Option<HpaConfig>,
}

#[derive(Deserialize)]
struct HpaConfig {
    behavior: Option<Behavior>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trigger {
    #[serde(rename = "type")]
    kind: String,
    metric_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Spec<T> {
    spec: T,
}

/// One parsed document: the Deployment it scales and its autoscaler.
pub type Target = (String, AutoscalerSpec);

/// Parses the autoscaler manifests of one file.
pub fn parse_autoscalers(file: &Path, text: &str) -> Result<Vec<Target>, InputError> {
    let fail = |message: String| InputError {
        file: file.display().to_string(),
        message,
    };
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| fail(format!("not YAML: {e}")))?;
    let docs: Vec<serde_json::Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return Err(fail(
            "no document; give a HorizontalPodAutoscaler (autoscaling/v2) or a KEDA ScaledObject"
                .to_string(),
        ));
    }
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap_or("?").to_string();
        let at = format!("document {} ({kind} {name})", i + 1);
        let fail = |message: String| fail(format!("{at}: {message}"));
        let target = match kind.as_str() {
            "HorizontalPodAutoscaler" => {
                let api = doc["apiVersion"].as_str().unwrap_or_default();
                if api != "autoscaling/v2" {
                    return Err(fail(format!(
                        "apiVersion is {api:?}, expected autoscaling/v2 (behavior needs v2)"
                    )));
                }
                let spec: HpaManifestSpec = typed(doc).map_err(&fail)?;
                (
                    spec.scale_target_ref.name.clone(),
                    hpa(spec).map_err(&fail)?,
                )
            }
            "ScaledObject" => {
                let spec: ScaledObjectSpec = typed(doc).map_err(&fail)?;
                (
                    spec.scale_target_ref.name.clone(),
                    scaled_object(spec).map_err(&fail)?,
                )
            }
            _ => {
                return Err(fail(format!(
                    "kind is {kind:?}, expected HorizontalPodAutoscaler or ScaledObject"
                )));
            }
        };
        out.push(target);
    }
    Ok(out)
}

/// The ScaledObject of [`KEDA_SAMPLE`] for a variant with the VA's bounds: `minReplicaCount`
/// the VA's `minReplicas` (0 where unset), `maxReplicaCount` its `maxReplicas` (the chart's
/// `hpa.maxReplicas` where unset). `--keda` without a file.
pub fn keda_sample(va_min: Option<u32>, va_max: Option<u32>) -> Result<KedaSpec, InputError> {
    let sample = "docs/samples/keda-scaledobject.yaml";
    let parsed = parse_autoscalers(Path::new(sample), KEDA_SAMPLE)?;
    match parsed.into_iter().next() {
        Some((_, AutoscalerSpec::Keda(mut k))) => {
            let min = va_min.unwrap_or(0);
            k.min_replica_count = min;
            k.hpa.min_replicas = min.max(1);
            k.hpa.max_replicas = va_max.unwrap_or(HpaValues::default().max_replicas).max(1);
            Ok(k)
        }
        _ => Err(InputError {
            file: sample.to_string(),
            message: "not one ScaledObject".to_string(),
        }),
    }
}

fn typed<T: DeserializeOwned>(doc: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize::<_, Spec<T>>(doc)
        .map(|s| s.spec)
        .map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.inner())
        })
}

fn rules(given: Option<RulesManifest>, default: Rules, field: &str) -> Result<Rules, String> {
    let Some(given) = given else {
        return Ok(default);
    };
    let window = given
        .stabilization_window_seconds
        .unwrap_or(default.stabilization_window_seconds);
    if window > 3600 {
        return Err(format!(
            "spec.behavior.{field}.stabilizationWindowSeconds is {window}, expected 0 to 3600"
        ));
    }
    let policies = given.policies.unwrap_or(default.policies);
    if policies.is_empty() {
        return Err(format!(
            "spec.behavior.{field}.policies is empty; give at least one policy (type Pods or Percent, value, periodSeconds) or leave policies out"
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        if p.value == 0 {
            return Err(format!(
                "spec.behavior.{field}.policies[{i}].value is 0, expected 1 or more (selectPolicy: Disabled stops scaling)"
            ));
        }
        if !(1..=1800).contains(&p.period_seconds) {
            return Err(format!(
                "spec.behavior.{field}.policies[{i}].periodSeconds is {}, expected 1 to 1800",
                p.period_seconds
            ));
        }
    }
    Ok(Rules {
        stabilization_window_seconds: window,
        select_policy: given.select_policy.unwrap_or(default.select_policy),
        policies,
    })
}

fn behavior(given: Option<Behavior>, prefix: &str) -> Result<(Rules, Rules), String> {
    let (up, down) = given.map_or((None, None), |b| (b.scale_up, b.scale_down));
    let with_prefix = |e: String| e.replacen("spec.", prefix, 1);
    Ok((
        rules(up, Rules::kubernetes_scale_up(), "scaleUp").map_err(with_prefix)?,
        rules(down, Rules::kubernetes_scale_down(), "scaleDown").map_err(with_prefix)?,
    ))
}

fn bounds(min: u32, max: u32, min_field: &str, max_field: &str) -> Result<(), String> {
    if max == 0 {
        return Err(format!("spec.{max_field} is 0, expected 1 or more"));
    }
    if min > max {
        return Err(format!(
            "spec.{min_field} ({min}) is above spec.{max_field} ({max}); lower {min_field} or raise {max_field}"
        ));
    }
    Ok(())
}

fn hpa(spec: HpaManifestSpec) -> Result<AutoscalerSpec, String> {
    let min_replicas = spec.min_replicas.unwrap_or(1);
    bounds(
        min_replicas,
        spec.max_replicas,
        "minReplicas",
        "maxReplicas",
    )?;
    let metric = spec
        .metrics
        .iter()
        .enumerate()
        .find_map(|(i, m)| {
            m.external
                .as_ref()
                .filter(|e| m.kind == "External" && e.metric.name == METRIC)
                .map(|e| (i, e))
        })
        .ok_or_else(|| {
            format!("spec.metrics has no External metric {METRIC}; the simulator applies WVA's desired replicas: use the metric of docs/samples/hpa.yaml")
        })?;
    let (i, external) = metric;
    if external.target.kind != "AverageValue" {
        return Err(format!(
            "spec.metrics[{i}].external.target.type is {:?}, expected AverageValue (averageValue \"1\" makes the HPA's desired replicas equal WVA's)",
            external.target.kind
        ));
    }
    let text = external.target.average_value.clone().unwrap_or_default();
    let target_average_value = parse_quantity(&text).ok_or_else(|| {
        format!(
            "spec.metrics[{i}].external.target.averageValue is {text:?}, expected a positive quantity such as \"1\""
        )
    })?;
    let (scale_up, scale_down) = behavior(spec.behavior, "spec.")?;
    Ok(AutoscalerSpec::Hpa(HpaSpec {
        min_replicas,
        max_replicas: spec.max_replicas,
        target_average_value,
        tolerance: DEFAULT_TOLERANCE,
        sync_seconds: DEFAULT_SYNC_SECONDS,
        scale_up,
        scale_down,
    }))
}

fn scaled_object(spec: ScaledObjectSpec) -> Result<AutoscalerSpec, String> {
    let min_replica_count = spec.min_replica_count.unwrap_or(0);
    let max_replica_count = spec.max_replica_count.unwrap_or(100);
    bounds(
        min_replica_count,
        max_replica_count,
        "minReplicaCount",
        "maxReplicaCount",
    )?;
    let polling_seconds = spec.polling_interval.unwrap_or(30);
    if !(1..=3600).contains(&polling_seconds) {
        return Err(format!(
            "spec.pollingInterval is {polling_seconds}, expected 1 to 3600 seconds"
        ));
    }
    let (i, trigger) = spec
        .triggers
        .iter()
        .enumerate()
        .find(|(_, t)| {
            t.kind == "prometheus" && t.metadata.get("query").is_some_and(|q| q.contains(METRIC))
        })
        .ok_or_else(|| {
            format!("spec.triggers has no prometheus trigger whose query reads {METRIC}; use the trigger of docs/samples/keda-scaledobject.yaml")
        })?;
    let metric_type = trigger.metric_type.as_deref().unwrap_or("AverageValue");
    if metric_type != "AverageValue" {
        return Err(format!(
            "spec.triggers[{i}].metricType is {metric_type:?}, expected AverageValue (threshold \"1\" makes the replicas equal WVA's)"
        ));
    }
    let number = |key: &str, default: Option<f64>| -> Result<f64, String> {
        match trigger.metadata.get(key) {
            None => default.ok_or_else(|| {
                format!("spec.triggers[{i}].metadata.{key} is missing; write e.g. {key}: \"1\"")
            }),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "spec.triggers[{i}].metadata.{key} is {text:?}, expected a number such as \"1\""
                    )
                }),
        }
    };
    let target_average_value = number("threshold", None)?;
    if target_average_value <= 0.0 {
        return Err(format!(
            "spec.triggers[{i}].metadata.threshold is 0, expected more than 0 such as \"1\""
        ));
    }
    let activation_threshold = number("activationThreshold", Some(0.0))?;
    let (scale_up, scale_down) = behavior(
        spec.advanced
            .and_then(|a| a.horizontal_pod_autoscaler_config)
            .and_then(|h| h.behavior),
        "spec.advanced.horizontalPodAutoscalerConfig.",
    )?;
    Ok(AutoscalerSpec::Keda(KedaSpec {
        polling_seconds,
        cooldown_seconds: spec.cooldown_period.unwrap_or(300),
        activation_threshold,
        min_replica_count,
        hpa: HpaSpec {
            min_replicas: min_replica_count.max(1),
            max_replicas: max_replica_count,
            target_average_value,
            tolerance: DEFAULT_TOLERANCE,
            sync_seconds: DEFAULT_SYNC_SECONDS,
            scale_up,
            scale_down,
        },
    }))
}
