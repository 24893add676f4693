//! Learning α, β, γ online from observed latencies.
//!
//! Both latencies vLLM reports are linear in (α, β, γ) once the batch size and the token
//! counts are known: the inter-token latency is one decode step, and the time to first token
//! of a replica with no queue is a prefill plus one decode step. [`Estimator`] is a recursive
//! least-squares filter over those rows. After a warm-up it rejects a row whose residual is
//! more than [`OUTLIER_SIGMAS`] standard deviations from the fit (a scrape across a restart,
//! a burst) without moving the estimate. A change that lasts is not an outlier: after
//! [`CHANGE_ROWS`] rejected rows in a row the estimator starts over from the current estimate
//! with its confidence reset, and learns the new behaviour (a new workload, a replica past the
//! batch size where its latency starts to climb); until it has accepted `MIN_OBSERVATIONS`
//! rows again it gives no estimate.

use super::perf::{PerfParams, Workload, decode_terms, first_token_terms};

/// Rows accepted before the estimate is used (and before outliers are rejected).
pub const MIN_OBSERVATIONS: u32 = 12;

/// A row whose residual exceeds this many standard deviations of the accepted residuals is
/// rejected.
pub const OUTLIER_SIGMAS: f64 = 4.0;

/// The largest batch size of the accepted rows must be at least this many times the smallest
/// before the estimate is used: rows from one batch size cannot tell the base time from the
/// per-sequence slope (a replica observed only while full would be extrapolated to any
/// batch).
pub const BATCH_SPREAD: f64 = 1.5;

/// Rejected rows in a row after which the estimator takes them as a lasting change rather
/// than outliers and relearns.
pub const CHANGE_ROWS: u32 = 3;

/// The initial variance of α, β and γ: no confidence in the starting estimate, on each
/// parameter's own scale (α is milliseconds, β and γ are milliseconds per token, hundreds to
/// thousands of times smaller). When the rows cannot tell the parameters apart (every
/// request of the same size), the estimate moves the one whose scale fits: a flat latency is
/// learned as α with no slope, not as a large negative β cancelled by γ.
const UNCERTAIN: [f64; 3] = [1e6, 1.0, 1e-2];

/// What one replica showed over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Mean requests running (the batch size), at least 1.
    pub batch: f64,
    /// The average request.
    pub workload: Workload,
    /// Mean inter-token latency, ms.
    pub itl_ms: Option<f64>,
    /// Mean time to first token, ms; pass it only when no request waited (it then holds no
    /// queueing time).
    pub ttft_ms: Option<f64>,
}

/// A recursive least-squares estimate of (α, β, γ).
#[derive(Debug, Clone, PartialEq)]
pub struct Estimator {
    theta: [f64; 3],
    covariance: [[f64; 3]; 3],
    accepted: u32,
    rejected: u32,
    /// Rows rejected since the last accepted one.
    rejected_in_a_row: u32,
    /// The smallest and largest batch size of the rows accepted since the last start.
    batches: Option<(f64, f64)>,
    /// Mean of the squared residuals of the accepted rows (after the warm-up).
    residual_power: f64,
}

impl Default for Estimator {
    fn default() -> Self {
        Estimator::new()
    }
}

impl Estimator {
    /// An estimator that knows nothing yet.
    pub fn new() -> Self {
        Estimator {
            theta: [0.0; 3],
            covariance: uncertain(),
            accepted: 0,
            rejected: 0,
            rejected_in_a_row: 0,
            batches: None,
            residual_power: 0.0,
        }
    }

    /// Feeds one observation (up to two rows); returns the rows accepted. Rows with a
    /// missing, non-finite or non-positive latency, or a batch below 1, are skipped.
    pub fn observe(&mut self, o: &Observation) -> u32 {
        let usable = o.batch.is_finite()
            && o.batch >= 1.0
            && o.workload.output_tokens >= 1.0
            && o.workload.input_tokens >= 0.0
            && o.workload.input_tokens.is_finite()
            && o.workload.output_tokens.is_finite();
        if !usable {
            return 0;
        }
        let rows = [
            (o.itl_ms, decode_terms(o.batch, o.workload)),
            (o.ttft_ms, first_token_terms(o.batch, o.workload)),
        ];
        let mut taken = 0;
        for (value, h) in rows {
            if let Some(y) = value.filter(|y| y.is_finite() && *y > 0.0)
                && self.update(y, h)
            {
                taken += 1;
                let (low, high) = self.batches.unwrap_or((o.batch, o.batch));
                self.batches = Some((low.min(o.batch), high.max(o.batch)));
            }
        }
        taken
    }

