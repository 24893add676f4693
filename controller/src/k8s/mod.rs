//! Kubernetes access: the client, the informer caches the engine cycle reads, and leader
//! election.

pub mod caches;
pub mod client;
pub mod crd;
pub mod leader;
pub mod pools;
pub mod scale;
pub mod status;
