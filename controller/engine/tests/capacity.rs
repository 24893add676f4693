//! Table tests of the token-capacity analyzer (V2) and its cost-aware optimizer, with the
//! numbers computed by hand in the comments (default thresholds: kvCacheThreshold 0.80,
//! queueLengthThreshold 5; analyzer scaleUpThreshold 0.85, scaleDownBoundary 0.70).

mod common;

use common::{find, model, saturation, snapshot, variant};
use wva_engine::{
    Action, CapacityAnalysis, Cycle, Reason, ReplicaSignals, Snapshot, Variant, decide,
};

/// The V2 configuration: one `saturation` analyzer with its defaults.
const V2: &str = "analyzers:\n  - name: saturation\n";

fn capacity(cycle: &Cycle) -> &CapacityAnalysis {
    cycle.models[0]
        .capacity
        .as_ref()
        .unwrap_or_else(|| panic!("no capacity analysis: {cycle:#?}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.01
}

/// A replica with a KV cache of `total` tokens, requests of 1000 input and 200 output tokens
/// (a queued one costs 1000 + 200/2 = 1100 tokens).
fn replica(pod: String, total: f64, kv: f64, queue: f64) -> ReplicaSignals {
    ReplicaSignals {
        engines: None,
        pod,
        kv_cache_usage: Some(kv),
        queue_length: Some(queue),
        kv_capacity_tokens: Some(total),
        avg_input_tokens: Some(1000.0),
        avg_output_tokens: Some(200.0),
        prefix_cache_hit_rate: None,
    }
}

/// A variant whose replicas have KV caches of `total` tokens and report (kv, queue).
fn tokens_variant(name: &str, cost: f64, total: f64, replicas: &[(f64, f64)]) -> Variant {
    let mut v = variant(name, cost, replicas);
    v.replicas = replicas
        .iter()
        .enumerate()
        .map(|(i, (kv, q))| replica(format!("{name}-{i}"), total, *kv, *q))
        .collect();
    v
}

fn v2_with(entry: &str, variants: Vec<Variant>) -> Snapshot {
    let mut s = snapshot(vec![model("ns", "m", variants)]);
    s.config.saturation = saturation(&[("default", entry)]);
    s
}

fn v2(variants: Vec<Variant>) -> Snapshot {
    v2_with(V2, variants)
}

fn v1(variants: Vec<Variant>) -> Snapshot {
    snapshot(vec![model("ns", "m", variants)])
}

// ---- the two hazards of the saturation analyzer (V1) ----

/// Two replicas at queue 85 and one idle, KV caches of 50000 tokens (capacity 0.8 × 50000 =
/// 40000 each). Demand: 2 × (0.7 × 50000 + 85 × 1100) + 0.05 × 50000 = 2 × 128500 + 2500 =
/// 259500; supply 120000. Required: 259500 / 0.85 − 120000 = 185294.12 → ceil(4.63) = 5
/// replicas. V1 sees one non-saturated, idle replica and holds.
#[test]
fn two_saturated_and_one_idle_replica_scale_up_by_five() {
    let replicas = [(0.7, 85.0), (0.7, 85.0), (0.05, 0.0)];
    let old = decide(&v1(vec![tokens_variant("v", 10.0, 50000.0, &replicas)]));
    assert_eq!(find(&old, "v").reason, Reason::Steady, "the V1 hazard");

    let c = decide(&v2(vec![tokens_variant("v", 10.0, 50000.0, &replicas)]));
    let a = capacity(&c);
    assert_eq!(a.unit, "tokens");
    assert!(close(a.demand, 259500.0), "{a:?}");
    assert!(close(a.supply, 120000.0) && close(a.anticipated_supply, 120000.0));
    assert!(close(a.required, 185294.12) && a.spare == 0.0, "{a:?}");
    assert!(close(a.utilization, 2.1625), "{a:?}");
    let d = find(&c, "v");
    assert_eq!(
        (d.desired_replicas, d.action, d.reason),
        (8, Action::ScaleUp, Reason::ScaleUp)
    );
    assert_eq!(
        d.message,
        "demand 259500 tokens > 0.85 × anticipated supply 120000 tokens (required 185294 tokens): \
         +5 replicas of v (40000 tokens each, cost 0.25/1000 tokens), 3 -> 8"
    );
}

/// One replica at queue 85 and two idle: demand 128500 + 2 × 2500 = 133500; required
/// 133500 / 0.85 − 120000 = 37058.82 → 1 replica. V1 scales down 3 → 2.
#[test]
fn one_saturated_and_two_idle_replicas_scale_up_never_down() {
    let replicas = [(0.7, 85.0), (0.05, 0.0), (0.05, 0.0)];
    let old = decide(&v1(vec![tokens_variant("v", 10.0, 50000.0, &replicas)]));
    assert_eq!(find(&old, "v").desired_replicas, 2, "the V1 hazard");

    let c = decide(&v2(vec![tokens_variant("v", 10.0, 50000.0, &replicas)]));
    let a = capacity(&c);
    assert!(
        close(a.demand, 133500.0) && close(a.required, 37058.82),
        "{a:?}"
    );
    assert_eq!(find(&c, "v").desired_replicas, 4);
}

// ---- capacity per replica ----

/// Batch limits 8192 tokens / 32 sequences with requests of 1000 + 200 tokens: N = min(8192 ×
/// 200 / 1200, 32) = 32, k2 = 32 × (1000 + 100) = 35200 < k1 = 40000. One replica at KV 0.5:
/// demand 25000, no required (29411.76 < 35200) and no spare (25000 / 0.7 = 35714.29 >
/// 35200).
#[test]
fn batch_limits_bound_the_capacity() {
    let mut v = tokens_variant("v", 10.0, 50000.0, &[(0.5, 0.0)]);
    v.max_num_batched_tokens = Some(8192);
    v.max_num_seqs = Some(32);
    let c = decide(&v2(vec![v]));
    let a = capacity(&c);
    assert!(
        close(a.supply, 35200.0) && close(a.demand, 25000.0),
        "{a:?}"
    );
    assert_eq!((a.required, a.spare), (0.0, 0.0));
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.reason), (1, Reason::Steady));
    assert!(
        d.message.starts_with(
            "demand 25000 tokens, supply 35200 tokens (utilization 0.71): no capacity required"
        ),
        "{}",
        d.message
    );
}

