use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    #[metric(labels("variant_name"), buckets(1.0, 2.0))]
    wva_desired_replicas: GaugeVec,
}

fn main() {}
