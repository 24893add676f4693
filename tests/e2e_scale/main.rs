//! Cost per engine cycle as the fleet grows: the real `wva` binary against the API double
//! (which counts requests) and a real Prometheus, at 10 and 1,000 VAs.
//!
//! Asserted: in steady state a cycle makes no Kubernetes API reads and no writes, and the same
//! number of Prometheus queries whatever the number of VAs and pods; under the saturation
//! analyzer (V1) none of the token-capacity analyzer's queries runs and no capacity gauge is
//! exported. Printed (run with `--no-capture`): the controller's resident memory and the
//! steady-state cycle time.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

use harness::{Cluster, Wva};
use serde_json::json;
use std::time::{Duration, Instant};
use wva_kube_double::RequestCounts;
use wva_testkit::{Prometheus, VllmPods};

/// What one steady-state cycle costs, averaged over a few cycles.
#[derive(Debug, PartialEq)]
struct PerCycle {
    api_reads: u64,
    api_writes: u64,
    prometheus_queries: u64,
    /// Of those, the token-capacity analyzer's (one per input signal).
    token_queries: u64,
    /// Of those, the HYBRID mode's latency signals.
    latency_queries: u64,
}

/// The `signal` labels of the token-capacity analyzer's queries.
const TOKEN_SIGNALS: [&str; 4] = [
    "kv_capacity_tokens",
    "avg_input_tokens",
    "avg_output_tokens",
    "prefix_cache_hit_rate",
];

/// The `signal` labels of the HYBRID mode's latency queries.
const LATENCY_SIGNALS: [&str; 4] = [
    "arrival_rate",
    "time_to_first_token",
    "inter_token_latency",
    "running_batch",
];

/// Which analyzer the scenario's saturation entry selects, or the HYBRID mode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Analyzer {
    /// No saturation ConfigMap: the built-in entry, the saturation analyzer (V1).
    Saturation,
    /// A `default` entry with `analyzers`: the token-capacity analyzer (V2).
    TokenCapacity,
    /// The built-in entry with `EXPERIMENTAL_PROACTIVE_MODEL=true` and a service class for
    /// every model.
    Hybrid,
}

/// The global saturation ConfigMap's `default` entry selecting the token-capacity analyzer,
/// with the keys as the saturation ConfigMap names them.
const TOKEN_CAPACITY_ENTRY: &str = "analyzers:\n- name: saturation\n  enabled: true\n  scaleUpThreshold: 0.85\n  scaleDownBoundary: 0.70\n";

/// The value of the first sample of `name` (summed over label sets) in a metrics text.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The sum of the queries of `signals` in `wva_prometheus_queries_total`.
fn queries_of(text: &str, signals: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("wva_prometheus_queries_total{"))
        .filter(|l| {
            signals
                .iter()
                .any(|s| l.contains(&format!("signal=\"{s}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn cycles(text: &str) -> f64 {
    harness::cycles(text) as f64
}

/// Resident memory of a process in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Creates `n` Deployments (one ready pod each, vLLM with batch limits on its command line)
/// and their VAs directly in the double's store.
fn create_fleet(cluster: &Cluster, n: usize) {
    let double = cluster.double.as_ref().expect("the API double");
    let ns = &cluster.namespace;
    for i in 0..n {
        let name = format!("model-{i}");
        double
            .create(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai",
                                                               "args": ["--max-num-batched-tokens=8192", "--max-num-seqs", "256"]}]}}}
            }))
            .expect("Deployment");
        double
            .set_deployment_status(ns, &name, 1)
            .expect("Deployment status");
        double
            .create(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{name}-0"), "namespace": ns, "labels": {"app": name}},
                "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}
            }))
            .expect("Pod");
        double
            .set_status(
                "pods",
                ns,
                &format!("{name}-0"),
                json!({"phase": "Running"}),
            )
            .expect("Pod status");
        double
            .create(json!({
                "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
                "metadata": {"name": name, "namespace": ns,
                             "labels": {"inference.optimization/acceleratorName": "H100"}},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": name},
                         "modelID": format!("org/model-{i}"), "variantCost": "10.0"}
            }))
            .expect("VA");
    }
}

