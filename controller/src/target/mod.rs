//! Scale targets: the workload a VA's `scaleTargetRef` names, a Deployment, a StatefulSet or a
//! LeaderWorkerSet, seen through one type that gives what WVA reads of any of them.
//!
//! | kind | replica | GPUs per replica | pods that are replicas |
//! |---|---|---|---|
//! | Deployment, StatefulSet | a pod | the pod template's | selected by `spec.selector` |
//! | LeaderWorkerSet | a group | leader + (size − 1) × worker | the group leaders ([`LeaderWorkerSet::leads`]) |

pub mod lws;

pub use lws::LeaderWorkerSet;
pub use wva_api::crd::ScaleTargetKind;

use crate::assemble::PodSelector;
use crate::workload::{self, Replicas};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::core::PartialObjectMeta;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use wva_api::crd::VariantAutoscaling;

/// The key of a scale target: its kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetRef {
    /// The kind.
    pub kind: ScaleTargetKind,
    /// The namespace (the VA's).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl TargetRef {
    /// The target `va` names (`spec.scaleTargetRef` in the VA's namespace).
    pub fn of_va(va: &VariantAutoscaling) -> TargetRef {
        let target = &va.spec.scale_target_ref;
        TargetRef {
            kind: target.kind,
            namespace: va.metadata.namespace.clone().unwrap_or_default(),
            name: target.name.clone(),
        }
    }

    /// The key of an object of `kind`.
    pub fn of_object(kind: ScaleTargetKind, metadata: &kube::api::ObjectMeta) -> TargetRef {
        TargetRef {
            kind,
            namespace: metadata.namespace.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
        }
    }
}

/// Shows a target as `namespace/name` (the kind is logged apart).
impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A scale target as the caches hold it.
#[derive(Debug, Clone, Copy)]
pub enum ScaleTarget<'a> {
    /// An `apps/v1` Deployment.
    Deployment(&'a Deployment),
    /// An `apps/v1` StatefulSet.
    StatefulSet(&'a StatefulSet),
    /// A `leaderworkerset.x-k8s.io/v1` LeaderWorkerSet.
    LeaderWorkerSet(&'a LeaderWorkerSet),
}

impl<'a> ScaleTarget<'a> {
    /// Its kind.
    pub fn kind(&self) -> ScaleTargetKind {
        match self {
            ScaleTarget::Deployment(_) => ScaleTargetKind::Deployment,
            ScaleTarget::StatefulSet(_) => ScaleTargetKind::StatefulSet,
            ScaleTarget::LeaderWorkerSet(_) => ScaleTargetKind::LeaderWorkerSet,
        }
    }

    /// Replica counts in the target's own unit: pods, or LWS groups (`status.replicas` and
    /// `status.readyReplicas`, which the LWS controller counts in groups, a group being ready
    /// when its leader and all its workers are).
    pub fn replicas(&self) -> Replicas {
        match self {
            ScaleTarget::Deployment(d) => {
                let status = d.status.as_ref();
                workload::replicas(
                    d.spec.as_ref().and_then(|s| s.replicas),
                    status.and_then(|s| s.replicas),
                    status.and_then(|s| s.ready_replicas),
                )
            }
            ScaleTarget::StatefulSet(s) => {
                let status = s.status.as_ref();
                workload::replicas(
                    s.spec.as_ref().and_then(|s| s.replicas),
                    status.map(|s| s.replicas),
                    status.and_then(|s| s.ready_replicas),
                )
            }
            ScaleTarget::LeaderWorkerSet(l) => {
                let status = l.status.as_ref();
                workload::replicas(
                    l.spec.replicas,
                    status.and_then(|s| s.replicas),
                    status.and_then(|s| s.ready_replicas),
                )
            }
        }
    }

    /// The pod spec of the pod that serves the model: the template's, or an LWS group
    /// leader's. Its node selector names the accelerator and its command line vLLM's limits.
    pub fn serving_pod(&self) -> Option<&'a PodSpec> {
        match self {
            ScaleTarget::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref(),
            ScaleTarget::StatefulSet(s) => s.spec.as_ref()?.template.spec.as_ref(),
            ScaleTarget::LeaderWorkerSet(l) => l.leader_spec(),
        }
    }

    /// The labels of the serving pods' template (an InferencePool selects pods by them).
    pub fn serving_pod_labels(&self) -> Option<&'a BTreeMap<String, String>> {
        let template = match self {
            ScaleTarget::Deployment(d) => &d.spec.as_ref()?.template,
            ScaleTarget::StatefulSet(s) => &s.spec.as_ref()?.template,
            ScaleTarget::LeaderWorkerSet(l) => l.leader_template(),
        };
        template.metadata.as_ref()?.labels.as_ref()
    }

    /// GPUs one replica requests, at least 1: the pod's, or for an LWS group the leader's
    /// plus (size − 1) times a worker's.
    pub fn gpus_per_replica(&self) -> u32 {
        match self {
            ScaleTarget::LeaderWorkerSet(l) => {
                let workers = l.size() - 1;
                workload::pod_gpus(l.leader_spec())
                    .saturating_add(workers.saturating_mul(workload::pod_gpus(l.worker_spec())))
                    .max(1)
            }
            _ => workload::gpus_per_replica(self.serving_pod()),
        }
    }

    /// Which pods are the target's replicas.
    pub fn replica_pods(&self) -> ReplicaPods<'a> {
        match self {
            ScaleTarget::Deployment(d) => {
                ReplicaPods::Selected(d.spec.as_ref().map(|s| PodSelector::new(&s.selector)))
            }
            ScaleTarget::StatefulSet(s) => {
                ReplicaPods::Selected(s.spec.as_ref().map(|s| PodSelector::new(&s.selector)))
            }
            ScaleTarget::LeaderWorkerSet(l) => ReplicaPods::Leaders(l),
        }
    }
}

