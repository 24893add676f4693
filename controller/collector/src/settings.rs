//! The collector's settings.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the collector needs to reach Prometheus. The controller builds it from the loaded
/// configuration (`wva_controller::config::collector_settings`), so every value and default
/// comes from the parameter table; each field names the parameter it comes from.
#[derive(Clone, PartialEq)]
pub struct CollectorSettings {
    /// `PROMETHEUS_BASE_URL`, e.g. `https://prometheus:9090` (a path prefix is kept).
    pub base_url: String,
    /// `PROMETHEUS_ALLOW_HTTP`: accept a plain `http://` base URL.
    pub allow_http: bool,
    /// `PROMETHEUS_TLS_INSECURE_SKIP_VERIFY`: accept any server certificate.
    pub insecure_skip_verify: bool,
    /// `PROMETHEUS_CA_CERT_PATH`: PEM bundle of CAs trusted for the server (otherwise the
    /// system's CAs, or Mozilla's when the system has none).
    pub ca_cert_path: Option<PathBuf>,
    /// `PROMETHEUS_CLIENT_CERT_PATH`: PEM client certificate chain for mutual TLS.
    pub client_cert_path: Option<PathBuf>,
    /// `PROMETHEUS_CLIENT_KEY_PATH`: PEM private key of the client certificate.
    pub client_key_path: Option<PathBuf>,
    /// `PROMETHEUS_SERVER_NAME`: the name the server certificate must carry, instead of the
    /// URL's host.
    pub server_name: Option<String>,
    /// `PROMETHEUS_BEARER_TOKEN`: the token, with or without a `Bearer ` prefix.
    pub bearer_token: Option<String>,
    /// `PROMETHEUS_TOKEN_PATH`: a file holding the token, re-read for every query (rotation).
    pub token_path: Option<PathBuf>,
    /// `PROMETHEUS_QUERY_TIMEOUT`: limit of one HTTP request.
    pub query_timeout: Duration,
    /// `PROMETHEUS_QUERY_RETRIES`: further attempts after a retryable failure.
    pub query_retries: u32,
    /// `PROMETHEUS_RETRY_BACKOFF`: wait before the first retry; doubles each time.
    pub retry_backoff: Duration,
    /// `PROMETHEUS_STARTUP_CHECK_RETRIES`: further `up` attempts at startup.
    pub startup_check_retries: u32,
}

/// The longest wait between two connectivity-check attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl CollectorSettings {
    /// The wait before retry number `retry` (0-based): the backoff doubled `retry` times,
    /// capped at [`MAX_BACKOFF`].
    pub fn backoff(&self, retry: u32) -> Duration {
        self.retry_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(MAX_BACKOFF)
    }
}

impl std::fmt::Debug for CollectorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorSettings")
            .field("base_url", &self.base_url)
            .field("allow_http", &self.allow_http)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("ca_cert_path", &self.ca_cert_path)
            .field("client_cert_path", &self.client_cert_path)
            .field("client_key_path", &self.client_key_path)
            .field("server_name", &self.server_name)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("token_path", &self.token_path)
            .field("query_timeout", &self.query_timeout)
            .field("query_retries", &self.query_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("startup_check_retries", &self.startup_check_retries)
            .finish()
    }
}
