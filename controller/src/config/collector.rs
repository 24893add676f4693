//! The collector's settings from the loaded configuration.

use std::path::PathBuf;
use wva_api::config::StaticConfig;
use wva_collector::CollectorSettings;

/// The collector settings the loaded configuration gives; empty strings count as unset. Every
/// value, defaults included, comes from the parameter table through `config`.
pub fn collector_settings(config: &StaticConfig) -> CollectorSettings {
    let text = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    let path = |value: &Option<String>| text(value).map(PathBuf::from);
    CollectorSettings {
        base_url: config.prometheus_base_url.clone(),
        allow_http: config.prometheus_allow_http,
        insecure_skip_verify: config.prometheus_tls_insecure_skip_verify,
        ca_cert_path: path(&config.prometheus_ca_cert_path),
        client_cert_path: path(&config.prometheus_client_cert_path),
        client_key_path: path(&config.prometheus_client_key_path),
        server_name: text(&config.prometheus_server_name),
        bearer_token: text(&config.prometheus_bearer_token),
        token_path: path(&config.prometheus_token_path),
        query_timeout: config.prometheus_query_timeout,
        query_retries: config.prometheus_query_retries,
        retry_backoff: config.prometheus_retry_backoff,
        startup_check_retries: config.prometheus_startup_check_retries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wva_api::params::{Params, Sources};

    #[test]
    fn settings_come_from_the_parameter_table() {
        let mut sources = Sources::default();
        for (key, value) in [
            ("PROMETHEUS_BASE_URL", "https://prom:9090"),
            ("PROMETHEUS_BEARER_TOKEN", "secret"),
            ("PROMETHEUS_CA_CERT_PATH", ""),
            ("PROMETHEUS_QUERY_TIMEOUT", "3s"),
        ] {
            sources.env.insert(key.to_string(), value.to_string());
        }
        let config = StaticConfig::resolve(&sources).expect("config");
        let settings = collector_settings(&config);
        assert_eq!(settings.base_url, "https://prom:9090");
        assert_eq!(settings.ca_cert_path, None, "empty is unset");
        assert_eq!(settings.query_timeout, Duration::from_secs(3));
        assert_eq!(settings.query_retries, 2);
        assert_eq!(settings.retry_backoff, Duration::from_millis(500));
        assert!(!format!("{settings:?}").contains("secret"));
        assert_eq!(settings.backoff(0), Duration::from_millis(500));
        assert_eq!(settings.backoff(2), Duration::from_secs(2));
        assert_eq!(settings.backoff(40), Duration::from_secs(30));
    }
}
