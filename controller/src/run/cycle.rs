//! One engine cycle on the leader: the caches and one batch of Prometheus queries give a
//! snapshot, the engine decides, and each decision becomes metrics, events and a status.

use super::context::{Context, State};
use super::effects::{self, DecisionEffects};
use super::events::Reason;
use super::model_id;
use super::reconcile::sync_status;
use super::reload::config_rejected;
use crate::assemble;
use crate::configmaps::{Inputs, Notice};
use crate::gpus;
use crate::k8s::status::Target;
use crate::keys::{self, VaRef};
use crate::telemetry::capacity::CapacityFigures;
use crate::telemetry::cycle_metrics::{self, CycleSeries};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use wva_api::crd::VariantAutoscaling;
use wva_engine::{Cycle, Decision, EngineConfig, ModelReport};

/// Runs one engine cycle.
pub async fn run(ctx: &Context, state: &mut State) {
    let started = Instant::now();
    let vas = crate::discovery::variants(ctx, state).await;
    let engine_config = engine_config(ctx, state, &vas).await;
    state
        .cycle_series
        .publish_config(&ctx.metrics, cycle_metrics::config_labels(&engine_config));
    let cached_targets = ctx.caches.targets();
    let targets = cached_targets.by_ref();
    let pods_state = ctx.caches.pods.state();
    let pods: Vec<_> = pods_state.iter().map(AsRef::as_ref).collect();
    let va_refs: Vec<&VariantAutoscaling> = vas.iter().map(AsRef::as_ref).collect();
    let plan = assemble::plan(
        &va_refs,
        &targets,
        &pods,
        &engine_config,
        ctx.scope.watch_namespace.as_deref(),
    );
    let signals = ctx.collector.collect(&plan.scope, &plan.pods).await;
    CycleSeries::observe_queries(&ctx.metrics, &signals.timings);
    let now = jiff::Timestamp::now().as_second();
    let free_gpus = free_gpus(ctx, state);
    state
        .cycle_series
        .publish_free_gpus(&ctx.metrics, free_gpus.as_ref());
    let mut snapshot = assemble::snapshot(&plan, &signals, engine_config, now, free_gpus);
    assemble::use_newest_status(&mut snapshot, &plan.members, &mut state.written);
    if snapshot.config.hybrid {
        state.hybrid.fill(&mut snapshot, &plan.members, &signals);
    }
    for model in &mut snapshot.models {
        model.scaled_from_zero_at = state
            .wakes
            .scaled_from_zero_at(&model.namespace, &model.model_id);
    }
    let cycle = wva_engine::decide(&snapshot);
    let mut model_id_news: HashMap<VaRef, _> = state
        .warned_model_id
        .news(model_id::not_found(&snapshot, &signals, &plan.members))
        .into_iter()
        .collect();
    for report in &cycle.models {
        log_notes(report);
    }
    state.capacity.publish(
        &ctx.metrics,
        cycle.models.iter().map(|r| {
            let figures = CapacityFigures::of(r);
            (r.namespace.as_str(), r.model_id.as_str(), figures)
        }),
    );
    let by_key: HashMap<VaRef, &Decision> = cycle
        .decisions
        .iter()
        .map(|d| (keys::decided(d), d))
        .collect();
    let mut present = HashSet::new();
    for member in &plan.members {
        let key = keys::of(member.va);
        let target_ref = &member.va.spec.scale_target_ref;
        let (kind, target) = (target_ref.kind, target_ref.name.as_str());
        match (member.target, by_key.get(&key)) {
            (None, _) => {
                state.forget_decision(&ctx.metrics, &key);
                sync_status(ctx, state, member.va, Target::Missing(kind, target), None).await;
            }
            (Some(_), Some(decision)) => {
                publish(ctx, state, member.va, decision).await;
                // Recorded before the write, so a retry of a failed write writes it.
                state.decisions.insert(key.clone(), (*decision).clone());
                let found = Target::Found(kind, target);
                sync_status(ctx, state, member.va, found, Some(decision)).await;
            }
            (Some(_), None) => {
                sync_status(ctx, state, member.va, Target::Found(kind, target), None).await;
            }
        }
        if let Some(event) = model_id_news.remove(&key) {
            tracing::warn!(variant = %key.name, namespace = %member.namespace(), "{}", event.note);
            state.series.count_model_id_not_found(&ctx.metrics, &key);
            let (regarding, event) = state.discovery.address(member.va, event);
            ctx.events.publish(&regarding, event).await;
        }
        present.insert(key);
    }
    let stale: Vec<VaRef> = state
        .series
        .published()
        .filter(|k| !present.contains(*k))
        .cloned()
        .collect();
    for key in stale {
        state.series.forget(&ctx.metrics, &key);
    }
    publish_cycle_metrics(ctx, state, &plan.members, &cycle);
    ctx.metrics
        .wva_engine_cycle_duration_seconds
        .observe(started.elapsed().as_secs_f64());
    ctx.metrics
        .wva_last_successful_cycle_timestamp_seconds
        .set(jiff::Timestamp::now().as_millisecond() as f64 / 1000.0);
    tracing::info!(
        models = cycle.models.len(),
        decisions = cycle.decisions.len(),
        queries = signals.stats.queries,
        "Optimization completed successfully"
    );
}

