//! The Helm chart's values, declared once.
//!
//! Every value of `charts/workload-variant-autoscaler` is a field below: its doc comment is its
//! description and the [`Default`] impls hold its default. [`render`] turns these declarations
//! into the chart's `values.yaml` (with the descriptions as comments), its `values.schema.json`
//! (so `helm install` rejects typos and wrong types) and the values table of the chart's
//! `README.md`, which `build.rs` writes. A value that is not declared here cannot be documented; the
//! chart tests fail for a declared value that no template uses.
//!
//! To add a value: add a field with a doc comment and a default here, use it in a template,
//! run `cargo build`, commit the regenerated chart files.

use crate::helm_parameters::ParameterValues;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod render;

/// The chart directory, relative to the workspace root.
pub const CHART_DIR: &str = "charts/workload-variant-autoscaler";

/// The flags of the chart README's OpenShift install, after `-f values-openshift.yaml` and
/// `--set-file wva.prometheus.caCert=...` (the tests install exactly these).
pub const README_OPENSHIFT_FLAGS: [&str; 8] = [
    "--set",
    "va.accelerator=L40S",
    "--set",
    "llmd.modelID=unsloth/Meta-Llama-3.1-8B",
    "--set",
    "vllmService.enabled=true",
    "--set",
    "vllmService.nodePort=30000",
];

/// A duration as the controller parses it: `1h30m`, `1.5s`, `250ms`.
pub(crate) const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";
/// A duration of zero (`0s`, `0m0s`) or of less than a second written in `ms` alone:
/// `GLOBAL_OPT_INTERVAL` must be at least 1s.
const ZERO_OR_SUBSECOND_PATTERN: &str = r"^(0+(\.0+)?(ms|s|m|h))+$|^[0-9]{1,3}(\.[0-9]+)?ms$";
/// An absolute http(s) URL with a host, or empty. The chart's templates then say what to fix
/// in the two cases they check: an empty URL (which value to set) and a plain `http://` URL
/// without `allowHTTP`.
const HTTP_URL_PATTERN: &str =
    r"^$|^[hH][tT][tT][pP][sS]?://[^/?#:\s@]+(:[0-9]{1,5})?([/?#][^\s]*)?$";
/// A scrape interval: whole numbers of ms, s, m or h, e.g. `10s`, `1m30s`.
const PROMETHEUS_DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";

/// The chart's values (`values.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "workload-variant-autoscaler Helm values")]
pub struct HelmValues {
    /// Replaces the chart name in the names of the resources this chart creates.
    pub name_override: String,
    /// Replaces the full name (the release name when it contains the chart name, else
    /// `<release>-<chart>`) that prefixes the names of the resources this chart creates.
    pub fullname_override: String,
    /// The controller part of the chart.
    pub controller: ControllerValues,
    /// The WVA controller: image, flags, main ConfigMap, Prometheus connection, saturation
    /// thresholds.
    pub wva: WvaValues,
    /// The llm-d model service this release autoscales.
    pub llmd: LlmdValues,
    /// The VariantAutoscaling resource for the model service.
    pub va: VaValues,
    /// The HorizontalPodAutoscaler that applies `wva_desired_replicas` to the model service.
    pub hpa: HpaValues,
    /// A Service and ServiceMonitor so Prometheus scrapes the vLLM pods of the model service.
    pub vllm_service: VllmServiceValues,
}

/// Switch for the controller part of the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ControllerValues {
    /// Render the controller (Deployment, ServiceAccount, ConfigMaps, RBAC bindings, leader
    /// election Role, metrics Service and ServiceMonitor, Prometheus CA). Set false to add a
    /// model to an existing controller: only the VA, HPA, vLLM Service/ServiceMonitor and the
    /// VA viewer/editor/admin ClusterRoles are rendered.
    pub enabled: bool,
}

impl Default for ControllerValues {
    fn default() -> Self {
        ControllerValues { enabled: true }
    }
}

