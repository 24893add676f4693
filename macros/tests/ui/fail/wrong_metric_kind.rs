/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Desired replicas
    #[metric(labels("variant_name"))]
    wva_desired_replicas: u64,
}

fn main() {}
