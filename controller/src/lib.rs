//! The WVA operator as a library.
//!
//! * [`config`]: the `wva run` command line built from the parameter table, and loading of
//!   the resolved configuration by precedence (explicit flag > env > ConfigMap > default).

pub mod config;
