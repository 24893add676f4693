//! Entries of the saturation-scaling and scale-to-zero ConfigMaps, as users write them.
//!
//! Each data key of `wva-saturation-scaling-config` holds one YAML entry. The key `default`
//! is the base; any other entry with `model_id` (and optionally `namespace`) overrides the
//! base field by field for that model. Fields missing everywhere take the built-in defaults
//! 0.80 / 5 / 0.10 / 3. `wva-model-scale-to-zero-config` works the same way with
//! `enable_scale_to_zero` and `retention_period`.

use crate::params::grammar;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Name of the saturation-scaling ConfigMap (global and namespace-local).
pub const SATURATION_CONFIG_MAP: &str = "wva-saturation-scaling-config";
/// Name of the scale-to-zero ConfigMap (global and namespace-local).
pub const SCALE_TO_ZERO_CONFIG_MAP: &str = "wva-model-scale-to-zero-config";
/// The data key of the base entry in both ConfigMaps.
pub const DEFAULT_KEY: &str = "default";

/// One entry of the saturation-scaling ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SaturationEntry {
    /// Model this override applies to (override entries only).
    #[serde(rename = "model_id", default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Namespace this override applies to (override entries only; empty = any namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A replica is saturated when its KV-cache usage is at or above this fraction (0-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_threshold: Option<f64>,
    /// A replica is saturated when its waiting queue is at or above this length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_length_threshold: Option<f64>,
    /// Scale up when the average spare KV-cache of non-saturated replicas falls below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_spare_trigger: Option<f64>,
    /// Scale up when the average spare queue of non-saturated replicas falls below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_spare_trigger: Option<f64>,
    /// How far one decision scales up: `one` replica per cycle (the default), or `sized`: in
    /// one step, the replicas that bring both spare averages back to their triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up_step: Option<ScaleUpStep>,
}

/// How many replicas one scale-up decision adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ScaleUpStep {
    /// One replica per cycle (the default).
    #[default]
    One,
    /// The replica count that brings the spare averages back to their triggers, in one step.
    Sized,
}

impl ScaleUpStep {
    /// The name used in the ConfigMap entry.
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleUpStep::One => "one",
            ScaleUpStep::Sized => "sized",
        }
    }
}

impl std::str::FromStr for ScaleUpStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "one" => Ok(ScaleUpStep::One),
            "sized" => Ok(ScaleUpStep::Sized),
            other => Err(format!(
                "scaleUpStep is {other:?}, expected `one` (default) or `sized`"
            )),
        }
    }
}

/// Resolved saturation thresholds for one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaturationThresholds {
    /// See [`SaturationEntry::kv_cache_threshold`].
    pub kv_cache_threshold: f64,
    /// See [`SaturationEntry::queue_length_threshold`].
    pub queue_length_threshold: f64,
    /// See [`SaturationEntry::kv_spare_trigger`].
    pub kv_spare_trigger: f64,
    /// See [`SaturationEntry::queue_spare_trigger`].
    pub queue_spare_trigger: f64,
}

impl Default for SaturationThresholds {
    fn default() -> Self {
        SaturationThresholds {
            kv_cache_threshold: 0.80,
            queue_length_threshold: 5.0,
            kv_spare_trigger: 0.10,
            queue_spare_trigger: 3.0,
        }
    }
}

impl SaturationEntry {
    /// This entry's fields over `base`, field by field.
    pub fn over(&self, base: SaturationThresholds) -> SaturationThresholds {
        SaturationThresholds {
            kv_cache_threshold: self.kv_cache_threshold.unwrap_or(base.kv_cache_threshold),
            queue_length_threshold: self
                .queue_length_threshold
                .unwrap_or(base.queue_length_threshold),
            kv_spare_trigger: self.kv_spare_trigger.unwrap_or(base.kv_spare_trigger),
            queue_spare_trigger: self.queue_spare_trigger.unwrap_or(base.queue_spare_trigger),
        }
    }
}

