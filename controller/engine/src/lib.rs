//! Sans-IO decision core: snapshot in, decisions out.
//!
//! [`decide`] is a pure function from a [`Snapshot`] (time, configuration, model groups with
//! their variants and per-replica signals, request counts, free GPUs) to a [`Cycle`] (one
//! [`Decision`] per variant, one [`ModelReport`] per model). It reads no clock and does no I/O,
//! so the controller, `wva simulate` and `wva decide` run the same code. The output does not
//! depend on the order of the input. The algorithm is described in `docs/engine.md`.

mod accelerator;
mod analysis;
mod cycle;
mod snapshot;

pub use accelerator::accelerator_type;

pub use cycle::{
    Action, Analysis, Cycle, Decision, FallbackSource, MetricsCondition, MetricsReason,
    ModelReport, Note, Reason,
};
pub use snapshot::{
    DEFAULT_COST, EngineConfig, ModelGroup, PolicySource, ReplicaSignals, ScaleToZeroPolicy,
    SignalStatus, Snapshot, Variant, parse_cost,
};

use analysis::{ModelNumbers, VariantStats};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use wva_core::saturation::{SaturationThresholds, ScaleUpStep};

/// Runs one engine cycle.
pub fn decide(snapshot: &Snapshot) -> Cycle {
    let mut groups: Vec<&ModelGroup> = snapshot.models.iter().collect();
    groups.sort_by(|a, b| {
        (&a.namespace, &a.model_id)
            .cmp(&(&b.namespace, &b.model_id))
            .then_with(|| canonical_tie(a, b))
    });
    let mut plans: Vec<ModelPlan> = groups
        .into_iter()
        .map(|g| ModelPlan::new(&snapshot.config, g))
        .collect();
    if snapshot.config.limited_mode {
        limit(&mut plans, snapshot.free_gpus.as_ref());
    }
    let mut cycle = Cycle {
        now: snapshot.now,
        decisions: Vec::with_capacity(plans.iter().map(|p| p.variants.len()).sum()),
        models: Vec::with_capacity(plans.len()),
    };
    for plan in plans {
        plan.finish(&mut cycle);
    }
    cycle
}

/// Orders two inputs with equal keys by their full content, so duplicates cannot make the
/// output depend on the input order. Only called on ties, which valid snapshots do not have.
fn canonical_tie<T: std::fmt::Debug>(a: &T, b: &T) -> Ordering {
    format!("{a:?}").cmp(&format!("{b:?}"))
}

struct VariantPlan<'a> {
    v: &'a Variant,
    stats: VariantStats,
    target: u32,
    reason: Reason,
    message: String,
    fallback: Option<FallbackSource>,
    limited: bool,
    clamped: bool,
}

impl VariantPlan<'_> {
    fn max(&self) -> u32 {
        self.v.max_replicas.unwrap_or(u32::MAX)
    }
    fn min(&self) -> u32 {
        self.v.min_replicas.unwrap_or(0)
    }
    /// The previous decision when there is one. A previous decision of 0 counts as none: it
    /// neither puts the model in transition nor is kept by the safety net, which then keeps
    /// the current replicas.
    fn previous(&self) -> Option<u32> {
        self.v.previous_desired.filter(|d| *d > 0)
    }
    fn set(&mut self, target: u32, reason: Reason, message: String) {
        self.target = target;
        self.reason = reason;
        self.message = message;
    }
}

struct ModelPlan<'a> {
    group: &'a ModelGroup,
    variants: Vec<VariantPlan<'a>>,
    report: ModelReport,
    metrics: MetricsCondition,
}