    /// The estimate once `MIN_OBSERVATIONS` (12) rows were accepted, at batch sizes
    /// `BATCH_SPREAD` (1.5) times apart, and it describes a replica (α > 0; slopes estimated
    /// below 0 are taken as 0).
    pub fn params(&self) -> Option<PerfParams> {
        let spread = self
            .batches
            .is_some_and(|(low, high)| high >= BATCH_SPREAD * low);
        if self.accepted < MIN_OBSERVATIONS || !spread {
            return None;
        }
        let [alpha, beta, gamma] = self.theta;
        let params = PerfParams {
            alpha,
            beta: beta.max(0.0),
            gamma: gamma.max(0.0),
        };
        params.is_valid().then_some(params)
    }

    /// Rows accepted so far.
    pub fn accepted(&self) -> u32 {
        self.accepted
    }

    /// Rows rejected as outliers so far.
    pub fn rejected(&self) -> u32 {
        self.rejected
    }

    /// One RLS step with row `h` and value `y`, unless the row is an outlier.
    fn update(&mut self, y: f64, h: [f64; 3]) -> bool {
        let predicted: f64 = (0..3).map(|i| h[i] * self.theta[i]).sum();
        let residual = y - predicted;
        if self.accepted >= MIN_OBSERVATIONS {
            let sigma = self.residual_power.sqrt();
            // A floor keeps a perfect fit from rejecting everything: 1% of the value.
            if residual.abs() > OUTLIER_SIGMAS * sigma + 0.01 * y.abs() {
                self.rejected += 1;
                self.rejected_in_a_row += 1;
                if self.rejected_in_a_row < CHANGE_ROWS {
                    return false;
                }
                // A lasting change: keep the estimate as a start, forget the confidence.
                self.covariance = uncertain();
                self.accepted = 0;
                self.batches = None;
                self.residual_power = 0.0;
            }
        }
        self.rejected_in_a_row = 0;
        let ph: [f64; 3] =
            std::array::from_fn(|i| (0..3).map(|j| self.covariance[i][j] * h[j]).sum());
        let denominator = 1.0 + (0..3).map(|i| h[i] * ph[i]).sum::<f64>();
        if !(denominator.is_finite() && denominator > 0.0) {
            return false;
        }
        let gain: [f64; 3] = std::array::from_fn(|i| ph[i] / denominator);
        for (theta, k) in self.theta.iter_mut().zip(gain) {
            *theta += k * residual;
        }
        let previous = self.covariance;
        for (i, row) in self.covariance.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = previous[i][j] - gain[i] * ph[j];
            }
        }
        self.accepted += 1;
        if self.accepted > MIN_OBSERVATIONS {
            let after: f64 = (0..3).map(|i| h[i] * self.theta[i]).sum();
            let n = f64::from(self.accepted - MIN_OBSERVATIONS);
            self.residual_power += ((y - after).powi(2) - self.residual_power) / n;
        }
        true
    }
}

