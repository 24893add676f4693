//! Informer caches: one watch per kind, shared by the engine cycle and the reconciler, so
//! that a cycle makes no API reads.
//!
//! * VAs: label-filtered by controller instance, limited to the watched namespace if set.
//! * Scale targets (Deployments, StatefulSets, and LeaderWorkerSets once their CRD exists:
//!   [`super::optional`]) and Pods (metadata only): same namespace limit.
//! * Namespaces: cluster-wide (exclusion annotation, opt-in label), unless one namespace is
//!   watched.
//! * ConfigMaps: every ConfigMap of the controller namespace (main and global ConfigMaps),
//!   plus the two well-known namespace-local names anywhere (a field selector per name).
//! * Limited mode only: Nodes, and the Pods bound to a node that have not finished (field
//!   selector `spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed`), cluster-wide
//!   even when one namespace is watched (any pod on a GPU node holds its GPUs). Both are stored
//!   slimmed to what the GPU inventory reads ([`gpus::slim_node`], [`gpus::slim_pod`]).

use super::optional::{self, OptionalCache};
use crate::gpus;
use crate::scope::Scope;
use crate::target::{CachedTargets, LeaderWorkerSet, ScaleTargetKind, TargetRef, lws};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;
use wva_api::crd::VariantAutoscaling;
use wva_api::saturation::{SATURATION_CONFIG_MAP, SCALE_TO_ZERO_CONFIG_MAP};

/// Read handles of every cache.
#[derive(Clone)]
pub struct Caches {
    /// VariantAutoscalings in scope.
    pub vas: Store<VariantAutoscaling>,
    /// Deployments (scale targets).
    pub deployments: Store<Deployment>,
    /// StatefulSets (scale targets).
    pub stateful_sets: Store<StatefulSet>,
    /// LeaderWorkerSets (scale targets), watched once their CRD exists.
    pub leader_worker_sets: OptionalCache<LeaderWorkerSet>,
    /// Pods, metadata only (pod → scale target: a selector, or an LWS group leader).
    pub pods: Store<PartialObjectMeta<Pod>>,
    /// Namespaces (empty when a single namespace is watched).
    pub namespaces: Store<Namespace>,
    /// ConfigMaps of the controller namespace.
    pub controller_config_maps: Store<ConfigMap>,
    /// `wva-saturation-scaling-config` in every namespace.
    pub local_saturation: Store<ConfigMap>,
    /// `wva-model-scale-to-zero-config` in every namespace.
    pub local_scale_to_zero: Store<ConfigMap>,
    /// Nodes and the Pods on them, in limited mode only.
    pub gpus: Option<GpuCaches>,
}

/// The caches the GPU inventory is computed from (limited mode).
#[derive(Clone)]
pub struct GpuCaches {
    /// Every Node, slimmed ([`gpus::slim_node`]).
    pub nodes: Store<Node>,
    /// Unfinished Pods bound to a node, in every namespace, slimmed ([`gpus::slim_pod`]).
    pub pods: Store<Pod>,
}

impl GpuCaches {
    /// Free GPUs per accelerator type as the caches stand now (no API call).
    pub fn inventory(&self) -> gpus::Inventory {
        let (nodes, pods) = (self.nodes.state(), self.pods.state());
        gpus::inventory(
            nodes.iter().map(AsRef::as_ref),
            pods.iter().map(AsRef::as_ref),
        )
    }
}

/// The field selector of the GPU pod watch: pods bound to a node that have not finished.
pub const GPU_POD_FIELDS: &str = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed";

/// Whether to watch Nodes and Pods for the GPU inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuInventory {
    /// Limited mode: watch them.
    Watch,
    /// No Node or Pod watch (beyond the pod metadata every mode uses).
    Off,
}

/// The watch streams that feed the caches; the caller drives them (and may trigger
/// reconciles from the VA and Deployment streams).
pub struct Streams {
    /// VA events, already applied to the cache.
    pub vas:
        futures::stream::BoxStream<'static, watcher::Result<watcher::Event<VariantAutoscaling>>>,
    /// Deployment events, already applied to the cache.
    pub deployments:
        futures::stream::BoxStream<'static, watcher::Result<watcher::Event<Deployment>>>,
    /// StatefulSet events, already applied to the cache.
    pub stateful_sets:
        futures::stream::BoxStream<'static, watcher::Result<watcher::Event<StatefulSet>>>,
    /// LeaderWorkerSet events, already applied to the cache (none while the CRD is missing).
    pub leader_worker_sets:
        futures::stream::BoxStream<'static, watcher::Result<watcher::Event<LeaderWorkerSet>>>,
    /// Events of ConfigMaps in the controller namespace (main and global ConfigMaps).
    pub config_maps:
        futures::stream::BoxStream<'static, watcher::Result<watcher::Event<ConfigMap>>>,
    /// Every other watch, merged; drive it to keep the other caches current.
    pub others: futures::stream::BoxStream<'static, ()>,
}

