//! The service-class ConfigMap in force: parsed with [`parse_service_classes`]; an invalid
//! version is rejected as a whole (a Warning `InvalidConfiguration` on the ConfigMap, once
//! per version) and the last good classes stay in force; a deleted ConfigMap takes effect at
//! once (no class: HYBRID decides capacity-only).

use crate::configmaps::Notice;
use crate::keys;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeMap;
use wva_api::service_class::{ServiceClasses, parse_service_classes};

/// The log message of a change of the classes in force.
const UPDATED: &str = "Updated service classes";

/// The classes in force and the ConfigMap version they were read from.
#[derive(Debug, Default)]
pub struct ServiceClassState {
    /// The ConfigMap and resourceVersion last read (valid or not).
    seen: Option<(ObjectRef<ConfigMap>, Option<String>)>,
    /// The last good classes.
    good: ServiceClasses,
}

impl ServiceClassState {
    /// The classes in force.
    pub fn classes(&self) -> &ServiceClasses {
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
        match parse_service_classes(cm.data.as_ref().unwrap_or(&empty)) {
            Ok(classes) => {
                if classes == self.good && !first {
                    return Vec::new();
                }
                let old = std::mem::replace(&mut self.good, classes);
                vec![updated(id, &old, &self.good)]
            }
            Err(problems) => {
                let kept = match self.good.models().count() {
                    0 => "No service class is in force: HYBRID mode decides capacity-only until it is fixed.".to_string(),
                    n => format!("The last good version stays in force ({n} models)."),
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

/// The notice of a change from `old` to `new`, counting models.
fn updated(config_map: ObjectRef<ConfigMap>, old: &ServiceClasses, new: &ServiceClasses) -> Notice {
    Notice::Updated {
        config_map,
        message: UPDATED,
        old_entries: old.models().count(),
        new_entries: new.models().count(),
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
        let slo = state.classes().of("org/llama").expect("class").slo;
        assert_eq!((slo.itl_ms, slo.ttft_ms), (Some(24.0), Some(500.0)));

        let notices = state.refresh(Some(&cm("2", BAD)));
        let [Notice::Invalid { message, .. }] = &notices[..] else {
            panic!("{notices:?}")
        };
        assert_eq!(
            message,
            "Rejected invalid service-class ConfigMap wva-system/serviceclass: serviceClasses: class \"Premium\": priority is 0, expected 1 (highest) to 100 (lowest). The last good version stays in force (1 models)."
        );
        assert_eq!(state.classes().of("org/llama").map(|c| c.priority), Some(1));
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
        assert!(state.classes().of("org/llama").is_none());
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
}
