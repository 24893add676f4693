//! The saturation-scaling and scale-to-zero ConfigMaps as the engine sees them.
//!
//! * Global maps live in the controller namespace; namespace-local maps with the same
//!   well-known names override them for their namespace (the engine uses the local map when it
//!   has entries).
//! * A local map counts only in a namespace that is managed (not excluded, or the watched
//!   namespace) and tracked: it has a VA, or it carries `wva.llmd.ai/config-enabled=true`.
//! * An invalid entry is rejected with a Warning (once per ConfigMap version) and its last good
//!   version stays in force; a removed key or a deleted ConfigMap takes effect at once.

use crate::keys;
use crate::scope::{Scope, is_config_enabled};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::runtime::reflector::ObjectRef;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use wva_api::saturation::{
    EntryError, ParsedEntries, SATURATION_CONFIG_MAP, SCALE_TO_ZERO_CONFIG_MAP, SaturationEntry,
    ScaleToZeroEntry, parse_saturation, parse_scale_to_zero, saturation_resolution_errors,
    scale_to_zero_resolution_errors,
};

/// Something the caller should log or turn into an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The entries in force for a ConfigMap changed: log `Updated saturation config` (or
    /// `Updated scale-to-zero config`) with the old and new entry counts.
    Updated {
        /// The ConfigMap.
        config_map: ObjectRef<ConfigMap>,
        /// The log message.
        message: &'static str,
        /// Entries before.
        old_entries: usize,
        /// Entries after.
        new_entries: usize,
    },
    /// Entries were rejected: a Warning event `InvalidConfiguration` on the ConfigMap.
    Invalid {
        /// The ConfigMap.
        config_map: ObjectRef<ConfigMap>,
        /// The event message: every rejected key and why, and what stays in force.
        message: String,
    },
}

/// Entries in force per ConfigMap, remembered across updates.
#[derive(Debug, Default)]
pub struct ConfigMapState {
    saturation: HashMap<ObjectRef<ConfigMap>, Versioned<SaturationEntry>>,
    scale_to_zero: HashMap<ObjectRef<ConfigMap>, Versioned<ScaleToZeroEntry>>,
}

#[derive(Debug)]
struct Versioned<E> {
    version: Option<String>,
    entries: BTreeMap<String, E>,
}

/// The entries the engine should use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// Global saturation entries.
    pub saturation: BTreeMap<String, SaturationEntry>,
    /// Namespace-local saturation entries, per namespace.
    pub namespace_saturation: BTreeMap<String, BTreeMap<String, SaturationEntry>>,
    /// Global scale-to-zero entries.
    pub scale_to_zero: BTreeMap<String, ScaleToZeroEntry>,
    /// Namespace-local scale-to-zero entries, per namespace.
    pub namespace_scale_to_zero: BTreeMap<String, BTreeMap<String, ScaleToZeroEntry>>,
}

/// What the caches hold right now.
pub struct Inputs<'a> {
    /// The controller namespace (global maps).
    pub controller_namespace: &'a str,
    /// The scope rules.
    pub scope: &'a Scope,
    /// Namespaces that have at least one VA in scope.
    pub va_namespaces: &'a BTreeSet<String>,
    /// Namespace objects (labels, annotations), by name.
    pub namespaces: &'a BTreeMap<String, &'a Namespace>,
    /// Every ConfigMap named `wva-saturation-scaling-config` or `wva-model-scale-to-zero-config`.
    pub config_maps: &'a [&'a ConfigMap],
}

