//! Declarations of everything a WVA user or operator can name, each declared once.
//!
//! * [`crd`]: the `VariantAutoscaling` custom resource (`llmd.ai/v1alpha1`).
//! * [`config`]: the controller's static (restart-only) and dynamic (live) parameters.
//! * [`saturation`]: entries of the saturation-scaling and scale-to-zero ConfigMaps (from
//!   `wva-core`, which has no Kubernetes in it).
//! * [`metrics`]: the Prometheus metrics the controller emits.
//! * [`helm_values`]: the Helm chart's values; [`helm_parameters`]: its `wva.parameters`,
//!   derived from the parameter table.
//!
//! The derives in `wva-macros` turn these declarations into tables; [`render`] turns the
//! tables into the artefacts people read (CRD YAML, parameter and metric references) and
//! [`helm_values::render`] the values into the chart's files. The root `build.rs` and the `wva`
//! binary both call them, so the docs and the program can never disagree; a render that fails
//! returns a [`render::RenderError`] and fails the build.

extern crate self as wva_api;

pub mod alerts;
pub mod config;
pub mod crd;
pub mod dashboard;
pub mod helm_parameters;
pub mod helm_values;
pub mod metrics;
pub mod params;
pub mod render;

pub use wva_core::input;
pub use wva_core::saturation;
pub use wva_core::service_class;
pub use wva_core::suggest;

pub use wva_macros::{ConfigParams, MetricSet};
