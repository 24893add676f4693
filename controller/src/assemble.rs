//! From the informer caches and one collection to the engine's snapshot.
//!
//! [`plan`] picks the VAs the cycle works on and maps pods to variants through each scale
//! target (a Deployment's or StatefulSet's selector, a LeaderWorkerSet's group leaders) and
//! the prefill/decode role (no API call per pod); [`snapshot`] joins the collected signals.
//! Both are pure, so the same inputs always give the same snapshot.

use crate::analyzers;
use crate::k8s::status::WrittenStatuses;
use crate::keys;
use crate::roles::role_of;
use crate::target::{ScaleTarget, Targets};
use crate::vllm_args;
use crate::workload;
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
    EngineConfig, ModelGroup, ReplicaSignals, Role, SignalStatus, Snapshot, Variant, parse_cost,
};

/// One VA of the cycle and its target.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// The VA.
    pub va: &'a VariantAutoscaling,
    /// Its scale target, when it exists.
    pub target: Option<ScaleTarget<'a>>,
    /// `namespace/name` of the VA: the collector's variant key.
    pub key: VariantKey,
}

impl Member<'_> {
    /// The prefill/decode role the target serves: the `llm-d.ai/role` label of its pod
    /// template (`both` without a target).
    pub fn role(&self) -> Role {
        role_of(self.target.and_then(|t| t.serving_pod_labels()))
    }

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
    /// The pods that are the targets' replicas (an LWS group's leader only), by
    /// (namespace, pod).
    pub pods: PodIndex,
    /// What the collector should query.
    pub scope: CollectScope,
}

