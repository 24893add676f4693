//! An in-memory Kubernetes API server double for tests.
//!
//! [`KubeDouble::start`] serves a generic, JSON-backed Kubernetes API on `127.0.0.1` (a free port,
//! plain HTTP) that kube-rs clients, kube-runtime watchers and reflectors, and separate processes
//! given [`KubeDouble::write_kubeconfig`] use as they would use a real cluster: discovery, get, list,
//! watch (resourceVersion, bookmarks, resumption, `410 Expired`), create, update, delete, merge /
//! strategic / JSON patch, server-side apply with field ownership, the `status` and `scale`
//! subresources, CustomResourceDefinitions, Leases, TokenReview and SubjectAccessReview.
//!
//! The server runs on its own thread and Tokio runtime, so a test that blocks (waiting on a child
//! process, say) does not stall it; dropping the handle stops it and closes every watch.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let api = wva_kube_double::KubeDouble::start().await;
//! api.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! // `wva run` started with KUBECONFIG=/tmp/kubeconfig talks to `api.url()`.
//! assert_eq!(api.objects("namespaces").len(), 4); // default, kube-system, kube-public, kube-node-lease
//! # Ok(()) }
//! ```
//!
//! See `docs/testing.md` for what is simplified compared to a real API server.

mod convert;
mod http;
mod patch;
mod resources;
mod selector;
mod store;

pub use store::ApiError;

use http::Shared;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Store, Sub};

/// Settings of a double; [`Options::default`] suits most tests.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many change events are kept for resuming watches; older resourceVersions get `410 Expired`.
    pub history_limit: usize,
    /// How often a watch that asked for bookmarks receives a BOOKMARK event.
    pub bookmark_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
        }
    }
}

/// Requests served, counted by (verb, resource).
///
/// Verbs are Kubernetes' (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
/// `deletecollection`); the resource is the plural with its subresource (`deployments`,
/// `variantautoscalings/status`), or the path for discovery and other non-resource requests
/// (`/apis/llmd.ai/v1alpha1`), which are counted under `get`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// The counts.
    pub counts: BTreeMap<(String, String), u64>,
}

impl RequestCounts {
    /// Requests with this verb on this resource.
    pub fn get(&self, verb: &str, resource: &str) -> u64 {
        self.counts
            .get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// All requests with this verb.
    pub fn verb(&self, verb: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((v, _), _)| v == verb)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that change state (`create`, `update`, `patch`, `delete`, `deletecollection`).
    pub fn writes(&self) -> u64 {
        ["create", "update", "patch", "delete", "deletecollection"]
            .iter()
            .map(|v| self.verb(v))
            .sum()
    }

    /// The requests made since an earlier snapshot.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let counts = self
            .counts
            .iter()
            .filter_map(|(k, n)| {
                let d = n.saturating_sub(earlier.counts.get(k).copied().unwrap_or(0));
                (d > 0).then(|| (k.clone(), d))
            })
            .collect();
        RequestCounts { counts }
    }
}

/// A running API double; dropping it stops the server.
pub struct KubeDouble {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for KubeDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeDouble")
            .field("url", &self.url())
            .finish()
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| http::handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

impl KubeDouble {
    /// Starts a double with default [`Options`] on a free loopback port.
    pub async fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts a double; usable outside async code too (the server has its own thread and runtime).
    ///
    /// # Panics
    /// When no loopback port can be bound or the server thread cannot start.
    pub fn start_with(options: Options) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(options.history_limit)),
            counts: Mutex::new(BTreeMap::new()),
            addr,
            bookmark_interval: options.bookmark_interval,
            disconnect: tokio::sync::watch::channel(0).0,
            faults: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server_state = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("kube-double-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("kube-double-worker")
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let _ = ready_tx.send(());
                    tokio::select! {
                        _ = serve(listener, server_state) => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_background();
            })
            .expect("spawn the server thread");
        ready_rx.recv().expect("server thread started");
        Self {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A kubeconfig for this server (plain HTTP, a dummy bearer token, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-double\n  cluster:\n    server: {}\nusers:\n- name: kube-double\n  user:\n    token: kube-double-token\ncontexts:\n- name: kube-double\n  context:\n    cluster: kube-double\n    user: kube-double\n    namespace: default\ncurrent-context: kube-double\n",
            self.url()
        )
    }

    /// A kube client for this server (plain HTTP, default namespace `default`); needs the
    /// `client` feature.
    #[cfg(feature = "client")]
    pub fn client(&self) -> kube::Client {
        let url = self.url().parse().expect("the double's URL is a valid URI");
        kube::Client::try_from(kube::Config::new(url)).expect("a kube client for a plain HTTP URL")
    }

