//! PromQL text: escaping of user label values, selectors, durations and the batched queries
//! of one cycle.

use std::fmt;
use std::time::Duration;

/// The metric names the collector reads (vLLM's own names).
pub mod metric {
    /// KV-cache usage of one replica, 0..1.
    pub const KV_CACHE_USAGE: &str = "vllm:kv_cache_usage_perc";
    /// Requests waiting in one replica's queue.
    pub const REQUESTS_WAITING: &str = "vllm:num_requests_waiting";
    /// Successfully finished requests (counter, label `finished_reason`).
    pub const REQUEST_SUCCESS: &str = "vllm:request_success_total";
    /// Requests the inference gateway's endpoint picker holds in its flow-control queue, by
    /// `target_model_name` (the model ID).
    pub const GATEWAY_QUEUE_SIZE: &str = "inference_extension_flow_control_queue_size";
    /// vLLM's cache configuration as labels (`num_gpu_blocks`, `block_size`, ...) of a gauge
    /// set to 1; it has no `model_name` label.
    pub const CACHE_CONFIG_INFO: &str = "vllm:cache_config_info";
    /// Histogram of prompt tokens per finished request (`_sum` and `_count` are read).
    pub const REQUEST_PROMPT_TOKENS: &str = "vllm:request_prompt_tokens";
    /// Histogram of generated tokens per finished request (`_sum` and `_count` are read).
    pub const REQUEST_GENERATION_TOKENS: &str = "vllm:request_generation_tokens";
    /// Prefix-cache hits, in tokens (counter).
    pub const PREFIX_CACHE_HITS: &str = "vllm:prefix_cache_hits_total";
    /// Prefix-cache queries, in tokens (counter).
    pub const PREFIX_CACHE_QUERIES: &str = "vllm:prefix_cache_queries_total";
    /// Requests in the running batch of one replica.
    pub const REQUESTS_RUNNING: &str = "vllm:num_requests_running";
    /// Histogram of the time to first token, seconds (`_sum` and `_count` are read).
    pub const TIME_TO_FIRST_TOKEN: &str = "vllm:time_to_first_token_seconds";
    /// Histogram of the inter-token latency, seconds (vLLM 0.10 and later).
    pub const INTER_TOKEN_LATENCY: &str = "vllm:inter_token_latency_seconds";
    /// Histogram of the time per output token, seconds: the inter-token latency's older name.
    pub const TIME_PER_OUTPUT_TOKEN: &str = "vllm:time_per_output_token_seconds";
}

/// The window of the per-pod peaks (`max_over_time`).
pub const PEAK_WINDOW: Duration = Duration::from_secs(60);

/// The window of the per-pod rates of the token-capacity queries (`rate`).
pub const RATE_WINDOW: Duration = Duration::from_secs(300);

/// The labels of one pod's series in the batched per-pod queries.
const PER_POD: &str = "namespace, model_name, pod, pod_name";

/// Escapes `value` for a double-quoted PromQL string: backslash, double quote, and the line
/// breaks a quoted string may not contain.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
    out
}

/// Renders a duration as a PromQL range: `45s`, `10m`, `1h`, `2d`, `1500ms`; anything below
/// one second that is not a whole number of milliseconds, and zero, become `1s`.
pub fn format_range(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "1s".to_string();
    }
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let seconds = millis / 1000;
    match seconds {
        s if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        s if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        s if s.is_multiple_of(60) => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// An instant-vector selector `metric{label="value",...}` whose values are escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    metric: String,
    matchers: Vec<(String, String)>,
}

impl Selector {
    /// Selects `metric` (a name from code, not user input).
    pub fn new(metric: &str) -> Self {
        Selector {
            metric: metric.to_string(),
            matchers: Vec::new(),
        }
    }

    /// Adds the matcher `label="value"`; `value` may be anything a user wrote.
    pub fn eq(mut self, label: &str, value: &str) -> Self {
        self.matchers.push((label.to_string(), value.to_string()));
        self
    }

    /// Adds `label="value"` when `value` is set.
    pub fn eq_opt(self, label: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.eq(label, value),
            None => self,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (label, value)) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{label}=\"{}\"", escape_label_value(value))?;
        }
        f.write_str("}")
    }
}

/// The per-pod peak of `metric` over [`PEAK_WINDOW`] for everything in `namespace` (or
/// everywhere): one series per (namespace, model_name, pod) and vLLM engine rank (`engine`,
/// set by vLLM on each rank's series under data parallelism; absent otherwise).
pub fn per_pod_peak(metric: &str, namespace: Option<&str>) -> String {
    let selector = Selector::new(metric).eq_opt("namespace", namespace);
    format!(
        "max by ({PER_POD}, engine) (max_over_time({selector}[{}]))",
        format_range(PEAK_WINDOW)
    )
}

