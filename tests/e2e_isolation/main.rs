//! End-to-end scenarios of isolation between controllers and namespaces (numbered as in
//! docs/testing.md; the rules are in docs/controller.md): two controller instances side by
//! side (scenario 6) and namespace exclusion with its `--watch-namespace` override
//! (scenario 7). The real `wva` binary against a
//! Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`) and a real Prometheus.
//!
//! Against a real cluster, run these scenarios one at a time (`--test-threads 1`) and without
//! another WVA running: a controller without `CONTROLLER_INSTANCE` manages every VA it sees,
//! so another scenario's controller would reconcile the VAs these scenarios expect untouched.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
mod scoped;

use harness::{Cluster, Wva, condition};
use scoped::{
    EXCLUDE_ANNOTATION, INSTANCE_LABEL, Variant, allocated, fleet, mentions, variant_samples,
};
use wva_api::crd::VariantAutoscaling;

/// Load that makes every variant scale from one replica to more: each managed VA gets a
/// `ScaledUp` event, so a VA without one was not managed.
const KV_LOADED: f64 = 0.78;
const QUEUE_LOADED: f64 = 1.0;

fn ready(va: &VariantAutoscaling) -> bool {
    condition(va, "Ready").is_some_and(|c| c.0 == "True")
        && condition(va, "OptimizationReady").is_some_and(|c| c.1 == "OptimizationSucceeded")
        && allocated(va).is_some_and(|n| n > 1)
}

/// Asserts that every sample `wva` serves carries `controller_instance=<instance>`
/// (or, with `None`, that none carries the label).
fn assert_instance_label(wva: &Wva, instance: Option<&str>) {
    let all = wva.samples();
    assert!(!all.is_empty(), "no samples served");
    for sample in &all {
        assert_eq!(
            sample.labels.get("controller_instance").map(String::as_str),
            instance,
            "{} {}",
            sample.name,
            scoped::show(&sample.labels)
        );
    }
}

