//! What a model falls back to: the safety net when its signals are unusable, rest at zero
//! when nothing runs, scale-to-zero after the retention period, and the minimum replica when
//! scale-to-zero is off.

use crate::plan::ModelPlan;
use crate::{FallbackSource, MetricsCondition, MetricsReason, Note, Reason};

impl ModelPlan<'_> {
    /// A model with no replica running and no earlier decision above zero has nothing to
    /// measure: it stays at zero (or gets its minimum replica when scale-to-zero is off)
    /// without a safety-net alarm, and the conditions say why the signals are absent.
    pub(crate) fn rest_at_zero(&mut self) {
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
                "No replica of model {:?}{} runs, so there are no saturation signals; they return when a replica starts",
                self.group.model_id,
                self.report.role.suffix()
            ),
        };
        if !self.report.scale_to_zero.enabled {
            self.preserve_minimum();
        }
    }

    /// Keeps the previous desired replicas (if > 0) or the current replicas.
    pub(crate) fn safety_net(&mut self, reason: MetricsReason, message: String) {
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

    /// Scale-to-zero when enabled and the model served no requests (a missing count never
    /// scales to zero); when disabled, one replica on the cheapest variant if every target is 0.
    pub(crate) fn enforce_scale_to_zero(&mut self) {
        let policy = self.report.scale_to_zero;
        if !policy.enabled {
            self.preserve_minimum();
            return;
        }
        match self.group.request_count.filter(|c| c.is_finite()) {
            Some(c) if c <= 0.0 && self.held_from_zero() => {
                self.report.notes.push(Note::ScaleToZeroHeld);
            }
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

    /// True when scale-from-zero started the model less than its retention period ago.
    pub(crate) fn recently_woken(&self) -> bool {
        let retention =
            i64::try_from(self.report.scale_to_zero.retention.as_secs()).unwrap_or(i64::MAX);
        self.group
            .scaled_from_zero_at
            .is_some_and(|at| self.now.saturating_sub(at) < retention)
    }

    /// Scale-to-zero waits: the model was started from zero within its retention period, or
    /// requests wait for it at the gateway.
    fn held_from_zero(&self) -> bool {
        self.recently_woken() || self.group.gateway_queue.is_some_and(|q| q > 0.0)
    }

    /// A model started from zero whose replica does not report yet keeps its targets (the
    /// started replica) without a safety-net alarm, until the retention period ends.
    pub(crate) fn starting_from_zero(&mut self) {
        self.report.notes.push(Note::StartingFromZero);
        for p in &mut self.variants {
            let target = p.previous().unwrap_or(p.v.current_replicas);
            p.set(
                target,
                Reason::ScaleFromZero,
                "started from zero on requests waiting at the gateway; waiting for the replica to report"
                    .to_string(),
            );
        }
        self.metrics = crate::wake::scaled_from_zero_condition(&self.group.model_id);
    }

    /// Scale-to-zero disabled and every target 0: one replica on the cheapest variant (ties
    /// by name).
    pub(crate) fn preserve_minimum(&mut self) {
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
}
