//! HYBRID mode tables: the queueing model's target arbitrated with the capacity analysis's,
//! capacity safety first (docs/engine.md, "HYBRID mode (experimental)").

mod common;

use common::{model, snapshot, variant};
use wva_core::service_class::{ModelClass, Slo};
use wva_engine::queueing::PerfParams;
use wva_engine::{Action, Cycle, Decision, Reason, Snapshot, Variant, decide};

const PERF: PerfParams = PerfParams {
    alpha: 8.0,
    beta: 0.02,
    gamma: 0.0005,
};

fn class(ttft_ms: f64, itl_ms: f64) -> ModelClass {
    ModelClass {
        class: "premium".to_string(),
        priority: 1,
        slo: Slo {
            itl_ms: Some(itl_ms),
            ttft_ms: Some(ttft_ms),
        },
    }
}

/// A variant whose replicas report (kv, queue), 512 input and 128 output tokens, a batch of
/// 64, the test's performance parameters and `rate` requests per second.
fn modelled(replicas: &[(f64, f64)], rate: Option<f64>) -> Variant {
    let mut v = variant("v", 10.0, replicas);
    for r in &mut v.replicas {
        r.avg_input_tokens = Some(512.0);
        r.avg_output_tokens = Some(128.0);
    }
    v.max_num_seqs = Some(64);
    v.perf = Some(PERF);
    v.arrival_rate = rate;
    v
}

fn hybrid(v: Variant, class: Option<ModelClass>) -> Snapshot {
    let mut m = model("ns", "m", vec![v]);
    m.service_class = class;
    let mut s = snapshot(vec![m]);
    s.config.hybrid = true;
    s
}

fn only(c: &Cycle) -> &Decision {
    assert_eq!(c.decisions.len(), 1, "{c:#?}");
    &c.decisions[0]
}

/// Two replicas at KV 0.5, queue 1: capacity holds (steady, removing one is not safe).
const STEADY: [(f64, f64); 2] = [(0.5, 1.0), (0.5, 1.0)];
/// Three idle replicas: capacity removes one, safely.
const IDLE: [(f64, f64); 3] = [(0.1, 0.0), (0.1, 0.0), (0.1, 0.0)];

#[test]
fn the_model_scales_up_before_saturation_when_the_slo_is_missed() {
    let capacity = decide(&snapshot(vec![model(
        "ns",
        "m",
        vec![modelled(&STEADY, Some(40.0))],
    )]));
    assert_eq!(only(&capacity).reason, Reason::Steady);
    assert_eq!(only(&capacity).desired_replicas, 2);

    let c = decide(&hybrid(
        modelled(&STEADY, Some(40.0)),
        Some(class(2000.0, 30.0)),
    ));
    let d = only(&c);
    assert!(d.desired_replicas > 2, "{d:#?}");
    assert_eq!((d.action, d.reason), (Action::ScaleUp, Reason::ScaleUp));
    assert_eq!(d.optimization_reason, Some("OptimizationSucceeded"));
    assert!(
        d.message.starts_with("Hybrid mode: model wants"),
        "{}",
        d.message
    );
    assert!(
        d.message
            .contains("class premium SLO TTFT 2000 ms, ITL 30 ms"),
        "{}",
        d.message
    );
    assert!(d.message.contains("predicted TTFT"), "{}", d.message);
}

#[test]
fn capacity_vetoes_a_model_that_wants_fewer() {
    // A trickle: the model would run on one replica, capacity says removing one is unsafe.
    let c = decide(&hybrid(
        modelled(&STEADY, Some(0.5)),
        Some(class(2000.0, 30.0)),
    ));
    let d = only(&c);
    assert_eq!(
        (d.desired_replicas, d.action),
        (2, Action::NoChange),
        "{d:#?}"
    );
    assert_eq!(d.optimization_reason, Some("CapacitySafetyOverride"));
    assert!(
        d.message
            .starts_with("Hybrid mode: capacity safety override: model wants 1 replicas"),
        "{}",
        d.message
    );
}

#[test]
fn scale_down_only_when_both_agree_and_capacity_says_safe() {
    // Capacity removes one idle replica; the model wants 3 for its rate: hold.
    let busy = decide(&hybrid(
        modelled(&IDLE, Some(60.0)),
        Some(class(2000.0, 30.0)),
    ));
    let d = only(&busy);
    assert!(d.desired_replicas >= 3, "{d:#?}");
    assert_eq!(d.optimization_reason, Some("OptimizationSucceeded"));
    // Both want fewer and capacity says it is safe: the smaller step (capacity's 2).
    let idle = decide(&hybrid(
        modelled(&IDLE, Some(0.5)),
        Some(class(2000.0, 30.0)),
    ));
    let d = only(&idle);
    assert_eq!(
        (d.desired_replicas, d.action),
        (2, Action::ScaleDown),
        "{d:#?}"
    );
    assert_eq!(d.reason, Reason::ScaleDown);
    assert_eq!(d.optimization_reason, Some("OptimizationSucceeded"));
}

