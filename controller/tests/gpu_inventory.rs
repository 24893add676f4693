//! The limited-mode GPU inventory against the Kubernetes API double: Node and Pod watches feed
//! the caches, the inventory follows pod completions and cordons, and computing it makes no
//! API call. Without limited mode no Node or Pod watch starts.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::CustomResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use wva_api::crd::VariantAutoscaling;
use wva_controller::k8s::caches::{self, Caches, GpuInventory};
use wva_controller::scope::Scope;
use wva_kube_double::KubeDouble;

fn gpu_node(name: &str, product: &str, gpus: u32) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": product}},
        "spec": {},
        "status": {
            "allocatable": {"cpu": "96", "nvidia.com/gpu": gpus.to_string()},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    })
}

fn gpu_pod(name: &str, node: Option<&str>, gpus: u32) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "llm"},
        "spec": {"containers": [{
            "name": "vllm",
            "image": "vllm/vllm-openai",
            "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}
        }]}
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    pod
}

fn set_phase(api: &KubeDouble, pod: &str, phase: &str) {
    api.set_status("pods", "llm", pod, json!({"phase": phase}))
        .expect("pod status");
}

/// Starts the watches and drives every stream in the background.
async fn watch(api: &KubeDouble, inventory: GpuInventory) -> Caches {
    let (caches, streams) = caches::watch(
        &api.client(),
        &Scope::new(None, None),
        "wva-system",
        inventory,
    );
    tokio::spawn(streams.vas.for_each(|_| async {}));
    tokio::spawn(streams.deployments.for_each(|_| async {}));
    tokio::spawn(streams.stateful_sets.for_each(|_| async {}));
    tokio::spawn(streams.leader_worker_sets.for_each(|_| async {}));
    tokio::spawn(streams.config_maps.for_each(|_| async {}));
    tokio::spawn(streams.others.for_each(|_| async {}));
    tokio::time::timeout(Duration::from_secs(30), caches.wait_until_ready())
        .await
        .expect("caches sync within 30s")
        .expect("caches sync");
    caches
}

fn free(caches: &Caches) -> BTreeMap<String, u32> {
    caches
        .gpus
        .as_ref()
        .expect("limited mode has GPU caches")
        .inventory()
        .free_gpus()
}

/// Waits until the free GPUs are `expected` (the watch delivers asynchronously).
async fn eventually(caches: &Caches, expected: &[(&str, u32)]) {
    let expected: BTreeMap<String, u32> =
        expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = free(caches);
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "free GPUs {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn double() -> KubeDouble {
    let api = KubeDouble::start().await;
    let crd = serde_json::to_value(VariantAutoscaling::crd()).expect("CRD as JSON");
    api.create(crd).expect("CRD");
    api.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}}))
        .expect("namespace");
    api
}

#[tokio::test]
async fn limited_mode_counts_free_gpus_from_node_and_pod_caches() {
    let api = double().await;
    for node in [
        gpu_node("gpu-a", "NVIDIA-H100-80GB-HBM3", 8),
        gpu_node("gpu-b", "NVIDIA-H100-80GB-HBM3", 8),
        gpu_node("gpu-c", "NVIDIA-A100-SXM4-80GB", 4),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cpu-1"},
               "status": {"allocatable": {"cpu": "32"}}}),
    ] {
        api.create(node).expect("node");
    }
    for (name, node, gpus) in [
        ("llama-0", Some("gpu-a"), 4),
        ("llama-1", Some("gpu-b"), 1),
        ("batch", Some("gpu-a"), 2),
        ("waiting", None, 8),
    ] {
        api.create(gpu_pod(name, node, gpus)).expect("pod");
    }
    set_phase(&api, "llama-0", "Running");
    set_phase(&api, "batch", "Succeeded");

    let caches = watch(&api, GpuInventory::Watch).await;
    // 2 H100 nodes of 8 with 5 GPUs held (the finished batch pod holds none); A100 untouched.
    eventually(&caches, &[("A100", 4), ("H100", 11)]).await;
    let gpus = caches.gpus.as_ref().expect("GPU caches");
    let cached: Vec<String> = gpus
        .pods
        .state()
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(!cached.contains(&"batch".to_string()), "{cached:?}");

    // Computing the inventory reads the caches only.
    let before = api.request_counts();
    let inventory = gpus.inventory();
    // (The open watches may reconnect meanwhile; that is not the inventory's doing.)
    let delta = api.request_counts().since(&before);
    assert_eq!(delta.verb("get") + delta.verb("list"), 0, "{delta:?}");
    assert_eq!(
        inventory.to_string(),
        "A100: 4 free of 4 (0 used, 1 node); H100: 11 free of 16 (5 used, 2 nodes)"
    );

    // A pod that finishes frees its GPUs; a cordoned node offers none.
    set_phase(&api, "llama-0", "Succeeded");
    eventually(&caches, &[("A100", 4), ("H100", 15)]).await;
    Api::<Node>::all(api.client())
        .patch(
            "gpu-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    eventually(&caches, &[("A100", 4), ("H100", 8)]).await;
    api.create(gpu_pod("llama-2", Some("gpu-c"), 4))
        .expect("pod");
    eventually(&caches, &[("A100", 0), ("H100", 8)]).await;
}

#[tokio::test]
async fn without_limited_mode_no_node_or_pod_watch_starts() {
    let api = double().await;
    api.create(gpu_node("gpu-a", "NVIDIA-H100-80GB-HBM3", 8))
        .expect("node");
    let off = watch(&api, GpuInventory::Off).await;
    assert!(off.gpus.is_none());
    let counts = api.request_counts();
    assert_eq!(
        counts.get("list", "nodes") + counts.get("watch", "nodes"),
        0
    );
    // Only the pod metadata watch every mode uses.
    assert_eq!(counts.get("list", "pods"), 1);

    api.reset_request_counts();
    let _on = watch(&api, GpuInventory::Watch).await;
    let counts = api.request_counts();
    assert_eq!(counts.get("list", "nodes"), 1);
    assert_eq!(counts.get("list", "pods"), 2);
}
