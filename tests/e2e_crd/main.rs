//! The generated VariantAutoscaling CRD as a real kube-apiserver serves it: the CEL rule
//! rejects `minReplicas > maxReplicas`, the pattern rejects a bad `variantCost`, defaults are
//! applied, the printer columns show in `kubectl get va` (Table output), and the OpenAPI v3
//! schema describes the spec fields (what `kubectl explain va.spec` prints).
//!
//! Only a real API server validates CEL rules and patterns and serves Tables and OpenAPI, so on
//! the API double (no `WVA_E2E_KUBECONFIG`) the scenario says why and passes without checks.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

use harness::Cluster;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};
use wva_api::crd::VariantAutoscaling;

/// A VA named `name` with `spec` (JSON), as `kubectl apply` would send it.
fn va(cluster: &Cluster, name: &str, spec: Value) -> VariantAutoscaling {
    serde_json::from_value(json!({
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": cluster.namespace},
        "spec": spec,
    }))
    .expect("VA")
}

/// The API server's answer to creating VA `name` with `spec`: the created object, or the
/// status message.
async fn create(cluster: &Cluster, name: &str, spec: Value) -> Result<VariantAutoscaling, String> {
    cluster
        .vas()
        .create(&PostParams::default(), &va(cluster, name, spec))
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) => {
                format!("{} {}: {}", status.code, status.reason, status.message)
            }
            other => other.to_string(),
        })
}

/// [`create`], with the spec sent exactly as given (no typed defaults filled in by the client).
async fn create_raw(cluster: &Cluster, name: &str, spec: Value) -> Result<(), String> {
    let resource = ApiResource::erase::<VariantAutoscaling>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &resource);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": cluster.namespace},
        "spec": spec,
    }))
    .expect("VA");
    api.create(&PostParams::default(), &object)
        .await
        .map(drop)
        .map_err(|e| match e {
            kube::Error::Api(status) => {
                format!("{} {}: {}", status.code, status.reason, status.message)
            }
            other => other.to_string(),
        })
}

