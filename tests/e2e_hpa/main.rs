//! The loop closed with the real HPA: `wva run` serves `/metrics`, a real Prometheus scrapes
//! it, prometheus-adapter (`../shared/k8s/adapter-up.sh`, with the rules docs/samples
//! documents) serves `wva_desired_replicas` as an external metric, and the HPA rendered from
//! the chart by `helm template` scales the Deployment up under emulated load and back down
//! when the load drops. Prints the seconds from "saturation visible in Prometheus" to
//! "Deployment scaled".
//!
//! Needs a real cluster with kube-controller-manager (its HPA controller) and the control
//! plane scripts of `../shared/k8s` or `WVA_K8S_DIR` (for the adapter); elsewhere the scenario says why and passes
//! without checks. prometheus-adapter's APIService is one per cluster, so the scenario holds a
//! file lock while it uses it: runs at the same time take turns.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

use harness::{Cluster, Fleet, Wva};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use wva_testkit::{Prometheus, ScrapeTarget};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MODEL: &str = "meta/llama-3.1-8b";
/// The Deployment, and the VA named after it as the chart names it (`variant_name`).
const TARGET: &str = "llama-8b";

/// The control plane scripts: `WVA_K8S_DIR` (tests/run.sh sets it), else `../shared/k8s`
/// next to the repository.
fn k8s_dir() -> PathBuf {
    std::env::var_os("WVA_K8S_DIR")
        .map_or_else(|| Path::new(ROOT).join("../shared/k8s"), PathBuf::from)
}

/// The documents of a multi-document YAML text, parsed (empty and comment-only ones skipped).
fn yaml_documents(text: &str) -> Vec<Value> {
    text.split("\n---")
        .map(|doc| doc.trim_start_matches("---"))
        .filter_map(|doc| serde_saphyr::from_str::<Value>(doc).ok())
        .filter(|doc| doc.is_object())
        .collect()
}

/// The chart's HPA for Deployment [`TARGET`] in `namespace`, from `helm template` with the
/// chart's development values, the model named (per-model objects render only then), and an
/// immediate scale-up (no stabilization window). The Prometheus URL is required to render;
/// this test does not deploy the controller from the chart, so its value is not used.
fn chart_hpa(namespace: &str) -> HorizontalPodAutoscaler {
    let chart = Path::new(ROOT).join("charts/workload-variant-autoscaler");
    let scratch = tempfile::tempdir().expect("scratch dir");
    let output = Command::new(wva_testkit::tools::helm())
        .env("HELM_CONFIG_HOME", scratch.path().join("config"))
        .env("HELM_CACHE_HOME", scratch.path().join("cache"))
        .env("HELM_DATA_HOME", scratch.path().join("data"))
        .arg("template")
        .arg("wva")
        .arg(&chart)
        .arg("-f")
        .arg(chart.join("values-dev.yaml"))
        .args(["--set", "wva.prometheus.baseURL=http://127.0.0.1:9090"])
        .args(["--set", &format!("llmd.modelName={TARGET}")])
        .args(["--set", &format!("llmd.modelID={MODEL}")])
        .args(["--set", &format!("llmd.namespace={namespace}")])
        .args(["--set", &format!("llmd.deploymentName={TARGET}")])
        .args(["--set", "hpa.behavior.scaleUp.stabilizationWindowSeconds=0"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; install it with `bash tests/tools/install-helm.sh`",
                wva_testkit::tools::helm().display()
            )
        });
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hpas: Vec<Value> = yaml_documents(&text)
        .into_iter()
        .filter(|doc| doc["kind"] == "HorizontalPodAutoscaler")
        .collect();
    assert_eq!(hpas.len(), 1, "one HPA in the chart's output:\n{text}");
    serde_json::from_value(hpas[0].clone()).expect("the chart's HPA is an autoscaling/v2 HPA")
}

/// prometheus-adapter rules: the external rules docs/samples/prometheus-adapter-values.yaml
/// documents, as a prometheus-adapter configuration file in `dir`.
fn documented_adapter_rules(dir: &Path) -> PathBuf {
    let sample = Path::new(ROOT).join("docs/samples/prometheus-adapter-values.yaml");
    let text = std::fs::read_to_string(&sample).expect("the prometheus-adapter sample");
    let values: Value = serde_saphyr::from_str(&text).expect("the sample is YAML");
    let external = &values["rules"]["external"];
    assert!(
        external.as_array().is_some_and(|r| !r.is_empty()),
        "{} documents no rules.external",
        sample.display()
    );
    let path = dir.join("adapter-rules.yaml");
    let config = json!({"rules": [], "externalRules": external});
    std::fs::write(&path, config.to_string()).expect("rules written");
    path
}

/// Holds an exclusive lock on the cluster's prometheus-adapter until dropped (also when the
/// process dies: the lock goes with the file descriptor).
fn lock_adapter() -> std::fs::File {
    let path = std::env::temp_dir().join("wva-e2e-prometheus-adapter.lock");
    let file = std::fs::File::create(&path).expect("adapter lock file");
    file.lock().expect("adapter lock");
    file
}

