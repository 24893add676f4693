//! The collector against a real Prometheus scraping emulated vLLM replicas.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use wva_collector::CollectorSettings;
use wva_collector::promql::{Selector, metric};
use wva_collector::{
    Collector, CollectorError, LatencySignal, ModelKey, PodIndex, PodSignals, Scope, Signals,
    TokenSignal,
};
use wva_testkit::{Prometheus, PrometheusTls, TestPki, VllmEmulator};

const WAIT: Duration = Duration::from_secs(15);

/// A replica: its emulator and where it runs.
struct Replica {
    emulator: VllmEmulator,
    namespace: &'static str,
    pod: &'static str,
}

fn replica(
    namespace: &'static str,
    pod: &'static str,
    model: &str,
    kv: f64,
    queue: f64,
) -> Replica {
    let emulator = VllmEmulator::start(model);
    emulator.set(kv, queue);
    Replica {
        emulator,
        namespace,
        pod,
    }
}

fn start(replicas: &[Replica]) -> Prometheus {
    let prometheus = Prometheus::start(
        replicas
            .iter()
            .map(|r| r.emulator.target(r.namespace, r.pod)),
    )
    .expect("start Prometheus");
    if replicas.is_empty() {
        return prometheus;
    }
    // Counters need two samples for increase(); wait for a second scrape of every target.
    prometheus
        .wait_until("min(count_over_time(up[1m]))", WAIT, |result| {
            result[0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                >= Some(2.0)
        })
        .expect("second scrape");
    prometheus
}

fn index(entries: &[(&str, &str, &str, &str)]) -> PodIndex {
    let mut index = PodIndex::new();
    for (namespace, pod, variant, model) in entries {
        index.insert(namespace, pod, Arc::from(*variant), Arc::from(*model));
    }
    index
}

fn scope(namespace: Option<&str>, models: &[(&str, &str)], retentions: &[u64]) -> Scope {
    Scope {
        namespace: namespace.map(str::to_string),
        models: models
            .iter()
            .map(|(ns, model)| ModelKey::new(*ns, *model))
            .collect::<HashSet<_>>(),
        retentions: retentions
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect::<BTreeSet<_>>(),
        token_capacity: false,
        hybrid: false,
    }
}

fn pod(signals: &Signals, variant: &str, pod: &str) -> PodSignals {
    *signals
        .pod(variant, pod)
        .unwrap_or_else(|| panic!("{variant} {pod} missing from {:?}", signals.variants))
}

/// A pod's signals; a pod with a KV or queue value has one engine rank (the emulator labels
/// its series `engine="0"`, as vLLM does), one without has no series.
fn pod_signals(kv: Option<f64>, queue: Option<f64>) -> PodSignals {
    PodSignals {
        kv_cache_usage: kv,
        queue_length: queue,
        engines: (kv.is_some() || queue.is_some()).then_some(1),
        ..PodSignals::default()
    }
}

#[tokio::test]
async fn maps_series_of_several_namespaces_and_models_to_variants() {
    let replicas = [
        replica("team-a", "llama-a-1", "org/llama", 0.5, 2.0),
        replica("team-a", "llama-b-1", "org/llama", 0.9, 7.0),
        replica("team-b", "mistral-1", "org/mistral", f64::NAN, 1.0),
        replica("team-b", "mistral-2", "org/other", 0.3, 3.0),
        replica("team-a", "llama-a-deleted", "org/llama", 0.7, 9.0),
    ];
    let prometheus = start(&replicas);
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[
        ("team-a", "llama-a-1", "team-a/llama-a", "org/llama"),
        ("team-a", "llama-a-2", "team-a/llama-a", "org/llama"),
        ("team-a", "llama-b-1", "team-a/llama-b", "org/llama"),
        ("team-b", "mistral-1", "team-b/mistral", "org/mistral"),
        ("team-b", "mistral-2", "team-b/mistral", "org/mistral"),
    ]);
    let scope = scope(
        None,
        &[
            ("team-a", "org/llama"),
            ("team-b", "org/mistral"),
            ("team-a", "org/absent"),
        ],
        &[600],
    );

    let signals = collector.collect(&scope, &pods).await;

    assert_eq!(signals.first_error(), None);
    assert_eq!(
        pod(&signals, "team-a/llama-a", "llama-a-1"),
        signals_of(0.5, 2.0)
    );
    // Indexed but not (yet) scraped: missing, not 0.
    assert_eq!(
        pod(&signals, "team-a/llama-a", "llama-a-2"),
        pod_signals(None, None)
    );
    assert_eq!(
        pod(&signals, "team-a/llama-b", "llama-b-1"),
        signals_of(0.9, 7.0)
    );
    // NaN is missing; the queue of the same pod is still read.
    assert_eq!(
        pod(&signals, "team-b/mistral", "mistral-1"),
        pod_signals(None, Some(1.0))
    );
    // The pod serves another model than its variant's: its series are dropped.
    assert_eq!(
        pod(&signals, "team-b/mistral", "mistral-2"),
        pod_signals(None, None)
    );
    assert_eq!(signals.variants.len(), 3);
    let stats = signals.stats;
    assert_eq!(stats.queries, 3);
    assert_eq!(stats.http_requests, 3);
    assert_eq!(stats.unknown_pod_series, 2, "llama-a-deleted: kv and queue");
    assert_eq!(stats.other_model_series, 2, "mistral-2: kv and queue");
    assert_eq!(stats.non_finite_samples, 1);
    // What mistral's pods serve instead, named once (its kv and queue series carry it);
    // llama's pods serve only their variant's model.
    assert_eq!(signals.other_models.len(), 1);
    assert_eq!(
        signals.other_models["team-b/mistral"],
        BTreeSet::from(["org/other".to_string()])
    );

    let retention = Duration::from_secs(600);
    assert_eq!(
        signals.request_count("team-a", "org/llama", retention),
        Ok(Some(0.0))
    );
    assert_eq!(
        signals.request_count("team-b", "org/mistral", retention),
        Ok(Some(0.0))
    );
    assert_eq!(
        signals.request_count("team-a", "org/absent", retention),
        Ok(None)
    );
}