/// Cost ascending, then most spare capacity, then name: the order in which variants grow.
fn growth_order(a: &VariantPlan, b: &VariantPlan) -> Ordering {
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

impl<'a> ModelPlan<'a> {
    fn new(config: &EngineConfig, group: &'a ModelGroup) -> ModelPlan<'a> {
        let (ns, model) = (group.namespace.as_str(), group.model_id.as_str());
        let thresholds = config.thresholds(ns, model);
        let mut sorted: Vec<&Variant> = group.variants.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| canonical_tie(a, b)));
        let variants = sorted
            .into_iter()
            .map(|v| VariantPlan {
                v,
                stats: VariantStats::of(v, &thresholds),
                target: v.current_replicas,
                reason: Reason::Steady,
                message: String::new(),
                fallback: None,
                limited: false,
                clamped: false,
            })
            .collect();
        let mut plan = ModelPlan {
            group,
            variants,
            report: ModelReport {
                namespace: group.namespace.clone(),
                model_id: group.model_id.clone(),
                thresholds,
                scale_up_step: config.scale_up_step(ns, model),
                scale_to_zero: config.scale_to_zero_policy(ns, model),
                analysis: None,
                notes: Vec::new(),
            },
            metrics: MetricsCondition {
                status: true,
                reason: MetricsReason::MetricsFound,
                message: String::new(),
            },
        };
        let usable = plan
            .variants
            .iter()
            .any(|p| p.stats.free + p.stats.saturated > 0);
        let at_zero = plan
            .variants
            .iter()
            .all(|p| p.v.current_replicas == 0 && p.previous().is_none());
        match &group.signals {
            SignalStatus::NoData | SignalStatus::Ok if at_zero && !usable => plan.rest_at_zero(),
            SignalStatus::PrometheusError { message } => plan.safety_net(
                MetricsReason::PrometheusError,
                format!("Prometheus query for saturation metrics failed: {message}"),
            ),
            SignalStatus::NoData => plan.safety_net(
                MetricsReason::MetricsMissing,
                plan.missing_message("Prometheus returned no saturation metrics"),
            ),
            SignalStatus::Ok if !usable => plan.safety_net(
                MetricsReason::MetricsMissing,
                plan.missing_message("no replica reports a usable saturation signal"),
            ),
            SignalStatus::Ok => plan.analyze(),
        }
        for p in &mut plan.variants {
            clamp(p);
        }
        plan
    }

    fn missing_message(&self, what: &str) -> String {
        format!(
            "{what} for model {:?} in namespace {:?}; check that the VA's modelID equals the model_name label vLLM reports",
            self.group.model_id, self.group.namespace
        )
    }

    /// A model with no replica running and no earlier decision above zero has nothing to
    /// measure: it stays at zero (or gets its minimum replica when scale-to-zero is off)
    /// without a safety-net alarm, and the conditions say why the signals are absent.
    fn rest_at_zero(&mut self) {
        for p in &mut self.variants {
            p.set(
                0,
                Reason::Steady,
                "no replica runs (the model is at zero), so there is nothing to measure"
                    .to_string(),
            );
        }
        self.metrics = MetricsCondition {
            status: false,
            reason: MetricsReason::MetricsMissing,
            message: format!(
                "No replica of model {:?} runs, so there are no saturation signals; they return when a replica starts",
                self.group.model_id
            ),
        };
        if !self.report.scale_to_zero.enabled {
            self.preserve_minimum();
        }
    }

    /// Keeps the previous desired replicas (if > 0) or the current replicas.
    fn safety_net(&mut self, reason: MetricsReason, message: String) {
        self.report.notes.push(match reason {
            MetricsReason::PrometheusError => Note::CollectionFailed,
            _ => Note::NoMetrics,
        });
        self.report.notes.push(Note::SafetyNet);
        for p in &mut self.variants {
            let (target, source) = match p.previous() {
                Some(d) => (d, FallbackSource::PreviousDesired),
                None => (p.v.current_replicas, FallbackSource::CurrentReplicas),
            };
            p.fallback = Some(source);
            p.set(
                target,
                Reason::SafetyNet,
                format!("no usable saturation signals ({})", reason.as_str()),
            );
        }
        self.metrics = MetricsCondition {
            status: false,
            reason,
            message,
        };
        if !self.report.scale_to_zero.enabled {
            self.preserve_minimum();
        }
    }

    fn analyze(&mut self) {
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
        let transition = self.transition();
        let mut analysis = Analysis {
            reporting_replicas: numbers.reporting,
            non_saturated_replicas: numbers.free,
            saturated_replicas: numbers.saturated,
            unknown_replicas: numbers.unknown,
            avg_spare_kv: numbers.avg_spare_kv,
            avg_spare_queue: numbers.avg_spare_queue,
            should_scale_up: numbers.should_scale_up,
            scale_down_safe: numbers.scale_down_safe(),
            sized_replicas: numbers.sized_total,
            transition: transition.clone(),
        };
        if let Some(why) = transition {
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
        analysis.scale_down_safe = numbers.scale_down_safe();
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
            grown.push(p.v.name.as_str());
        }
        let (reason, message) = if grown.is_empty() {
            (
                Reason::ScaleUpBlocked,
                format!("{why}, but every variant has pending replicas or is at maxReplicas"),
            )
        } else {
            (
                Reason::ScaleUpOtherVariant,
                format!("{why}; the model grows on {}", grown.join(", ")),
            )
        };
        for p in &mut self.variants {
            if p.reason != Reason::ScaleUp {
                p.set(p.target, reason, message.clone());
            }
        }
    }

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

    /// Scale-to-zero when enabled and the model served no requests (a missing count never
    /// scales to zero); when disabled, one replica on the cheapest variant if every target is 0.
    fn enforce_scale_to_zero(&mut self) {
        let policy = self.report.scale_to_zero;
        if !policy.enabled {
            self.preserve_minimum();
            return;
        }
        match self.group.request_count.filter(|c| c.is_finite()) {
            Some(c) if c <= 0.0 => {
                self.report.notes.push(Note::ScaleToZero);
                let message = format!(
                    "no requests in the last {}s (retention period); scaling every variant to zero",
                    policy.retention.as_secs()
                );
                for p in &mut self.variants {
                    p.set(0, Reason::ScaleToZero, message.clone());
                }
            }
            Some(_) => {}
            None => self.report.notes.push(Note::RequestCountUnknown),
        }
    }

    /// Scale-to-zero disabled and every target 0: one replica on the cheapest variant (ties
    /// by name).
    fn preserve_minimum(&mut self) {
        if !self.variants.iter().all(|p| p.target == 0) {
            return;
        }
        let cheapest = self.variants.iter_mut().min_by(|a, b| {
            a.v.cost
                .total_cmp(&b.v.cost)
                .then_with(|| a.v.name.cmp(&b.v.name))
        });
        if let Some(p) = cheapest {
            self.report.notes.push(Note::MinimumReplica);
            let message = format!(
                "scale-to-zero is disabled: keeping 1 replica on the cheapest variant (cost {})",
                p.v.cost
            );
            p.fallback = None;
            p.set(1, Reason::MinimumReplica, message);
        }
    }

    fn finish(self, cycle: &mut Cycle) {
        let ModelPlan {
            group,
            variants,
            report,
            metrics,
        } = self;
        for p in variants {
            let current = p.v.current_replicas;
            let action = match p.target.cmp(&current) {
                Ordering::Greater => Action::ScaleUp,
                Ordering::Less => Action::ScaleDown,
                Ordering::Equal => Action::NoChange,
            };
            cycle.decisions.push(Decision {
                namespace: group.namespace.clone(),
                model_id: group.model_id.clone(),
                variant: p.v.name.clone(),
                accelerator: p.v.accelerator.clone(),
                current_replicas: current,
                desired_replicas: p.target,
                action,
                reason: p.reason,
                message: p.message,
                safety_net: p.fallback.is_some(),
                fallback_source: p.fallback,
                limited: p.limited,
                clamped: p.clamped,
                metrics_available: metrics.clone(),
            });
        }
        cycle.models.push(report);
    }
}

/// Applies `minReplicas` / `maxReplicas` (a minimum above the maximum wins).
fn clamp(p: &mut VariantPlan) {
    let (min, max) = (p.min(), p.max());
    let bounded = p.target.min(max).max(min);
    if bounded != p.target {
        let bound = if bounded == min && p.target < min {
            format!("minReplicas {min}")
        } else {
            format!("maxReplicas {max}")
        };
        p.message = format!("{} (clamped from {} to {bound})", p.message, p.target);
        p.target = bounded;
        p.clamped = true;
    }
}

/// Grants new scale-ups (reason [`Reason::ScaleUp`]) within free GPUs per accelerator type,
/// most saturated first (lowest average spare KV), then cheapest; never below
/// `max(current, minReplicas)`. Re-emitted earlier decisions (transition, safety net) and the
/// minimum replica are not limited. Free GPUs and variants meet by [`accelerator_type`]: the
/// free GPUs of names of one type are one pool; a variant without accelerator gets nothing.
fn limit(plans: &mut [ModelPlan], free_gpus: Option<&BTreeMap<String, u32>>) {
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
