//! The autoscaler that applies `wva_desired_replicas` to a variant's Deployment: the
//! `autoscaling/v2` HorizontalPodAutoscaler algorithm's essentials (sync period, tolerance,
//! scale-up and scale-down stabilization windows, `Pods`/`Percent` policies with
//! `selectPolicy`, min/max), or KEDA (activation 0 → 1 at a poll, deactivation 1 → 0 after the
//! cooldown, its own HPA in between).
//!
//! The metric is an External `wva_desired_replicas` with an `AverageValue` target (1 in the
//! chart): the HPA's proposal is `ceil(metric / target)` unless `metric / (target × pods)` is
//! within the tolerance of 1.

use serde::Serialize;
use std::collections::VecDeque;
use wva_api::helm_values::{HpaValues, PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy};

/// The HPA controller's default tolerance (`--horizontal-pod-autoscaler-tolerance`).
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// The HPA controller's default sync period (`--horizontal-pod-autoscaler-sync-period`).
pub const DEFAULT_SYNC_SECONDS: u64 = 15;

/// Scaling rules of one direction (`spec.behavior.scaleUp` or `scaleDown`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rules {
    /// Seconds of past proposals considered: scale up only to the lowest, down only to the
    /// highest proposal of the window.
    pub stabilization_window_seconds: u32,
    /// How the policies combine (`Max`: the largest change, `Min`: the smallest, `Disabled`: no
    /// change in this direction).
    pub select_policy: SelectPolicy,
    /// Rate limits: at most `value` pods or percent per `periodSeconds`.
    pub policies: Vec<ScalingPolicy>,
}

impl From<&ScalingRules> for Rules {
    fn from(r: &ScalingRules) -> Rules {
        Rules {
            stabilization_window_seconds: r.stabilization_window_seconds,
            select_policy: r.select_policy,
            policies: r.policies.clone(),
        }
    }
}

impl Rules {
    /// Kubernetes' default scale-up rules (a behavior that leaves `scaleUp` out): no window,
    /// the larger of 100 % and 4 pods per 15 s.
    pub fn kubernetes_scale_up() -> Rules {
        Rules {
            stabilization_window_seconds: 0,
            select_policy: SelectPolicy::Max,
            policies: vec![
                policy(PolicyKind::Percent, 100, 15),
                policy(PolicyKind::Pods, 4, 15),
            ],
        }
    }

    /// Kubernetes' default scale-down rules: a 300 s window, 100 % per 15 s.
    pub fn kubernetes_scale_down() -> Rules {
        Rules {
            stabilization_window_seconds: 300,
            select_policy: SelectPolicy::Max,
            policies: vec![policy(PolicyKind::Percent, 100, 15)],
        }
    }
}

fn policy(kind: PolicyKind, value: u32, period_seconds: u32) -> ScalingPolicy {
    ScalingPolicy {
        kind,
        value,
        period_seconds,
    }
}

/// One HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    /// `spec.minReplicas` (0 needs the `HPAScaleToZero` feature gate).
    pub min_replicas: u32,
    /// `spec.maxReplicas`.
    pub max_replicas: u32,
    /// The metric's `AverageValue` target.
    pub target_average_value: f64,
    /// No change while `metric / (target × pods)` is within this of 1.
    pub tolerance: f64,
    /// Seconds between syncs.
    pub sync_seconds: u64,
    /// `spec.behavior.scaleUp`.
    pub scale_up: Rules,
    /// `spec.behavior.scaleDown`.
    pub scale_down: Rules,
}

impl HpaSpec {
    /// The chart's HPA (`hpa.*` of the chart values, declared in `wva_api::helm_values`), with
    /// the bounds of the VA (`minReplicas`, `maxReplicas`) where it sets them, as one renders
    /// the HPA for a VA.
    pub fn chart(va_min: Option<u32>, va_max: Option<u32>) -> HpaSpec {
        let chart = HpaValues::default();
        HpaSpec {
            min_replicas: va_min.unwrap_or(chart.min_replicas),
            max_replicas: va_max.unwrap_or(chart.max_replicas),
            target_average_value: parse_quantity(&chart.target_average_value).unwrap_or(1.0),
            tolerance: DEFAULT_TOLERANCE,
            sync_seconds: DEFAULT_SYNC_SECONDS,
            scale_up: Rules::from(&chart.behavior.scale_up),
            scale_down: Rules::from(&chart.behavior.scale_down),
        }
    }
}

