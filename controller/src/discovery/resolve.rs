//! From the annotated objects and the VAs in scope to the variants discovery adds, without
//! side effects. An object is skipped, with the reason and a note for its Warning event, when
//! its annotations are invalid, or when it conflicts:
//!
//! * with a VA scaling the same target, or named like it in its namespace (both would publish
//!   `wva_desired_replicas` under one `variant_name`): the VA wins;
//! * with another annotated object on the same target or of the same name: the first by
//!   kind (HPA before ScaledObject), then name, wins.
//!
//! An HPA that KEDA made for a ScaledObject is left out silently: its ScaledObject is the
//! variant.

use super::annotations::{self, Invalid, Wanted};
use super::source::{Source, SourceKey};
use crate::run::events::Reason;
use kube::api::ObjectMeta;
use std::collections::{BTreeMap, HashMap};
use wva_api::crd::{ScaleTargetRef, VariantAutoscaling, VariantAutoscalingSpec};

/// A variant built from an annotated object.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The in-memory VariantAutoscaling, named after the object, marked
    /// [`annotations::SYNTHETIC`].
    pub va: VariantAutoscaling,
    /// The object.
    pub source: Source,
}

/// An annotated object that is not a variant, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// `InvalidAnnotation` or `DiscoveryConflict`.
    pub reason: Reason,
    /// The Warning event's note.
    pub note: String,
}

/// What discovery makes of the objects of one cycle.
#[derive(Debug, Default)]
pub struct Resolution {
    /// The variants, ordered by namespace and name.
    pub variants: Vec<Discovered>,
    /// The objects skipped.
    pub skipped: BTreeMap<SourceKey, Skip>,
}

/// Resolves `sources` (in scope) against `vas` (the VAs in scope; empty when VAs are not
/// read).
pub fn resolve(sources: &[Source], vas: &[&VariantAutoscaling]) -> Resolution {
    let mut by_target: HashMap<TargetKey, String> = HashMap::new();
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    for va in vas {
        let namespace = va.metadata.namespace.clone().unwrap_or_default();
        let name = va.metadata.name.clone().unwrap_or_default();
        let owner = format!("VariantAutoscaling {namespace}/{name}");
        by_target
            .entry(target_key(&namespace, &va.spec.scale_target_ref))
            .or_insert_with(|| owner.clone());
        by_name.entry((namespace, name)).or_insert(owner);
    }
    let mut ordered: Vec<&Source> = sources
        .iter()
        .filter(|s| !s.owned_by_scaled_object)
        .collect();
    ordered.sort_by_key(|s| s.key());
    let mut resolution = Resolution::default();
    for source in ordered {
        let wanted = match annotations::read(source) {
            Ok(None) => continue,
            Ok(Some(wanted)) => wanted,
            Err(invalid) => {
                resolution
                    .skipped
                    .insert(source.key(), invalid_skip(&invalid));
                continue;
            }
        };
        let target = target_key(&source.namespace, &wanted.target);
        let same_target = by_target.get(&target);
        let same_name = by_name.get(&(source.namespace.clone(), source.name.clone()));
        let conflict = match (same_target, same_name) {
            (Some(owner), _) => Some(format!(
                "{owner} also scales {} {}",
                wanted.target.kind, wanted.target.name
            )),
            (None, Some(owner)) => Some(format!(
                "{owner} has the same name, and both would publish wva_desired_replicas{{variant_name=\"{}\"}}",
                source.name
            )),
            (None, None) => None,
        };
        if let Some(why) = conflict {
            let winner = same_target.or(same_name).cloned().unwrap_or_default();
            let fix = if winner.starts_with("VariantAutoscaling") {
                format!(
                    "the VA wins; remove the {} annotation from this object or delete the VA",
                    annotations::MANAGED
                )
            } else {
                format!(
                    "{winner} wins; remove the {} annotation from one of them",
                    annotations::MANAGED
                )
            };
            resolution.skipped.insert(
                source.key(),
                Skip {
                    reason: Reason::DiscoveryConflict,
                    note: format!("Not managed by WVA: {why}; {fix}"),
                },
            );
            continue;
        }
        let owner = source.key().to_string();
        by_target.insert(target, owner.clone());
        by_name.insert((source.namespace.clone(), source.name.clone()), owner);
        resolution.variants.push(Discovered {
            va: synthetic(source, wanted),
            source: source.clone(),
        });
    }
    resolution.variants.sort_by(|a, b| {
        (&a.source.namespace, &a.source.name).cmp(&(&b.source.namespace, &b.source.name))
    });
    resolution
}