#[test]
fn missing_inputs_run_capacity_only_and_say_why() {
    let cases: [(Snapshot, &str); 5] = [
        (
            hybrid(modelled(&IDLE, Some(0.5)), None),
            "capacity-only: no service class for model m",
        ),
        (
            hybrid(
                Variant {
                    perf: None,
                    ..modelled(&IDLE, Some(0.5))
                },
                Some(class(2000.0, 30.0)),
            ),
            "capacity-only: not enough data to learn the performance model (performance parameters of variant v unknown)",
        ),
        (
            hybrid(modelled(&IDLE, None), Some(class(2000.0, 30.0))),
            "capacity-only: not enough data to learn the performance model (arrival rate of variant v unknown)",
        ),
        (
            hybrid(variant_without_tokens(), Some(class(2000.0, 30.0))),
            "capacity-only: not enough data to learn the performance model (token sizes of variant v unknown)",
        ),
        (
            hybrid(modelled(&IDLE, Some(0.5)), Some(class(2000.0, 1.0))),
            "capacity-only: SLO below what a replica can do (class premium: TTFT 2000 ms, ITL 1 ms; variant v)",
        ),
    ];
    let off = decide(&snapshot(vec![model(
        "ns",
        "m",
        vec![modelled(&IDLE, None)],
    )]));
    for (s, why) in cases {
        let c = decide(&s);
        let d = only(&c);
        // Capacity's decision stands: the scale-down of an idle replica.
        assert_eq!(
            (d.desired_replicas, d.action, d.reason),
            (2, Action::ScaleDown, Reason::ScaleDown),
            "{why}"
        );
        assert_eq!(d.optimization_reason, Some("CapacityOnlyMode"), "{why}");
        assert_eq!(
            d.message,
            format!("Hybrid mode: {why}; capacity: {}", only(&off).message)
        );
    }
}

fn variant_without_tokens() -> Variant {
    let mut v = modelled(&IDLE, Some(0.5));
    for r in &mut v.replicas {
        r.avg_output_tokens = None;
    }
    v
}

#[test]
fn the_safety_net_and_transition_keep_their_precedence() {
    // No signal: the safety net decides, marked capacity-only, with its own message.
    let mut v = modelled(&STEADY, Some(40.0));
    for r in &mut v.replicas {
        r.kv_cache_usage = None;
        r.queue_length = None;
    }
    let c = decide(&hybrid(v, Some(class(2000.0, 30.0))));
    let d = only(&c);
    assert!(d.safety_net, "{d:#?}");
    assert_eq!(d.optimization_reason, Some("CapacityOnlyMode"));
    assert!(!d.message.contains("Hybrid mode"), "{}", d.message);
    // In transition: held, and the model is not asked.
    let mut v = modelled(&STEADY, Some(40.0));
    v.previous_desired = Some(3);
    let c = decide(&hybrid(v, Some(class(2000.0, 30.0))));
    let d = only(&c);
    assert_eq!((d.desired_replicas, d.reason), (3, Reason::InTransition));
    assert!(
        d.message
            .ends_with("; Hybrid mode: capacity-only: the model is in transition"),
        "{}",
        d.message
    );
}

#[test]
fn hybrid_off_ignores_the_model_inputs() {
    let plain = decide(&snapshot(vec![model(
        "ns",
        "m",
        vec![variant("v", 10.0, &STEADY)],
    )]));
    let mut s = hybrid(modelled(&STEADY, Some(40.0)), Some(class(2000.0, 30.0)));
    s.config.hybrid = false;
    let c = decide(&s);
    assert_eq!(c.decisions, plain.decisions);
    assert_eq!(only(&c).optimization_reason, None);
}

#[test]
fn validation_names_bad_model_inputs() {
    let mut v = modelled(&STEADY, Some(-1.0));
    v.perf = Some(PerfParams { alpha: 0.0, ..PERF });
    let problems = hybrid(v, None).validate();
    assert_eq!(
        problems,
        [
            "models[0].variants[0].arrivalRate is -1, expected requests per second, 0 or more (omit it when unknown)",
            "models[0].variants[0].perf is PerfParams { alpha: 0.0, beta: 0.02, gamma: 0.0005 }, expected finite alpha above 0 and beta, gamma 0 or more (omit it when unknown)",
        ]
    );
}
