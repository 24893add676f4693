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
use wva_engine::{ModelGroup, ReplicaSignals, SignalStatus, Snapshot, Variant};

/// A snapshot of `models` models × `variants` variants × `replicas` replicas each, with
/// signals drawn from `seed` (a mix of idle, loaded and saturated replicas).
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
            variants: (0..variants)
                .map(|v| Variant {
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
                    replicas: (0..replicas)
                        .map(|r| ReplicaSignals {
                            pod: format!("model-{m}-v{v}-{r}"),
                            kv_cache_usage: Some(rng.next_f64()),
                            queue_length: Some((rng.next_f64() * 8.0).floor()),
                            ..ReplicaSignals::default()
                        })
                        .collect(),
                    max_num_batched_tokens: None,
                    max_num_seqs: None,
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
