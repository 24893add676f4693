//! End-to-end scenarios 8-10: configuration as users change it at runtime. Namespace-local
//! saturation ConfigMaps (with label opt-in and fallback on deletion), live and rejected
//! updates of the main ConfigMap, and the fail-fast exit without a Prometheus URL. The real
//! `wva` binary runs against a Kubernetes API (the in-memory double, or `WVA_E2E_KUBECONFIG`)
//! and, where it decides, a real Prometheus.

// Shared with the other e2e binaries, each of which uses a part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

use harness::{Cluster, DEADLINE, Event, Fleet, Wva, condition};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;

const MODEL: &str = "meta/llama-3.1-8b";
const SATURATION: &str = "wva-saturation-scaling-config";
const MAIN: &str = "wva-variantautoscaling-config";
const PODS: [&str; 2] = ["llama-8b-0", "llama-8b-1"];

/// The global saturation ConfigMap: the built-in defaults, spelled out.
const GLOBAL_THRESHOLDS: &str =
    "kvCacheThreshold: 0.80\nqueueLengthThreshold: 5\nkvSpareTrigger: 0.10\nqueueSpareTrigger: 3\n";
/// A relaxed namespace-local override (a staging namespace, say): saturated at 90% KV cache.
const LOCAL_THRESHOLDS: &str = "kvCacheThreshold: 0.90\n";
/// KV-cache usage of every replica in scenario 8: 0.05 spare under the global thresholds
/// (below the 0.10 trigger: scale up to three), 0.15 spare under the local ones (above it:
/// two replicas stay). Spread over one replica it would saturate, so two never scale down.
const KV_LOAD: f64 = 0.75;

/// Helpers for objects outside the scenario's namespace (the harness creates its objects in
/// `cluster.namespace`, here the controller namespace).
impl Cluster {
    /// Creates namespace `name` with `labels` (fails on an existing one: names are unique).
    async fn create_labelled_namespace(&self, name: &str, labels: serde_json::Value) {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
                .expect("namespace");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        self.track_namespace(name);
    }

    /// Deletes namespace `name` and everything in it (best effort: cleanup only).
    async fn delete_namespace(&self, name: &str) {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(name, &DeleteParams::default())
            .await;
    }

    /// Creates a Deployment in `namespace` with its pods, rolled out and ready, and a VA for
    /// it serving `MODEL` on H100, labelled for the controller instance named after the
    /// scenario's namespace (the scenario spans namespaces, so the instance scopes it).
    /// The VA comes once `fleet` emulates the Deployment's pods, so its first decision sees them.
    async fn create_variant(
        &self,
        fleet: &Fleet,
        namespace: &str,
        deployment: &str,
        va: &str,
        pods: &[&str],
    ) {
        self.create_deployment_in(namespace, deployment, pods).await;
        fleet.synced().await;
        let labels = json!({
            "inference.optimization/acceleratorName": "H100",
            "wva.llmd.ai/controller-instance": self.namespace,
        });
        self.create_va_in(namespace, va, deployment, MODEL, "10.0", labels)
            .await;
    }

    /// The ConfigMap API of `namespace`.
    fn config_maps(&self, namespace: &str) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates ConfigMap `name` in `namespace` with `data`.
    async fn create_config_map(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "data": data.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }))
        .expect("configmap");
        self.config_maps(namespace)
            .create(&PostParams::default(), &cm)
            .await
            .expect("ConfigMap created");
    }

    /// Sets keys of ConfigMap `name` in `namespace` in one update, as `kubectl edit` would.
    async fn update_config_map(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let data: serde_json::Map<_, _> = data
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        self.config_maps(namespace)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"data": data})),
            )
            .await
            .expect("ConfigMap updated");
    }
}

/// The VA's desired replicas in its status.
fn num_replicas(va: &VariantAutoscaling) -> Option<i64> {
    va.status
        .as_ref()
        .and_then(|s| s.desired_optimized_alloc.num_replicas)
        .map(i64::from)
}

/// The `wva_desired_replicas` sample of VA `va` in `namespace` with value `n`.
fn desired(namespace: &str, va: &str, n: u32) -> String {
    format!(
        r#"wva_desired_replicas{{accelerator_type="H100",namespace="{namespace}",variant_name="{va}"}} {n}"#
    )
}

/// [`desired`] for a controller with `CONTROLLER_INSTANCE=instance`.
fn desired_for(instance: &str, namespace: &str, va: &str, n: u32) -> String {
    format!(
        r#"wva_desired_replicas{{accelerator_type="H100",controller_instance="{instance}",namespace="{namespace}",variant_name="{va}"}} {n}"#
    )
}

