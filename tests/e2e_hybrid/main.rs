//! End-to-end scenarios of the HYBRID mode (`EXPERIMENTAL_PROACTIVE_MODEL=true`): the real
//! `wva` binary against a Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a
//! real Prometheus scraping emulated vLLM replicas whose latencies follow a performance model
//! at their running batch (`ReplicaMetrics::perf`). The controller learns the replica's
//! α/β/γ from the latency histograms, then the load rises: the inter-token latency goes
//! above the service class's SLO while the KV cache is far below its threshold. HYBRID scales
//! up; CAPACITY-ONLY keeps the replica until the KV cache saturates. Asserted: what a user
//! sees (`wva_desired_replicas`, the `OptimizationReady` condition, events, the log).

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e_decisions/ops.rs"]
mod ops;

use harness::{Cluster, Fleet, Wva};
use ops::desired_replicas;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wva_api::crd::{VariantAutoscaling, conditions};
use wva_engine::queueing::{PerfParams, Workload};

const MODEL: &str = "acme/chat";
const VARIANT: &str = "chat-h100";

/// The emulated replica's iteration time, ms.
const PERF: PerfParams = PerfParams {
    alpha: 8.0,
    beta: 0.01,
    gamma: 0.001,
};

/// The emulator's request: 128 prompt and 64 generated tokens.
const REQUEST: Workload = Workload {
    input_tokens: 128.0,
    output_tokens: 64.0,
};

/// The service class: an inter-token latency of 16 ms (one replica meets it up to a batch of
/// about 40), a loose time to first token.
const CLASSES: &str =
    "- name: Premium\n  model: acme/chat\n  priority: 1\n  slo-itl: 16\n  slo-ttw: 1000\n";

/// The same class with a priority out of range: rejected as a whole.
const BAD_CLASSES: &str =
    "- name: Premium\n  model: acme/chat\n  priority: 0\n  slo-itl: 16\n  slo-ttw: 1000\n";

/// How long the model may take to learn, and the load to reach a new level in the
/// controller's one-minute windows.
const LEARNING: Duration = Duration::from_secs(90);

/// The load the driver applies: requests per second and the running batches it cycles
/// through, one per second.
#[derive(Debug, Clone)]
struct Load {
    rate: f64,
    batches: Vec<f64>,
}

/// The requests per second one replica finishes at running batch `n` (Little's law with the
/// model's service time): the arrival rate at which that batch is the steady state.
fn rate_at(n: f64) -> f64 {
    n / (PERF.service(n, REQUEST) / 1000.0)
}

/// One replica of `chat-h100` under a driven load, a service class and a controller.
struct Scenario {
    cluster: Cluster,
    fleet: Fleet,
    wva: Wva,
    load: Arc<Mutex<Load>>,
    driver: tokio::task::JoinHandle<()>,
}

impl Scenario {
    /// Starts the scenario at the learning load (a steady 30 req/s, the batch stepping every 20 s
    /// through 4 to 96, so the model learns the whole range) with the service-class ConfigMap's data and the controller's `env`.
    async fn start(name: &str, service_classes: &[(&str, &str)], env: &[(&str, &str)]) -> Scenario {
        let cluster = Cluster::start(name).await;
        let ns = cluster.namespace.clone();
        let fleet = Fleet::start(&cluster, MODEL, &[VARIANT], 0.0, 0.0);
        fleet.pods.update(&ns, VARIANT, |m| m.perf = Some(PERF));
        cluster
            .put_config_map("serviceclass", service_classes)
            .await;
        cluster
            .create_deployment(VARIANT, &[&format!("{VARIANT}-0")])
            .await;
        cluster
            .create_va(VARIANT, VARIANT, MODEL, "10.0", "H100")
            .await;
        let load = Arc::new(Mutex::new(Load {
            rate: 30.0,
            batches: vec![4.0, 16.0, 32.0, 64.0, 96.0],
        }));
        let driver = tokio::spawn(drive(fleet.pods.clone(), ns, load.clone()));
        fleet.synced().await;
        // The controller starts once Prometheus's one-minute rate shows the load.
        wait_rate_above(&fleet, &cluster.namespace, 25.0);
        let wva = Wva::start(&cluster, &fleet.prometheus, env);
        Scenario {
            cluster,
            fleet,
            wva,
            load,
            driver,
        }
    }

    fn ns(&self) -> &str {
        &self.cluster.namespace
    }

    /// Sets the load.
    fn set_load(&self, rate: f64, batch: f64) {
        *self.load.lock().expect("load") = Load {
            rate,
            batches: vec![batch],
        };
    }

