//! The numbers of the token-capacity analyzer (V2): capacity and demand per replica, capacity
//! per variant, and the model's supply, required and spare capacity. "Token-capacity analyzer
//! (V2)" in `docs/engine.md` gives the formulas and a worked example.

use crate::snapshot::{ReplicaSignals, Variant};
use crate::{CapacityAnalysis, analysis::cmp_replica};
use wva_core::saturation::{AnalyzerThresholds, SaturationThresholds};

/// What capacity and demand are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// KV-cache tokens: every reporting replica has `kvCapacityTokens`.
    Tokens,
    /// Fractions of one replica's KV cache: some replica lacks `kvCapacityTokens`.
    KvFraction,
}

impl Unit {
    /// The name in [`CapacityAnalysis::unit`].
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unit::Tokens => "tokens",
            Unit::KvFraction => "kv-fraction",
        }
    }

    /// An amount in this unit, as decision messages print it.
    pub(crate) fn show(self, x: f64) -> String {
        match self {
            Unit::Tokens => format!("{x:.0} tokens"),
            Unit::KvFraction => format!("{x:.3} KV caches"),
        }
    }

    /// A cost per replica over a capacity per replica, as decision messages print it.
    pub(crate) fn show_cost(self, cost: f64, capacity: f64) -> String {
        match self {
            Unit::Tokens => format!("cost {:.2}/1000 tokens", cost / capacity * 1000.0),
            Unit::KvFraction => format!("cost {:.2}/KV cache", cost / capacity),
        }
    }
}

fn positive(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v > 0.0)
}

fn non_negative(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v >= 0.0)
}

/// The median of `xs` (the mean of the two middle values for an even count); `None` when empty.
pub(crate) fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
    }
}

/// The average request of a replica: input and output tokens, both known.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RequestSize {
    input: f64,
    output: f64,
}

impl RequestSize {
    fn of(r: &ReplicaSignals) -> Option<RequestSize> {
        Some(RequestSize {
            input: non_negative(r.avg_input_tokens)?,
            output: non_negative(r.avg_output_tokens)?,
        })
    }
}

/// The capacity the batch limits allow, `k2 = N·(I + O/2)` with `N = min(B·O/(I+O), S)`: the
/// requests that run at once, each holding its input and on average half its output. `None`
/// when a limit or the request size is unknown, or the result is not positive.
fn batch_capacity(v: &Variant, size: Option<RequestSize>) -> Option<f64> {
    let b = f64::from(v.max_num_batched_tokens.filter(|b| *b > 0)?);
    let s = f64::from(v.max_num_seqs.filter(|s| *s > 0)?);
    let RequestSize { input, output } = size?;
    let n = (b * output / (input + output)).min(s);
    Some(n * (input + output / 2.0)).filter(|k| k.is_finite() && *k > 0.0)
}

/// The capacity of one replica of `v`: `min(k1, k2)` with `k1 = total × kvCacheThreshold`
/// (`total` = 1 in KV fractions, where `k2` does not apply).
fn replica_capacity(
    unit: Unit,
    total: f64,
    v: &Variant,
    size: Option<RequestSize>,
    t: &SaturationThresholds,
) -> f64 {
    let k1 = total * t.kv_cache_threshold;
    match (unit, batch_capacity(v, size)) {
        (Unit::Tokens, Some(k2)) => k1.min(k2),
        _ => k1,
    }
}

/// One variant's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct VariantCapacity {
    /// Capacity per replica: the median over its reporting replicas, else from the model's
    /// median KV size and request size.
    pub per_replica: f64,
    /// Replicas serving now: the ready ones (or the reporting ones, when more).
    pub serving: u32,
    /// Replicas once the pending ones are ready.
    pub anticipated: u32,
}

/// The model's numbers under one configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelCapacity {
    pub unit: Unit,
    /// One per variant, in the plan's order.
    pub variants: Vec<VariantCapacity>,
    pub demand: f64,
    pub supply: f64,
    pub anticipated_supply: f64,
    /// Replicas with a token-capacity input missing: the KV size while another replica of
    /// the model reports one, or, in token units, the request size of a replica with a queue.
    pub missing_inputs: u32,
}

