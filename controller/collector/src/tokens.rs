//! The per-pod inputs of the token-capacity analyzer: KV-cache size in tokens, average
//! input and output tokens per request, prefix-cache hit rate. Queried only when the scope
//! asks for them ([`crate::Scope::token_capacity`]), one batched query each.

use crate::promql::{self, metric};

/// One per-pod input of the token-capacity analyzer, and the query that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenSignal {
    /// `num_gpu_blocks × block_size` from the labels of `vllm:cache_config_info`.
    KvCapacityTokens,
    /// `rate(vllm:request_prompt_tokens_sum) / rate(vllm:request_prompt_tokens_count)`.
    AvgInputTokens,
    /// `rate(vllm:request_generation_tokens_sum) / rate(vllm:request_generation_tokens_count)`.
    AvgOutputTokens,
    /// `rate(vllm:prefix_cache_hits_total) / rate(vllm:prefix_cache_queries_total)`.
    PrefixCacheHitRate,
}

impl TokenSignal {
    /// Every token-capacity signal, in query order.
    pub const ALL: [TokenSignal; 4] = [
        TokenSignal::KvCapacityTokens,
        TokenSignal::AvgInputTokens,
        TokenSignal::AvgOutputTokens,
        TokenSignal::PrefixCacheHitRate,
    ];

    /// The signal's name: the `signal` label of `wva_prometheus_queries_total`.
    pub fn name(self) -> &'static str {
        match self {
            TokenSignal::KvCapacityTokens => "kv_capacity_tokens",
            TokenSignal::AvgInputTokens => "avg_input_tokens",
            TokenSignal::AvgOutputTokens => "avg_output_tokens",
            TokenSignal::PrefixCacheHitRate => "prefix_cache_hit_rate",
        }
    }

    /// The batched query of this signal for everything in `namespace` (or everywhere).
    pub fn query(self, namespace: Option<&str>) -> String {
        let histogram_average = |histogram: &str| {
            promql::per_pod_rate_ratio(
                &format!("{histogram}_sum"),
                &format!("{histogram}_count"),
                namespace,
            )
        };
        match self {
            TokenSignal::KvCapacityTokens => promql::per_pod_cache_config(namespace),
            TokenSignal::AvgInputTokens => histogram_average(metric::REQUEST_PROMPT_TOKENS),
            TokenSignal::AvgOutputTokens => histogram_average(metric::REQUEST_GENERATION_TOKENS),
            TokenSignal::PrefixCacheHitRate => promql::per_pod_rate_ratio(
                metric::PREFIX_CACHE_HITS,
                metric::PREFIX_CACHE_QUERIES,
                namespace,
            ),
        }
    }

    /// Whether a series of this signal must carry the pod's model in `model_name`: vLLM's
    /// `cache_config_info` has no `model_name` label, so it is matched on the pod alone.
    pub(crate) fn requires_model_label(self) -> bool {
        self != TokenSignal::KvCapacityTokens
    }
}

/// The KV-cache size in tokens from `cache_config_info`'s label values: `None` unless both
/// are positive integers (vLLM writes `None` before the cache is profiled).
pub(crate) fn kv_capacity_tokens(
    num_gpu_blocks: Option<&str>,
    block_size: Option<&str>,
) -> Option<f64> {
    let positive = |text: Option<&str>| text?.trim().parse::<u64>().ok().filter(|&n| n > 0);
    let tokens = positive(num_gpu_blocks)?.checked_mul(positive(block_size)?)?;
    Some(tokens as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_needs_two_positive_integer_labels() {
        assert_eq!(kv_capacity_tokens(Some("2048"), Some("16")), Some(32768.0));
        for (blocks, size) in [
            (None, Some("16")),
            (Some("2048"), None),
            (Some("None"), Some("16")),
            (Some("0"), Some("16")),
            (Some("-3"), Some("16")),
            (Some("1.5"), Some("16")),
            (Some("18446744073709551615"), Some("16")),
        ] {
            assert_eq!(
                kv_capacity_tokens(blocks, size),
                None,
                "{blocks:?} × {size:?}"
            );
        }
    }

    #[test]
    fn each_signal_has_one_namespace_filtered_query() {
        let queries: Vec<String> = TokenSignal::ALL
            .iter()
            .map(|s| s.query(Some("team-a")))
            .collect();
        assert!(queries[0].starts_with("max by (namespace, model_name, pod, pod_name, num_gpu_blocks, block_size) (vllm:cache_config_info{namespace=\"team-a\"})"));
        assert!(
            queries[1]
                .contains("rate(vllm:request_prompt_tokens_sum{namespace=\"team-a\"}[5m])) / sum")
        );
        assert!(
            queries[1]
                .contains("rate(vllm:request_prompt_tokens_count{namespace=\"team-a\"}[5m]))")
        );
        assert!(
            queries[2]
                .contains("rate(vllm:request_generation_tokens_sum{namespace=\"team-a\"}[5m])")
        );
        assert!(queries[3].contains("rate(vllm:prefix_cache_hits_total{namespace=\"team-a\"}[5m])) / sum by (namespace, model_name, pod, pod_name) (rate(vllm:prefix_cache_queries_total{namespace=\"team-a\"}[5m]))"));
    }
}
