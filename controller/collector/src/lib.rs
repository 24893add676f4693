//! Prometheus collector: batched PromQL into the signals the engine reads.
//!
//! A [`Collector`] is built from [`CollectorSettings`] (resolved from the parameter table),
//! checks at startup that Prometheus answers ([`Collector::check_connectivity`]), and each
//! cycle runs a fixed set of instant queries for everything in scope ([`Collector::collect`]):
//! one for KV-cache usage, one for queue length, one per distinct retention period for
//! request counts, when the scope asks for the token-capacity analyzer's inputs one per
//! [`TokenSignal`], and in HYBRID mode one per [`LatencySignal`] — whatever the number of
//! models, variants or pods. Series are mapped to
//! variants through a [`PodIndex`] the caller builds from its informer caches.
//!
//! Missing data stays missing: no series, NaN and ±Inf are `None`, never 0. A failed query
//! is reported for its signal only ([`Signals::kv_error`], ...), so the engine can tell a
//! Prometheus error from absent metrics. See `docs/collector.md`.

mod client;
mod collect;
mod error;
mod gateway;
mod latency;
pub mod promql;
mod response;
mod settings;
mod tls;
mod tokens;

pub use client::{authorization_value, error_chain};
pub use collect::{
    CycleQueries, CycleStats, MAX_OTHER_MODELS, ModelKey, PodIndex, PodSignals, PodTarget,
    QueryTiming, RequestCounts, Scope, Signals, VariantKey,
};
pub use error::{CollectorError, QueryError, QueryFailure};
pub use gateway::GatewayQueues;
pub use latency::{LATENCY_WINDOW, LatencySignal};
pub use response::{Sample, parse_value};
pub use settings::{CollectorSettings, MAX_BACKOFF};
pub use tokens::TokenSignal;

use client::PromClient;
use collect::{PodField, PodValues, apply_pod_values, request_counts};
use futures::future::join_all;

/// The Prometheus collector.
#[derive(Debug)]
pub struct Collector {
    client: PromClient,
}