/// The log lines of `wva` containing every one of `needles`.
fn lines_with(wva: &Wva, needles: &[&str]) -> Vec<String> {
    wva.log()
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits until `wva` has logged `count` lines containing every one of `needles`; returns them.
async fn wait_lines(wva: &Wva, needles: &[&str], count: usize) -> Vec<String> {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        let lines = lines_with(wva, needles);
        if lines.len() >= count {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {count} log line(s) with {needles:?}\nlog:\n{}",
        wva.log()
    );
}

/// Waits until `wva` logs a line containing `later` after its last line containing `earlier`.
async fn wait_line_after(wva: &Wva, earlier: &str, later: &str) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        let log = wva.log();
        if let Some(at) = log.rfind(earlier)
            && log[at..].lines().skip(1).any(|line| line.contains(later))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {later:?} after {earlier:?}\nlog:\n{}",
        wva.log()
    );
}

/// Scenario 8: a namespace-local `wva-saturation-scaling-config` changes the decisions of its
/// namespace only; one created before any VA in a namespace labelled
/// `wva.llmd.ai/config-enabled=true` is picked up at once and decides the first VA there;
/// deleting a local ConfigMap falls back to the global one at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_local_saturation_config_overrides_its_namespace_only() {
    let cluster = Cluster::start("cfg-local").await;
    // The controller namespace (POD_NAMESPACE) holds the global ConfigMap; the VAs live in
    // three namespaces of their own.
    let controller_ns = cluster.namespace.clone();
    let local_ns = format!("{controller_ns}-local");
    let global_ns = format!("{controller_ns}-global");
    let early_ns = format!("{controller_ns}-early");
    let quiet_ns = format!("{controller_ns}-quiet");
    cluster
        .create_labelled_namespace(&local_ns, json!({}))
        .await;
    cluster
        .create_labelled_namespace(&global_ns, json!({}))
        .await;
    cluster
        .create_labelled_namespace(&early_ns, json!({"wva.llmd.ai/config-enabled": "true"}))
        .await;
    cluster
        .create_labelled_namespace(&quiet_ns, json!({}))
        .await;

    let fleet = Fleet::serve(
        &cluster,
        &[
            (&local_ns, "llama-8b", MODEL),
            (&global_ns, "llama-8b", MODEL),
            (&early_ns, "llama-8b", MODEL),
        ],
        KV_LOAD,
        0.0,
    );

    cluster
        .create_config_map(
            &controller_ns,
            SATURATION,
            &[("default", GLOBAL_THRESHOLDS)],
        )
        .await;
    cluster
        .create_config_map(&local_ns, SATURATION, &[("default", LOCAL_THRESHOLDS)])
        .await;
    // Before any VA exists in these namespaces: the label opts the first one in.
    cluster
        .create_config_map(&early_ns, SATURATION, &[("default", LOCAL_THRESHOLDS)])
        .await;
    cluster
        .create_config_map(&quiet_ns, SATURATION, &[("default", LOCAL_THRESHOLDS)])
        .await;
    cluster
        .create_variant(&fleet, &local_ns, "llama-8b", "llama-8b-autoscaler", &PODS)
        .await;
    cluster
        .create_variant(&fleet, &global_ns, "llama-8b", "llama-8b-autoscaler", &PODS)
        .await;
    fleet.synced().await;
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[("CONTROLLER_INSTANCE", &controller_ns)],
    );

    // The same load: three replicas under the global thresholds, two under the local ones.
    wva.wait_metrics("global namespace at 3, local namespace at 2", |m| {
        m.contains(&desired_for(
            &controller_ns,
            &global_ns,
            "llama-8b-autoscaler",
            3,
        )) && m.contains(&desired_for(
            &controller_ns,
            &local_ns,
            "llama-8b-autoscaler",
            2,
        ))
    })
    .await;
    let va = cluster
        .wait_va_in(&global_ns, "llama-8b-autoscaler", "numReplicas 3", |va| {
            num_replicas(va) == Some(3)
        })
        .await;
    assert_eq!(
        condition(&va, "OptimizationReady").map(|c| c.1),
        Some("OptimizationSucceeded".into())
    );
    cluster
        .wait_va_in(&local_ns, "llama-8b-autoscaler", "numReplicas 2", |va| {
            num_replicas(va) == Some(2)
        })
        .await;
    let scaled = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter(|e| matches!(e.reason.as_str(), "ScaledUp" | "ScaledDown"))
            .map(|e| e.note.clone())
            .collect()
    };
    let global_scaled = scaled(&cluster.events_in(&global_ns).await);
    assert!(
        global_scaled.len() == 1 && global_scaled[0].starts_with("Scaled up from 2 to 3 replicas"),
        "{global_scaled:?}"
    );
    let local_scaled = scaled(&cluster.events_in(&local_ns).await);
    assert!(local_scaled.is_empty(), "{local_scaled:?}");
    let saturation_updates = |namespace: &str| {
        lines_with(
            &wva,
            &[
                "Updated saturation config",
                &format!("configmap={namespace}/{SATURATION}"),
            ],
        )
    };
    // The global map, the local one of a namespace with a VA, and the local one of the
    // labelled namespace that has no VA yet are all in force from the first cycle; the local
    // one of an unlabelled namespace without a VA is not.
    for namespace in [&controller_ns, &local_ns, &early_ns] {
        let lines = saturation_updates(namespace);
        assert_eq!(lines.len(), 1, "{namespace}: {lines:?}\n{}", wva.log());
        assert!(lines[0].contains("oldEntries=0 newEntries=1"), "{lines:?}");
    }
    assert!(saturation_updates(&quiet_ns).is_empty(), "{}", wva.log());

    // So the first decision for the labelled namespace's first VA already uses its local map
    // (under the global thresholds it would scale up to 3).
    cluster
        .create_variant(&fleet, &early_ns, "llama-8b", "llama-8b-autoscaler", &PODS)
        .await;
    let va = cluster
        .wait_va_in(&early_ns, "llama-8b-autoscaler", "a first decision", |va| {
            num_replicas(va).is_some()
        })
        .await;
    assert_eq!(num_replicas(&va), Some(2), "{va:#?}");
    wva.wait_metrics("early namespace at 2", |m| {
        m.contains(&desired_for(
            &controller_ns,
            &early_ns,
            "llama-8b-autoscaler",
            2,
        ))
    })
    .await;

    // Deleting the local ConfigMap falls back to the global thresholds at once.
    cluster
        .config_maps(&local_ns)
        .delete(SATURATION, &DeleteParams::default())
        .await
        .expect("local ConfigMap deleted");
    let lines = wait_lines(
        &wva,
        &[
            "Updated saturation config",
            &format!("configmap={local_ns}/{SATURATION}"),
        ],
        2,
    )
    .await;
    assert!(lines[1].contains("oldEntries=1 newEntries=0"), "{lines:?}");
    wva.wait_metrics("local namespace scaled up to 3", |m| {
        m.contains(&desired_for(
            &controller_ns,
            &local_ns,
            "llama-8b-autoscaler",
            3,
        ))
    })
    .await;
    cluster
        .wait_va_in(&local_ns, "llama-8b-autoscaler", "numReplicas 3", |va| {
            num_replicas(va) == Some(3)
        })
        .await;
    let local_scaled = scaled(&cluster.events_in(&local_ns).await);
    assert!(
        local_scaled.len() == 1 && local_scaled[0].starts_with("Scaled up from 2 to 3 replicas"),
        "{local_scaled:?}"
    );
    let metrics = wva.metrics();
    assert!(
        metrics.contains(&desired_for(
            &controller_ns,
            &global_ns,
            "llama-8b-autoscaler",
            3
        )) && metrics.contains(&desired_for(
            &controller_ns,
            &early_ns,
            "llama-8b-autoscaler",
            2
        )),
        "other namespaces unchanged:\n{metrics}"
    );

    for namespace in [&local_ns, &global_ns, &early_ns, &quiet_ns] {
        cluster.delete_namespace(namespace).await;
    }
}