fn signals_of(kv: f64, queue: f64) -> PodSignals {
    pod_signals(Some(kv), Some(queue))
}

#[tokio::test]
async fn watched_namespace_filters_every_query() {
    let replicas = [
        replica("team-a", "a-1", "org/llama", 0.4, 1.0),
        replica("team-b", "b-1", "org/llama", 0.6, 2.0),
    ];
    let prometheus = start(&replicas);
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[
        ("team-a", "a-1", "team-a/va", "org/llama"),
        ("team-b", "b-1", "team-b/va", "org/llama"),
    ]);
    let scope = scope(
        Some("team-a"),
        &[("team-a", "org/llama"), ("team-b", "org/llama")],
        &[300],
    );

    let signals = collector.collect(&scope, &pods).await;

    assert_eq!(signals.first_error(), None);
    assert_eq!(pod(&signals, "team-a/va", "a-1"), signals_of(0.4, 1.0));
    assert_eq!(pod(&signals, "team-b/va", "b-1"), pod_signals(None, None));
    assert_eq!(
        signals.stats.series, 3,
        "kv, queue and request count of team-a only"
    );
    assert_eq!(signals.stats.unknown_pod_series, 0);
    let retention = Duration::from_secs(300);
    assert_eq!(
        signals.request_count("team-a", "org/llama", retention),
        Ok(Some(0.0))
    );
    assert_eq!(
        signals.request_count("team-b", "org/llama", retention),
        Ok(None)
    );
}

