//! Scale-from-zero on the leader, every `SCALE_FROM_ZERO_CHECK_INTERVAL`: the models whose
//! variants are all at zero get their gateway queue read at once (one PromQL query, whatever
//! their number; nothing is read when there is none), and [`wva_engine::wake`] decides which
//! start one replica on their cheapest variant. An activation is published like any decision
//! (`wva_desired_replicas`, VA status, a `ScaledFromZero` event) and, with
//! `SCALE_FROM_ZERO_ACTUATION=scale`, also applied to the target's scale subresource.
//! A failed read changes nothing.

use super::context::{Context, State};
use super::cycle::{in_scope_vas, publish};
use super::reconcile::sync_status;
use crate::assemble;
use crate::epp::{DormantModel, EppSource};
use crate::k8s::scale;
use crate::k8s::status::Target;
use crate::keys::{self, VaRef};
use crate::target::{TargetRef, Targets};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use wva_api::config::ScaleFromZeroActuation;
use wva_api::crd::VariantAutoscaling;
use wva_engine::{Decision, EngineConfig, Snapshot};

/// How long an activation counts against `SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY` when its
/// replica never becomes ready (no GPU, image pull failing, ...).
pub const IN_FLIGHT_AT_MOST: Duration = Duration::from_secs(600);

/// A model: (namespace, model ID).
type ModelRef = (String, String);

/// Where the gateway queue is read (`SCALE_FROM_ZERO_SOURCE`).
pub enum Gateway {
    /// One batched PromQL query per check.
    Prometheus,
    /// A scrape of the endpoint picker of each InferencePool serving a model at zero.
    Epp(Box<EppSource>),
}

/// What scale-from-zero remembers between checks.
#[derive(Debug, Default)]
pub struct Wakes {
    /// Models started from zero, by model.
    started: HashMap<ModelRef, Started>,
    /// When a dormant model's queue was first read above 0 (cleared by its activation or
    /// when the queue reads 0 again).
    seen: HashMap<ModelRef, Instant>,
    /// The last read error, logged as a warning once and at debug while it repeats.
    last_error: Option<String>,
}

#[derive(Debug)]
struct Started {
    /// The target started.
    target: TargetRef,
    /// When, in Unix seconds (the engine's clock).
    at_unix: i64,
    /// When, for the in-flight bound.
    at: Instant,
}

impl Wakes {
    /// When scale-from-zero last started `model` in `namespace` (Unix seconds).
    pub fn scaled_from_zero_at(&self, namespace: &str, model: &str) -> Option<i64> {
        self.started
            .get(&(namespace.to_string(), model.to_string()))
            .map(|s| s.at_unix)
    }

    /// Activations whose replica is not ready yet (and not older than
    /// [`IN_FLIGHT_AT_MOST`]).
    fn in_flight(&self, targets: &Targets<'_>, now: Instant) -> u32 {
        let waiting = self.started.values().filter(|s| {
            now.duration_since(s.at) < IN_FLIGHT_AT_MOST
                && targets
                    .get(&s.target)
                    .is_some_and(|t| t.replicas().ready == 0)
        });
        u32::try_from(waiting.count()).unwrap_or(u32::MAX)
    }

    /// Forgets models that have no VA any more.
    fn retain_models(&mut self, models: &HashSet<ModelRef>) {
        self.started.retain(|m, _| models.contains(m));
        self.seen.retain(|m, _| models.contains(m));
    }
}

