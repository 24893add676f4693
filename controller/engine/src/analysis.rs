//! Per-replica classification and the model-level saturation analysis: steps 2, 4 and 6 of
//! "Algorithm, per model" in `docs/engine.md`.

use crate::snapshot::{ReplicaSignals, Variant};
use std::cmp::Ordering;
use wva_core::saturation::SaturationThresholds;

/// The largest replica count the `sized` step asks for (a guard against absurd inputs).
pub(crate) const MAX_SIZED_REPLICAS: u32 = 100_000;

/// What one replica's signals say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReplicaState {
    /// No signal at all: the replica is not reporting.
    Unreported,
    /// A signal at or above its threshold.
    Saturated,
    /// A signal missing and none at or above its threshold: unknown, never idle.
    Unknown,
    /// Every signal present and below its threshold.
    Free { spare_kv: f64, spare_queue: f64 },
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// Classifies one replica: saturated ⇔ `kv >= kvCacheThreshold` or
/// `queue >= queueLengthThreshold`.
pub(crate) fn classify(r: &ReplicaSignals, t: &SaturationThresholds) -> ReplicaState {
    let kv = finite(r.kv_cache_usage);
    let queue = finite(r.queue_length);
    if kv.is_some_and(|k| k >= t.kv_cache_threshold)
        || queue.is_some_and(|q| q >= t.queue_length_threshold)
    {
        return ReplicaState::Saturated;
    }
    match (kv, queue) {
        (Some(k), Some(q)) => ReplicaState::Free {
            spare_kv: t.kv_cache_threshold - k,
            spare_queue: t.queue_length_threshold - q,
        },
        (None, None) => ReplicaState::Unreported,
        _ => ReplicaState::Unknown,
    }
}

/// Sums over one variant's replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct VariantStats {
    pub reporting: u32,
    pub free: u32,
    /// Engines of the non-saturated replicas (data parallelism: a replica counts its
    /// engines); the averages are taken over them.
    pub free_engines: u32,
    /// The most engines one non-saturated replica runs: what a scale-down removes at most.
    pub max_free_engines: u32,
    pub saturated: u32,
    pub unknown: u32,
    pub unreported: u32,
    /// Replicas with at least one missing signal (whatever their state).
    pub missing: u32,
    pub spare_kv_sum: f64,
    pub spare_queue_sum: f64,
    /// KV load of the reporting replicas, a missing value counted at its threshold.
    pub kv_load: f64,
    /// Queue load of the reporting replicas, a missing value counted at its threshold.
    pub queue_load: f64,
}

/// The canonical order of replicas: by pod, then by their signals.
pub(crate) fn cmp_replica(a: &ReplicaSignals, b: &ReplicaSignals) -> Ordering {
    let num = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    };
    a.pod
        .cmp(&b.pod)
        .then_with(|| num(a.kv_cache_usage, b.kv_cache_usage))
        .then_with(|| num(a.queue_length, b.queue_length))
}

impl VariantStats {
    /// Classifies and sums the replicas of `v` in a canonical order, so that the floating-point
    /// sums do not depend on the order of the input.
    pub fn of(v: &Variant, t: &SaturationThresholds) -> VariantStats {
        let mut stats = VariantStats::default();
        if v.replicas
            .is_sorted_by(|a, b| cmp_replica(a, b) != Ordering::Greater)
        {
            v.replicas
                .iter()
                .for_each(|r| stats.add(r, v.engines_of(Some(r)), t));
        } else {
            let mut sorted: Vec<&ReplicaSignals> = v.replicas.iter().collect();
            sorted.sort_by(|a, b| cmp_replica(a, b));
            sorted
                .into_iter()
                .for_each(|r| stats.add(r, v.engines_of(Some(r)), t));
        }
        stats
    }

    /// Adds replica `r`, which runs `engines` engines (its values are its busiest engine's:
    /// the per-pod peak).
    fn add(&mut self, r: &ReplicaSignals, engines: u32, t: &SaturationThresholds) {
        if finite(r.kv_cache_usage).is_none() || finite(r.queue_length).is_none() {
            self.missing += 1;
        }
        let state = classify(r, t);
        match state {
            ReplicaState::Unreported => {
                self.unreported += 1;
                return;
            }
            ReplicaState::Saturated => self.saturated += 1,
            ReplicaState::Unknown => self.unknown += 1,
            ReplicaState::Free {
                spare_kv,
                spare_queue,
            } => {
                self.free += 1;
                self.free_engines = self.free_engines.saturating_add(engines);
                self.max_free_engines = self.max_free_engines.max(engines);
                self.spare_kv_sum += spare_kv * f64::from(engines);
                self.spare_queue_sum += spare_queue * f64::from(engines);
            }
        }
        self.reporting += 1;
        self.kv_load += finite(r.kv_cache_usage)
            .unwrap_or(t.kv_cache_threshold)
            .max(0.0);
        self.queue_load += finite(r.queue_length)
            .unwrap_or(t.queue_length_threshold)
            .max(0.0);
    }