#[tokio::test]
async fn request_counts_per_model_over_each_retention() {
    let replicas = [
        replica("team-a", "llama-1", "org/llama", 0.1, 0.0),
        replica("team-a", "llama-2", "org/llama", 0.1, 0.0),
        replica("team-a", "idle-1", "org/idle", 0.0, 0.0),
    ];
    let prometheus = start(&replicas);
    replicas[0].emulator.add_requests(10);
    replicas[1].emulator.add_requests(5);
    prometheus
        .wait_for_value(
            "sum(vllm:request_success_total{model_name=\"org/llama\"})",
            15.0,
            WAIT,
        )
        .expect("requests scraped");
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let scope = scope(
        None,
        &[("team-a", "org/llama"), ("team-a", "org/idle")],
        &[60, 600],
    );

    let signals = collector.collect(&scope, &PodIndex::new()).await;

    assert_eq!(signals.stats.queries, 4, "kv, queue and one per retention");
    for retention in [60, 600].map(Duration::from_secs) {
        let llama = signals
            .request_count("team-a", "org/llama", retention)
            .unwrap()
            .expect("llama has a count");
        // increase() extrapolates to the end of the window: at most half a scrape more.
        assert!((15.0..=23.0).contains(&llama), "{retention:?}: {llama}");
        assert_eq!(
            signals.request_count("team-a", "org/idle", retention),
            Ok(Some(0.0))
        );
    }
}

#[tokio::test]
async fn hostile_model_id_is_escaped_and_matched_exactly() {
    let hostile = "evil\"} or vector(1) # \\ back\\slash \\\"";
    let replicas = [
        replica("team-h", "hostile-1", hostile, 0.42, 4.0),
        replica("team-h", "evil-1", "evil", 0.11, 1.0),
    ];
    let prometheus = start(&replicas);
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();

    // Unescaped, the model ID would inject `or vector(1)` and comment out the rest.
    let injected = format!("{}{{model_name=\"{hostile}\"}}", metric::KV_CACHE_USAGE);
    let raw = collector
        .query_vector(&injected)
        .await
        .expect("injected query runs");
    assert!(
        raw.iter()
            .any(|s| s.labels.is_empty() && s.value == Some(1.0)),
        "{raw:?}"
    );

    let selector = Selector::new(metric::KV_CACHE_USAGE)
        .eq("namespace", "team-h")
        .eq("model_name", hostile);
    let samples = collector.query_vector(&selector.to_string()).await.unwrap();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].labels["model_name"], hostile);
    assert_eq!(samples[0].labels["pod"], "hostile-1");
    assert_eq!(samples[0].value, Some(0.42));

    // The batched cycle maps the hostile label back to its variant.
    let pods = index(&[
        ("team-h", "hostile-1", "team-h/hostile", hostile),
        ("team-h", "evil-1", "team-h/evil", "evil"),
    ]);
    let cycle_scope = scope(
        Some("team-h"),
        &[("team-h", hostile), ("team-h", "evil")],
        &[600],
    );
    let signals = collector.collect(&cycle_scope, &pods).await;
    assert_eq!(signals.first_error(), None);
    assert_eq!(
        pod(&signals, "team-h/hostile", "hostile-1"),
        signals_of(0.42, 4.0)
    );
    assert_eq!(
        pod(&signals, "team-h/evil", "evil-1"),
        signals_of(0.11, 1.0)
    );
    let retention = Duration::from_secs(600);
    assert_eq!(
        signals.request_count("team-h", hostile, retention),
        Ok(Some(0.0))
    );

    // A hostile watched namespace matches nothing and breaks nothing.
    let hostile_namespace = scope(Some("x\"} or vector(1) #"), &[], &[600]);
    let signals = collector.collect(&hostile_namespace, &pods).await;
    assert_eq!(signals.first_error(), None);
    assert_eq!(signals.stats.series, 0);
}

#[tokio::test]
async fn prometheus_outage_is_a_per_signal_error_not_missing_data() {
    let replicas = [replica("team-a", "a-1", "org/llama", 0.4, 1.0)];
    let mut prometheus = start(&replicas);
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[("team-a", "a-1", "team-a/va", "org/llama")]);
    let scope = scope(None, &[("team-a", "org/llama")], &[600]);
    assert_eq!(collector.collect(&scope, &pods).await.first_error(), None);

    prometheus.stop();
    let signals = collector.collect(&scope, &pods).await;

    let kv = signals.kv_error.as_ref().expect("kv error");
    assert!(signals.queue_error.is_some());
    assert!(signals.request_counts[&Duration::from_secs(600)].is_err());
    assert_eq!(pod(&signals, "team-a/va", "a-1"), pod_signals(None, None));
    assert_eq!(kv.attempts, 2, "one retry");
    assert_eq!(kv.metric_label(), "transport");
    let text = kv.to_string();
    assert!(
        text.contains(&format!("{}/api/v1/query", prometheus.url())),
        "{text}"
    );
    assert!(text.contains("vllm:kv_cache_usage_perc"), "{text}");
    assert!(text.to_lowercase().contains("connect"), "{text}");
    assert_eq!(signals.stats.queries, 3);
    assert_eq!(
        signals.stats.http_requests, 6,
        "3 queries, each retried once"
    );
}

