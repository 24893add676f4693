//! Test support: engine decisions to start from, and a controller against the Kubernetes API
//! double whose caches the test fills (no watch runs) and whose status writes and events go
//! to the double.

use crate::k8s::caches::Caches;
use crate::k8s::optional::OptionalCache;
use crate::run::events::Events;
use crate::run::{Context, State, startup};
use crate::scope::Scope;
use crate::target::{LeaderWorkerSet, ScaleTargetKind};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::CustomResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wva_api::crd::VariantAutoscaling;
use wva_api::metrics::{MetricSet, WvaMetrics};
use wva_api::params::Sources;
use wva_engine::{Action, Decision, MetricsCondition, MetricsReason, Reason};
use wva_kube_double::KubeDouble;

/// The namespace test objects live in.
pub const NAMESPACE: &str = "default";

/// A controller, the double it talks to, and the writers of its caches.
pub struct Fixture {
    /// The API double.
    pub double: KubeDouble,
    /// The controller's effect handles.
    pub ctx: Context,
    /// The controller's state.
    pub state: State,
    vas: Writer<VariantAutoscaling>,
    deployments: Writer<Deployment>,
    stateful_sets: Writer<StatefulSet>,
    leader_worker_sets: Writer<LeaderWorkerSet>,
    pods: Writer<PartialObjectMeta<Pod>>,
    config_maps: Writer<ConfigMap>,
}

impl Fixture {
    /// A controller with default configuration, the VA CRD installed and namespace
    /// [`NAMESPACE`] cached.
    pub async fn start() -> Fixture {
        let double = KubeDouble::start().await;
        let crd = serde_json::to_value(VariantAutoscaling::crd()).expect("CRD as JSON");
        double.create(crd).expect("CRD");
        let client = double.client();
        let (vas_store, vas) = reflector::store();
        let (deployments_store, deployments) = reflector::store();
        let (stateful_sets_store, stateful_sets) = reflector::store();
        let (lws_store, leader_worker_sets) = reflector::store();
        let (pods_store, pods) = reflector::store();
        let (namespaces, mut namespace_writer) = reflector::store::<Namespace>();
        let (config_maps_store, config_maps) = reflector::store::<ConfigMap>();
        let namespace = double
            .object("namespaces", "", NAMESPACE)
            .expect("namespace");
        namespace_writer.apply_watcher_event(&watcher::Event::Apply(typed(namespace)));
        let caches = Caches {
            vas: vas_store,
            deployments: deployments_store,
            stateful_sets: stateful_sets_store,
            leader_worker_sets: OptionalCache::new(lws_store),
            pods: pods_store,
            namespaces,
            controller_config_maps: config_maps_store,
            local_saturation: reflector::store().0,
            local_scale_to_zero: reflector::store().0,
            gpus: None,
        };
        let config = startup::test_config();
        let registry = prometheus::Registry::new();
        let ctx = Context {
            events: Events::new(client.clone(), None),
            client,
            caches,
            collector: startup::collector(&config.static_config).expect("collector"),
            gateway: crate::run::wake::Gateway::Prometheus,
            metrics: WvaMetrics::register(&registry, None).expect("metrics"),
            scope: Scope::default(),
            main_config_map: ObjectRef::new("wva-config").within("wva-system"),
            startup: Sources::default(),
            discovery: None,
        };
        Fixture {
            double,
            ctx,
            state: State::new(config),
            vas,
            deployments,
            stateful_sets,
            leader_worker_sets,
            pods,
            config_maps,
        }
    }

    /// Reads Prometheus at `url` (plain HTTP, one retry after 10 ms).
    pub fn use_prometheus(&mut self, url: &str) {
        let settings = wva_collector::CollectorSettings {
            base_url: url.to_string(),
            allow_http: true,
            query_retries: 1,
            retry_backoff: std::time::Duration::from_millis(10),
            ..crate::config::collector_settings(&self.state.config.static_config)
        };
        self.ctx.collector = wva_collector::Collector::new(settings).expect("collector");
    }