/// The `num_gpu_blocks` and `block_size` labels of every pod's [`metric::CACHE_CONFIG_INFO`]
/// in `namespace` (or everywhere): one series per pod and cache configuration.
pub fn per_pod_cache_config(namespace: Option<&str>) -> String {
    let selector = Selector::new(metric::CACHE_CONFIG_INFO).eq_opt("namespace", namespace);
    format!("max by ({PER_POD}, num_gpu_blocks, block_size) ({selector})")
}

/// The per-pod ratio of the rates of two counters over [`RATE_WINDOW`] in `namespace` (or
/// everywhere): e.g. `_sum` over `_count` of a histogram is the average per request. A pod
/// whose denominator did not grow gets NaN or +Inf, which the collector reads as missing.
pub fn per_pod_rate_ratio(numerator: &str, denominator: &str, namespace: Option<&str>) -> String {
    per_pod_rate_ratio_over(numerator, denominator, namespace, RATE_WINDOW)
}

/// [`per_pod_rate_ratio`] over `window`.
pub fn per_pod_rate_ratio_over(
    numerator: &str,
    denominator: &str,
    namespace: Option<&str>,
    window: Duration,
) -> String {
    format!(
        "{} / {}",
        per_pod_rate(numerator, namespace, window),
        per_pod_rate(denominator, namespace, window)
    )
}

/// The per-pod rate of the counter `metric` over `window` in `namespace` (or everywhere),
/// summed over its other labels (e.g. `finished_reason`).
pub fn per_pod_rate(metric: &str, namespace: Option<&str>, window: Duration) -> String {
    let selector = Selector::new(metric).eq_opt("namespace", namespace);
    format!(
        "sum by ({PER_POD}) (rate({selector}[{}]))",
        format_range(window)
    )
}

/// The per-pod mean of the gauge `metric` over `window` in `namespace` (or everywhere).
pub fn per_pod_mean(metric: &str, namespace: Option<&str>, window: Duration) -> String {
    let selector = Selector::new(metric).eq_opt("namespace", namespace);
    format!(
        "avg by ({PER_POD}) (avg_over_time({selector}[{}]))",
        format_range(window)
    )
}

/// Requests finished per (namespace, model_name) over `retention`.
pub fn request_count(namespace: Option<&str>, retention: Duration) -> String {
    let selector = Selector::new(metric::REQUEST_SUCCESS).eq_opt("namespace", namespace);
    format!(
        "sum by (namespace, model_name) (increase({selector}[{}]))",
        format_range(retention)
    )
}

/// Requests waiting at the gateway per (namespace, target_model_name), for everything in
/// `namespace` (or everywhere).
pub fn gateway_queue(namespace: Option<&str>) -> String {
    let selector = Selector::new(metric::GATEWAY_QUEUE_SIZE).eq_opt("namespace", namespace);
    format!("sum by (namespace, target_model_name) ({selector})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_backslash_quote_and_newlines() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("a\nb\rc"), r"a\nb\rc");
        assert_eq!(escape_label_value("org/llama-3.1:8b"), "org/llama-3.1:8b");
        let hostile = r#"x"} or vector(1) #"#;
        assert_eq!(
            Selector::new("m").eq("model_name", hostile).to_string(),
            r#"m{model_name="x\"} or vector(1) #"}"#
        );
    }

    #[test]
    fn ranges_use_the_largest_whole_unit() {
        let cases = [
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(172_800), "2d"),
            (Duration::from_secs(5400), "90m"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::ZERO, "1s"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_range(duration), text, "{duration:?}");
        }
    }

    #[test]
    fn batched_queries_filter_only_on_the_watched_namespace() {
        assert_eq!(
            per_pod_peak(metric::KV_CACHE_USAGE, None),
            "max by (namespace, model_name, pod, pod_name, engine) (max_over_time(vllm:kv_cache_usage_perc[1m]))"
        );
        assert_eq!(
            per_pod_peak(metric::REQUESTS_WAITING, Some("team-a")),
            "max by (namespace, model_name, pod, pod_name, engine) (max_over_time(vllm:num_requests_waiting{namespace=\"team-a\"}[1m]))"
        );
        assert_eq!(
            request_count(Some("team-a"), Duration::from_secs(600)),
            "sum by (namespace, model_name) (increase(vllm:request_success_total{namespace=\"team-a\"}[10m]))"
        );
        assert_eq!(
            per_pod_cache_config(Some("team-a")),
            "max by (namespace, model_name, pod, pod_name, num_gpu_blocks, block_size) (vllm:cache_config_info{namespace=\"team-a\"})"
        );
        assert_eq!(
            per_pod_rate_ratio("a_sum", "a_count", None),
            "sum by (namespace, model_name, pod, pod_name) (rate(a_sum[5m])) / sum by (namespace, model_name, pod, pod_name) (rate(a_count[5m]))"
        );
        assert_eq!(
            gateway_queue(Some("team-a")),
            "sum by (namespace, target_model_name) (inference_extension_flow_control_queue_size{namespace=\"team-a\"})"
        );
    }
}
