//! The simulation loop: load → router → replicas, every second; the engine every
//! `engine_interval_seconds`; the scale-from-zero check (`wva_engine::wake`) every
//! `scale_from_zero_check_seconds`; each variant's autoscaler (HPA or KEDA, see
//! [`crate::autoscaler`]) applies the desired replicas at its syncs.

mod wake;

use crate::autoscaler::{AutoscalerState, Condition};
use crate::fleet::{Replica, Request, SIGNAL_WINDOW};
use crate::rng::Rng;
use crate::scenario::{MAX_PODS, Scenario};
use serde::Serialize;
use std::collections::VecDeque;
use wake::{ColdStart, WakeRecord};
pub use wake::{FIRST_REQUESTS_PER_WAKE, WakeSummary};
use wva_engine::queueing::{Estimator, Observation, Workload};
use wva_engine::{
    Action, CapacityAnalysis, Cycle, Decision, EngineConfig, ModelGroup, ReplicaSignals,
    SignalStatus, Snapshot, Variant, decide, is_dormant,
};

/// One row of the timeline: the state at an engine cycle and what the engine decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineRow {
    /// Seconds from the start.
    pub time: u64,
    /// Arriving requests per second (profile).
    pub load_rps: f64,
    /// Pods per variant (ready and starting).
    pub replicas: Vec<u32>,
    /// Ready pods per variant.
    pub ready: Vec<u32>,
    /// The engine's desired replicas per variant.
    pub desired: Vec<u32>,
    /// Average KV-cache usage of the ready replicas, in percent.
    pub kv_percent: f64,
    /// Waiting requests (replica queues plus requests waiting at the gateway for a ready
    /// replica).
    pub queue: usize,
    /// The model's decision: the reason of the variant that changes, else of the first.
    pub reason: String,
    /// Per variant, why its autoscaler's last sync left the pods where they are (e.g.
    /// `ScaleUpStabilized` while the scale-up window holds WVA's desired replicas back);
    /// `null` before its first sync.
    pub autoscaler: Vec<Option<Condition>>,
    /// 95th percentile time to first token of the requests whose first token came since the
    /// previous row, seconds; `null` when none did.
    pub ttft_p95_seconds: Option<f64>,
    /// The token-capacity analysis (V2) of the cycle: `unit` (`tokens`, or `kv-fraction` when
    /// no KV-cache size is reported), demand, supply, required and spare capacity; left out
    /// when the saturation analyzer (V1) decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityAnalysis>,
}

/// Totals for one variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantSummary {
    /// VA name.
    pub name: String,
    /// Cost per replica-hour.
    pub cost_per_replica_hour: f64,
    /// Pod-minutes (starting pods count: they hold GPUs).
    pub replica_minutes: f64,
    /// `replica_minutes / 60 × cost`.
    pub cost: f64,
    /// Most pods at once.
    pub peak_replicas: u32,
}

/// Totals for one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The scale-up step in force (`one` or `sized`).
    pub scale_up_step: String,
    /// The analyzer that decided: `saturation` (V1) or `token-capacity` (V2, an entry with
    /// `analyzers`).
    pub analyzer: &'static str,
    /// HYBRID mode was on (`EXPERIMENTAL_PROACTIVE_MODEL`).
    pub hybrid: bool,
    /// Simulated seconds.
    pub duration_seconds: u64,
    /// Seconds in which a ready replica was saturated or requests had no ready replica.
    pub seconds_saturated: u64,
    /// Requests that arrived.
    pub requests_arrived: u64,
    /// Requests that finished.
    pub requests_completed: u64,
    /// Median wait from arrival to the first output token, seconds.
    pub ttft_p50_seconds: f64,
    /// 95th percentile of the same.
    pub ttft_p95_seconds: f64,
    /// Pod-minutes over all variants.
    pub replica_minutes: f64,
    /// Cost over all variants.
    pub cost: f64,
    /// Replica changes made by the HPA (and, with `scale` actuation, by scale-from-zero).
    pub scale_events: u32,
    /// Engine cycles run.
    pub engine_cycles: u32,
    /// Scale-from-zero activations, in order.
    pub wakes: Vec<WakeSummary>,
    /// Median time to first token of the first requests of every wake (see
    /// [`WakeSummary`]); `None` when none got a token.
    pub wake_ttft_p50_seconds: Option<f64>,
    /// Longest time to first token of the same requests.
    pub wake_ttft_max_seconds: Option<f64>,
    /// Per variant.
    pub variants: Vec<VariantSummary>,
}

