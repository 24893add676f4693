//! `wva config`: the checks `wva run` makes, offline, on the flags, env and ConfigMap
//! manifests given on the command line.
//!
//! A manifest file may hold several YAML documents and `List`s of ConfigMaps (as
//! `kubectl get cm -o yaml` prints them); other objects are skipped, so a rendered chart
//! (`helm template ... | wva config --config-map -`) can be checked as a whole. The main ConfigMap is the one named
//! `CONFIG_MAP_NAME`; a file with a single other ConfigMap is taken as the main one too. The
//! saturation-scaling and scale-to-zero ConfigMaps are checked entry by entry, exactly as the
//! controller checks them on every change, and the service-class ConfigMap
//! (`SERVICE_CLASS_CONFIG_MAP_NAME`, read in HYBRID mode) as a whole. Each ConfigMap is reported under its own
//! `namespace/name` (the namespace defaults to `POD_NAMESPACE`).

use super::load::{Config, config_map_location, load};
use super::unknown::unknown_keys;
use crate::hybrid::classes::ServiceClassConfig;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;
use wva_api::config::StaticConfig;
use wva_api::params::{LoadError, Sources};
use wva_api::saturation::{
    EntryError, SATURATION_CONFIG_MAP, SCALE_TO_ZERO_CONFIG_MAP, parse_saturation,
    parse_scale_to_zero,
};

/// What `wva config` found.
#[derive(Debug)]
pub struct Report {
    /// The sources the main configuration was resolved from (the main ConfigMap included).
    pub sources: Sources,
    /// The resolved configuration, or every problem of it.
    pub config: Result<Config, LoadError>,
    /// Other problems: manifests that do not parse, rejected ConfigMap entries.
    pub errors: Vec<String>,
    /// Problems that `wva run` only warns about (unknown keys, ignored objects).
    pub warnings: Vec<String>,
    /// One line per saturation or scale-to-zero ConfigMap checked.
    pub checked: Vec<String>,
}

impl Report {
    /// True when `wva run` would start with this configuration.
    pub fn is_valid(&self) -> bool {
        self.config.is_ok() && self.errors.is_empty()
    }
}

/// Checks `startup` (flags and env) with the ConfigMaps of `manifest` (`path`, its text).
pub fn check(mut startup: Sources, manifest: Option<(&str, &str)>) -> Report {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut checked = Vec::new();
    let (pod_namespace, main_name) = config_map_location(&startup);
    let service_classes = StaticConfig::SERVICE_CLASS_CONFIG_MAP_NAME
        .resolve(&startup)
        .unwrap_or_default();
    if let Some((path, text)) = manifest {
        match config_maps(path, text) {
            Err(error) => errors.push(error),
            Ok((found, skipped)) => {
                if skipped > 0 {
                    warnings.push(format!(
                        "{skipped} objects in {path} are not ConfigMaps; skipped"
                    ));
                }
                let id = |cm: &ConfigMap| {
                    let ns = cm.metadata.namespace.as_deref().unwrap_or(&pod_namespace);
                    let name = cm.metadata.name.as_deref().unwrap_or_default();
                    format!("{ns}/{name}")
                };
                let well_known = |cm: &ConfigMap| {
                    let name = cm.metadata.name.as_deref();
                    matches!(name, Some(SATURATION_CONFIG_MAP | SCALE_TO_ZERO_CONFIG_MAP))
                        || name == Some(service_classes.as_str())
                };
                let others: Vec<&ConfigMap> = found.iter().filter(|c| !well_known(c)).collect();
                let main = others
                    .iter()
                    .find(|c| c.metadata.name.as_deref() == Some(main_name.as_str()))
                    .or(match others.as_slice() {
                        [only] => Some(only),
                        _ => None,
                    });
                for cm in &others {
                    if main.is_some_and(|m| std::ptr::eq(*m, *cm)) {
                        continue;
                    }
                    warnings.push(format!(
                        "ConfigMap {} in {path} is not one the controller reads (the main ConfigMap is {main_name}: set CONFIG_MAP_NAME to check another); skipped",
                        id(cm)
                    ));
                }
                if let Some(main) = main {
                    startup.config_map_id = id(main);
                    startup.config_map = main.data.clone().unwrap_or_default();
                }
                for cm in found.iter().filter(|c| well_known(c)) {
                    let data = cm.data.clone().unwrap_or_default();
                    if cm.metadata.name.as_deref() == Some(service_classes.as_str()) {
                        let cm_id = id(cm);
                        match ServiceClassConfig::parse(&data) {
                            Ok(config) => checked.push(format!(
                                "ConfigMap {cm_id}: {} valid entries (service classes, read in HYBRID mode)",
                                config.entries()
                            )),
                            Err(problems) => {
                                checked.push(format!(
                                    "ConfigMap {cm_id}: rejected as a whole ({} problems)",
                                    problems.len()
                                ));
                                errors.extend(
                                    problems
                                        .into_iter()
                                        .map(|p| format!("ConfigMap {cm_id}: {p}")),
                                );
                            }
                        }
                        continue;
                    }
                    let (rejected, accepted) =
                        if cm.metadata.name.as_deref() == Some(SATURATION_CONFIG_MAP) {
                            let parsed = parse_saturation(&data);
                            (parsed.errors, parsed.entries.len())
                        } else {
                            let parsed = parse_scale_to_zero(&data);
                            (parsed.errors, parsed.entries.len())
                        };
                    let cm_id = id(cm);
                    for EntryError { key, message } in &rejected {
                        errors.push(format!("ConfigMap {cm_id} key {key}: {message}"));
                    }
                    checked.push(format!(
                        "ConfigMap {cm_id}: {accepted} valid entries, {} rejected",
                        rejected.len()
                    ));
                }
            }
        }
    }
    for unknown in unknown_keys(&startup.config_map) {
        warnings.push(unknown.message(&startup.config_map_id));
    }
    let config = load(&startup);
    Report {
        sources: startup,
        config,
        errors,
        warnings,
        checked,
    }
}

/// Every ConfigMap of a manifest (all YAML documents, and the items of `List`s), and how many
/// other objects were skipped (a rendered chart holds Deployments, RBAC, ...).
fn config_maps(path: &str, text: &str) -> Result<(Vec<ConfigMap>, usize), String> {
    let not_a_manifest =
        |e: String| format!("--config-map {path} is not a ConfigMap manifest: {e}");
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| not_a_manifest(e.to_string()))?;
    let mut objects = Vec::new();
    for document in documents {
        match document.get("items").and_then(Value::as_array) {
            Some(items)
                if document
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                objects.extend(items.iter().cloned());
            }
            _ => objects.push(document),
        }
    }
    let mut found = Vec::new();
    let mut skipped = 0;
    for (i, object) in objects.into_iter().enumerate() {
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("ConfigMap");
        if kind != "ConfigMap" {
            skipped += 1;
            continue;
        }
        let cm: ConfigMap = serde_json::from_value(object)
            .map_err(|e| not_a_manifest(format!("object {}: {e}", i + 1)))?;
        found.push(cm);
    }
    if found.is_empty() {
        return Err(not_a_manifest("no ConfigMap in it".to_string()));
    }
    Ok((found, skipped))
}
