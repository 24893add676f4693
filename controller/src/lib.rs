//! The WVA operator as a library.
//!
//! * [`config`]: the `wva run` command line built from the parameter table, and loading of
//!   the resolved configuration by precedence (explicit flag > env > ConfigMap > default).
//! * [`scope`]: which VAs and namespaces this controller manages.
//! * [`workload`]: accelerator, GPUs per replica and replica counts read from a Deployment.

pub mod config;
pub mod scope;
pub mod workload;
