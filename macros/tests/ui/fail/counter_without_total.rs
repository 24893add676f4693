use wva_api::metrics::prometheus::IntCounterVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Scaling operations
    #[metric(labels("direction"))]
    wva_replica_scaling: IntCounterVec,
}

fn main() {}