/// Runs `n` VAs under `analyzer` until every VA has a decision and the cycles are steady, then
/// measures; also returns the last metrics text. `None` on a real cluster, whose requests
/// cannot be counted.
async fn measure(n: usize, analyzer: Analyzer) -> Option<(PerCycle, String)> {
    let cluster = Cluster::start(&format!("scale-{n}")).await;
    let double = cluster.double.as_ref()?;
    if analyzer == Analyzer::TokenCapacity {
        double
            .create(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "wva-saturation-scaling-config", "namespace": cluster.namespace},
                "data": {"default": TOKEN_CAPACITY_ENTRY}
            }))
            .expect("saturation ConfigMap");
    }
    if analyzer == Analyzer::Hybrid {
        let classes: String = (0..n)
            .map(|i| format!("- name: Premium\n  model: org/model-{i}\n  slo-itl: 20\n"))
            .collect();
        double
            .create(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "serviceclass", "namespace": cluster.namespace},
                "data": {"serviceClasses": classes}
            }))
            .expect("service-class ConfigMap");
    }
    // Ten replicas report metrics (the collector's queries are per model, batched); the rest
    // have none, so the safety net keeps them where they are. The pods are fixed, so no pod
    // follower adds requests to the counts.
    let emulated = VllmPods::start();
    for i in 0..n.min(10) {
        let deployment = format!("model-{i}");
        emulated.add_deployment(&cluster.namespace, &deployment, "org/model-0");
        emulated.update(&cluster.namespace, &deployment, |m| m.kv_cache_usage = 0.5);
        emulated.set_pods(
            &cluster.namespace,
            &deployment,
            vec![format!("{deployment}-0")],
        );
    }
    let prometheus = Prometheus::start([emulated.target()]).expect("prometheus starts");
    create_fleet(&cluster, n);
    let started = Instant::now();
    // Cycles 4 s apart, longer than a cycle at 1,000 VAs (about 2 s in a debug build on 2
    // busy cores): each count below is read between two cycles, never in the middle of one,
    // whose queries would be counted without its completion.
    let hybrid = if analyzer == Analyzer::Hybrid {
        "true"
    } else {
        "false"
    };
    let wva = Wva::start(
        &cluster,
        &prometheus,
        &[
            ("GLOBAL_OPT_INTERVAL", "4s"),
            ("EXPERIMENTAL_PROACTIVE_MODEL", hybrid),
        ],
    );
    let decided = |double: &wva_kube_double::KubeDouble| {
        double
            .objects("variantautoscalings.llmd.ai")
            .iter()
            .filter(|va| !va["status"]["desiredOptimizedAlloc"]["numReplicas"].is_null())
            .count()
    };
    while decided(double) < n {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "only {} of {n} VAs decided\n{}",
            decided(double),
            wva.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let startup = started.elapsed();
    // Let the status writes' watch events settle, then count over three full cycles.
    let first = wva.wait_cycles(2).await;
    let before: RequestCounts = double.request_counts();
    let last = wva.wait_cycles(3).await;
    let delta = double.request_counts().since(&before);
    let done = cycles(&last) - cycles(&first);
    let queries = metric_sum(&last, "wva_prometheus_queries_total")
        - metric_sum(&first, "wva_prometheus_queries_total");
    let tokens = queries_of(&last, &TOKEN_SIGNALS) - queries_of(&first, &TOKEN_SIGNALS);
    let latencies = queries_of(&last, &LATENCY_SIGNALS) - queries_of(&first, &LATENCY_SIGNALS);
    let per = |x: f64| (x / done).round() as u64;
    let mean_cycle = (metric_sum(&last, "wva_engine_cycle_duration_seconds_sum")
        - metric_sum(&first, "wva_engine_cycle_duration_seconds_sum"))
        / done
        * 1000.0;
    eprintln!(
        "{n} VAs ({analyzer:?}): startup to all decided {:.1}s, resident memory {} KiB, steady cycle {mean_cycle:.1} ms, per cycle: {} API reads, {} API writes, {} Prometheus queries",
        startup.as_secs_f64(),
        rss_kib(wva.child.id()),
        per((delta.verb("get") + delta.verb("list")) as f64),
        per(delta.writes() as f64),
        per(queries),
    );
    let per_cycle = PerCycle {
        api_reads: per((delta.verb("get") + delta.verb("list")) as f64),
        api_writes: per(delta.writes() as f64),
        prometheus_queries: per(queries),
        token_queries: per(tokens),
        latency_queries: per(latencies),
    };
    Some((per_cycle, last))
}

