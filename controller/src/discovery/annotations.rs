//! The annotations that make an HPA or ScaledObject a variant, read without side effects:
//!
//! * `llm-d.ai/managed: "true"` (any true word of the boolean grammar) opts the object in;
//! * `llm-d.ai/model-id` (required): the model, as vLLM reports it in `model_name`;
//! * `llm-d.ai/variant-cost` (optional, default `10.0`): a number ≥ 0.
//!
//! Replica bounds come from the object: an HPA's `minReplicas` (default 1) and `maxReplicas`,
//! a ScaledObject's `minReplicaCount` (default 0) and `maxReplicaCount` (default 100).

use super::source::Source;
use std::fmt;
use wva_api::crd::{ScaleTargetKind, ScaleTargetRef};

/// Opts an HPA or ScaledObject in.
pub const MANAGED: &str = "llm-d.ai/managed";
/// The model the variant serves.
pub const MODEL_ID: &str = "llm-d.ai/model-id";
/// The cost per replica.
pub const VARIANT_COST: &str = "llm-d.ai/variant-cost";
/// Marks the in-memory VariantAutoscaling built from an annotated object.
pub const SYNTHETIC: &str = "llm-d.ai/synthetic";
/// The cost when the annotation is absent.
pub const DEFAULT_COST: &str = "10.0";

/// What an annotated object asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The model ID.
    pub model_id: String,
    /// The cost per replica, as written (or [`DEFAULT_COST`]).
    pub cost: String,
    /// The lower bound of replicas.
    pub min_replicas: i32,
    /// The upper bound of replicas.
    pub max_replicas: i32,
    /// The scale target.
    pub target: ScaleTargetRef,
}

/// Why an object that opted in cannot be a variant: the annotation or field, its value and
/// the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The annotation or field at fault.
    pub key: String,
    /// Its value, quoted, or `missing`.
    pub value: String,
    /// What is wrong and how to fix it.
    pub fix: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}: {}", self.key, self.value, self.fix)
    }
}

/// Reads `source`: `Ok(None)` when it did not opt in, the variant it asks for, or why it
/// cannot be one.
pub fn read(source: &Source) -> Result<Option<Wanted>, Invalid> {
    let annotation = |key: &str| source.annotations.get(key).map(|v| v.trim());
    match annotation(MANAGED).map(wva_api::params::grammar::parse_bool) {
        None | Some(Ok(false)) => return Ok(None),
        Some(Ok(true)) => {}
        Some(Err(_)) => {
            return Err(Invalid {
                key: format!("annotation {MANAGED}"),
                value: quoted(annotation(MANAGED)),
                fix:
                    "not a boolean; set it to \"true\" for WVA to manage this object, or remove it"
                        .into(),
            });
        }
    }
    let model_id = match annotation(MODEL_ID) {
        Some(model) if !model.is_empty() => model.to_string(),
        value => {
            return Err(Invalid {
                key: format!("annotation {MODEL_ID}"),
                value: quoted(value),
                fix: "it is required; set it to the model name vLLM serves (the model_name label of its metrics)".into(),
            });
        }
    };
    let cost = match annotation(VARIANT_COST) {
        None => DEFAULT_COST.to_string(),
        Some(text) => match text.parse::<f64>() {
            Ok(cost) if cost.is_finite() && cost >= 0.0 => text.to_string(),
            _ => {
                return Err(Invalid {
                    key: format!("annotation {VARIANT_COST}"),
                    value: quoted(Some(text)),
                    fix: format!(
                        "not a number ≥ 0; set it to the cost of one replica, such as \"{DEFAULT_COST}\", or remove it for the default {DEFAULT_COST}"
                    ),
                });
            }
        },
    };
    let Some(written) = source.target.clone() else {
        return Err(Invalid {
            key: "spec.scaleTargetRef.name".into(),
            value: "missing".into(),
            fix: "name the workload to scale".into(),
        });
    };
    let Some(target_kind) = ScaleTargetKind::ALL
        .into_iter()
        .find(|k| k.as_str() == written.kind)
    else {
        return Err(Invalid {
            key: "spec.scaleTargetRef.kind".into(),
            value: quoted(Some(&written.kind)),
            fix: "WVA scales a Deployment, a StatefulSet or a LeaderWorkerSet; point the autoscaler at one of them".into(),
        });
    };
    let target = ScaleTargetRef {
        api_version: written.api_version,
        kind: target_kind,
        name: written.name,
    };
    let kind = source.kind;
    let min = source.min_replicas.unwrap_or(kind.default_min());
    let max = source.max_replicas.unwrap_or(kind.default_max());
    let bound = |field: &str, value: i64, least: i64| -> Result<i32, Invalid> {
        i32::try_from(value)
            .ok()
            .filter(|v| i64::from(*v) >= least)
            .ok_or_else(|| Invalid {
                key: field.to_string(),
                value: value.to_string(),
                fix: format!("it must be a whole number from {least} to {}", i32::MAX),
            })
    };
    let min_replicas = bound(kind.min_field(), min, 0)?;
    let max_replicas = bound(kind.max_field(), max, 1)?;
    if min_replicas > max_replicas {
        return Err(Invalid {
            key: kind.min_field().into(),
            value: min.to_string(),
            fix: format!(
                "it is above {} ({max}); lower it or raise {}",
                kind.max_field(),
                kind.max_field()
            ),
        });
    }
    Ok(Some(Wanted {
        model_id,
        cost,
        min_replicas,
        max_replicas,
        target,
    }))
}

