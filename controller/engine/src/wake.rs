//! Scale-from-zero: which models at zero get a replica because requests wait for them at the
//! inference gateway.
//!
//! [`wake`] is pure, like [`crate::decide`]: the controller's fast check and `wva simulate`
//! call it with the gateway queue of each model in [`ModelGroup::gateway_queue`].

use crate::{
    Action, Decision, MetricsCondition, MetricsReason, ModelGroup, Reason, Role, Snapshot, Variant,
};

/// The outcome of one scale-from-zero check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wake {
    /// One decision (desired 1) per model to start, largest queue first.
    pub activations: Vec<Decision>,
    /// Models with waiting requests that wait for a free activation slot
    /// (`SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY`), as (namespace, model ID, queue).
    pub deferred: Vec<(String, String, f64)>,
}

/// True when every variant of `model` is at zero and WVA's last decision for each was zero
/// (or there was none): nothing runs and nothing is on its way.
pub fn is_dormant(model: &ModelGroup) -> bool {
    !model.variants.is_empty()
        && model
            .variants
            .iter()
            .all(|v| v.current_replicas == 0 && v.previous_desired.unwrap_or(0) == 0)
}

/// Decides which dormant models of `snapshot` start a replica: those whose gateway queue is
/// known and above 0. Each gets 1 replica on its cheapest variant (ties: more GPUs per
/// replica, then name; never a variant whose `maxReplicas` is 0; in limited mode a variant
/// whose accelerator has a free GPU slot is preferred; a `prefill` variant only when the
/// model has no other, since a prefill pod alone serves no whole request). At most `max_in_flight - in_flight`
/// models start, largest queue first; the others are [`Wake::deferred`]. An unknown queue
/// (`None`) is not demand.
pub fn wake(snapshot: &Snapshot, in_flight: u32, max_in_flight: u32) -> Wake {
    let mut waiting: Vec<(&ModelGroup, f64)> = snapshot
        .models
        .iter()
        .filter(|m| is_dormant(m))
        .filter_map(|m| match m.gateway_queue {
            Some(q) if q.is_finite() && q > 0.0 => Some((m, q)),
            _ => None,
        })
        .collect();
    waiting.sort_by(|(a, qa), (b, qb)| {
        qb.total_cmp(qa)
            .then_with(|| (&a.namespace, &a.model_id).cmp(&(&b.namespace, &b.model_id)))
    });
    let mut slots = max_in_flight.saturating_sub(in_flight);
    let mut result = Wake::default();
    for (model, queue) in waiting {
        let Some(variant) = cheapest(snapshot, model) else {
            continue;
        };
        if slots == 0 {
            result
                .deferred
                .push((model.namespace.clone(), model.model_id.clone(), queue));
            continue;
        }
        slots -= 1;
        result.activations.push(activation(model, variant, queue));
    }
    result
}

/// The variant that starts: not `prefill` when another role is there; in limited mode one
/// that fits in the free GPUs when there is one; then cheapest, most GPUs per replica, name.
fn cheapest<'a>(snapshot: &Snapshot, model: &'a ModelGroup) -> Option<&'a Variant> {
    let fits = |v: &Variant| match (&snapshot.free_gpus, snapshot.config.limited_mode) {
        (Some(free), true) => v
            .accelerator
            .as_ref()
            .and_then(|a| free.get(a))
            .is_some_and(|n| *n >= v.gpus_per_replica),
        _ => true,
    };
    model
        .variants
        .iter()
        .filter(|v| v.max_replicas != Some(0))
        .min_by(|a, b| {
            let prefill = |v: &Variant| v.role == Role::Prefill;
            prefill(a)
                .cmp(&prefill(b))
                .then_with(|| fits(b).cmp(&fits(a)))
                .then_with(|| a.cost.total_cmp(&b.cost))
                .then_with(|| b.gpus_per_replica.cmp(&a.gpus_per_replica))
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| crate::canonical_tie(a, b))
        })
}

fn activation(model: &ModelGroup, variant: &Variant, queue: f64) -> Decision {
    Decision {
        namespace: model.namespace.clone(),
        model_id: model.model_id.clone(),
        variant: variant.name.clone(),
        role: variant.role,
        accelerator: variant.accelerator.clone(),
        current_replicas: 0,
        desired_replicas: 1,
        action: Action::ScaleUp,
        reason: Reason::ScaleFromZero,
        message: format!(
            "{queue} requests wait at the inference gateway for model {:?}{}; starting 1 replica on the cheapest variant (cost {})",
            model.model_id,
            variant.role.suffix(),
            variant.cost
        ),
        safety_net: false,
        fallback_source: None,
        limited: false,
        clamped: false,
        metrics_available: scaled_from_zero_condition(&model.model_id),
        optimization_reason: None,
    }
}

/// The `MetricsAvailable` condition of a variant started from zero whose replica has not
/// reported yet.
pub(crate) fn scaled_from_zero_condition(model_id: &str) -> MetricsCondition {
    MetricsCondition {
        status: true,
        reason: MetricsReason::ScaleFromZero,
        message: format!(
            "Scaled from zero due to pending requests at the inference gateway for model {model_id:?}; saturation signals start when the replica reports"
        ),
    }
}
