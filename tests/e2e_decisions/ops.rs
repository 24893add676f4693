//! What the decision scenarios do and read beyond the shared harness: act as the HPA (resize
//! a Deployment, pods included), write the scale-to-zero ConfigMap, read events with the
//! object they name, read one `/metrics` value and the log's lines. Only the kube client is
//! used, so all of it works against a real cluster too.

use crate::harness::{Cluster, DEADLINE, Wva};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One event as `kubectl get events` shows it.
#[derive(Debug, Clone)]
pub struct SeenEvent {
    /// `Normal` or `Warning`.
    pub type_: String,
    /// `ScaledUp`, `MetricsUnavailable`, ...
    pub reason: String,
    /// Name of the object the event is about.
    pub object: String,
    /// The message.
    pub note: String,
}

impl Cluster {
    /// Acts as the HPA and the Deployment controller: `spec.replicas` and a rolled-out status
    /// of `pods.len()`, the listed pods exist and the Deployment's other pods are deleted.
    pub async fn resize_deployment(&self, name: &str, pods: &[&str]) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let replicas = i64::try_from(pods.len()).unwrap_or(0);
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .expect("Deployment scaled");
        let status = json!({"status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas}});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .expect("Deployment status");
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let existing = pod_api
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .expect("pods listed");
        for pod in existing.items {
            let pod_name = pod.metadata.name.unwrap_or_default();
            if !pods.contains(&pod_name.as_str()) {
                pod_api
                    .delete(&pod_name, &DeleteParams::default())
                    .await
                    .expect("pod deleted");
            }
        }
        for pod in pods {
            if pod_api.get_opt(pod).await.expect("pod lookup").is_none() {
                let object: Pod = serde_json::from_value(json!({
                    "metadata": {"name": pod, "namespace": self.namespace, "labels": {"app": name}},
                    "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}
                }))
                .expect("pod");
                pod_api
                    .create(&PostParams::default(), &object)
                    .await
                    .expect("Pod created");
            }
        }
    }

    /// Creates or replaces the ConfigMap `name` of the scenario's namespace with `data`.
    pub async fn put_config_map(&self, name: &str, data: &[(&str, &str)]) {
        let data: BTreeMap<&str, &str> = data.iter().copied().collect();
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.namespace},
            "data": data,
        });
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .patch(
                name,
                &PatchParams::apply("wva-e2e").force(),
                &Patch::Apply(config_map),
            )
            .await
            .expect("ConfigMap applied");
    }

    /// Events of the scenario's namespace, oldest first.
    pub async fn seen_events(&self) -> Vec<SeenEvent> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), &self.namespace);
        let mut events = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        events.sort_by_key(|e| e.event_time.clone().map(|t| t.0));
        events
            .into_iter()
            .map(|e| SeenEvent {
                type_: e.type_.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                object: e.regarding.and_then(|r| r.name).unwrap_or_default(),
                note: e.note.unwrap_or_default(),
            })
            .collect()
    }

    /// Waits until an event with `reason` about `object` whose note starts with `note`
    /// exists; returns it.
    pub async fn wait_event(&self, reason: &str, object: &str, note: &str) -> SeenEvent {
        let start = Instant::now();
        loop {
            let events = self.seen_events().await;
            if let Some(event) = events
                .iter()
                .find(|e| e.reason == reason && e.object == object && e.note.starts_with(note))
            {
                return event.clone();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for event {reason} on {object} starting with {note:?}; events: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The value of `wva_desired_replicas` for the VA `variant` in `namespace` in a `/metrics`
/// text, if the series exists.
pub fn desired_replicas(metrics: &str, namespace: &str, variant: &str) -> Option<f64> {
    gauge(metrics, "wva_desired_replicas", namespace, variant)
}

/// The value of the series of `name` labelled with `namespace` and `variant_name`.
pub fn gauge(metrics: &str, name: &str, namespace: &str, variant: &str) -> Option<f64> {
    let (ns, va) = (
        format!("namespace=\"{namespace}\""),
        format!("variant_name=\"{variant}\""),
    );
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.rsplit_once("} ")?;
        let labels: Vec<&str> = labels.split(',').collect();
        (labels.contains(&ns.as_str()) && labels.contains(&va.as_str()))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// The log lines containing every one of `needles`, ANSI colours removed.
pub fn log_lines(wva: &Wva, needles: &[&str]) -> Vec<String> {
    strip_ansi(&wva.log())
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Waits until at least `count` log lines contain every one of `needles`; returns them.
pub async fn wait_log_lines(wva: &Wva, needles: &[&str], count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines = log_lines(wva, needles);
        if lines.len() >= count {
            return lines;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {count} log lines with {needles:?}; log:\n{}",
            wva.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn reads_one_gauge_and_strips_colours() {
    let metrics = "# TYPE wva_desired_replicas gauge\n\
        wva_desired_replicas{accelerator_type=\"H100\",namespace=\"ns\",variant_name=\"a\"} 10\n\
        wva_desired_replicas{accelerator_type=\"A100\",namespace=\"ns\",variant_name=\"b\"} 1\n";
    assert_eq!(desired_replicas(metrics, "ns", "a"), Some(10.0));
    assert_eq!(desired_replicas(metrics, "ns", "b"), Some(1.0));
    assert_eq!(desired_replicas(metrics, "other", "a"), None);
    assert_eq!(
        strip_ansi("\u{1b}[3mvariant\u{1b}[0m\u{1b}[2m=\u{1b}[0ma"),
        "variant=a"
    );
}