/// The replicas of `v` that report at least one signal, in a canonical order (so that the
/// floating-point sums do not depend on the order of the input).
fn reporting(v: &Variant) -> Vec<&ReplicaSignals> {
    let mut rs: Vec<&ReplicaSignals> = v
        .replicas
        .iter()
        .filter(|r| {
            r.kv_cache_usage.is_some_and(f64::is_finite)
                || r.queue_length.is_some_and(f64::is_finite)
        })
        .collect();
    rs.sort_by(|a, b| cmp_replica(a, b));
    rs
}

impl ModelCapacity {
    /// Measures the variants of one model.
    pub(crate) fn of(variants: &[&Variant], t: &SaturationThresholds) -> ModelCapacity {
        let replicas: Vec<Vec<&ReplicaSignals>> = variants.iter().map(|v| reporting(v)).collect();
        let all = || replicas.iter().flatten();
        let sized = all()
            .filter(|r| positive(r.kv_capacity_tokens).is_some())
            .count();
        let unit = if sized == all().count() {
            Unit::Tokens
        } else {
            Unit::KvFraction
        };
        let total = |r: &ReplicaSignals| match unit {
            Unit::Tokens => positive(r.kv_capacity_tokens).unwrap_or(1.0),
            Unit::KvFraction => 1.0,
        };
        let model_total = median(all().map(|r| total(r)).collect()).unwrap_or(1.0);
        let model_size = match (
            median(
                all()
                    .filter_map(|r| RequestSize::of(r))
                    .map(|s| s.input)
                    .collect(),
            ),
            median(
                all()
                    .filter_map(|r| RequestSize::of(r))
                    .map(|s| s.output)
                    .collect(),
            ),
        ) {
            (Some(input), Some(output)) => Some(RequestSize { input, output }),
            _ => None,
        };
        let mut out = ModelCapacity {
            unit,
            variants: Vec::with_capacity(variants.len()),
            demand: 0.0,
            supply: 0.0,
            anticipated_supply: 0.0,
            missing_inputs: if sized > 0 && unit == Unit::KvFraction {
                u32::try_from(all().count() - sized).unwrap_or(u32::MAX)
            } else {
                0
            },
        };
        for (v, rs) in variants.iter().zip(&replicas) {
            // Data parallelism: a replica running several engines has their capacity and
            // demand; the per-engine figures are multiplied by its engine count.
            let engines = |r: &ReplicaSignals| f64::from(v.engines_of(Some(r)));
            let per_engine: Vec<f64> = rs
                .iter()
                .map(|r| replica_capacity(unit, total(r), v, RequestSize::of(r), t))
                .collect();
            let per_replica = median(
                rs.iter()
                    .zip(&per_engine)
                    .map(|(r, c)| c * engines(r))
                    .collect(),
            )
            .unwrap_or_else(|| {
                replica_capacity(unit, model_total, v, model_size, t)
                    * f64::from(v.engines_of(None))
            });
            for (r, capacity) in rs.iter().zip(per_engine) {
                out.demand += out.replica_demand(r, total(r), capacity, t) * engines(r);
            }
            let reporting = u32::try_from(rs.len()).unwrap_or(u32::MAX);
            let serving = v.ready_replicas.max(reporting);
            let anticipated = v
                .current_replicas
                .max(serving.saturating_add(v.pending_replicas));
            out.supply += per_replica * f64::from(serving);
            out.anticipated_supply += per_replica * f64::from(anticipated);
            out.variants.push(VariantCapacity {
                per_replica,
                serving,
                anticipated,
            });
        }
        out
    }

