//! End-to-end scenarios of scale targets beyond Deployments: a StatefulSet scales like a
//! Deployment, and a LeaderWorkerSet, whose CRD is installed while the controller runs, is
//! counted and scaled in groups, reading only its group leaders. The real `wva` binary runs
//! against a Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real
//! Prometheus scraping vLLM emulators; the scenarios assert what a user sees: `/metrics`, the
//! VA status and the log.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e_decisions/ops.rs"]
mod ops;
mod workloads;

use harness::{Cluster, DEADLINE, Fleet, Wva, condition};
use ops::{desired_replicas, gauge, wait_log_lines};
use std::time::{Duration, Instant};
use workloads::{
    LwsCrd, create_lws, create_stateful_set, create_va, leaders, stateful_set_replicas, workers,
};
use wva_testkit::GatewayEmulator;

const MODEL: &str = "acme/big";

/// The message of the condition `kind` of VA `name`, once it has `reason`.
async fn message_once(cluster: &Cluster, name: &str, kind: &str, reason: &str) -> String {
    let va = cluster
        .wait_va(name, &format!("{kind} {reason}"), |va| {
            condition(va, kind).is_some_and(|(_, r)| r == reason)
        })
        .await;
    va.status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == kind))
        .map(|c| c.message)
        .unwrap_or_default()
}

/// A StatefulSet of 2 saturated pods: its VA resolves the StatefulSet, counts its 2 pods as
/// replicas and asks for a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_stateful_set_scales_up() {
    let cluster = Cluster::start("sts").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["db"], 0.90, 0.0);
    create_stateful_set(&cluster, "db", 2).await;
    fleet.synced().await;
    create_va(&cluster, "db", ("apps/v1", "StatefulSet"), "db", MODEL).await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let metrics = wva
        .wait_metrics("db asks for 3 replicas", |m| {
            desired_replicas(m, &ns, "db") == Some(3.0)
        })
        .await;
    assert_eq!(
        gauge(&metrics, "wva_current_replicas", &ns, "db"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        message_once(&cluster, "db", "TargetResolved", "TargetFound").await,
        "Scale target StatefulSet db found"
    );
}

/// A StatefulSet at 0 with `SCALE_FROM_ZERO_ACTUATION=scale`: requests queue at the gateway,
/// and WVA patches the StatefulSet's own scale subresource from 0 to 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_from_zero_patches_a_stateful_set() {
    let cluster = Cluster::start("sts-wake").await;
    let ns = cluster.namespace.clone();
    let gateway = GatewayEmulator::start();
    gateway.set_queue(MODEL, 0.0);
    let served = [(ns.as_str(), "db", MODEL)];
    let fleet = Fleet::serve_with(&cluster, &served, 0.10, 0.0, vec![gateway.target(&ns)]);
    cluster
        .put_config_map(
            "wva-model-scale-to-zero-config",
            &[(
                "default",
                "enable_scale_to_zero: true\nretention_period: 10m\n",
            )],
        )
        .await;
    create_stateful_set(&cluster, "db", 0).await;
    create_va(&cluster, "db", ("apps/v1", "StatefulSet"), "db", MODEL).await;
    let env = [("SCALE_FROM_ZERO_ACTUATION", "scale")];
    let wva = Wva::start(&cluster, &fleet.prometheus, &env);
    wva.wait_metrics("db published at 0", |m| {
        desired_replicas(m, &ns, "db") == Some(0.0)
    })
    .await;
    gateway.set_queue(MODEL, 3.0);
    let start = Instant::now();
    while stateful_set_replicas(&cluster, "db").await != Some(1) {
        assert!(
            start.elapsed() < DEADLINE,
            "db not scaled to 1; log:\n{}",
            wva.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_log_lines(
        &wva,
        &["Scaled StatefulSet from 0 to 1 replica (SCALE_FROM_ZERO_ACTUATION=scale)"],
        1,
    )
    .await;
    assert_eq!(
        desired_replicas(&wva.metrics(), &ns, "db"),
        Some(1.0),
        "{}",
        wva.log()
    );
}

/// A VA names a LeaderWorkerSet before its CRD exists: the controller says the target does
/// not exist yet. The CRD is then installed (no restart) and an LWS of 2 groups of 2 pods
/// created, its pods made as the LWS controller would: the 4 pods are 2 replicas. The leaders
/// are saturated and the workers (which here also export vLLM series) idle: read as 4
/// replicas the average would be far from saturated; read as 2 groups by their leaders it
/// asks for a third group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_worker_set_installed_later_is_counted_and_scaled_in_groups() {
    let cluster = Cluster::start("lws").await;
    let ns = cluster.namespace.clone();
    LwsCrd::absent(&cluster).await;
    let (leader_pods, worker_pods) = (leaders("big"), workers("big"));
    let fleet = Fleet::start(&cluster, MODEL, &[&leader_pods, &worker_pods], 0.0, 0.0);
    fleet.set_deployment(&ns, &leader_pods, 0.90, 0.0);
    let lws = ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet");
    create_va(&cluster, "big", lws, "big", MODEL).await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    assert_eq!(
        message_once(&cluster, "big", "Ready", "LeaderWorkerSetNotFound").await,
        "Target LeaderWorkerSet 'big' does not exist yet; autoscaling starts as soon as it is created"
    );
    wva.wait_log("is not installed: its kind is not watched until it is")
        .await;

    let _crd = LwsCrd::install(&cluster).await;
    create_lws(&cluster, "big", 2, 2).await;
    fleet.synced().await;
    let metrics = wva
        .wait_metrics("big asks for 3 groups", |m| {
            desired_replicas(m, &ns, "big") == Some(3.0)
        })
        .await;
    assert_eq!(
        gauge(&metrics, "wva_current_replicas", &ns, "big"),
        Some(2.0),
        "2 groups, not 4 pods: {metrics}"
    );
    assert_eq!(
        message_once(&cluster, "big", "TargetResolved", "TargetFound").await,
        "Scale target LeaderWorkerSet big found"
    );
    let va = cluster
        .wait_va("big", "numReplicas 3", |va| {
            va.status
                .as_ref()
                .and_then(|s| s.desired_optimized_alloc.num_replicas)
                == Some(3)
        })
        .await;
    assert_eq!(
        condition(&va, "Ready"),
        Some(("True".into(), "AutoscalingActive".into()))
    );
    wva.wait_log("Watching leaderworkersets").await;
}
