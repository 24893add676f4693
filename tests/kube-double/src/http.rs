//! HTTP routing, discovery, verbs and watch streams.

use crate::convert;
use crate::resources::{self, ResourceType};
use crate::selector::Selector;
use crate::store::{self, ApiError, Event, EventType, PatchKind, Store, Sub, TypeKey};
use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// State shared by the server tasks and the test-facing handle.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub counts: Mutex<BTreeMap<(String, String), u64>>,
    pub addr: SocketAddr,
    pub bookmark_interval: Duration,
    /// Bumped to end every open watch.
    pub disconnect: tokio::sync::watch::Sender<u64>,
    /// Injected failures: (verb, resource, code, remaining).
    pub faults: Mutex<Vec<(String, String, u16, u32)>>,
}

impl Shared {
    fn take_fault(&self, verb: &str, resource: &str) -> Option<u16> {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let i = faults.iter().position(|(v, r, _, n)| {
            *n > 0 && (v == "*" || v == verb) && (r == "*" || r == resource)
        })?;
        faults[i].3 -= 1;
        let code = faults[i].2;
        faults.retain(|f| f.3 > 0);
        Some(code)
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, verb: &str, resource: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
    }
}

/// A response body: a whole document or a stream of watch lines.
pub(crate) enum Body {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Body::Full(Some(b)) => http_body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => http_body::SizeHint::with_exact(0),
            Body::Stream(_) => http_body::SizeHint::default(),
        }
    }
}

fn respond(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Body::Full(Some(Bytes::from(v.to_string()))))
        .expect("valid response")
}

fn error(e: &ApiError) -> Response<Body> {
    respond(e.code, &e.status())
}

fn not_served() -> ApiError {
    ApiError::other(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            ) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Everything a handler needs from the request.
struct Req {
    method: Method,
    query: HashMap<String, String>,
    content_type: String,
    user_agent: String,
    /// The client asked for `PartialObjectMetadata` (metadata-only watchers and lists).
    partial: bool,
    body: Bytes,
}

impl Req {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1"))
    }

    fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }

    fn manager(&self) -> String {
        self.q("fieldManager")
            .map(str::to_string)
            .unwrap_or_else(|| {
                self.user_agent
                    .split('/')
                    .next()
                    .unwrap_or("unknown")
                    .to_string()
            })
    }
}

/// Serves one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let header = |h: &str| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, user_agent) = (header("content-type"), header("user-agent"));
    let partial = header("accept").contains("as=PartialObjectMetadata");
    let method = req.method().clone();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(error(&ApiError::bad_request(format!(
                "reading the request body: {e}"
            ))));
        }
    };
    let r = Req {
        method,
        query,
        content_type,
        user_agent,
        partial,
        body,
    };
    Ok(route(&shared, &path, &r))
}

fn route(shared: &Arc<Shared>, path: &str, r: &Req) -> Response<Body> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let discovery = |doc: Option<Value>| {
        shared.count("get", path);
        match doc {
            Some(d) => respond(200, &d),
            None => error(&not_served()),
        }
    };
    match segs.as_slice() {
        ["version"] => discovery(Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-double", "gitCommit": "",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24",
            "compiler": "gc", "platform": "linux/amd64",
        }))),
        ["healthz" | "readyz" | "livez"] => Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::Full(Some(Bytes::from_static(b"ok"))))
            .expect("valid response"),
        ["api"] => discovery(Some(resources::core_versions(&shared.addr.to_string()))),
        ["apis"] => discovery(Some(resources::group_list(&shared.store().types))),
        ["apis", g] => discovery(resources::group(&shared.store().types, g)),
        ["api", "v1"] => discovery(resources::resource_list(&shared.store().types, "", "v1")),
        ["apis", g, v] => discovery(resources::resource_list(&shared.store().types, g, v)),
        ["api", "v1", rest @ ..] => resource(shared, "", "v1", rest, r),
        ["apis", g, v, rest @ ..] => resource(shared, g, v, rest, r),
        _ => {
            shared.count("get", path);
            error(&not_served())
        }
    }
}

