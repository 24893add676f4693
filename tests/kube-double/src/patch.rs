//! Patch types and a simplified server-side apply with field ownership.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The merge key of a list: `name` or `type` when every item is an object carrying it as a string.
pub(crate) fn list_key(items: &[Value]) -> Option<&'static str> {
    if items.is_empty() {
        return None;
    }
    ["name", "type"].into_iter().find(|k| {
        items
            .iter()
            .all(|i| i.get(*k).is_some_and(Value::is_string))
    })
}

/// Recursive merge used for strategic merge patch and apply: maps merge (null deletes), lists whose
/// items all carry `name` (or `type`) merge item by item on that key, other lists are replaced.
pub(crate) fn keyed_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else if let Some(cur) = t.get_mut(k) {
                    keyed_merge(cur, v);
                } else {
                    let mut fresh = Value::Null;
                    keyed_merge(&mut fresh, v);
                    t.insert(k.clone(), fresh);
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if list_key(p).is_some() && (t.is_empty() || list_key(t) == list_key(p)) =>
        {
            let key = list_key(p).expect("checked");
            for item in p {
                match t.iter_mut().find(|i| i.get(key) == item.get(key)) {
                    Some(cur) => keyed_merge(cur, item),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, p) => *t = strip_nulls(p),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or(format!("invalid JSON pointer {path:?}"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for p in &parts[..parts.len() - 1] {
        cur = match cur {
            Value::Object(m) => m.get_mut(p).ok_or(format!("missing path segment {p:?}"))?,
            Value::Array(a) => {
                let i: usize = p
                    .parse()
                    .map_err(|_| format!("invalid array index {p:?}"))?;
                a.get_mut(i)
                    .ok_or(format!("array index {i} out of bounds"))?
            }
            _ => return Err(format!("cannot descend into a scalar at {p:?}")),
        };
    }
    Ok(cur)
}

fn add_at(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    if parts.is_empty() {
        *doc = value;
        return Ok(());
    }
    let last = parts.last().expect("non-empty").clone();
    match parent_mut(doc, &parts)? {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("invalid array index {last:?}"))?;
                if i > a.len() {
                    return Err(format!("array index {i} out of bounds"));
                }
                a.insert(i, value);
            }
        }
        _ => return Err(format!("cannot add to a scalar at {path:?}")),
    }
    Ok(())
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let last = parts
        .last()
        .ok_or("cannot remove the whole document")?
        .clone();
    match parent_mut(doc, &parts)? {
        Value::Object(m) => m
            .remove(&last)
            .ok_or(format!("unable to remove nonexistent key: {last}")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("array index {i} out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove from a scalar at {path:?}")),
    }
}

/// RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
pub(crate) fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    for op in ops {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation without \"op\"")?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without \"path\"")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("{kind} operation without \"value\""))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or(format!("{kind} operation without \"from\""))
        };
        match kind {
            "add" => add_at(doc, path, value()?)?,
            "remove" => {
                remove_at(doc, path)?;
            }
            "replace" => {
                remove_at(doc, path)
                    .map_err(|e| format!("replace operation does not apply: {e}"))?;
                add_at(doc, path, value()?)?;
            }
            "move" => {
                let v = remove_at(doc, from()?)?;
                add_at(doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or("copy from a missing path")?;
                add_at(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected operation {other:?}")),
        }
    }
    Ok(())
}

/// A field path as managed-fields name it: `f:name` for map keys, `k:{"type":"Ready"}` for list items.
pub(crate) type Path = Vec<String>;

fn item_seg(key: &str, item: &Value) -> String {
    format!(
        "k:{}",
        json!({ key: item.get(key).cloned().unwrap_or(Value::Null) })
    )
}

fn tracked(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        Some("f:apiVersion" | "f:kind") => false,
        Some("f:metadata") => matches!(
            path.get(1).map(String::as_str),
            Some("f:labels" | "f:annotations" | "f:finalizers" | "f:ownerReferences") | None
        ),
        _ => true,
    }
}

fn collect(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                prefix.push(format!("f:{k}"));
                collect(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) if list_key(a).is_some() => {
            let key = list_key(a).expect("checked");
            for item in a {
                prefix.push(item_seg(key, item));
                collect(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() && tracked(prefix) {
                out.insert(prefix.clone());
            }
        }
    }
}

/// The leaf fields of an object (scalars, empty maps, atomic lists, keyed-list item fields).
pub(crate) fn leaves(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    collect(v, &mut Vec::new(), &mut out);
    out
}

fn seg_get<'a>(v: &'a Value, seg: &str) -> Option<&'a Value> {
    if let Some(k) = seg.strip_prefix("f:") {
        v.get(k)
    } else {
        let kv: Value = serde_json::from_str(seg.strip_prefix("k:")?).ok()?;
        let (k, want) = kv.as_object()?.iter().next()?;
        v.as_array()?.iter().find(|i| i.get(k) == Some(want))
    }
}