/// Scenario 9: `GLOBAL_OPT_INTERVAL` in the main ConfigMap applies live; a change of
/// `PROMETHEUS_BASE_URL` is rejected (Warning event `ImmutableConfigChangeRejected` on the
/// ConfigMap, error log) and the running URL stays, while the mutable key of the same update
/// still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_config_map_interval_applies_live_and_url_change_is_rejected() {
    let cluster = Cluster::start("cfg-main").await;
    let ns = cluster.namespace.clone();
    let fleet = Fleet::start(&cluster, MODEL, &["llama-8b"], 0.50, 0.0);
    let url = fleet.prometheus.url();
    cluster
        .create_config_map(
            &ns,
            MAIN,
            &[("PROMETHEUS_BASE_URL", &url), ("GLOBAL_OPT_INTERVAL", "1s")],
        )
        .await;
    cluster.create_deployment("llama-8b", &PODS).await;
    fleet.synced().await;
    cluster
        .create_va("llama-8b-autoscaler", "llama-8b", MODEL, "10.0", "H100")
        .await;
    // Empty env vars count as unset: the URL and the interval come from the ConfigMap.
    let wva = Wva::start(
        &cluster,
        &fleet.prometheus,
        &[("PROMETHEUS_BASE_URL", ""), ("GLOBAL_OPT_INTERVAL", "")],
    );
    wva.wait_metrics("steady at 2", |m| {
        m.contains(&desired(&ns, "llama-8b-autoscaler", 2))
    })
    .await;
    assert_eq!(
        lines_with(&wva, &["Checking Prometheus connectivity", &url]).len(),
        1,
        "the URL comes from the ConfigMap:\n{}",
        wva.log()
    );

    // A mutable change applies at once; the engine runs one cycle on the new period.
    let completed = "Optimization completed successfully";
    cluster
        .update_config_map(&ns, MAIN, &[("GLOBAL_OPT_INTERVAL", "1h")])
        .await;
    let lines = wait_lines(&wva, &["Updated optimization interval"], 1).await;
    assert!(
        lines[0].contains("old=1s") && lines[0].contains("new=3600s"),
        "{lines:?}"
    );
    wait_line_after(&wva, "Updated optimization interval", completed).await;

    // Load arrives; with a one-hour interval nothing decides on it yet.
    fleet.set(0.78, 1.0);
    fleet
        .prometheus
        .wait_until(
            &format!("min(vllm:kv_cache_usage_perc{{namespace=\"{ns}\"}})"),
            DEADLINE,
            |r| r[0]["value"][1] == "0.78",
        )
        .expect("Prometheus has the new load");
    assert!(
        wva.metrics()
            .contains(&desired(&ns, "llama-8b-autoscaler", 2))
    );

    // One update: an immutable key (rejected) and a mutable one (applied).
    cluster
        .update_config_map(
            &ns,
            MAIN,
            &[
                ("PROMETHEUS_BASE_URL", "http://127.0.0.1:1"),
                ("GLOBAL_OPT_INTERVAL", "1s"),
            ],
        )
        .await;
    let rejected = wait_lines(&wva, &["Attempted to change immutable parameters"], 1).await;
    assert!(
        rejected[0].contains("ERROR") && rejected[0].contains("PROMETHEUS_BASE_URL"),
        "{rejected:?}"
    );
    let lines = wait_lines(&wva, &["Updated optimization interval"], 2).await;
    assert!(
        lines[1].contains("old=3600s") && lines[1].contains("new=1s"),
        "{lines:?}"
    );
    // Decisions keep flowing every second against the running Prometheus URL.
    wva.wait_metrics("scaled up to 3", |m| {
        m.contains(&desired(&ns, "llama-8b-autoscaler", 3))
    })
    .await;
    let va = cluster
        .wait_va("llama-8b-autoscaler", "numReplicas 3", |va| {
            num_replicas(va) == Some(3)
        })
        .await;
    assert_eq!(
        condition(&va, "MetricsAvailable").map(|c| c.1),
        Some("MetricsFound".into())
    );
    let events = cluster.events_in(&ns).await;
    let warnings: Vec<&Event> = events
        .iter()
        .filter(|e| e.reason == "ImmutableConfigChangeRejected")
        .collect();
    assert_eq!(warnings.len(), 1, "{events:#?}");
    let warning = warnings[0];
    assert_eq!(warning.type_, "Warning");
    assert_eq!(warning.object, MAIN);
    assert_eq!(
        warning.note,
        format!(
            r#"ConfigMap {ns}/{MAIN} attempted to change immutable parameters that require controller restart: [PROMETHEUS_BASE_URL (old: "{url}", new: "http://127.0.0.1:1")]. These changes were rejected. Mutable parameter updates were still applied."#
        )
    );
    let metrics = wva.metrics();
    assert!(
        metrics.contains(&format!(
            r#"wva_config_updates_total{{configmap="{MAIN}",result="rejected"}} 1"#
        )) && metrics.contains(&format!(
            r#"wva_config_updates_total{{configmap="{MAIN}",result="applied"}} 2"#
        )),
        "{metrics}"
    );
}

