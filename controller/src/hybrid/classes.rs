//! The service-class ConfigMap in force: its classes parsed with [`parse_service_classes`],
//! its [`PERFORMANCE_KEY`] with [`parse_performance`]; an invalid version is rejected as a
//! whole (a Warning `InvalidConfiguration` on the ConfigMap, once per version) and the last
//! good one stays in force; a deleted ConfigMap takes effect at once (no class: HYBRID
//! decides capacity-only).

use super::configured::{ConfiguredPerf, PERFORMANCE_KEY, parse_performance};
use crate::configmaps::Notice;
use crate::keys;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeMap;
use wva_api::service_class::{ServiceClasses, parse_service_classes};

/// The log message of a change of the classes in force.
const UPDATED: &str = "Updated service classes";

/// What one valid version of the ConfigMap says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceClassConfig {
    /// The class of each model.
    pub classes: ServiceClasses,
    /// Performance parameters given per variant.
    pub perf: ConfiguredPerf,
}

impl ServiceClassConfig {
    /// Parses a ConfigMap's data; all the problems when it is invalid.
    pub fn parse(data: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let mut classes_data = data.clone();
        let perf = match classes_data.remove(PERFORMANCE_KEY) {
            Some(text) => parse_performance(&text),
            None => Ok(ConfiguredPerf::default()),
        };
        match (parse_service_classes(&classes_data), perf) {
            (Ok(classes), Ok(perf)) => Ok(ServiceClassConfig { classes, perf }),
            (classes, perf) => Err([classes.err(), perf.err()]
                .into_iter()
                .flatten()
                .flatten()
                .collect()),
        }
    }

    /// Models with a class plus variants with parameters: the entries the log counts.
    pub fn entries(&self) -> usize {
        self.classes.models().count() + self.perf.len()
    }
}

/// The configuration in force and the ConfigMap version it was read from.
#[derive(Debug, Default)]
pub struct ServiceClassState {
    /// The ConfigMap and resourceVersion last read (valid or not).
    seen: Option<(ObjectRef<ConfigMap>, Option<String>)>,
    /// The last good configuration.
    good: ServiceClassConfig,
}

impl ServiceClassState {
    /// The configuration in force.
    pub fn config(&self) -> &ServiceClassConfig {
        &self.good
    }

    /// Reads the service-class ConfigMap as the cache holds it now (`None`: absent).
    pub fn refresh(&mut self, config_map: Option<&ConfigMap>) -> Vec<Notice> {
        let Some(cm) = config_map else {
            return match self.seen.take() {
                Some((id, _)) => {
                    let old = std::mem::take(&mut self.good);
                    vec![updated(id, &old, &self.good)]
                }
                None => Vec::new(),
            };
        };
        let id = keys::of(cm);
        let version = cm.metadata.resource_version.clone();
        if version.is_some() && self.seen.as_ref() == Some(&(id.clone(), version.clone())) {
            return Vec::new();
        }
        let first = self.seen.is_none();
        self.seen = Some((id.clone(), version));
        let empty = BTreeMap::new();
        match ServiceClassConfig::parse(cm.data.as_ref().unwrap_or(&empty)) {
            Ok(config) => {
                if config == self.good && !first {
                    return Vec::new();
                }
                let old = std::mem::replace(&mut self.good, config);
                vec![updated(id, &old, &self.good)]
            }
            Err(problems) => {
                let kept = if self.good.classes.models().next().is_none()
                    && self.good.perf.is_empty()
                {
                    "No service class is in force: HYBRID mode decides capacity-only until it is fixed.".to_string()
                } else {
                    format!(
                        "The last good version stays in force ({} entries).",
                        self.good.entries()
                    )
                };
                vec![Notice::Invalid {
                    message: format!(
                        "Rejected invalid service-class ConfigMap {}: {}. {kept}",
                        keys::display(&id),
                        problems.join("; ")
                    ),
                    config_map: id,
                }]
            }
        }
    }
}

