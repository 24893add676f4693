//! From the informer caches and one collection to the engine's snapshot.
//!
//! [`plan`] picks the VAs the cycle works on and maps pods to variants through each target
//! Deployment's selector (no API call per pod); [`snapshot`] joins the collected signals.
//! Both are pure, so the same inputs always give the same snapshot.

use crate::analyzers;
use crate::k8s::status::WrittenStatuses;
use crate::keys::{self, DeploymentRef};
use crate::vllm_args;
use crate::workload;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use wva_api::crd::VariantAutoscaling;
use wva_collector::{
    MAX_OTHER_MODELS, ModelKey, PodIndex, Scope as CollectScope, Signals, VariantKey,
};
use wva_engine::{
    EngineConfig, ModelGroup, ReplicaSignals, SignalStatus, Snapshot, Variant, parse_cost,
};

/// One VA of the cycle and its target.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// The VA.
    pub va: &'a VariantAutoscaling,
    /// Its target Deployment, when it exists.
    pub deployment: Option<&'a Deployment>,
    /// `namespace/name` of the VA: the collector's variant key.
    pub key: VariantKey,
}

impl Member<'_> {
    /// The VA's namespace.
    pub fn namespace(&self) -> &str {
        self.va.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// The VA's name.
    pub fn name(&self) -> &str {
        self.va.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The VAs of a cycle, the pod index and what to collect.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Every VA in scope, ordered by namespace and name.
    pub members: Vec<Member<'a>>,
    /// Pods of the target Deployments, by (namespace, pod).
    pub pods: PodIndex,
    /// What the collector should query.
    pub scope: CollectScope,
}

/// Plans a cycle over `vas` (already filtered by scope).
pub fn plan<'a>(
    vas: &[&'a VariantAutoscaling],
    deployments: &HashMap<DeploymentRef, &'a Deployment>,
    pods: &[&PartialObjectMeta<Pod>],
    config: &EngineConfig,
    watch_namespace: Option<&str>,
) -> Plan<'a> {
    let mut members: Vec<Member<'a>> = vas
        .iter()
        .map(|va| Member {
            va,
            deployment: deployments.get(&keys::target(va)).copied(),
            key: keys::display(&keys::of(*va)).to_string().into(),
        })
        .collect();
    members.sort_by(|a, b| a.key.cmp(&b.key));
    let mut by_namespace: HashMap<&str, Vec<&PartialObjectMeta<Pod>>> = HashMap::new();
    for pod in pods {
        by_namespace
            .entry(pod.metadata.namespace.as_deref().unwrap_or_default())
            .or_default()
            .push(pod);
    }
    let mut index = PodIndex::new();
    let mut scope = CollectScope {
        namespace: watch_namespace.map(str::to_string),
        ..CollectScope::default()
    };
    for member in &members {
        let Some(selector) = member
            .deployment
            .and_then(|d| d.spec.as_ref())
            .map(|s| PodSelector::new(&s.selector))
        else {
            continue;
        };
        let model: Arc<str> = member.va.spec.model_id.as_str().into();
        for pod in by_namespace.get(member.namespace()).into_iter().flatten() {
            if selector.selects(pod.metadata.labels.as_ref()) {
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                index.insert(member.namespace(), name, member.key.clone(), model.clone());
            }
        }
        let policy = config.scale_to_zero_policy(member.namespace(), &member.va.spec.model_id);
        if policy.enabled {
            scope
                .models
                .insert(ModelKey::new(member.namespace(), &member.va.spec.model_id));
            scope.retentions.insert(policy.retention);
        }
    }
    scope.token_capacity =
        analyzers::token_capacity_in_force(config, members.iter().map(|m| m.namespace()));
    scope.hybrid = config.hybrid;
    Plan {
        members,
        pods: index,
        scope,
    }
}

/// A Deployment's pod selector, matched with kube's [`Selector`], except that a selector
/// that selects everything (empty) or cannot be parsed (an unknown operator, `In` without
/// values) matches nothing: Deployments require a non-empty, valid selector, and adopting
/// every pod of the namespace would mix other workloads' metrics into the variant.
#[derive(Debug, Clone)]
pub struct PodSelector(Option<Selector>);

impl PodSelector {
    /// The selector of `selector` (`matchLabels` and `matchExpressions`).
    pub fn new(selector: &LabelSelector) -> Self {
        PodSelector(
            Selector::try_from(selector.clone())
                .ok()
                .filter(|s| !s.selects_all()),
        )
    }

