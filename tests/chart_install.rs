//! The Helm chart installed for real: `helm install`, `helm upgrade` and `helm uninstall` against
//! the real kube-apiserver named by `WVA_E2E_KUBECONFIG` (tests/run.sh starts the control plane
//! of `/work/shared/k8s` and sets it). Without it every test prints why and returns.
//!
//! The cluster may be shared: every test works in namespaces and releases of its own and deletes
//! them, also when it fails. What the chart renders depends on whether the cluster serves the
//! ServiceMonitor API, and one test creates that CRD: every test holds a file lock, so they run
//! one at a time.
//!
//! helm: `WVA_HELM_BIN`, else `${WVA_TOOLS:-.ci/tools}/bin/helm` (`bash tests/tools/install-helm.sh`),
//! else PATH.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wva_api::crd::VariantAutoscaling;
use wva_api::helm_values::README_OPENSHIFT_FLAGS;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CHART: &str = "charts/workload-variant-autoscaler";
/// How long a wait for the API server or the controller may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// The README's Prometheus flags (a plain-HTTP Prometheus; nothing here queries it).
const PLAIN_PROMETHEUS: [&str; 4] = [
    "--set",
    "wva.prometheus.baseURL=http://prometheus-server.monitoring.svc:80",
    "--set",
    "wva.prometheus.allowHTTP=true",
];
/// The CRD of the Prometheus Operator's ServiceMonitor (what an OpenShift cluster serves).
const SERVICE_MONITOR_CRD: &str = "servicemonitors.monitoring.coreos.com";

/// The kubeconfig of the real cluster, or `None` after printing why the test does nothing.
fn cluster(test: &str) -> Option<PathBuf> {
    match std::env::var("WVA_E2E_KUBECONFIG") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            println!(
                "{test}: skipped: WVA_E2E_KUBECONFIG is not set (tests/run.sh sets it after \
                 starting the control plane of /work/shared/k8s/up.sh)"
            );
            None
        }
    }
}

async fn client_for(kubeconfig: &Path) -> Client {
    let text = std::fs::read_to_string(kubeconfig)
        .unwrap_or_else(|e| panic!("{}: {e}", kubeconfig.display()));
    let kc: kube::config::Kubeconfig = serde_saphyr::from_str(&text).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    Client::try_from(config).expect("client")
}

/// A name unique to this process and call, usable as a namespace.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique(&format!("install-{name}")));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// helm against the test cluster, with its own config, cache and data dirs.
struct Helm {
    kubeconfig: PathBuf,
    dir: PathBuf,
}

impl Helm {
    fn new(kubeconfig: &Path, name: &str) -> Helm {
        Helm {
            kubeconfig: kubeconfig.to_path_buf(),
            dir: scratch(name),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(wva_testkit::tools::helm())
            .current_dir(ROOT)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", self.dir.join("config"))
            .env("HELM_CACHE_HOME", self.dir.join("cache"))
            .env("HELM_DATA_HOME", self.dir.join("data"))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run helm: {e}"))
    }

    /// Runs helm; fails the test with helm's output unless it succeeds.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `helm upgrade` of `release` in `namespace`, keeping its values and adding `set`.
    fn upgrade(&self, release: &str, namespace: &str, set: &str) -> String {
        self.ok(&[
            "upgrade",
            release,
            CHART,
            "-n",
            namespace,
            "--reuse-values",
            "--set",
            set,
        ])
    }

    /// The objects of a release, from `helm get manifest`.
    fn manifest(&self, release: &str, namespace: &str) -> Vec<Value> {
        let out = self.ok(&["get", "manifest", release, "-n", namespace]);
        out.split("\n---")
            .filter(|chunk| {
                chunk.lines().any(|l| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with('#') && t != "---"
                })
            })
            .map(|chunk| serde_saphyr::from_str(chunk).expect("manifest is YAML"))
            .collect()
    }
}

/// What a test created, deleted at the end even when it fails: releases first, then namespaces
/// and CRDs; the cluster lock is released only after that.
struct Cleanup {
    helm: Helm,
    releases: Vec<(String, String)>,
    namespaces: Vec<String>,
    crds: Vec<String>,
    _lock: std::fs::File,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (release, namespace) in self.releases.iter().rev() {
            self.helm
                .run(&["uninstall", release, "-n", namespace, "--wait"]);
        }
        let kubeconfig = self.helm.kubeconfig.clone();
        let namespaces = std::mem::take(&mut self.namespaces);
        let crds = std::mem::take(&mut self.crds);
        // Drop may run inside the test's runtime: delete from a runtime of its own.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let client = client_for(&kubeconfig).await;
                for ns in namespaces {
                    let _ = Api::<Namespace>::all(client.clone())
                        .delete(&ns, &DeleteParams::default())
                        .await;
                }
                for crd in crds {
                    let _ = Api::<CustomResourceDefinition>::all(client.clone())
                        .delete(&crd, &DeleteParams::default())
                        .await;
                }
            })
        })
        .join();
        if deleted.is_err() {
            eprintln!("cleanup failed: namespaces or CRDs may be left behind");
        }
    }
}

