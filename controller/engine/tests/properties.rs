//! Property tests: invariants that hold for every snapshot.

use proptest::prelude::*;
use std::collections::BTreeMap;
use wva_core::saturation::{AnalyzerEntry, SaturationEntry, ScaleUpStep};
use wva_engine::{
    ModelGroup, Reason, ReplicaSignals, Role, SignalStatus, Snapshot, Variant, decide,
};

fn signal(max: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        1 => Just(None),
        6 => (0.0..max).prop_map(Some),
        1 => prop_oneof![Just(0.0), Just(0.8), Just(5.0)].prop_map(move |x: f64| Some(x.min(max))),
    ]
}

/// The token-capacity inputs of a replica: KV size, average input and output tokens,
/// prefix-cache hit rate; each may be missing.
type TokenInputs = (Option<f64>, Option<(f64, f64)>, Option<f64>);

fn token_inputs() -> impl Strategy<Value = TokenInputs> {
    (
        prop_oneof![Just(None), Just(Some(50_000.0)), Just(Some(100_000.0))],
        prop::option::of((0.0f64..4000.0, 0.0f64..1000.0)),
        prop::option::of(0.0f64..=1.0),
    )
}

fn replica() -> impl Strategy<Value = (Option<f64>, Option<f64>, TokenInputs)> {
    (signal(1.2), signal(20.0), token_inputs())
}

fn variant(index: usize) -> impl Strategy<Value = Variant> {
    (
        prop::collection::vec(replica(), 0..5),
        prop_oneof![Just(5.0), Just(10.0), Just(40.0), Just(80.0)],
        -1i32..=1,
        prop::option::of(0u32..6),
        prop::option::of(0u32..3),
        prop::option::of(1u32..6),
        0u32..2,
        prop_oneof![
            Just(Some("H100".to_string())),
            Just(Some("A100".to_string())),
            Just(None)
        ],
        1u32..3,
        prop::option::of((1024u32..16384, 1u32..256)),
    )
        .prop_map(
            move |(
                replicas,
                cost,
                skew,
                previous,
                min,
                max,
                pending,
                accelerator,
                gpus,
                limits,
            )| {
                let reporting = replicas.len() as i32;
                let (min, max) = match (min, max) {
                    (Some(lo), Some(hi)) if lo > hi => (Some(hi), Some(lo)),
                    other => other,
                };
                Variant {
                    role: wva_engine::Role::Both,
                    data_parallel_size: None,
                    name: format!("v{index}"),
                    cost,
                    accelerator,
                    gpus_per_replica: gpus,
                    current_replicas: (reporting + skew).max(0) as u32,
                    ready_replicas: reporting as u32,
                    pending_replicas: pending,
                    previous_desired: previous,
                    min_replicas: min,
                    max_replicas: max,
                    replicas: replicas
                        .into_iter()
                        .enumerate()
                        .map(|(i, (kv, q, (total, size, hit)))| ReplicaSignals {
                            engines: None,
                            pod: format!("v{index}-{i}"),
                            kv_cache_usage: kv,
                            queue_length: q,
                            kv_capacity_tokens: total,
                            avg_input_tokens: size.map(|s| s.0),
                            avg_output_tokens: size.map(|s| s.1),
                            prefix_cache_hit_rate: hit,
                        })
                        .collect(),
                    max_num_batched_tokens: limits.map(|l| l.0),
                    max_num_seqs: limits.map(|l| l.1),
                    perf: None,
                    arrival_rate: None,
                }
            },
        )
}

