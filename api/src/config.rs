//! The controller's configuration parameters, declared once.
//!
//! Each field is one parameter: its env var and ConfigMap key are the field name in
//! UPPER_SNAKE case, its flag (when it has `flag`) the field name in kebab-case, and its doc
//! comment the description shown by `--help`, `wva params` and `generated/docs/parameters.md`.
//! To add a parameter, add a field here; nothing else needs editing.

use crate::ConfigParams;
use crate::params::{BindAddress, Violation, grammar};
use std::time::Duration;

wva_core::choice_param! {
    /// Where scale-from-zero reads the gateway queue (SCALE_FROM_ZERO_SOURCE).
    pub enum ScaleFromZeroSource {
        /// One batched PromQL query per check.
        Prometheus = "prometheus",
        /// A direct scrape of each InferencePool's endpoint picker.
        Epp = "epp",
    }
}

wva_core::choice_param! {
    /// How a scale-from-zero decision is applied (SCALE_FROM_ZERO_ACTUATION).
    pub enum ScaleFromZeroActuation {
        /// Publish the metric and the VA status only (KEDA).
        Metric = "metric",
        /// Also patch the target's scale subresource from 0 to 1 (plain HPA).
        Scale = "scale",
    }
}

wva_core::choice_param! {
    /// Where the controller finds the variants it scales (WVA_DISCOVERY).
    pub enum Discovery {
        /// VariantAutoscalings only.
        Va = "va",
        /// HPAs and KEDA ScaledObjects annotated `llm-d.ai/managed: "true"` only.
        Annotations = "annotations",
        /// Both; a VA wins over an annotated object on the same target.
        Both = "both",
    }
}

impl Discovery {
    /// True when VariantAutoscalings are watched and managed (`va`, `both`).
    pub fn reads_vas(self) -> bool {
        self != Discovery::Annotations
    }

    /// True when annotated HPAs and ScaledObjects are watched and managed (`annotations`,
    /// `both`).
    pub fn reads_annotations(self) -> bool {
        self != Discovery::Va
    }
}

/// Settings read once at startup. Changing one in the main ConfigMap at runtime is rejected
/// with an `ImmutableConfigChangeRejected` event; restart the controller to apply it.
#[derive(ConfigParams, Debug, Clone, PartialEq)]
#[params(rules = Self::rules)]
pub struct StaticConfig {
    /// Metrics endpoint bind address (`:8443` for HTTPS, `:8080` for HTTP, `0` to disable).
    #[param(flag, default = "0")]
    pub metrics_bind_address: BindAddress,

    /// Health probe endpoint bind address (`/healthz`, `/readyz`).
    #[param(flag, default = ":8081")]
    pub health_probe_bind_address: BindAddress,

    /// Enable leader election for HA: only the leader runs the engine and writes status.
    #[param(flag, default = "false")]
    pub leader_elect: bool,

    /// Leader election coordination ID: the name of the Lease in the controller namespace.
    #[param(default = "72dd1cf1.llm-d.ai")]
    pub leader_election_id: String,

    /// Duration non-leaders wait before force-acquiring leadership.
    #[param(flag, default = "60s", min = "1s", max = "1h")]
    pub leader_election_lease_duration: Duration,

    /// Duration the leader retries refreshing leadership before giving up.
    #[param(flag, default = "50s", min = "1s", max = "1h")]
    pub leader_election_renew_deadline: Duration,

    /// Duration between leader election retry attempts.
    #[param(flag, default = "10s", min = "1s", max = "1h")]
    pub leader_election_retry_period: Duration,

    /// Timeout for Kubernetes API server REST calls.
    #[param(flag, default = "60s", min = "1s", max = "10m")]
    pub rest_client_timeout: Duration,

    /// Serve the metrics endpoint via HTTPS, with TokenReview authentication and
    /// SubjectAccessReview authorization.
    #[param(flag, default = "true")]
    pub metrics_secure: bool,

    /// Enable HTTP/2 for the metrics and webhook servers (off by default as a CVE mitigation).
    #[param(flag, default = "false")]
    pub enable_http2: bool,

    /// Namespace to watch (empty = all namespaces). The exclusion annotation is ignored for it.
    #[param(flag)]
    pub watch_namespace: Option<String>,