    /// True when `labels` match.
    pub fn selects(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        self.0
            .as_ref()
            .is_some_and(|s| s.matches(labels.unwrap_or(&empty)))
    }
}

/// The engine snapshot of a planned cycle, with the collected `signals`.
pub fn snapshot(
    plan: &Plan<'_>,
    signals: &Signals,
    config: EngineConfig,
    now: i64,
    free_gpus: Option<BTreeMap<String, u32>>,
) -> Snapshot {
    let query_error = signals.kv_error.as_ref().or(signals.queue_error.as_ref());
    let mut groups: BTreeMap<(String, String), ModelGroup> = BTreeMap::new();
    for member in plan.members.iter().filter(|m| m.deployment.is_some()) {
        let (namespace, model) = (
            member.namespace().to_string(),
            member.va.spec.model_id.clone(),
        );
        let group = groups
            .entry((namespace.clone(), model.clone()))
            .or_insert_with(|| {
                let policy = config.scale_to_zero_policy(&namespace, &model);
                let request_count = if policy.enabled {
                    signals
                        .request_count(&namespace, &model, policy.retention)
                        .ok()
                        .flatten()
                } else {
                    None
                };
                ModelGroup {
                    namespace: namespace.clone(),
                    model_id: model.clone(),
                    signals: match query_error {
                        Some(error) => SignalStatus::PrometheusError {
                            message: error.to_string(),
                        },
                        None => SignalStatus::Ok,
                    },
                    request_count,
                    gateway_queue: None,
                    scaled_from_zero_at: None,
                    service_class: None,
                    seen_model_names: Vec::new(),
                    variants: Vec::new(),
                }
            });
        if let Some(seen) = signals.other_models.get(&member.key) {
            for name in seen {
                if !group.seen_model_names.contains(name)
                    && group.seen_model_names.len() < MAX_OTHER_MODELS
                {
                    group.seen_model_names.push(name.clone());
                }
            }
        }
        group.variants.push(variant(member, signals));
    }
    for group in groups.values_mut() {
        let any_signal = group
            .variants
            .iter()
            .flat_map(|v| &v.replicas)
            .any(|r| r.kv_cache_usage.is_some() || r.queue_length.is_some());
        if matches!(group.signals, SignalStatus::Ok) && !any_signal {
            group.signals = SignalStatus::NoData;
        }
    }
    Snapshot {
        now,
        config,
        models: groups.into_values().collect(),
        free_gpus,
    }
}

