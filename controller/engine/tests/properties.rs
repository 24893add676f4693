//! Property tests: invariants that hold for every snapshot.

use proptest::prelude::*;
use std::collections::BTreeMap;
use wva_core::saturation::{SaturationEntry, ScaleUpStep};
use wva_engine::{ModelGroup, Reason, ReplicaSignals, SignalStatus, Snapshot, Variant, decide};

fn signal(max: f64) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        1 => Just(None),
        6 => (0.0..max).prop_map(Some),
        1 => prop_oneof![Just(0.0), Just(0.8), Just(5.0)].prop_map(move |x: f64| Some(x.min(max))),
    ]
}

fn replica() -> impl Strategy<Value = (Option<f64>, Option<f64>)> {
    (signal(1.2), signal(20.0))
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
    )
        .prop_map(
            move |(replicas, cost, skew, previous, min, max, pending, accelerator, gpus)| {
                let reporting = replicas.len() as i32;
                let (min, max) = match (min, max) {
                    (Some(lo), Some(hi)) if lo > hi => (Some(hi), Some(lo)),
                    other => other,
                };
                Variant {
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
                        .map(|(i, (kv, q))| ReplicaSignals {
                            pod: format!("v{index}-{i}"),
                            kv_cache_usage: kv,
                            queue_length: q,
                            ..ReplicaSignals::default()
                        })
                        .collect(),
                    max_num_batched_tokens: None,
                    max_num_seqs: None,
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
    )
        .prop_map(|(models, stz, limited, sized, free)| {
            let mut snapshot = Snapshot {
                now: 42,
                models,
                ..Snapshot::default()
            };
            snapshot.config.scale_to_zero_enabled = stz;
            snapshot.config.limited_mode = limited;
            if sized {
                let entry = SaturationEntry {
                    scale_up_step: Some(ScaleUpStep::Sized),
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
            variants: vec![Variant {
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
