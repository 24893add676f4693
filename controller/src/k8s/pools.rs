//! InferencePools: which endpoint picker (EPP) serves which model server pods, for reading the
//! gateway queue straight from the EPPs (`SCALE_FROM_ZERO_SOURCE=epp`).
//!
//! Both APIs are watched, each only when its CRD is installed at startup:
//!
//! * `inference.networking.k8s.io/v1`: `spec.selector.matchLabels`, and the EPP Service in
//!   `spec.endpointPickerRef.name`;
//! * `inference.networking.x-k8s.io/v1alpha2`: `spec.selector` (a plain label map), and the EPP
//!   Service in `spec.extensionRef.name`.
//!
//! A CRD installed after startup is picked up at the next restart (logged at startup).

use crate::scope::Scope;
use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;

/// One InferencePool API: its resource and where its fields are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolApi {
    /// `inference.networking.k8s.io/v1`.
    V1,
    /// `inference.networking.x-k8s.io/v1alpha2`.
    V1Alpha2,
}

impl PoolApi {
    /// Every API, newest first.
    pub const ALL: [PoolApi; 2] = [PoolApi::V1, PoolApi::V1Alpha2];

    /// The resource to watch.
    pub fn resource(self) -> ApiResource {
        let (group, version) = match self {
            PoolApi::V1 => ("inference.networking.k8s.io", "v1"),
            PoolApi::V1Alpha2 => ("inference.networking.x-k8s.io", "v1alpha2"),
        };
        ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: format!("{group}/{version}"),
            kind: "InferencePool".to_string(),
            plural: "inferencepools".to_string(),
        }
    }

    /// The CRD's name, for logs.
    pub fn crd_name(self) -> String {
        let resource = self.resource();
        format!("{}.{}", resource.plural, resource.group)
    }

    /// Reads a pool of this API; `None` when it lacks a selector or an endpoint picker
    /// reference (the CRDs' schemas require both).
    pub fn parse(self, object: &DynamicObject) -> Option<InferencePool> {
        let spec = object.data.get("spec")?;
        let (selector, picker) = match self {
            PoolApi::V1 => (
                spec.pointer("/selector/matchLabels")?,
                spec.pointer("/endpointPickerRef/name")?,
            ),
            PoolApi::V1Alpha2 => (spec.get("selector")?, spec.pointer("/extensionRef/name")?),
        };
        let selector = selector
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<BTreeMap<_, _>>>()?;
        Some(InferencePool {
            namespace: object.namespace()?,
            name: object.name_any(),
            api_version: self.resource().api_version,
            resource_version: object.resource_version().unwrap_or_default(),
            selector,
            picker_service: picker.as_str().filter(|s| !s.is_empty())?.to_string(),
        })
    }
}

/// An InferencePool as the EPP scraper needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferencePool {
    /// Its namespace (also the EPP Service's).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The API it was read from (`inference.networking.k8s.io/v1`, ...).
    pub api_version: String,
    /// Changes whenever the pool does.
    pub resource_version: String,
    /// The labels of the model server pods it selects.
    pub selector: BTreeMap<String, String>,
    /// The name of the endpoint picker's Service.
    pub picker_service: String,
}

impl InferencePool {
    /// True when the pool selects pods with `labels` in `namespace`: same namespace and every
    /// selector label present with the same value. An empty selector selects nothing.
    pub fn selects(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        self.namespace == namespace
            && !self.selector.is_empty()
            && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// `namespace/name`, for logs and errors.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The InferencePool caches, one per API whose CRD was installed at startup.
#[derive(Clone, Default)]
pub struct PoolCaches {
    stores: Vec<(PoolApi, Store<DynamicObject>)>,
}

impl PoolCaches {
    /// Caches of these APIs (tests fill the stores through their writers).
    pub fn new(stores: Vec<(PoolApi, Store<DynamicObject>)>) -> Self {
        PoolCaches { stores }
    }

    /// The APIs being watched.
    pub fn apis(&self) -> Vec<PoolApi> {
        self.stores.iter().map(|(api, _)| *api).collect()
    }

    /// Every cached pool of every watched API (no API call); pools missing a selector or an
    /// endpoint picker reference are left out.
    pub fn pools(&self) -> Vec<InferencePool> {
        self.stores
            .iter()
            .flat_map(|(api, store)| store.state().into_iter().map(move |o| (*api, o)))
            .filter_map(|(api, object)| api.parse(&object))
            .collect()
    }

    /// Returns once every cache has its initial list.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        for (_, store) in &self.stores {
            store.wait_until_ready().await?;
        }
        Ok(())
    }
}

