//! The scale targets beyond Deployments, made as their controllers would make them: a
//! StatefulSet (the controller-manager makes its pods on a real cluster; on the double the
//! scenario does), and a LeaderWorkerSet with its CRD and its group pods (no LWS controller
//! runs anywhere, so the scenario creates the leader and worker pods with the LWS labels and
//! owner reference, and writes the LWS status in groups).

use crate::harness::{Cluster, DEADLINE, NODE, running_pods};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;
use wva_controller::target::LeaderWorkerSet;
use wva_controller::target::lws::{CRD_NAME, GROUP_INDEX_LABEL, NAME_LABEL, WORKER_INDEX_LABEL};

/// The `app` label of the leader pods of LWS `name` (the fleet emulates them by it).
pub fn leaders(name: &str) -> String {
    format!("{name}-leader")
}

/// The `app` label of the worker pods of LWS `name`.
pub fn workers(name: &str) -> String {
    format!("{name}-worker")
}

/// Creates a VA in the scenario's namespace for the `kind` (of `api_version`) named `target`.
pub async fn create_va(
    cluster: &Cluster,
    name: &str,
    (api_version, kind): (&str, &str),
    target: &str,
    model: &str,
) {
    let va: VariantAutoscaling = serde_json::from_value(json!({
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {"name": name, "namespace": cluster.namespace,
                     "labels": {"inference.optimization/acceleratorName": "H100"}},
        "spec": {"scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
                 "modelID": model, "variantCost": "10.0"}
    }))
    .expect("va");
    Api::<VariantAutoscaling>::namespaced(cluster.client.clone(), &cluster.namespace)
        .create(&PostParams::default(), &va)
        .await
        .expect("VA created");
}

/// The `spec.replicas` of StatefulSet `name`.
pub async fn stateful_set_replicas(cluster: &Cluster, name: &str) -> Option<i32> {
    Api::<StatefulSet>::namespaced(cluster.client.clone(), &cluster.namespace)
        .get(name)
        .await
        .ok()?
        .spec?
        .replicas
}

