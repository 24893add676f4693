//! Why the gateway queue could not be read from an endpoint picker.

use super::scrape::ScrapeFailure;

/// A failed read: the token, or one pool (its models stay unknown).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EppError {
    /// The bearer token file cannot be used; no pool is scraped.
    #[error(
        "cannot use the endpoint pickers' bearer token: {reason}; set SCALE_FROM_ZERO_EPP_TOKEN_PATH to a readable file holding a token (unset or empty: the ServiceAccount token {})",
        super::DEFAULT_TOKEN_PATH
    )]
    Token {
        /// What is wrong with it (never the token itself).
        reason: String,
    },
    /// One pool's endpoint picker could not be found or scraped.
    #[error("InferencePool {pool} ({api_version}): {failure}")]
    Pool {
        /// `namespace/name`.
        pool: String,
        /// `inference.networking.k8s.io/v1`, ...
        api_version: String,
        /// What failed.
        failure: PoolFailure,
    },
}

/// What failed for one pool.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoolFailure {
    /// The endpoint picker's Service could not be read.
    #[error("cannot read its endpoint picker Service {service}: {cause}")]
    Service {
        /// `namespace/name`.
        service: String,
        /// The API error.
        cause: String,
    },
    /// The Service has no port named for metrics.
    #[error(
        "its endpoint picker Service {service} has no metrics port (ports: {ports}); give the EPP's metrics port a name containing \"metric\" (for example `http-metrics`)"
    )]
    NoMetricsPort {
        /// `namespace/name`.
        service: String,
        /// The ports it has, `name:number, ...`.
        ports: String,
    },
    /// The scrape failed.
    #[error("GET {url}: {cause}")]
    Scrape {
        /// The metrics URL.
        url: String,
        /// Why.
        cause: ScrapeFailure,
    },
}
