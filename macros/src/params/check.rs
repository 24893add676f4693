//! The rules a `ConfigParams` model must follow, each reported on the token that breaks it.

use super::model::{Declaration, Param};
use super::types::{self, Kind};
use crate::ctxt::Ctxt;
use std::collections::HashMap;

/// Records every rule `decl` breaks.
pub fn declaration(cx: &Ctxt, decl: &Declaration) {
    for param in &decl.params {
        check_param(cx, param);
    }
    check_unique(cx, &decl.params);
}

fn check_param(cx: &Ctxt, p: &Param) {
    let name = p.field.to_string();
    if p.doc.is_missing() {
        cx.error_spanned_by(
            &p.field,
            format!(
                "parameter `{name}` needs a doc comment: its first paragraph is the --help line \
                 and the docs row, the rest is the long help"
            ),
        );
    }
    check_presence(cx, p);
    if let Some(lit) = &p.keys.default {
        check_literal(cx, lit, p.value.kind, "default");
    }
    check_bounds(cx, p);
    if let Some(lit) = &p.keys.short
        && !lit.value().is_ascii_alphabetic()
    {
        cx.error_spanned_by(lit, "`short` must be one ASCII letter, like 'v'");
    }
    if let Some(lit) = &p.keys.pending
        && lit.value().trim().is_empty()
    {
        cx.error_spanned_by(
            lit,
            "`pending` names the feature that has not landed, like \"scale-from-zero\"",
        );
    }
}

/// `min` and `max` apply to numbers and durations, parse as the field's type, and `min` is at
/// most `max`.
fn check_bounds(cx: &Ctxt, p: &Param) {
    let bounds = [("min", &p.keys.min), ("max", &p.keys.max)];
    let mut parsed = true;
    for (key, lit) in bounds {
        let Some(lit) = lit else { continue };
        if let Kind::Bool | Kind::Str | Kind::Address | Kind::Choice = p.value.kind {
            cx.error_spanned_by(
                lit,
                format!("`{key}` applies to numbers and durations only: remove it"),
            );
            parsed = false;
        } else if !check_literal(cx, lit, p.value.kind, key) {
            parsed = false;
        }
    }
    if let (true, Some(min), Some(max)) = (parsed, &p.keys.min, &p.keys.max)
        && types::exceeds(p.value.kind, &min.value(), &max.value())
    {
        cx.error_spanned_by(
            max,
            format!(
                "`max` ({}) is below `min` ({}): no value could be accepted; swap or fix them",
                max.value(),
                min.value()
            ),
        );
    }
}

/// Exactly one of: a default, `required`, or an `Option<_>` type.
fn check_presence(cx: &Ctxt, p: &Param) {
    let name = p.field.to_string();
    match (&p.keys.default, &p.keys.required, p.value.optional) {
        // After a rejected key the missing one may be that key: its error is enough.
        (None, None, false) if p.keys.complete => cx.error_spanned_by(
            &p.field,
            format!(
                "missing key: parameter `{name}` needs `default = \"...\"` or `required` in \
                 #[param(...)], or an `Option<_>` type (unset by default)"
            ),
        ),
        (Some(default), Some(_), _) => cx.error_spanned_by(
            default,
            format!("parameter `{name}` is `required`, so it cannot have a default: remove one of them"),
        ),
        (Some(default), None, true) => cx.error_spanned_by(
            default,
            format!("parameter `{name}` is an `Option<_>`, which defaults to unset: remove `default` or drop the `Option`"),
        ),
        (None, Some(required), true) => cx.error_spanned_by(
            required,
            format!("parameter `{name}` is `required`, so it cannot be an `Option<_>`: drop the `Option`"),
        ),
        _ => {}
    }
}

/// The literal of `key` must parse as the field's type, with the runtime's own grammar;
/// returns whether it does.
fn check_literal(cx: &Ctxt, lit: &syn::LitStr, kind: Kind, key: &str) -> bool {
    let checked = types::check_literal(kind, &lit.value());
    if let Err(why) = &checked {
        cx.error_spanned_by(
            lit,
            format!("`{key}` does not parse as the field's type: {why}"),
        );
    }
    checked.is_ok()
}

/// No two fields may claim the same flag, short flag, or env / ConfigMap key.
fn check_unique(cx: &Ctxt, params: &[Param]) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for p in params {
        let claims = [
            p.keys.flag.as_ref().map(|f| format!("flag `--{f}`")),
            p.keys
                .short
                .as_ref()
                .map(|c| format!("flag `-{}`", c.value())),
            Some(format!("env var / ConfigMap key `{}`", p.key)),
        ];
        for claim in claims.into_iter().flatten() {
            if let Some(first) = seen.get(&claim) {
                cx.error_spanned_by(
                    &p.field,
                    format!("{claim} is already used by field `{first}`: give this field another name or flag"),
                );
            } else {
                seen.insert(claim, &p.field);
            }
        }
    }
}
