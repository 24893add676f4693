//! The policies `wva simulate --compare` runs side by side: `ENGINE/AUTOSCALER`, e.g.
//! `sized/hpa-fast`.
//!
//! * ENGINE is how WVA decides: `one` or `sized` (the saturation analyzer, V1, with that
//!   `scaleUpStep` on every entry), `v2` (the token-capacity analyzer: `analyzers:
//!   [{name: saturation}]` on every entry), or `hybrid` (`one` with HYBRID mode on,
//!   `EXPERIMENTAL_PROACTIVE_MODEL=true`: the queueing model learned from the replicas'
//!   latencies, arbitrated with the capacity analysis).
//! * AUTOSCALER is what applies the desired replicas: `hpa` (the chart's HPA), `hpa-fast`
//!   (the same without scale-up stabilization window), `keda` (the docs' KEDA ScaledObject)
//!   or `run` (the autoscalers this run's `--hpa`, `--keda` and `--hpa-*` flags give).
//!
//! A new engine policy is one more [`EnginePolicy`] variant with its name and the change it
//! makes to the scenario.

use crate::autoscaler::{AutoscalerSpec, HpaSpec};
use crate::cli::with_step;
use crate::manifest::keda_sample;
use crate::scenario::{InputError, Scenario};
use crate::token_capacity_analyzers;
use wva_api::saturation::{DEFAULT_KEY, ScaleUpStep};

/// The policies `--compare` runs when given no list: V1 one step, V1 sized, V2 and HYBRID,
/// each under the chart's HPA and under the same HPA without scale-up window.
pub const DEFAULT_COMPARE: [&str; 8] = [
    "one/hpa",
    "sized/hpa",
    "v2/hpa",
    "hybrid/hpa",
    "one/hpa-fast",
    "sized/hpa-fast",
    "v2/hpa-fast",
    "hybrid/hpa-fast",
];

/// How WVA decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnginePolicy {
    /// The saturation analyzer (V1) with `scaleUpStep` on every saturation entry.
    Step(ScaleUpStep),
    /// The token-capacity analyzer (V2) on every saturation entry.
    TokenCapacity,
    /// The saturation analyzer with one step, and HYBRID mode on.
    Hybrid,
}

impl EnginePolicy {
    const NAMES: &'static str = "one, sized, v2, hybrid";

    fn parse(text: &str) -> Option<EnginePolicy> {
        match text {
            "v2" => Some(EnginePolicy::TokenCapacity),
            "hybrid" => Some(EnginePolicy::Hybrid),
            _ => text.parse::<ScaleUpStep>().ok().map(EnginePolicy::Step),
        }
    }

    fn apply(self, scenario: &Scenario) -> Scenario {
        match self {
            EnginePolicy::Step(step) => with_step(scenario, step),
            EnginePolicy::TokenCapacity => with_token_capacity(scenario),
            EnginePolicy::Hybrid => Scenario {
                hybrid: true,
                ..with_step(scenario, ScaleUpStep::One)
            },
        }
    }
}

/// `scenario` with the token-capacity analyzer (`analyzers: [{name: saturation}]`) on every
/// saturation entry (and on a `default` entry).
pub fn with_token_capacity(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    s.saturation.entry(DEFAULT_KEY.to_string()).or_default();
    for entry in s.saturation.values_mut() {
        entry.analyzers = Some(token_capacity_analyzers());
    }
    s
}

/// What applies the desired replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoscalerPolicy {
    /// The chart's HPA (`hpa.*` values) with the VA's bounds.
    Hpa,
    /// The chart's HPA with a scale-up stabilization window of 0 s (Kubernetes' own default).
    HpaFast,
    /// The docs' KEDA ScaledObject (`docs/samples/keda-scaledobject.yaml`) with the VA's bounds.
    Keda,
    /// The autoscalers of the run (flags and files).
    Run,
}

impl AutoscalerPolicy {
    const NAMES: &'static str = "hpa, hpa-fast, keda, run";

    fn parse(text: &str) -> Option<AutoscalerPolicy> {
        match text {
            "hpa" => Some(AutoscalerPolicy::Hpa),
            "hpa-fast" => Some(AutoscalerPolicy::HpaFast),
            "keda" => Some(AutoscalerPolicy::Keda),
            "run" => Some(AutoscalerPolicy::Run),
            _ => None,
        }
    }

    fn apply(self, scenario: &Scenario) -> Result<Scenario, InputError> {
        let mut s = scenario.clone();
        for v in &mut s.variants {
            let chart = HpaSpec::chart(v.min_replicas, v.max_replicas);
            v.autoscaler = match self {
                AutoscalerPolicy::Run => continue,
                AutoscalerPolicy::Hpa => AutoscalerSpec::Hpa(chart),
                AutoscalerPolicy::HpaFast => AutoscalerSpec::Hpa(fast(chart)),
                AutoscalerPolicy::Keda => {
                    AutoscalerSpec::Keda(keda_sample(v.min_replicas, v.max_replicas)?)
                }
            };
        }
        Ok(s)
    }
}

/// `hpa` with no scale-up stabilization window.
pub fn fast(mut hpa: HpaSpec) -> HpaSpec {
    hpa.scale_up.stabilization_window_seconds = 0;
    hpa
}

/// One policy of `--compare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// As written: `ENGINE/AUTOSCALER`.
    pub name: String,
    engine: EnginePolicy,
    autoscaler: AutoscalerPolicy,
}

impl Policy {
    /// Parses `ENGINE/AUTOSCALER`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let text = text.trim();
        let usage = || {
            format!(
                "--compare policy {text:?} is not ENGINE/AUTOSCALER; ENGINE is one of {}, AUTOSCALER one of {} (e.g. sized/hpa-fast)",
                EnginePolicy::NAMES,
                AutoscalerPolicy::NAMES
            )
        };
        let (engine, autoscaler) = text.split_once('/').ok_or_else(usage)?;
        Ok(Policy {
            name: text.to_string(),
            engine: EnginePolicy::parse(engine).ok_or_else(usage)?,
            autoscaler: AutoscalerPolicy::parse(autoscaler).ok_or_else(usage)?,
        })
    }

    /// `scenario` under this policy.
    pub fn apply(&self, scenario: &Scenario) -> Result<Scenario, InputError> {
        self.autoscaler
            .apply(scenario)
            .map(|s| self.engine.apply(&s))
    }
}