/// Holds the lock that serializes the tests for which the ServiceMonitor API matters.
fn monitor_api_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("wva-chart-install-servicemonitor.lock");
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock().expect("lock");
    file
}

/// API discovery, retried: right after a CRD is deleted a group can be listed whose version
/// then answers 404.
async fn discover(client: &Client) -> Discovery {
    let start = Instant::now();
    loop {
        match Discovery::new(client.clone()).run().await {
            Ok(discovery) => return discovery,
            Err(e) => assert!(start.elapsed() < DEADLINE, "API discovery fails: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn serves_service_monitors(client: &Client) -> bool {
    discover(client)
        .await
        .resolve_gvk(&GroupVersionKind::gvk(
            "monitoring.coreos.com",
            "v1",
            "ServiceMonitor",
        ))
        .is_some()
}

async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("cannot create namespace {name}: {e}"),
    }
}

/// Whether the object of a manifest exists in the cluster.
async fn exists(client: &Client, discovery: &Discovery, object: &Value) -> bool {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().expect("kind");
    let name = object["metadata"]["name"].as_str().expect("name");
    let (resource, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
        .unwrap_or_else(|| panic!("the cluster does not serve {api_version} {kind}"));
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} {name} has no namespace")),
            &resource,
        ),
    };
    api.get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("get {kind} {name}: {e}"))
        .is_some()
}

