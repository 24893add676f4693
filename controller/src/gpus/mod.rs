//! Free GPUs per accelerator type, from Nodes and the Pods bound to them: the inventory the
//! engine's GPU limiter works with in limited mode (`WVA_LIMITED_MODE`).
//!
//! What is counted:
//!
//! * A node counts when it carries one of the GPU product labels of [`ACCELERATOR_NODE_LABELS`]
//!   (the first non-empty one, in that order). Its accelerator type is [`accelerator_type`] of
//!   the label value (`NVIDIA-H100-80GB-HBM3` → `H100`), the name the limiter pools free GPUs
//!   under.
//! * Its GPUs are its allocatable [`GPU_RESOURCES`], summed.
//! * Its used GPUs are the GPU requests (limits when no request) of the pods bound to it
//!   (`spec.nodeName`) that have not finished (phase neither `Succeeded` nor `Failed`), with
//!   init containers counted as the scheduler counts them: a pod holds the larger of its
//!   containers plus sidecars and its largest init step.
//! * Free on a node is allocatable minus used, at least 0; free per type is the sum over its
//!   nodes.
//! * Nodes that new replicas cannot land on count for nothing: cordoned nodes
//!   (`spec.unschedulable`) and nodes whose `Ready` condition is not `True`. Nodes with a GPU
//!   quantity that is not a whole number (on the node or on a pod bound to it) and nodes with
//!   allocatable GPUs but no product label are left out too. All of these are listed in
//!   [`Inventory::skipped`] with the reason; nodes without GPUs and without label (CPU nodes)
//!   are not.
//!
//! Everything here is pure: the controller calls [`inventory`] on its caches each cycle, and
//! stores only what it reads ([`slim_node`], [`slim_pod`]).

mod slim;

pub use slim::{slim_node, slim_pod};

use crate::workload::{ACCELERATOR_NODE_LABELS, GPU_RESOURCES, gpu_count, gpu_quantities};
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use wva_engine::accelerator_type;

/// The GPUs of one accelerator type, over the nodes that count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCapacity {
    /// Nodes of this type that count.
    pub nodes: u32,
    /// Their allocatable GPUs.
    pub allocatable: u64,
    /// GPUs requested by the unfinished pods bound to them.
    pub used: u64,
    /// The sum over the nodes of allocatable minus used (at least 0 per node).
    pub free: u64,
}

/// Why a GPU node does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// `spec.unschedulable` (cordoned): new replicas cannot land there.
    Cordoned,
    /// The `Ready` condition is not `True`.
    NotReady,
    /// The node has allocatable GPUs but none of the product labels.
    Unlabelled,
    /// A GPU quantity is not a whole number.
    InvalidQuantity {
        /// `node NAME` or `pod NAMESPACE/NAME`.
        object: String,
        /// The GPU resource.
        resource: &'static str,
        /// The quantity as written.
        value: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cordoned => f.write_str("cordoned (spec.unschedulable)"),
            Self::NotReady => f.write_str("not Ready"),
            Self::Unlabelled => write!(
                f,
                "allocatable GPUs but no product label ({})",
                product_labels()
            ),
            Self::InvalidQuantity {
                object,
                resource,
                value,
            } => write!(
                f,
                "{object} has {resource} {value:?}, not a whole number of GPUs"
            ),
        }
    }
}

/// A GPU node that does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedNode {
    /// The node name.
    pub node: String,
    /// Its accelerator type, when labelled.
    pub accelerator: Option<String>,
    /// Why it does not count.
    pub reason: SkipReason,
}

/// Free GPUs per accelerator type, and the GPU nodes left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// By accelerator type ([`accelerator_type`] of the node's product label).
    pub types: BTreeMap<String, TypeCapacity>,
    /// GPU nodes that do not count, by node name.
    pub skipped: Vec<SkippedNode>,
}

impl Inventory {
    /// Free GPUs per accelerator type, as the engine's snapshot takes them.
    pub fn free_gpus(&self) -> BTreeMap<String, u32> {
        self.types
            .iter()
            .map(|(kind, c)| (kind.clone(), u32::try_from(c.free).unwrap_or(u32::MAX)))
            .collect()
    }
}

