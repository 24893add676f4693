//! Facts about a variant read from its VA and its target's pod template: accelerator type,
//! GPUs per pod, replica counts (what each kind of target gives: [`crate::target`]).

use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;
use wva_api::crd::labels;

/// Node label keys that name the GPU product, per vendor.
pub const ACCELERATOR_NODE_LABELS: &[&str] = &[
    "nvidia.com/gpu.product",
    "amd.com/gpu.product-name",
    "intel.com/gpu.product",
    "cloud.google.com/gke-accelerator",
];

/// Extended resource names counted as GPUs.
pub const GPU_RESOURCES: &[&str] = &[
    "nvidia.com/gpu",
    "amd.com/gpu",
    "intel.com/gpu",
    "gpu.intel.com/i915",
];

/// The accelerator name used when none can be determined.
pub const UNKNOWN_ACCELERATOR: &str = "unknown";

/// Where the accelerator name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceleratorSource {
    /// The VA label `inference.optimization/acceleratorName`.
    VaLabel,
    /// The target's node selector.
    NodeSelector(String),
    /// The target's required node affinity.
    NodeAffinity(String),
    /// Nothing named it: `unknown`.
    Unknown,
}

/// The accelerator type of a variant: the VA label, else the target's node selector, else a
/// required node-affinity term with a single value, else `unknown`.
pub fn accelerator(
    va_labels: Option<&BTreeMap<String, String>>,
    pod: Option<&PodSpec>,
) -> (String, AcceleratorSource) {
    if let Some(name) = va_labels
        .and_then(|l| l.get(labels::ACCELERATOR_NAME))
        .filter(|n| !n.is_empty())
    {
        return (name.clone(), AcceleratorSource::VaLabel);
    }
    let selector = pod.and_then(|p| p.node_selector.as_ref());
    for key in ACCELERATOR_NODE_LABELS {
        if let Some(value) = selector.and_then(|s| s.get(*key)) {
            return (
                value.clone(),
                AcceleratorSource::NodeSelector(key.to_string()),
            );
        }
    }
    let terms = pod
        .and_then(|p| p.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    for term in terms {
        for expr in term.match_expressions.iter().flatten() {
            let values = expr.values.as_deref().unwrap_or_default();
            if expr.operator == "In"
                && values.len() == 1
                && ACCELERATOR_NODE_LABELS.contains(&expr.key.as_str())
            {
                return (
                    values[0].clone(),
                    AcceleratorSource::NodeAffinity(expr.key.clone()),
                );
            }
        }
    }
    (UNKNOWN_ACCELERATOR.to_string(), AcceleratorSource::Unknown)
}

/// GPUs one replica of one pod requests: [`pod_gpus`], at least 1 so that a replica always
/// counts against the GPU budget.
pub fn gpus_per_replica(pod: Option<&PodSpec>) -> u32 {
    pod_gpus(pod).max(1)
}

/// GPUs one pod requests: the sum over containers of GPU requests (limits when no request).
/// Quantities that are not whole numbers are ignored.
pub fn pod_gpus(pod: Option<&PodSpec>) -> u32 {
    pod.map(|p| p.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .flat_map(|c| gpu_quantities(c.resources.as_ref()))
        .filter_map(|(_, quantity)| gpu_count(quantity))
        .fold(0u32, u32::saturating_add)
}

/// The GPU quantities a container asks for: for each of [`GPU_RESOURCES`] it names, the
/// request, else the limit (Kubernetes defaults an extended resource's request to its limit).
pub fn gpu_quantities(
    resources: Option<&ResourceRequirements>,
) -> impl Iterator<Item = (&'static str, &Quantity)> {
    GPU_RESOURCES.iter().filter_map(move |name| {
        let r = resources?;
        let quantity = r
            .requests
            .as_ref()
            .and_then(|q| q.get(*name))
            .or_else(|| r.limits.as_ref().and_then(|q| q.get(*name)))?;
        Some((*name, quantity))
    })
}

/// A GPU quantity as a whole number of GPUs; `None` when it is not a plain non-negative
/// integer (`"500m"`, `"1k"`, `"two"`): GPUs are not divisible and never that many.
pub fn gpu_count(quantity: &Quantity) -> Option<u32> {
    quantity.0.trim().parse().ok()
}

/// Replica counts of a scale target as WVA reads them, in the target's unit (pods, or LWS
/// groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replicas {
    /// `status.replicas`, or `spec.replicas` while the status is not written yet.
    pub current: u32,
    /// `status.readyReplicas`.
    pub ready: u32,
    /// Current minus ready.
    pub pending: u32,
}

/// The replica counts of a target whose `spec.replicas` is `spec` (1 when unset), whose
/// `status.replicas` is `status` and `status.readyReplicas` is `ready`.
pub fn replicas(spec: Option<i32>, status: Option<i32>, ready: Option<i32>) -> Replicas {
    let to_u32 = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    let spec = to_u32(spec).unwrap_or(1);
    let current = to_u32(status).filter(|r| *r > 0).unwrap_or(spec);
    let ready = to_u32(ready).unwrap_or(0).min(current);
    Replicas {
        current,
        ready,
        pending: current - ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Affinity, Container, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    };

    fn pod_with(f: impl FnOnce(&mut PodSpec)) -> PodSpec {
        let mut pod = PodSpec::default();
        f(&mut pod);
        pod
    }

    #[test]
    fn accelerator_prefers_label_then_node_selector_then_affinity() {
        let va = BTreeMap::from([(labels::ACCELERATOR_NAME.to_string(), "H100".to_string())]);
        let selector = pod_with(|p| {
            p.node_selector = Some(BTreeMap::from([(
                "nvidia.com/gpu.product".into(),
                "NVIDIA-A100".into(),
            )]))
        });
        assert_eq!(accelerator(Some(&va), Some(&selector)).0, "H100");
        assert_eq!(
            accelerator(None, Some(&selector)),
            (
                "NVIDIA-A100".into(),
                AcceleratorSource::NodeSelector("nvidia.com/gpu.product".into())
            )
        );
        let affinity = pod_with(|p| {
            p.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "amd.com/gpu.product-name".into(),
                                operator: "In".into(),
                                values: Some(vec!["MI300X".into()]),
                            }]),
                            ..Default::default()
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
        });
        assert_eq!(accelerator(None, Some(&affinity)).0, "MI300X");
        assert_eq!(
            accelerator(None, None),
            ("unknown".into(), AcceleratorSource::Unknown)
        );
    }

    #[test]
    fn gpus_per_replica_sums_containers_and_is_at_least_one() {
        let gpu = |n: &str| Container {
            resources: Some(ResourceRequirements {
                limits: Some(BTreeMap::from([(
                    "nvidia.com/gpu".into(),
                    Quantity(n.into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            gpus_per_replica(Some(&pod_with(|p| p.containers = vec![gpu("2"), gpu("2")]))),
            4
        );
        assert_eq!(
            gpus_per_replica(Some(&pod_with(
                |p| p.containers = vec![Container::default()]
            ))),
            1
        );
        assert_eq!(
            gpus_per_replica(Some(&pod_with(
                |p| p.containers = vec![gpu("500m"), gpu("2")]
            ))),
            2
        );
        assert_eq!(
            gpus_per_replica(Some(&pod_with(
                |p| p.containers = vec![gpu("4294967295"), gpu("1")]
            ))),
            u32::MAX
        );
    }

    #[test]
    fn gpu_quantities_take_the_request_else_the_limit() {
        let resources = ResourceRequirements {
            requests: Some(BTreeMap::from([(
                "nvidia.com/gpu".into(),
                Quantity("2".into()),
            )])),
            limits: Some(BTreeMap::from([
                ("nvidia.com/gpu".into(), Quantity("3".into())),
                ("amd.com/gpu".into(), Quantity("1".into())),
                ("cpu".into(), Quantity("8".into())),
            ])),
            ..Default::default()
        };
        let found: Vec<(&str, Option<u32>)> = gpu_quantities(Some(&resources))
            .map(|(name, q)| (name, gpu_count(q)))
            .collect();
        assert_eq!(
            found,
            [("nvidia.com/gpu", Some(2)), ("amd.com/gpu", Some(1))]
        );
        assert_eq!(gpu_count(&Quantity(" 8 ".into())), Some(8));
        assert_eq!(gpu_count(&Quantity("1k".into())), None);
        assert_eq!(gpu_count(&Quantity("-1".into())), None);
        assert_eq!(gpu_quantities(None).count(), 0);
    }

    #[test]
    fn replicas_fall_back_to_spec_until_status_is_written() {
        assert_eq!(
            replicas(Some(3), None, None),
            Replicas {
                current: 3,
                ready: 0,
                pending: 3
            }
        );
        assert_eq!(
            replicas(Some(3), Some(3), Some(2)),
            Replicas {
                current: 3,
                ready: 2,
                pending: 1
            }
        );
        assert_eq!(replicas(None, None, None).current, 1, "spec defaults to 1");
        assert_eq!(
            replicas(Some(0), Some(0), Some(5)),
            Replicas::default(),
            "never more ready than current"
        );
    }
}
