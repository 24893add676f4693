//! Renders the [Helm values declarations](super) into the chart's `values.yaml`,
//! `values.schema.json` and README values table, and into `generated/docs/helm-values.md`.
//!
//! The JSON schema comes from the declarations' `JsonSchema` derive; the defaults from their
//! `Default` impls. `values.yaml` and the tables are written by hand from those two, so the
//! descriptions appear as comments and every leaf value gets a row.

use super::{CHART_DIR, HelmValues};
use crate::render::{RenderError, to_json_pretty};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The hand-written part of the chart README; `{{VALUES_TABLE}}` marks where the table goes.
const README_TEMPLATE: &str =
    include_str!("../../../charts/workload-variant-autoscaler/README.md.in");

/// The placeholder in the README template that the values table replaces.
pub const VALUES_TABLE_MARKER: &str = "{{VALUES_TABLE}}";

/// One documented value: a leaf of the values tree (scalars, lists and free-form maps).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueDoc {
    /// Dotted path, e.g. `wva.prometheus.baseURL`.
    pub path: String,
    /// Type as the README shows it: bool, int, float, string, list, object (with "or null").
    pub type_name: String,
    /// The default.
    pub default: Value,
    /// The description (the field's doc comment), with the allowed values of an enum.
    pub description: String,
}

/// The JSON schema of the values, every subschema inlined (draft-07, what Helm validates).
pub fn values_schema() -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let schema = settings
        .into_generator()
        .into_root_schema_for::<HelmValues>();
    let mut value = schema.to_value();
    drop_branch_defaults(&mut value);
    value
}

/// Keeps `default` on leaves only: a branch's default repeats every default below it.
fn drop_branch_defaults(schema: &mut Value) {
    if let Value::Object(map) = schema {
        if map.contains_key("properties") {
            map.remove("default");
        }
        for child in map.values_mut() {
            drop_branch_defaults(child);
        }
    } else if let Value::Array(items) = schema {
        items.iter_mut().for_each(drop_branch_defaults);
    }
}

/// The artefact an error names when the defaults cannot be rendered.
const DEFAULTS: &str = "the Helm values defaults";

/// The defaults as a JSON value.
pub fn default_values() -> Result<Value, RenderError> {
    serde_json::to_value(HelmValues::default()).map_err(|source| RenderError::Json {
        artefact: DEFAULTS,
        source,
    })
}

/// The defaults as a mapping of top-level keys.
fn default_map() -> Result<Map<String, Value>, RenderError> {
    match default_values()? {
        Value::Object(map) => Ok(map),
        _ => Err(RenderError::NotAMapping {
            artefact: DEFAULTS,
            what: "`HelmValues::default()`",
        }),
    }
}

/// Every documented value, sorted by path.
pub fn value_docs() -> Result<Vec<ValueDoc>, RenderError> {
    let schema = values_schema();
    let mut docs = Vec::new();
    collect_docs(&default_map()?, &schema, "", &mut docs);
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(docs)
}

fn collect_docs(
    values: &Map<String, Value>,
    schema: &Value,
    prefix: &str,
    out: &mut Vec<ValueDoc>,
) {
    for (key, value) in sorted(values) {
        let sub = property(schema, key);
        let path = format!("{prefix}{key}");
        match value {
            Value::Object(map) if sub.get("properties").is_some() => {
                collect_docs(map, sub, &format!("{path}."), out);
            }
            _ => out.push(ValueDoc {
                path,
                type_name: type_name(sub),
                default: value.clone(),
                description: description(sub),
            }),
        }
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// The subschema of property `key` (a null schema when it is not declared).
fn property<'a>(schema: &'a Value, key: &str) -> &'a Value {
    static NONE: Value = Value::Null;
    schema
        .get("properties")
        .and_then(|p| p.get(key))
        .unwrap_or(&NONE)
}

fn type_name(schema: &Value) -> String {
    fn name(t: &str) -> &str {
        match t {
            "boolean" => "bool",
            "integer" => "int",
            "number" => "float",
            "array" => "list",
            other => other,
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => name(t).to_string(),
        Some(Value::Array(types)) => {
            let mut names: Vec<&str> = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .map(name)
                .collect();
            if types.iter().any(|t| t == "null") {
                names.push("null");
            }
            names.join(" or ")
        }
        _ if schema.get("enum").is_some() || schema.get("oneOf").is_some() => "string".to_string(),
        _ => "object".to_string(),
    }
}

fn description(schema: &Value) -> String {
    let mut text = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let options: Vec<String> = match (schema.get("enum"), schema.get("oneOf")) {
        (Some(Value::Array(options)), _) => options.iter().map(scalar).collect(),
        (_, Some(Value::Array(variants))) => variants
            .iter()
            .filter_map(|v| v.get("const"))
            .map(scalar)
            .collect(),
        _ => Vec::new(),
    };
    if !options.is_empty() {
        let options: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
        text.push_str(&format!(" One of {}.", options.join(", ")));
    }
    text.trim().to_string()
}

/// A scalar as YAML writes it: strings double-quoted, whole floats without a fraction.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => yaml_scalar(other),
    }
}

