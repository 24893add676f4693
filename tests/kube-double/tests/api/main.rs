//! Tests of the Kubernetes API double with a real kube 5 client.

mod common;
mod crd;
mod errors;
mod lease;
mod misc;
mod reviews;
mod watch;