/// The WVA controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WvaValues {
    /// Second switch for the controller: it is rendered only when both `controller.enabled`
    /// and `wva.enabled` are true.
    pub enabled: bool,
    /// Controller replicas; they elect a leader (`--leader-elect`), which alone decides.
    #[schemars(range(min = 1))]
    pub replica_count: u32,
    /// The controller image.
    pub image: ImageValues,
    /// Pull policy of the controller image.
    pub image_pull_policy: PullPolicy,
    /// Names of Secrets in the release namespace used to pull the controller image.
    pub image_pull_secrets: Vec<String>,
    /// Controller logging.
    pub logging: LoggingValues,
    /// The controller's own metrics endpoint, which serves `wva_desired_replicas`.
    pub metrics: MetricsValues,
    /// Watch only the release namespace (`--watch-namespace=$(POD_NAMESPACE)`). Then VAs must
    /// live in the controller's namespace; leave false when `llmd.namespace` differs.
    pub namespace_scoped: bool,
    /// How often the engine runs a cycle: `GLOBAL_OPT_INTERVAL` in the main ConfigMap,
    /// changeable at runtime by editing that ConfigMap.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    #[schemars(extend("not" = {"pattern": ZERO_OR_SUBSECOND_PATTERN}))]
    pub reconcile_interval: String,
    /// The main controller ConfigMap.
    pub config_map: ConfigMapValues,
    /// The Prometheus (or Thanos querier) the controller queries.
    pub prometheus: PrometheusValues,
    /// Limited mode (`WVA_LIMITED_MODE`): scale-ups are bounded by the free GPUs of each
    /// accelerator type. Only then does the controller's ClusterRole read Nodes (and the pods
    /// on them), for the GPU inventory.
    pub limited_mode: bool,
    /// Scale-to-zero for models whose entry in `wva-model-scale-to-zero-config` does not say
    /// (`WVA_SCALE_TO_ZERO`).
    pub scale_to_zero: bool,
    /// Entries of the `wva-model-scale-to-zero-config` ConfigMap.
    pub scale_to_zero_config: ScaleToZeroValues,
    /// Controller instance label for multi-controller isolation. When set, the controller gets
    /// `CONTROLLER_INSTANCE`, manages only VAs labelled `wva.llmd.ai/controller-instance` with
    /// this value and adds `controller_instance` to its metrics; the chart labels the VA and
    /// HPA and adds `controller_instance` to the HPA metric selector. Set the same value on the
    /// controller install and on every model install.
    pub controller_instance: String,
    /// Saturation thresholds: the `wva-saturation-scaling-config` ConfigMap.
    pub capacity_scaling: CapacityScalingValues,
    /// CPU and memory of the controller container.
    pub resources: ResourceValues,
    /// Every other controller parameter, by ConfigMap key, with its default: the chart writes
    /// each non-empty one into the main ConfigMap. Generated from the parameter table
    /// (`docs/parameters.md`); an unknown key is rejected.
    pub parameters: ParameterValues,
}

impl Default for WvaValues {
    fn default() -> Self {
        WvaValues {
            enabled: true,
            replica_count: 2,
            image: ImageValues::default(),
            image_pull_policy: PullPolicy::IfNotPresent,
            image_pull_secrets: Vec::new(),
            logging: LoggingValues::default(),
            metrics: MetricsValues::default(),
            namespace_scoped: false,
            reconcile_interval: "60s".into(),
            config_map: ConfigMapValues::default(),
            prometheus: PrometheusValues::default(),
            limited_mode: false,
            scale_to_zero: false,
            scale_to_zero_config: ScaleToZeroValues::default(),
            controller_instance: String::new(),
            capacity_scaling: CapacityScalingValues::default(),
            resources: ResourceValues::default(),
            parameters: ParameterValues::default(),
        }
    }
}

/// The repository of this project's controller image, built by the `Dockerfile` at the
/// workspace root (entrypoint `/wva`, command `run`).
pub const IMAGE_REPOSITORY: &str = "ghcr.io/wva-rs/wva";

/// A container image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageValues {
    /// Image repository. The image's entrypoint must be `/wva` (the chart runs `/wva run`).
    #[schemars(length(min = 1))]
    pub repository: String,
    /// Image tag (empty = the chart's `appVersion`, the workspace version).
    pub tag: String,
}

