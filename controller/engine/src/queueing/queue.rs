//! One replica as a state-dependent M/M/1/K queue.

use super::perf::{PerfParams, Workload};

/// Waiting room per batch slot: a replica queues up to `10·N` requests beyond the `N` in
/// service.
pub const QUEUE_PER_BATCH_SLOT: usize = 10;

/// Latency targets of a service class, in milliseconds; `None` = no target.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Targets {
    /// Time to first token.
    pub ttft_ms: Option<f64>,
    /// Inter-token latency (time per output token).
    pub itl_ms: Option<f64>,
}

/// What a replica does at one arrival rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Requests served per second (arrivals minus those turned away by a full queue).
    pub throughput: f64,
    /// Mean time waiting before service, ms.
    pub wait_ms: f64,
    /// Mean time to first token: wait, prefill and one decode step, ms.
    pub ttft_ms: f64,
    /// Mean inter-token latency: one decode step, ms.
    pub itl_ms: f64,
    /// Mean requests in service over the batch size `N`, 0-1.
    pub utilization: f64,
    /// Mean batch size a request in service shares the engine with.
    pub batch: f64,
}

/// A replica: its performance parameters, its workload and its batch size `N`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replica {
    params: PerfParams,
    workload: Workload,
    max_batch: usize,
}

impl Replica {
    /// A replica running at most `max_batch` requests at once; `None` when the parameters or
    /// the workload cannot describe one (non-positive α, negative slopes, less than one
    /// output token, a batch of 0).
    pub fn new(params: PerfParams, workload: Workload, max_batch: u32) -> Option<Replica> {
        let workload_ok = workload.input_tokens >= 0.0
            && workload.input_tokens.is_finite()
            && workload.output_tokens >= 1.0
            && workload.output_tokens.is_finite();
        (params.is_valid() && workload_ok && max_batch > 0).then_some(Replica {
            params,
            workload,
            max_batch: max_batch as usize,
        })
    }

    /// Service rate in state `n` (requests per ms): `min(n, N)` requests each taking the
    /// service time at that batch size.
    fn mu(&self, n: usize) -> f64 {
        let m = n.min(self.max_batch) as f64;
        m / self.params.service(m, self.workload)
    }

    /// The most requests per second the replica serves (all `N` slots busy).
    pub fn capacity(&self) -> f64 {
        self.mu(self.max_batch) * 1000.0
    }

