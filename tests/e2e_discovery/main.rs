//! End-to-end scenarios of VA-less discovery (`WVA_DISCOVERY`): HPAs annotated
//! `llm-d.ai/managed: "true"` become variants named after them. The real `wva` binary runs
//! against a Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real
//! Prometheus scraping emulated vLLM pods; the scenarios assert what a user sees:
//! `/metrics`, events on the HPA, the log.
//!
//! On a real cluster the HPA controller acts on the scenarios' HPAs too. Their metric,
//! `wva_desired_replicas` as an external metric, is not served to it (nothing scrapes these
//! controllers for the metrics adapter), so it keeps the Deployments within the HPAs' bounds
//! and changes nothing else; the scenarios start each Deployment inside them.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e_decisions/ops.rs"]
mod ops;

use harness::{Cluster, Fleet, Wva};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams, PostParams};
use ops::{desired_replicas, log_lines};
use serde_json::{Value, json};

const MODEL: &str = "meta/llama-3.1-8b";

/// Creates HPA `name` for Deployment `target` with replicas `min` to `max`, `annotations`
/// (a JSON object) and the accelerator label, reading `wva_desired_replicas` of its variant
/// as the chart's HPA does.
async fn create_hpa(
    cluster: &Cluster,
    name: &str,
    target: &str,
    (min, max): (i32, i32),
    annotations: Value,
) {
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name,
            "namespace": cluster.namespace,
            "labels": {"inference.optimization/acceleratorName": "H100"},
            "annotations": annotations,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min,
            "maxReplicas": max,
            "metrics": [{
                "type": "External",
                "external": {
                    "metric": {"name": "wva_desired_replicas", "selector": {"matchLabels": {"variant_name": name}}},
                    "target": {"type": "AverageValue", "averageValue": "1"}
                }
            }]
        }
    }))
    .expect("hpa");
    Api::<HorizontalPodAutoscaler>::namespaced(cluster.client.clone(), &cluster.namespace)
        .create(&PostParams::default(), &hpa)
        .await
        .expect("HPA created");
}

/// The annotations that make an HPA a variant of [`MODEL`], with `cost` when given.
fn managed(cost: Option<&str>) -> Value {
    let mut annotations = json!({"llm-d.ai/managed": "true", "llm-d.ai/model-id": MODEL});
    if let Some(cost) = cost {
        annotations["llm-d.ai/variant-cost"] = json!(cost);
    }
    annotations
}

/// The value of `wva_discovery_skipped_total` for an HPA and a reason, if the series exists.
fn skipped(metrics: &str, namespace: &str, name: &str, reason: &str) -> Option<f64> {
    let series = format!(
        "wva_discovery_skipped_total{{kind=\"HorizontalPodAutoscaler\",name=\"{name}\",namespace=\"{namespace}\",reason=\"{reason}\"}} "
    );
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
}

