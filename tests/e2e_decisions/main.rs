//! End-to-end scenarios about decisions: the cheaper of two variants grows, a Prometheus
//! outage is bridged by the safety net, scale-to-zero, a prefill/decode pair scales per role. The real `wva` binary runs against a
//! Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real Prometheus
//! scraping vLLM emulators; the scenarios assert what a user sees: VA conditions, `/metrics`,
//! events and the log.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
mod ops;

use harness::{Cluster, Fleet, Wva, condition};
use ops::{desired_replicas, documented_series, gauge, log_lines, wait_log_lines};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wva_api::crd::VariantAutoscaling;

/// `status.desiredOptimizedAlloc.numReplicas` of a VA.
fn alloc(va: &VariantAutoscaling) -> Option<i32> {
    va.status
        .as_ref()
        .and_then(|s| s.desired_optimized_alloc.num_replicas)
}

/// The message of the condition `kind` of a VA.
fn message(va: &VariantAutoscaling, kind: &str) -> String {
    va.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == kind))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Scenario 4: two variants of one model (same modelID, two Deployments) with different
/// `variantCost`. Under load the cheaper one grows, twice, and the expensive one stays — even
/// though it has more spare KV capacity and its name sorts first, the tie-breakers that would
/// pick it if the costs were equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_goes_to_the_cheaper_variant() {
    let cluster = Cluster::start("cheaper").await;
    let ns = cluster.namespace.clone();
    let model = "meta/llama-3.1-70b";
    let h100 = ["llama-70b-h100-0"];
    let a100 = ["llama-70b-a100-0", "llama-70b-a100-1"];
    // The a100 Deployment gets its second replica when the HPA adds it.
    let fleet = Fleet::start(
        &cluster,
        model,
        &["llama-70b-h100", "llama-70b-a100"],
        0.50,
        0.0,
    );
    cluster.create_deployment("llama-70b-h100", &h100).await;
    cluster
        .create_deployment("llama-70b-a100", &a100[..1])
        .await;
    fleet.synced().await;
    cluster
        .create_va("llama-70b-premium", "llama-70b-h100", model, "80.0", "H100")
        .await;
    cluster
        .create_va(
            "llama-70b-standard",
            "llama-70b-a100",
            model,
            "40.0",
            "A100",
        )
        .await;
    // A VA of another model whose Deployment does not exist: its model's count says so.
    cluster
        .create_va("orphan-autoscaler", "orphan", "acme/orphan", "10.0", "H100")
        .await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let premium = |m: &str| desired_replicas(m, &ns, "llama-70b-premium");
    let standard = |m: &str| desired_replicas(m, &ns, "llama-70b-standard");
    wva.wait_metrics("both variants published at 1", |m| {
        premium(m) == Some(1.0) && standard(m) == Some(1.0)
    })
    .await;

    // Average spare KV (0.03 + 0.01) / 2 = 0.02 < 0.10: the model must grow.
    fleet.set_deployment(&ns, "llama-70b-h100", 0.77, 0.0);
    fleet.set_deployment(&ns, "llama-70b-a100", 0.79, 0.0);
    let metrics = wva
        .wait_metrics("the standard variant grows to 2", |m| {
            standard(m) == Some(2.0)
        })
        .await;
    assert_eq!(premium(&metrics), Some(1.0), "{metrics}");
    let event = cluster
        .wait_event(
            "ScaledUp",
            "llama-70b-standard",
            "Scaled up from 1 to 2 replicas",
        )
        .await;
    assert!(
        event.note.contains("variant (cost 40) grows 1 -> 2"),
        "{event:?}"
    );
    let va = cluster
        .wait_va("llama-70b-standard", "numReplicas 2", |va| {
            alloc(va) == Some(2)
        })
        .await;
    assert_eq!(
        condition(&va, "OptimizationReady").map(|c| c.0),
        Some("True".into())
    );
    assert_eq!(
        va.status
            .as_ref()
            .and_then(|s| s.desired_optimized_alloc.accelerator.clone()),
        Some("A100".into())
    );

    // The HPA gives the standard variant its second replica; the load stays, and the next
    // replica again goes to the cheaper variant.
    cluster.scale_deployment("llama-70b-a100", &a100).await;
    fleet.synced().await;
    let metrics = wva
        .wait_metrics("the standard variant grows to 3", |m| {
            standard(m) == Some(3.0)
        })
        .await;
    assert_eq!(premium(&metrics), Some(1.0), "{metrics}");
    cluster
        .wait_event(
            "ScaledUp",
            "llama-70b-standard",
            "Scaled up from 2 to 3 replicas",
        )
        .await;
    let va = cluster.vas().get("llama-70b-premium").await.expect("VA");
    assert_eq!(alloc(&va), Some(1), "{va:#?}");
    let events = cluster.events().await;
    assert!(
        !events
            .iter()
            .any(|e| e.object == "llama-70b-premium" && e.reason.starts_with("Scaled")),
        "{events:#?}"
    );
    // Two scale-ups counted for the standard variant, none for the premium one.
    let scale_ups = format!(
        r#"wva_replica_scaling_total{{direction="scale-up",namespace="{ns}",reason="scale-up",variant_name="llama-70b-standard"}} 2"#
    );
    let metrics = wva
        .wait_metrics("two scale-ups counted", |m| m.contains(&scale_ups))
        .await;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("wva_replica_scaling_total")
                && l.contains(r#"variant_name="llama-70b-premium""#)),
        "{metrics}"
    );

    // The operational metrics, each with its documented labels.
    for name in [
        "wva_cycle_models",
        "wva_cycle_variants",
        "wva_prometheus_query_duration_seconds",
        "wva_last_successful_cycle_timestamp_seconds",
        "wva_engine_interval_seconds",
        "wva_config_info",
        "wva_model_metrics_freshness",
        "wva_model_safety_net",
        "wva_model_saturated_at_max",
        "wva_model_spare_capacity",
        "wva_model_saturated_replicas",
        "wva_model_missing_targets",
    ] {
        documented_series(&metrics, name);
    }
    let has = |line: String| {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    };
    has("wva_cycle_models 1".into());
    has("wva_cycle_variants 2".into());
    has(
        r#"wva_config_info{analyzer="saturation",limited_mode="false",scale_to_zero="false"} 1"#
            .into(),
    );
    has(format!(
        r#"wva_model_metrics_freshness{{model_id="{model}",namespace="{ns}",state="fresh"}} 1"#
    ));
    has(format!(
        r#"wva_model_safety_net{{model_id="{model}",namespace="{ns}"}} 0"#
    ));
    has(format!(
        r#"wva_model_missing_targets{{model_id="{model}",namespace="{ns}"}} 0"#
    ));
    has(format!(
        r#"wva_model_missing_targets{{model_id="acme/orphan",namespace="{ns}"}} 1"#
    ));
    for signal in ["kv_cache_usage", "queue_length"] {
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!(
                r#"wva_prometheus_query_duration_seconds_count{{signal="{signal}"}}"#
            ))),
            "{signal} queries timed: {metrics}"
        );
    }
    let last_cycle: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wva_last_successful_cycle_timestamp_seconds "))
        .and_then(|v| v.parse().ok())
        .expect("last cycle timestamp");
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(
        last_cycle > now - 3600.0 && last_cycle <= now + 1.0,
        "last cycle {last_cycle}, now {now}"
    );
}

