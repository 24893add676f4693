//! An emulated vLLM replica: `/metrics` in the Prometheus text format with vLLM's metric
//! names and label sets, values set by the test at runtime.

use crate::prometheus::ScrapeTarget;
use crate::server::{ServerHandle, StubResponse};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use wva_engine::queueing::{PerfParams, Workload};

/// The values one replica exposes. Gauges may be NaN or infinite (rendered `NaN`, `+Inf`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaMetrics {
    /// `vllm:kv_cache_usage_perc` (0..1).
    pub kv_cache_usage: f64,
    /// `vllm:num_requests_waiting`.
    pub requests_waiting: f64,
    /// `vllm:num_requests_running`.
    pub requests_running: f64,
    /// `vllm:request_success_total` with `finished_reason="stop"`.
    pub success_stop: u64,
    /// `vllm:request_success_total` with `finished_reason="length"`.
    pub success_length: u64,
    /// `vllm:prompt_tokens_total` and `vllm:request_prompt_tokens_sum`.
    pub prompt_tokens: u64,
    /// `vllm:generation_tokens_total` and `vllm:request_generation_tokens_sum`.
    pub generation_tokens: u64,
    /// `vllm:prefix_cache_queries_total`.
    pub prefix_cache_queries: u64,
    /// `vllm:prefix_cache_hits_total`.
    pub prefix_cache_hits: u64,
    /// `num_gpu_blocks` label of `vllm:cache_config_info`.
    pub num_gpu_blocks: u64,
    /// `block_size` label of `vllm:cache_config_info`.
    pub block_size: u64,
    /// vLLM's `--max-num-batched-tokens`: tokens one scheduler step may process; bounds the
    /// running requests in [`ReplicaMetrics::serve`].
    pub max_num_batched_tokens: u64,
    /// vLLM's `--max-num-seqs`: requests running at once; bounds [`ReplicaMetrics::serve`].
    pub max_num_seqs: u64,
    /// When true, `/metrics` answers `500` (the scrape fails, `up` becomes 0).
    pub failing: bool,
    /// The replica's iteration-time parameters: when set, each request
    /// [`ReplicaMetrics::add_requests`] records also records its time to first token and
    /// inter-token latencies at the current running batch ([`ReplicaMetrics::latencies`]).
    pub perf: Option<PerfParams>,
    /// `vllm:time_to_first_token_seconds_sum`.
    pub ttft_seconds_sum: f64,
    /// `vllm:time_to_first_token_seconds_count`.
    pub ttft_count: u64,
    /// `vllm:inter_token_latency_seconds_sum` (one observation per generated token after the
    /// first).
    pub itl_seconds_sum: f64,
    /// `vllm:inter_token_latency_seconds_count`.
    pub itl_count: u64,
    /// Export the inter-token latency under vLLM's older name,
    /// `vllm:time_per_output_token_seconds`, as vLLM before 0.10 does.
    pub legacy_itl_name: bool,
}

impl Default for ReplicaMetrics {
    fn default() -> Self {
        ReplicaMetrics {
            kv_cache_usage: 0.0,
            requests_waiting: 0.0,
            requests_running: 0.0,
            success_stop: 0,
            success_length: 0,
            prompt_tokens: 0,
            generation_tokens: 0,
            prefix_cache_queries: 0,
            prefix_cache_hits: 0,
            num_gpu_blocks: 2048,
            block_size: 16,
            max_num_batched_tokens: 8192,
            max_num_seqs: 256,
            failing: false,
            perf: None,
            ttft_seconds_sum: 0.0,
            ttft_count: 0,
            itl_seconds_sum: 0.0,
            itl_count: 0,
            legacy_itl_name: false,
        }
    }
}

impl ReplicaMetrics {
    /// Records `n` successfully finished requests (`finished_reason="stop"`) with their tokens.
    /// With [`ReplicaMetrics::perf`] set, their latencies at the running batch too.
    pub fn add_requests(&mut self, n: u64) {
        self.success_stop += n;
        self.prompt_tokens += n * PROMPT_TOKENS_PER_REQUEST;
        self.generation_tokens += n * GENERATION_TOKENS_PER_REQUEST;
        if let Some((ttft_ms, itl_ms)) = self.latencies() {
            let gaps = n * (GENERATION_TOKENS_PER_REQUEST - 1);
            self.ttft_seconds_sum += n as f64 * ttft_ms / 1000.0;
            self.ttft_count += n;
            self.itl_seconds_sum += gaps as f64 * itl_ms / 1000.0;
            self.itl_count += gaps;
        }
    }

