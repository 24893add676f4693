//! Helpers shared by the collector's integration tests.
#![allow(dead_code)]

use std::time::Duration;
use wva_api::config::StaticConfig;
use wva_api::params::{Params, Sources};
use wva_collector::CollectorSettings;

/// Settings for `url` with every other value at its parameter-table default, built the way the
/// controller builds them.
pub fn defaults(url: &str) -> CollectorSettings {
    let mut sources = Sources::default();
    // The only required parameter; replaced by `url` below, which may be invalid on purpose.
    sources.env.insert(
        "PROMETHEUS_BASE_URL".to_string(),
        "https://prometheus.invalid".to_string(),
    );
    let config = StaticConfig::resolve(&sources).expect("the parameter defaults resolve");
    CollectorSettings {
        base_url: url.to_string(),
        ..wva_controller::config::collector_settings(&config)
    }
}

/// Settings for a plain-HTTP test endpoint with short waits.
pub fn plain(url: &str) -> CollectorSettings {
    CollectorSettings {
        allow_http: true,
        query_timeout: Duration::from_secs(5),
        query_retries: 1,
        retry_backoff: Duration::from_millis(10),
        startup_check_retries: 2,
        ..defaults(url)
    }
}

/// A successful Prometheus vector answer with `series` (labels as JSON object text, value).
pub fn vector_answer<'a>(series: impl IntoIterator<Item = (String, &'a str)>) -> String {
    let result: Vec<String> = series
        .into_iter()
        .map(|(labels, value)| {
            format!(r#"{{"metric":{labels},"value":[1700000000.123,"{value}"]}}"#)
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    )
}

/// An address nothing listens on.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}
