//! Caches of kinds served by a CustomResourceDefinition that may be missing (LeaderWorkerSets):
//! the kind is watched from the moment its CRD exists, at startup or installed later, without a
//! restart. Until then the cache is empty and ready, so the controller does not wait for a kind
//! the cluster does not have.
//!
//! The CRD itself is watched by name (a field selector; no polling, so a steady cycle still
//! makes no API reads); once it appears, that watch ends and the kind's own watch starts. A CRD
//! deleted later makes the kind's watch fail and retry with backoff, like any watch.

use super::caches::reflect;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;
use tokio::sync::watch;

/// The cache of a kind whose CRD may be missing.
#[derive(Clone)]
pub struct OptionalCache<K: Resource + Clone + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    settled: watch::Receiver<bool>,
}

impl<K> OptionalCache<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    /// A cache that is ready as `store` is (tests fill the store through its writer).
    pub fn new(store: Store<K>) -> Self {
        OptionalCache {
            store,
            settled: watch::channel(true).1,
        }
    }

    /// The objects cached (none while the CRD is missing).
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Returns once the CRD is known to be missing, or the cache has its initial list.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        let mut settled = self.settled.clone();
        if settled.wait_for(|s| *s).await.is_err() {
            // The watch ended before settling: only the store can say.
            return self.store.wait_until_ready().await;
        }
        Ok(())
    }
}

/// Watches `api` (kind `kind`, served by the CRD `crd_name`) once that CRD exists. The stream
/// keeps the cache current and must be driven; objects pass through `modify` before they are
/// cached. Logs once when the CRD is missing and when the kind's watch starts.
pub fn watch<K>(
    client: &Client,
    api: Api<K>,
    crd_name: &'static str,
    modify: impl FnMut(&mut K) + Send + 'static,
) -> (
    OptionalCache<K>,
    BoxStream<'static, watcher::Result<Event<K>>>,
)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let (settled_tx, settled) = watch::channel(false);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let installed = wait_for_crd(crds, crd_name, settled_tx.clone());
    let (store, objects) = reflect(api, watcher::Config::default(), modify);
    let objects = objects.inspect_ok(move |event| {
        if matches!(event, Event::InitDone) {
            settled_tx.send_replace(true);
        }
    });
    let stream = futures::stream::once(async move {
        installed.await;
        tracing::info!(
            crd = crd_name,
            "Watching {}",
            K::plural(&Default::default())
        );
        objects
    })
    .flatten()
    .boxed();
    (OptionalCache { store, settled }, stream)
}

/// Returns once the CRD `name` exists. While it does not, `settled` says so (the cache is
/// ready, empty); a CRD watch that fails (no permission to read CRDs) settles it too, with a
/// warning naming the fix, and is retried with backoff.
async fn wait_for_crd(
    crds: Api<CustomResourceDefinition>,
    name: &'static str,
    settled: watch::Sender<bool>,
) {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(crds, config).default_backoff().boxed();
    let mut warned = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(_) | Event::InitApply(_)) => return,
            Ok(Event::InitDone) => {
                if !settled.send_replace(true) {
                    tracing::info!(
                        crd = name,
                        "CRD {name} is not installed: its kind is not watched until it is (no restart needed)"
                    );
                }
            }
            Ok(_) => {}
            Err(error) => {
                settled.send_replace(true);
                if !warned {
                    warned = true;
                    tracing::warn!(crd = name, %error, "Could not watch CRD {name}; retrying with backoff. Grant get, list and watch on customresourcedefinitions (the chart does)");
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::target::lws::{CRD_NAME, LeaderWorkerSet};
    use serde_json::json;
    use std::time::Duration;

    /// The CRD of LeaderWorkerSets, minimal, for the API double.
    pub(crate) fn lws_crd() -> serde_json::Value {
        wva_testkit::open_crd(
            "leaderworkerset.x-k8s.io",
            "v1",
            "LeaderWorkerSet",
            "leaderworkersets",
            true,
        )
    }

    fn lws(name: &str) -> serde_json::Value {
        json!({
            "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 2, "workerTemplate": {"spec": {"containers": [{"name": "vllm"}]}}}}
        })
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..100 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out: {what}");
    }

    /// Watches the LeaderWorkerSets of `double` in the background; returns once the cache is
    /// ready.
    async fn watched_until_ready(
        double: &wva_kube_double::KubeDouble,
    ) -> (OptionalCache<LeaderWorkerSet>, tokio::task::JoinHandle<()>) {
        let client = double.client();
        let api: Api<LeaderWorkerSet> = Api::namespaced(client.clone(), "default");
        let (cache, stream) = watch(&client, api, CRD_NAME, |_: &mut LeaderWorkerSet| {});
        let driver = tokio::spawn(stream.for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(5), cache.wait_until_ready())
            .await
            .expect("ready within 5s")
            .expect("writer alive");
        (cache, driver)
    }

    #[tokio::test]
    async fn a_missing_crd_is_ready_and_empty_and_one_installed_later_is_watched() {
        let double = wva_kube_double::KubeDouble::start().await;
        let (cache, driver) = watched_until_ready(&double).await;
        assert!(cache.store().state().is_empty());
        assert_eq!(double.request_count("list", "leaderworkersets"), 0);

        double.create(lws_crd()).expect("CRD");
        double.create(lws("big")).expect("LWS");
        eventually("the LWS cached", || cache.store().state().len() == 1).await;
        assert_eq!(cache.store().state()[0].size(), 2);
        driver.abort();
    }

    #[tokio::test]
    async fn an_installed_crd_is_ready_once_listed() {
        let double = wva_kube_double::KubeDouble::start().await;
        double.create(lws_crd()).expect("CRD");
        double.create(lws("big")).expect("LWS");
        let (cache, driver) = watched_until_ready(&double).await;
        assert_eq!(cache.store().state().len(), 1, "listed before ready");
        driver.abort();
    }
}
