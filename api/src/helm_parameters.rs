//! `wva.parameters`: every controller parameter as a Helm value, derived from the parameter
//! table.
//!
//! A parameter declared with `#[param(...)]` in [`crate::config`] becomes a key of
//! `wva.parameters` (its ConfigMap key, its default, its description) and the chart writes it
//! into the main ConfigMap, unless the chart already sets it from another value or on the
//! command line ([`CHART_SET`]), it is read from the environment only (it locates the
//! ConfigMap), or it is a credential (never put in a ConfigMap). Adding a parameter therefore
//! needs no chart edit: `cargo build` regenerates `values.yaml`, `values.schema.json` and the
//! chart README with it.

use crate::params::ParamSpec;
use crate::render;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Parameters the chart sets itself: from the Deployment's args (`--leader-elect`, probe and
/// metrics addresses, `--watch-namespace`, `-v`), its env (`CONTROLLER_INSTANCE`) or a curated
/// value in the main ConfigMap (`wva.prometheus.*`, `wva.reconcileInterval`,
/// `wva.scaleToZero`, `wva.limitedMode`). An explicit flag or env var wins over the ConfigMap, so
/// offering these under `wva.parameters` too would let a value be silently ignored.
pub const CHART_SET: &[&str] = &[
    "LEADER_ELECT",
    "HEALTH_PROBE_BIND_ADDRESS",
    "METRICS_BIND_ADDRESS",
    "METRICS_SECURE",
    "WATCH_NAMESPACE",
    "V",
    "CONTROLLER_INSTANCE",
    "PROMETHEUS_BASE_URL",
    "PROMETHEUS_ALLOW_HTTP",
    "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY",
    "PROMETHEUS_CA_CERT_PATH",
    "PROMETHEUS_TOKEN_PATH",
    "GLOBAL_OPT_INTERVAL",
    "WVA_SCALE_TO_ZERO",
    "WVA_LIMITED_MODE",
];

/// The parameters offered under `wva.parameters`, in table order.
pub fn offered() -> impl Iterator<Item = &'static ParamSpec> {
    render::parameters().filter(|p| !p.env_only && !p.secret && !CHART_SET.contains(&p.key))
}

/// `wva.parameters`: ConfigMap key → value. An empty string leaves the key out of the
/// ConfigMap, so the controller's default applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParameterValues(pub BTreeMap<String, Value>);

impl Default for ParameterValues {
    fn default() -> Self {
        ParameterValues(
            offered()
                .map(|p| (p.key.to_string(), default_of(p)))
                .collect(),
        )
    }
}

/// The declared default as a YAML value of the parameter's type (`""` when there is none).
fn default_of(spec: &ParamSpec) -> Value {
    let text = spec.default.unwrap_or_default();
    let typed = match spec.value_type {
        "bool" => text.parse::<bool>().ok().map(Value::from),
        "int" => text.parse::<i64>().ok().map(Value::from),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::from(text))
}

