//! Emulated vLLM replicas: admission by free KV cache and `max_num_seqs`, prefill and decode
//! throughput, preemption when the KV cache runs out, and the two saturation signals
//! (`vllm:kv_cache_usage_perc`, `vllm:num_requests_waiting`) as peaks over the last minute,
//! plus what the token-capacity analyzer reads: the KV-cache size in tokens
//! (`vllm:cache_config_info`) and the average prompt and output tokens of the requests finished
//! over the last five minutes (`vllm:request_prompt_tokens`, `vllm:request_generation_tokens`),
//! and what HYBRID mode learns from: the mean inter-token latency and the mean running batch
//! over the last minute (`vllm:inter_token_latency_seconds`, `vllm:num_requests_running`),
//! consistent with the replica's own load: a sequence's inter-token latency is the inverse of
//! the decode rate it got in that second.

use crate::scenario::ReplicaSpec;
use std::collections::VecDeque;

/// Seconds of history behind the `max_over_time(...[1m])` signals.
pub const SIGNAL_WINDOW: usize = 60;

/// Seconds of finished requests behind the average request size (the `[5m]` rates of the
/// token-capacity queries).
pub const TOKEN_WINDOW: u64 = 300;

/// One request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Arrival time (s).
    pub arrived: f64,
    /// Prompt tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Prompt tokens processed so far.
    pub prefilled: f64,
    /// Output tokens generated so far.
    pub generated: f64,
    /// The scale-from-zero activation (index, in order) whose first requests this one is
    /// counted among, for the time-to-first-token report; `None` for any other request.
    pub wake: Option<usize>,
}

impl Request {
    /// A new request.
    pub fn new(arrived: f64, input: f64, output: f64) -> Request {
        Request {
            arrived,
            input: input.max(1.0),
            output: output.max(1.0),
            prefilled: 0.0,
            generated: 0.0,
            wake: None,
        }
    }

    fn kv_tokens(&self) -> f64 {
        self.prefilled + self.generated
    }
}

/// What a replica did in one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickOutcome {
    /// Requests that finished.
    pub completed: u32,
    /// Waiting times (arrival to first output token) of requests that started generating.
    pub first_token_waits: Vec<f64>,
    /// The same for requests counted for a scale-from-zero activation, with its index; each
    /// such request is reported once.
    pub woken_first_token_waits: Vec<(usize, f64)>,
}

/// One pod of a variant.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Pod name.
    pub pod: String,
    /// When the replica starts serving (s).
    pub ready_at: u64,
    spec: ReplicaSpec,
    running: Vec<Request>,
    waiting: VecDeque<Request>,
    history: VecDeque<Sample>,
    finished: VecDeque<(u64, f64, f64)>,
}

/// What a replica showed in one second.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    kv_usage: f64,
    queue_length: f64,
    /// Requests running (prefill or decode).
    running: f64,
    /// Output tokens generated.
    tokens: f64,
    /// The inter-token latency of those tokens, ms.
    itl_ms: f64,
}

/// A replica's latency over the last [`SIGNAL_WINDOW`] seconds: what the `_sum` / `_count`
/// rate of the inter-token latency histogram and the average of the running gauge give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Mean inter-token latency of the tokens generated, ms.
    pub itl_ms: f64,
    /// Mean requests running.
    pub batch: f64,
}

/// A replica's request size over [`TOKEN_WINDOW`]: what the `_sum` / `_count` rates of the
/// prompt and generation token histograms give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestSize {
    /// Average prompt tokens per finished request.
    pub input: f64,
    /// Average output tokens per finished request.
    pub output: f64,
}

impl Replica {
    /// A pod created at `now`.
    pub fn new(pod: String, spec: ReplicaSpec, now: u64) -> Replica {
        Replica {
            pod,
            ready_at: now + spec.startup_seconds,
            spec,
            running: Vec::new(),
            waiting: VecDeque::new(),
            history: VecDeque::with_capacity(SIGNAL_WINDOW + 1),
            finished: VecDeque::new(),
        }
    }

    /// Serving (model loaded).
    pub fn is_ready(&self, now: u64) -> bool {
        now >= self.ready_at
    }

