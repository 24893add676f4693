//! The engine's output: one decision per variant and one report per model.

use crate::snapshot::{Role, ScaleToZeroPolicy};
use serde::{Serialize, Serializer};
use wva_core::saturation::{SaturationThresholds, ScaleUpStep};

/// The result of one engine cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cycle {
    /// The snapshot's `now`.
    pub now: i64,
    /// One decision per variant, ordered by namespace, model, role, variant.
    pub decisions: Vec<Decision>,
    /// One report per model group and role, in the same order.
    pub models: Vec<ModelReport>,
}

/// What to do with one variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Namespace of the VA.
    pub namespace: String,
    /// The VA's `modelID`.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// The VA name.
    pub variant: String,
    /// The variant's prefill/decode role (omitted when `both`).
    #[serde(skip_serializing_if = "Role::is_both")]
    pub role: Role,
    /// Accelerator type, when known.
    pub accelerator: Option<String>,
    /// Replicas of the Deployment now.
    pub current_replicas: u32,
    /// The target: what `wva_desired_replicas` should say.
    pub desired_replicas: u32,
    /// `desired` compared with `current`.
    pub action: Action,
    /// Why, for machines.
    pub reason: Reason,
    /// Why, for people.
    pub message: String,
    /// The safety net produced this decision (signals missing or collection failed).
    pub safety_net: bool,
    /// Where the safety net took the target from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_source: Option<FallbackSource>,
    /// The GPU limiter granted less than the scale-up asked for.
    pub limited: bool,
    /// `minReplicas` or `maxReplicas` changed the target.
    pub clamped: bool,
    /// What the `MetricsAvailable` condition should say.
    pub metrics_available: MetricsCondition,
    /// HYBRID mode: the `OptimizationReady` reason of the arbitration
    /// (`CapacityOnlyMode`, `OptimizationSucceeded`, `CapacitySafetyOverride`; see
    /// [`crate::queueing::Arbitration`]); `None` when HYBRID is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimization_reason: Option<&'static str>,
}

/// Direction of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// desired > current.
    ScaleUp,
    /// desired < current.
    ScaleDown,
    /// desired == current.
    NoChange,
}

impl Action {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ScaleUp => "scale-up",
            Action::ScaleDown => "scale-down",
            Action::NoChange => "no-change",
        }
    }
}

/// Machine-readable reason of a decision; the serialized names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The model is short of spare capacity and this variant was chosen to grow.
    ScaleUp,
    /// The model has spare capacity and this variant was chosen to shrink.
    ScaleDown,
    /// The model needs no change.
    Steady,
    /// The model grows, but on another variant.
    ScaleUpOtherVariant,
    /// The model shrinks, but on another variant.
    ScaleDownOtherVariant,
    /// The model needs to grow, but every variant has pending replicas or is at maxReplicas.
    ScaleUpBlocked,
    /// Scale-down would be safe on the known signals, but some signals are missing.
    ScaleDownBlockedMissingData,
    /// A previous decision is not yet actuated, or replicas are not all reporting.
    InTransition,
    /// Signals are missing or their collection failed; the previous decision is kept.
    SafetyNet,
    /// No requests over the retention period; every variant goes to zero.
    ScaleToZero,
    /// Scale-to-zero is disabled and every target was zero: one replica on the cheapest.
    MinimumReplica,
    /// Requests wait at the gateway for a model at zero: one replica on the cheapest
    /// variant, kept until the replica reports.
    ScaleFromZero,
}

impl Reason {
    /// The stable name (the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ScaleUp => "scale-up",
            Reason::ScaleDown => "scale-down",
            Reason::Steady => "steady",
            Reason::ScaleUpOtherVariant => "scale-up-other-variant",
            Reason::ScaleDownOtherVariant => "scale-down-other-variant",
            Reason::ScaleUpBlocked => "scale-up-blocked",
            Reason::ScaleDownBlockedMissingData => "scale-down-blocked-missing-data",
            Reason::InTransition => "in-transition",
            Reason::SafetyNet => "safety-net",
            Reason::ScaleToZero => "scale-to-zero",
            Reason::MinimumReplica => "minimum-replica",
            Reason::ScaleFromZero => "scale-from-zero",
        }
    }
}

/// Where the safety net took its target from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FallbackSource {
    /// The previous decision (it was more than 0).
    PreviousDesired,
    /// The Deployment's current replicas (no previous decision).
    CurrentReplicas,
}

impl FallbackSource {
    /// The stable name, as logged in `fallbackSource`.
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackSource::PreviousDesired => "previous-desired",
            FallbackSource::CurrentReplicas => "current-replicas",
        }
    }
}

/// The `MetricsAvailable` condition of a VA.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsCondition {
    /// `True` or `False`.
    #[serde(serialize_with = "true_false")]
    pub status: bool,
    /// The condition reason.
    pub reason: MetricsReason,
    /// The condition message.
    pub message: String,
}

fn true_false<S: Serializer>(status: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *status { "True" } else { "False" })
}

/// Reasons of the `MetricsAvailable` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MetricsReason {
    /// Saturation signals were found.
    MetricsFound,
    /// No usable saturation signals for the model.
    MetricsMissing,
    /// The Prometheus query failed.
    PrometheusError,
    /// The variant was started from zero on the gateway queue; its replica has not reported.
    ScaleFromZero,
}