/// Scenario 6: two controllers with different `CONTROLLER_INSTANCE` values each manage only
/// the VAs labelled `wva.llmd.ai/controller-instance=<its value>` (status, events and series
/// by it alone), and every metric each serves carries its `controller_instance` label; a VA
/// without the label is managed by neither. A controller without `CONTROLLER_INSTANCE`
/// manages every VA, labelled or not, and its metrics carry no `controller_instance`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_instances_manage_only_their_labelled_vas() {
    let cluster = Cluster::start("instances").await;
    let ns = cluster.namespace.clone();
    // Unique per run, so that controllers of other runs on a real cluster pick none of these.
    let instance_a = harness::unique_name("team-a");
    let instance_b = harness::unique_name("team-b");
    let alpha = Variant {
        namespace: ns.clone(),
        va: "alpha-autoscaler",
        deployment: "alpha",
        model: "meta/llama-alpha",
        labels: vec![(INSTANCE_LABEL, instance_a.clone())],
    };
    let beta = Variant {
        namespace: ns.clone(),
        va: "beta-autoscaler",
        deployment: "beta",
        model: "meta/llama-beta",
        labels: vec![(INSTANCE_LABEL, instance_b.clone())],
    };
    let plain = Variant {
        namespace: ns.clone(),
        va: "plain-autoscaler",
        deployment: "plain",
        model: "meta/llama-plain",
        labels: vec![],
    };
    let fleet = fleet(&cluster, &[&alpha, &beta, &plain], KV_LOADED, QUEUE_LOADED);
    for v in [&alpha, &beta, &plain] {
        cluster.create_variant(v).await;
    }
    fleet.synced().await;
    let prometheus = &fleet.prometheus;

    // Controller A alone: it manages alpha, and nothing else.
    let a = Wva::start(
        &cluster,
        prometheus,
        &[("CONTROLLER_INSTANCE", &instance_a)],
    );
    cluster
        .wait_variant(&alpha, "managed by A: Ready, scaled up", ready)
        .await;
    cluster.wait_variant_event(&alpha, "ScaledUp").await;
    let series = a.wait_desired(&alpha).await;
    assert_eq!(
        series.labels.get("controller_instance"),
        Some(&instance_a),
        "{series:?}"
    );
    assert!(series.value > 1.0, "{series:?}");
    a.wait_cycles(2).await;
    cluster.assert_untouched(&beta, "labelled for B").await;
    cluster.assert_untouched(&plain, "unlabelled").await;
    let samples = a.samples();
    assert!(!mentions(&samples, &beta) && !mentions(&samples, &plain));
    // The four per-variant metrics (generated/docs/metrics.md) are all there, labelled
    // (checked below).
    for metric in [
        "wva_desired_replicas",
        "wva_current_replicas",
        "wva_desired_ratio",
        "wva_replica_scaling_total",
    ] {
        assert!(
            !variant_samples(&samples, metric, &alpha).is_empty(),
            "{metric} of alpha missing"
        );
    }
    assert_instance_label(&a, Some(&instance_a));
    let log = a.log();
    assert!(log.contains(alpha.va), "A logs its own VA:\n{log}");
    assert!(
        !log.contains(beta.va) && !log.contains(plain.va),
        "A logs VAs it does not manage:\n{log}"
    );

    // Controller B joins: it manages beta; the unlabelled VA stays unmanaged.
    let b = Wva::start(
        &cluster,
        prometheus,
        &[("CONTROLLER_INSTANCE", &instance_b)],
    );
    cluster
        .wait_variant(&beta, "managed by B: Ready, scaled up", ready)
        .await;
    cluster.wait_variant_event(&beta, "ScaledUp").await;
    let series = b.wait_desired(&beta).await;
    assert_eq!(
        series.labels.get("controller_instance"),
        Some(&instance_b),
        "{series:?}"
    );
    b.wait_cycles(2).await;
    a.wait_cycles(1).await;
    cluster
        .assert_untouched(&plain, "unlabelled, two instances")
        .await;
    let (in_a, in_b) = (a.samples(), b.samples());
    assert!(mentions(&in_a, &alpha) && !mentions(&in_a, &beta) && !mentions(&in_a, &plain));
    assert!(mentions(&in_b, &beta) && !mentions(&in_b, &alpha) && !mentions(&in_b, &plain));
    assert_instance_label(&a, Some(&instance_a));
    assert_instance_label(&b, Some(&instance_b));
    let log = b.log();
    assert!(
        !log.contains(alpha.va) && !log.contains(plain.va),
        "B logs VAs it does not manage:\n{log}"
    );

    // Relabelled to A at runtime (the troubleshooting fix for a mismatch), beta moves: B
    // drops its series, A publishes one with its own label.
    cluster
        .label_variant(&beta, INSTANCE_LABEL, &instance_a)
        .await;
    b.wait_metrics("B drops beta's series", |m| {
        !mentions(&scoped::samples(m), &beta)
    })
    .await;
    let series = a.wait_desired(&beta).await;
    assert_eq!(
        series.labels.get("controller_instance"),
        Some(&instance_a),
        "{series:?}"
    );
    assert_instance_label(&a, Some(&instance_a));

    // With A gone, alpha's Deployment deleted: B does not touch alpha.
    drop(a);
    cluster.delete_variant_deployment(&alpha).await;
    b.wait_cycles(2).await;
    let va = cluster.variant_va(&alpha).await;
    assert!(ready(&va), "B changed alpha's status: {:#?}", va.status);
    let events = cluster.variant_events(&alpha).await;
    assert!(
        !events.iter().any(|(r, _)| r == "TargetNotFound"),
        "{events:?}"
    );
    drop(b);

    // Without CONTROLLER_INSTANCE: every VA is managed, and no metric has the label.
    let all = Wva::start_unscoped(&cluster, prometheus, &[]);
    cluster
        .wait_variant(&plain, "managed without an instance", ready)
        .await;
    cluster
        .wait_variant(&alpha, "labelled VA managed without an instance", |va| {
            condition(va, "Ready").is_some_and(|c| c.1 == "DeploymentNotFound")
        })
        .await;
    let series = all.wait_desired(&beta).await;
    assert_eq!(series.labels.get("controller_instance"), None);
    all.wait_desired(&plain).await;
    assert_instance_label(&all, None);
}

