//! The end-to-end harness: a Kubernetes API (the in-memory double, or the real cluster named
//! by `WVA_E2E_KUBECONFIG`), a real Prometheus scraping vLLM emulators, and the real `wva`
//! binary as a process. Everything goes through a kube client, so scenarios run unchanged
//! against both.
//!
//! On a real cluster the harness creates no pods and writes no workload status: the
//! Deployment's ReplicaSet creates the pods and the kubelet (on `../shared/k8s`, a fake one)
//! makes them Ready, so a kube-controller-manager must run. On the double, which runs no
//! controllers, the harness plays their part: it creates the pods under the names the scenario
//! gives, marks them Running and writes the Deployment's status. Either way the [`Fleet`]
//! follows the Deployment's pods by label selector and emulates one vLLM replica per pod.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;
use wva_kube_double::KubeDouble;
use wva_testkit::{Prometheus, VllmPods};

/// How long a wait may take before the scenario fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The node pods run on: the fake kubelet's on a real cluster, registered by the harness on
/// the double.
pub const NODE: &str = "fake-node-1";

/// The node label limited mode reads the GPU product from.
const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";

/// The Kubernetes API under test.
pub struct Cluster {
    /// The double, when no real cluster was given.
    pub double: Option<KubeDouble>,
    /// A kubeconfig file for the `wva` process.
    pub kubeconfig: PathBuf,
    /// A client for the scenario.
    pub client: Client,
    /// A namespace unique to this scenario.
    pub namespace: String,
    /// Every namespace the scenario created (deleted on drop on a real cluster).
    namespaces: Mutex<Vec<String>>,
    /// Holds the kubeconfig of the double.
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Connects to `WVA_E2E_KUBECONFIG`, or starts a double; registers the CRD and creates a
    /// namespace unique to the scenario.
    pub async fn start(scenario: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let (double, kubeconfig) = match std::env::var("WVA_E2E_KUBECONFIG") {
            Ok(path) if !path.is_empty() => (None, PathBuf::from(path)),
            _ => {
                let double = KubeDouble::start().await;
                let path = dir.path().join("kubeconfig");
                double.write_kubeconfig(&path).expect("kubeconfig");
                (Some(double), path)
            }
        };
        let client = client_for(&kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("kube client: {e}"));
        let cluster = Cluster {
            double,
            kubeconfig,
            client,
            namespace: unique_name(scenario),
            namespaces: Mutex::default(),
            _dir: dir,
        };
        cluster.apply_crd().await;
        cluster.create_namespace(&cluster.namespace).await;
        cluster
    }

    async fn apply_crd(&self) {
        let crd: Value = serde_saphyr::from_str(&wva_api::render::crd_yaml().expect("CRD renders"))
            .expect("crd yaml");
        let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(self.client.clone());
        let params = PatchParams::apply("wva-e2e").force();
        api.patch("variantautoscalings.llmd.ai", &params, &Patch::Apply(crd))
            .await
            .expect("CRD applies");
    }

    /// True on a real API server (with its controller-manager), false on the double.
    pub fn is_real(&self) -> bool {
        self.double.is_none()
    }

    /// Creates a namespace (ignores one that exists); it is deleted with the cluster.
    pub async fn create_namespace(&self, name: &str) {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        let _ = Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await;
        self.track_namespace(name);
    }

    /// Deletes namespace `name` with the cluster (a real cluster keeps it when `WVA_E2E_KEEP=1`).
    pub fn track_namespace(&self, name: &str) {
        if let Ok(mut names) = self.namespaces.lock() {
            names.push(name.to_string());
        }
    }

    /// Creates a VA for `deployment` serving `model`, labelled with its accelerator.
    pub async fn create_va(
        &self,
        name: &str,
        deployment: &str,
        model: &str,
        cost: &str,
        accelerator: &str,
    ) {
        let labels = json!({"inference.optimization/acceleratorName": accelerator});
        self.create_va_in(&self.namespace, name, deployment, model, cost, labels)
            .await;
    }