impl SaturationThresholds {
    /// Checks ranges and `kvCacheThreshold >= kvSpareTrigger`; each problem names the field,
    /// the value and the accepted range.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut check = |name: &str, value: f64, max: Option<f64>| {
            let in_range = value.is_finite() && value >= 0.0 && max.is_none_or(|m| value <= m);
            if !in_range {
                let range = max.map_or("0 or more".to_string(), |m| format!("from 0 to {m}"));
                problems.push(format!("{name} is {value}, expected a number {range}"));
            }
        };
        check("kvCacheThreshold", self.kv_cache_threshold, Some(1.0));
        check("queueLengthThreshold", self.queue_length_threshold, None);
        check("kvSpareTrigger", self.kv_spare_trigger, Some(1.0));
        check("queueSpareTrigger", self.queue_spare_trigger, None);
        if self.kv_cache_threshold < self.kv_spare_trigger {
            problems.push(format!(
                "kvCacheThreshold ({}) must be at least kvSpareTrigger ({})",
                self.kv_cache_threshold, self.kv_spare_trigger
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// One entry of the scale-to-zero ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScaleToZeroEntry {
    /// Model this entry applies to (required except in the `default` entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Namespace this entry applies to (empty = any namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Scale every variant of the model to zero after `retention_period` without requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_scale_to_zero: Option<bool>,
    /// How long a model must receive no requests before it scales to zero, e.g. "10m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<String>,
}

/// The default retention period of scale-to-zero.
pub const DEFAULT_RETENTION_PERIOD: Duration = Duration::from_secs(600);

impl ScaleToZeroEntry {
    /// The retention period, parsed; must be more than zero.
    pub fn retention(&self) -> Result<Option<Duration>, String> {
        let Some(text) = &self.retention_period else {
            return Ok(None);
        };
        match grammar::parse_duration(text) {
            Ok(d) if d > Duration::ZERO => Ok(Some(d)),
            Ok(_) => Err(format!("retention_period {text:?} must be more than zero")),
            Err(why) => Err(format!("retention_period: {why}")),
        }
    }
}

/// A data key of a ConfigMap that was rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    /// The data key.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The valid entries of one ConfigMap, by data key, plus the rejected ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntries<E> {
    /// Entries that parsed and validated.
    pub entries: BTreeMap<String, E>,
    /// Entries that were rejected.
    pub errors: Vec<EntryError>,
}

/// Parses every data key of a saturation-scaling ConfigMap.
pub fn parse_saturation(data: &BTreeMap<String, String>) -> ParsedEntries<SaturationEntry> {
    parse_entries(data, |key, entry: &SaturationEntry| {
        if key != DEFAULT_KEY && entry.model_id.as_deref().is_none_or(str::is_empty) {
            return Err(
                "an override entry needs model_id (only the `default` entry may omit it)".into(),
            );
        }
        entry
            .over(SaturationThresholds::default())
            .validate()
            .map_err(|p| p.join("; "))
    })
}

/// Parses every data key of a scale-to-zero ConfigMap.
pub fn parse_scale_to_zero(data: &BTreeMap<String, String>) -> ParsedEntries<ScaleToZeroEntry> {
    parse_entries(data, |key, entry: &ScaleToZeroEntry| {
        if key != DEFAULT_KEY && entry.model_id.as_deref().is_none_or(str::is_empty) {
            return Err("an entry needs model_id (only the `default` entry may omit it)".into());
        }
        entry.retention().map(drop)
    })
}

fn parse_entries<E: for<'de> Deserialize<'de>>(
    data: &BTreeMap<String, String>,
    check: impl Fn(&str, &E) -> Result<(), String>,
) -> ParsedEntries<E> {
    let mut entries = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, text) in data {
        let parsed = serde_saphyr::from_str::<E>(text)
            .map_err(|e| format!("invalid YAML: {e}"))
            .and_then(|entry| check(key, &entry).map(|()| entry));
        match parsed {
            Ok(entry) => {
                entries.insert(key.clone(), entry);
            }
            Err(message) => errors.push(EntryError {
                key: key.clone(),
                message,
            }),
        }
    }
    ParsedEntries { entries, errors }
}

/// Resolves the thresholds of `model_id` in `namespace`: the matching override (an entry whose
/// `namespace` equals it beats one without) merged over `default`, merged over the built-ins.
pub fn thresholds_for(
    entries: &BTreeMap<String, SaturationEntry>,
    model_id: &str,
    namespace: &str,
) -> SaturationThresholds {
    let base = entries
        .get(DEFAULT_KEY)
        .map_or_else(SaturationThresholds::default, |d| {
            d.over(SaturationThresholds::default())
        });
    match entry_for(entries, model_id, namespace) {
        Some(entry) => entry.over(base),
        None => base,
    }
}

/// Resolves the scale-up step of `model_id` in `namespace` like [`thresholds_for`]: the
/// matching override's value, else the `default` entry's, else [`ScaleUpStep::One`].
pub fn scale_up_step_for(
    entries: &BTreeMap<String, SaturationEntry>,
    model_id: &str,
    namespace: &str,
) -> ScaleUpStep {
    entry_for(entries, model_id, namespace)
        .and_then(|e| e.scale_up_step)
        .or_else(|| entries.get(DEFAULT_KEY).and_then(|d| d.scale_up_step))
        .unwrap_or_default()
}

