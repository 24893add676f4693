//! One VA at a time: bring its status in line with its target and latest decision, publish
//! the warnings of conditions that turn False, and requeue it with backoff when the write
//! fails.

use super::context::{Context, State};
use super::effects::{self, StatusEffects};
use crate::error::Error;
use crate::k8s::status::{self, Target};
use crate::keys::{self, VaRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, Resource};
use tokio::time::Instant;
use wva_api::crd::{VariantAutoscaling, VariantAutoscalingStatus, conditions};
use wva_engine::Decision;

/// Brings one VA's status in line with its target; returns true when the target just
/// appeared (a cycle should decide for it at once).
pub async fn reconcile(ctx: &Context, state: &mut State, va: &VariantAutoscaling) -> bool {
    let key = keys::of(va);
    if !ctx.in_scope(va) {
        state.retries.forget(&key);
        return false;
    }
    let (kind, target_name) = (
        va.spec.scale_target_ref.kind,
        va.spec.scale_target_ref.name.as_str(),
    );
    let exists = ctx.caches.has_target(&keys::target(va));
    let was_missing = !effects::condition_is(
        state.written.latest(va).as_ref(),
        conditions::TARGET_RESOLVED,
        "True",
    );
    let (target, decision) = if exists {
        (
            Target::Found(kind, target_name),
            state.decisions.get(&key).cloned(),
        )
    } else {
        state.forget_decision(&ctx.metrics, &key);
        (Target::Missing(kind, target_name), None)
    };
    sync_status(ctx, state, va, target, decision.as_ref()).await;
    exists && was_missing
}

/// Reconciles the VAs whose status write is due for a retry at `now`.
pub async fn retry_due(ctx: &Context, state: &mut State, now: Instant) -> bool {
    let mut soon = false;
    for key in state.retries.take_due(now) {
        match ctx.caches.vas.get(&key) {
            Some(va) => soon |= reconcile(ctx, state, &va).await,
            None => state.retries.forget(&key),
        }
    }
    soon
}

/// Writes the status `va` should have, only when it differs from the newest known one, then
/// publishes the warnings of conditions that turned False. The error policy: a failed write
/// is logged and the VA requeued with backoff; a successful one ends its retries.
pub async fn sync_status(
    ctx: &Context,
    state: &mut State,
    va: &VariantAutoscaling,
    target: Target<'_>,
    decision: Option<&Decision>,
) {
    // A discovered variant has no status to write: its conditions become events on its object.
    if crate::discovery::report(ctx, state, va, target, decision).await {
        return;
    }
    let key = keys::of(va);
    let now = Time(jiff::Timestamp::now());
    let previous = state.written.latest(va);
    let Some(StatusEffects { status, events }) =
        effects::status_effects(va, previous.as_ref(), target, decision, &now)
    else {
        state.retries.forget(&key);
        return;
    };
    match write(ctx, va, &status).await {
        Ok(version) => {
            state.written.record(va, version.as_deref(), status);
            state.retries.forget(&key);
            let regarding = va.object_ref(&());
            for event in events {
                ctx.events.publish(&regarding, event).await;
            }
        }
        Err(error) => requeue(ctx, state, key, &error),
    }
}

/// Writes `status` to `va`; returns the resourceVersion the write answered with.
async fn write(
    ctx: &Context,
    va: &VariantAutoscaling,
    status: &VariantAutoscalingStatus,
) -> Result<Option<String>, Error> {
    let namespace = va.metadata.namespace.as_deref().unwrap_or_default();
    let name = va.metadata.name.as_deref().unwrap_or_default();
    let api: Api<VariantAutoscaling> = Api::namespaced(ctx.client.clone(), namespace);
    status::write(&api, name, status)
        .await
        .map_err(|source| Error::WriteStatus {
            va: keys::display(&keys::of(va)).to_string(),
            source,
        })
}

