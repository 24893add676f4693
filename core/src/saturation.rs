//! Entries of the saturation-scaling and scale-to-zero ConfigMaps, as users write them.
//!
//! Each data key of `wva-saturation-scaling-config` holds one YAML entry. The key `default`
//! is the base; any other entry with `model_id` (and optionally `namespace`) overrides the
//! base field by field for that model. Fields missing everywhere take the built-in defaults
//! 0.80 / 5 / 0.10 / 3. `wva-model-scale-to-zero-config` works the same way with
//! `enable_scale_to_zero` and `retention_period`.
//!
//! An entry's `analyzers` list selects the token-capacity analyzer (V2) for the models it
//! applies to; without it they keep the saturation analyzer (V1). See [`AnalyzerEntry`].

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
    /// The token-capacity analyzers (V2). Present: the models this entry applies to are
    /// decided by the token-capacity analyzer with these thresholds; absent: by the saturation
    /// analyzer (V1). An override's list replaces the `default` entry's as a whole; an empty
    /// list or one whose analyzers are all disabled selects V1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzers: Option<Vec<AnalyzerEntry>>,
}

/// The analyzer names an `analyzers` item may have.
pub const ANALYZER_NAMES: [&str; 1] = ["saturation"];
/// The default `scaleUpThreshold` of an analyzer.
pub const DEFAULT_SCALE_UP_THRESHOLD: f64 = 0.85;
/// The default `scaleDownBoundary` of an analyzer.
pub const DEFAULT_SCALE_DOWN_BOUNDARY: f64 = 0.70;

/// One item of an entry's `analyzers` list: a token-capacity analyzer and its thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalyzerEntry {
    /// The analyzer: `saturation` (the token-capacity analyzer).
    pub name: String,
    /// Whether the analyzer runs (default true).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "enabled_flag"
    )]
    pub enabled: Option<bool>,
    /// The analyzer's weight when analyzers of several kinds are combined; a number 0 or more
    /// (default 1). Accepted and validated, but not used yet: `saturation` is the only kind,
    /// and analyzers of one kind combine by the scale-up-if-any, scale-down-if-all rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Scale up when demand exceeds this fraction of the anticipated supply, in (0, 1]
    /// (default 0.85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up_threshold: Option<f64>,
    /// Scale down while demand stays below this fraction of the remaining supply, in (0, 1)
    /// and below `scaleUpThreshold` (default 0.70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_boundary: Option<f64>,
}

/// A resolved, enabled analyzer of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzerThresholds {
    /// See [`AnalyzerEntry::scale_up_threshold`].
    pub scale_up_threshold: f64,
    /// See [`AnalyzerEntry::scale_down_boundary`].
    pub scale_down_boundary: f64,
}

impl AnalyzerEntry {
    /// Whether the analyzer runs.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The thresholds with their defaults.
    pub fn thresholds(&self) -> AnalyzerThresholds {
        AnalyzerThresholds {
            scale_up_threshold: self
                .scale_up_threshold
                .unwrap_or(DEFAULT_SCALE_UP_THRESHOLD),
            scale_down_boundary: self
                .scale_down_boundary
                .unwrap_or(DEFAULT_SCALE_DOWN_BOUNDARY),
        }
    }

    /// Checks the item at `analyzers[index]`; each problem names the item, the key, the
    /// value and the fix.
    fn validate(&self, index: usize, problems: &mut Vec<String>) {
        let at = format!("analyzers[{index}]");
        if !ANALYZER_NAMES.contains(&self.name.as_str()) {
            let hint = match crate::suggest::closest(&self.name, ANALYZER_NAMES) {
                Some(near) => format!("; did you mean {near:?}?"),
                None => String::new(),
            };
            problems.push(format!(
                "{at}.name is {:?}, expected one of: {}{hint}",
                self.name,
                ANALYZER_NAMES.join(", ")
            ));
        }
        if let Some(score) = self.score
            && !(score.is_finite() && score >= 0.0)
        {
            problems.push(format!(
                "{at}.score is {score}, expected a number 0 or more (or omit it for 1)"
            ));
        }
        let t = self.thresholds();
        let (up, down) = (t.scale_up_threshold, t.scale_down_boundary);
        let up_ok = up.is_finite() && up > 0.0 && up <= 1.0;
        if !up_ok {
            problems.push(format!(
                "{at}.scaleUpThreshold is {up}, expected 0 < scaleUpThreshold <= 1 (a fraction of the supply; default {DEFAULT_SCALE_UP_THRESHOLD})"
            ));
        }
        if !(down.is_finite() && down > 0.0 && down <= 1.0) {
            problems.push(format!(
                "{at}.scaleDownBoundary is {down}, expected 0 < scaleDownBoundary <= 1 (a fraction of the supply; default {DEFAULT_SCALE_DOWN_BOUNDARY})"
            ));
        } else if up_ok && down >= up {
            problems.push(format!(
                "{at}.scaleDownBoundary is {down}, expected below scaleUpThreshold ({up}); otherwise a scale-down would at once call for a scale-up"
            ));
        }
    }
}

