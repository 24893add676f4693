//! End-to-end scenarios from the specification: the real `wva` binary against a Kubernetes
//! API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real Prometheus.

// Shared with the other e2e binaries (tests/e2e_*), each of which uses a part of it.
#[allow(dead_code)]
mod harness;

use harness::{Cluster, Fleet, Wva, condition};

/// Scenario 1: a VA created before its Deployment says so; creating the Deployment makes it
/// Ready and publishes `wva_desired_replicas`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn va_before_deployment_then_deployment_created() {
    let cluster = Cluster::start("va-first").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, "meta/llama-3.1-8b", &["llama-8b"], 0.50, 0.0);
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
    let va = cluster
        .wait_va("llama-8b-autoscaler", "TargetResolved=False", |va| {
            condition(va, "TargetResolved").is_some_and(|c| c.0 == "False")
        })
        .await;
    assert_eq!(
        condition(&va, "TargetResolved"),
        Some(("False".into(), "TargetNotFound".into()))
    );
    assert_eq!(
        condition(&va, "Ready"),
        Some(("False".into(), "DeploymentNotFound".into()))
    );

    cluster
        .create_deployment("llama-8b", &["llama-8b-0", "llama-8b-1"])
        .await;
    let va = cluster
        .wait_va("llama-8b-autoscaler", "Ready=True and MetricsFound", |va| {
            condition(va, "Ready").is_some_and(|c| c.0 == "True")
                && condition(va, "MetricsAvailable").is_some_and(|c| c.1 == "MetricsFound")
        })
        .await;
    assert_eq!(
        condition(&va, "TargetResolved"),
        Some(("True".into(), "TargetFound".into()))
    );
    assert_eq!(
        va.status
            .as_ref()
            .and_then(|s| s.desired_optimized_alloc.num_replicas),
        Some(2)
    );
    let series = format!(
        r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="llama-8b-autoscaler"}}"#
    );
    wva.wait_metrics("wva_desired_replicas for the VA", |m| m.contains(&series))
        .await;
}

/// Scenario 2: deleting the Deployment marks the VA not ready, clears its allocation and
/// removes its series; recreating it recovers without intervention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_deleted_then_recreated() {
    let cluster = Cluster::start("deleted").await;
    let ns = cluster.namespace.clone();
    let pods = ["llama-8b-0", "llama-8b-1"];
    let fleet = Fleet::start(&cluster, "meta/llama-3.1-8b", &["llama-8b"], 0.50, 0.0);
    cluster.create_deployment("llama-8b", &pods).await;
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
    let series = format!(
        r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="llama-8b-autoscaler"}}"#
    );
    wva.wait_metrics("series published", |m| m.contains(&series))
        .await;

    cluster.delete_deployment("llama-8b").await;
    let va = cluster
        .wait_va(
            "llama-8b-autoscaler",
            "Ready=False DeploymentNotFound",
            |va| condition(va, "Ready").is_some_and(|c| c.1 == "DeploymentNotFound"),
        )
        .await;
    let ready = va
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready");
    assert_eq!(
        ready.message,
        "Target deployment 'llama-8b' no longer exists"
    );
    let alloc = &va.status.as_ref().expect("status").desired_optimized_alloc;
    assert_eq!(
        serde_json::to_value(alloc).expect("json"),
        serde_json::json!({})
    );
    wva.wait_metrics("series removed", |m| {
        m.contains("# TYPE") && !m.contains("llama-8b-autoscaler")
    })
    .await;
    // Later cycles keep saying so.
    wva.wait_cycles(2).await;
    let va = cluster
        .wait_va("llama-8b-autoscaler", "status", |va| va.status.is_some())
        .await;
    assert_eq!(
        condition(&va, "Ready"),
        Some(("False".into(), "DeploymentNotFound".into()))
    );
    let ready = va
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready");
    assert_eq!(
        ready.message,
        "Target deployment 'llama-8b' no longer exists"
    );

    cluster.create_deployment("llama-8b", &pods).await;
    cluster
        .wait_va("llama-8b-autoscaler", "Ready=True again", |va| {
            condition(va, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    wva.wait_metrics("series back", |m| m.contains(&series))
        .await;
}

/// Scenario 3: load raised on the replicas scales up (metric, status and `ScaledUp` event);
/// once the test has applied it as an HPA would and the load is removed, it scales down once
/// safe (`ScaledDown` event). The signals are the peak over the last minute, so the scale-down
/// comes about a minute after the load drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_under_load_then_down_once_safe() {
    let cluster = Cluster::start("load").await;
    let ns = cluster.namespace.clone();
    // Two replicas until the HPA (here the scenario) applies the scale-up; the third pod gets
    // its series once it runs.
    let pods = ["llama-8b-0", "llama-8b-1", "llama-8b-2"];
    let fleet = Fleet::start(&cluster, "meta/llama-3.1-8b", &["llama-8b"], 0.50, 0.0);
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
    // At most the three replicas the fleet emulates.
    cluster
        .vas()
        .patch(
            "llama-8b-autoscaler",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"maxReplicas": 3}})),
        )
        .await
        .expect("maxReplicas set");
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let desired = |n: u32| {
        format!(
            r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="llama-8b-autoscaler"}} {n}"#
        )
    };
    // A `wva_replica_scaling_total` series of the VA in this namespace, in `direction`.
    let scaled = |metrics: &str, direction: &str| {
        let labels = [
            format!("direction=\"{direction}\""),
            format!("namespace=\"{ns}\""),
            "variant_name=\"llama-8b-autoscaler\"".to_string(),
        ];
        metrics.lines().any(|l| {
            l.starts_with("wva_replica_scaling_total{") && labels.iter().all(|x| l.contains(x))
        })
    };
    let alloc = |va: &wva_api::crd::VariantAutoscaling| {
        va.status
            .as_ref()
            .and_then(|s| s.desired_optimized_alloc.num_replicas)
    };
    wva.wait_metrics("steady at 2", |m| m.contains(&desired(2)))
        .await;

    fleet.set_load(0.78, 1.0).await;
    wva.wait_metrics("scaled up to 3", |m| m.contains(&desired(3)))
        .await;
    let va = cluster
        .wait_va("llama-8b-autoscaler", "numReplicas 3", |va| {
            alloc(va) == Some(3)
        })
        .await;
    assert_eq!(
        condition(&va, "OptimizationReady").map(|c| c.1),
        Some("OptimizationSucceeded".into())
    );
    let events = cluster.events().await;
    assert!(
        events.iter().any(|e| e.reason == "ScaledUp"
            && e.object == "llama-8b-autoscaler"
            && e.note.starts_with("Scaled up from 2 to 3 replicas")),
        "{events:?}"
    );
    assert!(scaled(&wva.metrics(), "scale-up"), "{}", wva.metrics());

    // The HPA applies 3, then the load goes away: three idle replicas fit in two.
    cluster.scale_deployment("llama-8b", &pods).await;
    fleet.set_load(0.10, 0.0).await;
    wva.wait_metrics_within(
        std::time::Duration::from_secs(120),
        "scaled down to 2",
        |m| m.contains(&desired(2)),
    )
    .await;
    cluster
        .wait_va("llama-8b-autoscaler", "numReplicas 2", |va| {
            alloc(va) == Some(2)
        })
        .await;
    let events = cluster.events().await;
    assert!(
        events.iter().any(|e| e.reason == "ScaledDown"
            && e.object == "llama-8b-autoscaler"
            && e.note.starts_with("Scaled down from 3 to 2 replicas")),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e.note.contains("to 4 replicas")),
        "{events:?}"
    );
    assert!(scaled(&wva.metrics(), "scale-down"), "{}", wva.metrics());
}

