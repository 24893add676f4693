//! One performance model per variant, learned across cycles: each cycle feeds each
//! variant's [`Estimator`] one [`Observation`] (the means over its replicas of the last
//! minute's batch, token sizes, inter-token latency and, when no request waited, time to
//! first token), and gives the engine the variant's arrival rate and its α/β/γ: the estimate
//! once the estimator has warmed up, else the parameters configured for the variant, else
//! none.

use super::configured::ConfiguredPerf;
use crate::assemble::Member;
use crate::keys::{self, VaRef};
use std::collections::{BTreeMap, HashMap, HashSet};
use wva_collector::{PodSignals, Signals};
use wva_engine::Snapshot;
use wva_engine::queueing::{Estimator, Observation, Workload};

/// The estimators of the variants in scope.
#[derive(Debug, Default)]
pub struct PerfModels {
    by_variant: HashMap<VaRef, Estimator>,
}

impl PerfModels {
    /// Feeds this cycle's observation of every variant of `snapshot` and sets its
    /// `arrival_rate` and `perf` (the estimate once warmed up, else `configured`). Variants
    /// no longer in `members` are forgotten.
    pub fn learn(
        &mut self,
        snapshot: &mut Snapshot,
        members: &[Member<'_>],
        signals: &Signals,
        configured: &ConfiguredPerf,
    ) {
        let pods: HashMap<(&str, &str), &BTreeMap<String, PodSignals>> = members
            .iter()
            .filter_map(|m| Some(((m.namespace(), m.name()), signals.variants.get(&m.key)?)))
            .collect();
        let present: HashSet<VaRef> = members.iter().map(|m| keys::of(m.va)).collect();
        self.by_variant.retain(|k, _| present.contains(k));
        for model in &mut snapshot.models {
            for variant in &mut model.variants {
                let Some(pods) = pods.get(&(model.namespace.as_str(), variant.name.as_str()))
                else {
                    continue;
                };
                let key = VaRef::new(&variant.name).within(&model.namespace);
                let estimator = self.by_variant.entry(key).or_default();
                if let Some(observation) = observation(pods.values()) {
                    estimator.observe(&observation);
                }
                variant.arrival_rate = arrival_rate(pods.values());
                variant.perf = estimator
                    .params()
                    .or_else(|| configured.of(&model.namespace, &variant.name));
            }
        }
    }
}

/// The variant's requests per second: the sum over the replicas that report it.
fn arrival_rate<'a>(pods: impl Iterator<Item = &'a PodSignals>) -> Option<f64> {
    let rates: Vec<f64> = pods.filter_map(|p| p.arrival_rate).collect();
    (!rates.is_empty()).then(|| rates.iter().sum())
}

/// The mean of `values`, `None` when empty.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// What the variant's replicas showed over the last minute, averaged over the replicas that
/// report each value; `None` without a batch, token sizes or an inter-token latency. The
/// time to first token is passed only when no replica had a waiting request (it then holds
/// no queueing time).
fn observation<'a>(pods: impl Iterator<Item = &'a PodSignals> + Clone) -> Option<Observation> {
    let batch = mean(pods.clone().filter_map(|p| p.running_batch))?;
    let input_tokens = mean(pods.clone().filter_map(|p| p.avg_input_tokens))?;
    let output_tokens = mean(pods.clone().filter_map(|p| p.avg_output_tokens))?;
    let itl_ms = mean(pods.clone().filter_map(|p| p.itl_seconds)).map(|s| s * 1000.0)?;
    let nothing_waited = pods.clone().all(|p| p.queue_length == Some(0.0));
    let ttft_ms = mean(pods.filter_map(|p| p.ttft_seconds))
        .map(|s| s * 1000.0)
        .filter(|_| nothing_waited);
    Some(Observation {
        batch,
        workload: Workload {
            input_tokens,
            output_tokens,
        },
        itl_ms: Some(itl_ms),
        ttft_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wva_engine::queueing::PerfParams;

    const TRUE: PerfParams = PerfParams {
        alpha: 8.0,
        beta: 0.05,
        gamma: 0.0005,
    };

    /// A replica at batch `n` whose latencies follow [`TRUE`] for 128/64-token requests.
    fn replica(n: f64, waiting: f64) -> PodSignals {
        let w = Workload {
            input_tokens: 128.0,
            output_tokens: 64.0,
        };
        let itl = TRUE.decode(n, w);
        PodSignals {
            queue_length: Some(waiting),
            avg_input_tokens: Some(128.0),
            avg_output_tokens: Some(64.0),
            arrival_rate: Some(2.0),
            ttft_seconds: Some((TRUE.prefill(n, w) + itl) / 1000.0),
            itl_seconds: Some(itl / 1000.0),
            running_batch: Some(n),
            ..PodSignals::default()
        }
    }

    #[test]
    fn a_variant_learns_its_parameters_from_the_means_of_its_replicas() {
        let mut estimator = Estimator::new();
        for n in [4.0, 8.0, 12.0, 16.0, 24.0, 32.0] {
            let pods = [replica(n, 0.0), replica(n, 0.0)];
            let o = observation(pods.iter()).expect("an observation");
            assert!(o.ttft_ms.is_some(), "nothing waited");
            estimator.observe(&o);
            assert_eq!(arrival_rate(pods.iter()), Some(4.0));
        }
        let learned = estimator
            .params()
            .expect("warmed up after 6 cycles of 2 rows");
        for (got, want) in learned.to_array().into_iter().zip(TRUE.to_array()) {
            assert!((got - want).abs() <= want * 0.01, "{learned:?} vs {TRUE:?}");
        }
    }

    #[test]
    fn queueing_time_keeps_ttft_out_and_missing_data_gives_no_observation() {
        let pods = [replica(8.0, 0.0), replica(8.0, 3.0)];
        let o = observation(pods.iter()).expect("an observation");
        assert_eq!(
            o.ttft_ms, None,
            "a request waited: TTFT holds queueing time"
        );
        assert!(o.itl_ms.is_some());
        let silent = [PodSignals::default()];
        assert_eq!(observation(silent.iter()), None);
        assert_eq!(arrival_rate(silent.iter()), None);
    }
}