    /// KV-cache usage now (0-1).
    pub fn kv_usage(&self) -> f64 {
        let used = self
            .running
            .iter()
            .map(Request::kv_tokens)
            .fold(0.0, |a, b| a + b);
        (used / self.spec.kv_capacity_tokens).min(1.0)
    }

    /// Waiting requests now.
    pub fn queue_length(&self) -> usize {
        self.waiting.len()
    }

    /// Requests on this replica (running and waiting).
    pub fn load(&self) -> usize {
        self.running.len() + self.waiting.len()
    }

    /// Peak KV usage and queue length over the last minute (what Prometheus reports); `None`
    /// before the first sample.
    pub fn signals(&self) -> Option<(f64, f64)> {
        if self.history.is_empty() {
            return None;
        }
        Some(self.history.iter().fold((0.0f64, 0.0f64), |(k, q), h| {
            (k.max(h.kv_usage), q.max(h.queue_length))
        }))
    }

    /// Mean inter-token latency and running batch over the last minute; `None` when no token
    /// was generated in it (the histogram's rate is 0 / 0).
    pub fn latency(&self) -> Option<Latency> {
        let (tokens, weighted, running) =
            self.history.iter().fold((0.0, 0.0, 0.0), |(t, w, r), h| {
                (t + h.tokens, w + h.tokens * h.itl_ms, r + h.running)
            });
        (tokens > 0.0).then(|| Latency {
            itl_ms: weighted / tokens,
            batch: running / self.history.len() as f64,
        })
    }

    /// KV-cache size in tokens (`num_gpu_blocks × block_size` of `vllm:cache_config_info`).
    pub fn kv_capacity_tokens(&self) -> f64 {
        self.spec.kv_capacity_tokens
    }

    /// Average request size of the requests finished over the last [`TOKEN_WINDOW`] seconds;
    /// `None` when none finished (the rates are 0 / 0).
    pub fn request_size(&self) -> Option<RequestSize> {
        let count = self.finished.len() as f64;
        if count == 0.0 {
            return None;
        }
        let (input, output) = self
            .finished
            .iter()
            .fold((0.0, 0.0), |(i, o), (_, fi, fo)| (i + fi, o + fo));
        Some(RequestSize {
            input: input / count,
            output: output / count,
        })
    }

    /// Queues a request.
    pub fn enqueue(&mut self, request: Request) {
        self.waiting.push_back(request);
    }

    /// Removes every request (when the pod is deleted), progress lost.
    pub fn drain(&mut self) -> Vec<Request> {
        let mut all: Vec<Request> = self.running.drain(..).collect();
        all.extend(self.waiting.drain(..));
        for r in &mut all {
            r.prefilled = 0.0;
            r.generated = 0.0;
        }
        all
    }

