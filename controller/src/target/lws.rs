//! LeaderWorkerSets (`leaderworkerset.x-k8s.io/v1`): a replica is a group of `size` pods, one
//! leader and `size − 1` workers, each group created by the LWS controller with the labels
//! below. Only the fields WVA reads are typed; the rest of the object is ignored.

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::PartialObjectMeta;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Pod label: the name of the LeaderWorkerSet the pod belongs to.
pub const NAME_LABEL: &str = "leaderworkerset.sigs.k8s.io/name";
/// Pod label: the index of the pod's group (the LWS replica).
pub const GROUP_INDEX_LABEL: &str = "leaderworkerset.sigs.k8s.io/group-index";
/// Pod label: the pod's index in its group; `0` is the leader.
pub const WORKER_INDEX_LABEL: &str = "leaderworkerset.sigs.k8s.io/worker-index";

/// The API group of LeaderWorkerSets.
pub const GROUP: &str = "leaderworkerset.x-k8s.io";
/// The name of the CRD that serves them.
pub const CRD_NAME: &str = "leaderworkersets.leaderworkerset.x-k8s.io";

/// A LeaderWorkerSet, as far as WVA reads it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaderWorkerSet {
    /// Its metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Its spec.
    #[serde(default)]
    pub spec: LeaderWorkerSetSpec,
    /// Its status, written by the LWS controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LeaderWorkerSetStatus>,
}

/// `spec` of a LeaderWorkerSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerSetSpec {
    /// Groups wanted (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The pods of one group.
    #[serde(default)]
    pub leader_worker_template: LeaderWorkerTemplate,
}

/// `spec.leaderWorkerTemplate`: how one group is made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerTemplate {
    /// The leader's pod template; absent, the leader is made from the worker template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_template: Option<PodTemplateSpec>,
    /// The workers' pod template.
    #[serde(default)]
    pub worker_template: PodTemplateSpec,
    /// Pods per group, leader included (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
}

/// `status` of a LeaderWorkerSet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderWorkerSetStatus {
    /// Groups created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Groups whose leader and workers are all ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
}

impl Resource for LeaderWorkerSet {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "LeaderWorkerSet".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "leaderworkersets".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl LeaderWorkerSet {
    /// Pods per group: `spec.leaderWorkerTemplate.size`, 1 when unset or not positive.
    pub fn size(&self) -> u32 {
        self.spec
            .leader_worker_template
            .size
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| *s > 0)
            .unwrap_or(1)
    }

    /// The leader's pod template: `leaderTemplate`, else the worker template.
    pub fn leader_template(&self) -> &PodTemplateSpec {
        let templates = &self.spec.leader_worker_template;
        templates
            .leader_template
            .as_ref()
            .unwrap_or(&templates.worker_template)
    }

    /// The leader's pod spec.
    pub fn leader_spec(&self) -> Option<&PodSpec> {
        self.leader_template().spec.as_ref()
    }

    /// The workers' pod spec.
    pub fn worker_spec(&self) -> Option<&PodSpec> {
        self.spec
            .leader_worker_template
            .worker_template
            .spec
            .as_ref()
    }

    /// True when `pod` is the leader of one of this set's groups: it carries the set's name
    /// label and worker index `0`, and its controlling owner, if any, is this set or the
    /// StatefulSet `<name>` the LWS controller makes for the leaders. Workers are never
    /// replicas: a group is one replica, and only its leader serves vLLM's metrics.
    pub fn leads(&self, pod: &PartialObjectMeta<Pod>) -> bool {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let labels = pod.metadata.labels.as_ref();
        let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
        if name.is_empty()
            || label(NAME_LABEL) != Some(name)
            || label(WORKER_INDEX_LABEL) != Some("0")
        {
            return false;
        }
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        owner.is_none_or(|o| match o.kind.as_str() {
            "LeaderWorkerSet" | "StatefulSet" => o.name == name,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lws(spec: serde_json::Value) -> LeaderWorkerSet {
        serde_json::from_value(json!({
            "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": "llama", "namespace": "llm"},
            "spec": spec,
            "status": {"replicas": 2, "readyReplicas": 1, "hpaPodSelector": "x"}
        }))
        .expect("a LeaderWorkerSet")
    }

    fn pod(labels: serde_json::Value, owner: Option<(&str, &str)>) -> PartialObjectMeta<Pod> {
        let owners: Vec<serde_json::Value> = owner
            .map(|(kind, name)| {
                json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u", "controller": true})
            })
            .into_iter()
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "llm", "labels": labels, "ownerReferences": owners}
        }))
        .expect("pod metadata")
    }

    #[test]
    fn reads_size_templates_and_status_ignoring_other_fields() {
        let set = lws(json!({
            "replicas": 2,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": 4,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"spec": {"containers": [{"name": "leader"}]}},
                "workerTemplate": {"spec": {"containers": [{"name": "worker"}]}}
            }
        }));
        assert_eq!(set.size(), 4);
        assert_eq!(
            set.leader_spec().map(|s| s.containers[0].name.as_str()),
            Some("leader")
        );
        assert_eq!(
            set.worker_spec().map(|s| s.containers[0].name.as_str()),
            Some("worker")
        );
        assert_eq!(set.status.as_ref().and_then(|s| s.ready_replicas), Some(1));

        let workers_only = lws(json!({"leaderWorkerTemplate": {
            "size": 0, "workerTemplate": {"spec": {"containers": [{"name": "worker"}]}}
        }}));
        assert_eq!(workers_only.size(), 1, "a size below 1 is 1");
        assert_eq!(
            workers_only
                .leader_spec()
                .map(|s| s.containers[0].name.as_str()),
            Some("worker"),
            "no leader template: the worker template makes the leader"
        );
    }

    #[test]
    fn only_leaders_of_its_own_groups_are_replicas() {
        let set = lws(json!({"leaderWorkerTemplate": {"size": 2, "workerTemplate": {}}}));
        let labels = |name: &str, worker: &str| json!({NAME_LABEL: name, GROUP_INDEX_LABEL: "1", WORKER_INDEX_LABEL: worker});
        assert!(set.leads(&pod(labels("llama", "0"), Some(("StatefulSet", "llama")))));
        assert!(set.leads(&pod(
            labels("llama", "0"),
            Some(("LeaderWorkerSet", "llama"))
        )));
        assert!(set.leads(&pod(labels("llama", "0"), None)));
        assert!(
            !set.leads(&pod(labels("llama", "1"), Some(("StatefulSet", "llama-1")))),
            "a worker"
        );
        assert!(!set.leads(&pod(labels("other", "0"), None)), "another set");
        assert!(
            !set.leads(&pod(json!({NAME_LABEL: "llama"}), None)),
            "no worker index"
        );
        assert!(
            !set.leads(&pod(
                labels("llama", "0"),
                Some(("ReplicaSet", "llama-5d8f"))
            )),
            "a pod that copied the labels, controlled by something else"
        );
        assert!(
            !set.leads(&pod(labels("llama", "0"), Some(("StatefulSet", "llama-1")))),
            "a group's workers' StatefulSet controls no leader"
        );
    }
}
