//! The HPA and KEDA models, sync by sync: what the Deployment's replicas become for a given
//! history of WVA's desired replicas.

use wva_api::helm_values::{HpaValues, PolicyKind, ScalingPolicy, SelectPolicy};
use wva_sim::autoscaler::{
    AutoscalerSpec, AutoscalerState, Condition, HpaSpec, HpaState, KedaSpec, Rules,
};

/// An HPA with no window, no rate limit, bounds 0..=100.
fn plain() -> HpaSpec {
    let free = Rules {
        stabilization_window_seconds: 0,
        select_policy: SelectPolicy::Max,
        policies: vec![policy(PolicyKind::Pods, 1000, 15)],
    };
    HpaSpec {
        min_replicas: 0,
        max_replicas: 100,
        target_average_value: 1.0,
        tolerance: 0.1,
        sync_seconds: 15,
        scale_up: free.clone(),
        scale_down: free,
    }
}

fn policy(kind: PolicyKind, value: u32, period_seconds: u32) -> ScalingPolicy {
    ScalingPolicy {
        kind,
        value,
        period_seconds,
    }
}

/// Feeds `(desired, expected replicas, expected condition)` to one HPA, one sync every 15 s
/// from t = 0, starting at `start` pods; the pods follow the HPA.
fn run(spec: &HpaSpec, start: u32, steps: &[(u32, u32, Condition)]) {
    let mut state = HpaState::default();
    let mut pods = start;
    for (i, (desired, want, condition)) in steps.iter().enumerate() {
        let t = 15 * i as u64;
        let (replicas, why) = state.sync(spec, t, pods, Some(f64::from(*desired)));
        assert_eq!(
            (replicas, why),
            (*want, *condition),
            "sync {i} at {t}s: desired {desired} on {pods} pods"
        );
        pods = replicas;
    }
}

use Condition::*;

#[test]
fn the_hpa_follows_the_desired_replicas_within_its_tolerance() {
    // 10 % tolerance: on 20 pods, 19 and 21 desired (ratios 0.95, 1.05) change nothing, 23
    // (1.15) does; back from 23 to 20 (0.87) too.
    run(
        &plain(),
        20,
        &[
            (19, 20, WithinTolerance),
            (21, 20, WithinTolerance),
            (20, 20, DesiredWithinRange),
            (23, 23, DesiredWithinRange),
            (20, 20, DesiredWithinRange),
        ],
    );
    // One replica less on 10 pods (0.9) is within the tolerance: WVA's one-step scale-down
    // from 10 is never applied. Below 10 pods every step of one is outside it.
    run(
        &plain(),
        10,
        &[
            (9, 10, WithinTolerance),
            (8, 8, DesiredWithinRange),
            (7, 7, DesiredWithinRange),
        ],
    );
    let mut strict = plain();
    strict.tolerance = 0.05;
    run(&strict, 10, &[(9, 9, DesiredWithinRange)]);
}

#[test]
fn the_target_divides_the_metric() {
    let mut half = plain();
    half.target_average_value = 0.5;
    // AverageValue 0.5: 3 desired make 6 pods.
    run(&half, 1, &[(3, 6, DesiredWithinRange)]);
}

#[test]
fn the_scale_down_window_keeps_the_highest_proposal_of_the_window() {
    let mut spec = plain();
    spec.scale_down.stabilization_window_seconds = 60;
    // A new HPA does not scale down within its first window (the pods at creation count);
    // then it scales down only to the highest proposal of the last 60 s.
    run(
        &spec,
        5,
        &[
            (2, 5, ScaleDownStabilized), // 0 s
            (2, 5, ScaleDownStabilized), // 15 s
            (2, 5, ScaleDownStabilized), // 30 s
            (2, 5, ScaleDownStabilized), // 45 s: the 5 of 0 s is within 60 s
            (2, 2, DesiredWithinRange),  // 60 s
            (4, 4, DesiredWithinRange),  // scale-up: no window
            (1, 4, ScaleDownStabilized),
            (1, 4, ScaleDownStabilized),
            (1, 4, ScaleDownStabilized), // 120 s: the 4 of 75 s is within 60 s
            (1, 1, DesiredWithinRange),  // 135 s: it is 60 s old, out of the window
        ],
    );
}

#[test]
fn the_scale_up_window_keeps_the_lowest_proposal_of_the_window() {
    let mut spec = plain();
    spec.scale_up.stabilization_window_seconds = 30;
    run(
        &spec,
        1,
        &[
            (1, 1, DesiredWithinRange),
            (3, 1, ScaleUpStabilized),  // 15 s: the 1 of 0 s is within 30 s
            (3, 3, DesiredWithinRange), // 30 s: it is out of the window
        ],
    );
}