/// `WVA_DISCOVERY=annotations`: an annotated HPA with no VA is managed. Its variant, named
/// after it, is announced by a `VariantDiscovered` event on the HPA and published as
/// `wva_desired_replicas`; under saturation the desired replicas rise and the `ScaledUp`
/// event lands on the HPA. No VA is created or needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annotated_hpa_without_a_va_is_managed_and_scales_up() {
    let cluster = Cluster::start("discovery").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["llama-8b"], 0.10, 0.0);
    cluster.create_deployment("llama-8b", &["llama-8b-0"]).await;
    fleet.synced().await;
    create_hpa(&cluster, "llama-hpa", "llama-8b", (1, 4), managed(None)).await;
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[("WVA_DISCOVERY", "annotations")],
    );
    let series = format!(
        r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="llama-hpa"}} 1"#
    );
    wva.wait_metrics("wva_desired_replicas of the HPA's variant at 1", |m| {
        m.contains(&series)
    })
    .await;
    let event = cluster
        .wait_event(
            "VariantDiscovered",
            "llama-hpa",
            "Managed by WVA as variant \"llama-hpa\"",
        )
        .await;
    assert_eq!(event.type_, "Normal");
    assert_eq!(
        event.note,
        format!(
            "Managed by WVA as variant \"llama-hpa\" of model \"{MODEL}\" (cost 10.0, replicas 1 to 4, target Deployment llama-8b); its decisions are published as wva_desired_replicas{{variant_name=\"llama-hpa\",namespace=\"{ns}\"}}"
        )
    );

    fleet.set_load(0.95, 10.0).await;
    let ns2 = ns.clone();
    wva.wait_metrics("the HPA's variant scaled up to 2", move |m| {
        desired_replicas(m, &ns2, "llama-hpa") == Some(2.0)
    })
    .await;
    let scaled = cluster
        .wait_event("ScaledUp", "llama-hpa", "Scaled up from 1 to 2 replicas")
        .await;
    assert_eq!(scaled.type_, "Normal");
    if let Some(double) = &cluster.double {
        let counts = double.request_counts();
        let reads = |resource: &str| counts.get("list", resource) + counts.get("watch", resource);
        assert_eq!(
            reads("variantautoscalings"),
            0,
            "annotations mode never reads VAs: {counts:?}"
        );
        assert!(reads("horizontalpodautoscalers") > 0, "{counts:?}");
    }
    let vas = cluster
        .vas()
        .list(&Default::default())
        .await
        .expect("VAs listed");
    assert!(vas.items.is_empty(), "no VA: {:?}", vas.items);
    let events = cluster.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason == "VariantDiscovered")
            .count(),
        1,
        "announced once: {events:#?}"
    );
    assert!(
        !wva.log().contains("VariantAutoscaling CRD"),
        "{}",
        wva.log()
    );
}

/// `WVA_DISCOVERY=both`: a VA and an annotated HPA on one Deployment — the VA wins, and a
/// `DiscoveryConflict` warning on the HPA names it; an HPA whose cost annotation is "abc"
/// gets an `InvalidAnnotation` warning naming the annotation, the value and the fix, and is
/// skipped until the annotation is fixed. Each skip is counted once and logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_va_wins_a_conflict_and_a_bad_cost_is_warned_until_fixed() {
    let cluster = Cluster::start("discovery-both").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["chat", "code"], 0.10, 0.0);
    cluster.create_deployment("chat", &["chat-0"]).await;
    cluster.create_deployment("code", &["code-0"]).await;
    fleet.synced().await;
    cluster
        .create_va("chat-va", "chat", MODEL, "10.0", "H100")
        .await;
    create_hpa(&cluster, "chat-hpa", "chat", (1, 4), managed(None)).await;
    create_hpa(&cluster, "code-hpa", "code", (1, 4), managed(Some("abc"))).await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[("WVA_DISCOVERY", "both")]);

    let conflict = cluster
        .wait_event("DiscoveryConflict", "chat-hpa", "Not managed by WVA")
        .await;
    assert_eq!(conflict.type_, "Warning");
    assert_eq!(
        conflict.note,
        format!(
            "Not managed by WVA: VariantAutoscaling {ns}/chat-va also scales Deployment chat; the VA wins; remove the llm-d.ai/managed annotation from this object or delete the VA"
        )
    );
    let invalid = cluster
        .wait_event("InvalidAnnotation", "code-hpa", "Not managed by WVA")
        .await;
    assert_eq!(invalid.type_, "Warning");
    assert_eq!(
        invalid.note,
        "Not managed by WVA: annotation llm-d.ai/variant-cost is \"abc\": not a number ≥ 0; set it to the cost of one replica, such as \"10.0\", or remove it for the default 10.0"
    );
    let ns2 = ns.clone();
    let metrics = wva
        .wait_metrics("the VA's variant published", move |m| {
            desired_replicas(m, &ns2, "chat-va") == Some(1.0)
        })
        .await;
    wva.wait_cycles(2).await;
    let metrics = [metrics, wva.metrics()].concat();
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-hpa"),
        None,
        "{metrics}"
    );
    assert_eq!(
        desired_replicas(&metrics, &ns, "code-hpa"),
        None,
        "{metrics}"
    );
    let latest = wva.metrics();
    assert_eq!(
        skipped(&latest, &ns, "chat-hpa", "DiscoveryConflict"),
        Some(1.0),
        "{latest}"
    );
    assert_eq!(
        skipped(&latest, &ns, "code-hpa", "InvalidAnnotation"),
        Some(1.0),
        "{latest}"
    );
    assert_eq!(
        log_lines(&wva, &["DiscoveryConflict", "chat-hpa"]).len(),
        1,
        "warned once over several cycles:\n{}",
        wva.log()
    );
    let events = cluster.events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.object == "code-hpa" && e.reason == "InvalidAnnotation")
            .count(),
        1,
        "{events:#?}"
    );

    if let Some(double) = &cluster.double {
        let counts = double.request_counts();
        assert!(
            counts.get("watch", "variantautoscalings") > 0,
            "both modes read VAs: {counts:?}"
        );
    }

    // Fixing the annotation makes the HPA a variant.
    Api::<HorizontalPodAutoscaler>::namespaced(cluster.client.clone(), &ns)
        .patch(
            "code-hpa",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"llm-d.ai/variant-cost": "5"}}})),
        )
        .await
        .expect("HPA patched");
    let ns2 = ns.clone();
    wva.wait_metrics("the fixed HPA's variant published", move |m| {
        desired_replicas(m, &ns2, "code-hpa") == Some(1.0)
    })
    .await;
    cluster
        .wait_event(
            "VariantDiscovered",
            "code-hpa",
            &format!("Managed by WVA as variant \"code-hpa\" of model \"{MODEL}\" (cost 5,"),
        )
        .await;
}

