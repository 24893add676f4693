//! Reading a `ConfigParams` declaration into its model: attribute syntax, keys and field types.

use super::model::{Declaration, Keys, Param};
use super::types;
use crate::{attr, ctxt::Ctxt, docs, naming};

const FIELD_KEYS: &[&str] = &[
    "flag", "short", "default", "min", "max", "required", "env_only", "secret", "pending",
];
const STRUCT_KEYS: &[&str] = &["mutable", "rules"];

/// Reads the whole declaration; problems that still leave a model are recorded in `cx`.
pub fn declaration(cx: &Ctxt, input: &syn::DeriveInput) -> syn::Result<Declaration> {
    let fields = attr::named_fields(input, "ConfigParams", "parameter")?;
    let mut mutable = false;
    let mut rules = None;
    attr::for_each_key(cx, &input.attrs, "params", STRUCT_KEYS, |meta| {
        if meta.path.is_ident("mutable") {
            mutable = true;
        } else if meta.path.is_ident("rules") {
            let value = meta.value()?;
            if value.peek(syn::LitStr) {
                let lit: syn::LitStr = value.parse()?;
                return Err(syn::Error::new_spanned(
                    lit,
                    "`rules` names a function `fn(&Self) -> Vec<Violation>` as a path, not a \
                     string: write `rules = Self::rules`",
                ));
            }
            rules = Some(value.parse()?);
        } else {
            return Ok(false);
        }
        Ok(true)
    });
    Ok(Declaration {
        ident: input.ident.clone(),
        mutable,
        rules,
        params: fields.iter().filter_map(|f| field(cx, f)).collect(),
    })
}

/// Reads one field; `None`, with the error recorded, when its type is not a parameter type.
fn field(cx: &Ctxt, field: &syn::Field) -> Option<Param> {
    let ident = field.ident.as_ref()?; // named fields always have one
    let name = ident.to_string();
    let keys = keys(cx, field, &name);
    let Some(value) = types::field_type(&field.ty) else {
        cx.error_spanned_by(
            &field.ty,
            format!(
                "unsupported parameter type for `{name}`: use {}",
                types::SUPPORTED
            ),
        );
        return None;
    };
    Some(Param {
        field: ident.clone(),
        vis: field.vis.clone(),
        ty: field.ty.clone(),
        value,
        key: naming::upper_snake(&name),
        doc: docs::read(&field.attrs),
        keys,
    })
}

/// Reads the `#[param(...)]` keys of the field `name`.
fn keys(cx: &Ctxt, field: &syn::Field, name: &str) -> Keys {
    let mut keys = Keys::default();
    keys.complete = attr::for_each_key(cx, &field.attrs, "param", FIELD_KEYS, |meta| {
        let path = &meta.path;
        if path.is_ident("flag") {
            keys.flag = Some(if meta.input.peek(syn::Token![=]) {
                let lit: syn::LitStr = meta.value()?.parse()?;
                lit.value().trim_start_matches('-').to_string()
            } else {
                naming::kebab(name)
            });
        } else if path.is_ident("short") {
            keys.short = Some(meta.value()?.parse()?);
        } else if path.is_ident("default") {
            keys.default = Some(meta.value()?.parse()?);
        } else if path.is_ident("min") {
            keys.min = Some(meta.value()?.parse()?);
        } else if path.is_ident("max") {
            keys.max = Some(meta.value()?.parse()?);
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
