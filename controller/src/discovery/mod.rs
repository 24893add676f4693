//! VA-less discovery (`WVA_DISCOVERY` `annotations` or `both`): HPAs and KEDA ScaledObjects
//! annotated `llm-d.ai/managed: "true"` become variants, each an in-memory
//! VariantAutoscaling named after its object and fed through the same assembly and engine
//! path as the VAs read from the API.
//!
//! * [`source`]: an HPA or ScaledObject read into one shape;
//! * [`annotations`]: the annotations and bounds that make it a variant, or why not;
//! * [`resolve`]: the variants of a cycle, and the objects skipped (invalid, conflicting);
//! * [`watch`]: the watches of HPAs and (once their CRD exists) ScaledObjects.
//!
//! A discovered variant has no status: its decisions go to `wva_desired_replicas`
//! (`variant_name` = the object's name), and what a VA's conditions would say goes to events
//! on the object, only when it changes, like a VA's.

pub mod annotations;
pub mod resolve;
pub mod source;
pub mod watch;

use crate::k8s::status::Target;
use crate::keys::{self, VaRef};
use crate::run::context::{Context, State};
use crate::run::cycle::in_scope_vas;
use crate::run::effects::{self, StatusEffects};
use crate::run::events::{Event, Reason};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use resolve::{Discovered, Skip, is_synthetic};
use source::{Source, SourceKey};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use wva_api::crd::{VariantAutoscaling, VariantAutoscalingStatus};
use wva_api::metrics::WvaMetrics;
use wva_engine::Decision;

/// What discovery remembers between cycles.
#[derive(Debug, Default)]
pub struct DiscoveryState {
    /// The discovered variants of the last cycle and their objects.
    sources: HashMap<VaRef, Source>,
    /// What each discovered variant's VA status would say; never written, its changes become
    /// events on the object.
    statuses: HashMap<VaRef, VariantAutoscalingStatus>,
    /// The `VariantDiscovered` note last published for each variant.
    announced: HashMap<VaRef, String>,
    /// The objects skipped in the last cycle, with the warning published.
    skipped: BTreeMap<SourceKey, Skip>,
    /// The series of `wva_discovery_skipped_total` exported: object and reason.
    counted: BTreeSet<(SourceKey, &'static str)>,
}

impl DiscoveryState {
    /// The object `va` was discovered from, when discovery built it.
    pub fn source_of(&self, va: &VariantAutoscaling) -> Option<&Source> {
        if !is_synthetic(va) {
            return None;
        }
        self.sources.get(&keys::of(va))
    }