    /// Log level verbosity (0 errors and warnings only, 2 info, 4 debug, 5 trace).
    #[param(short = 'v', default = "2")]
    pub v: u8,

    /// Write logs as JSON lines instead of text.
    #[param(flag, default = "false")]
    pub log_json: bool,

    /// Directory containing the webhook certificate.
    #[param(flag, pending = "the webhook server")]
    pub webhook_cert_path: Option<String>,

    /// Webhook certificate file name.
    #[param(flag, default = "tls.crt", pending = "the webhook server")]
    pub webhook_cert_name: String,

    /// Webhook key file name.
    #[param(flag, default = "tls.key", pending = "the webhook server")]
    pub webhook_cert_key: String,

    /// Directory containing the metrics server certificate (empty = self-signed).
    #[param(flag)]
    pub metrics_cert_path: Option<String>,

    /// Metrics server certificate file name.
    #[param(flag, default = "tls.crt")]
    pub metrics_cert_name: String,

    /// Metrics server key file name.
    #[param(flag, default = "tls.key")]
    pub metrics_cert_key: String,

    /// Prometheus server URL, e.g. `https://prometheus:9090`: an absolute `https://` URL with a
    /// host (`http://` only with PROMETHEUS_ALLOW_HTTP). Required.
    #[param(required)]
    pub prometheus_base_url: String,

    /// Allow a plain `http://` PROMETHEUS_BASE_URL (otherwise `https://` is required).
    #[param(default = "false")]
    pub prometheus_allow_http: bool,

    /// Skip TLS verification of the Prometheus server (development only).
    #[param(default = "false")]
    pub prometheus_tls_insecure_skip_verify: bool,

    /// CA certificate path for verifying the Prometheus server.
    #[param]
    pub prometheus_ca_cert_path: Option<String>,

    /// Client certificate path for mutual TLS with Prometheus (set together with
    /// PROMETHEUS_CLIENT_KEY_PATH).
    #[param]
    pub prometheus_client_cert_path: Option<String>,

    /// Client key path for mutual TLS with Prometheus.
    #[param]
    pub prometheus_client_key_path: Option<String>,

    /// Expected server name in the Prometheus TLS certificate.
    #[param]
    pub prometheus_server_name: Option<String>,

    /// Bearer token for Prometheus (with or without the `Bearer ` prefix); wins over
    /// PROMETHEUS_TOKEN_PATH.
    #[param(secret)]
    pub prometheus_bearer_token: Option<String>,

    /// File holding the bearer token for Prometheus, e.g. a ServiceAccount token.
    #[param]
    pub prometheus_token_path: Option<String>,

    /// Timeout of one Prometheus query (one HTTP request, connection included).
    #[param(default = "10s", min = "100ms", max = "10m")]
    pub prometheus_query_timeout: Duration,

    /// Retries of a failed Prometheus query: after a timeout, a connection error or HTTP 5xx,
    /// never after HTTP 4xx. The wait starts at PROMETHEUS_RETRY_BACKOFF and doubles.
    #[param(default = "2", max = "10")]
    pub prometheus_query_retries: u32,

    /// Wait before the first retry of a Prometheus query or connectivity check; doubles after
    /// each attempt, up to 30s.
    #[param(default = "500ms", min = "1ms", max = "30s")]
    pub prometheus_retry_backoff: Duration,

    /// Retries of the startup connectivity check (query `up`) before the controller exits
    /// with status 1, naming the URL and the error.
    #[param(default = "6", max = "100")]
    pub prometheus_startup_check_retries: u32,

    /// Enable the scale-to-zero feature for models whose scale-to-zero entry does not say.
    #[param(default = "false")]
    pub wva_scale_to_zero: bool,

    /// Enable limited mode: scale-ups are bounded by the free GPUs of each accelerator type,
    /// counted from the nodes' GPU product labels and allocatable GPUs minus the GPU requests
    /// of the unfinished pods on them (watches Nodes and Pods cluster-wide).
    #[param(default = "false")]
    pub wva_limited_mode: bool,

    /// Max concurrent scale-from-zero operations: activations whose replica is not ready
    /// yet. Models beyond the bound wait for a free slot, largest gateway queue first.
    #[param(default = "10", min = "1", max = "1000")]
    pub scale_from_zero_engine_max_concurrency: u32,

