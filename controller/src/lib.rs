//! The WVA operator as a library.
//!
//! * [`analyzers`]: whether the saturation entries in force select the token-capacity
//!   analyzer, so that the collector reads its inputs.
//! * [`assemble`]: from the caches and one collection to the engine's snapshot.
//! * [`config`]: the `wva run` command line built from the parameter table, and loading of
//!   the resolved configuration by precedence (explicit flag > env > ConfigMap > default).
//! * [`configmaps`]: global and namespace-local saturation / scale-to-zero ConfigMaps.
//! * [`epp`]: the gateway queue scraped from the InferencePools' endpoint pickers.
//! * [`discovery`]: variants from HPAs and ScaledObjects annotated `llm-d.ai/managed`
//!   (`WVA_DISCOVERY`).
//! * [`error`]: the controller's error type.
//! * [`gpus`]: free GPUs per accelerator type from Nodes and Pods (limited mode).
//! * [`hybrid`]: the HYBRID mode's service classes and learned performance models.
//! * [`k8s`]: the Kubernetes client, the informer caches and the InferencePool watch.
//! * [`keys`]: typed keys of the objects the controller tracks.
//! * [`roles`]: the prefill/decode role of a pod or target (`llm-d.ai/role`).
//! * [`run`]: `wva run`, the controller loop and its steps.
//! * [`scope`]: which VAs and namespaces this controller manages.
//! * [`target`]: scale targets (Deployment, StatefulSet, LeaderWorkerSet) behind one type.
//! * [`telemetry`]: logs and health probes.
//! * [`vllm_args`]: vLLM's batch limits and data-parallel size read from a serving pod's
//!   container command line.
//! * [`workload`]: accelerator, GPUs per pod and replica counts read from a target.

pub mod analyzers;
pub mod assemble;
pub mod config;
pub mod configmaps;
pub mod discovery;
pub mod epp;
pub mod error;
pub mod gpus;
pub mod hybrid;
pub mod k8s;
pub mod keys;
pub mod roles;
pub mod run;
pub mod scope;
pub mod target;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod vllm_args;
pub mod workload;
