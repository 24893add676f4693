//! Table tests: the worked examples of `docs/engine.md` ("Examples"), cost-based variant
//! choice between a premium and a standard variant, transition blocking, the safety net, scale-to-zero, the GPU limiter and bounds.

mod common;

use common::{find, model, saturation, scale_to_zero, snapshot, variant};
use std::collections::BTreeMap;
use wva_engine::{
    Action, Cycle, FallbackSource, MetricsReason, Note, Reason, SignalStatus, Snapshot, decide,
};

fn targets(cycle: &Cycle) -> Vec<(String, u32)> {
    cycle
        .decisions
        .iter()
        .map(|d| (d.variant.clone(), d.desired_replicas))
        .collect()
}

fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

fn one_variant(replicas: &[(f64, f64)]) -> Cycle {
    decide(&snapshot(vec![model(
        "ns",
        "m",
        vec![variant("v", 10.0, replicas)],
    )]))
}

// ---- saturation analysis with the default thresholds 0.80 / 5 / 0.10 / 3 (docs/engine.md) ----

#[test]
fn kv_spare_below_trigger_scales_up() {
    let c = one_variant(&[(0.75, 2.0), (0.76, 2.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert!((a.avg_spare_kv - 0.045).abs() < 1e-9, "{a:?}");
    assert!(a.should_scale_up);
    let d = find(&c, "v");
    assert_eq!(
        (d.desired_replicas, d.action, d.reason),
        (3, Action::ScaleUp, Reason::ScaleUp)
    );
    assert!(
        d.message.starts_with("KV spare (0.045 < 0.1) low"),
        "{}",
        d.message
    );
}

#[test]
fn queue_spare_below_trigger_scales_up() {
    let c = one_variant(&[(0.50, 3.0), (0.50, 3.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert_eq!(a.avg_spare_queue, 2.0);
    let d = find(&c, "v");
    assert_eq!(d.desired_replicas, 3);
    assert!(
        d.message.starts_with("queue spare (2.00 < 3) low"),
        "{}",
        d.message
    );
}

#[test]
fn ample_spare_does_not_scale_up() {
    let c = one_variant(&[(0.50, 1.0), (0.50, 1.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert!(!a.should_scale_up);
    assert!((a.avg_spare_kv - 0.30).abs() < 1e-9 && a.avg_spare_queue == 4.0);
}

#[test]
fn three_light_replicas_are_safe_to_scale_down() {
    let c = one_variant(&[(0.20, 1.0), (0.30, 1.0), (0.25, 1.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert!(!a.should_scale_up && a.scale_down_safe, "{a:?}");
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.reason), (2, Reason::ScaleDown));
}

#[test]
fn two_loaded_replicas_are_unsafe_to_scale_down() {
    let c = one_variant(&[(0.70, 2.0), (0.75, 2.0)]);
    assert!(!c.models[0].analysis.as_ref().unwrap().scale_down_safe);
}

#[test]
fn one_non_saturated_replica_is_unsafe_to_scale_down() {
    let c = one_variant(&[(0.50, 2.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert!(!a.scale_down_safe && !a.should_scale_up);
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.reason), (1, Reason::Steady));
}

#[test]
fn doc_example_average_spare_exactly_at_trigger_does_not_scale_up() {
    // 65 % and 72 %: spare 0.15 and 0.08, average 0.115 >= 0.10.
    let c = one_variant(&[(0.65, 0.0), (0.72, 0.0)]);
    assert!(!c.models[0].analysis.as_ref().unwrap().should_scale_up);
    // 65 % and 75 %: average 0.10, and 0.10 < 0.10 is false (the code's strict operator).
    let c = one_variant(&[(0.65, 0.0), (0.75, 0.0)]);
    assert!(!c.models[0].analysis.as_ref().unwrap().should_scale_up);
}

#[test]
fn saturation_is_inclusive_at_the_threshold() {
    // kv exactly 0.80 is saturated: no non-saturated replica, averages 0, scale-up.
    let c = one_variant(&[(0.80, 0.0)]);
    let a = c.models[0].analysis.as_ref().unwrap();
    assert_eq!((a.saturated_replicas, a.non_saturated_replicas), (1, 0));
    assert!(a.should_scale_up);
    // queue exactly 5 is saturated too.
    let c = one_variant(&[(0.10, 5.0), (0.10, 0.0)]);
    assert_eq!(c.models[0].analysis.as_ref().unwrap().saturated_replicas, 1);
}

// ---- target selection (docs/engine.md: costs 20/5/15, 2 replicas each) ----

fn three_variants(kv: f64, queue: f64) -> Vec<wva_engine::Variant> {
    vec![
        variant("a", 20.0, &[(kv, queue), (kv, queue)]),
        variant("b", 5.0, &[(kv, queue), (kv, queue)]),
        variant("c", 15.0, &[(kv, queue), (kv, queue)]),
    ]
}

#[test]
fn scale_up_goes_to_the_cheapest_variant() {
    let c = decide(&snapshot(vec![model("ns", "m", three_variants(0.75, 2.0))]));
    assert_eq!(targets(&c), pairs(&[("a", 2), ("b", 3), ("c", 2)]));
    assert_eq!(find(&c, "a").reason, Reason::ScaleUpOtherVariant);
}

#[test]
fn scale_down_comes_from_the_most_expensive_variant() {
    let c = decide(&snapshot(vec![model("ns", "m", three_variants(0.20, 1.0))]));
    assert_eq!(targets(&c), pairs(&[("a", 1), ("b", 2), ("c", 2)]));
    assert_eq!(find(&c, "a").reason, Reason::ScaleDown);
}

#[test]
fn unactuated_previous_decision_blocks_the_model() {
    let mut variants = three_variants(0.75, 2.0);
    variants[0].previous_desired = Some(4);
    let c = decide(&snapshot(vec![model("ns", "m", variants)]));
    assert_eq!(targets(&c), pairs(&[("a", 4), ("b", 2), ("c", 2)]));
    assert!(c.decisions.iter().all(|d| d.reason == Reason::InTransition));
    assert_eq!(c.models[0].notes, vec![Note::InTransition]);
    assert!(
        find(&c, "b")
            .message
            .contains("previous desired 4 but 2 current")
    );
}

#[test]
fn replicas_not_all_reporting_block_the_model() {
    let mut variants = vec![
        variant("a", 20.0, &[(0.75, 2.0), (0.75, 2.0)]),
        variant("c", 15.0, &[(0.75, 2.0), (0.75, 2.0)]),
    ];
    variants[1].current_replicas = 3;
    let c = decide(&snapshot(vec![model("ns", "m", variants)]));
    assert_eq!(targets(&c), pairs(&[("a", 2), ("c", 3)]));
    assert!(find(&c, "a").message.contains("2 of 3 replicas reporting"));
}

// ---- cost examples: a premium (H100, cost 80) and a standard (A100, cost 40) variant ----

#[test]
fn premium_and_standard_variants_grow_cheap_and_shrink_expensive() {
    let up = vec![
        variant("llama-70b-h100", 80.0, &[(0.79, 0.0)]),
        variant("llama-70b-a100", 40.0, &[(0.79, 0.0)]),
    ];
    let c = decide(&snapshot(vec![model("ns", "meta/llama-3.1-70b", up)]));
    assert_eq!(
        targets(&c),
        pairs(&[("llama-70b-a100", 2), ("llama-70b-h100", 1)])
    );

    let down = vec![
        variant("llama-70b-h100", 80.0, &[(0.1, 0.0), (0.1, 0.0)]),
        variant("llama-70b-a100", 40.0, &[(0.1, 0.0), (0.1, 0.0)]),
    ];
    let c = decide(&snapshot(vec![model("ns", "meta/llama-3.1-70b", down)]));
    assert_eq!(
        targets(&c),
        pairs(&[("llama-70b-a100", 2), ("llama-70b-h100", 1)])
    );
}

#[test]
fn equal_costs_prefer_most_available_capacity_then_name() {
    // "x" has more spare KV (0.8-0.5 = 0.3) than "w" (0.8-0.78); queue drives scale-up.
    let v = vec![
        variant("w", 10.0, &[(0.78, 4.0)]),
        variant("x", 10.0, &[(0.5, 4.0)]),
    ];
    let c = decide(&snapshot(vec![model("ns", "m", v)]));
    assert_eq!(targets(&c), pairs(&[("w", 1), ("x", 2)]));
    // Identical capacity: the name decides.
    let v = vec![
        variant("y", 10.0, &[(0.5, 4.0)]),
        variant("x", 10.0, &[(0.5, 4.0)]),
    ];
    let c = decide(&snapshot(vec![model("ns", "m", v)]));
    assert_eq!(targets(&c), pairs(&[("x", 2), ("y", 1)]));
}

#[test]
fn variants_with_pending_replicas_do_not_receive_scale_up() {
    let mut v = vec![
        variant("cheap", 1.0, &[(0.79, 0.0)]),
        variant("dear", 9.0, &[(0.79, 0.0)]),
    ];
    v[0].pending_replicas = 1;
    let c = decide(&snapshot(vec![model("ns", "m", v.clone())]));
    assert_eq!(targets(&c), pairs(&[("cheap", 1), ("dear", 2)]));
    v[1].pending_replicas = 1;
    let c = decide(&snapshot(vec![model("ns", "m", v)]));
    assert_eq!(targets(&c), pairs(&[("cheap", 1), ("dear", 1)]));
    assert!(
        c.decisions
            .iter()
            .all(|d| d.reason == Reason::ScaleUpBlocked)
    );
}

#[test]
fn unparsable_cost_is_ten() {
    assert_eq!(wva_engine::parse_cost("15.5"), 15.5);
    assert_eq!(wva_engine::parse_cost("cheap"), 10.0);
    assert_eq!(wva_engine::parse_cost("-3"), 10.0);
}

// ---- unknown is not zero ----

#[test]
fn missing_signal_blocks_scale_down_and_is_never_idle() {
    let mut v = variant("v", 10.0, &[(0.1, 0.0), (0.1, 0.0), (0.1, 0.0)]);
    v.replicas[2].kv_cache_usage = None;
    let c = decide(&snapshot(vec![model("ns", "m", vec![v])]));
    let d = find(&c, "v");
    assert_eq!(
        (d.desired_replicas, d.reason),
        (3, Reason::ScaleDownBlockedMissingData)
    );
    let a = c.models[0].analysis.as_ref().unwrap();
    assert_eq!((a.unknown_replicas, a.non_saturated_replicas), (1, 2));
}

#[test]
fn a_present_signal_over_threshold_saturates_despite_a_missing_one() {
    let mut v = variant("v", 10.0, &[(0.9, 0.0)]);
    v.replicas[0].queue_length = None;
    let c = decide(&snapshot(vec![model("ns", "m", vec![v])]));
    assert_eq!(c.models[0].analysis.as_ref().unwrap().saturated_replicas, 1);
    assert_eq!(find(&c, "v").desired_replicas, 2);
}

// ---- safety net ----

fn safety_case(signals: SignalStatus, previous: Option<u32>, reporting: bool) -> Cycle {
    let mut v = variant("v", 10.0, &[(0.5, 1.0), (0.5, 1.0)]);
    v.previous_desired = previous;
    if !reporting {
        for r in &mut v.replicas {
            r.kv_cache_usage = None;
            r.queue_length = None;
        }
    }
    let mut m = model("ns", "m", vec![v]);
    m.signals = signals;
    decide(&snapshot(vec![m]))
}

#[test]
fn prometheus_error_keeps_previous_desired() {
    let c = safety_case(
        SignalStatus::PrometheusError {
            message: "connection refused".into(),
        },
        Some(3),
        true,
    );
    let d = find(&c, "v");
    assert_eq!(d.desired_replicas, 3);
    assert!(d.safety_net);
    assert_eq!(d.fallback_source, Some(FallbackSource::PreviousDesired));
    assert!(!d.metrics_available.status);
    assert_eq!(d.metrics_available.reason, MetricsReason::PrometheusError);
    assert!(d.metrics_available.message.contains("connection refused"));
    assert!(c.models[0].notes.contains(&Note::SafetyNet));
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["fallbackSource"], "previous-desired");
    assert_eq!(json["metricsAvailable"]["status"], "False");
    assert_eq!(json["metricsAvailable"]["reason"], "PrometheusError");
}

#[test]
fn no_data_without_previous_keeps_current_replicas() {
    for previous in [None, Some(0)] {
        let c = safety_case(SignalStatus::NoData, previous, true);
        let d = find(&c, "v");
        assert_eq!((d.desired_replicas, d.action), (2, Action::NoChange));
        assert_eq!(d.fallback_source, Some(FallbackSource::CurrentReplicas));
        assert_eq!(d.metrics_available.reason, MetricsReason::MetricsMissing);
        assert_eq!(c.models[0].notes[0], Note::NoMetrics);
    }
}

#[test]
fn no_usable_signal_is_the_safety_net() {
    let c = safety_case(SignalStatus::Ok, Some(5), false);
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.reason), (5, Reason::SafetyNet));
    assert_eq!(d.metrics_available.reason, MetricsReason::MetricsMissing);
    assert!(d.metrics_available.message.contains("model_name"));
}

#[test]
fn missing_metrics_name_the_model_ids_the_pods_serve() {
    let mut v = variant("v", 10.0, &[(0.5, 1.0)]);
    v.replicas[0].kv_cache_usage = None;
    v.replicas[0].queue_length = None;
    let mut m = model("ns", "meta/llama-3.1-8b", vec![v]);
    m.signals = SignalStatus::NoData;
    m.seen_model_names = vec![
        "meta-llama/Llama-3.1-8B-Instruct".into(),
        "org/other".into(),
    ];
    let mut no_data = m.clone();
    no_data.seen_model_names.clear();
    let unusable = wva_engine::ModelGroup {
        signals: SignalStatus::Ok,
        ..m.clone()
    };
    let cases = [
        (
            m,
            "Prometheus returned no saturation metrics for model \"meta/llama-3.1-8b\" in namespace \"ns\"; the pods of its variants report model_name \"meta-llama/Llama-3.1-8B-Instruct\", \"org/other\": set the VA's spec.modelID to the one they serve",
        ),
        (
            unusable,
            "no replica reports a usable saturation signal for model \"meta/llama-3.1-8b\" in namespace \"ns\"; the pods of its variants report model_name \"meta-llama/Llama-3.1-8B-Instruct\", \"org/other\": set the VA's spec.modelID to the one they serve",
        ),
        (
            no_data,
            "Prometheus returned no saturation metrics for model \"meta/llama-3.1-8b\" in namespace \"ns\"; check that the VA's modelID equals the model_name label vLLM reports",
        ),
    ];
    for (group, message) in cases {
        let c = decide(&snapshot(vec![group]));
        let d = find(&c, "v");
        assert!(!d.metrics_available.status);
        assert_eq!(d.metrics_available.reason, MetricsReason::MetricsMissing);
        assert_eq!(d.metrics_available.message, message);
    }
}

#[test]
fn metrics_found_when_signals_are_usable() {
    let c = safety_case(SignalStatus::Ok, None, true);
    let d = find(&c, "v");
    assert!(!d.safety_net && d.metrics_available.status);
    assert_eq!(d.metrics_available.reason, MetricsReason::MetricsFound);
}

// ---- scale-to-zero ----

fn idle_model(count: Option<f64>) -> wva_engine::ModelGroup {
    let mut m = model(
        "ns",
        "m",
        vec![
            variant("a", 5.0, &[(0.1, 0.0)]),
            variant("b", 9.0, &[(0.1, 0.0)]),
        ],
    );
    m.request_count = count;
    m
}

fn with_stz(entries: &[(&str, &str)], flag: bool, count: Option<f64>) -> Cycle {
    let mut s = snapshot(vec![idle_model(count)]);
    s.config.scale_to_zero = scale_to_zero(entries);
    s.config.scale_to_zero_enabled = flag;
    decide(&s)
}

#[test]
fn scale_to_zero_enabled_by_model_entry() {
    let c = with_stz(
        &[("m", "model_id: m\nenable_scale_to_zero: true\n")],
        false,
        Some(0.0),
    );
    assert_eq!(targets(&c), pairs(&[("a", 0), ("b", 0)]));
    assert!(c.decisions.iter().all(|d| d.reason == Reason::ScaleToZero));
    assert!(c.models[0].notes.contains(&Note::ScaleToZero));
}

#[test]
fn scale_to_zero_enabled_by_default_entry_with_its_retention() {
    let c = with_stz(
        &[(
            "default",
            "enable_scale_to_zero: true\nretention_period: 15m\n",
        )],
        false,
        Some(0.0),
    );
    assert_eq!(targets(&c), pairs(&[("a", 0), ("b", 0)]));
    assert_eq!(c.models[0].scale_to_zero.retention.as_secs(), 900);
    assert!(find(&c, "a").message.contains("900s"));
}

#[test]
fn scale_to_zero_enabled_by_global_flag_and_model_entry_wins() {
    let c = with_stz(&[], true, Some(0.0));
    assert_eq!(targets(&c), pairs(&[("a", 0), ("b", 0)]));
    assert_eq!(c.models[0].scale_to_zero.retention.as_secs(), 600);
    let c = with_stz(
        &[("x", "model_id: m\nenable_scale_to_zero: false\n")],
        true,
        Some(0.0),
    );
    assert_eq!(targets(&c), pairs(&[("a", 1), ("b", 1)]));
}

#[test]
fn requests_or_a_missing_count_never_scale_to_zero() {
    let c = with_stz(&[], true, Some(3.0));
    assert_eq!(targets(&c), pairs(&[("a", 1), ("b", 1)]));
    let c = with_stz(&[], true, None);
    assert_eq!(targets(&c), pairs(&[("a", 1), ("b", 1)]));
    assert!(c.models[0].notes.contains(&Note::RequestCountUnknown));
}

#[test]
fn disabled_scale_to_zero_keeps_one_replica_on_the_cheapest() {
    // Both variants at zero (no pods, so no signals): the safety net keeps 0, then the
    // minimum-replica rule puts 1 on the cheapest.
    let mut m = model(
        "ns",
        "m",
        vec![variant("dear", 9.0, &[]), variant("cheap", 5.0, &[])],
    );
    m.signals = SignalStatus::NoData;
    let c = decide(&snapshot(vec![m.clone()]));
    assert_eq!(targets(&c), pairs(&[("cheap", 1), ("dear", 0)]));
    assert_eq!(find(&c, "cheap").reason, Reason::MinimumReplica);
    assert!(c.models[0].notes.contains(&Note::MinimumReplica));
    // Enabled: the model stays at zero.
    let mut s = snapshot(vec![m]);
    s.config.scale_to_zero_enabled = true;
    assert_eq!(targets(&decide(&s)), pairs(&[("cheap", 0), ("dear", 0)]));
}

#[test]
fn namespace_local_scale_to_zero_map_replaces_the_global_one() {
    let mut s = snapshot(vec![idle_model(Some(0.0))]);
    s.config.scale_to_zero = scale_to_zero(&[("default", "enable_scale_to_zero: true\n")]);
    s.config.namespace_scale_to_zero.insert(
        "ns".into(),
        scale_to_zero(&[("m", "model_id: m\nenable_scale_to_zero: false\n")]),
    );
    assert_eq!(targets(&decide(&s)), pairs(&[("a", 1), ("b", 1)]));
    s.config
        .namespace_scale_to_zero
        .insert("ns".into(), BTreeMap::new());
    assert_eq!(targets(&decide(&s)), pairs(&[("a", 0), ("b", 0)]));
}

// ---- configuration resolution ----

#[test]
fn namespace_local_saturation_map_and_model_overrides() {
    let v = || vec![variant("v", 10.0, &[(0.3, 0.0), (0.3, 0.0)])];
    let mut s = snapshot(vec![model("prod", "m", v()), model("dev", "m", v())]);
    s.config.namespace_saturation.insert(
        "prod".into(),
        saturation(&[("default", "kvCacheThreshold: 0.5\nkvSpareTrigger: 0.1\n")]),
    );
    let c = decide(&s);
    // dev (global built-ins): load 0.3 x 2 = 0.6 leaves 0.2 >= 0.1: scale down.
    assert_eq!(c.decisions[0].namespace, "dev");
    assert_eq!(c.decisions[0].desired_replicas, 1);
    // prod (threshold 0.5): 0.6 leaves -0.1: not safe.
    assert_eq!(c.decisions[1].desired_replicas, 2);

    // An override for (m, dev) only.
    s.config.namespace_saturation.clear();
    s.config.saturation = saturation(&[
        ("default", "kvSpareTrigger: 0.1\n"),
        ("o", "model_id: m\nnamespace: dev\nkvCacheThreshold: 0.3\n"),
    ]);
    let c = decide(&s);
    assert_eq!(c.models[0].thresholds.kv_cache_threshold, 0.3);
    assert_eq!(c.models[1].thresholds.kv_cache_threshold, 0.8);
    assert_eq!(c.decisions[0].desired_replicas, 3);
    assert_eq!(c.decisions[1].desired_replicas, 1);
}

// ---- the sized step ----

#[test]
fn sized_step_brings_spares_back_to_triggers_in_one_step() {
    let saturated = || vec![variant("cheap", 5.0, &[(0.95, 10.0), (0.95, 10.0)])];
    let mut s = snapshot(vec![model("ns", "m", saturated())]);
    assert_eq!(targets(&decide(&s)), pairs(&[("cheap", 3)]));
    s.config.saturation = saturation(&[("default", "scaleUpStep: sized\n")]);
    let c = decide(&s);
    // kv load 1.9 / (0.8-0.1) -> 3; queue load 20 / (5-3) -> 10 replicas in total.
    assert_eq!(
        c.models[0].analysis.as_ref().unwrap().sized_replicas,
        Some(10)
    );
    assert_eq!(targets(&c), pairs(&[("cheap", 10)]));
}

#[test]
fn sized_step_respects_max_replicas_and_spills_to_the_next_variant() {
    let mut cheap = variant("cheap", 5.0, &[(0.95, 10.0), (0.95, 10.0)]);
    cheap.max_replicas = Some(4);
    let mut dear = variant("dear", 8.0, &[]);
    dear.max_replicas = Some(3);
    let mut s = snapshot(vec![model("ns", "m", vec![cheap, dear])]);
    s.config.saturation = saturation(&[("default", "scaleUpStep: sized\n")]);
    let c = decide(&s);
    assert_eq!(targets(&c), pairs(&[("cheap", 4), ("dear", 3)]));
    assert!(
        c.decisions
            .iter()
            .all(|d| d.reason == Reason::ScaleUp && !d.clamped)
    );
}

// ---- bounds ----

#[test]
fn min_and_max_clamp_every_target() {
    let mut v = variant("v", 10.0, &[(0.5, 1.0); 5]);
    v.max_replicas = Some(3);
    let c = decide(&snapshot(vec![model("ns", "m", vec![v])]));
    let d = find(&c, "v");
    assert_eq!(
        (d.desired_replicas, d.action, d.clamped),
        (3, Action::ScaleDown, true)
    );
    assert!(d.message.contains("maxReplicas 3"), "{}", d.message);

    let mut v = variant("v", 10.0, &[(0.1, 0.0)]);
    v.min_replicas = Some(2);
    let c = decide(&snapshot(vec![model("ns", "m", vec![v])]));
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.clamped), (2, true));
    assert!(d.message.contains("minReplicas 2"), "{}", d.message);
}

#[test]
fn a_variant_at_max_replicas_is_skipped_for_scale_up() {
    let mut cheap = variant("cheap", 1.0, &[(0.79, 0.0)]);
    cheap.max_replicas = Some(1);
    let v = vec![cheap, variant("dear", 9.0, &[(0.79, 0.0)])];
    let c = decide(&snapshot(vec![model("ns", "m", v)]));
    assert_eq!(targets(&c), pairs(&[("cheap", 1), ("dear", 2)]));
}

#[test]
fn scale_to_zero_respects_min_replicas() {
    let mut s = snapshot(vec![idle_model(Some(0.0))]);
    s.models[0].variants[1].min_replicas = Some(1);
    s.config.scale_to_zero_enabled = true;
    let c = decide(&s);
    assert_eq!(targets(&c), pairs(&[("a", 0), ("b", 1)]));
    assert!(find(&c, "b").clamped);
}

// ---- GPU limiter ----

fn limiter_snapshot(free: Option<u32>) -> Snapshot {
    let mut hot = variant("hot", 5.0, &[(0.79, 0.0)]);
    hot.gpus_per_replica = 2;
    let mut warm = variant("warm", 5.0, &[(0.75, 0.0)]);
    warm.gpus_per_replica = 2;
    let mut s = snapshot(vec![
        model("ns", "b", vec![warm]),
        model("ns", "a", vec![hot]),
    ]);
    s.config.limited_mode = true;
    s.free_gpus = free.map(|n| BTreeMap::from([("H100".to_string(), n)]));
    s
}

#[test]
fn limiter_grants_most_saturated_first_within_free_gpus() {
    let c = decide(&limiter_snapshot(Some(3)));
    let (hot, warm) = (find(&c, "hot"), find(&c, "warm"));
    assert_eq!((hot.desired_replicas, hot.limited), (2, false));
    assert_eq!((warm.desired_replicas, warm.limited), (1, true));
    assert_eq!(warm.action, Action::NoChange);
    assert!(
        warm.message.contains("1 free H100 GPUs"),
        "{}",
        warm.message
    );
    assert!(c.models[1].notes.contains(&Note::Limited));
    assert!(!c.models[0].notes.contains(&Note::Limited));
}

/// Priority by service class when GPUs are short: the less saturated model of the
/// higher-priority class gets the GPUs first; equal classes (or none) keep the saturation
/// order.
#[test]
fn limiter_serves_the_higher_priority_class_first() {
    let class = |priority: u32| wva_core::service_class::ModelClass {
        class: format!("p{priority}"),
        priority,
        slo: wva_core::service_class::Slo::default(),
    };
    // (priority of b's class `warm`, priority of a's class `hot`) → who gets the 3 free GPUs
    // (2 per replica: one of the two scale-ups).
    let cases = [
        (Some(1), Some(5), "warm"),
        (Some(5), Some(1), "hot"),
        (Some(3), Some(3), "hot"),
        (Some(1), None, "warm"),
        (None, None, "hot"),
    ];
    for (warm_class, hot_class, granted) in cases {
        let mut s = limiter_snapshot(Some(3));
        s.models[0].service_class = warm_class.map(class);
        s.models[1].service_class = hot_class.map(class);
        let c = decide(&s);
        for name in ["hot", "warm"] {
            let d = find(&c, name);
            let want = if name == granted {
                (2, false)
            } else {
                (1, true)
            };
            assert_eq!(
                (d.desired_replicas, d.limited),
                want,
                "{name} with classes warm {warm_class:?}, hot {hot_class:?}"
            );
        }
    }
}

#[test]
fn limiter_never_grants_beyond_free_gpus_and_sized_steps_are_cut() {
    let mut s = limiter_snapshot(Some(4));
    s.config.saturation = saturation(&[("default", "scaleUpStep: sized\n")]);
    s.models[0].variants[0].replicas[0].queue_length = Some(30.0);
    s.models[0].variants[0].gpus_per_replica = 1;
    let c = decide(&s);
    // warm is now saturated (queue 30): first in line; sized wants 15 - 1 = 14 replicas of
    // 1 GPU and gets the 4 free ones. hot (2 GPUs per replica) gets nothing.
    let warm = find(&c, "warm");
    assert_eq!((warm.desired_replicas, warm.limited), (5, true));
    let hot = find(&c, "hot");
    assert_eq!((hot.desired_replicas, hot.limited), (1, true));
}

/// A LeaderWorkerSet variant (the controller's reading of `size: 4` with 8 GPUs per pod): a
/// replica is a group of 32 GPUs at `variantCost` 40 per group, and its 2 replicas are its 2
/// groups, each reported by its leader alone (workers are not replicas).
fn lws_snapshot(free: u32) -> Snapshot {
    let mut big = variant("big", 40.0, &[(0.85, 0.0), (0.85, 0.0)]);
    big.gpus_per_replica = 4 * 8;
    let mut s = snapshot(vec![model("ns", "m", vec![big])]);
    s.config.limited_mode = true;
    s.free_gpus = Some(BTreeMap::from([("H100".to_string(), free)]));
    s
}

#[test]
fn an_lws_group_is_one_replica_that_needs_the_gpus_of_all_its_pods() {
    let c = decide(&lws_snapshot(32));
    let big = find(&c, "big");
    // Two groups, two leaders reporting: not in transition, and one more group fits.
    assert!(!c.models[0].notes.contains(&Note::InTransition));
    assert_eq!(
        (big.current_replicas, big.desired_replicas, big.limited),
        (2, 3, false)
    );
    let c = decide(&lws_snapshot(31));
    let big = find(&c, "big");
    assert_eq!((big.desired_replicas, big.limited), (2, true));
    assert!(big.message.contains("31 free H100 GPUs"), "{}", big.message);
}

#[test]
fn limiter_needs_limited_mode_and_an_inventory() {
    let mut s = limiter_snapshot(Some(0));
    s.config.limited_mode = false;
    assert!(
        decide(&s)
            .decisions
            .iter()
            .all(|d| d.desired_replicas == 2 && !d.limited)
    );
    let c = decide(&limiter_snapshot(None));
    assert!(
        c.decisions
            .iter()
            .all(|d| d.desired_replicas == 2 && !d.limited)
    );
    assert!(c.models[0].notes.contains(&Note::NoInventory));
}

#[test]
fn limiter_pools_names_of_one_accelerator_type() {
    // hot is labelled `H100`, warm selects the GKE node label value `nvidia-h100-80gb`, and the
    // inventory names the GPU feature discovery product: one pool of 3 H100s, not three.
    let mut s = limiter_snapshot(None);
    s.models[0].variants[0].accelerator = Some("nvidia-h100-80gb".into());
    s.free_gpus = Some(BTreeMap::from([("NVIDIA-H100-80GB-HBM3".to_string(), 3)]));
    let c = decide(&s);
    let (hot, warm) = (find(&c, "hot"), find(&c, "warm"));
    assert_eq!((hot.desired_replicas, hot.limited), (2, false));
    assert_eq!((warm.desired_replicas, warm.limited), (1, true));
    assert!(
        warm.message.contains("1 free H100 GPUs"),
        "{}",
        warm.message
    );
    assert_eq!(warm.accelerator.as_deref(), Some("nvidia-h100-80gb"));
}

#[test]
fn limiter_gives_nothing_to_an_unknown_accelerator() {
    let mut s = limiter_snapshot(Some(10));
    s.models[1].variants[0].accelerator = None;
    let c = decide(&s);
    assert!(find(&c, "hot").limited);
    assert!(!find(&c, "warm").limited);
}

#[test]
fn decisions_serialize_with_stable_names() {
    let c = one_variant(&[(0.75, 2.0), (0.76, 2.0)]);
    let json = serde_json::to_value(&c).unwrap();
    let d = &json["decisions"][0];
    assert_eq!(d["action"], "scale-up");
    assert_eq!(d["reason"], "scale-up");
    assert_eq!(d["modelID"], "m");
    assert_eq!(d["currentReplicas"], 2);
    assert_eq!(d["desiredReplicas"], 3);
    assert_eq!(d["metricsAvailable"]["reason"], "MetricsFound");
    assert_eq!(json["models"][0]["scaleUpStep"], "one");
    assert_eq!(json["now"], 1000);
}

#[test]
fn extreme_replica_counts_do_not_overflow() {
    let mut a = variant("a", 1.0, &[(0.9, 9.0)]);
    a.current_replicas = u32::MAX;
    a.previous_desired = Some(u32::MAX);
    let mut b = variant("b", 2.0, &[(0.9, 9.0)]);
    b.current_replicas = u32::MAX;
    let mut s = snapshot(vec![model("ns", "m", vec![a, b])]);
    s.config.saturation = saturation(&[("default", "scaleUpStep: sized\n")]);
    s.config.limited_mode = true;
    s.free_gpus = Some(BTreeMap::from([("H100".to_string(), u32::MAX)]));
    let c = decide(&s);
    assert!(c.decisions.iter().all(|d| d.reason == Reason::InTransition));
    assert!(
        c.decisions[0]
            .metrics_available
            .message
            .contains("8589934590")
    );
}

#[test]
fn a_model_at_zero_rests_there_without_the_safety_net() {
    for signals in [SignalStatus::NoData, SignalStatus::Ok] {
        for previous in [None, Some(0)] {
            let mut v = variant("v", 10.0, &[]);
            v.previous_desired = previous;
            let mut m = model("ns", "m", vec![v]);
            m.signals = signals.clone();
            m.request_count = Some(0.0);
            let mut s = snapshot(vec![m]);
            s.config.scale_to_zero_enabled = true;
            let c = decide(&s);
            let d = find(&c, "v");
            assert_eq!((d.desired_replicas, d.action), (0, Action::NoChange));
            assert!(!d.safety_net, "{d:?}");
            assert_eq!(d.fallback_source, None);
            assert_eq!(d.metrics_available.reason, MetricsReason::MetricsMissing);
            assert!(
                d.metrics_available
                    .message
                    .contains("No replica of model \"m\" runs")
            );
            assert!(!c.models[0].notes.contains(&Note::SafetyNet));
        }
    }
    // Scale-to-zero off: the cheapest variant gets its minimum replica back.
    let c = decide(&snapshot(vec![model(
        "ns",
        "m",
        vec![variant("v", 10.0, &[])],
    )]));
    assert_eq!(find(&c, "v").desired_replicas, 1);
    assert_eq!(find(&c, "v").reason, Reason::MinimumReplica);
    // Still at zero while the last decision (2) is not applied: the safety net keeps 2.
    let mut v = variant("v", 10.0, &[]);
    v.previous_desired = Some(2);
    let c = decide(&snapshot(vec![model("ns", "m", vec![v])]));
    assert!(find(&c, "v").safety_net);
    assert_eq!(find(&c, "v").desired_replicas, 2);
}

// ---- notes ----

/// The controller logs each note's text verbatim, and `wva decide` prints it: the texts are
/// part of the interface (docs/engine.md lists them).
#[test]
fn notes_keep_their_log_text() {
    let texts = [
        (
            Note::InTransition,
            "Model in transition, blocking scaling decisions",
        ),
        (
            Note::ScaleToZero,
            "No requests in retention period, scaling to zero",
        ),
        (
            Note::MinimumReplica,
            "Preserving minimum replica on cheapest variant (scale-to-zero disabled)",
        ),
        (Note::Limited, "Decision was limited by GPU availability"),
        (
            Note::NoMetrics,
            "No saturation metrics available for model, skipping analysis",
        ),
        (
            Note::CollectionFailed,
            "Saturation metrics collection failed, using safety net",
        ),
        (
            Note::SafetyNet,
            "Safety net activated: emitted fallback metrics",
        ),
        (
            Note::RequestCountUnknown,
            "Request count unavailable, not scaling to zero (unknown is not zero)",
        ),
        (
            Note::NoInventory,
            "GPU inventory unavailable, scale-ups not limited",
        ),
    ];
    for (note, text) in texts {
        assert_eq!(note.as_str(), text);
        assert_eq!(note.to_string(), text);
        assert_eq!(serde_json::to_value(note).expect("json"), text);
    }
}

/// The recorded snapshot of `wva decide --snapshot sim/scenarios/snapshot.json`.
fn recorded_snapshot() -> Snapshot {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sim/scenarios/snapshot.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn limiter_falls_back_to_the_next_cheapest_variant_with_free_gpus() {
    // llama-70b is saturated and asks +1 on its cheapest variant, A100 (4 GPUs per replica,
    // 0 free). The H100 variant (2 GPUs per replica, 2 free H100s, maxReplicas 6) gets it.
    let c = decide(&recorded_snapshot());
    let a100 = find(&c, "llama-70b-a100");
    assert_eq!(
        (
            a100.desired_replicas,
            a100.action,
            a100.reason,
            a100.limited
        ),
        (1, Action::NoChange, Reason::ScaleUp, true)
    );
    assert!(
        a100.message.ends_with(
            "grows 1 -> 2 (limited from 2 to 1 replicas: 0 free A100 GPUs, 4 per replica); \
             replicas moved to another variant: 1 to llama-70b-h100"
        ),
        "{}",
        a100.message
    );
    let h100 = find(&c, "llama-70b-h100");
    assert_eq!(
        (
            h100.desired_replicas,
            h100.action,
            h100.reason,
            h100.limited
        ),
        (3, Action::ScaleUp, Reason::ScaleUp, false)
    );
    assert_eq!(
        h100.message,
        "variant (cost 80) grows 2 -> 3 in place of llama-70b-a100, which cannot get GPUs; \
         2 free H100 GPUs, 2 per replica"
    );
    let llama = c
        .models
        .iter()
        .find(|m| m.model_id == "meta/llama-3.1-70b")
        .expect("llama report");
    assert!(llama.notes.contains(&Note::Limited), "{llama:?}");
}

#[test]
fn limiter_fallback_stays_within_bounds_and_free_gpus() {
    // At maxReplicas, or with one H100 free for a two-GPU replica, the H100 variant cannot
    // take the replica: the A100 variant stays limited and nothing moves.
    for (max, free) in [(2, 2), (6, 1)] {
        let mut s = recorded_snapshot();
        let llama = &mut s.models[0];
        let h100 = llama
            .variants
            .iter_mut()
            .find(|v| v.name == "llama-70b-h100")
            .expect("h100 variant");
        h100.max_replicas = Some(max);
        s.free_gpus = Some(BTreeMap::from([
            ("H100".to_string(), free),
            ("A100".to_string(), 0),
        ]));
        let c = decide(&s);
        let (a100, h100) = (find(&c, "llama-70b-a100"), find(&c, "llama-70b-h100"));
        assert_eq!((a100.desired_replicas, a100.limited), (1, true));
        assert!(!a100.message.contains("moved"), "{}", a100.message);
        assert_eq!(
            (h100.desired_replicas, h100.reason),
            (2, Reason::ScaleUpOtherVariant),
            "max {max}, {free} free: {}",
            h100.message
        );
    }
    // Not in limited mode there is no limiter and no fallback.
    let mut s = recorded_snapshot();
    s.config.limited_mode = false;
    let c = decide(&s);
    assert_eq!(find(&c, "llama-70b-a100").desired_replicas, 2);
    assert_eq!(find(&c, "llama-70b-h100").desired_replicas, 2);
}
