//! The in-memory object store: every verb's semantics, independent of HTTP.

use crate::patch::{self, Owner};
use crate::resources::{self, ResourceType};
use crate::selector::Selector;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Storage key of a resource type: (group, plural).
pub(crate) type TypeKey = (String, String);
type ObjKey = (String, String, String, String);

/// A failed API call, rendered on the wire as a `Status` object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code (404, 409, 410, 422, ...).
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, `Invalid`, ...).
    pub reason: String,
    /// Human-readable message, worded as the Kubernetes API server words it.
    pub message: String,
    /// `details` of the Status: (name, group, kind/plural), when the error is about one object.
    pub details: Option<Box<(String, String, String)>>,
}

impl ApiError {
    fn new(code: u16, reason: &str, message: String) -> Self {
        Self {
            code,
            reason: reason.into(),
            message,
            details: None,
        }
    }

    fn about(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(Box::new((name.into(), rt.group.clone(), rt.plural.clone())));
        self
    }

    pub(crate) fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.qualified()),
        )
        .about(rt, name)
    }

    pub(crate) fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                rt.qualified()
            ),
        )
        .about(rt, name)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    pub(crate) fn invalid(rt: &ResourceType, name: &str, message: &str) -> Self {
        let kind = if rt.group.is_empty() {
            rt.kind.clone()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {message}"),
        )
        .about(rt, name)
    }

    pub(crate) fn invalid_patch_options() -> Self {
        Self::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        )
    }

    pub(crate) fn other(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self::new(code, reason, message.into())
    }

    /// The `Status` object the API server sends for this error.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = self.details.as_deref() {
            s["details"] = json!({"name": name, "group": group, "kind": kind});
        }
        s
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Watch event types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to one object, kept in the history for watch resumption.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub key: TypeKey,
    pub etype: EventType,
    pub object: Value,
    /// The previous state for MODIFIED (selectors turn it into ADDED/DELETED where membership changed).
    pub old: Option<Value>,
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sub {
    Main,
    Status,
    Scale,
}

impl Sub {
    fn name(self) -> &'static str {
        match self {
            Self::Main => "",
            Self::Status => "status",
            Self::Scale => "scale",
        }
    }
}

/// Patch content types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// The store.
pub(crate) struct Store {
    pub rv: u64,
    pub types: Vec<ResourceType>,
    objects: HashMap<TypeKey, BTreeMap<(String, String), Value>>,
    owners: HashMap<ObjKey, Vec<Owner>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Every event with a resourceVersion at or below this was dropped from the history.
    pub compacted: u64,
    pub tx: broadcast::Sender<Arc<Event>>,
    pub tokens: HashMap<String, (String, Vec<String>)>,
    pub rules: Vec<(String, String, String)>,
    seed: u64,
}

fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn meta(obj: &Value, field: &str) -> Option<String> {
    obj.get("metadata")?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("made an object")
}