    /// Where scale-from-zero reads the gateway queue of models at zero: `prometheus` (one
    /// batched PromQL query of `inference_extension_flow_control_queue_size` per check,
    /// whatever the number of models) or `epp` (a direct scrape of the endpoint picker of each
    /// InferencePool that serves a model at zero, once per pool per check; needs the
    /// InferencePool CRD).
    #[param(default = "prometheus")]
    pub scale_from_zero_source: ScaleFromZeroSource,

    /// How a scale-from-zero decision is applied: `metric` publishes `wva_desired_replicas`
    /// = 1 and the VA status (KEDA activates the Deployment); `scale` also patches the
    /// target's scale subresource from 0 to 1, for a plain HPA, which cannot scale from 0.
    #[param(default = "metric")]
    pub scale_from_zero_actuation: ScaleFromZeroActuation,

    /// File holding the bearer token sent to the endpoint pickers' metrics endpoints
    /// (SCALE_FROM_ZERO_SOURCE=epp); empty = the controller's ServiceAccount token.
    #[param]
    pub scale_from_zero_epp_token_path: Option<String>,

    /// Enable the experimental HYBRID mode: next to the saturation analyzer, a queueing model
    /// of each variant (its α/β/γ learned online from vLLM's latency histograms) sizes the
    /// replicas that meet the model's service-class SLOs (SERVICE_CLASS_CONFIG_MAP_NAME) at
    /// the observed arrival rate; per variant the higher target wins on the way up, and
    /// replicas go only when both agree and capacity says it is safe. Four more Prometheus
    /// queries per cycle. Experimental: until a variant's model has learned, it decides
    /// exactly as the default (CAPACITY-ONLY) mode and its OptimizationReady reason says
    /// `CapacityOnlyMode`.
    #[param(default = "false")]
    pub experimental_proactive_model: bool,

    /// Where variants come from: `va` (VariantAutoscalings), `annotations` (HPAs and KEDA
    /// ScaledObjects annotated `llm-d.ai/managed: "true"` with `llm-d.ai/model-id`, each a
    /// variant named after the object; no VariantAutoscaling CRD needed) or `both` (a VA wins
    /// over an annotated object scaling the same target). See docs/controller.md, "Discovery
    /// modes".
    #[param(flag, default = "va")]
    pub wva_discovery: Discovery,

    /// Name of the service-class ConfigMap in POD_NAMESPACE: per model, the class (priority
    /// 1 highest to 100) and its SLOs (`slo-itl`/`slo-tpot`, `slo-ttw`/`slo-ttft`, ms), read
    /// in HYBRID mode (EXPERIMENTAL_PROACTIVE_MODEL) only. The chart renders `serviceclass`
    /// from `va.sloTpot`/`va.sloTtft`.
    #[param(default = "serviceclass")]
    pub service_class_config_map_name: String,

    /// Instance name for multi-controller isolation: only VAs labelled
    /// `wva.llmd.ai/controller-instance=<value>` are managed, and every metric carries
    /// `controller_instance`. Must be a valid label value: at most 63 characters of
    /// `[A-Za-z0-9-_.]`, starting and ending with a letter or digit.
    #[param]
    pub controller_instance: Option<String>,

    /// Name of the main ConfigMap in POD_NAMESPACE.
    #[param(default = "wva-variantautoscaling-config", env_only)]
    pub config_map_name: String,

    /// Controller namespace: where the main and global ConfigMaps live (injected by Kubernetes).
    #[param(default = "workload-variant-autoscaler-system", env_only)]
    pub pod_namespace: String,
}