/// Starts a watch of each InferencePool API whose CRD is installed now (one list call per API
/// to find out), limited to the watched namespace if set. The stream keeps the caches current
/// and must be driven; it ends at once when no InferencePool API is installed.
pub async fn watch(client: &Client, scope: &Scope) -> (PoolCaches, BoxStream<'static, ()>) {
    let mut stores = Vec::new();
    let mut streams = Vec::new();
    for pool_api in PoolApi::ALL {
        let resource = pool_api.resource();
        let api: Api<DynamicObject> = match &scope.watch_namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        match api.list_metadata(&ListParams::default().limit(1)).await {
            Err(kube::Error::Api(status)) if status.code == 404 => {
                tracing::info!(
                    crd = %pool_api.crd_name(),
                    "InferencePool CRD {} ({}) is not installed: pools of that API are not watched; restart the controller after installing it",
                    pool_api.crd_name(),
                    resource.api_version,
                );
                continue;
            }
            // Any other error (RBAC, a transient failure) is the watch's to log and retry.
            _ => tracing::info!(api = %resource.api_version, "Watching InferencePools"),
        }
        let writer = reflector::store::Writer::new(resource);
        stores.push((pool_api, writer.as_reader()));
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(|pool: &mut DynamicObject| pool.managed_fields_mut().clear())
            .reflect(writer)
            .map(drop)
            .boxed();
        streams.push(stream);
    }
    (
        PoolCaches { stores },
        futures::stream::select_all(streams).boxed(),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A pool of `api` in `namespace` selecting `selector`, its EPP Service named `service`.
    pub(crate) fn pool_object(
        api: PoolApi,
        namespace: &str,
        name: &str,
        selector: &[(&str, &str)],
        service: &str,
    ) -> Value {
        let labels: serde_json::Map<String, Value> = selector
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let spec = match api {
            PoolApi::V1 => json!({
                "selector": {"matchLabels": labels},
                "targetPorts": [{"number": 8000}],
                "endpointPickerRef": {"name": service, "port": {"number": 9002}}
            }),
            PoolApi::V1Alpha2 => json!({
                "selector": labels,
                "targetPortNumber": 8000,
                "extensionRef": {"name": service, "portNumber": 9002}
            }),
        };
        json!({
            "apiVersion": api.resource().api_version,
            "kind": "InferencePool",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec
        })
    }

    /// A CRD serving `api`, for the API double.
    pub(crate) fn crd(api: PoolApi) -> Value {
        let resource = api.resource();
        wva_testkit::open_crd(
            &resource.group,
            &resource.version,
            "InferencePool",
            "inferencepools",
            false,
        )
    }

    fn parse(api: PoolApi, object: Value) -> Option<InferencePool> {
        let object: DynamicObject = serde_json::from_value(object).expect("object");
        api.parse(&object)
    }

    /// A label map.
    pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn both_apis_read_selector_and_picker() {
        for api in PoolApi::ALL {
            let object = pool_object(api, "llm", "pool", &[("app", "llama")], "pool-epp");
            let pool = parse(api, object).expect("a pool");
            assert_eq!(pool.key(), "llm/pool");
            assert_eq!(pool.selector, labels(&[("app", "llama")]), "{api:?}");
            assert_eq!(pool.picker_service, "pool-epp", "{api:?}");
            assert_eq!(pool.api_version, api.resource().api_version);
        }
        // The v1alpha2 shape read as v1 (and the reverse) has no selector: not a pool.
        let v1alpha2 = pool_object(PoolApi::V1Alpha2, "llm", "p", &[("app", "x")], "epp");
        assert_eq!(parse(PoolApi::V1, v1alpha2), None);
        let v1 = pool_object(PoolApi::V1, "llm", "p", &[("app", "x")], "epp");
        assert_eq!(parse(PoolApi::V1Alpha2, v1), None);
    }

    #[test]
    fn a_pool_selects_pods_whose_labels_include_its_selector_in_its_namespace() {
        let object = pool_object(
            PoolApi::V1,
            "llm",
            "pool",
            &[("app", "llama"), ("tier", "gpu")],
            "epp",
        );
        let pool = parse(PoolApi::V1, object).expect("a pool");
        let superset = labels(&[("app", "llama"), ("tier", "gpu"), ("variant", "h100")]);
        assert!(pool.selects("llm", &superset));
        assert!(!pool.selects("other", &superset), "other namespace");
        assert!(!pool.selects("llm", &labels(&[("app", "llama")])), "subset");
        assert!(!pool.selects("llm", &labels(&[("app", "llama"), ("tier", "cpu")])));
        let empty = InferencePool {
            selector: BTreeMap::new(),
            ..pool
        };
        assert!(!empty.selects("llm", &superset), "empty selector");
    }

    #[tokio::test]
    async fn only_installed_apis_are_watched_and_their_pools_cached() {
        let double = wva_kube_double::KubeDouble::start().await;
        double.create(crd(PoolApi::V1Alpha2)).expect("CRD");
        double
            .create(pool_object(
                PoolApi::V1Alpha2,
                "default",
                "old",
                &[("app", "a")],
                "old-epp",
            ))
            .expect("pool");
        let scope = Scope::new(None, Some("default"));
        let (caches, stream) = watch(&double.client(), &scope).await;
        assert_eq!(caches.apis(), [PoolApi::V1Alpha2]);
        let driver = tokio::spawn(stream.for_each(|()| async {}));
        caches.wait_until_ready().await.expect("synced");
        let pools = caches.pools();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].key(), "default/old");
        assert_eq!(pools[0].picker_service, "old-epp");
        driver.abort();
    }
}