    /// Caches pod `name` of Deployment `deployment` (labelled `app=<deployment>`), as the
    /// pod metadata watch would deliver it.
    pub fn cache_pod(&mut self, name: &str, deployment: &str) {
        let pod = PartialObjectMeta::<Pod> {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NAMESPACE.into()),
                labels: Some([("app".to_string(), deployment.to_string())].into()),
                ..kube::api::ObjectMeta::default()
            },
            ..PartialObjectMeta::default()
        };
        self.pods.apply_watcher_event(&watcher::Event::Apply(pod));
    }

    /// Caches the main ConfigMap (`wva-system/wva-config`) with `data`, as its watch would
    /// deliver it (creating the namespace `wva-system` its events go to).
    pub fn cache_main_config_map(&mut self, data: &[(&str, &str)]) {
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wva-system"}});
        drop(self.double.create(namespace));
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(self.ctx.main_config_map.name.clone()),
                namespace: Some("wva-system".into()),
                ..kube::api::ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        };
        self.config_maps
            .apply_watcher_event(&watcher::Event::Apply(cm));
    }

    /// Creates a VA scaling Deployment `target`, and caches it.
    pub fn create_va(&mut self, name: &str, target: &str) -> VariantAutoscaling {
        self.create_va_for(name, target, "meta/llama", "10.0")
    }

    /// Creates a VA scaling Deployment `target` for `model` at `cost`, and caches it.
    pub fn create_va_for(
        &mut self,
        name: &str,
        target: &str,
        model: &str,
        cost: &str,
    ) -> VariantAutoscaling {
        self.create_va_of(name, ScaleTargetKind::Deployment, target, model, cost)
    }

    /// Creates a VA scaling the `kind` named `target` for `model` at `cost`, and caches it.
    pub fn create_va_of(
        &mut self,
        name: &str,
        kind: ScaleTargetKind,
        target: &str,
        model: &str,
        cost: &str,
    ) -> VariantAutoscaling {
        let api_version = match kind {
            ScaleTargetKind::LeaderWorkerSet => "leaderworkerset.x-k8s.io/v1",
            _ => "apps/v1",
        };
        let created = self
            .double
            .create(json!({
                "apiVersion": "llmd.ai/v1alpha1",
                "kind": "VariantAutoscaling",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "scaleTargetRef": {"apiVersion": api_version, "kind": kind.as_str(), "name": target},
                    "modelID": model,
                    "variantCost": cost
                }
            }))
            .expect("VA");
        self.cache_va(created)
    }

    /// Caches the VA as the double holds it now (as its watch would deliver it).
    pub fn refresh_va(&mut self, name: &str) -> VariantAutoscaling {
        let stored = self
            .double
            .object("variantautoscalings.llmd.ai", NAMESPACE, name)
            .expect("VA");
        self.cache_va(stored)
    }

    fn cache_va(&mut self, object: Value) -> VariantAutoscaling {
        let va: VariantAutoscaling = typed(object);
        self.vas
            .apply_watcher_event(&watcher::Event::Apply(va.clone()));
        va
    }

    /// Creates a Deployment with one replica, and caches it.
    pub fn create_deployment(&mut self, name: &str) {
        self.create_deployment_with(name, 1);
    }

    /// Creates a Deployment with `replicas` (pods labelled `app=<name>`), and caches it.
    pub fn create_deployment_with(&mut self, name: &str, replicas: u32) {
        let created = self
            .double
            .create(apps_v1("Deployment", name, replicas))
            .expect("Deployment");
        self.deployments
            .apply_watcher_event(&watcher::Event::Apply(typed(created)));
    }

    /// Creates a StatefulSet with `replicas` (pods labelled `app=<name>`), and caches it.
    pub fn create_stateful_set(&mut self, name: &str, replicas: u32) {
        let created = self
            .double
            .create(apps_v1("StatefulSet", name, replicas))
            .expect("StatefulSet");
        self.stateful_sets
            .apply_watcher_event(&watcher::Event::Apply(typed(created)));
    }

    /// Caches a LeaderWorkerSet of `replicas` groups of `size` pods (the double holds none:
    /// tests of the cache alone need no CRD).
    pub fn cache_lws(&mut self, name: &str, replicas: u32, size: u32) {
        let lws = typed(json!({
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "leaderWorkerTemplate": {"size": size,
                "workerTemplate": {"spec": {"containers": [{"name": "vllm", "image": "vllm"}]}}}}
        }));
        self.leader_worker_sets
            .apply_watcher_event(&watcher::Event::Apply(lws));
    }

    /// The condition `kind` of a VA's stored status as (status, reason, message).
    pub fn condition(&self, va: &str, kind: &str) -> Option<(String, String, String)> {
        let stored = self
            .double
            .object("variantautoscalings.llmd.ai", NAMESPACE, va)?;
        let conditions = stored["status"]["conditions"].as_array()?.clone();
        conditions.into_iter().find(|c| c["type"] == kind).map(|c| {
            let text = |field: &str| c[field].as_str().unwrap_or_default().to_string();
            (text("status"), text("reason"), text("message"))
        })
    }

    /// The published events as (type, reason, note, regarding name), oldest first.
    pub fn events(&self) -> Vec<(String, String, String, String)> {
        let mut events = self.double.objects("events.events.k8s.io");
        events.sort_by_key(|e| {
            e["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
        });
        events
            .iter()
            .map(|e| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (
                    text(&e["type"]),
                    text(&e["reason"]),
                    text(&e["note"]),
                    text(&e["regarding"]["name"]),
                )
            })
            .collect()
    }
}

/// An `apps/v1` workload of `kind` named `name` with `replicas` pods labelled `app=<name>` (a
/// StatefulSet also names its Service).
fn apps_v1(kind: &str, name: &str, replicas: u32) -> Value {
    let mut workload = json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "vllm", "image": "vllm"}]}
            }
        }
    });
    if kind == "StatefulSet" {
        workload["spec"]["serviceName"] = json!(name);
    }
    workload
}

fn typed<K: DeserializeOwned>(object: Value) -> K {
    serde_json::from_value(object).expect("a valid object")
}

/// A decision for VA `llm-d/llama-8b` (model `meta/llama`, H100) from `current` to `desired`
/// replicas, metrics found; tests change the fields they are about.
pub fn decision(current: u32, desired: u32) -> Decision {
    Decision {
        role: wva_engine::Role::Both,
        namespace: "llm-d".into(),
        model_id: "meta/llama".into(),
        variant: "llama-8b".into(),
        accelerator: Some("H100".into()),
        current_replicas: current,
        desired_replicas: desired,
        action: Action::ScaleUp,
        reason: Reason::ScaleUp,
        message: "KV spare low".into(),
        safety_net: false,
        fallback_source: None,
        limited: false,
        clamped: false,
        metrics_available: MetricsCondition {
            status: true,
            reason: MetricsReason::MetricsFound,
            message: "found".into(),
        },
        optimization_reason: None,
    }
}

/// Everything `registry` holds, in the Prometheus text format `/metrics` serves.
pub fn metrics_text(registry: &prometheus::Registry) -> String {
    use prometheus::Encoder;
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("encodes");
    String::from_utf8(out).expect("utf8")
}
