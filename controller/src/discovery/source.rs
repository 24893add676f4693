//! The objects discovery reads: HPAs (`autoscaling/v2`) and KEDA ScaledObjects
//! (`keda.sh/v1alpha1`), each read into one [`Source`] so the rest of discovery does not care
//! which kind it came from.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{ApiResource, DynamicObject, ObjectMeta};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The kind of an annotated object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// `autoscaling/v2` HorizontalPodAutoscaler.
    Hpa,
    /// `keda.sh/v1alpha1` ScaledObject.
    ScaledObject,
}

impl SourceKind {
    /// The object's `kind`.
    pub fn kind(self) -> &'static str {
        match self {
            SourceKind::Hpa => "HorizontalPodAutoscaler",
            SourceKind::ScaledObject => "ScaledObject",
        }
    }

    /// The object's `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            SourceKind::Hpa => "autoscaling/v2",
            SourceKind::ScaledObject => "keda.sh/v1alpha1",
        }
    }

    /// The field holding the lower bound of replicas.
    pub fn min_field(self) -> &'static str {
        match self {
            SourceKind::Hpa => "spec.minReplicas",
            SourceKind::ScaledObject => "spec.minReplicaCount",
        }
    }

    /// The field holding the upper bound of replicas.
    pub fn max_field(self) -> &'static str {
        match self {
            SourceKind::Hpa => "spec.maxReplicas",
            SourceKind::ScaledObject => "spec.maxReplicaCount",
        }
    }

    /// The lower bound when the object sets none: 1 for an HPA, 0 for a ScaledObject.
    pub fn default_min(self) -> i64 {
        match self {
            SourceKind::Hpa => 1,
            SourceKind::ScaledObject => 0,
        }
    }

    /// The upper bound when the object sets none (an HPA always sets one; KEDA's default is
    /// 100).
    pub fn default_max(self) -> i64 {
        100
    }
}

/// The KEDA ScaledObject resource.
pub fn scaled_object_resource() -> ApiResource {
    ApiResource {
        group: "keda.sh".into(),
        version: "v1alpha1".into(),
        api_version: "keda.sh/v1alpha1".into(),
        kind: "ScaledObject".into(),
        plural: "scaledobjects".into(),
    }
}

/// The name of the ScaledObject CRD.
pub const SCALED_OBJECT_CRD: &str = "scaledobjects.keda.sh";

/// An autoscaler's `spec.scaleTargetRef` as written (its kind may be one WVA cannot scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    /// `apiVersion` (`apps/v1` when absent).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// An HPA or ScaledObject as discovery reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Its kind.
    pub kind: SourceKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name (also the name of the variant it becomes).
    pub name: String,
    /// Its UID, for events.
    pub uid: Option<String>,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// Its labels (the controller-instance label scopes it like a VA).
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// `spec.scaleTargetRef`; `None` when it names no target.
    pub target: Option<TargetRef>,
    /// The lower bound of replicas as written (`None`: not set).
    pub min_replicas: Option<i64>,
    /// The upper bound of replicas as written (`None`: not set).
    pub max_replicas: Option<i64>,
    /// An HPA that KEDA created for a ScaledObject (owned by one): the ScaledObject is the
    /// source, not it.
    pub owned_by_scaled_object: bool,
}

