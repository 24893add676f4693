//! The saturation analysis of one model and the scale-up or scale-down it leads to.

use crate::analysis::{ModelNumbers, VariantStats};
use crate::plan::{ModelPlan, VariantPlan};
use crate::{Analysis, Note, Reason};
use std::cmp::Ordering;
use wva_core::saturation::{SaturationThresholds, ScaleUpStep};

/// Cost ascending, then most spare capacity, then name: the order in which variants grow.
pub(crate) fn growth_order(a: &VariantPlan, b: &VariantPlan) -> Ordering {
    a.v.cost
        .total_cmp(&b.v.cost)
        .then_with(|| b.stats.spare_kv_sum.total_cmp(&a.stats.spare_kv_sum))
        .then_with(|| a.v.name.cmp(&b.v.name))
}

/// Cost descending, then most spare capacity, then name descending: the order in which
/// variants shrink.
fn shrink_order(a: &VariantPlan, b: &VariantPlan) -> Ordering {
    b.v.cost
        .total_cmp(&a.v.cost)
        .then_with(|| b.stats.spare_kv_sum.total_cmp(&a.stats.spare_kv_sum))
        .then_with(|| b.v.name.cmp(&a.v.name))
}

/// Which spare capacity fell below its trigger, as the decision message says it.
fn spare_text(t: &SaturationThresholds, n: &ModelNumbers) -> String {
    let kv_low = n.avg_spare_kv < t.kv_spare_trigger;
    let queue_low = n.avg_spare_queue < t.queue_spare_trigger;
    let kv = format!("KV spare ({:.3} < {})", n.avg_spare_kv, t.kv_spare_trigger);
    let queue = format!(
        "queue spare ({:.2} < {})",
        n.avg_spare_queue, t.queue_spare_trigger
    );
    match (kv_low, queue_low) {
        (true, true) => format!("both {kv} and {queue} low"),
        (true, false) => format!("{kv} low"),
        _ => format!("{queue} low"),
    }
}

