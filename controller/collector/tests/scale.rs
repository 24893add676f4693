//! Scale: the number of queries per cycle does not depend on the number of VAs, models or
//! pods; prints the cost of a cycle (CPU time, memory held) for 10, 1,000 and 10,000 VAs
//! against canned answers from a stub server. Figures are printed, never asserted on time.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wva_collector::{Collector, ModelKey, PodIndex, Scope};
use wva_testkit::{StubResponse, StubServer};

/// CPU time this thread has used (from `/proc/thread-self/schedstat`, nanoseconds).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// A fleet of `n` VAs with one pod each, spread over 10 namespaces, one model per VA.
struct Fleet {
    pods: PodIndex,
    scope: Scope,
    per_pod_answer: String,
    count_answer: String,
    cache_config_answer: String,
}

/// The fleet; with `token_capacity` the scope asks for the token-capacity analyzer's inputs,
/// with `hybrid` for the HYBRID mode's.
fn fleet(n: usize, token_capacity: bool, hybrid: bool) -> Fleet {
    let mut pods = PodIndex::new();
    let mut models = std::collections::HashSet::new();
    let mut per_pod = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(n);
    let mut cache_config = Vec::with_capacity(n);
    for i in 0..n {
        let namespace = format!("team-{}", i % 10);
        let model = format!("org/model-{i}");
        let pod = format!("va-{i}-7d9f8c6b5-x{i:05}");
        pods.insert(
            &namespace,
            &pod,
            Arc::from(format!("{namespace}/va-{i}")),
            Arc::from(model.as_str()),
        );
        per_pod.push((
            format!(r#"{{"namespace":"{namespace}","model_name":"{model}","pod":"{pod}"}}"#),
            "0.5",
        ));
        cache_config.push((
            format!(
                r#"{{"namespace":"{namespace}","pod":"{pod}","num_gpu_blocks":"2048","block_size":"16"}}"#
            ),
            "1",
        ));
        counts.push((
            format!(r#"{{"namespace":"{namespace}","model_name":"{model}"}}"#),
            "12",
        ));
        models.insert(ModelKey::new(namespace, model));
    }
    Fleet {
        pods,
        scope: Scope {
            namespace: None,
            models,
            retentions: BTreeSet::from([Duration::from_secs(300), Duration::from_secs(1800)]),
            token_capacity,
            hybrid,
        },
        per_pod_answer: common::vector_answer(per_pod),
        count_answer: common::vector_answer(counts),
        cache_config_answer: common::vector_answer(cache_config),
    }
}

fn stub_for(fleet: &Fleet) -> StubServer {
    let per_pod = fleet.per_pod_answer.clone();
    let counts = fleet.count_answer.clone();
    let cache_config = fleet.cache_config_answer.clone();
    StubServer::start(move |request| {
        let query = request.form_value("query").unwrap_or_default();
        if query.contains("increase(vllm:request_success") {
            StubResponse::json(counts.clone())
        } else if query.contains("cache_config_info") {
            StubResponse::json(cache_config.clone())
        } else {
            StubResponse::json(per_pod.clone())
        }
    })
}

#[tokio::test]
async fn queries_per_cycle_do_not_grow_with_vas_and_pods() {
    let mut figures = Vec::new();
    for ((token_capacity, hybrid), n) in
        [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .flat_map(|t| [10, 1_000, 10_000].map(|n| (t, n)))
    {
        // KV, queue and the two retentions; with the token-capacity inputs, one more query
        // for each of the four; in HYBRID mode, one for each of its four signals, and the
        // two average token sizes unless the token-capacity inputs read them already.
        let tokens = match (token_capacity, hybrid) {
            (true, _) => 4,
            (false, true) => 2,
            (false, false) => 0,
        };
        let latency = if hybrid { 4 } else { 0 };
        let expected = 4 + tokens + latency;
        let fleet = fleet(n, token_capacity, hybrid);
        let stub = stub_for(&fleet);
        let collector = Collector::new(common::plain(&stub.url())).unwrap();
        // Warm the connection pool so the measured cycle is a steady-state one.
        collector.collect(&fleet.scope, &fleet.pods).await;
        stub.clear_requests();

        let (cpu, wall) = (thread_cpu(), Instant::now());
        let signals = collector.collect(&fleet.scope, &fleet.pods).await;
        let (cpu, wall) = (thread_cpu() - cpu, wall.elapsed());

        assert_eq!(signals.first_error(), None);
        assert_eq!(stub.request_count(), expected, "{n} VAs");
        assert_eq!(signals.stats.queries, expected);
        assert_eq!(signals.stats.http_requests, expected);
        assert_eq!(signals.variants.len(), n);
        assert_eq!(signals.stats.series, expected * n);
        assert_eq!(signals.token_queries.len(), tokens);
        assert!(signals.token_queries.values().all(Option::is_none));
        assert_eq!(signals.latency_queries.len(), latency);
        assert!(signals.latency_queries.values().all(Option::is_none));
        let last = n - 1;
        let pod = signals
            .pod(
                &format!("team-{}/va-{last}", last % 10),
                &format!("va-{last}-7d9f8c6b5-x{last:05}"),
            )
            .unwrap();
        assert_eq!(pod.kv_cache_usage, Some(0.5));
        let capacity = token_capacity.then_some(2048.0 * 16.0);
        let input = (token_capacity || hybrid).then_some(0.5);
        assert_eq!(pod.kv_capacity_tokens, capacity);
        assert_eq!(pod.avg_input_tokens, input);
        let hybrid_value = hybrid.then_some(0.5);
        assert_eq!(
            (pod.arrival_rate, pod.itl_seconds, pod.running_batch),
            (hybrid_value, hybrid_value, hybrid_value)
        );
        let retention = Duration::from_secs(300);
        let model = format!("org/model-{last}");
        let namespace = format!("team-{}", last % 10);
        assert_eq!(
            signals.request_count(&namespace, &model, retention),
            Ok(Some(12.0))
        );
        figures.push(format!(
            "{n:>6} VAs/pods{}: {} queries/cycle, {} series, cycle CPU {:.1} ms (wall {:.1} ms), signals held ≈ {} KiB, answer size {} KiB per per-pod query",
            match (token_capacity, hybrid) {
                (true, true) => " (token capacity, HYBRID)",
                (true, false) => " (token capacity)",
                (false, true) => " (HYBRID)",
                (false, false) => "",
            },
            signals.stats.queries,
            signals.stats.series,
            cpu.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3,
            signals.approx_heap_bytes() / 1024,
            fleet.per_pod_answer.len() / 1024,
        ));
    }
    println!(
        "collector scale figures ({} build):",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for line in figures {
        println!("  {line}");
    }
}
