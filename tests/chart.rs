//! The Helm chart, rendered by the real helm (v3.17.2) and validated by the real
//! kubernetes-validate, for every values combination the docs describe.
//!
//! Tools: `WVA_HELM_BIN`, else `${WVA_TOOLS:-.ci/tools}/bin/helm`, else `helm` on PATH;
//! `WVA_KUBERNETES_VALIDATE`, else `${WVA_TOOLS:-.ci/tools}/venv/bin/kubernetes-validate`, else
//! PATH; the VariantAutoscaling check runs `tests/chart/validate_crd_objects.py` with
//! `WVA_CHART_PYTHON`, else the venv's python. Missing tools fail the test with the install
//! script to run (`bash tests/tools/install-helm.sh`, `bash tests/tools/install-kubernetes-validate.sh`).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use wva_api::config::{DynamicConfig, ScaleFromZeroActuation, ScaleFromZeroSource, StaticConfig};
use wva_api::helm_values::{self, LogLevel, render};
use wva_api::params::{Params, Sources};
use wva_testkit::tools::{self, tool};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NAMESPACE: &str = "wva-system";
const RELEASE: &str = "wva";

fn chart_dir() -> PathBuf {
    Path::new(ROOT).join(helm_values::CHART_DIR)
}

fn kubernetes_validate() -> PathBuf {
    tool(
        "WVA_KUBERNETES_VALIDATE",
        "venv/bin/kubernetes-validate",
        "kubernetes-validate",
        "install-kubernetes-validate.sh",
    )
}

fn python() -> PathBuf {
    tool(
        "WVA_CHART_PYTHON",
        "venv/bin/python",
        "python3",
        "install-kubernetes-validate.sh",
    )
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "chart-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// helm with its config, cache and data dirs in scratch, so nothing outside is read or written.
fn helm_cmd(scratch: &Path) -> Command {
    let mut cmd = Command::new(tools::helm());
    cmd.env("HELM_CONFIG_HOME", scratch.join("helm-config"))
        .env("HELM_CACHE_HOME", scratch.join("helm-cache"))
        .env("HELM_DATA_HOME", scratch.join("helm-data"));
    cmd
}

fn fixture(name: &str) -> String {
    Path::new(ROOT)
        .join("tests/chart")
        .join(name)
        .display()
        .to_string()
}

/// The objects of one `helm template` run.
struct Rendered {
    docs: Vec<Value>,
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.docs.iter().filter(|d| d["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> &Value {
        let all = self.of_kind(kind);
        assert_eq!(all.len(), 1, "expected one {kind}, found {}", all.len());
        all[0]
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    /// The object of `kind` whose name ends with `suffix`.
    fn suffixed(&self, kind: &str, suffix: &str) -> Option<&Value> {
        self.docs.iter().find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with(suffix))
        })
    }

    fn kinds(&self) -> BTreeSet<String> {
        self.docs
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn main_config_map(&self) -> Option<&Value> {
        self.docs.iter().find(|d| {
            d["kind"] == "ConfigMap"
                && d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-variantautoscaling-config"))
        })
    }
}

/// Parses `helm template` output (documents separated by `---`; comment-only ones skipped).
fn parse_documents(output: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    for chunk in output.split("\n---") {
        let has_content = chunk.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "---"
        });
        if !has_content {
            continue;
        }
        let doc: Value = serde_saphyr::from_str(chunk)
            .unwrap_or_else(|e| panic!("helm output is not YAML: {e}\n{chunk}"));
        docs.push(doc);
    }
    docs
}

/// `helm template` of the chart with `args`; panics with helm's message when it fails.
fn template(name: &str, args: &[&str]) -> Rendered {
    template_release(name, RELEASE, NAMESPACE, args)
}

/// The values file every render starts from: the required `wva.prometheus.baseURL` (later
/// values files and `--set` override it).
fn base_values() -> [String; 2] {
    ["--values".into(), fixture("prometheus.yaml")]
}

/// Arguments that name a model (`tests/chart/model.yaml`), so the VA, HPA and vLLM Service
/// render.
fn model() -> [String; 2] {
    ["--values".into(), fixture("model.yaml")]
}

/// What `helm template` assumes the cluster serves when it runs the Prometheus Operator.
const SERVES_MONITORS: [&str; 2] = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"];

/// `args` after the model values and, with `monitors`, the ServiceMonitor API.
fn with_model<'a>(model: &'a [String; 2], monitors: bool, args: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = model.iter().map(String::as_str).collect();
    if monitors {
        all.extend(SERVES_MONITORS);
    }
    all.extend(args);
    all
}

/// `helm template` as release `release` in `namespace`.
fn template_release(name: &str, release: &str, namespace: &str, args: &[&str]) -> Rendered {
    let dir = scratch(name);
    let out = run(helm_cmd(&dir)
        .arg("template")
        .arg(release)
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .args(base_values())
        .args(args));
    assert!(
        out.status.success(),
        "helm template {args:?} failed:\n{}",
        text(&out.stderr)
    );
    Rendered {
        docs: parse_documents(&text(&out.stdout)),
    }
}

/// `helm template` expected to fail; returns helm's error text.
fn template_error(args: &[&str]) -> String {
    let dir = scratch("error");
    let out = run(helm_cmd(&dir)
        .arg("template")
        .arg(RELEASE)
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE])
        .args(base_values())
        .args(args));
    assert!(
        !out.status.success(),
        "helm template {args:?} succeeded but should have failed"
    );
    text(&out.stderr)
}