    /// Waits for the `ScaledUp` event of a HYBRID decision (the model's numbers and the
    /// class in its note); returns it.
    async fn hybrid_scale_up(&self) -> harness::Event {
        let event = self
            .cluster
            .wait_event("ScaledUp", VARIANT, "Scaled up from 1 to ")
            .await;
        assert!(
            event.note.contains("Hybrid mode: model wants ")
                && event
                    .note
                    .contains("class Premium SLO TTFT 1000 ms, ITL 16 ms"),
            "{event:?}"
        );
        event
    }

    async fn desired(&self) -> Option<f64> {
        desired_replicas(&self.wva.metrics(), self.ns(), VARIANT)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Every 200 ms: the running batch of the current 20-second step of `batches` (which sets
/// KV-cache usage; nothing waits) and the requests finished since the last tick, whose
/// latencies follow [`PERF`] at that batch. Steps of 20 s make the one-minute means the
/// controller reads move from cycle to cycle (a batch cycled faster would give every cycle the
/// same mean, from which no slope can be learned).
async fn drive(pods: Arc<wva_testkit::VllmPods>, namespace: String, load: Arc<Mutex<Load>>) {
    let mut owed = 0.0;
    for tick in 0u64.. {
        let Load { rate, batches } = load.lock().expect("load").clone();
        let batch = batches[(tick / 100) as usize % batches.len()];
        owed += rate * 0.2;
        let finished = owed.floor();
        owed -= finished;
        pods.update(&namespace, VARIANT, |m| {
            m.serve(batch as u64, 128, 64);
            m.add_requests(finished as u64);
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the one-minute arrival rate Prometheus computes for `namespace` is above
/// `rate`.
fn wait_rate_above(fleet: &Fleet, namespace: &str, rate: f64) {
    let promql =
        format!("sum(rate(vllm:request_success_total{{namespace=\"{namespace}\"}}[1m])) > {rate}");
    fleet
        .prometheus
        .wait_until(&promql, LEARNING, |result| {
            result.as_array().is_some_and(|r| !r.is_empty())
        })
        .unwrap_or_else(|e| panic!("the load did not reach {rate} req/s: {e}"));
}

/// The `OptimizationReady` reason and message of a VA.
fn optimization(va: &VariantAutoscaling) -> (String, String) {
    va.status
        .as_ref()
        .and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == conditions::OPTIMIZATION_READY)
        })
        .map(|c| (c.reason.clone(), c.message.clone()))
        .unwrap_or_default()
}

/// HYBRID mode learns the replica; a bad service-class ConfigMap is rejected with an event and
/// the last good classes stay in force; then the load rises and HYBRID scales the replica up
/// when its latency misses the class's SLO, before the KV cache is anywhere near its
/// threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_scales_up_on_latency_before_saturation() {
    let s = Scenario::start(
        "hybrid",
        &[("serviceClasses", CLASSES)],
        &[("EXPERIMENTAL_PROACTIVE_MODEL", "true")],
    )
    .await;
    s.wva
        .wait_log(
            "Operating in HYBRID mode: capacity analyzer + model-based optimizer with arbitration",
        )
        .await;
    // Until the model has learned, HYBRID decides as CAPACITY-ONLY and says so.
    let va = s
        .cluster
        .wait_va(VARIANT, "a HYBRID decision", |va| {
            !optimization(va).0.is_empty()
        })
        .await;
    let (reason, message) = optimization(&va);
    assert!(
        reason == "CapacityOnlyMode" || message.starts_with("Hybrid mode: model wants 1 replicas"),
        "{reason}: {message}"
    );
    // Learned: the model holds one replica at 30 req/s (predicted ITL below 16 ms).
    let learning = std::time::Instant::now();
    loop {
        let va = s.cluster.vas().get(VARIANT).await.expect("VA");
        let (reason, message) = optimization(&va);
        if reason == "OptimizationSucceeded" {
            assert!(
                message.starts_with("Hybrid mode: model wants 1 replicas for "),
                "{message}"
            );
            assert!(
                message.contains("class Premium SLO TTFT 1000 ms, ITL 16 ms"),
                "{message}"
            );
            break;
        }
        assert_eq!(reason, "CapacityOnlyMode", "{message}");
        assert!(
            learning.elapsed() < LEARNING,
            "the model did not learn: {message}\nlog:\n{}",
            s.wva.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(s.desired().await, Some(1.0));

    // A bad service-class ConfigMap: an event, and the last good class stays in force.
    s.cluster
        .put_config_map("serviceclass", &[("serviceClasses", BAD_CLASSES)])
        .await;
    let event = s
        .cluster
        .wait_event(
            "InvalidConfiguration",
            "serviceclass",
            "Rejected invalid service-class ConfigMap",
        )
        .await;
    assert_eq!(event.type_, "Warning");
    assert!(
        event.note.contains(
            "serviceClasses: class \"Premium\": priority is 0, expected 1 (highest) to 100 (lowest)"
        ) && event.note.contains("The last good version stays in force"),
        "{event:?}"
    );
    s.wva.wait_cycles(2).await;
    let va = s.cluster.vas().get(VARIANT).await.expect("VA");
    let (reason, message) = optimization(&va);
    assert_eq!(reason, "OptimizationSucceeded", "{message}");
    assert!(message.contains("class Premium SLO"), "{message}");

    // The load rises (the class in force is still the last good one) to a batch of 96: ITL 26 ms, KV-cache usage 0.47 (threshold 0.80).
    let (cycles, rose) = (s.wva.cycles(), std::time::Instant::now());
    s.set_load(rate_at(96.0), 96.0);
    let metrics = loop {
        let metrics = s.wva.metrics();
        if desired_replicas(&metrics, s.ns(), VARIANT).is_some_and(|d| d >= 2.0) {
            break metrics;
        }
        let va = s.cluster.vas().get(VARIANT).await.expect("VA");
        assert!(
            rose.elapsed() < LEARNING,
            "HYBRID did not scale up; last decision: {:?}",
            optimization(&va)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!(
        "HYBRID: scaled up {:.0} s ({} engine cycles) after the load rose",
        rose.elapsed().as_secs_f64(),
        harness::cycles(&metrics) - cycles
    );
    // The scale-up's event carries the decision's message (its status is overwritten by the
    // next cycle's transition hold: no HPA applies the decision here).
    let event = s.hybrid_scale_up().await;
    assert!(
        event.note.contains("; capacity: "),
        "the capacity analysis is named too: {event:?}"
    );
    let kv_peak = s
        .fleet
        .prometheus
        .query(&format!(
            "max(max_over_time(vllm:kv_cache_usage_perc{{namespace=\"{}\"}}[1m]))",
            s.ns()
        ))
        .expect("KV query");
    let kv_peak: f64 = kv_peak[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a KV value");
    assert!(
        kv_peak < 0.8,
        "the KV cache stayed below its threshold: {kv_peak}"
    );
}

/// The same load with HYBRID off: the latency rise changes nothing while the KV cache has
/// room; the replica is added only once the KV cache saturates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_only_waits_for_saturation() {
    let s = Scenario::start("capacity-only", &[("serviceClasses", CLASSES)], &[]).await;
    s.wva
        .wait_log("Operating in CAPACITY-ONLY mode: reactive capacity-based scaling only")
        .await;
    s.set_load(rate_at(96.0), 96.0);
    // The controller's one-minute windows hold the new load only.
    wait_rate_above(&s.fleet, s.ns(), rate_at(96.0) * 0.95);
    s.wva.wait_cycles(3).await;
    assert_eq!(s.desired().await, Some(1.0), "log:\n{}", s.wva.log());
    let va = s.cluster.vas().get(VARIANT).await.expect("VA");
    let (reason, message) = optimization(&va);
    assert_eq!(reason, "OptimizationSucceeded", "{message}");
    assert!(!message.contains("Hybrid mode"), "{message}");

    // A batch of 180 fills the KV cache to 0.88: now capacity scales up.
    s.set_load(rate_at(180.0), 180.0);
    let ns = s.ns().to_string();
    s.wva
        .wait_metrics_within(LEARNING, "capacity scales up on saturation", move |m| {
            desired_replicas(m, &ns, VARIANT) == Some(2.0)
        })
        .await;
}

/// Performance parameters configured for the variant apply until its own model has learned:
/// configured slower than the replica really is (twice its memory slope, 1.5 times its base
/// time), they make HYBRID scale up at once at a load the replica serves within the SLO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_parameters_apply_until_the_model_has_learned() {
    // ITL 12.3 ms + 0.38 ms per running request: 16 ms up to a batch of 9, about 9 req/s.
    let slow = "- variant: chat-h100\n  alpha: 12\n  beta: 0.02\n  gamma: 0.002\n";
    let s = Scenario::start(
        "hybrid-configured",
        &[("serviceClasses", CLASSES), ("performanceParameters", slow)],
        &[("EXPERIMENTAL_PROACTIVE_MODEL", "true")],
    )
    .await;
    s.hybrid_scale_up().await;
}
