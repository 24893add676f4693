//! The collector's errors: configuration problems found at startup ([`CollectorError`]) and
//! failed queries ([`QueryError`]), which a cycle reports per signal.

use std::path::PathBuf;
use std::time::Duration;

/// Why the collector could not be built or Prometheus could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// `PROMETHEUS_BASE_URL` is not an absolute `http(s)://host[:port][/path]` URL.
    #[error("PROMETHEUS_BASE_URL {url:?} is not a valid URL: {reason}")]
    InvalidUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `PROMETHEUS_BASE_URL` is `http://` and plain HTTP was not allowed.
    #[error(
        "PROMETHEUS_BASE_URL {url:?} uses plain http://, which sends queries and the bearer token \
         unencrypted; use an https:// URL, or set PROMETHEUS_ALLOW_HTTP=true to allow it"
    )]
    PlainHttpRefused {
        /// The configured URL.
        url: String,
    },
    /// A configured file could not be read.
    #[error("cannot read {key} file {path}: {source}")]
    ReadFile {
        /// The parameter naming the file.
        key: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file holds no usable PEM data.
    #[error("{key} file {path} is not usable: {reason}")]
    Pem {
        /// The parameter naming the file.
        key: &'static str,
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Only one of the client certificate and key is set.
    #[error(
        "mutual TLS needs both PROMETHEUS_CLIENT_CERT_PATH and PROMETHEUS_CLIENT_KEY_PATH; only {set} is set"
    )]
    IncompleteClientCertificate {
        /// The parameter that is set.
        set: &'static str,
    },
    /// `PROMETHEUS_SERVER_NAME` is neither a DNS name nor an IP address.
    #[error("PROMETHEUS_SERVER_NAME {name:?} is not a valid DNS name or IP address")]
    InvalidServerName {
        /// The configured name.
        name: String,
    },
    /// The bearer token is empty or cannot be sent in an HTTP header.
    #[error("{key}: {reason}")]
    InvalidToken {
        /// The parameter holding or naming the token.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS configuration was rejected (e.g. the client certificate does not match its key).
    #[error("TLS configuration for Prometheus rejected: {0}")]
    Tls(String),
    /// The HTTP client could not be built.
    #[error("building the Prometheus HTTP client failed: {0}")]
    Client(String),
    /// The startup connectivity check failed on every attempt.
    #[error("Prometheus at {url} is unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// How many `up` queries were tried.
        attempts: u32,
        /// The last failure.
        #[source]
        last: QueryError,
    },
}

impl CollectorError {
    /// A low-cardinality label for error metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            CollectorError::InvalidUrl { .. } | CollectorError::PlainHttpRefused { .. } => "url",
            CollectorError::ReadFile { .. }
            | CollectorError::Pem { .. }
            | CollectorError::IncompleteClientCertificate { .. }
            | CollectorError::InvalidServerName { .. }
            | CollectorError::Tls(_) => "tls",
            CollectorError::InvalidToken { .. } => "token",
            CollectorError::Client(_) => "client",
            CollectorError::Unreachable { .. } => "unreachable",
        }
    }
}

/// One failed Prometheus query, after its retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Prometheus query `{query}` to {url} failed after {attempts} attempt(s): {failure}")]
pub struct QueryError {
    /// The endpoint queried (`<base>/api/v1/query`).
    pub url: String,
    /// The PromQL text.
    pub query: String,
    /// HTTP requests made for this query.
    pub attempts: u32,
    /// The last failure.
    pub failure: QueryFailure,
}

impl QueryError {
    /// A low-cardinality label for error metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        self.failure.metric_label()
    }
}

/// What went wrong with one HTTP request of a query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryFailure {
    /// No complete answer within the per-query timeout.
    #[error("timed out after {0:?} (PROMETHEUS_QUERY_TIMEOUT)")]
    Timeout(Duration),
    /// Connecting, TLS or the transfer failed; the text is the whole error chain.
    #[error("{0}")]
    Transport(String),
    /// Prometheus answered with a non-success HTTP status.
    #[error("HTTP {status}: {detail}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// Prometheus' `errorType: error`, or the start of the body.
        detail: String,
    },
    /// The answer could not be read as a Prometheus API response.
    #[error("unreadable response: {0}")]
    Decode(String),
    /// The answer was not an instant vector.
    #[error("expected a vector result, got {0:?}")]
    ResultType(String),
    /// The bearer token file could not be read.
    #[error("{0}")]
    Token(String),
}

impl QueryFailure {
    /// Whether another attempt may succeed: timeouts, transport errors and HTTP 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            QueryFailure::Timeout(_) | QueryFailure::Transport(_) => true,
            QueryFailure::Status { status, .. } => *status >= 500,
            QueryFailure::Decode(_) | QueryFailure::ResultType(_) | QueryFailure::Token(_) => false,
        }
    }

    /// A low-cardinality label for error metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            QueryFailure::Timeout(_) => "timeout",
            QueryFailure::Transport(_) => "transport",
            QueryFailure::Status { .. } => "http_status",
            QueryFailure::Decode(_) | QueryFailure::ResultType(_) => "decode",
            QueryFailure::Token(_) => "token",
        }
    }
}
