//! The kinds the double serves: built-in table, CRD registration, discovery documents.

use serde_json::{Value, json};
use std::sync::Arc;

/// Every verb of an ordinary CRUD resource, as discovery lists them.
const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One served resource type (one plural in one group), possibly at several versions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResourceType {
    pub group: String,
    /// Served versions, the first is the preferred one.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Has a `status` subresource.
    pub status: bool,
    /// Has a `scale` subresource.
    pub scale: bool,
    /// `metadata.generation` is maintained.
    pub generation: bool,
    pub short_names: Vec<String>,
    pub verbs: Vec<String>,
    /// Registered through a CustomResourceDefinition.
    pub crd: bool,
    /// The storage version's `openAPIV3Schema` (CRDs only): its defaults are applied.
    pub schema: Option<Arc<Value>>,
}

impl ResourceType {
    /// `apiVersion` for a version of this type.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The storage key (group, plural).
    pub fn key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }

    /// `plural.group` (or just `plural` for the core group), as Kubernetes names resources in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn discovery_entries(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs,
            "shortNames": self.short_names,
        })];
        if self.status {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if self.scale {
            out.push(json!({
                "name": format!("{}/scale", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }
}

/// The built-in kinds a WVA controller and its tests use.
pub(crate) fn builtins() -> Vec<ResourceType> {
    // group, version, plural, singular, kind, namespaced, status, scale, generation, short names
    #[allow(clippy::type_complexity)]
    let table: &[(
        &str,
        &str,
        &str,
        &str,
        &str,
        bool,
        bool,
        bool,
        bool,
        &[&str],
    )] = &[
        (
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            true,
            false,
            false,
            &["ns"],
        ),
        (
            "",
            "v1",
            "pods",
            "pod",
            "Pod",
            true,
            true,
            false,
            true,
            &["po"],
        ),
        (
            "",
            "v1",
            "configmaps",
            "configmap",
            "ConfigMap",
            true,
            false,
            false,
            false,
            &["cm"],
        ),
        (
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            true,
            false,
            false,
            false,
            &[],
        ),
        (
            "",
            "v1",
            "services",
            "service",
            "Service",
            true,
            true,
            false,
            false,
            &["svc"],
        ),
        (
            "",
            "v1",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
            false,
            false,
            false,
            &["sa"],
        ),
        (
            "",
            "v1",
            "events",
            "event",
            "Event",
            true,
            false,
            false,
            false,
            &["ev"],
        ),
        (
            "",
            "v1",
            "nodes",
            "node",
            "Node",
            false,
            true,
            false,
            false,
            &["no"],
        ),
        (
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
            true,
            true,
            true,
            &["deploy"],
        ),
        (
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
            true,
            true,
            true,
            &["rs"],
        ),
        (
            "apps",
            "v1",
            "statefulsets",
            "statefulset",
            "StatefulSet",
            true,
            true,
            true,
            true,
            &["sts"],
        ),
        (
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
            true,
            false,
            true,
            &["hpa"],
        ),
        (
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            true,
            false,
            false,
            false,
            &["ev"],
        ),
        (
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            true,
            false,
            false,
            false,
            &[],
        ),
        (
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
            true,
            false,
            true,
            &["crd", "crds"],
        ),
    ];
    let mut out: Vec<ResourceType> = table
        .iter()
        .map(
            |&(
                group,
                version,
                plural,
                singular,
                kind,
                namespaced,
                status,
                scale,
                generation,
                short,
            )| ResourceType {
                group: group.into(),
                versions: vec![version.into()],
                plural: plural.into(),
                singular: singular.into(),
                kind: kind.into(),
                namespaced,
                status,
                scale,
                generation,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                verbs: CRUD.iter().map(|s| s.to_string()).collect(),
                crd: false,
                schema: None,
            },
        )
        .collect();
    for (group, plural, kind) in [
        ("authentication.k8s.io", "tokenreviews", "TokenReview"),
        (
            "authorization.k8s.io",
            "subjectaccessreviews",
            "SubjectAccessReview",
        ),
    ] {
        out.push(ResourceType {
            group: group.into(),
            versions: vec!["v1".into()],
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced: false,
            status: false,
            scale: false,
            generation: false,
            short_names: vec![],
            verbs: vec!["create".into()],
            crd: false,
            schema: None,
        });
    }
    out
}

/// Reads a CustomResourceDefinition (JSON) into the type it serves.
pub(crate) fn from_crd(crd: &Value) -> Result<ResourceType, String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let s = |v: Option<&Value>, what: &str| -> Result<String, String> {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("{what}: Required value"))
    };
    let group = s(spec.get("group"), "spec.group")?;
    let names = spec.get("names").ok_or("spec.names: Required value")?;
    let plural = s(names.get("plural"), "spec.names.plural")?;
    let kind = s(names.get("kind"), "spec.names.kind")?;
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let short_names = names
        .get("shortNames")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let expected = format!("{plural}.{group}");
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != expected {
        return Err(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group ({expected})"
        ));
    }
    let namespaced = match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
            ));
        }
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("spec.versions: Required value")?;
    let mut served = Vec::new();
    let (mut status, mut scale) = (false, false);
    let mut schema = None;
    // The storage version goes first (it is the preferred one in discovery).
    for v in versions {
        let vname = s(v.get("name"), "spec.versions[].name")?;
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        status |= v.pointer("/subresources/status").is_some();
        scale |= v.pointer("/subresources/scale").is_some();
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            schema = v.pointer("/schema/openAPIV3Schema").cloned();
            served.insert(0, vname);
        } else {
            served.push(vname);
        }
    }
    if served.is_empty() {
        return Err("spec.versions: Invalid value: must have at least one served version".into());
    }
    Ok(ResourceType {
        group,
        versions: served,
        plural,
        singular,
        kind,
        namespaced,
        status,
        scale,
        generation: true,
        short_names,
        verbs: CRUD.iter().map(|s| s.to_string()).collect(),
        crd: true,
        schema: schema.map(Arc::new),
    })
}