/// Sets the apiVersion a client asked for (objects are stored at the preferred version).
/// Shows a stored object to a client: at the version it asked for (objects are stored at the
/// preferred version), whole or as `PartialObjectMetadata`.
fn at_version(mut obj: Value, rt: &ResourceType, version: &str, partial: bool) -> Value {
    if convert::is_events_view(rt) {
        obj = convert::to_events(&obj);
    }
    if partial {
        return json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
        });
    }
    if rt.versions.len() > 1 && obj.is_object() {
        obj["apiVersion"] = json!(rt.api_version(version));
    }
    obj
}

fn list_doc(rt: &ResourceType, version: &str, partial: bool, rv: u64, items: Vec<Value>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|o| at_version(o, rt, version, partial))
        .collect();
    let (kind, api_version) = if partial {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (format!("{}List", rt.kind), rt.api_version(version))
    };
    json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })
}

fn resource(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    r: &Req,
) -> Response<Body> {
    let namespaced_path = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"));
    let (ns, plural, name, sub) = if namespaced_path {
        (
            Some(rest[1]),
            rest[2],
            rest.get(3).copied(),
            rest.get(4).copied(),
        )
    } else {
        (None, rest[0], rest.get(1).copied(), rest.get(2).copied())
    };
    let too_long = if namespaced_path {
        rest.len() > 5
    } else {
        rest.len() > 3
    };
    let is_watch = r.flag("watch");
    let verb = match (&r.method, name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) if is_watch => "watch",
        (&Method::GET, None) => "list",
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        _ => "unsupported",
    };
    let label = match sub {
        Some(s) => format!("{plural}/{s}"),
        None => plural.to_string(),
    };
    shared.count(verb, &label);
    if let Some(code) = shared.take_fault(verb, &label) {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        return error(&ApiError::other(
            code,
            reason,
            format!("injected failure for {verb} {label}"),
        ));
    }
    let mut store = shared.store();
    let Some(rt) = store.find_type(group, version, plural) else {
        return error(&not_served());
    };
    if too_long
        || (ns.is_some() && !rt.namespaced)
        || (ns.is_none() && rt.namespaced && name.is_some())
    {
        return error(&not_served());
    }
    if verb == "unsupported" || !rt.verbs.iter().any(|v| v == verb) {
        return error(&ApiError::other(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({})",
                rt.qualified()
            ),
        ));
    }
    let subr = match sub {
        None => Sub::Main,
        Some("status") if rt.status => Sub::Status,
        Some("scale") if rt.scale => Sub::Scale,
        Some(_) => return error(&not_served()),
    };
    if r.q("dryRun").is_some() {
        return error(&ApiError::bad_request(
            "dryRun is not supported by the kube double",
        ));
    }
    let ns_key = ns.unwrap_or("");
    let labels = match Selector::labels(r.q("labelSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return error(&ApiError::bad_request(e)),
    };
    let fields = match Selector::fields(r.q("fieldSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return error(&ApiError::bad_request(e)),
    };
    // events.k8s.io/v1 Events are the core/v1 Events seen through a conversion.
    let view = rt.clone();
    let events_view = convert::is_events_view(&view);
    let (rt, fields) = if events_view {
        let core = store.find_type("", "v1", "events").expect("built in");
        (core, fields.map_keys(convert::core_field))
    } else {
        (rt, fields)
    };
    let input = |body: Value| {
        if events_view {
            convert::to_core(&body)
        } else {
            body
        }
    };
    let out = |v: Value| at_version(v, &view, version, r.partial);
    let result: Result<(u16, Value), ApiError> = match verb {
        "get" => match subr {
            Sub::Scale => store
                .scale(&rt, ns_key, name.unwrap_or(""))
                .map(|v| (200, v)),
            _ => store
                .get(&rt, ns_key, name.unwrap_or(""))
                .map(|v| (200, out(v))),
        },
        "list" => {
            let items = store.list(&rt, ns, &labels, &fields);
            Ok((200, list_doc(&view, version, r.partial, store.rv, items)))
        }
        "watch" => return watch(shared, &store, &view, &rt, version, ns, labels, fields, r),
        "create" => r
            .json()
            .and_then(|body| match (rt.group.as_str(), rt.plural.as_str()) {
                ("authentication.k8s.io", "tokenreviews") => Ok((201, store.token_review(&body))),
                ("authorization.k8s.io", "subjectaccessreviews") => {
                    Ok((201, store.access_review(&body)))
                }
                _ => store
                    .create(&rt, ns_key, input(body), &r.manager(), None)
                    .map(|v| (201, out(v))),
            }),
        "update" => r
            .json()
            .and_then(|body| {
                store.update(
                    &rt,
                    ns_key,
                    name.unwrap_or(""),
                    subr,
                    input(body),
                    &r.manager(),
                )
            })
            .map(|v| (200, if subr == Sub::Scale { v } else { out(v) })),
        "patch" => patch(
            &mut store,
            &rt,
            events_view,
            ns_key,
            name.unwrap_or(""),
            subr,
            r,
        )
        .map(|(c, v)| (c, if subr == Sub::Scale { v } else { out(v) })),
        "delete" => delete_preconditions(&store, &rt, ns_key, name.unwrap_or(""), r)
            .and_then(|()| store.delete(&rt, ns_key, name.unwrap_or("")))
            .map(|v| (200, out(v))),
        "deletecollection" => {
            let items = store.delete_collection(&rt, ns, &labels, &fields);
            Ok((200, list_doc(&view, version, r.partial, store.rv, items)))
        }
        _ => Err(not_served()),
    };
    match result {
        Ok((code, v)) => respond(code, &v),
        Err(e) => error(&e),
    }
}

fn patch(
    store: &mut Store,
    rt: &ResourceType,
    events_view: bool,
    ns: &str,
    name: &str,
    sub: Sub,
    r: &Req,
) -> Result<(u16, Value), ApiError> {
    let kind = PatchKind::from_content_type(&r.content_type).ok_or_else(|| {
        ApiError::other(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {:?})", r.content_type),
        )
    })?;
    let body = if kind == PatchKind::Apply {
        let manager = r.q("fieldManager").unwrap_or("");
        if manager.is_empty() {
            return Err(ApiError::invalid_patch_options());
        }
        match r.json() {
            Ok(v) => v,
            Err(_) => {
                let text = String::from_utf8_lossy(&r.body);
                serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            }
        }
    } else {
        r.json()?
    };
    if kind != PatchKind::Json && !body.is_object() {
        return Err(ApiError::bad_request("the patch must be a JSON object"));
    }
    if events_view {
        // Patch the events.k8s.io form, store the core form (no field ownership for this view).
        let old = store.get(rt, ns, name)?;
        let mut doc = convert::to_events(&old);
        store::apply_patch_kind(&mut doc, kind, &body).map_err(ApiError::bad_request)?;
        return store
            .update(rt, ns, name, sub, convert::to_core(&doc), &r.manager())
            .map(|v| (200, v));
    }
    let existed = store.get(rt, ns, name).is_ok();
    let v = store.patch(
        rt,
        ns,
        name,
        sub,
        kind,
        &body,
        &r.manager(),
        r.flag("force"),
    )?;
    Ok((if existed { 200 } else { 201 }, v))
}

