//! The model of a `ConfigParams` declaration, as the parse pass reads it.
//!
//! It keeps the literals as written, with their spans, so the check pass can point at the
//! offending token.

use super::types::FieldType;
use crate::docs::Doc;

/// A struct of parameters.
pub struct Declaration {
    /// The struct's name.
    pub ident: syn::Ident,
    /// `#[params(mutable)]`: every field may change at runtime.
    pub mutable: bool,
    /// `#[params(rules = path)]`: a function `fn(&Self) -> Vec<Violation>` holding the rules
    /// that span several fields, run after every field resolved.
    pub rules: Option<syn::Path>,
    /// One entry per field whose type was understood, in declaration order.
    pub params: Vec<Param>,
}

/// One parameter field and its `#[param(...)]` keys.
pub struct Param {
    /// The field name.
    pub field: syn::Ident,
    /// The field's visibility, which its typed key gets too.
    pub vis: syn::Visibility,
    /// The field type as written.
    pub ty: syn::Type,
    /// The field type as the derive understands it.
    pub value: FieldType,
    /// The env var and ConfigMap key: the field name in UPPER_SNAKE case.
    pub key: String,
    /// The doc comment.
    pub doc: Doc,
    /// The `#[param(...)]` keys.
    pub keys: Keys,
}

/// The keys of one field's `#[param(...)]` attributes.
#[derive(Default)]
pub struct Keys {
    /// The long flag without dashes, when the field has `flag`.
    pub flag: Option<String>,
    /// `short = 'c'`.
    pub short: Option<syn::LitChar>,
    /// `default = "..."`.
    pub default: Option<syn::LitStr>,
    /// `min = "..."`.
    pub min: Option<syn::LitStr>,
    /// `max = "..."`.
    pub max: Option<syn::LitStr>,
    /// `required`, with the key's tokens.
    pub required: Option<syn::Path>,
    /// `env_only`.
    pub env_only: bool,
    /// `secret`.
    pub secret: bool,
    /// `pending = "feature"`.
    pub pending: Option<syn::LitStr>,
    /// False when a key was rejected (unknown, repeated or malformed): the checks that a key
    /// is absent are then skipped, since the rejected key may be it.
    pub complete: bool,
}
