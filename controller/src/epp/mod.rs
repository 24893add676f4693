//! The gateway queue read straight from the endpoint pickers (EPPs) of the InferencePools
//! (`SCALE_FROM_ZERO_SOURCE=epp`).
//!
//! For the models at zero, [`EppSource::read`] finds the pools that serve them (same
//! namespace, selector included in the pod template labels of one of the model's variants),
//! scrapes each such pool's EPP once at `http://<service>.<namespace>.svc:<metrics port>/metrics`
//! with the bearer token, and sums `inference_extension_flow_control_queue_size` by
//! `target_model_name`. The metrics port is the EPP Service's port whose name contains
//! `metric`; it is looked up with one GET per pool and kept until the pool changes or a scrape
//! of it fails, so the API calls of a check do not grow with the number of models.
//!
//! Unknown is not zero: a model no pool serves, or one whose pool could not be scraped, is
//! absent from the result; a model whose pools were all scraped and that has no series there
//! has a queue of 0.

mod error;
pub mod exposition;
pub mod scrape;
pub mod service;

pub use error::{EppError, PoolFailure};
pub use scrape::ScrapeFailure;

use crate::k8s::pools::{InferencePool, PoolCaches};
use futures::future::join_all;
use hyper::header::HeaderValue;
use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

/// The token sent when `SCALE_FROM_ZERO_EPP_TOKEN_PATH` is unset or empty.
pub const DEFAULT_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The EPP's queue gauge.
pub const QUEUE_METRIC: &str = "inference_extension_flow_control_queue_size";

/// The label of [`QUEUE_METRIC`] holding the model ID.
pub const MODEL_LABEL: &str = "target_model_name";

/// A model whose variants are all at zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DormantModel {
    /// The namespace of its VAs.
    pub namespace: String,
    /// The model ID (`spec.modelID`), matched against `target_model_name`.
    pub model_id: String,
    /// The pod template labels of each variant's Deployment.
    pub pod_labels: Vec<BTreeMap<String, String>>,
}

/// The outcome of one read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EppReading {
    /// Gateway queue per (namespace, model ID), for the models whose every serving pool was
    /// scraped (summed over those pools).
    pub queues: HashMap<(String, String), f64>,
    /// One error per pool that failed (its models are absent from `queues`), or the token
    /// error alone.
    pub errors: Vec<EppError>,
}

/// Where a pool's EPP metrics are, as of one version of the pool.
#[derive(Debug, Clone)]
struct Target {
    resource_version: String,
    host: String,
    port: u16,
}

/// Reads the gateway queue from the EPPs.
pub struct EppSource {
    client: Client,
    pools: PoolCaches,
    token_path: PathBuf,
    host: fn(&str, &str) -> String,
    timeout: std::time::Duration,
    targets: Mutex<HashMap<String, Target>>,
}

impl EppSource {
    /// A source reading the pools in `pools` (see [`crate::k8s::pools::watch`]), Services
    /// through `client`, and the token from `token_path` (`SCALE_FROM_ZERO_EPP_TOKEN_PATH`;
    /// `None` or empty: [`DEFAULT_TOKEN_PATH`]). The token is checked now, so a wrong path
    /// stops the controller at startup, and read again at every check (rotation).
    pub fn new(
        client: Client,
        pools: PoolCaches,
        token_path: Option<&str>,
    ) -> Result<Self, EppError> {
        let token_path = PathBuf::from(
            token_path
                .filter(|p| !p.is_empty())
                .unwrap_or(DEFAULT_TOKEN_PATH),
        );
        read_token(&token_path)?;
        Ok(EppSource {
            client,
            pools,
            token_path,
            host: cluster_dns,
            timeout: scrape::TIMEOUT,
            targets: Mutex::new(HashMap::new()),
        })
    }

    /// The same source resolving every EPP Service to `host` (tests serve the EPPs locally),
    /// each scrape bounded by `timeout`.
    #[cfg(test)]
    pub(crate) fn local(
        mut self,
        host: fn(&str, &str) -> String,
        timeout: std::time::Duration,
    ) -> Self {
        self.host = host;
        self.timeout = timeout;
        self
    }