/// Waits until `helm uninstall` has removed every object of `manifest` (Secrets and
/// ServiceAccounts go at once; the garbage collector may take a moment for dependents).
async fn assert_all_gone(client: &Client, manifest: &[Value]) {
    let discovery = discover(client).await;
    let start = Instant::now();
    loop {
        let mut left = Vec::new();
        for object in manifest {
            if exists(client, &discovery, object).await {
                left.push(format!(
                    "{} {}/{}",
                    object["kind"],
                    object["metadata"]["namespace"].as_str().unwrap_or(""),
                    object["metadata"]["name"]
                ));
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "orphans after helm uninstall: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn assert_all_exist(client: &Client, manifest: &[Value]) {
    let discovery = discover(client).await;
    for object in manifest {
        assert!(
            exists(client, &discovery, object).await,
            "{} {} was not created",
            object["kind"],
            object["metadata"]["name"]
        );
    }
}

fn of_kind<'a>(manifest: &'a [Value], kind: &str) -> Vec<&'a Value> {
    manifest.iter().filter(|o| o["kind"] == kind).collect()
}

/// One test's hold on the cluster: `None` (after saying why) without a cluster; else an admin
/// client, a release namespace `<prefix>-<unique>` of its own and the cleanup that deletes it
/// (and holds the lock until then).
async fn start(test: &str, prefix: &str) -> Option<(Client, String, Cleanup)> {
    let kubeconfig = cluster(test)?;
    let lock = monitor_api_lock();
    let client = client_for(&kubeconfig).await;
    let ns = unique(prefix);
    let cleanup = Cleanup {
        helm: Helm::new(&kubeconfig, test),
        releases: Vec::new(),
        namespaces: vec![ns.clone()],
        crds: Vec::new(),
        _lock: lock,
    };
    Some((client, ns, cleanup))
}

/// The README's install command as written, then `helm upgrade` and `helm uninstall`: the
/// controller only, in the release namespace, ServiceMonitors exactly when the cluster serves
/// them; no orphans but the CRD.
#[tokio::test]
async fn defaults_install_upgrade_and_uninstall_on_a_vanilla_cluster() {
    let Some((client, ns, mut cleanup)) = start("defaults", "wva-defaults").await else {
        return;
    };
    cleanup.releases.push(("wva".into(), ns.clone()));
    let helm = &cleanup.helm;
    let monitors = serves_service_monitors(&client).await;
    helm.ok(&[
        &["install", "wva", CHART, "-n", &ns, "--create-namespace"][..],
        &PLAIN_PROMETHEUS,
    ]
    .concat());
    let manifest = helm.manifest("wva", &ns);
    assert_all_exist(&client, &manifest).await;
    for object in &manifest {
        let kind = object["kind"].as_str().unwrap_or_default();
        if !kind.starts_with("Cluster") {
            assert_eq!(object["metadata"]["namespace"], ns.as_str(), "{kind}");
        }
    }
    assert_eq!(of_kind(&manifest, "Deployment").len(), 1);
    for kind in ["VariantAutoscaling", "HorizontalPodAutoscaler"] {
        assert!(
            of_kind(&manifest, kind).is_empty(),
            "{kind} without a model"
        );
    }
    assert_eq!(
        of_kind(&manifest, "ServiceMonitor").len(),
        usize::from(monitors),
        "a ServiceMonitor exactly when the cluster serves the API (it does: {monitors})"
    );
    let crd = Api::<CustomResourceDefinition>::all(client.clone());
    assert!(
        crd.get_opt("variantautoscalings.llmd.ai")
            .await
            .expect("get CRD")
            .is_some()
    );

    // helm upgrade: a live value reaches the main ConfigMap.
    helm.upgrade("wva", &ns, "wva.reconcileInterval=30s");
    let main = "wva-workload-variant-autoscaler-variantautoscaling-config";
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get(main)
        .await
        .expect("main ConfigMap");
    assert_eq!(
        cm.data.unwrap_or_default().get("GLOBAL_OPT_INTERVAL"),
        Some(&"30s".to_string())
    );

    helm.ok(&["uninstall", "wva", "-n", &ns, "--wait"]);
    cleanup.releases.clear();
    assert_all_gone(&client, &manifest).await;
    assert!(
        crd.get_opt("variantautoscalings.llmd.ai")
            .await
            .expect("get CRD")
            .is_some(),
        "helm leaves the CRD"
    );
}

/// `values-openshift.yaml` with the chart README's OpenShift command, on a cluster given what
/// it expects (the ServiceMonitor CRD, the user-workload monitoring and llm-d namespaces).
#[tokio::test]
async fn openshift_profile_installs_upgrades_and_uninstalls() {
    let Some((client, ns, mut cleanup)) = start("openshift", "wva-openshift").await else {
        return;
    };
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    if crds
        .get_opt(SERVICE_MONITOR_CRD)
        .await
        .expect("get CRD")
        .is_none()
    {
        let crd: CustomResourceDefinition = serde_saphyr::from_str(
            &std::fs::read_to_string(Path::new(ROOT).join("tests/chart/servicemonitor-crd.yaml"))
                .expect("tests/chart/servicemonitor-crd.yaml"),
        )
        .expect("CRD YAML");
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("create the ServiceMonitor CRD");
        cleanup.crds.push(SERVICE_MONITOR_CRD.into());
        let start = Instant::now();
        while !serves_service_monitors(&client).await {
            assert!(start.elapsed() < DEADLINE, "ServiceMonitor API not served");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    for expected in ["openshift-user-workload-monitoring", "llm-d-autoscaler"] {
        let api = Api::<Namespace>::all(client.clone());
        if api.get_opt(expected).await.expect("get ns").is_none() {
            create_namespace(&client, expected).await;
            cleanup.namespaces.push(expected.into());
        }
    }
    let ca = format!(
        "wva.prometheus.caCert={}",
        Path::new(ROOT)
            .join("tests/chart/prometheus-ca.crt")
            .display()
    );
    let profile = format!("{CHART}/values-openshift.yaml");
    let release = "workload-variant-autoscaler";
    cleanup.releases.push((release.into(), ns.clone()));
    let install = [
        &[
            "upgrade",
            "-i",
            release,
            CHART,
            "-n",
            &ns,
            "--create-namespace",
            "-f",
            &profile,
            "--set-file",
            &ca,
        ][..],
        &README_OPENSHIFT_FLAGS,
    ]
    .concat();
    cleanup.helm.ok(&install);
    let manifest = cleanup.helm.manifest(release, &ns);
    assert_all_exist(&client, &manifest).await;
    let namespaces: BTreeSet<&str> = manifest
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str())
        .collect();
    assert_eq!(
        namespaces,
        BTreeSet::from([
            ns.as_str(),
            "llm-d-autoscaler",
            "openshift-user-workload-monitoring"
        ])
    );
    assert_eq!(of_kind(&manifest, "ServiceMonitor").len(), 2);
    let vllm = of_kind(&manifest, "Service")
        .into_iter()
        .find(|s| s["metadata"]["namespace"] == "llm-d-autoscaler")
        .expect("vLLM Service");
    assert_eq!(vllm["spec"]["ports"][0]["nodePort"], 30000);

    // helm upgrade changes the VA in place.
    cleanup.helm.upgrade(release, &ns, "va.accelerator=H100");
    let va = Api::<VariantAutoscaling>::namespaced(client.clone(), "llm-d-autoscaler")
        .get("ms-inference-scheduling-llm-d-modelservice-decode")
        .await
        .expect("VA");
    assert_eq!(
        va.metadata.labels.unwrap_or_default()["inference.optimization/acceleratorName"],
        "H100"
    );

    cleanup
        .helm
        .ok(&["uninstall", release, "-n", &ns, "--wait"]);
    cleanup.releases.clear();
    assert_all_gone(&client, &manifest).await;
}

/// One controller release and two model releases (`controller.enabled=false`) in one namespace:
/// no name collides, uninstalling one model leaves the other, nothing is left at the end.
#[tokio::test]
async fn two_model_releases_beside_one_controller_do_not_collide() {
    let Some((client, ns, mut cleanup)) = start("multi-model", "wva-multi").await else {
        return;
    };
    let (team_a, team_b) = (unique("wva-team-a"), unique("wva-team-b"));
    cleanup.namespaces.extend([team_a.clone(), team_b.clone()]);
    create_namespace(&client, &team_a).await;
    create_namespace(&client, &team_b).await;
    cleanup.releases.push(("wva-controller".into(), ns.clone()));
    cleanup.helm.ok(&[
        &[
            "upgrade",
            "-i",
            "wva-controller",
            CHART,
            "-n",
            &ns,
            "--create-namespace",
        ][..],
        &PLAIN_PROMETHEUS,
    ]
    .concat());
    let mut manifests = Vec::new();
    for (release, team, model) in [
        ("wva-model-a", &team_a, "my-model-a"),
        ("wva-model-b", &team_b, "my-model-b"),
    ] {
        cleanup.releases.push((release.into(), ns.clone()));
        let values = format!(
            "controller.enabled=false,llmd.namespace={team},llmd.modelName={model},\
             llmd.modelID=meta-llama/Llama-3.1-8B"
        );
        cleanup
            .helm
            .ok(&["upgrade", "-i", release, CHART, "-n", &ns, "--set", &values]);
        let manifest = cleanup.helm.manifest(release, &ns);
        assert_all_exist(&client, &manifest).await;
        assert_eq!(of_kind(&manifest, "VariantAutoscaling").len(), 1);
        assert_eq!(of_kind(&manifest, "Deployment").len(), 0);
        manifests.push(manifest);
    }
    // An upgrade of a model release keeps working beside the others.
    cleanup
        .helm
        .upgrade("wva-model-a", &ns, "va.variantCost=20.0");
    let va = Api::<VariantAutoscaling>::namespaced(client.clone(), &team_a)
        .get("my-model-a-decode")
        .await
        .expect("VA of model a");
    assert_eq!(va.spec.variant_cost, "20.0");

    let controller = cleanup.helm.manifest("wva-controller", &ns);
    cleanup
        .helm
        .ok(&["uninstall", "wva-model-a", "-n", &ns, "--wait"]);
    assert_all_gone(&client, &manifests[0]).await;
    assert_all_exist(&client, &manifests[1]).await;
    assert_all_exist(&client, &controller).await;
    for release in ["wva-model-b", "wva-controller"] {
        cleanup
            .helm
            .ok(&["uninstall", release, "-n", &ns, "--wait"]);
    }
    cleanup.releases.clear();
    assert_all_gone(&client, &manifests[1]).await;
    assert_all_gone(&client, &controller).await;
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A kubeconfig for the cluster of `admin` that authenticates with `token` only.
fn token_kubeconfig(admin: &Path, token: &str, path: &Path) {
    let text = std::fs::read_to_string(admin).expect("admin kubeconfig");
    let admin: Value = serde_saphyr::from_str(&text).expect("kubeconfig parses");
    let cluster = &admin["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": "sa"}}],
        "current-context": "sa",
    });
    std::fs::write(path, config.to_string()).expect("write kubeconfig");
}