/// The skip of an object whose annotations are invalid.
fn invalid_skip(invalid: &Invalid) -> Skip {
    Skip {
        reason: Reason::InvalidAnnotation,
        note: format!("Not managed by WVA: {invalid}"),
    }
}

/// A target: namespace, kind (any case) and name.
type TargetKey = (String, String, String);

fn target_key(namespace: &str, target: &ScaleTargetRef) -> TargetKey {
    (
        namespace.to_string(),
        target.kind.as_str().to_ascii_lowercase(),
        target.name.clone(),
    )
}

/// The in-memory VariantAutoscaling of an annotated object: its name, namespace, labels and
/// generation, the annotations' model and cost, the object's bounds and target.
pub fn synthetic(source: &Source, wanted: Wanted) -> VariantAutoscaling {
    let metadata = ObjectMeta {
        name: Some(source.name.clone()),
        namespace: Some(source.namespace.clone()),
        labels: Some(source.labels.clone()).filter(|l| !l.is_empty()),
        annotations: Some(BTreeMap::from([(
            annotations::SYNTHETIC.to_string(),
            "true".to_string(),
        )])),
        generation: source.generation,
        ..ObjectMeta::default()
    };
    let spec = VariantAutoscalingSpec {
        scale_target_ref: wanted.target,
        model_id: wanted.model_id,
        variant_cost: wanted.cost,
        min_replicas: Some(wanted.min_replicas),
        max_replicas: Some(wanted.max_replicas),
    };
    VariantAutoscaling {
        metadata,
        spec,
        status: None,
    }
}