/// GETs `path` with `accept` as the Accept header; returns the JSON body.
async fn get_json(cluster: &Cluster, path: &str, accept: &'static str) -> Value {
    let mut request = kube::core::Request::new(path)
        .list(&ListParams::default())
        .expect("request");
    request
        .headers_mut()
        .insert("accept", accept.parse().expect("header value"));
    let text = cluster
        .client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_validation_defaults_printer_columns_and_schema_on_a_real_api_server() {
    let cluster = Cluster::start("crd").await;
    if !cluster.is_real() {
        eprintln!(
            "skipped: the API double implements no CEL rules, patterns, Table output or OpenAPI \
             (set WVA_E2E_KUBECONFIG to a real cluster; tests/run.sh does with ../shared/k8s)"
        );
        return;
    }
    let target = json!({"kind": "Deployment", "name": "llama-8b"});

    // The CEL rule on spec.
    let error = create(
        &cluster,
        "inverted",
        json!({"scaleTargetRef": target, "modelID": "m", "minReplicas": 3, "maxReplicas": 1}),
    )
    .await
    .expect_err("minReplicas > maxReplicas is rejected");
    assert!(error.starts_with("422 Invalid"), "{error}");
    assert!(
        error.contains("minReplicas must be less than or equal to maxReplicas"),
        "{error}"
    );

    // The target kinds, and the apiVersion each needs.
    let error = create_raw(
        &cluster,
        "bad-kind",
        json!({"scaleTargetRef": {"kind": "ReplicaSet", "name": "x"}, "modelID": "m"}),
    )
    .await
    .expect_err("a kind WVA cannot scale is rejected");
    assert!(error.contains("spec.scaleTargetRef.kind"), "{error}");
    assert!(error.contains("\"LeaderWorkerSet\""), "{error}");
    let error = create_raw(
        &cluster,
        "lws-apps",
        json!({"scaleTargetRef": {"kind": "LeaderWorkerSet", "name": "x"}, "modelID": "m"}),
    )
    .await
    .expect_err("a LeaderWorkerSet under apps/v1 (the default) is rejected");
    assert!(
        error.contains("leaderworkerset.x-k8s.io/v1 for a LeaderWorkerSet"),
        "{error}"
    );
    let lws = json!({"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "x"});
    create(
        &cluster,
        "lws",
        json!({"scaleTargetRef": lws, "modelID": "m"}),
    )
    .await
    .expect("a LeaderWorkerSet with its apiVersion is accepted");

    // The pattern on variantCost.
    let error = create(
        &cluster,
        "bad-cost",
        json!({"scaleTargetRef": target, "modelID": "m", "variantCost": "cheap"}),
    )
    .await
    .expect_err("a variantCost that is no decimal number is rejected");
    assert!(error.starts_with("422 Invalid"), "{error}");
    assert!(error.contains("spec.variantCost"), "{error}");
    assert!(error.contains(r"should match '^\d+(\.\d+)?$'"), "{error}");

    // Equal bounds pass the rule; defaults fill what the user left out.
    let spec = json!({
        "scaleTargetRef": target,
        "modelID": "meta/llama-3.1-8b",
        "minReplicas": 2,
        "maxReplicas": 2,
    });
    create(&cluster, "llama-8b-autoscaler", spec)
        .await
        .expect("a valid VA is accepted");
    let path = format!(
        "/apis/llmd.ai/v1alpha1/namespaces/{}/variantautoscalings",
        cluster.namespace
    );
    let stored = get_json(
        &cluster,
        &format!("{path}/llama-8b-autoscaler"),
        "application/json",
    )
    .await;
    assert_eq!(stored["spec"]["variantCost"], "10.0", "{stored}");
    let defaulted = create_raw(
        &cluster,
        "no-kind",
        json!({"scaleTargetRef": {"name": "llama-8b"}, "modelID": "m"}),
    )
    .await;
    assert!(defaulted.is_ok(), "{defaulted:?}");
    let no_kind = get_json(&cluster, &format!("{path}/no-kind"), "application/json").await;
    assert_eq!(
        no_kind["spec"]["scaleTargetRef"]["kind"], "Deployment",
        "{no_kind}"
    );
    assert_eq!(
        stored["spec"]["scaleTargetRef"]["apiVersion"], "apps/v1",
        "{stored}"
    );

    // `kubectl get va`: the Table has the printer columns, and the row shows the VA.
    let table = get_json(
        &cluster,
        &path,
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    .await;
    assert_eq!(table["kind"], "Table", "{table}");
    // The Table's columns: the name, then the CRD's printer columns.
    let crd: Value = serde_saphyr::from_str(&wva_api::render::crd_yaml().expect("CRD renders"))
        .expect("CRD YAML");
    let names = |columns: &Value| -> Vec<Value> {
        columns
            .as_array()
            .map(|c| c.iter().map(|column| column["name"].clone()).collect())
            .unwrap_or_default()
    };
    let mut expected = vec![json!("Name")];
    expected.extend(names(
        &crd["spec"]["versions"][0]["additionalPrinterColumns"],
    ));
    assert!(expected.contains(&json!("Optimized")), "{expected:?}");
    assert_eq!(names(&table["columnDefinitions"]), expected, "{table}");
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "llama-8b-autoscaler", "{table}");
    assert_eq!(cells[1], "Deployment", "{table}");
    assert_eq!(cells[2], "llama-8b", "{table}");
    assert_eq!(cells[3], "meta/llama-3.1-8b", "{table}");

    // `kubectl explain va.spec`: the published OpenAPI v3 schema describes the spec fields.
    let openapi = get_json(
        &cluster,
        "/openapi/v3/apis/llmd.ai/v1alpha1",
        "application/json",
    )
    .await;
    let schema = &openapi["components"]["schemas"]["ai.llmd.v1alpha1.VariantAutoscaling"];
    let spec = &schema["properties"]["spec"];
    assert!(
        spec["description"].as_str().is_some_and(|d| !d.is_empty()),
        "spec has a description: {spec}"
    );
    for field in [
        "scaleTargetRef",
        "modelID",
        "variantCost",
        "minReplicas",
        "maxReplicas",
    ] {
        let description = spec["properties"][field]["description"].as_str();
        assert!(
            description.is_some_and(|d| !d.is_empty()),
            "spec.{field} is described: {}",
            spec["properties"][field]
        );
    }
    assert_eq!(
        spec["properties"]["maxReplicas"]["description"],
        "Upper bound on the desired replicas of this variant.",
        "{spec}"
    );
    assert_eq!(
        spec["properties"]["scaleTargetRef"]["properties"]["name"]["description"],
        "Name of the target in the VA's namespace.",
        "{spec}"
    );
}
