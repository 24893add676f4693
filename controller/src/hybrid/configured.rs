//! Performance parameters given per variant in the service-class ConfigMap, under the data
//! key [`PERFORMANCE_KEY`]: what the HYBRID mode uses for a variant until its own estimate
//! has warmed up.
//!
//! ```yaml
//! performanceParameters: |
//!   - variant: chat-h100     # the VA name
//!     namespace: team-a      # optional: without it, the VA of that name in any namespace
//!     alpha: 8.0             # ms: base time of one engine iteration
//!     beta: 0.01             # ms per token: compute slope
//!     gamma: 0.001           # ms per token in the KV cache: memory slope
//! ```

use serde::Deserialize;
use wva_engine::queueing::PerfParams;

/// The data key of the configured performance parameters; every other key holds classes.
pub const PERFORMANCE_KEY: &str = "performanceParameters";

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    variant: Option<String>,
    namespace: Option<String>,
    alpha: Option<f64>,
    beta: Option<f64>,
    gamma: Option<f64>,
}

/// One variant's configured parameters.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    variant: String,
    namespace: Option<String>,
    params: PerfParams,
}

/// The configured parameters, by variant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfiguredPerf {
    entries: Vec<Entry>,
}

impl ConfiguredPerf {
    /// The parameters of VA `variant` in `namespace`: an entry naming the namespace beats
    /// one without.
    pub fn of(&self, namespace: &str, variant: &str) -> Option<PerfParams> {
        let named = |e: &&Entry| e.variant == variant;
        self.entries
            .iter()
            .filter(named)
            .find(|e| e.namespace.as_deref() == Some(namespace))
            .or_else(|| {
                self.entries
                    .iter()
                    .filter(named)
                    .find(|e| e.namespace.is_none())
            })
            .map(|e| e.params)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parses the value of [`PERFORMANCE_KEY`]; each error names the entry, the field, the bad
/// value and the fix.
pub fn parse_performance(text: &str) -> Result<ConfiguredPerf, Vec<String>> {
    let raw: Vec<RawEntry> = serde_saphyr::from_str(text).map_err(|e| {
        vec![format!(
            "{PERFORMANCE_KEY}: invalid YAML: {e}; write a list of {{variant, namespace, alpha, beta, gamma}} (ms)"
        )]
    })?;
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = match &r.variant {
            Some(v) => format!("{PERFORMANCE_KEY}: variant {v:?}"),
            None => format!("{PERFORMANCE_KEY}[{i}]"),
        };
        let Some(variant) = r.variant.filter(|v| !v.trim().is_empty()) else {
            problems.push(format!(
                "{at}: `variant` is missing; set the name of the VA, e.g. `variant: chat-h100`"
            ));
            continue;
        };
        let mut field = |name: &str, value: Option<f64>, positive: bool| match value {
            Some(v) if v.is_finite() && (v > 0.0 || (!positive && v == 0.0)) => Some(v),
            Some(v) => {
                let expected = if positive { "above 0" } else { "0 or more" };
                problems.push(format!(
                    "{at}: {name} is {v}, expected milliseconds {expected}"
                ));
                None
            }
            None => {
                problems.push(format!(
                    "{at}: `{name}` is missing; give alpha, beta and gamma (ms)"
                ));
                None
            }
        };
        let (alpha, beta, gamma) = (
            field("alpha", r.alpha, true),
            field("beta", r.beta, false),
            field("gamma", r.gamma, false),
        );
        if let (Some(alpha), Some(beta), Some(gamma)) = (alpha, beta, gamma) {
            entries.push(Entry {
                variant,
                namespace: r.namespace.filter(|n| !n.trim().is_empty()),
                params: PerfParams { alpha, beta, gamma },
            });
        }
    }
    if problems.is_empty() {
        Ok(ConfiguredPerf { entries })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_of_the_namespace_beats_one_for_any_namespace() {
        let configured = parse_performance(
            "- variant: chat\n  alpha: 8\n  beta: 0.01\n  gamma: 0.001\n- variant: chat\n  namespace: team-a\n  alpha: 6\n  beta: 0\n  gamma: 0\n",
        )
        .expect("valid");
        assert_eq!(configured.of("team-a", "chat").map(|p| p.alpha), Some(6.0));
        assert_eq!(configured.of("team-b", "chat").map(|p| p.alpha), Some(8.0));
        assert_eq!(configured.of("team-a", "other"), None);
    }

    #[test]
    fn errors_name_the_entry_the_field_and_the_fix() {
        let errors = parse_performance(
            "- variant: chat\n  alpha: 0\n  beta: -1\n  gamma: 0.001\n- alpha: 1\n  beta: 0\n  gamma: 0\n- variant: x\n  alpha: 1\n  beta: 0\n",
        )
        .expect_err("invalid");
        assert_eq!(
            errors,
            [
                "performanceParameters: variant \"chat\": alpha is 0, expected milliseconds above 0",
                "performanceParameters: variant \"chat\": beta is -1, expected milliseconds 0 or more",
                "performanceParameters[1]: `variant` is missing; set the name of the VA, e.g. `variant: chat-h100`",
                "performanceParameters: variant \"x\": `gamma` is missing; give alpha, beta and gamma (ms)",
            ]
        );
        let bad_yaml =
            parse_performance("- variant: chat\n  delta: 1\n").expect_err("unknown field");
        assert!(
            bad_yaml[0].starts_with("performanceParameters: invalid YAML: "),
            "{bad_yaml:?}"
        );
    }
}
