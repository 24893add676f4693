//! The per-pod inputs of the HYBRID mode's performance model: arrival rate, mean time to
//! first token, mean inter-token latency and mean running batch. Queried only when the scope
//! asks for them ([`crate::Scope::hybrid`]), one batched query each, over [`LATENCY_WINDOW`].

use crate::promql::{self, metric};
use std::time::Duration;

/// The window of the HYBRID mode's rates and means: short, so that the model sees a latency
/// rise within a cycle or two.
pub const LATENCY_WINDOW: Duration = Duration::from_secs(60);

/// One per-pod input of the HYBRID mode, and the query that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LatencySignal {
    /// Requests finished per second: `rate(vllm:request_success_total)`, every
    /// `finished_reason`.
    ArrivalRate,
    /// Mean time to first token, seconds: `rate(…_sum) / rate(…_count)` of
    /// `vllm:time_to_first_token_seconds`.
    TimeToFirstToken,
    /// Mean inter-token latency, seconds, from `vllm:inter_token_latency_seconds`, or
    /// `vllm:time_per_output_token_seconds` for a pod that does not export it.
    InterTokenLatency,
    /// Mean requests running (the batch size): `avg_over_time(vllm:num_requests_running)`.
    RunningBatch,
}

impl LatencySignal {
    /// Every HYBRID signal, in query order.
    pub const ALL: [LatencySignal; 4] = [
        LatencySignal::ArrivalRate,
        LatencySignal::TimeToFirstToken,
        LatencySignal::InterTokenLatency,
        LatencySignal::RunningBatch,
    ];

    /// The signal's name: the `signal` label of `wva_prometheus_queries_total`.
    pub fn name(self) -> &'static str {
        match self {
            LatencySignal::ArrivalRate => "arrival_rate",
            LatencySignal::TimeToFirstToken => "time_to_first_token",
            LatencySignal::InterTokenLatency => "inter_token_latency",
            LatencySignal::RunningBatch => "running_batch",
        }
    }

    /// The batched query of this signal for everything in `namespace` (or everywhere).
    pub fn query(self, namespace: Option<&str>) -> String {
        let mean = |histogram: &str| {
            promql::per_pod_rate_ratio_over(
                &format!("{histogram}_sum"),
                &format!("{histogram}_count"),
                namespace,
                LATENCY_WINDOW,
            )
        };
        match self {
            LatencySignal::ArrivalRate => {
                promql::per_pod_rate(metric::REQUEST_SUCCESS, namespace, LATENCY_WINDOW)
            }
            LatencySignal::TimeToFirstToken => mean(metric::TIME_TO_FIRST_TOKEN),
            LatencySignal::InterTokenLatency => format!(
                "({}) or ({})",
                mean(metric::INTER_TOKEN_LATENCY),
                mean(metric::TIME_PER_OUTPUT_TOKEN)
            ),
            LatencySignal::RunningBatch => {
                promql::per_pod_mean(metric::REQUESTS_RUNNING, namespace, LATENCY_WINDOW)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_batched_query_per_signal_with_the_itl_fallback() {
        assert_eq!(
            LatencySignal::ArrivalRate.query(Some("team-a")),
            "sum by (namespace, model_name, pod, pod_name) (rate(vllm:request_success_total{namespace=\"team-a\"}[1m]))"
        );
        assert_eq!(
            LatencySignal::TimeToFirstToken.query(None),
            "sum by (namespace, model_name, pod, pod_name) (rate(vllm:time_to_first_token_seconds_sum[1m])) / sum by (namespace, model_name, pod, pod_name) (rate(vllm:time_to_first_token_seconds_count[1m]))"
        );
        let itl = LatencySignal::InterTokenLatency.query(None);
        assert!(
            itl.starts_with("(sum by (namespace, model_name, pod, pod_name) (rate(vllm:inter_token_latency_seconds_sum[1m]))")
                && itl.contains(") or (sum by (namespace, model_name, pod, pod_name) (rate(vllm:time_per_output_token_seconds_sum[1m]))"),
            "{itl}"
        );
        assert_eq!(
            LatencySignal::RunningBatch.query(None),
            "avg by (namespace, model_name, pod, pod_name) (avg_over_time(vllm:num_requests_running[1m]))"
        );
    }
}
