//! The end-to-end harness: a Kubernetes API (the in-memory double, or the real cluster named
//! by `WVA_E2E_KUBECONFIG`), a real Prometheus scraping vLLM emulators, and the real `wva`
//! binary as a process. Everything goes through a kube client, so scenarios run unchanged
//! against both.

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
use wva_testkit::{Prometheus, ScrapeTarget, VllmEmulator};

/// How long a wait may take before the scenario fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

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
        let kubeconfig_yaml = std::fs::read_to_string(&kubeconfig).expect("kubeconfig readable");
        let kc: kube::config::Kubeconfig =
            serde_saphyr::from_str(&kubeconfig_yaml).expect("kubeconfig parses");
        let config = Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kube config");
        let client = Client::try_from(config).expect("client");
        let cluster = Cluster {
            double,
            kubeconfig,
            client,
            namespace: format!("{scenario}-{}", std::process::id()),
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

    /// Creates a namespace (ignores one that exists).
    pub async fn create_namespace(&self, name: &str) {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        let _ = Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await;
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

    /// Creates a Deployment with `pods.len()` ready replicas and those pods (no kubelet is
    /// assumed: the scenario writes the status and the pods itself).
    pub async fn create_deployment(&self, name: &str, pods: &[&str]) {
        self.create_deployment_in(&self.namespace, name, pods).await;
    }

    /// [`Cluster::create_deployment`] in `namespace`.
    pub async fn create_deployment_in(&self, namespace: &str, name: &str, pods: &[&str]) {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": pods.len(),
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}}
            }
        }))
        .expect("deployment");
        Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &deployment)
            .await
            .expect("Deployment created");
        self.roll_out(namespace, name, pods).await;
    }

    /// Acts as the HPA and the Deployment controller: sets the Deployment to `pods.len()` ready
    /// replicas; the listed pods exist and its other pods are deleted.
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

    /// Writes a rolled-out status of `pods.len()` ready replicas and makes the Deployment's pods
    /// exactly `pods`.
    async fn roll_out(&self, namespace: &str, name: &str, pods: &[&str]) {
        let replicas = i64::try_from(pods.len()).unwrap_or(0);
        let status = json!({"status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas}});
        Api::<Deployment>::namespaced(self.client.clone(), namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .expect("Deployment status");
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
        for pod in pods {
            if pod_api.get_opt(pod).await.expect("pod lookup").is_none() {
                let object: Pod = serde_json::from_value(json!({
                    "metadata": {"name": pod, "namespace": namespace, "labels": {"app": name}},
                    "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}
                }))
                .expect("pod");
                pod_api
                    .create(&PostParams::default(), &object)
                    .await
                    .expect("Pod created");
            }
        }
    }

    /// Deletes a Deployment and its pods.
    pub async fn delete_deployment(&self, name: &str) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        api.delete(name, &DeleteParams::default())
            .await
            .expect("Deployment deleted");
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = ListParams::default().labels(&format!("app={name}"));
        pods.delete_collection(&DeleteParams::default(), &selector)
            .await
            .expect("pods deleted");
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

/// vLLM replicas and a Prometheus scraping them.
pub struct Fleet {
    /// The emulators, one per pod.
    pub replicas: Vec<VllmEmulator>,
    /// The Prometheus server.
    pub prometheus: Prometheus,
}

impl Fleet {
    /// Starts one emulator per pod (all serving `model` in `namespace`, at KV-cache usage `kv`
    /// and queue length `queue` from their first scrape on) and a Prometheus.
    pub fn start(namespace: &str, model: &str, pods: &[&str], kv: f64, queue: f64) -> Fleet {
        let replicas: Vec<VllmEmulator> = pods.iter().map(|_| VllmEmulator::start(model)).collect();
        for replica in &replicas {
            replica.set(kv, queue);
        }
        let targets: Vec<ScrapeTarget> = replicas
            .iter()
            .zip(pods)
            .map(|(r, pod)| r.target(namespace, pod))
            .collect();
        let prometheus = Prometheus::start(targets).expect("prometheus starts");
        Fleet {
            replicas,
            prometheus,
        }
    }

    /// Sets every replica to KV-cache usage `kv` and queue length `queue`, and waits until
    /// Prometheus has scraped the new values from all of them (so the next cycle sees them).
    pub fn set_load(&self, kv: f64, queue: f64) {
        for replica in &self.replicas {
            replica.set(kv, queue);
        }
        let n = self.replicas.len();
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
    /// over the defaults below.
    pub fn start_with(
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
