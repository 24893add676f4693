//! What follows from a decision or a status change, decided without side effects: which
//! status to write, which events to publish, which metrics to count. The callers
//! ([`super::cycle`], [`super::reconcile`]) apply the result.

use super::events::{Event, Reason};
use crate::k8s::status::{self, Target};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use wva_api::crd::{ScaleTargetKind, VariantAutoscaling, VariantAutoscalingStatus, conditions};
use wva_engine::Decision;

/// Which way a variant's desired replicas moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// More replicas.
    Up,
    /// Fewer replicas.
    Down,
}

impl Direction {
    /// The `direction` label of `wva_replica_scaling_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            Direction::Up => "scale-up",
            Direction::Down => "scale-down",
        }
    }

    /// The reason of the scaling event.
    pub fn reason(self) -> Reason {
        match self {
            Direction::Up => Reason::ScaledUp,
            Direction::Down => Reason::ScaledDown,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// A change of a variant's desired replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// The desired replicas published before (the current replicas when none was).
    pub from: u32,
    /// The new desired replicas.
    pub to: u32,
    /// Up or down.
    pub direction: Direction,
}

impl Scaling {
    /// The scaling `decision` makes compared with the last published desired replicas
    /// (`previous_desired`, else the current replicas); `None` when they are equal.
    pub fn of(decision: &Decision, previous_desired: Option<u32>) -> Option<Scaling> {
        let from = previous_desired.unwrap_or(decision.current_replicas);
        let to = decision.desired_replicas;
        let direction = match to.cmp(&from) {
            std::cmp::Ordering::Greater => Direction::Up,
            std::cmp::Ordering::Less => Direction::Down,
            std::cmp::Ordering::Equal => return None,
        };
        Some(Scaling {
            from,
            to,
            direction,
        })
    }

    /// The reason of the scaling event of `decision`: `ScaledFromZero` for a scale-from-zero
    /// activation, else `ScaledUp` or `ScaledDown`.
    pub fn event_reason(&self, decision: &Decision) -> Reason {
        match (self.direction, decision.reason) {
            (Direction::Up, wva_engine::Reason::ScaleFromZero) => Reason::ScaledFromZero,
            (direction, _) => direction.reason(),
        }
    }

    /// The scaling event of `decision` (its note is also the log line).
    pub fn event(&self, decision: &Decision) -> Event {
        Event::new(
            self.event_reason(decision),
            format!(
                "Scaled {} from {} to {} replicas: {}",
                self.direction.verb(),
                self.from,
                self.to,
                decision.message
            ),
        )
    }
}

/// What publishing one decision entails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionEffects {
    /// The scaling to count, log and announce, if the desired replicas moved.
    pub scaling: Option<Scaling>,
    /// The safety net decided: count it and log the safety-net line.
    pub safety_net: bool,
    /// Events on the VA, in order.
    pub events: Vec<Event>,
}

/// The effects of `decision` for a VA whose status last published `previous_desired`.
/// `accelerator_warned`: the VA already had its `AcceleratorNotResolved` warning;
/// `previously_limited`: the VA's previous decision was already cut by the GPU limiter (its
/// `ResourceConstrained` warning was published then); `target`: the kind of the VA's target,
/// named in the accelerator hint.
pub fn decision_effects(
    decision: &Decision,
    previous_desired: Option<u32>,
    accelerator_warned: bool,
    previously_limited: bool,
    target: ScaleTargetKind,
) -> DecisionEffects {
    let scaling = Scaling::of(decision, previous_desired);
    let mut events = Vec::new();
    if decision.accelerator.is_none() && !accelerator_warned {
        events.push(Event::new(
            Reason::AcceleratorNotResolved,
            format!(
                "No accelerator for {}: set the VA label inference.optimization/acceleratorName or a GPU product node selector on the {target}; metrics use accelerator_type=\"unknown\"",
                decision.variant
            ),
        ));
    }
    events.extend(scaling.map(|s| s.event(decision)));
    if decision.reason == wva_engine::Reason::ScaleToZero
        && scaling.is_some_and(|s| s.direction == Direction::Down)
    {
        events.push(Event::new(
            Reason::ScaledToZero,
            format!("Scaled to zero replicas: {}", decision.message),
        ));
    }
    if decision.limited && !previously_limited {
        events.push(Event::new(
            Reason::ResourceConstrained,
            format!(
                "Scale-up of {} limited by free GPUs: {}",
                decision.variant, decision.message
            ),
        ));
    }
    DecisionEffects {
        scaling,
        safety_net: decision.safety_net,
        events,
    }
}

