//! Startup wiring: resolve the configuration (flags, env, the main ConfigMap read once,
//! defaults), check Prometheus, serve probes and metrics, start the watches, campaign for
//! leadership and wait for the caches. Any problem is an [`Error`] and `wva run` exits 1.

use super::context::{Context, State};
use super::events::Events;
use super::triggers::{self, Trigger};
use super::wake::Gateway;
use crate::config;
use crate::epp::EppSource;
use crate::error::Error;
use crate::k8s::caches::{self, GpuInventory};
use crate::k8s::leader::{Campaign, Elector, Timings};
use crate::keys;
use crate::scope::Scope;
use crate::telemetry::{health, metrics_server};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use prometheus::Registry;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use wva_api::config::ScaleFromZeroSource;
use wva_api::config::StaticConfig;
use wva_api::crd::VariantAutoscaling;
use wva_api::metrics::{MetricSet, WvaMetrics};
use wva_api::params::Sources;
use wva_collector::Collector;

/// A started controller: what it works with, and the channels that drive it.
pub struct Started {
    /// The effect handles.
    pub ctx: Context,
    /// The initial state.
    pub state: State,
    /// Triggers from the watches.
    pub triggers: mpsc::UnboundedReceiver<Trigger>,
    /// True while this replica leads (always true without leader election).
    pub leading: watch::Receiver<bool>,
    /// Set to true to stop the servers and the campaign.
    pub stop: watch::Sender<bool>,
    /// The leader election campaign and the time it may take to release the Lease.
    pub campaign: Option<(Campaign, Duration)>,
}

/// Starts everything the controller loop needs.
pub async fn start(mut startup: Sources) -> Result<Started, Error> {
    let rest_timeout = StaticConfig::REST_CLIENT_TIMEOUT
        .resolve(&startup)
        .map_err(|source| Error::Config { source })?;
    let (namespace, cm_name) = config::config_map_location(&startup);
    let main_config_map: ObjectRef<ConfigMap> = ObjectRef::new(&cm_name).within(&namespace);
    let client = crate::k8s::client::client(rest_timeout).await?;
    startup.config_map = read_main_config_map(&client, &main_config_map).await?;
    let config = config::load(&startup).map_err(|source| Error::Config { source })?;
    for warning in config.inert_warnings() {
        tracing::warn!("{warning}");
    }
    let s = &config.static_config;
    let collector = collector(s)?;
    tracing::info!(url = %collector.base_url(), "Checking Prometheus connectivity");
    collector
        .check_connectivity()
        .await
        .map_err(|source| Error::PrometheusUnreachable { source })?;

    let registry = Registry::new();
    let metrics = WvaMetrics::register(&registry, s.controller_instance.as_deref())
        .map_err(|source| Error::RegisterMetrics { source })?;
    let (stop, stop_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = watch::channel(Err("caches are not synced yet".to_string()));
    if let Some(addr) = s.health_probe_bind_address.socket_addr() {
        tokio::spawn(health::serve(
            health::bind(addr).await?,
            ready_rx,
            stop_rx.clone(),
        ));
    }
    if let Some(addr) = s.metrics_bind_address.socket_addr() {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Listen {
                key: "METRICS_BIND_ADDRESS",
                addr,
                source,
            })?;
        let (tls, access) = if s.metrics_secure {
            let tls = metrics_server::tls_config(
                s.metrics_cert_path.as_deref(),
                &s.metrics_cert_name,
                &s.metrics_cert_key,
                s.enable_http2,
            )?;
            (
                Some(tls),
                metrics_server::Access::Reviewed(metrics_server::Reviewer::new(client.clone())),
            )
        } else {
            (None, metrics_server::Access::Open)
        };
        tokio::spawn(metrics_server::serve(
            listener,
            tls,
            access,
            registry.clone(),
            stop_rx.clone(),
        ));
    }

    let scope = Scope::new(
        s.controller_instance.as_deref(),
        s.watch_namespace.as_deref(),
    );
    let gpu_inventory = if s.wva_limited_mode {
        tracing::info!(
            "Limited mode: watching Nodes and Pods for the GPU inventory; scale-ups are bounded by free GPUs per accelerator type"
        );
        GpuInventory::Watch
    } else {
        GpuInventory::Off
    };
    let discovery = s.wva_discovery;
    if discovery.reads_vas() {
        let vas: Api<VariantAutoscaling> = caches::scoped(&client, &scope);
        crate::k8s::crd::wait_until_installed(&vas, &ready_tx).await;
    }
    let (mut caches, mut streams) = caches::watch(&client, &scope, &namespace, gpu_inventory);
    if !discovery.reads_vas() {
        crate::discovery::watch::without_vas(&mut caches, &mut streams);
    }
    let (trigger_tx, triggers) = mpsc::unbounded_channel();
    triggers::spawn(streams, trigger_tx, main_config_map.clone());
    let (leading, campaign) = campaign(&client, &namespace, s, stop_rx);
    let gateway = gateway(&client, &scope, s).await?;
    let annotated = if discovery.reads_annotations() {
        let watches = crate::discovery::watch::watch(&client, &scope)
            .await
            .map_err(|source| Error::CachesNotSynced { source })?;
        Some(watches)
    } else {
        None
    };
    caches
        .wait_until_ready()
        .await
        .map_err(|source| Error::CachesNotSynced { source })?;
    drop(ready_tx.send_replace(Ok(())));
    tracing::info!("Caches synced; controller ready");

    let ctx = Context {
        events: Events::new(client.clone(), std::env::var("HOSTNAME").ok()),
        client,
        caches,
        collector,
        gateway,
        metrics,
        scope,
        main_config_map,
        startup,
        discovery: annotated,
    };
    Ok(Started {
        ctx,
        state: State::new(config),
        triggers,
        leading,
        stop,
        campaign,
    })
}