impl StaticConfig {
    /// The rules that span several parameters (or check more than a type and a range),
    /// run after every parameter resolved: at startup, in `wva config` and on every change
    /// of the main ConfigMap.
    fn rules(&self) -> Vec<Violation> {
        let mut broken = Vec::new();
        let (lease, renew, retry) = (
            self.leader_election_lease_duration,
            self.leader_election_renew_deadline,
            self.leader_election_retry_period,
        );
        let below = [
            (
                Self::LEADER_ELECTION_RENEW_DEADLINE,
                renew,
                Self::LEADER_ELECTION_LEASE_DURATION,
                lease,
                "the renew deadline",
            ),
            (
                Self::LEADER_ELECTION_RETRY_PERIOD,
                retry,
                Self::LEADER_ELECTION_RENEW_DEADLINE,
                renew,
                "the retry period",
            ),
        ];
        for (key, value, limit_key, limit, what) in below {
            if value >= limit {
                broken.push(key.violation(
                    &value,
                    format!(
                        "{what} must be below {} ({}); lower it or raise {}",
                        limit_key.name(),
                        grammar::format_duration(limit),
                        limit_key.name()
                    ),
                ));
            }
        }
        match grammar::parse_http_url(&self.prometheus_base_url) {
            Err(why) => broken.push(
                Self::PROMETHEUS_BASE_URL
                    .violation(&self.prometheus_base_url, format!("{why}; fix the URL")),
            ),
            Ok("http") if !self.prometheus_allow_http => {
                broken.push(Self::PROMETHEUS_BASE_URL.violation(
                    &self.prometheus_base_url,
                    "plain http:// sends queries and the bearer token unencrypted; use https://, \
                     or set PROMETHEUS_ALLOW_HTTP=true to accept it",
                ))
            }
            Ok(_) => {}
        }
        match (
            &self.prometheus_client_cert_path,
            &self.prometheus_client_key_path,
        ) {
            (Some(_), None) => broken.push(Self::PROMETHEUS_CLIENT_CERT_PATH.violation(
                &self.prometheus_client_cert_path,
                "a client certificate needs its key: set PROMETHEUS_CLIENT_KEY_PATH too, or unset both",
            )),
            (None, Some(_)) => broken.push(Self::PROMETHEUS_CLIENT_KEY_PATH.violation(
                &self.prometheus_client_key_path,
                "a client key needs its certificate: set PROMETHEUS_CLIENT_CERT_PATH too, or unset both",
            )),
            _ => {}
        }
        if let Some(instance) = &self.controller_instance
            && let Err(why) = label_value(instance)
        {
            broken.push(Self::CONTROLLER_INSTANCE.violation(
                &self.controller_instance,
                format!("it becomes the label value of wva.llmd.ai/controller-instance, but {why}"),
            ));
        }
        broken
    }
}

/// Checks a Kubernetes label value: at most 63 characters of `[A-Za-z0-9-_.]`, starting and
/// ending with a letter or digit.
fn label_value(text: &str) -> Result<(), String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if text.len() > 63 {
        Err(format!("it has {} characters (at most 63)", text.len()))
    } else if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Err(format!(
            "{bad:?} is not allowed (use letters, digits, '-', '_' and '.')"
        ))
    } else if !edge_ok(text.chars().next()) || !edge_ok(text.chars().last()) {
        Err("it must start and end with a letter or digit".into())
    } else {
        Ok(())
    }
}

/// Settings that apply at once when the main ConfigMap changes.
#[derive(ConfigParams, Debug, Clone, PartialEq)]
#[params(mutable)]
pub struct DynamicConfig {
    /// Optimization interval: how often the engine runs one cycle (global only).
    #[param(default = "60s", min = "1s", max = "24h")]
    pub global_opt_interval: Duration,

    /// How often scale-from-zero reads the gateway queue of the models whose variants are
    /// all at zero (no read when there is none).
    #[param(default = "1s", min = "100ms", max = "1m")]
    pub scale_from_zero_check_interval: Duration,

    /// Enable the Prometheus metrics cache.
    #[param(default = "true", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_enabled: bool,

    /// Time-to-live of cached Prometheus results.
    #[param(default = "30s", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_ttl: Duration,

    /// Interval between sweeps of expired cache entries.
    #[param(default = "1m", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_cleanup_interval: Duration,

    /// Interval between background fetches into the cache.
    #[param(default = "30s", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_fetch_interval: Duration,

    /// Age under which cached metrics count as fresh.
    #[param(default = "1m", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_fresh_threshold: Duration,

    /// Age from which cached metrics count as stale.
    #[param(default = "2m", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_stale_threshold: Duration,

    /// Age from which cached metrics count as unavailable.
    #[param(default = "5m", pending = "the Prometheus metrics cache")]
    pub prometheus_metrics_cache_unavailable_threshold: Duration,
}
