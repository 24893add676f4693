//! From watch events to triggers: every watch is driven in its own task so the caches stay
//! current during a cycle, and the interesting events are sent to the controller loop.

use crate::k8s::caches::Streams;
use crate::keys::{self, VaRef};
use crate::target::{ScaleTargetKind, TargetRef};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

/// What a watch event asks the controller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A VA was created or changed; it scales `target`.
    VaApplied {
        /// The VA.
        va: VaRef,
        /// Its scale target.
        target: TargetRef,
    },
    /// A VA was deleted.
    VaDeleted(VaRef),
    /// A scale target (Deployment, StatefulSet, LeaderWorkerSet) was created, changed or
    /// deleted.
    Target(TargetRef),
    /// The main ConfigMap changed.
    MainConfigMap,
}

/// Drives every stream of `streams`, sending triggers to `triggers`; `main_config_map` is the
/// ConfigMap whose changes are reloaded.
pub fn spawn(
    streams: Streams,
    triggers: mpsc::UnboundedSender<Trigger>,
    main_config_map: ObjectRef<ConfigMap>,
) {
    drive(
        streams.vas,
        "VariantAutoscaling",
        triggers.clone(),
        |event| match event {
            Event::Apply(va) | Event::InitApply(va) => Some(Trigger::VaApplied {
                va: keys::of(&va),
                target: keys::target(&va),
            }),
            Event::Delete(va) => Some(Trigger::VaDeleted(keys::of(&va))),
            _ => None,
        },
    );
    drive(
        streams.deployments,
        "Deployment",
        triggers.clone(),
        |event| target_changed(ScaleTargetKind::Deployment, event),
    );
    drive(
        streams.stateful_sets,
        "StatefulSet",
        triggers.clone(),
        |event| target_changed(ScaleTargetKind::StatefulSet, event),
    );
    drive(
        streams.leader_worker_sets,
        "LeaderWorkerSet",
        triggers.clone(),
        |event| target_changed(ScaleTargetKind::LeaderWorkerSet, event),
    );
    drive(
        streams.config_maps,
        "ConfigMap",
        triggers,
        move |event| match event {
            Event::Apply(cm) | Event::Delete(cm) | Event::InitApply(cm)
                if keys::of(&cm) == main_config_map =>
            {
                Some(Trigger::MainConfigMap)
            }
            _ => None,
        },
    );
    tokio::spawn(streams.others.for_each(|()| async {}));
}

/// The trigger of an event of a scale target of `kind`: created, changed or deleted.
fn target_changed<K: kube::Resource>(kind: ScaleTargetKind, event: Event<K>) -> Option<Trigger> {
    match event {
        Event::Apply(t) | Event::Delete(t) => {
            Some(Trigger::Target(TargetRef::of_object(kind, t.meta())))
        }
        _ => None,
    }
}

/// For a VariantAutoscaling watch failing with NotFound (the CRD was removed): the fix.
fn not_found_hint(kind: &str, error: &watcher::Error) -> Option<&'static str> {
    let text = error.to_string();
    (kind == "VariantAutoscaling" && (text.contains("404") || text.contains("NotFound")))
        .then_some(crate::k8s::crd::CRD_MISSING)
}

/// Drives one watch stream of `kind` objects in its own task: each event `trigger` maps to a
/// trigger is sent (a closed channel means the controller is shutting down); watch errors
/// are logged (the watcher retries with backoff).
fn drive<K: Send + 'static>(
    stream: BoxStream<'static, watcher::Result<Event<K>>>,
    kind: &'static str,
    triggers: mpsc::UnboundedSender<Trigger>,
    trigger: impl Fn(Event<K>) -> Option<Trigger> + Send + 'static,
) {
    tokio::spawn(stream.for_each(move |event| {
        match event.map(&trigger) {
            Ok(Some(t)) => drop(triggers.send(t)),
            Ok(None) => {}
            Err(error) => match not_found_hint(kind, &error) {
                Some(hint) => {
                    tracing::warn!(%error, "{kind} watch error; retrying with backoff: {hint}")
                }
                None => tracing::warn!(%error, "{kind} watch error; retrying with backoff"),
            },
        }
        async {}
    }));
}
