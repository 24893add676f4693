//! Helpers for scenarios that span several namespaces and several `wva` processes: workloads
//! and VAs in any namespace, namespace annotations, events per object, and `/metrics` parsed
//! into samples. Everything goes through the kube client, so it works on a real cluster too.

use crate::harness::{Cluster, DEADLINE, Fleet, Wva};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;

/// The VA label that assigns a VA to a controller instance (docs/controller.md).
pub const INSTANCE_LABEL: &str = "wva.llmd.ai/controller-instance";
/// The namespace annotation that excludes a namespace (docs/controller.md).
pub const EXCLUDE_ANNOTATION: &str = "wva.llmd.ai/exclude";

/// One variant: a VA, its Deployment with one pod, and the vLLM replica behind the pod.
pub struct Variant {
    pub namespace: String,
    pub va: &'static str,
    pub deployment: &'static str,
    pub model: &'static str,
    /// Labels of the VA beyond the accelerator label.
    pub labels: Vec<(&'static str, String)>,
}

impl Variant {
    /// The pod of the variant's Deployment.
    pub fn pod(&self) -> String {
        format!("{}-0", self.deployment)
    }
}

/// The pods of every variant's Deployment emulated at KV-cache usage `kv` and queue length
/// `queue`, and a Prometheus scraping them.
pub fn fleet(cluster: &Cluster, variants: &[&Variant], kv: f64, queue: f64) -> Fleet {
    let served: Vec<(&str, &str, &str)> = variants
        .iter()
        .map(|v| (v.namespace.as_str(), v.deployment, v.model))
        .collect();
    Fleet::serve(cluster, &served, kv, queue)
}

impl Cluster {
    /// Creates a namespace with `annotations` (fails when it exists: names are unique).
    pub async fn create_annotated_namespace(&self, name: &str, annotations: &[(&str, &str)]) {
        let annotations: BTreeMap<&str, &str> = annotations.iter().copied().collect();
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations}}))
                .expect("namespace");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        self.track_namespace(name);
    }

    /// Sets (`Some`) or removes (`None`) a namespace annotation.
    pub async fn annotate_namespace(&self, name: &str, key: &str, value: Option<&str>) {
        let patch = json!({"metadata": {"annotations": {key: value}}});
        Api::<Namespace>::all(self.client.clone())
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("namespace annotated");
    }

    /// Creates the variant's VA and its Deployment with one ready pod.
    pub async fn create_variant(&self, v: &Variant) {
        let mut labels: BTreeMap<&str, String> = v.labels.iter().cloned().collect();
        labels.insert("inference.optimization/acceleratorName", "H100".into());
        self.create_va_in(
            &v.namespace,
            v.va,
            v.deployment,
            v.model,
            "10.0",
            json!(labels),
        )
        .await;
        self.create_deployment_in(&v.namespace, v.deployment, &[&v.pod()])
            .await;
    }

    /// Sets a label of the variant's VA.
    pub async fn label_variant(&self, v: &Variant, key: &str, value: &str) {
        let patch = json!({"metadata": {"labels": {key: value}}});
        Api::<VariantAutoscaling>::namespaced(self.client.clone(), &v.namespace)
            .patch(v.va, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("VA labelled");
    }

    /// Deletes the variant's Deployment and its pod (the VA stays).
    pub async fn delete_variant_deployment(&self, v: &Variant) {
        self.delete_deployment_in(&v.namespace, v.deployment).await;
    }

    /// The variant's VA as it is now.
    pub async fn variant_va(&self, v: &Variant) -> VariantAutoscaling {
        Api::<VariantAutoscaling>::namespaced(self.client.clone(), &v.namespace)
            .get(v.va)
            .await
            .expect("VA readable")
    }

    /// Waits until `check` accepts the variant's VA.
    pub async fn wait_variant(
        &self,
        v: &Variant,
        what: &str,
        check: impl Fn(&VariantAutoscaling) -> bool,
    ) -> VariantAutoscaling {
        self.wait_va_in(&v.namespace, v.va, what, check).await
    }

    /// Events about the variant's VA as (reason, note).
    pub async fn variant_events(&self, v: &Variant) -> Vec<(String, String)> {
        self.events_in(&v.namespace)
            .await
            .into_iter()
            .filter(|e| e.object == v.va)
            .map(|e| (e.reason, e.note))
            .collect()
    }

    /// Waits until the variant's VA has an event with `reason`.
    pub async fn wait_variant_event(&self, v: &Variant, reason: &str) {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if self
                .variant_events(v)
                .await
                .iter()
                .any(|(r, _)| r == reason)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "timed out waiting for a {reason} event about {}/{}; events: {:?}",
            v.namespace,
            v.va,
            self.variant_events(v).await
        );
    }

    /// Asserts that no controller ever touched the variant's VA: no status, no events.
    pub async fn assert_untouched(&self, v: &Variant, why: &str) {
        let va = self.variant_va(v).await;
        assert!(
            unreconciled(&va),
            "{}/{} should be untouched ({why}), but has status {:#?}",
            v.namespace,
            v.va,
            va.status
        );
        let events = self.variant_events(v).await;
        assert!(
            events.is_empty(),
            "{}/{} should have no events ({why}): {events:?}",
            v.namespace,
            v.va
        );
    }
}