/// A run's timeline and summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One row per engine cycle.
    pub timeline: Vec<TimelineRow>,
    /// Totals.
    pub summary: Summary,
}

struct Deployment {
    pods: Vec<Replica>,
    next_pod: u32,
    desired: Option<u32>,
    autoscaler: AutoscalerState,
    replica_seconds: u64,
    peak: u32,
}

struct Ghost {
    variant: usize,
    removed_at: u64,
    signals: ReplicaSignals,
}

/// What the collector reads of a pod: the saturation signals and the token-capacity inputs
/// (the emulator models no prefix cache, so no hit rate); `None` before its first sample.
fn replica_signals(pod: &Replica) -> Option<ReplicaSignals> {
    let (kv, queue) = pod.signals()?;
    let size = pod.request_size();
    Some(ReplicaSignals {
        engines: None,
        pod: pod.pod.clone(),
        kv_cache_usage: Some(kv),
        queue_length: Some(queue),
        kv_capacity_tokens: Some(pod.kv_capacity_tokens()),
        avg_input_tokens: size.map(|s| s.input),
        avg_output_tokens: size.map(|s| s.output),
        prefix_cache_hit_rate: None,
    })
}

/// Runs `scenario` and reports.
pub fn simulate(scenario: &Scenario) -> Report {
    let mut sim = Sim::new(scenario);
    for t in 0..scenario.duration_seconds {
        sim.second(t);
    }
    sim.report()
}

/// What HYBRID mode knows of one variant.
#[derive(Debug, Clone, Default)]
struct Learning {
    estimator: Estimator,
    /// Requests per second routed to the variant's replicas between the last two cycles.
    arrival_rate: Option<f64>,
    /// Requests routed since the last cycle.
    routed: u64,
}

struct Sim<'a> {
    s: &'a Scenario,
    /// HYBRID mode's learning, per variant.
    learning: Vec<Learning>,
    config: EngineConfig,
    rng: Rng,
    deployments: Vec<Deployment>,
    ghosts: Vec<Ghost>,
    /// The emulated gateway queue: requests waiting for a ready replica.
    backlog: VecDeque<Request>,
    /// When scale-from-zero last started the model (passed to the engine).
    scaled_from_zero_at: Option<u64>,
    /// The activation whose replica is not ready yet.
    cold_start: Option<ColdStart>,
    wakes: Vec<WakeRecord>,
    completed_by_second: Vec<u64>,
    waits: Vec<f64>,
    /// How many of `waits` the previous timeline row had seen.
    waits_reported: usize,
    arrived: u64,
    completed: u64,
    saturated_seconds: u64,
    scale_events: u32,
    timeline: Vec<TimelineRow>,
}