fn to_yaml_stream(docs: &[&Value]) -> String {
    docs.iter()
        .map(|d| serde_json::to_string(d).expect("json"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Every object validated: built-in kinds by kubernetes-validate --strict, VariantAutoscaling
/// against the generated CRD's schema. ServiceMonitor and PrometheusRule (Prometheus Operator
/// CRDs whose schemas are not available offline) are the only kinds skipped; their shapes are
/// asserted by the tests below (the PrometheusRule's rules also by `promtool check rules`).
fn validate(name: &str, rendered: &Rendered) {
    let dir = scratch(&format!("{name}-validate"));
    let (custom, builtin): (Vec<&Value>, Vec<&Value>) = rendered.docs.iter().partition(|d| {
        d["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .contains(".ai/")
    });
    let (monitors, builtin): (Vec<&Value>, Vec<&Value>) = builtin
        .into_iter()
        .partition(|d| d["kind"] == "ServiceMonitor" || d["kind"] == "PrometheusRule");
    if !monitors.is_empty() {
        eprintln!(
            "{name}: skipping kubernetes-validate for {} ServiceMonitor/PrometheusRule object(s): \
             the monitoring.coreos.com/v1 schemas are not bundled with kubernetes-validate",
            monitors.len()
        );
    }

    let manifest = dir.join("builtin.yaml");
    std::fs::write(&manifest, to_yaml_stream(&builtin)).expect("write manifest");
    let out = run(Command::new(kubernetes_validate())
        .arg("--strict")
        .arg(&manifest));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{name}: kubernetes-validate --strict failed:\n{report}"
    );
    assert!(
        !report.contains("Couldn't find schema"),
        "{name}: kubernetes-validate lacks a schema for a built-in kind:\n{report}"
    );
    let passed = report.matches(" passed ").count();
    assert_eq!(
        passed,
        builtin.len(),
        "{name}: expected every built-in object to pass:\n{report}"
    );

    if custom.is_empty() {
        return;
    }
    for doc in &custom {
        assert_eq!(doc["kind"], "VariantAutoscaling", "unexpected custom kind");
    }
    let manifest = dir.join("custom.yaml");
    std::fs::write(&manifest, to_yaml_stream(&custom)).expect("write manifest");
    let crd = chart_dir().join("crds/llmd.ai_variantautoscalings.yaml");
    let out = run(Command::new(python())
        .arg(Path::new(ROOT).join("tests/chart/validate_crd_objects.py"))
        .arg(&crd)
        .arg(&manifest));
    assert!(
        out.status.success(),
        "{name}: VariantAutoscaling objects do not match the CRD schema (if jsonschema or yaml \
         cannot be imported, run `bash tests/tools/install-kubernetes-validate.sh`):\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// What a values combination should produce.
#[derive(Default)]
struct Expect<'a> {
    controller: bool,
    va: bool,
    hpa: bool,
    vllm: bool,
    instance: Option<&'a str>,
    immutable: bool,
    /// ServiceMonitors rendered (the controller's, and the vLLM one with `vllm`).
    monitors: bool,
}

impl Expect<'_> {
    /// Controller and model objects, ServiceMonitors included.
    fn all() -> Self {
        Expect {
            controller: true,
            va: true,
            hpa: true,
            vllm: true,
            monitors: true,
            ..Expect::default()
        }
    }
}

/// Renders, validates, and checks the rules every combination must obey.
fn check(name: &str, args: &[&str], expect: &Expect) -> Rendered {
    let r = template(name, args);
    validate(name, &r);
    assert_rbac_least_privilege(&r);
    assert_cluster_names_carry_namespace(&r);

    assert_eq!(
        r.of_kind("Deployment").len(),
        usize::from(expect.controller)
    );
    assert_eq!(
        r.suffixed("ServiceAccount", "-controller-manager")
            .is_some(),
        expect.controller
    );
    assert_eq!(
        r.of_kind("VariantAutoscaling").len(),
        usize::from(expect.va)
    );
    assert_eq!(
        r.of_kind("HorizontalPodAutoscaler").len(),
        usize::from(expect.hpa)
    );
    assert_eq!(r.suffixed("Service", "-vllm").is_some(), expect.vllm);
    assert_eq!(
        r.of_kind("ServiceMonitor").len(),
        usize::from(expect.monitors) * (usize::from(expect.controller) + usize::from(expect.vllm)),
        "ServiceMonitors"
    );
    if expect.controller {
        assert_controller(&r, expect);
    } else {
        assert!(r.main_config_map().is_none());
        assert!(r.of_kind("ConfigMap").is_empty());
    }
    if expect.va {
        let va = r.one("VariantAutoscaling");
        let labels = &va["metadata"]["labels"];
        assert_eq!(labels["inference.optimization/acceleratorName"], "H100");
        assert_eq!(
            labels["wva.llmd.ai/controller-instance"].as_str(),
            expect.instance,
            "VA controller-instance label"
        );
        assert_eq!(va["spec"]["variantCost"], "10.0");
        assert_eq!(va["spec"]["scaleTargetRef"]["kind"], "Deployment");
    }
    if expect.hpa {
        assert_hpa(&r, expect);
    }
    r
}

fn assert_hpa(r: &Rendered, expect: &Expect) {
    let hpa = r.one("HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    let metrics = hpa["spec"]["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    assert_eq!(m["type"], "External");
    assert_eq!(m["external"]["metric"]["name"], "wva_desired_replicas");
    assert_eq!(m["external"]["target"]["type"], "AverageValue");
    assert_eq!(m["external"]["target"]["averageValue"], "1");
    let selector = m["external"]["metric"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    let target = hpa["spec"]["scaleTargetRef"]["name"]
        .as_str()
        .expect("target");
    assert_eq!(selector["variant_name"], target);
    assert_eq!(selector["exported_namespace"], hpa["metadata"]["namespace"]);
    assert_eq!(
        selector.get("controller_instance").and_then(Value::as_str),
        expect.instance,
        "HPA selector carries controller_instance exactly when it is set"
    );
    let expected_keys = if expect.instance.is_some() { 3 } else { 2 };
    assert_eq!(selector.len(), expected_keys, "{selector:?}");
    assert_eq!(
        hpa["metadata"]["labels"]["wva.llmd.ai/controller-instance"].as_str(),
        expect.instance
    );
    if expect.va {
        let va = r.one("VariantAutoscaling");
        assert_eq!(
            va["metadata"]["name"], selector["variant_name"],
            "the HPA selects the VA's metrics"
        );
        assert_eq!(va["spec"]["scaleTargetRef"]["name"], target);
    }
}

/// The API groups of InferencePools: `v1` and the older `v1alpha2`.
const INFERENCE_POOL_GROUPS: [&str; 2] = [
    "inference.networking.k8s.io",
    "inference.networking.x-k8s.io",
];

/// Whether the list `field` of an RBAC `rule` holds `item`.
fn lists(rule: &Value, field: &str, item: &str) -> bool {
    rule[field]
        .as_array()
        .is_some_and(|items| items.iter().any(|x| x == item))
}

/// Whether `role` has a rule that grants `verb` on `resource` (`deployments/scale` for a
/// subresource) of API `group`.
fn grants(role: &Value, group: &str, resource: &str, verb: &str) -> bool {
    role["rules"].as_array().expect("rules").iter().any(|rule| {
        lists(rule, "apiGroups", group)
            && lists(rule, "resources", resource)
            && lists(rule, "verbs", verb)
    })
}

/// Whether `role` has a rule that grants `verb` on the non-resource URL `url`.
fn grants_url(role: &Value, url: &str, verb: &str) -> bool {
    role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .any(|rule| lists(rule, "nonResourceURLs", url) && lists(rule, "verbs", verb))
}

fn assert_rbac_least_privilege(r: &Rendered) {
    for role in r
        .docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        let rules = role["rules"].as_array().expect("rules");
        assert!(!rules.is_empty(), "{name} has no rules");
        for rule in rules {
            for field in [
                "apiGroups",
                "resources",
                "verbs",
                "nonResourceURLs",
                "resourceNames",
            ] {
                for item in rule[field].as_array().into_iter().flatten() {
                    let item = item.as_str().unwrap_or_default();
                    assert!(!item.contains('*'), "{name}: wildcard {item:?} in {field}");
                }
            }
        }
        if name.contains("-va-") {
            for rule in rules {
                assert_eq!(rule["apiGroups"], serde_json::json!(["llmd.ai"]), "{name}");
            }
        }
    }
    let va_roles: BTreeSet<String> = r
        .of_kind("ClusterRole")
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .filter_map(|n| n.rsplit_once("-va-").map(|(_, suffix)| suffix.to_string()))
        .collect();
    assert_eq!(
        va_roles,
        ["admin", "editor", "viewer"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

fn assert_cluster_names_carry_namespace(r: &Rendered) {
    for doc in r
        .docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding")
    {
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        assert!(
            name.contains(&format!("-{NAMESPACE}-")),
            "cluster-scoped {name} must include the release namespace"
        );
        assert!(doc["metadata"].get("namespace").is_none());
    }
    for doc in r
        .docs
        .iter()
        .filter(|d| d["kind"] != "ClusterRole" && d["kind"] != "ClusterRoleBinding")
    {
        assert!(
            doc["metadata"]["namespace"].is_string(),
            "{} {} has no namespace",
            doc["kind"],
            doc["metadata"]["name"]
        );
    }
}

fn env_map(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e.clone(),
            )
        })
        .collect()
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// The controller's Sources as the Deployment and main ConfigMap give them.
fn controller_sources(r: &Rendered) -> Sources {
    let deploy = r.one("Deployment");
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    let specs: Vec<_> = StaticConfig::SPECS
        .iter()
        .chain(DynamicConfig::SPECS)
        .collect();
    let mut flags = BTreeMap::new();
    for arg in container["args"].as_array().expect("args").iter().skip(1) {
        let arg = arg.as_str().expect("arg");
        let (flag, value) = arg.split_once('=').unwrap_or((arg, "true"));
        let spec = specs
            .iter()
            .find(|s| {
                s.flag.is_some_and(|f| flag == format!("--{f}"))
                    || s.short.is_some_and(|c| flag == format!("-{c}"))
            })
            .unwrap_or_else(|| {
                panic!("the Deployment passes {arg}, which `wva run` does not know")
            });
        flags.insert(spec.field.to_string(), value.to_string());
    }
    let mut env = BTreeMap::new();
    for (name, entry) in env_map(container) {
        let value = match entry["value"].as_str() {
            Some(v) => v.to_string(),
            None => {
                assert_eq!(
                    entry["valueFrom"]["fieldRef"]["fieldPath"],
                    "metadata.namespace"
                );
                NAMESPACE.to_string()
            }
        };
        env.insert(name, value);
    }
    let cm = r.main_config_map().expect("main ConfigMap");
    Sources {
        flags,
        env,
        config_map_id: format!("{NAMESPACE}/{}", cm["metadata"]["name"]),
        config_map: string_map(&cm["data"]),
    }
}

fn assert_controller(r: &Rendered, expect: &Expect) {
    let deploy = r.one("Deployment");
    assert_eq!(deploy["metadata"]["namespace"], NAMESPACE);
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert!(sc.get("privileged").is_none_or(|p| p == false));
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(c["resources"][kind][res].is_string(), "{kind}.{res}");
        }
    }
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], 8081);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], 8081);
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--leader-elect"), "{args:?}");

    // The ConfigMap is read by the controller itself: none of its keys is injected as env.
    assert!(
        c.get("envFrom").is_none(),
        "envFrom would freeze ConfigMap keys"
    );
    let env = env_map(c);
    let cm = r.main_config_map().expect("main ConfigMap");
    let keys = string_map(&cm["data"]);
    for name in env.keys() {
        assert!(
            !keys.contains_key(name),
            "ConfigMap key {name} is injected as env"
        );
        assert!(
            ["POD_NAMESPACE", "CONFIG_MAP_NAME", "CONTROLLER_INSTANCE"].contains(&name.as_str()),
            "unexpected env {name}"
        );
    }
    assert_eq!(env["CONFIG_MAP_NAME"]["value"], cm["metadata"]["name"]);
    assert_eq!(cm["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        env.get("CONTROLLER_INSTANCE")
            .and_then(|e| e["value"].as_str()),
        expect.instance
    );
    assert_eq!(
        cm.get("immutable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        expect.immutable,
        "main ConfigMap immutable exactly when asked"
    );
    for name in [
        "wva-saturation-scaling-config",
        "wva-model-scale-to-zero-config",
    ] {
        let other = r.named("ConfigMap", name).expect(name);
        assert!(other.get("immutable").is_none(), "{name} must stay mutable");
    }

    // Every key is a known parameter, and the whole configuration resolves in the controller's
    // own loader.
    let known: BTreeSet<&str> = StaticConfig::SPECS
        .iter()
        .chain(DynamicConfig::SPECS)
        .filter(|s| !s.env_only)
        .map(|s| s.key)
        .collect();
    for key in keys.keys() {
        assert!(known.contains(key.as_str()), "unknown ConfigMap key {key}");
    }
    let sources = controller_sources(r);
    let static_config = StaticConfig::resolve(&sources)
        .unwrap_or_else(|e| panic!("the chart's configuration does not load: {e}"));
    DynamicConfig::resolve(&sources)
        .unwrap_or_else(|e| panic!("the chart's dynamic configuration does not load: {e}"));
    assert!(static_config.leader_elect);
    assert_eq!(static_config.config_map_name, cm["metadata"]["name"]);
    assert_eq!(static_config.pod_namespace, NAMESPACE);
    assert_eq!(
        static_config.controller_instance.as_deref(),
        expect.instance
    );

    // The saturation and scale-to-zero ConfigMaps parse without rejected entries.
    let sat = r
        .named("ConfigMap", "wva-saturation-scaling-config")
        .expect("saturation");
    let parsed = wva_api::saturation::parse_saturation(&string_map(&sat["data"]));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert!(parsed.entries.contains_key("default"));
    let stz = r
        .named("ConfigMap", "wva-model-scale-to-zero-config")
        .expect("scale-to-zero");
    let parsed = wva_api::saturation::parse_scale_to_zero(&string_map(&stz["data"]));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);

    // Leader election Role covers leases; the manager ClusterRole what the controller reads.
    let role = r.one("Role");
    assert!(role["rules"].as_array().expect("rules").iter().any(|rule| {
        rule["apiGroups"] == serde_json::json!(["coordination.k8s.io"])
            && rule["resources"] == serde_json::json!(["leases"])
    }));
    let manager = r
        .suffixed("ClusterRole", "-manager")
        .expect("manager ClusterRole");
    let grants = |group: &str, resource: &str, verb: &str| grants(manager, group, resource, verb);
    for (group, resource, verbs) in [
        (
            "llmd.ai",
            "variantautoscalings",
            &["get", "list", "watch"][..],
        ),
        (
            "llmd.ai",
            "variantautoscalings/status",
            &["get", "update", "patch"],
        ),
        ("apps", "deployments", &["get", "list", "watch"]),
        ("apps", "statefulsets", &["get", "list", "watch"]),
        (
            "leaderworkerset.x-k8s.io",
            "leaderworkersets",
            &["get", "list", "watch"],
        ),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &["get", "list", "watch"],
        ),
        ("", "pods", &["get", "list", "watch"]),
        ("", "namespaces", &["get", "list", "watch"]),
        ("", "configmaps", &["get", "list", "watch"]),
        ("", "events", &["create", "patch"]),
    ] {
        for verb in verbs {
            assert!(
                grants(group, resource, verb),
                "manager lacks {verb} {group}/{resource}"
            );
        }
    }
    assert!(
        !grants("apps", "deployments", "update"),
        "the HPA scales, not WVA"
    );
    assert!(!grants("apps", "statefulsets", "update"));
    let crd_rules: Vec<&Value> = manager["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|rule| lists(rule, "resources", "customresourcedefinitions"))
        .collect();
    assert!(
        crd_rules.iter().all(|rule| rule["resourceNames"]
            == serde_json::json!(["leaderworkersets.leaderworkerset.x-k8s.io"])),
        "CRDs: only the LeaderWorkerSet CRD may be read: {crd_rules:?}"
    );
    assert!(!grants(
        "leaderworkerset.x-k8s.io",
        "leaderworkersets",
        "update"
    ));
    // Nodes only for the limited-mode GPU inventory.
    let limited = keys.get("WVA_LIMITED_MODE").map(String::as_str) == Some("true");
    for verb in ["get", "list", "watch"] {
        assert_eq!(
            grants("", "nodes", verb),
            limited,
            "{verb} nodes is granted exactly in limited mode"
        );
    }
    // Scale-from-zero: InferencePools are always read; the scale subresource is patched only
    // with the `scale` actuation, and the endpoint pickers' Services and /metrics are read only
    // with the `epp` source, as the controller reads the chart's configuration.
    for group in INFERENCE_POOL_GROUPS {
        for verb in ["get", "list", "watch"] {
            assert!(
                grants(group, "inferencepools", verb),
                "manager lacks {verb} {group}/inferencepools"
            );
        }
    }
    let patches_scale = static_config.scale_from_zero_actuation == ScaleFromZeroActuation::Scale;
    for verb in ["get", "patch"] {
        for (group, resource) in [
            ("apps", "deployments/scale"),
            ("apps", "statefulsets/scale"),
            ("leaderworkerset.x-k8s.io", "leaderworkersets/scale"),
        ] {
            assert_eq!(
                grants(group, resource, verb),
                patches_scale,
                "{verb} {resource} is granted exactly with SCALE_FROM_ZERO_ACTUATION=scale"
            );
        }
    }
    assert!(!grants("apps", "deployments/scale", "update"));
    let scrapes_epp = static_config.scale_from_zero_source == ScaleFromZeroSource::Epp;
    for verb in ["get", "list", "watch"] {
        assert_eq!(
            grants("", "services", verb),
            scrapes_epp,
            "{verb} services is granted exactly with SCALE_FROM_ZERO_SOURCE=epp"
        );
    }
    assert_eq!(
        grants_url(manager, "/metrics", "get"),
        scrapes_epp,
        "get /metrics is granted exactly with SCALE_FROM_ZERO_SOURCE=epp"
    );
    let metrics_auth = r
        .suffixed("ClusterRole", "-metrics-auth")
        .expect("metrics-auth ClusterRole");
    let rules = serde_json::to_string(&metrics_auth["rules"]).expect("json");
    assert!(rules.contains("tokenreviews") && rules.contains("subjectaccessreviews"));

    // Metrics Service and ServiceMonitor select the controller pods.
    let pod_labels = &deploy["spec"]["template"]["metadata"]["labels"];
    let service = r.suffixed("Service", "-metrics").expect("metrics Service");
    for (k, v) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&pod_labels[k], v);
    }
    assert_eq!(service["spec"]["ports"][0]["port"], 8443);
    if !expect.monitors {
        return;
    }
    let monitor = r
        .of_kind("ServiceMonitor")
        .into_iter()
        .find(|d| d["metadata"]["namespace"] == NAMESPACE)
        .expect("controller ServiceMonitor");
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector")
    {
        assert_eq!(&service["metadata"]["labels"][k], v);
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    // It scrapes with the token of a ServiceAccount that may only read /metrics.
    let endpoint = &monitor["spec"]["endpoints"][0];
    let secret_name = endpoint["authorization"]["credentials"]["name"]
        .as_str()
        .expect("ServiceMonitor credentials");
    let secret = r.named("Secret", secret_name).expect("token Secret");
    assert_eq!(secret["type"], "kubernetes.io/service-account-token");
    let reader = secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
        .as_str()
        .expect("token owner");
    assert!(r.named("ServiceAccount", reader).is_some());
    let bindings: Vec<&Value> = r
        .of_kind("ClusterRoleBinding")
        .into_iter()
        .chain(r.of_kind("RoleBinding"))
        .filter(|b| {
            b["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["name"] == reader)
        })
        .collect();
    assert_eq!(bindings.len(), 1, "{reader} is bound once");
    let role = r
        .named(
            "ClusterRole",
            bindings[0]["roleRef"]["name"].as_str().expect("roleRef"),
        )
        .expect("reader role");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    );
}