/// The error policy: counts and logs `error` and requeues `va` with backoff.
fn requeue(ctx: &Context, state: &mut State, va: VaRef, error: &Error) {
    ctx.metrics
        .wva_errors_total
        .with_label_values(&[error.metric_label()])
        .inc();
    if let Error::WriteStatus { va: id, source } = error {
        tracing::warn!(va = %id, error = %source, "Could not write VariantAutoscaling status");
    }
    let wait = state.retries.failed(va.clone(), Instant::now());
    tracing::info!(
        va = %keys::display(&va),
        kind = error.metric_label(),
        retryIn = ?wait,
        "Requeued VariantAutoscaling with backoff"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::triggers::Trigger;
    use crate::target::ScaleTargetKind;
    use crate::testing::Fixture;
    use std::time::Duration;

    fn condition(status: &str, reason: &str, message: &str) -> Option<(String, String, String)> {
        Some((status.into(), reason.into(), message.into()))
    }

    /// `TargetResolved` of a VA whose Deployment `llama` is missing.
    fn target_not_found() -> Option<(String, String, String)> {
        condition(
            "False",
            "TargetNotFound",
            "Scale target Deployment llama not found",
        )
    }

    fn event(kind: &str, reason: &str, note: &str, on: &str) -> (String, String, String, String) {
        (kind.into(), reason.into(), note.into(), on.into())
    }

    #[tokio::test]
    async fn a_va_waits_for_its_deployment_then_awaits_a_decision() {
        let mut f = Fixture::start().await;
        let va = f.create_va("llama-8b", "llama");
        assert!(!reconcile(&f.ctx, &mut f.state, &va).await);
        assert_eq!(
            f.condition("llama-8b", conditions::TARGET_RESOLVED),
            target_not_found()
        );
        assert_eq!(
            f.condition("llama-8b", conditions::READY),
            condition(
                "False",
                "DeploymentNotFound",
                "Target deployment 'llama' does not exist yet; autoscaling starts as soon as it is created"
            )
        );
        let warning = event(
            "Warning",
            "TargetNotFound",
            "Scale target Deployment llama not found in namespace default",
            "llama-8b",
        );
        assert_eq!(f.events(), std::slice::from_ref(&warning));
        assert!(
            !reconcile(&f.ctx, &mut f.state, &va).await,
            "the cache is behind"
        );
        assert_eq!(
            f.events(),
            std::slice::from_ref(&warning),
            "the same status: no repeat"
        );

        f.create_deployment("llama");
        let va = f.refresh_va("llama-8b");
        assert!(
            reconcile(&f.ctx, &mut f.state, &va).await,
            "the target appeared: decide at once"
        );
        assert_eq!(
            f.condition("llama-8b", conditions::TARGET_RESOLVED),
            condition("True", "TargetFound", "Scale target Deployment llama found")
        );
        assert_eq!(
            f.condition("llama-8b", conditions::READY),
            condition(
                "False",
                "AwaitingDecision",
                "Waiting for the first engine cycle"
            )
        );
        assert_eq!(f.events(), [warning], "no warning for a resolved target");
    }

    #[tokio::test]
    async fn a_missing_stateful_set_or_lws_is_named_by_its_kind() {
        let mut f = Fixture::start().await;
        let va = f.create_va_of("db", ScaleTargetKind::StatefulSet, "db", "m", "1");
        reconcile(&f.ctx, &mut f.state, &va).await;
        assert_eq!(
            f.condition("db", conditions::READY),
            condition(
                "False",
                "StatefulSetNotFound",
                "Target StatefulSet 'db' does not exist yet; autoscaling starts as soon as it is created"
            )
        );
        assert_eq!(
            f.condition("db", conditions::TARGET_RESOLVED),
            condition(
                "False",
                "TargetNotFound",
                "Scale target StatefulSet db not found"
            )
        );
        f.create_deployment("db");
        let va = f.refresh_va("db");
        assert!(
            !reconcile(&f.ctx, &mut f.state, &va).await,
            "a Deployment of the same name is not the target"
        );
        f.create_stateful_set("db", 2);
        let va = f.refresh_va("db");
        assert!(reconcile(&f.ctx, &mut f.state, &va).await);
        assert_eq!(
            f.condition("db", conditions::TARGET_RESOLVED),
            condition("True", "TargetFound", "Scale target StatefulSet db found")
        );

        let va = f.create_va_of("big", ScaleTargetKind::LeaderWorkerSet, "big", "m", "1");
        reconcile(&f.ctx, &mut f.state, &va).await;
        assert_eq!(
            f.condition("big", conditions::READY).map(|c| c.1),
            Some("LeaderWorkerSetNotFound".to_string())
        );
        f.cache_lws("big", 2, 4);
        let va = f.refresh_va("big");
        assert!(reconcile(&f.ctx, &mut f.state, &va).await);
        let warnings: Vec<String> = f.events().into_iter().map(|e| e.2).collect();
        assert_eq!(
            warnings,
            [
                "Scale target StatefulSet db not found in namespace default",
                "Scale target LeaderWorkerSet big not found in namespace default"
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_status_write_is_retried_with_backoff_before_the_next_cycle() {
        let mut f = Fixture::start().await;
        let va = f.create_va("llama-8b", "llama");
        f.double
            .inject_failure("patch", "variantautoscalings/status", 500, 2);
        let before = Instant::now();
        reconcile(&f.ctx, &mut f.state, &va).await;
        let due = f.state.retries.next_due().expect("requeued");
        assert!(
            due >= before + Duration::from_secs(1)
                && due <= Instant::now() + Duration::from_secs(1),
            "the first retry waits 1s"
        );
        assert_eq!(f.condition("llama-8b", conditions::TARGET_RESOLVED), None);
        assert!(f.events().is_empty(), "no event for an unwritten status");

        assert!(!retry_due(&f.ctx, &mut f.state, due - Duration::from_millis(1)).await);
        assert_eq!(
            f.double
                .request_count("patch", "variantautoscalings/status"),
            1,
            "not due yet"
        );
        let failed_again = Instant::now();
        retry_due(&f.ctx, &mut f.state, due).await;
        let next = f.state.retries.next_due().expect("requeued again");
        assert!(
            next >= failed_again + Duration::from_secs(2),
            "the second failure in a row waits 2s"
        );

        retry_due(&f.ctx, &mut f.state, next).await;
        assert_eq!(f.state.retries.next_due(), None, "written: no more retries");
        assert_eq!(
            f.condition("llama-8b", conditions::TARGET_RESOLVED),
            target_not_found()
        );
        assert_eq!(f.events().len(), 1, "the warning follows the write");
        assert_eq!(
            f.ctx
                .metrics
                .wva_errors_total
                .with_label_values(&["status_write"])
                .get(),
            2,
            "both failed writes counted"
        );
    }

    #[tokio::test]
    async fn a_deployment_event_reconciles_the_vas_that_target_it_only() {
        let mut f = Fixture::start().await;
        for (va, target) in [("a", "d1"), ("b", "d2")] {
            let created = f.create_va(va, target);
            let trigger = Trigger::VaApplied {
                va: keys::of(&created),
                target: keys::target(&created),
            };
            assert!(!crate::run::handle(&f.ctx, &mut f.state, trigger, true).await);
        }
        f.create_deployment("d1");
        f.refresh_va("a");
        f.refresh_va("b");
        let trigger = Trigger::Target(crate::target::TargetRef {
            kind: crate::target::ScaleTargetKind::Deployment,
            namespace: "default".into(),
            name: "d1".into(),
        });
        assert!(crate::run::handle(&f.ctx, &mut f.state, trigger, true).await);
        assert_eq!(
            f.condition("a", conditions::TARGET_RESOLVED).map(|c| c.1),
            Some("TargetFound".to_string())
        );
        assert_eq!(
            f.condition("b", conditions::TARGET_RESOLVED).map(|c| c.1),
            Some("TargetNotFound".to_string()),
            "b targets d2: untouched"
        );
    }
}
