//! The plan of one model while a cycle decides it: one [`VariantPlan`] per variant, the
//! report and the metrics condition, and how the plan becomes decisions.

use crate::analysis::VariantStats;
use crate::queueing::Arbitration;
use crate::{
    Action, Cycle, Decision, EngineConfig, FallbackSource, MetricsCondition, MetricsReason,
    ModelGroup, ModelReport, Reason, SignalStatus, Variant, canonical_tie,
};
use std::cmp::Ordering;

/// What the cycle has decided so far for one variant.
pub(crate) struct VariantPlan<'a> {
    pub(crate) v: &'a Variant,
    pub(crate) stats: VariantStats,
    pub(crate) target: u32,
    pub(crate) reason: Reason,
    pub(crate) message: String,
    pub(crate) fallback: Option<FallbackSource>,
    pub(crate) limited: bool,
    pub(crate) clamped: bool,
    /// HYBRID mode: which arbitration rule decided; `None` when HYBRID is off.
    pub(crate) optimization: Option<Arbitration>,
}

impl VariantPlan<'_> {
    pub(crate) fn max(&self) -> u32 {
        self.v.max_replicas.unwrap_or(u32::MAX)
    }
    pub(crate) fn min(&self) -> u32 {
        self.v.min_replicas.unwrap_or(0)
    }
    /// The previous decision when there is one. A previous decision of 0 counts as none: it
    /// neither puts the model in transition nor is kept by the safety net, which then keeps
    /// the current replicas.
    pub(crate) fn previous(&self) -> Option<u32> {
        self.v.previous_desired.filter(|d| *d > 0)
    }
    pub(crate) fn set(&mut self, target: u32, reason: Reason, message: String) {
        self.target = target;
        self.reason = reason;
        self.message = message;
    }
}

/// What the cycle has decided so far for one model.
pub(crate) struct ModelPlan<'a> {
    pub(crate) group: &'a ModelGroup,
    /// The snapshot's `now`.
    pub(crate) now: i64,
    pub(crate) variants: Vec<VariantPlan<'a>>,
    pub(crate) report: ModelReport,
    pub(crate) metrics: MetricsCondition,
}

impl<'a> ModelPlan<'a> {
    /// Plans `group`: the safety net, rest at zero, or the saturation analysis (V1) or the
    /// token-capacity analysis (V2, when the model's saturation entry has `analyzers`), then
    /// in HYBRID mode the arbitration with the queueing model, then the `minReplicas` /
    /// `maxReplicas` clamps.
    pub(crate) fn new(config: &EngineConfig, group: &'a ModelGroup, now: i64) -> ModelPlan<'a> {
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
                optimization: None,
            })
            .collect();
        let mut plan = ModelPlan {
            group,
            now,
            variants,
            report: ModelReport {
                namespace: group.namespace.clone(),
                model_id: group.model_id.clone(),
                role: crate::roles::role_of(group),
                thresholds,
                scale_up_step: config.scale_up_step(ns, model),
                scale_to_zero: config.scale_to_zero_policy(ns, model),
                analysis: None,
                capacity: None,
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
            _ if !usable && plan.recently_woken() => plan.starting_from_zero(),
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
            SignalStatus::Ok => match config.analyzers(ns, model) {
                Some(analyzers) => plan.analyze_capacity(&analyzers),
                None => plan.analyze(),
            },
        }
        if config.hybrid {
            plan.hybrid();
        }
        for p in &mut plan.variants {
            clamp(p);
        }
        plan
    }

    /// Gives every variant whose reason is not `picked` the model-level outcome: `other`
    /// followed by the names of the picked variants, or `none` when no variant was picked.
    pub(crate) fn settle_others(
        &mut self,
        picked: Reason,
        names: &[String],
        other: (Reason, String),
        none: (Reason, String),
    ) {
        let (reason, message) = if names.is_empty() {
            none
        } else {
            (other.0, format!("{}{}", other.1, names.join(", ")))
        };
        for p in &mut self.variants {
            if p.reason != picked {
                p.set(p.target, reason, message.clone());
            }
        }
    }

    /// After a scale-up for `why` that grew the variants `grown`: the others say where the
    /// model grows, or that no variant could.
    pub(crate) fn settle_grown(&mut self, why: &str, grown: &[String]) {
        self.settle_others(
            Reason::ScaleUp,
            grown,
            (
                Reason::ScaleUpOtherVariant,
                format!("{why}; the model grows on "),
            ),
            (
                Reason::ScaleUpBlocked,
                format!("{why}, but every variant has pending replicas or is at maxReplicas"),
            ),
        );
    }

    /// The MetricsMissing message: `what` is missing for the model; names the model IDs its
    /// pods report instead, when some are seen.
    pub(crate) fn missing_message(&self, what: &str) -> String {
        let (model, namespace) = (&self.group.model_id, &self.group.namespace);
        let role = self.report.role.suffix();
        match self.group.seen_model_names.as_slice() {
            [] => format!(
                "{what} for model {model:?}{role} in namespace {namespace:?}; check that the VA's modelID equals the model_name label vLLM reports"
            ),
            seen => format!(
                "{what} for model {model:?}{role} in namespace {namespace:?}; the pods of its variants report model_name {}: set the VA's spec.modelID to the one they serve",
                seen.iter()
                    .map(|name| format!("{name:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Turns the plan into one decision per variant and the model report.
    pub(crate) fn finish(self, cycle: &mut Cycle) {
        let ModelPlan {
            group,
            now: _,
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
                role: p.v.role,
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
                optimization_reason: p.optimization.map(Arbitration::condition_reason),
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
