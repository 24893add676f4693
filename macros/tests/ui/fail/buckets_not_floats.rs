use wva_api::metrics::prometheus::Histogram;

/// Metrics.
#[derive(wva_api::MetricSet)]
struct Metrics {
    /// Cycle duration in seconds
    #[metric(buckets(1, 2))]
    wva_cycle_seconds: Histogram,
}

fn main() {}