#[tokio::test]
async fn connectivity_check_passes_on_prometheus_and_names_the_url_when_unreachable() {
    let prometheus = start(&[]);
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    collector.check_connectivity().await.expect("reachable");
    assert_eq!(collector.http_requests(), 1);

    let url = common::closed_port_url();
    let collector = Collector::new(common::plain(&url)).unwrap();
    let error = collector.check_connectivity().await.unwrap_err();
    assert!(
        matches!(error, CollectorError::Unreachable { attempts: 3, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&url) && text.contains("after 3 attempts"),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    assert_eq!(collector.http_requests(), 3, "no retries inside an attempt");
}

#[tokio::test]
async fn real_prometheus_over_mutual_tls_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new("prometheus CA");
    let launcher_client = pki.client("testkit");
    let emulator = VllmEmulator::start("org/llama");
    emulator.set(0.8, 5.0);
    let prometheus = Prometheus::builder()
        .targets([emulator.target("team-a", "a-1")])
        .tls(PrometheusTls {
            server: pki.server(&["127.0.0.1", "prometheus.monitoring.svc"]),
            ca_pem: pki.ca_pem(),
            client: Some(launcher_client),
        })
        .start()
        .expect("start Prometheus with TLS");
    assert!(prometheus.url().starts_with("https://"));
    let ca = pki.write_ca(dir.path(), "ca.crt");
    let (cert, key) = pki.client("wva-controller").write_to(dir.path(), "client");
    let settings = CollectorSettings {
        ca_cert_path: Some(ca),
        server_name: Some("prometheus.monitoring.svc".to_string()),
        bearer_token: Some("ignored-by-prometheus".to_string()),
        query_retries: 0,
        ..common::defaults(&prometheus.url())
    };

    let without_client_certificate = Collector::new(settings.clone()).unwrap();
    let error = without_client_certificate
        .query_vector("up")
        .await
        .expect_err("Prometheus requires a client certificate");
    assert_eq!(error.metric_label(), "transport", "{error}");

    let collector = Collector::new(CollectorSettings {
        client_cert_path: Some(cert),
        client_key_path: Some(key),
        ..settings
    })
    .unwrap();
    collector.check_connectivity().await.expect("mutual TLS");
    let pods = index(&[("team-a", "a-1", "team-a/va", "org/llama")]);
    let signals = collector
        .collect(&scope(None, &[("team-a", "org/llama")], &[]), &pods)
        .await;
    assert_eq!(signals.first_error(), None);
    assert_eq!(pod(&signals, "team-a/va", "a-1"), signals_of(0.8, 5.0));
}

/// `value` within a millionth of `expected` (rates are extrapolated in floating point).
fn near(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() <= expected.abs() * 1e-6)
}

