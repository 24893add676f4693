//! Parsing of `#[name(key, key = value, key(list))]` attributes with prescriptive errors.

use crate::ctxt::Ctxt;
use std::collections::HashSet;
use syn::meta::ParseNestedMeta;

/// The named fields of a derive input, or an error on the type's name saying that `derive`
/// needs a struct with named fields, each of which is one `item`.
pub fn named_fields<'a>(
    input: &'a syn::DeriveInput,
    derive: &str,
    item: &str,
) -> syn::Result<&'a syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(fields),
            ..
        }) => Ok(&fields.named),
        _ => Err(syn::Error::new_spanned(
            &input.ident,
            format!(
                "{derive} can only be derived for a struct with named fields: each field is one {item}"
            ),
        )),
    }
}

/// Runs `handle` for every key of every `#[name(...)]` attribute in `attrs`.
///
/// `handle` returns `Ok(false)` for a key it does not know; the key is then reported with a
/// did-you-mean suggestion taken from `known`, and its value is skipped so parsing goes on.
/// A known key given a second time is reported on its second occurrence and not handled, so
/// the first value stays. Returns `true` when every key was read; after a rejected key the
/// caller must not report a key as missing, since the rejected one may be it.
pub fn for_each_key(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    name: &str,
    known: &[&str],
    mut handle: impl FnMut(&ParseNestedMeta) -> syn::Result<bool>,
) -> bool {
    let mut complete = true;
    let mut seen = HashSet::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        if let syn::Meta::Path(_) = attr.meta {
            continue; // a bare `#[name]` carries no keys
        }
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if known.contains(&key.as_str()) && !seen.insert(key.clone()) {
                complete = false;
                cx.error_spanned_by(
                    &meta.path,
                    format!("duplicate key `{key}` in #[{name}(...)]: keep only one"),
                );
                return skip_value(&meta);
            }
            if handle(&meta)? {
                return Ok(());
            }
            complete = false;
            cx.error_spanned_by(&meta.path, unknown_key_message(name, &key, known));
            skip_value(&meta)
        });
        if let Err(error) = result {
            complete = false;
            cx.syn_error(error);
        }
    }
    complete
}

/// The message for an unknown key, with the closest known key when one is close.
fn unknown_key_message(attr: &str, key: &str, known: &[&str]) -> String {
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match wva_core::suggest::closest(key, known.iter().copied()) {
        Some(best) => {
            format!(
                "unknown key `{key}` in #[{attr}(...)], did you mean `{best}`? (known keys: {list})"
            )
        }
        None => format!("unknown key `{key}` in #[{attr}(...)]; known keys: {list}"),
    }
}

/// Consumes `= value` or `(...)` after an unknown key.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _group: proc_macro2::Group = meta.input.parse()?;
    }
    Ok(())
}

/// Parses a parenthesised, comma-separated list of string literals: `("a", "b")`.
pub fn string_list(meta: &ParseNestedMeta) -> syn::Result<Vec<syn::LitStr>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let items =
        content.parse_terminated(<syn::LitStr as syn::parse::Parse>::parse, syn::Token![,])?;
    Ok(items.into_iter().collect())
}
