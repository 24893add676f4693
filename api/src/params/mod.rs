//! Runtime side of `#[derive(ConfigParams)]`: the parameter table type, value parsing, the
//! precedence resolver (explicit flag > env > ConfigMap > default) and configuration diffs.
//! The value grammar and value types come from `wva-core` and are re-exported here.

mod key;
mod resolve;

pub use key::Key;
pub use resolve::{FieldError, LoadError, Source, Sources, Violation, resolve, rule_errors};
pub use wva_core::params::{BindAddress, ParamValue, grammar};

use serde::Serialize;

/// One row of the parameter table, generated from an annotated field.
#[derive(Debug, Serialize, PartialEq)]
pub struct ParamSpec {
    /// The Rust field name; also the id of the CLI argument.
    pub field: &'static str,
    /// The env var and ConfigMap key (UPPER_SNAKE of the field name).
    pub key: &'static str,
    /// The long CLI flag without dashes, when the parameter has one.
    pub flag: Option<&'static str>,
    /// The short CLI flag, when the parameter has one.
    pub short: Option<char>,
    /// The value type as users read it: `string`, `bool`, `int`, `duration`, ...
    pub value_type: &'static str,
    /// The default, as written in the declaration.
    pub default: Option<&'static str>,
    /// The smallest accepted value, as written in the declaration.
    pub min: Option<&'static str>,
    /// The largest accepted value, as written in the declaration.
    pub max: Option<&'static str>,
    /// Startup fails when no source sets it.
    pub required: bool,
    /// Read from flags and env only, never from the ConfigMap (it locates the ConfigMap).
    pub env_only: bool,
    /// The value is a credential: shown as `<redacted>` in output, logs and events.
    pub secret: bool,
    /// May change at runtime through the ConfigMap; otherwise a restart is needed.
    pub mutable: bool,
    /// The feature this parameter configures has not landed yet.
    pub pending: Option<&'static str>,
    /// First paragraph of the doc comment: the short help.
    pub summary: &'static str,
    /// The rest of the doc comment: the long help (`--help`), after the summary. Paragraphs
    /// are separated by a blank line; empty when the doc comment has one paragraph.
    pub details: &'static str,
}

impl ParamSpec {
    /// A human name from the field name: `metrics_bind_address` → `Metrics bind address`.
    pub fn title(&self) -> String {
        let words = self.field.replace('_', " ");
        let mut chars = words.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    /// The flag as typed on the command line: `--leader-elect` or `-v`.
    pub fn flag_display(&self) -> Option<String> {
        match (self.flag, self.short) {
            (Some(long), _) => Some(format!("--{long}")),
            (None, Some(short)) => Some(format!("-{short}")),
            (None, None) => None,
        }
    }

    /// The default as docs show it: the literal, `""` for unset, or `required`.
    pub fn default_display(&self) -> &'static str {
        match (self.default, self.required) {
            (Some(default), _) => default,
            (None, true) => "required",
            (None, false) => "\"\"",
        }
    }

    /// `value` as it may be shown to people: redacted when the parameter is secret.
    pub fn display_value(&self, value: &str) -> String {
        if self.secret && !value.is_empty() {
            "<redacted>".to_string()
        } else {
            value.to_string()
        }
    }

    /// The accepted range as docs show it: `1s to 24h`, `at least 1`, `at most 10`, or empty.
    pub fn range_display(&self) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("{min} to {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => String::new(),
        }
    }

    /// The description with its not-yet-effective note, for docs and `--help`.
    pub fn description(&self) -> String {
        match self.pending {
            Some(feature) => format!(
                "{} Not effective yet: {feature} has not landed; a non-default value only logs a warning.",
                self.summary
            ),
            None => self.summary.to_string(),
        }
    }
}

/// A struct of parameters: implemented by `#[derive(ConfigParams)]`.
pub trait Params: Sized {
    /// The parameter table, one row per field, in declaration order.
    const SPECS: &'static [ParamSpec];

    /// Resolves every field from `sources`; all bad values are reported together.
    fn resolve(sources: &Sources) -> Result<Self, LoadError>;

    /// Every field rendered back to text, with its row.
    fn values(&self) -> Vec<ParamEntry>;

    /// Parameters of features that have not landed whose value is not the default.
    fn inert_settings(&self) -> Vec<ParamEntry> {
        self.values()
            .into_iter()
            .filter(|entry| entry.spec.pending.is_some() && !entry.is_default)
            .collect()
    }
}

/// One loaded parameter: its row, its value rendered, and whether that is the default.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    /// The row of the parameter.
    pub spec: &'static ParamSpec,
    /// The value, rendered as users write it.
    pub value: String,
    /// True when the value equals the declared default (or is unset without one).
    pub is_default: bool,
}

impl ParamEntry {
    /// The entry of `value` for `spec`; the default is compared through the field's own type,
    /// so `1m` and `60s` are the same.
    pub fn of<T: ParamValue>(spec: &'static ParamSpec, value: &T) -> Self {
        let value = value.render();
        let default = spec.default.map(|d| T::parse_param(d).map(|v| v.render()));
        let is_default = match default {
            Some(Ok(default)) => default == value,
            Some(Err(_)) => false,
            None => value.is_empty(),
        };
        ParamEntry {
            spec,
            value,
            is_default,
        }
    }
}

/// One parameter whose value differs between two loaded configurations.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The row of the changed parameter.
    pub spec: &'static ParamSpec,
    /// The running value, rendered.
    pub old: String,
    /// The newly loaded value, rendered.
    pub new: String,
}

/// The parameters whose values differ between `old` and `new`; each carries its mutability in
/// `spec.mutable`, so a caller applies the mutable ones and rejects the others.
pub fn diff<P: Params>(old: &P, new: &P) -> Vec<Change> {
    old.values()
        .into_iter()
        .zip(new.values())
        .filter(|(a, b)| a.value != b.value)
        .map(|(a, b)| Change {
            spec: a.spec,
            old: a.value,
            new: b.value,
        })
        .collect()
}