    /// The time to first token and the inter-token latency, ms, of a request of
    /// [`ReplicaMetrics::add_requests`]'s size at the running batch (at least 1), from
    /// [`ReplicaMetrics::perf`]: a prefill and a decode step, and a decode step. The queueing
    /// model's own formulas (`wva_engine::queueing::PerfParams`), so that latency rises
    /// with the batch as the model expects, before the KV cache fills.
    pub fn latencies(&self) -> Option<(f64, f64)> {
        let perf = self.perf?;
        let batch = self.requests_running.max(1.0);
        let w = Workload {
            input_tokens: PROMPT_TOKENS_PER_REQUEST as f64,
            output_tokens: GENERATION_TOKENS_PER_REQUEST as f64,
        };
        let itl = perf.decode(batch, w);
        Some((perf.prefill(batch, w) + itl, itl))
    }

    /// Records `n` finished requests like [`ReplicaMetrics::add_requests`] whose prompt tokens
    /// were all looked up in the prefix cache, the fraction `hit_rate` (0..1) found there.
    pub fn add_cached_requests(&mut self, n: u64, hit_rate: f64) {
        self.add_requests(n);
        let queried = n * PROMPT_TOKENS_PER_REQUEST;
        self.prefix_cache_queries += queried;
        self.prefix_cache_hits += (queried as f64 * hit_rate.clamp(0.0, 1.0)).round() as u64;
    }

    /// The KV-cache size in tokens: `num_gpu_blocks × block_size`.
    pub fn kv_capacity_tokens(&self) -> u64 {
        self.num_gpu_blocks * self.block_size
    }

    /// The requests this replica runs at once with `input` prompt and `output` generated
    /// tokens each: its batch limits allow `min(B·O/(I+O), S)` (a step processes `B` tokens,
    /// one per decoding request and the prompts of the starting ones), and its KV cache holds
    /// requests of `I + O/2` tokens on average.
    pub fn concurrency(&self, input: u64, output: u64) -> u64 {
        let per_request = input + output / 2;
        let by_batch = (self.max_num_batched_tokens.saturating_mul(output))
            .checked_div(input + output)
            .unwrap_or(self.max_num_seqs);
        let by_cache = self
            .kv_capacity_tokens()
            .checked_div(per_request)
            .unwrap_or(u64::MAX);
        by_batch.min(self.max_num_seqs).min(by_cache)
    }

    /// Serves `requests` in flight of `input` prompt and `output` generated tokens each:
    /// [`ReplicaMetrics::concurrency`] of them run and hold `I + O/2` KV tokens each, the rest
    /// wait. Sets running, waiting and KV-cache usage.
    pub fn serve(&mut self, requests: u64, input: u64, output: u64) {
        let running = requests.min(self.concurrency(input, output));
        self.requests_running = running as f64;
        self.requests_waiting = (requests - running) as f64;
        let capacity = self.kv_capacity_tokens();
        self.kv_cache_usage = if capacity == 0 {
            0.0
        } else {
            ((running * (input + output / 2)) as f64 / capacity as f64).min(1.0)
        };
    }
}

/// Tokens per request that [`ReplicaMetrics::add_requests`] records.
const PROMPT_TOKENS_PER_REQUEST: u64 = 128;
const GENERATION_TOKENS_PER_REQUEST: u64 = 64;

/// One emulated vLLM replica serving `model_name`; stopped on drop.
pub struct VllmEmulator {
    handle: ServerHandle,
    model_name: String,
    state: Arc<Mutex<ReplicaMetrics>>,
}

impl VllmEmulator {
    /// Starts a replica of `model_name` on `127.0.0.1:0` with idle metrics.
    pub fn start(model_name: &str) -> Self {
        let state = Arc::new(Mutex::new(ReplicaMetrics::default()));
        let shared = state.clone();
        let model = model_name.to_string();
        let handle = ServerHandle::spawn(
            "vllm-emulator",
            None,
            Arc::new(move |request| {
                let metrics = shared.lock().expect("emulator state").clone();
                if request.path != "/metrics" {
                    return StubResponse::text("not found\n").with_status(404);
                }
                if metrics.failing {
                    return StubResponse::text("engine dead\n").with_status(500);
                }
                StubResponse::text(render(&model, &metrics))
            }),
        )
        .expect("start vLLM emulator");
        VllmEmulator {
            handle,
            model_name: model_name.to_string(),
            state,
        }
    }