#[test]
fn helm_lint_passes_strictly_for_production_dev_and_openshift_values() {
    let dir = scratch("lint");
    let base = base_values();
    for extra in [
        &base[..],
        &[
            base[0].clone(),
            base[1].clone(),
            "--values".into(),
            "values-dev.yaml".into(),
        ][..],
        &["--values".into(), "values-openshift.yaml".into()][..],
    ] {
        let out = run(helm_cmd(&dir)
            .current_dir(chart_dir())
            .args(["lint", "--strict", "."])
            .args(extra));
        assert!(
            out.status.success(),
            "helm lint --strict {extra:?}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn the_packaged_chart_renders_like_the_source_and_leaves_out_the_readme_source() {
    let dir = scratch("package");
    let out = run(helm_cmd(&dir)
        .args(["package", "--destination"])
        .arg(&dir)
        .arg(chart_dir()));
    assert!(out.status.success(), "helm package:\n{}", text(&out.stderr));
    let version = env!("CARGO_PKG_VERSION");
    let archive = dir.join(format!("workload-variant-autoscaler-{version}.tgz"));
    assert!(archive.is_file(), "{}", archive.display());
    let listing = run(Command::new("tar").arg("-tzf").arg(&archive));
    let listing = text(&listing.stdout);
    assert!(listing.contains("workload-variant-autoscaler/crds/llmd.ai_variantautoscalings.yaml"));
    assert!(listing.contains("workload-variant-autoscaler/values.schema.json"));
    assert!(!listing.contains("README.md.in"), "{listing}");
    let model = model();
    let packaged = run(helm_cmd(&dir)
        .args(["template", RELEASE])
        .arg(&archive)
        .args(["--namespace", NAMESPACE])
        .args(base_values())
        .args(&model));
    assert!(packaged.status.success(), "{}", text(&packaged.stderr));
    assert_eq!(
        parse_documents(&text(&packaged.stdout)),
        template("unpackaged", &with_model(&model, false, &[])).docs
    );
}

#[test]
fn default_values_render_everything_valid() {
    let model = model();
    let r = check("default", &with_model(&model, true, &[]), &Expect::all());
    let kinds = r.kinds();
    for kind in [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "VariantAutoscaling",
    ] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
    let cm = r.main_config_map().expect("main ConfigMap");
    assert_eq!(
        cm["metadata"]["name"],
        "wva-workload-variant-autoscaler-variantautoscaling-config"
    );
    let data = string_map(&cm["data"]);
    assert_eq!(data["GLOBAL_OPT_INTERVAL"], "60s");
    assert_eq!(data["PROMETHEUS_TLS_INSECURE_SKIP_VERIFY"], "false");
    assert_eq!(
        data["PROMETHEUS_BASE_URL"],
        "https://prometheus.monitoring.svc:9090"
    );
    assert_eq!(data["WVA_SCALE_TO_ZERO"], "false");
    assert_eq!(data["WVA_LIMITED_MODE"], "false");
    assert!(!data.contains_key("PROMETHEUS_CA_CERT_PATH"), "no CA given");
    let deploy = r.one("Deployment");
    let args = &deploy["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args.as_array().expect("args").iter().any(|a| a == "-v=2"));
    let hpa = r.one("HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    for dir in ["scaleUp", "scaleDown"] {
        let rules = &hpa["spec"]["behavior"][dir];
        assert_eq!(rules["stabilizationWindowSeconds"], 240);
        assert_eq!(rules["selectPolicy"], "Max");
        assert_eq!(
            rules["policies"],
            serde_json::json!([{"type": "Pods", "value": 10, "periodSeconds": 150}])
        );
    }
    let sat = r
        .named("ConfigMap", "wva-saturation-scaling-config")
        .expect("saturation");
    let parsed = wva_api::saturation::parse_saturation(&string_map(&sat["data"]));
    let t = parsed.entries["default"].over(Default::default());
    assert_eq!(
        (
            t.kv_cache_threshold,
            t.queue_length_threshold,
            t.kv_spare_trigger,
            t.queue_spare_trigger
        ),
        (0.8, 5.0, 0.1, 3.0)
    );
    let vllm = r
        .named("Service", "wva-workload-variant-autoscaler-vllm")
        .expect("vLLM Service");
    assert_eq!(
        vllm["spec"]["type"], "ClusterIP",
        "no NodePort unless asked"
    );
    assert!(vllm["spec"]["ports"][0].get("nodePort").is_none());
    assert_eq!(vllm["metadata"]["namespace"], "llm-d-autoscaler");
    assert!(
        r.of_kind("ConfigMap")
            .iter()
            .all(|c| c["metadata"]["namespace"] == NAMESPACE)
    );
}

/// What the README's vanilla install renders: the controller, nothing per model, nothing
/// outside the release namespace but its own ClusterRoles, nothing that needs a CRD other than
/// its own, no OpenShift binding, no Node access.
#[test]
fn vanilla_defaults_render_only_the_controller_in_the_release_namespace() {
    let ca = format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt"));
    for (name, args) in [
        ("vanilla", vec![]),
        ("vanilla-ca", vec!["--set-file", ca.as_str()]),
    ] {
        let r = check(
            name,
            &args,
            &Expect {
                controller: true,
                ..Expect::default()
            },
        );
        for doc in &r.docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            if kind != "ClusterRole" && kind != "ClusterRoleBinding" {
                assert_eq!(doc["metadata"]["namespace"], NAMESPACE, "{name}: {kind}");
            }
            assert!(
                doc["apiVersion"] != "monitoring.coreos.com/v1",
                "{name}: {kind} needs the Prometheus Operator"
            );
        }
        let own: BTreeSet<&str> = r
            .of_kind("ClusterRole")
            .iter()
            .filter_map(|d| d["metadata"]["name"].as_str())
            .collect();
        for binding in r.of_kind("ClusterRoleBinding") {
            let role = binding["roleRef"]["name"].as_str().unwrap_or_default();
            assert!(
                own.contains(role),
                "{name}: binds {role}, not the chart's own"
            );
        }
    }
    // Nodes are read only in limited mode.
    check(
        "vanilla-limited",
        &["--set", "wva.limitedMode=true"],
        &Expect {
            controller: true,
            ..Expect::default()
        },
    );
}

/// Scale-from-zero's RBAC: every install reads InferencePools (both API groups) and may not
/// touch a scale subresource; `SCALE_FROM_ZERO_ACTUATION=scale` (in any case, as the controller
/// reads it) adds get and patch on `deployments/scale`; `SCALE_FROM_ZERO_SOURCE=epp` adds
/// reading Services and `get /metrics` (the endpoint picker authorizes the controller's token
/// for it). A word the controller would reject fails the render, naming the key.
/// `WVA_DISCOVERY` `annotations` or `both` (any case) lets the controller watch HPAs and KEDA
/// ScaledObjects; `va` (the default) does not; an unknown word is refused by the schema.
#[test]
fn discovery_rbac_follows_the_discovery_mode() {
    const KEY: &str = "wva.parameters.WVA_DISCOVERY";
    let controller = Expect {
        controller: true,
        ..Expect::default()
    };
    for (name, word, watches) in [
        ("discovery-default", None, false),
        ("discovery-va", Some("va"), false),
        ("discovery-annotations", Some("annotations"), true),
        ("discovery-both", Some("Both"), true),
    ] {
        let set = word.map(|w| format!("{KEY}={w}"));
        let args: Vec<&str> = set.iter().flat_map(|s| ["--set", s.as_str()]).collect();
        let r = check(name, &args, &controller);
        let manager = r
            .suffixed("ClusterRole", "-manager")
            .expect("manager ClusterRole");
        for verb in ["get", "list", "watch"] {
            assert_eq!(
                grants(manager, "autoscaling", "horizontalpodautoscalers", verb),
                watches,
                "{name}: {verb} horizontalpodautoscalers"
            );
            assert_eq!(
                grants(manager, "keda.sh", "scaledobjects", verb),
                watches,
                "{name}: {verb} scaledobjects"
            );
        }
        assert!(
            grants(manager, "events.k8s.io", "events", "create"),
            "{name}"
        );
        assert!(
            !grants(manager, "autoscaling", "horizontalpodautoscalers", "update")
                && !grants(manager, "keda.sh", "scaledobjects", "patch"),
            "{name}: discovery never writes the objects"
        );
        let config = r
            .docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap" && d["data"]["WVA_DISCOVERY"].is_string());
        assert_eq!(
            config.map(|d| d["data"]["WVA_DISCOVERY"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()),
            Some(word.unwrap_or("va").to_lowercase()),
            "{name}: the main ConfigMap carries the mode"
        );
    }
    let err = template_error(&["--set", &format!("{KEY}=crd")]);
    assert!(
        err.contains("values don't meet the specifications of the schema")
            && err.contains("WVA_DISCOVERY"),
        "{err}"
    );
}

#[test]
fn scale_from_zero_rbac_follows_the_actuation_and_the_source() {
    const ACTUATION: &str = "wva.parameters.SCALE_FROM_ZERO_ACTUATION";
    const SOURCE: &str = "wva.parameters.SCALE_FROM_ZERO_SOURCE";
    let controller = Expect {
        controller: true,
        ..Expect::default()
    };
    for (name, sets, scale, epp) in [
        ("sfz-default", &[][..], false, false),
        ("sfz-metric", &["metric", ""][..], false, false),
        ("sfz-scale", &["scale", ""], true, false),
        ("sfz-scale-any-case", &["Scale", ""], true, false),
        ("sfz-epp", &["", "EPP"], false, true),
        ("sfz-prometheus", &["", "prometheus"], false, false),
        ("sfz-scale-epp", &["scale", "epp"], true, true),
    ] {
        let sets: Vec<String> = sets
            .iter()
            .zip([ACTUATION, SOURCE])
            .map(|(word, key)| format!("{key}={word}"))
            .collect();
        let args: Vec<&str> = sets
            .iter()
            .flat_map(|set| ["--set", set.as_str()])
            .collect();
        let r = check(name, &args, &controller);
        let manager = r
            .suffixed("ClusterRole", "-manager")
            .expect("manager ClusterRole");
        for group in INFERENCE_POOL_GROUPS {
            assert!(
                grants(manager, group, "inferencepools", "watch"),
                "{name}: {group}"
            );
        }
        assert_eq!(
            grants(manager, "apps", "deployments/scale", "patch"),
            scale,
            "{name}: patch deployments/scale"
        );
        assert_eq!(
            grants(manager, "", "services", "list"),
            epp,
            "{name}: list services"
        );
        assert_eq!(
            grants_url(manager, "/metrics", "get"),
            epp,
            "{name}: get /metrics"
        );
    }
    for (key, word) in [(ACTUATION, "scaled"), (SOURCE, "gateway")] {
        let err = template_error(&["--set", &format!("{key}={word}")]);
        let leaf = key.rsplit('.').next().expect("leaf");
        assert!(
            err.contains("values don't meet the specifications of the schema")
                && err.contains(leaf),
            "{key}={word}: {err}"
        );
    }
}

/// ServiceMonitors: when the cluster serves the API (`null`, the default), always (`true`),
/// never (`false`).
#[test]
fn service_monitors_follow_the_cluster_or_the_switch() {
    let model = model();
    let count = |name: &str, monitors: bool, args: &[&str]| {
        template(name, &with_model(&model, monitors, args))
            .of_kind("ServiceMonitor")
            .len()
    };
    assert_eq!(count("sm-absent", false, &[]), 0);
    assert_eq!(count("sm-served", true, &[]), 2);
    let off = "wva.metrics.serviceMonitor.enabled=false,vllmService.serviceMonitor=false";
    assert_eq!(count("sm-off", true, &["--set", off]), 0);
    let on = "wva.metrics.serviceMonitor.enabled=true,vllmService.serviceMonitor=true";
    assert_eq!(count("sm-on", false, &["--set", on]), 2);
}

/// The PrometheusRule: only when enabled and the cluster serves the API; its spec is the
/// generated rules file (one rule per declared alert), which `promtool check rules` accepts, and
/// it carries the ServiceMonitor labels so the same Prometheus selects it.
#[test]
fn prometheus_rule_renders_when_enabled_and_served_and_its_rules_check() {
    const SERVES_RULES: [&str; 2] = ["--api-versions", "monitoring.coreos.com/v1/PrometheusRule"];
    let on = ["--set", "wva.metrics.prometheusRule.enabled=true"];
    let rules = |name: &str, args: &[&str]| template(name, args).of_kind("PrometheusRule").len();
    assert_eq!(rules("rule-default", &SERVES_RULES), 0, "off by default");
    assert_eq!(rules("rule-not-served", &on), 0, "CRD not served");
    let args = [
        &on[..],
        &SERVES_RULES[..],
        &[
            "--set",
            "wva.prometheus.serviceMonitorLabels.release=kube-prometheus-stack",
        ],
    ]
    .concat();
    let r = template("rule-on", &args);
    validate("rule-on", &r);
    let rule = r
        .of_kind("PrometheusRule")
        .into_iter()
        .next()
        .expect("a PrometheusRule");
    assert_eq!(
        rule["metadata"]["name"],
        "wva-workload-variant-autoscaler-alerts"
    );
    assert_eq!(rule["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    let file =
        std::fs::read_to_string(chart_dir().join(wva_api::alerts::RULES_FILE)).expect("rules file");
    let from_file: Value = serde_saphyr::from_str(&file).expect("rules file is YAML");
    assert_eq!(rule["spec"], from_file, "the spec is the rules file");
    let names: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["alert"].as_str().expect("alert"))
        .collect();
    let declared: Vec<&str> = wva_api::alerts::ALERTS.iter().map(|a| a.name).collect();
    assert_eq!(names, declared);
    let dir = scratch("rule-check");
    let spec = dir.join("rules.yaml");
    std::fs::write(&spec, serde_json::to_string(&rule["spec"]).expect("json")).expect("write");
    let promtool = wva_testkit::promtool_binary().unwrap_or_else(|e| panic!("{e}"));
    let out = run(Command::new(promtool).args(["check", "rules"]).arg(&spec));
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The dashboard ConfigMap: only when enabled, with the sidecar label, in the release namespace
/// or the one asked for, holding the generated dashboard.
#[test]
fn grafana_dashboard_config_map_renders_when_enabled() {
    let dashboards = |r: &Rendered| -> Vec<Value> {
        r.of_kind("ConfigMap")
            .into_iter()
            .filter(|cm| cm["metadata"]["labels"]["grafana_dashboard"] == "1")
            .cloned()
            .collect()
    };
    assert!(
        dashboards(&template("dashboard-default", &[])).is_empty(),
        "off by default"
    );
    let r = template(
        "dashboard-on",
        &["--set", "wva.metrics.grafanaDashboard.enabled=true"],
    );
    validate("dashboard-on", &r);
    let found = dashboards(&r);
    assert_eq!(found.len(), 1, "one dashboard ConfigMap");
    let cm = &found[0];
    assert_eq!(
        cm["metadata"]["name"],
        "wva-workload-variant-autoscaler-dashboard"
    );
    assert_eq!(cm["metadata"]["namespace"], NAMESPACE);
    let json: Value = serde_json::from_str(
        cm["data"]["wva-dashboard.json"]
            .as_str()
            .expect("wva-dashboard.json"),
    )
    .expect("the dashboard is JSON");
    assert_eq!(json, wva_api::dashboard::dashboard());
    let elsewhere = template(
        "dashboard-ns",
        &[
            "--set",
            "wva.metrics.grafanaDashboard.enabled=true,wva.metrics.grafanaDashboard.namespace=monitoring",
        ],
    );
    assert_eq!(
        dashboards(&elsewhere)[0]["metadata"]["namespace"],
        "monitoring"
    );
}

/// `values-openshift.yaml` with the chart README's OpenShift command renders what that README
/// documents: the Thanos querier, the CA copy for prometheus-adapter in the user-workload
/// monitoring namespace, ServiceMonitors, `cluster-monitoring-view`, the llm-d model service's
/// VA and HPA in `llm-d-autoscaler`, vLLM on NodePort 30000.
#[test]
fn openshift_profile_renders_what_the_chart_readme_documents() {
    let ca = format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt"));
    let profile = fixture_chart("values-openshift.yaml");
    let r = template_release(
        "openshift-profile",
        "workload-variant-autoscaler",
        "workload-variant-autoscaler-system",
        &[
            &["--values", &profile, "--set-file", &ca][..],
            &helm_values::README_OPENSHIFT_FLAGS,
        ]
        .concat(),
    );
    validate("openshift-profile", &r);
    let data = string_map(&r.main_config_map().expect("main ConfigMap")["data"]);
    assert_eq!(
        data["PROMETHEUS_BASE_URL"],
        "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091"
    );
    assert_eq!(
        data["PROMETHEUS_CA_CERT_PATH"],
        "/etc/ssl/certs/prometheus-ca.crt"
    );
    assert_eq!(data["PROMETHEUS_TLS_INSECURE_SKIP_VERIFY"], "false");
    let copy = r
        .docs
        .iter()
        .find(|d| {
            d["kind"] == "ConfigMap"
                && d["metadata"]["namespace"] == "openshift-user-workload-monitoring"
        })
        .expect("the CA copy for prometheus-adapter");
    assert!(
        copy["data"]["ca.crt"]
            .as_str()
            .is_some_and(|c| c.starts_with("-----BEGIN"))
    );
    let monitors: BTreeSet<&str> = r
        .of_kind("ServiceMonitor")
        .iter()
        .filter_map(|d| d["metadata"]["namespace"].as_str())
        .collect();
    assert_eq!(
        monitors,
        BTreeSet::from(["llm-d-autoscaler", "workload-variant-autoscaler-system"]),
        "ServiceMonitors for the controller and vLLM, without --api-versions"
    );
    assert_eq!(
        r.of_kind("ClusterRoleBinding")
            .iter()
            .filter(|b| b["roleRef"]["name"] == "cluster-monitoring-view")
            .count(),
        1
    );
    let va = r.one("VariantAutoscaling");
    assert_eq!(va["metadata"]["namespace"], "llm-d-autoscaler");
    assert_eq!(
        va["metadata"]["name"],
        "ms-inference-scheduling-llm-d-modelservice-decode"
    );
    assert_eq!(
        va["metadata"]["labels"]["inference.optimization/acceleratorName"],
        "L40S"
    );
    assert_eq!(va["spec"]["modelID"], "unsloth/Meta-Llama-3.1-8B");
    assert_eq!(
        r.one("HorizontalPodAutoscaler")["metadata"]["namespace"],
        "llm-d-autoscaler"
    );
    let vllm = r.suffixed("Service", "-vllm").expect("vLLM Service");
    assert_eq!(vllm["spec"]["type"], "NodePort");
    assert_eq!(vllm["spec"]["ports"][0]["nodePort"], 30000);
    let container = &r.one("Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        format!("{}:latest", helm_values::IMAGE_REPOSITORY)
    );
    assert_eq!(container["imagePullPolicy"], "Always");
}

/// The final stage of the Dockerfile: base image, user, where `wva` is copied, ENTRYPOINT, CMD.
struct ImageLayout {
    base: String,
    user: String,
    binary: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

/// Reads the Dockerfile's last stage (instructions are one per line; JSON-form ENTRYPOINT/CMD).
fn dockerfile_layout() -> ImageLayout {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    let last = text
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a multi-stage Dockerfile");
    let mut layout = ImageLayout {
        base: last.lines().next().unwrap_or_default().trim().to_string(),
        user: String::new(),
        binary: String::new(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
    };
    let json = |rest: &str| -> Vec<String> {
        serde_json::from_str(rest.trim())
            .unwrap_or_else(|e| panic!("Dockerfile: {rest:?} is not the JSON (exec) form: {e}"))
    };
    for line in last.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "USER" => layout.user = rest.trim().to_string(),
            "ENTRYPOINT" => layout.entrypoint = json(rest),
            "CMD" => layout.cmd = json(rest),
            "COPY" if rest.contains("/out/wva") => {
                layout.binary = rest
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .to_string()
            }
            _ => {}
        }
    }
    layout
}

/// The chart runs this project's image the way the Dockerfile builds it: the image name, the
/// command (ENTRYPOINT) and first argument (CMD), the user; the binary at that path answers
/// `--version` with the chart's appVersion.
#[test]
fn the_chart_runs_the_image_the_dockerfile_builds() {
    let image = dockerfile_layout();
    assert!(
        image.base.starts_with("gcr.io/distroless/static") && image.base.ends_with(":nonroot"),
        "the runtime stage is static distroless, non-root: {}",
        image.base
    );
    assert_eq!(
        image.entrypoint,
        vec![image.binary.clone()],
        "ENTRYPOINT runs the copied binary"
    );
    assert_eq!(image.cmd, vec!["run".to_string()]);

    let r = template("image", &[]);
    let pod = &r.one("Deployment")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        container["image"],
        format!("{}:{version}", helm_values::IMAGE_REPOSITORY)
    );
    assert!(!helm_values::IMAGE_REPOSITORY.contains("llm-d-workload-variant-autoscaler"));
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["command"], serde_json::json!(image.entrypoint));
    assert_eq!(container["args"][0], image.cmd[0].as_str());
    let uid: u64 = image
        .user
        .split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("USER {:?} is not numeric", image.user));
    assert_eq!(pod["securityContext"]["runAsUser"], uid);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let docker_ignore =
        std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).expect(".dockerignore");
    assert!(docker_ignore.lines().any(|l| l.trim() == "target/"));

    // The binary in the image layout: copied to the ENTRYPOINT path, it reports the version.
    let dir = scratch("image-layout");
    let installed = dir.join(image.binary.trim_start_matches('/'));
    std::fs::copy(env!("CARGO_BIN_EXE_wva"), &installed).expect("copy wva");
    let out = run(Command::new(&installed).arg("--version"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(version),
        "wva --version: {}",
        text(&out.stdout)
    );
}

#[test]
fn dev_values_relax_tls_log_debug_and_react_faster() {
    let model = model();
    let dev = fixture_chart("values-dev.yaml");
    let r = check(
        "dev",
        &with_model(&model, true, &["--values", &dev]),
        &Expect::all(),
    );
    let data = string_map(&r.main_config_map().expect("cm")["data"]);
    assert_eq!(data["PROMETHEUS_TLS_INSECURE_SKIP_VERIFY"], "true");
    assert_eq!(data["GLOBAL_OPT_INTERVAL"], "30s");
    let args = &r.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args.as_array().expect("args").iter().any(|a| a == "-v=4"));
    let hpa = r.one("HorizontalPodAutoscaler");
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
        30
    );
    let sat = r
        .named("ConfigMap", "wva-saturation-scaling-config")
        .expect("saturation");
    let parsed = wva_api::saturation::parse_saturation(&string_map(&sat["data"]));
    let t = parsed.entries["default"].over(Default::default());
    assert!(
        t.kv_cache_threshold < 0.8,
        "dev thresholds are more aggressive"
    );
}

