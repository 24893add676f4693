//! Logs, health probes and the metrics endpoint.

pub mod health;
pub mod logging;
pub mod metrics_server;
