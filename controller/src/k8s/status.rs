//! The VA status WVA writes: `desiredOptimizedAlloc`, `observedGeneration` and the conditions
//! `Ready`, `TargetResolved`, `MetricsAvailable`, `OptimizationReady`.
//!
//! [`desired_status`] is pure: the same inputs give the same status, condition transition
//! times and `lastRunTime` only move when something changed, so a steady state writes
//! nothing. [`write()`] sends the whole status object as one merge patch of `/status`.

use crate::keys::{self, VaRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Error};
use std::collections::HashMap;
use wva_api::crd::{
    OptimizedAlloc, ScaleTargetKind, VariantAutoscaling, VariantAutoscalingStatus, conditions,
};
use wva_engine::Decision;

/// The field manager of every write WVA makes.
pub const FIELD_MANAGER: &str = "wva-controller";

/// What is known about the VA's scale target: its kind and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The target exists.
    Found(ScaleTargetKind, &'a str),
    /// The target does not exist.
    Missing(ScaleTargetKind, &'a str),
}

/// How the `Ready` condition names a missing target of `kind`: `deployment` (lowercase, the
/// wording users of Deployments already match on), else the kind (`StatefulSet`).
fn ready_noun(kind: ScaleTargetKind) -> &'static str {
    match kind {
        ScaleTargetKind::Deployment => "deployment",
        other => other.as_str(),
    }
}

/// The status a VA should have now.
///
/// `decision` is the latest engine decision for the VA (if any since the target appeared).
pub fn desired_status(
    previous: Option<&VariantAutoscalingStatus>,
    generation: Option<i64>,
    target: Target<'_>,
    decision: Option<&Decision>,
    now: &Time,
) -> VariantAutoscalingStatus {
    let previous = previous.cloned().unwrap_or_default();
    let was_resolved =
        find(&previous.conditions, conditions::TARGET_RESOLVED).is_some_and(|c| c.status == "True");
    let mut status = VariantAutoscalingStatus {
        observed_generation: generation,
        ..previous.clone()
    };
    let mut set = |kind: &str, ok: bool, reason: &str, message: String| {
        set_condition(
            &mut status.conditions,
            &previous.conditions,
            generation,
            now,
            kind,
            ok,
            reason,
            message,
        );
    };
    match (target, decision) {
        (Target::Missing(kind, name), _) => {
            set(
                conditions::TARGET_RESOLVED,
                false,
                "TargetNotFound",
                format!("Scale target {kind} {name} not found"),
            );
            let noun = ready_noun(kind);
            let gone = format!("Target {noun} '{name}' no longer exists");
            let said_gone =
                find(&previous.conditions, conditions::READY).is_some_and(|c| c.message == gone);
            let message = if was_resolved || said_gone {
                gone
            } else {
                format!(
                    "Target {noun} '{name}' does not exist yet; autoscaling starts as soon as it is created"
                )
            };
            set(
                conditions::READY,
                false,
                &format!("{kind}NotFound"),
                message,
            );
            status.desired_optimized_alloc = OptimizedAlloc::default();
        }
        (Target::Found(kind, name), None) => {
            set(
                conditions::TARGET_RESOLVED,
                true,
                "TargetFound",
                format!("Scale target {kind} {name} found"),
            );
            set(
                conditions::READY,
                false,
                "AwaitingDecision",
                "Waiting for the first engine cycle".to_string(),
            );
        }
        (Target::Found(kind, name), Some(d)) => {
            set(
                conditions::TARGET_RESOLVED,
                true,
                "TargetFound",
                format!("Scale target {kind} {name} found"),
            );
            let m = &d.metrics_available;
            set(
                conditions::METRICS_AVAILABLE,
                m.status,
                m.reason.as_str(),
                m.message.clone(),
            );
            let (ok, reason, message) = match d.fallback_source.filter(|_| d.safety_net) {
                Some(source) => (
                    false,
                    "OptimizationFailed",
                    format!(
                        "{} (safety net kept {} replicas, fallbackSource={})",
                        d.message,
                        d.desired_replicas,
                        source.as_str()
                    ),
                ),
                None => (
                    true,
                    // HYBRID mode names the arbitration's outcome (`CapacityOnlyMode`,
                    // `CapacitySafetyOverride`, `OptimizationSucceeded`).
                    d.optimization_reason.unwrap_or("OptimizationSucceeded"),
                    format!("{} (target: {} replicas)", d.message, d.desired_replicas),
                ),
            };
            set(conditions::OPTIMIZATION_READY, ok, reason, message);
            set(
                conditions::READY,
                true,
                "AutoscalingActive",
                format!(
                    "wva_desired_replicas is published for this variant: {} replicas",
                    d.desired_replicas
                ),
            );
            status.desired_optimized_alloc = alloc(&previous.desired_optimized_alloc, d, now);
        }
    }
    status
}