fn fixture_chart(name: &str) -> String {
    chart_dir().join(name).display().to_string()
}

#[test]
fn controller_only_install_renders_no_model_resources() {
    check(
        "controller-only",
        &[
            "--set",
            "va.enabled=false,hpa.enabled=false,vllmService.enabled=false",
        ],
        &Expect {
            controller: true,
            ..Expect::default()
        },
    );
}

#[test]
fn model_only_install_renders_only_va_hpa_vllm_and_va_roles() {
    let r = check(
        "model-only",
        &[
            SERVES_MONITORS[0],
            SERVES_MONITORS[1],
            "--set",
            "controller.enabled=false",
            "--set",
            "llmd.namespace=team-a,llmd.modelName=my-model-a,llmd.modelID=meta-llama/Llama-3.1-8B",
        ],
        &Expect {
            va: true,
            hpa: true,
            vllm: true,
            monitors: true,
            ..Expect::default()
        },
    );
    let kinds = r.kinds();
    let allowed: BTreeSet<String> = [
        "VariantAutoscaling",
        "HorizontalPodAutoscaler",
        "Service",
        "ServiceMonitor",
        "ClusterRole",
    ]
    .map(String::from)
    .into_iter()
    .collect();
    assert!(kinds.is_subset(&allowed), "{kinds:?}");
    assert_eq!(r.of_kind("ClusterRole").len(), 3, "only the VA roles");
    let va = r.one("VariantAutoscaling");
    assert_eq!(va["metadata"]["namespace"], "team-a");
    assert_eq!(va["metadata"]["name"], "my-model-a-decode");
    assert_eq!(va["spec"]["modelID"], "meta-llama/Llama-3.1-8B");
}