/// True when the VA carries nothing a controller writes: no conditions, no allocation.
pub fn unreconciled(va: &VariantAutoscaling) -> bool {
    va.status.as_ref().is_none_or(|s| {
        s.conditions.is_empty()
            && serde_json::to_value(&s.desired_optimized_alloc).ok() == Some(json!({}))
    })
}

/// The desired replicas in the VA status.
pub fn allocated(va: &VariantAutoscaling) -> Option<i32> {
    va.status
        .as_ref()
        .and_then(|s| s.desired_optimized_alloc.num_replicas)
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a `/metrics` response (headers, comments and blank lines skipped).
pub fn samples(response: &str) -> Vec<Sample> {
    let body = response
        .split_once("\r\n\r\n")
        .map_or(response, |(_, body)| body);
    body.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("unparsable sample {line:?}")))
        .collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let mut labels = BTreeMap::new();
            let mut rest = rest.strip_suffix('}')?;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"")?;
                // Label values here never contain escaped quotes.
                let (value, after) = after.split_once('"')?;
                labels.insert(key.to_string(), value.to_string());
                rest = after.strip_prefix(',').unwrap_or(after);
            }
            (name, labels)
        }
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The samples of `metric` about the variant (by `namespace` and `variant_name`).
pub fn variant_samples<'a>(all: &'a [Sample], metric: &str, v: &Variant) -> Vec<&'a Sample> {
    all.iter()
        .filter(|s| {
            s.name == metric
                && s.labels.get("namespace") == Some(&v.namespace)
                && s.labels.get("variant_name").map(String::as_str) == Some(v.va)
        })
        .collect()
}

/// True when any `wva_*` series is about the variant.
pub fn mentions(all: &[Sample], v: &Variant) -> bool {
    all.iter().any(|s| {
        s.labels.get("namespace") == Some(&v.namespace)
            && s.labels.get("variant_name").map(String::as_str) == Some(v.va)
    })
}

impl Wva {
    /// The parsed `/metrics` samples (none while the endpoint is not up).
    pub fn samples(&self) -> Vec<Sample> {
        samples(&self.metrics())
    }

    /// Waits until `wva_desired_replicas` of the variant is published; returns its sample.
    pub async fn wait_desired(&self, v: &Variant) -> Sample {
        let text = self
            .wait_metrics(&format!("wva_desired_replicas of {}", v.va), |m| {
                !variant_samples(&samples(m), "wva_desired_replicas", v).is_empty()
            })
            .await;
        variant_samples(&samples(&text), "wva_desired_replicas", v)[0].clone()
    }
}

/// JSON of a label map, for messages.
pub fn show(labels: &BTreeMap<String, String>) -> Value {
    json!(labels)
}