impl ModelPlan<'_> {
    /// The saturation numbers of the model (replica classification, spares, the V1 verdicts)
    /// and why it is in transition, if it is; sets the metrics condition's message.
    pub(crate) fn saturation_numbers(&mut self) -> (ModelNumbers, Analysis) {
        let t = self.report.thresholds;
        let stats: Vec<VariantStats> = self.variants.iter().map(|p| p.stats).collect();
        let numbers = ModelNumbers::of(&stats, &t);
        let current: u64 = self
            .variants
            .iter()
            .map(|p| u64::from(p.v.current_replicas))
            .sum();
        self.metrics.message = format!(
            "Saturation metrics from {} of {current} replicas",
            numbers.reporting
        );
        let analysis = Analysis {
            reporting_replicas: numbers.reporting,
            non_saturated_replicas: numbers.free,
            saturated_replicas: numbers.saturated,
            unknown_replicas: numbers.unknown,
            avg_spare_kv: numbers.avg_spare_kv,
            avg_spare_queue: numbers.avg_spare_queue,
            should_scale_up: numbers.should_scale_up,
            scale_down_safe: numbers.scale_down_safe(),
            sized_replicas: numbers.sized_total,
            transition: self.transition(),
        };
        (numbers, analysis)
    }

    /// Keeps the earlier decision of every variant of a model in transition.
    pub(crate) fn hold_in_transition(&mut self, why: &str) {
        self.report.notes.push(Note::InTransition);
        for p in &mut self.variants {
            let target = p
                .previous()
                .filter(|d| *d != p.v.current_replicas)
                .unwrap_or(p.v.current_replicas);
            p.set(
                target,
                Reason::InTransition,
                format!("in transition: {why}"),
            );
        }
    }

    /// Classifies the replicas and scales up, down or not at all; a model in transition
    /// keeps its earlier decision.
    pub(crate) fn analyze(&mut self) {
        let (numbers, analysis) = self.saturation_numbers();
        if let Some(why) = analysis.transition.as_deref() {
            self.hold_in_transition(why);
        } else if numbers.should_scale_up {
            self.scale_up(&numbers);
        } else if numbers.scale_down_safe() {
            self.scale_down(&numbers);
        } else {
            let (reason, message) = if numbers.scale_down_safe_on_known {
                (
                    Reason::ScaleDownBlockedMissingData,
                    format!(
                        "scale-down would be safe on the known signals, but {} replicas have a missing signal",
                        numbers.missing
                    ),
                )
            } else {
                (
                    Reason::Steady,
                    format!(
                        "KV spare {:.3} and queue spare {:.2} at or above triggers; removing a replica would not be safe",
                        numbers.avg_spare_kv, numbers.avg_spare_queue
                    ),
                )
            };
            for p in &mut self.variants {
                p.set(p.v.current_replicas, reason, message.clone());
            }
        }
        self.report.analysis = Some(analysis);
        self.enforce_scale_to_zero();
    }

    /// Why the model is in transition, if it is: a previous decision differs from the current
    /// replicas, or the reporting replicas differ from the current replicas.
    fn transition(&self) -> Option<String> {
        let causes: Vec<String> = self
            .variants
            .iter()
            .filter_map(|p| {
                let current = p.v.current_replicas;
                if let Some(d) = p.previous().filter(|d| *d != current) {
                    Some(format!(
                        "variant {} has previous desired {d} but {current} current replicas",
                        p.v.name
                    ))
                } else if p.stats.reporting != current {
                    Some(format!(
                        "variant {} has {} of {current} replicas reporting metrics",
                        p.v.name, p.stats.reporting
                    ))
                } else {
                    None
                }
            })
            .collect();
        (!causes.is_empty()).then(|| causes.join("; "))
    }

    /// Grows the cheapest variants that can grow by the scale-up step.
    fn scale_up(&mut self, n: &ModelNumbers) {
        let why = spare_text(&self.report.thresholds, n);
        let mut want = match self.report.scale_up_step {
            ScaleUpStep::One => 1,
            ScaleUpStep::Sized => n
                .sized_total
                .map_or(1, |m| m.saturating_sub(n.reporting).max(1)),
        };
        let mut order: Vec<usize> = (0..self.variants.len())
            .filter(|&i| {
                let p = &self.variants[i];
                p.v.pending_replicas == 0 && p.target < p.max()
            })
            .collect();
        order.sort_by(|&a, &b| growth_order(&self.variants[a], &self.variants[b]));
        let mut grown = Vec::new();
        for i in order {
            if want == 0 {
                break;
            }
            let p = &mut self.variants[i];
            let add = want.min(p.max() - p.target);
            want -= add;
            let from = p.target;
            p.set(
                from + add,
                Reason::ScaleUp,
                format!(
                    "{why}; variant (cost {}) grows {from} -> {}",
                    p.v.cost,
                    from + add
                ),
            );
            grown.push(p.v.name.clone());
        }
        self.settle_grown(&why, &grown);
    }

    /// Shrinks the most expensive variant above one replica and its minimum by one.
    fn scale_down(&mut self, n: &ModelNumbers) {
        let why = format!(
            "KV spare {:.3} and queue spare {:.2} stay at or above triggers with one replica fewer",
            n.avg_spare_kv, n.avg_spare_queue
        );
        let chosen = (0..self.variants.len())
            .filter(|&i| {
                let p = &self.variants[i];
                p.target > 1 && p.target > p.min()
            })
            .min_by(|&a, &b| shrink_order(&self.variants[a], &self.variants[b]));
        let other = match chosen {
            Some(i) => {
                let p = &mut self.variants[i];
                let from = p.target;
                p.set(
                    from - 1,
                    Reason::ScaleDown,
                    format!(
                        "{why}; most expensive variant (cost {}) shrinks {from} -> {}",
                        p.v.cost,
                        from - 1
                    ),
                );
                (
                    Reason::ScaleDownOtherVariant,
                    format!("{why}; the model shrinks on {}", p.v.name),
                )
            }
            None => (
                Reason::Steady,
                format!("{why}, but no variant is above 1 replica and its minReplicas"),
            ),
        };
        for p in &mut self.variants {
            if p.reason != Reason::ScaleDown {
                p.set(p.target, other.0, other.1.clone());
            }
        }
    }
}
