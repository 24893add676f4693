//! The controller's side of the HYBRID mode (`EXPERIMENTAL_PROACTIVE_MODEL=true`): the
//! service classes in force ([`classes`]), performance parameters configured per variant
//! ([`configured`]) and each variant's performance model learned across cycles
//! ([`learning`]). The engine (`wva_engine::decide` with `config.hybrid`)
//! arbitrates.

pub mod classes;
pub mod configured;
pub mod learning;

use crate::assemble::Member;
use wva_collector::Signals;
use wva_engine::Snapshot;

/// The log line of each cycle in HYBRID mode.
pub const HYBRID_MODE: &str =
    "Operating in HYBRID mode: capacity analyzer + model-based optimizer with arbitration";

/// The log line of each cycle in the default mode.
pub const CAPACITY_ONLY_MODE: &str =
    "Operating in CAPACITY-ONLY mode: reactive capacity-based scaling only";

/// What the HYBRID mode remembers between cycles.
#[derive(Debug, Default)]
pub struct HybridState {
    /// The service classes in force.
    pub classes: classes::ServiceClassState,
    /// The performance model of each variant.
    pub models: learning::PerfModels,
}

impl HybridState {
    /// Fills the HYBRID inputs of `snapshot`: each model's service class, each variant's
    /// arrival rate and performance parameters (learned, else configured).
    pub fn fill(&mut self, snapshot: &mut Snapshot, members: &[Member<'_>], signals: &Signals) {
        let config = self.classes.config();
        for model in &mut snapshot.models {
            model.service_class = config.classes.of(&model.model_id).cloned();
        }
        self.models.learn(snapshot, members, signals, &config.perf);
    }
}
