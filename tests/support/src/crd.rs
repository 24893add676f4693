//! Minimal CustomResourceDefinitions for the tests: a kind whose objects keep whatever fields
//! they are given, enough for the API double and a real API server to serve it.

use serde_json::{Value, json};

/// A namespaced CRD named `<plural>.<group>` serving `kind` at `group/version` without a
/// schema (unknown fields preserved); with `scalable`, also the `status` and `scale`
/// subresources (`.spec.replicas`, `.status.replicas`).
pub fn open_crd(group: &str, version: &str, kind: &str, plural: &str, scalable: bool) -> Value {
    let mut served = json!({
        "name": version, "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    });
    if scalable {
        served["subresources"] = json!({
            "status": {},
            "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
        });
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": {"plural": plural, "kind": kind, "singular": kind.to_lowercase()},
            "scope": "Namespaced",
            "versions": [served]
        }
    })
}