impl<'a> Sim<'a> {
    fn new(s: &'a Scenario) -> Sim<'a> {
        let mut sim = Sim {
            s,
            learning: vec![Learning::default(); s.variants.len()],
            config: s.engine_config(),
            rng: Rng::new(s.seed),
            deployments: Vec::new(),
            ghosts: Vec::new(),
            backlog: VecDeque::new(),
            scaled_from_zero_at: None,
            cold_start: None,
            wakes: Vec::new(),
            completed_by_second: Vec::with_capacity(s.duration_seconds as usize),
            waits: Vec::new(),
            waits_reported: 0,
            arrived: 0,
            completed: 0,
            saturated_seconds: 0,
            scale_events: 0,
            timeline: Vec::new(),
        };
        for (i, v) in s.variants.iter().enumerate() {
            sim.deployments.push(Deployment {
                pods: Vec::new(),
                next_pod: 0,
                desired: None,
                autoscaler: AutoscalerState::default(),
                replica_seconds: 0,
                peak: 0,
            });
            // Initial pods are already running.
            for _ in 0..v.initial_replicas {
                sim.add_pod(i, 0);
                if let Some(p) = sim.deployments[i].pods.last_mut() {
                    p.ready_at = 0;
                }
            }
        }
        sim
    }

    fn add_pod(&mut self, variant: usize, now: u64) {
        let spec = &self.s.variants[variant];
        let d = &mut self.deployments[variant];
        let pod = format!("{}-{}", spec.name, d.next_pod);
        d.next_pod += 1;
        d.pods.push(Replica::new(pod, spec.replica, now));
    }

    fn second(&mut self, t: u64) {
        let now = t as f64;
        self.end_cold_start(t);
        let load = self.s.load_at(now);
        let arrivals = self.rng.poisson(load.requests_per_second);
        for _ in 0..arrivals {
            let input = load.input_tokens * (0.5 + self.rng.next_f64());
            let output = load.output_tokens * (0.5 + self.rng.next_f64());
            let mut request = Request::new(now, input, output);
            request.wake = self.count_for_wake();
            self.backlog.push_back(request);
        }
        self.arrived += u64::from(arrivals);
        self.route(t);
        let mut completed = 0;
        for d in &mut self.deployments {
            for p in d.pods.iter_mut().filter(|p| p.is_ready(t)) {
                let outcome = p.tick(now);
                completed += u64::from(outcome.completed);
                self.waits.extend(outcome.first_token_waits);
                for (wake, wait) in outcome.woken_first_token_waits {
                    if let Some(w) = self.wakes.get_mut(wake) {
                        w.waits.push(wait);
                    }
                }
            }
            d.replica_seconds += d.pods.len() as u64;
            d.peak = d.peak.max(d.pods.len() as u32);
        }
        self.completed += completed;
        let total = self.completed_by_second.last().copied().unwrap_or(0) + completed;
        self.completed_by_second.push(total);
        if self.any_saturated(t) {
            self.saturated_seconds += 1;
        }
        if t.is_multiple_of(self.s.scale_from_zero_check_seconds.max(1)) {
            self.check_wake(t);
        }
        if t > 0 && t.is_multiple_of(self.s.engine_interval_seconds) {
            self.engine_cycle(t, load.requests_per_second);
        }
        self.autoscale(t);
    }

    /// Sends waiting requests to the ready replica with the shortest queue, then the fewest
    /// requests (like the endpoint picker); with no ready replica they wait in the backlog.
    fn route(&mut self, t: u64) {
        while let Some(request) = self.backlog.front().copied() {
            let target = self
                .deployments
                .iter_mut()
                .enumerate()
                .flat_map(|(i, d)| d.pods.iter_mut().map(move |p| (i, p)))
                .filter(|(_, p)| p.is_ready(t))
                .min_by_key(|(_, p)| (p.queue_length(), p.load()));
            let Some((variant, pod)) = target else {
                return;
            };
            pod.enqueue(request);
            self.learning[variant].routed += 1;
            self.backlog.pop_front();
        }
    }

    fn any_saturated(&self, t: u64) -> bool {
        let th = self.config.thresholds(&self.s.namespace, &self.s.model_id);
        !self.backlog.is_empty()
            || self.deployments.iter().flat_map(|d| &d.pods).any(|p| {
                p.is_ready(t)
                    && (p.kv_usage() >= th.kv_cache_threshold
                        || p.queue_length() as f64 >= th.queue_length_threshold)
            })
    }

    fn snapshot(&self, t: u64) -> Snapshot {
        let policy = self
            .config
            .scale_to_zero_policy(&self.s.namespace, &self.s.model_id);
        let idx = t as usize;
        let window = policy.retention.as_secs() as usize;
        let before = idx
            .checked_sub(window)
            .map_or(0, |i| self.completed_by_second[i]);
        let request_count = (self.completed_by_second[idx] - before) as f64;
        let variants = self
            .s
            .variants
            .iter()
            .zip(&self.deployments)
            .enumerate()
            .map(|(i, (spec, d))| {
                let ready = d.pods.iter().filter(|p| p.is_ready(t)).count() as u32;
                let mut replicas: Vec<ReplicaSignals> = d
                    .pods
                    .iter()
                    .filter(|p| p.is_ready(t))
                    .filter_map(replica_signals)
                    .chain(
                        self.ghosts
                            .iter()
                            .filter(|g| g.variant == i)
                            .map(|g| g.signals.clone()),
                    )
                    .collect();
                replicas.sort_by(|a, b| a.pod.cmp(&b.pod));
                Variant {
                    role: wva_engine::Role::Both,
                    data_parallel_size: None,
                    name: spec.name.clone(),
                    cost: spec.cost,
                    accelerator: Some(spec.accelerator.clone()),
                    gpus_per_replica: spec.gpus_per_replica,
                    current_replicas: d.pods.len() as u32,
                    ready_replicas: ready,
                    pending_replicas: d.pods.len() as u32 - ready,
                    previous_desired: d.desired,
                    min_replicas: spec.min_replicas,
                    max_replicas: spec.max_replicas,
                    replicas,
                    max_num_batched_tokens: Some(spec.replica.max_num_batched_tokens),
                    max_num_seqs: Some(spec.replica.max_num_seqs),
                    perf: self.learning[i].estimator.params(),
                    arrival_rate: self.learning[i].arrival_rate,
                }
            })
            .collect::<Vec<_>>();
        let reporting = variants.iter().any(|v| !v.replicas.is_empty());
        let mut model = ModelGroup {
            namespace: self.s.namespace.clone(),
            model_id: self.s.model_id.clone(),
            signals: if reporting {
                SignalStatus::Ok
            } else {
                SignalStatus::NoData
            },
            request_count: Some(request_count),
            scaled_from_zero_at: self
                .scaled_from_zero_at
                .and_then(|at| i64::try_from(at).ok()),
            variants,
            service_class: self.s.service_class.clone(),
            ..ModelGroup::default()
        };
        // The gateway queue is read for a model at zero (the controller's scale-from-zero
        // check) and is known whenever requests wait in it.
        if is_dormant(&model) || !self.backlog.is_empty() {
            model.gateway_queue = Some(self.backlog.len() as f64);
        }
        Snapshot {
            now: i64::try_from(t).unwrap_or(i64::MAX),
            config: self.config.clone(),
            models: vec![model],
            free_gpus: None,
        }
    }

    fn engine_cycle(&mut self, t: u64, load_rps: f64) {
        self.ghosts
            .retain(|g| t.saturating_sub(g.removed_at) < SIGNAL_WINDOW as u64);
        if self.s.hybrid {
            self.learn(t);
        }
        let cycle = decide(&self.snapshot(t));
        self.publish(&cycle.decisions);
        let ready: Vec<&Replica> = self
            .deployments
            .iter()
            .flat_map(|d| &d.pods)
            .filter(|p| p.is_ready(t))
            .collect();
        let kv_percent = if ready.is_empty() {
            0.0
        } else {
            100.0 * ready.iter().map(|p| p.kv_usage()).fold(0.0, |a, b| a + b) / ready.len() as f64
        };
        let queue = self.backlog.len() + ready.iter().map(|p| p.queue_length()).sum::<usize>();
        let mut recent = self.waits[self.waits_reported..].to_vec();
        self.waits_reported = self.waits.len();
        recent.sort_by(f64::total_cmp);
        self.timeline.push(TimelineRow {
            time: t,
            load_rps,
            replicas: self
                .deployments
                .iter()
                .map(|d| d.pods.len() as u32)
                .collect(),
            ready: self
                .deployments
                .iter()
                .map(|d| d.pods.iter().filter(|p| p.is_ready(t)).count() as u32)
                .collect(),
            desired: self
                .deployments
                .iter()
                .map(|d| d.desired.unwrap_or(d.pods.len() as u32))
                .collect(),
            kv_percent,
            queue,
            reason: headline(&cycle),
            autoscaler: self
                .deployments
                .iter()
                .map(|d| d.autoscaler.condition)
                .collect(),
            ttft_p95_seconds: percentile(&recent, 0.95),
            capacity: cycle.models.first().and_then(|m| m.capacity.clone()),
        });
    }

    /// HYBRID mode's inputs of the cycle at `t`, per variant: one observation per ready
    /// replica (its mean inter-token latency and running batch over the last minute, at its
    /// average request size) fed to the variant's estimator, and the arrival rate since the
    /// previous cycle. First-token times are not fed: the emulator's one-second ticks make
    /// them whole seconds.
    fn learn(&mut self, t: u64) {
        let interval = self.s.engine_interval_seconds.max(1) as f64;
        for (d, learning) in self.deployments.iter().zip(&mut self.learning) {
            for pod in d.pods.iter().filter(|p| p.is_ready(t)) {
                if let (Some(latency), Some(size)) = (pod.latency(), pod.request_size()) {
                    learning.estimator.observe(&Observation {
                        batch: latency.batch,
                        workload: Workload {
                            input_tokens: size.input,
                            output_tokens: size.output,
                        },
                        itl_ms: Some(latency.itl_ms),
                        ttft_ms: None,
                    });
                }
            }
            learning.arrival_rate = Some(learning.routed as f64 / interval);
            learning.routed = 0;
        }
    }

    /// Publishes decisions (of the engine cycle or of scale-from-zero): the desired replicas
    /// the HPA reads, by variant name (the engine sorts decisions by name, not in scenario
    /// order).
    fn publish(&mut self, decisions: &[Decision]) {
        for (spec, d) in self.s.variants.iter().zip(&mut self.deployments) {
            if let Some(decision) = decisions.iter().find(|x| x.variant == spec.name) {
                d.desired = Some(decision.desired_replicas);
            }
        }
    }

    /// Runs each variant's autoscaler at second `t` (its syncs and polls): it reads the
    /// desired replicas WVA published and sets the Deployment's replicas.
    fn autoscale(&mut self, t: u64) {
        for i in 0..self.deployments.len() {
            let spec = &self.s.variants[i].autoscaler;
            let d = &mut self.deployments[i];
            let current = d.pods.len() as u32;
            let metric = d.desired.map(f64::from);
            if let Some(target) = d.autoscaler.tick(spec, t, current, metric) {
                self.scale_to(i, target.min(MAX_PODS), t);
            }
        }
    }

    /// Sets the pods of a variant's Deployment to `target` (one scale event when it changes).
    fn scale_to(&mut self, variant: usize, target: u32, t: u64) {
        let current = self.deployments[variant].pods.len() as u32;
        if target > current {
            for _ in current..target {
                self.add_pod(variant, t);
            }
            self.scale_events += 1;
        } else if target < current {
            for _ in target..current {
                self.remove_pod(variant, t);
            }
            self.scale_events += 1;
        }
    }

    /// Deletes a pod: starting pods first (newest), else the ready pod with the least work.
    /// Its requests go back to the router; its metrics stay visible for a minute.
    fn remove_pod(&mut self, variant: usize, t: u64) {
        let pods = &mut self.deployments[variant].pods;
        let index = pods
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_ready(t))
            .max_by_key(|(_, p)| p.ready_at)
            .or_else(|| pods.iter().enumerate().min_by_key(|(_, p)| p.load()))
            .map(|(i, _)| i);
        let Some(index) = index else {
            return;
        };
        let mut pod = pods.remove(index);
        if let Some(signals) = replica_signals(&pod) {
            self.ghosts.push(Ghost {
                variant,
                removed_at: t,
                signals,
            });
        }
        for r in pod.drain().into_iter().rev() {
            self.backlog.push_front(r);
        }
    }

