//! The parameter table against the reference users were promised: every key below keeps its
//! flag, type and default (see generated/docs/parameters.md).

use wva_api::render::parameters;

/// (env / ConfigMap key, CLI flag, type, default) for every documented parameter.
const DOCUMENTED_PARAMETERS: &[(&str, Option<&str>, &str, &str)] = &[
    (
        "METRICS_BIND_ADDRESS",
        Some("--metrics-bind-address"),
        "address",
        "0",
    ),
    (
        "HEALTH_PROBE_BIND_ADDRESS",
        Some("--health-probe-bind-address"),
        "address",
        ":8081",
    ),
    ("LEADER_ELECT", Some("--leader-elect"), "bool", "false"),
    ("LEADER_ELECTION_ID", None, "string", "72dd1cf1.llm-d.ai"),
    (
        "LEADER_ELECTION_LEASE_DURATION",
        Some("--leader-election-lease-duration"),
        "duration",
        "60s",
    ),
    (
        "LEADER_ELECTION_RENEW_DEADLINE",
        Some("--leader-election-renew-deadline"),
        "duration",
        "50s",
    ),
    (
        "LEADER_ELECTION_RETRY_PERIOD",
        Some("--leader-election-retry-period"),
        "duration",
        "10s",
    ),
    (
        "REST_CLIENT_TIMEOUT",
        Some("--rest-client-timeout"),
        "duration",
        "60s",
    ),
    ("METRICS_SECURE", Some("--metrics-secure"), "bool", "true"),
    ("ENABLE_HTTP2", Some("--enable-http2"), "bool", "false"),
    (
        "WATCH_NAMESPACE",
        Some("--watch-namespace"),
        "string",
        "\"\"",
    ),
    ("V", Some("-v"), "int", "2"),
    (
        "WEBHOOK_CERT_PATH",
        Some("--webhook-cert-path"),
        "string",
        "\"\"",
    ),
    (
        "WEBHOOK_CERT_NAME",
        Some("--webhook-cert-name"),
        "string",
        "tls.crt",
    ),
    (
        "WEBHOOK_CERT_KEY",
        Some("--webhook-cert-key"),
        "string",
        "tls.key",
    ),
    (
        "METRICS_CERT_PATH",
        Some("--metrics-cert-path"),
        "string",
        "\"\"",
    ),
    (
        "METRICS_CERT_NAME",
        Some("--metrics-cert-name"),
        "string",
        "tls.crt",
    ),
    (
        "METRICS_CERT_KEY",
        Some("--metrics-cert-key"),
        "string",
        "tls.key",
    ),
    ("WVA_SCALE_TO_ZERO", None, "bool", "false"),
    ("WVA_LIMITED_MODE", None, "bool", "false"),
    ("SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY", None, "int", "10"),
];

#[test]
fn every_documented_parameter_is_declared_with_its_flag_type_and_default() {
    for (key, flag, value_type, default) in DOCUMENTED_PARAMETERS {
        let spec = parameters()
            .find(|s| s.key == *key)
            .unwrap_or_else(|| panic!("{key} is not declared"));
        assert_eq!(spec.flag_display().as_deref(), *flag, "{key} flag");
        assert_eq!(spec.value_type, *value_type, "{key} type");
        assert_eq!(spec.default_display(), *default, "{key} default");
    }
}

#[test]
fn mutability_follows_the_guide() {
    let mutable: Vec<&str> = parameters().filter(|s| s.mutable).map(|s| s.key).collect();
    assert!(mutable.contains(&"GLOBAL_OPT_INTERVAL"));
    assert!(mutable.iter().all(|k| matches!(
        *k,
        "GLOBAL_OPT_INTERVAL" | "SCALE_FROM_ZERO_CHECK_INTERVAL"
    ) || k.starts_with("PROMETHEUS_METRICS_CACHE_")));
    for immutable in [
        "PROMETHEUS_BASE_URL",
        "METRICS_BIND_ADDRESS",
        "HEALTH_PROBE_BIND_ADDRESS",
        "LEADER_ELECTION_ID",
        "WEBHOOK_CERT_PATH",
        "WEBHOOK_CERT_NAME",
        "WEBHOOK_CERT_KEY",
        "METRICS_CERT_PATH",
        "METRICS_CERT_NAME",
        "METRICS_CERT_KEY",
        "WVA_SCALE_TO_ZERO",
        "WVA_LIMITED_MODE",
    ] {
        assert!(
            !mutable.contains(&immutable),
            "{immutable} must need a restart"
        );
    }
}