impl Collector {
    /// Validates `settings` (URL scheme, certificate files, token) and builds the HTTP client.
    pub fn new(settings: CollectorSettings) -> Result<Self, CollectorError> {
        Ok(Collector {
            client: PromClient::new(&settings)?,
        })
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &str {
        self.client.base_url()
    }

    /// HTTP requests sent since the collector was built.
    pub fn http_requests(&self) -> usize {
        self.client.requests()
    }

    /// Queries `up` until Prometheus answers: up to `startup_check_retries` further attempts,
    /// waiting `retry_backoff`, doubled each time up to [`MAX_BACKOFF`]. The error names the
    /// URL and the last failure; the controller exits with status 1 on it.
    pub async fn check_connectivity(&self) -> Result<(), CollectorError> {
        let settings = self.client.settings();
        let attempts = settings.startup_check_retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = match self.client.query_body("up", 0).await {
                Ok((body, _)) => {
                    match response::parse_vector::<serde::de::IgnoredAny>(200, &body) {
                        Ok(_) => return Ok(()),
                        Err(failure) => self.client.error("up", 1, failure),
                    }
                }
                Err(error) => error,
            };
            if attempt >= attempts {
                return Err(CollectorError::Unreachable {
                    url: self.base_url().to_string(),
                    attempts,
                    last,
                });
            }
            let wait = settings.backoff(attempt - 1);
            tracing::warn!(url = self.base_url(), error = %last, ?wait, attempt, "Prometheus is not reachable yet");
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs an instant query and returns its vector result with all labels (for queries
    /// outside the batched cycle, e.g. diagnostics). Build selectors with
    /// [`promql::Selector`] so user values are escaped.
    pub async fn query_vector(&self, promql: &str) -> Result<Vec<Sample>, QueryError> {
        let retries = self.client.settings().query_retries;
        let (body, attempts) = self.client.query_body(promql, retries).await?;
        response::parse_vector::<response::AllLabels>(200, &body)
            .map(response::owned_samples)
            .map_err(|failure| self.client.error(promql, attempts, failure))
    }

    /// The gateway queue of every model in `namespace` (or everywhere): one query, whatever
    /// the number of models.
    pub async fn gateway_queues(
        &self,
        namespace: Option<&str>,
    ) -> Result<GatewayQueues, QueryError> {
        self.query_vector(&promql::gateway_queue(namespace))
            .await
            .map(GatewayQueues::from_samples)
    }

    /// One cycle: the batched queries of `scope`, run concurrently, mapped through `pods`.
    pub async fn collect(&self, scope: &Scope, pods: &PodIndex) -> Signals {
        let queries = CycleQueries::for_scope(scope);
        let retries = self.client.settings().query_retries;
        let requests_before = self.client.requests();
        let ((kv, kv_time), (queue, queue_time), counts, tokens, latencies) = futures::join!(
            timed(self.client.query_body(&queries.kv_cache_usage, retries)),
            timed(self.client.query_body(&queries.queue_length, retries)),
            join_all(
                queries
                    .request_counts
                    .iter()
                    .map(|(_, query)| timed(self.client.query_body(query, retries)))
            ),
            join_all(
                queries
                    .token_capacity
                    .iter()
                    .map(|(_, query)| timed(self.client.query_body(query, retries)))
            ),
            join_all(
                queries
                    .latency
                    .iter()
                    .map(|(_, query)| timed(self.client.query_body(query, retries)))
            ),
        );
        let mut stats = CycleStats {
            queries: queries.len(),
            ..CycleStats::default()
        };
        let mut values = PodValues::empty(pods);
        let kv_error = self.pod_answer(
            kv,
            &queries.kv_cache_usage,
            PodField::KvCacheUsage,
            pods,
            &mut values,
            &mut stats,
        );
        let queue_error = self.pod_answer(
            queue,
            &queries.queue_length,
            PodField::QueueLength,
            pods,
            &mut values,
            &mut stats,
        );
        let mut timings = vec![
            QueryTiming {
                signal: signal::KV_CACHE_USAGE,
                duration: kv_time,
                failed: kv_error.is_some(),
            },
            QueryTiming {
                signal: signal::QUEUE_LENGTH,
                duration: queue_time,
                failed: queue_error.is_some(),
            },
        ];
        let request_counts = queries
            .request_counts
            .iter()
            .zip(counts)
            .map(|((retention, query), (answer, duration))| {
                let counts = answer.and_then(|(body, attempts)| {
                    request_counts(&body, scope, &mut stats)
                        .map_err(|failure| self.client.error(query, attempts, failure))
                });
                timings.push(QueryTiming {
                    signal: signal::REQUEST_COUNT,
                    duration,
                    failed: counts.is_err(),
                });
                (*retention, counts)
            })
            .collect();
        let mut sink = PodSink {
            pods,
            values: &mut values,
            stats: &mut stats,
            timings: &mut timings,
        };
        let token_queries = self.per_pod_answers(
            &queries.token_capacity,
            tokens,
            |s| (PodField::Token(s), s.name()),
            &mut sink,
        );
        let latency_queries = self.per_pod_answers(
            &queries.latency,
            latencies,
            |s| (PodField::Latency(s), s.name()),
            &mut sink,
        );
        stats.http_requests = self.client.requests() - requests_before;
        tracing::debug!(
            queries = stats.queries,
            http_requests = stats.http_requests,
            series = stats.series,
            unknown_pod_series = stats.unknown_pod_series,
            other_model_series = stats.other_model_series,
            non_finite_samples = stats.non_finite_samples,
            "collected Prometheus signals"
        );
        Signals {
            variants: values.variants,
            other_models: values.other_models,
            kv_error,
            queue_error,
            request_counts,
            token_queries,
            latency_queries,
            stats,
            timings,
        }
    }

    /// Stores the answers of per-pod `queries` of one kind (`field` gives each signal's pod
    /// field and name) and times them; returns each signal's error, if any.
    fn per_pod_answers<S: Copy + Ord>(
        &self,
        queries: &[(S, String)],
        answers: Vec<TimedAnswer>,
        field: fn(S) -> (PodField, &'static str),
        sink: &mut PodSink<'_>,
    ) -> std::collections::BTreeMap<S, Option<QueryError>> {
        queries
            .iter()
            .zip(answers)
            .map(|((signal, query), (answer, duration))| {
                let (pod_field, name) = field(*signal);
                let error =
                    self.pod_answer(answer, query, pod_field, sink.pods, sink.values, sink.stats);
                sink.timings.push(QueryTiming {
                    signal: name,
                    duration,
                    failed: error.is_some(),
                });
                (*signal, error)
            })
            .collect()
    }

    /// Stores a per-pod answer into `variants`; returns the query's error, if any.
    fn pod_answer(
        &self,
        answer: Result<(Vec<u8>, u32), QueryError>,
        query: &str,
        field: PodField,
        pods: &PodIndex,
        values: &mut PodValues,
        stats: &mut CycleStats,
    ) -> Option<QueryError> {
        let (body, attempts) = match answer {
            Ok(answer) => answer,
            Err(error) => return Some(error),
        };
        apply_pod_values(&body, field, pods, values, stats)
            .err()
            .map(|failure| self.client.error(query, attempts, failure))
    }
}

/// A query's answer (body and attempts, or the error) and how long it took.
type TimedAnswer = (Result<(Vec<u8>, u32), QueryError>, std::time::Duration);

/// Where per-pod answers go.
struct PodSink<'a> {
    pods: &'a PodIndex,
    values: &'a mut PodValues,
    stats: &'a mut CycleStats,
    timings: &'a mut Vec<QueryTiming>,
}

/// The signal names of [`QueryTiming::signal`].
pub mod signal {
    /// The per-pod KV-cache usage query.
    pub const KV_CACHE_USAGE: &str = "kv_cache_usage";
    /// The per-pod waiting-queue query.
    pub const QUEUE_LENGTH: &str = "queue_length";
    /// A request-count query (one per retention period).
    pub const REQUEST_COUNT: &str = "request_count";
}

/// Runs `future` and measures how long it took.
async fn timed<F: std::future::Future>(future: F) -> (F::Output, std::time::Duration) {
    let started = std::time::Instant::now();
    let output = future.await;
    (output, started.elapsed())
}
