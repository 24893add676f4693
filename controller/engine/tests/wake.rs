//! Scale-from-zero tables: which models at zero start a replica, on which variant.

mod common;

use common::{model, scale_to_zero, snapshot, variant};
use std::collections::BTreeMap;
use wva_engine::{Action, MetricsReason, ModelGroup, Reason, Role, Snapshot, Variant, wake};

/// A variant at zero with no earlier decision.
fn idle(name: &str, cost: f64) -> Variant {
    variant(name, cost, &[])
}

/// A model at zero whose gateway queue reads `queue`.
fn dormant(id: &str, queue: Option<f64>, variants: Vec<Variant>) -> ModelGroup {
    ModelGroup {
        gateway_queue: queue,
        request_count: Some(0.0),
        ..model("llm", id, variants)
    }
}

fn started(s: &Snapshot, in_flight: u32, max: u32) -> Vec<(String, String, u32)> {
    wake(s, in_flight, max)
        .activations
        .into_iter()
        .map(|d| (d.model_id, d.variant, d.desired_replicas))
        .collect()
}

fn one(model: &str, variant: &str) -> (String, String, u32) {
    (model.to_string(), variant.to_string(), 1)
}

#[test]
fn zero_demand_stays_at_zero() {
    let s = snapshot(vec![dormant("m", Some(0.0), vec![idle("a", 1.0)])]);
    assert_eq!(started(&s, 0, 10), vec![]);
}

#[test]
fn an_unknown_queue_does_nothing() {
    let s = snapshot(vec![dormant("m", None, vec![idle("a", 1.0)])]);
    assert_eq!(started(&s, 0, 10), vec![]);
}

#[test]
fn demand_starts_one_replica_on_the_cheapest_variant_only() {
    let s = snapshot(vec![dormant(
        "m",
        Some(3.0),
        vec![idle("h100", 40.0), idle("a100", 20.0), idle("l40", 30.0)],
    )]);
    let wake = wake(&s, 0, 10);
    assert_eq!(wake.activations.len(), 1);
    let d = &wake.activations[0];
    assert_eq!(
        (d.variant.as_str(), d.current_replicas, d.desired_replicas),
        ("a100", 0, 1)
    );
    assert_eq!(d.action, Action::ScaleUp);
    assert_eq!(d.reason, Reason::ScaleFromZero);
    assert_eq!(d.metrics_available.reason, MetricsReason::ScaleFromZero);
    assert!(
        d.message
            .starts_with("3 requests wait at the inference gateway for model \"m\""),
        "{}",
        d.message
    );
}

#[test]
fn cost_ties_go_to_more_gpus_per_replica_then_name_and_never_to_max_zero() {
    let mut big = idle("b-big", 10.0);
    big.gpus_per_replica = 2;
    let s = snapshot(vec![dormant(
        "m",
        Some(1.0),
        vec![idle("a-small", 10.0), big.clone()],
    )]);
    assert_eq!(started(&s, 0, 10), vec![one("m", "b-big")]);
    let s = snapshot(vec![dormant(
        "m",
        Some(1.0),
        vec![idle("z", 10.0), idle("y", 10.0)],
    )]);
    assert_eq!(started(&s, 0, 10), vec![one("m", "y")]);
    let mut closed = idle("cheap", 1.0);
    closed.max_replicas = Some(0);
    let s = snapshot(vec![dormant(
        "m",
        Some(1.0),
        vec![closed, idle("dear", 9.0)],
    )]);
    assert_eq!(started(&s, 0, 10), vec![one("m", "dear")]);
}

#[test]
fn a_model_with_a_replica_or_an_earlier_decision_is_not_started_again() {
    let running = dormant("m", Some(5.0), vec![variant("a", 1.0, &[(0.9, 5.0)])]);
    let mut on_its_way = idle("b", 1.0);
    on_its_way.previous_desired = Some(1);
    let pending = dormant("n", Some(5.0), vec![on_its_way]);
    assert_eq!(started(&snapshot(vec![running, pending]), 0, 10), vec![]);
}

