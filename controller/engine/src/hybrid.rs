//! HYBRID mode (`EXPERIMENTAL_PROACTIVE_MODEL`): after the capacity analysis has decided a
//! target per variant, the queueing model (see [`crate::queueing`]) computes the replicas
//! that meet the model's service-class SLO at the variant's arrival rate, and [`arbitrate`]
//! makes one target of the two, capacity safety first. Without a model result (no service
//! class, no performance parameters, no arrival rate or token sizes, an SLO no replica can
//! meet) the capacity target applies and the message says why.

use crate::plan::{ModelPlan, VariantPlan};
use crate::queueing::{Arbitration, Replica, Targets, Workload, arbitrate};
use crate::{Reason, Variant};
use wva_core::service_class::ModelClass;

/// The batch size `N` of a variant whose Deployment does not set `--max-num-seqs` (vLLM's
/// default).
pub const DEFAULT_MAX_NUM_SEQS: u32 = 256;

/// The queueing model's target of one variant, or why there is none.
struct ModelTarget {
    /// Replicas the model asks for.
    replicas: u32,
    /// The model's numbers, for the message.
    why: String,
}

impl ModelPlan<'_> {
    /// Arbitrates every variant's capacity target with the queueing model's. The capacity
    /// outcome stands, marked `CapacityOnlyMode`, when the safety net, rest at zero, start
    /// from zero, a transition hold or scale-to-zero decided.
    pub(crate) fn hybrid(&mut self) {
        let analysis = self.report.analysis.as_ref();
        let safe = analysis.is_some_and(|a| a.scale_down_safe);
        let skip = match analysis {
            None => Some("the capacity analysis did not run"),
            Some(a) if a.transition.is_some() => Some("the model is in transition"),
            Some(_) => None,
        };
        let class = self.group.service_class.clone();
        let model_id = self.group.model_id.clone();
        for p in &mut self.variants {
            p.optimization = Some(Arbitration::CapacityOnly);
            if let Some(why) = skip.filter(|_| p.fallback.is_none()) {
                p.message = format!("{}; Hybrid mode: capacity-only: {why}", p.message);
                continue;
            }
            if p.fallback.is_some() || p.reason == Reason::ScaleToZero {
                continue;
            }
            let model = model_target(p.v, &model_id, class.as_ref());
            arbitrate_variant(p, model, safe);
        }
    }
}

/// Applies the arbitration of `model` with the variant's capacity target.
fn arbitrate_variant(p: &mut VariantPlan, model: Result<ModelTarget, String>, safe: bool) {
    let current = p.v.current_replicas;
    let capacity = p.target;
    let (wanted, why) = match model {
        Ok(m) => (Some(m.replicas), m.why),
        Err(why) => (None, format!("capacity-only: {why}")),
    };
    // A variant with pending replicas receives no scale-up from the model either.
    let held = wanted.map(|m| {
        if p.v.pending_replicas > 0 {
            m.min(capacity.max(current))
        } else {
            m
        }
    });
    let (target, rule) = arbitrate(current, capacity, held, safe);
    p.optimization = Some(rule);
    let rule_text = match rule {
        Arbitration::CapacitySafetyOverride => "capacity safety override: ",
        _ => "",
    };
    let message = format!("Hybrid mode: {rule_text}{why}; capacity: {}", p.message);
    let reason = if target == capacity {
        p.reason
    } else if target > current {
        Reason::ScaleUp
    } else if target < current {
        Reason::ScaleDown
    } else {
        Reason::Steady
    };
    p.set(target, reason, message);
}

/// The replicas the queueing model asks for, or why it cannot say.
fn model_target(
    v: &Variant,
    model_id: &str,
    class: Option<&ModelClass>,
) -> Result<ModelTarget, String> {
    let class = class.ok_or_else(|| format!("no service class for model {model_id}"))?;
    let not_enough = |what: &str| {
        format!(
            "not enough data to learn the performance model ({what} of variant {} unknown)",
            v.name
        )
    };
    let perf = v.perf.ok_or_else(|| not_enough("performance parameters"))?;
    let rate = v
        .arrival_rate
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| not_enough("arrival rate"))?;
    let workload = workload(v).ok_or_else(|| not_enough("token sizes"))?;
    let batch = v.max_num_seqs.unwrap_or(DEFAULT_MAX_NUM_SEQS);
    let replica = Replica::new(perf, workload, batch).ok_or_else(|| {
        format!(
            "the performance parameters {perf:?} or token sizes of variant {} describe no replica",
            v.name
        )
    })?;
    let targets = Targets {
        ttft_ms: class.slo.ttft_ms,
        itl_ms: class.slo.itl_ms,
    };
    let slo = slo_text(targets);
    let replicas = replica.replicas_for(rate, targets).ok_or_else(|| {
        format!(
            "SLO below what a replica can do (class {}: {slo}; variant {})",
            class.class, v.name
        )
    })?;
    let current = v.current_replicas.max(1);
    let per_replica = rate / f64::from(current);
    let now = replica.analyze(per_replica);
    Ok(ModelTarget {
        replicas,
        why: format!(
            "model wants {replicas} replicas for {rate:.2} req/s (at {per_replica:.2} req/s on each of {current} replicas: predicted TTFT {:.1} ms, ITL {:.1} ms; class {} SLO {slo})",
            now.ttft_ms, now.itl_ms, class.class
        ),
    })
}

/// "TTFT 500 ms, ITL 50 ms", or "none".
fn slo_text(t: Targets) -> String {
    let parts: Vec<String> = [("TTFT", t.ttft_ms), ("ITL", t.itl_ms)]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v} ms")))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The variant's average request: the mean of its replicas' average token sizes, over the
/// replicas reporting both; `None` when none does.
fn workload(v: &Variant) -> Option<Workload> {
    let sizes: Vec<(f64, f64)> = v
        .replicas
        .iter()
        .filter_map(|r| Some((r.avg_input_tokens?, r.avg_output_tokens?)))
        .filter(|(i, o)| i.is_finite() && o.is_finite())
        .collect();
    if sizes.is_empty() {
        return None;
    }
    let n = sizes.len() as f64;
    Some(Workload {
        input_tokens: sizes.iter().map(|s| s.0).sum::<f64>() / n,
        output_tokens: sizes.iter().map(|s| s.1).sum::<f64>() / n,
    })
}