/// Scenario 10: without `PROMETHEUS_BASE_URL` (no env var, no key in the main ConfigMap)
/// `wva run` does not start: exit code 1 and a message saying where to set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_prometheus_url_exits_1_naming_where_to_set_it() {
    let cluster = Cluster::start("cfg-no-url").await;
    let ns = cluster.namespace.clone();
    // The main ConfigMap exists and is readable; it just has no URL.
    cluster
        .create_config_map(&ns, MAIN, &[("GLOBAL_OPT_INTERVAL", "30s")])
        .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wva"))
        .arg("run")
        .env_clear()
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env("POD_NAMESPACE", &ns)
        .env("METRICS_BIND_ADDRESS", "0")
        .env(
            "HEALTH_PROBE_BIND_ADDRESS",
            format!("127.0.0.1:{}", harness::free_port()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wva starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wva run kept running without PROMETHEUS_BASE_URL");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        use std::io::Read;
        stderr.read_to_string(&mut log).expect("stderr");
    }
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("fatal error"), "{log}");
    assert!(
        log.contains(&format!(
            "PROMETHEUS_BASE_URL is required but not set: set the env var PROMETHEUS_BASE_URL or the key PROMETHEUS_BASE_URL in ConfigMap {ns}/{MAIN}"
        )),
        "{log}"
    );
    assert!(
        !log.contains("Checking Prometheus connectivity"),
        "it fails before any connection attempt:\n{log}"
    );
}