#[test]
fn concurrency_is_bounded_largest_queue_first() {
    let s = snapshot(vec![
        dormant("small", Some(1.0), vec![idle("s", 1.0)]),
        dormant("big", Some(9.0), vec![idle("b", 1.0)]),
        dormant("mid", Some(4.0), vec![idle("m", 1.0)]),
    ]);
    assert_eq!(started(&s, 0, 2), vec![one("big", "b"), one("mid", "m")]);
    let wake = wake(&s, 1, 2);
    assert_eq!(wake.activations.len(), 1);
    assert_eq!(
        wake.deferred,
        vec![
            ("llm".to_string(), "mid".to_string(), 4.0),
            ("llm".to_string(), "small".to_string(), 1.0)
        ]
    );
    assert_eq!(started(&s, 2, 2), vec![]);
}

#[test]
fn in_limited_mode_a_variant_with_free_gpus_is_preferred() {
    let mut cheap = idle("cheap", 1.0);
    cheap.accelerator = Some("A100".into());
    let mut s = snapshot(vec![dormant(
        "m",
        Some(2.0),
        vec![cheap, idle("dear", 9.0)],
    )]);
    s.config.limited_mode = true;
    s.free_gpus = Some(BTreeMap::from([("A100".into(), 0), ("H100".into(), 1)]));
    assert_eq!(started(&s, 0, 10), vec![one("m", "dear")]);
    s.free_gpus = Some(BTreeMap::new());
    assert_eq!(started(&s, 0, 10), vec![one("m", "cheap")]);
}

/// A model started from zero at t=1000 whose replica runs idle (no requests yet).
fn woken(now: i64, replicas: &[(f64, f64)]) -> Snapshot {
    let mut v = variant("a", 1.0, replicas);
    v.previous_desired = Some(1);
    v.current_replicas = 1;
    let mut s = snapshot(vec![ModelGroup {
        request_count: Some(0.0),
        scaled_from_zero_at: Some(1000),
        ..model("llm", "m", vec![v])
    }]);
    s.now = now;
    s.config.scale_to_zero = scale_to_zero(&[(
        "default",
        "enable_scale_to_zero: true\nretention_period: 10m\n",
    )]);
    s
}

#[test]
fn a_model_brought_back_is_not_sent_to_zero_before_its_retention_period() {
    let held = wva_engine::decide(&woken(1000 + 599, &[(0.1, 0.0)]));
    assert_eq!(held.decisions[0].desired_replicas, 1);
    assert!(
        held.models[0]
            .notes
            .contains(&wva_engine::Note::ScaleToZeroHeld)
    );
    let after = wva_engine::decide(&woken(1000 + 600, &[(0.1, 0.0)]));
    assert_eq!(after.decisions[0].desired_replicas, 0);
    assert_eq!(after.decisions[0].reason, Reason::ScaleToZero);
}

#[test]
fn a_started_replica_that_does_not_report_yet_is_kept_without_the_safety_net() {
    let c = wva_engine::decide(&woken(1030, &[]));
    let d = &c.decisions[0];
    assert_eq!((d.desired_replicas, d.reason), (1, Reason::ScaleFromZero));
    assert!(!d.safety_net);
    assert_eq!(d.metrics_available.reason, MetricsReason::ScaleFromZero);
}

#[test]
fn waiting_requests_at_the_gateway_keep_a_model_from_scaling_to_zero() {
    let mut s = woken(1000 + 3600, &[(0.1, 0.0)]);
    s.models[0].gateway_queue = Some(2.0);
    let c = wva_engine::decide(&s);
    assert_eq!(c.decisions[0].desired_replicas, 1);
}

#[test]
fn a_prefill_decode_model_wakes_on_a_variant_that_is_not_prefill() {
    // The prefill variant is cheaper, but a prefill pod alone serves no whole request.
    let mut prefill = idle("llama-prefill", 5.0);
    prefill.role = Role::Prefill;
    let mut decode = idle("llama-decode", 20.0);
    decode.role = Role::Decode;
    let s = snapshot(vec![dormant("m", Some(2.0), vec![prefill.clone(), decode])]);
    assert_eq!(started(&s, 0, 10), vec![one("m", "llama-decode")]);
    let message = &wake(&s, 0, 10).activations[0].message;
    assert!(
        message.contains("for model \"m\" (role decode);"),
        "{message}"
    );
    // With only prefill variants, one of them starts.
    let s = snapshot(vec![dormant("m", Some(2.0), vec![prefill])]);
    assert_eq!(started(&s, 0, 10), vec![one("m", "llama-prefill")]);
}