/// Creates `namespace` and in it the model Deployment `llama` with `replicas` (its image is
/// never pulled: nothing here needs it to run).
async fn create_model_deployment(admin: &Client, namespace: &str, replicas: i32) {
    create_namespace(admin, namespace).await;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "llama", "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "llama"}},
            "template": {
                "metadata": {"labels": {"app": "llama"}},
                "spec": {"containers": [{"name": "vllm", "image": "registry.invalid/vllm:none"}]}
            }
        }
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("Deployment created");
}

/// The ServiceAccount the chart's controller runs as (release `wva`).
const CONTROLLER_ACCOUNT: &str = "wva-workload-variant-autoscaler-controller-manager";

/// A client acting as the chart's controller ServiceAccount in `namespace`, through a
/// kubeconfig (in the scratch folder `name`) derived from the admin's `admin_kubeconfig`.
async fn controller_client(
    admin_kubeconfig: &Path,
    admin: &Client,
    namespace: &str,
    name: &str,
) -> Client {
    let kubeconfig = scratch(name).join("kubeconfig");
    token_kubeconfig(
        admin_kubeconfig,
        &controller_token(admin, namespace).await,
        &kubeconfig,
    );
    client_for(&kubeconfig).await
}

/// A token of the chart's controller ServiceAccount in `namespace` (TokenRequest, 1 h).
async fn controller_token(admin: &Client, namespace: &str) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), namespace)
        .create_token_request(CONTROLLER_ACCOUNT, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .expect("token issued")
        .token
}