    /// Creates a VA in `namespace` for `deployment` serving `model`, with `labels` (a JSON
    /// object).
    pub async fn create_va_in(
        &self,
        namespace: &str,
        name: &str,
        deployment: &str,
        model: &str,
        cost: &str,
        labels: Value,
    ) {
        let va: VariantAutoscaling = serde_json::from_value(json!({
            "apiVersion": "llmd.ai/v1alpha1",
            "kind": "VariantAutoscaling",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": deployment}, "modelID": model, "variantCost": cost}
        }))
        .expect("va");
        Api::<VariantAutoscaling>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &va)
            .await
            .expect("VA created");
    }

    /// Creates a Deployment with `pods.len()` replicas and waits until they are ready. On the
    /// double the pods get the names `pods`; on a real cluster their ReplicaSet names them.
    pub async fn create_deployment(&self, name: &str, pods: &[&str]) {
        self.create_deployment_in(&self.namespace, name, pods).await;
    }

    /// [`Cluster::create_deployment`] in `namespace`.
    pub async fn create_deployment_in(&self, namespace: &str, name: &str, pods: &[&str]) {
        self.create_labelled_deployment_in(namespace, name, pods, &[])
            .await;
    }

    /// [`Cluster::create_deployment`] whose pod template (and so its pods) also carries the
    /// `labels`, e.g. `llm-d.ai/role: prefill`.
    pub async fn create_labelled_deployment(
        &self,
        name: &str,
        pods: &[&str],
        labels: &[(&str, &str)],
    ) {
        self.create_labelled_deployment_in(&self.namespace, name, pods, labels)
            .await;
    }

    async fn create_labelled_deployment_in(
        &self,
        namespace: &str,
        name: &str,
        pods: &[&str],
        labels: &[(&str, &str)],
    ) {
        let mut template_labels = json!({"app": name});
        for (key, value) in labels {
            template_labels[*key] = json!(value);
        }
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": pods.len(),
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": template_labels}, "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}}
            }
        }))
        .expect("deployment");
        Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &deployment)
            .await
            .expect("Deployment created");
        self.roll_out(namespace, name, pods).await;
    }

    /// Creates a Deployment whose pods request `gpus` GPUs each, with `pods.len()` replicas,
    /// and waits until they are ready (see [`Cluster::create_deployment`]).
    pub async fn create_gpu_deployment(&self, name: &str, pods: &[&str], gpus: u32) {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "replicas": pods.len(),
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                    "name": "vllm", "image": "vllm/vllm-openai",
                    "resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"nvidia.com/gpu": gpus}}
                }]}}
            }
        }))
        .expect("deployment");
        Api::<Deployment>::namespaced(self.client.clone(), &self.namespace)
            .create(&PostParams::default(), &deployment)
            .await
            .expect("Deployment created");
        self.roll_out(&self.namespace, name, pods).await;
    }

    /// Gives the node the GPU product label `product` (limited mode counts only labelled
    /// nodes). On the double it first registers the node, Ready with 64 GPUs like the fake
    /// kubelet's; on a real cluster it labels the fake kubelet's node. [`Cluster::unlabel_gpu_node`]
    /// removes the label.
    pub async fn label_gpu_node(&self, product: &str) {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        if let Some(double) = &self.double {
            let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}});
            drop(double.create(node));
            let status = json!({
                "capacity": {"nvidia.com/gpu": "64"},
                "allocatable": {"nvidia.com/gpu": "64"},
                "conditions": [{"type": "Ready", "status": "True"}]
            });
            double
                .set_status("nodes", "", NODE, status)
                .expect("Node status");
        }
        let labels = json!({"metadata": {"labels": {GPU_PRODUCT_LABEL: product}}});
        nodes
            .patch(NODE, &PatchParams::default(), &Patch::Merge(labels))
            .await
            .expect("Node labelled");
    }

    /// Removes the GPU product label [`Cluster::label_gpu_node`] set.
    pub async fn unlabel_gpu_node(&self) {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let labels = json!({"metadata": {"labels": {GPU_PRODUCT_LABEL: null}}});
        drop(
            nodes
                .patch(NODE, &PatchParams::default(), &Patch::Merge(labels))
                .await,
        );
    }

    /// Scales the Deployment as an HPA would, to `pods.len()` replicas, and waits until they
    /// are ready (on the double: exactly the pods `pods`).
    pub async fn scale_deployment(&self, name: &str, pods: &[&str]) {
        let replicas = i64::try_from(pods.len()).unwrap_or(0);
        Api::<Deployment>::namespaced(self.client.clone(), &self.namespace)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("Deployment scaled");
        self.roll_out(&self.namespace, name, pods).await;
    }

    /// Waits until the Deployment has `pods.len()` ready replicas. On a real cluster the
    /// controller-manager and the kubelet do the work; on the double the harness does it.
    async fn roll_out(&self, namespace: &str, name: &str, pods: &[&str]) {
        match &self.double {
            Some(double) => self.roll_out_on_double(double, namespace, name, pods).await,
            None => self.wait_rolled_out(namespace, name, pods.len()).await,
        }
    }

    /// Waits until Deployment `name` reports `replicas` ready replicas of the current template
    /// and exactly `replicas` running, non-terminating pods carry its label.
    pub async fn wait_rolled_out(&self, namespace: &str, name: &str, replicas: usize) {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let start = Instant::now();
        loop {
            let deployment = deployments.get_opt(name).await.ok().flatten();
            let status = deployment.as_ref().and_then(|d| d.status.clone());
            let count = |n: Option<i32>| usize::try_from(n.unwrap_or(0)).unwrap_or(0);
            let ready = status.as_ref().is_some_and(|s| {
                count(s.ready_replicas) == replicas
                    && count(s.updated_replicas) == replicas
                    && count(s.replicas) == replicas
            });
            let pods = running_pods(&self.client, namespace, name).await;
            if ready && pods.len() == replicas {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "Deployment {namespace}/{name} did not get {replicas} ready replicas (is \
                 kube-controller-manager running, and a kubelet?); status: {status:?}; running \
                 pods: {pods:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The double's stand-in for the Deployment controller and the kubelet: the pods are
    /// exactly `pods`, Running, and the Deployment reports them ready.
    async fn roll_out_on_double(
        &self,
        double: &KubeDouble,
        namespace: &str,
        name: &str,
        pods: &[&str],
    ) {
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let existing = pod_api
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .expect("pods listed");
        for pod in existing.items {
            let pod_name = pod.metadata.name.unwrap_or_default();
            if !pods.contains(&pod_name.as_str()) {
                pod_api
                    .delete(&pod_name, &DeleteParams::default())
                    .await
                    .expect("pod deleted");
            }
        }
        // Pods as the ReplicaSet would make them from the template (its labels and spec),
        // bound to the node.
        let template = Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .get(name)
            .await
            .expect("Deployment")
            .spec
            .map(|s| s.template);
        let labels = template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_else(|| [("app".to_string(), name.to_string())].into());
        let mut spec = serde_json::to_value(template.and_then(|t| t.spec)).expect("pod spec");
        spec["nodeName"] = json!(NODE);
        for pod in pods {
            if pod_api.get_opt(pod).await.expect("pod lookup").is_none() {
                let object: Pod = serde_json::from_value(json!({
                    "metadata": {"name": pod, "namespace": namespace, "labels": labels},
                    "spec": spec
                }))
                .expect("pod");
                pod_api
                    .create(&PostParams::default(), &object)
                    .await
                    .expect("Pod created");
                let running = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
                double
                    .set_status("pods", namespace, pod, running)
                    .expect("Pod status");
            }
        }
        let replicas = i64::try_from(pods.len()).unwrap_or(0);
        let status = json!({"status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas}});
        Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .expect("Deployment status");
    }

    /// Deletes a Deployment and waits until it and its pods are gone (on a real cluster the
    /// garbage collector deletes the ReplicaSet and the pods).
    pub async fn delete_deployment(&self, name: &str) {
        self.delete_deployment_in(&self.namespace, name).await;
    }

    /// [`Cluster::delete_deployment`] in `namespace`.
    pub async fn delete_deployment_in(&self, namespace: &str, name: &str) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        api.delete(name, &DeleteParams::foreground())
            .await
            .expect("Deployment deleted");
        if self.double.is_some() {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            let selector = ListParams::default().labels(&format!("app={name}"));
            pods.delete_collection(&DeleteParams::default(), &selector)
                .await
                .expect("pods deleted");
        }
        let start = Instant::now();
        while api.get_opt(name).await.ok().flatten().is_some()
            || !running_pods(&self.client, namespace, name).await.is_empty()
        {
            assert!(
                start.elapsed() < DEADLINE,
                "Deployment {namespace}/{name} or its pods still exist after deletion"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Events of the scenario's namespace, oldest first.
    pub async fn events(&self) -> Vec<Event> {
        self.events_in(&self.namespace).await
    }

    /// Events of `namespace`, oldest first.
    pub async fn events_in(&self, namespace: &str) -> Vec<Event> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), namespace);
        let mut events = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        events.sort_by_key(|e| e.event_time.clone().map(|t| t.0));
        events
            .into_iter()
            .map(|e| Event {
                type_: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                object: e.regarding.and_then(|r| r.name).unwrap_or_default(),
                note: e.note.unwrap_or_default(),
            })
            .collect()
    }

    /// Waits until an event with `reason` about `object` whose note starts with `note`
    /// exists in the scenario's namespace; returns it.
    pub async fn wait_event(&self, reason: &str, object: &str, note: &str) -> Event {
        let start = Instant::now();
        loop {
            let events = self.events().await;
            if let Some(event) = events
                .iter()
                .find(|e| e.reason == reason && e.object == object && e.note.starts_with(note))
            {
                return event.clone();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for event {reason} on {object} starting with {note:?}; events: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The VA API of the scenario's namespace.
    pub fn vas(&self) -> Api<VariantAutoscaling> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Waits until `check` accepts the VA, failing with `what` and the last VA seen.
    pub async fn wait_va(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&VariantAutoscaling) -> bool,
    ) -> VariantAutoscaling {
        self.wait_va_in(&self.namespace, name, what, check).await
    }

    /// [`Cluster::wait_va`] for VA `name` in `namespace`.
    pub async fn wait_va_in(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        check: impl Fn(&VariantAutoscaling) -> bool,
    ) -> VariantAutoscaling {
        let api: Api<VariantAutoscaling> = Api::namespaced(self.client.clone(), namespace);
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < DEADLINE {
            if let Ok(va) = api.get(name).await {
                if check(&va) {
                    return va;
                }
                last = Some(va);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("timed out waiting for VA {namespace}/{name}: {what}; last seen: {last:#?}");
    }
}

impl Drop for Cluster {
    /// On a real cluster, deletes the scenario's namespaces (and so everything in them) unless
    /// `WVA_E2E_KEEP=1`. The double goes away by itself.
    fn drop(&mut self) {
        let names = self
            .namespaces
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default();
        if self.double.is_some() || names.is_empty() {
            return;
        }
        if std::env::var("WVA_E2E_KEEP").is_ok_and(|v| v == "1") {
            eprintln!("WVA_E2E_KEEP=1: keeping namespaces {names:?}");
            return;
        }
        // A fresh client on a runtime of its own: the scenario's runtime may be shutting down.
        let kubeconfig = self.kubeconfig.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let client = client_for(&kubeconfig).await?;
                let api: Api<Namespace> = Api::all(client);
                for name in &names {
                    if let Err(error) = api.delete(name, &DeleteParams::background()).await {
                        eprintln!("namespace {name} not deleted: {error}");
                    }
                }
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(error)) = deleted {
            eprintln!("namespaces not deleted: {error}");
        }
    }
}

/// A kube client for the cluster of `kubeconfig`.
pub async fn client_for(kubeconfig: &std::path::Path) -> Result<Client, String> {
    let text = std::fs::read_to_string(kubeconfig)
        .map_err(|e| format!("read {}: {e}", kubeconfig.display()))?;
    let kc: kube::config::Kubeconfig = serde_saphyr::from_str(&text)
        .map_err(|e| format!("parse {}: {e}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| format!("kubeconfig {}: {e}", kubeconfig.display()))?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// `prefix` followed by a suffix unique to this process and moment, so runs at the same time
/// and runs after earlier ones (namespaces not deleted yet) never share a name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{prefix}-{:x}",
        (u64::from(std::process::id()) << 32 | u64::from(nanos ^ n)) % 0xff_ffff_ffff
    )
}

/// Names of the running, non-terminating pods with label `app=<deployment>`, sorted (empty
/// when the list fails).
pub async fn running_pods(client: &Client, namespace: &str, deployment: &str) -> Vec<String> {
    try_running_pods(client, namespace, deployment)
        .await
        .unwrap_or_default()
}

/// [`running_pods`], `None` when the list fails.
async fn try_running_pods(
    client: &Client,
    namespace: &str,
    deployment: &str,
) -> Option<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(&format!("app={deployment}")))
        .await
        .ok()?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    Some(names)
}

/// An event as `kubectl get events` shows it.
#[derive(Debug, Clone)]
pub struct Event {
    /// `Normal` or `Warning`.
    pub type_: String,
    /// The reason, e.g. `ScaledUp`.
    pub reason: String,
    /// Name of the object the event is about.
    pub object: String,
    /// The message.
    pub note: String,
}

/// The condition `kind` of a VA as (status, reason).
pub fn condition(va: &VariantAutoscaling, kind: &str) -> Option<(String, String)> {
    va.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Emulated vLLM replicas of Deployments and a Prometheus scraping them. A follower task
/// gives every running pod of each Deployment (label `app=<deployment>`) its own series, as a
/// Kubernetes service discovery would, and follows new and deleted pods.
pub struct Fleet {
    /// The emulated pods, by Deployment.
    pub pods: Arc<VllmPods>,
    /// The Prometheus server.
    pub prometheus: Prometheus,
    client: Client,
    follower: tokio::task::JoinHandle<()>,
}

impl Fleet {
    /// Emulates the pods of `deployments` in the scenario's namespace, all serving `model` at
    /// KV-cache usage `kv` and queue length `queue`, and starts a Prometheus.
    pub fn start(
        cluster: &Cluster,
        model: &str,
        deployments: &[&str],
        kv: f64,
        queue: f64,
    ) -> Fleet {
        let served: Vec<(&str, &str, &str)> = deployments
            .iter()
            .map(|d| (cluster.namespace.as_str(), *d, model))
            .collect();
        Fleet::serve(cluster, &served, kv, queue)
    }

    /// Emulates the pods of each (namespace, Deployment, model) at KV-cache usage `kv` and
    /// queue length `queue`, and starts a Prometheus.
    pub fn serve(cluster: &Cluster, served: &[(&str, &str, &str)], kv: f64, queue: f64) -> Fleet {
        Fleet::serve_with(cluster, served, kv, queue, Vec::new())
    }

    /// [`Fleet::serve`], with Prometheus also scraping `targets` (an emulated gateway).
    pub fn serve_with(
        cluster: &Cluster,
        served: &[(&str, &str, &str)],
        kv: f64,
        queue: f64,
        targets: Vec<wva_testkit::ScrapeTarget>,
    ) -> Fleet {
        let pods = Arc::new(VllmPods::start());
        for (namespace, deployment, model) in served {
            pods.add_deployment(namespace, deployment, model);
            pods.update(namespace, deployment, |m| {
                m.kv_cache_usage = kv;
                m.requests_waiting = queue;
            });
        }
        let prometheus = Prometheus::start(std::iter::once(pods.target()).chain(targets))
            .expect("prometheus starts");
        let follower = tokio::spawn(follow_pods(cluster.client.clone(), pods.clone()));
        Fleet {
            pods,
            prometheus,
            client: cluster.client.clone(),
            follower,
        }
    }

    /// Sets every pod to KV-cache usage `kv` and queue length `queue` (no wait).
    pub fn set(&self, kv: f64, queue: f64) {
        for (namespace, deployment) in self.pods.deployments() {
            self.set_deployment(&namespace, &deployment, kv, queue);
        }
    }

    /// Sets the pods of one Deployment to KV-cache usage `kv` and queue length `queue` (no wait).
    pub fn set_deployment(&self, namespace: &str, deployment: &str, kv: f64, queue: f64) {
        self.pods.update(namespace, deployment, |m| {
            m.kv_cache_usage = kv;
            m.requests_waiting = queue;
        });
    }

    /// Sets every pod to KV-cache usage `kv` and queue length `queue`, and waits until
    /// Prometheus has scraped the new values from all of them (so the next cycle sees them).
    pub async fn set_load(&self, kv: f64, queue: f64) {
        self.set(kv, queue);
        self.synced().await;
        let n: usize = self
            .pods
            .deployments()
            .iter()
            .map(|(ns, d)| self.pods.pods(ns, d).len())
            .sum();
        for (metric, value) in [
            ("vllm:kv_cache_usage_perc", kv),
            ("vllm:num_requests_waiting", queue),
        ] {
            let promql = format!("count({metric} == {value})");
            self.prometheus
                .wait_for_value(&promql, n as f64, DEADLINE)
                .unwrap_or_else(|e| panic!("load not scraped: {e}"));
        }
    }

    /// Waits until every emulated Deployment's running pods are the emulated ones and
    /// Prometheus has a series of each (so the next cycle sees every pod).
    pub async fn synced(&self) {
        for (namespace, deployment) in self.pods.deployments() {
            let start = Instant::now();
            loop {
                let running = running_pods(&self.client, &namespace, &deployment).await;
                let emulated = self.pods.pods(&namespace, &deployment);
                let scraped = if running.is_empty() {
                    0.0
                } else {
                    let promql = format!(
                        "count(vllm:kv_cache_usage_perc{{namespace=\"{namespace}\",pod=~\"{}\"}})",
                        running.join("|")
                    );
                    self.prometheus
                        .query(&promql)
                        .ok()
                        .and_then(|r| r[0]["value"][1].as_str()?.parse().ok())
                        .unwrap_or(0.0)
                };
                if running == emulated && scraped == running.len() as f64 {
                    break;
                }
                assert!(
                    start.elapsed() < DEADLINE,
                    "pods of {namespace}/{deployment} not followed: running {running:?}, \
                     emulated {emulated:?}, {scraped} scraped"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// Makes the emulated pods of every Deployment of `pods` its running pods, every 200 ms.
async fn follow_pods(client: Client, pods: Arc<VllmPods>) {
    loop {
        for (namespace, deployment) in pods.deployments() {
            if let Some(running) = try_running_pods(&client, &namespace, &deployment).await {
                pods.set_pods(&namespace, &deployment, running);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `wva run` process with its captured log.
pub struct Wva {
    /// The process.
    pub child: Child,
    /// Everything it wrote to stderr so far.
    pub log_text: Arc<Mutex<String>>,
    /// The metrics endpoint (plain HTTP in the scenarios).
    pub metrics_addr: String,
}

impl Wva {
    /// Starts `wva run` against `cluster` and `prometheus` with a 1s interval and `env`.
    pub fn start(cluster: &Cluster, prometheus: &Prometheus, env: &[(&str, &str)]) -> Wva {
        Wva::start_with(cluster, prometheus, &[], env)
    }

    /// Starts `wva run` with extra command-line `args` (after `run`) and `env`; `env` wins
    /// over the defaults below. The controller manages only the scenario's VAs: it watches
    /// only the scenario's namespace unless `args` name another scope (`--watch-namespace`)
    /// or `env` sets `CONTROLLER_INSTANCE` (the scenario then labels its VAs).
    pub fn start_with(
        cluster: &Cluster,
        prometheus: &Prometheus,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Wva {
        let scoped = args.iter().any(|a| a.starts_with("--watch-namespace"))
            || env.iter().any(|(k, _)| *k == "CONTROLLER_INSTANCE");
        let watch = format!("--watch-namespace={}", cluster.namespace);
        let scope: &[&str] = if scoped { &[] } else { &[watch.as_str()] };
        Wva::spawn(cluster, prometheus, &[scope, args].concat(), env)
    }

    /// Starts `wva run` managing every VA of the cluster (no `--watch-namespace`, no
    /// `CONTROLLER_INSTANCE`), for the scenarios about exactly that; on a real cluster they
    /// must run alone.
    pub fn start_unscoped(cluster: &Cluster, prometheus: &Prometheus, env: &[(&str, &str)]) -> Wva {
        Wva::spawn(cluster, prometheus, &[], env)
    }

    fn spawn(
        cluster: &Cluster,
        prometheus: &Prometheus,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Wva {
        let metrics_port = free_port();
        let probe_port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_wva"));
        command
            .arg("run")
            .args(args)
            .env_clear()
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("PROMETHEUS_BASE_URL", prometheus.url())
            .env("PROMETHEUS_ALLOW_HTTP", "true")
            .env("POD_NAMESPACE", &cluster.namespace)
            .env("GLOBAL_OPT_INTERVAL", "1s")
            .env("METRICS_BIND_ADDRESS", format!("127.0.0.1:{metrics_port}"))
            .env("METRICS_SECURE", "false")
            .env(
                "HEALTH_PROBE_BIND_ADDRESS",
                format!("127.0.0.1:{probe_port}"),
            )
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("wva starts");
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            });
        }
        Wva {
            child,
            log_text: log,
            metrics_addr: format!("127.0.0.1:{metrics_port}"),
        }
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.log_text.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The `/metrics` text, or an empty string while the endpoint is not up.
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.metrics_addr) else {
            return String::new();
        };
        let request = format!(
            "GET /metrics HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            self.metrics_addr
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }

    /// Engine cycles finished so far (`wva_engine_cycle_duration_seconds_count`), 0 while the
    /// endpoint is not up.
    pub fn cycles(&self) -> u64 {
        cycles(&self.metrics())
    }

    /// Waits until `n` more engine cycles have finished; returns the metrics text then.
    pub async fn wait_cycles(&self, n: u64) -> String {
        let target = self.cycles() + n;
        self.wait_metrics(&format!("{n} more engine cycles"), |m| cycles(m) >= target)
            .await
    }

    /// Waits until the log contains `needle`; returns the log.
    pub async fn wait_log(&self, needle: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "timed out waiting for log line {needle:?}\nlog:\n{}",
            self.log()
        );
    }

    /// Waits until the metrics text satisfies `check`.
    pub async fn wait_metrics(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.wait_metrics_within(DEADLINE, what, check).await
    }

    /// Waits up to `deadline` until the metrics text satisfies `check`.
    pub async fn wait_metrics_within(
        &self,
        deadline: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        while start.elapsed() < deadline {
            let text = self.metrics();
            if check(&text) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "timed out waiting for metrics: {what}\nlast /metrics:\n{}\nlog:\n{}",
            self.metrics(),
            self.log()
        );
    }
}

impl Drop for Wva {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Engine cycles finished according to a `/metrics` text (with or without a
/// `controller_instance` label).
pub fn cycles(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("wva_engine_cycle_duration_seconds_count")?;
            rest.starts_with([' ', '{'])
                .then(|| rest.rsplit(' ').next()?.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
