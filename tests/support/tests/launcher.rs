//! The emulator and the Prometheus launcher together: real scrapes, target labels, waits.

use std::time::Duration;
use wva_testkit::{Prometheus, ScrapeTarget, VllmEmulator, VllmPods};

#[test]
fn prometheus_scrapes_emulators_with_target_labels() {
    let a = VllmEmulator::start("org/model-a");
    let b = VllmEmulator::start("org/model-b");
    a.set(0.25, 3.0);
    b.set(f64::NAN, 0.0);
    let prometheus =
        Prometheus::start([a.target("ns-1", "pod-a"), b.target("ns-2", "pod-b")]).expect("start");

    let result = prometheus
        .query("vllm:kv_cache_usage_perc{pod=\"pod-a\"}")
        .expect("query");
    assert_eq!(result[0]["metric"]["namespace"], "ns-1");
    assert_eq!(result[0]["metric"]["model_name"], "org/model-a");
    assert_eq!(result[0]["value"][1], "0.25");
    let nan = prometheus
        .query("vllm:kv_cache_usage_perc{pod=\"pod-b\"}")
        .expect("query");
    assert_eq!(nan[0]["value"][1], "NaN");

    a.add_requests(7);
    prometheus
        .wait_for_value(
            "sum(vllm:request_success_total{pod=\"pod-a\"})",
            7.0,
            Duration::from_secs(10),
        )
        .expect("new value scraped");
}

#[test]
fn failing_target_is_scraped_when_up_is_not_required() {
    let emulator = VllmEmulator::start("m");
    emulator.set_failing(true);
    let prometheus = Prometheus::builder()
        .targets([emulator.target("ns", "p")])
        .require_up(false)
        .start()
        .expect("start");
    let up = prometheus.query("up").expect("query");
    assert_eq!(up[0]["value"][1], "0");
}

#[test]
fn stop_makes_queries_fail_and_is_idempotent() {
    let mut prometheus = Prometheus::start(Vec::<ScrapeTarget>::new()).expect("start");
    assert!(prometheus.query("vector(1)").is_ok());
    prometheus.stop();
    prometheus.stop();
    assert!(prometheus.query("vector(1)").is_err());
}

#[test]
fn restart_serves_the_same_url_and_keeps_the_series() {
    let emulator = VllmEmulator::start("m");
    emulator.set(0.5, 0.0);
    let mut prometheus = Prometheus::start([emulator.target("ns", "p")]).expect("start");
    let (url, port) = (prometheus.url(), prometheus.port());

    prometheus.stop();
    assert!(prometheus.query("vector(1)").is_err());
    emulator.set(0.7, 0.0);
    prometheus.restart().expect("restart");

    assert_eq!((prometheus.url(), prometheus.port()), (url, port));
    let kv = "vllm:kv_cache_usage_perc{pod=\"p\"}";
    prometheus
        .wait_for_value(kv, 0.7, Duration::from_secs(10))
        .expect("scraping resumed");
    prometheus
        .wait_for_value(
            &format!("min_over_time({kv}[1h])"),
            0.5,
            Duration::from_secs(10),
        )
        .expect("the samples scraped before the stop are kept");
}

#[test]
fn pods_keep_their_own_labels_and_follow_changes() {
    let pods = VllmPods::start();
    pods.add_deployment("ns-1", "llama", "org/model");
    pods.set_pods("ns-1", "llama", vec!["llama-abc".into()]);
    pods.update("ns-1", "llama", |m| m.kv_cache_usage = 0.5);
    let prometheus = Prometheus::start([pods.target()]).expect("start");
    let result = prometheus.query("vllm:kv_cache_usage_perc").expect("query");
    assert_eq!(result[0]["metric"]["namespace"], "ns-1");
    assert_eq!(result[0]["metric"]["pod"], "llama-abc");
    assert_eq!(result[0]["value"][1], "0.5");

    pods.set_pods(
        "ns-1",
        "llama",
        vec!["llama-abc".into(), "llama-def".into()],
    );
    prometheus
        .wait_for_value(
            "count(vllm:kv_cache_usage_perc{namespace=\"ns-1\",pod=\"llama-def\"} == 0.5)",
            1.0,
            Duration::from_secs(10),
        )
        .expect("new pod scraped with its Deployment's load");
}
