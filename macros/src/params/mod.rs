//! `#[derive(ConfigParams)]`: parse the declaration into a model, check the model, generate the
//! table, the loader and the typed keys.

mod check;
mod expand;
mod model;
mod parse;
mod types;

use crate::derive::Passes;

/// The passes of `#[derive(ConfigParams)]`.
pub const PASSES: Passes<model::Declaration> = Passes {
    parse: parse::declaration,
    check: check::declaration,
    expand: expand::implementation,
    stub: expand::stub,
};
