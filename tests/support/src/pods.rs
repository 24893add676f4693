//! Emulated vLLM replicas of whole Deployments behind one scrape endpoint: every pod of a
//! Deployment gets its own series, labelled `namespace` and `pod` in the exposition itself
//! (Prometheus scrapes the endpoint with `honor_labels`), so the pods may change while
//! Prometheus keeps one static target. The test (or a pod follower) names the pods.

use crate::emulator::{ReplicaMetrics, render_labelled};
use crate::prometheus::ScrapeTarget;
use crate::server::{ServerHandle, StubResponse};
use std::sync::{Arc, Mutex};

/// One emulated Deployment: its model, the load of each of its pods, and its pods.
#[derive(Debug, Clone)]
struct Served {
    namespace: String,
    deployment: String,
    model: String,
    metrics: ReplicaMetrics,
    pods: Vec<String>,
}

/// The vLLM replicas of a set of Deployments on one endpoint; stopped on drop.
pub struct VllmPods {
    handle: ServerHandle,
    state: Arc<Mutex<Vec<Served>>>,
}

impl VllmPods {
    /// Starts the endpoint on `127.0.0.1:0`, serving no Deployment yet.
    pub fn start() -> Self {
        let state: Arc<Mutex<Vec<Served>>> = Arc::default();
        let shared = state.clone();
        let handle = ServerHandle::spawn(
            "vllm-pods",
            None,
            Arc::new(move |request| {
                if request.path != "/metrics" {
                    return StubResponse::text("not found\n").with_status(404);
                }
                StubResponse::text(render(&shared.lock().expect("emulator state")))
            }),
        )
        .expect("start vLLM pods emulator");
        VllmPods { handle, state }
    }

    /// The scrape target: this endpoint, with `honor_labels` so each series keeps its pod.
    pub fn target(&self) -> ScrapeTarget {
        ScrapeTarget::new(self.handle.addr().to_string()).honor_labels()
    }

    /// Serves Deployment `deployment` in `namespace` with `model`, its pods idle and none yet.
    pub fn add_deployment(&self, namespace: &str, deployment: &str, model: &str) {
        self.lock().push(Served {
            namespace: namespace.to_string(),
            deployment: deployment.to_string(),
            model: model.to_string(),
            metrics: ReplicaMetrics::default(),
            pods: Vec::new(),
        });
    }

    /// The served Deployments as (namespace, name).
    pub fn deployments(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .map(|s| (s.namespace.clone(), s.deployment.clone()))
            .collect()
    }

    /// Makes `pods` the pods of the Deployment (new ones get the Deployment's load).
    pub fn set_pods(&self, namespace: &str, deployment: &str, pods: Vec<String>) {
        self.with(namespace, deployment, |s| s.pods = pods);
    }

    /// The pods of the Deployment now.
    pub fn pods(&self, namespace: &str, deployment: &str) -> Vec<String> {
        let mut pods = Vec::new();
        self.with(namespace, deployment, |s| pods = s.pods.clone());
        pods
    }

    /// Changes the load of every pod of the Deployment, present and future.
    pub fn update(
        &self,
        namespace: &str,
        deployment: &str,
        change: impl FnOnce(&mut ReplicaMetrics),
    ) {
        self.with(namespace, deployment, |s| change(&mut s.metrics));
    }

    /// Runs `change` on the Deployment; a Deployment never added is a test bug.
    fn with(&self, namespace: &str, deployment: &str, change: impl FnOnce(&mut Served)) {
        let mut state = self.lock();
        let served = state
            .iter_mut()
            .find(|s| s.namespace == namespace && s.deployment == deployment)
            .unwrap_or_else(|| panic!("Deployment {namespace}/{deployment} is not emulated"));
        change(served);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Served>> {
        self.state.lock().expect("emulator state")
    }

    /// The `/metrics` body as served now.
    pub fn render(&self) -> String {
        render(&self.lock())
    }
}

/// Every pod's series; the `# HELP`/`# TYPE` lines once, before the first pod's.
fn render(served: &[Served]) -> String {
    let mut out = String::new();
    for (i, (s, pod)) in served
        .iter()
        .flat_map(|s| s.pods.iter().map(move |pod| (s, pod)))
        .enumerate()
    {
        let labels = [("namespace", s.namespace.as_str()), ("pod", pod.as_str())];
        let text = render_labelled(&s.model, &labels, &s.metrics);
        for line in text.lines().filter(|l| i == 0 || !l.starts_with('#')) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pod_has_its_series_with_the_load_of_its_deployment() {
        let pods = VllmPods::start();
        pods.add_deployment("ns", "a", "m/a");
        pods.add_deployment("ns", "b", "m/b");
        pods.set_pods("ns", "a", vec!["a-x".into(), "a-y".into()]);
        pods.set_pods("ns", "b", vec!["b-z".into()]);
        pods.update("ns", "a", |m| m.kv_cache_usage = 0.5);
        let text = pods.render();
        assert!(text.contains(
            "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m/a\",namespace=\"ns\",pod=\"a-y\"} 0.5"
        ), "{text}");
        assert!(text.contains(
            "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m/b\",namespace=\"ns\",pod=\"b-z\"} 0.0"
        ), "{text}");
        assert_eq!(
            text.matches("# TYPE vllm:kv_cache_usage_perc gauge")
                .count(),
            1
        );
        pods.set_pods("ns", "a", vec![]);
        assert!(!pods.render().contains("a-x"));
        assert_eq!(pods.pods("ns", "b"), ["b-z"]);
    }
}
