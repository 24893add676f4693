//! The Prometheus HTTP API client: instant queries over POST, per-query timeout, bounded
//! retries with exponential backoff, bearer token.

use crate::error::{CollectorError, QueryError, QueryFailure};
use crate::response::parse_vector;
use crate::settings::CollectorSettings;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::de::IgnoredAny;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the bearer token comes from.
#[derive(Debug)]
enum Token {
    /// `PROMETHEUS_BEARER_TOKEN`, normalized once.
    Literal(HeaderValue),
    /// `PROMETHEUS_TOKEN_PATH`, read for every request so a rotated token is picked up.
    File(PathBuf),
}

/// The token as the `Authorization` header value: `Bearer <token>`, whatever prefix, case or
/// surrounding whitespace the user wrote.
pub fn authorization_value(raw: &str) -> Result<HeaderValue, String> {
    let mut token = raw.trim();
    loop {
        let prefixed = token.len() > 6
            && token.is_char_boundary(6)
            && token[..6].eq_ignore_ascii_case("bearer")
            && token[6..].starts_with(char::is_whitespace);
        if !prefixed {
            break;
        }
        token = token[6..].trim_start();
    }
    if token.is_empty() || token.eq_ignore_ascii_case("bearer") {
        return Err("the bearer token is empty".to_string());
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        "the bearer token contains characters not allowed in an HTTP header (e.g. a line break inside it)"
            .to_string()
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A configured Prometheus endpoint.
#[derive(Debug)]
pub(crate) struct PromClient {
    http: reqwest::Client,
    base_url: String,
    query_url: String,
    token: Option<Token>,
    settings: CollectorSettings,
    requests: AtomicUsize,
}

impl PromClient {
    pub(crate) fn new(settings: &CollectorSettings) -> Result<Self, CollectorError> {
        let base_url = settings.base_url.trim().to_string();
        let url = reqwest::Url::parse(&base_url).map_err(|e| CollectorError::InvalidUrl {
            url: base_url.clone(),
            reason: e.to_string(),
        })?;
        match url.scheme() {
            "https" => {}
            "http" if settings.allow_http => {}
            "http" => return Err(CollectorError::PlainHttpRefused { url: base_url }),
            other => {
                return Err(CollectorError::InvalidUrl {
                    url: base_url.clone(),
                    reason: format!("the scheme must be https (or http), not {other:?}"),
                });
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(CollectorError::InvalidUrl {
                url: base_url,
                reason: "it has no host".to_string(),
            });
        }
        let token = match (&settings.bearer_token, &settings.token_path) {
            (Some(literal), _) => Some(Token::Literal(authorization_value(literal).map_err(
                |reason| CollectorError::InvalidToken {
                    key: "PROMETHEUS_BEARER_TOKEN",
                    reason,
                },
            )?)),
            (None, Some(path)) => {
                // Checked once now so a wrong path stops the controller at startup.
                read_token_file(path).map_err(|reason| CollectorError::InvalidToken {
                    key: "PROMETHEUS_TOKEN_PATH",
                    reason,
                })?;
                Some(Token::File(path.clone()))
            }
            (None, None) => None,
        };
        crate::tls::install_default_provider();
        let tls = crate::tls::client_config(settings)?;
        if settings.insecure_skip_verify {
            tracing::warn!(
                url = %base_url,
                "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY=true: the Prometheus server certificate is not verified; use this for development only"
            );
        }
        if url.scheme() == "http" {
            tracing::warn!(url = %base_url, "PROMETHEUS_ALLOW_HTTP=true: queries and the bearer token travel unencrypted");
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(settings.query_timeout)
            .timeout(settings.query_timeout)
            .build()
            .map_err(|e| CollectorError::Client(error_chain(&e)))?;
        let query_url = format!("{}/api/v1/query", base_url.trim_end_matches('/'));
        Ok(PromClient {
            http,
            base_url,
            query_url,
            token,
            settings: settings.clone(),
            requests: AtomicUsize::new(0),
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn settings(&self) -> &CollectorSettings {
        &self.settings
    }

    /// HTTP requests sent since the client was built (retries included).
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Runs `promql` with up to `retries` further attempts after retryable failures; returns
    /// the body of a 2xx answer and the number of attempts made.
    pub(crate) async fn query_body(
        &self,
        promql: &str,
        retries: u32,
    ) -> Result<(Vec<u8>, u32), QueryError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(promql).await {
                Ok(body) => return Ok((body, attempts)),
                Err(failure) if failure.is_retryable() && attempts <= retries => {
                    let wait = self.settings.backoff(attempts - 1);
                    tracing::debug!(query = promql, %failure, ?wait, "retrying Prometheus query");
                    tokio::time::sleep(wait).await;
                }
                Err(failure) => return Err(self.error(promql, attempts, failure)),
            }
        }
    }

    /// A [`QueryError`] for `promql` at this endpoint.
    pub(crate) fn error(&self, promql: &str, attempts: u32, failure: QueryFailure) -> QueryError {
        QueryError {
            url: self.query_url.clone(),
            query: promql.to_string(),
            attempts,
            failure,
        }
    }

    async fn attempt(&self, promql: &str) -> Result<Vec<u8>, QueryFailure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.post(&self.query_url).form(&[("query", promql)]);
        match &self.token {
            Some(Token::Literal(value)) => request = request.header(AUTHORIZATION, value.clone()),
            Some(Token::File(path)) => {
                let value = read_token_file(path).map_err(QueryFailure::Token)?;
                request = request.header(AUTHORIZATION, value);
            }
            None => {}
        }
        let transport = |error: reqwest::Error| {
            if error.is_timeout() {
                QueryFailure::Timeout(self.settings.query_timeout)
            } else {
                QueryFailure::Transport(error_chain(&error))
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(parse_vector::<IgnoredAny>(status, &body)
                .err()
                .unwrap_or(QueryFailure::Status {
                    status,
                    detail: String::new(),
                }))
        }
    }
}

fn read_token_file(path: &std::path::Path) -> Result<HeaderValue, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the bearer token file {}: {e}", path.display()))?;
    authorization_value(&text).map_err(|reason| format!("{reason} (file {})", path.display()))
}

/// An error and all its sources, joined with `: ` (reqwest's and hyper's own texts hide the
/// cause).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_bearer_prefix_whatever_the_user_wrote() {
        for raw in [
            "abc",
            "Bearer abc",
            "bearer abc",
            "BEARER   abc",
            "  Bearer abc\n",
            "Bearer Bearer abc",
            "\tabc\r\n",
        ] {
            assert_eq!(authorization_value(raw).unwrap(), "Bearer abc", "{raw:?}");
        }
        assert_eq!(
            authorization_value("bearerabc").unwrap(),
            "Bearer bearerabc"
        );
        assert!(authorization_value("Bearer ").is_err());
        assert!(authorization_value("   ").is_err());
        assert!(authorization_value("ab\ncd").is_err());
        assert!(authorization_value("abc").unwrap().is_sensitive());
    }
}
