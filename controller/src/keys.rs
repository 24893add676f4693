//! Typed keys of the objects the controller tracks: kube's [`ObjectRef`], built in one place
//! per source (an object, a VA's scale target, an engine decision), and shown as
//! `namespace/name` in logs and messages.

use crate::target::TargetRef;
use kube::runtime::reflector::{Lookup, ObjectRef};
use std::fmt;
use wva_api::crd::VariantAutoscaling;
use wva_engine::Decision;

/// The key of a VariantAutoscaling.
pub type VaRef = ObjectRef<VariantAutoscaling>;

/// The key of an object (its namespace and name).
pub fn of<K: Lookup<DynamicType = ()>>(object: &K) -> ObjectRef<K> {
    ObjectRef::from_obj(object)
}

/// The key of the workload a VA scales (`spec.scaleTargetRef` in the VA's namespace).
pub fn target(va: &VariantAutoscaling) -> TargetRef {
    TargetRef::of_va(va)
}

/// The key of the VA an engine decision is for.
pub fn decided(decision: &Decision) -> VaRef {
    ObjectRef::new(&decision.variant).within(&decision.namespace)
}

/// The namespace of a key (empty for a cluster-scoped object).
pub fn namespace<K: Lookup>(key: &ObjectRef<K>) -> &str {
    key.namespace.as_deref().unwrap_or_default()
}

/// Shows a key as `namespace/name` (`name` alone when it has no namespace).
pub fn display<K: Lookup>(key: &ObjectRef<K>) -> impl fmt::Display + '_ {
    Slashed(key)
}

struct Slashed<'a, K: Lookup>(&'a ObjectRef<K>);

impl<K: Lookup> fmt::Display for Slashed<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.0.name),
            None => f.write_str(&self.0.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

    #[test]
    fn keys_show_as_namespace_slash_name() {
        let cm: ObjectRef<ConfigMap> = ObjectRef::new("wva-config").within("wva-system");
        assert_eq!(display(&cm).to_string(), "wva-system/wva-config");
        assert_eq!(namespace(&cm), "wva-system");
        let ns: ObjectRef<Namespace> = ObjectRef::new("team");
        assert_eq!(display(&ns).to_string(), "team");
    }

    #[test]
    fn a_vas_target_lives_in_its_namespace() {
        let va: VariantAutoscaling = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "v", "namespace": "n"},
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "d"}, "modelID": "m"}
        }))
        .expect("va");
        let target = target(&va);
        assert_eq!(
            (target.kind, target.namespace.as_str(), target.name.as_str()),
            (crate::target::ScaleTargetKind::StatefulSet, "n", "d")
        );
        assert_eq!(of(&va), ObjectRef::new("v").within("n"));
    }
}
