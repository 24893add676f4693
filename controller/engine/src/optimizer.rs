//! The cost-aware optimizer of the token-capacity analyzer (V2): from the model's required or
//! spare capacity to replicas of its variants, cheapest capacity first up, most expensive
//! first down.

use crate::analysis::MAX_SIZED_REPLICAS;
use crate::capacity::{ModelCapacity, Unit, VariantCapacity};
use crate::plan::{ModelPlan, VariantPlan};
use crate::{CapacityAnalysis, Reason};
use std::cmp::Ordering;
use wva_core::saturation::AnalyzerThresholds;

/// Cost per unit of capacity ascending, then name: the order in which variants grow (and, in
/// reverse, shrink).
fn cheaper(a: (&VariantPlan, &VariantCapacity), b: (&VariantPlan, &VariantCapacity)) -> Ordering {
    (a.0.v.cost / a.1.per_replica)
        .total_cmp(&(b.0.v.cost / b.1.per_replica))
        .then_with(|| a.0.v.name.cmp(&b.0.v.name))
}

impl ModelPlan<'_> {
    /// Decides the model with the token-capacity analyzers `analyzers` (at least one): the
    /// transition hold as V1, then scale up on required capacity, else scale down on spare
    /// capacity when no replica is saturated and no input is missing; then scale-to-zero.
    pub(crate) fn analyze_capacity(&mut self, analyzers: &[AnalyzerThresholds]) {
        let t = self.report.thresholds;
        let (numbers, mut analysis) = self.saturation_numbers();
        let variants: Vec<_> = self.variants.iter().map(|p| p.v).collect();
        let model = ModelCapacity::of(&variants, &t);
        let (capacity, up, down) = model.analyze(analyzers);
        let missing = numbers.missing + model.missing_inputs;
        let shrink_safe = numbers.saturated == 0 && missing == 0;
        analysis.should_scale_up = capacity.required > 0.0;
        analysis.scale_down_safe = capacity.spare > 0.0 && shrink_safe;
        analysis.sized_replicas = None;
        let unit = model.unit;
        if let Some(why) = analysis.transition.as_deref() {
            self.hold_in_transition(why);
        } else if capacity.required > 0.0 {
            let why = format!(
                "demand {} > {} × anticipated supply {} (required {})",
                unit.show(capacity.demand),
                up.scale_up_threshold,
                unit.show(capacity.anticipated_supply),
                unit.show(capacity.required)
            );
            self.grow(&model, capacity.required, &why);
        } else if capacity.spare > 0.0 && shrink_safe {
            let why = format!(
                "demand {} < {} × supply {} (spare {})",
                unit.show(capacity.demand),
                down.scale_down_boundary,
                unit.show(capacity.supply),
                unit.show(capacity.spare)
            );
            self.shrink(&model, capacity.spare, &why);
        } else {
            let (reason, message) = hold_message(&capacity, unit, numbers.saturated, missing, down);
            for p in &mut self.variants {
                p.set(p.v.current_replicas, reason, message.clone());
            }
        }
        self.report.analysis = Some(analysis);
        self.report.capacity = Some(capacity);
        self.enforce_scale_to_zero();
    }

    /// The variant indices in growth order.
    fn by_cost_per_capacity(&self, model: &ModelCapacity) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.variants.len())
            .filter(|&i| model.variants[i].per_replica > 0.0)
            .collect();
        order.sort_by(|&a, &b| {
            cheaper(
                (&self.variants[a], &model.variants[a]),
                (&self.variants[b], &model.variants[b]),
            )
        });
        order
    }

    /// Adds `ceil(required / capacity)` replicas to the variant with the lowest cost per unit
    /// of capacity, within `maxReplicas`, skipping variants with pending replicas, and spills
    /// what does not fit to the next.
    fn grow(&mut self, model: &ModelCapacity, required: f64, why: &str) {
        let mut left = required;
        let mut grown = Vec::new();
        for i in self.by_cost_per_capacity(model) {
            let cap = model.variants[i].per_replica;
            let p = &mut self.variants[i];
            if left <= 0.0 || p.v.pending_replicas > 0 || p.target >= p.max() {
                continue;
            }
            let need = (left / cap)
                .ceil()
                .clamp(1.0, f64::from(MAX_SIZED_REPLICAS)) as u32;
            let add = need.min(p.max() - p.target);
            left -= f64::from(add) * cap;
            let from = p.target;
            p.set(
                from + add,
                Reason::ScaleUp,
                format!(
                    "{why}: +{add} replicas of {} ({} each, {}), {from} -> {}",
                    p.v.name,
                    model.unit.show(cap),
                    model.unit.show_cost(p.v.cost, cap),
                    from + add
                ),
            );
            grown.push(p.v.name.clone());
        }
        self.settle_grown(why, &grown);
    }

    /// Removes `floor(spare / capacity)` replicas from the variant with the highest cost per
    /// unit of capacity, then the next, each down to `max(minReplicas, 1)`. Like V1, a
    /// scale-down takes no variant to zero: a previous decision of 0 reads as none, so a
    /// variant sent to zero would come back to its current replicas in the next transition;
    /// zero is for scale-to-zero alone.
    fn shrink(&mut self, model: &ModelCapacity, spare: f64, why: &str) {
        let mut left = spare;
        let mut shrunk = Vec::new();
        for i in self.by_cost_per_capacity(model).into_iter().rev() {
            let cap = model.variants[i].per_replica;
            let p = &mut self.variants[i];
            let floor = p.min().max(1);
            let fits = (left / cap)
                .floor()
                .clamp(0.0, f64::from(MAX_SIZED_REPLICAS)) as u32;
            let remove = fits.min(p.target.saturating_sub(floor));
            if remove == 0 {
                continue;
            }
            left -= f64::from(remove) * cap;
            let from = p.target;
            p.set(
                from - remove,
                Reason::ScaleDown,
                format!(
                    "{why}: -{remove} replicas of {} ({} each, {}), {from} -> {}",
                    p.v.name,
                    model.unit.show(cap),
                    model.unit.show_cost(p.v.cost, cap),
                    from - remove
                ),
            );
            shrunk.push(p.v.name.clone());
        }
        self.settle_others(
            Reason::ScaleDown,
            &shrunk,
            (Reason::ScaleDownOtherVariant, format!("{why}; the model shrinks on ")),
            (
                Reason::Steady,
                format!(
                    "{why}, but the spare is less than one replica of any variant above its minimum and 1"
                ),
            ),
        );
    }
}

/// Why a model with no required capacity keeps its replicas: no spare, or a spare that a
/// saturated replica or a missing input forbids using.
fn hold_message(
    c: &CapacityAnalysis,
    unit: Unit,
    saturated: u32,
    missing: u32,
    down: AnalyzerThresholds,
) -> (Reason, String) {
    let numbers = format!(
        "demand {}, supply {} (utilization {:.2})",
        unit.show(c.demand),
        unit.show(c.supply),
        c.utilization
    );
    if c.spare <= 0.0 {
        return (
            Reason::Steady,
            format!(
                "{numbers}: no capacity required, and demand is at or above {} × supply (no spare)",
                down.scale_down_boundary
            ),
        );
    }
    let spare = unit.show(c.spare);
    if saturated > 0 {
        (
            Reason::Steady,
            format!(
                "{numbers}: spare {spare}, but {saturated} replicas are saturated; not scaling down"
            ),
        )
    } else {
        (
            Reason::ScaleDownBlockedMissingData,
            format!(
                "{numbers}: spare {spare}, but {missing} replicas have a missing input; not scaling down"
            ),
        )
    }
}
