use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    wva_desired_replicas: GaugeVec,
}

fn main() {}
