//! The VariantAutoscaling CRD: identity, schema rules an API server enforces, and defaults.

use kube::CustomResourceExt;
use serde_json::Value;
use wva_api::crd::{VariantAutoscaling, VariantAutoscalingStatus};

fn crd() -> Value {
    serde_json::to_value(VariantAutoscaling::crd()).expect("serializes")
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn identity_matches_the_spec() {
    let crd = crd();
    assert_eq!(crd["metadata"]["name"], "variantautoscalings.llmd.ai");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(
        crd["spec"]["names"]["shortNames"],
        serde_json::json!(["va"])
    );
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Kind",
            "Target",
            "Model",
            "Optimized",
            "MetricsReady",
            "Ready",
            "Age"
        ]
    );
}

/// Walks every schema node: structural schemas need a type everywhere, no $ref, no
/// anyOf/oneOf carrying types, and a description on every property.
fn check_structural(path: &str, node: &Value, problems: &mut Vec<String>) {
    let Some(object) = node.as_object() else {
        return;
    };
    if !object.contains_key("type") && !object.contains_key("x-kubernetes-int-or-string") {
        problems.push(format!("{path}: no type"));
    }
    for forbidden in ["$ref", "anyOf", "oneOf", "allOf", "definitions", "$schema"] {
        if object.contains_key(forbidden) {
            problems.push(format!("{path}: {forbidden}"));
        }
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            if !path.is_empty() && child.get("description").is_none() {
                problems.push(format!(
                    "{path}.{name}: no description (kubectl explain shows nothing)"
                ));
            }
            check_structural(&format!("{path}.{name}"), child, problems);
        }
    }
    if let Some(items) = object.get("items") {
        check_structural(&format!("{path}[]"), items, problems);
    }
}

#[test]
fn schema_is_structural_and_every_field_is_described() {
    let mut problems = Vec::new();
    check_structural("", &schema(), &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn spec_validation_and_defaults() {
    let spec = &schema()["properties"]["spec"];
    assert_eq!(
        spec["required"],
        serde_json::json!(["modelID", "scaleTargetRef"])
    );
    assert_eq!(spec["properties"]["modelID"]["minLength"], 1);
    assert_eq!(
        spec["properties"]["variantCost"]["pattern"],
        r"^\d+(\.\d+)?$"
    );
    assert_eq!(spec["properties"]["variantCost"]["default"], "10.0");
    assert_eq!(
        spec["properties"]["scaleTargetRef"]["properties"]["apiVersion"]["default"],
        "apps/v1"
    );
    let target = &spec["properties"]["scaleTargetRef"];
    assert_eq!(target["required"], serde_json::json!(["name"]));
    assert_eq!(target["properties"]["kind"]["default"], "Deployment");
    assert_eq!(
        target["properties"]["kind"]["enum"],
        serde_json::json!(["Deployment", "StatefulSet", "LeaderWorkerSet"])
    );
    let rule = &target["x-kubernetes-validations"][0];
    assert!(
        rule["message"]
            .as_str()
            .is_some_and(|m| m.contains("leaderworkerset.x-k8s.io/v1 for a LeaderWorkerSet")),
        "{rule}"
    );
    assert_eq!(spec["properties"]["minReplicas"]["minimum"], 0.0);
    assert_eq!(spec["properties"]["maxReplicas"]["minimum"], 1.0);
    assert!(
        spec["properties"]["minReplicas"].get("nullable").is_none(),
        "null would break the CEL rule"
    );
    let rule = &spec["x-kubernetes-validations"][0];
    assert_eq!(
        rule["rule"],
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
    );
    assert_eq!(
        rule["message"],
        "minReplicas must be less than or equal to maxReplicas"
    );
}

#[test]
fn conditions_are_a_list_map_keyed_by_type_and_alloc_may_be_empty() {
    let status = &schema()["properties"]["status"]["properties"];
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        status["conditions"]["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
    assert!(status["desiredOptimizedAlloc"].get("required").is_none());
    assert_eq!(
        status["desiredOptimizedAlloc"]["properties"]["numReplicas"]["minimum"],
        0.0
    );
    let cleared = VariantAutoscalingStatus::default();
    assert_eq!(
        serde_json::to_value(&cleared).expect("serializes")["desiredOptimizedAlloc"],
        serde_json::json!({})
    );
}

#[test]
fn a_minimal_va_reads_with_its_defaults() {
    let yaml = "apiVersion: llmd.ai/v1alpha1\nkind: VariantAutoscaling\nmetadata:\n  name: llama-8b-autoscaler\n  namespace: llm-inference\nspec:\n  scaleTargetRef:\n    kind: Deployment\n    name: llama-8b\n  modelID: meta/llama-3.1-8b\n";
    let va: VariantAutoscaling = serde_saphyr::from_str(yaml).expect("parses");
    assert_eq!(va.spec.variant_cost, "10.0");
    assert_eq!(va.spec.scale_target_ref.api_version, "apps/v1");
    assert_eq!(va.spec.min_replicas, None);
}