/// A KEDA ScaledObject: activation and deactivation at its polls, its HPA from 1 up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KedaSpec {
    /// `spec.pollingInterval`, seconds.
    pub polling_seconds: u64,
    /// `spec.cooldownPeriod`: 1 → 0 at the first poll more than this many seconds after the
    /// last poll that saw the metric active.
    pub cooldown_seconds: u64,
    /// The trigger's `activationThreshold`: active when the metric is above it.
    pub activation_threshold: f64,
    /// `spec.minReplicaCount` (0: KEDA moves the Deployment between 0 and 1).
    pub min_replica_count: u32,
    /// KEDA's HPA (`minReplicas` = max(minReplicaCount, 1), `maxReplicas` = maxReplicaCount,
    /// `spec.advanced.horizontalPodAutoscalerConfig.behavior`).
    pub hpa: HpaSpec,
}

/// What applies a variant's desired replicas.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AutoscalerSpec {
    /// A HorizontalPodAutoscaler.
    Hpa(HpaSpec),
    /// A KEDA ScaledObject.
    Keda(KedaSpec),
}

impl AutoscalerSpec {
    /// The HPA (KEDA's own for a ScaledObject).
    pub fn hpa_mut(&mut self) -> &mut HpaSpec {
        match self {
            AutoscalerSpec::Hpa(h) => h,
            AutoscalerSpec::Keda(k) => &mut k.hpa,
        }
    }

    /// A short name for reports: `HPA` or `KEDA`.
    pub fn kind(&self) -> &'static str {
        match self {
            AutoscalerSpec::Hpa(_) => "HPA",
            AutoscalerSpec::Keda(_) => "KEDA",
        }
    }
}

/// Parses a Kubernetes quantity of the metric target: `1`, `0.5`, `500m`.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix('m') {
        Some(n) => (n, 1e-3),
        None => (text, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// Why the last sync left the replicas where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// The proposal was applied as is.
    DesiredWithinRange,
    /// At 0 replicas with `minReplicas` above 0: the HPA does not act (`ScalingDisabled`).
    ScalingDisabled,
    /// No metric yet.
    NoMetric,
    /// The metric is within the tolerance of the current replicas.
    WithinTolerance,
    /// The scale-up window's lowest proposal held the scale-up back.
    ScaleUpStabilized,
    /// The scale-down window's highest proposal held the scale-down back.
    ScaleDownStabilized,
    /// A scale-up policy capped the change.
    ScaleUpLimit,
    /// A scale-down policy capped the change.
    ScaleDownLimit,
    /// `maxReplicas` capped the change.
    TooManyReplicas,
    /// `minReplicas` capped the change.
    TooFewReplicas,
    /// KEDA activated the Deployment (0 → 1).
    Activated,
    /// KEDA deactivated it after the cooldown (1 → 0).
    Deactivated,
    /// KEDA holds 0 (metric not above the activation threshold).
    Inactive,
}

/// The state of one HPA between syncs: past proposals and scale events.
#[derive(Debug, Clone, Default)]
pub struct HpaState {
    proposals: VecDeque<(u64, u32)>,
    scale_ups: VecDeque<(u64, u32)>,
    scale_downs: VecDeque<(u64, u32)>,
    initialized: bool,
}

/// Replicas changed over the last `period` seconds by `events`.
fn changed_within(events: &VecDeque<(u64, u32)>, now: u64, period: u32) -> u32 {
    events
        .iter()
        .filter(|(at, _)| *at + u64::from(period) > now)
        .map(|(_, n)| n)
        .sum()
}

impl HpaState {
    /// One sync at `now`: the replicas the HPA sets given the current pods and the metric
    /// (`None` while WVA has published none), and why.
    pub fn sync(
        &mut self,
        spec: &HpaSpec,
        now: u64,
        current: u32,
        metric: Option<f64>,
    ) -> (u32, Condition) {
        if !self.initialized {
            // A new HPA does not scale down within its first window.
            self.initialized = true;
            if spec.scale_down.stabilization_window_seconds > 0 {
                self.proposals.push_back((now, current));
            }
        }
        if current == 0 && spec.min_replicas > 0 {
            return (0, Condition::ScalingDisabled);
        }
        let (result, condition) = if current > spec.max_replicas {
            (spec.max_replicas, Condition::TooManyReplicas)
        } else if current < spec.min_replicas {
            (spec.min_replicas, Condition::TooFewReplicas)
        } else {
            let Some(metric) = metric else {
                return (current, Condition::NoMetric);
            };
            let (proposal, tolerated) = propose(spec, current, metric);
            let (stabilized, held) = self.stabilize(spec, now, current, proposal);
            let (limited, capped) = self.limit(spec, now, current, stabilized);
            let condition = capped.or(held).unwrap_or(if tolerated {
                Condition::WithinTolerance
            } else {
                Condition::DesiredWithinRange
            });
            (limited, condition)
        };
        self.record(spec, now, current, result);
        (result, condition)
    }

