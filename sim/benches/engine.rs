//! One engine cycle at 1,000 VAs (250 models × 4 variants × 4 replicas) and 10,000 VAs, with
//! the saturation analyzer (V1) and the token-capacity analyzer (V2): time per cycle and per
//! VA, heap allocations per VA (counted by dhat).
//!
//! Run with `cargo bench -p wva-sim`. Timing runs first, without the profiler; allocations
//! are counted in a second pass with dhat's heap profiler in testing mode (no file written).

use std::hint::black_box;
use std::time::{Duration, Instant};
use wva_engine::decide;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SIZES: [usize; 2] = [250, 2_500];

fn main() {
    let snapshots: Vec<_> = SIZES
        .iter()
        .flat_map(|&models| {
            let v1 = wva_sim::synthetic_snapshot(models, 4, 4, 7);
            [("V1", v1.clone()), ("V2", wva_sim::with_token_capacity(v1))]
        })
        .collect();
    println!("engine cycle benchmark (4 variants x 4 replicas per model)");
    println!(
        "{:>8} {:>7} {:>10} {:>14} {:>12} {:>16} {:>14} {:>14}",
        "analyzer",
        "VAs",
        "cycles",
        "time/cycle",
        "time/VA",
        "allocations/VA",
        "bytes/VA",
        "peak heap"
    );
    let mut timings = Vec::new();
    for (_, snapshot) in &snapshots {
        black_box(decide(snapshot));
        let budget = Duration::from_secs(3);
        let start = Instant::now();
        let mut cycles = 0u32;
        while start.elapsed() < budget || cycles < 5 {
            black_box(decide(black_box(snapshot)));
            cycles += 1;
        }
        timings.push((cycles, start.elapsed() / cycles));
    }
    let _profiler = dhat::Profiler::builder().testing().build();
    for ((analyzer, snapshot), (cycles, per_cycle)) in snapshots.iter().zip(timings) {
        let vas: usize = snapshot.models.iter().map(|m| m.variants.len()).sum();
        let before = dhat::HeapStats::get();
        let cycle = decide(snapshot);
        let after = dhat::HeapStats::get();
        assert_eq!(cycle.decisions.len(), vas);
        let v2_models = cycle.models.iter().filter(|m| m.capacity.is_some()).count();
        let expected = if *analyzer == "V2" {
            cycle.models.len()
        } else {
            0
        };
        assert_eq!(v2_models, expected, "{analyzer} decided the wrong models");
        drop(cycle);
        let blocks = after.total_blocks - before.total_blocks;
        let bytes = after.total_bytes - before.total_bytes;
        let peak = after.max_bytes.saturating_sub(before.curr_bytes);
        println!(
            "{:>8} {:>7} {:>10} {:>14} {:>12} {:>16.1} {:>14.0} {:>11.1} MiB",
            analyzer,
            vas,
            cycles,
            format!("{per_cycle:.2?}"),
            format!("{:.2?}", per_cycle / vas as u32),
            blocks as f64 / vas as f64,
            bytes as f64 / vas as f64,
            peak as f64 / (1024.0 * 1024.0)
        );
    }
}