    /// The demand of one replica: the tokens in use (`kv × total`) plus each queued request at
    /// `I·(1 − prefixCacheHitRate) + O/2` tokens, the KV it will hold on average while it runs
    /// (its prompt minus the prefix already cached, and half its output), the same per-request
    /// size as the batch capacity counts. When the request size is unknown (or in KV
    /// fractions) a queued request costs `capacity / queueLengthThreshold`: a queue at its
    /// threshold is worth one replica. A missing KV or queue value counts at its threshold.
    fn replica_demand(
        &mut self,
        r: &ReplicaSignals,
        total: f64,
        capacity: f64,
        t: &SaturationThresholds,
    ) -> f64 {
        let kv = non_negative(r.kv_cache_usage).unwrap_or(t.kv_cache_threshold);
        let queue = non_negative(r.queue_length).unwrap_or(t.queue_length_threshold);
        let per_request = match (self.unit, RequestSize::of(r)) {
            (Unit::Tokens, Some(size)) => {
                let hit = non_negative(r.prefix_cache_hit_rate).map_or(0.0, |h| h.min(1.0));
                size.input * (1.0 - hit) + size.output / 2.0
            }
            (unit, _) => {
                if unit == Unit::Tokens && queue > 0.0 {
                    self.missing_inputs += 1;
                }
                capacity / t.queue_length_threshold
            }
        };
        kv * total + queue * per_request
    }

    /// The analysis under `analyzers`: required capacity the largest any analyzer asks for
    /// (scale up if any says so), spare capacity the smallest (scale down only if all agree).
    /// Returns the analysis and the analyzers that set the required and the spare capacity.
    pub(crate) fn analyze(
        &self,
        analyzers: &[AnalyzerThresholds],
    ) -> (CapacityAnalysis, AnalyzerThresholds, AnalyzerThresholds) {
        let (d, a, s) = (self.demand, self.anticipated_supply, self.supply);
        let required = |x: &AnalyzerThresholds| (d / x.scale_up_threshold - a).max(0.0);
        let spare = |x: &AnalyzerThresholds| (s - d / x.scale_down_boundary).max(0.0);
        let first = analyzers.first().copied().unwrap_or(AnalyzerThresholds {
            scale_up_threshold: wva_core::saturation::DEFAULT_SCALE_UP_THRESHOLD,
            scale_down_boundary: wva_core::saturation::DEFAULT_SCALE_DOWN_BOUNDARY,
        });
        let mut up = first;
        let mut down = first;
        for x in analyzers {
            if required(x) > required(&up) {
                up = *x;
            }
            if spare(x) < spare(&down) {
                down = *x;
            }
        }
        let analysis = CapacityAnalysis {
            unit: self.unit.as_str(),
            demand: d,
            supply: s,
            anticipated_supply: a,
            required: required(&up),
            spare: spare(&down),
            utilization: if s > 0.0 { d / s } else { 0.0 },
        };
        (analysis, up, down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn batch_capacity_follows_the_limits() {
        let v = Variant {
            name: "v".into(),
            cost: 1.0,
            accelerator: None,
            gpus_per_replica: 1,
            current_replicas: 1,
            ready_replicas: 1,
            pending_replicas: 0,
            previous_desired: None,
            min_replicas: None,
            max_replicas: None,
            max_num_batched_tokens: Some(8192),
            max_num_seqs: Some(64),
            role: crate::Role::Both,
            data_parallel_size: None,
            perf: None,
            arrival_rate: None,
            replicas: Vec::new(),
        };
        let size = |input, output| Some(RequestSize { input, output });
        // N = min(8192·200/1200, 64) = min(1365.3, 64) = 64; k2 = 64·(1000 + 100) = 70400.
        assert_eq!(batch_capacity(&v, size(1000.0, 200.0)), Some(70400.0));
        // With S large, N = B·O/(I+O).
        let wide = Variant {
            max_num_seqs: Some(100_000),
            ..v.clone()
        };
        // N = 8192·1000/2000 = 4096; k2 = 4096·(1000 + 500) = 6_144_000.
        assert_eq!(
            batch_capacity(&wide, size(1000.0, 1000.0)),
            Some(6_144_000.0)
        );
        assert_eq!(
            batch_capacity(&v, size(1000.0, 0.0)),
            None,
            "no output, no k2"
        );
        assert_eq!(batch_capacity(&v, None), None);
    }
}
