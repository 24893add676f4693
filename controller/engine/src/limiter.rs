//! The GPU limiter of limited mode: scale-ups within the free GPUs per accelerator type.

use crate::plan::ModelPlan;
use crate::{Note, Reason, accelerator_type};
use std::collections::BTreeMap;

/// Grants new scale-ups (reason [`Reason::ScaleUp`]) within free GPUs per accelerator type,
/// most saturated first (lowest average spare KV), then cheapest; never below
/// `max(current, minReplicas)`. Re-emitted earlier decisions (transition, safety net) and the
/// minimum replica are not limited. Free GPUs and variants meet by [`accelerator_type`]: the
/// free GPUs of names of one type are one pool; a variant without accelerator gets nothing.
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
    ups.sort_by(|&(ma, va), &(mb, vb)| {
        let (a, b) = (&plans[ma].variants[va], &plans[mb].variants[vb]);
        a.stats
            .avg_spare_kv()
            .total_cmp(&b.stats.avg_spare_kv())
            .then_with(|| a.v.cost.total_cmp(&b.v.cost))
            .then_with(|| (ma, va).cmp(&(mb, vb)))
    });
    for (m, v) in ups {
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
        }
    }
}