/// Scenario 7: the VAs of a namespace annotated `wva.llmd.ai/exclude: "true"` are not
/// managed (no status, no events, no series) while a VA in a normal namespace is. Annotating
/// a namespace at runtime stops its management (series removed, changes of its VAs ignored);
/// removing the annotation resumes it. A controller started with `--watch-namespace=<the
/// excluded namespace>` manages its VA despite the annotation, and nothing outside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_namespace_is_ignored_unless_watched() {
    let cluster = Cluster::start("exclusion").await;
    let excluded_ns = harness::unique_name("excluded");
    let late_ns = harness::unique_name("late");
    cluster
        .create_annotated_namespace(&excluded_ns, &[(EXCLUDE_ANNOTATION, "true")])
        .await;
    cluster.create_annotated_namespace(&late_ns, &[]).await;
    let normal = Variant {
        namespace: cluster.namespace.clone(),
        va: "normal-autoscaler",
        deployment: "normal",
        model: "meta/llama-normal",
        labels: vec![],
    };
    let excluded = Variant {
        namespace: excluded_ns.clone(),
        va: "excluded-autoscaler",
        deployment: "excluded",
        model: "meta/llama-excluded",
        labels: vec![],
    };
    let late = Variant {
        namespace: late_ns.clone(),
        va: "late-autoscaler",
        deployment: "late",
        model: "meta/llama-late",
        labels: vec![],
    };
    let fleet = fleet(
        &cluster,
        &[&normal, &excluded, &late],
        KV_LOADED,
        QUEUE_LOADED,
    );
    for v in [&normal, &excluded, &late] {
        cluster.create_variant(v).await;
    }
    fleet.synced().await;
    let prometheus = &fleet.prometheus;

    // Cluster-wide controller: the excluded namespace is left alone.
    let wva = Wva::start_unscoped(&cluster, prometheus, &[]);
    for v in [&normal, &late] {
        cluster
            .wait_variant(v, "managed: Ready, scaled up", ready)
            .await;
        cluster.wait_variant_event(v, "ScaledUp").await;
        wva.wait_desired(v).await;
    }
    wva.wait_cycles(2).await;
    cluster
        .assert_untouched(&excluded, "namespace excluded")
        .await;
    assert!(!mentions(&wva.samples(), &excluded));
    let log = wva.log();
    assert!(
        !log.contains(&excluded_ns),
        "the excluded namespace appears in the log:\n{log}"
    );

    // A namespace created excluded while the controller runs, its VA right after: the VA
    // event may arrive before the namespace's, and still the VA is left alone.
    let born = Variant {
        namespace: harness::unique_name("born"),
        va: "born-autoscaler",
        deployment: "born",
        model: "meta/llama-born",
        labels: vec![],
    };
    cluster
        .create_annotated_namespace(&born.namespace, &[(EXCLUDE_ANNOTATION, "true")])
        .await;
    cluster.create_variant(&born).await;
    wva.wait_cycles(2).await;
    cluster
        .assert_untouched(&born, "namespace created excluded")
        .await;

    // Excluded at runtime: the series goes, and a change to its VA's target is ignored.
    cluster
        .annotate_namespace(&late_ns, EXCLUDE_ANNOTATION, Some("true"))
        .await;
    wva.wait_metrics("late namespace's series removed", |m| {
        let all = scoped::samples(m);
        !mentions(&all, &late) && mentions(&all, &normal)
    })
    .await;
    let before = cluster.variant_events(&late).await;
    cluster.delete_variant_deployment(&late).await;
    wva.wait_cycles(2).await;
    let va = cluster.variant_va(&late).await;
    assert!(
        ready(&va),
        "status of a VA in an excluded namespace changed: {:#?}",
        va.status
    );
    assert_eq!(cluster.variant_events(&late).await, before);
    assert!(!mentions(&wva.samples(), &late));
    assert!(mentions(&wva.samples(), &normal));

    // The annotation removed: managed again, so the missing target is reported.
    cluster
        .annotate_namespace(&late_ns, EXCLUDE_ANNOTATION, None)
        .await;
    let va = cluster
        .wait_variant(&late, "managed again: DeploymentNotFound", |va| {
            condition(va, "Ready").is_some_and(|c| c.1 == "DeploymentNotFound")
        })
        .await;
    assert_eq!(
        condition(&va, "TargetResolved"),
        Some(("False".into(), "TargetNotFound".into()))
    );
    cluster.wait_variant_event(&late, "TargetNotFound").await;
    cluster
        .assert_untouched(&excluded, "namespace still excluded")
        .await;

    // A controller watching the excluded namespace manages its VA despite the annotation,
    // and nothing outside that namespace.
    let watch_arg = format!("--watch-namespace={excluded_ns}");
    let watcher = Wva::start_with(&cluster, prometheus, &[&watch_arg], &[]);
    cluster
        .wait_variant(&excluded, "managed by the watching controller", ready)
        .await;
    cluster.wait_variant_event(&excluded, "ScaledUp").await;
    watcher.wait_desired(&excluded).await;
    watcher.wait_cycles(2).await;
    let in_watcher = watcher.samples();
    assert!(!mentions(&in_watcher, &normal) && !mentions(&in_watcher, &late));
    // The cluster-wide controller still leaves it alone.
    assert!(!mentions(&wva.samples(), &excluded));
}