/// A value as YAML writes it in flow style: JSON (strings double-quoted, `null`, `[]`, `{}`),
/// except that whole floats lose their fraction.
fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

const GENERATED: &str =
    "Generated by build.rs from api/src/helm_values.rs; do not edit. Run `cargo build` to refresh.";

/// The chart's `values.yaml`: the defaults, each preceded by its description as a comment.
pub fn values_yaml() -> Result<String, RenderError> {
    let schema = values_schema();
    let values = default_map()?;
    let mut out = format!(
        "# Default values of the workload-variant-autoscaler chart.\n# {GENERATED}\n#\n\
         # Production defaults: TLS to Prometheus is verified. values-dev.yaml relaxes them.\n"
    );
    for (key, value) in sorted(&values) {
        out.push('\n');
        emit_key(&mut out, key, value, property(&schema, key), 0);
    }
    Ok(out)
}

fn emit_key(out: &mut String, key: &str, value: &Value, schema: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    for line in wrap(&description(schema), 98usize.saturating_sub(indent)) {
        out.push_str(&format!("{pad}# {line}\n"));
    }
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for (k, v) in sorted(map) {
                emit_key(out, k, v, property(schema, k), indent + 2);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for item in items {
                emit_item(out, item, indent + 2);
            }
        }
        other => out.push_str(&format!("{pad}{key}: {}\n", yaml_scalar(other))),
    }
}

/// A list item: scalars on the dash line, mappings with their first key on it.
fn emit_item(out: &mut String, item: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match item {
        Value::Object(map) if !map.is_empty() => {
            let mut body = String::new();
            for (k, v) in sorted(map) {
                emit_key(&mut body, k, v, &Value::Null, indent + 2);
            }
            out.push_str(&format!("{pad}- {}", &body[indent + 2..]));
        }
        other => out.push_str(&format!("{pad}- {}\n", yaml_scalar(other))),
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The chart's `values.schema.json`.
pub fn values_schema_json() -> Result<String, RenderError> {
    let mut text = to_json_pretty("the chart's values.schema.json", &values_schema())?;
    text.push('\n');
    Ok(text)
}

/// The values table in Markdown (Key, Type, Default as JSON, Description).
pub fn values_table() -> Result<String, RenderError> {
    let mut out = String::from(
        "| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n",
    );
    for doc in value_docs()? {
        out.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            doc.path,
            doc.type_name,
            doc.default.to_string().replace('|', "\\|"),
            doc.description.replace('|', "\\|"),
        ));
    }
    Ok(out)
}

/// The chart's `README.md`: the hand-written `README.md.in` with the values table inserted.
pub fn readme() -> Result<String, RenderError> {
    Ok(format!(
        "<!-- {GENERATED} The text comes from README.md.in, the table from the declarations. -->\n{}",
        README_TEMPLATE.replace(VALUES_TABLE_MARKER, values_table()?.trim_end())
    ))
}

/// The values reference for `generated/docs/helm-values.md`.
pub fn values_markdown() -> Result<String, RenderError> {
    Ok(format!(
        "<!-- {GENERATED} -->\n# Helm values reference\n\n\
         Values of the `workload-variant-autoscaler` chart ({CHART_DIR}). \
         `values.yaml` and `values.schema.json` are rendered from the same declarations.\n\n{}",
        values_table()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_keep_the_install_defaults() {
        let defaults = default_values().expect("defaults render");
        let values: HelmValues = serde_json::from_value(defaults).expect("round trip");
        assert_eq!(values, HelmValues::default());
        let docs = value_docs().expect("defaults render");
        let get = |p: &str| {
            docs.iter()
                .find(|d| d.path == p)
                .unwrap_or_else(|| panic!("{p} is not declared"))
                .default
                .clone()
        };
        assert_eq!(get("hpa.targetAverageValue"), "1");
        assert_eq!(get("wva.prometheus.tls.insecureSkipVerify"), false);
        // Vanilla-Kubernetes defaults: ClusterIP vLLM Service, no model until one is named
        // (values-openshift.yaml gives back NodePort 30000 and the llm-d model; tests/chart.rs).
        assert_eq!(get("vllmService.nodePort"), 0);
        assert_eq!(get("llmd.modelName"), "");
        assert_eq!(get("llmd.modelID"), "");
        assert_eq!(get("wva.prometheus.baseURL"), "");
        assert_eq!(
            get("wva.image.repository"),
            crate::helm_values::IMAGE_REPOSITORY
        );
    }

    #[test]
    fn every_value_has_a_description() {
        for doc in value_docs().expect("defaults render") {
            assert!(
                !doc.description.is_empty(),
                "{} has no description",
                doc.path
            );
        }
    }
}