impl ConfigMapState {
    /// Recomputes the entries in force from the caches.
    pub fn refresh(&mut self, inputs: &Inputs<'_>) -> (Resolved, Vec<Notice>) {
        let mut resolved = Resolved::default();
        let mut notices = Vec::new();
        let mut seen = HashSet::new();
        for cm in inputs.config_maps {
            let (Some(namespace), Some(name)) = (
                cm.metadata.namespace.as_deref(),
                cm.metadata.name.as_deref(),
            ) else {
                continue;
            };
            let global = namespace == inputs.controller_namespace;
            if !global && !counts_locally(inputs, namespace) {
                continue;
            }
            let id = keys::of(*cm);
            seen.insert(id.clone());
            let empty = BTreeMap::new();
            let data = cm.data.as_ref().unwrap_or(&empty);
            let version = cm.metadata.resource_version.clone();
            if name == SATURATION_CONFIG_MAP {
                let entries = update(
                    &mut self.saturation,
                    &id,
                    version,
                    parse_saturation(data),
                    saturation_resolution_errors,
                    "Updated saturation config",
                    &mut notices,
                );
                if global {
                    resolved.saturation = entries;
                } else {
                    resolved
                        .namespace_saturation
                        .insert(namespace.to_string(), entries);
                }
            } else if name == SCALE_TO_ZERO_CONFIG_MAP {
                let entries = update(
                    &mut self.scale_to_zero,
                    &id,
                    version,
                    parse_scale_to_zero(data),
                    scale_to_zero_resolution_errors,
                    "Updated scale-to-zero config",
                    &mut notices,
                );
                if global {
                    resolved.scale_to_zero = entries;
                } else {
                    resolved
                        .namespace_scale_to_zero
                        .insert(namespace.to_string(), entries);
                }
            }
        }
        forget_unseen(
            &mut self.saturation,
            &seen,
            "Updated saturation config",
            &mut notices,
        );
        forget_unseen(
            &mut self.scale_to_zero,
            &seen,
            "Updated scale-to-zero config",
            &mut notices,
        );
        (resolved, notices)
    }
}

/// True when a namespace-local ConfigMap in `namespace` is honoured.
fn counts_locally(inputs: &Inputs<'_>, namespace: &str) -> bool {
    let ns = inputs.namespaces.get(namespace);
    let annotations = ns.and_then(|n| n.metadata.annotations.as_ref());
    let labels = ns.and_then(|n| n.metadata.labels.as_ref());
    let watched = inputs.scope.watch_namespace.as_deref() == Some(namespace);
    inputs.scope.manages_namespace(namespace, annotations)
        && (watched || inputs.va_namespaces.contains(namespace) || is_config_enabled(labels))
}

/// Applies a new version of one ConfigMap: valid entries replace, rejected entries keep their
/// last good version, removed keys go. `resolution_errors` then rechecks the entries in force
/// together (an override kept from the last version, or checked against a `default` that was
/// rejected, may not resolve validly over the `default` now in force); such an entry is
/// rejected too and drops out. Returns the entries in force, every one resolving validly.
fn update<E: Clone + PartialEq>(
    state: &mut HashMap<ObjectRef<ConfigMap>, Versioned<E>>,
    id: &ObjectRef<ConfigMap>,
    version: Option<String>,
    mut parsed: ParsedEntries<E>,
    resolution_errors: fn(&BTreeMap<String, E>) -> Vec<EntryError>,
    message: &'static str,
    notices: &mut Vec<Notice>,
) -> BTreeMap<String, E> {
    let known = state.get(id);
    if let Some(known) = known
        && known.version.is_some()
        && known.version == version
    {
        return known.entries.clone();
    }
    let old = known.map(|k| k.entries.clone()).unwrap_or_default();
    let mut entries = parsed.entries;
    let mut kept = Vec::new();
    for EntryError { key, .. } in &parsed.errors {
        if let Some(good) = old.get(key) {
            entries.insert(key.clone(), good.clone());
            kept.push(key.clone());
        }
    }
    for error in resolution_errors(&entries) {
        entries.remove(&error.key);
        kept.retain(|k| *k != error.key);
        match parsed.errors.iter_mut().find(|e| e.key == error.key) {
            Some(rejected) => rejected.message.push_str(&format!(
                "; the last good version no longer applies either: {}",
                error.message
            )),
            None => parsed.errors.push(error),
        }
    }
    if !parsed.errors.is_empty() {
        let problems: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect();
        let kept = if kept.is_empty() {
            String::new()
        } else {
            format!(
                " The last good version stays in force for: {}.",
                kept.join(", ")
            )
        };
        notices.push(Notice::Invalid {
            config_map: id.clone(),
            message: format!(
                "Rejected invalid entries of ConfigMap {}: {}.{kept}",
                keys::display(id),
                problems.join("; ")
            ),
        });
    }
    if entries != old || known.is_none() {
        notices.push(Notice::Updated {
            config_map: id.clone(),
            message,
            old_entries: old.len(),
            new_entries: entries.len(),
        });
    }
    state.insert(
        id.clone(),
        Versioned {
            version,
            entries: entries.clone(),
        },
    );
    entries
}