#[test]
fn controller_instance_labels_env_and_hpa_selector() {
    let model = model();
    let r = check(
        "instance",
        &with_model(&model, true, &["--set", "wva.controllerInstance=team-a"]),
        &Expect {
            instance: Some("team-a"),
            ..Expect::all()
        },
    );
    let model_only = check(
        "instance-model-only",
        &with_model(
            &model,
            true,
            &[
                "--set",
                "wva.controllerInstance=team-a,controller.enabled=false",
            ],
        ),
        &Expect {
            va: true,
            hpa: true,
            vllm: true,
            monitors: true,
            instance: Some("team-a"),
            ..Expect::default()
        },
    );
    assert_eq!(
        r.one("HorizontalPodAutoscaler")["spec"]["metrics"],
        model_only.one("HorizontalPodAutoscaler")["spec"]["metrics"]
    );
}

#[test]
fn immutable_config_map_only_when_asked() {
    check(
        "immutable",
        &with_model(&model(), true, &["--set", "wva.configMap.immutable=true"]),
        &Expect {
            immutable: true,
            ..Expect::all()
        },
    );
}

#[test]
fn hpa_disabled_keeps_the_va() {
    check(
        "hpa-disabled",
        &with_model(&model(), true, &["--set", "hpa.enabled=false"]),
        &Expect {
            hpa: false,
            ..Expect::all()
        },
    );
}

