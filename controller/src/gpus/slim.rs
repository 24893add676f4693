//! What the limited-mode caches keep of Nodes and Pods: only the fields the GPU inventory
//! ([`super::inventory`]) reads, so that a cluster's Nodes and Pods stay small in memory.

use crate::workload::{ACCELERATOR_NODE_LABELS, GPU_RESOURCES};
use k8s_openapi::api::core::v1::{
    Container, Node, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Keeps of a Node only what [`super::inventory`] reads: name, product labels,
/// `spec.unschedulable`, allocatable GPUs and the `Ready` condition. The limited-mode cache
/// stores Nodes this way (a Node's images and labels run to kilobytes).
pub fn slim_node(node: &mut Node) {
    let mut meta = std::mem::take(&mut node.metadata);
    let labels = meta.labels.take().map(|labels| {
        labels
            .into_iter()
            .filter(|(k, _)| ACCELERATOR_NODE_LABELS.contains(&k.as_str()))
            .collect()
    });
    node.metadata = ObjectMeta {
        labels,
        ..identity(meta)
    };
    node.spec = node.spec.take().map(|s| NodeSpec {
        unschedulable: s.unschedulable,
        ..NodeSpec::default()
    });
    node.status = node.status.take().map(|s| NodeStatus {
        allocatable: s.allocatable.map(|a| {
            a.into_iter()
                .filter(|(k, _)| GPU_RESOURCES.contains(&k.as_str()))
                .collect()
        }),
        conditions: s
            .conditions
            .map(|c| c.into_iter().filter(|c| c.type_ == "Ready").collect()),
        ..NodeStatus::default()
    });
}

/// Keeps of a Pod only what [`super::inventory`] reads: name, namespace, `spec.nodeName`, the GPU
/// resources of its containers (and init containers' restart policy) and `status.phase`.
pub fn slim_pod(pod: &mut Pod) {
    pod.metadata = identity(std::mem::take(&mut pod.metadata));
    pod.spec = pod.spec.take().map(|s| PodSpec {
        node_name: s.node_name,
        containers: s.containers.into_iter().map(slim_container).collect(),
        init_containers: s
            .init_containers
            .map(|c| c.into_iter().map(slim_container).collect()),
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|s| PodStatus {
        phase: s.phase,
        ..PodStatus::default()
    });
}

/// Name, namespace, uid and resourceVersion.
fn identity(meta: ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        ..ObjectMeta::default()
    }
}

fn slim_container(c: Container) -> Container {
    let gpus_only = |q: Option<BTreeMap<_, _>>| {
        q.map(|q: BTreeMap<String, _>| {
            q.into_iter()
                .filter(|(k, _)| GPU_RESOURCES.contains(&k.as_str()))
                .collect()
        })
    };
    Container {
        name: c.name,
        restart_policy: c.restart_policy,
        resources: c.resources.map(|r| ResourceRequirements {
            requests: gpus_only(r.requests),
            limits: gpus_only(r.limits),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}