/// Plans a cycle over `vas` (already filtered by scope).
pub fn plan<'a>(
    vas: &[&'a VariantAutoscaling],
    targets: &Targets<'a>,
    pods: &[&PartialObjectMeta<Pod>],
    config: &EngineConfig,
    watch_namespace: Option<&str>,
) -> Plan<'a> {
    let mut members: Vec<Member<'a>> = vas
        .iter()
        .map(|va| Member {
            va,
            target: targets.get(&keys::target(va)).copied(),
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
        let Some(replica_pods) = member.target.map(|t| t.replica_pods()) else {
            continue;
        };
        let model: Arc<str> = member.va.spec.model_id.as_str().into();
        let role = member.role();
        for pod in by_namespace.get(member.namespace()).into_iter().flatten() {
            // A selector that also matches the pods of the model's other role (e.g. only
            // `app: llama`) must not mix their signals into this variant.
            if replica_pods.contains(pod) && role_of(pod.metadata.labels.as_ref()) == role {
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
    for member in plan.members.iter().filter(|m| m.target.is_some()) {
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
    let pod_spec = member.target.and_then(|t| t.serving_pod());
    let replicas = member.target.map(|t| t.replicas()).unwrap_or_default();
    let (accelerator, _) = workload::accelerator(va.metadata.labels.as_ref(), pod_spec);
    let as_u32 = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
    let pods = signals.variants.get(&member.key);
    let limits = vllm_args::batch_limits(pod_spec, &member.key);
    let data_parallel_size = vllm_args::data_parallel_size(pod_spec, &member.key);
    let ranks_seen = pods.into_iter().flatten().any(|(_, s)| s.engines.is_some());
    if data_parallel_size.is_none() && !ranks_seen && pods.is_some_and(|p| !p.is_empty()) {
        tracing::debug!(
            variant = %member.key,
            "no engine rank information (no engine label on the pods' series, no --data-parallel-size in the args): one engine per pod"
        );
    }
    Variant {
        role: member.role(),
        data_parallel_size,
        name: member.name().to_string(),
        cost: parse_cost(&va.spec.variant_cost),
        accelerator: Some(accelerator).filter(|a| a != workload::UNKNOWN_ACCELERATOR),
        gpus_per_replica: member.target.map_or(1, |t| t.gpus_per_replica()),
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
                engines: s.engines,
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
    use crate::target::{CachedTargets, LeaderWorkerSet, lws};
    use k8s_openapi::api::apps::v1::Deployment;
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
        let cached = CachedTargets {
            deployments: vec![Arc::new(deployment)],
            ..CachedTargets::default()
        };
        let pod_refs: Vec<&PartialObjectMeta<Pod>> = pods.iter().collect();
        let config = EngineConfig::default();
        let plan = plan(&[&va], &cached.by_ref(), &pod_refs, &config, None);
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
    fn pods_are_attributed_to_the_variant_of_their_role_and_engines_reach_the_snapshot() {
        // Both Deployments select `app: llama`, which matches the pods of both roles: each
        // variant must read only the pods of its own role.
        let va = |name: &str, target: &str| -> VariantAutoscaling {
            from_json(serde_json::json!({
                "metadata": {"name": name, "namespace": "llm-d"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": target},
                         "modelID": "org/llama", "variantCost": "10"}
            }))
        };
        let deployment = |name: &str, role: &str, args: &[&str]| -> Deployment {
            from_json(serde_json::json!({
                "metadata": {"name": name, "namespace": "llm-d"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "llama"}},
                         "template": {"metadata": {"labels": {"app": "llama", "llm-d.ai/role": role}},
                                      "spec": {"containers": [
                                          {"name": "vllm", "image": "vllm/vllm-openai", "args": args}]}}}
            }))
        };
        let (prefill_va, decode_va) =
            (va("prefill", "llama-prefill"), va("decode", "llama-decode"));
        let prefill = deployment("llama-prefill", "prefill", &["--data-parallel-size", "4"]);
        let decode = deployment("llama-decode", "decode", &[]);
        let pods: Vec<PartialObjectMeta<Pod>> = [("p-0", "prefill"), ("d-0", "decode")]
            .map(|(name, role)| {
                from_json(serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "llm-d",
                                 "labels": {"app": "llama", "llm-d.ai/role": role}}
                }))
            })
            .into();
        let cached = CachedTargets {
            deployments: vec![Arc::new(prefill), Arc::new(decode)],
            ..CachedTargets::default()
        };
        let pod_refs: Vec<&PartialObjectMeta<Pod>> = pods.iter().collect();
        let config = EngineConfig::default();
        let plan = plan(
            &[&prefill_va, &decode_va],
            &cached.by_ref(),
            &pod_refs,
            &config,
            None,
        );
        assert_eq!(plan.pods.len(), 2);
        let owner = |pod: &str| plan.pods.get("llm-d", pod).map(|t| t.variant.to_string());
        assert_eq!(owner("p-0").as_deref(), Some("llm-d/prefill"));
        assert_eq!(owner("d-0").as_deref(), Some("llm-d/decode"));

        let mut signals = Signals::default();
        for (member, pod, engines) in [
            ("llm-d/prefill", "p-0", None),
            ("llm-d/decode", "d-0", Some(2)),
        ] {
            let pod_signals = wva_collector::PodSignals {
                kv_cache_usage: Some(0.5),
                queue_length: Some(0.0),
                engines,
                ..Default::default()
            };
            signals.variants.insert(
                member.into(),
                BTreeMap::from([(pod.to_string(), pod_signals)]),
            );
        }
        let snapshot = snapshot(&plan, &signals, config, 0, None);
        let variants = &snapshot.models[0].variants;
        let summary: Vec<_> = variants
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.role,
                    v.data_parallel_size,
                    v.replicas[0].pod.as_str(),
                    v.engines_of(v.replicas.first()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("decode", Role::Decode, None, "d-0", 2),
                ("prefill", Role::Prefill, Some(4), "p-0", 4),
            ]
        );
    }

    #[test]
    fn an_lws_variant_counts_groups_and_reads_only_its_leaders() {
        let va: VariantAutoscaling = from_json(serde_json::json!({
            "metadata": {"name": "big", "namespace": "llm"},
            "spec": {"scaleTargetRef": {"apiVersion": "leaderworkerset.x-k8s.io/v1",
                                        "kind": "LeaderWorkerSet", "name": "big"},
                     "modelID": "org/big"}
        }));
        let gpus = serde_json::json!({"containers": [{"name": "vllm",
            "resources": {"limits": {"nvidia.com/gpu": "8"}}}]});
        let set: LeaderWorkerSet = from_json(serde_json::json!({
            "metadata": {"name": "big", "namespace": "llm"},
            "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 4, "workerTemplate": {"spec": gpus}}},
            "status": {"replicas": 2, "readyReplicas": 2}
        }));
        // Two groups of four pods: a leader (worker index 0) and three workers each.
        let pods: Vec<PartialObjectMeta<Pod>> = (0..2)
            .flat_map(|group| (0..4).map(move |worker| (group, worker)))
            .map(|(group, worker)| {
                from_json(serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("big-{group}-{worker}"), "namespace": "llm", "labels": {
                        lws::NAME_LABEL: "big",
                        lws::GROUP_INDEX_LABEL: group.to_string(),
                        lws::WORKER_INDEX_LABEL: worker.to_string()
                    }}
                }))
            })
            .collect();
        let cached = CachedTargets {
            leader_worker_sets: vec![Arc::new(set)],
            ..CachedTargets::default()
        };
        let pod_refs: Vec<&PartialObjectMeta<Pod>> = pods.iter().collect();
        let config = EngineConfig::default();
        let plan = plan(&[&va], &cached.by_ref(), &pod_refs, &config, None);
        let indexed: Vec<String> = ["big-0-0", "big-0-1", "big-1-0", "big-1-3"]
            .into_iter()
            .filter(|p| plan.pods.get("llm", p).is_some())
            .map(str::to_string)
            .collect();
        assert_eq!(indexed, ["big-0-0", "big-1-0"], "the leaders only");

        let snapshot = snapshot(&plan, &Signals::default(), config, 0, None);
        let variant = &snapshot.models[0].variants[0];
        assert_eq!(
            (variant.current_replicas, variant.ready_replicas),
            (2, 2),
            "groups, not pods"
        );
        assert_eq!(variant.gpus_per_replica, 32, "4 pods of 8 GPUs per group");
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
