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

/// `namespace/name` of the main ConfigMap, from `POD_NAMESPACE` and `CONFIG_MAP_NAME`.
pub fn config_map_location(sources: &Sources) -> (String, String) {
    let namespace = StaticConfig::POD_NAMESPACE
        .resolve(sources)
        .unwrap_or_default();
    let name = StaticConfig::CONFIG_MAP_NAME
        .resolve(sources)
        .unwrap_or_default();
    (namespace, name)
}

impl Config {
    /// Every parameter with its resolved value, as (key, value).
    pub fn values(&self) -> BTreeMap<&'static str, String> {
        self.static_config
            .values()
            .into_iter()
            .chain(self.dynamic_config.values())
            .map(|entry| (entry.spec.key, entry.value))
            .collect()
    }

    /// Warnings for parameters of features that have not landed but were set anyway.
    pub fn inert_warnings(&self) -> Vec<String> {
        self.static_config
            .inert_settings()
            .into_iter()
            .chain(self.dynamic_config.inert_settings())
            .map(|entry| {
                format!(
                    "{}={:?} has no effect yet: {} has not landed",
                    entry.spec.key,
                    entry.value,
                    entry.spec.pending.unwrap_or_default()
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{explicit_flags, run_command};
    use std::time::Duration;
    use wva_api::params::diff;

    const CM: &str = "wva-system/wva-variantautoscaling-config";

    fn sources(flags: &[&str], env: &[(&str, &str)], config_map: &[(&str, &str)]) -> Sources {
        let args = std::iter::once("run").chain(flags.iter().copied());
        let matches = run_command()
            .try_get_matches_from(args)
            .expect("valid command line");
        let pairs = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Sources {
            flags: explicit_flags(&matches),
            env: pairs(env),
            config_map_id: CM.to_string(),
            config_map: pairs(config_map),
        }
    }

    const URL: (&str, &str) = ("PROMETHEUS_BASE_URL", "https://prometheus:9090");

    fn metrics_address(s: &Sources) -> String {
        load(s)
            .expect("valid")
            .static_config
            .metrics_bind_address
            .socket_addr()
            .map_or("0".into(), |a| a.to_string())
    }

    #[test]
    fn explicit_flag_beats_env_which_beats_config_map_which_beats_default() {
        let cm = [URL, ("METRICS_BIND_ADDRESS", ":9090")];
        let env = [("METRICS_BIND_ADDRESS", ":8080")];
        assert_eq!(
            metrics_address(&sources(&["--metrics-bind-address=:8443"], &env, &cm)),
            "0.0.0.0:8443"
        );
        assert_eq!(metrics_address(&sources(&[], &env, &cm)), "0.0.0.0:8080");
        assert_eq!(metrics_address(&sources(&[], &[], &cm)), "0.0.0.0:9090");
        assert_eq!(metrics_address(&sources(&[], &[], &[URL])), "0");
    }

    #[test]
    fn a_flag_not_passed_does_not_override_env_or_config_map() {
        // --leader-elect defaults to false, but it was not passed: env's true wins.
        let s = sources(&[], &[("LEADER_ELECT", "true")], &[URL]);
        assert!(s.flags.is_empty());
        assert!(load(&s).expect("valid").static_config.leader_elect);
        let s = sources(&[], &[], &[URL, ("LEADER_ELECT", "true")]);
        assert!(load(&s).expect("valid").static_config.leader_elect);
    }

    #[test]
    fn bare_bool_flag_means_true_and_explicit_false_beats_env() {
        let s = sources(&["--leader-elect"], &[URL], &[]);
        assert!(load(&s).expect("valid").static_config.leader_elect);
        let s = sources(
            &["--leader-elect=false"],
            &[URL, ("LEADER_ELECT", "true")],
            &[],
        );
        assert!(!load(&s).expect("valid").static_config.leader_elect);
    }

    fn only_error(s: &Sources) -> String {
        let errors = load(s).expect_err("invalid").errors;
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].message.clone()
    }

    #[test]
    fn bad_values_name_the_key_the_source_the_value_and_the_fix() {
        let flag = only_error(&sources(&["--rest-client-timeout=soon"], &[URL], &[]));
        assert!(flag.starts_with(r#"invalid value "soon" for REST_CLIENT_TIMEOUT from flag --rest-client-timeout: expected a duration"#), "{flag}");
        assert!(
            flag.ends_with("fix the value or remove it to use the default (60s)"),
            "{flag}"
        );
        let env = only_error(&sources(
            &[],
            &[URL, ("WVA_LIMITED_MODE", "sometimes")],
            &[],
        ));
        assert!(env.starts_with(r#"invalid value "sometimes" for WVA_LIMITED_MODE from env var WVA_LIMITED_MODE: expected true/false, yes/no, on/off or 1/0 (any case)"#), "{env}");
        let cm = only_error(&sources(&[], &[URL], &[("GLOBAL_OPT_INTERVAL", "0s")]));
        assert_eq!(
            cm,
            format!(
                r#"invalid value "0s" for GLOBAL_OPT_INTERVAL from ConfigMap {CM} key GLOBAL_OPT_INTERVAL: must be at least 1s; fix the value or remove it to use the default (60s)"#
            )
        );
    }

    #[test]
    fn prometheus_url_must_be_https_with_a_host_unless_http_is_allowed() {
        for (url, why) in [
            (
                "not a url",
                "expected an absolute http(s) URL with a host, like https://prometheus:9090, got \"not a url\"; fix the URL",
            ),
            (
                "ftp://x",
                "(the scheme must be https or http, not \"ftp\"); fix the URL",
            ),
            ("https://", "(no host); fix the URL"),
            (
                "http://prometheus:9090",
                "plain http:// sends queries and the bearer token unencrypted; use https://, or set PROMETHEUS_ALLOW_HTTP=true to accept it",
            ),
        ] {
            let message = only_error(&sources(&[], &[("PROMETHEUS_BASE_URL", url)], &[]));
            assert!(
                message.starts_with(&format!("invalid value {url:?} for PROMETHEUS_BASE_URL from env var PROMETHEUS_BASE_URL: ")),
                "{message}"
            );
            assert!(message.ends_with(why), "{message}");
        }
        let allowed = sources(
            &[],
            &[("PROMETHEUS_BASE_URL", "http://prometheus:9090")],
            &[("PROMETHEUS_ALLOW_HTTP", "on")],
        );
        assert!(load(&allowed).is_ok());
    }

    #[test]
    fn cross_field_rules_name_the_key_the_value_and_the_rule() {
        let renew = only_error(&sources(
            &["--leader-election-renew-deadline=90s"],
            &[URL],
            &[],
        ));
        assert_eq!(
            renew,
            "invalid value \"90s\" for LEADER_ELECTION_RENEW_DEADLINE from flag --leader-election-renew-deadline: the renew deadline must be below LEADER_ELECTION_LEASE_DURATION (60s); lower it or raise LEADER_ELECTION_LEASE_DURATION"
        );
        let instance = only_error(&sources(
            &[],
            &[URL, ("CONTROLLER_INSTANCE", "bad label!")],
            &[],
        ));
        assert_eq!(
            instance,
            "invalid value \"bad label!\" for CONTROLLER_INSTANCE from env var CONTROLLER_INSTANCE: it becomes the label value of wva.llmd.ai/controller-instance, but ' ' is not allowed (use letters, digits, '-', '_' and '.')"
        );
        let cert = only_error(&sources(
            &[],
            &[URL, ("PROMETHEUS_CLIENT_CERT_PATH", "/tls/client.crt")],
            &[],
        ));
        assert!(
            cert.ends_with("a client certificate needs its key: set PROMETHEUS_CLIENT_KEY_PATH too, or unset both"),
            "{cert}"
        );
        let interval = only_error(&sources(
            &[],
            &[URL],
            &[("GLOBAL_OPT_INTERVAL", "99999999h")],
        ));
        assert_eq!(
            interval,
            format!(
                "invalid value \"99999999h\" for GLOBAL_OPT_INTERVAL from ConfigMap {CM} key GLOBAL_OPT_INTERVAL: must be at most 24h; fix the value or remove it to use the default (60s)"
            )
        );
    }

    #[test]
    fn missing_prometheus_url_says_where_to_set_it() {
        let message = only_error(&sources(&[], &[], &[]));
        assert_eq!(
            message,
            format!(
                "PROMETHEUS_BASE_URL is required but not set: set the env var PROMETHEUS_BASE_URL or the key PROMETHEUS_BASE_URL in ConfigMap {CM}"
            )
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let s = sources(
            &["-v", "x"],
            &[("ENABLE_HTTP2", "maybe")],
            &[("GLOBAL_OPT_INTERVAL", "2")],
        );
        let keys: Vec<&str> = load(&s)
            .expect_err("invalid")
            .errors
            .iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(
            keys,
            [
                "ENABLE_HTTP2",
                "V",
                "PROMETHEUS_BASE_URL",
                "GLOBAL_OPT_INTERVAL"
            ]
        );
    }

    #[test]
    fn env_only_parameters_are_never_read_from_the_config_map() {
        let s = sources(&[], &[URL], &[("CONFIG_MAP_NAME", "other")]);
        assert_eq!(
            load(&s).expect("valid").static_config.config_map_name,
            "wva-variantautoscaling-config"
        );
    }

    #[test]
    fn diff_classifies_each_changed_key_as_mutable_or_not() {
        let old = load(&sources(&[], &[], &[URL])).expect("valid");
        let new = load(&sources(
            &[],
            &[],
            &[
                ("PROMETHEUS_BASE_URL", "https://new-prometheus:9090"),
                ("GLOBAL_OPT_INTERVAL", "120s"),
            ],
        ))
        .expect("valid");
        assert_eq!(
            new.dynamic_config.global_opt_interval,
            Duration::from_secs(120)
        );
        let changed: Vec<(&str, bool, String, String)> =
            diff(&old.static_config, &new.static_config)
                .into_iter()
                .chain(diff(&old.dynamic_config, &new.dynamic_config))
                .map(|c| (c.spec.key, c.spec.mutable, c.old, c.new))
                .collect();
        assert_eq!(
            changed,
            [
                (
                    "PROMETHEUS_BASE_URL",
                    false,
                    "https://prometheus:9090".into(),
                    "https://new-prometheus:9090".into()
                ),
                ("GLOBAL_OPT_INTERVAL", true, "60s".into(), "120s".into()),
            ]
        );
    }

    #[test]
    fn features_that_have_not_landed_warn_when_set() {
        let quiet = load(&sources(&[], &[URL], &[])).expect("valid");
        assert!(quiet.inert_warnings().is_empty());
        let set = load(&sources(
            &[],
            &[URL, ("PROMETHEUS_METRICS_CACHE_TTL", "45s")],
            &[],
        ))
        .expect("valid");
        assert_eq!(
            set.inert_warnings(),
            [
                r#"PROMETHEUS_METRICS_CACHE_TTL="45s" has no effect yet: the Prometheus metrics cache has not landed"#
            ]
        );
        let landed = load(&sources(
            &[],
            &[URL, ("EXPERIMENTAL_PROACTIVE_MODEL", "true")],
            &[],
        ))
        .expect("valid");
        assert!(landed.inert_warnings().is_empty(), "HYBRID mode has landed");
    }
}