/// Drops ConfigMaps that are gone (deleted, or no longer honoured), saying so.
fn forget_unseen<E>(
    state: &mut HashMap<ObjectRef<ConfigMap>, Versioned<E>>,
    seen: &HashSet<ObjectRef<ConfigMap>>,
    message: &'static str,
    notices: &mut Vec<Notice>,
) {
    let gone: Vec<ObjectRef<ConfigMap>> = state
        .keys()
        .filter(|id| !seen.contains(*id))
        .cloned()
        .collect();
    for id in gone {
        if let Some(old) = state.remove(&id) {
            notices.push(Notice::Updated {
                config_map: id,
                message,
                old_entries: old.entries.len(),
                new_entries: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;
    use wva_api::crd::labels;

    fn cm(namespace: &str, name: &str, version: &str, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    fn ns(name: &str, label: Option<(&str, &str)>, annotation: Option<(&str, &str)>) -> Namespace {
        let map = |p: Option<(&str, &str)>| {
            p.map(|(k, v)| BTreeMap::from([(k.to_string(), v.to_string())]))
        };
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: map(label),
                annotations: map(annotation),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    struct World {
        scope: Scope,
        va_namespaces: BTreeSet<String>,
        namespaces: Vec<Namespace>,
    }

    impl World {
        fn refresh(
            &self,
            state: &mut ConfigMapState,
            cms: &[ConfigMap],
        ) -> (Resolved, Vec<Notice>) {
            let namespaces = self
                .namespaces
                .iter()
                .map(|n| (n.metadata.name.clone().unwrap_or_default(), n))
                .collect();
            let config_maps: Vec<&ConfigMap> = cms.iter().collect();
            state.refresh(&Inputs {
                controller_namespace: "wva-system",
                scope: &self.scope,
                va_namespaces: &self.va_namespaces,
                namespaces: &namespaces,
                config_maps: &config_maps,
            })
        }
    }

    fn world() -> World {
        World {
            scope: Scope::default(),
            va_namespaces: BTreeSet::from(["prod".to_string()]),
            namespaces: vec![
                ns("prod", None, None),
                ns("early", Some((labels::CONFIG_ENABLED, "true")), None),
                ns("quiet", None, None),
                ns(
                    "excluded",
                    Some((labels::CONFIG_ENABLED, "true")),
                    Some((labels::EXCLUDE, "true")),
                ),
            ],
        }
    }

    const GLOBAL: &str = "kvCacheThreshold: 0.8\n";
    const LOCAL: &str = "kvCacheThreshold: 0.7\n";

    #[test]
    fn local_maps_count_only_in_tracked_managed_namespaces() {
        let w = world();
        let cms = ["wva-system", "prod", "early", "quiet", "excluded"].map(|n| {
            cm(
                n,
                SATURATION_CONFIG_MAP,
                "1",
                &[("default", if n == "wva-system" { GLOBAL } else { LOCAL })],
            )
        });
        let (resolved, _) = w.refresh(&mut ConfigMapState::default(), &cms);
        assert_eq!(resolved.saturation["default"].kv_cache_threshold, Some(0.8));
        let locals: Vec<&String> = resolved.namespace_saturation.keys().collect();
        assert_eq!(locals, ["early", "prod"]);
        let watched = World {
            scope: Scope::new(None, Some("excluded")),
            ..world()
        };
        let (resolved, _) = watched.refresh(&mut ConfigMapState::default(), &cms);
        assert!(
            resolved.namespace_saturation.contains_key("excluded"),
            "exclusion is ignored for the watched namespace"
        );
    }

    #[test]
    fn invalid_entry_is_rejected_and_the_last_good_one_stays() {
        let w = world();
        let mut state = ConfigMapState::default();
        let (_, notices) = w.refresh(
            &mut state,
            &[cm(
                "wva-system",
                SATURATION_CONFIG_MAP,
                "1",
                &[("default", GLOBAL)],
            )],
        );
        assert_eq!(
            notices,
            [Notice::Updated {
                config_map: ObjectRef::new(SATURATION_CONFIG_MAP).within("wva-system"),
                message: "Updated saturation config",
                old_entries: 0,
                new_entries: 1,
            }]
        );
        let bad = cm(
            "wva-system",
            SATURATION_CONFIG_MAP,
            "2",
            &[
                ("default", "kvCacheThreshold: 2\n"),
                ("m", "model_id: m\nqueueSpareTrigger: 4\n"),
            ],
        );
        let (resolved, notices) = w.refresh(&mut state, std::slice::from_ref(&bad));
        assert_eq!(resolved.saturation["default"].kv_cache_threshold, Some(0.8));
        assert_eq!(resolved.saturation.len(), 2);
        let Notice::Invalid { message, .. } = &notices[0] else {
            panic!("{notices:?}")
        };
        assert_eq!(
            message,
            "Rejected invalid entries of ConfigMap wva-system/wva-saturation-scaling-config: default: kvCacheThreshold is 2, expected 0 < kvCacheThreshold <= 1 (a fraction of the KV cache). The last good version stays in force for: default."
        );
        let (_, again) = w.refresh(&mut state, &[bad]);
        assert!(again.is_empty(), "same version: no repeated warning");
    }

    #[test]
    fn a_kept_override_that_no_longer_resolves_over_the_default_in_force_drops_out() {
        let w = world();
        let mut state = ConfigMapState::default();
        let good = cm(
            "prod",
            SATURATION_CONFIG_MAP,
            "1",
            &[
                ("default", "kvCacheThreshold: 0.3\nkvSpareTrigger: 0.1\n"),
                ("llama", "model_id: llama\nkvSpareTrigger: 0.2\n"),
            ],
        );
        w.refresh(&mut state, &[good]);
        // An override that breaks a rule over the default: rejected, its last good version stays.
        let bad = cm(
            "prod",
            SATURATION_CONFIG_MAP,
            "2",
            &[
                ("default", "kvCacheThreshold: 0.3\nkvSpareTrigger: 0.1\n"),
                ("llama", "model_id: llama\nkvSpareTrigger: 0.35\n"),
            ],
        );
        let (resolved, notices) = w.refresh(&mut state, &[bad]);
        let local = &resolved.namespace_saturation["prod"];
        assert_eq!(local["llama"].kv_spare_trigger, Some(0.2), "last good kept");
        let Notice::Invalid { message, .. } = &notices[0] else {
            panic!("{notices:?}")
        };
        assert_eq!(
            message,
            "Rejected invalid entries of ConfigMap prod/wva-saturation-scaling-config: llama: kvSpareTrigger is 0.35, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.3) (this entry merged over the `default` entry). The last good version stays in force for: llama."
        );
        // A new default under which the kept override would break: the override drops out,
        // so every resolved entry stays valid.
        let lower = cm(
            "prod",
            SATURATION_CONFIG_MAP,
            "3",
            &[
                ("default", "kvCacheThreshold: 0.15\nkvSpareTrigger: 0.1\n"),
                ("llama", "model_id: llama\nkvSpareTrigger: 0.35\n"),
            ],
        );
        let (resolved, notices) = w.refresh(&mut state, &[lower]);
        let local = &resolved.namespace_saturation["prod"];
        assert_eq!(local.keys().collect::<Vec<_>>(), ["default"]);
        let Notice::Invalid { message, .. } = &notices[0] else {
            panic!("{notices:?}")
        };
        assert!(
            message.ends_with("the last good version no longer applies either: kvSpareTrigger is 0.2, expected 0 <= kvSpareTrigger < kvCacheThreshold (0.15) (this entry merged over the `default` entry)."),
            "{message}"
        );
        for entry in local.values() {
            assert!(
                entry
                    .over(wva_api::saturation::SaturationThresholds::default())
                    .validate()
                    .is_ok()
            );
        }
    }

    #[test]
    fn deleting_a_local_map_falls_back_at_once() {
        let w = world();
        let mut state = ConfigMapState::default();
        let global = cm(
            "wva-system",
            SATURATION_CONFIG_MAP,
            "1",
            &[("default", GLOBAL)],
        );
        let local = cm("prod", SATURATION_CONFIG_MAP, "1", &[("default", LOCAL)]);
        let (resolved, _) = w.refresh(&mut state, &[global.clone(), local]);
        assert!(resolved.namespace_saturation.contains_key("prod"));
        let (resolved, notices) = w.refresh(&mut state, &[global]);
        assert!(resolved.namespace_saturation.is_empty());
        assert_eq!(
            notices,
            [Notice::Updated {
                config_map: ObjectRef::new(SATURATION_CONFIG_MAP).within("prod"),
                message: "Updated saturation config",
                old_entries: 1,
                new_entries: 0,
            }]
        );
    }
}