/// Scenario 5: Prometheus stops while a scale-up is not yet applied. The safety net keeps
/// re-emitting the previous desired replicas (no scale-down to the current ones), logs
/// `Safety net activated: emitted fallback metrics` and sets `MetricsAvailable=False`
/// (`PrometheusError`). Prometheus comes back on the same address: metrics are found again
/// and decisions resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_outage_keeps_the_previous_desired_then_decisions_resume() {
    let cluster = Cluster::start("outage").await;
    let ns = cluster.namespace.clone();
    let pods = ["llama-8b-0", "llama-8b-1", "llama-8b-2", "llama-8b-3"];
    let mut fleet = Fleet::start(&cluster, "meta/llama-3.1-8b", &["llama-8b"], 0.50, 0.0);
    cluster.create_deployment("llama-8b", &pods[..2]).await;
    fleet.synced().await;
    cluster
        .create_va(
            "llama-8b-autoscaler",
            "llama-8b",
            "meta/llama-3.1-8b",
            "10.0",
            "H100",
        )
        .await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let desired = |m: &str| desired_replicas(m, &ns, "llama-8b-autoscaler");
    wva.wait_metrics("steady at 2", |m| desired(m) == Some(2.0))
        .await;
    fleet.set(0.78, 1.0);
    wva.wait_metrics("scaled up to 3", |m| desired(m) == Some(3.0))
        .await;
    cluster
        .wait_va("llama-8b-autoscaler", "numReplicas 3", |va| {
            alloc(va) == Some(3)
        })
        .await;

    // The outage, before the HPA applied 3: the Deployment still has 2 replicas.
    fleet.prometheus.stop();
    let safety_net = [
        "Safety net activated: emitted fallback metrics",
        "variant=llama-8b-autoscaler",
    ];
    let lines = wait_log_lines(&wva, &safety_net, 1).await;
    for field in [
        "currentReplicas=2",
        "desiredReplicas=3",
        "fallbackSource=previous-desired",
    ] {
        assert!(lines[0].contains(field), "{field} missing in {lines:?}");
    }
    let va = cluster
        .wait_va(
            "llama-8b-autoscaler",
            "MetricsAvailable=False PrometheusError",
            |va| condition(va, "MetricsAvailable").is_some_and(|c| c.1 == "PrometheusError"),
        )
        .await;
    assert_eq!(
        condition(&va, "MetricsAvailable").map(|c| c.0),
        Some("False".into())
    );
    assert_eq!(
        condition(&va, "OptimizationReady"),
        Some(("False".into(), "OptimizationFailed".into()))
    );
    assert!(
        message(&va, "OptimizationReady")
            .ends_with("(safety net kept 3 replicas, fallbackSource=previous-desired)"),
        "{va:#?}"
    );
    assert_eq!(alloc(&va), Some(3));
    let event = cluster
        .wait_event(
            "MetricsUnavailable",
            "llama-8b-autoscaler",
            "Prometheus query for saturation metrics failed",
        )
        .await;
    assert_eq!(event.type_, "Warning");
    let model = "meta/llama-3.1-8b";
    let stale = format!(
        r#"wva_model_metrics_freshness{{model_id="{model}",namespace="{ns}",state="stale"}} 1"#
    );
    let on_net = format!(r#"wva_model_safety_net{{model_id="{model}",namespace="{ns}"}} 1"#);
    wva.wait_metrics("the model is stale and on the safety net", |m| {
        m.contains(&stale) && m.contains(&on_net)
    })
    .await;
    // Cycle after cycle during the outage the previous desired is re-emitted, never the 2
    // current replicas.
    let seen = log_lines(&wva, &safety_net).len();
    let start = std::time::Instant::now();
    while log_lines(&wva, &safety_net).len() < seen + 2 {
        let metrics = wva.metrics();
        if !metrics.is_empty() {
            assert_eq!(desired(&metrics), Some(3.0), "{metrics}");
        }
        assert!(start.elapsed() < harness::DEADLINE, "{}", wva.log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let metrics = wva.metrics();
    assert_eq!(desired(&metrics), Some(3.0), "{metrics}");
    assert!(
        gauge(
            &metrics,
            "wva_safety_net_activations_total",
            &ns,
            "llama-8b-autoscaler"
        )
        .is_some_and(|n| n >= 3.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"fallback_source="previous-desired""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"wva_prometheus_queries_total{result="error",signal="kv_cache_usage"}"#),
        "{metrics}"
    );

    // Prometheus is back at the same address: metrics are found again.
    fleet.prometheus.restart().expect("Prometheus restarts");
    let va = cluster
        .wait_va(
            "llama-8b-autoscaler",
            "MetricsAvailable=True MetricsFound",
            |va| condition(va, "MetricsAvailable") == Some(("True".into(), "MetricsFound".into())),
        )
        .await;
    assert_eq!(
        condition(&va, "OptimizationReady").map(|c| c.0),
        Some("True".into())
    );
    assert_eq!(alloc(&va), Some(3));
    let restored = cluster
        .wait_event("MetricsRestored", "llama-8b-autoscaler", "")
        .await;
    assert_eq!(restored.type_, "Normal");
    let fresh = format!(
        r#"wva_model_metrics_freshness{{model_id="{model}",namespace="{ns}",state="fresh"}} 1"#
    );
    wva.wait_metrics("the model is fresh again", |m| m.contains(&fresh))
        .await;
    // Decisions resume: the HPA applies 3, the load stays, the next decision asks for 4.
    cluster.scale_deployment("llama-8b", &pods[..3]).await;
    fleet.synced().await;
    wva.wait_metrics("scaled up to 4", |m| desired(m) == Some(4.0))
        .await;
    cluster
        .wait_event(
            "ScaledUp",
            "llama-8b-autoscaler",
            "Scaled up from 3 to 4 replicas",
        )
        .await;
    cluster
        .wait_va("llama-8b-autoscaler", "numReplicas 4", |va| {
            alloc(va) == Some(4)
                && condition(va, "OptimizationReady")
                    .is_some_and(|c| c.1 == "OptimizationSucceeded")
        })
        .await;
}

/// Scenario 11: scale-to-zero. `WVA_SCALE_TO_ZERO=true` enables it for every model, and the
/// `wva-model-scale-to-zero-config` ConfigMap sets a 5s retention and disables it for
/// `acme/batch`. `acme/chat` keeps its replica while it serves requests, goes to 0 once it
/// served none over the retention period, stays at 0 once the HPA applied it, and comes back
/// to 1 when its ConfigMap entry disables scale-to-zero at runtime. `acme/batch`, as idle,
/// keeps 1 replica throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_to_zero_after_the_retention_without_requests_and_one_replica_when_disabled() {
    let cluster = Cluster::start("to-zero").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::serve(
        &cluster,
        &[(&ns, "chat", "acme/chat"), (&ns, "batch", "acme/batch")],
        0.10,
        0.0,
    );
    let config = "wva-model-scale-to-zero-config";
    let default = "retention_period: 5s\n";
    let batch_entry = "model_id: acme/batch\nenable_scale_to_zero: false\n";
    cluster
        .put_config_map(config, &[("default", default), ("batch", batch_entry)])
        .await;
    cluster.create_deployment("chat", &["chat-0"]).await;
    cluster.create_deployment("batch", &["batch-0"]).await;
    fleet.synced().await;
    cluster
        .create_va("chat-autoscaler", "chat", "acme/chat", "10.0", "H100")
        .await;
    cluster
        .create_va("batch-autoscaler", "batch", "acme/batch", "10.0", "H100")
        .await;

    // A client keeps sending requests to chat.
    let traffic = Arc::new(AtomicBool::new(true));
    let client = {
        let (traffic, pods, ns) = (traffic.clone(), fleet.pods.clone(), ns.clone());
        std::thread::spawn(move || {
            while traffic.load(Ordering::Relaxed) {
                pods.update(&ns, "chat", |m| m.add_requests(1));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        })
    };
    // Prometheus sees chat's requests within the retention period: before the controller
    // starts (chat's pod and its series are new).
    fleet
        .prometheus
        .wait_until(
            r#"sum(increase(vllm:request_success_total{model_name="acme/chat"}[5s]))"#,
            harness::DEADLINE,
            |r| {
                r[0]["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
            },
        )
        .expect("requests counted");
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[("WVA_SCALE_TO_ZERO", "true")],
    );
    let chat_desired = |m: &str| desired_replicas(m, &ns, "chat-autoscaler");
    let batch_desired = |m: &str| desired_replicas(m, &ns, "batch-autoscaler");
    wva.wait_metrics("both published at 1", |m| {
        chat_desired(m) == Some(1.0) && batch_desired(m) == Some(1.0)
    })
    .await;
    // Several cycles later chat still has its replica.
    let cycles = log_lines(&wva, &["Optimization completed successfully"]).len();
    wait_log_lines(&wva, &["Optimization completed successfully"], cycles + 3).await;
    let metrics = wva.metrics();
    assert_eq!(chat_desired(&metrics), Some(1.0), "{metrics}");
    assert!(
        log_lines(&wva, &["No requests in retention period, scaling to zero"]).is_empty(),
        "{}",
        wva.log()
    );

    // The client stops; after the retention period without requests chat goes to 0.
    traffic.store(false, Ordering::Relaxed);
    client.join().expect("client thread");
    let metrics = wva
        .wait_metrics("chat scaled to zero", |m| chat_desired(m) == Some(0.0))
        .await;
    assert_eq!(batch_desired(&metrics), Some(1.0), "{metrics}");
    wait_log_lines(
        &wva,
        &[
            "No requests in retention period, scaling to zero",
            "model=acme/chat",
        ],
        1,
    )
    .await;
    assert!(
        log_lines(
            &wva,
            &[
                "No requests in retention period, scaling to zero",
                "model=acme/batch"
            ]
        )
        .is_empty(),
        "{}",
        wva.log()
    );
    let event = cluster
        .wait_event(
            "ScaledDown",
            "chat-autoscaler",
            "Scaled down from 1 to 0 replicas",
        )
        .await;
    assert!(
        event.note.contains("no requests in the last 5s"),
        "{event:?}"
    );
    let to_zero = cluster
        .wait_event("ScaledToZero", "chat-autoscaler", "Scaled to zero replicas")
        .await;
    assert!(
        to_zero.note.contains("no requests in the last 5s"),
        "{to_zero:?}"
    );
    let va = cluster
        .wait_va("chat-autoscaler", "numReplicas 0", |va| {
            alloc(va) == Some(0)
        })
        .await;
    assert!(
        message(&va, "OptimizationReady").contains("(target: 0 replicas)"),
        "{va:#?}"
    );
    let va = cluster.vas().get("batch-autoscaler").await.expect("VA");
    assert_eq!(alloc(&va), Some(1), "{va:#?}");

    // The HPA applies 0: chat has no pod left, and it stays at 0.
    cluster.scale_deployment("chat", &[]).await;
    let cycles = log_lines(&wva, &["Optimization completed successfully"]).len();
    wait_log_lines(&wva, &["Optimization completed successfully"], cycles + 3).await;
    let metrics = wva.metrics();
    assert_eq!(chat_desired(&metrics), Some(0.0), "{metrics}");
    assert_eq!(batch_desired(&metrics), Some(1.0), "{metrics}");

    // Scale-to-zero disabled for chat at runtime: it comes back to one replica.
    let chat_entry = "model_id: acme/chat\nenable_scale_to_zero: false\n";
    cluster
        .put_config_map(
            config,
            &[
                ("default", default),
                ("batch", batch_entry),
                ("chat", chat_entry),
            ],
        )
        .await;
    let metrics = wva
        .wait_metrics("chat back at 1", |m| chat_desired(m) == Some(1.0))
        .await;
    assert_eq!(batch_desired(&metrics), Some(1.0), "{metrics}");
    wait_log_lines(
        &wva,
        &[
            "Preserving minimum replica on cheapest variant (scale-to-zero disabled)",
            "model=acme/chat",
        ],
        1,
    )
    .await;
    cluster
        .wait_event(
            "ScaledUp",
            "chat-autoscaler",
            "Scaled up from 0 to 1 replicas",
        )
        .await;
    cluster
        .wait_va("chat-autoscaler", "numReplicas 1", |va| {
            alloc(va) == Some(1)
        })
        .await;
    let events = cluster.events().await;
    assert!(
        !events
            .iter()
            .any(|e| e.object == "batch-autoscaler" && e.reason.starts_with("Scaled")),
        "{events:#?}"
    );
}

/// Limited mode: the only GPU node (64 H100s) has one replica of a 40-GPU model on it, so 24
/// are free. The model saturates and needs another replica, which does not fit: the
/// decision is cut, a `ResourceConstrained` warning says so, and `/metrics` shows the free
/// GPUs of the type and the cut decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_mode_cuts_a_scale_up_that_does_not_fit_in_the_free_gpus() {
    let cluster = Cluster::start("limited").await;
    let ns = cluster.namespace.clone();
    cluster.label_gpu_node("NVIDIA-H100-80GB-HBM3").await;
    let fleet = Fleet::start(&cluster, "meta/llama-405b", &["llama-405b"], 0.95, 8.0);
    cluster
        .create_gpu_deployment("llama-405b", &["llama-405b-0"], 40)
        .await;
    fleet.synced().await;
    cluster
        .create_va(
            "llama-405b",
            "llama-405b",
            "meta/llama-405b",
            "80.0",
            "H100",
        )
        .await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[("WVA_LIMITED_MODE", "true")]);
    let event = cluster
        .wait_event(
            "ResourceConstrained",
            "llama-405b",
            "Scale-up of llama-405b limited by free GPUs",
        )
        .await;
    assert_eq!(event.type_, "Warning", "{event:?}");
    let metrics = wva
        .wait_metrics("the cut decision counted", |m| {
            m.lines().any(|l| {
                l.starts_with("wva_gpu_limited_decisions_total{")
                    && l.contains("variant_name=\"llama-405b\"")
                    && l.contains("accelerator_type=\"H100\"")
            })
        })
        .await;
    // 64 GPUs minus the 40 of the running replica, or fewer when another scenario on a real
    // cluster runs GPU pods on the node at the same time; never enough for a 40-GPU replica.
    let free = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wva_free_gpus{accelerator_type=\"H100\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no wva_free_gpus for H100: {metrics}"));
    assert!(free <= 24.0, "free H100 GPUs {free}");
    assert_eq!(
        desired_replicas(&metrics, &ns, "llama-405b"),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"wva_config_info{analyzer="saturation",limited_mode="true",scale_to_zero="false"} 1"#
        ),
        "{metrics}"
    );
    cluster.unlabel_gpu_node().await;
}

