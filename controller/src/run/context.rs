//! What the controller works with: [`Context`], the effect handles shared by every step, and
//! [`State`], the plain data kept between steps.

use super::events::Events;
use super::index::TargetIndex;
use super::model_id;
use super::retry::Retries;
use super::wake::{Gateway, Wakes};
use crate::config::Config;
use crate::configmaps::ConfigMapState;
use crate::hybrid::HybridState;
use crate::k8s::caches::Caches;
use crate::k8s::status::WrittenStatuses;
use crate::keys::VaRef;
use crate::scope::Scope;
use crate::telemetry::capacity::CapacitySeries;
use crate::telemetry::cycle_metrics::CycleSeries;
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
    /// Where scale-from-zero reads the gateway queue.
    pub gateway: Gateway,
    /// The `wva_*` metrics.
    pub metrics: WvaMetrics,
    /// Which VAs and namespaces this controller manages.
    pub scope: Scope,
    /// The main ConfigMap; its namespace is the controller namespace.
    pub main_config_map: ObjectRef<ConfigMap>,
    /// The sources read at startup (flags and env keep precedence over live updates).
    pub startup: Sources,
    /// The caches of annotated HPAs and ScaledObjects (`WVA_DISCOVERY` `annotations` or
    /// `both`; `None` with `va`).
    pub discovery: Option<crate::discovery::watch::Watches>,
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
        self.in_scope_object(namespace, va.metadata.labels.as_ref())
    }

    /// True when this controller manages an object in `namespace` with `labels` (a VA, or an
    /// annotated HPA or ScaledObject): the VA rules, instance label and namespace.
    pub fn in_scope_object(
        &self,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        let Some(ns) = self.caches.namespaces.get(&ObjectRef::new(namespace)) else {
            return false;
        };
        self.scope.owns_va(labels)
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
    /// The models whose capacity gauges (token-capacity analyzer) are exported.
    pub capacity: CapacitySeries,
    /// The cycle-level, per-model and per-VA-target series exported.
    pub cycle_series: CycleSeries,
    /// Saturation and scale-to-zero entries in force per ConfigMap.
    pub configmaps: ConfigMapState,
    /// VAs that already had their `AcceleratorNotResolved` warning.
    pub warned_accelerator: HashSet<VaRef>,
    /// VAs warned about a model ID mismatch that still lasts.
    pub warned_model_id: model_id::Warned,
    /// Free GPUs per accelerator type of the previous cycle (limited mode), to log changes.
    pub last_free_gpus: Option<BTreeMap<String, u32>>,
    /// Deployment → the VAs that scale it.
    pub targets: TargetIndex,
    /// VAs whose status write is retried with backoff.
    pub retries: Retries,
    /// What scale-from-zero remembers: models started, queues seen.
    pub wakes: Wakes,
    /// What discovery remembers: discovered variants, their unwritten statuses, warnings.
    pub discovery: crate::discovery::DiscoveryState,
    /// What the HYBRID mode remembers: service classes, performance models.
    pub hybrid: HybridState,
}

impl State {
    /// The state of a controller that just started with `config`.
    pub fn new(config: Config) -> Self {
        State {
            config,
            decisions: HashMap::new(),
            written: WrittenStatuses::default(),
            series: Series::default(),
            capacity: CapacitySeries::default(),
            cycle_series: CycleSeries::default(),
            configmaps: ConfigMapState::default(),
            warned_accelerator: HashSet::new(),
            warned_model_id: model_id::Warned::default(),
            last_free_gpus: None,
            targets: TargetIndex::default(),
            retries: Retries::default(),
            wakes: Wakes::default(),
            discovery: crate::discovery::DiscoveryState::default(),
            hybrid: HybridState::default(),
        }
    }

    /// Drops what is known about `va`'s decision and its metric series (its target or the VA
    /// itself is gone).
    pub fn forget_decision(&mut self, metrics: &WvaMetrics, va: &VaRef) {
        self.series.forget(metrics, va);
        self.decisions.remove(va);
        self.warned_model_id.forget(va);
    }
}