/// The Prometheus collector of the configuration.
pub fn collector(config: &StaticConfig) -> Result<Collector, Error> {
    Collector::new(config::collector_settings(config)).map_err(|source| Error::Collector { source })
}

/// Where scale-from-zero reads the gateway queue: Prometheus, or (`SCALE_FROM_ZERO_SOURCE=epp`)
/// the endpoint picker of each InferencePool, whose watches start here.
async fn gateway(client: &Client, scope: &Scope, s: &StaticConfig) -> Result<Gateway, Error> {
    if s.scale_from_zero_source == ScaleFromZeroSource::Prometheus {
        return Ok(Gateway::Prometheus);
    }
    let (pools, stream) = crate::k8s::pools::watch(client, scope).await;
    tokio::spawn(stream.for_each(|()| async {}));
    pools
        .wait_until_ready()
        .await
        .map_err(|source| Error::CachesNotSynced { source })?;
    let source = EppSource::new(
        client.clone(),
        pools,
        s.scale_from_zero_epp_token_path.as_deref(),
    )
    .map_err(|source| Error::Epp { source })?;
    Ok(Gateway::Epp(Box::new(source)))
}

/// Starts the leader election campaign when `LEADER_ELECT` is set; the receiver says whether
/// this replica leads (always true without election).
fn campaign(
    client: &Client,
    namespace: &str,
    s: &StaticConfig,
    stop: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, Option<(Campaign, Duration)>) {
    let (leading_tx, leading) = watch::channel(!s.leader_elect);
    if !s.leader_elect {
        return (leading, None);
    }
    let timings = Timings {
        lease_duration: s.leader_election_lease_duration,
        renew_deadline: s.leader_election_renew_deadline,
        retry_period: s.leader_election_retry_period,
    };
    let identity = std::env::var("HOSTNAME").unwrap_or_else(|_| "wva".into())
        + "_"
        + &std::process::id().to_string();
    let elector = Elector::new(
        Api::namespaced(client.clone(), namespace),
        &s.leader_election_id,
        &identity,
        timings,
    );
    (
        leading,
        Some((elector.spawn(leading_tx, stop), timings.renew_deadline)),
    )
}

/// Reads the main ConfigMap once at startup; a missing one is fine, an unreadable one is not.
async fn read_main_config_map(
    client: &Client,
    config_map: &ObjectRef<ConfigMap>,
) -> Result<BTreeMap<String, String>, Error> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), keys::namespace(config_map));
    match api.get_opt(&config_map.name).await {
        Ok(Some(cm)) => Ok(cm.data.unwrap_or_default()),
        Ok(None) => {
            tracing::info!(configmap = %keys::display(config_map), "Main ConfigMap not found; using flags, env and defaults");
            Ok(BTreeMap::new())
        }
        Err(source) => Err(Error::ReadMainConfigMap {
            config_map: keys::display(config_map).to_string(),
            source,
        }),
    }
}

/// The configuration a test controller runs with: defaults, and a Prometheus URL that is
/// never queried.
#[cfg(test)]
pub(crate) fn test_config() -> config::Config {
    let sources = Sources {
        env: BTreeMap::from([(
            "PROMETHEUS_BASE_URL".to_string(),
            "https://prometheus.invalid:9090".to_string(),
        )]),
        ..Sources::default()
    };
    config::load(&sources).expect("the test configuration is valid")
}
