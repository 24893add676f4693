//! The `VariantAutoscaling` custom resource (`llmd.ai/v1alpha1`, short name `va`).
//!
//! Every field's doc comment becomes its schema description (`kubectl explain va.spec...`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a VariantAutoscaling: one variant (a Deployment, StatefulSet or
/// LeaderWorkerSet serving a model on one accelerator or configuration) whose replica count WVA
/// decides.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "llmd.ai",
    version = "v1alpha1",
    kind = "VariantAutoscaling",
    plural = "variantautoscalings",
    shortname = "va",
    namespaced,
    status = "VariantAutoscalingStatus",
    doc = "VariantAutoscaling declares one variant of a model (a Deployment, StatefulSet or LeaderWorkerSet on one accelerator or configuration, with a cost per replica) whose replica count WVA decides and publishes as wva_desired_replicas.",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.scaleTargetRef.kind"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.scaleTargetRef.name"}"#,
    printcolumn = r#"{"name":"Model","type":"string","jsonPath":".spec.modelID"}"#,
    printcolumn = r#"{"name":"Optimized","type":"integer","jsonPath":".status.desiredOptimizedAlloc.numReplicas"}"#,
    printcolumn = r#"{"name":"MetricsReady","type":"string","jsonPath":".status.conditions[?(@.type=='MetricsAvailable')].status"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
).message("minReplicas must be less than or equal to maxReplicas"))]
#[serde(rename_all = "camelCase")]
pub struct VariantAutoscalingSpec {
    /// Reference to the workload to scale (follows the HPA pattern). WVA looks it up in the
    /// VA's namespace.
    pub scale_target_ref: ScaleTargetRef,

    /// OpenAI API compatible model identifier, e.g. "meta/llama-3.1-8b". Must equal the served
    /// model name that vLLM reports in the model_name label of its metrics.
    #[serde(rename = "modelID")]
    #[schemars(length(min = 1))]
    pub model_id: String,

    /// Cost per replica of this variant, as a numeric string. When a model must grow, the
    /// cheapest variant grows; when it may shrink, the most expensive shrinks.
    #[serde(default = "default_variant_cost")]
    #[schemars(regex(pattern = r"^\d+(\.\d+)?$"))]
    pub variant_cost: String,

    /// Lower bound on the desired replicas of this variant. 0 allows scale-to-zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), transform = not_nullable)]
    pub min_replicas: Option<i32>,

    /// Upper bound on the desired replicas of this variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), transform = not_nullable)]
    pub max_replicas: Option<i32>,
}

/// Reference to the scaled workload.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = kube::core::Rule::new(
    "self.kind == 'LeaderWorkerSet' ? self.apiVersion == 'leaderworkerset.x-k8s.io/v1' : self.apiVersion == 'apps/v1'"
).message("scaleTargetRef.apiVersion must be apps/v1 for a Deployment or a StatefulSet and leaderworkerset.x-k8s.io/v1 for a LeaderWorkerSet"))]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    /// API version of the target: apps/v1 (the default) for a Deployment or a StatefulSet,
    /// leaderworkerset.x-k8s.io/v1 for a LeaderWorkerSet.
    #[serde(default = "default_api_version")]
    pub api_version: String,

    /// Kind of the target: Deployment (the default), StatefulSet or LeaderWorkerSet (whose
    /// replicas are groups of pods: a leader and its workers).
    #[serde(default)]
    pub kind: ScaleTargetKind,

    /// Name of the target in the VA's namespace.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// The kinds of workload a VA can scale.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ScaleTargetKind {
    /// `apps/v1` Deployment: a replica is a pod.
    #[default]
    Deployment,
    /// `apps/v1` StatefulSet: a replica is a pod.
    StatefulSet,
    /// `leaderworkerset.x-k8s.io/v1` LeaderWorkerSet: a replica is a group (a leader pod and
    /// its workers).
    LeaderWorkerSet,
}

impl ScaleTargetKind {
    /// Every kind.
    pub const ALL: [ScaleTargetKind; 3] = [
        ScaleTargetKind::Deployment,
        ScaleTargetKind::StatefulSet,
        ScaleTargetKind::LeaderWorkerSet,
    ];

    /// The kind as the API names it (`Deployment`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleTargetKind::Deployment => "Deployment",
            ScaleTargetKind::StatefulSet => "StatefulSet",
            ScaleTargetKind::LeaderWorkerSet => "LeaderWorkerSet",
        }
    }
}

impl std::fmt::Display for ScaleTargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Observed state of a VariantAutoscaling, written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantAutoscalingStatus {
    /// The latest decision for this variant; empty ({}) while there is none, for example
    /// when the target Deployment does not exist.
    #[serde(default)]
    pub desired_optimized_alloc: OptimizedAlloc,

    /// Standard conditions: Ready, TargetResolved, MetricsAvailable, OptimizationReady.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,

    /// The metadata.generation of the spec this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One replica decision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptimizedAlloc {
    /// Desired number of replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub num_replicas: Option<i32>,

    /// Accelerator type of the variant, e.g. "H100" ("unknown" when it cannot be determined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,

    /// When the decision was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<Time>,
}

fn default_variant_cost() -> String {
    "10.0".to_string()
}

fn default_api_version() -> String {
    "apps/v1".to_string()
}

/// Optional spec fields may be omitted but not set to null: a null would make the CEL rule's
/// `has()` true and its comparison fail.
fn not_nullable(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".into(), only);
        }
    }
}

/// Conditions form a list-map keyed by `type`, so server-side apply merges them per type.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <Vec<Condition> as JsonSchema>::json_schema(generator);
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

/// Labels and annotations WVA reads.
pub mod labels {
    /// VA label: the controller instance that manages it.
    pub const CONTROLLER_INSTANCE: &str = "wva.llmd.ai/controller-instance";
    /// Namespace annotation: `"true"` excludes the namespace.
    pub const EXCLUDE: &str = "wva.llmd.ai/exclude";
    /// Namespace label: `"true"` opts in to namespace-local ConfigMaps before any VA exists.
    pub const CONFIG_ENABLED: &str = "wva.llmd.ai/config-enabled";
    /// VA label: the accelerator type of the variant.
    pub const ACCELERATOR_NAME: &str = "inference.optimization/acceleratorName";
}

/// Condition types on a VA.
pub mod conditions {
    /// The VA is being autoscaled.
    pub const READY: &str = "Ready";
    /// The scale target exists.
    pub const TARGET_RESOLVED: &str = "TargetResolved";
    /// Saturation metrics are available for decisions.
    pub const METRICS_AVAILABLE: &str = "MetricsAvailable";
    /// The latest engine cycle produced a decision for this VA.
    pub const OPTIMIZATION_READY: &str = "OptimizationReady";
}