    /// Average spare KV of this variant's non-saturated engines (0 when none): the limiter's
    /// priority (lower = more saturated) and the tie-breaker between equal costs.
    pub fn avg_spare_kv(&self) -> f64 {
        if self.free_engines == 0 {
            0.0
        } else {
            self.spare_kv_sum / f64::from(self.free_engines)
        }
    }

    /// Any replica with a missing signal.
    pub fn any_missing(&self) -> bool {
        self.missing > 0
    }
}

/// The model-level numbers: replica counts by state, the average spares over the non-saturated
/// replicas, whether to scale up, whether scale-down is safe, and the `sized` target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModelNumbers {
    pub reporting: u32,
    pub free: u32,
    pub saturated: u32,
    pub unknown: u32,
    pub missing: u32,
    pub any_missing: bool,
    pub avg_spare_kv: f64,
    pub avg_spare_queue: f64,
    pub should_scale_up: bool,
    /// Scale-down safety on the known signals alone (ignores missing ones).
    pub scale_down_safe_on_known: bool,
    pub sized_total: Option<u32>,
}

impl ModelNumbers {
    /// Aggregates the variants of one model.
    pub fn of(stats: &[VariantStats], t: &SaturationThresholds) -> ModelNumbers {
        let mut sum = VariantStats::default();
        for s in stats {
            sum.reporting += s.reporting;
            sum.free += s.free;
            sum.free_engines = sum.free_engines.saturating_add(s.free_engines);
            sum.max_free_engines = sum.max_free_engines.max(s.max_free_engines);
            sum.saturated += s.saturated;
            sum.unknown += s.unknown;
            sum.unreported += s.unreported;
            sum.missing += s.missing;
            sum.spare_kv_sum += s.spare_kv_sum;
            sum.spare_queue_sum += s.spare_queue_sum;
            sum.kv_load += s.kv_load;
            sum.queue_load += s.queue_load;
        }
        let (avg_spare_kv, avg_spare_queue) = if sum.free_engines == 0 {
            (0.0, 0.0)
        } else {
            let n = f64::from(sum.free_engines);
            (sum.spare_kv_sum / n, sum.spare_queue_sum / n)
        };
        let should_scale_up =
            avg_spare_kv < t.kv_spare_trigger || avg_spare_queue < t.queue_spare_trigger;
        ModelNumbers {
            reporting: sum.reporting,
            free: sum.free,
            saturated: sum.saturated,
            unknown: sum.unknown,
            missing: sum.missing,
            any_missing: sum.any_missing(),
            avg_spare_kv,
            avg_spare_queue,
            should_scale_up,
            scale_down_safe_on_known: scale_down_safe(&sum, avg_spare_kv, avg_spare_queue, t),
            sized_total: sized_total(sum.kv_load, sum.queue_load, t),
        }
    }

    /// Scale-down is safe only with every signal present.
    pub fn scale_down_safe(&self) -> bool {
        self.scale_down_safe_on_known && !self.any_missing
    }
}

/// Needs at least two non-saturated replicas; spreads their average load over the engines
/// left after removing the largest replica (`E / (E − e)`: `N / (N − 1)` when every replica
/// runs one engine, or the same number) and asks that both remaining spares stay at or above
/// their triggers.
fn scale_down_safe(
    sum: &VariantStats,
    avg_kv: f64,
    avg_queue: f64,
    t: &SaturationThresholds,
) -> bool {
    let (engines, removed) = (sum.free_engines, sum.max_free_engines);
    if sum.free < 2 || engines <= removed {
        return false;
    }
    let factor = f64::from(engines) / f64::from(engines - removed);
    let remaining_kv = t.kv_cache_threshold - (t.kv_cache_threshold - avg_kv) * factor;
    let remaining_queue =
        t.queue_length_threshold - (t.queue_length_threshold - avg_queue) * factor;
    remaining_kv >= t.kv_spare_trigger && remaining_queue >= t.queue_spare_trigger
}

/// The replica count M at which the load, spread evenly, leaves both spares at or above their
/// triggers: `M = max(ceil(kvLoad / (kvCacheThreshold − kvSpareTrigger)),
/// ceil(queueLoad / (queueLengthThreshold − queueSpareTrigger)))`. `None` when a threshold
/// equals its trigger (no such M exists).
fn sized_total(kv_load: f64, queue_load: f64, t: &SaturationThresholds) -> Option<u32> {
    let kv_room = t.kv_cache_threshold - t.kv_spare_trigger;
    let queue_room = t.queue_length_threshold - t.queue_spare_trigger;
    if kv_room <= 0.0 || queue_room <= 0.0 {
        return None;
    }
    let m = (kv_load / kv_room)
        .ceil()
        .max((queue_load / queue_room).ceil());
    if !m.is_finite() {
        return None;
    }
    Some(m.clamp(0.0, f64::from(MAX_SIZED_REPLICAS)) as u32)
}
