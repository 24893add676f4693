//! What the engine, the collector and the derives share, with no Kubernetes in it.
//!
//! * [`saturation`]: entries of the saturation-scaling and scale-to-zero ConfigMaps, the
//!   thresholds they resolve to, and their parsing and lookup by model.
//! * [`params`]: the text grammar of parameter values and the value types a parameter may
//!   have.
//!
//! `wva-api` re-exports both at the same paths (`wva_api::saturation`, `wva_api::params`), next
//! to the declarations that need Kubernetes. The `schema` feature adds `schemars::JsonSchema`
//! to the ConfigMap entries.

pub mod params;
pub mod saturation;
