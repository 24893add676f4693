//! The controller's errors: what stops `wva run` at startup, and what a reconcile reports.
//!
//! Every message names the object or parameter it is about. A message also carries the text
//! of the error it wraps (the caller prints only the top-level message), and the wrapped error
//! stays reachable as its `source`. [`Error::metric_label`] gives a short, fixed label per
//! kind, for logs and counters.

use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_rustls::rustls;
use wva_api::params::LoadError;
use wva_collector::CollectorError;

/// Everything that can go wrong in the controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration (flags, env, main ConfigMap, defaults) is incomplete or invalid.
    #[error("{source}")]
    Config {
        /// The problems, each naming its parameter.
        #[source]
        source: LoadError,
    },
    /// No kubeconfig and no in-cluster configuration could be used.
    #[error(
        "cannot find Kubernetes credentials (KUBECONFIG, ~/.kube/config or in-cluster): {source}"
    )]
    KubeConfig {
        /// Why inferring the configuration failed.
        #[source]
        source: kube::config::InferConfigError,
    },
    /// The Kubernetes client could not be built from the configuration found.
    #[error("cannot build a Kubernetes client for {cluster}: {source}")]
    KubeClient {
        /// The API server URL.
        cluster: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The main ConfigMap exists but could not be read.
    #[error(
        "cannot read the main ConfigMap {config_map} (CONFIG_MAP_NAME in POD_NAMESPACE): {source}"
    )]
    ReadMainConfigMap {
        /// `namespace/name` of the ConfigMap.
        config_map: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The Prometheus settings are unusable (URL, TLS files, token).
    #[error("{source}")]
    Collector {
        /// The problem, naming its parameter.
        #[source]
        source: CollectorError,
    },
    /// Prometheus did not answer the startup connectivity check.
    #[error(
        "CRITICAL: Failed to connect to Prometheus - WVA requires Prometheus connectivity for autoscaling decisions: {source}"
    )]
    PrometheusUnreachable {
        /// The last failure, naming the URL.
        #[source]
        source: CollectorError,
    },
    /// The `wva_*` metrics could not be registered.
    #[error("cannot register metrics: {source}")]
    RegisterMetrics {
        /// The registry error.
        #[source]
        source: prometheus::Error,
    },
    /// A server address could not be bound.
    #[error("cannot listen on {key} {addr}: {source}")]
    Listen {
        /// The parameter giving the address.
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The metrics certificate or key file could not be read.
    #[error("cannot read {keys} {}: {source}", path.display())]
    ReadMetricsCertificate {
        /// The parameters naming the file (`METRICS_CERT_PATH/METRICS_CERT_NAME`, ...).
        keys: &'static str,
        /// The file.
        path: PathBuf,
        /// The PEM error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The metrics certificate and key were rejected together.
    #[error("the metrics certificate and key do not match: {source}")]
    MetricsCertificate {
        /// The TLS error.
        #[source]
        source: rustls::Error,
    },
    /// No self-signed metrics certificate could be generated.
    #[error("cannot generate a self-signed metrics certificate: {source}")]
    SelfSignedCertificate {
        /// The generator's error.
        #[source]
        source: rcgen::Error,
    },
    /// The generated self-signed key is not usable.
    #[error("cannot use the self-signed key: {reason}")]
    SelfSignedKey {
        /// Why the key was refused.
        reason: &'static str,
    },
    /// A watch ended before its cache held the initial list.
    #[error("the caches stopped before syncing: {source}")]
    CachesNotSynced {
        /// The reflector's error.
        #[source]
        source: kube::runtime::reflector::store::WriterDropped,
    },
    /// `SCALE_FROM_ZERO_SOURCE=epp` cannot read the endpoint pickers (the token file).
    #[error("SCALE_FROM_ZERO_SOURCE=epp: {source}")]
    Epp {
        /// What is wrong and how to fix it.
        #[source]
        source: crate::epp::EppError,
    },
    /// A signal handler (SIGTERM, SIGINT) could not be installed.
    #[error("cannot install a signal handler: {source}")]
    Signal {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The status of a VA could not be written; the VA is requeued with backoff.
    #[error("cannot write the status of VariantAutoscaling {va}: {source}")]
    WriteStatus {
        /// `namespace/name` of the VA.
        va: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// A short, fixed label for the kind of error (a bounded set of values, safe as a metric
    /// label or log field).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::KubeConfig { .. } | Error::KubeClient { .. } => "kubernetes_client",
            Error::ReadMainConfigMap { .. } => "main_configmap",
            Error::Collector { .. } => "collector_settings",
            Error::PrometheusUnreachable { .. } => "prometheus_unreachable",
            Error::RegisterMetrics { .. } => "metrics_registry",
            Error::Listen { .. } => "listen",
            Error::ReadMetricsCertificate { .. }
            | Error::MetricsCertificate { .. }
            | Error::SelfSignedCertificate { .. }
            | Error::SelfSignedKey { .. } => "metrics_certificate",
            Error::CachesNotSynced { .. } => "caches",
            Error::Epp { .. } => "epp_source",
            Error::Signal { .. } => "signal",
            Error::WriteStatus { .. } => "status_write",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn messages_name_the_object_and_keep_the_source() {
        let error = Error::Listen {
            key: "METRICS_BIND_ADDRESS",
            addr: "127.0.0.1:8443".parse().expect("address"),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            error.to_string(),
            "cannot listen on METRICS_BIND_ADDRESS 127.0.0.1:8443: address in use"
        );
        assert!(error.source().is_some());
        assert_eq!(error.metric_label(), "listen");
    }
}
