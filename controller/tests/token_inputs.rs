//! The token-capacity analyzer's inputs from emulated vLLM replicas, through a real
//! Prometheus, the collector and the controller's assembly, into the engine's snapshot; and
//! the saturation analyzer (V1) deciding the same with or without them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use wva_api::config::StaticConfig;
use wva_api::crd::VariantAutoscaling;
use wva_api::params::{Params, Sources};
use wva_collector::{Collector, CollectorSettings};
use wva_controller::assemble;
use wva_controller::target::CachedTargets;
use wva_engine::{EngineConfig, ReplicaSignals};
use wva_testkit::{Prometheus, VllmPods};

const NS: &str = "team-tokens";
const WAIT: Duration = Duration::from_secs(20);

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("valid test object")
}

fn collector(url: &str) -> Collector {
    let mut sources = Sources::default();
    sources
        .env
        .insert("PROMETHEUS_BASE_URL".to_string(), url.to_string());
    sources
        .env
        .insert("PROMETHEUS_ALLOW_HTTP".to_string(), "true".to_string());
    let config = StaticConfig::resolve(&sources).expect("parameters resolve");
    Collector::new(CollectorSettings {
        query_retries: 0,
        ..wva_controller::config::collector_settings(&config)
    })
    .expect("collector")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_inputs_reach_the_snapshot_only_when_asked_and_v1_decides_the_same() {
    let emulated = VllmPods::start();
    emulated.add_deployment(NS, "llama", "org/llama");
    emulated.update(NS, "llama", |m| {
        m.num_gpu_blocks = 1000;
        m.block_size = 16;
        m.max_num_batched_tokens = 2048;
        m.max_num_seqs = 64;
        // 100 requests of 128 + 64 tokens: min(2048·64/192, 64, 16000/160) = 64 run, 36 wait.
        m.serve(100, 128, 64);
    });
    emulated.set_pods(NS, "llama", vec!["llama-0".into()]);
    let prometheus = Prometheus::start([emulated.target()]).expect("Prometheus starts");
    prometheus
        .wait_until("min(count_over_time(up[1m]))", WAIT, |r| {
            r[0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                >= Some(2.0)
        })
        .expect("second scrape");
    emulated.update(NS, "llama", |m| m.add_cached_requests(20, 0.25));
    prometheus
        .wait_for_token_rates(WAIT)
        .expect("the rates see the requests");

    let va: VariantAutoscaling = from_json(json!({
        "metadata": {"name": "llama-h100", "namespace": NS},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llama"},
                 "modelID": "org/llama", "variantCost": "10"}
    }));
    let deployment: Deployment = from_json(json!({
        "metadata": {"name": "llama", "namespace": NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "llama"}},
                 "template": {"metadata": {"labels": {"app": "llama"}},
                              "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai",
                                  "command": ["vllm", "serve", "org/llama"],
                                  "args": ["--max-num-batched-tokens", "2048", "--max-num-seqs=64"]}]}}},
        "status": {"replicas": 1, "readyReplicas": 1}
    }));
    let pod: PartialObjectMeta<Pod> = from_json(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "llama-0", "namespace": NS, "labels": {"app": "llama"}}
    }));
    let cached = CachedTargets {
        deployments: vec![Arc::new(deployment)],
        ..CachedTargets::default()
    };
    let deployments = cached.by_ref();
    let config = EngineConfig::default();
    let collector = collector(&prometheus.url());

    // No entry selects the token-capacity analyzer: nothing new is queried.
    let mut plan = assemble::plan(&[&va], &deployments, &[&pod], &config, Some(NS));
    assert!(!plan.scope.token_capacity);
    let signals = collector.collect(&plan.scope, &plan.pods).await;
    assert_eq!(signals.stats.queries, 2, "KV and queue only");
    assert!(signals.token_queries.is_empty());
    let v1 = assemble::snapshot(&plan, &signals, config.clone(), 0, None);
    let replica = &v1.models[0].variants[0].replicas[0];
    assert_eq!(replica.kv_capacity_tokens, None);
    assert_eq!(replica.avg_input_tokens, None);

    // As the controller does when an entry selects it: the four queries run and each input
    // reaches the replica's signals.
    plan.scope.token_capacity = true;
    let signals = collector.collect(&plan.scope, &plan.pods).await;
    assert_eq!(signals.stats.queries, 6);
    assert!(
        signals.token_queries.values().all(Option::is_none),
        "{:?}",
        signals.token_queries
    );
    let tokens = assemble::snapshot(&plan, &signals, config, 0, None);
    let variant = &tokens.models[0].variants[0];
    assert_eq!(
        (variant.max_num_batched_tokens, variant.max_num_seqs),
        (Some(2048), Some(64))
    );
    let replica: &ReplicaSignals = &variant.replicas[0];
    let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() <= want * 1e-6);
    assert_eq!(replica.kv_capacity_tokens, Some(16_000.0), "{replica:?}");
    assert!(near(replica.avg_input_tokens, 128.0), "{replica:?}");
    assert!(near(replica.avg_output_tokens, 64.0), "{replica:?}");
    assert!(near(replica.prefix_cache_hit_rate, 0.25), "{replica:?}");
    assert!(
        near(replica.kv_cache_usage, 64.0 * 160.0 / 16_000.0),
        "{replica:?}"
    );
    assert_eq!(replica.queue_length, Some(36.0), "{replica:?}");

    // The saturation analyzer reads none of them: the same decisions.
    let (v1, with_tokens) = (wva_engine::decide(&v1), wva_engine::decide(&tokens));
    assert_eq!(v1.decisions, with_tokens.decisions);
    assert!(with_tokens.models.iter().all(|m| m.capacity.is_none()));
}
