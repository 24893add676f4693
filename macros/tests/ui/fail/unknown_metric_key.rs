use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas: one error for the typo, no "needs labels" after it.
    #[metric(lables("variant_name"))]
    wva_desired_replicas: GaugeVec,
}

fn main() {}