/// `DeleteOptions.preconditions` (uid, resourceVersion) in a DELETE body.
fn delete_preconditions(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    r: &Req,
) -> Result<(), ApiError> {
    let Ok(opts) = serde_json::from_slice::<Value>(&r.body) else {
        return Ok(());
    };
    let Some(pre) = opts.get("preconditions") else {
        return Ok(());
    };
    let obj = store.get(rt, ns, name)?;
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = pre.get(field).and_then(Value::as_str) {
            let have = obj["metadata"][field].as_str().unwrap_or("");
            if want != have {
                return Err(ApiError::other(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}",
                        rt.qualified()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn line(etype: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": etype, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(rt: &ResourceType, version: &str, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(version), "metadata": meta}),
    )
}

/// What a watcher with these filters sees of one stored event.
struct Filter {
    /// The type as the client sees it.
    rt: ResourceType,
    /// The storage key of its events.
    key: TypeKey,
    version: String,
    partial: bool,
    ns: Option<String>,
    labels: Selector,
    fields: Selector,
}

impl Filter {
    fn matches(&self, o: &Value) -> bool {
        let in_ns = match &self.ns {
            Some(ns) => {
                o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns.as_str())
            }
            None => true,
        };
        in_ns && self.labels.matches(o) && self.fields.matches(o)
    }

    fn translate(&self, ev: &Event) -> Option<Bytes> {
        if ev.key != self.key {
            return None;
        }
        let now = self.matches(&ev.object);
        let etype = match ev.etype {
            EventType::Modified => {
                let before = ev.old.as_ref().is_some_and(|o| self.matches(o));
                match (before, now) {
                    (true, true) => EventType::Modified,
                    (false, true) => EventType::Added,
                    (true, false) => EventType::Deleted,
                    (false, false) => return None,
                }
            }
            other if now => other,
            _ => return None,
        };
        Some(line(
            etype.as_str(),
            &at_version(ev.object.clone(), &self.rt, &self.version, self.partial),
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn watch(
    shared: &Arc<Shared>,
    store: &Store,
    view: &ResourceType,
    rt: &ResourceType,
    version: &str,
    ns: Option<&str>,
    labels: Selector,
    fields: Selector,
    r: &Req,
) -> Response<Body> {
    let bookmarks = r.flag("allowWatchBookmarks");
    let send_initial = r.flag("sendInitialEvents");
    let timeout = r
        .q("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let filter = Filter {
        rt: view.clone(),
        key: rt.key(),
        version: version.to_string(),
        partial: r.partial,
        ns: ns.map(str::to_string),
        labels,
        fields,
    };
    let mut initial = Vec::new();
    let mut expired = false;
    match r.q("resourceVersion") {
        rv if send_initial || rv.is_none() || rv == Some("0") => {
            for o in store.list(rt, ns, &filter.labels, &filter.fields) {
                initial.push(line("ADDED", &at_version(o, view, version, r.partial)));
            }
            if send_initial && bookmarks {
                initial.push(bookmark(view, version, store.rv, true));
            }
        }
        Some(rv) => {
            let Ok(from) = rv.parse::<u64>() else {
                return error(&ApiError::bad_request(format!(
                    "invalid resource version: {rv:?}"
                )));
            };
            match store.events_since(from) {
                Some(evs) => initial.extend(evs.iter().filter_map(|e| filter.translate(e))),
                None => {
                    expired = true;
                    let e = ApiError::other(
                        410,
                        "Expired",
                        format!("too old resource version: {from} ({})", store.compacted + 1),
                    );
                    initial.push(line("ERROR", &e.status()));
                }
            }
        }
        None => unreachable!("handled by the first arm"),
    }
    let mut events = store.tx.subscribe();
    let from = store.rv;
    let interval = shared.bookmark_interval;
    let mut disconnect = shared.disconnect.subscribe();
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        for l in initial {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        let mut last = from;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last {
                            continue;
                        }
                        last = ev.rv;
                        if let Some(l) = filter.translate(&ev)
                            && tx.send(l).await.is_err()
                        {
                            return;
                        }
                    }
                    // A watcher that fell behind is closed, as the API server does; clients resume.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick(), if bookmarks => {
                    if tx.send(bookmark(&filter.rt, &filter.version, last, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = disconnect.changed() => return,
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Stream(rx))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&odd=%é%&x=%4");
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
        assert_eq!(q["odd"], "%é%");
        assert_eq!(q["x"], "%4");
    }
}