    /// The replica's behaviour at `rate` requests per second (0 or more).
    pub fn analyze(&self, rate: f64) -> Prediction {
        let lambda = rate.max(0.0) / 1000.0;
        let k = self.max_batch * (1 + QUEUE_PER_BATCH_SLOT);
        // Birth-death recursion p(n) = p(n-1)·λ/μ(n), rescaled to stay finite.
        let mut p = Vec::with_capacity(k + 1);
        p.push(1.0_f64);
        for n in 1..=k {
            let next = p[n - 1] * lambda / self.mu(n);
            p.push(next);
            if next > 1e200 {
                p.iter_mut().for_each(|x| *x *= 1e-200);
            }
        }
        let total: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= total);
        let n_cap = self.max_batch;
        let in_system: f64 = p.iter().enumerate().map(|(n, x)| n as f64 * x).sum();
        let in_service: f64 = p
            .iter()
            .enumerate()
            .map(|(n, x)| n.min(n_cap) as f64 * x)
            .sum();
        let throughput = lambda * (1.0 - p[k]);
        let busy = 1.0 - p[0];
        // The batch a request in service sees; 1 when the replica is (almost) always idle.
        let batch = if busy > 1e-12 {
            (in_service / busy).max(1.0)
        } else {
            1.0
        };
        let wait_ms = if throughput > 0.0 {
            ((in_system - in_service) / throughput).max(0.0)
        } else {
            0.0
        };
        let w = self.workload;
        Prediction {
            throughput: throughput * 1000.0,
            wait_ms,
            ttft_ms: wait_ms + self.params.prefill(batch, w) + self.params.decode(batch, w),
            itl_ms: self.params.decode(batch, w),
            utilization: in_service / n_cap as f64,
            batch,
        }
    }

    /// The highest arrival rate (requests per second) at which the predicted TTFT and ITL
    /// meet `targets`, searched below the replica's capacity; `None` when even a trickle of
    /// requests misses them (the targets are below what the replica can do). No target:
    /// 90% of the capacity.
    pub fn max_rate(&self, targets: Targets) -> Option<f64> {
        let high = self.capacity() * 0.999;
        if targets.ttft_ms.is_none() && targets.itl_ms.is_none() {
            return Some(self.capacity() * 0.9);
        }
        let meets = |rate: f64| {
            let p = self.analyze(rate);
            targets.ttft_ms.is_none_or(|t| p.ttft_ms <= t)
                && targets.itl_ms.is_none_or(|t| p.itl_ms <= t)
        };
        let mut low = self.mu(1) * 1000.0 * 0.001;
        if !meets(low) {
            return None;
        }
        if meets(high) {
            return Some(high);
        }
        let mut high = high;
        for _ in 0..100 {
            let mid = (low + high) / 2.0;
            if meets(mid) {
                low = mid;
            } else {
                high = mid;
            }
            if (high - low) <= 1e-6 * high {
                break;
            }
        }
        Some(low)
    }

    /// Replicas needed to serve `rate` requests per second within `targets`: `ceil(rate /
    /// max_rate)`; `None` when the targets cannot be met.
    pub fn replicas_for(&self, rate: f64, targets: Targets) -> Option<u32> {
        let per_replica = self.max_rate(targets)?;
        if rate <= 0.0 {
            return Some(0);
        }
        let replicas = (rate / per_replica).ceil();
        Some(if replicas >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            replicas as u32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Workload = Workload {
        input_tokens: 512.0,
        output_tokens: 128.0,
    };
    const P: PerfParams = PerfParams {
        alpha: 8.0,
        beta: 0.02,
        gamma: 0.0005,
    };

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    /// With N = 1 the queue is the classic M/M/1/K, K = 11, with service time
    /// `S = prefill(1) + O·decode(1)`: p(n) = ρⁿ(1−ρ)/(1−ρ^(K+1)), throughput λ(1−p(K)),
    /// L = ρ/(1−ρ) − (K+1)ρ^(K+1)/(1−ρ^(K+1)), wait = L/throughput − S.
    #[test]
    fn one_slot_reduces_to_the_m_m_1_k_closed_form() {
        let r = Replica::new(P, W, 1).expect("valid");
        let s_ms = P.service(1.0, W);
        for rho in [0.2, 0.7, 0.95, 1.3] {
            let rate = rho / s_ms * 1000.0;
            let k = 11.0_f64;
            let pk = rho.powf(k) * (1.0 - rho) / (1.0 - rho.powf(k + 1.0));
            let l = rho / (1.0 - rho) - (k + 1.0) * rho.powf(k + 1.0) / (1.0 - rho.powf(k + 1.0));
            let x = rate / 1000.0 * (1.0 - pk);
            let wait = l / x - s_ms;
            let p = r.analyze(rate);
            assert!(close(p.throughput, x * 1000.0, 1e-9), "ρ={rho}: {p:?}");
            assert!(
                close(p.wait_ms, wait, 1e-9),
                "ρ={rho}: {} vs {wait}",
                p.wait_ms
            );
            assert!(close(p.itl_ms, P.decode(1.0, W), 1e-12));
            assert!(close(
                p.ttft_ms,
                wait + P.prefill(1.0, W) + P.decode(1.0, W),
                1e-9
            ));
        }
    }

    #[test]
    fn latency_grows_with_load_and_max_rate_meets_the_targets_at_the_edge() {
        let r = Replica::new(P, W, 16).expect("valid");
        let (light, heavy) = (r.analyze(0.5), r.analyze(r.capacity() * 0.9));
        assert!(heavy.ttft_ms > light.ttft_ms && heavy.itl_ms > light.itl_ms);
        let targets = Targets {
            ttft_ms: Some(2000.0),
            itl_ms: Some(40.0),
        };
        let rate = r.max_rate(targets).expect("feasible");
        let at = r.analyze(rate);
        assert!(at.ttft_ms <= 2000.0 && at.itl_ms <= 40.0, "{at:?}");
        let beyond = r.analyze(rate * 1.01);
        assert!(
            beyond.ttft_ms > 2000.0 || beyond.itl_ms > 40.0,
            "{beyond:?}"
        );
        assert_eq!(r.replicas_for(rate * 2.5, targets), Some(3));
        assert_eq!(r.replicas_for(0.0, targets), Some(0));
    }

    #[test]
    fn targets_below_an_idle_replica_are_infeasible() {
        let r = Replica::new(P, W, 16).expect("valid");
        let idle_itl = r.analyze(0.0).itl_ms;
        let targets = Targets {
            ttft_ms: None,
            itl_ms: Some(idle_itl * 0.5),
        };
        assert_eq!(r.max_rate(targets), None);
        assert_eq!(r.replicas_for(1.0, targets), None);
    }

    #[test]
    fn invalid_inputs_make_no_replica() {
        let bad = PerfParams { alpha: 0.0, ..P };
        assert!(Replica::new(bad, W, 8).is_none());
        assert!(Replica::new(P, W, 0).is_none());
        let no_output = Workload {
            output_tokens: 0.0,
            ..W
        };
        assert!(Replica::new(P, no_output, 8).is_none());
    }
}