/// Replaces each variant's `previous_desired` with the newest status WVA knows for its VA:
/// the one it wrote last when the cache does not show that write yet.
pub fn use_newest_status(
    snapshot: &mut Snapshot,
    members: &[Member<'_>],
    written: &mut WrittenStatuses,
) {
    let by_key: HashMap<(&str, &str), &VariantAutoscaling> = members
        .iter()
        .map(|m| ((m.namespace(), m.name()), m.va))
        .collect();
    for model in &mut snapshot.models {
        for variant in &mut model.variants {
            if let Some(va) = by_key.get(&(model.namespace.as_str(), variant.name.as_str())) {
                variant.previous_desired =
                    crate::run::effects::previous_desired(written.latest(va).as_ref());
            }
        }
    }
}

fn variant(member: &Member<'_>, signals: &Signals) -> Variant {
    let va = member.va;
    let pod_spec = member
        .deployment
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref());
    let replicas = member
        .deployment
        .map(workload::replicas)
        .unwrap_or_default();
    let (accelerator, _) = workload::accelerator(va.metadata.labels.as_ref(), pod_spec);
    let as_u32 = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    let pods = signals.variants.get(&member.key);
    let limits = vllm_args::batch_limits(pod_spec, &member.key);
    Variant {
        name: member.name().to_string(),
        cost: parse_cost(&va.spec.variant_cost),
        accelerator: Some(accelerator).filter(|a| a != workload::UNKNOWN_ACCELERATOR),
        gpus_per_replica: workload::gpus_per_replica(pod_spec),
        current_replicas: replicas.current,
        ready_replicas: replicas.ready,
        pending_replicas: replicas.pending,
        previous_desired: as_u32(
            va.status
                .as_ref()
                .and_then(|s| s.desired_optimized_alloc.num_replicas),
        ),
        min_replicas: as_u32(va.spec.min_replicas),
        max_replicas: as_u32(va.spec.max_replicas),
        perf: None,
        arrival_rate: None,
        replicas: pods
            .into_iter()
            .flatten()
            .map(|(pod, s)| ReplicaSignals {
                pod: pod.clone(),
                kv_cache_usage: s.kv_cache_usage,
                queue_length: s.queue_length,
                kv_capacity_tokens: s.kv_capacity_tokens,
                avg_input_tokens: s.avg_input_tokens,
                avg_output_tokens: s.avg_output_tokens,
                prefix_cache_hit_rate: s.prefix_cache_hit_rate,
            })
            .collect(),
        max_num_batched_tokens: limits.max_num_batched_tokens,
        max_num_seqs: limits.max_num_seqs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
        PodSelector::new(selector).selects(labels)
    }

    fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).expect("valid test object")
    }

    #[test]
    fn token_capacity_inputs_and_batch_limits_reach_the_snapshot() {
        let va: VariantAutoscaling = from_json(serde_json::json!({
            "metadata": {"name": "llama-h100", "namespace": "llm-d"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llama"},
                     "modelID": "org/llama", "variantCost": "10"}
        }));
        let deployment: Deployment = from_json(serde_json::json!({
            "metadata": {"name": "llama", "namespace": "llm-d"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "llama"}},
                     "template": {"metadata": {"labels": {"app": "llama"}},
                                  "spec": {"containers": [
                                      {"name": "proxy", "image": "envoy"},
                                      {"name": "vllm", "image": "vllm/vllm-openai",
                                       "args": ["--max-num-batched-tokens=4096", "--max-num-seqs", "$(SEQS)"]}]}}}
        }));
        let pods: Vec<PartialObjectMeta<Pod>> = ["llama-a", "llama-b"]
            .map(|name| {
                from_json(serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "llm-d", "labels": {"app": "llama"}}
                }))
            })
            .into();
        let deployments = HashMap::from([(keys::of(&deployment), &deployment)]);
        let pod_refs: Vec<&PartialObjectMeta<Pod>> = pods.iter().collect();
        let config = EngineConfig::default();
        let plan = plan(&[&va], &deployments, &pod_refs, &config, None);
        assert!(
            !plan.scope.token_capacity,
            "no entry selects the token-capacity analyzer"
        );
        let mut signals = Signals::default();
        let busy = wva_collector::PodSignals {
            kv_cache_usage: Some(0.5),
            queue_length: Some(2.0),
            kv_capacity_tokens: Some(32_768.0),
            avg_input_tokens: Some(900.0),
            avg_output_tokens: Some(300.0),
            prefix_cache_hit_rate: Some(0.25),
            ..Default::default()
        };
        signals.variants.insert(
            plan.members[0].key.clone(),
            BTreeMap::from([
                ("llama-a".to_string(), busy),
                ("llama-b".to_string(), Default::default()),
            ]),
        );

        let snapshot = snapshot(&plan, &signals, config, 0, None);

        let variant = &snapshot.models[0].variants[0];
        assert_eq!(variant.max_num_batched_tokens, Some(4096));
        assert_eq!(
            variant.max_num_seqs, None,
            "an unresolved $(SEQS) is not a limit"
        );
        let busy = &variant.replicas[0];
        assert_eq!(busy.pod, "llama-a");
        assert_eq!(
            (
                busy.kv_cache_usage,
                busy.queue_length,
                busy.kv_capacity_tokens
            ),
            (Some(0.5), Some(2.0), Some(32_768.0))
        );
        assert_eq!(
            (
                busy.avg_input_tokens,
                busy.avg_output_tokens,
                busy.prefix_cache_hit_rate
            ),
            (Some(900.0), Some(300.0), Some(0.25))
        );
        // Missing stays missing.
        assert_eq!(
            variant.replicas[1],
            ReplicaSignals {
                pod: "llama-b".into(),
                ..ReplicaSignals::default()
            }
        );
    }

    #[test]
    fn selectors_match_labels_and_expressions_and_empty_matches_nothing() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "llama")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["decode".into()]),
            }]),
        };
        assert!(selects(
            &selector,
            Some(&labels(&[("app", "llama"), ("tier", "decode"), ("x", "y")]))
        ));
        assert!(!selects(
            &selector,
            Some(&labels(&[("app", "llama"), ("tier", "prefill")]))
        ));
        assert!(!selects(&selector, Some(&labels(&[("tier", "decode")]))));
        assert!(!selects(
            &LabelSelector::default(),
            Some(&labels(&[("app", "llama")]))
        ));
        let invalid = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Near".into(),
                values: None,
            }]),
        };
        assert!(!selects(&invalid, Some(&labels(&[("tier", "decode")]))));
    }
}