/// The per-cycle and per-model gauges of `cycle`.
fn publish_cycle_metrics(
    ctx: &Context,
    state: &mut State,
    members: &[assemble::Member<'_>],
    cycle: &Cycle,
) {
    let metrics = &ctx.metrics;
    metrics.wva_cycle_models.set(count(cycle.models.len()));
    metrics.wva_cycle_variants.set(count(cycle.decisions.len()));
    metrics.wva_engine_interval_seconds.set(
        state
            .config
            .dynamic_config
            .global_opt_interval
            .as_secs_f64(),
    );
    let max_replicas: HashMap<VaRef, u32> = members
        .iter()
        .filter_map(|m| {
            let max = u32::try_from(m.va.spec.max_replicas?).ok()?;
            Some((keys::of(m.va), max))
        })
        .collect();
    state
        .cycle_series
        .publish_models(metrics, cycle, &max_replicas);
    state.cycle_series.publish_missing_targets(
        metrics,
        members.iter().map(|m| {
            (
                m.namespace(),
                m.va.spec.model_id.as_str(),
                m.target.is_some(),
            )
        }),
    );
}

/// A length as a gauge value.
fn count(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// The VAs this controller manages, from the cache.
pub fn in_scope_vas(ctx: &Context) -> Vec<Arc<VariantAutoscaling>> {
    ctx.caches
        .vas
        .state()
        .into_iter()
        .filter(|va| ctx.in_scope(va))
        .collect()
}

/// Publishes one decision: metrics, safety-net log line, scaling log line and events.
pub async fn publish(
    ctx: &Context,
    state: &mut State,
    va: &VariantAutoscaling,
    decision: &Decision,
) {
    let key = keys::of(va);
    let DecisionEffects {
        scaling,
        safety_net,
        events,
    } = effects::decision_effects(
        decision,
        effects::previous_desired(state.written.latest(va).as_ref()),
        state.warned_accelerator.contains(&key),
        state.decisions.get(&key).is_some_and(|d| d.limited),
        va.spec.scale_target_ref.kind,
    );
    state.series.publish(&ctx.metrics, decision, scaling);
    if safety_net {
        state.series.count_safety_net(&ctx.metrics, decision);
        log_safety_net(decision);
    }
    for event in events {
        if event.reason == Reason::AcceleratorNotResolved {
            state.warned_accelerator.insert(key.clone());
        }
        if let Some(s) = scaling.filter(|s| s.event_reason(decision) == event.reason) {
            tracing::info!(variant = %decision.variant, namespace = %decision.namespace, from = s.from, to = s.to, reason = decision.reason.as_str(), "{}", event.note);
        }
        let (regarding, event) = state.discovery.address(va, event);
        ctx.events.publish(&regarding, event).await;
    }
}

/// Logs the engine's notes about one model.
fn log_notes(report: &ModelReport) {
    // The role of a prefill/decode model's report; absent for `both`.
    let role = (!report.role.is_both()).then_some(report.role.as_str());
    let transition = report
        .analysis
        .as_ref()
        .and_then(|a| a.transition.as_deref());
    for note in &report.notes {
        match transition {
            Some(why) if *note == wva_engine::Note::InTransition => {
                tracing::info!(namespace = %report.namespace, model = %report.model_id, role, reason = %why, "{note}");
            }
            _ => {
                tracing::info!(namespace = %report.namespace, model = %report.model_id, role, "{note}");
            }
        }
    }
}

/// The safety-net log line, values unquoted as the user guide shows them
/// (`fallbackSource=current-replicas`), so a `grep` for them finds it.
fn log_safety_net(decision: &Decision) {
    tracing::warn!(
        variant = %decision.variant,
        namespace = %decision.namespace,
        currentReplicas = decision.current_replicas,
        desiredReplicas = decision.desired_replicas,
        accelerator = %decision.accelerator.as_deref().unwrap_or("unknown"),
        fallbackSource = %decision.fallback_source.map_or("", |f| f.as_str()),
        "{}",
        wva_engine::Note::SafetyNet
    );
}

/// Free GPUs per accelerator type from the Node and Pod caches (limited mode; `None`
/// otherwise). Logged at info when they change, at debug otherwise.
fn free_gpus(ctx: &Context, state: &mut State) -> Option<BTreeMap<String, u32>> {
    let inventory = ctx.caches.gpus.as_ref()?.inventory();
    for skipped in &inventory.skipped {
        tracing::debug!(
            node = %skipped.node,
            accelerator = skipped.accelerator.as_deref().unwrap_or("unknown"),
            "GPU node not counted in the inventory: {}",
            skipped.reason
        );
    }
    let free = inventory.free_gpus();
    if state.last_free_gpus.as_ref() == Some(&free) {
        tracing::debug!(inventory = %inventory, "Collected cluster accelerator inventory (Limited Mode)");
    } else if free.is_empty() {
        tracing::warn!(
            skipped = inventory.skipped.len(),
            "Limited mode: no schedulable, Ready node carries a GPU product label ({}); scale-ups get no GPUs",
            gpus::product_labels()
        );
    } else {
        tracing::info!(inventory = %inventory, "Collected cluster accelerator inventory (Limited Mode)");
    }
    state.last_free_gpus = Some(free.clone());
    Some(free)
}

/// The saturation and scale-to-zero entries in force (and in HYBRID mode the service
/// classes), with their notices handled; logs the operating mode.
async fn engine_config(
    ctx: &Context,
    state: &mut State,
    vas: &[Arc<VariantAutoscaling>],
) -> EngineConfig {
    let va_namespaces: BTreeSet<String> = vas
        .iter()
        .filter_map(|v| v.metadata.namespace.clone())
        .collect();
    let namespaces_state = ctx.caches.namespaces.state();
    let namespaces = namespaces_state
        .iter()
        .map(|n| (n.metadata.name.clone().unwrap_or_default(), n.as_ref()))
        .collect();
    let maps: Vec<Arc<ConfigMap>> = ctx
        .caches
        .controller_config_maps
        .state()
        .into_iter()
        .chain(ctx.caches.local_saturation.state())
        .chain(ctx.caches.local_scale_to_zero.state())
        .collect();
    let unique: BTreeMap<(Option<&str>, Option<&str>), &ConfigMap> = maps
        .iter()
        .map(|cm| {
            let meta = &cm.metadata;
            (
                (meta.namespace.as_deref(), meta.name.as_deref()),
                cm.as_ref(),
            )
        })
        .collect();
    let config_maps: Vec<&ConfigMap> = unique.into_values().collect();
    let (resolved, mut notices) = state.configmaps.refresh(&Inputs {
        controller_namespace: ctx.namespace(),
        scope: &ctx.scope,
        va_namespaces: &va_namespaces,
        namespaces: &namespaces,
        config_maps: &config_maps,
    });
    let s = &state.config.static_config;
    let hybrid = s.experimental_proactive_model;
    if hybrid {
        tracing::info!("{}", crate::hybrid::HYBRID_MODE);
        let name = s.service_class_config_map_name.as_str();
        let config_map = maps.iter().find(|cm| {
            cm.metadata.namespace.as_deref() == Some(ctx.namespace())
                && cm.metadata.name.as_deref() == Some(name)
        });
        notices.extend(state.hybrid.classes.refresh(config_map.map(AsRef::as_ref)));
    } else {
        tracing::info!("{}", crate::hybrid::CAPACITY_ONLY_MODE);
    }
    for notice in notices {
        match notice {
            Notice::Updated {
                config_map,
                message,
                old_entries,
                new_entries,
            } => {
                tracing::info!(configmap = %keys::display(&config_map), oldEntries = old_entries, newEntries = new_entries, "{message}");
            }
            Notice::Invalid {
                config_map,
                message,
            } => {
                tracing::warn!(configmap = %keys::display(&config_map), "{message}");
                config_rejected(ctx, &config_map, Reason::InvalidConfiguration, message).await;
            }
        }
    }
    let s = &state.config.static_config;
    EngineConfig {
        saturation: resolved.saturation,
        namespace_saturation: resolved.namespace_saturation,
        scale_to_zero: resolved.scale_to_zero,
        namespace_scale_to_zero: resolved.namespace_scale_to_zero,
        scale_to_zero_enabled: s.wva_scale_to_zero,
        limited_mode: s.wva_limited_mode,
        hybrid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wva_engine::{Action, FallbackSource, MetricsCondition, MetricsReason};

    #[test]
    fn the_safety_net_line_has_the_fields_of_the_user_guide_unquoted() {
        let decision = Decision {
            variant: "my-va".into(),
            current_replicas: 2,
            desired_replicas: 2,
            action: Action::NoChange,
            reason: wva_engine::Reason::SafetyNet,
            message: "safety net keeps 2 replicas (current-replicas)".into(),
            safety_net: true,
            fallback_source: Some(FallbackSource::CurrentReplicas),
            metrics_available: MetricsCondition {
                status: false,
                reason: MetricsReason::PrometheusError,
                message: "down".into(),
            },
            ..crate::testing::decision(2, 2)
        };
        let log = crate::telemetry::logging::captured(|| log_safety_net(&decision));
        assert!(
            log.contains(
                "Safety net activated: emitted fallback metrics variant=my-va namespace=llm-d currentReplicas=2 desiredReplicas=2 accelerator=H100 fallbackSource=current-replicas"
            ),
            "{log}"
        );
    }
}