/// True when `va` was built by discovery (not read from the API).
pub fn is_synthetic(va: &VariantAutoscaling) -> bool {
    va.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotations::SYNTHETIC))
        .is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::annotations::{MANAGED, MODEL_ID, VARIANT_COST};
    use crate::discovery::source::SourceKind;

    fn source(kind: SourceKind, name: &str, target: &str, annotations: &[(&str, &str)]) -> Source {
        Source {
            generation: Some(3),
            labels: BTreeMap::from([("team".to_string(), "a".to_string())]),
            min_replicas: Some(2),
            max_replicas: Some(6),
            ..crate::discovery::source::tests::sample(kind, name, target, annotations)
        }
    }

    fn managed(kind: SourceKind, name: &str, target: &str) -> Source {
        source(kind, name, target, &[(MANAGED, "true"), (MODEL_ID, "m")])
    }

    fn va(name: &str, target: &str) -> VariantAutoscaling {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "llm-d"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": target}, "modelID": "m"}
        }))
        .expect("va")
    }

    #[test]
    fn an_annotated_hpa_becomes_a_variant_named_after_it() {
        let resolution = resolve(&[managed(SourceKind::Hpa, "llama", "llama-8b")], &[]);
        assert!(resolution.skipped.is_empty());
        let va = &resolution.variants[0].va;
        assert_eq!(va.metadata.name.as_deref(), Some("llama"));
        assert_eq!(va.metadata.generation, Some(3));
        assert!(is_synthetic(va));
        assert_eq!(va.spec.scale_target_ref.name, "llama-8b");
        assert_eq!(
            (va.spec.min_replicas, va.spec.max_replicas),
            (Some(2), Some(6))
        );
        assert_eq!(va.spec.variant_cost, "10.0");
        assert_eq!(
            va.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("team"))
                .map(String::as_str),
            Some("a")
        );
        assert!(!is_synthetic(&super::tests::va("x", "y")));
    }

    #[test]
    fn a_va_on_the_same_target_or_with_the_same_name_wins() {
        let vas = [va("llama-va", "llama-8b"), va("chat", "chat-h100")];
        let refs: Vec<&VariantAutoscaling> = vas.iter().collect();
        let resolution = resolve(
            &[
                managed(SourceKind::Hpa, "llama", "llama-8b"),
                managed(SourceKind::ScaledObject, "chat", "chat-a100"),
                managed(SourceKind::Hpa, "free", "free-8b"),
            ],
            &refs,
        );
        assert_eq!(resolution.variants.len(), 1);
        assert_eq!(resolution.variants[0].source.name, "free");
        let notes: Vec<(String, Reason, String)> = resolution
            .skipped
            .iter()
            .map(|(k, s)| (k.to_string(), s.reason, s.note.clone()))
            .collect();
        assert_eq!(
            notes,
            [
                (
                    "HorizontalPodAutoscaler llm-d/llama".to_string(),
                    Reason::DiscoveryConflict,
                    "Not managed by WVA: VariantAutoscaling llm-d/llama-va also scales Deployment llama-8b; the VA wins; remove the llm-d.ai/managed annotation from this object or delete the VA".to_string()
                ),
                (
                    "ScaledObject llm-d/chat".to_string(),
                    Reason::DiscoveryConflict,
                    "Not managed by WVA: VariantAutoscaling llm-d/chat has the same name, and both would publish wva_desired_replicas{variant_name=\"chat\"}; the VA wins; remove the llm-d.ai/managed annotation from this object or delete the VA".to_string()
                ),
            ]
        );
    }

    #[test]
    fn of_two_annotated_objects_on_one_target_the_hpa_wins_and_keda_made_hpas_are_left_out() {
        let mut keda_made = managed(SourceKind::Hpa, "keda-hpa-chat", "chat");
        keda_made.owned_by_scaled_object = true;
        let resolution = resolve(
            &[
                managed(SourceKind::ScaledObject, "chat-so", "llama"),
                managed(SourceKind::Hpa, "llama", "llama"),
                keda_made,
                managed(SourceKind::ScaledObject, "chat", "chat"),
            ],
            &[],
        );
        let names: Vec<&str> = resolution
            .variants
            .iter()
            .map(|d| d.source.name.as_str())
            .collect();
        assert_eq!(names, ["chat", "llama"]);
        let skipped: Vec<String> = resolution
            .skipped
            .values()
            .map(|s| s.note.clone())
            .collect();
        assert_eq!(
            skipped,
            [
                "Not managed by WVA: HorizontalPodAutoscaler llm-d/llama also scales Deployment llama; HorizontalPodAutoscaler llm-d/llama wins; remove the llm-d.ai/managed annotation from one of them"
            ]
        );
    }

    #[test]
    fn invalid_annotations_skip_the_object_with_the_reason() {
        let bad = source(
            SourceKind::Hpa,
            "llama",
            "llama-8b",
            &[(MANAGED, "true"), (MODEL_ID, "m"), (VARIANT_COST, "-3")],
        );
        let resolution = resolve(&[bad, source(SourceKind::Hpa, "plain", "p", &[])], &[]);
        assert!(resolution.variants.is_empty());
        let skip = resolution.skipped.values().next().expect("skipped");
        assert_eq!(skip.reason, Reason::InvalidAnnotation);
        assert!(
            skip.note.starts_with(
                "Not managed by WVA: annotation llm-d.ai/variant-cost is \"-3\": not a number ≥ 0"
            ),
            "{}",
            skip.note
        );
        assert_eq!(
            resolution.skipped.len(),
            1,
            "an object without annotations is not skipped, just ignored"
        );
    }
}