    /// Advances one second at time `now`.
    pub fn tick(&mut self, now: f64) -> TickOutcome {
        let mut outcome = TickOutcome::default();
        let capacity = self.spec.kv_capacity_tokens;
        let mut used: f64 = self.running.iter().map(Request::kv_tokens).sum();
        // Admission: a free sequence slot and KV room for the prompt.
        while self.running.len() < self.spec.max_num_seqs as usize {
            match self.waiting.front() {
                Some(r) if used + r.input <= capacity || self.running.is_empty() => {
                    used += r.input;
                    let r = self.waiting.pop_front().expect("front exists");
                    self.running.push(r);
                }
                _ => break,
            }
        }
        // Prefill, oldest first.
        let mut budget = self.spec.prefill_tokens_per_second;
        for r in self.running.iter_mut().filter(|r| r.prefilled < r.input) {
            let step = (r.input - r.prefilled).min(budget);
            r.prefilled += step;
            budget -= step;
            if budget <= 0.0 {
                break;
            }
        }
        // Decode: the batch shares the decode throughput, each sequence capped by its own
        // rate; a sequence needs KV room for its new tokens.
        let running = self.running.len() as f64;
        let (mut tokens, mut itl_ms) = (0.0, 0.0);
        let decoding = self
            .running
            .iter()
            .filter(|r| r.prefilled >= r.input)
            .count();
        if decoding > 0 {
            let per_seq = (self.spec.decode_tokens_per_second / decoding as f64)
                .min(self.spec.decode_tokens_per_second_per_seq);
            itl_ms = 1000.0 / per_seq;
            let mut used: f64 = self.running.iter().map(Request::kv_tokens).sum();
            for r in self.running.iter_mut().filter(|r| r.prefilled >= r.input) {
                let step = per_seq
                    .min(r.output - r.generated)
                    .min(capacity - used)
                    .max(0.0);
                if r.generated == 0.0 && step > 0.0 {
                    let wait = now - r.arrived;
                    outcome.first_token_waits.push(wait);
                    if let Some(wake) = r.wake.take() {
                        outcome.woken_first_token_waits.push((wake, wait));
                    }
                }
                r.generated += step;
                used += step;
                tokens += step;
            }
            // Out of KV: preempt the newest sequence back to the queue (recompute later).
            if used >= capacity
                && self.running.len() > 1
                && let Some(mut victim) = self.running.pop()
            {
                victim.prefilled = 0.0;
                victim.generated = 0.0;
                self.waiting.push_front(victim);
            }
        }
        let second = now.max(0.0) as u64;
        let finished = &mut self.finished;
        let before = self.running.len();
        self.running.retain(|r| {
            let done = r.generated >= r.output;
            if done {
                finished.push_back((second, r.input, r.output));
            }
            !done
        });
        outcome.completed = (before - self.running.len()) as u32;
        while finished
            .front()
            .is_some_and(|(at, _, _)| second.saturating_sub(*at) >= TOKEN_WINDOW)
        {
            finished.pop_front();
        }
        if self.history.len() == SIGNAL_WINDOW {
            self.history.pop_front();
        }
        self.history.push_back(Sample {
            kv_usage: self.kv_usage(),
            queue_length: self.waiting.len() as f64,
            running,
            tokens,
            itl_ms,
        });
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::STANDARD_REPLICA;

    #[test]
    fn a_replica_serves_requests_and_fills_kv_and_queue_under_overload() {
        let mut r = Replica::new("p".into(), STANDARD_REPLICA, 0);
        assert!(!r.is_ready(10) && r.is_ready(STANDARD_REPLICA.startup_seconds));
        r.enqueue(Request::new(0.0, 500.0, 100.0));
        let mut done = 0;
        for t in 0..10 {
            done += r.tick(f64::from(t)).completed;
        }
        assert_eq!(done, 1);
        let size = r.request_size().unwrap();
        assert_eq!((size.input, size.output), (500.0, 100.0));
        assert_eq!(r.kv_capacity_tokens(), STANDARD_REPLICA.kv_capacity_tokens);
        for _ in 0..400 {
            r.enqueue(Request::new(10.0, 500.0, 300.0));
        }
        for t in 10..40 {
            r.tick(f64::from(t));
        }
        let (kv, queue) = r.signals().unwrap();
        assert!(kv > 0.8, "kv {kv}");
        assert!(queue > 100.0, "queue {queue}");
    }

    /// One sequence decodes at the per-sequence cap (40 tokens/s: 25 ms between tokens);
    /// 60 share the replica's 1,200 tokens/s (20 tokens/s each: 50 ms), and the mean batch
    /// says how many ran.
    #[test]
    fn the_inter_token_latency_follows_the_batch() {
        let mut r = Replica::new("p".into(), STANDARD_REPLICA, 0);
        assert_eq!(r.latency(), None);
        r.enqueue(Request::new(0.0, 100.0, 1000.0));
        for t in 0..5 {
            r.tick(f64::from(t));
        }
        let light = r.latency().unwrap();
        assert_eq!((light.itl_ms, light.batch), (25.0, 1.0));

        let mut r = Replica::new("p".into(), STANDARD_REPLICA, 0);
        for _ in 0..60 {
            r.enqueue(Request::new(0.0, 100.0, 1000.0));
        }
        for t in 0..5 {
            r.tick(f64::from(t));
        }
        let heavy = r.latency().unwrap();
        assert_eq!((heavy.itl_ms, heavy.batch), (50.0, 60.0));
    }
}