impl Default for ImageValues {
    fn default() -> Self {
        ImageValues {
            repository: IMAGE_REPOSITORY.into(),
            tag: String::new(),
        }
    }
}

/// Image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the image is not on the node.
    IfNotPresent,
    /// Never pull.
    Never,
}

/// Controller logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LoggingValues {
    /// Log level, passed as the verbosity flag: `warn` → `-v=0`, `info` → `-v=2`,
    /// `debug` → `-v=4`, `trace` → `-v=5`.
    pub level: LogLevel,
}

impl Default for LoggingValues {
    fn default() -> Self {
        LoggingValues {
            level: LogLevel::Info,
        }
    }
}

/// Log level names the chart maps to the controller's `-v` verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors and warnings only (`-v=0`).
    Warn,
    /// Info (`-v=2`).
    Info,
    /// Debug (`-v=4`).
    Debug,
    /// Trace (`-v=5`).
    Trace,
}

impl LogLevel {
    /// The `-v` verbosity the chart passes for this level.
    pub fn verbosity(self) -> u8 {
        match self {
            LogLevel::Warn => 0,
            LogLevel::Info => 2,
            LogLevel::Debug => 4,
            LogLevel::Trace => 5,
        }
    }
}

/// The controller's metrics endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsValues {
    /// Serve metrics (`--metrics-bind-address=:<port>`; false passes `0`, which disables
    /// them, and renders no metrics Service or ServiceMonitor). The HPA needs them.
    pub enabled: bool,
    /// Metrics port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Serve metrics over HTTPS with TokenReview authentication and SubjectAccessReview
    /// authorization (`--metrics-secure`).
    pub secure: bool,
    /// The ServiceMonitor (Prometheus Operator CRD) that scrapes the controller.
    pub service_monitor: ServiceMonitorValues,
    /// The alerting rules as a PrometheusRule (Prometheus Operator CRD).
    pub prometheus_rule: PrometheusRuleValues,
    /// The Grafana dashboard as a ConfigMap for the Grafana dashboard sidecar.
    pub grafana_dashboard: GrafanaDashboardValues,
}

/// The PrometheusRule of the alerting rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusRuleValues {
    /// Render the PrometheusRule `<fullname>-alerts` with the rules of
    /// `files/wva-alerts.rules.yaml` (runbooks in docs/troubleshooting.md); it is rendered
    /// only when the cluster serves `monitoring.coreos.com/v1` PrometheusRule. It carries
    /// `wva.prometheus.serviceMonitorLabels`, so the Prometheus that selects the ServiceMonitor
    /// selects it too.
    pub enabled: bool,
}

/// The Grafana dashboard ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct GrafanaDashboardValues {
    /// Render the ConfigMap `<fullname>-dashboard` with `files/wva-dashboard.json` and the
    /// label `grafana_dashboard: "1"` that the Grafana sidecar watches.
    pub enabled: bool,
    /// Namespace of the ConfigMap (where the sidecar looks); empty is the release namespace.
    pub namespace: String,
}

impl Default for MetricsValues {
    fn default() -> Self {
        MetricsValues {
            enabled: true,
            port: 8443,
            secure: true,
            service_monitor: ServiceMonitorValues::default(),
            prometheus_rule: PrometheusRuleValues::default(),
            grafana_dashboard: GrafanaDashboardValues::default(),
        }
    }
}

/// A ServiceMonitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceMonitorValues {
    /// Render the ServiceMonitor: `true` always (needs the Prometheus Operator CRDs), `false`
    /// never, `null` only when the cluster serves `monitoring.coreos.com/v1` ServiceMonitor.
    /// With HTTPS metrics it authenticates with the token of a dedicated ServiceAccount
    /// (`<fullname>-metrics-reader`) that may only read `/metrics`, and skips verification of
    /// the controller's self-signed certificate.
    pub enabled: Option<bool>,
    /// Scrape interval.
    #[schemars(regex(pattern = PROMETHEUS_DURATION_PATTERN))]
    pub interval: String,
}

