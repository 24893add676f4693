//! events.k8s.io/v1 Events are served from the core/v1 Event storage, as the API server does:
//! the same objects under both groups, with the field renames Kubernetes' own conversion
//! between the two versions applies (`RENAMES`).

use crate::resources::ResourceType;
use serde_json::{Map, Value, json};

/// (events.k8s.io/v1 field, core/v1 field)
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Is this the events.k8s.io view of the core Event storage?
pub(crate) fn is_events_view(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

fn rename(v: &Value, to_core: bool) -> Map<String, Value> {
    let mut out = v.as_object().cloned().unwrap_or_default();
    for (ev, core) in RENAMES {
        let (from, to) = if to_core { (ev, core) } else { (core, ev) };
        if let Some(x) = out.remove(*from) {
            out.insert((*to).to_string(), x);
        }
    }
    out
}

/// An events.k8s.io/v1 Event in core/v1 form.
pub(crate) fn to_core(v: &Value) -> Value {
    let mut out = rename(v, true);
    out.insert("apiVersion".into(), json!("v1"));
    out.entry("involvedObject").or_insert(json!({}));
    Value::Object(out)
}

/// A core/v1 Event in events.k8s.io/v1 form.
pub(crate) fn to_events(v: &Value) -> Value {
    let mut out = rename(v, false);
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    if out.get("eventTime").is_none_or(Value::is_null) {
        // k8s-openapi requires eventTime; fall back to the legacy timestamps.
        let when = ["deprecatedLastTimestamp", "deprecatedFirstTimestamp"]
            .iter()
            .find_map(|k| out.get(*k).filter(|v| v.is_string()).cloned())
            .or_else(|| v.pointer("/metadata/creationTimestamp").cloned());
        if let Some(w) = when {
            out.insert("eventTime".into(), w);
        }
    }
    Value::Object(out)
}

/// The core/v1 name of an events.k8s.io/v1 field path (for field selectors).
pub(crate) fn core_field(path: &str) -> String {
    for (ev, core) in RENAMES {
        if path == *ev {
            return (*core).to_string();
        }
        if let Some(rest) = path.strip_prefix(&format!("{ev}.")) {
            return format!("{core}.{rest}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "n", "reason": "R", "type": "Normal",
            "reportingController": "wva", "eventTime": "2026-01-01T00:00:00.000000Z"});
        let core = to_core(&ev);
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "n");
        assert_eq!(core["reportingComponent"], "wva");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(to_events(&core), ev);
        assert_eq!(core_field("regarding.name"), "involvedObject.name");
        assert_eq!(core_field("reason"), "reason");
    }
}
