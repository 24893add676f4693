//! The Kubernetes Events WVA publishes: their reasons as one enum, and the publisher.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{self, EventType, Recorder, Reporter};

/// The name events are reported under.
pub const REPORTER: &str = "workload-variant-autoscaler";

/// The action every WVA event reports.
const ACTION: &str = "Autoscale";

/// Why an event is published; each reason has a fixed type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The desired replicas went up (Normal, on the VA).
    ScaledUp,
    /// The desired replicas went down (Normal, on the VA).
    ScaledDown,
    /// A model at zero got one replica because requests wait at the gateway (Normal, on the
    /// VA of the variant started).
    ScaledFromZero,
    /// Scale-to-zero applied: no requests over the retention period took the variant to zero
    /// (Normal, on the VA, after its `ScaledDown`).
    ScaledToZero,
    /// `MetricsAvailable` turned True again after False (Normal, on the VA).
    MetricsRestored,
    /// The GPU limiter of limited mode granted fewer replicas than the scale-up asked for
    /// (Warning, on the VA, when a decision becomes limited).
    ResourceConstrained,
    /// No accelerator is known for the VA (Warning, once per VA).
    AcceleratorNotResolved,
    /// `TargetResolved` turned False: the Deployment is missing (Warning, on the VA).
    TargetNotFound,
    /// `MetricsAvailable` turned False (Warning, on the VA).
    MetricsUnavailable,
    /// The VA's pods run but no vLLM series carries its `modelID` as `model_name`; names
    /// the model IDs its pods serve (Warning, on the VA, once while it lasts).
    ModelIDNotFound,
    /// A ConfigMap update was rejected as invalid (Warning, on the ConfigMap).
    InvalidConfiguration,
    /// The main ConfigMap tried to change restart-only parameters (Warning, on the ConfigMap).
    ImmutableConfigChangeRejected,
    /// The main ConfigMap has keys no parameter reads (Warning, on the ConfigMap).
    UnknownConfigKey,
    /// An HPA or ScaledObject became a variant, or what it asks for changed (Normal, on the
    /// object; `WVA_DISCOVERY` `annotations` or `both`).
    VariantDiscovered,
    /// An HPA or ScaledObject opted in with an invalid annotation or bound and is skipped
    /// (Warning, on the object).
    InvalidAnnotation,
    /// An annotated HPA or ScaledObject scales the target of a VA (the VA wins) or of another
    /// annotated object, or shares a name with it, and is skipped (Warning, on the object).
    DiscoveryConflict,
}

impl Reason {
    /// The reason as `kubectl get events` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ScaledUp => "ScaledUp",
            Reason::ScaledDown => "ScaledDown",
            Reason::ScaledFromZero => "ScaledFromZero",
            Reason::ScaledToZero => "ScaledToZero",
            Reason::MetricsRestored => "MetricsRestored",
            Reason::ResourceConstrained => "ResourceConstrained",
            Reason::AcceleratorNotResolved => "AcceleratorNotResolved",
            Reason::TargetNotFound => "TargetNotFound",
            Reason::MetricsUnavailable => "MetricsUnavailable",
            Reason::ModelIDNotFound => "ModelIDNotFound",
            Reason::InvalidConfiguration => "InvalidConfiguration",
            Reason::ImmutableConfigChangeRejected => "ImmutableConfigChangeRejected",
            Reason::UnknownConfigKey => "UnknownConfigKey",
            Reason::VariantDiscovered => "VariantDiscovered",
            Reason::InvalidAnnotation => "InvalidAnnotation",
            Reason::DiscoveryConflict => "DiscoveryConflict",
        }
    }

    /// Normal for scaling and recovery, Warning for everything a user should look at.
    pub fn event_type(self) -> EventType {
        match self {
            Reason::ScaledUp
            | Reason::ScaledDown
            | Reason::ScaledFromZero
            | Reason::ScaledToZero
            | Reason::MetricsRestored
            | Reason::VariantDiscovered => EventType::Normal,
            _ => EventType::Warning,
        }
    }
}

/// One event to publish: its reason and note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Why.
    pub reason: Reason,
    /// What happened, for people.
    pub note: String,
}

impl Event {
    /// An event with this reason and note.
    pub fn new(reason: Reason, note: impl Into<String>) -> Self {
        Event {
            reason,
            note: note.into(),
        }
    }
}

/// Publishes events through the API server.
#[derive(Clone)]
pub struct Events {
    client: Client,
    reporter: Reporter,
}

impl Events {
    /// A publisher reporting as [`REPORTER`] from `instance` (the pod name).
    pub fn new(client: Client, instance: Option<String>) -> Self {
        Events {
            client,
            reporter: Reporter {
                controller: REPORTER.into(),
                instance,
            },
        }
    }

    /// Publishes `event` about `regarding`; a failure is logged, not returned (an event is
    /// informative, nothing waits on it).
    ///
    /// Every event is an Event object of its own. kube's `Recorder` deduplicates on type,
    /// reason, action and object but not on the note: with one shared recorder, the second
    /// `ScaledUp` of a VA only bumped the series of the first, and `kubectl get events` kept
    /// showing "Scaled up from 1 to 2" after the 2 -> 3 scale-up. WVA publishes events on
    /// changes only, so nothing repeats often enough to need a series.
    pub async fn publish(&self, regarding: &ObjectReference, event: Event) {
        let reason = event.reason.as_str();
        let published = events::Event {
            type_: event.reason.event_type(),
            reason: reason.into(),
            note: Some(event.note),
            action: ACTION.into(),
            secondary: None,
        };
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        if let Err(error) = recorder.publish(&published, regarding).await {
            tracing::warn!(%error, reason, "Could not publish event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Api;

    /// Two events that differ only in their note are two Events, each with its note.
    #[tokio::test]
    async fn every_scaling_event_keeps_its_own_note() {
        let double = wva_kube_double::KubeDouble::start().await;
        let client = double.client();
        let events = Events::new(client.clone(), None);
        let reference = ObjectReference {
            api_version: Some("llmd.ai/v1alpha1".into()),
            kind: Some("VariantAutoscaling".into()),
            namespace: Some("default".into()),
            name: Some("llama-8b".into()),
            ..ObjectReference::default()
        };
        for note in [
            "Scaled up from 1 to 2 replicas",
            "Scaled up from 2 to 3 replicas",
        ] {
            events
                .publish(&reference, Event::new(Reason::ScaledUp, note))
                .await;
        }
        let published: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(client, "default");
        let mut notes: Vec<String> = published
            .list(&Default::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter_map(|e| e.note)
            .collect();
        notes.sort();
        assert_eq!(
            notes,
            [
                "Scaled up from 1 to 2 replicas",
                "Scaled up from 2 to 3 replicas"
            ]
        );
    }
}