/// A prefix-cache hit rate of 0.5 halves a queued request's input: 500 + 100 = 600 tokens.
/// KV 0.5 of 50000 and 10 queued: demand 25000 + 6000 = 31000.
#[test]
fn prefix_cache_hits_lower_the_cost_of_a_queued_request() {
    let mut v = tokens_variant("v", 10.0, 50000.0, &[(0.5, 10.0)]);
    v.replicas[0].prefix_cache_hit_rate = Some(0.5);
    let c = decide(&v2(vec![v]));
    assert!(close(capacity(&c).demand, 31000.0), "{:?}", capacity(&c));
}

/// Without `kvCapacityTokens` the unit is the KV cache: capacity 0.8 per replica, a queued
/// request costs 0.8 / 5 = 0.16. Two replicas at KV 0.7 and queue 3: demand 2 × (0.7 + 0.48)
/// = 2.36, supply 1.6, required 2.36 / 0.85 − 1.6 = 1.1765 → ceil(1.47) = 2 replicas.
#[test]
fn without_the_kv_size_capacity_is_in_kv_fractions() {
    let c = decide(&v2(vec![variant("v", 10.0, &[(0.7, 3.0), (0.7, 3.0)])]));
    let a = capacity(&c);
    assert_eq!(a.unit, "kv-fraction");
    assert!(close(a.demand, 2.36) && close(a.supply, 1.6), "{a:?}");
    assert!((a.required - 1.176_470_6).abs() < 1e-6, "{a:?}");
    let d = find(&c, "v");
    assert_eq!(d.desired_replicas, 4);
    assert!(
        d.message
            .contains("+2 replicas of v (0.800 KV caches each, cost 12.50/KV cache)"),
        "{}",
        d.message
    );
}

// ---- the optimizer ----

