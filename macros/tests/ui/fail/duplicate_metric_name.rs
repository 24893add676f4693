use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    #[metric(labels("variant_name"))]
    wva_desired_replicas: GaugeVec,
    /// Desired replicas, declared again under another field name
    #[metric(name = "wva_desired_replicas", labels("variant_name"))]
    desired_again: GaugeVec,
}

fn main() {}