/// A value for a message: quoted, or `missing`.
fn quoted(value: Option<&str>) -> String {
    value.map_or_else(|| "missing".to_string(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::source::SourceKind;

    fn source(kind: SourceKind, annotations: &[(&str, &str)]) -> Source {
        crate::discovery::source::tests::sample(kind, "llama", "llama-8b", annotations)
    }

    const MANAGED_MODEL: [(&str, &str); 2] = [(MANAGED, "true"), (MODEL_ID, "meta/llama")];

    #[test]
    fn an_opted_in_hpa_is_a_variant_with_the_default_cost_and_bounds() {
        let mut hpa = source(SourceKind::Hpa, &MANAGED_MODEL);
        hpa.max_replicas = Some(8);
        let wanted = read(&hpa).expect("valid").expect("managed");
        assert_eq!(wanted.model_id, "meta/llama");
        assert_eq!(wanted.cost, "10.0");
        assert_eq!((wanted.min_replicas, wanted.max_replicas), (1, 8));
        assert_eq!(wanted.target.name, "llama-8b");

        let so = source(
            SourceKind::ScaledObject,
            &[(MANAGED, "True"), (MODEL_ID, "m"), (VARIANT_COST, "2.5")],
        );
        let wanted = read(&so).expect("valid").expect("managed");
        assert_eq!(wanted.cost, "2.5");
        assert_eq!((wanted.min_replicas, wanted.max_replicas), (0, 100));
    }

    #[test]
    fn objects_that_did_not_opt_in_are_not_variants() {
        assert_eq!(read(&source(SourceKind::Hpa, &[])), Ok(None));
        assert_eq!(
            read(&source(
                SourceKind::Hpa,
                &[(MANAGED, "false"), (MODEL_ID, "m")]
            )),
            Ok(None)
        );
    }

    #[test]
    fn bad_annotations_name_the_annotation_the_value_and_the_fix() {
        let message = |annotations: &[(&str, &str)]| {
            read(&source(SourceKind::Hpa, annotations))
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            message(&[(MANAGED, "true")]),
            "annotation llm-d.ai/model-id is missing: it is required; set it to the model name vLLM serves (the model_name label of its metrics)"
        );
        assert_eq!(
            message(&[(MANAGED, "true"), (MODEL_ID, "m"), (VARIANT_COST, "abc")]),
            "annotation llm-d.ai/variant-cost is \"abc\": not a number ≥ 0; set it to the cost of one replica, such as \"10.0\", or remove it for the default 10.0"
        );
        for bad in ["-1", "NaN", "inf", ""] {
            let text = message(&[(MANAGED, "true"), (MODEL_ID, "m"), (VARIANT_COST, bad)]);
            assert!(
                text.starts_with("annotation llm-d.ai/variant-cost is "),
                "{text}"
            );
        }
        assert!(message(&[(MANAGED, "maybe"), (MODEL_ID, "m")]).contains("not a boolean"));
    }

    #[test]
    fn bounds_out_of_range_are_refused_naming_the_field() {
        let mut so = source(SourceKind::ScaledObject, &MANAGED_MODEL);
        so.min_replicas = Some(5);
        so.max_replicas = Some(2);
        assert_eq!(
            read(&so).expect_err("min above max").to_string(),
            "spec.minReplicaCount is 5: it is above spec.maxReplicaCount (2); lower it or raise spec.maxReplicaCount"
        );
        so.min_replicas = Some(-1);
        assert!(
            read(&so)
                .expect_err("negative")
                .to_string()
                .starts_with("spec.minReplicaCount is -1: it must be a whole number from 0")
        );
        so.min_replicas = None;
        so.max_replicas = Some(0);
        assert!(read(&so).is_err(), "max 0");
        so.max_replicas = None;
        so.target = None;
        assert_eq!(
            read(&so).expect_err("no target").key,
            "spec.scaleTargetRef.name"
        );
    }

    #[test]
    fn a_target_of_a_kind_wva_cannot_scale_is_refused_and_the_others_are_read() {
        let mut hpa = source(SourceKind::Hpa, &MANAGED_MODEL);
        for kind in ["StatefulSet", "LeaderWorkerSet"] {
            if let Some(t) = hpa.target.as_mut() {
                t.kind = kind.into();
            }
            let wanted = read(&hpa).expect("valid").expect("managed");
            assert_eq!(wanted.target.kind.as_str(), kind);
        }
        if let Some(t) = hpa.target.as_mut() {
            t.kind = "Rollout".into();
        }
        assert_eq!(
            read(&hpa).expect_err("unknown kind").to_string(),
            "spec.scaleTargetRef.kind is \"Rollout\": WVA scales a Deployment, a StatefulSet or a LeaderWorkerSet; point the autoscaler at one of them"
        );
    }
}
