//! The GPU limiter of limited mode: scale-ups within the free GPUs per accelerator type.

use crate::plan::ModelPlan;
use crate::scaling::growth_order;
use crate::{Note, Reason, accelerator_type};
use std::collections::BTreeMap;
use wva_core::service_class::LOWEST_PRIORITY;

/// Grants new scale-ups (reason [`Reason::ScaleUp`]) within free GPUs per accelerator type:
/// models of a higher-priority service class first (HYBRID mode; a model without a class
/// counts as the lowest, [`LOWEST_PRIORITY`]), then most saturated (lowest average spare
/// KV), then cheapest; never below
/// `max(current, minReplicas)`. Re-emitted earlier decisions (transition, safety net) and the
/// minimum replica are not limited. Free GPUs and variants meet by [`accelerator_type`]: the
/// free GPUs of names of one type are one pool; a variant without accelerator gets nothing.
/// The replicas a variant cannot get GPUs for go to the model's other variants (see
/// [`fall_back`]).
pub(crate) fn limit(plans: &mut [ModelPlan], free_gpus: Option<&BTreeMap<String, u32>>) {
    let Some(free) = free_gpus else {
        for plan in plans.iter_mut() {
            if plan.variants.iter().any(|p| p.reason == Reason::ScaleUp) {
                plan.report.notes.push(Note::NoInventory);
            }
        }
        return;
    };
    let mut remaining: BTreeMap<String, u64> = BTreeMap::new();
    for (name, gpus) in free {
        let pool = remaining.entry(accelerator_type(name)).or_insert(0);
        *pool = pool.saturating_add(u64::from(*gpus));
    }
    let mut ups: Vec<(usize, usize)> = Vec::new();
    for (m, plan) in plans.iter().enumerate() {
        for (v, p) in plan.variants.iter().enumerate() {
            if p.reason == Reason::ScaleUp && p.target > p.v.current_replicas {
                ups.push((m, v));
            }
        }
    }
    let priority = |m: usize| {
        plans[m]
            .group
            .service_class
            .as_ref()
            .map_or(LOWEST_PRIORITY, |c| c.priority)
    };
    ups.sort_by(|&(ma, va), &(mb, vb)| {
        let (a, b) = (&plans[ma].variants[va], &plans[mb].variants[vb]);
        priority(ma)
            .cmp(&priority(mb))
            .then_with(|| a.stats.avg_spare_kv().total_cmp(&b.stats.avg_spare_kv()))
            .then_with(|| a.v.cost.total_cmp(&b.v.cost))
            .then_with(|| (ma, va).cmp(&(mb, vb)))
    });
    for (k, &(m, v)) in ups.iter().enumerate() {
        let plan = &mut plans[m];
        let p = &mut plan.variants[v];
        let gpus = u64::from(p.v.gpus_per_replica);
        if gpus == 0 {
            continue;
        }
        let floor = p.v.current_replicas.max(p.min());
        let kind = p.v.accelerator.as_deref().map(accelerator_type);
        let mut nothing = 0;
        let left = match &kind {
            Some(kind) => remaining.entry(kind.clone()).or_insert(0),
            None => &mut nothing,
        };
        *left = left.saturating_sub(u64::from(floor - p.v.current_replicas) * gpus);
        let wanted = p.target.saturating_sub(floor);
        let granted = u64::from(wanted).min(*left / gpus);
        *left -= granted * gpus;
        let granted = u32::try_from(granted).unwrap_or(wanted);
        if granted < wanted {
            let kind = kind.as_deref().unwrap_or("unknown");
            p.message = format!(
                "{} (limited from {} to {} replicas: {} free {kind} GPUs, {gpus} per replica)",
                p.message,
                p.target,
                floor + granted,
                *left + granted as u64 * gpus,
            );
            p.target = floor + granted;
            p.limited = true;
            if !plan.report.notes.contains(&Note::Limited) {
                plan.report.notes.push(Note::Limited);
            }
            let waiting = |c: usize| ups[k + 1..].contains(&(m, c));
            fall_back(plan, v, wanted - granted, &mut remaining, waiting);
        }
    }
}

/// Gives the `short` replicas variant `from` could not get GPUs for to the model's other
/// variants in growth order (cheapest first), each within its bounds (no pending replicas,
/// below `maxReplicas`) and the free GPUs of its accelerator type. A variant whose own
/// scale-up the limiter has yet to grant (`waiting`) is skipped. The decisions say where the
/// replicas went.
fn fall_back(
    plan: &mut ModelPlan,
    from: usize,
    short: u32,
    remaining: &mut BTreeMap<String, u64>,
    waiting: impl Fn(usize) -> bool,
) {
    let mut order: Vec<usize> = (0..plan.variants.len())
        .filter(|&c| c != from && !waiting(c))
        .collect();
    order.sort_by(|&a, &b| growth_order(&plan.variants[a], &plan.variants[b]));
    let limited = plan.variants[from].v.name.clone();
    let mut short = short;
    let mut moved = Vec::new();
    for c in order {
        let p = &mut plan.variants[c];
        let gpus = u64::from(p.v.gpus_per_replica);
        let Some(kind) = p.v.accelerator.as_deref().map(accelerator_type) else {
            continue;
        };
        let Some(left) = remaining.get_mut(&kind) else {
            continue;
        };
        if short == 0 || gpus == 0 || p.v.pending_replicas > 0 || p.target >= p.max() {
            continue;
        }
        let room = u64::from(p.max() - p.target).min(*left / gpus);
        let add = u32::try_from(room).unwrap_or(u32::MAX).min(short);
        if add == 0 {
            continue;
        }
        *left -= u64::from(add) * gpus;
        short -= add;
        let from_target = p.target;
        let grow = format!(
            "variant (cost {}) grows {from_target} -> {} in place of {limited}, which cannot get GPUs; {free} free {kind} GPUs, {gpus} per replica",
            p.v.cost,
            from_target + add,
            free = *left + u64::from(add) * gpus,
        );
        let message = if p.reason == Reason::ScaleUp {
            format!("{}; {grow}", p.message)
        } else {
            grow
        };
        p.set(from_target + add, Reason::ScaleUp, message);
        moved.push(format!("{add} to {}", p.v.name));
    }
    if moved.is_empty() {
        return;
    }
    let moved = moved.join(", ");
    let limited_plan = &mut plan.variants[from];
    limited_plan.message = format!(
        "{}; replicas moved to another variant: {moved}",
        limited_plan.message
    );
    for p in &mut plan.variants {
        if p.reason == Reason::ScaleUpOtherVariant {
            p.message = format!("{}; {limited} cannot get GPUs, {moved}", p.message);
        }
    }
}