#[test]
fn every_option_at_once_renders_valid_objects() {
    let r = check(
        "kitchen-sink",
        &[
            "--values",
            &fixture("kitchen-sink.yaml"),
            "--set-file",
            &format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt")),
        ],
        &Expect {
            instance: Some("prod"),
            immutable: true,
            ..Expect::all()
        },
    );
    let data = string_map(&r.main_config_map().expect("cm")["data"]);
    assert_eq!(
        data["PROMETHEUS_CA_CERT_PATH"],
        "/etc/ssl/certs/prometheus-ca.crt"
    );
    assert_eq!(data["WVA_SCALE_TO_ZERO"], "true");
    assert_eq!(data["WVA_LIMITED_MODE"], "true");
    assert!(!data.contains_key("PROMETHEUS_TOKEN_PATH"));
    let ca = r
        .named("ConfigMap", "wva-workload-variant-autoscaler-prometheus-ca")
        .expect("CA for the controller");
    assert!(
        ca["data"]["ca.crt"]
            .as_str()
            .expect("ca")
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let adapter_ca = r
        .named("ConfigMap", "wva-wva-system-prometheus-ca")
        .expect("CA for prometheus-adapter");
    assert_eq!(adapter_ca["metadata"]["namespace"], "monitoring");
    let pod = &r.one("Deployment")["spec"]["template"]["spec"];
    let mounts = serde_json::to_string(&pod["containers"][0]["volumeMounts"]).expect("json");
    assert!(mounts.contains("/etc/ssl/certs/prometheus-ca.crt"));
    let args = &pod["containers"][0]["args"];
    assert!(
        args.as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--watch-namespace=$(POD_NAMESPACE)")
    );
    assert_eq!(pod["imagePullSecrets"][0]["name"], "regcred");

    let sat = r
        .named("ConfigMap", "wva-saturation-scaling-config")
        .expect("saturation");
    let parsed = wva_api::saturation::parse_saturation(&string_map(&sat["data"]));
    let t =
        wva_api::saturation::thresholds_for(&parsed.entries, "Qwen/Qwen3-0.6B", "llm-d-autoscaler");
    assert_eq!((t.kv_cache_threshold, t.kv_spare_trigger), (0.7, 0.35));
    assert_eq!(
        t.queue_length_threshold, 5.0,
        "unset fields come from default"
    );
    let stz = r
        .named("ConfigMap", "wva-model-scale-to-zero-config")
        .expect("stz");
    let parsed = wva_api::saturation::parse_scale_to_zero(&string_map(&stz["data"]));
    assert_eq!(parsed.entries["qwen"].enable_scale_to_zero, Some(true));

    let va = r.one("VariantAutoscaling");
    assert_eq!(va["spec"]["minReplicas"], 0);
    assert_eq!(va["spec"]["maxReplicas"], 4);
    assert_eq!(va["metadata"]["name"], "qwen-h100");
    for monitor in r.of_kind("ServiceMonitor") {
        assert_eq!(
            monitor["metadata"]["labels"]["release"],
            "kube-prometheus-stack"
        );
    }
    let vllm = r.suffixed("Service", "-vllm").expect("vllm");
    assert_eq!(vllm["spec"]["type"], "NodePort");
    assert_eq!(vllm["spec"]["ports"][0]["nodePort"], 31234);
    assert_eq!(
        vllm["metadata"]["namespace"], NAMESPACE,
        "no llmd.namespace: the release's"
    );
    assert_eq!(
        r.of_kind("ClusterRoleBinding")
            .iter()
            .filter(|b| b["roleRef"]["name"] == "cluster-monitoring-view")
            .count(),
        0
    );
}

/// The install commands of the chart README (`README.md.in`), flag for flag.
#[test]
fn documented_install_commands_render_valid_objects() {
    let ca = format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt"));
    let profile = fixture_chart("values-openshift.yaml");
    // Complete commands (they give wva.prometheus.baseURL themselves) come first; the others
    // add flags to an install that gives it (tests/chart/prometheus.yaml here).
    let complete = [
        "vanilla",
        "vanilla-model",
        "openshift",
        "kube-prometheus-stack",
    ];
    let commands: [(&str, Vec<&str>); 10] = [
        (
            "vanilla",
            vec![
                "--set",
                "wva.prometheus.baseURL=http://prometheus-server.monitoring.svc:80",
                "--set",
                "wva.prometheus.allowHTTP=true",
            ],
        ),
        (
            "vanilla-model",
            vec![
                "--set",
                "controller.enabled=false",
                "--set",
                "wva.prometheus.baseURL=http://prometheus-server.monitoring.svc:80",
                "--set",
                "wva.prometheus.allowHTTP=true",
                "--set",
                "llmd.namespace=llm-inference",
                "--set",
                "llmd.modelName=llama-8b",
                "--set",
                "llmd.deploymentName=llama-8b-h100",
                "--set",
                "llmd.modelID=meta-llama/Llama-3.1-8B",
            ],
        ),
        (
            "openshift",
            [
                &["--values", &profile, "--set-file", &ca][..],
                &helm_values::README_OPENSHIFT_FLAGS,
            ]
            .concat(),
        ),
        (
            "kube-prometheus-stack",
            vec![
                "--set",
                "wva.prometheus.baseURL=https://kube-prometheus-stack-prometheus.monitoring.svc:9090",
                "--set",
                "wva.prometheus.monitoringNamespace=monitoring",
                "--set",
                "wva.prometheus.monitoringViewClusterRole=",
                "--set",
                "wva.prometheus.serviceMonitorLabels.release=kube-prometheus-stack",
                "--set-file",
                &ca,
            ],
        ),
        (
            "custom",
            vec![
                "--set",
                "wva.prometheus.tls.insecureSkipVerify=true",
                "--set",
                "wva.image.tag=v0.0.1-dev",
            ],
        ),
        (
            "e2e-hpa",
            vec![
                "--set",
                "hpa.behavior.scaleUp.stabilizationWindowSeconds=30",
                "--set",
                "hpa.behavior.scaleDown.stabilizationWindowSeconds=30",
            ],
        ),
        (
            "step1-controller",
            vec![
                "--set",
                "wva.prometheus.baseURL=https://prometheus.monitoring.svc:9090",
            ],
        ),
        (
            "step2-model-a",
            vec![
                "--set",
                "controller.enabled=false",
                "--set",
                "va.enabled=true",
                "--set",
                "hpa.enabled=true",
                "--set",
                "llmd.namespace=team-a",
                "--set",
                "llmd.modelName=my-model-a",
                "--set",
                "llmd.modelID=meta-llama/Llama-3.1-8B",
            ],
        ),
        (
            "parallel-test-a",
            vec![
                "--set",
                "wva.controllerInstance=test-a",
                "--set",
                "llmd.namespace=llm-test-a",
                "--set",
                "llmd.modelName=my-model",
                "--set",
                "llmd.modelID=meta-llama/Llama-3.1-8B",
            ],
        ),
        ("immutable", vec!["--set", "wva.configMap.immutable=true"]),
    ];
    for (name, args) in commands {
        let r = template(name, &args);
        if let Some(cm) = r.main_config_map().filter(|_| complete.contains(&name)) {
            assert_ne!(
                cm["data"]["PROMETHEUS_BASE_URL"], "https://prometheus.monitoring.svc:9090",
                "{name} must give wva.prometheus.baseURL itself"
            );
        }
        validate(name, &r);
        assert_rbac_least_privilege(&r);
        assert_cluster_names_carry_namespace(&r);
    }
}

#[test]
fn metrics_disabled_passes_0_and_renders_no_metrics_objects() {
    let r = template("no-metrics", &["--set", "wva.metrics.enabled=false"]);
    validate("no-metrics", &r);
    let args = &r.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--metrics-bind-address=0")
    );
    assert!(r.suffixed("Service", "-metrics").is_none());
    assert!(r.of_kind("Secret").is_empty());
    assert!(!r.of_kind("ClusterRole").iter().any(|s| {
        s["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .contains("-metrics-")
    }));
}

#[test]
fn log_levels_map_to_the_verbosity_the_declaration_says() {
    for level in [
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ] {
        let name = serde_json::to_value(level).expect("json");
        let name = name.as_str().expect("level name");
        let r = template(
            &format!("log-{name}"),
            &[
                "--set",
                &format!("wva.logging.level={name}"),
                "--set",
                "va.enabled=false,hpa.enabled=false,vllmService.enabled=false",
            ],
        );
        let args = &r.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
        let want = format!("-v={}", level.verbosity());
        assert!(
            args.as_array()
                .expect("args")
                .iter()
                .any(|a| a == want.as_str()),
            "{name}: {args}"
        );
    }
}

#[test]
fn the_values_schema_rejects_typos_and_bad_values_with_helm_errors() {
    for (set, expected) in [
        ("wva.prometheus.baseUrl=https://p:9090", "baseUrl"),
        ("va.variantCost=cheap", "variantCost"),
        ("wva.logging.level=verbose", "level"),
        ("hpa.behavior.scaleUp.selectPolicy=Most", "selectPolicy"),
        ("wva.capacityScaling.overrides.default.modelID=m", "default"),
    ] {
        let err = template_error(&["--set", set]);
        assert!(
            err.contains("values don't meet the specifications of the schema")
                && err.contains(expected),
            "{set}: {err}"
        );
    }
    let err = template_error(&[
        "--set",
        "wva.prometheus.tls.insecureSkipVerify=true",
        "--set-file",
        &format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt")),
    ]);
    assert!(err.contains("insecureSkipVerify"), "{err}");
    let model = model();
    let err = template_error(&with_model(
        &model,
        false,
        &["--set", "va.minReplicas=5,va.maxReplicas=2"],
    ));
    assert!(
        err.contains("va.minReplicas (5) must not exceed va.maxReplicas (2)"),
        "{err}"
    );
    let err = template_error(&with_model(&model, false, &["--set", "hpa.minReplicas=11"]));
    assert!(
        err.contains("hpa.minReplicas (11) must not exceed hpa.maxReplicas (10)"),
        "{err}"
    );
    // What a vanilla install must give, named with the fix.
    let err = template_error(&["--set", "wva.prometheus.baseURL="]);
    assert!(
        err.contains("wva.prometheus.baseURL is required")
            && err.contains("--set wva.prometheus.baseURL="),
        "{err}"
    );
    let err = template_error(&["--set", "wva.prometheus.baseURL=http://prometheus:9090"]);
    assert!(
        err.contains(r#"wva.prometheus.baseURL is "http://prometheus:9090""#)
            && err.contains("wva.prometheus.allowHTTP=true"),
        "{err}"
    );
    let err = template_error(&["--set", "llmd.modelName=llama-8b"]);
    assert!(
        err.contains(r#"llmd.modelName is "llama-8b" but llmd.modelID is empty"#),
        "{err}"
    );
}

/// `.Values.<path>` references in the templates.
fn template_references() -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for entry in std::fs::read_dir(chart_dir().join("templates")).expect("templates") {
        let path = entry.expect("entry").path();
        let body = std::fs::read_to_string(&path).expect("read template");
        let mut rest = body.as_str();
        while let Some(at) = rest.find(".Values.") {
            rest = &rest[at + ".Values.".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            refs.insert(rest[..end].trim_end_matches('.').to_string());
        }
    }
    refs
}

#[test]
fn every_declared_value_is_used_by_a_template_and_every_used_value_is_declared() {
    let refs = template_references();
    let declared: Vec<String> = render::value_docs()
        .expect("values render")
        .into_iter()
        .map(|d| d.path)
        .collect();
    let unused: Vec<&String> = declared
        .iter()
        .filter(|path| {
            !refs
                .iter()
                .any(|r| *path == r || path.starts_with(&format!("{r}.")))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "declared in api/src/helm_values.rs but used by no template: {unused:?}"
    );
    let undeclared: Vec<&String> = refs
        .iter()
        .filter(|r| {
            !declared
                .iter()
                .any(|path| path == *r || path.starts_with(&format!("{r}.")))
        })
        .collect();
    assert!(
        undeclared.is_empty(),
        "used by a template but not declared in api/src/helm_values.rs: {undeclared:?}"
    );
}

/// The defaults the chart README has always documented (key → default), which OpenShift installs
/// rely on without setting them. The chart's own defaults now suit any Kubernetes cluster; the
/// profile `values-openshift.yaml` layered over them must give every one of these back (except
/// those in [`NOT_KEPT`]), and the chart README must still list each key.
const DOCUMENTED_DEFAULTS: &str = r#"{
    "hpa.behavior.scaleDown.policies": [{"periodSeconds":150,"type":"Pods","value":10}],
    "hpa.behavior.scaleDown.selectPolicy": "Max",
    "hpa.behavior.scaleDown.stabilizationWindowSeconds": 240,
    "hpa.behavior.scaleUp.policies": [{"periodSeconds":150,"type":"Pods","value":10}],
    "hpa.behavior.scaleUp.selectPolicy": "Max",
    "hpa.behavior.scaleUp.stabilizationWindowSeconds": 240,
    "hpa.enabled": true,
    "hpa.maxReplicas": 10,
    "hpa.targetAverageValue": "1",
    "llmd.modelID": "unsloth/Meta-Llama-3.1-8B",
    "llmd.modelName": "ms-inference-scheduling-llm-d-modelservice",
    "llmd.namespace": "llm-d-autoscaler",
    "va.accelerator": "H100",
    "va.enabled": true,
    "va.sloTpot": 10,
    "va.sloTtft": 1000,
    "vllmService.enabled": true,
    "vllmService.interval": "15s",
    "vllmService.nodePort": 30000,
    "vllmService.scheme": "http",
    "wva.configMap.immutable": false,
    "wva.controllerInstance": "",
    "wva.enabled": true,
    "wva.image.repository": "ghcr.io/llm-d/llm-d-workload-variant-autoscaler",
    "wva.image.tag": "latest",
    "wva.imagePullPolicy": "Always",
    "wva.metrics.enabled": true,
    "wva.metrics.port": 8443,
    "wva.metrics.secure": true,
    "wva.prometheus.baseURL": "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091",
    "wva.prometheus.monitoringNamespace": "openshift-user-workload-monitoring",
    "wva.prometheus.tls.caCertPath": "/etc/ssl/certs/prometheus-ca.crt",
    "wva.prometheus.tls.insecureSkipVerify": false,
    "wva.reconcileInterval": "60s",
    "wva.scaleToZero": false,
    "controller.enabled": true,
    "hpa.minReplicas": 1,
    "wva.capacityScaling.overrides": {},
    "wva.capacityScaling.default.kvCacheThreshold": 0.8,
    "wva.capacityScaling.default.queueLengthThreshold": 5.0,
    "wva.capacityScaling.default.kvSpareTrigger": 0.1,
    "wva.capacityScaling.default.queueSpareTrigger": 3.0,
    "wva.prometheus.caCert": ""
}"#;

/// Documented defaults deliberately not kept by `values-openshift.yaml`, with the reason.
const NOT_KEPT: [(&str, &str); 1] = [(
    "wva.image.repository",
    "this project's own image replaces the Go original's, whose entrypoint is /manager",
)];

/// The chart's default values with `values-openshift.yaml` merged over them, as Helm merges.
fn openshift_values() -> Value {
    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(base), Value::Object(over)) => {
                for (key, value) in over {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
            (base, over) => *base = over.clone(),
        }
    }
    let mut values = render::default_values().expect("defaults render");
    let profile = std::fs::read_to_string(chart_dir().join("values-openshift.yaml"))
        .expect("values-openshift.yaml");
    let profile: Value = serde_saphyr::from_str(&profile).expect("values-openshift.yaml is YAML");
    merge(&mut values, &profile);
    values
}

#[test]
fn generated_chart_files_are_current_and_the_openshift_profile_keeps_the_documented_defaults() {
    let read = |name: &str| std::fs::read_to_string(chart_dir().join(name)).expect(name);
    assert_eq!(
        read("values.yaml"),
        render::values_yaml().expect("values.yaml renders"),
        "run cargo build"
    );
    assert_eq!(
        read("values.schema.json"),
        render::values_schema_json().expect("values.schema.json renders"),
        "run cargo build"
    );
    assert_eq!(
        read("README.md"),
        render::readme().expect("README renders"),
        "run cargo build"
    );
    let chart = read("Chart.yaml");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        chart.contains(&format!("\nversion: {version}\n")),
        "Chart.yaml version"
    );
    assert!(
        chart.contains(&format!("\nappVersion: \"{version}\"\n")),
        "Chart.yaml appVersion"
    );

    // Every documented default is declared, and values-openshift.yaml over the defaults gives
    // it back; `insecureSkipVerify` is false because the default values are production values
    // (values-dev.yaml sets it true).
    let declared: BTreeSet<String> = render::value_docs()
        .expect("values render")
        .into_iter()
        .map(|d| d.path)
        .collect();
    let openshift = openshift_values();
    let documented: Value = serde_json::from_str(DOCUMENTED_DEFAULTS).expect("defaults table");
    for (key, default) in documented.as_object().expect("defaults table") {
        assert!(declared.contains(key), "{key} is not declared");
        if let Some((_, reason)) = NOT_KEPT.iter().find(|(k, _)| k == key) {
            assert_ne!(
                openshift.pointer(&format!("/{}", key.replace('.', "/"))),
                Some(default),
                "{key} is listed as not kept ({reason})"
            );
            continue;
        }
        let got = openshift
            .pointer(&format!("/{}", key.replace('.', "/")))
            .unwrap_or_else(|| panic!("{key} has no value"));
        let same = match (got.as_f64(), default.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => got == default,
        };
        assert!(
            same,
            "{key}: values-openshift.yaml over the defaults gives {got}, documented {default}"
        );
    }
    let readme = read("README.md");
    for key in documented.as_object().expect("defaults table").keys() {
        assert!(
            readme.contains(&format!("| {key} |")),
            "README table lacks {key}"
        );
    }
}

/// The monitoring namespace of the OpenShift profile (where the adapter runs on OpenShift).
fn adapter_namespace() -> Value {
    openshift_values()["wva"]["prometheus"]["monitoringNamespace"].clone()
}

/// A sample with `${WVA_RELEASE}` and `${WVA_NS}` replaced, as `envsubst` does; fails on any
/// other `${...}`.
fn substitute_release(sample: &str, release: &str, namespace: &str) -> String {
    let out = sample
        .replace("${WVA_RELEASE}", release)
        .replace("${WVA_NS}", namespace);
    assert!(
        !out.contains("${"),
        "a placeholder other than WVA_RELEASE/WVA_NS:\n{out}"
    );
    out
}

#[test]
fn samples_are_valid_and_say_what_the_chart_does() {
    let samples = Path::new(ROOT).join("docs/samples");
    let read = |name: &str| {
        std::fs::read_to_string(samples.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    // VAs (two variants of one model with different costs) and ConfigMaps: real validation.
    for name in [
        "variantautoscaling-two-variants.yaml",
        "configmaps.yaml",
        "hpa.yaml",
    ] {
        let r = Rendered {
            docs: parse_documents(&read(name)),
        };
        assert!(!r.docs.is_empty(), "{name} is empty");
        validate(name, &r);
    }
    let vas = parse_documents(&read("variantautoscaling-two-variants.yaml"));
    assert_eq!(vas.len(), 2);
    assert_eq!(vas[0]["spec"]["modelID"], vas[1]["spec"]["modelID"]);
    assert_ne!(vas[0]["spec"]["variantCost"], vas[1]["spec"]["variantCost"]);
    for cm in parse_documents(&read("configmaps.yaml")) {
        let data = string_map(&cm["data"]);
        match cm["metadata"]["name"].as_str().unwrap_or_default() {
            "wva-saturation-scaling-config" => {
                let parsed = wva_api::saturation::parse_saturation(&data);
                assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            }
            "wva-model-scale-to-zero-config" => {
                let parsed = wva_api::saturation::parse_scale_to_zero(&data);
                assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            }
            "wva-variantautoscaling-config" => {
                let known: BTreeSet<&str> = StaticConfig::SPECS
                    .iter()
                    .chain(DynamicConfig::SPECS)
                    .filter(|s| !s.env_only)
                    .map(|s| s.key)
                    .collect();
                for key in data.keys() {
                    assert!(known.contains(key.as_str()), "unknown key {key}");
                }
            }
            other => panic!("unexpected ConfigMap {other}"),
        }
    }

    // prometheus-adapter values: the external rule for wva_desired_replicas.
    let adapter: Value =
        serde_saphyr::from_str(&read("prometheus-adapter-values.yaml")).expect("yaml");
    let rule = &adapter["rules"]["external"][0];
    assert_eq!(
        rule["seriesQuery"],
        r#"wva_desired_replicas{variant_name!="",exported_namespace!=""}"#
    );
    assert_eq!(rule["name"]["as"], "wva_desired_replicas");
    assert_eq!(
        rule["resources"]["overrides"]["exported_namespace"]["resource"],
        "namespace"
    );
    assert!(
        rule["metricsQuery"]
            .as_str()
            .expect("query")
            .contains("<<.LabelMatchers>>")
    );
    // Its CA volume, with the release substituted, is the copy the chart puts into the
    // monitoring namespace for that release: the README's and the quickstart's.
    let ca = format!("wva.prometheus.caCert={}", fixture("prometheus-ca.crt"));
    let profile = fixture_chart("values-openshift.yaml");
    for (release, namespace) in [
        (
            "workload-variant-autoscaler",
            "workload-variant-autoscaler-system",
        ),
        ("wva", "wva-system"),
    ] {
        let values =
            substitute_release(&read("prometheus-adapter-values.yaml"), release, namespace);
        let adapter: Value = serde_saphyr::from_str(&values).expect("yaml");
        let r = template_release(
            "adapter-ca",
            release,
            namespace,
            &["--values", &profile, "--set-file", &ca],
        );
        let volume = &adapter["extraVolumes"][0]["configMap"]["name"];
        let copy = r
            .named("ConfigMap", volume.as_str().expect("CA ConfigMap name"))
            .unwrap_or_else(|| {
                panic!("release {release}: the chart renders no ConfigMap {volume}")
            });
        assert_eq!(copy["metadata"]["namespace"], adapter_namespace());
    }

    // The vanilla adapter sample serves the same rule from a plain-HTTP Prometheus.
    let plain: Value =
        serde_saphyr::from_str(&read("quickstart/prometheus-adapter-values.yaml")).expect("yaml");
    assert_eq!(plain["rules"], adapter["rules"]);
    assert!(
        plain["prometheus"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://"))
    );
    assert!(
        plain.get("extraVolumes").is_none(),
        "no CA on a plain Prometheus"
    );

    assert_keda_sample_scales_the_chart_va_to_zero(&read("keda-scaledobject.yaml"));

    // The scale-from-zero parameters the samples and the chart docs tell users to set exist.
    let known: BTreeSet<&str> = StaticConfig::SPECS
        .iter()
        .chain(DynamicConfig::SPECS)
        .map(|s| s.key)
        .collect();
    for (name, text) in [
        ("keda-scaledobject.yaml", read("keda-scaledobject.yaml")),
        ("hpa.yaml", read("hpa.yaml")),
        ("docs/helm.md", read("../helm.md")),
        (
            "README.md.in",
            std::fs::read_to_string(chart_dir().join("README.md.in")).expect("README.md.in"),
        ),
    ] {
        let named: BTreeSet<&str> = text
            .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .filter(|word| word.starts_with("SCALE_FROM_ZERO_"))
            .collect();
        assert!(
            !named.is_empty(),
            "{name} names no scale-from-zero parameter"
        );
        for key in named {
            assert!(
                known.contains(key),
                "{name} names {key}, which is no parameter"
            );
        }
    }
}

/// The KEDA sample against what the chart renders for the same variant with scale-to-zero: it
/// scales the VA's target, reads the VA's metric, goes down to 0 and activates (0 -> 1) when WVA
/// wants a replica; the HPA KEDA derives from it is valid.
fn assert_keda_sample_scales_the_chart_va_to_zero(sample: &str) {
    let keda = Rendered {
        docs: parse_documents(sample),
    };
    let keda = keda.one("ScaledObject");
    assert_eq!(keda["apiVersion"], "keda.sh/v1alpha1");
    let spec = &keda["spec"];
    let r = template(
        "keda-model",
        &[
            "--set",
            "controller.enabled=false,hpa.enabled=false,wva.scaleToZero=true",
            "--set",
            "llmd.namespace=llm-inference,llmd.modelName=llama-8b,llmd.deploymentName=llama-8b-a100",
            "--set",
            "llmd.modelID=meta/llama-3.1-8b,va.accelerator=A100,va.minReplicas=0",
        ],
    );
    let va = r.one("VariantAutoscaling");
    assert_eq!(spec["scaleTargetRef"], va["spec"]["scaleTargetRef"]);
    assert_eq!(keda["metadata"]["namespace"], va["metadata"]["namespace"]);
    assert_eq!(va["spec"]["minReplicas"], 0);
    assert_eq!(
        spec["minReplicaCount"], 0,
        "scale-to-zero needs minReplicaCount 0"
    );
    let trigger = &spec["triggers"][0];
    assert_eq!(trigger["type"], "prometheus");
    assert_eq!(trigger["metricType"], "AverageValue");
    let meta = &trigger["metadata"];
    assert_eq!(meta["threshold"], "1");
    let activation: f64 = meta["activationThreshold"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("activationThreshold, a number as a string");
    assert!(
        (0.0..1.0).contains(&activation),
        "0 -> 1 must activate when WVA wants 1 replica: activationThreshold {activation}"
    );
    assert_eq!(
        meta["ignoreNullValues"], "false",
        "no series must not read as 0"
    );
    let query = meta["query"].as_str().expect("query");
    assert!(query.starts_with("max(wva_desired_replicas{"), "{query}");
    for label in [
        format!(
            "variant_name=\"{}\"",
            va["metadata"]["name"].as_str().expect("name")
        ),
        format!(
            "exported_namespace=\"{}\"",
            va["metadata"]["namespace"].as_str().expect("namespace")
        ),
    ] {
        assert!(query.contains(&label), "{query} lacks {label}");
    }
    // The HPA KEDA creates from it (1..maxReplicaCount; KEDA handles 0 <-> 1) must be valid.
    let hpa = serde_json::json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-llama-8b-a100", "namespace": keda["metadata"]["namespace"]},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            "minReplicas": 1,
            "maxReplicas": spec["maxReplicaCount"],
            "metrics": [{"type": "External", "external": {
                "metric": {"name": "s0-prometheus"},
                "target": {"type": "AverageValue", "averageValue": meta["threshold"]}}}],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
        },
    });
    validate("keda-hpa", &Rendered { docs: vec![hpa] });
}

/// Every file docs/quickstart.md uses, with what checks it (besides the test below).
const QUICKSTART_SAMPLES: [&str; 8] = [
    "quickstart/prometheus-values.yaml",         // promtool, below
    "quickstart/vllm-deployments.yaml",          // kubernetes-validate, below
    "quickstart/prometheus-adapter-values.yaml", // samples_are_valid_...
    "quickstart/thresholds-values.yaml",         // rendered and parsed, below
    "keda-scaledobject.yaml",                    // samples_are_valid_...
    "variantautoscaling-two-variants.yaml",      // samples_are_valid_...
    "hpa.yaml",                                  // samples_are_valid_...
    "prometheus-adapter-values.yaml",            // samples_are_valid_... (OpenShift)
];

/// docs/quickstart.md has no inline manifest: every file it applies is a checked sample, and
/// the samples agree with each other and with what the controller reads.
#[test]
fn quickstart_uses_only_checked_sample_files() {
    let samples = Path::new(ROOT).join("docs/samples");
    let read = |name: &str| {
        std::fs::read_to_string(samples.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let guide = std::fs::read_to_string(Path::new(ROOT).join("docs/quickstart.md"))
        .expect("docs/quickstart.md");
    let mut used = BTreeSet::new();
    for (at, _) in guide.match_indices("docs/samples/") {
        let rest = &guide[at + "docs/samples/".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_./".contains(c)))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        if !name.is_empty() && !name.ends_with('/') {
            used.insert(name.to_string());
        }
    }
    assert!(used.len() >= 6, "{used:?}");
    for name in &used {
        assert!(
            QUICKSTART_SAMPLES.contains(&name.as_str()),
            "docs/quickstart.md uses docs/samples/{name}, which no test checks"
        );
        assert!(
            samples.join(name).is_file(),
            "docs/samples/{name} does not exist"
        );
    }
    let mut in_code = false;
    for line in guide.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            assert!(
                !line.trim_start().starts_with("apiVersion:") && !line.contains("<<EOF"),
                "docs/quickstart.md has an inline manifest ({line:?}): make it a file under docs/samples/"
            );
        }
    }

    // Prometheus: the scrape jobs are a valid configuration and label series by namespace and pod.
    let values: Value =
        serde_saphyr::from_str(&read("quickstart/prometheus-values.yaml")).expect("yaml");
    let jobs = values["extraScrapeConfigs"]
        .as_str()
        .expect("extraScrapeConfigs");
    let parsed: Value = serde_saphyr::from_str(jobs).expect("scrape jobs");
    // Debian's Prometheus is built without Kubernetes service discovery: promtool checks the
    // rest of each job with a static target in its place.
    let dir = scratch("quickstart-prometheus");
    let token = dir.join("token");
    std::fs::write(&token, "token").expect("write token");
    let mut checked = parsed.clone();
    for job in checked.as_array_mut().expect("a list of jobs") {
        let sd = job
            .as_object_mut()
            .and_then(|j| j.remove("kubernetes_sd_configs"))
            .expect("jobs discover their targets in Kubernetes");
        assert!(["pod", "endpoints"].contains(&sd[0]["role"].as_str().unwrap_or_default()));
        job["static_configs"] = serde_json::json!([{"targets": ["localhost:8000"]}]);
        // The pod's ServiceAccount token, which promtool wants to exist.
        if let Some(file) = job.pointer_mut("/authorization/credentials_file") {
            assert_eq!(file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
            *file = Value::String(token.display().to_string());
        }
    }
    let config = dir.join("prometheus.yml");
    let config_text = serde_json::json!({ "scrape_configs": checked }).to_string();
    std::fs::write(&config, config_text).expect("write config");
    let out = run(Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&config));
    assert!(
        out.status.success(),
        "promtool check config:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let vllm_job = parsed
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job_name"] == "vllm"))
        .expect("vllm job");
    let targets: BTreeSet<&str> = vllm_job["relabel_configs"]
        .as_array()
        .expect("relabel_configs")
        .iter()
        .filter_map(|r| r["target_label"].as_str())
        .collect();
    assert_eq!(targets, BTreeSet::from(["namespace", "pod"]));
    // The controller job keeps the metrics Service of the quickstart's release (wva-system):
    // its control-plane label and its port name.
    let controller_job = parsed
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job_name"] == "wva-controller"))
        .expect("wva-controller job");
    assert_eq!(
        controller_job["kubernetes_sd_configs"][0]["namespaces"]["names"],
        serde_json::json!([NAMESPACE])
    );
    let keep = |source: &str| {
        controller_job["relabel_configs"]
            .as_array()
            .expect("relabel_configs")
            .iter()
            .find(|r| r["action"] == "keep" && r["source_labels"][0] == source)
            .and_then(|r| r["regex"].as_str())
            .unwrap_or_else(|| panic!("no keep rule on {source}"))
            .to_string()
    };
    let service = template("quickstart-controller", &[]);
    let service = service
        .suffixed("Service", "-metrics")
        .expect("metrics Service");
    assert_eq!(
        service["metadata"]["labels"]["control-plane"],
        keep("__meta_kubernetes_service_label_control_plane").as_str()
    );
    assert_eq!(
        service["spec"]["ports"][0]["name"],
        keep("__meta_kubernetes_endpoint_port_name").as_str()
    );

    // vLLM: valid Deployments whose pods the vllm job keeps and whose model_name is the VAs'
    // modelID; each VA targets one of them.
    let deployments = Rendered {
        docs: parse_documents(&read("quickstart/vllm-deployments.yaml")),
    };
    validate("quickstart-vllm", &deployments);
    let vas = parse_documents(&read("variantautoscaling-two-variants.yaml"));
    for va in &vas {
        let target = va["spec"]["scaleTargetRef"]["name"]
            .as_str()
            .expect("target");
        let deploy = deployments
            .named("Deployment", target)
            .unwrap_or_else(|| panic!("no Deployment {target} for VA {}", va["metadata"]["name"]));
        assert_eq!(deploy["metadata"]["namespace"], va["metadata"]["namespace"]);
        let pod = &deploy["spec"]["template"];
        assert!(pod["metadata"]["labels"]["llm-d.ai/model"].is_string());
        let container = &pod["spec"]["containers"][0];
        assert_eq!(
            container["ports"][0]["name"], "vllm",
            "the port the vllm job keeps"
        );
        let served = format!(
            "--served-model-name={}",
            va["spec"]["modelID"].as_str().expect("modelID")
        );
        assert!(
            container["args"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == served.as_str())),
            "{target}: vLLM's model_name must equal the VA's modelID ({served})"
        );
    }

    // Thresholds: the values file renders a saturation ConfigMap whose override reaches the model.
    let thresholds = samples.join("quickstart/thresholds-values.yaml");
    let r = template(
        "quickstart-thresholds",
        &["--values", thresholds.to_str().expect("utf-8 path")],
    );
    let sat = r
        .named("ConfigMap", "wva-saturation-scaling-config")
        .expect("saturation");
    let parsed = wva_api::saturation::parse_saturation(&string_map(&sat["data"]));
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let model = vas[0]["spec"]["modelID"].as_str().expect("modelID");
    let t = wva_api::saturation::thresholds_for(&parsed.entries, model, "llm-inference");
    assert_eq!((t.kv_cache_threshold, t.kv_spare_trigger), (0.7, 0.35));
}

/// Every declared controller parameter reaches the cluster through the chart: either the chart
/// sets it (args, env or a curated value) or it is a key of `wva.parameters` whose value lands in
/// the main ConfigMap. Credentials and the env-only keys that locate the ConfigMap stay out.
#[test]
fn every_controller_parameter_is_a_helm_value_written_to_the_main_config_map() {
    use wva_api::helm_parameters::{CHART_SET, offered};
    let templates: String = std::fs::read_dir(chart_dir().join("templates"))
        .expect("templates")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("read template"))
        .collect();
    for key in CHART_SET {
        let spec = wva_api::render::parameters()
            .find(|p| p.key == *key)
            .expect("declared");
        let flag = spec.flag_display().unwrap_or_default();
        assert!(
            templates.contains(&format!("{key}:"))
                || templates.contains(&format!("name: {key}"))
                || (!flag.is_empty() && templates.contains(&format!("- {flag}"))),
            "{key} is in CHART_SET but no template sets it"
        );
    }
    let r = template("parameters", &[]);
    let data = string_map(&r.main_config_map().expect("main ConfigMap")["data"]);
    let defaults = render::default_values().expect("defaults render");
    let values = &defaults["wva"]["parameters"];
    for spec in wva_api::render::parameters() {
        let offered_here = offered().any(|p| p.key == spec.key);
        if spec.env_only || spec.secret || CHART_SET.contains(&spec.key) {
            assert!(!offered_here, "{} offered twice", spec.key);
            continue;
        }
        assert!(
            values.get(spec.key).is_some(),
            "{} not in wva.parameters",
            spec.key
        );
        match spec.default {
            Some(default) if !default.is_empty() => {
                assert_eq!(
                    data.get(spec.key).map(String::as_str),
                    Some(default),
                    "{}",
                    spec.key
                )
            }
            _ => assert!(
                !data.contains_key(spec.key),
                "{} written while unset",
                spec.key
            ),
        }
    }
    assert!(!data.contains_key("PROMETHEUS_BEARER_TOKEN"));

    let r = template(
        "parameters-set",
        &[
            "--set",
            "wva.parameters.PROMETHEUS_QUERY_RETRIES=5,wva.parameters.LOG_JSON=true",
            "--set-string",
            "wva.parameters.PROMETHEUS_SERVER_NAME=prometheus.monitoring.svc",
        ],
    );
    let data = string_map(&r.main_config_map().expect("main ConfigMap")["data"]);
    assert_eq!(data["PROMETHEUS_QUERY_RETRIES"], "5");
    assert_eq!(data["LOG_JSON"], "true");
    assert_eq!(data["PROMETHEUS_SERVER_NAME"], "prometheus.monitoring.svc");

    for (set, expected) in [
        ("wva.parameters.NO_SUCH_KEY=1", "NO_SUCH_KEY"),
        (
            "wva.parameters.PROMETHEUS_BEARER_TOKEN=t",
            "PROMETHEUS_BEARER_TOKEN",
        ),
        ("wva.parameters.LOG_JSON[0]=x", "LOG_JSON"),
    ] {
        let err = template_error(&["--set", set]);
        assert!(
            err.contains("values don't meet the specifications of the schema")
                && err.contains(expected),
            "{set}: {err}"
        );
    }
}

/// `va.targetKind` names the kind the VA and the HPA scale, with its API version: a
/// StatefulSet under `apps/v1`, a LeaderWorkerSet under `leaderworkerset.x-k8s.io/v1`.
#[test]
fn the_target_kind_sets_the_scale_target_of_the_va_and_the_hpa() {
    for (kind, api_version) in [
        ("StatefulSet", "apps/v1"),
        ("LeaderWorkerSet", "leaderworkerset.x-k8s.io/v1"),
    ] {
        let name = format!("target-{}", kind.to_lowercase());
        let kind_value = format!("va.targetKind={kind}");
        let r = template(
            &name,
            &[
                "--set",
                "wva.prometheus.baseURL=https://p:9090",
                "--set",
                "llmd.modelName=big,llmd.modelID=acme/big,llmd.deploymentName=big-decode",
                "--set",
                &kind_value,
            ],
        );
        validate(&name, &r);
        let expected =
            serde_json::json!({"apiVersion": api_version, "kind": kind, "name": "big-decode"});
        for object in ["VariantAutoscaling", "HorizontalPodAutoscaler"] {
            assert_eq!(
                r.one(object)["spec"]["scaleTargetRef"],
                expected,
                "{name}: {object}"
            );
        }
    }
}