/// The allocation of `decision`; `lastRunTime` moves only when the allocation changes.
fn alloc(previous: &OptimizedAlloc, decision: &Decision, now: &Time) -> OptimizedAlloc {
    let num_replicas = i32::try_from(decision.desired_replicas).ok();
    let accelerator = decision.accelerator.clone();
    let unchanged = previous.num_replicas == num_replicas && previous.accelerator == accelerator;
    OptimizedAlloc {
        num_replicas,
        accelerator,
        last_run_time: match &previous.last_run_time {
            Some(at) if unchanged => Some(at.clone()),
            _ => Some(now.clone()),
        },
    }
}

fn find<'a>(conditions: &'a [Condition], kind: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == kind)
}

/// Sets one condition; its transition time moves only when its status changes.
#[allow(clippy::too_many_arguments)]
fn set_condition(
    conditions: &mut Vec<Condition>,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
    kind: &str,
    ok: bool,
    reason: &str,
    message: String,
) {
    let status = if ok { "True" } else { "False" };
    let last_transition_time = match find(previous, kind) {
        Some(before) if before.status == status => before.last_transition_time.clone(),
        _ => now.clone(),
    };
    let condition = Condition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == kind) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// Writes `status` as one merge patch of the whole status object (cleared allocation fields
/// are sent as explicit nulls, conditions as the full list).
pub async fn write(
    api: &Api<VariantAutoscaling>,
    name: &str,
    status: &VariantAutoscalingStatus,
) -> Result<Option<String>, Error> {
    let alloc = &status.desired_optimized_alloc;
    let patch = serde_json::json!({
        "status": {
            "desiredOptimizedAlloc": {
                "numReplicas": alloc.num_replicas,
                "accelerator": alloc.accelerator,
                "lastRunTime": alloc.last_run_time,
            },
            "conditions": status.conditions,
            "observedGeneration": status.observed_generation,
        }
    });
    let params = PatchParams::apply(FIELD_MANAGER);
    api.patch_status(
        name,
        &PatchParams {
            force: false,
            ..params
        },
        &Patch::Merge(patch),
    )
    .await
    .map(|va| va.metadata.resource_version)
}

/// Statuses this controller wrote that its VA cache may not show yet.
///
/// The watch delivers our own writes a moment later; until then the cached VA still carries an
/// older status. Deciding from it would repeat a write, repeat its events, or mistake "no longer
/// exists" for "does not exist yet".
#[derive(Debug, Default)]
pub struct WrittenStatuses(HashMap<VaRef, (u64, VariantAutoscalingStatus)>);

impl WrittenStatuses {
    /// The newest known status of `va`: the one written last while the cached object is older
    /// than that write, else the cached one. resourceVersions are compared as the integers
    /// API servers use; when either is not one, the cache wins.
    pub fn latest(&mut self, va: &VariantAutoscaling) -> Option<VariantAutoscalingStatus> {
        let key = keys::of(va);
        let cached = version(va.metadata.resource_version.as_deref());
        match (self.0.get(&key), cached) {
            (Some((written, status)), Some(cached)) if cached < *written => Some(status.clone()),
            (Some(_), _) => {
                self.0.remove(&key);
                va.status.clone()
            }
            (None, _) => va.status.clone(),
        }
    }