/// The value at a field path.
pub(crate) fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| seg_get(cur, seg))
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        let next = if let Some(k) = seg.strip_prefix("f:") {
            cur.get_mut(k)
        } else {
            let kv: Option<Value> = seg
                .strip_prefix("k:")
                .and_then(|s| serde_json::from_str(s).ok());
            let Some((k, want)) = kv
                .as_ref()
                .and_then(Value::as_object)
                .and_then(|o| o.iter().next())
            else {
                return;
            };
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| i.get(k) == Some(want)))
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(k) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(k);
        }
    } else if let Some(kv) = last
        .strip_prefix("k:")
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        && let Some((k, want)) = kv.as_object().and_then(|o| o.iter().next())
        && let Some(a) = cur.as_array_mut()
    {
        a.retain(|i| i.get(k) != Some(want));
    }
}

/// One field manager's set of owned fields.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Owner {
    pub manager: String,
    pub apply: bool,
    pub subresource: String,
    pub fields: BTreeSet<Path>,
}

/// Ownership after a non-apply write (create, update, patch): fields the write changed move to
/// `manager`'s Update entry; fields it removed are owned by nobody.
pub(crate) fn record_update(
    owners: &mut Vec<Owner>,
    old: &Value,
    new: &Value,
    manager: &str,
    subresource: &str,
) {
    let old_leaves = leaves(old);
    let new_leaves = leaves(new);
    let changed: BTreeSet<Path> = new_leaves
        .iter()
        .filter(|p| get_path(old, p) != get_path(new, p))
        .cloned()
        .collect();
    let removed: BTreeSet<&Path> = old_leaves
        .iter()
        .filter(|p| get_path(new, p).is_none())
        .collect();
    for o in owners.iter_mut() {
        o.fields
            .retain(|f| !changed.contains(f) && !removed.contains(f));
        // A field that became a container of other fields is no longer a leaf.
        o.fields.retain(|f| get_path(new, f).is_some());
    }
    if !changed.is_empty() {
        let entry = entry(owners, manager, false, subresource);
        entry.fields.extend(changed);
    }
    owners.retain(|o| !o.fields.is_empty() || o.apply);
}

fn entry<'a>(
    owners: &'a mut Vec<Owner>,
    manager: &str,
    apply: bool,
    subresource: &str,
) -> &'a mut Owner {
    let i = match owners
        .iter()
        .position(|o| o.manager == manager && o.apply == apply && o.subresource == subresource)
    {
        Some(i) => i,
        None => {
            owners.push(Owner {
                manager: manager.into(),
                apply,
                subresource: subresource.into(),
                fields: BTreeSet::new(),
            });
            owners.len() - 1
        }
    };
    &mut owners[i]
}

/// A field owned by another manager that an apply would change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conflict {
    pub manager: String,
    pub path: Path,
}

/// Renders `.spec.replicas`-style text for a path.
pub(crate) fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|s| match s.strip_prefix("f:") {
            Some(k) => format!(".{k}"),
            None => format!("[{}]", s.trim_start_matches("k:")),
        })
        .collect()
}