    /// The stabilization windows: up to the lowest proposal of the scale-up window, down to the
    /// highest of the scale-down window; records the proposal.
    fn stabilize(
        &mut self,
        spec: &HpaSpec,
        now: u64,
        current: u32,
        proposal: u32,
    ) -> (u32, Option<Condition>) {
        let up_window = u64::from(spec.scale_up.stabilization_window_seconds);
        let down_window = u64::from(spec.scale_down.stabilization_window_seconds);
        let within = |at: u64, window: u64| at + window > now;
        let mut up = proposal;
        let mut down = proposal;
        for (at, p) in &self.proposals {
            if within(*at, up_window) {
                up = up.min(*p);
            }
            if within(*at, down_window) {
                down = down.max(*p);
            }
        }
        self.proposals
            .retain(|(at, _)| within(*at, up_window) || within(*at, down_window));
        self.proposals.push_back((now, proposal));
        let stabilized = current.max(up).min(down);
        let held = if proposal > current && stabilized < proposal {
            Some(Condition::ScaleUpStabilized)
        } else if proposal < current && stabilized > proposal {
            Some(Condition::ScaleDownStabilized)
        } else {
            None
        };
        (stabilized, held)
    }

    /// The scaling policies and min/max.
    fn limit(
        &self,
        spec: &HpaSpec,
        now: u64,
        current: u32,
        desired: u32,
    ) -> (u32, Option<Condition>) {
        if desired > current {
            let limit = self
                .policy_limit(&spec.scale_up, now, current, true)
                .max(current);
            let (bound, reason) = if spec.max_replicas > limit {
                (limit, Condition::ScaleUpLimit)
            } else {
                (spec.max_replicas, Condition::TooManyReplicas)
            };
            if desired > bound {
                return (bound, Some(reason));
            }
        } else if desired < current {
            let limit = self
                .policy_limit(&spec.scale_down, now, current, false)
                .min(current);
            let (bound, reason) = if spec.min_replicas < limit {
                (limit, Condition::ScaleDownLimit)
            } else {
                (spec.min_replicas, Condition::TooFewReplicas)
            };
            if desired < bound {
                return (bound, Some(reason));
            }
        }
        (desired, None)
    }

    /// The most (scale-up) or fewest (scale-down) replicas the policies allow now.
    fn policy_limit(&self, rules: &Rules, now: u64, current: u32, up: bool) -> u32 {
        if rules.select_policy == SelectPolicy::Disabled || rules.policies.is_empty() {
            return current;
        }
        let proposals = rules.policies.iter().map(|p| {
            let added = changed_within(&self.scale_ups, now, p.period_seconds);
            let removed = changed_within(&self.scale_downs, now, p.period_seconds);
            let start = f64::from(current) - f64::from(added) + f64::from(removed);
            let value = f64::from(p.value);
            let proposed = match (p.kind, up) {
                (PolicyKind::Pods, true) => start + value,
                (PolicyKind::Pods, false) => start - value,
                (PolicyKind::Percent, true) => (start * (1.0 + value / 100.0)).ceil(),
                (PolicyKind::Percent, false) => (start * (1.0 - value / 100.0)).floor(),
            };
            proposed.clamp(0.0, f64::from(u32::MAX)) as u32
        });
        // The largest change is the highest count up, the lowest count down.
        let largest_change = (rules.select_policy == SelectPolicy::Max) == up;
        if largest_change {
            proposals.max().unwrap_or(current)
        } else {
            proposals.min().unwrap_or(current)
        }
    }

    /// Records a change of the replicas (for the policies' periods).
    fn record(&mut self, spec: &HpaSpec, now: u64, from: u32, to: u32) {
        let longest = |r: &Rules| {
            r.policies
                .iter()
                .map(|p| u64::from(p.period_seconds))
                .max()
                .unwrap_or(0)
        };
        let (up, down) = (longest(&spec.scale_up), longest(&spec.scale_down));
        self.scale_ups.retain(|(at, _)| at + up > now);
        self.scale_downs.retain(|(at, _)| at + down > now);
        if to > from {
            self.scale_ups.push_back((now, to - from));
        } else if to < from {
            self.scale_downs.push_back((now, from - to));
        }
    }
}

