use wva_api::metrics::prometheus::Gauge;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    #[metric(labels("variant_name"))]
    wva_desired_replicas: Gauge,
}

fn main() {}
