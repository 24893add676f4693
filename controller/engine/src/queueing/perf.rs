//! The iteration-time model of one vLLM replica.

use serde::{Deserialize, Serialize};

/// The average request of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    /// Average input (prompt) tokens per request, `I`.
    pub input_tokens: f64,
    /// Average output (generated) tokens per request, `O` (at least 1).
    pub output_tokens: f64,
}

/// The three parameters of the iteration-time model, in milliseconds: `alpha` the base time
/// of one engine iteration, `beta` the compute time per token, `gamma` the memory time per
/// token held in the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfParams {
    /// Base iteration time, ms.
    pub alpha: f64,
    /// Compute slope, ms per token.
    pub beta: f64,
    /// Memory slope, ms per token in the cache.
    pub gamma: f64,
}

impl PerfParams {
    /// The parameters as a vector (α, β, γ).
    pub fn to_array(self) -> [f64; 3] {
        [self.alpha, self.beta, self.gamma]
    }

    /// Parameters from a vector (α, β, γ).
    pub fn from_array([alpha, beta, gamma]: [f64; 3]) -> Self {
        PerfParams { alpha, beta, gamma }
    }

    /// True when every parameter is finite and not negative, and α is positive (an
    /// iteration takes time).
    pub fn is_valid(self) -> bool {
        self.alpha > 0.0
            && self.alpha.is_finite()
            && self.beta >= 0.0
            && self.beta.is_finite()
            && self.gamma >= 0.0
            && self.gamma.is_finite()
    }

    /// One engine iteration at batch size `n`: `α + n·(β·(I+O)/(O+1) + γ·(I+O/2))`.
    pub fn iteration(self, n: f64, w: Workload) -> f64 {
        self.dot(iteration_terms(n, w))
    }

    /// Prefill of one request at batch size `n`: an iteration plus `(β+γ)·I` (no prefill
    /// without input).
    pub fn prefill(self, n: f64, w: Workload) -> f64 {
        if w.input_tokens <= 0.0 {
            return 0.0;
        }
        self.dot(prefill_terms(n, w))
    }

    /// One decode step at batch size `n`: an iteration plus `β + γ·(I + O/2)`; the
    /// inter-token latency.
    pub fn decode(self, n: f64, w: Workload) -> f64 {
        self.dot(decode_terms(n, w))
    }

    /// The time one request spends in service at batch size `n`: its prefill and `O` decode
    /// steps.
    pub fn service(self, n: f64, w: Workload) -> f64 {
        self.prefill(n, w) + w.output_tokens * self.decode(n, w)
    }

    fn dot(self, terms: [f64; 3]) -> f64 {
        self.alpha * terms[0] + self.beta * terms[1] + self.gamma * terms[2]
    }
}

/// The coefficients of (α, β, γ) in an iteration at batch size `n`.
fn iteration_terms(n: f64, w: Workload) -> [f64; 3] {
    let (i, o) = (w.input_tokens, w.output_tokens);
    [1.0, n * (i + o) / (o + 1.0), n * (i + o / 2.0)]
}

/// The coefficients of (α, β, γ) in a prefill at batch size `n`.
fn prefill_terms(n: f64, w: Workload) -> [f64; 3] {
    let [a, b, c] = iteration_terms(n, w);
    [a, b + w.input_tokens, c + w.input_tokens]
}

/// The coefficients of (α, β, γ) in a decode step at batch size `n`.
pub(super) fn decode_terms(n: f64, w: Workload) -> [f64; 3] {
    let [a, b, c] = iteration_terms(n, w);
    [a, b + 1.0, c + w.input_tokens + w.output_tokens / 2.0]
}

/// The coefficients of (α, β, γ) in the time to first token without waiting: a prefill and
/// one decode step at batch size `n`.
pub(super) fn first_token_terms(n: f64, w: Workload) -> [f64; 3] {
    let (p, d) = (prefill_terms(n, w), decode_terms(n, w));
    if w.input_tokens <= 0.0 {
        return d;
    }
    [p[0] + d[0], p[1] + d[1], p[2] + d[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PerfParams = PerfParams {
        alpha: 10.0,
        beta: 0.01,
        gamma: 0.001,
    };
    const W: Workload = Workload {
        input_tokens: 1000.0,
        output_tokens: 100.0,
    };

    #[test]
    fn times_by_hand() {
        // n = 4: iteration = 10 + 4·(0.01·1100/101 + 0.001·1050) = 10 + 4·(0.108911 + 1.05)
        let iteration = 10.0 + 4.0 * (0.01 * 1100.0 / 101.0 + 0.001 * 1050.0);
        assert!((P.iteration(4.0, W) - iteration).abs() < 1e-9);
        assert!((P.prefill(4.0, W) - (iteration + 0.011 * 1000.0)).abs() < 1e-9);
        assert!((P.decode(4.0, W) - (iteration + 0.01 + 0.001 * 1050.0)).abs() < 1e-9);
        let service = P.prefill(4.0, W) + 100.0 * P.decode(4.0, W);
        assert!((P.service(4.0, W) - service).abs() < 1e-9);
    }

    #[test]
    fn no_input_means_no_prefill() {
        let w = Workload {
            input_tokens: 0.0,
            output_tokens: 10.0,
        };
        assert_eq!(P.prefill(2.0, w), 0.0);
        let ttft = P.dot(first_token_terms(2.0, w));
        assert!((ttft - P.decode(2.0, w)).abs() < 1e-12);
    }
}
