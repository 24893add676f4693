//! `#[derive(MetricSet)]`: parse the declaration into a model, check the model, generate the
//! table and the registration.

mod check;
mod expand;
mod model;
mod parse;

use crate::derive::Passes;

/// The passes of `#[derive(MetricSet)]`.
pub const PASSES: Passes<model::Declaration> = Passes {
    parse: parse::declaration,
    check: check::declaration,
    expand: expand::implementation,
    stub: expand::stub,
};