/// Waits up to `deadline` until the Deployment's `spec.replicas` satisfies `check`; returns it.
async fn wait_replicas(
    cluster: &Cluster,
    what: &str,
    deadline: Duration,
    check: impl Fn(i32) -> bool,
) -> i32 {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < deadline {
        last = api.get(TARGET).await.ok().and_then(|d| d.spec?.replicas);
        if let Some(replicas) = last
            && check(replicas)
        {
            return replicas;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "timed out waiting for the Deployment: {what}; replicas {last:?}; events: {:#?}",
        cluster.events().await
    );
}

/// The notes of the HPA's `SuccessfulRescale` events, oldest first.
async fn rescales(cluster: &Cluster, hpa: &str) -> Vec<String> {
    cluster
        .events()
        .await
        .into_iter()
        .filter(|e| e.object == hpa && e.reason == "SuccessfulRescale")
        .map(|e| e.note)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_hpa_scales_the_deployment_from_wva_desired_replicas() {
    let cluster = Cluster::start("hpa").await;
    if !cluster.is_real() {
        eprintln!(
            "skipped: the API double runs no HPA controller (set WVA_E2E_KUBECONFIG; tests/run.sh \
             does with ../shared/k8s)"
        );
        return;
    }
    let adapter_up = k8s_dir().join("adapter-up.sh");
    if !adapter_up.is_file() {
        eprintln!(
            "skipped: {} is missing, and with it prometheus-adapter for the external metric",
            adapter_up.display()
        );
        return;
    }
    let ns = cluster.namespace.clone();
    let hpa = chart_hpa(&ns);
    let hpa_name = hpa.metadata.name.clone().expect("HPA name");

    let fleet = Fleet::start(&cluster, MODEL, &[TARGET], 0.50, 0.0);
    cluster.create_deployment(TARGET, &["llama-8b-0"]).await;
    fleet.synced().await;
    cluster
        .create_va(TARGET, TARGET, MODEL, "10.0", "H100")
        .await;
    cluster
        .vas()
        .patch(
            TARGET,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minReplicas": 1, "maxReplicas": 3}})),
        )
        .await
        .expect("VA bounds set");
    let wva = Wva::start(&cluster, &fleet.prometheus, &[]);
    let desired = |n: u32| {
        format!(
            r#"wva_desired_replicas{{accelerator_type="H100",namespace="{ns}",variant_name="{TARGET}"}} {n}"#
        )
    };
    wva.wait_metrics("steady at 1", |m| m.contains(&desired(1)))
        .await;

    // Prometheus scrapes the controller as its ServiceMonitor would: the target's own
    // `namespace` label turns the metric's into `exported_namespace`, which the HPA selects.
    let scraper = Prometheus::start([ScrapeTarget::new(&wva.metrics_addr).label("namespace", &ns)])
        .expect("Prometheus scraping wva starts");
    let rules_dir = tempfile::tempdir().expect("rules dir");
    let rules = documented_adapter_rules(rules_dir.path());
    let _adapter = lock_adapter();
    let status = Command::new("bash")
        .arg(&adapter_up)
        .arg(scraper.url())
        .arg(&rules)
        .status()
        .expect("adapter-up.sh runs");
    assert!(status.success(), "adapter-up.sh failed: {status}");

    Api::<HorizontalPodAutoscaler>::namespaced(cluster.client.clone(), &ns)
        .create(&PostParams::default(), &hpa)
        .await
        .expect("the chart's HPA is accepted");

    // Load: the controller asks for more replicas, the HPA applies them.
    fleet.set_load(0.78, 1.0).await;
    let visible = Instant::now();
    wait_replicas(
        &cluster,
        "scaled up by the HPA",
        Duration::from_secs(90),
        |r| r > 1,
    )
    .await;
    let reaction = visible.elapsed();
    println!(
        "HPA reaction: {:.1}s from saturation visible in Prometheus to Deployment scaled",
        reaction.as_secs_f64()
    );
    wait_replicas(
        &cluster,
        "at the VA's maximum, 3",
        Duration::from_secs(90),
        |r| r == 3,
    )
    .await;
    cluster.wait_rolled_out(&ns, TARGET, 3).await;
    let notes = rescales(&cluster, &hpa_name).await;
    assert!(
        notes.iter().any(|n| n.contains("New size: 3")
            && n.contains("external metric wva_desired_replicas")
            && n.contains("above target")),
        "{notes:#?}"
    );

    // The load drops: once that is safe, the controller asks for fewer and the HPA follows.
    fleet.set_load(0.10, 0.0).await;
    let scaled_down = wait_replicas(
        &cluster,
        "scaled down by the HPA",
        Duration::from_secs(240),
        |r| r < 3,
    )
    .await;
    assert!(scaled_down >= 1, "{scaled_down}");
    let notes = rescales(&cluster, &hpa_name).await;
    assert!(
        notes.iter().any(|n| n.starts_with(&format!(
            "New size: {scaled_down}; reason: All metrics below target"
        ))),
        "{notes:#?}"
    );
    let log = wva.log();
    assert!(log.contains("Scaled down from 3 to"), "{log}");
}
