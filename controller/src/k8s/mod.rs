//! Kubernetes access: the client, the informer caches the engine cycle reads (kinds whose CRD
//! may be missing in [`optional`]), and leader election.

pub mod caches;
pub mod client;
pub mod crd;
pub mod leader;
pub mod optional;
pub mod pools;
pub mod scale;
pub mod status;