    /// The served model name (the `model_name` label).
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// `127.0.0.1:PORT`, the scrape address.
    pub fn address(&self) -> String {
        self.handle.addr().to_string()
    }

    /// A scrape target for this replica, labelled as pod `pod` in `namespace` (the labels a
    /// Kubernetes service discovery would attach).
    pub fn target(&self, namespace: &str, pod: &str) -> ScrapeTarget {
        ScrapeTarget::new(self.address())
            .label("namespace", namespace)
            .label("pod", pod)
    }

    /// Sets KV-cache usage and the waiting-queue length.
    pub fn set(&self, kv_cache_usage: f64, requests_waiting: f64) {
        self.update(|m| {
            m.kv_cache_usage = kv_cache_usage;
            m.requests_waiting = requests_waiting;
        });
    }

    /// Sets the number of running requests.
    pub fn set_running(&self, requests_running: f64) {
        self.update(|m| m.requests_running = requests_running);
    }

    /// Records `n` successfully finished requests (`finished_reason="stop"`) with their tokens
    /// (and latencies, see [`ReplicaMetrics::add_requests`]).
    pub fn add_requests(&self, n: u64) {
        self.update(|m| m.add_requests(n));
    }

    /// Makes scrapes fail (`500`) or succeed again.
    pub fn set_failing(&self, failing: bool) {
        self.update(|m| m.failing = failing);
    }

    /// Changes any value.
    pub fn update(&self, change: impl FnOnce(&mut ReplicaMetrics)) {
        change(&mut self.state.lock().expect("emulator state"));
    }

    /// The current values.
    pub fn metrics(&self) -> ReplicaMetrics {
        self.state.lock().expect("emulator state").clone()
    }

    /// The `/metrics` body as served now.
    pub fn render(&self) -> String {
        render(&self.model_name, &self.metrics())
    }
}

/// Escapes a label value for the text exposition format.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value:?}")
    }
}

/// One metric family: name, type, help and samples (name suffix, extra labels, value).
type Family<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String, f64)>);

fn render(model_name: &str, m: &ReplicaMetrics) -> String {
    render_labelled(model_name, &[], m)
}