/// The desired replicas a VA status published, if any (pass the newest status known:
/// [`crate::k8s::status::WrittenStatuses::latest`]).
pub fn previous_desired(status: Option<&VariantAutoscalingStatus>) -> Option<u32> {
    status
        .and_then(|s| s.desired_optimized_alloc.num_replicas)
        .and_then(|n| u32::try_from(n).ok())
}

/// A status to write and the events to publish once it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEffects {
    /// The whole new status.
    pub status: VariantAutoscalingStatus,
    /// Warnings of conditions that just turned False, in order.
    pub events: Vec<Event>,
}

/// What to write for `va`, whose newest known status is `previous`; `None` when the status
/// would not change (nothing to write, nothing to say).
pub fn status_effects(
    va: &VariantAutoscaling,
    previous: Option<&VariantAutoscalingStatus>,
    target: Target<'_>,
    decision: Option<&Decision>,
    now: &Time,
) -> Option<StatusEffects> {
    let desired = status::desired_status(previous, va.metadata.generation, target, decision, now);
    if previous == Some(&desired) {
        return None;
    }
    let became_false = |kind: &str| {
        condition_is(Some(&desired), kind, "False") && !condition_is(previous, kind, "False")
    };
    let mut events = Vec::new();
    if became_false(conditions::TARGET_RESOLVED) {
        events.push(Event::new(
            Reason::TargetNotFound,
            format!(
                "Scale target {} {} not found in namespace {}",
                va.spec.scale_target_ref.kind,
                va.spec.scale_target_ref.name,
                va.metadata.namespace.as_deref().unwrap_or_default()
            ),
        ));
    }
    let metrics_condition = desired
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::METRICS_AVAILABLE);
    if let Some(condition) = metrics_condition {
        if became_false(conditions::METRICS_AVAILABLE) {
            events.push(Event::new(
                Reason::MetricsUnavailable,
                condition.message.clone(),
            ));
        } else if condition.status == "True"
            && condition_is(previous, conditions::METRICS_AVAILABLE, "False")
        {
            events.push(Event::new(
                Reason::MetricsRestored,
                condition.message.clone(),
            ));
        }
    }
    Some(StatusEffects {
        status: desired,
        events,
    })
}