/// The assertions common to both analyzers: steady cycles read from caches, write nothing, and
/// query Prometheus the same number of times at 10 and 1,000 VAs.
fn assert_constant_cost(small: &PerCycle, large: &PerCycle) {
    assert_eq!(
        small.api_reads, 0,
        "steady cycles read from caches: {small:?}"
    );
    assert_eq!(
        small.api_writes, 0,
        "nothing changed, nothing written: {small:?}"
    );
    assert!(small.prometheus_queries > 0, "{small:?}");
    assert_eq!(small, large, "10 VAs vs 1,000 VAs");
}

const SKIPPED: &str =
    "skipped: request counts come from the API double, and WVA_E2E_KUBECONFIG names a real cluster";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_cost_does_not_grow_with_vas_and_pods() {
    let (Some((small, _)), Some((large, metrics))) = (
        measure(10, Analyzer::Saturation).await,
        measure(1000, Analyzer::Saturation).await,
    ) else {
        eprintln!("{SKIPPED}");
        return;
    };
    assert_constant_cost(&small, &large);
    // No entry selects the token-capacity analyzer: none of its queries, no capacity gauge,
    // though every Deployment sets vLLM batch limits.
    assert_eq!(small.token_queries, 0, "{small:?}");
    assert_eq!(small.latency_queries, 0, "HYBRID is off: {small:?}");
    assert_eq!(small.prometheus_queries, 2, "KV and queue: {small:?}");
    for signal in TOKEN_SIGNALS {
        assert!(
            !metrics.contains(&format!("signal=\"{signal}\"")),
            "{signal} queried under V1:\n{metrics}"
        );
    }
    for gauge in [
        "wva_required_capacity{",
        "wva_spare_capacity{",
        "wva_saturation_utilization{",
    ] {
        assert!(!metrics.contains(gauge), "{gauge} under V1:\n{metrics}");
    }
}

/// The scale scenario with the token-capacity analyzer (V2) configured: the same constant
/// cost, with its four queries per cycle, and its gauges for the models that report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_cost_does_not_grow_with_vas_and_pods_under_the_token_capacity_analyzer() {
    let (Some((small, _)), Some((large, metrics))) = (
        measure(10, Analyzer::TokenCapacity).await,
        measure(1000, Analyzer::TokenCapacity).await,
    ) else {
        eprintln!("{SKIPPED}");
        return;
    };
    assert_constant_cost(&small, &large);
    assert_eq!(small.token_queries, 4, "one per token signal: {small:?}");
    assert_eq!(small.prometheus_queries, 6, "KV, queue and four: {small:?}");
    assert!(
        metrics.contains("wva_saturation_utilization{model_id=\"org/model-0\""),
        "model-0 reports its KV-cache size and usage:\n{metrics}"
    );
}

/// The scale scenario in HYBRID mode with a service class for every model: the same constant
/// cost, with the four latency queries and the two average token sizes per cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_cost_does_not_grow_with_vas_and_pods_in_hybrid_mode() {
    let (Some((small, _)), Some((large, metrics))) = (
        measure(10, Analyzer::Hybrid).await,
        measure(1000, Analyzer::Hybrid).await,
    ) else {
        eprintln!("{SKIPPED}");
        return;
    };
    assert_constant_cost(&small, &large);
    assert_eq!(
        small.latency_queries, 4,
        "one per latency signal: {small:?}"
    );
    assert_eq!(
        small.token_queries, 2,
        "the two average token sizes: {small:?}"
    );
    assert_eq!(
        small.prometheus_queries, 8,
        "KV, queue, two token sizes and four latencies: {small:?}"
    );
    assert!(
        !metrics.contains("signal=\"kv_capacity_tokens\""),
        "the token-capacity analyzer's own inputs are not read:\n{metrics}"
    );
}
