//! Logs, health probes and (as the controller lands) the metrics endpoint.

pub mod health;
pub mod logging;