/// The metric's proposal: `ceil(metric / target)`, or the current replicas when the metric is
/// within the tolerance of them (then `true`, if that differs from `ceil(metric / target)`).
fn propose(spec: &HpaSpec, current: u32, metric: f64) -> (u32, bool) {
    let target = spec.target_average_value;
    let wanted = (metric / target).ceil().clamp(0.0, f64::from(u32::MAX)) as u32;
    let ratio = metric / (target * f64::from(current));
    if current > 0 && (1.0 - ratio).abs() <= spec.tolerance {
        (current, wanted != current)
    } else {
        (wanted, false)
    }
}

/// The state of one autoscaler.
#[derive(Debug, Clone, Default)]
pub struct AutoscalerState {
    hpa: HpaState,
    /// KEDA: when the metric was last above the activation threshold.
    last_active: u64,
    /// The condition of the last sync or poll.
    pub condition: Option<Condition>,
}

impl AutoscalerState {
    /// Runs what is due at second `now` (HPA sync, KEDA poll) and returns the replicas to set
    /// when something ran.
    pub fn tick(
        &mut self,
        spec: &AutoscalerSpec,
        now: u64,
        current: u32,
        metric: Option<f64>,
    ) -> Option<u32> {
        match spec {
            AutoscalerSpec::Hpa(h) => now.is_multiple_of(h.sync_seconds.max(1)).then(|| {
                let (replicas, condition) = self.hpa.sync(h, now, current, metric);
                self.condition = Some(condition);
                replicas
            }),
            AutoscalerSpec::Keda(k) => {
                let mut replicas = None;
                if now.is_multiple_of(k.polling_seconds.max(1)) {
                    replicas = self.poll(k, now, current, metric);
                }
                if replicas.is_none()
                    && current > 0
                    && now.is_multiple_of(k.hpa.sync_seconds.max(1))
                {
                    let (r, condition) = self.hpa.sync(&k.hpa, now, current, metric);
                    self.condition = Some(condition);
                    replicas = Some(r);
                }
                replicas
            }
        }
    }

    /// A KEDA poll: activation at 0, deactivation after the cooldown.
    fn poll(&mut self, k: &KedaSpec, now: u64, current: u32, metric: Option<f64>) -> Option<u32> {
        let active = metric.is_some_and(|m| m > k.activation_threshold);
        if active {
            self.last_active = now;
            if current == 0 {
                self.condition = Some(Condition::Activated);
                return Some(k.min_replica_count.max(1));
            }
        } else if k.min_replica_count == 0 && metric.is_some() {
            if current > 0 && now > self.last_active.saturating_add(k.cooldown_seconds) {
                self.condition = Some(Condition::Deactivated);
                return Some(0);
            }
            if current == 0 {
                self.condition = Some(Condition::Inactive);
            }
        }
        None
    }
}

impl std::fmt::Display for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "window {}s, ", self.stabilization_window_seconds)?;
        if self.select_policy == SelectPolicy::Disabled {
            return write!(f, "Disabled");
        }
        let policies = self
            .policies
            .iter()
            .map(|p| match p.kind {
                PolicyKind::Pods => format!("{} pods/{}s", p.value, p.period_seconds),
                PolicyKind::Percent => format!("{}%/{}s", p.value, p.period_seconds),
            })
            .collect::<Vec<_>>()
            .join(", ");
        write!(f, "{:?} of {policies}", self.select_policy)
    }
}

impl std::fmt::Display for HpaSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "min {} max {}, sync {}s, tolerance {}, scale-up {}; scale-down {}",
            self.min_replicas,
            self.max_replicas,
            self.sync_seconds,
            self.tolerance,
            self.scale_up,
            self.scale_down
        )
    }
}

impl std::fmt::Display for AutoscalerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AutoscalerSpec::Hpa(h) => write!(f, "HPA {h}"),
            AutoscalerSpec::Keda(k) => write!(
                f,
                "KEDA poll {}s, cooldown {}s, active above {}, minReplicaCount {}; its HPA {}",
                k.polling_seconds,
                k.cooldown_seconds,
                k.activation_threshold,
                k.min_replica_count,
                k.hpa
            ),
        }
    }
}

impl Condition {
    /// Whether the autoscaler holds the replicas away from the metric's value (a window, a
    /// policy, a bound, the tolerance, or no scaling at 0).
    pub fn holds(self) -> bool {
        !matches!(
            self,
            Condition::DesiredWithinRange
                | Condition::NoMetric
                | Condition::Activated
                | Condition::Deactivated
        )
    }
}
