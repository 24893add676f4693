//! Reading and checking a `ConfigParams` declaration.

use super::types::{self, FieldType, Kind};
use crate::{attr, ctxt::Ctxt, docs, naming};
use std::collections::HashMap;

/// A checked declaration, ready to generate.
pub struct Declaration {
    pub ident: syn::Ident,
    pub mutable: bool,
    pub params: Vec<Param>,
}

/// One checked parameter field.
pub struct Param {
    pub field: syn::Ident,
    pub ty: syn::Type,
    pub key: String,
    pub flag: Option<String>,
    pub short: Option<char>,
    pub default: Option<String>,
    pub min: Option<String>,
    pub required: bool,
    pub env_only: bool,
    pub secret: bool,
    pub pending: Option<String>,
    pub summary: String,
    pub details: String,
}

const FIELD_KEYS: &[&str] = &[
    "flag", "short", "default", "min", "required", "env_only", "secret", "pending",
];
const STRUCT_KEYS: &[&str] = &["mutable"];

/// Reads the whole declaration; every problem is recorded in `cx`.
pub fn declaration(cx: &Ctxt, input: &syn::DeriveInput) -> Option<Declaration> {
    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(fields),
        ..
    }) = &input.data
    else {
        cx.error_spanned_by(
            &input.ident,
            "ConfigParams can only be derived for a struct with named fields: \
             each field is one parameter",
        );
        return None;
    };
    let mut mutable = false;
    attr::for_each_key(cx, &input.attrs, "params", STRUCT_KEYS, |meta| {
        Ok(meta.path.is_ident("mutable") && {
            mutable = true;
            true
        })
    });
    let params: Vec<Param> = fields.named.iter().filter_map(|f| field(cx, f)).collect();
    check_unique(cx, &params);
    Some(Declaration {
        ident: input.ident.clone(),
        mutable,
        params,
    })
}

/// The raw keys of one `#[param(...)]`, with the tokens to span errors on.
#[derive(Default)]
struct Keys {
    flag: Option<(Option<syn::LitStr>, syn::Path)>,
    short: Option<syn::LitChar>,
    default: Option<syn::LitStr>,
    min: Option<syn::LitStr>,
    required: Option<syn::Path>,
    env_only: bool,
    secret: bool,
    pending: Option<syn::LitStr>,
}

fn read_keys(cx: &Ctxt, field: &syn::Field) -> Keys {
    let mut keys = Keys::default();
    attr::for_each_key(cx, &field.attrs, "param", FIELD_KEYS, |meta| {
        let path = &meta.path;
        if path.is_ident("flag") {
            let name = if meta.input.peek(syn::Token![=]) {
                Some(meta.value()?.parse()?)
            } else {
                None
            };
            keys.flag = Some((name, path.clone()));
        } else if path.is_ident("short") {
            keys.short = Some(meta.value()?.parse()?);
        } else if path.is_ident("default") {
            keys.default = Some(meta.value()?.parse()?);
        } else if path.is_ident("min") {
            keys.min = Some(meta.value()?.parse()?);
        } else if path.is_ident("required") {
            keys.required = Some(path.clone());
        } else if path.is_ident("env_only") {
            keys.env_only = true;
        } else if path.is_ident("secret") {
            keys.secret = true;
        } else if path.is_ident("pending") {
            keys.pending = Some(meta.value()?.parse()?);
        } else {
            return Ok(false);
        }
        Ok(true)
    });
    keys
}

fn field(cx: &Ctxt, field: &syn::Field) -> Option<Param> {
    let ident = field.ident.clone()?;
    let name = ident.to_string();
    let keys = read_keys(cx, field);
    let Some(doc) = docs::read(&field.attrs) else {
        cx.error_spanned_by(
            &ident,
            format!(
                "parameter `{name}` needs a doc comment: its first paragraph is the --help line \
                 and the docs row, the rest is the long help"
            ),
        );
        return None;
    };
    let Some(FieldType { kind, optional }) = types::field_type(&field.ty) else {
        cx.error_spanned_by(
            &field.ty,
            format!(
                "unsupported parameter type for `{name}`: use {}",
                types::SUPPORTED
            ),
        );
        return None;
    };
    check_presence(cx, &ident, &keys, optional);
    let default = checked_literal(cx, keys.default.as_ref(), kind, "default");
    let min = checked_literal(cx, keys.min.as_ref(), kind, "min");
    if let (Some(lit), Kind::Bool | Kind::Str | Kind::Address) = (&keys.min, kind) {
        cx.error_spanned_by(
            lit,
            "`min` applies to numbers and durations only: remove it",
        );
    }
    let short = keys.short.as_ref().and_then(|lit| {
        let c = lit.value();
        if c.is_ascii_alphabetic() {
            Some(c)
        } else {
            cx.error_spanned_by(lit, "`short` must be one ASCII letter, like 'v'");
            None
        }
    });
    let flag = keys.flag.as_ref().map(|(lit, _)| match lit {
        Some(lit) => lit.value().trim_start_matches('-').to_string(),
        None => naming::kebab(&name),
    });
    let pending = keys.pending.as_ref().and_then(|lit| {
        let feature = lit.value();
        if feature.trim().is_empty() {
            cx.error_spanned_by(
                lit,
                "`pending` names the feature that has not landed, like \"scale-from-zero\"",
            );
            None
        } else {
            Some(feature)
        }
    });
    Some(Param {
        key: naming::upper_snake(&name),
        field: ident,
        ty: field.ty.clone(),
        flag,
        short,
        default,
        min,
        required: keys.required.is_some(),
        env_only: keys.env_only,
        secret: keys.secret,
        pending,
        summary: doc.summary,
        details: doc.details,
    })
}

/// Exactly one of: a default, `required`, or an `Option<_>` type.
fn check_presence(cx: &Ctxt, ident: &syn::Ident, keys: &Keys, optional: bool) {
    let name = ident.to_string();
    match (&keys.default, &keys.required, optional) {
        (None, None, false) => cx.error_spanned_by(
            ident,
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

fn checked_literal(cx: &Ctxt, lit: Option<&syn::LitStr>, kind: Kind, key: &str) -> Option<String> {
    let lit = lit?;
    let text = lit.value();
    match types::check_literal(kind, &text) {
        Ok(()) => Some(text),
        Err(why) => {
            cx.error_spanned_by(
                lit,
                format!("`{key}` does not parse as the field's type: {why}"),
            );
            None
        }
    }
}

/// No two fields may claim the same flag, short flag, or env / ConfigMap key.
fn check_unique(cx: &Ctxt, params: &[Param]) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for p in params {
        let claims = [
            p.flag.as_ref().map(|f| format!("flag `--{f}`")),
            p.short.map(|c| format!("flag `-{c}`")),
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