/// Server-side apply of `config` by `manager` onto `obj` (simplified structured merge): conflicts
/// with other managers' differing fields unless `force`; fields this manager applied before and
/// no longer applies are removed when nobody else owns them; then the config is merged in.
pub(crate) fn apply(
    owners: &mut Vec<Owner>,
    obj: &Value,
    config: &Value,
    manager: &str,
    subresource: &str,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let applied = leaves(config);
    let mut conflicts = Vec::new();
    for p in &applied {
        let cur = get_path(obj, p);
        if cur.is_none() || cur == get_path(config, p) {
            continue;
        }
        for o in owners.iter() {
            if o.manager != manager && o.fields.contains(p) {
                conflicts.push(Conflict {
                    manager: o.manager.clone(),
                    path: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for c in &conflicts {
        for o in owners.iter_mut().filter(|o| o.manager != manager) {
            o.fields.remove(&c.path);
        }
    }
    let previous = entry(owners, manager, true, subresource).fields.clone();
    let others: BTreeSet<Path> = owners
        .iter()
        .filter(|o| !(o.manager == manager && o.apply && o.subresource == subresource))
        .flat_map(|o| o.fields.iter().cloned())
        .collect();
    let mut out = obj.clone();
    for dropped in previous.difference(&applied) {
        if others.contains(dropped) || !tracked(dropped) {
            continue;
        }
        // Dropping the key field of a keyed list item drops the item.
        let target: &[String] = match dropped.split_last() {
            Some((last, parent)) if parent.last().is_some_and(|p| p.starts_with("k:")) => {
                let is_key = parent
                    .last()
                    .and_then(|p| serde_json::from_str::<Value>(&p[2..]).ok())
                    .and_then(|kv| kv.as_object().and_then(|o| o.keys().next().cloned()))
                    .is_some_and(|k| *last == format!("f:{k}"));
                if is_key { parent } else { dropped }
            }
            _ => dropped,
        };
        if others
            .iter()
            .any(|o| o.starts_with(target) && o.len() > target.len())
        {
            remove_path(&mut out, dropped);
        } else {
            remove_path(&mut out, target);
        }
        // Prune containers emptied by the removal (below the top-level sections).
        let mut parent = target.to_vec();
        while parent.len() > 2 {
            parent.pop();
            let empty = match get_path(&out, &parent) {
                Some(Value::Object(m)) => m.is_empty(),
                _ => false,
            };
            if empty && !applied.contains(&parent) && !others.contains(&parent) {
                remove_path(&mut out, &parent);
            } else {
                break;
            }
        }
    }
    keyed_merge(&mut out, config);
    entry(owners, manager, true, subresource).fields = applied.clone();
    for o in owners
        .iter_mut()
        .filter(|o| !(o.manager == manager && o.apply))
    {
        // Fields whose value this apply changed leave their previous owners.
        o.fields
            .retain(|f| !applied.contains(f) || get_path(obj, f) == get_path(&out, f));
    }
    owners.retain(|o| !o.fields.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_deletes_nulls_and_replaces_lists() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]});
        merge_patch(&mut v, &json!({"a": null, "b": {"c": 5}, "l": [3]}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut v = json!({"spec": {"replicas": 1, "list": ["a"]}});
        json_patch(
            &mut v,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/-", "value": "b"},
                {"op": "add", "path": "/spec/a~1b", "value": true},
                {"op": "test", "path": "/spec/list/0", "value": "a"},
                {"op": "copy", "from": "/spec/replicas", "path": "/spec/copy"},
                {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
                {"op": "remove", "path": "/spec/list/0"}
            ]),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"spec": {"replicas": 3, "list": ["b"], "a/b": true, "moved": 3}})
        );
        assert!(
            json_patch(
                &mut v,
                &json!([{"op": "test", "path": "/spec/replicas", "value": 4}])
            )
            .is_err()
        );
        assert!(
            json_patch(
                &mut v,
                &json!([{"op": "replace", "path": "/nope", "value": 4}])
            )
            .is_err()
        );
    }

    #[test]
    fn keyed_lists_merge_by_type() {
        let mut v = json!({"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]});
        keyed_merge(
            &mut v,
            &json!({"conditions": [{"type": "B", "status": "True"}, {"type": "C", "status": "True"}]}),
        );
        assert_eq!(
            v,
            json!({"conditions": [
                {"type": "A", "status": "True"}, {"type": "B", "status": "True"}, {"type": "C", "status": "True"}
            ]})
        );
    }

    #[test]
    fn apply_removes_fields_the_manager_no_longer_applies() {
        let mut owners = Vec::new();
        let obj = json!({"metadata": {"name": "x"}, "status": {}});
        let cfg1 = json!({"status": {"alloc": {"replicas": 2, "acc": "A100"}, "conditions": [
            {"type": "Ready", "status": "True"}, {"type": "Old", "status": "True"}]}});
        let obj = apply(&mut owners, &obj, &cfg1, "wva", "status", false).unwrap();
        assert_eq!(obj["status"]["alloc"]["replicas"], 2);
        let cfg2 =
            json!({"status": {"alloc": {}, "conditions": [{"type": "Ready", "status": "False"}]}});
        let obj = apply(&mut owners, &obj, &cfg2, "wva", "status", false).unwrap();
        assert_eq!(
            obj["status"],
            json!({"alloc": {}, "conditions": [{"type": "Ready", "status": "False"}]})
        );
    }

    #[test]
    fn apply_conflicts_with_other_managers_unless_forced() {
        let mut owners = Vec::new();
        let obj = json!({"spec": {}});
        let obj = apply(
            &mut owners,
            &obj,
            &json!({"spec": {"holder": "a"}}),
            "a",
            "",
            false,
        )
        .unwrap();
        let err = apply(
            &mut owners,
            &obj,
            &json!({"spec": {"holder": "b"}}),
            "b",
            "",
            false,
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "a");
        assert_eq!(dotted(&err[0].path), ".spec.holder");
        // Same value: shared ownership, no conflict.
        apply(
            &mut owners,
            &obj,
            &json!({"spec": {"holder": "a"}}),
            "c",
            "",
            false,
        )
        .unwrap();
        let obj = apply(
            &mut owners,
            &obj,
            &json!({"spec": {"holder": "b"}}),
            "b",
            "",
            true,
        )
        .unwrap();
        assert_eq!(obj["spec"]["holder"], "b");
    }

    #[test]
    fn update_takes_ownership_away_from_appliers() {
        let mut owners = Vec::new();
        let obj = apply(
            &mut owners,
            &json!({}),
            &json!({"spec": {"x": 1}}),
            "a",
            "",
            false,
        )
        .unwrap();
        let new = json!({"spec": {"x": 2}});
        record_update(&mut owners, &obj, &new, "editor", "");
        // "a" no longer owns spec.x, so "b" applying it conflicts with "editor".
        let err = apply(
            &mut owners,
            &new,
            &json!({"spec": {"x": 3}}),
            "b",
            "",
            false,
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "editor");
    }
}