/// a100: cost 20, 37500-token caches → 30000 tokens per replica, 0.67 per 1000 tokens; h100:
/// cost 80, 100000-token caches → 80000 tokens, 1.00 per 1000 tokens. a100 at KV 0.78 with 40
/// queued: 29250 + 44000 = 73250; h100 at KV 0.5: 50000. Demand 123250, supply 110000,
/// required 123250 / 0.85 − 110000 = 35000 → ceil(1.17) = 2 replicas of a100, but its
/// maxReplicas is 2: +1 (left 5000), spilled to h100: +1.
#[test]
fn scale_up_takes_the_cheapest_capacity_first_and_spills_at_max_replicas() {
    let mut a100 = tokens_variant("a100", 20.0, 37500.0, &[(0.78, 40.0)]);
    a100.max_replicas = Some(2);
    let h100 = tokens_variant("h100", 80.0, 100000.0, &[(0.5, 0.0)]);
    let c = decide(&v2(vec![a100, h100]));
    let a = capacity(&c);
    assert!(
        close(a.demand, 123250.0) && close(a.required, 35000.0),
        "{a:?}"
    );
    let (a100, h100) = (find(&c, "a100"), find(&c, "h100"));
    assert_eq!((a100.desired_replicas, h100.desired_replicas), (2, 2));
    assert_eq!(
        a100.message,
        "demand 123250 tokens > 0.85 × anticipated supply 110000 tokens (required 35000 tokens): \
         +1 replicas of a100 (30000 tokens each, cost 0.67/1000 tokens), 1 -> 2"
    );
    assert!(
        h100.message
            .contains("+1 replicas of h100 (80000 tokens each, cost 1.00/1000 tokens)"),
        "{}",
        h100.message
    );
}

/// Without the cap, the same demand needs ceil(35000 / 30000) = 2 a100 replicas and no h100.
#[test]
fn scale_up_is_sized_on_the_cheapest_variant() {
    let a100 = tokens_variant("a100", 20.0, 37500.0, &[(0.78, 40.0)]);
    let h100 = tokens_variant("h100", 80.0, 100000.0, &[(0.5, 0.0)]);
    let c = decide(&v2(vec![a100, h100]));
    assert_eq!(find(&c, "a100").desired_replicas, 3);
    let h100 = find(&c, "h100");
    assert_eq!(
        (h100.desired_replicas, h100.reason),
        (1, Reason::ScaleUpOtherVariant)
    );
}