/// KEDA's ScaledObject CRD, as far as discovery needs it (a real KEDA's CRD has the full
/// schema).
fn scaled_object_crd() -> Value {
    wva_testkit::open_crd(
        "keda.sh",
        "v1alpha1",
        "ScaledObject",
        "scaledobjects",
        false,
    )
}

/// `WVA_DISCOVERY=annotations` with KEDA's CRD installed after the controller started (when
/// the cluster does not have it yet): the annotated ScaledObject is picked up without a
/// restart and managed with its own bounds. On a real cluster the CRD is deleted again when
/// this scenario created it (no KEDA runs there, so nothing acts on the ScaledObject).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_object_is_managed_once_the_keda_crd_is_installed() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DeleteParams, DynamicObject};
    let cluster = Cluster::start("discovery-keda").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["chat"], 0.10, 0.0);
    cluster.create_deployment("chat", &["chat-0"]).await;
    fleet.synced().await;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    let installed = crds
        .get_opt("scaledobjects.keda.sh")
        .await
        .expect("CRD lookup")
        .is_some();
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[("WVA_DISCOVERY", "annotations")],
    );
    if !installed {
        wva.wait_log("ScaledObjects are watched as soon as it is")
            .await;
        let crd: CustomResourceDefinition =
            serde_json::from_value(scaled_object_crd()).expect("CRD");
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    let resource = ApiResource {
        group: "keda.sh".into(),
        version: "v1alpha1".into(),
        api_version: "keda.sh/v1alpha1".into(),
        kind: "ScaledObject".into(),
        plural: "scaledobjects".into(),
    };
    let scaled_object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "chat-so",
            "namespace": ns,
            "labels": {"inference.optimization/acceleratorName": "H100"},
            "annotations": managed(Some("4.5")),
        },
        "spec": {"scaleTargetRef": {"name": "chat"}, "minReplicaCount": 1, "maxReplicaCount": 3, "triggers": []}
    }))
    .expect("ScaledObject");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &ns, &resource);
    let start = std::time::Instant::now();
    // A new CRD is served a moment after it is created.
    while let Err(error) = api.create(&PostParams::default(), &scaled_object).await {
        assert!(
            start.elapsed() < harness::DEADLINE,
            "ScaledObject not created: {error}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ns2 = ns.clone();
    wva.wait_metrics(
        "wva_desired_replicas of the ScaledObject's variant",
        move |m| desired_replicas(m, &ns2, "chat-so") == Some(1.0),
    )
    .await;
    cluster
        .wait_event(
            "VariantDiscovered",
            "chat-so",
            &format!(
                "Managed by WVA as variant \"chat-so\" of model \"{MODEL}\" (cost 4.5, replicas 1 to 3, target Deployment chat)"
            ),
        )
        .await;
    if !installed {
        wva.wait_log("Discovery: watching KEDA ScaledObjects").await;
        if cluster.is_real() {
            crds.delete("scaledobjects.keda.sh", &DeleteParams::default())
                .await
                .expect("CRD deleted");
        }
    }
}
