//! Test support shared by the collector tests and the end-to-end tests.
//!
//! - [`VllmEmulator`]: an HTTP endpoint serving vLLM's `/metrics` (real metric names and labels)
//!   whose values a test sets at runtime.
//! - [`VllmPods`]: the vLLM replicas of whole Deployments on one endpoint, one series set per
//!   pod (labelled `namespace` and `pod`, scraped with `honor_labels`), pods changed at runtime.
//! - [`Prometheus`]: starts the real `prometheus` binary on a free loopback port with its own
//!   configuration and data directory, scraping the given targets every second; waits for
//!   readiness and a first scrape; kills the process on drop. `stop()` and `restart()` (same
//!   port and data) make an outage.
//! - [`StubServer`]: a loopback HTTP or HTTPS server (optionally requiring a client
//!   certificate) that records requests and answers with canned responses.
//! - [`TestPki`]: a CA with server and client certificates generated for a test.
//!
//! Every server binds `127.0.0.1:0` and runs on its own thread, so tests run in parallel and
//! the helpers work from synchronous and asynchronous tests alike.

mod crd;
mod emulator;
mod gateway;
mod http;
mod pki;
mod pods;
mod prometheus;
mod server;
mod stub;
pub mod tools;

pub use crd::open_crd;
pub use emulator::{ReplicaMetrics, VllmEmulator};
pub use gateway::GatewayEmulator;
pub use pki::{CertifiedKey, TestPki};
pub use pods::VllmPods;
pub use prometheus::{
    Prometheus, PrometheusBuilder, PrometheusTls, ScrapeTarget, prometheus_binary, promtool_binary,
};
pub use server::{RecordedRequest, StubResponse};
pub use stub::{StubServer, TlsOptions};