/// Two variants of 40000 tokens per replica, two replicas each at KV 0.1: demand 20000,
/// supply 160000, spare 160000 − 20000 / 0.7 = 131428.57. The dearer one (40 per replica)
/// goes first: floor(3.29) = 3, but a scale-down stops at 1: 2 → 1 (left 91428.57); then the
/// cheaper one: floor(2.29) = 2, also 2 → 1.
#[test]
fn scale_down_takes_the_most_expensive_first_and_keeps_every_variant_at_one() {
    let cheap = tokens_variant("cheap", 10.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    let pricey = tokens_variant("pricey", 40.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    let c = decide(&v2(vec![cheap, pricey]));
    let a = capacity(&c);
    assert!(close(a.spare, 131428.57) && a.required == 0.0, "{a:?}");
    let (cheap, pricey) = (find(&c, "cheap"), find(&c, "pricey"));
    assert_eq!(
        (pricey.desired_replicas, pricey.reason),
        (1, Reason::ScaleDown)
    );
    assert_eq!(
        (cheap.desired_replicas, cheap.reason),
        (1, Reason::ScaleDown)
    );
    assert_eq!(
        pricey.message,
        "demand 20000 tokens < 0.7 × supply 160000 tokens (spare 131429 tokens): \
         -1 replicas of pricey (40000 tokens each, cost 1.00/1000 tokens), 2 -> 1"
    );
}

/// With spare for one replica only (both at KV 0.5: demand 100000, spare 160000 − 142857.14 =
/// 17142.86 < 40000), nothing goes; at KV 0.3 (demand 60000, spare 74285.71) one replica of
/// the dearer variant goes.
#[test]
fn scale_down_removes_only_whole_replicas_of_spare() {
    let fleet = |kv: f64| {
        vec![
            tokens_variant("cheap", 10.0, 50000.0, &[(kv, 0.0), (kv, 0.0)]),
            tokens_variant("pricey", 40.0, 50000.0, &[(kv, 0.0), (kv, 0.0)]),
        ]
    };
    let c = decide(&v2(fleet(0.5)));
    assert!(close(capacity(&c).spare, 17142.86), "{:?}", capacity(&c));
    assert!(
        c.decisions.iter().all(|d| d.reason == Reason::Steady),
        "{c:#?}"
    );
    let c = decide(&v2(fleet(0.3)));
    assert!(close(capacity(&c).spare, 74285.71), "{:?}", capacity(&c));
    assert_eq!(find(&c, "pricey").desired_replicas, 1);
    assert_eq!(
        (find(&c, "cheap").desired_replicas, find(&c, "cheap").reason),
        (2, Reason::ScaleDownOtherVariant)
    );
}

/// The same fleet with one cheap replica at queue 6 (saturated: 6 ≥ 5): demand 26600, spare
/// 122000, but no scale-down while a replica is saturated.
#[test]
fn no_scale_down_while_a_replica_is_saturated() {
    let cheap = tokens_variant("cheap", 10.0, 50000.0, &[(0.1, 6.0), (0.1, 0.0)]);
    let pricey = tokens_variant("pricey", 40.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    let c = decide(&v2(vec![cheap, pricey]));
    assert!(close(capacity(&c).spare, 122000.0), "{:?}", capacity(&c));
    for d in &c.decisions {
        assert_eq!(
            (d.action, d.reason),
            (Action::NoChange, Reason::Steady),
            "{d:?}"
        );
        assert!(
            d.message
                .ends_with("but 1 replicas are saturated; not scaling down")
        );
    }
}

/// A missing queue counts at its threshold (5 × 1100 = 5500) and blocks the scale-down.
#[test]
fn no_scale_down_with_a_missing_input() {
    let mut cheap = tokens_variant("cheap", 10.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    cheap.replicas[1].queue_length = None;
    let pricey = tokens_variant("pricey", 40.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    let c = decide(&v2(vec![cheap, pricey]));
    assert!(close(capacity(&c).demand, 25500.0), "{:?}", capacity(&c));
    for d in &c.decisions {
        assert_eq!(
            (d.action, d.reason),
            (Action::NoChange, Reason::ScaleDownBlockedMissingData),
            "{d:?}"
        );
    }
}

// ---- several analyzers: up if any says so, down only if all agree ----

/// One variant of two 40000-token replicas (supply 80000) at KV 0.24: demand 24000. Alone, the
/// default analyzer has spare 80000 − 34285.71 = 45714.29 → −1 replica; with a second
/// analyzer of boundary 0.5 the spare is min(45714.29, 80000 − 48000 = 32000) → less than one
/// replica: no change.
#[test]
fn several_analyzers_scale_down_only_if_all_agree() {
    let fleet = || {
        vec![tokens_variant(
            "v",
            10.0,
            50000.0,
            &[(0.24, 0.0), (0.24, 0.0)],
        )]
    };
    let one = decide(&v2(fleet()));
    assert_eq!(find(&one, "v").desired_replicas, 1);
    let two = decide(&v2_with(
        "analyzers:\n  - name: saturation\n  - name: saturation\n    scaleUpThreshold: 0.95\n    scaleDownBoundary: 0.5\n",
        fleet(),
    ));
    assert!(close(capacity(&two).spare, 32000.0), "{:?}", capacity(&two));
    assert_eq!(find(&two, "v").desired_replicas, 2);
}

/// At KV 0.72 each (demand 72000 of 80000): the default analyzer requires 72000 / 0.85 −
/// 80000 = 4705.88 → +1; one of threshold 0.95 requires nothing. Any is enough.
#[test]
fn several_analyzers_scale_up_if_any_says_so() {
    let c = decide(&v2_with(
        "analyzers:\n  - name: saturation\n    scaleUpThreshold: 0.95\n    scaleDownBoundary: 0.5\n  - name: saturation\n",
        vec![tokens_variant(
            "v",
            10.0,
            50000.0,
            &[(0.72, 0.0), (0.72, 0.0)],
        )],
    ));
    assert!(close(capacity(&c).required, 4705.88), "{:?}", capacity(&c));
    let d = find(&c, "v");
    assert_eq!(d.desired_replicas, 3);
    assert!(
        d.message.starts_with("demand 72000 tokens > 0.85 ×"),
        "{}",
        d.message
    );
}

// ---- what V2 shares with V1 ----

#[test]
fn a_model_without_analyzers_keeps_v1_and_an_override_selects_v2() {
    let fleet = || {
        vec![tokens_variant(
            "v",
            10.0,
            50000.0,
            &[(0.7, 85.0), (0.05, 0.0), (0.05, 0.0)],
        )]
    };
    let mut s = snapshot(vec![
        model("ns", "m", fleet()),
        model("ns", "other", fleet()),
    ]);
    s.config.saturation = saturation(&[("v2", "model_id: m\nanalyzers:\n  - name: saturation\n")]);
    let c = decide(&s);
    let by_model = |id: &str| c.models.iter().find(|m| m.model_id == id).unwrap();
    assert!(by_model("m").capacity.is_some());
    assert!(by_model("other").capacity.is_none());
    let targets: Vec<u32> = c.decisions.iter().map(|d| d.desired_replicas).collect();
    assert_eq!(targets, [4, 2], "m by V2, other by V1");
}

#[test]
fn v2_holds_a_model_in_transition() {
    let mut v = tokens_variant("v", 10.0, 50000.0, &[(0.7, 85.0), (0.7, 85.0)]);
    v.previous_desired = Some(4);
    let c = decide(&v2(vec![v]));
    let d = find(&c, "v");
    assert_eq!((d.desired_replicas, d.reason), (4, Reason::InTransition));
    assert!(capacity(&c).required > 0.0);
}

#[test]
fn v2_scales_an_idle_model_to_zero_when_enabled() {
    let mut s = v2(vec![tokens_variant(
        "v",
        10.0,
        50000.0,
        &[(0.0, 0.0), (0.0, 0.0)],
    )]);
    s.config.scale_to_zero_enabled = true;
    s.models[0].request_count = Some(0.0);
    let c = decide(&s);
    assert_eq!(
        (find(&c, "v").desired_replicas, find(&c, "v").reason),
        (0, Reason::ScaleToZero)
    );
    s.config.scale_to_zero_enabled = false;
    let d = decide(&s);
    assert_eq!(find(&d, "v").desired_replicas, 1, "the cheapest keeps one");
}

#[test]
fn v2_without_any_signal_takes_the_safety_net() {
    let mut v = tokens_variant("v", 10.0, 50000.0, &[(0.0, 0.0)]);
    v.replicas[0].kv_cache_usage = None;
    v.replicas[0].queue_length = None;
    let s: Snapshot = v2(vec![v]);
    let c = decide(&s);
    let d = find(&c, "v");
    assert!(d.safety_net && d.reason == Reason::SafetyNet, "{d:?}");
    assert!(c.models[0].capacity.is_none());
}

/// Two replicas at KV 0.1 in KV fractions: demand 0.2, supply 1.6, spare 1.6 − 0.2 / 0.7 =
/// 1.314 → one replica of 0.8 can go. Without any KV size that is the fallback and it scales
/// down; with one replica's size missing while the other reports it, it is a missing input.
#[test]
fn unit_falls_back_when_a_replica_lacks_the_kv_size() {
    let mut v = tokens_variant("v", 10.0, 50000.0, &[(0.1, 0.0), (0.1, 0.0)]);
    v.replicas[1].kv_capacity_tokens = None;
    let c = decide(&v2(vec![v.clone()]));
    let a = capacity(&c);
    assert_eq!(a.unit, "kv-fraction");
    assert!((a.spare - 1.314_285_7).abs() < 1e-6, "{a:?}");
    assert_eq!(
        (find(&c, "v").desired_replicas, find(&c, "v").reason),
        (2, Reason::ScaleDownBlockedMissingData)
    );
    v.replicas[0].kv_capacity_tokens = None;
    let c = decide(&v2(vec![v]));
    assert_eq!(
        (find(&c, "v").desired_replicas, find(&c, "v").reason),
        (1, Reason::ScaleDown)
    );
}

/// The worked example of docs/engine.md decided by V1: `a100-0` is saturated and the two
/// others average 0.25 spare KV and 4 spare queue, so V1 holds where V2 adds a replica.
#[test]
fn the_worked_example_holds_under_v1() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sim/scenarios/snapshot-v2.json"
    );
    let text = std::fs::read_to_string(path).expect("the V2 sample");
    let mut s: Snapshot = serde_json::from_str(&text).expect("a snapshot");
    assert!(s.validate().is_empty(), "{:?}", s.validate());
    let c = decide(&s);
    assert_eq!(find(&c, "a100").desired_replicas, 3);
    for entry in s.config.saturation.values_mut() {
        entry.analyzers = None;
    }
    let c = decide(&s);
    let a = c.models[0].analysis.as_ref().expect("V1 analysis");
    assert!(
        (a.avg_spare_kv - 0.25).abs() < 1e-9 && a.avg_spare_queue == 4.0,
        "{a:?}"
    );
    for d in &c.decisions {
        assert_eq!(
            (d.action, d.reason),
            (Action::NoChange, Reason::Steady),
            "{d:?}"
        );
    }
}