    /// Where an event about `va` goes, and how it reads there: on its HPA or ScaledObject when
    /// discovery built it, the fixes a VA's notes suggest then name the annotation or the
    /// object's label; on the VA itself otherwise.
    pub fn address(&self, va: &VariantAutoscaling, event: Event) -> (ObjectReference, Event) {
        match self.source_of(va) {
            Some(source) => {
                let note = reword(&event.note, source.kind.kind());
                (source.reference(), Event::new(event.reason, note))
            }
            None => (va.object_ref(&()), event),
        }
    }
}

/// A note written for a VA, reworded for a variant discovered from an object of `kind`.
fn reword(note: &str, kind: &str) -> String {
    let model_id = format!("the annotation {}", annotations::MODEL_ID);
    note.replace("the VA's spec.modelID", &model_id)
        .replace("the VA's modelID", &model_id)
        .replace("the VA label ", &format!("the {kind} label "))
}

/// The variants of a cycle: the VAs in scope and, when discovery is on, the variants of the
/// annotated objects in scope. Warns about the objects skipped and announces new or changed
/// variants, each on its object, only when that changes.
pub async fn variants(ctx: &Context, state: &mut State) -> Vec<Arc<VariantAutoscaling>> {
    let mut vas = in_scope_vas(ctx);
    let Some(watches) = &ctx.discovery else {
        return vas;
    };
    let sources: Vec<Source> = watches
        .sources()
        .into_iter()
        .filter(|s| ctx.in_scope_object(&s.namespace, Some(&s.labels)))
        .collect();
    let va_refs: Vec<&VariantAutoscaling> = vas.iter().map(AsRef::as_ref).collect();
    let resolution = resolve::resolve(&sources, &va_refs);
    warn_skipped(ctx, state, &sources, resolution.skipped).await;
    let mut current = HashMap::new();
    for Discovered { mut va, source } in resolution.variants {
        let key = keys::of(&va);
        let note = announcement(&va, &source);
        if state.discovery.announced.get(&key) != Some(&note) {
            tracing::info!(object = %source.key(), variant = %key.name, "{note}");
            ctx.events
                .publish(
                    &source.reference(),
                    Event::new(Reason::VariantDiscovered, note.clone()),
                )
                .await;
            state.discovery.announced.insert(key.clone(), note);
        }
        va.status = state.discovery.statuses.get(&key).cloned();
        current.insert(key, source);
        vas.push(Arc::new(va));
    }
    let gone: Vec<VaRef> = state
        .discovery
        .sources
        .keys()
        .filter(|k| !current.contains_key(*k))
        .cloned()
        .collect();
    for key in gone {
        state.discovery.statuses.remove(&key);
        state.discovery.announced.remove(&key);
        state.forget_decision(&ctx.metrics, &key);
    }
    state.discovery.sources = current;
    vas
}

/// The `VariantDiscovered` note of a variant.
fn announcement(va: &VariantAutoscaling, source: &Source) -> String {
    let spec = &va.spec;
    format!(
        "Managed by WVA as variant {:?} of model {:?} (cost {}, replicas {} to {}, target {} {}); its decisions are published as wva_desired_replicas{{variant_name=\"{}\",namespace=\"{}\"}}",
        source.name,
        spec.model_id,
        spec.variant_cost,
        spec.min_replicas.unwrap_or_default(),
        spec.max_replicas.unwrap_or_default(),
        spec.scale_target_ref.kind,
        spec.scale_target_ref.name,
        source.name,
        source.namespace,
    )
}

/// Publishes the warning of each object newly skipped (or skipped for another reason),
/// counts it, and deletes the counter series of objects that are gone.
async fn warn_skipped(
    ctx: &Context,
    state: &mut State,
    sources: &[Source],
    skipped: BTreeMap<SourceKey, Skip>,
) {
    let by_key: HashMap<SourceKey, &Source> = sources.iter().map(|s| (s.key(), s)).collect();
    for (key, skip) in &skipped {
        if state.discovery.skipped.get(key) == Some(skip) {
            continue;
        }
        tracing::warn!(object = %key, reason = skip.reason.as_str(), "{}", skip.note);
        count_skip(&ctx.metrics, key, skip.reason);
        state
            .discovery
            .counted
            .insert((key.clone(), skip.reason.as_str()));
        if let Some(source) = by_key.get(key) {
            ctx.events
                .publish(
                    &source.reference(),
                    Event::new(skip.reason, skip.note.clone()),
                )
                .await;
        }
    }
    state.discovery.skipped = skipped;
    let gone: Vec<(SourceKey, &'static str)> = state
        .discovery
        .counted
        .iter()
        .filter(|(key, _)| !by_key.contains_key(key))
        .cloned()
        .collect();
    for (key, reason) in gone {
        drop(
            ctx.metrics
                .wva_discovery_skipped_total
                .remove_label_values(&[&key.namespace, key.kind.kind(), &key.name, reason]),
        );
        state.discovery.counted.remove(&(key, reason));
    }
}

fn count_skip(metrics: &WvaMetrics, key: &SourceKey, reason: Reason) {
    metrics
        .wva_discovery_skipped_total
        .with_label_values(&[&key.namespace, key.kind.kind(), &key.name, reason.as_str()])
        .inc();
}

/// What a VA status would say for a discovered variant, as events on its object: the
/// warnings of conditions that turn False and `MetricsRestored`, like a VA's, only when the
/// (unwritten) status changes. Returns false when `va` was not discovered.
pub async fn report(
    ctx: &Context,
    state: &mut State,
    va: &VariantAutoscaling,
    target: Target<'_>,
    decision: Option<&Decision>,
) -> bool {
    if state.discovery.source_of(va).is_none() {
        return false;
    }
    let key = keys::of(va);
    let now = Time(jiff::Timestamp::now());
    let previous = state.discovery.statuses.get(&key);
    if let Some(StatusEffects { status, events }) =
        effects::status_effects(va, previous, target, decision, &now)
    {
        state.discovery.statuses.insert(key, status);
        for event in events {
            let (regarding, event) = state.discovery.address(va, event);
            ctx.events.publish(&regarding, event).await;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::cycle;
    use crate::testing::{Fixture, NAMESPACE};
    use kube::api::DynamicObject;
    use kube::runtime::reflector;
    use kube::runtime::watcher;
    use wva_testkit::{StubResponse, StubServer};

    /// An annotated ScaledObject for Deployment `chat`, `cost` its cost annotation.
    fn scaled_object(cost: &str) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "chat-so", "namespace": NAMESPACE, "uid": "so-1",
                         "annotations": {"llm-d.ai/managed": "true", "llm-d.ai/model-id": "acme/chat",
                                         "llm-d.ai/variant-cost": cost}},
            "spec": {"scaleTargetRef": {"name": "chat"}, "maxReplicaCount": 3}
        }))
        .expect("scaled object")
    }

    /// A ScaledObject variant goes through the cycle like a VA, with every event on the
    /// ScaledObject: announced once, `TargetNotFound` while its Deployment is missing, its
    /// decision published under its name once the Deployment exists. A bad cost then skips it
    /// with one warning, counted, and its series are removed.
    #[tokio::test]
    async fn a_scaled_object_variant_reports_on_the_scaled_object() {
        let prometheus = StubServer::start(|_: &wva_testkit::RecordedRequest| {
            StubResponse::json(
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_string(),
            )
        });
        let mut fx = Fixture::start().await;
        fx.use_prometheus(&prometheus.url());
        let (hpas, _) = reflector::store();
        let mut writer = reflector::store::Writer::new(source::scaled_object_resource());
        let scaled_objects = writer.as_reader();
        writer.apply_watcher_event(&watcher::Event::Apply(scaled_object("2")));
        fx.ctx.discovery = Some(watch::Watches::new(hpas, scaled_objects));

        cycle::run(&fx.ctx, &mut fx.state).await;
        cycle::run(&fx.ctx, &mut fx.state).await;
        let on_object: Vec<(String, String)> = fx
            .events()
            .into_iter()
            .filter(|e| e.3 == "chat-so")
            .map(|(_, reason, note, _)| (reason, note))
            .collect();
        assert_eq!(
            on_object,
            [
                (
                    "VariantDiscovered".to_string(),
                    "Managed by WVA as variant \"chat-so\" of model \"acme/chat\" (cost 2, replicas 0 to 3, target Deployment chat); its decisions are published as wva_desired_replicas{variant_name=\"chat-so\",namespace=\"default\"}".to_string()
                ),
                (
                    "TargetNotFound".to_string(),
                    "Scale target Deployment chat not found in namespace default".to_string()
                ),
            ],
            "each once over two cycles"
        );
        let regarding = fx.double.objects("events.events.k8s.io")[0]["regarding"].clone();
        assert_eq!(regarding["kind"], "ScaledObject");
        assert_eq!(regarding["apiVersion"], "keda.sh/v1alpha1");
        assert_eq!(regarding["uid"], "so-1");

        fx.create_deployment("chat");
        cycle::run(&fx.ctx, &mut fx.state).await;
        assert_eq!(
            desired(&fx),
            [("chat-so".to_string(), 1.0)],
            "the safety net keeps its replica"
        );
        assert!(
            fx.double.objects("variantautoscalings.llmd.ai").is_empty(),
            "no VA written"
        );
        let accelerator: Vec<String> = fx
            .events()
            .into_iter()
            .filter(|e| e.1 == "AcceleratorNotResolved" && e.3 == "chat-so")
            .map(|e| e.2)
            .collect();
        assert_eq!(
            accelerator,
            [
                "No accelerator for chat-so: set the ScaledObject label inference.optimization/acceleratorName or a GPU product node selector on the Deployment; metrics use accelerator_type=\"unknown\""
            ]
        );

        writer.apply_watcher_event(&watcher::Event::Apply(scaled_object("-1")));
        cycle::run(&fx.ctx, &mut fx.state).await;
        cycle::run(&fx.ctx, &mut fx.state).await;
        let warnings: Vec<String> = fx
            .events()
            .into_iter()
            .filter(|e| e.1 == "InvalidAnnotation" && e.3 == "chat-so")
            .map(|e| e.2)
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("annotation llm-d.ai/variant-cost is \"-1\""),
            "{warnings:?}"
        );
        let skipped = fx
            .ctx
            .metrics
            .wva_discovery_skipped_total
            .with_label_values(&[NAMESPACE, "ScaledObject", "chat-so", "InvalidAnnotation"])
            .get();
        assert_eq!(skipped, 1);
        assert_eq!(desired(&fx), [], "skipped: its series are gone");
    }

    #[test]
    fn notes_written_for_a_va_name_the_annotation_or_the_label_of_the_object() {
        assert_eq!(
            reword(
                "...: set the VA's spec.modelID to it; check that the VA's modelID equals the model_name label",
                "ScaledObject"
            ),
            "...: set the annotation llm-d.ai/model-id to it; check that the annotation llm-d.ai/model-id equals the model_name label"
        );
        assert_eq!(
            reword(
                "No accelerator for x: set the VA label inference.optimization/acceleratorName or ...",
                "HorizontalPodAutoscaler"
            ),
            "No accelerator for x: set the HorizontalPodAutoscaler label inference.optimization/acceleratorName or ..."
        );
    }

    /// The `wva_desired_replicas` series as (variant_name, value).
    fn desired(fx: &Fixture) -> Vec<(String, f64)> {
        use prometheus::core::Collector;
        fx.ctx
            .metrics
            .wva_desired_replicas
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|m| {
                let name = m
                    .get_label()
                    .iter()
                    .find(|l| l.name() == "variant_name")
                    .map(|l| l.value().to_string())
                    .unwrap_or_default();
                (name, m.get_gauge().get_value())
            })
            .collect()
    }
}
