use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    #[metric(name = "wva-desired-replicas", labels("variant_name"))]
    desired: GaugeVec,
}

fn main() {}