/// The schema of one parameter: its type (a string is always accepted, as in a ConfigMap,
/// but it must then read as the type: `^$|` lets the empty string leave the key out), its
/// range where JSON Schema can say it (`minimum`/`maximum` of integers; a duration's range is
/// in its description and checked by the controller), its description and its default.
fn property(spec: &ParamSpec) -> Value {
    let types: Vec<&str> = match spec.value_type {
        "bool" => vec!["boolean", "string"],
        "int" => vec!["integer", "string"],
        _ => vec!["string"],
    };
    let applies = if spec.mutable {
        "Applies at once when the ConfigMap changes."
    } else {
        "Needs a controller restart."
    };
    let range = match spec.range_display() {
        r if r.is_empty() => String::new(),
        r => format!(" Range: {r}."),
    };
    let mut schema = json!({
        "type": if types.len() == 1 { json!(types[0]) } else { json!(types) },
        "description": format!("`{}` ({}): {}{range} {applies}", spec.key, spec.value_type, spec.description()),
        "default": default_of(spec),
    });
    let pattern = match spec.value_type {
        "bool" => Some(format!("^$|^({})$", any_case(BOOL_WORDS))),
        "int" => Some(r"^$|^[0-9]+$".to_string()),
        "duration" => Some(format!("^$|{}", crate::helm_values::DURATION_PATTERN)),
        // A choice type names its words (`metric|scale`), read in any case like the controller.
        words if words.contains('|') => Some(format!(
            "^$|^({})$",
            any_case(&words.split('|').collect::<Vec<_>>())
        )),
        _ => None,
    };
    if let Some(pattern) = pattern {
        schema["pattern"] = json!(pattern);
    }
    if spec.value_type == "int" {
        for (bound, name) in [(spec.min, "minimum"), (spec.max, "maximum")] {
            if let Some(n) = bound.and_then(|b| b.parse::<i64>().ok()) {
                schema[name] = json!(n);
            }
        }
    }
    schema
}

/// The words of the boolean grammar.
const BOOL_WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "1", "0"];

/// `words` as regex alternatives matching each letter in either case (the controller reads
/// booleans and choice words case-insensitively).
fn any_case(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| {
            word.chars()
                .map(|c| match (c.to_ascii_lowercase(), c.to_ascii_uppercase()) {
                    (l, u) if l != u => format!("[{l}{u}]"),
                    _ => c.to_string(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

impl JsonSchema for ParameterValues {
    fn schema_name() -> Cow<'static, str> {
        "ParameterValues".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let properties: Map<String, Value> = offered()
            .map(|p| (p.key.to_string(), property(p)))
            .collect();
        let mut schema = Schema::default();
        schema.insert("type".into(), json!("object"));
        schema.insert(
            "description".into(),
            json!("Every other controller parameter, by ConfigMap key, written into the main ConfigMap (an empty string leaves the key out). Derived from the parameter table (docs/parameters.md); unknown keys are rejected."),
        );
        schema.insert("properties".into(), Value::Object(properties));
        schema.insert("additionalProperties".into(), json!(false));
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_set_keys_are_declared_parameters() {
        for key in CHART_SET {
            assert!(
                render::parameters().any(|p| p.key == *key),
                "{key} is not a declared parameter"
            );
        }
    }

    #[test]
    fn choice_words_are_accepted_in_any_case_like_the_controller_reads_them() {
        let props = ParameterValues::json_schema(&mut SchemaGenerator::default());
        let actuation =
            &props.as_object().expect("object")["properties"]["SCALE_FROM_ZERO_ACTUATION"];
        assert_eq!(
            actuation["pattern"],
            json!("^$|^([mM][eE][tT][rR][iI][cC]|[sS][cC][aA][lL][eE])$")
        );
    }

    #[test]
    fn defaults_are_typed_and_credentials_stay_out() {
        let values = ParameterValues::default().0;
        assert_eq!(values["PROMETHEUS_QUERY_RETRIES"], json!(2));
        assert_eq!(values["LOG_JSON"], json!(false));
        assert!(values["PROMETHEUS_QUERY_TIMEOUT"].is_string());
        let props = ParameterValues::json_schema(&mut SchemaGenerator::default());
        let timeout = &props.as_object().expect("object")["properties"]["PROMETHEUS_QUERY_TIMEOUT"];
        assert!(
            timeout["description"]
                .as_str()
                .expect("text")
                .contains("Range: 100ms to 10m.")
        );
        let retries = &props.as_object().expect("object")["properties"]["PROMETHEUS_QUERY_RETRIES"];
        assert_eq!(retries["maximum"], json!(10));
        for absent in [
            "PROMETHEUS_BEARER_TOKEN",
            "CONFIG_MAP_NAME",
            "POD_NAMESPACE",
            "V",
        ] {
            assert!(!values.contains_key(absent), "{absent} offered");
        }
    }
}