/// Runs one scale-from-zero check.
pub async fn check(ctx: &Context, state: &mut State) {
    let vas = in_scope_vas(ctx);
    let cached_targets = ctx.caches.targets();
    let targets = cached_targets.by_ref();
    // The common case, every second: no target at zero, so no model can be dormant. Checked
    // with one lookup per VA before anything is assembled.
    let any_at_zero = vas.iter().any(|va| {
        targets
            .get(&keys::target(va))
            .is_some_and(|t| t.replicas().current == 0)
    });
    if !any_at_zero {
        state.wakes.seen.clear();
        return;
    }
    let va_refs: Vec<&VariantAutoscaling> = vas.iter().map(AsRef::as_ref).collect();
    let engine_config = EngineConfig {
        limited_mode: state.config.static_config.wva_limited_mode,
        ..EngineConfig::default()
    };
    let plan = assemble::plan(
        &va_refs,
        &targets,
        &[],
        &engine_config,
        ctx.scope.watch_namespace.as_deref(),
    );
    let now = jiff::Timestamp::now().as_second();
    let mut snapshot = assemble::snapshot(
        &plan,
        &wva_collector::Signals::default(),
        engine_config,
        now,
        None,
    );
    assemble::use_newest_status(&mut snapshot, &plan.members, &mut state.written);
    let models: HashSet<ModelRef> = snapshot
        .models
        .iter()
        .map(|m| (m.namespace.clone(), m.model_id.clone()))
        .collect();
    state.wakes.retain_models(&models);
    let dormant: HashSet<ModelRef> = snapshot
        .models
        .iter()
        .filter(|m| wva_engine::is_dormant(m))
        .map(|m| (m.namespace.clone(), m.model_id.clone()))
        .collect();
    state.wakes.seen.retain(|m, _| dormant.contains(m));
    if dormant.is_empty() {
        return;
    }
    let Some(queues) = read_queues(ctx, state, &dormant, &plan.members).await else {
        return;
    };
    let seen_now = Instant::now();
    let mut demand = false;
    for model in &mut snapshot.models {
        let key = (model.namespace.clone(), model.model_id.clone());
        if !dormant.contains(&key) {
            continue;
        }
        model.gateway_queue = queues.get(&key).copied();
        if model.gateway_queue.is_some_and(|q| q > 0.0) {
            demand = true;
            state.wakes.seen.entry(key).or_insert(seen_now);
        } else {
            state.wakes.seen.remove(&key);
        }
    }
    if !demand {
        return;
    }
    snapshot.free_gpus = ctx.caches.gpus.as_ref().map(|g| g.inventory().free_gpus());
    let in_flight = state.wakes.in_flight(&targets, seen_now);
    let max = state
        .config
        .static_config
        .scale_from_zero_engine_max_concurrency;
    let wake = wva_engine::wake(&snapshot, in_flight, max);
    for (namespace, model, queue) in &wake.deferred {
        tracing::info!(%namespace, model = %model, queue, inFlight = in_flight, max, "Scale-from-zero waits for a free activation slot");
    }
    for decision in &wake.activations {
        let key = keys::decided(decision);
        if let Some(va) = plan.members.iter().find(|m| keys::of(m.va) == key) {
            activate(ctx, state, &snapshot, va.va, decision).await;
        }
    }
}

