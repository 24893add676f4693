//! Keys of the main ConfigMap that no parameter reads: each is ignored, with a warning that
//! suggests the closest parameter key (a typo such as `GLOBAL_OPT_INTERVL` would otherwise be
//! silently ignored and the default used).

use std::collections::BTreeMap;
use wva_api::render::parameters;

/// One key of the main ConfigMap that is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The data key.
    pub key: String,
    /// What to do about it: the closest parameter key, or that the key is env-only.
    pub hint: String,
}

impl UnknownKey {
    /// The warning, naming the ConfigMap `config_map_id` (`namespace/name`).
    pub fn message(&self, config_map_id: &str) -> String {
        format!(
            "ConfigMap {config_map_id} key {} is not a parameter and is ignored: {}",
            self.key, self.hint
        )
    }
}

/// The keys of `data` that no parameter reads from the main ConfigMap, in key order.
pub fn unknown_keys(data: &BTreeMap<String, String>) -> Vec<UnknownKey> {
    data.keys()
        .filter_map(|key| {
            let spec = parameters().find(|s| s.key == key);
            let hint = match spec {
                Some(spec) if spec.env_only => format!(
                    "{key} is read from the environment only; set the env var {key} instead"
                ),
                Some(_) => return None,
                None => match closest(key) {
                    Some(known) => format!("did you mean {known}?"),
                    None => "see `wva params` for the parameter keys".to_string(),
                },
            };
            Some(UnknownKey {
                key: key.clone(),
                hint,
            })
        })
        .collect()
}

/// The ConfigMap key of a parameter closest to `key`, compared in upper case.
fn closest(key: &str) -> Option<&'static str> {
    let wanted = key.to_ascii_uppercase();
    wva_api::suggest::closest(&wanted, parameters().filter(|s| !s.env_only).map(|s| s.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[&str]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|k| (k.to_string(), "x".to_string()))
            .collect()
    }

    #[test]
    fn typos_get_a_did_you_mean_and_known_keys_pass() {
        let found = unknown_keys(&keys(&[
            "GLOBAL_OPT_INTERVL",
            "WVA_SCALE_TO_ZER0",
            "GLOBAL_OPT_INTERVAL",
            "CONFIG_MAP_NAME",
            "SOMETHING_ELSE_ENTIRELY",
            "global_opt_interval",
        ]));
        let messages: Vec<String> = found.iter().map(|u| u.message("ns/cm")).collect();
        assert_eq!(
            messages,
            [
                "ConfigMap ns/cm key CONFIG_MAP_NAME is not a parameter and is ignored: CONFIG_MAP_NAME is read from the environment only; set the env var CONFIG_MAP_NAME instead",
                "ConfigMap ns/cm key GLOBAL_OPT_INTERVL is not a parameter and is ignored: did you mean GLOBAL_OPT_INTERVAL?",
                "ConfigMap ns/cm key SOMETHING_ELSE_ENTIRELY is not a parameter and is ignored: see `wva params` for the parameter keys",
                "ConfigMap ns/cm key WVA_SCALE_TO_ZER0 is not a parameter and is ignored: did you mean WVA_SCALE_TO_ZERO?",
                "ConfigMap ns/cm key global_opt_interval is not a parameter and is ignored: did you mean GLOBAL_OPT_INTERVAL?",
            ]
        );
    }
}
