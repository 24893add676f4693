//! Logs, health probes, the metrics endpoint and metric publication.

pub mod capacity;
pub mod cycle_metrics;
pub mod emit;
pub mod health;
pub mod logging;
pub mod metrics_server;