/// The `wva run` process, killed when dropped.
struct Controller {
    child: Child,
    log: PathBuf,
}

impl Controller {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test with the log when the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("wva run exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` returns `Some`, keeping an eye on the controller.
async fn wait_for<T, F, Fut>(controller: &mut Controller, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        controller.assert_running();
        assert!(
            start.elapsed() < DEADLINE,
            "{what} did not happen within {DEADLINE:?}; wva log:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether the API server allows the client's user `verb` on `resource`.
async fn allowed(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    review(
        client,
        SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                namespace: namespace.map(String::from),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
    )
    .await
}

/// Whether the API server allows the client's user `verb` on the non-resource URL `path`
/// (what a server that authorizes with SubjectAccessReviews, like the endpoint picker's metrics
/// endpoint, is told).
async fn allowed_url(client: &Client, verb: &str, path: &str) -> bool {
    review(
        client,
        SelfSubjectAccessReviewSpec {
            non_resource_attributes: Some(NonResourceAttributes {
                verb: Some(verb.into()),
                path: Some(path.into()),
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
    )
    .await
}

/// The answer of a SelfSubjectAccessReview.
async fn review(client: &Client, spec: SelfSubjectAccessReviewSpec) -> bool {
    let review = SelfSubjectAccessReview {
        spec,
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SelfSubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>, what: &str) {
    match result {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// The chart's RBAC is enough and no more: `wva run`, authenticated only as the chart's
/// ServiceAccount, elects itself leader, watches its ConfigMaps, writes VA status and events;
/// the same identity may not delete Deployments, read Secrets, write a VA's spec or read Nodes.
#[tokio::test]
async fn the_charts_rbac_is_enough_for_wva_run_and_no_more() {
    let Some((admin, ns, mut cleanup)) = start("rbac", "wva-rbac").await else {
        return;
    };
    let kubeconfig = cleanup.helm.kubeconfig.clone();
    let models = unique("wva-rbac-models");
    cleanup.releases.push(("wva".into(), ns.clone()));
    cleanup.namespaces.push(models.clone());
    let prometheus = wva_testkit::Prometheus::start(Vec::new()).expect("Prometheus starts");
    let base_url = format!("wva.prometheus.baseURL={}", prometheus.url());
    // The cluster is shared: a controller instance of its own keeps this controller to this
    // test's VA (its namespace name is unique).
    let instance = format!("wva.controllerInstance={ns}");
    cleanup.helm.ok(&[
        "install",
        "wva",
        CHART,
        "-n",
        &ns,
        "--create-namespace",
        "--set",
        &base_url,
        "--set",
        "wva.prometheus.allowHTTP=true,wva.reconcileInterval=2s,wva.logging.level=debug",
        "--set",
        &instance,
    ]);
    let manifest = cleanup.helm.manifest("wva", &ns);

    // A model: a Deployment and its VA, without an accelerator (so WVA says so in an event).
    create_model_deployment(&admin, &models, 1).await;
    let va: VariantAutoscaling = serde_json::from_value(json!({
        "apiVersion": "llmd.ai/v1alpha1",
        "kind": "VariantAutoscaling",
        "metadata": {
            "name": "llama",
            "namespace": models,
            "labels": {"wva.llmd.ai/controller-instance": ns}
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama"},
            "modelID": "meta/llama-3.1-8b"
        }
    }))
    .expect("VA");
    Api::<VariantAutoscaling>::namespaced(admin.clone(), &models)
        .create(&PostParams::default(), &va)
        .await
        .expect("VA created");

    // The chart's ServiceAccount, and nothing else, for `wva run`.
    let token = controller_token(&admin, &ns).await;
    let dir = scratch("rbac-wva");
    let sa_kubeconfig = dir.join("kubeconfig");
    token_kubeconfig(&kubeconfig, &token, &sa_kubeconfig);
    let prometheus_token = dir.join("prometheus-token");
    std::fs::write(&prometheus_token, "unused").expect("token file");
    let log = dir.join("wva.log");
    let metrics_port = free_port();
    let log_file = std::fs::File::create(&log).expect("log file");
    // The installed Deployment's command, args and env, with loopback ports.
    let container =
        &of_kind(&manifest, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0];
    let mut command = Command::new(env!("CARGO_BIN_EXE_wva"));
    for arg in container["args"].as_array().expect("args") {
        let arg = arg.as_str().expect("arg");
        command.arg(match arg.split_once('=') {
            Some(("--health-probe-bind-address", _)) => {
                format!("--health-probe-bind-address=127.0.0.1:{}", free_port())
            }
            Some(("--metrics-bind-address", _)) => {
                format!("--metrics-bind-address=127.0.0.1:{metrics_port}")
            }
            _ => arg.to_string(),
        });
    }
    command.env_clear();
    for var in container["env"].as_array().expect("env") {
        let name = var["name"].as_str().expect("env name");
        let value = match var["value"].as_str() {
            Some(value) => value,
            None if var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace" => &ns,
            None => panic!("env {name}: only values and the pod namespace are known here"),
        };
        command.env(name, value);
    }
    let child = command
        .env("KUBECONFIG", &sa_kubeconfig)
        // The chart's ConfigMap points at the in-pod token file; this process has none.
        .env("PROMETHEUS_TOKEN_PATH", &prometheus_token)
        .stdout(Stdio::from(log_file.try_clone().expect("log file")))
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("wva run starts");
    let mut controller = Controller { child, log };

    // Leases: it becomes the leader.
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns);
    let holder = wait_for(&mut controller, "leader election", || async {
        leases
            .get_opt("72dd1cf1.llm-d.ai")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
    })
    .await;
    assert!(!holder.is_empty());

    // VA status writes and events in the model namespace.
    let vas: Api<VariantAutoscaling> = Api::namespaced(admin.clone(), &models);
    wait_for(&mut controller, "a status condition on the VA", || async {
        let va = vas.get("llama").await.ok()?;
        let conditions = va.status?.conditions;
        (!conditions.is_empty()).then_some(())
    })
    .await;
    let events: Api<Event> = Api::namespaced(admin.clone(), &models);
    wait_for(&mut controller, "an event on the VA", || async {
        let list = events
            .list(&ListParams::default().fields("involvedObject.name=llama"))
            .await
            .ok()?;
        list.items
            .iter()
            .any(|e| e.involved_object.kind.as_deref() == Some("VariantAutoscaling"))
            .then_some(())
    })
    .await;

    // ConfigMap watch: a restart-only key edited in the main ConfigMap is rejected, with an event.
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    config_maps
        .patch(
            "wva-workload-variant-autoscaler-variantautoscaling-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"PROMETHEUS_QUERY_TIMEOUT": "11s"}})),
        )
        .await
        .expect("ConfigMap patched");
    let ns_events: Api<Event> = Api::namespaced(admin.clone(), &ns);
    wait_for(
        &mut controller,
        "ImmutableConfigChangeRejected on the main ConfigMap",
        || async {
            let list = ns_events
                .list(&ListParams::default().fields("reason=ImmutableConfigChangeRejected"))
                .await
                .ok()?;
            (!list.items.is_empty()).then_some(())
        },
    )
    .await;

    controller.assert_running();
    let denied: Vec<String> = controller
        .log()
        .lines()
        .filter(|l| l.contains("forbidden: User \"system:serviceaccount:"))
        .map(String::from)
        .collect();
    assert!(
        denied.is_empty(),
        "RBAC denied wva run, as the chart's ServiceAccount:\n{}",
        denied.join("\n")
    );
    // The LeaderWorkerSet CRD is watched by name: absent, the controller says so; present (a
    // scenario of tests/e2e_targets installs it for a while), it watches LeaderWorkerSets.
    let log = controller.log();
    assert!(
        log.contains("CRD leaderworkersets.leaderworkerset.x-k8s.io is not installed")
            || log.contains("Watching leaderworkersets"),
        "the LWS CRD watch did not report:\n{log}"
    );

    // HTTPS metrics: the token the chart gives its ServiceMonitor (the metrics-reader's Secret)
    // may scrape, which takes the controller's TokenReview and SubjectAccessReview; the
    // controller's own token may not.
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let reader = wait_for(&mut controller, "the metrics-reader token", || async {
        let secret = secrets
            .get_opt("wva-workload-variant-autoscaler-metrics-reader-token")
            .await
            .ok()??;
        let token = secret.data?.remove("token")?;
        String::from_utf8(token.0).ok()
    })
    .await;
    let scrape = |token: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(format!("https://127.0.0.1:{metrics_port}/metrics"))
            .output()
            .expect("curl runs");
        text(&out.stdout)
    };
    assert_eq!(scrape(&reader), "200", "the ServiceMonitor's token scrapes");
    assert_eq!(
        scrape(&token),
        "403",
        "the controller's token may not read /metrics"
    );

    // No more than that.
    let sa = client_for(&sa_kubeconfig).await;
    for (verb, group, resource, namespace) in [
        ("list", "llmd.ai", "variantautoscalings", None),
        (
            "patch",
            "llmd.ai",
            "variantautoscalings/status",
            Some(models.as_str()),
        ),
        ("update", "coordination.k8s.io", "leases", Some(ns.as_str())),
        ("create", "", "events", Some(models.as_str())),
        ("watch", "", "configmaps", None),
        ("list", "", "pods", None),
        ("list", "apps", "deployments", None),
        (
            "watch",
            "inference.networking.k8s.io",
            "inferencepools",
            None,
        ),
        (
            "watch",
            "inference.networking.x-k8s.io",
            "inferencepools",
            None,
        ),
        ("watch", "apps", "statefulsets", None),
        (
            "watch",
            "leaderworkerset.x-k8s.io",
            "leaderworkersets",
            None,
        ),
    ] {
        assert!(
            allowed(&sa, verb, group, resource, namespace).await,
            "the chart's ServiceAccount may not {verb} {group}/{resource}"
        );
    }
    for (verb, group, resource, namespace) in [
        ("delete", "apps", "deployments", Some(models.as_str())),
        ("patch", "apps", "statefulsets/scale", Some(models.as_str())),
        // Only the LeaderWorkerSet CRD, by name (the controller watches it to notice it).
        (
            "list",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
        ),
        ("update", "apps", "deployments/scale", Some(models.as_str())),
        ("patch", "apps", "deployments/scale", Some(models.as_str())),
        ("get", "", "secrets", Some(ns.as_str())),
        ("list", "", "secrets", None),
        (
            "update",
            "llmd.ai",
            "variantautoscalings",
            Some(models.as_str()),
        ),
        (
            "patch",
            "llmd.ai",
            "variantautoscalings",
            Some(models.as_str()),
        ),
        ("list", "", "nodes", None),
        (
            "create",
            "coordination.k8s.io",
            "leases",
            Some(models.as_str()),
        ),
    ] {
        assert!(
            !allowed(&sa, verb, group, resource, namespace).await,
            "the chart's ServiceAccount may {verb} {group}/{resource} in {namespace:?}"
        );
    }
    forbidden(
        Api::<Deployment>::namespaced(sa.clone(), &models)
            .delete("llama", &DeleteParams::default())
            .await,
        "delete the model's Deployment",
    );
    forbidden(
        Api::<Secret>::namespaced(sa.clone(), &ns)
            .list(&ListParams::default())
            .await,
        "list Secrets",
    );
    forbidden(
        Api::<VariantAutoscaling>::namespaced(sa.clone(), &models)
            .patch(
                "llama",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"variantCost": "1.0"}})),
            )
            .await,
        "write the VA's spec",
    );
    drop(controller);
    drop(prometheus);
    drop(cleanup);
}

/// Waits until `check` answers `want`: the RBAC authorizer reads roles from a cache, so a
/// `helm upgrade` takes effect a moment later.
async fn until<F, Fut>(what: &str, want: bool, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while check().await != want {
        assert!(
            start.elapsed() < DEADLINE,
            "{what} is not {want} within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Scale-from-zero's RBAC, as the chart's ServiceAccount on the real API server. The defaults
/// read InferencePools of both API groups and may not patch a Deployment's scale subresource
/// (403), list Services or get `/metrics`. After `helm upgrade` with
/// `SCALE_FROM_ZERO_ACTUATION=Scale` and `SCALE_FROM_ZERO_SOURCE=epp` the account patches a
/// Deployment at 0 replicas to 1 through its scale subresource, lists Services and may get
/// `/metrics` (what the endpoint picker's SubjectAccessReview asks), but still may not update
/// the scale or delete the Deployment. Back to `metric`, the patch is forbidden again.
#[tokio::test]
async fn scale_from_zero_rbac_follows_the_values_on_a_real_cluster() {
    let Some((admin, ns, mut cleanup)) = start("sfz-rbac", "wva-sfz-rbac").await else {
        return;
    };
    let models = unique("wva-sfz-models");
    cleanup.releases.push(("wva".into(), ns.clone()));
    cleanup.namespaces.push(models.clone());
    let mut install = vec!["install", "wva", CHART, "-n", &ns, "--create-namespace"];
    install.extend(PLAIN_PROMETHEUS);
    cleanup.helm.ok(&install);

    // A model at zero.
    create_model_deployment(&admin, &models, 0).await;
    let as_admin: Api<Deployment> = Api::namespaced(admin.clone(), &models);

    let sa = controller_client(&cleanup.helm.kubeconfig, &admin, &ns, "sfz-rbac").await;
    let as_controller: Api<Deployment> = Api::namespaced(sa.clone(), &models);
    let params = PatchParams::default();
    let to_one = Patch::Merge(json!({"spec": {"replicas": 1}}));
    let start_one = || as_controller.patch_scale("llama", &params, &to_one);
    let may_patch_scale = || allowed(&sa, "patch", "apps", "deployments/scale", Some(&models));

    let upgrade = |actuation: &str, source: &str| {
        let set = format!(
            "wva.parameters.SCALE_FROM_ZERO_ACTUATION={actuation},\
             wva.parameters.SCALE_FROM_ZERO_SOURCE={source}"
        );
        cleanup.helm.upgrade("wva", &ns, &set);
    };

    // Defaults: `metric` actuation, `prometheus` source.
    for group in [
        "inference.networking.k8s.io",
        "inference.networking.x-k8s.io",
    ] {
        for verb in ["get", "list", "watch"] {
            assert!(
                allowed(&sa, verb, group, "inferencepools", None).await,
                "the defaults may not {verb} {group}/inferencepools"
            );
        }
    }
    assert!(!may_patch_scale().await, "the defaults may patch a scale");
    forbidden(start_one().await, "patch the scale with the defaults");
    assert!(!allowed(&sa, "list", "", "services", None).await);
    assert!(!allowed_url(&sa, "get", "/metrics").await);

    // `scale` actuation (any case) and the `epp` source.
    upgrade("Scale", "epp");
    until(
        "patch deployments/scale after the upgrade",
        true,
        may_patch_scale,
    )
    .await;
    let scale = start_one()
        .await
        .expect("the controller's account patches the scale subresource");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    let replicas = as_admin
        .get("llama")
        .await
        .expect("Deployment")
        .spec
        .and_then(|s| s.replicas);
    assert_eq!(replicas, Some(1), "the Deployment went from 0 to 1");
    assert!(allowed(&sa, "get", "apps", "deployments/scale", Some(&models)).await);
    assert!(!allowed(&sa, "update", "apps", "deployments/scale", Some(&models)).await);
    assert!(!allowed(&sa, "patch", "apps", "deployments", Some(&models)).await);
    forbidden(
        as_controller
            .delete("llama", &DeleteParams::default())
            .await,
        "delete the Deployment with scale actuation",
    );
    for verb in ["get", "list", "watch"] {
        assert!(
            allowed(&sa, verb, "", "services", None).await,
            "{verb} services"
        );
    }
    assert!(
        allowed_url(&sa, "get", "/metrics").await,
        "get /metrics with epp"
    );

    // Back to the defaults: no scale subresource, no /metrics.
    upgrade("metric", "prometheus");
    until(
        "patch deployments/scale after going back to metric",
        false,
        may_patch_scale,
    )
    .await;
    forbidden(
        start_one().await,
        "patch the scale after going back to metric",
    );
    assert!(!allowed_url(&sa, "get", "/metrics").await);
    drop(cleanup);
}

/// Discovery's RBAC, as the chart's ServiceAccount on the real API server: with the default
/// `WVA_DISCOVERY=va` it may not list HPAs or ScaledObjects; after `helm upgrade` with
/// `WVA_DISCOVERY=annotations` it gets, lists and watches both (and lists HPAs for real) but
/// may not update an HPA; back to `va`, the list is forbidden again.
#[tokio::test]
async fn discovery_rbac_follows_the_values_on_a_real_cluster() {
    let Some((admin, ns, mut cleanup)) = start("discovery-rbac", "wva-discovery-rbac").await else {
        return;
    };
    cleanup.releases.push(("wva".into(), ns.clone()));
    let mut install = vec!["install", "wva", CHART, "-n", &ns, "--create-namespace"];
    install.extend(PLAIN_PROMETHEUS);
    cleanup.helm.ok(&install);
    let sa = controller_client(&cleanup.helm.kubeconfig, &admin, &ns, "discovery-rbac").await;
    let hpas: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        Api::all(sa.clone());
    let may_list_hpas = || allowed(&sa, "list", "autoscaling", "horizontalpodautoscalers", None);

    assert!(!may_list_hpas().await, "va (default) may list HPAs");
    assert!(!allowed(&sa, "list", "keda.sh", "scaledobjects", None).await);
    forbidden(hpas.list(&ListParams::default()).await, "list HPAs with va");

    cleanup
        .helm
        .upgrade("wva", &ns, "wva.parameters.WVA_DISCOVERY=annotations");
    until("list HPAs after the upgrade", true, may_list_hpas).await;
    for verb in ["get", "list", "watch"] {
        assert!(
            allowed(&sa, verb, "autoscaling", "horizontalpodautoscalers", None).await,
            "{verb} horizontalpodautoscalers"
        );
        assert!(
            allowed(&sa, verb, "keda.sh", "scaledobjects", None).await,
            "{verb} scaledobjects"
        );
    }
    hpas.list(&ListParams::default())
        .await
        .expect("the controller's account lists HPAs");
    assert!(
        !allowed(
            &sa,
            "update",
            "autoscaling",
            "horizontalpodautoscalers",
            None
        )
        .await
    );
    assert!(!allowed(&sa, "patch", "keda.sh", "scaledobjects", None).await);

    cleanup
        .helm
        .upgrade("wva", &ns, "wva.parameters.WVA_DISCOVERY=va");
    until("list HPAs after going back to va", false, may_list_hpas).await;
    drop(cleanup);
}