/// Creates StatefulSet `name` with `replicas` pods (label `app=<name>`) and waits until they
/// run and it reports them ready.
pub async fn create_stateful_set(cluster: &Cluster, name: &str, replicas: usize) {
    let ns = &cluster.namespace;
    let set: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}}
        }
    }))
    .expect("StatefulSet");
    let api: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), ns);
    api.create(&PostParams::default(), &set)
        .await
        .expect("StatefulSet created");
    if cluster.double.is_some() {
        // The StatefulSet controller's part: pods <name>-0 .. and the status.
        for i in 0..replicas {
            let pod = format!("{name}-{i}");
            create_running_pod(cluster, &pod, json!({"app": name}), None).await;
        }
        let status = json!({"status": {"replicas": replicas, "readyReplicas": replicas,
                                       "currentReplicas": replicas, "updatedReplicas": replicas}});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .expect("StatefulSet status");
    }
    let start = Instant::now();
    loop {
        // A status at 0 leaves out `readyReplicas`.
        let ready = api
            .get(name)
            .await
            .ok()
            .and_then(|s| s.status)
            .map(|s| s.ready_replicas.unwrap_or(0));
        let pods = running_pods(&cluster.client, ns, name).await;
        if ready == Some(i32::try_from(replicas).unwrap_or(0)) && pods.len() == replicas {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "StatefulSet {ns}/{name} did not get {replicas} ready pods: ready {ready:?}, running {pods:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A pod named `name` with `labels`, owned by `owner` (an owner reference), Running and
/// Ready: on a real cluster the scheduler and the kubelet do that, on the double the scenario.
async fn create_running_pod(cluster: &Cluster, name: &str, labels: Value, owner: Option<Value>) {
    let ns = &cluster.namespace;
    let mut metadata = json!({"name": name, "namespace": ns, "labels": labels});
    if let Some(owner) = owner {
        metadata["ownerReferences"] = json!([owner]);
    }
    let mut spec = json!({"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]});
    if cluster.double.is_some() {
        spec["nodeName"] = json!(NODE);
    }
    let pod: Pod =
        serde_json::from_value(json!({"metadata": metadata, "spec": spec})).expect("pod");
    Api::<Pod>::namespaced(cluster.client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("Pod created");
    if let Some(double) = &cluster.double {
        let running =
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        double
            .set_status("pods", ns, name, running)
            .expect("Pod status");
    }
}

/// The LeaderWorkerSet CRD, as small as the API server accepts: every field preserved, the
/// status and scale subresources of the real one.
fn lws_crd() -> CustomResourceDefinition {
    serde_json::from_value(wva_testkit::open_crd(
        "leaderworkerset.x-k8s.io",
        "v1",
        "LeaderWorkerSet",
        "leaderworkersets",
        true,
    ))
    .expect("CRD")
}

/// The LWS CRD on the cluster, deleted on drop (only this scenario uses it).
pub struct LwsCrd {
    api: Api<CustomResourceDefinition>,
}

impl LwsCrd {
    /// Makes sure the CRD is not installed (a previous run may have left it), so the scenario
    /// can install it while the controller runs.
    pub async fn absent(cluster: &Cluster) {
        let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
        drop(api.delete(CRD_NAME, &DeleteParams::default()).await);
        let start = Instant::now();
        while api.get_opt(CRD_NAME).await.ok().flatten().is_some() {
            assert!(start.elapsed() < DEADLINE, "CRD {CRD_NAME} not deleted");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Installs the CRD and waits until LeaderWorkerSets can be listed.
    pub async fn install(cluster: &Cluster) -> LwsCrd {
        let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
        api.create(&PostParams::default(), &lws_crd())
            .await
            .expect("CRD created");
        let sets: Api<LeaderWorkerSet> =
            Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let start = Instant::now();
        while sets.list(&Default::default()).await.is_err() {
            assert!(start.elapsed() < DEADLINE, "CRD {CRD_NAME} not served");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        LwsCrd { api }
    }
}

impl Drop for LwsCrd {
    fn drop(&mut self) {
        let api = self.api.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(
                async move { drop(api.delete(CRD_NAME, &DeleteParams::default()).await) },
            );
        });
        drop(deleted.join());
    }
}

/// Creates LWS `name` of `groups` groups of `size` pods, then the group pods as the LWS
/// controller would (leader `<name>-<g>` with worker index 0, workers `<name>-<g>-<w>`, all
/// with the LWS labels and owned by the LWS; leaders labelled `app=<name>-leader`, workers
/// `app=<name>-worker`), and writes its status: `groups` groups, all ready.
pub async fn create_lws(cluster: &Cluster, name: &str, groups: usize, size: usize) {
    let ns = &cluster.namespace;
    let template = json!({"spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}});
    let lws: LeaderWorkerSet = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": groups, "leaderWorkerTemplate": {"size": size, "workerTemplate": template}}
    }))
    .expect("LWS");
    let api: Api<LeaderWorkerSet> = Api::namespaced(cluster.client.clone(), ns);
    let mut object = serde_json::to_value(&lws).expect("LWS as JSON");
    object["apiVersion"] = json!("leaderworkerset.x-k8s.io/v1");
    object["kind"] = json!("LeaderWorkerSet");
    let created = api
        .patch(name, &PatchParams::apply("wva-e2e"), &Patch::Apply(object))
        .await
        .expect("LWS created");
    let owner = json!({
        "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
        "name": name, "uid": created.metadata.uid, "controller": true
    });
    for group in 0..groups {
        for worker in 0..size {
            let (pod, app) = match worker {
                0 => (format!("{name}-{group}"), leaders(name)),
                _ => (format!("{name}-{group}-{worker}"), workers(name)),
            };
            let labels = json!({
                "app": app,
                NAME_LABEL: name,
                GROUP_INDEX_LABEL: group.to_string(),
                WORKER_INDEX_LABEL: worker.to_string(),
            });
            create_running_pod(cluster, &pod, labels, Some(owner.clone())).await;
        }
    }
    let status = json!({"status": {"replicas": groups, "readyReplicas": groups}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("LWS status");
}