impl fmt::Display for Inventory {
    /// `H100: 11 free of 16 (5 used, 2 nodes); A100: ...`, or `no GPU nodes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.types.is_empty() {
            return f.write_str("no GPU nodes");
        }
        for (i, (kind, c)) in self.types.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{kind}: {} free of {} ({} used, {} node{})",
                c.free,
                c.allocatable,
                c.used,
                c.nodes,
                if c.nodes == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// The GPU inventory of `nodes`, with the GPUs `pods` hold on them.
pub fn inventory<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Inventory {
    let mut used: HashMap<&str, Result<u64, SkipReason>> = HashMap::new();
    for pod in pods {
        let Some(node) = bound_node(pod) else {
            continue;
        };
        let held = pod_gpus(pod);
        let total = used.entry(node).or_insert(Ok(0));
        match (&mut *total, held) {
            (Ok(sum), Ok(n)) => *sum = sum.saturating_add(n),
            (Ok(_), Err(e)) => *total = Err(e),
            (Err(_), _) => {}
        }
    }
    let mut inventory = Inventory::default();
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let accelerator = product(node).map(accelerator_type);
        match count(node, &name, accelerator.is_some(), &used) {
            Ok(Some((allocatable, held))) => {
                let c = inventory
                    .types
                    .entry(accelerator.unwrap_or_default())
                    .or_default();
                c.nodes = c.nodes.saturating_add(1);
                c.allocatable = c.allocatable.saturating_add(allocatable);
                c.used = c.used.saturating_add(held);
                c.free = c.free.saturating_add(allocatable.saturating_sub(held));
            }
            Ok(None) => {}
            Err(reason) => inventory.skipped.push(SkippedNode {
                node: name,
                accelerator,
                reason,
            }),
        }
    }
    inventory.skipped.sort_by(|a, b| a.node.cmp(&b.node));
    inventory
}

/// (allocatable, used) GPUs of a node that counts; `None` for a node without GPUs and label.
fn count(
    node: &Node,
    name: &str,
    labelled: bool,
    used: &HashMap<&str, Result<u64, SkipReason>>,
) -> Result<Option<(u64, u64)>, SkipReason> {
    let allocatable = node_gpus(node, name)?;
    if !labelled {
        return match allocatable {
            0 => Ok(None),
            _ => Err(SkipReason::Unlabelled),
        };
    }
    if cordoned(node) {
        return Err(SkipReason::Cordoned);
    }
    if !ready(node) {
        return Err(SkipReason::NotReady);
    }
    let held = used.get(name).cloned().unwrap_or(Ok(0))?;
    Ok(Some((allocatable, held)))
}

/// The GPU product label value of a node: the first non-empty of
/// [`ACCELERATOR_NODE_LABELS`].
pub fn product(node: &Node) -> Option<&str> {
    let labels = node.metadata.labels.as_ref()?;
    ACCELERATOR_NODE_LABELS
        .iter()
        .find_map(|key| labels.get(*key).map(|v| v.trim()).filter(|v| !v.is_empty()))
}

/// The node a pod holds GPUs on: its `spec.nodeName`, unless the pod has finished.
fn bound_node(pod: &Pod) -> Option<&str> {
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|phase| phase == "Succeeded" || phase == "Failed");
    if finished {
        return None;
    }
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn cordoned(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

/// Ready unless a `Ready` condition says otherwise.
fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_none_or(|c| c.status == "True")
}

/// The node's allocatable GPUs.
fn node_gpus(node: &Node, name: &str) -> Result<u64, SkipReason> {
    let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
    GPU_RESOURCES
        .iter()
        .filter_map(|resource| Some((*resource, allocatable?.get(*resource)?)))
        .try_fold(0u64, |sum, (resource, quantity)| {
            let n = gpu_count(quantity).ok_or_else(|| SkipReason::InvalidQuantity {
                object: format!("node {name}"),
                resource,
                value: quantity.0.clone(),
            })?;
            Ok(sum.saturating_add(u64::from(n)))
        })
}

/// The GPUs a pod holds, as the scheduler counts them: the larger of (containers + sidecars)
/// and the largest init step (a regular init container plus the sidecars started before it).
fn pod_gpus(pod: &Pod) -> Result<u64, SkipReason> {
    let Some(spec) = &pod.spec else {
        return Ok(0);
    };
    let name = || {
        format!(
            "pod {}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        )
    };
    let (mut sidecars, mut init_peak) = (0u64, 0u64);
    for c in spec.init_containers.iter().flatten() {
        let n = container_gpus(c, name)?;
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.saturating_add(n);
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(sidecars.saturating_add(n));
        }
    }
    let running = spec.containers.iter().try_fold(sidecars, |sum, c| {
        Ok(sum.saturating_add(container_gpus(c, name)?))
    })?;
    Ok(running.max(init_peak))
}