impl Source {
    /// Reads an HPA.
    pub fn from_hpa(hpa: &HorizontalPodAutoscaler) -> Source {
        let meta = &hpa.metadata;
        let spec = hpa.spec.as_ref();
        Source {
            target: spec
                .map(|s| &s.scale_target_ref)
                .filter(|r| !r.name.is_empty())
                .map(|r| TargetRef {
                    api_version: r
                        .api_version
                        .clone()
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "apps/v1".into()),
                    kind: r.kind.clone(),
                    name: r.name.clone(),
                }),
            min_replicas: spec.and_then(|s| s.min_replicas).map(i64::from),
            max_replicas: spec.map(|s| i64::from(s.max_replicas)),
            owned_by_scaled_object: meta
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "ScaledObject" && o.api_version.starts_with("keda.sh/")),
            ..Source::of_metadata(SourceKind::Hpa, meta)
        }
    }

    /// What every kind has: identity, labels and annotations; no target or bounds yet.
    fn of_metadata(kind: SourceKind, meta: &ObjectMeta) -> Source {
        Source {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
            generation: meta.generation,
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            target: None,
            min_replicas: None,
            max_replicas: None,
            owned_by_scaled_object: false,
        }
    }

    /// Reads a ScaledObject (`spec.scaleTargetRef.kind` defaults to Deployment, its
    /// `apiVersion` to `apps/v1`, as in KEDA).
    pub fn from_scaled_object(object: &DynamicObject) -> Source {
        let meta = &object.metadata;
        let spec = object.data.get("spec");
        let text = |pointer: &str| {
            spec.and_then(|s| s.pointer(pointer))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Source {
            target: text("/scaleTargetRef/name").map(|name| TargetRef {
                api_version: text("/scaleTargetRef/apiVersion").unwrap_or_else(|| "apps/v1".into()),
                kind: text("/scaleTargetRef/kind").unwrap_or_else(|| "Deployment".into()),
                name,
            }),
            min_replicas: spec
                .and_then(|s| s.get("minReplicaCount"))
                .and_then(Value::as_i64),
            max_replicas: spec
                .and_then(|s| s.get("maxReplicaCount"))
                .and_then(Value::as_i64),
            ..Source::of_metadata(SourceKind::ScaledObject, meta)
        }
    }

    /// Its identity: kind, namespace and name.
    pub fn key(&self) -> SourceKey {
        SourceKey {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// A reference to it, for events.
    pub fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some(self.kind.api_version().into()),
            kind: Some(self.kind.kind().into()),
            namespace: Some(self.namespace.clone()),
            name: Some(self.name.clone()),
            uid: self.uid.clone(),
            ..ObjectReference::default()
        }
    }
}

/// The identity of an annotated object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceKey {
    /// Its kind.
    pub kind: SourceKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl fmt::Display for SourceKey {
    /// `HorizontalPodAutoscaler llm-d/llama`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.kind(), self.namespace, self.name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A source in `llm-d` with `annotations`, scaling Deployment `target`, without bounds.
    pub(crate) fn sample(
        kind: SourceKind,
        name: &str,
        target: &str,
        annotations: &[(&str, &str)],
    ) -> Source {
        Source {
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            target: Some(TargetRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: target.into(),
            }),
            ..Source::of_metadata(
                kind,
                &ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some("llm-d".into()),
                    ..ObjectMeta::default()
                },
            )
        }
    }

    #[test]
    fn an_hpa_and_a_scaled_object_read_alike_with_their_defaults() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "llama", "namespace": "llm-d", "uid": "u1",
                         "annotations": {"llm-d.ai/managed": "true"}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-8b"},
                     "maxReplicas": 8}
        }))
        .expect("hpa");
        let source = Source::from_hpa(&hpa);
        assert_eq!(
            source.key().to_string(),
            "HorizontalPodAutoscaler llm-d/llama"
        );
        assert_eq!(
            source.target.as_ref().map(|t| t.name.as_str()),
            Some("llama-8b")
        );
        assert_eq!((source.min_replicas, source.max_replicas), (None, Some(8)));
        assert!(!source.owned_by_scaled_object);
        let reference = source.reference();
        assert_eq!(reference.kind.as_deref(), Some("HorizontalPodAutoscaler"));
        assert_eq!(reference.api_version.as_deref(), Some("autoscaling/v2"));
        assert_eq!(reference.uid.as_deref(), Some("u1"));

        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "chat", "namespace": "llm-d"},
            "spec": {"scaleTargetRef": {"name": "chat-a100"}, "minReplicaCount": 1, "triggers": []}
        }))
        .expect("scaled object");
        let source = Source::from_scaled_object(&object);
        let target = source.target.expect("target");
        assert_eq!(
            (
                target.api_version.as_str(),
                target.kind.as_str(),
                target.name.as_str()
            ),
            ("apps/v1", "Deployment", "chat-a100")
        );
        assert_eq!((source.min_replicas, source.max_replicas), (Some(1), None));
    }

    #[test]
    fn an_hpa_keda_made_for_a_scaled_object_is_marked() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "keda-hpa-chat", "namespace": "llm-d",
                         "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "chat", "uid": "x"}]},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "chat"}, "maxReplicas": 8}
        }))
        .expect("hpa");
        assert!(Source::from_hpa(&hpa).owned_by_scaled_object);
    }
}