fn model(index: usize) -> impl Strategy<Value = ModelGroup> {
    (
        (1usize..4).prop_flat_map(|n| (0..n).map(variant).collect::<Vec<_>>()),
        prop_oneof![
            6 => Just(SignalStatus::Ok),
            1 => Just(SignalStatus::NoData),
            1 => Just(SignalStatus::PrometheusError { message: "timeout".into() }),
        ],
        prop::option::of(prop_oneof![Just(0.0), Just(12.0)]),
    )
        .prop_map(move |(variants, signals, request_count)| ModelGroup {
            namespace: format!("ns{}", index % 2),
            model_id: format!("model-{index}"),
            signals,
            request_count,
            variants,
            ..ModelGroup::default()
        })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        (1usize..4).prop_flat_map(|n| (0..n).map(model).collect::<Vec<_>>()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of((0u32..6, 0u32..6)),
        prop_oneof![Just(None), Just(Some((0.85, 0.70))), Just(Some((0.6, 0.3)))],
    )
        .prop_map(|(models, stz, limited, sized, free, v2)| {
            let mut snapshot = Snapshot {
                now: 42,
                models,
                ..Snapshot::default()
            };
            snapshot.config.scale_to_zero_enabled = stz;
            snapshot.config.limited_mode = limited;
            if sized || v2.is_some() {
                let entry = SaturationEntry {
                    scale_up_step: sized.then_some(ScaleUpStep::Sized),
                    analyzers: v2.map(|(up, down)| {
                        vec![AnalyzerEntry {
                            name: "saturation".into(),
                            scale_up_threshold: Some(up),
                            scale_down_boundary: Some(down),
                            ..AnalyzerEntry::default()
                        }]
                    }),
                    ..SaturationEntry::default()
                };
                snapshot.config.saturation.insert("default".into(), entry);
            }
            snapshot.free_gpus = free
                .map(|(h, a)| BTreeMap::from([("H100".to_string(), h), ("A100".to_string(), a)]));
            snapshot
        })
}

/// Fisher-Yates with a small LCG, so a proptest-chosen seed picks the permutation.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = ((*seed >> 33) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn variant_of<'a>(s: &'a Snapshot, ns: &str, model: &str, name: &str) -> &'a Variant {
    s.models
        .iter()
        .find(|m| m.namespace == ns && m.model_id == model)
        .and_then(|m| m.variants.iter().find(|v| v.name == name))
        .expect("every decision names an input variant")
}