#[test]
fn the_other_documented_settings_are_declared() {
    for key in [
        "PROMETHEUS_BASE_URL",
        "PROMETHEUS_TLS_INSECURE_SKIP_VERIFY",
        "PROMETHEUS_CA_CERT_PATH",
        "PROMETHEUS_CLIENT_CERT_PATH",
        "PROMETHEUS_CLIENT_KEY_PATH",
        "PROMETHEUS_SERVER_NAME",
        "PROMETHEUS_BEARER_TOKEN",
        "CONFIG_MAP_NAME",
        "POD_NAMESPACE",
        "CONTROLLER_INSTANCE",
        "GLOBAL_OPT_INTERVAL",
        "EXPERIMENTAL_PROACTIVE_MODEL",
    ] {
        assert!(parameters().any(|s| s.key == key), "{key} is not declared");
    }
    let required: Vec<&str> = parameters().filter(|s| s.required).map(|s| s.key).collect();
    assert_eq!(required, ["PROMETHEUS_BASE_URL"]);
}

#[test]
fn no_two_parameters_share_a_key_or_flag_across_structs() {
    let mut keys: Vec<String> = parameters().map(|s| s.key.to_string()).collect();
    keys.extend(parameters().filter_map(|s| s.flag_display()));
    let before = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(before, keys.len(), "duplicate key or flag");
}

#[test]
fn unlanded_features_and_secrets_are_marked() {
    let pending: Vec<&str> = parameters()
        .filter(|s| s.pending.is_some())
        .map(|s| s.key)
        .collect();
    for key in ["PROMETHEUS_METRICS_CACHE_ENABLED", "WEBHOOK_CERT_PATH"] {
        assert!(
            pending.contains(&key),
            "{key} should say it has no effect yet"
        );
    }
    for key in [
        "SCALE_FROM_ZERO_ENGINE_MAX_CONCURRENCY",
        "SCALE_FROM_ZERO_CHECK_INTERVAL",
        "SCALE_FROM_ZERO_SOURCE",
        "SCALE_FROM_ZERO_ACTUATION",
        "EXPERIMENTAL_PROACTIVE_MODEL",
        "SERVICE_CLASS_CONFIG_MAP_NAME",
    ] {
        assert!(!pending.contains(&key), "{key} has landed");
    }
    let token = parameters()
        .find(|s| s.key == "PROMETHEUS_BEARER_TOKEN")
        .expect("declared");
    assert_eq!(token.display_value("abc"), "<redacted>");
    assert!(
        wva_api::render::parameters_markdown()
            .expect("parameter reference renders")
            .contains("Not effective yet: the Prometheus metrics cache has not landed")
    );
}

#[test]
fn the_reference_shows_each_range_and_the_boolean_grammar() {
    let markdown = wva_api::render::parameters_markdown().expect("parameter reference renders");
    for row in [
        "| `GLOBAL_OPT_INTERVAL` | duration | `60s` | 1s to 24h | yes |",
        "| `PROMETHEUS_QUERY_RETRIES` | int | `2` | at most 10 |",
        "| `LEADER_ELECT` | bool | `false` | — |",
    ] {
        assert!(markdown.contains(row), "{row} not in the reference");
    }
    assert!(markdown.contains("A `bool` is one of true/false, yes/no, on/off or 1/0 (any case)."));
    let bounded = parameters()
        .filter(|s| s.min.is_some() || s.max.is_some())
        .count();
    assert!(bounded >= 10, "{bounded} parameters have a range");
}