/// How many replicas one scale-up decision adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Checks the rules every resolved entry follows; each problem names the field, its value
    /// and the rule it breaks:
    ///
    /// * `0 < kvCacheThreshold <= 1` and `0 <= kvSpareTrigger < kvCacheThreshold`;
    /// * `queueLengthThreshold > 0` and `0 <= queueSpareTrigger < queueLengthThreshold`;
    /// * not both triggers 0 (the model would never scale up).
    ///
    /// A threshold of 0 marks every replica saturated (runaway scale-up); a trigger at or
    /// above its threshold asks for more spare capacity than a replica can have.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut rule = |name: &str, value: f64, ok: bool, rule: String| {
            if !(ok && value.is_finite()) {
                problems.push(format!("{name} is {value}, expected {rule}"));
            }
        };
        let (kv, queue) = (self.kv_cache_threshold, self.queue_length_threshold);
        let (kv_spare, queue_spare) = (self.kv_spare_trigger, self.queue_spare_trigger);
        rule(
            "kvCacheThreshold",
            kv,
            kv > 0.0 && kv <= 1.0,
            "0 < kvCacheThreshold <= 1 (a fraction of the KV cache)".into(),
        );
        rule(
            "kvSpareTrigger",
            kv_spare,
            kv_spare >= 0.0 && kv_spare < kv,
            format!("0 <= kvSpareTrigger < kvCacheThreshold ({kv})"),
        );
        rule(
            "queueLengthThreshold",
            queue,
            queue > 0.0,
            "queueLengthThreshold > 0".into(),
        );
        rule(
            "queueSpareTrigger",
            queue_spare,
            queue_spare >= 0.0 && queue_spare < queue,
            format!("0 <= queueSpareTrigger < queueLengthThreshold ({queue})"),
        );
        if kv_spare == 0.0 && queue_spare == 0.0 {
            problems.push(
                "kvSpareTrigger and queueSpareTrigger are both 0, expected at least one above 0 \
                 (otherwise the model never scales up)"
                    .into(),
            );
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
#[serde(deny_unknown_fields)]
pub struct ScaleToZeroEntry {
    /// Model this entry applies to (required except in the `default` entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Namespace this entry applies to (empty = any namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Scale every variant of the model to zero after `retention_period` without requests.
    /// Read with the parameters' boolean grammar (`true`/`false`, `yes`/`no`, `on`/`off`,
    /// `1`/`0`, any case).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "boolean"
    )]
    pub enable_scale_to_zero: Option<bool>,
    /// How long a model must receive no requests before it scales to zero, e.g. "10m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<String>,
}

/// Reads `enable_scale_to_zero` with [`read_bool`].
fn boolean<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    read_bool(d, "enable_scale_to_zero")
}

/// Reads an analyzer's `enabled` with [`read_bool`].
fn enabled_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    read_bool(d, "enabled")
}

/// Reads the boolean `key` with [`grammar::parse_bool`], from a YAML boolean, string or 1/0.
fn read_bool<'de, D: serde::Deserializer<'de>>(d: D, key: &str) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    let text = match Written::deserialize(d)? {
        Written::Bool(b) => return Ok(Some(b)),
        Written::Int(i) => i.to_string(),
        Written::Text(t) => t,
    };
    grammar::parse_bool(&text)
        .map(Some)
        .map_err(|why| serde::de::Error::custom(format!("{key}: {why}")))
}

/// The default retention period of scale-to-zero.
pub const DEFAULT_RETENTION_PERIOD: Duration = Duration::from_secs(600);
/// The shortest accepted retention period.
pub const MIN_RETENTION_PERIOD: Duration = Duration::from_secs(1);
/// The longest accepted retention period (7 days): the request count is one Prometheus range
/// query over this window.
pub const MAX_RETENTION_PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);