    /// Writes [`KubeDouble::kubeconfig_yaml`] to a file, for a separate process (`KUBECONFIG=...`).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    fn resolve(&self, store: &Store, resource: &str) -> Result<resources::ResourceType, ApiError> {
        store.resolve(resource).ok_or_else(|| {
            ApiError::other(
                404,
                "NotFound",
                format!("the server does not serve a resource named {resource:?}"),
            )
        })
    }

    /// Every stored object of a resource (`deployments`, `deployments.apps`, `Deployment`,
    /// `variantautoscalings.llmd.ai`; a bare name prefers the core group), across namespaces.
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        let store = self.shared.store();
        let Ok(rt) = self.resolve(&store, resource) else {
            return Vec::new();
        };
        if convert::is_events_view(&rt) {
            let core = store.find_type("", "v1", "events").expect("built in");
            return store
                .list(&core, None, &Default::default(), &Default::default())
                .iter()
                .map(convert::to_events)
                .collect();
        }
        store.list(&rt, None, &Default::default(), &Default::default())
    }

    /// One object (`namespace` is ignored for cluster-scoped resources).
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let store = self.shared.store();
        let rt = self.resolve(&store, resource).ok()?;
        let ns = if rt.namespaced { namespace } else { "" };
        if convert::is_events_view(&rt) {
            let core = store.find_type("", "v1", "events").expect("built in");
            return store
                .get(&core, ns, name)
                .ok()
                .map(|e| convert::to_events(&e));
        }
        store.get(&rt, ns, name).ok()
    }

    /// Creates an object given with `apiVersion` and `kind` (and `metadata.namespace` when
    /// namespaced), as a POST would, watch events included.
    pub fn create(&self, object: Value) -> Result<Value, ApiError> {
        let mut store = self.shared.store();
        let rt = store
            .type_of(&object)
            .ok_or_else(|| ApiError::bad_request("the object's apiVersion/kind is not served"))?;
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        store.create(
            &rt,
            if rt.namespaced { &ns } else { "" },
            object,
            "kube-double",
            None,
        )
    }

    /// Replaces an object's `.status` (as a PUT on `/status` would); returns the new object.
    pub fn set_status(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, ApiError> {
        let mut store = self.shared.store();
        let rt = self.resolve(&store, resource)?;
        let ns = if rt.namespaced { namespace } else { "" };
        let sub = if rt.status { Sub::Status } else { Sub::Main };
        let mut body = store.get(&rt, ns, name)?;
        body["status"] = status;
        if let Some(m) = body["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        store.update(&rt, ns, name, sub, body, "kube-double")
    }

    /// Marks a Deployment as rolled out with `replicas` ready replicas (no kubelet runs here):
    /// `observedGeneration`, `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`
    /// and an `Available=True` condition.
    pub fn set_deployment_status(
        &self,
        namespace: &str,
        name: &str,
        replicas: i64,
    ) -> Result<Value, ApiError> {
        let generation = self
            .object("deployments.apps", namespace, name)
            .and_then(|d| d.pointer("/metadata/generation").and_then(Value::as_i64))
            .unwrap_or(1);
        let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
            .map(|t| t.to_string())
            .unwrap_or_default();
        self.set_status(
            "deployments.apps",
            namespace,
            name,
            json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [{
                    "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": now, "lastTransitionTime": now,
                }],
            }),
        )
    }

    /// Deletes an object as a DELETE would (finalizers are honoured).
    pub fn delete(&self, resource: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let mut store = self.shared.store();
        let rt = self.resolve(&store, resource)?;
        let ns = if rt.namespaced { namespace } else { "" };
        store.delete(&rt, ns, name)
    }

    /// Makes TokenReview authenticate `token` as `user` (no groups).
    pub fn allow_token(&self, token: &str, user: &str) {
        self.allow_token_with_groups(token, user, &[]);
    }

    /// Makes TokenReview authenticate `token` as `user` in `groups`.
    pub fn allow_token_with_groups(&self, token: &str, user: &str, groups: &[&str]) {
        self.shared.store().tokens.insert(
            token.to_string(),
            (
                user.to_string(),
                groups.iter().map(|g| g.to_string()).collect(),
            ),
        );
    }

    /// Makes SubjectAccessReview allow `subject` (a user name or one of the reviewed groups) to
    /// `verb` (`*` for any) on `target`: a non-resource path (`/metrics`), a resource as
    /// `plural[.group][/subresource]` (`deployments.apps`, `pods/log`), or `*` for anything.
    pub fn allow(&self, subject: &str, verb: &str, target: &str) {
        self.shared
            .store()
            .rules
            .push((subject.to_string(), verb.to_string(), target.to_string()));
    }

    /// A snapshot of the requests served so far.
    pub fn request_counts(&self) -> RequestCounts {
        RequestCounts {
            counts: self
                .shared
                .counts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Requests served so far with this verb on this resource (see [`RequestCounts`]).
    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        self.request_counts().get(verb, resource)
    }

    /// Forgets the request counts.
    pub fn reset_request_counts(&self) {
        self.shared
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Ends every open watch stream (as an API server restart or a load balancer would); clients
    /// resume from their last resourceVersion.
    pub fn disconnect_watches(&self) {
        self.shared.disconnect.send_modify(|n| *n += 1);
    }

    /// Makes the next `times` requests with this verb on this resource (as [`RequestCounts`]
    /// names them; `*` matches any) fail with `code` (409 Conflict, 429, 500, 503, ...) before
    /// reaching the store. Injected failures are still counted as requests.
    pub fn inject_failure(&self, verb: &str, resource: &str, code: u16, times: u32) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((verb.to_string(), resource.to_string(), code, times));
    }

    /// The current (global) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv
    }

    /// Drops the event history: watches resuming from any earlier resourceVersion get
    /// `410 Expired` and must list again (as after an etcd compaction).
    pub fn compact_history(&self) {
        self.shared.store().compact();
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