impl Default for ServiceMonitorValues {
    fn default() -> Self {
        ServiceMonitorValues {
            enabled: None,
            interval: "10s".into(),
        }
    }
}

/// The main controller ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapValues {
    /// If true, makes the main controller ConfigMap (`<fullname>-variantautoscaling-config`)
    /// immutable: Kubernetes rejects every update, which protects it against accidental or
    /// malicious changes but disables runtime updates (such as `GLOBAL_OPT_INTERVAL`); a change
    /// then needs the ConfigMap deleted, `helm upgrade` and a controller restart. Only the main
    /// ConfigMap is affected, not the saturation or scale-to-zero ConfigMaps.
    pub immutable: bool,
}

/// The Prometheus connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusValues {
    /// Prometheus (or Thanos querier) URL: `PROMETHEUS_BASE_URL`. Required (the chart refuses
    /// to render without it). Must be `https://` unless `allowHTTP` is true.
    #[serde(rename = "baseURL")]
    #[schemars(regex(pattern = HTTP_URL_PATTERN))]
    pub base_url: String,
    /// Accept a plain `http://` baseURL (`PROMETHEUS_ALLOW_HTTP`).
    #[serde(rename = "allowHTTP")]
    pub allow_http: bool,
    /// Namespace of prometheus-adapter: when set together with `caCert`, a copy of the CA is
    /// put there for prometheus-adapter (`--prometheus-ca-file`), as ConfigMap
    /// `<release>-<release namespace>-prometheus-ca`. Empty renders nothing outside the
    /// release and model namespaces.
    pub monitoring_namespace: String,
    /// ClusterRole bound to the controller's ServiceAccount so it may query Prometheus with
    /// its token (OpenShift: `cluster-monitoring-view`, see `values-openshift.yaml`); empty
    /// binds nothing.
    pub monitoring_view_cluster_role: String,
    /// Token file sent as bearer token to Prometheus (`PROMETHEUS_TOKEN_PATH`); the default is
    /// the controller's ServiceAccount token. Empty sends no token.
    pub token_path: String,
    /// TLS towards Prometheus.
    pub tls: PrometheusTlsValues,
    /// PEM CA bundle of Prometheus, usually set with
    /// `--set-file wva.prometheus.caCert=ca.crt`. When set, it is mounted at `tls.caCertPath`
    /// (`PROMETHEUS_CA_CERT_PATH`) and copied to `monitoringNamespace` for prometheus-adapter.
    pub ca_cert: String,
    /// Extra labels on every ServiceMonitor this chart renders, so your Prometheus selects
    /// them, e.g. `release: kube-prometheus-stack`.
    pub service_monitor_labels: BTreeMap<String, String>,
}

impl Default for PrometheusValues {
    fn default() -> Self {
        PrometheusValues {
            base_url: String::new(),
            allow_http: false,
            monitoring_namespace: String::new(),
            monitoring_view_cluster_role: String::new(),
            token_path: "/var/run/secrets/kubernetes.io/serviceaccount/token".into(),
            tls: PrometheusTlsValues::default(),
            ca_cert: String::new(),
            service_monitor_labels: BTreeMap::new(),
        }
    }
}

/// TLS towards Prometheus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusTlsValues {
    /// Skip verification of the Prometheus certificate
    /// (`PROMETHEUS_TLS_INSECURE_SKIP_VERIFY`). False in production; `values-dev.yaml` sets
    /// it true.
    pub insecure_skip_verify: bool,
    /// Where the CA from `caCert` is mounted in the controller container.
    #[schemars(length(min = 1))]
    pub ca_cert_path: String,
}

impl Default for PrometheusTlsValues {
    fn default() -> Self {
        PrometheusTlsValues {
            insecure_skip_verify: false,
            ca_cert_path: "/etc/ssl/certs/prometheus-ca.crt".into(),
        }
    }
}