    /// Records that `status` was written to `va`, the write answering with `resource_version`.
    pub fn record(
        &mut self,
        va: &VariantAutoscaling,
        resource_version: Option<&str>,
        status: VariantAutoscalingStatus,
    ) {
        match version(resource_version) {
            Some(written) => {
                self.0.insert(keys::of(va), (written, status));
            }
            None => {
                self.0.remove(&keys::of(va));
            }
        }
    }
}

fn version(resource_version: Option<&str>) -> Option<u64> {
    resource_version.and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wva_engine::{FallbackSource, MetricsCondition, MetricsReason, Reason};

    fn time(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).expect("valid"))
    }

    fn decision(desired: u32, safety_net: bool) -> Decision {
        let mut d = crate::testing::decision(2, desired);
        if safety_net {
            d.reason = Reason::SafetyNet;
            d.safety_net = true;
            d.fallback_source = Some(FallbackSource::PreviousDesired);
            d.metrics_available = MetricsCondition {
                status: false,
                reason: MetricsReason::PrometheusError,
                message: "m".into(),
            };
        }
        d
    }

    fn condition<'a>(s: &'a VariantAutoscalingStatus, kind: &str) -> (&'a str, &'a str, &'a str) {
        let c = find(&s.conditions, kind).unwrap_or_else(|| panic!("{kind} missing"));
        (c.status.as_str(), c.reason.as_str(), c.message.as_str())
    }

    #[test]
    fn va_created_before_its_deployment_then_deployment_created_then_deleted() {
        let waiting = desired_status(
            None,
            Some(1),
            Target::Missing(ScaleTargetKind::Deployment, "llama-8b"),
            None,
            &time(10),
        );
        assert_eq!(
            condition(&waiting, conditions::TARGET_RESOLVED),
            (
                "False",
                "TargetNotFound",
                "Scale target Deployment llama-8b not found"
            )
        );
        assert_eq!(
            condition(&waiting, conditions::READY).1,
            "DeploymentNotFound"
        );
        let found = desired_status(
            Some(&waiting),
            Some(1),
            Target::Found(ScaleTargetKind::Deployment, "llama-8b"),
            Some(&decision(3, false)),
            &time(20),
        );
        assert_eq!(
            condition(&found, conditions::READY),
            (
                "True",
                "AutoscalingActive",
                "wva_desired_replicas is published for this variant: 3 replicas"
            )
        );
        assert_eq!(
            condition(&found, conditions::METRICS_AVAILABLE).1,
            "MetricsFound"
        );
        assert_eq!(found.desired_optimized_alloc.num_replicas, Some(3));
        let deleted = desired_status(
            Some(&found),
            Some(1),
            Target::Missing(ScaleTargetKind::Deployment, "llama-8b"),
            None,
            &time(30),
        );
        assert_eq!(
            condition(&deleted, conditions::READY),
            (
                "False",
                "DeploymentNotFound",
                "Target deployment 'llama-8b' no longer exists"
            )
        );
        assert_eq!(deleted.desired_optimized_alloc, OptimizedAlloc::default());
        assert_eq!(
            serde_json::to_value(&deleted).expect("json")["desiredOptimizedAlloc"],
            serde_json::json!({})
        );
    }

    #[test]
    fn a_steady_decision_changes_nothing_so_nothing_is_written() {
        let first = desired_status(
            None,
            Some(2),
            Target::Found(ScaleTargetKind::Deployment, "d"),
            Some(&decision(3, false)),
            &time(10),
        );
        let again = desired_status(
            Some(&first),
            Some(2),
            Target::Found(ScaleTargetKind::Deployment, "d"),
            Some(&decision(3, false)),
            &time(70),
        );
        assert_eq!(first, again);
        let changed = desired_status(
            Some(&first),
            Some(2),
            Target::Found(ScaleTargetKind::Deployment, "d"),
            Some(&decision(4, false)),
            &time(130),
        );
        assert_eq!(
            changed.desired_optimized_alloc.last_run_time,
            Some(time(130))
        );
        let ready = find(&changed.conditions, conditions::READY).expect("ready");
        assert_eq!(ready.last_transition_time, time(10), "Ready stayed True");
    }

    #[test]
    fn safety_net_says_so_in_the_conditions() {
        let s = desired_status(
            None,
            None,
            Target::Found(ScaleTargetKind::Deployment, "d"),
            Some(&decision(2, true)),
            &time(10),
        );
        assert_eq!(condition(&s, conditions::METRICS_AVAILABLE).0, "False");
        assert_eq!(
            condition(&s, conditions::METRICS_AVAILABLE).1,
            "PrometheusError"
        );
        let (status, reason, message) = condition(&s, conditions::OPTIMIZATION_READY);
        assert_eq!((status, reason), ("False", "OptimizationFailed"));
        assert!(
            message.ends_with("(safety net kept 2 replicas, fallbackSource=previous-desired)"),
            "{message}"
        );
    }

    #[test]
    fn hybrid_mode_names_the_arbitration_in_optimization_ready() {
        for reason in [
            "CapacityOnlyMode",
            "CapacitySafetyOverride",
            "OptimizationSucceeded",
        ] {
            let d = Decision {
                optimization_reason: Some(reason),
                message: "Hybrid mode: model wants 3 replicas".into(),
                ..decision(3, false)
            };
            let s = desired_status(
                None,
                None,
                Target::Found(ScaleTargetKind::Deployment, "d"),
                Some(&d),
                &time(10),
            );
            let (status, got, message) = condition(&s, conditions::OPTIMIZATION_READY);
            assert_eq!((status, got), ("True", reason));
            assert_eq!(
                message,
                "Hybrid mode: model wants 3 replicas (target: 3 replicas)"
            );
        }
    }

    #[test]
    fn a_written_status_counts_until_the_cache_moves_past_it() {
        let mut va: VariantAutoscaling = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "v", "namespace": "n", "resourceVersion": "5"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "modelID": "m"}
        }))
        .expect("va");
        let mut written = WrittenStatuses::default();
        assert_eq!(written.latest(&va), None);
        let missing = desired_status(
            None,
            Some(1),
            Target::Missing(ScaleTargetKind::Deployment, "d"),
            None,
            &time(5),
        );
        written.record(&va, Some("6"), missing.clone());
        let found = desired_status(
            Some(&missing),
            Some(1),
            Target::Found(ScaleTargetKind::Deployment, "d"),
            None,
            &time(10),
        );
        written.record(&va, Some("7"), found.clone());
        // The watch delivers the first write only: the second is still the newest.
        va.metadata.resource_version = Some("6".into());
        va.status = Some(missing);
        assert_eq!(
            written.latest(&va),
            Some(found.clone()),
            "cache at 6, written 7"
        );
        let deleted = desired_status(
            written.latest(&va).as_ref(),
            Some(1),
            Target::Missing(ScaleTargetKind::Deployment, "d"),
            None,
            &time(20),
        );
        let ready = deleted
            .conditions
            .iter()
            .find(|c| c.type_ == conditions::READY)
            .expect("Ready");
        assert_eq!(ready.message, "Target deployment 'd' no longer exists");
        let again = desired_status(
            Some(&deleted),
            Some(1),
            Target::Missing(ScaleTargetKind::Deployment, "d"),
            None,
            &time(30),
        );
        assert_eq!(
            again, deleted,
            "the next cycle keeps saying it no longer exists"
        );
        va.metadata.resource_version = Some("8".into());
        va.status = None;
        assert_eq!(
            written.latest(&va),
            None,
            "the cache moved past the write: it wins"
        );
    }
}