/// A covariance that trusts nothing.
fn uncertain() -> [[f64; 3]; 3] {
    [
        [UNCERTAIN[0], 0.0, 0.0],
        [0.0, UNCERTAIN[1], 0.0],
        [0.0, 0.0, UNCERTAIN[2]],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the test needs no dependency.
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn between(&mut self, low: f64, high: f64) -> f64 {
            low + (high - low) * self.next()
        }
    }

    /// 300 windows of a replica with α = 8 ms, β = 0.02 ms, γ = 0.0005 ms at varied batch
    /// sizes and request shapes, latencies with ±2% noise, one window in twenty tripled (an
    /// outlier): the estimate is within 5% of each parameter, and the outliers are rejected.
    #[test]
    fn recovers_known_parameters_from_noisy_observations_with_outliers() {
        let truth = PerfParams {
            alpha: 8.0,
            beta: 0.02,
            gamma: 0.0005,
        };
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let mut estimator = Estimator::new();
        for i in 0..300 {
            let workload = Workload {
                input_tokens: noise.between(100.0, 3000.0).round(),
                output_tokens: noise.between(20.0, 600.0).round(),
            };
            let batch = noise.between(1.0, 48.0);
            let spoil = if i % 20 == 7 { 3.0 } else { 1.0 };
            let itl = truth.decode(batch, workload) * noise.between(0.98, 1.02) * spoil;
            let ttft = (truth.prefill(batch, workload) + truth.decode(batch, workload))
                * noise.between(0.98, 1.02);
            estimator.observe(&Observation {
                batch,
                workload,
                itl_ms: Some(itl),
                ttft_ms: Some(ttft),
            });
        }
        let learned = estimator.params().expect("enough observations");
        for (got, want) in learned.to_array().into_iter().zip(truth.to_array()) {
            assert!(
                (got - want).abs() <= 0.05 * want,
                "{learned:?} vs {truth:?}"
            );
        }
        assert!(
            estimator.rejected() >= 10,
            "{} rejected",
            estimator.rejected()
        );
    }

    /// A replica whose inter-token latency is flat (25 ms) up to 30 sequences and then
    /// climbs (`5 + n / 1.5` ms): learned on the flat part, the estimate predicts no climb; the
    /// rows past the knee are first rejected as outliers, then taken as a lasting change, and
    /// after relearning the estimate predicts the climb within 10%.
    #[test]
    fn a_lasting_change_is_relearned_not_rejected_forever() {
        let workload = Workload {
            input_tokens: 512.0,
            output_tokens: 256.0,
        };
        let itl = |n: f64| (5.0 + n / 1.5).max(25.0);
        let mut estimator = Estimator::new();
        for i in 0..40 {
            let batch = 5.0 + f64::from(i % 20);
            estimator.observe(&Observation {
                batch,
                workload,
                itl_ms: Some(itl(batch)),
                ttft_ms: None,
            });
        }
        let flat = estimator.params().expect("learned on the flat part");
        assert!((flat.decode(60.0, workload) - 25.0).abs() < 1.0, "{flat:?}");
        let mut first_rejected = None;
        for i in 0..60 {
            let batch = 36.0 + f64::from(i % 24);
            let rejected = estimator.rejected();
            estimator.observe(&Observation {
                batch,
                workload,
                itl_ms: Some(itl(batch)),
                ttft_ms: None,
            });
            if estimator.rejected() > rejected && first_rejected.is_none() {
                first_rejected = Some(i);
            }
        }
        assert_eq!(
            first_rejected,
            Some(0),
            "the first climbing row is an outlier"
        );
        let relearned = estimator.params().expect("relearned");
        let predicted = relearned.decode(60.0, workload);
        assert!(
            (predicted - 45.0).abs() <= 4.5,
            "{relearned:?} predicts {predicted} ms at 60 sequences"
        );
    }

    /// Rows at one batch size (a replica observed only while full) give no estimate: they
    /// cannot tell the base time from the slope.
    #[test]
    fn one_batch_size_gives_no_estimate() {
        let workload = Workload {
            input_tokens: 512.0,
            output_tokens: 256.0,
        };
        let mut estimator = Estimator::new();
        for i in 0..30 {
            estimator.observe(&Observation {
                batch: 100.0 + f64::from(i % 3),
                workload,
                itl_ms: Some(42.0),
                ttft_ms: None,
            });
        }
        assert_eq!(estimator.accepted(), 30);
        assert_eq!(estimator.params(), None);
    }

    #[test]
    fn nothing_is_learned_from_too_few_or_unusable_rows() {
        let mut estimator = Estimator::new();
        let workload = Workload {
            input_tokens: 100.0,
            output_tokens: 10.0,
        };
        let unusable = [
            Observation {
                batch: 0.5,
                workload,
                itl_ms: Some(10.0),
                ttft_ms: None,
            },
            Observation {
                batch: 2.0,
                workload,
                itl_ms: Some(f64::NAN),
                ttft_ms: Some(-1.0),
            },
        ];
        for o in unusable {
            assert_eq!(estimator.observe(&o), 0);
        }
        for _ in 0..(MIN_OBSERVATIONS - 1) {
            estimator.observe(&Observation {
                batch: 2.0,
                workload,
                itl_ms: Some(10.0),
                ttft_ms: None,
            });
        }
        assert_eq!(estimator.params(), None);
    }
}
