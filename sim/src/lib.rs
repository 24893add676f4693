//! Fleet simulator and vLLM load model behind `wva simulate`, plus `wva decide`.
//!
//! * [`scenario`]: what a run simulates (variants, emulated replicas, load profile,
//!   configuration), the built-in scenario and the loaders for user files.
//! * [`fleet`]: emulated vLLM replicas.
//! * [`autoscaler`]: the HPA (`autoscaling/v2` algorithm) and KEDA that apply the desired
//!   replicas; [`manifest`]: their manifests (`--hpa FILE`).
//! * [`policy`]: the policies `--compare` runs side by side; [`plot`]: the SVG/HTML picture.
//! * [`run`]: the simulation loop (gateway queue and router, engine cycles, scale-from-zero
//!   checks through `wva_engine::wake`, the autoscalers) and its report.
//! * [`cli`]: the `simulate` and `decide` subcommands.
//! * [`synthetic_snapshot`]: large engine inputs for benchmarks.

pub mod autoscaler;
pub mod cli;
pub mod fleet;
pub mod manifest;
pub mod plot;
pub mod policy;
pub mod rng;
pub mod run;
pub mod scenario;

use rng::Rng;
use wva_api::saturation::{AnalyzerEntry, DEFAULT_KEY, SaturationEntry};
use wva_engine::{ModelGroup, ReplicaSignals, SignalStatus, Snapshot, Variant};

/// A snapshot of `models` models × `variants` variants × `replicas` replicas each, with
/// signals drawn from `seed` (a mix of idle, loaded and saturated replicas). Every replica
/// also has the token-capacity inputs (KV size by accelerator, request sizes by replica, a
/// prefix-cache hit rate of 0.2) and every other variant vLLM batch limits, so that the
/// token-capacity analyzer (V2) runs its whole path once [`with_token_capacity`] selects it.
pub fn synthetic_snapshot(models: usize, variants: usize, replicas: usize, seed: u64) -> Snapshot {
    let mut rng = Rng::new(seed);
    let models = (0..models)
        .map(|m| ModelGroup {
            namespace: format!("ns-{}", m % 10),
            model_id: format!("org/model-{m}"),
            signals: SignalStatus::Ok,
            request_count: Some(100.0),
            gateway_queue: None,
            scaled_from_zero_at: None,
            service_class: None,
            seen_model_names: Vec::new(),
            variants: (0..variants)
                .map(|v| Variant {
                    role: wva_engine::Role::Both,
                    data_parallel_size: None,
                    name: format!("model-{m}-v{v}"),
                    cost: [10.0, 20.0, 40.0, 80.0][v % 4],
                    accelerator: Some(["A100", "H100", "L40S", "H200"][v % 4].to_string()),
                    gpus_per_replica: 1,
                    current_replicas: replicas as u32,
                    ready_replicas: replicas as u32,
                    pending_replicas: 0,
                    previous_desired: Some(replicas as u32),
                    min_replicas: Some(1),
                    max_replicas: Some(10),
                    perf: None,
                    arrival_rate: None,
                    replicas: (0..replicas)
                        .map(|r| ReplicaSignals {
                            engines: None,
                            pod: format!("model-{m}-v{v}-{r}"),
                            kv_cache_usage: Some(rng.next_f64()),
                            queue_length: Some((rng.next_f64() * 8.0).floor()),
                            kv_capacity_tokens: Some(
                                [37_500.0, 100_000.0, 125_000.0, 50_000.0][v % 4],
                            ),
                            avg_input_tokens: Some(500.0 + 250.0 * (r % 4) as f64),
                            avg_output_tokens: Some(200.0),
                            prefix_cache_hit_rate: Some(0.2),
                        })
                        .collect(),
                    max_num_batched_tokens: (v % 2 == 0).then_some(8192),
                    max_num_seqs: (v % 2 == 0).then_some(64),
                })
                .collect(),
        })
        .collect();
    Snapshot {
        now: 1_700_000_000,
        models,
        ..Snapshot::default()
    }
}

/// The `analyzers` value that selects the token-capacity analyzer (V2) with its defaults:
/// `[{name: saturation}]`.
pub fn token_capacity_analyzers() -> Vec<AnalyzerEntry> {
    vec![AnalyzerEntry {
        name: "saturation".into(),
        ..AnalyzerEntry::default()
    }]
}

/// `snapshot` with a `default` saturation entry that selects the token-capacity analyzer (V2)
/// with its default thresholds for every model.
pub fn with_token_capacity(mut snapshot: Snapshot) -> Snapshot {
    snapshot.config.saturation.insert(
        DEFAULT_KEY.into(),
        SaturationEntry {
            analyzers: Some(token_capacity_analyzers()),
            ..SaturationEntry::default()
        },
    );
    snapshot
}
