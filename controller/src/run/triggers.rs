//! From watch events to triggers: every watch is driven in its own task so the caches stay
//! current during a cycle, and the interesting events are sent to the controller loop.

use crate::k8s::caches::Streams;
use crate::keys::{self, DeploymentRef, VaRef};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use tokio::sync::mpsc;

/// What a watch event asks the controller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A VA was created or changed; it scales `target`.
    VaApplied {
        /// The VA.
        va: VaRef,
        /// Its scale target.
        target: DeploymentRef,
    },
    /// A VA was deleted.
    VaDeleted(VaRef),
    /// A Deployment was created, changed or deleted.
    Deployment(DeploymentRef),
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
    let tx = triggers.clone();
    tokio::spawn(streams.vas.for_each(move |event| {
        let trigger = match event {
            Ok(Event::Apply(va) | Event::InitApply(va)) => Some(Trigger::VaApplied {
                va: keys::of(&va),
                target: keys::target(&va),
            }),
            Ok(Event::Delete(va)) => Some(Trigger::VaDeleted(keys::of(&va))),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "VariantAutoscaling watch error; retrying");
                None
            }
        };
        send(&tx, trigger);
        async {}
    }));
    let tx = triggers.clone();
    tokio::spawn(streams.deployments.for_each(move |event| {
        let trigger = match event {
            Ok(Event::Apply(d) | Event::Delete(d)) => Some(Trigger::Deployment(keys::of(&d))),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "Deployment watch error; retrying");
                None
            }
        };
        send(&tx, trigger);
        async {}
    }));
    tokio::spawn(streams.config_maps.for_each(move |event| {
        let trigger = match event {
            Ok(Event::Apply(cm) | Event::Delete(cm) | Event::InitApply(cm))
                if keys::of(&cm) == main_config_map =>
            {
                Some(Trigger::MainConfigMap)
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "ConfigMap watch error; retrying");
                None
            }
        };
        send(&triggers, trigger);
        async {}
    }));
    tokio::spawn(streams.others.for_each(|()| async {}));
}

/// Sends `trigger`; a closed channel means the controller is shutting down.
fn send(triggers: &mpsc::UnboundedSender<Trigger>, trigger: Option<Trigger>) {
    if let Some(trigger) = trigger {
        drop(triggers.send(trigger));
    }
}