    fn report(mut self) -> Report {
        self.waits.sort_by(f64::total_cmp);
        let (wakes, mut woken) = wake::summarize(&self.wakes);
        woken.sort_by(f64::total_cmp);
        let variants: Vec<VariantSummary> = self
            .s
            .variants
            .iter()
            .zip(&self.deployments)
            .map(|(spec, d)| {
                let minutes = d.replica_seconds as f64 / 60.0;
                VariantSummary {
                    name: spec.name.clone(),
                    cost_per_replica_hour: spec.cost,
                    replica_minutes: minutes,
                    cost: minutes / 60.0 * spec.cost,
                    peak_replicas: d.peak,
                }
            })
            .collect();
        let step = self
            .config
            .scale_up_step(&self.s.namespace, &self.s.model_id);
        Report {
            summary: Summary {
                scale_up_step: step.as_str().to_string(),
                analyzer: if self
                    .config
                    .analyzers(&self.s.namespace, &self.s.model_id)
                    .is_some()
                {
                    "token-capacity"
                } else {
                    "saturation"
                },
                hybrid: self.s.hybrid,
                duration_seconds: self.s.duration_seconds,
                seconds_saturated: self.saturated_seconds,
                requests_arrived: self.arrived,
                requests_completed: self.completed,
                ttft_p50_seconds: percentile(&self.waits, 0.50).unwrap_or(0.0),
                ttft_p95_seconds: percentile(&self.waits, 0.95).unwrap_or(0.0),
                replica_minutes: variants.iter().map(|v| v.replica_minutes).sum(),
                cost: variants.iter().map(|v| v.cost).sum(),
                scale_events: self.scale_events,
                engine_cycles: self.timeline.len() as u32,
                variants,
                wakes,
                wake_ttft_p50_seconds: percentile(&woken, 0.50),
                wake_ttft_max_seconds: woken.last().copied(),
            },
            timeline: self.timeline,
        }
    }
}

/// The `q` quantile (nearest rank) of sorted values; `None` when there are none.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get((last as f64 * q).round() as usize).copied()
}

/// The model's decision in a few words: `<reason> <variant> <from>-><to>` for the variant
/// that changes, else the first variant's reason.
fn headline(cycle: &Cycle) -> String {
    let changing = cycle
        .decisions
        .iter()
        .filter(|d| d.action != Action::NoChange)
        .map(|d| {
            format!(
                "{} {} {}->{}",
                d.reason.as_str(),
                d.variant,
                d.current_replicas,
                d.desired_replicas
            )
        })
        .collect::<Vec<_>>();
    if changing.is_empty() {
        cycle
            .decisions
            .first()
            .map_or_else(String::new, |d| d.reason.as_str().to_string())
    } else {
        changing.join(", ")
    }
}