/// The pods that are a target's replicas (in its namespace).
#[derive(Debug, Clone)]
pub enum ReplicaPods<'a> {
    /// Pods its selector selects (none without a selector).
    Selected(Option<PodSelector>),
    /// The leaders of an LWS's groups.
    Leaders(&'a LeaderWorkerSet),
}

impl ReplicaPods<'_> {
    /// True when `pod` (of the target's namespace) is one of its replicas.
    pub fn contains(&self, pod: &PartialObjectMeta<Pod>) -> bool {
        match self {
            ReplicaPods::Selected(selector) => selector
                .as_ref()
                .is_some_and(|s| s.selects(pod.metadata.labels.as_ref())),
            ReplicaPods::Leaders(lws) => lws.leads(pod),
        }
    }
}

/// Every cached target of every kind at one instant (the caches' contents, shared).
#[derive(Debug, Default, Clone)]
pub struct CachedTargets {
    /// Deployments.
    pub deployments: Vec<Arc<Deployment>>,
    /// StatefulSets.
    pub stateful_sets: Vec<Arc<StatefulSet>>,
    /// LeaderWorkerSets (none while their CRD is not installed).
    pub leader_worker_sets: Vec<Arc<LeaderWorkerSet>>,
}

impl CachedTargets {
    /// Every target by key.
    pub fn by_ref(&self) -> Targets<'_> {
        let deployments = self.deployments.iter().map(|d| {
            (
                TargetRef::of_object(ScaleTargetKind::Deployment, &d.metadata),
                ScaleTarget::Deployment(d),
            )
        });
        let stateful_sets = self.stateful_sets.iter().map(|s| {
            (
                TargetRef::of_object(ScaleTargetKind::StatefulSet, &s.metadata),
                ScaleTarget::StatefulSet(s),
            )
        });
        let leader_worker_sets = self.leader_worker_sets.iter().map(|l| {
            (
                TargetRef::of_object(ScaleTargetKind::LeaderWorkerSet, &l.metadata),
                ScaleTarget::LeaderWorkerSet(l),
            )
        });
        deployments
            .chain(stateful_sets)
            .chain(leader_worker_sets)
            .collect()
    }
}

/// Targets by key.
pub type Targets<'a> = HashMap<TargetRef, ScaleTarget<'a>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).expect("valid test object")
    }

    fn gpu_pod(gpus: u32) -> serde_json::Value {
        json!({"spec": {"containers": [{"name": "vllm",
            "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]}})
    }

    #[test]
    fn an_lws_group_is_one_replica_with_the_gpus_of_all_its_pods() {
        let lws: LeaderWorkerSet = from_json(json!({
            "metadata": {"name": "big", "namespace": "llm"},
            "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 4, "workerTemplate": gpu_pod(8)}},
            "status": {"replicas": 2, "readyReplicas": 1}
        }));
        let target = ScaleTarget::LeaderWorkerSet(&lws);
        assert_eq!(target.gpus_per_replica(), 32, "4 pods of 8 GPUs");
        assert_eq!(
            target.replicas(),
            Replicas {
                current: 2,
                ready: 1,
                pending: 1
            }
        );
        let with_leader: LeaderWorkerSet = from_json(json!({
            "metadata": {"name": "big", "namespace": "llm"},
            "spec": {"leaderWorkerTemplate": {"size": 3, "leaderTemplate": gpu_pod(2), "workerTemplate": gpu_pod(8)}}
        }));
        let target = ScaleTarget::LeaderWorkerSet(&with_leader);
        assert_eq!(target.gpus_per_replica(), 2 + 2 * 8);
        assert_eq!(target.replicas().current, 1, "spec.replicas defaults to 1");
    }

    #[test]
    fn a_stateful_set_counts_pods_like_a_deployment() {
        let set: StatefulSet = from_json(json!({
            "metadata": {"name": "db", "namespace": "llm"},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}}, "spec": gpu_pod(2)["spec"]}},
            "status": {"replicas": 3, "readyReplicas": 2}
        }));
        let target = ScaleTarget::StatefulSet(&set);
        assert_eq!(target.kind(), ScaleTargetKind::StatefulSet);
        assert_eq!(target.gpus_per_replica(), 2);
        assert_eq!(target.replicas().pending, 1);
        let pod: PartialObjectMeta<Pod> = from_json(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": "llm", "labels": {"app": "db"}}
        }));
        assert!(target.replica_pods().contains(&pod));
        assert_eq!(
            target.serving_pod_labels().and_then(|l| l.get("app")),
            Some(&"db".to_string())
        );
    }

    #[test]
    fn targets_are_keyed_by_kind_namespace_and_name() {
        let deployment: Deployment =
            from_json(json!({"metadata": {"name": "llama", "namespace": "llm"}}));
        let cached = CachedTargets {
            deployments: vec![Arc::new(deployment)],
            ..CachedTargets::default()
        };
        let targets = cached.by_ref();
        let va: VariantAutoscaling = from_json(json!({
            "metadata": {"name": "v", "namespace": "llm"},
            "spec": {"scaleTargetRef": {"name": "llama"}, "modelID": "m"}
        }));
        let key = TargetRef::of_va(&va);
        assert_eq!(key.kind, ScaleTargetKind::Deployment, "the default kind");
        assert_eq!(key.to_string(), "llm/llama");
        assert!(targets.contains_key(&key));
        let statefulset = TargetRef {
            kind: ScaleTargetKind::StatefulSet,
            ..key
        };
        assert!(!targets.contains_key(&statefulset), "same name, other kind");
    }
}