#[test]
fn pods_and_percent_policies_cap_the_scale_up_with_select_policy() {
    let mut spec = plain();
    spec.scale_up.policies = vec![
        policy(PolicyKind::Pods, 2, 60),
        policy(PolicyKind::Percent, 100, 60),
    ];
    // Max: the larger of +2 and +100 % per 60 s. From 1: 2 (100 %) vs 3 (+2) → 3.
    run(
        &spec,
        1,
        &[
            (20, 3, ScaleUpLimit),
            // 45 s later the period still holds the +2: the limit is from 1 again.
            (20, 3, ScaleUpLimit),
            (20, 3, ScaleUpLimit),
            (20, 3, ScaleUpLimit),
            // At 60 s the first change has left the period: from 3, max(5, 6) = 6.
            (20, 6, ScaleUpLimit),
        ],
    );
    spec.scale_up.select_policy = SelectPolicy::Min;
    // Min: from 1, min(3, 2) = 2; from 4 pods, min(6, 8) = 6.
    run(&spec, 1, &[(20, 2, ScaleUpLimit)]);
    run(&spec, 4, &[(20, 6, ScaleUpLimit)]);
    spec.scale_up.select_policy = SelectPolicy::Disabled;
    run(
        &spec,
        4,
        &[(20, 4, ScaleUpLimit), (1, 1, DesiredWithinRange)],
    );
}

#[test]
fn policies_cap_the_scale_down_too() {
    let mut spec = plain();
    spec.scale_down.policies = vec![policy(PolicyKind::Percent, 50, 60)];
    // 50 % per 60 s, rounded down: 10 → 5, then nothing until the period has passed.
    run(
        &spec,
        10,
        &[
            (1, 5, ScaleDownLimit),
            (1, 5, ScaleDownLimit),
            (1, 5, ScaleDownLimit),
            (1, 5, ScaleDownLimit),
            (1, 2, ScaleDownLimit),
        ],
    );
}

#[test]
fn min_and_max_bound_the_replicas_and_zero_disables_an_hpa_with_a_minimum() {
    let mut spec = plain();
    spec.min_replicas = 2;
    spec.max_replicas = 6;
    run(
        &spec,
        4,
        &[
            (9, 6, TooManyReplicas),
            (0, 2, TooFewReplicas),
            (4, 4, DesiredWithinRange),
        ],
    );
    // Pods outside the bounds (changed by hand) are brought back at once.
    run(&spec, 9, &[(9, 6, TooManyReplicas)]);
    // At 0 pods an HPA with minReplicas above 0 does nothing.
    run(&spec, 0, &[(3, 0, ScalingDisabled)]);
    // With minReplicas 0 (HPAScaleToZero) it scales from 0.
    spec.min_replicas = 0;
    run(&spec, 0, &[(3, 3, DesiredWithinRange)]);
}

#[test]
fn no_metric_changes_nothing() {
    let mut state = HpaState::default();
    assert_eq!(state.sync(&plain(), 0, 3, None), (3, NoMetric));
}

#[test]
fn the_chart_hpa_reads_the_chart_values_and_the_va_bounds() {
    let chart = HpaValues::default();
    let spec = HpaSpec::chart(Some(0), None);
    assert_eq!(spec.min_replicas, 0, "the VA's minReplicas");
    assert_eq!(spec.max_replicas, chart.max_replicas);
    assert_eq!(
        spec.scale_up.stabilization_window_seconds,
        chart.behavior.scale_up.stabilization_window_seconds
    );
    assert_eq!(spec.scale_up.policies, chart.behavior.scale_up.policies);
    assert_eq!(
        spec.scale_down.stabilization_window_seconds,
        chart.behavior.scale_down.stabilization_window_seconds
    );
    assert_eq!(spec.target_average_value, 1.0);
    assert_eq!(HpaSpec::chart(None, None).min_replicas, chart.min_replicas);
}

/// KEDA with a 5 s poll, 60 s cooldown, activation above 0.5, and an HPA without window.
fn keda() -> AutoscalerSpec {
    let mut hpa = plain();
    hpa.min_replicas = 1;
    AutoscalerSpec::Keda(KedaSpec {
        polling_seconds: 5,
        cooldown_seconds: 60,
        activation_threshold: 0.5,
        min_replica_count: 0,
        hpa,
    })
}

#[test]
fn keda_activates_at_its_poll_and_deactivates_after_the_cooldown() {
    let spec = keda();
    let mut state = AutoscalerState::default();
    let mut pods = 0;
    let mut changes = Vec::new();
    // WVA wants 1 from 3 s to 100 s, then 0.
    for t in 0..400u64 {
        let desired = if (3..100).contains(&t) { 1.0 } else { 0.0 };
        if let Some(r) = state.tick(&spec, t, pods, Some(desired))
            && r != pods
        {
            changes.push((t, r, state.condition));
            pods = r;
        }
    }
    assert_eq!(
        changes,
        [
            (5, 1, Some(Activated)), // the first poll that sees 1
            // Last active at the poll of 95 s; the first poll more than 60 s later is at 160 s.
            (160, 0, Some(Deactivated)),
        ]
    );
}

#[test]
fn keda_hpa_holds_one_replica_until_the_cooldown() {
    let spec = keda();
    let mut state = AutoscalerState::default();
    // At 2 pods WVA wants 0: KEDA's HPA goes to its minimum 1, KEDA to 0 after the cooldown.
    assert_eq!(state.tick(&spec, 0, 2, Some(1.0)), Some(1));
    assert_eq!(state.tick(&spec, 15, 1, Some(0.0)), Some(1));
    assert_eq!(state.condition, Some(TooFewReplicas));
    assert_eq!(state.tick(&spec, 60, 1, Some(0.0)), Some(1), "not yet");
    assert_eq!(state.tick(&spec, 65, 1, Some(0.0)), Some(0));
    assert_eq!(state.condition, Some(Deactivated));
}