/// A VA whose modelID is not the `model_name` vLLM serves: one Warning `ModelIDNotFound` names
/// the served model ID, the MetricsAvailable message names it too, and `/metrics` counts it
/// once while it lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_model_id_names_the_model_id_the_pods_serve() {
    let cluster = Cluster::start("modelid").await;
    let ns = cluster.namespace.clone();
    let served = "meta-llama/Llama-3.1-8B-Instruct";
    let wrong = "meta/llama-3.1-8b";
    let fleet = Fleet::start(&cluster, served, &["llama-8b"], 0.30, 0.0);
    cluster.create_deployment("llama-8b", &["llama-8b-0"]).await;
    fleet.synced().await;
    cluster
        .create_va("llama-8b-autoscaler", "llama-8b", wrong, "10.0", "H100")
        .await;
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);

    let event = cluster
        .wait_event("ModelIDNotFound", "llama-8b-autoscaler", "")
        .await;
    assert_eq!(event.type_, "Warning");
    assert_eq!(
        event.note,
        format!(
            "No vLLM series with model_name \"{wrong}\" on the pods of Deployment llama-8b; their series carry model_name \"{served}\": set the VA's spec.modelID to it"
        )
    );
    let va = cluster
        .wait_va(
            "llama-8b-autoscaler",
            "MetricsAvailable naming the served model ID",
            |va| message(va, "MetricsAvailable").contains(served),
        )
        .await;
    assert_eq!(
        condition(&va, "MetricsAvailable"),
        Some(("False".into(), "MetricsMissing".into()))
    );
    let counted = format!(
        r#"wva_model_id_not_found_total{{namespace="{ns}",variant_name="llama-8b-autoscaler"}} 1"#
    );
    wva.wait_metrics("the mismatch counted", |m| m.contains(&counted))
        .await;
    // Two more cycles with the mismatch: still one warning, still counted once.
    let metrics = wva.wait_cycles(2).await;
    assert!(metrics.contains(&counted), "{metrics}");
    let warnings = cluster
        .events()
        .await
        .into_iter()
        .filter(|e| e.reason == "ModelIDNotFound")
        .count();
    assert_eq!(warnings, 1);
}