#[tokio::test]
async fn token_capacity_inputs_are_read_per_pod_only_when_the_scope_asks() {
    let replicas = [
        replica("team-a", "busy-1", "org/llama", 0.5, 0.0),
        replica("team-a", "idle-1", "org/llama", 0.1, 0.0),
        replica("team-b", "other-ns-1", "org/llama", 0.1, 0.0),
    ];
    replicas[0].emulator.update(|m| {
        m.num_gpu_blocks = 1000;
        m.block_size = 32;
    });
    let prometheus = start(&replicas);
    // After two scrapes, so the counters' rates see the increase.
    replicas[0]
        .emulator
        .update(|m| m.add_cached_requests(10, 0.25));
    prometheus
        .wait_for_token_rates(WAIT)
        .expect("rates see the requests");
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[
        ("team-a", "busy-1", "team-a/va", "org/llama"),
        ("team-a", "idle-1", "team-a/va", "org/llama"),
        ("team-b", "other-ns-1", "team-b/va", "org/llama"),
    ]);
    let mut asked = scope(Some("team-a"), &[], &[]);
    asked.token_capacity = true;

    let signals = collector.collect(&asked, &pods).await;

    assert_eq!(signals.first_error(), None);
    assert_eq!(
        signals.stats.queries, 6,
        "kv, queue and the four token signals"
    );
    assert_eq!(
        signals.token_queries.keys().copied().collect::<Vec<_>>(),
        TokenSignal::ALL
    );
    assert!(signals.token_queries.values().all(Option::is_none));
    let busy = pod(&signals, "team-a/va", "busy-1");
    assert_eq!(busy.kv_capacity_tokens, Some(32_000.0), "{busy:?}");
    // The emulator records 128 prompt and 64 generated tokens per request.
    assert!(near(busy.avg_input_tokens, 128.0), "{busy:?}");
    assert!(near(busy.avg_output_tokens, 64.0), "{busy:?}");
    assert!(near(busy.prefix_cache_hit_rate, 0.25), "{busy:?}");
    // No request finished and no prefix-cache query: 0/0 is missing, never 0. The cache size
    // is known (vLLM's `cache_config_info` has no `model_name`; the pod alone matches).
    let idle = pod(&signals, "team-a/va", "idle-1");
    assert_eq!(
        idle,
        PodSignals {
            kv_cache_usage: Some(0.1),
            queue_length: Some(0.0),
            kv_capacity_tokens: Some(32_768.0),
            engines: Some(1),
            ..PodSignals::default()
        }
    );
    // Outside the watched namespace: nothing read.
    assert_eq!(
        pod(&signals, "team-b/va", "other-ns-1"),
        pod_signals(None, None)
    );

    let signals = collector
        .collect(&scope(Some("team-a"), &[], &[]), &pods)
        .await;
    assert_eq!(signals.stats.queries, 2, "no token query unless asked");
    assert!(signals.token_queries.is_empty());
    assert_eq!(pod(&signals, "team-a/va", "busy-1"), signals_of(0.5, 0.0));
}

/// A pod running four vLLM engine ranks (data parallelism) exposes one series per rank,
/// labelled `engine`: the real Prometheus keeps the ranks apart through the per-pod query, so
/// the collector counts four engines and reads the busiest rank, with no extra query.
#[tokio::test]
async fn engine_ranks_of_a_data_parallel_pod_are_counted() {
    let mut body = String::new();
    for (engine, kv, queue) in [(0, 0.2, 0.0), (1, 0.7, 3.0), (2, 0.4, 1.0), (3, 0.1, 0.0)] {
        body.push_str(&format!(
            "vllm:kv_cache_usage_perc{{engine=\"{engine}\",model_name=\"org/llama\"}} {kv}\n\
             vllm:num_requests_waiting{{engine=\"{engine}\",model_name=\"org/llama\"}} {queue}\n"
        ));
    }
    let server = wva_testkit::StubServer::start(move |_| wva_testkit::StubResponse::text(&body));
    let target = wva_testkit::ScrapeTarget::new(format!("127.0.0.1:{}", server.port()))
        .label("namespace", "team-a")
        .label("pod", "dp-1");
    let prometheus = Prometheus::start([target]).expect("start Prometheus");
    prometheus
        .wait_until("count(vllm:kv_cache_usage_perc)", WAIT, |result| {
            result[0]["value"][1].as_str() == Some("4")
        })
        .expect("four ranks scraped");
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[("team-a", "dp-1", "team-a/va", "org/llama")]);

    let signals = collector.collect(&scope(None, &[], &[]), &pods).await;

    assert_eq!(
        pod(&signals, "team-a/va", "dp-1"),
        PodSignals {
            kv_cache_usage: Some(0.7),
            queue_length: Some(3.0),
            engines: Some(4),
            ..PodSignals::default()
        }
    );
    assert_eq!(signals.stats.queries, 2, "no query added for the ranks");
}