/// What an operator reads when something is off: an invalid saturation entry is rejected with an
/// `InvalidConfiguration` event and the last good entry stays in force; a VA without an
/// accelerator still gets decisions and metrics (`accelerator_type="unknown"`) and an
/// `AcceleratorNotResolved` event; deleting a VA removes its series; `LOG_JSON` gives JSON lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_unknown_accelerator_and_va_deletion_are_reported() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    let cluster = Cluster::start("feedback").await;
    let ns = cluster.namespace.clone();
    let pods = ["llama-8b-0", "llama-8b-1"];
    let fleet = Fleet::start(&cluster, "meta/llama-3.1-8b", &["llama-8b"], 0.75, 0.0);
    // KV 0.75 is short of spare under the built-in 0.80 threshold (scale-up to 3), fine under 0.90.
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let saturation = |entry: &str| -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "wva-saturation-scaling-config", "namespace": ns},
            "data": {"default": entry}
        }))
        .expect("ConfigMap")
    };
    config_maps
        .create(
            &PostParams::default(),
            &saturation("kvCacheThreshold: 0.90\n"),
        )
        .await
        .expect("saturation ConfigMap");
    cluster.create_deployment("llama-8b", &pods).await;
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
    let wva = Wva::start(&cluster, &fleet.prometheus, &[("LOG_JSON", "true")]);
    let desired = |n: u32| {
        format!(
            r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="llama-8b-autoscaler"}} {n}"#
        )
    };
    wva.wait_metrics("steady at 2 under the 0.90 threshold", |m| {
        m.contains(&desired(2)) && harness::cycles(m) >= 2
    })
    .await;

    config_maps
        .patch(
            "wva-saturation-scaling-config",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"default": "kvCacheThreshold: 2.0\n"}})),
        )
        .await
        .expect("ConfigMap updated");
    let rejection = cluster
        .wait_event("InvalidConfiguration", "wva-saturation-scaling-config", "")
        .await;
    assert_eq!(rejection.type_, "Warning");
    assert!(rejection.note.contains("default"), "{rejection:?}");
    assert!(rejection.note.contains("kvCacheThreshold"), "{rejection:?}");
    let m = wva.wait_cycles(2).await;
    assert!(
        m.contains(&desired(2)),
        "the last good entry (0.90) stays:\n{m}"
    );

    // A VA with no accelerator label on a Deployment with no GPU node selector.
    cluster.create_deployment("other", &["other-0"]).await;
    let va: wva_api::crd::VariantAutoscaling = serde_json::from_value(serde_json::json!({
        "apiVersion": "llmd.ai/v1alpha1", "kind": "VariantAutoscaling",
        "metadata": {"name": "other-autoscaler", "namespace": ns},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "other"}, "modelID": "org/other"}
    }))
    .expect("va");
    cluster
        .vas()
        .create(&PostParams::default(), &va)
        .await
        .expect("VA created");
    let unknown = format!(
        r#"wva_desired_replicas{{accelerator_type="unknown",namespace="{ns}",variant_name="other-autoscaler"}}"#
    );
    wva.wait_metrics("series with accelerator_type unknown", |m| {
        m.contains(&unknown)
    })
    .await;
    let warning = cluster
        .wait_event("AcceleratorNotResolved", "other-autoscaler", "")
        .await;
    assert_eq!(warning.type_, "Warning");
    assert!(
        warning
            .note
            .contains("inference.optimization/acceleratorName"),
        "{warning:?}"
    );

    cluster
        .vas()
        .delete("other-autoscaler", &DeleteParams::default())
        .await
        .expect("VA deleted");
    wva.wait_metrics("series of the deleted VA gone", |m| {
        !m.contains("other-autoscaler") && m.contains(&desired(2))
    })
    .await;

    let log = wva.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Caches synced; controller ready")),
        "{log}"
    );
}
