//! The WVA operator as a library.
//!
//! * [`assemble`]: from the caches and one collection to the engine's snapshot.
//! * [`config`]: the `wva run` command line built from the parameter table, and loading of
//!   the resolved configuration by precedence (explicit flag > env > ConfigMap > default).
//! * [`configmaps`]: global and namespace-local saturation / scale-to-zero ConfigMaps.
//! * [`epp`]: the gateway queue scraped from the InferencePools' endpoint pickers.
//! * [`error`]: the controller's error type.
//! * [`gpus`]: free GPUs per accelerator type from Nodes and Pods (limited mode).
//! * [`k8s`]: the Kubernetes client, the informer caches and the InferencePool watch.
//! * [`keys`]: typed keys of the objects the controller tracks.
//! * [`run`]: `wva run`, the controller loop and its steps.
//! * [`scope`]: which VAs and namespaces this controller manages.
//! * [`telemetry`]: logs and health probes.
//! * [`workload`]: accelerator, GPUs per replica and replica counts read from a Deployment.

pub mod assemble;
pub mod config;
pub mod configmaps;
pub mod epp;
pub mod error;
pub mod gpus;
pub mod k8s;
pub mod keys;
pub mod run;
pub mod scope;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod workload;
