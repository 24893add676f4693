//! The HTTP side against a recording stub server: request shape, retries, timeouts, errors,
//! bearer token, startup validation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use wva_collector::{Collector, CollectorSettings, QueryFailure};
use wva_testkit::{StubResponse, StubServer};

fn up_answer() -> StubResponse {
    StubResponse::json(common::vector_answer([(
        r#"{"__name__":"up","pod":"p"}"#.to_string(),
        "1",
    )]))
}

#[tokio::test]
async fn instant_queries_are_form_posts_under_the_base_path() {
    let stub = StubServer::start(|_| up_answer());
    let collector = Collector::new(common::plain(&format!("{}/prometheus/", stub.url()))).unwrap();
    let query = "max by (pod) (up{namespace=\"a\\\"b\"})";
    let samples = collector.query_vector(query).await.unwrap();
    assert_eq!(samples[0].value, Some(1.0));
    let request = &stub.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/prometheus/api/v1/query");
    assert_eq!(request.form_value("query").as_deref(), Some(query));
    assert!(request.header_values("authorization").is_empty());
}

/// A stub that fails the first `failures` requests with `status`, then answers `up`.
fn flaky(failures: usize, status: u16) -> StubServer {
    let seen = Arc::new(AtomicUsize::new(0));
    StubServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < failures {
            StubResponse::json(
                r#"{"status":"error","errorType":"unavailable","error":"warming up"}"#,
            )
            .with_status(status)
        } else {
            up_answer()
        }
    })
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_up_to_the_limit() {
    let stub = flaky(2, 503);
    let collector = Collector::new(CollectorSettings {
        query_retries: 2,
        ..common::plain(&stub.url())
    })
    .unwrap();
    assert_eq!(collector.query_vector("up").await.unwrap().len(), 1);
    assert_eq!(stub.request_count(), 3);

    let stub = flaky(usize::MAX, 503);
    let collector = Collector::new(CollectorSettings {
        query_retries: 2,
        ..common::plain(&stub.url())
    })
    .unwrap();
    let error = collector.query_vector("up").await.unwrap_err();
    assert_eq!(stub.request_count(), 3);
    assert_eq!(error.attempts, 3);
    assert_eq!(
        error.to_string(),
        format!(
            "Prometheus query `up` to {}/api/v1/query failed after 3 attempt(s): HTTP 503: unavailable: warming up",
            stub.url()
        )
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_name_status_query_and_url() {
    let stub = StubServer::start(|_| {
        StubResponse::json(
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected <EOF>"}"#,
        )
        .with_status(400)
    });
    let collector = Collector::new(CollectorSettings {
        query_retries: 5,
        ..common::plain(&stub.url())
    })
    .unwrap();
    let error = collector.query_vector("sum(").await.unwrap_err();
    assert_eq!(stub.request_count(), 1);
    assert_eq!(
        error.failure,
        QueryFailure::Status {
            status: 400,
            detail: "bad_data: 1:5: parse error: unexpected <EOF>".to_string()
        }
    );
    let text = error.to_string();
    assert!(
        text.contains("`sum(`") && text.contains(&stub.url()) && text.contains("HTTP 400"),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_per_query() {
    let stub = StubServer::start(|_| up_answer().with_delay(Duration::from_secs(3)));
    let collector = Collector::new(CollectorSettings {
        query_timeout: Duration::from_millis(200),
        query_retries: 0,
        ..common::plain(&stub.url())
    })
    .unwrap();
    let error = collector.query_vector("up").await.unwrap_err();
    assert_eq!(
        error.failure,
        QueryFailure::Timeout(Duration::from_millis(200))
    );
    assert_eq!(error.metric_label(), "timeout");
}

#[tokio::test]
async fn a_non_vector_answer_is_a_decode_error() {
    let stub = StubServer::start(|_| {
        StubResponse::json(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#,
        )
    });
    let collector = Collector::new(common::plain(&stub.url())).unwrap();
    let error = collector.query_vector("1").await.unwrap_err();
    assert_eq!(
        error.failure,
        QueryFailure::ResultType("scalar".to_string())
    );
}

/// The `Authorization` values the stub received for one query with `settings`.
async fn authorization_headers(settings: impl FnOnce(String) -> CollectorSettings) -> Vec<String> {
    let stub = StubServer::start(|_| up_answer());
    let collector = Collector::new(settings(stub.url())).unwrap();
    collector.query_vector("up").await.unwrap();
    stub.requests()[0]
        .header_values("authorization")
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_header_carries_exactly_one_bearer_prefix() {
    for literal in ["abc", "Bearer abc", "bearer  abc", " Bearer abc\n"] {
        let headers = authorization_headers(|url| CollectorSettings {
            bearer_token: Some(literal.to_string()),
            ..common::plain(&url)
        })
        .await;
        assert_eq!(headers, ["Bearer abc"], "{literal:?}");
    }
}

#[tokio::test]
async fn the_token_file_is_trimmed_reread_and_loses_to_the_literal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "  Bearer from-file\n").unwrap();
    let headers = authorization_headers(|url| CollectorSettings {
        token_path: Some(path.clone()),
        ..common::plain(&url)
    })
    .await;
    assert_eq!(headers, ["Bearer from-file"]);

    let headers = authorization_headers(|url| CollectorSettings {
        bearer_token: Some("literal".to_string()),
        token_path: Some(path.clone()),
        ..common::plain(&url)
    })
    .await;
    assert_eq!(headers, ["Bearer literal"]);

    // A rotated token is used by the next query.
    let stub = StubServer::start(|_| up_answer());
    let collector = Collector::new(CollectorSettings {
        token_path: Some(path.clone()),
        ..common::plain(&stub.url())
    })
    .unwrap();
    std::fs::write(&path, "rotated\n").unwrap();
    collector.query_vector("up").await.unwrap();
    assert_eq!(
        stub.requests()[0].header_values("authorization"),
        ["Bearer rotated"]
    );
}

fn startup_error(settings: CollectorSettings) -> String {
    let error = Collector::new(settings).unwrap_err();
    let text = error.to_string();
    assert!(!error.metric_label().is_empty());
    text
}

#[test]
fn startup_validation_names_the_parameter() {
    let text = startup_error(common::defaults("http://prometheus:9090"));
    assert!(
        text.contains("PROMETHEUS_BASE_URL") && text.contains("PROMETHEUS_ALLOW_HTTP=true"),
        "{text}"
    );
    let text = startup_error(common::defaults("prometheus:9090"));
    assert!(
        text.contains("PROMETHEUS_BASE_URL \"prometheus:9090\""),
        "{text}"
    );
    let text = startup_error(common::defaults("ftp://prometheus"));
    assert!(text.contains("scheme"), "{text}");
    let text = startup_error(common::defaults(""));
    assert!(text.contains("PROMETHEUS_BASE_URL"), "{text}");

    let https = common::defaults("https://prometheus:9090");
    let text = startup_error(CollectorSettings {
        client_cert_path: Some("/tmp/client.crt".into()),
        ..https.clone()
    });
    assert!(
        text.contains("only PROMETHEUS_CLIENT_CERT_PATH is set"),
        "{text}"
    );
    let text = startup_error(CollectorSettings {
        ca_cert_path: Some("/nonexistent/ca.crt".into()),
        ..https.clone()
    });
    assert!(
        text.contains("PROMETHEUS_CA_CERT_PATH file /nonexistent/ca.crt"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("ca.crt");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let text = startup_error(CollectorSettings {
        ca_cert_path: Some(garbage),
        ..https.clone()
    });
    assert!(text.contains("no CERTIFICATE block"), "{text}");
    let text = startup_error(CollectorSettings {
        server_name: Some("not a name!".into()),
        ..https.clone()
    });
    assert!(text.contains("PROMETHEUS_SERVER_NAME"), "{text}");
    let text = startup_error(CollectorSettings {
        bearer_token: Some("Bearer ".into()),
        ..https.clone()
    });
    assert_eq!(text, "PROMETHEUS_BEARER_TOKEN: the bearer token is empty");
    let text = startup_error(CollectorSettings {
        token_path: Some("/nonexistent/token".into()),
        ..https
    });
    assert!(
        text.starts_with(
            "PROMETHEUS_TOKEN_PATH: cannot read the bearer token file /nonexistent/token"
        ),
        "{text}"
    );
}
