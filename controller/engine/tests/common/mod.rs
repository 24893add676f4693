//! Builders for engine inputs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use wva_core::saturation::{SaturationEntry, ScaleToZeroEntry};
use wva_engine::{Cycle, Decision, ModelGroup, ReplicaSignals, Snapshot, Variant};

/// A variant with `replicas` reporting (kv, queue) pairs; current = number of pairs.
pub fn variant(name: &str, cost: f64, replicas: &[(f64, f64)]) -> Variant {
    Variant {
        role: wva_engine::Role::Both,
        data_parallel_size: None,
        name: name.to_string(),
        cost,
        accelerator: Some("H100".to_string()),
        gpus_per_replica: 1,
        current_replicas: replicas.len() as u32,
        ready_replicas: replicas.len() as u32,
        pending_replicas: 0,
        previous_desired: None,
        min_replicas: None,
        max_replicas: None,
        replicas: replicas
            .iter()
            .enumerate()
            .map(|(i, (kv, q))| ReplicaSignals {
                pod: format!("{name}-{i}"),
                kv_cache_usage: Some(*kv),
                queue_length: Some(*q),
                ..ReplicaSignals::default()
            })
            .collect(),
        max_num_batched_tokens: None,
        max_num_seqs: None,
        perf: None,
        arrival_rate: None,
    }
}

/// A model group in namespace `ns` with the given variants.
pub fn model(ns: &str, id: &str, variants: Vec<Variant>) -> ModelGroup {
    ModelGroup {
        namespace: ns.to_string(),
        model_id: id.to_string(),
        variants,
        request_count: Some(100.0),
        ..ModelGroup::default()
    }
}

/// A snapshot at t=1000 with default configuration.
pub fn snapshot(models: Vec<ModelGroup>) -> Snapshot {
    Snapshot {
        now: 1000,
        models,
        ..Snapshot::default()
    }
}

/// Parses `key: yaml` pairs into saturation entries.
pub fn saturation(pairs: &[(&str, &str)]) -> BTreeMap<String, SaturationEntry> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_saphyr::from_str(v).unwrap()))
        .collect()
}

/// Parses `key: yaml` pairs into scale-to-zero entries.
pub fn scale_to_zero(pairs: &[(&str, &str)]) -> BTreeMap<String, ScaleToZeroEntry> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_saphyr::from_str(v).unwrap()))
        .collect()
}

/// The decision of `variant` in `cycle`.
pub fn find<'a>(cycle: &'a Cycle, variant: &str) -> &'a Decision {
    cycle
        .decisions
        .iter()
        .find(|d| d.variant == variant)
        .unwrap_or_else(|| panic!("no decision for {variant}: {cycle:#?}"))
}