impl ScaleToZeroEntry {
    /// The retention period, parsed; must be from 1s to 7 days (168h).
    pub fn retention(&self) -> Result<Option<Duration>, String> {
        let Some(text) = &self.retention_period else {
            return Ok(None);
        };
        match grammar::parse_duration(text) {
            Ok(d) if (MIN_RETENTION_PERIOD..=MAX_RETENTION_PERIOD).contains(&d) => Ok(Some(d)),
            Ok(_) => Err(format!(
                "retention_period is {text:?}, expected 1s <= retention_period <= 168h"
            )),
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

/// The problems of an entry's `analyzers` list (none when it has no list).
pub fn analyzer_problems(entry: &SaturationEntry) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, a) in entry.analyzers.iter().flatten().enumerate() {
        a.validate(i, &mut problems);
    }
    problems
}

/// Parses every data key of a saturation-scaling ConfigMap. An entry is accepted only when it
/// resolves to valid thresholds: `default` over the built-ins, and each override over the
/// accepted `default` (see [`saturation_resolution_errors`]).
pub fn parse_saturation(data: &BTreeMap<String, String>) -> ParsedEntries<SaturationEntry> {
    let mut parsed = parse_entries(data, |key, entry: &SaturationEntry| {
        if key != DEFAULT_KEY && entry.model_id.as_deref().is_none_or(str::is_empty) {
            return Err(
                "an override entry needs model_id (only the `default` entry may omit it)".into(),
            );
        }
        Ok(())
    });
    for error in saturation_resolution_errors(&parsed.entries) {
        parsed.entries.remove(&error.key);
        parsed.errors.push(error);
    }
    parsed.errors.sort_by(|a, b| a.key.cmp(&b.key));
    parsed
}

/// The entries of one saturation ConfigMap whose resolved thresholds break the rules of
/// [`SaturationThresholds::validate`]: `default` over the built-ins, then each override over
/// `default` (over the built-ins alone when `default` itself is invalid, since it is then
/// not used). Removing the reported entries leaves a map whose every resolution is valid.
pub fn saturation_resolution_errors(
    entries: &BTreeMap<String, SaturationEntry>,
) -> Vec<EntryError> {
    let mut errors = Vec::new();
    let mut base = SaturationThresholds::default();
    if let Some(default) = entries.get(DEFAULT_KEY) {
        let mut problems = default.over(base).validate().err().unwrap_or_default();
        problems.extend(analyzer_problems(default));
        if problems.is_empty() {
            base = default.over(base);
        } else {
            errors.push(EntryError {
                key: DEFAULT_KEY.to_string(),
                message: problems.join("; "),
            });
        }
    }
    let over_default = if entries.contains_key(DEFAULT_KEY) && errors.is_empty() {
        " (this entry merged over the `default` entry)"
    } else {
        ""
    };
    for (key, entry) in entries.iter().filter(|(k, _)| k.as_str() != DEFAULT_KEY) {
        let mut problems = entry.over(base).validate().err().unwrap_or_default();
        if !problems.is_empty() {
            let last = problems.len() - 1;
            problems[last].push_str(over_default);
        }
        problems.extend(analyzer_problems(entry));
        if !problems.is_empty() {
            errors.push(EntryError {
                key: key.clone(),
                message: problems.join("; "),
            });
        }
    }
    errors
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

/// The entries of one scale-to-zero ConfigMap that break a rule (each entry stands alone).
pub fn scale_to_zero_resolution_errors(
    entries: &BTreeMap<String, ScaleToZeroEntry>,
) -> Vec<EntryError> {
    entries
        .iter()
        .filter_map(|(key, entry)| {
            let message = entry.retention().err()?;
            Some(EntryError {
                key: key.clone(),
                message,
            })
        })
        .collect()
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

/// The enabled analyzers of `model_id` in `namespace`: the matching override's `analyzers`
/// list when it has one, else the `default` entry's. `None` (the saturation analyzer, V1)
/// when neither has a list or no analyzer of the list in force is enabled.
pub fn analyzers_for(
    entries: &BTreeMap<String, SaturationEntry>,
    model_id: &str,
    namespace: &str,
) -> Option<Vec<AnalyzerThresholds>> {
    let list = entry_for(entries, model_id, namespace)
        .and_then(|e| e.analyzers.as_ref())
        .or_else(|| entries.get(DEFAULT_KEY).and_then(|d| d.analyzers.as_ref()))?;
    let enabled: Vec<AnalyzerThresholds> = list
        .iter()
        .filter(|a| a.is_enabled())
        .map(AnalyzerEntry::thresholds)
        .collect();
    (!enabled.is_empty()).then_some(enabled)
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
                "model_id: meta/llama\nnamespace: prod\nqueueSpareTrigger: 4\n",
            ),
        ]));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let t = thresholds_for(&parsed.entries, "meta/llama", "prod");
        assert_eq!(t.kv_cache_threshold, 0.7);
        assert_eq!(t.queue_spare_trigger, 4.0);
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
                "default: kvSpareTrigger is 0.1, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.05)"
            ),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("nomodel: an override entry needs model_id"),
            "{messages:?}"
        );
        assert!(messages[2].contains("kvCacheThresold"), "{messages:?}");
    }

    /// The message of the only rejected key of a one-map saturation ConfigMap.
    fn only_rejection(pairs: &[(&str, &str)]) -> String {
        let parsed = parse_saturation(&data(pairs));
        assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
        let e = &parsed.errors[0];
        format!("{}: {}", e.key, e.message)
    }

    #[test]
    fn queue_spare_trigger_at_or_above_the_queue_threshold_is_rejected() {
        assert_eq!(
            only_rejection(&[(
                "default",
                "queueLengthThreshold: 5\nqueueSpareTrigger: 10\n"
            )]),
            "default: queueSpareTrigger is 10, expected 0 <= queueSpareTrigger < queueLengthThreshold (5)"
        );
    }

    #[test]
    fn zero_thresholds_are_rejected() {
        assert_eq!(
            only_rejection(&[("default", "kvCacheThreshold: 0\nkvSpareTrigger: 0\n")]),
            "default: kvCacheThreshold is 0, expected 0 < kvCacheThreshold <= 1 (a fraction of the KV cache); \
             kvSpareTrigger is 0, expected 0 <= kvSpareTrigger < kvCacheThreshold (0)"
        );
        assert_eq!(
            only_rejection(&[("default", "queueLengthThreshold: 0\nqueueSpareTrigger: 0\n")]),
            "default: queueLengthThreshold is 0, expected queueLengthThreshold > 0; \
             queueSpareTrigger is 0, expected 0 <= queueSpareTrigger < queueLengthThreshold (0)"
        );
        assert!(
            only_rejection(&[("default", "kvCacheThreshold: .nan\n")]).starts_with(
                "default: kvCacheThreshold is NaN, expected 0 < kvCacheThreshold <= 1"
            ),
        );
    }

    #[test]
    fn an_override_is_validated_merged_over_the_default() {
        let parsed = parse_saturation(&data(&[
            ("default", "kvCacheThreshold: 0.3\n"),
            ("llama", "model_id: meta/llama\nkvSpareTrigger: 0.35\n"),
        ]));
        assert_eq!(parsed.entries.keys().collect::<Vec<_>>(), ["default"]);
        assert_eq!(
            parsed.errors,
            [EntryError {
                key: "llama".into(),
                message:
                    "kvSpareTrigger is 0.35, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.3) \
                          (this entry merged over the `default` entry)"
                        .into()
            }]
        );
        let resolved = thresholds_for(&parsed.entries, "meta/llama", "prod");
        assert!(resolved.validate().is_ok(), "{resolved:?}");
    }

    #[test]
    fn both_spare_triggers_zero_is_rejected() {
        assert_eq!(
            only_rejection(&[("default", "kvSpareTrigger: 0\nqueueSpareTrigger: 0\n")]),
            "default: kvSpareTrigger and queueSpareTrigger are both 0, expected at least one above 0 \
             (otherwise the model never scales up)"
        );
    }

    #[test]
    fn enable_scale_to_zero_reads_the_parameter_boolean_grammar() {
        let parsed = parse_scale_to_zero(&data(&[
            ("default", "enable_scale_to_zero: on\n"),
            ("a", "model_id: a\nenable_scale_to_zero: \"No\"\n"),
            ("b", "model_id: b\nenable_scale_to_zero: 1\n"),
            ("c", "model_id: c\nenable_scale_to_zero: perhaps\n"),
        ]));
        let on: Vec<_> = parsed
            .entries
            .values()
            .map(|e| e.enable_scale_to_zero)
            .collect();
        assert_eq!(on, [Some(false), Some(true), Some(true)]);
        assert_eq!(parsed.errors.len(), 1);
        assert!(
            parsed.errors[0]
                .message
                .contains("expected true/false, yes/no, on/off or 1/0 (any case), got \"perhaps\""),
            "{:?}",
            parsed.errors
        );
    }

    #[test]
    fn retention_period_stays_within_one_second_and_a_week() {
        for text in ["0s", "500ms", "169h"] {
            let parsed = parse_scale_to_zero(&data(&[(
                "default",
                &format!("retention_period: {text}\n"),
            )]));
            assert_eq!(
                parsed.errors[0].message,
                format!("retention_period is {text:?}, expected 1s <= retention_period <= 168h")
            );
        }
        let week = parse_scale_to_zero(&data(&[("default", "retention_period: 168h\n")]));
        assert!(week.errors.is_empty(), "{:?}", week.errors);
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

    #[test]
    fn analyzers_select_v2_and_resolve_override_then_default() {
        let parsed = parse_saturation(&data(&[
            (
                "default",
                "analyzers:\n  - name: saturation\n    scaleUpThreshold: 0.9\n",
            ),
            ("a", "model_id: a\nanalyzers: []\n"),
            (
                "b",
                "model_id: b\nanalyzers:\n  - name: saturation\n    enabled: \"off\"\n",
            ),
            ("c", "model_id: c\nkvSpareTrigger: 0.2\n"),
        ]));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let e = &parsed.entries;
        let of_default = AnalyzerThresholds {
            scale_up_threshold: 0.9,
            scale_down_boundary: 0.7,
        };
        assert_eq!(analyzers_for(e, "c", "ns"), Some(vec![of_default]));
        assert_eq!(analyzers_for(e, "other", "ns"), Some(vec![of_default]));
        assert_eq!(analyzers_for(e, "a", "ns"), None, "an empty list is V1");
        assert_eq!(analyzers_for(e, "b", "ns"), None, "all disabled is V1");
        assert_eq!(analyzers_for(&BTreeMap::new(), "a", "ns"), None);
        let builtin = parse_saturation(&data(&[("default", "analyzers:\n  - name: saturation\n")]));
        assert_eq!(
            analyzers_for(&builtin.entries, "x", "ns"),
            Some(vec![AnalyzerThresholds {
                scale_up_threshold: 0.85,
                scale_down_boundary: 0.70,
            }])
        );
    }

    #[test]
    fn bad_analyzers_are_rejected_naming_the_item_key_value_and_fix() {
        assert_eq!(
            only_rejection(&[("default", "analyzers:\n  - name: saturaton\n")]),
            "default: analyzers[0].name is \"saturaton\", expected one of: saturation; did you mean \"saturation\"?"
        );
        assert_eq!(
            only_rejection(&[(
                "default",
                "analyzers:\n  - name: saturation\n    scaleUpThreshold: 1.5\n"
            )]),
            "default: analyzers[0].scaleUpThreshold is 1.5, expected 0 < scaleUpThreshold <= 1 (a fraction of the supply; default 0.85)"
        );
        assert_eq!(
            only_rejection(&[(
                "llama",
                "model_id: m\nanalyzers:\n  - name: saturation\n  - name: saturation\n    scaleUpThreshold: 0.6\n    scaleDownBoundary: 0.6\n"
            )]),
            "llama: analyzers[1].scaleDownBoundary is 0.6, expected below scaleUpThreshold (0.6); otherwise a scale-down would at once call for a scale-up"
        );
        assert_eq!(
            only_rejection(&[(
                "default",
                "analyzers:\n  - name: saturation\n    scaleDownBoundary: 0\n    score: -1\n"
            )]),
            "default: analyzers[0].score is -1, expected a number 0 or more (or omit it for 1); \
             analyzers[0].scaleDownBoundary is 0, expected 0 < scaleDownBoundary <= 1 (a fraction of the supply; default 0.7)"
        );
        let typo = only_rejection(&[(
            "default",
            "analyzers:\n  - name: saturation\n    scaleUpTreshold: 0.9\n",
        )]);
        assert!(typo.contains("scaleUpTreshold"), "{typo}");
        let flag = only_rejection(&[(
            "default",
            "analyzers:\n  - name: saturation\n    enabled: perhaps\n",
        )]);
        assert!(flag.contains("enabled: expected true/false"), "{flag}");
    }
}
