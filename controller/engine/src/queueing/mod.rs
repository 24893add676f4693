//! The performance model of the proactive (HYBRID) mode: how long a vLLM replica takes per
//! request at a given load, and how much load it can take within latency targets.
//!
//! * [`PerfParams`]: iteration time at batch size `n` is `α + n·(β·(I+O)/(O+1) + γ·(I+O/2))`
//!   milliseconds for requests of `I` input and `O` output tokens; prefill and decode times
//!   follow from it.
//! * [`Replica`]: one replica as a state-dependent M/M/1/K queue (at most `N` requests in
//!   service, up to `10·N` waiting); [`Replica::analyze`] predicts TTFT and ITL at an arrival
//!   rate, [`Replica::max_rate`] finds the highest rate that meets targets.
//! * [`Estimator`]: learns α, β, γ online from observed latencies (recursive least squares
//!   that rejects outliers).
//! * [`arbitrate`]: the capacity target and the model target of a variant become one, capacity
//!   safety first.
//!
//! Pure arithmetic: no clock, no I/O.

mod arbitrate;
mod estimator;
mod perf;
mod queue;

pub use arbitrate::{Arbitration, arbitrate};
pub use estimator::{Estimator, Observation};
pub use perf::{PerfParams, Workload};
pub use queue::{Prediction, Replica, Targets};
