//! Which VAs and namespaces this controller manages (docs/controller.md, isolation).
//!
//! * `CONTROLLER_INSTANCE` set: only VAs labelled `wva.llmd.ai/controller-instance=<value>`;
//!   unset: every VA, labelled or not.
//! * A namespace annotated `wva.llmd.ai/exclude: "true"` is ignored entirely, unless it is the
//!   namespace given by `--watch-namespace`.
//! * `--watch-namespace` set: only that namespace.

use std::collections::BTreeMap;
use wva_api::crd::labels;

/// The scope rules of one controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `CONTROLLER_INSTANCE`, when set and non-empty.
    pub controller_instance: Option<String>,
    /// `WATCH_NAMESPACE`, when set and non-empty.
    pub watch_namespace: Option<String>,
}

impl Scope {
    /// The scope from the two parameters; empty strings count as unset.
    pub fn new(controller_instance: Option<&str>, watch_namespace: Option<&str>) -> Self {
        let set = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
        Scope {
            controller_instance: set(controller_instance),
            watch_namespace: set(watch_namespace),
        }
    }

    /// The label selector for watching VAs: the instance label when an instance is set.
    pub fn va_label_selector(&self) -> Option<String> {
        self.controller_instance
            .as_ref()
            .map(|i| format!("{}={i}", labels::CONTROLLER_INSTANCE))
    }

    /// True when a VA with these labels belongs to this controller instance.
    pub fn owns_va(&self, va_labels: Option<&BTreeMap<String, String>>) -> bool {
        match &self.controller_instance {
            None => true,
            Some(instance) => {
                va_labels.and_then(|l| l.get(labels::CONTROLLER_INSTANCE)) == Some(instance)
            }
        }
    }

    /// True when objects in `namespace` (with the namespace's annotations) are managed.
    pub fn manages_namespace(
        &self,
        namespace: &str,
        annotations: Option<&BTreeMap<String, String>>,
    ) -> bool {
        match &self.watch_namespace {
            Some(watched) => watched == namespace,
            None => !is_excluded(annotations),
        }
    }
}

/// True when the namespace carries `wva.llmd.ai/exclude: "true"` (or another true value of
/// the parameters' boolean grammar: `yes`, `on`, `1`, any case).
pub fn is_excluded(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations
        .and_then(|a| a.get(labels::EXCLUDE))
        .is_some_and(|v| is_true(v))
}

/// True when `text` reads as true in the parameters' boolean grammar.
fn is_true(text: &str) -> bool {
    wva_api::params::grammar::parse_bool(text) == Ok(true)
}

/// True when the namespace opted in to namespace-local ConfigMaps before any VA exists.
pub fn is_config_enabled(ns_labels: Option<&BTreeMap<String, String>>) -> bool {
    ns_labels
        .and_then(|l| l.get(labels::CONFIG_ENABLED))
        .is_some_and(|v| is_true(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn instance_filters_by_label_and_unset_manages_every_va() {
        let labelled = map(&[(labels::CONTROLLER_INSTANCE, "team-a")]);
        let other = map(&[(labels::CONTROLLER_INSTANCE, "team-b")]);
        let a = Scope::new(Some("team-a"), None);
        assert!(a.owns_va(Some(&labelled)));
        assert!(!a.owns_va(Some(&other)));
        assert!(!a.owns_va(None));
        assert_eq!(
            a.va_label_selector().as_deref(),
            Some("wva.llmd.ai/controller-instance=team-a")
        );
        let none = Scope::new(Some(""), None);
        assert!(none.owns_va(None) && none.owns_va(Some(&labelled)));
        assert_eq!(none.va_label_selector(), None);
    }

    #[test]
    fn exclusion_is_ignored_for_the_watched_namespace_only() {
        let excluded = map(&[(labels::EXCLUDE, "true")]);
        let all = Scope::new(None, None);
        assert!(!all.manages_namespace("team", Some(&excluded)));
        assert!(all.manages_namespace("team", None));
        let watched = Scope::new(None, Some("team"));
        assert!(watched.manages_namespace("team", Some(&excluded)));
        assert!(!watched.manages_namespace("other", None));
    }

    #[test]
    fn opt_in_label_must_be_true() {
        assert!(is_config_enabled(Some(&map(&[(
            labels::CONFIG_ENABLED,
            "true"
        )]))));
        assert!(!is_config_enabled(Some(&map(&[(
            labels::CONFIG_ENABLED,
            "yes-please"
        )]))));
        assert!(!is_config_enabled(None));
        // The one boolean grammar: `on` reads as true here as in every parameter.
        assert!(is_config_enabled(Some(&map(&[(
            labels::CONFIG_ENABLED,
            "On"
        )]))));
        assert!(is_excluded(Some(&map(&[(labels::EXCLUDE, "yes")]))));
        assert!(!is_excluded(Some(&map(&[(labels::EXCLUDE, "off")]))));
    }
}
