//! Loading the whole configuration from its sources.

use std::collections::BTreeMap;
use wva_api::config::{DynamicConfig, StaticConfig};
use wva_api::params::{LoadError, Params, Sources};

/// The resolved configuration: restart-only and live parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Parameters read once at startup.
    pub static_config: StaticConfig,
    /// Parameters that may change at runtime through the main ConfigMap.
    pub dynamic_config: DynamicConfig,
}

/// Resolves both parts from the same sources; every bad or missing value of either part is
/// reported in one error.
pub fn load(sources: &Sources) -> Result<Config, LoadError> {
    match (
        StaticConfig::resolve(sources),
        DynamicConfig::resolve(sources),
    ) {
        (Ok(static_config), Ok(dynamic_config)) => Ok(Config {
            static_config,
            dynamic_config,
        }),
        (s, d) => {
            let errors = [s.err(), d.err()]
                .into_iter()
                .flatten()
                .flat_map(|e| e.errors)
                .collect();
            Err(LoadError::new(errors))
        }
    }
}

impl Config {
    /// Every parameter with its resolved value, as (key, value).
    pub fn values(&self) -> BTreeMap<&'static str, String> {
        self.static_config
            .values()
            .into_iter()
            .chain(self.dynamic_config.values())
            .map(|(spec, value)| (spec.key, value))
            .collect()
    }

    /// Warnings for parameters of features that have not landed but were set anyway.
    pub fn inert_warnings(&self) -> Vec<String> {
        self.static_config
            .inert_settings()
            .into_iter()
            .chain(self.dynamic_config.inert_settings())
            .map(|(spec, value)| {
                format!(
                    "{}={value:?} has no effect yet: {} has not landed",
                    spec.key,
                    spec.pending.unwrap_or_default()
                )
            })
            .collect()
    }
}
