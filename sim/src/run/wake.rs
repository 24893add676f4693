//! Scale-from-zero in the simulation: the emulated gateway queue (the requests waiting for a
//! ready replica) is read every `scale_from_zero_check_seconds` through the engine's
//! [`wva_engine::wake`], like the controller's check; an activation is published like an
//! engine decision, and the first requests of each wake are followed to their first token.

use super::{Sim, percentile};
use serde::Serialize;
use wva_api::config::ScaleFromZeroActuation;

/// How many requests per wake the time-to-first-token report follows: the first ones that
/// wait at the gateway while the model is at zero or its started replica loads.
pub const FIRST_REQUESTS_PER_WAKE: u32 = 10;

/// One scale-from-zero activation, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WakeSummary {
    /// Seconds from the start.
    pub time: u64,
    /// The variant started (the cheapest).
    pub variant: String,
    /// Requests waiting at the gateway when the check saw them.
    pub gateway_queue: usize,
    /// Requests followed to their first token (at most [`FIRST_REQUESTS_PER_WAKE`]).
    pub first_requests: usize,
    /// Median time to first token of those requests; `None` when none got a token.
    pub ttft_p50_seconds: Option<f64>,
    /// Longest time to first token of those requests.
    pub ttft_max_seconds: Option<f64>,
}

/// An activation while the simulation runs.
pub(super) struct WakeRecord {
    time: u64,
    variant: String,
    gateway_queue: usize,
    /// Times to first token of its first requests, as they come.
    pub(super) waits: Vec<f64>,
}

/// An activation whose replica is not ready yet: requests arriving now are still among its
/// first ones.
pub(super) struct ColdStart {
    wake: usize,
    counted: u32,
}

impl Sim<'_> {
    /// The scale-from-zero check: a snapshot with the gateway queue of a model at zero goes
    /// through [`wva_engine::wake`]; its activations are published like the engine's
    /// decisions, and with `scale` actuation the Deployment is also scaled from 0 to 1 at once
    /// (the controller's patch of the scale subresource).
    pub(super) fn check_wake(&mut self, t: u64) {
        let snapshot = self.snapshot(t);
        let in_flight = u32::from(self.cold_start.is_some());
        let woken = wva_engine::wake(&snapshot, in_flight, self.s.scale_from_zero_max_concurrency);
        if woken.activations.is_empty() {
            return;
        }
        self.publish(&woken.activations);
        for activation in &woken.activations {
            let Some(variant) = self
                .s
                .variants
                .iter()
                .position(|v| v.name == activation.variant)
            else {
                continue;
            };
            if self.s.scale_from_zero_actuation == ScaleFromZeroActuation::Scale
                && self.deployments[variant].pods.is_empty()
            {
                self.scale_to(variant, 1, t);
            }
            self.scaled_from_zero_at = Some(t);
            let wake = self.wakes.len();
            self.wakes.push(WakeRecord {
                time: t,
                variant: activation.variant.clone(),
                gateway_queue: self.backlog.len(),
                waits: Vec::new(),
            });
            let mut counted = 0;
            for request in self
                .backlog
                .iter_mut()
                .take(FIRST_REQUESTS_PER_WAKE as usize)
            {
                request.wake = Some(wake);
                counted += 1;
            }
            self.cold_start = Some(ColdStart { wake, counted });
        }
    }

    /// The activation a request arriving now counts for: the current cold start's, until
    /// [`FIRST_REQUESTS_PER_WAKE`] are counted.
    pub(super) fn count_for_wake(&mut self) -> Option<usize> {
        let cold = self.cold_start.as_mut()?;
        (cold.counted < FIRST_REQUESTS_PER_WAKE).then(|| {
            cold.counted += 1;
            cold.wake
        })
    }

    /// The cold start ends when a replica of the model is ready.
    pub(super) fn end_cold_start(&mut self, t: u64) {
        if self.cold_start.is_some()
            && self
                .deployments
                .iter()
                .flat_map(|d| &d.pods)
                .any(|p| p.is_ready(t))
        {
            self.cold_start = None;
        }
    }
}

/// The wakes as reported, and the times to first token of all their first requests.
pub(super) fn summarize(records: &[WakeRecord]) -> (Vec<WakeSummary>, Vec<f64>) {
    let mut all = Vec::new();
    let wakes = records
        .iter()
        .map(|r| {
            let mut waits = r.waits.clone();
            waits.sort_by(f64::total_cmp);
            all.extend_from_slice(&waits);
            WakeSummary {
                time: r.time,
                variant: r.variant.clone(),
                gateway_queue: r.gateway_queue,
                first_requests: waits.len(),
                ttft_p50_seconds: percentile(&waits, 0.5),
                ttft_max_seconds: waits.last().copied(),
            }
        })
        .collect();
    (wakes, all)
}
