//! End-to-end scenarios of scale-from-zero: a model whose variants are all at zero comes back
//! when requests queue for it at the inference gateway. An emulated endpoint picker exports
//! `inference_extension_flow_control_queue_size`, a real Prometheus scrapes it, and the real
//! `wva` binary runs against a Kubernetes API (the in-memory double, or
//! `WVA_E2E_KUBECONFIG`). The scenarios assert what a user sees: `/metrics`, the VA status,
//! events, the Deployment's replicas and the log.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e_decisions/ops.rs"]
mod ops;

use harness::{Cluster, Fleet, Wva, condition};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use ops::{desired_replicas, gauge, log_lines, wait_log_lines};
use std::time::{Duration, Instant};
use wva_testkit::GatewayEmulator;

const MODEL: &str = "acme/chat";

/// A model with two variants at zero (A100 at cost 20, H100 at cost 40), scale-to-zero on
/// with a `retention` period, an emulated gateway with an empty queue and a controller
/// started with `env`.
struct AtZero {
    cluster: Cluster,
    gateway: GatewayEmulator,
    fleet: Fleet,
    wva: Wva,
}

impl AtZero {
    async fn start(name: &str, retention: &str, env: &[(&str, &str)]) -> AtZero {
        let cluster = Cluster::start(name).await;
        let ns = cluster.namespace.clone();
        let gateway = GatewayEmulator::start();
        gateway.set_queue(MODEL, 0.0);
        let fleet = Fleet::serve_with(
            &cluster,
            &[(&ns, "chat-a100", MODEL), (&ns, "chat-h100", MODEL)],
            0.10,
            0.0,
            vec![gateway.target(&ns)],
        );
        cluster
            .put_config_map(
                "wva-model-scale-to-zero-config",
                &[(
                    "default",
                    &format!("enable_scale_to_zero: true\nretention_period: {retention}\n"),
                )],
            )
            .await;
        cluster.create_deployment("chat-a100", &[]).await;
        cluster.create_deployment("chat-h100", &[]).await;
        cluster
            .create_va("chat-a100", "chat-a100", MODEL, "20.0", "A100")
            .await;
        cluster
            .create_va("chat-h100", "chat-h100", MODEL, "40.0", "H100")
            .await;
        let wva = Wva::start(&cluster, &fleet.prometheus, env);
        let ns2 = ns.clone();
        wva.wait_metrics("both variants published at 0", move |m| {
            desired_replicas(m, &ns2, "chat-a100") == Some(0.0)
                && desired_replicas(m, &ns2, "chat-h100") == Some(0.0)
        })
        .await;
        AtZero {
            cluster,
            gateway,
            fleet,
            wva,
        }
    }

    fn ns(&self) -> &str {
        &self.cluster.namespace
    }

    /// Queues `size` requests at the gateway and waits until Prometheus has scraped them;
    /// returns when it had.
    fn queue(&self, size: f64) -> Instant {
        self.gateway.set_queue(MODEL, size);
        let promql = format!(
            "sum(inference_extension_flow_control_queue_size{{target_model_name=\"{MODEL}\"}})"
        );
        self.fleet
            .prometheus
            .wait_for_value(&promql, size, harness::DEADLINE)
            .unwrap_or_else(|e| panic!("queue not scraped: {e}"));
        Instant::now()
    }

    async fn deployment_replicas(&self, name: &str) -> Option<i32> {
        Api::<Deployment>::namespaced(self.cluster.client.clone(), self.ns())
            .get(name)
            .await
            .expect("Deployment")
            .spec
            .and_then(|s| s.replicas)
    }
}

