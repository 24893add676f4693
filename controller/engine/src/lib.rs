//! Sans-IO decision core: snapshot in, decisions out.
//!
//! [`decide`] is a pure function from a [`Snapshot`] (time, configuration, model groups with
//! their variants and per-replica signals, request counts, free GPUs) to a [`Cycle`] (one
//! [`Decision`] per variant, one [`ModelReport`] per model and [`Role`]). It reads no clock and does no I/O,
//! so the controller, `wva simulate` and `wva decide` run the same code. The output does not
//! depend on the order of the input. The algorithm is described in `docs/engine.md`; with
//! [`EngineConfig::hybrid`] the [`queueing`] model's targets are arbitrated with the capacity
//! analysis's (HYBRID mode, experimental).

mod accelerator;
mod analysis;
mod capacity;
mod cycle;
mod fallback;
mod hybrid;
mod limiter;
mod optimizer;
mod plan;
pub mod queueing;
mod roles;
mod scaling;
mod snapshot;
mod wake;

pub use accelerator::accelerator_type;

pub use cycle::{
    Action, Analysis, CapacityAnalysis, Cycle, Decision, FallbackSource, MetricsCondition,
    MetricsReason, ModelReport, Note, Reason,
};
pub use snapshot::{
    DEFAULT_COST, EngineConfig, ModelGroup, PolicySource, ReplicaSignals, Role, ScaleToZeroPolicy,
    SignalStatus, Snapshot, Variant, parse_cost,
};

pub use hybrid::DEFAULT_MAX_NUM_SEQS;
pub use wake::{Wake, is_dormant, wake};

use plan::ModelPlan;
use std::cmp::Ordering;

/// Runs one engine cycle.
pub fn decide(snapshot: &Snapshot) -> Cycle {
    let mut groups = roles::by_role(&snapshot.models);
    groups.sort_by(|a, b| {
        (&a.namespace, &a.model_id, roles::role_of(a))
            .cmp(&(&b.namespace, &b.model_id, roles::role_of(b)))
            .then_with(|| canonical_tie(a, b))
    });
    let mut plans: Vec<ModelPlan> = groups
        .iter()
        .map(|g| ModelPlan::new(&snapshot.config, g, snapshot.now))
        .collect();
    if snapshot.config.limited_mode {
        limiter::limit(&mut plans, snapshot.free_gpus.as_ref());
    }
    let mut cycle = Cycle {
        now: snapshot.now,
        decisions: Vec::with_capacity(plans.iter().map(|p| p.variants.len()).sum()),
        models: Vec::with_capacity(plans.len()),
    };
    for plan in plans {
        plan.finish(&mut cycle);
    }
    cycle
}

/// Orders two inputs with equal keys by their full content, so duplicates cannot make the
/// output depend on the input order. Only called on ties, which valid snapshots do not have.
pub(crate) fn canonical_tie<T: std::fmt::Debug>(a: &T, b: &T) -> Ordering {
    format!("{a:?}").cmp(&format!("{b:?}"))
}