/// The notice of a change from `old` to `new`, counting entries.
fn updated(
    config_map: ObjectRef<ConfigMap>,
    old: &ServiceClassConfig,
    new: &ServiceClassConfig,
) -> Notice {
    Notice::Updated {
        config_map,
        message: UPDATED,
        old_entries: old.entries(),
        new_entries: new.entries(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn cm(version: &str, classes: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some("wva-system".into()),
                name: Some("serviceclass".into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                "serviceClasses".to_string(),
                classes.to_string(),
            )])),
            ..ConfigMap::default()
        }
    }

    const GOOD: &str =
        "- name: Premium\n  model: org/llama\n  priority: 1\n  slo-itl: 24\n  slo-ttw: 500\n";
    const BAD: &str = "- name: Premium\n  model: org/llama\n  priority: 0\n  slo-itl: 24\n";

    #[test]
    fn an_invalid_version_is_rejected_once_and_the_last_good_one_stays() {
        let mut state = ServiceClassState::default();
        let notices = state.refresh(Some(&cm("1", GOOD)));
        assert!(
            matches!(
                &notices[..],
                [Notice::Updated {
                    message: UPDATED,
                    old_entries: 0,
                    new_entries: 1,
                    ..
                }]
            ),
            "{notices:?}"
        );
        let slo = state.config().classes.of("org/llama").expect("class").slo;
        assert_eq!((slo.itl_ms, slo.ttft_ms), (Some(24.0), Some(500.0)));

        let notices = state.refresh(Some(&cm("2", BAD)));
        let [Notice::Invalid { message, .. }] = &notices[..] else {
            panic!("{notices:?}")
        };
        assert_eq!(
            message,
            "Rejected invalid service-class ConfigMap wva-system/serviceclass: serviceClasses: class \"Premium\": priority is 0, expected 1 (highest) to 100 (lowest). The last good version stays in force (1 entries)."
        );
        assert_eq!(
            state.config().classes.of("org/llama").map(|c| c.priority),
            Some(1)
        );
        assert!(
            state.refresh(Some(&cm("2", BAD))).is_empty(),
            "once per version"
        );

        assert!(matches!(
            &state.refresh(None)[..],
            [Notice::Updated {
                old_entries: 1,
                new_entries: 0,
                ..
            }]
        ));
        assert!(state.config().classes.of("org/llama").is_none());
        let notices = state.refresh(Some(&cm("3", BAD)));
        let [Notice::Invalid { message, .. }] = &notices[..] else {
            panic!("{notices:?}")
        };
        assert!(
            message.ends_with(
                "No service class is in force: HYBRID mode decides capacity-only until it is fixed."
            ),
            "{message}"
        );
    }

    #[test]
    fn performance_parameters_are_read_from_their_key_and_their_errors_reject_the_version() {
        let mut state = ServiceClassState::default();
        let mut map = cm("1", GOOD);
        let data = map.data.get_or_insert_default();
        data.insert(
            PERFORMANCE_KEY.into(),
            "- variant: chat\n  alpha: 8\n  beta: 0.01\n  gamma: 0.001\n".into(),
        );
        state.refresh(Some(&map));
        let config = state.config();
        assert_eq!(config.perf.of("any", "chat").map(|p| p.alpha), Some(8.0));
        assert!(config.classes.of("org/llama").is_some());

        let mut bad = cm("2", GOOD);
        bad.data.get_or_insert_default().insert(
            PERFORMANCE_KEY.into(),
            "- variant: chat\n  alpha: -8\n  beta: 0.01\n  gamma: 0.001\n".into(),
        );
        let notices = state.refresh(Some(&bad));
        let [Notice::Invalid { message, .. }] = &notices[..] else {
            panic!("{notices:?}")
        };
        assert!(
            message.contains("performanceParameters: variant \"chat\": alpha is -8, expected milliseconds above 0")
                && message.ends_with("The last good version stays in force (2 entries)."),
            "{message}"
        );
        assert_eq!(
            state.config().perf.of("any", "chat").map(|p| p.alpha),
            Some(8.0)
        );
    }
}