/// Requests queue at the gateway for a model at zero: within seconds `wva_desired_replicas`
/// says 1 for the cheapest variant only, the VA status shows it, a `ScaledFromZero` event
/// names the queue size, and the activation is counted. With the default `metric` actuation
/// WVA does not touch the Deployment (KEDA activates it). The queue then drops, the
/// replica starts and serves nothing: the model stays at 1 until its retention period has
/// passed since the wake, then goes back to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_bring_the_cheapest_variant_back_and_retention_holds_it() {
    let z = AtZero::start("wake", "20s", &[]).await;
    let ns = z.ns().to_string();
    let cycles_before = z.wva.cycles();
    let visible = z.queue(5.0);
    let ns2 = ns.clone();
    let metrics = z
        .wva
        .wait_metrics("chat-a100 at 1", move |m| {
            desired_replicas(m, &ns2, "chat-a100") == Some(1.0)
        })
        .await;
    let seconds = visible.elapsed().as_secs_f64();
    eprintln!(
        "scale-from-zero: {seconds:.2}s from the queue visible in Prometheus to wva_desired_replicas=1"
    );
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-h100"),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "wva_scale_from_zero_activations_total{{model_id=\"{MODEL}\",namespace=\"{ns}\",variant_name=\"chat-a100\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("wva_scale_from_zero_decision_seconds_count 1"),
        "{metrics}"
    );
    let event = z
        .cluster
        .wait_event(
            "ScaledFromZero",
            "chat-a100",
            "Scaled up from 0 to 1 replicas",
        )
        .await;
    assert!(
        event
            .note
            .contains("5 requests wait at the inference gateway for model \"acme/chat\""),
        "{event:?}"
    );
    let va = z
        .cluster
        .wait_va("chat-a100", "numReplicas 1", |va| {
            va.status
                .as_ref()
                .and_then(|s| s.desired_optimized_alloc.num_replicas)
                == Some(1)
        })
        .await;
    assert_eq!(
        condition(&va, "MetricsAvailable"),
        Some(("True".into(), "ScaleFromZero".into())),
        "{va:#?}"
    );
    // The activation did not wait for an engine cycle, and the Deployment is KEDA's to scale.
    assert!(z.wva.cycles() <= cycles_before + seconds.ceil() as u64 + 1);
    assert_eq!(z.deployment_replicas("chat-a100").await, Some(0));
    wait_log_lines(
        &z.wva,
        &[
            "Requests waiting at the gateway, scaling from zero",
            "variant=chat-a100",
        ],
        1,
    )
    .await;

    // One scaling, announced once: the cycles that follow keep the started replica.
    let cycles = log_lines(&z.wva, &["Optimization completed successfully"]).len();
    wait_log_lines(&z.wva, &["Optimization completed successfully"], cycles + 2).await;
    assert_eq!(
        log_lines(
            &z.wva,
            &["Scaled up from 0 to 1 replicas", "variant=chat-a100"]
        )
        .len(),
        1,
        "{}",
        z.wva.log()
    );
    let metrics = z.wva.metrics();
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-a100"),
        Some(1.0),
        "{metrics}"
    );

    // KEDA starts the replica, the queue drains, the replica serves no request: the model is
    // held at 1 while its retention period since the wake runs, then goes to zero.
    z.queue(0.0);
    z.cluster
        .scale_deployment("chat-a100", &["chat-a100-0"])
        .await;
    z.fleet.synced().await;
    wait_log_lines(
        &z.wva,
        &[
            "Model recently scaled from zero or requests wait at the gateway, not scaling to zero",
            "model=acme/chat",
        ],
        2,
    )
    .await;
    let metrics = z.wva.metrics();
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-a100"),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        log_lines(
            &z.wva,
            &["No requests in retention period, scaling to zero"]
        )
        .is_empty(),
        "{}",
        z.wva.log()
    );
    let ns2 = ns.clone();
    z.wva
        .wait_metrics_within(
            Duration::from_secs(60),
            "chat-a100 back at 0 after the retention",
            move |m| desired_replicas(m, &ns2, "chat-a100") == Some(0.0),
        )
        .await;
    assert!(
        visible.elapsed() >= Duration::from_secs(20),
        "sent back to zero {:?} after the wake, before its 20s retention",
        visible.elapsed()
    );
}

/// With `SCALE_FROM_ZERO_ACTUATION=scale` (a plain HPA cannot scale from 0), WVA also moves
/// the Deployment from 0 to 1 replica through its scale subresource, and only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_actuation_patches_the_deployment_from_zero_to_one() {
    let z = AtZero::start(
        "wake-scale",
        "10m",
        &[("SCALE_FROM_ZERO_ACTUATION", "scale")],
    )
    .await;
    let ns = z.ns().to_string();
    z.queue(3.0);
    let start = Instant::now();
    loop {
        if z.deployment_replicas("chat-a100").await == Some(1) {
            break;
        }
        assert!(
            start.elapsed() < harness::DEADLINE,
            "chat-a100 not scaled to 1; log:\n{}",
            z.wva.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = z.wva.metrics();
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-a100"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(z.deployment_replicas("chat-h100").await, Some(0));
    wait_log_lines(
        &z.wva,
        &["Scaled Deployment from 0 to 1 replica (SCALE_FROM_ZERO_ACTUATION=scale)"],
        1,
    )
    .await;
    assert_eq!(
        gauge(&metrics, "wva_desired_replicas", &ns, "chat-h100"),
        Some(0.0)
    );
}

/// An empty or unreadable gateway queue never starts a model: with the gateway's series at
/// 0 the model stays at zero over several checks, and one query is made per check whatever
/// the number of models at zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_queue_starts_nothing_with_one_query_per_check() {
    let z = AtZero::start("wake-idle", "10m", &[]).await;
    let ns = z.ns().to_string();
    let queries = |m: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("wva_prometheus_queries_total")
                    && l.contains("signal=\"gateway_queue\"")
                    && l.contains("result=\"success\"")
            })
            .and_then(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = queries(&z.wva.metrics());
    let cycles = log_lines(&z.wva, &["Optimization completed successfully"]).len();
    wait_log_lines(&z.wva, &["Optimization completed successfully"], cycles + 4).await;
    let metrics = z.wva.metrics();
    let after = queries(&metrics);
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-a100"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        desired_replicas(&metrics, &ns, "chat-h100"),
        Some(0.0),
        "{metrics}"
    );
    // About one check per second over the four cycles: one query each, not one per model
    // or variant.
    assert!(after - before >= 2.0, "no gateway queries: {metrics}");
    assert!(
        after - before <= 8.0,
        "{} gateway queries over 4 cycles",
        after - before
    );
    assert!(
        !metrics.contains("wva_scale_from_zero_activations_total{"),
        "{metrics}"
    );
}
