//! What the controller works with: [`Context`], the effect handles shared by every step, and
//! [`State`], the plain data kept between steps.

use super::events::Events;
use super::index::TargetIndex;
use super::retry::Retries;
use crate::config::Config;
use crate::configmaps::ConfigMapState;
use crate::k8s::caches::Caches;
use crate::k8s::status::WrittenStatuses;
use crate::keys::VaRef;
use crate::scope::Scope;
use crate::telemetry::emit::Series;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::runtime::reflector::ObjectRef;
use std::collections::{BTreeMap, HashMap, HashSet};
use wva_api::crd::VariantAutoscaling;
use wva_api::metrics::WvaMetrics;
use wva_api::params::Sources;
use wva_collector::Collector;
use wva_engine::Decision;

/// The effect handles: the API client, the event publisher, the caches, the Prometheus
/// collector, the metrics, and what was fixed at startup.
pub struct Context {
    /// The Kubernetes client (status writes).
    pub client: Client,
    /// The event publisher.
    pub events: Events,
    /// The informer caches (every read of a cycle or reconcile).
    pub caches: Caches,
    /// The Prometheus collector.
    pub collector: Collector,
    /// The `wva_*` metrics.
    pub metrics: WvaMetrics,
    /// Which VAs and namespaces this controller manages.
    pub scope: Scope,
    /// The main ConfigMap; its namespace is the controller namespace.
    pub main_config_map: ObjectRef<ConfigMap>,
    /// The sources read at startup (flags and env keep precedence over live updates).
    pub startup: Sources,
}

impl Context {
    /// The controller namespace (global ConfigMaps, the Lease).
    pub fn namespace(&self) -> &str {
        crate::keys::namespace(&self.main_config_map)
    }

    /// True when this controller manages `va` (instance label and namespace rules). A VA
    /// whose namespace the cache does not hold yet waits: the namespace may be excluded.
    pub fn in_scope(&self, va: &VariantAutoscaling) -> bool {
        let namespace = va.metadata.namespace.as_deref().unwrap_or_default();
        let Some(ns) = self.caches.namespaces.get(&ObjectRef::new(namespace)) else {
            return false;
        };
        self.scope.owns_va(va.metadata.labels.as_ref())
            && self
                .scope
                .manages_namespace(namespace, ns.metadata.annotations.as_ref())
    }
}

/// Everything remembered between cycles and reconciles.
#[derive(Debug)]
pub struct State {
    /// The running configuration (live parameters change with the main ConfigMap).
    pub config: Config,
    /// The latest decision per VA.
    pub decisions: HashMap<VaRef, Decision>,
    /// Statuses written that the VA cache may not show yet.
    pub written: WrittenStatuses,
    /// The metric series exported per VA.
    pub series: Series,
    /// Saturation and scale-to-zero entries in force per ConfigMap.
    pub configmaps: ConfigMapState,
    /// VAs that already had their `AcceleratorNotResolved` warning.
    pub warned_accelerator: HashSet<VaRef>,
    /// Free GPUs per accelerator type of the previous cycle (limited mode), to log changes.
    pub last_free_gpus: Option<BTreeMap<String, u32>>,
    /// Deployment → the VAs that scale it.
    pub targets: TargetIndex,
    /// VAs whose status write is retried with backoff.
    pub retries: Retries,
}

impl State {
    /// The state of a controller that just started with `config`.
    pub fn new(config: Config) -> Self {
        State {
            config,
            decisions: HashMap::new(),
            written: WrittenStatuses::default(),
            series: Series::default(),
            configmaps: ConfigMapState::default(),
            warned_accelerator: HashSet::new(),
            last_free_gpus: None,
            targets: TargetIndex::default(),
            retries: Retries::default(),
        }
    }

    /// Drops what is known about `va`'s decision and its metric series (its target or the VA
    /// itself is gone).
    pub fn forget_decision(&mut self, metrics: &WvaMetrics, va: &VaRef) {
        self.series.forget(metrics, va);
        self.decisions.remove(va);
    }
}

/// A controller against the Kubernetes API double, for tests: its caches are filled by the
/// test (no watch runs), its status writes and events go to the double.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::k8s::caches::Caches;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Namespace;
    use kube::CustomResourceExt;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};
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
            let (namespaces, mut namespace_writer) = reflector::store::<Namespace>();
            let namespace = double
                .object("namespaces", "", NAMESPACE)
                .expect("namespace");
            namespace_writer.apply_watcher_event(&watcher::Event::Apply(typed(namespace)));
            let caches = Caches {
                vas: vas_store,
                deployments: deployments_store,
                pods: reflector::store().0,
                namespaces,
                controller_config_maps: reflector::store().0,
                local_saturation: reflector::store().0,
                local_scale_to_zero: reflector::store().0,
                gpus: None,
            };
            let config = super::super::startup::test_config();
            let registry = prometheus::Registry::new();
            let ctx = Context {
                events: Events::new(client.clone(), None),
                client,
                caches,
                collector: super::super::startup::collector(&config.static_config)
                    .expect("collector"),
                metrics: <WvaMetrics as wva_api::metrics::MetricSet>::register(&registry, None)
                    .expect("metrics"),
                scope: Scope::default(),
                main_config_map: ObjectRef::new("wva-config").within("wva-system"),
                startup: Sources::default(),
            };
            Fixture {
                double,
                ctx,
                state: State::new(config),
                vas,
                deployments,
            }
        }

        /// Creates a VA scaling Deployment `target`, and caches it.
        pub fn create_va(&mut self, name: &str, target: &str) -> VariantAutoscaling {
            let created = self
                .double
                .create(json!({
                    "apiVersion": "llmd.ai/v1alpha1",
                    "kind": "VariantAutoscaling",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {
                        "scaleTargetRef": {"kind": "Deployment", "name": target},
                        "modelID": "meta/llama"
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

        /// Creates a Deployment, and caches it.
        pub fn create_deployment(&mut self, name: &str) {
            let created = self
                .double
                .create(json!({
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{"name": "vllm", "image": "vllm"}]}
                        }
                    }
                }))
                .expect("Deployment");
            self.deployments
                .apply_watcher_event(&watcher::Event::Apply(typed(created)));
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

    fn typed<K: DeserializeOwned>(object: Value) -> K {
        serde_json::from_value(object).expect("a valid object")
    }
}