/// True when `status` has the condition `kind` with status `value` (`"True"`, `"False"`).
pub fn condition_is(status: Option<&VariantAutoscalingStatus>, kind: &str, value: &str) -> bool {
    status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == kind && c.status == value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decision;
    use wva_engine::{FallbackSource, MetricsCondition, MetricsReason};

    fn va() -> VariantAutoscaling {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "llama-8b", "namespace": "llm-d", "generation": 1},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llama"}, "modelID": "m"}
        }))
        .expect("va")
    }

    fn time(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).expect("valid"))
    }

    #[test]
    fn direction_compares_with_the_last_published_desired_else_the_current_replicas() {
        let up = Scaling::of(&decision(1, 3), Some(2)).expect("up");
        assert_eq!((up.from, up.to, up.direction), (2, 3, Direction::Up));
        assert_eq!(up.direction.metric_label(), "scale-up");
        let down = Scaling::of(&decision(4, 3), None).expect("down");
        assert_eq!((down.from, down.direction), (4, Direction::Down));
        assert_eq!(down.direction.metric_label(), "scale-down");
        assert_eq!(Scaling::of(&decision(1, 3), Some(3)), None);
    }

    #[test]
    fn a_scale_up_is_counted_and_announced_and_a_missing_accelerator_warned_once() {
        let effects = decision_effects(
            &decision(1, 2),
            Some(1),
            false,
            false,
            ScaleTargetKind::Deployment,
        );
        assert_eq!(effects.scaling.map(|s| s.direction), Some(Direction::Up));
        assert!(!effects.safety_net);
        assert_eq!(
            effects.events,
            [Event::new(
                Reason::ScaledUp,
                "Scaled up from 1 to 2 replicas: KV spare low"
            )]
        );
        let mut unknown = decision(2, 2);
        unknown.accelerator = None;
        let first = decision_effects(&unknown, Some(2), false, false, ScaleTargetKind::Deployment);
        assert_eq!(first.scaling, None);
        assert_eq!(
            first.events.iter().map(|e| e.reason).collect::<Vec<_>>(),
            [Reason::AcceleratorNotResolved]
        );
        assert!(
            decision_effects(&unknown, Some(2), true, false, ScaleTargetKind::Deployment)
                .events
                .is_empty()
        );
        assert_eq!(
            Reason::AcceleratorNotResolved.event_type(),
            kube::runtime::events::EventType::Warning
        );
    }

    #[test]
    fn a_safety_net_decision_is_counted() {
        let mut net = decision(2, 2);
        net.safety_net = true;
        net.fallback_source = Some(FallbackSource::CurrentReplicas);
        assert!(
            decision_effects(&net, Some(2), false, false, ScaleTargetKind::Deployment).safety_net
        );
    }

    #[test]
    fn scale_to_zero_and_a_limited_scale_up_have_their_own_events() {
        let mut zero = decision(2, 0);
        zero.reason = wva_engine::Reason::ScaleToZero;
        zero.message = "no requests in the last 5m".into();
        let reasons = |effects: DecisionEffects| -> Vec<Reason> {
            effects.events.iter().map(|e| e.reason).collect()
        };
        assert_eq!(
            reasons(decision_effects(
                &zero,
                Some(2),
                false,
                false,
                ScaleTargetKind::Deployment
            )),
            [Reason::ScaledDown, Reason::ScaledToZero]
        );
        assert_eq!(
            reasons(decision_effects(
                &zero,
                Some(0),
                false,
                false,
                ScaleTargetKind::Deployment
            )),
            [],
            "already at zero: nothing to announce"
        );
        let mut limited = decision(1, 2);
        limited.limited = true;
        let first = decision_effects(&limited, Some(1), false, false, ScaleTargetKind::Deployment);
        assert_eq!(first.events[1].reason, Reason::ResourceConstrained);
        assert!(
            first.events[1]
                .note
                .starts_with("Scale-up of llama-8b limited by free GPUs: "),
            "{:?}",
            first.events
        );
        assert_eq!(
            Reason::ResourceConstrained.event_type(),
            kube::runtime::events::EventType::Warning
        );
        assert_eq!(
            reasons(decision_effects(
                &limited,
                Some(2),
                false,
                true,
                ScaleTargetKind::Deployment
            )),
            [],
            "still limited: warned once"
        );
    }

    #[test]
    fn metrics_restored_follows_metrics_available_turning_true_again() {
        let va = va();
        let mut failing = decision(1, 1);
        failing.metrics_available = MetricsCondition {
            status: false,
            reason: MetricsReason::PrometheusError,
            message: "Prometheus is down".into(),
        };
        let down = status_effects(
            &va,
            None,
            Target::Found(ScaleTargetKind::Deployment, "llama"),
            Some(&failing),
            &time(1),
        )
        .expect("first status");
        let restored = status_effects(
            &va,
            Some(&down.status),
            Target::Found(ScaleTargetKind::Deployment, "llama"),
            Some(&decision(1, 1)),
            &time(2),
        )
        .expect("changed");
        assert_eq!(
            restored.events.iter().map(|e| e.reason).collect::<Vec<_>>(),
            [Reason::MetricsRestored]
        );
        assert_eq!(
            Reason::MetricsRestored.event_type(),
            kube::runtime::events::EventType::Normal
        );
        let first_ok = status_effects(
            &va,
            None,
            Target::Found(ScaleTargetKind::Deployment, "llama"),
            Some(&decision(1, 1)),
            &time(3),
        )
        .expect("first status");
        assert!(
            first_ok.events.is_empty(),
            "True from the start: nothing restored"
        );
    }

    #[test]
    fn warnings_follow_conditions_that_turn_false_and_a_steady_status_writes_nothing() {
        let va = va();
        let missing = status_effects(
            &va,
            None,
            Target::Missing(ScaleTargetKind::Deployment, "llama"),
            None,
            &time(1),
        )
        .expect("first status");
        assert_eq!(
            missing.events,
            [Event::new(
                Reason::TargetNotFound,
                "Scale target Deployment llama not found in namespace llm-d"
            )]
        );
        assert_eq!(
            status_effects(
                &va,
                Some(&missing.status),
                Target::Missing(ScaleTargetKind::Deployment, "llama"),
                None,
                &time(2)
            ),
            None,
            "unchanged: nothing written, no repeated warning"
        );
        let mut failing = decision(1, 1);
        failing.metrics_available = MetricsCondition {
            status: false,
            reason: MetricsReason::PrometheusError,
            message: "Prometheus is down".into(),
        };
        let found = status_effects(
            &va,
            Some(&missing.status),
            Target::Found(ScaleTargetKind::Deployment, "llama"),
            Some(&failing),
            &time(3),
        )
        .expect("changed");
        assert_eq!(
            found.events,
            [Event::new(Reason::MetricsUnavailable, "Prometheus is down")]
        );
        assert!(condition_is(
            Some(&found.status),
            conditions::TARGET_RESOLVED,
            "True"
        ));
    }
}