fn container_gpus(c: &Container, pod: impl Fn() -> String) -> Result<u64, SkipReason> {
    gpu_quantities(c.resources.as_ref()).try_fold(0u64, |sum, (resource, quantity)| {
        let n = gpu_count(quantity).ok_or_else(|| SkipReason::InvalidQuantity {
            object: pod(),
            resource,
            value: quantity.0.clone(),
        })?;
        Ok(sum.saturating_add(u64::from(n)))
    })
}

/// The product label keys, for messages: `nvidia.com/gpu.product, amd.com/...`.
pub fn product_labels() -> String {
    ACCELERATOR_NODE_LABELS.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        NodeCondition, NodeSpec, NodeStatus, PodSpec, PodStatus, ResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    const H100: &str = "NVIDIA-H100-80GB-HBM3";

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    /// A Ready node with `labels` and `allocatable` resources.
    fn node(name: &str, labels: &[(&str, &str)], allocatable: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(map(labels)),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                allocatable: Some(quantities(allocatable)),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..NodeCondition::default()
                }]),
                ..NodeStatus::default()
            }),
        }
    }

    fn h100(name: &str, gpus: &str) -> Node {
        node(
            name,
            &[("nvidia.com/gpu.product", H100)],
            &[("cpu", "96"), ("nvidia.com/gpu", gpus)],
        )
    }

    fn container(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(quantities(requests)),
                limits: Some(quantities(limits)),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    fn pod_with(name: &str, node: Option<&str>, phase: &str, containers: Vec<Container>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("llm".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(str::to_string),
                containers,
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..PodStatus::default()
            }),
        }
    }

    /// A running pod on `node` asking for `gpus` NVIDIA GPUs.
    fn pod(name: &str, node: &str, gpus: &str) -> Pod {
        pod_with(
            name,
            Some(node),
            "Running",
            vec![container(&[("nvidia.com/gpu", gpus)], &[])],
        )
    }

    fn free(nodes: &[Node], pods: &[Pod]) -> BTreeMap<String, u32> {
        inventory(nodes, pods).free_gpus()
    }

    fn gpus(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn two_h100_nodes_of_8_with_5_used_leave_11_free() {
        let nodes = [h100("gpu-a", "8"), h100("gpu-b", "8")];
        let pods = [pod("llama-0", "gpu-a", "4"), pod("llama-1", "gpu-b", "1")];
        let inv = inventory(&nodes, &pods);
        assert_eq!(
            inv.types["H100"],
            TypeCapacity {
                nodes: 2,
                allocatable: 16,
                used: 5,
                free: 11
            }
        );
        assert_eq!(inv.free_gpus(), gpus(&[("H100", 11)]));
        assert_eq!(inv.to_string(), "H100: 11 free of 16 (5 used, 2 nodes)");
        assert!(inv.skipped.is_empty());
    }

    #[test]
    fn unlabelled_nodes_are_not_counted_and_gpu_ones_are_reported() {
        let nodes = [
            h100("gpu-a", "8"),
            node("cpu-1", &[("kubernetes.io/os", "linux")], &[("cpu", "32")]),
            node("mystery", &[], &[("nvidia.com/gpu", "4")]),
            node(
                "empty-label",
                &[("nvidia.com/gpu.product", " ")],
                &[("nvidia.com/gpu", "2")],
            ),
        ];
        let inv = inventory(&nodes, &[pod("p", "mystery", "1")]);
        assert_eq!(inv.free_gpus(), gpus(&[("H100", 8)]));
        let skipped: Vec<(&str, &SkipReason)> = inv
            .skipped
            .iter()
            .map(|s| (s.node.as_str(), &s.reason))
            .collect();
        assert_eq!(
            skipped,
            [
                ("empty-label", &SkipReason::Unlabelled),
                ("mystery", &SkipReason::Unlabelled)
            ]
        );
    }

    #[test]
    fn finished_and_unscheduled_pods_hold_no_gpus() {
        let nodes = [h100("gpu-a", "8")];
        let gpu = || vec![container(&[("nvidia.com/gpu", "2")], &[])];
        let pods = [
            pod_with("done", Some("gpu-a"), "Succeeded", gpu()),
            pod_with("crashed", Some("gpu-a"), "Failed", gpu()),
            pod_with("unscheduled", None, "Pending", gpu()),
            pod_with("starting", Some("gpu-a"), "Pending", gpu()),
            pod_with("unknown-phase", Some("gpu-a"), "Unknown", gpu()),
        ];
        // Only the pending pod bound to the node and the one in phase Unknown hold GPUs.
        assert_eq!(free(&nodes, &pods), gpus(&[("H100", 4)]));
    }

    #[test]
    fn cordoned_and_not_ready_nodes_offer_nothing() {
        let mut cordoned = h100("cordoned", "8");
        cordoned.spec = Some(NodeSpec {
            unschedulable: Some(true),
            ..NodeSpec::default()
        });
        let mut down = h100("down", "8");
        if let Some(c) = down
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
            .and_then(|c| c.first_mut())
        {
            c.status = "Unknown".into();
        }
        let nodes = [h100("gpu-a", "8"), cordoned, down];
        let inv = inventory(&nodes, &[pod("p", "gpu-a", "2")]);
        assert_eq!(inv.free_gpus(), gpus(&[("H100", 6)]));
        assert_eq!(inv.types["H100"].nodes, 1);
        let reasons: Vec<(&str, Option<&str>, &SkipReason)> = inv
            .skipped
            .iter()
            .map(|s| (s.node.as_str(), s.accelerator.as_deref(), &s.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("cordoned", Some("H100"), &SkipReason::Cordoned),
                ("down", Some("H100"), &SkipReason::NotReady)
            ]
        );
    }

    #[test]
    fn a_node_without_ready_condition_counts() {
        let mut n = h100("gpu-a", "8");
        if let Some(s) = n.status.as_mut() {
            s.conditions = None;
        }
        assert_eq!(free(&[n], &[]), gpus(&[("H100", 8)]));
    }

    #[test]
    fn every_vendor_label_and_resource_counts_under_one_type_per_gpu() {
        let nodes = [
            h100("gfd", "8"),
            node(
                "gke",
                &[("cloud.google.com/gke-accelerator", "nvidia-h100-80gb")],
                &[("nvidia.com/gpu", "8")],
            ),
            node(
                "mi300",
                &[("amd.com/gpu.product-name", "AMD_Instinct_MI300X_OAM")],
                &[("amd.com/gpu", "8")],
            ),
            node(
                "max",
                &[("intel.com/gpu.product", "Max-1550")],
                &[("gpu.intel.com/i915", "4")],
            ),
        ];
        let pods = [
            pod("a", "gke", "3"),
            pod_with(
                "b",
                Some("mi300"),
                "Running",
                vec![container(&[], &[("amd.com/gpu", "2")])],
            ),
        ];
        assert_eq!(
            free(&nodes, &pods),
            gpus(&[("H100", 13), ("MAX1550", 4), ("MI300X", 6)])
        );
    }

    #[test]
    fn requests_win_over_limits_and_init_containers_count_as_the_scheduler_counts() {
        let nodes = [h100("gpu-a", "8")];
        let mut sidecar = container(&[("nvidia.com/gpu", "1")], &[]);
        sidecar.restart_policy = Some("Always".into());
        let mut p = pod_with(
            "p",
            Some("gpu-a"),
            "Running",
            vec![container(
                &[("nvidia.com/gpu", "2")],
                &[("nvidia.com/gpu", "3")],
            )],
        );
        if let Some(spec) = p.spec.as_mut() {
            spec.init_containers = Some(vec![sidecar, container(&[("nvidia.com/gpu", "4")], &[])]);
        }
        // Running: 2 (the request, not the limit) + 1 sidecar = 3; init: 1 sidecar + 4 = 5.
        assert_eq!(free(&nodes, &[p.clone()]), gpus(&[("H100", 3)]));
        if let Some(spec) = p.spec.as_mut() {
            spec.init_containers = Some(vec![container(&[("nvidia.com/gpu", "1")], &[])]);
        }
        assert_eq!(free(&nodes, &[p]), gpus(&[("H100", 6)]));
    }

    #[test]
    fn unparsable_quantities_leave_only_that_node_out() {
        let nodes = [
            h100("gpu-a", "8"),
            h100("bad-node", "eight"),
            h100("bad-pod", "8"),
        ];
        let pods = [pod("fine", "gpu-a", "1"), pod("half", "bad-pod", "500m")];
        let inv = inventory(&nodes, &pods);
        assert_eq!(inv.free_gpus(), gpus(&[("H100", 7)]));
        let messages: Vec<String> = inv
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.node, s.reason))
            .collect();
        assert_eq!(
            messages,
            [
                r#"bad-node: node bad-node has nvidia.com/gpu "eight", not a whole number of GPUs"#,
                r#"bad-pod: pod llm/half has nvidia.com/gpu "500m", not a whole number of GPUs"#,
            ]
        );
    }

    #[test]
    fn an_overcommitted_node_offers_zero_not_less() {
        let nodes = [h100("gpu-a", "8"), h100("gpu-b", "8")];
        let pods = [pod("big", "gpu-a", "10")];
        let inv = inventory(&nodes, &pods);
        assert_eq!(inv.free_gpus(), gpus(&[("H100", 8)]));
        assert_eq!(inv.types["H100"].used, 10);
    }

    #[test]
    fn a_labelled_node_without_allocatable_gpus_offers_zero() {
        let nodes = [node(
            "plugin-not-ready",
            &[("nvidia.com/gpu.product", H100)],
            &[("cpu", "8")],
        )];
        assert_eq!(free(&nodes, &[]), gpus(&[("H100", 0)]));
    }

    #[test]
    fn empty_objects_do_not_panic() {
        let inv = inventory(&[Node::default()], &[Pod::default()]);
        assert_eq!(inv, Inventory::default());
        assert_eq!(inv.to_string(), "no GPU nodes");
        let mut n = Node::default();
        slim_node(&mut n);
        let mut p = Pod::default();
        slim_pod(&mut p);
        assert_eq!((n, p), (Node::default(), Pod::default()));
    }

    #[test]
    fn huge_quantities_saturate_instead_of_overflowing() {
        let nodes = [h100("a", "4294967295"), h100("b", "4294967295")];
        let pods = [pod("p", "a", "4294967295"), pod("q", "a", "4294967295")];
        assert_eq!(free(&nodes, &pods), gpus(&[("H100", u32::MAX)]));
    }

    #[test]
    fn slimming_keeps_what_the_inventory_reads_and_drops_the_rest() {
        let mut nodes = vec![
            h100("gpu-a", "8"),
            node("mystery", &[("zone", "a")], &[("nvidia.com/gpu", "4")]),
        ];
        if let Some(labels) = nodes[0].metadata.labels.as_mut() {
            labels.insert("feature.node.kubernetes.io/cpu-model".into(), "x".into());
        }
        if let Some(status) = nodes[0].status.as_mut() {
            status.images = Some(vec![Default::default()]);
        }
        let mut sidecar = container(&[("nvidia.com/gpu", "1"), ("cpu", "1")], &[]);
        sidecar.restart_policy = Some("Always".into());
        sidecar.image = Some("vllm/vllm-openai".into());
        let mut p = pod("p", "gpu-a", "2");
        if let Some(spec) = p.spec.as_mut() {
            spec.init_containers = Some(vec![sidecar]);
        }
        let pods = vec![p, pod_with("done", Some("gpu-a"), "Succeeded", vec![])];
        let before = inventory(&nodes, &pods);
        let (mut slim_nodes, mut slim_pods) = (nodes.clone(), pods.clone());
        slim_nodes.iter_mut().for_each(slim_node);
        slim_pods.iter_mut().for_each(slim_pod);
        assert_eq!(inventory(&slim_nodes, &slim_pods), before);
        assert_eq!(before.free_gpus(), gpus(&[("H100", 5)]));
        assert_eq!(
            slim_nodes[0].metadata.labels,
            Some(map(&[("nvidia.com/gpu.product", H100)]))
        );
        let status = slim_nodes[0].status.clone().unwrap_or_default();
        assert_eq!(status.images, None);
        assert_eq!(
            status.allocatable,
            Some(quantities(&[("nvidia.com/gpu", "8")]))
        );
        let init = &slim_pods[0]
            .spec
            .clone()
            .unwrap_or_default()
            .init_containers
            .unwrap_or_default()[0];
        assert_eq!(init.image, None);
        assert_eq!(
            init.resources.clone().unwrap_or_default().requests,
            Some(quantities(&[("nvidia.com/gpu", "1")]))
        );
    }
}