/// Reads the gateway queue of the `dormant` models; `None` when the read failed as a whole
/// (logged, counted). A model absent from the answer has an unknown queue.
async fn read_queues(
    ctx: &Context,
    state: &mut State,
    dormant: &HashSet<ModelRef>,
    members: &[assemble::Member<'_>],
) -> Option<HashMap<ModelRef, f64>> {
    let (queues, errors) = match &ctx.gateway {
        Gateway::Prometheus => {
            let result = ctx
                .collector
                .gateway_queues(ctx.scope.watch_namespace.as_deref())
                .await;
            let outcome = if result.is_ok() { "success" } else { "error" };
            ctx.metrics
                .wva_prometheus_queries_total
                .with_label_values(&["gateway_queue", outcome])
                .inc();
            match result {
                Ok(queues) => {
                    let known = dormant
                        .iter()
                        .filter_map(|m| Some((m.clone(), queues.get(&m.0, &m.1)?)))
                        .collect();
                    (Some(known), Vec::new())
                }
                Err(error) => (None, vec![error.to_string()]),
            }
        }
        Gateway::Epp(source) => {
            let reading = source.read(&dormant_models(dormant, members)).await;
            let errors = reading.errors.iter().map(ToString::to_string).collect();
            (Some(reading.queues), errors)
        }
    };
    log_read_errors(&mut state.wakes, errors);
    queues
}

/// The dormant models with the serving pods' template labels of their variants' targets (the
/// endpoint pickers' pools select by them).
fn dormant_models(
    dormant: &HashSet<ModelRef>,
    members: &[assemble::Member<'_>],
) -> Vec<DormantModel> {
    let mut by_model: HashMap<ModelRef, Vec<BTreeMap<String, String>>> =
        dormant.iter().map(|m| (m.clone(), Vec::new())).collect();
    for member in members {
        let key = (
            member.namespace().to_string(),
            member.va.spec.model_id.clone(),
        );
        let labels = member.target.and_then(|t| t.serving_pod_labels().cloned());
        if let (Some(pod_labels), Some(labels)) = (by_model.get_mut(&key), labels) {
            pod_labels.push(labels);
        }
    }
    by_model
        .into_iter()
        .map(|((namespace, model_id), pod_labels)| DormantModel {
            namespace,
            model_id,
            pod_labels,
        })
        .collect()
}

/// Logs read errors as a warning when they change, at debug while they repeat, and says so
/// when they are gone.
fn log_read_errors(wakes: &mut Wakes, errors: Vec<String>) {
    if errors.is_empty() {
        if wakes.last_error.take().is_some() {
            tracing::info!("Gateway queue readable again: scale-from-zero resumes");
        }
        return;
    }
    let message = errors.join("; ");
    if wakes.last_error.as_deref() == Some(message.as_str()) {
        tracing::debug!(error = %message, "Could not read the gateway queue; no model is started from zero");
    } else {
        tracing::warn!(error = %message, "Could not read the gateway queue; the models it serves are not started from zero until it is readable (unknown is not demand)");
        wakes.last_error = Some(message);
    }
}

/// Starts one variant: the scale subresource (with `scale` actuation), then the decision
/// counted, then published as metric, event and status.
async fn activate(
    ctx: &Context,
    state: &mut State,
    snapshot: &Snapshot,
    va: &VariantAutoscaling,
    decision: &Decision,
) {
    let model: ModelRef = (decision.namespace.clone(), decision.model_id.clone());
    let target = keys::target(va);
    if state.config.static_config.scale_from_zero_actuation == ScaleFromZeroActuation::Scale {
        scale::start_logged(&ctx.client, &target).await;
    }
    let queue = snapshot
        .models
        .iter()
        .find(|m| (m.namespace.as_str(), m.model_id.as_str()) == (&model.0, &model.1))
        .and_then(|m| m.gateway_queue)
        .unwrap_or_default();
    tracing::info!(namespace = %decision.namespace, model = %decision.model_id, variant = %decision.variant, queue, "Requests waiting at the gateway, scaling from zero");
    // Counted before the decision is published, so that a scrape which sees
    // `wva_desired_replicas` at 1 also sees the activation that set it.
    ctx.metrics
        .wva_scale_from_zero_activations_total
        .with_label_values(&[&decision.model_id, &decision.namespace, &decision.variant])
        .inc();
    let now = Instant::now();
    if let Some(seen) = state.wakes.seen.remove(&model) {
        ctx.metrics
            .wva_scale_from_zero_decision_seconds
            .observe(now.duration_since(seen).as_secs_f64());
    }
    publish(ctx, state, va, decision).await;
    let key: VaRef = keys::of(va);
    state.decisions.insert(key, decision.clone());
    let found = Target::Found(target.kind, &target.name);
    sync_status(ctx, state, va, found, Some(decision)).await;
    state.wakes.started.insert(
        model,
        Started {
            target,
            at_unix: snapshot.now,
            at: now,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pools::tests::pool_object;
    use crate::k8s::pools::{PoolApi, PoolCaches};
    use crate::testing::{Fixture, NAMESPACE};
    use kube::api::DynamicObject;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher;
    use serde_json::json;
    use wva_testkit::{StubResponse, StubServer};

    /// A controller reading the gateway from one endpoint picker (the `epp` source) that
    /// queues 4 requests for `meta/llama` and 9 for `acme/chat`; both models have two
    /// variants at zero.
    async fn two_models_at_zero() -> (Fixture, StubServer, tempfile::NamedTempFile) {
        let mut fx = Fixture::start().await;
        for (va, model, cost) in [
            ("llama-a100", "meta/llama", "20"),
            ("llama-h100", "meta/llama", "40"),
            ("chat-l40", "acme/chat", "5"),
            ("chat-h100", "acme/chat", "40"),
        ] {
            fx.create_deployment_with(va, 0);
            fx.create_va_for(va, va, model, cost);
        }
        let epp = StubServer::start(|_: &wva_testkit::RecordedRequest| {
            StubResponse::text(
                "inference_extension_flow_control_queue_size{target_model_name=\"meta/llama\"} 4\n\
                 inference_extension_flow_control_queue_size{target_model_name=\"acme/chat\"} 9\n",
            )
        });
        fx.double
            .create(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "gateway-epp", "namespace": NAMESPACE},
                "spec": {"ports": [{"name": "http-metrics", "port": epp.port()}]}
            }))
            .expect("Service");
        let mut writer = Writer::<DynamicObject>::new(PoolApi::V1.resource());
        for (pool, app) in [("llama", "llama-a100"), ("chat", "chat-l40")] {
            let object = pool_object(PoolApi::V1, NAMESPACE, pool, &[("app", app)], "gateway-epp");
            writer.apply_watcher_event(&watcher::Event::Apply(
                serde_json::from_value(object).expect("pool"),
            ));
        }
        let token = tempfile::NamedTempFile::new().expect("token file");
        std::fs::write(token.path(), "t").expect("token");
        let pools = PoolCaches::new(vec![(PoolApi::V1, writer.as_reader())]);
        let source = EppSource::new(fx.ctx.client.clone(), pools, token.path().to_str())
            .expect("token readable")
            .local(
                |_, _| "127.0.0.1".to_string(),
                std::time::Duration::from_secs(3),
            );
        fx.ctx.gateway = Gateway::Epp(Box::new(source));
        (fx, epp, token)
    }

    fn desired(fx: &Fixture, va: &str) -> f64 {
        fx.ctx
            .metrics
            .wva_desired_replicas
            .with_label_values(&[va, NAMESPACE, "unknown"])
            .get()
    }

    fn woken(fx: &Fixture) -> Vec<(String, String)> {
        fx.events()
            .into_iter()
            .filter(|(_, reason, _, _)| reason == "ScaledFromZero")
            .map(|(_, _, note, va)| (va, note))
            .collect()
    }

    #[tokio::test]
    async fn the_largest_queue_wakes_first_within_the_concurrency_bound() {
        let (mut fx, epp, _token) = two_models_at_zero().await;
        fx.state
            .config
            .static_config
            .scale_from_zero_engine_max_concurrency = 1;
        check(&fx.ctx, &mut fx.state).await;
        // acme/chat (9 waiting) starts on its cheapest variant; meta/llama waits for the slot.
        let events = woken(&fx);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].0, "chat-l40");
        assert!(
            events[0]
                .1
                .contains("9 requests wait at the inference gateway for model \"acme/chat\""),
            "{events:?}"
        );
        assert_eq!(desired(&fx, "chat-l40"), 1.0);
        assert_eq!(
            fx.condition("chat-l40", "MetricsAvailable")
                .map(|(status, reason, _)| (status, reason)),
            Some(("True".into(), "ScaleFromZero".into()))
        );
        let metric = &fx.ctx.metrics.wva_scale_from_zero_activations_total;
        assert_eq!(
            metric
                .with_label_values(&["acme/chat", NAMESPACE, "chat-l40"])
                .get(),
            1
        );
        // The started replica is not ready yet: the slot stays taken, nothing else starts,
        // and acme/chat is not started again.
        check(&fx.ctx, &mut fx.state).await;
        assert_eq!(woken(&fx).len(), 1);
        assert_eq!(desired(&fx, "llama-a100"), 0.0);
        // One scrape of the one endpoint picker per check, for both models.
        assert_eq!(epp.request_count(), 2);
    }

    #[tokio::test]
    async fn nothing_is_read_while_no_target_is_at_zero() {
        let mut fx = Fixture::start().await;
        fx.create_deployment_with("llama", 1);
        fx.create_va("llama", "llama");
        // The fixture's Prometheus is unreachable: a read would fail and be remembered.
        check(&fx.ctx, &mut fx.state).await;
        assert_eq!(fx.state.wakes.last_error, None);
        assert!(woken(&fx).is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_gateway_starts_nothing() {
        let (mut fx, epp, _token) = two_models_at_zero().await;
        drop(epp);
        check(&fx.ctx, &mut fx.state).await;
        assert!(woken(&fx).is_empty());
        assert_eq!(desired(&fx, "chat-l40"), 0.0);
        assert!(fx.state.wakes.last_error.is_some());
    }
}