fn has_missing_signal(m: &ModelGroup) -> bool {
    m.variants.iter().any(|v| {
        v.replicas
            .iter()
            .any(|r| r.kv_cache_usage.is_none() || r.queue_length.is_none())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn targets_respect_min_and_max(s in snapshot()) {
        let cycle = decide(&s);
        let total: usize = s.models.iter().map(|m| m.variants.len()).sum();
        prop_assert_eq!(cycle.decisions.len(), total);
        for d in &cycle.decisions {
            let v = variant_of(&s, &d.namespace, &d.model_id, &d.variant);
            if let Some(min) = v.min_replicas {
                prop_assert!(d.desired_replicas >= min, "{d:?} below min {min}");
            }
            if let Some(max) = v.max_replicas {
                prop_assert!(d.desired_replicas <= max, "{d:?} above max {max}");
            }
        }
    }

    #[test]
    fn no_scale_down_on_missing_data(s in snapshot()) {
        let cycle = decide(&s);
        for m in s.models.iter().filter(|m| has_missing_signal(m)) {
            for d in cycle.decisions.iter().filter(|d| d.namespace == m.namespace && d.model_id == m.model_id) {
                prop_assert_ne!(d.reason, Reason::ScaleDown, "{:?}", d);
                if d.desired_replicas < d.current_replicas {
                    // Only an explicit earlier decision, scale-to-zero on a known zero count,
                    // or maxReplicas may lower a target when data is missing.
                    let allowed = d.clamped
                        || matches!(d.reason, Reason::InTransition | Reason::SafetyNet | Reason::ScaleToZero);
                    prop_assert!(allowed, "{d:?}");
                }
                if d.reason == Reason::ScaleToZero {
                    prop_assert_eq!(m.request_count, Some(0.0));
                }
            }
        }
    }

    #[test]
    fn decisions_do_not_depend_on_input_order(s in snapshot(), seed in any::<u64>()) {
        let mut shuffled = s.clone();
        let mut state = seed;
        shuffle(&mut shuffled.models, &mut state);
        for m in &mut shuffled.models {
            shuffle(&mut m.variants, &mut state);
            for v in &mut m.variants {
                shuffle(&mut v.replicas, &mut state);
            }
        }
        prop_assert_eq!(decide(&s), decide(&shuffled));
    }

    /// Prefill/decode: the variants of each role of a model are decided exactly as if they
    /// were a model of their own; the other role's signals change nothing.
    #[test]
    fn each_role_is_decided_as_a_model_of_its_own(
        mut s in snapshot(),
        roles in prop::collection::vec(0usize..3, 12),
    ) {
        const ROLES: [Role; 3] = [Role::Both, Role::Prefill, Role::Decode];
        let mut k = 0;
        for m in &mut s.models {
            for v in &mut m.variants {
                v.role = ROLES[roles[k % roles.len()]];
                k += 1;
            }
        }
        // The same variants, one model per role, whose IDs sort in role order.
        let mut split = s.clone();
        split.models = s
            .models
            .iter()
            .flat_map(|m| {
                ROLES.iter().enumerate().filter_map(move |(i, role)| {
                    let mut part = m.clone();
                    part.model_id = format!("{}/{i}", m.model_id);
                    part.variants.retain(|v| v.role == *role);
                    (!part.variants.is_empty()).then_some(part)
                })
            })
            .collect();
        let outcome = |c: &wva_engine::Cycle| -> Vec<_> {
            c.decisions
                .iter()
                .map(|d| (d.namespace.clone(), d.variant.clone(), d.role, d.desired_replicas, d.reason, d.limited))
                .collect()
        };
        let (together, apart) = (decide(&s), decide(&split));
        prop_assert_eq!(outcome(&together), outcome(&apart));
        let reports = |c: &wva_engine::Cycle| -> Vec<_> {
            c.models.iter().map(|r| (r.analysis.clone(), r.capacity.clone(), r.notes.clone())).collect()
        };
        prop_assert_eq!(reports(&together), reports(&apart));
    }

    #[test]
    fn limiter_never_grants_beyond_free_gpus(mut s in snapshot(), h100 in 0u32..6, a100 in 0u32..6) {
        s.config.limited_mode = true;
        let free = BTreeMap::from([("H100".to_string(), h100), ("A100".to_string(), a100)]);
        s.free_gpus = Some(free.clone());
        let cycle = decide(&s);
        let mut used: BTreeMap<String, u64> = BTreeMap::new();
        for d in cycle.decisions.iter().filter(|d| d.reason == Reason::ScaleUp) {
            let v = variant_of(&s, &d.namespace, &d.model_id, &d.variant);
            let floor = v.current_replicas.max(v.min_replicas.unwrap_or(0));
            let extra = d.desired_replicas.saturating_sub(floor);
            let kind = v.accelerator.clone().unwrap_or_else(|| "unknown".into());
            *used.entry(kind).or_default() += u64::from(extra) * u64::from(v.gpus_per_replica);
        }
        for (kind, gpus) in used {
            let available = u64::from(free.get(&kind).copied().unwrap_or(0));
            prop_assert!(gpus <= available, "{kind}: {gpus} GPUs granted, {available} free");
        }
    }
}

/// A saturation entry, mostly within the rules: thresholds above 0, triggers a fraction of
/// them, some fields unset (the default then applies) and some zero; the ones the validation
/// rejects are skipped by the property.
fn any_entry() -> impl Strategy<Value = SaturationEntry> {
    let unset_or = |value: f64, unset: bool| (!unset).then_some(value);
    (
        (0.01f64..=1.0, 0.1f64..30.0),
        (0.0f64..1.0, 0.0f64..1.0),
        prop::array::uniform4(prop::bool::weighted(0.2)),
        any::<bool>(),
    )
        .prop_map(
            move |((kv, queue), (kv_part, queue_part), unset, sized)| SaturationEntry {
                kv_cache_threshold: unset_or(kv, unset[0]),
                queue_length_threshold: unset_or(queue, unset[1]),
                kv_spare_trigger: unset_or(kv * kv_part, unset[2]),
                queue_spare_trigger: unset_or(queue * queue_part, unset[3]),
                scale_up_step: Some(if sized {
                    ScaleUpStep::Sized
                } else {
                    ScaleUpStep::One
                }),
                ..SaturationEntry::default()
            },
        )
}

/// One model of one variant with `current` replicas, every one reporting `(kv, queue)`.
fn one_model(entry: SaturationEntry, current: u32, kv: f64, queue: f64) -> Snapshot {
    let mut s = Snapshot {
        now: 1,
        models: vec![ModelGroup {
            namespace: "ns".into(),
            model_id: "m".into(),
            signals: SignalStatus::Ok,
            request_count: Some(100.0),
            gateway_queue: None,
            scaled_from_zero_at: None,
            service_class: None,
            seen_model_names: Vec::new(),
            variants: vec![Variant {
                role: wva_engine::Role::Both,
                data_parallel_size: None,
                name: "v".into(),
                cost: 10.0,
                accelerator: None,
                gpus_per_replica: 1,
                current_replicas: current,
                ready_replicas: current,
                pending_replicas: 0,
                previous_desired: None,
                min_replicas: None,
                max_replicas: Some(100),
                replicas: (0..current)
                    .map(|i| ReplicaSignals {
                        pod: format!("p{i}"),
                        kv_cache_usage: Some(kv),
                        queue_length: Some(queue),
                        ..ReplicaSignals::default()
                    })
                    .collect(),
                max_num_batched_tokens: None,
                max_num_seqs: None,
                perf: None,
                arrival_rate: None,
            }],
        }],
        ..Snapshot::default()
    };
    s.config.saturation.insert("default".into(), entry);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No configuration the validation accepts scales up a model whose replicas are all idle,
    /// or leaves a model whose replicas are all saturated without a scale-up.
    #[test]
    fn accepted_configurations_never_run_away_or_stall(entry in any_entry(), current in 1u32..6) {
        let entries = BTreeMap::from([("default".to_string(), entry.clone())]);
        prop_assume!(wva_core::saturation::saturation_resolution_errors(&entries).is_empty());
        let idle = decide(&one_model(entry.clone(), current, 0.0, 0.0));
        let d = &idle.decisions[0];
        prop_assert!(d.desired_replicas <= current, "idle scaled up: {d:?} with {entry:?}");
        let saturated = decide(&one_model(entry.clone(), current, 1.0, 1000.0));
        let d = &saturated.decisions[0];
        prop_assert!(d.desired_replicas > current, "saturated without scale-up: {d:?} with {entry:?}");
    }

    /// Without the validation, the rejected configurations are exactly the ones that can run
    /// away or stall: a zero threshold marks idle replicas saturated.
    #[test]
    fn a_zero_threshold_would_scale_up_idle_replicas(current in 1u32..6) {
        let entry = SaturationEntry {
            queue_length_threshold: Some(0.0),
            ..SaturationEntry::default()
        };
        let d = &decide(&one_model(entry, current, 0.0, 0.0)).decisions[0];
        prop_assert!(d.desired_replicas > current, "{d:?}");
    }
}

/// The KV size of every replica of [`v2_fleet`]: 50000 tokens, capacity 0.8 × 50000 = 40000.
const V2_TOTAL: f64 = 50_000.0;
const V2_CAPACITY: f64 = 40_000.0;

/// A V2 model at rest (not in transition) with 1-3 variants of 1-4 replicas, every input
/// present, KV sizes of 50000 tokens and no batch limits (so every replica has a capacity of
/// 40000 tokens); light to heavy load; analyzer thresholds `(up, down)`.
fn v2_fleet() -> impl Strategy<Value = (Snapshot, f64)> {
    let replica = (
        0.0f64..0.9,
        prop_oneof![3 => Just(0.0), 1 => 0.0f64..8.0],
        100.0f64..2000.0,
        10.0f64..500.0,
    );
    let variant = (
        prop::collection::vec(replica, 1..5),
        prop_oneof![Just(5.0), Just(10.0), Just(40.0)],
        prop::option::of(0u32..3),
    );
    (
        prop::collection::vec(variant, 1..4),
        prop_oneof![Just((0.85, 0.70)), Just((0.6, 0.3)), Just((1.0, 0.9))],
    )
        .prop_map(|(variants, (up, down))| {
            let variants = variants
                .into_iter()
                .enumerate()
                .map(|(j, (replicas, cost, min))| Variant {
                    role: wva_engine::Role::Both,
                    data_parallel_size: None,
                    name: format!("v{j}"),
                    cost,
                    accelerator: Some("H100".into()),
                    gpus_per_replica: 1,
                    current_replicas: replicas.len() as u32,
                    ready_replicas: replicas.len() as u32,
                    pending_replicas: 0,
                    previous_desired: None,
                    min_replicas: min,
                    max_replicas: None,
                    replicas: replicas
                        .into_iter()
                        .enumerate()
                        .map(|(i, (kv, queue, input, output))| ReplicaSignals {
                            engines: None,
                            pod: format!("v{j}-{i}"),
                            kv_cache_usage: Some(kv),
                            queue_length: Some(queue),
                            kv_capacity_tokens: Some(V2_TOTAL),
                            avg_input_tokens: Some(input),
                            avg_output_tokens: Some(output),
                            prefix_cache_hit_rate: None,
                        })
                        .collect(),
                    max_num_batched_tokens: None,
                    max_num_seqs: None,
                    perf: None,
                    arrival_rate: None,
                })
                .collect();
            let mut s = Snapshot {
                now: 42,
                models: vec![ModelGroup {
                    namespace: "ns".into(),
                    model_id: "m".into(),
                    request_count: Some(100.0),
                    variants,
                    ..ModelGroup::default()
                }],
                ..Snapshot::default()
            };
            let entry = SaturationEntry {
                analyzers: Some(vec![AnalyzerEntry {
                    name: "saturation".into(),
                    scale_up_threshold: Some(up),
                    scale_down_boundary: Some(down),
                    ..AnalyzerEntry::default()
                }]),
                ..SaturationEntry::default()
            };
            s.config.saturation.insert("default".into(), entry);
            (s, down)
        })
}

/// Drops one input of one replica: its KV usage, its queue, its KV size, or (with a queue)
/// its request sizes.
fn drop_input(s: &mut Snapshot, pick: usize, what: u8) {
    let replicas: Vec<(usize, usize)> = s.models[0]
        .variants
        .iter()
        .enumerate()
        .flat_map(|(j, v)| (0..v.replicas.len()).map(move |i| (j, i)))
        .collect();
    let (j, i) = replicas[pick % replicas.len()];
    let r = &mut s.models[0].variants[j].replicas[i];
    match what % 4 {
        0 => r.kv_cache_usage = None,
        1 => r.queue_length = None,
        2 => r.kv_capacity_tokens = None,
        _ => {
            r.queue_length = Some(1.0);
            r.avg_input_tokens = None;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// V2 never scales down while the demand is at or above the scale-down boundary of the
    /// supply, and a scale-down leaves at least `demand / scaleDownBoundary` of supply.
    #[test]
    fn v2_no_scale_down_while_demand_exceeds_the_boundary((s, down) in v2_fleet()) {
        let cycle = decide(&s);
        let c = cycle.models[0].capacity.clone().expect("a V2 model has a capacity analysis");
        let shrinks = cycle.decisions.iter().any(|d| d.desired_replicas < d.current_replicas);
        if c.demand >= down * c.supply {
            prop_assert!(!shrinks, "{c:?} {cycle:#?}");
        }
        if shrinks {
            let left: u32 = cycle.decisions.iter().map(|d| d.desired_replicas).sum();
            prop_assert!(f64::from(left) * V2_CAPACITY >= c.demand / down, "{c:?} {cycle:#?}");
            prop_assert!(left >= 1);
        }
    }

    /// Dropping any one input of a V2 model never lowers a target below the current replicas.
    #[test]
    fn v2_missing_inputs_never_shrink((mut s, _) in v2_fleet(), pick in any::<usize>(), what in any::<u8>()) {
        drop_input(&mut s, pick, what);
        for d in decide(&s).decisions {
            prop_assert!(d.desired_replicas >= d.current_replicas, "{d:?}");
        }
    }
}

/// Gives every model a service class and every variant performance parameters and an arrival
/// rate: the HYBRID inputs beyond the token sizes (which the token-capacity analyzer reads too).
fn with_model_inputs(s: &mut Snapshot, rate: f64, itl_ms: f64) {
    use wva_core::service_class::{ModelClass, Slo};
    for m in &mut s.models {
        m.service_class = Some(ModelClass {
            class: "premium".into(),
            priority: 1,
            slo: Slo {
                itl_ms: Some(itl_ms),
                ttft_ms: Some(2000.0),
            },
        });
        for v in &mut m.variants {
            v.perf = Some(wva_engine::queueing::PerfParams {
                alpha: 8.0,
                beta: 0.02,
                gamma: 0.0005,
            });
            v.arrival_rate = Some(rate);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// HYBRID off: the model inputs change nothing, and no decision carries an arbitration.
    #[test]
    fn hybrid_off_ignores_the_model_inputs(s in snapshot(), rate in 0.0f64..80.0, itl in 5.0f64..60.0) {
        let mut with_inputs = s.clone();
        with_model_inputs(&mut with_inputs, rate, itl);
        let cycle = decide(&with_inputs);
        prop_assert_eq!(&cycle, &decide(&s));
        prop_assert!(cycle.decisions.iter().all(|d| d.optimization_reason.is_none()));
    }

    /// HYBRID on: never below the capacity-only target (capacity safety wins), a scale-down
    /// only where capacity-only scales down too, and without a service class the targets of
    /// capacity-only.
    #[test]
    fn hybrid_never_undercuts_capacity(mut s in snapshot(), rate in 0.0f64..80.0, itl in 5.0f64..60.0) {
        s.config.limited_mode = false;
        for m in &mut s.models {
            for r in m.variants.iter_mut().flat_map(|v| &mut v.replicas) {
                r.avg_input_tokens.get_or_insert(512.0);
                r.avg_output_tokens.get_or_insert(128.0);
            }
        }
        let capacity = decide(&s);
        let mut hybrid = s.clone();
        hybrid.config.hybrid = true;
        let no_class = decide(&hybrid);
        with_model_inputs(&mut hybrid, rate, itl);
        for m in &mut hybrid.models {
            m.service_class = m.service_class.take().filter(|_| m.model_id != "model-0");
        }
        let cycle = decide(&hybrid);
        for ((h, c), n) in cycle.decisions.iter().zip(&capacity.decisions).zip(&no_class.decisions) {
            prop_assert_eq!(&h.variant, &c.variant);
            prop_assert!(h.optimization_reason.is_some(), "{h:?}");
            prop_assert!(h.desired_replicas >= c.desired_replicas, "{h:?} below capacity {c:?}");
            if h.desired_replicas < h.current_replicas {
                prop_assert!(c.desired_replicas < c.current_replicas, "{h:?} shrinks, capacity {c:?} does not");
            }
            prop_assert_eq!(n.desired_replicas, c.desired_replicas);
            prop_assert_eq!(n.optimization_reason, Some("CapacityOnlyMode"));
        }
    }
}