/// The `wva-model-scale-to-zero-config` ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleToZeroValues {
    /// `retention_period` of the `default` entry: how long a model must receive no requests
    /// before it scales to zero.
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub retention_period: String,
    /// One entry per model, keyed by a ConfigMap data key.
    #[schemars(extend("propertyNames" = {"pattern": "^[-._a-zA-Z0-9]+$"}))]
    pub models: BTreeMap<String, ScaleToZeroModel>,
}

impl Default for ScaleToZeroValues {
    fn default() -> Self {
        ScaleToZeroValues {
            retention_period: "10m".into(),
            models: BTreeMap::new(),
        }
    }
}

/// Scale-to-zero settings of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleToZeroModel {
    /// The model ID (`model_id`).
    #[serde(rename = "modelID")]
    #[schemars(length(min = 1))]
    pub model_id: String,
    /// Namespace the entry applies to (empty = any namespace).
    #[serde(default)]
    pub namespace: String,
    /// Scale every variant of the model to zero after the retention period without requests.
    pub enable_scale_to_zero: bool,
    /// Retention period of this model (empty = the default entry's).
    #[serde(default)]
    #[schemars(regex(pattern = r"^$|^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub retention_period: String,
}

/// The `wva-saturation-scaling-config` ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct CapacityScalingValues {
    /// Global thresholds (the `default` entry), applied to every model.
    pub default: SaturationDefaults,
    /// Per-model overrides, keyed by a ConfigMap data key; each becomes an entry with
    /// `model_id`, `namespace` and the thresholds it sets, merged field by field over
    /// `default`.
    #[schemars(extend("propertyNames" = {"pattern": "^[-._a-zA-Z0-9]+$", "not": {"const": "default"}}))]
    pub overrides: BTreeMap<String, SaturationOverride>,
}

/// The global saturation thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SaturationDefaults {
    /// A replica is saturated when its KV-cache usage is at or above this fraction.
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub kv_cache_threshold: f64,
    /// A replica is saturated when its waiting queue is at or above this length.
    #[schemars(extend("exclusiveMinimum" = 0.0))]
    pub queue_length_threshold: f64,
    /// Scale up when the average spare KV-cache of non-saturated replicas is below this.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub kv_spare_trigger: f64,
    /// Scale up when the average spare queue of non-saturated replicas is below this.
    #[schemars(range(min = 0.0))]
    pub queue_spare_trigger: f64,
    /// Token-capacity analyzers (`analyzers` of the `default` entry): a non-empty list decides
    /// every model by demand and supply in KV-cache tokens (V2, see docs/engine.md); empty
    /// (the default) keeps the saturation analyzer (V1).
    pub analyzers: Vec<AnalyzerValues>,
}

impl Default for SaturationDefaults {
    fn default() -> Self {
        SaturationDefaults {
            kv_cache_threshold: 0.80,
            queue_length_threshold: 5.0,
            kv_spare_trigger: 0.1,
            queue_spare_trigger: 3.0,
            analyzers: Vec::new(),
        }
    }
}

/// One token-capacity analyzer of a saturation entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalyzerValues {
    /// The analyzer: `saturation` (the token-capacity analyzer).
    pub name: AnalyzerName,
    /// Whether the analyzer runs (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Weight among analyzers of several kinds (default 1); accepted, not used yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub score: Option<f64>,
    /// Scale up when demand exceeds this fraction of the anticipated supply (default 0.85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub scale_up_threshold: Option<f64>,
    /// Scale down while demand stays below this fraction of the remaining supply; below
    /// `scaleUpThreshold` (default 0.70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub scale_down_boundary: Option<f64>,
}

/// The analyzer names of an `analyzers` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AnalyzerName {
    /// The token-capacity analyzer.
    Saturation,
}

