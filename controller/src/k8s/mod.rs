//! Kubernetes access: the client, and the informer caches the engine cycle reads.

pub mod caches;
pub mod client;
