/// Metrics.
#[derive(wva_api::MetricSet)]
enum Metrics {
    Desired,
}

fn main() {}