/// `/api` document.
pub(crate) fn core_versions(addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
    })
}

fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        let entry = match out.iter_mut().position(|(g, _)| *g == t.group) {
            Some(i) => &mut out[i].1,
            None => {
                out.push((t.group.clone(), Vec::new()));
                &mut out.last_mut().expect("just pushed").1
            }
        };
        for v in &t.versions {
            if !entry.contains(v) {
                entry.push(v.clone());
            }
        }
    }
    out
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": vs,
        "preferredVersion": vs[0],
    })
}

/// `/apis` document.
pub(crate) fn group_list(types: &[ResourceType]) -> Value {
    let gs: Vec<Value> = groups(types).iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

/// `/apis/{group}` document.
pub(crate) fn group(types: &[ResourceType], group: &str) -> Option<Value> {
    groups(types)
        .iter()
        .find(|(g, _)| g == group)
        .map(|(g, v)| {
            let mut doc = group_doc(g, v);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            doc
        })
}

/// `/api/v1` or `/apis/{group}/{version}` document, `None` when that group/version is not served.
pub(crate) fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.versions.iter().any(|v| v == version))
        .collect();
    if served.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = served.iter().flat_map(|t| t.discovery_entries()).collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

/// Applies the `default`s of a structural schema to the fields an object lacks (as the API server
/// does for custom resources); defaults apply only where the parent object exists.
pub(crate) fn apply_defaults(obj: &mut Value, schema: &Value) {
    defaults_at(obj, schema, true);
}

fn defaults_at(obj: &mut Value, schema: &Value, top: bool) {
    match obj {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, prop) in props {
                    if top && matches!(k.as_str(), "metadata" | "apiVersion" | "kind") {
                        continue;
                    }
                    if !m.contains_key(k)
                        && let Some(d) = prop.get("default")
                    {
                        m.insert(k.clone(), d.clone());
                    }
                    if let Some(child) = m.get_mut(k) {
                        defaults_at(child, prop, false);
                    }
                }
            }
            if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for v in m.values_mut() {
                    defaults_at(v, extra, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for v in items {
                    defaults_at(v, item_schema, false);
                }
            }
        }
        _ => {}
    }
}

/// What the API server does to a custom resource before storing it: prunes fields the structural
/// schema does not declare, applies defaults, then checks `required` fields.
pub(crate) fn normalize(obj: &mut Value, schema: &Value) -> Result<(), String> {
    prune(obj, schema, true);
    apply_defaults(obj, schema);
    let mut errors = Vec::new();
    required(obj, schema, "", &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("[{}]", errors.join(", ")))
    }
}

fn preserves(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
        || schema.get("additionalProperties") == Some(&json!(true))
}

fn prune(obj: &mut Value, schema: &Value, top: bool) {
    match obj {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            if let Some(extra) = extra {
                for v in m.values_mut() {
                    prune(v, extra, false);
                }
                return;
            }
            if let Some(props) = props {
                m.retain(|k, _| {
                    props.contains_key(k)
                        || preserves(schema)
                        || (top && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                });
                for (k, v) in m.iter_mut() {
                    if let Some(p) = props.get(k)
                        && !(top && k == "metadata")
                    {
                        prune(v, p, false);
                    }
                }
            } else if !preserves(schema) && schema.get("type") == Some(&json!("object")) {
                m.clear();
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for v in items {
                    prune(v, item_schema, false);
                }
            }
        }
        _ => {}
    }
}

fn required(obj: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    match obj {
        Value::Object(m) => {
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if m.get(r).is_none_or(Value::is_null) {
                    errors.push(format!(
                        "{path}{}{r}: Required value",
                        if path.is_empty() { "" } else { "." }
                    ));
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in m {
                    if let Some(p) = props.get(k) {
                        let child = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        required(v, p, &child, errors);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    required(v, item_schema, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_declared_preserved_and_free_form_fields() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                "any": {"type": "object", "additionalProperties": true},
                "closed": {"type": "object"},
                "list": {"type": "array", "items": {"type": "object", "required": ["k"], "properties": {"k": {"type": "string", "default": "d"}}}}
            }}
        }});
        let mut obj = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n", "anything": 1},
            "spec": {"a": "x", "b": "gone", "free": {"y": 1}, "map": {"m": {"x": 1, "z": 2}},
                     "any": {"q": [1]}, "closed": {"w": 1}, "list": [{"j": 1}]},
            "junk": 1});
        normalize(&mut obj, &schema).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n", "anything": 1},
            "spec": {"a": "x", "free": {"y": 1}, "map": {"m": {"x": 1}}, "any": {"q": [1]}, "closed": {},
                     "list": [{"k": "d"}]}})
        );
        let mut missing = json!({"spec": {"list": [{}]}});
        let strict = json!({"properties": {"spec": {"required": ["a"], "properties": {"a": {}}}}});
        assert_eq!(
            normalize(&mut missing, &strict).unwrap_err(),
            "[spec.a: Required value]"
        );
    }
}