impl MetricsReason {
    /// The condition reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsReason::MetricsFound => "MetricsFound",
            MetricsReason::MetricsMissing => "MetricsMissing",
            MetricsReason::PrometheusError => "PrometheusError",
            MetricsReason::ScaleFromZero => "ScaleFromZero",
        }
    }
}

/// What the engine concluded about one model, or about one role of a model whose variants
/// serve several prefill/decode roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// Namespace of the model group.
    pub namespace: String,
    /// The model ID.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// The role this report decides (omitted when `both`).
    #[serde(skip_serializing_if = "Role::is_both")]
    pub role: Role,
    /// The thresholds in force.
    pub thresholds: SaturationThresholds,
    /// The scale-up step in force.
    pub scale_up_step: ScaleUpStep,
    /// The scale-to-zero policy in force (the caller counts requests over its retention).
    pub scale_to_zero: ScaleToZeroPolicy,
    /// The saturation analysis; `None` when the safety net decided.
    pub analysis: Option<Analysis>,
    /// The token-capacity analysis (V2); `None` when the model uses V1 or the safety net
    /// decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityAnalysis>,
    /// Log lines for the controller, in the order the engine reached them; each serializes
    /// as its text.
    pub notes: Vec<Note>,
}

/// A log line the engine asks the controller to emit for one model. [`Note::as_str`] (and
/// `Display`, and the serialized form) is the exact text of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A previous decision is not actuated yet or replicas are not all reporting.
    InTransition,
    /// Scale-to-zero applied.
    ScaleToZero,
    /// Scale-to-zero disabled and every target was zero.
    MinimumReplica,
    /// The GPU limiter reduced a scale-up.
    Limited,
    /// No usable saturation signals for the model (the safety net decides).
    NoMetrics,
    /// The saturation query failed (the safety net decides).
    CollectionFailed,
    /// The safety net decided; the controller also emits this line per safety-net decision,
    /// with `variant`, `currentReplicas`, `desiredReplicas`, `accelerator` and
    /// `fallbackSource` from the [`Decision`].
    SafetyNet,
    /// Scale-to-zero is enabled but the request count is unknown.
    RequestCountUnknown,
    /// Limited mode without a GPU inventory.
    NoInventory,
    /// Scale-to-zero would apply, but scale-from-zero started the model within its retention
    /// period or requests wait at the gateway.
    ScaleToZeroHeld,
    /// The model was started from zero and no replica reports yet.
    StartingFromZero,
}

impl Note {
    /// The text of the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Note::InTransition => "Model in transition, blocking scaling decisions",
            Note::ScaleToZero => "No requests in retention period, scaling to zero",
            Note::MinimumReplica => {
                "Preserving minimum replica on cheapest variant (scale-to-zero disabled)"
            }
            Note::Limited => "Decision was limited by GPU availability",
            Note::NoMetrics => "No saturation metrics available for model, skipping analysis",
            Note::CollectionFailed => "Saturation metrics collection failed, using safety net",
            Note::SafetyNet => "Safety net activated: emitted fallback metrics",
            Note::RequestCountUnknown => {
                "Request count unavailable, not scaling to zero (unknown is not zero)"
            }
            Note::NoInventory => "GPU inventory unavailable, scale-ups not limited",
            Note::ScaleToZeroHeld => {
                "Model recently scaled from zero or requests wait at the gateway, not scaling to zero"
            }
            Note::StartingFromZero => "Model scaled from zero, waiting for its replica to report",
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The token-capacity analysis (V2) of one model, in tokens (or KV-cache fractions when no
/// replica reports `kvCapacityTokens`: see `unit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityAnalysis {
    /// `tokens`, or `kv-fraction` when the KV-cache size is unknown.
    pub unit: &'static str,
    /// Demand: tokens in use plus the tokens of the queued requests, over reporting replicas.
    pub demand: f64,
    /// Supply: the capacity of the ready replicas.
    pub supply: f64,
    /// Supply counting pending replicas too.
    pub anticipated_supply: f64,
    /// Required capacity `max(0, demand / scaleUpThreshold − anticipatedSupply)`.
    pub required: f64,
    /// Spare capacity `max(0, supply − demand / scaleDownBoundary)`.
    pub spare: f64,
    /// `demand / supply` (0 when there is no supply).
    pub utilization: f64,
}

/// The saturation analysis of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// Replicas with at least one signal.
    pub reporting_replicas: u32,
    /// Replicas with every signal present and below its threshold.
    pub non_saturated_replicas: u32,
    /// Replicas with a signal at or above its threshold.
    pub saturated_replicas: u32,
    /// Replicas with a signal missing and none at or above its threshold.
    pub unknown_replicas: u32,
    /// Average spare KV over the non-saturated replicas (0 when there are none).
    pub avg_spare_kv: f64,
    /// Average spare queue over the non-saturated replicas (0 when there are none).
    pub avg_spare_queue: f64,
    /// An average spare is below its trigger.
    pub should_scale_up: bool,
    /// Removing one replica would keep both spares at or above their triggers (and no signal
    /// is missing).
    pub scale_down_safe: bool,
    /// Replicas the `sized` step asks for in total (None when it cannot be computed).
    pub sized_replicas: Option<u32>,
    /// The model is in transition; why.
    pub transition: Option<String>,
}
