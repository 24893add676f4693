//! Precedence resolution: explicit flag > env > ConfigMap > default.

use super::{ParamSpec, ParamValue};
use std::collections::BTreeMap;
use std::fmt;

/// The raw text of every source, gathered by the caller.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// Flags passed explicitly on the command line, keyed by field name. A flag left at its
    /// default must not be here: it would override env and ConfigMap.
    pub flags: BTreeMap<String, String>,
    /// Environment variables. Empty values count as unset.
    pub env: BTreeMap<String, String>,
    /// `namespace/name` of the main ConfigMap, for messages.
    pub config_map_id: String,
    /// Data of the main ConfigMap (empty when it does not exist). Empty values count as unset.
    pub config_map: BTreeMap<String, String>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An explicitly passed command-line flag.
    Flag(String),
    /// An environment variable.
    Env(String),
    /// A key of the main ConfigMap (`namespace/name`, key).
    ConfigMap(String, String),
    /// The declared default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(key) => write!(f, "env var {key}"),
            Source::ConfigMap(id, key) => write!(f, "ConfigMap {id} key {key}"),
            Source::Default => write!(f, "the built-in default"),
        }
    }
}

impl Sources {
    /// The highest-precedence value set for `spec`, with its source.
    pub fn lookup(&self, spec: &ParamSpec) -> Option<(Source, &str)> {
        if let Some(value) = self.flags.get(spec.field) {
            let flag = spec
                .flag_display()
                .unwrap_or_else(|| spec.field.to_string());
            return Some((Source::Flag(flag), value));
        }
        if let Some(value) = self.env.get(spec.key).filter(|v| !v.is_empty()) {
            return Some((Source::Env(spec.key.to_string()), value));
        }
        if spec.env_only {
            return None;
        }
        self.config_map
            .get(spec.key)
            .filter(|v| !v.is_empty())
            .map(|value| {
                let source = Source::ConfigMap(self.config_map_id.clone(), spec.key.to_string());
                (source, value.as_str())
            })
    }
}

/// One parameter that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The env var / ConfigMap key of the parameter.
    pub key: &'static str,
    /// The source of the bad value (`None` when the parameter is missing).
    pub source: Option<Source>,
    /// The bad value (`None` when the parameter is missing).
    pub value: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every problem found while loading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// One entry per bad or missing parameter.
    pub errors: Vec<FieldError>,
}

impl LoadError {
    /// Wraps the collected errors.
    pub fn new(errors: Vec<FieldError>) -> Self {
        LoadError { errors }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, "invalid configuration:\n  {}", lines.join("\n  "))
    }
}

/// Resolves one parameter of type `T`; on failure records why in `errors` and returns `None`.
pub fn resolve<T: ParamValue>(
    spec: &'static ParamSpec,
    sources: &Sources,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let (source, text) = match sources.lookup(spec) {
        Some(found) => found,
        None => match spec.default {
            Some(default) => (Source::Default, default),
            None => {
                if let Some(unset) = T::unset() {
                    return Some(unset);
                }
                errors.push(missing(spec, sources));
                return None;
            }
        },
    };
    let invalid = |why: String| FieldError {
        key: spec.key,
        source: Some(source.clone()),
        value: Some(text.to_string()),
        message: format!(
            "invalid value {text:?} for {key} from {source}: {why}; fix the value or remove it to use the default ({default})",
            key = spec.key,
            default = spec.default_display(),
        ),
    };
    let value = match T::parse_param(text) {
        Ok(value) => value,
        Err(why) => {
            errors.push(invalid(why));
            return None;
        }
    };
    if let Some(min) = spec.min.and_then(|m| T::parse_param(m).ok())
        && value.is_below(&min)
    {
        errors.push(invalid(format!("must be at least {}", min.render())));
        return None;
    }
    if let Some((text, max)) = spec.max.and_then(|m| Some((m, T::parse_param(m).ok()?)))
        && max.is_below(&value)
    {
        errors.push(invalid(format!("must be at most {text}")));
        return None;
    }
    Some(value)
}

/// A rule spanning several parameters that a resolved configuration breaks, reported on one
/// of them. Built with [`Key::violation`](super::Key::violation) in the function named by
/// `#[params(rules = ...)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The parameter the problem is reported on.
    pub spec: &'static ParamSpec,
    /// Its value, rendered.
    pub value: String,
    /// The rule and how to satisfy it.
    pub rule: String,
}

/// The violations of the cross-field rules as load errors, each naming the key, the source of
/// its value, the value and the rule.
pub fn rule_errors(violations: Vec<Violation>, sources: &Sources) -> Vec<FieldError> {
    violations
        .into_iter()
        .map(|v| {
            let source = sources.lookup(v.spec).map_or(Source::Default, |(s, _)| s);
            let shown = v.spec.display_value(&v.value);
            FieldError {
                key: v.spec.key,
                message: format!(
                    "invalid value {shown:?} for {key} from {source}: {rule}",
                    key = v.spec.key,
                    rule = v.rule
                ),
                source: Some(source),
                value: Some(shown),
            }
        })
        .collect()
}

fn missing(spec: &'static ParamSpec, sources: &Sources) -> FieldError {
    let mut ways = vec![format!("the env var {}", spec.key)];
    if !spec.env_only {
        ways.push(format!(
            "the key {} in ConfigMap {}",
            spec.key, sources.config_map_id
        ));
    }
    if let Some(flag) = spec.flag_display() {
        ways.insert(0, format!("the flag {flag}"));
    }
    FieldError {
        key: spec.key,
        source: None,
        value: None,
        message: format!(
            "{key} is required but not set: set {ways}",
            key = spec.key,
            ways = ways.join(" or ")
        ),
    }
}
