//! The watches of annotated objects (`WVA_DISCOVERY` `annotations` or `both`), limited to the
//! watched namespace if one is set:
//!
//! * HPAs (`autoscaling/v2`), always: startup waits for their first list;
//! * KEDA ScaledObjects (`keda.sh/v1alpha1`), only once their CRD exists: when it is missing
//!   at startup it is looked for again after 1s, 2s, 4s ... up to every 60s, and a CRD
//!   installed later is watched from then on, without a restart.
//!
//! Objects are cached without managed fields and status.

use super::source::{SCALED_OBJECT_CRD, Source, scaled_object_resource};
use crate::k8s::caches::{Caches, Streams, scoped};
use crate::k8s::crd::next_delay;
use crate::scope::Scope;
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{DynamicObject, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use std::time::Duration;

/// The caches of annotated objects.
#[derive(Clone)]
pub struct Watches {
    hpas: Store<HorizontalPodAutoscaler>,
    scaled_objects: Store<DynamicObject>,
}

impl Watches {
    /// Caches read from these stores (tests fill them through their writers).
    pub fn new(hpas: Store<HorizontalPodAutoscaler>, scaled_objects: Store<DynamicObject>) -> Self {
        Watches {
            hpas,
            scaled_objects,
        }
    }

    /// Every cached HPA and ScaledObject, read as a [`Source`] (no API call).
    pub fn sources(&self) -> Vec<Source> {
        let hpas = self.hpas.state();
        let scaled_objects = self.scaled_objects.state();
        hpas.iter()
            .map(|h| Source::from_hpa(h))
            .chain(scaled_objects.iter().map(|o| Source::from_scaled_object(o)))
            .collect()
    }
}

/// The first and the longest wait between two looks for the ScaledObject CRD.
const FIRST_DELAY: Duration = Duration::from_secs(1);

/// Starts the watches (each in a task of its own) and returns once the HPAs, and the
/// ScaledObjects when their CRD is installed now, are listed.
pub async fn watch(
    client: &Client,
    scope: &Scope,
) -> Result<Watches, reflector::store::WriterDropped> {
    let (hpas, hpa_writer) = reflector::store();
    let hpa_api: Api<HorizontalPodAutoscaler> = scoped(client, scope);
    tokio::spawn(drive(
        "HorizontalPodAutoscaler",
        watcher(hpa_api, watcher::Config::default())
            .default_backoff()
            .modify(|hpa: &mut HorizontalPodAutoscaler| {
                hpa.managed_fields_mut().clear();
                hpa.status = None;
            })
            .reflect(hpa_writer),
    ));
    tracing::info!("Discovery: watching HorizontalPodAutoscalers annotated llm-d.ai/managed");

    let resource = scaled_object_resource();
    let api: Api<DynamicObject> = match &scope.watch_namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let writer = reflector::store::Writer::new(resource);
    let scaled_objects = writer.as_reader();
    let installed = crd_installed(&api).await;
    let task = async move {
        if !installed {
            tracing::info!(
                crd = SCALED_OBJECT_CRD,
                "KEDA's ScaledObject CRD ({SCALED_OBJECT_CRD}) is not installed: ScaledObjects are watched as soon as it is"
            );
            let mut delay = FIRST_DELAY;
            while !crd_installed(&api).await {
                tokio::time::sleep(delay).await;
                delay = next_delay(delay);
            }
        }
        tracing::info!("Discovery: watching KEDA ScaledObjects annotated llm-d.ai/managed");
        drive(
            "ScaledObject",
            watcher(api, watcher::Config::default())
                .default_backoff()
                .modify(|object: &mut DynamicObject| {
                    object.managed_fields_mut().clear();
                    if let Some(data) = object.data.as_object_mut() {
                        data.remove("status");
                    }
                })
                .reflect(writer),
        )
        .await;
    };
    tokio::spawn(task);
    hpas.wait_until_ready().await?;
    if installed {
        scaled_objects.wait_until_ready().await?;
    }
    Ok(Watches::new(hpas, scaled_objects))
}

/// `WVA_DISCOVERY=annotations`: VariantAutoscalings are neither watched nor needed. The VA
/// cache stays empty (and counts as listed) and its watch, never polled, makes no request.
pub fn without_vas(caches: &mut Caches, streams: &mut Streams) {
    let (vas, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    writer.apply_watcher_event(&watcher::Event::InitDone);
    caches.vas = vas;
    streams.vas = futures::stream::empty().boxed();
}

/// False when listing through `api` answers 404 (the CRD is missing); any other error is
/// the watch's to log and retry.
async fn crd_installed(api: &Api<DynamicObject>) -> bool {
    !matches!(
        api.list_metadata(&ListParams::default().limit(1)).await,
        Err(kube::Error::Api(status)) if status.code == 404
    )
}

/// Drives a watch of `kind` objects; errors are logged (the watcher retries with backoff).
async fn drive<K>(kind: &'static str, stream: impl futures::Stream<Item = watcher::Result<K>>) {
    stream
        .for_each(|event| {
            if let Err(error) = event {
                tracing::warn!(%error, "{kind} watch error; retrying with backoff");
            }
            async {}
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> serde_json::Value {
        wva_testkit::open_crd(
            "keda.sh",
            "v1alpha1",
            "ScaledObject",
            "scaledobjects",
            false,
        )
    }

    /// A ScaledObject CRD installed after startup is watched without a restart, and HPAs are
    /// listed before `watch` returns.
    #[tokio::test]
    async fn a_scaled_object_crd_installed_later_is_picked_up() {
        let double = wva_kube_double::KubeDouble::start().await;
        double
            .create(json!({
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "llama", "namespace": "default"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama"}, "maxReplicas": 4}
            }))
            .expect("hpa");
        let scope = Scope::new(None, Some("default"));
        let watches = watch(&double.client(), &scope).await.expect("listed");
        let names = |w: &Watches| -> Vec<String> {
            let mut names: Vec<String> = w
                .sources()
                .into_iter()
                .map(|s| s.key().to_string())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(&watches), ["HorizontalPodAutoscaler default/llama"]);

        double.create(crd()).expect("CRD");
        double
            .create(json!({
                "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                "metadata": {"name": "chat", "namespace": "default"},
                "spec": {"scaleTargetRef": {"name": "chat"}}
            }))
            .expect("scaled object");
        let start = std::time::Instant::now();
        while names(&watches).len() < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the ScaledObject was not picked up: {:?}",
                names(&watches)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            names(&watches),
            [
                "HorizontalPodAutoscaler default/llama",
                "ScaledObject default/chat"
            ]
        );
    }
}
