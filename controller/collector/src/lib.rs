//! Prometheus collector: batched PromQL into engine signals.