/// Saturation thresholds of one model; unset fields come from `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SaturationOverride {
    /// The model ID (`model_id`).
    #[serde(rename = "modelID")]
    #[schemars(length(min = 1))]
    pub model_id: String,
    /// Namespace the override applies to (empty = any namespace).
    #[serde(default)]
    pub namespace: String,
    /// See `default.kvCacheThreshold`.
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub kv_cache_threshold: Option<f64>,
    /// See `default.queueLengthThreshold`.
    #[schemars(extend("exclusiveMinimum" = 0.0))]
    pub queue_length_threshold: Option<f64>,
    /// See `default.kvSpareTrigger`.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub kv_spare_trigger: Option<f64>,
    /// See `default.queueSpareTrigger`.
    #[schemars(range(min = 0.0))]
    pub queue_spare_trigger: Option<f64>,
    /// See `default.analyzers`; replaces the `default` list as a whole (an empty list keeps
    /// this model on V1).
    pub analyzers: Option<Vec<AnalyzerValues>>,
}

/// Container resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceValues {
    /// Requested CPU and memory.
    pub requests: CpuMemory,
    /// CPU and memory limits.
    pub limits: CpuMemory,
}

impl Default for ResourceValues {
    fn default() -> Self {
        ResourceValues {
            requests: CpuMemory {
                cpu: "10m".into(),
                memory: "64Mi".into(),
            },
            limits: CpuMemory {
                cpu: "500m".into(),
                memory: "512Mi".into(),
            },
        }
    }
}

/// A CPU and memory quantity pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CpuMemory {
    /// CPU quantity, e.g. `500m`.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?m?$"))]
    pub cpu: String,
    /// Memory quantity, e.g. `512Mi`.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"))]
    pub memory: String,
}

/// The llm-d model service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LlmdValues {
    /// Namespace of the model service (empty = the release namespace); the VA, HPA and vLLM
    /// Service are created there. The chart does not create it.
    pub namespace: String,
    /// Name of the model service; the vLLM Service selects pods labelled
    /// `llm-d.ai/model=<modelName>` and the default target Deployment is `<modelName>-decode`.
    /// Empty (the default) renders no per-model object: no VA, HPA or vLLM Service.
    pub model_name: String,
    /// Model ID as vLLM reports it in the `model_name` label of its metrics (the VA's
    /// `modelID`). Required when `modelName` is set.
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// The workload to scale, of kind `va.targetKind` (empty = `<modelName>-decode`). The VA
    /// is named after it, so it is also the `variant_name` of the metrics and the HPA selector.
    pub deployment_name: String,
}

/// The VariantAutoscaling resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct VaValues {
    /// Render the VariantAutoscaling for the model service (when `llmd.modelName` is set).
    pub enabled: bool,
    /// Kind of the workload `llmd.deploymentName` the VA and the HPA scale (a
    /// `LeaderWorkerSet`'s replicas are groups of pods).
    pub target_kind: crate::crd::ScaleTargetKind,
    /// Accelerator type of the variant: the VA label `inference.optimization/acceleratorName`
    /// and the `accelerator_type` label of the metrics.
    #[schemars(length(min = 1))]
    pub accelerator: String,
    /// Cost per replica (`spec.variantCost`, a numeric string). Among variants of one model,
    /// the cheapest grows first and the most expensive shrinks first.
    #[schemars(regex(pattern = r"^\d+(\.\d+)?$"))]
    pub variant_cost: String,
    /// Lower bound on the desired replicas (`spec.minReplicas`; null = none, 0 allows
    /// scale-to-zero).
    #[schemars(range(min = 0))]
    pub min_replicas: Option<u32>,
    /// Upper bound on the desired replicas (`spec.maxReplicas`; null = none).
    #[schemars(range(min = 1))]
    pub max_replicas: Option<u32>,
    /// Time-per-output-token SLO in ms (`slo-itl` of the `serviceclass` ConfigMap, read only
    /// by the experimental HYBRID mode, `EXPERIMENTAL_PROACTIVE_MODEL`).
    pub slo_tpot: u32,
    /// Time-to-first-token SLO in ms (`slo-ttw` of the `serviceclass` ConfigMap, read only by
    /// the experimental HYBRID mode, `EXPERIMENTAL_PROACTIVE_MODEL`).
    pub slo_ttft: u32,
}

