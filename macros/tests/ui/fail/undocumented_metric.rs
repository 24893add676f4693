use wva_api::metrics::prometheus::GaugeVec;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    #[metric(labels("variant_name"))]
    wva_desired_replicas: GaugeVec,
}

fn main() {}
