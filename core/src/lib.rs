//! What the decision engine (`wva-engine`) and the derives (`wva-macros`) need from the
//! declarations, with no Kubernetes in it.
//!
//! * [`saturation`]: entries of the saturation-scaling and scale-to-zero ConfigMaps, the
//!   thresholds they resolve to, and their parsing and lookup by model.
//! * [`input`]: reading an input file (`-` for stdin) with a size bound.
//! * [`suggest`]: did-you-mean suggestions for mistyped names.
//! * [`params`]: the text grammar of parameter values and the value types a parameter may
//!   have.
//!
//! `wva-api` re-exports them at the same paths (`wva_api::saturation`, and
//! `wva_api::params::{grammar, BindAddress, ParamValue}`), next to the declarations that need
//! Kubernetes.

pub mod input;
pub mod params;
pub mod saturation;
pub mod service_class;
pub mod suggest;