/// `value` within 0.1 % of `expected`.
fn close(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() <= expected.abs() * 1e-3)
}

#[tokio::test]
async fn hybrid_inputs_are_read_per_pod_only_when_the_scope_asks() {
    let replicas = [
        replica("team-a", "new-1", "org/llama", 0.3, 0.0),
        replica("team-a", "old-1", "org/llama", 0.3, 0.0),
        replica("team-a", "idle-1", "org/llama", 0.1, 0.0),
    ];
    let perf = wva_engine::queueing::PerfParams {
        alpha: 8.0,
        beta: 0.01,
        gamma: 0.001,
    };
    for (r, batch) in replicas.iter().zip([32.0, 8.0, 0.0]) {
        r.emulator.update(|m| {
            m.perf = Some(perf);
            m.requests_running = batch;
        });
    }
    // vLLM before 0.10 names the inter-token latency `time_per_output_token_seconds`.
    replicas[1].emulator.update(|m| m.legacy_itl_name = true);
    let prometheus = start(&replicas);
    for r in &replicas[..2] {
        r.emulator.add_requests(10);
    }
    prometheus
        .wait_until(
            "count(rate(vllm:time_to_first_token_seconds_count[1m]) > 0) == 2",
            WAIT,
            |result| result.as_array().is_some_and(|r| !r.is_empty()),
        )
        .expect("rates see the requests");
    let collector = Collector::new(common::plain(&prometheus.url())).unwrap();
    let pods = index(&[
        ("team-a", "new-1", "team-a/va", "org/llama"),
        ("team-a", "old-1", "team-a/va", "org/llama"),
        ("team-a", "idle-1", "team-a/va", "org/llama"),
    ]);
    let mut asked = scope(Some("team-a"), &[], &[]);
    asked.hybrid = true;

    let signals = collector.collect(&asked, &pods).await;

    assert_eq!(signals.first_error(), None);
    assert_eq!(
        signals.stats.queries, 8,
        "kv, queue, the two average token sizes and the four HYBRID signals"
    );
    assert_eq!(
        signals.token_queries.keys().copied().collect::<Vec<_>>(),
        [TokenSignal::AvgInputTokens, TokenSignal::AvgOutputTokens]
    );
    assert_eq!(
        signals.latency_queries.keys().copied().collect::<Vec<_>>(),
        LatencySignal::ALL
    );
    assert!(signals.latency_queries.values().all(Option::is_none));
    for (name, batch) in [("new-1", 32.0), ("old-1", 8.0)] {
        let p = pod(&signals, "team-a/va", name);
        let w = wva_engine::queueing::Workload {
            input_tokens: 128.0,
            output_tokens: 64.0,
        };
        let itl = perf.decode(batch, w);
        assert!(close(p.itl_seconds, itl / 1000.0), "{name}: {p:?}");
        assert!(
            close(p.ttft_seconds, (perf.prefill(batch, w) + itl) / 1000.0),
            "{name}: {p:?}"
        );
        assert!(close(p.running_batch, batch), "{name}: {p:?}");
        assert!(p.arrival_rate.is_some_and(|r| r > 0.0), "{name}: {p:?}");
        assert!(near(p.avg_input_tokens, 128.0), "{name}: {p:?}");
    }
    // No request finished: the rates and means of the histograms are missing, never 0; the
    // arrival rate is a true 0 and the batch a true 0.
    let idle = pod(&signals, "team-a/va", "idle-1");
    assert_eq!(
        (idle.ttft_seconds, idle.itl_seconds, idle.avg_input_tokens),
        (None, None, None),
        "{idle:?}"
    );
    assert_eq!(
        (idle.arrival_rate, idle.running_batch),
        (Some(0.0), Some(0.0))
    );

    let signals = collector
        .collect(&scope(Some("team-a"), &[], &[]), &pods)
        .await;
    assert_eq!(signals.stats.queries, 2, "no HYBRID query unless asked");
    assert!(signals.latency_queries.is_empty());
}