impl Caches {
    /// True once every cache has its initial list.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.vas.wait_until_ready().await?;
        self.deployments.wait_until_ready().await?;
        self.stateful_sets.wait_until_ready().await?;
        self.leader_worker_sets.wait_until_ready().await?;
        self.pods.wait_until_ready().await?;
        self.namespaces.wait_until_ready().await?;
        self.controller_config_maps.wait_until_ready().await?;
        self.local_saturation.wait_until_ready().await?;
        self.local_scale_to_zero.wait_until_ready().await?;
        if let Some(gpus) = &self.gpus {
            gpus.nodes.wait_until_ready().await?;
            gpus.pods.wait_until_ready().await?;
        }
        Ok(())
    }

    /// True when the cache holds `target`.
    pub fn has_target(&self, target: &TargetRef) -> bool {
        match target.kind {
            ScaleTargetKind::Deployment => self.deployments.get(&object_ref(target)).is_some(),
            ScaleTargetKind::StatefulSet => self.stateful_sets.get(&object_ref(target)).is_some(),
            ScaleTargetKind::LeaderWorkerSet => self
                .leader_worker_sets
                .store()
                .get(&object_ref(target))
                .is_some(),
        }
    }

    /// Every cached scale target of every kind, as the caches stand now (no API call).
    pub fn targets(&self) -> CachedTargets {
        CachedTargets {
            deployments: self.deployments.state(),
            stateful_sets: self.stateful_sets.state(),
            leader_worker_sets: self.leader_worker_sets.store().state(),
        }
    }
}

/// Starts every watch; nothing is fetched until the returned streams are polled.
pub fn watch(
    client: &Client,
    scope: &Scope,
    controller_namespace: &str,
    gpu_inventory: GpuInventory,
) -> (Caches, Streams) {
    let va_config = match scope.va_label_selector() {
        Some(selector) => watcher::Config::default().labels(&selector),
        None => watcher::Config::default(),
    };
    let (vas, va_stream) = reflect(scoped(client, scope), va_config, unchanged);
    let (deployments, deployment_stream) =
        reflect(scoped(client, scope), watcher::Config::default(), unchanged);
    let (stateful_sets, stateful_set_stream) =
        reflect(scoped(client, scope), watcher::Config::default(), unchanged);
    let (leader_worker_sets, lws_stream) = optional::watch(
        client,
        scoped(client, scope),
        lws::CRD_NAME,
        |lws: &mut LeaderWorkerSet| lws.metadata.managed_fields = None,
    );

    let (pods, pods_stream) = reflect(
        scoped::<PartialObjectMeta<Pod>>(client, scope),
        watcher::Config::default(),
        unchanged,
    );

    let namespace_api: Api<Namespace> = Api::all(client.clone());
    let namespace_config = match &scope.watch_namespace {
        Some(ns) => watcher::Config::default().fields(&format!("metadata.name={ns}")),
        None => watcher::Config::default(),
    };
    let (namespaces, namespace_stream) = reflect(namespace_api, namespace_config, unchanged);
    let (controller_config_maps, cm_stream) = reflect(
        Api::namespaced(client.clone(), controller_namespace),
        watcher::Config::default(),
        unchanged,
    );
    let by_name = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let (local_saturation, sat_stream) = reflect(
        scoped(client, scope),
        by_name(SATURATION_CONFIG_MAP),
        unchanged,
    );
    let (local_scale_to_zero, stz_stream) = reflect(
        scoped(client, scope),
        by_name(SCALE_TO_ZERO_CONFIG_MAP),
        unchanged,
    );

    let mut others = vec![
        pods_stream.map(drop).boxed(),
        namespace_stream.map(drop).boxed(),
        sat_stream.map(drop).boxed(),
        stz_stream.map(drop).boxed(),
    ];
    let gpus = match gpu_inventory {
        GpuInventory::Off => None,
        GpuInventory::Watch => {
            let (nodes, node_stream) = reflect(
                Api::all(client.clone()),
                watcher::Config::default(),
                gpus::slim_node,
            );
            let (pods, gpu_pod_stream) = reflect(
                Api::all(client.clone()),
                watcher::Config::default().fields(GPU_POD_FIELDS),
                gpus::slim_pod,
            );
            others.push(node_stream.map(drop).boxed());
            others.push(gpu_pod_stream.map(drop).boxed());
            Some(GpuCaches { nodes, pods })
        }
    };
    let others = futures::stream::select_all(others).boxed();
    (
        Caches {
            vas,
            deployments,
            stateful_sets,
            leader_worker_sets,
            pods,
            namespaces,
            controller_config_maps,
            local_saturation,
            local_scale_to_zero,
            gpus,
        },
        Streams {
            vas: va_stream.boxed(),
            deployments: deployment_stream.boxed(),
            stateful_sets: stateful_set_stream.boxed(),
            leader_worker_sets: lws_stream,
            config_maps: cm_stream.boxed(),
            others,
        },
    )
}

/// An API for `K` limited to the watched namespace, if one is set.
pub fn scoped<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &scope.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The cache key of `target` in the cache of its kind.
fn object_ref<K: kube::runtime::reflector::Lookup<DynamicType = ()>>(
    target: &TargetRef,
) -> kube::runtime::reflector::ObjectRef<K> {
    kube::runtime::reflector::ObjectRef::new(&target.name).within(&target.namespace)
}

/// The `modify` of a cache that holds objects as the API server sends them.
fn unchanged<K>(_: &mut K) {}

/// A cache of `api` holding each object as `modify` leaves it, and the event stream that
/// fills it.
pub(crate) fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    modify: impl FnMut(&mut K) + Send + 'static,
) -> (
    Store<K>,
    impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(modify)
        .reflect(writer);
    (reader, stream)
}