/// The object without metadata and status: what `generation` tracks.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(8192);
        let mut s = Self {
            rv: 0,
            types: resources::builtins(),
            objects: HashMap::new(),
            owners: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            tx,
            tokens: HashMap::new(),
            rules: Vec::new(),
            seed: jiff::Timestamp::now().as_nanosecond() as u64 ^ 0x9e37_79b9_7f4a_7c15,
        };
        let ns = s.type_by_plural("", "namespaces").expect("built in");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            s.create(
                &ns,
                "",
                json!({"metadata": {"name": name}}),
                "kube-apiserver",
                None,
            )
            .expect("fresh store");
        }
        s
    }

    fn type_by_plural(&self, group: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .cloned()
    }

    /// The type served at group/version/plural.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .iter()
            .find(|t| {
                t.group == group && t.plural == plural && t.versions.iter().any(|v| v == version)
            })
            .cloned()
    }

    /// Resolves `plural`, `plural.group`, `Kind` or `singular` (core group first).
    pub fn resolve(&self, resource: &str) -> Option<ResourceType> {
        let (name, group) = resource.split_once('.').unwrap_or((resource, ""));
        let matches = |t: &&ResourceType| t.plural == name || t.kind == name || t.singular == name;
        if resource.contains('.') {
            self.types
                .iter()
                .find(|t| t.group == group && matches(t))
                .cloned()
        } else {
            let mut found: Vec<&ResourceType> = self.types.iter().filter(matches).collect();
            found.sort_by_key(|t| !t.group.is_empty());
            found.first().map(|t| (*t).clone())
        }
    }

    /// The type of an object from its apiVersion and kind.
    pub fn type_of(&self, obj: &Value) -> Option<ResourceType> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let kind = obj.get("kind")?.as_str()?;
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.types
            .iter()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
            .cloned()
    }

    fn random(&mut self) -> u64 {
        // splitmix64
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uid(&mut self) -> String {
        let (a, b) = (self.random(), self.random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn suffix(&mut self) -> String {
        const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.random();
        (0..5)
            .map(|_| {
                let c = CHARS[(r % CHARS.len() as u64) as usize] as char;
                r /= CHARS.len() as u64;
                c
            })
            .collect()
    }

    fn emit(&mut self, rv: u64, key: TypeKey, etype: EventType, object: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            rv,
            key,
            etype,
            object,
            old,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.compacted = e.rv;
            }
        }
        let _ = self.tx.send(ev);
    }

    /// Drops the whole event history: watches from any earlier resourceVersion get 410 Expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// History events after `rv`, or `None` when that part was compacted.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn commit(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut obj: Value,
        old: Option<Value>,
    ) -> Value {
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects
            .entry(rt.key())
            .or_default()
            .insert((ns.into(), name.into()), obj.clone());
        let etype = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(rv, rt.key(), etype, obj.clone(), old);
        obj
    }

    fn exists(&self, key: &TypeKey, ns: &str, name: &str) -> bool {
        self.objects
            .get(key)
            .is_some_and(|m| m.contains_key(&(ns.to_string(), name.to_string())))
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&rt.key())
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Objects of a type, in one namespace or all, filtered by selectors, ordered by namespace/name.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &Selector,
        fields: &Selector,
    ) -> Vec<Value> {
        self.objects
            .get(&rt.key())
            .map(|m| {
                m.iter()
                    .filter(|((n, _), o)| {
                        ns.is_none_or(|ns| ns == n) && labels.matches(o) && fields.matches(o)
                    })
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Creates an object (POST); `owners` comes from an apply that creates.
    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        mut body: Value,
        manager: &str,
        owners: Option<Vec<Owner>>,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        body["apiVersion"] = json!(rt.api_version(&rt.versions[0]));
        body["kind"] = json!(rt.kind);
        let gen_name = meta(&body, "generateName");
        let body_ns = meta(&body, "namespace");
        let mut name = meta(&body, "name").unwrap_or_default();
        if rt.namespaced {
            if body_ns.as_deref().is_some_and(|b| !b.is_empty() && b != ns) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            let nst = self.type_by_plural("", "namespaces").expect("built in");
            if !self.exists(&nst.key(), "", ns) {
                return Err(ApiError::not_found(&nst, ns));
            }
            meta_mut(&mut body).insert("namespace".into(), json!(ns));
        } else {
            meta_mut(&mut body).remove("namespace");
        }
        if name.is_empty() {
            let Some(prefix) = gen_name.filter(|g| !g.is_empty()) else {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            };
            loop {
                name = format!("{prefix}{}", self.suffix());
                if !self.exists(&rt.key(), ns, &name) {
                    break;
                }
            }
            meta_mut(&mut body).insert("name".into(), json!(name));
        }
        if self.exists(&rt.key(), ns, &name) {
            return Err(ApiError::other(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", rt.qualified()),
            )
            .about(rt, &name));
        }
        if rt.status
            && rt.kind != "Node"
            && let Some(m) = body.as_object_mut()
        {
            m.remove("status");
        }
        // What the API server's create strategies set.
        match (rt.group.as_str(), rt.plural.as_str()) {
            ("", "namespaces") => {
                body["status"] = json!({"phase": "Active"});
                let labels = meta_mut(&mut body).entry("labels").or_insert(json!({}));
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
            ("", "pods") => body["status"] = json!({"phase": "Pending"}),
            ("apps", "deployments" | "replicasets" | "statefulsets") => {
                if body.pointer("/spec/replicas").is_none()
                    && let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut)
                {
                    spec.insert("replicas".into(), json!(1));
                }
            }
            _ => {}
        }
        if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
            let served =
                resources::from_crd(&body).map_err(|e| ApiError::invalid(rt, &name, &e))?;
            if self
                .types
                .iter()
                .any(|t| !t.crd && t.group == served.group && t.plural == served.plural)
            {
                return Err(ApiError::invalid(
                    rt,
                    &name,
                    "spec.group: a built-in resource is served there",
                ));
            }
            body["status"] = json!({
                "acceptedNames": body["spec"]["names"].clone(),
                "storedVersions": [served.versions[0].clone()],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now()},
                ],
            });
            self.types
                .retain(|t| !(t.group == served.group && t.plural == served.plural));
            self.types.push(served);
        }
        if let Some(schema) = &rt.schema {
            resources::normalize(&mut body, schema)
                .map_err(|e| ApiError::invalid(rt, &name, &e))?;
        }
        let uid = self.uid();
        let m = meta_mut(&mut body);
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(now()));
        m.remove("deletionTimestamp");
        m.remove("managedFields");
        m.remove("generateName")
            .filter(|g| g.as_str().is_some_and(|g| !g.is_empty()))
            .map(|g| m.insert("generateName".into(), g));
        if rt.generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        let owners = owners.unwrap_or_else(|| {
            let mut o = Vec::new();
            patch::record_update(&mut o, &json!({}), &body, manager, "");
            o
        });
        self.owners.insert(
            (rt.group.clone(), rt.plural.clone(), ns.into(), name.clone()),
            owners,
        );
        Ok(self.commit(rt, ns, &name, body, None))
    }

    /// Replaces an object (PUT) or its status.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        sub: Sub,
        body: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        if sub == Sub::Scale {
            return self.update_scale(rt, ns, name, &body, manager);
        }
        let old = self.get(rt, ns, name)?;
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        self.write(rt, ns, name, sub, old, body, manager, None)
    }

    /// Patches an object or its status; an apply to a missing object creates it.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        sub: Sub,
        kind: PatchKind,
        body: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        if sub == Sub::Scale {
            let old = self.get(rt, ns, name)?;
            let mut scale = scale_of(&old);
            apply_patch_kind(&mut scale, kind, body)
                .map_err(|e| ApiError::invalid(rt, name, &e))?;
            return self.update_scale(rt, ns, name, &scale, manager);
        }
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let config = if kind == PatchKind::Apply {
            if body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_some_and(|n| n != name)
            {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    body.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )));
            }
            let mut c = body.clone();
            match sub {
                Sub::Status => {
                    c = json!({"status": body.get("status").cloned().unwrap_or(json!({}))})
                }
                _ if rt.status => {
                    if let Some(m) = c.as_object_mut() {
                        m.remove("status");
                    }
                }
                _ => {}
            }
            if let Some(m) = c.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            Some(c)
        } else {
            None
        };
        let old = match self.get(rt, ns, name) {
            Ok(o) => o,
            Err(_) if kind == PatchKind::Apply && sub == Sub::Main => {
                let config = config.expect("apply");
                let mut owners = Vec::new();
                let mut obj = patch::apply(&mut owners, &json!({}), &config, manager, "", true)
                    .map_err(|_| {
                        ApiError::bad_request("apply to an empty object cannot conflict")
                    })?;
                meta_mut(&mut obj).insert("name".into(), json!(name));
                meta_mut(&mut obj).remove("resourceVersion");
                return self.create(rt, ns, obj, manager, Some(owners));
            }
            Err(e) => return Err(e),
        };
        let mut owners = None;
        let candidate = if let Some(config) = config {
            let mut o = self.owners.get(&key).cloned().unwrap_or_default();
            let out = patch::apply(&mut o, &old, &config, manager, sub.name(), force).map_err(
                |conflicts| {
                    let list: Vec<String> = conflicts
                        .iter()
                        .map(|c| {
                            format!(
                                "conflict with \"{}\": {}",
                                c.manager,
                                patch::dotted(&c.path)
                            )
                        })
                        .collect();
                    let n = list.len();
                    ApiError::other(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with {n} conflict{}: {}",
                            if n == 1 { "" } else { "s" },
                            list.join("\n")
                        ),
                    )
                    .about(rt, name)
                },
            )?;
            owners = Some(o);
            out
        } else {
            let mut c = old.clone();
            apply_patch_kind(&mut c, kind, body).map_err(|e| ApiError::invalid(rt, name, &e))?;
            c
        };
        self.write(rt, ns, name, sub, old, candidate, manager, owners)
    }

    /// Shared tail of update and patch: preconditions, subresource rules, generation, no-op
    /// detection, ownership, finalization.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        sub: Sub,
        old: Value,
        candidate: Value,
        manager: &str,
        owners: Option<Vec<Owner>>,
    ) -> Result<Value, ApiError> {
        if let Some(n) = meta(&candidate, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(rv) = meta(&candidate, "resourceVersion")
            && !rv.is_empty()
            && Some(&rv) != meta(&old, "resourceVersion").as_ref()
        {
            return Err(ApiError::conflict(rt, name));
        }
        let mut new = match sub {
            Sub::Status => {
                let mut n = old.clone();
                match candidate.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        n.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                n
            }
            _ => {
                let mut n = candidate;
                if rt.status {
                    match old.get("status") {
                        Some(s) => n["status"] = s.clone(),
                        None => {
                            n.as_object_mut().map(|m| m.remove("status"));
                        }
                    }
                }
                n["apiVersion"] = old["apiVersion"].clone();
                n["kind"] = old["kind"].clone();
                let keep = [
                    "name",
                    "namespace",
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                    "generateName",
                ];
                let old_meta = old["metadata"].clone();
                let m = meta_mut(&mut n);
                m.remove("managedFields");
                for k in keep {
                    match old_meta.get(k) {
                        Some(v) => m.insert(k.into(), v.clone()),
                        None => m.remove(k),
                    };
                }
                n
            }
        };
        meta_mut(&mut new).insert(
            "resourceVersion".into(),
            old["metadata"]["resourceVersion"].clone(),
        );
        if let Some(schema) = &rt.schema {
            resources::normalize(&mut new, schema).map_err(|e| ApiError::invalid(rt, name, &e))?;
        }
        if matches!(rt.kind.as_str(), "ConfigMap" | "Secret")
            && old.get("immutable") == Some(&json!(true))
            && ["data", "binaryData", "immutable"]
                .iter()
                .any(|k| old.get(k) != new.get(k))
        {
            return Err(ApiError::invalid(
                rt,
                name,
                "data: Forbidden: field is immutable when `immutable` is set",
            ));
        }
        if rt.generation && sub == Sub::Main && spec_part(&old) != spec_part(&new) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if rt.group == "apiextensions.k8s.io"
            && rt.plural == "customresourcedefinitions"
            && sub == Sub::Main
        {
            let served = resources::from_crd(&new).map_err(|e| ApiError::invalid(rt, name, &e))?;
            self.types
                .retain(|t| !(t.group == served.group && t.plural == served.plural));
            self.types.push(served);
        }
        if new == old {
            return Ok(old);
        }
        let key = (
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        );
        let owners = owners.unwrap_or_else(|| {
            let mut o = self.owners.get(&key).cloned().unwrap_or_default();
            patch::record_update(&mut o, &old, &new, manager, sub.name());
            o
        });
        self.owners.insert(key, owners);
        let finalize = meta(&new, "deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(|f| f.is_empty());
        let out = self.commit(rt, ns, name, new, Some(old));
        if finalize {
            self.remove(rt, ns, name)?;
        }
        Ok(out)
    }

    fn update_scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        scale: &Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let old = self.get(rt, ns, name)?;
        if let Some(rv) = scale
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !rv.is_empty()
            && Some(rv)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            return Err(ApiError::conflict(rt, name));
        }
        let mut candidate = old.clone();
        candidate["spec"]["replicas"] =
            scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
        let new = self.write(rt, ns, name, Sub::Main, old, candidate, manager, None)?;
        Ok(scale_of(&new))
    }

    /// The Scale view of a scalable object.
    pub fn scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.get(rt, ns, name).map(|o| scale_of(&o))
    }

    /// Deletes an object: with finalizers it only gets a deletionTimestamp.
    pub fn delete(&mut self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let old = self.get(rt, ns, name)?;
        let has_finalizers = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if meta(&old, "deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut new = old.clone();
            meta_mut(&mut new).insert("deletionTimestamp".into(), json!(now()));
            meta_mut(&mut new).insert("deletionGracePeriodSeconds".into(), json!(0));
            return Ok(self.commit(rt, ns, name, new, Some(old)));
        }
        self.remove(rt, ns, name)
    }

    /// Deletes every matching object.
    pub fn delete_collection(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &Selector,
        fields: &Selector,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        for o in self.list(rt, ns, labels, fields) {
            let (n, name) = (
                meta(&o, "namespace").unwrap_or_default(),
                meta(&o, "name").unwrap_or_default(),
            );
            if let Ok(d) = self.delete(rt, &n, &name) {
                out.push(d);
            }
        }
        out
    }

    fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        if rt.group.is_empty() && rt.plural == "namespaces" {
            let keys: Vec<TypeKey> = self.objects.keys().cloned().collect();
            for key in keys {
                let Some(t) = self.type_by_plural(&key.0, &key.1).filter(|t| t.namespaced) else {
                    continue;
                };
                let names: Vec<String> = self.objects[&key]
                    .keys()
                    .filter(|(n, _)| n == name)
                    .map(|(_, n)| n.clone())
                    .collect();
                for n in names {
                    self.remove(&t, name, &n)?;
                }
            }
        }
        if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
            let obj = self.get(rt, ns, name)?;
            if let Ok(served) = resources::from_crd(&obj) {
                let all: Vec<(String, String)> = self
                    .objects
                    .get(&served.key())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for (n, o) in all {
                    self.remove(&served, &n, &o)?;
                }
                self.types
                    .retain(|t| !(t.crd && t.group == served.group && t.plural == served.plural));
            }
        }
        let mut obj = self
            .objects
            .get_mut(&rt.key())
            .and_then(|m| m.remove(&(ns.to_string(), name.to_string())))
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        self.owners.remove(&(
            rt.group.clone(),
            rt.plural.clone(),
            ns.to_string(),
            name.to_string(),
        ));
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.emit(rv, rt.key(), EventType::Deleted, obj.clone(), None);
        Ok(obj)
    }

    /// authentication.k8s.io/v1 TokenReview.
    pub fn token_review(&self, body: &Value) -> Value {
        let token = body
            .pointer("/spec/token")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut out = body.clone();
        out["apiVersion"] = json!("authentication.k8s.io/v1");
        out["kind"] = json!("TokenReview");
        let audiences = body
            .pointer("/spec/audiences")
            .cloned()
            .unwrap_or(json!([]));
        out["status"] = match self.tokens.get(token) {
            Some((user, groups)) => json!({
                "authenticated": true,
                "user": {"username": user, "uid": format!("uid-{user}"), "groups": groups},
                "audiences": audiences,
            }),
            None => json!({"authenticated": false, "error": "invalid bearer token", "user": {}}),
        };
        out
    }

    /// authorization.k8s.io/v1 SubjectAccessReview.
    pub fn access_review(&self, body: &Value) -> Value {
        let spec = body.get("spec").cloned().unwrap_or(json!({}));
        let user = spec.get("user").and_then(Value::as_str).unwrap_or("");
        let groups: Vec<&str> = spec
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (verb, targets) = if let Some(nr) = spec.get("nonResourceAttributes") {
            let path = nr
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (
                nr.get("verb").and_then(Value::as_str).unwrap_or(""),
                vec![path],
            )
        } else if let Some(r) = spec.get("resourceAttributes") {
            let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (res, group, sub) = (field("resource"), field("group"), field("subresource"));
            let mut res = if group.is_empty() {
                res
            } else {
                format!("{res}.{group}")
            };
            if !sub.is_empty() {
                res = format!("{res}/{sub}");
            }
            (
                r.get("verb").and_then(Value::as_str).unwrap_or(""),
                vec![res],
            )
        } else {
            ("", vec![])
        };
        let allowed = self.rules.iter().any(|(who, v, target)| {
            (who == user || groups.contains(&who.as_str()))
                && (v == "*" || v == verb)
                && (target == "*" || targets.contains(target))
        });
        let mut out = body.clone();
        out["apiVersion"] = json!("authorization.k8s.io/v1");
        out["kind"] = json!("SubjectAccessReview");
        out["status"] = if allowed {
            json!({"allowed": true, "reason": "allowed by the test's table"})
        } else {
            json!({"allowed": false, "reason": "no rule in the test's table allows this"})
        };
        out
    }
}

pub(crate) fn apply_patch_kind(
    doc: &mut Value,
    kind: PatchKind,
    body: &Value,
) -> Result<(), String> {
    match kind {
        PatchKind::Merge => patch::merge_patch(doc, body),
        PatchKind::Strategic | PatchKind::Apply => patch::keyed_merge(doc, body),
        PatchKind::Json => patch::json_patch(doc, body)?,
    }
    Ok(())
}

fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let m = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}
