//! Label and field selectors, as the API server parses them from query parameters.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label or field selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Selector {
    reqs: Vec<Req>,
    field: bool,
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_values(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("found '{rest}', expected: '('"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl Selector {
    /// Parses a label selector (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`).
    pub fn labels(s: &str) -> Result<Self, String> {
        Self::parse(s, false)
    }

    /// Parses a field selector (`metadata.name=x,spec.nodeName!=y`); only `=`, `==` and `!=`.
    pub fn fields(s: &str) -> Result<Self, String> {
        Self::parse(s, true)
    }

    fn parse(s: &str, field: bool) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if field {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            } else if let Some(k) = part.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set_values(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Req::In(k.trim().into(), set_values(rest)?)
            } else if part.contains(char::is_whitespace) || part.contains(['(', ')']) {
                return Err(format!("unable to parse requirement: '{part}'"));
            } else {
                Req::Exists(part.into())
            };
            reqs.push(req);
        }
        Ok(Self { reqs, field })
    }

    fn value_of<'a>(&self, obj: &'a Value, key: &str) -> Option<String> {
        if self.field {
            let mut cur: &'a Value = obj;
            for seg in key.split('.') {
                cur = cur.get(seg)?;
            }
            match cur {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        } else {
            obj.pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    }

    /// Renames the keys (field paths) of every requirement.
    pub fn map_keys(mut self, f: impl Fn(&str) -> String) -> Self {
        for r in &mut self.reqs {
            let k = match r {
                Req::Eq(k, _) | Req::Ne(k, _) | Req::In(k, _) | Req::NotIn(k, _) => k,
                Req::Exists(k) | Req::NotExists(k) => k,
            };
            *k = f(k);
        }
        self
    }

    /// Does the object match every requirement?
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => {
                self.value_of(obj, k).unwrap_or_default() == *v
                    && (self.field || self.value_of(obj, k).is_some())
            }
            Req::Ne(k, v) => self.value_of(obj, k).as_deref() != Some(v.as_str()),
            Req::In(k, vs) => self.value_of(obj, k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => !self.value_of(obj, k).is_some_and(|x| vs.contains(&x)),
            Req::Exists(k) => self.value_of(obj, k).is_some(),
            Req::NotExists(k) => self.value_of(obj, k).is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns1", "labels": labels}, "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn label_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let m = |s: &str| Selector::labels(s).unwrap().matches(&o);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("missing!=x"));
        assert!(!m("app=db"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("app in (db, web)"));
        assert!(!m("app notin (db,web)"));
        assert!(m("missing notin (x)"));
        assert!(!m("missing in (x)"));
        assert!(!m("missing"));
        assert!(
            !m("empty="),
            "a missing label does not equal the empty string"
        );
        assert!(Selector::labels("a b").is_err());
    }

    #[test]
    fn field_paths() {
        let o = obj(json!({}));
        let m = |s: &str| Selector::fields(s).unwrap().matches(&o);
        assert!(m("metadata.name=a,metadata.namespace=ns1"));
        assert!(!m("metadata.name!=a"));
        assert!(m("spec.nodeName==n1"));
        assert!(m("spec.other="), "a missing field equals the empty string");
        assert!(Selector::fields("metadata.name").is_err());
    }
}