/// The `/metrics` body of one replica serving `model_name`, every series also carrying the
/// `extra` labels (e.g. `namespace` and `pod`).
pub(crate) fn render_labelled(
    model_name: &str,
    extra: &[(&str, &str)],
    m: &ReplicaMetrics,
) -> String {
    let mut pod_labels = String::new();
    for (name, value) in extra {
        let _ = write!(pod_labels, ",{name}=\"{}\"", escape_label(value));
    }
    let labels = format!(
        "engine=\"0\",model_name=\"{}\"{pod_labels}",
        escape_label(model_name)
    );
    let mut out = String::with_capacity(4096);
    // vLLM's cache configuration carries no `model_name`: its labels are the configuration's.
    let _ = writeln!(
        out,
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{{block_size=\"{}\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"{}\"{pod_labels}}} 1.0",
        m.block_size, m.num_gpu_blocks
    );
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (suffix, extra, value) in samples {
            let _ = writeln!(out, "{name}{suffix}{{{labels}{extra}}} {}", number(*value));
        }
    };
    let single = |value: f64| vec![("", String::new(), value)];
    let families: [Family; 8] = [
        (
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            single(m.requests_running),
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            single(m.requests_waiting),
        ),
        (
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
            single(m.kv_cache_usage),
        ),
        (
            "vllm:request_success_total",
            "counter",
            "Count of successfully processed requests.",
            ["stop", "length", "abort"]
                .into_iter()
                .zip([m.success_stop, m.success_length, 0])
                .map(|(reason, n)| ("", format!(",finished_reason=\"{reason}\""), n as f64))
                .collect(),
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
            single(m.prompt_tokens as f64),
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            single(m.generation_tokens as f64),
        ),
        (
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            single(m.prefix_cache_queries as f64),
        ),
        (
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            single(m.prefix_cache_hits as f64),
        ),
    ];
    for (name, kind, help, samples) in &families {
        family(name, kind, help, samples);
    }
    let requests = (m.success_stop + m.success_length) as f64;
    let itl_name = if m.legacy_itl_name {
        "vllm:time_per_output_token_seconds"
    } else {
        "vllm:inter_token_latency_seconds"
    };
    for (name, help, sum, count) in [
        (
            "vllm:request_prompt_tokens",
            "Number of prefill tokens processed.",
            m.prompt_tokens as f64,
            requests,
        ),
        (
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            m.generation_tokens as f64,
            requests,
        ),
        (
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            m.ttft_seconds_sum,
            m.ttft_count as f64,
        ),
        (
            itl_name,
            "Histogram of inter-token latency in seconds.",
            m.itl_seconds_sum,
            m.itl_count as f64,
        ),
    ] {
        family(
            name,
            "histogram",
            help,
            &[
                ("_bucket", ",le=\"+Inf\"".to_string(), count),
                ("_sum", String::new(), sum),
                ("_count", String::new(), count),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_vllm_names_escaped_labels_and_special_values() {
        let text = render(
            "a\"b\\c",
            &ReplicaMetrics {
                kv_cache_usage: f64::NAN,
                requests_waiting: f64::INFINITY,
                success_stop: 3,
                ..ReplicaMetrics::default()
            },
        );
        assert!(
            text.contains("vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"a\\\"b\\\\c\"} NaN")
        );
        assert!(
            text.contains(
                "vllm:num_requests_waiting{engine=\"0\",model_name=\"a\\\"b\\\\c\"} +Inf"
            )
        );
        assert!(text.contains("finished_reason=\"stop\"} 3.0"));
        assert!(text.contains("# TYPE vllm:request_success_total counter"));
        assert!(text.contains("vllm:request_prompt_tokens_count{"));
        assert!(text.contains(
            "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"2048\"} 1.0"
        ), "{text}");
    }

    #[test]
    fn latency_follows_the_running_batch_and_the_histograms_count_it() {
        let mut m = ReplicaMetrics {
            perf: Some(PerfParams {
                alpha: 8.0,
                beta: 0.01,
                gamma: 0.001,
            }),
            ..ReplicaMetrics::default()
        };
        m.requests_running = 1.0;
        let (_, itl_1) = m.latencies().expect("perf set");
        m.requests_running = 32.0;
        let (ttft_32, itl_32) = m.latencies().expect("perf set");
        // iteration(32) = 8 + 32·(0.01·192/65 + 0.001·160) = 14.065; + β + γ·160.
        assert!((itl_32 - 14.235).abs() < 0.001, "{itl_32}");
        assert!(itl_32 > itl_1 && ttft_32 > itl_32);
        m.add_requests(2);
        assert_eq!((m.ttft_count, m.itl_count), (2, 126));
        let text = render("m", &m);
        assert!(
            text.contains(
                "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"m\"} 2.0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "vllm:inter_token_latency_seconds_count{engine=\"0\",model_name=\"m\"} 126.0"
            ),
            "{text}"
        );
        m.legacy_itl_name = true;
        let text = render("m", &m);
        assert!(
            text.contains("vllm:time_per_output_token_seconds_sum{"),
            "{text}"
        );
        assert!(!text.contains("vllm:inter_token_latency_seconds"), "{text}");
    }

    #[test]
    fn load_beyond_the_batch_limits_waits() {
        let mut m = ReplicaMetrics {
            max_num_batched_tokens: 4096,
            max_num_seqs: 64,
            ..ReplicaMetrics::default()
        };
        // B·O/(I+O) = 4096·256/1280 = 819 > S = 64; the cache (32768 tokens) holds 32768 /
        // (1024 + 128) = 28 requests: the cache bounds.
        assert_eq!(m.concurrency(1024, 256), 28);
        m.serve(40, 1024, 256);
        assert_eq!((m.requests_running, m.requests_waiting), (28.0, 12.0));
        assert_eq!(m.kv_cache_usage, 28.0 * 1152.0 / 32768.0);
        // Short requests: the batch limit bounds (4096·64/192 = 1365 > S = 64 → 64).
        assert_eq!(m.concurrency(128, 64), 64);
        // Long prompts, short answers: B·O/(I+O) = 4096·16/(2048+16) = 31.
        m.num_gpu_blocks = 1 << 20;
        assert_eq!(m.concurrency(2048, 16), 31);
        m.serve(10, 2048, 16);
        assert_eq!((m.requests_running, m.requests_waiting), (10.0, 0.0));
    }
}
