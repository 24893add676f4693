use wva_api::MetricSet;
use wva_api::metrics::MetricSet as _;
use wva_api::metrics::prometheus::{Histogram, IntCounterVec, Registry};

/// Metrics of a test struct.
#[derive(MetricSet)]
struct Demo {
    /// Things done
    #[metric(labels("kind"))]
    demo_things_total: IntCounterVec,
    /// Time taken
    #[metric(name = "demo_seconds", buckets(0.1, 1.0))]
    took: Histogram,
}

fn main() {
    let registry = Registry::new();
    let demo = Demo::register(&registry, Some("a")).unwrap();
    demo.demo_things_total.with_label_values(&["x"]).inc();
    demo.took.observe(0.5);
    assert_eq!(Demo::SPECS[1].name, "demo_seconds");
    assert_eq!(registry.gather().len(), 2);
}
