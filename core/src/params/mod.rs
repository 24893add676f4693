//! Parameter values: their text grammar and the types a parameter may have.
//!
//! The parameter table, the precedence resolver and configuration diffs live in
//! `wva_api::params`, which re-exports these items.

pub mod grammar;
mod value;

pub use value::{BindAddress, ParamValue};