/// An entry that may be scoped to one model (and namespace).
pub trait ModelScoped {
    /// The entry's `model_id`.
    fn model_id(&self) -> Option<&str>;
    /// The entry's `namespace`.
    fn namespace(&self) -> Option<&str>;
}

impl ModelScoped for SaturationEntry {
    fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

impl ModelScoped for ScaleToZeroEntry {
    fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }
    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
}

/// The entry (other than `default`) for `model_id` in `namespace`: one naming that namespace
/// beats one without a namespace; among equals the first data key wins.
pub fn entry_for<'a, E: ModelScoped>(
    entries: &'a BTreeMap<String, E>,
    model_id: &str,
    namespace: &str,
) -> Option<&'a E> {
    let matching = |want_namespace: bool| {
        entries.iter().find(|(key, e)| {
            key.as_str() != DEFAULT_KEY
                && e.model_id() == Some(model_id)
                && match e.namespace().filter(|n| !n.is_empty()) {
                    Some(ns) => want_namespace && ns == namespace,
                    None => !want_namespace,
                }
        })
    };
    matching(true).or_else(|| matching(false)).map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn override_merges_field_by_field_over_default_and_builtins() {
        let parsed = parse_saturation(&data(&[
            ("default", "kvCacheThreshold: 0.7\n"),
            (
                "llama",
                "model_id: meta/llama\nnamespace: prod\nqueueSpareTrigger: 5\n",
            ),
        ]));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let t = thresholds_for(&parsed.entries, "meta/llama", "prod");
        assert_eq!(t.kv_cache_threshold, 0.7);
        assert_eq!(t.queue_spare_trigger, 5.0);
        assert_eq!(t.queue_length_threshold, 5.0);
        let other = thresholds_for(&parsed.entries, "meta/llama", "staging");
        assert_eq!(other.queue_spare_trigger, 3.0);
    }

    #[test]
    fn invalid_entries_are_rejected_with_the_key_and_reason() {
        let parsed = parse_saturation(&data(&[
            ("default", "kvCacheThreshold: 0.05\nkvSpareTrigger: 0.1\n"),
            ("typo", "model_id: m\nkvCacheThresold: 0.5\n"),
            ("nomodel", "kvCacheThreshold: 0.5\n"),
        ]));
        assert!(parsed.entries.is_empty());
        let messages: Vec<_> = parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect();
        assert!(
            messages[0].starts_with(
                "default: kvCacheThreshold (0.05) must be at least kvSpareTrigger (0.1)"
            ),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("nomodel: an override entry needs model_id"),
            "{messages:?}"
        );
        assert!(messages[2].contains("kvCacheThresold"), "{messages:?}");
    }

    #[test]
    fn scale_up_step_resolves_override_then_default_then_one() {
        let parsed = parse_saturation(&data(&[
            ("default", "scaleUpStep: sized\n"),
            ("a", "model_id: a\nscaleUpStep: one\n"),
            ("b", "model_id: b\nkvSpareTrigger: 0.2\n"),
        ]));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(
            scale_up_step_for(&parsed.entries, "a", "x"),
            ScaleUpStep::One
        );
        assert_eq!(
            scale_up_step_for(&parsed.entries, "b", "x"),
            ScaleUpStep::Sized
        );
        assert_eq!(
            scale_up_step_for(&BTreeMap::new(), "b", "x"),
            ScaleUpStep::One
        );
        let bad = parse_saturation(&data(&[("default", "scaleUpStep: two\n")]));
        assert_eq!(bad.errors.len(), 1);
        let message = &bad.errors[0].message;
        assert!(
            message.contains("two") && message.contains("sized"),
            "{message}"
        );
    }

    #[test]
    fn retention_period_must_be_a_positive_duration() {
        let parsed = parse_scale_to_zero(&data(&[
            (
                "default",
                "enable_scale_to_zero: true\nretention_period: 15m\n",
            ),
            ("m1", "model_id: m1\nretention_period: \"15\"\n"),
        ]));
        assert_eq!(
            parsed.entries["default"].retention(),
            Ok(Some(Duration::from_secs(900)))
        );
        assert_eq!(parsed.errors.len(), 1);
        assert!(
            parsed.errors[0].message.contains("the unit is missing"),
            "{:?}",
            parsed.errors
        );
    }
}