    /// The gateway queue of `models`: the EPP of each pool serving one of them is scraped
    /// once, concurrently (pools sharing an EPP Service, such as the same pool in both APIs,
    /// count once). No pool serving a model: nothing is read.
    pub async fn read(&self, models: &[DormantModel]) -> EppReading {
        let mut pools = self.pools.pools();
        pools.sort_by(|a, b| {
            (&a.namespace, &a.name, &a.api_version).cmp(&(&b.namespace, &b.name, &b.api_version))
        });
        self.forget_removed(&pools);
        // The EPPs serving each model, and for each EPP the first pool naming it.
        let mut first_pool: BTreeMap<(&str, &str), &InferencePool> = BTreeMap::new();
        let serving: Vec<BTreeSet<(&str, &str)>> = models
            .iter()
            .map(|model| {
                pools
                    .iter()
                    .filter(|pool| {
                        model
                            .pod_labels
                            .iter()
                            .any(|labels| pool.selects(&model.namespace, labels))
                    })
                    .map(|pool| {
                        let epp = (pool.namespace.as_str(), pool.picker_service.as_str());
                        first_pool.entry(epp).or_insert(pool);
                        epp
                    })
                    .collect()
            })
            .collect();
        if first_pool.is_empty() {
            return EppReading::default();
        }
        let authorization = match read_token(&self.token_path) {
            Ok(value) => value,
            Err(error) => {
                return EppReading {
                    queues: HashMap::new(),
                    errors: vec![error],
                };
            }
        };
        let authorization = &authorization;
        let scrapes = join_all(
            first_pool
                .iter()
                .map(|(epp, pool)| async move { (*epp, self.scrape(pool, authorization).await) }),
        )
        .await;
        let mut reading = EppReading::default();
        let mut scraped = HashMap::new();
        for (epp, result) in scrapes {
            match result {
                Ok(sums) => {
                    scraped.insert(epp, sums);
                }
                Err(error) => reading.errors.push(error),
            }
        }
        for (model, epps) in models.iter().zip(&serving) {
            // None when one of its EPPs failed; no series on a scraped EPP: nothing queued.
            let queue: Option<f64> = epps
                .iter()
                .map(|epp| {
                    let sums: &HashMap<String, f64> = scraped.get(epp)?;
                    Some(sums.get(&model.model_id).copied().unwrap_or(0.0))
                })
                .sum();
            if let Some(queue) = queue.filter(|_| !epps.is_empty()) {
                let key = (model.namespace.clone(), model.model_id.clone());
                reading.queues.insert(key, queue);
            }
        }
        reading
    }

    /// The queue sums of one pool's EPP.
    async fn scrape(
        &self,
        pool: &InferencePool,
        authorization: &HeaderValue,
    ) -> Result<HashMap<String, f64>, EppError> {
        let failed = |failure| EppError::Pool {
            pool: pool.key(),
            api_version: pool.api_version.clone(),
            failure,
        };
        let target = self.target(pool).await.map_err(failed)?;
        match scrape::get_metrics(&target.host, target.port, authorization, self.timeout).await {
            Ok(body) => Ok(exposition::sum_by_label(&body, QUEUE_METRIC, MODEL_LABEL)),
            Err(cause) => {
                // The Service may have moved: look it up again next time.
                self.lock().remove(&cache_key(pool));
                Err(failed(PoolFailure::Scrape {
                    url: scrape::metrics_url(&target.host, target.port),
                    cause,
                }))
            }
        }
    }

    /// Where `pool`'s EPP metrics are: cached for this version of the pool, else one GET of
    /// its Service.
    async fn target(&self, pool: &InferencePool) -> Result<Target, PoolFailure> {
        if let Some(target) = self.lock().get(&cache_key(pool))
            && target.resource_version == pool.resource_version
        {
            return Ok(target.clone());
        }
        let service_key = format!("{}/{}", pool.namespace, pool.picker_service);
        let api: Api<Service> = Api::namespaced(self.client.clone(), &pool.namespace);
        let service = api
            .get(&pool.picker_service)
            .await
            .map_err(|e| PoolFailure::Service {
                service: service_key.clone(),
                cause: e.to_string(),
            })?;
        let port = service::metrics_port(&service).map_err(|ports| PoolFailure::NoMetricsPort {
            service: service_key,
            ports,
        })?;
        let target = Target {
            resource_version: pool.resource_version.clone(),
            host: (self.host)(&pool.namespace, &pool.picker_service),
            port,
        };
        self.lock().insert(cache_key(pool), target.clone());
        Ok(target)
    }

    /// Drops the targets of pools that no longer exist.
    fn forget_removed(&self, pools: &[InferencePool]) {
        let keys: BTreeSet<String> = pools.iter().map(cache_key).collect();
        self.lock().retain(|key, _| keys.contains(key));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Target>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pool's entry in the target cache: the same name in both APIs is two pools.
fn cache_key(pool: &InferencePool) -> String {
    format!("{} {}", pool.api_version, pool.key())
}

/// `<service>.<namespace>.svc`: the Service routes to the active EPP replica.
fn cluster_dns(namespace: &str, service: &str) -> String {
    format!("{service}.{namespace}.svc")
}

/// The `Authorization` value from the token file: trimmed, one `Bearer ` prefix.
fn read_token(path: &std::path::Path) -> Result<HeaderValue, EppError> {
    let text = std::fs::read_to_string(path).map_err(|e| EppError::Token {
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    wva_collector::authorization_value(&text).map_err(|reason| EppError::Token {
        reason: format!("{reason} (file {})", path.display()),
    })
}

#[cfg(test)]
mod tests;