impl Default for VaValues {
    fn default() -> Self {
        VaValues {
            enabled: true,
            target_kind: crate::crd::ScaleTargetKind::Deployment,
            accelerator: "H100".into(),
            variant_cost: "10.0".into(),
            min_replicas: None,
            max_replicas: None,
            slo_tpot: 10,
            slo_ttft: 1000,
        }
    }
}

/// The HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaValues {
    /// Render the HPA (when `llmd.modelName` is set; `autoscaling/v2`, External metric
    /// `wva_desired_replicas`; needs prometheus-adapter's external metrics API, see
    /// docs/samples).
    pub enabled: bool,
    /// Lower bound of the HPA (0 needs the `HPAScaleToZero` feature gate).
    #[schemars(range(min = 0))]
    pub min_replicas: u32,
    /// Upper bound of the HPA.
    #[schemars(range(min = 1))]
    pub max_replicas: u32,
    /// Target AverageValue of the External metric; `"1"` makes the HPA's desired replicas
    /// equal WVA's.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?m?$"))]
    pub target_average_value: String,
    /// Scaling behavior (stabilization windows and rate policies).
    pub behavior: HpaBehavior,
}

impl Default for HpaValues {
    fn default() -> Self {
        HpaValues {
            enabled: true,
            min_replicas: 1,
            max_replicas: 10,
            target_average_value: "1".into(),
            behavior: HpaBehavior::default(),
        }
    }
}

/// HPA behavior.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaBehavior {
    /// Scale-up rules.
    pub scale_up: ScalingRules,
    /// Scale-down rules.
    pub scale_down: ScalingRules,
}

/// Scaling rules of one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalingRules {
    /// Seconds of past recommendations considered before scaling (prevents flapping).
    #[schemars(range(min = 0, max = 3600))]
    pub stabilization_window_seconds: u32,
    /// How to choose among the policies.
    pub select_policy: SelectPolicy,
    /// Rate limits.
    pub policies: Vec<ScalingPolicy>,
}

impl Default for ScalingRules {
    fn default() -> Self {
        ScalingRules {
            stabilization_window_seconds: 240,
            select_policy: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 10,
                period_seconds: 150,
            }],
        }
    }
}

/// How the HPA chooses among policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One HPA scaling policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    /// Pods or percent per period.
    #[schemars(range(min = 1))]
    pub value: u32,
    /// Length of the period in seconds.
    #[schemars(range(min = 1, max = 1800))]
    pub period_seconds: u32,
}

/// Unit of an HPA scaling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PolicyKind {
    /// A number of pods.
    Pods,
    /// A percentage of the current replicas.
    Percent,
}

/// The vLLM Service and ServiceMonitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct VllmServiceValues {
    /// Render a Service selecting the vLLM pods (when `llmd.modelName` is set) and, as
    /// `serviceMonitor` says, a ServiceMonitor scraping their `/metrics`.
    pub enabled: bool,
    /// Render the vLLM ServiceMonitor: `true` always (needs the Prometheus Operator CRDs),
    /// `false` never, `null` only when the cluster serves `monitoring.coreos.com/v1`
    /// ServiceMonitor.
    pub service_monitor: Option<bool>,
    /// Service port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// vLLM container port.
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: u16,
    /// Node port (30000-32767) of a NodePort Service; 0 (the default) makes a ClusterIP
    /// Service. A NodePort publishes vLLM's unauthenticated API on every node, and two
    /// releases cannot share one port.
    #[schemars(range(max = 32767))]
    pub node_port: u16,
    /// Scrape interval.
    #[schemars(regex(pattern = PROMETHEUS_DURATION_PATTERN))]
    pub interval: String,
    /// Scrape scheme.
    pub scheme: Scheme,
}

impl Default for VllmServiceValues {
    fn default() -> Self {
        VllmServiceValues {
            enabled: true,
            service_monitor: None,
            port: 8200,
            target_port: 8200,
            node_port: 0,
            interval: "15s".into(),
            scheme: Scheme::Http,
        }
    }
}

/// Scrape scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_map_to_verbosity() {
        assert_eq!(LogLevel::Info.verbosity(), 2);
        assert_eq!(LogLevel::Debug.verbosity(), 4);
    }
}