/// A prefill/decode pair of one model: two Deployments whose pods are labelled
/// `llm-d.ai/role` `prefill` and `decode`, one VA each. Only the prefill pod saturates (KV
/// 0.85); the decode pod has room (KV 0.50, queue 1). Prefill's `wva_desired_replicas`
/// rises to 2 and decode's stays 1: analysed together, decode's spare KV (0.30) would have
/// hidden prefill's saturation and nothing would have grown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefill_decode_pair_scales_only_the_saturated_role() {
    let cluster = Cluster::start("pd").await;
    let ns = cluster.namespace.clone();
    let model = "meta/llama-3.1-8b-pd";
    let fleet = Fleet::start(
        &cluster,
        model,
        &["llama-prefill", "llama-decode"],
        0.50,
        1.0,
    );
    for role in ["prefill", "decode"] {
        let name = format!("llama-{role}");
        let pod = format!("{name}-0");
        cluster
            .create_labelled_deployment(&name, &[&pod], &[("llm-d.ai/role", role)])
            .await;
    }
    fleet.synced().await;
    for name in ["llama-prefill", "llama-decode"] {
        cluster.create_va(name, name, model, "10.0", "H100").await;
    }
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let prefill = |m: &str| desired_replicas(m, &ns, "llama-prefill");
    let decode = |m: &str| desired_replicas(m, &ns, "llama-decode");
    wva.wait_metrics("both roles published at 1", |m| {
        prefill(m) == Some(1.0) && decode(m) == Some(1.0)
    })
    .await;

    fleet.set_deployment(&ns, "llama-prefill", 0.85, 0.0);
    let metrics = wva
        .wait_metrics("prefill grows to 2", |m| prefill(m) == Some(2.0))
        .await;
    assert_eq!(decode(&metrics), Some(1.0), "{metrics}");
    cluster
        .wait_event(
            "ScaledUp",
            "llama-prefill",
            "Scaled up from 1 to 2 replicas",
        )
        .await;
    // Two more cycles at the same load: decode still holds.
    let metrics = wva.wait_cycles(2).await;
    assert_eq!(decode(&metrics), Some(1.0), "{metrics}");
    let va = cluster
        .wait_va("llama-decode", "decode's decision written", |va| {
            alloc(va) == Some(1)
        })
        .await;
    assert_eq!(
        condition(&va, "MetricsAvailable").map(|c| c.1),
        Some("MetricsFound".into())
    );
    assert!(
        cluster
            .events()
            .await
            .iter()
            .all(|e| !(e.reason == "ScaledUp" && e.object == "llama-decode")),
        "decode never scaled"
    );
}
