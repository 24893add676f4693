//! Metric registration: names, labels, and the `controller_instance` rule (the label is on
//! every metric exactly when `CONTROLLER_INSTANCE` is set; see docs/controller.md).

use wva_api::metrics::prometheus::Registry;
use wva_api::metrics::{MetricSet, WvaMetrics};

fn label_names(registry: &Registry, metric: &str) -> Vec<String> {
    let family = registry
        .gather()
        .into_iter()
        .find(|f| f.name() == metric)
        .unwrap_or_else(|| panic!("{metric} not exported"));
    family.get_metric()[0]
        .get_label()
        .iter()
        .map(|l| l.name().to_string())
        .collect()
}

fn emit(metrics: &WvaMetrics) {
    metrics
        .wva_desired_replicas
        .with_label_values(&["llama-8b", "llm-d", "H100"])
        .set(3.0);
    metrics
        .wva_replica_scaling_total
        .with_label_values(&["llama-8b", "llm-d", "scale-up", "saturation"])
        .inc();
}

#[test]
fn without_an_instance_no_controller_instance_label() {
    let registry = Registry::new();
    let metrics = WvaMetrics::register(&registry, None).expect("registers");
    emit(&metrics);
    assert_eq!(
        label_names(&registry, "wva_desired_replicas"),
        ["accelerator_type", "namespace", "variant_name"]
    );
    let empty = Registry::new();
    emit(&WvaMetrics::register(&empty, Some("")).expect("registers"));
    assert!(
        !label_names(&empty, "wva_desired_replicas").contains(&"controller_instance".to_string())
    );
}

#[test]
fn with_an_instance_every_metric_carries_it() {
    let registry = Registry::new();
    let metrics = WvaMetrics::register(&registry, Some("my-instance-id")).expect("registers");
    emit(&metrics);
    metrics.wva_engine_cycle_duration_seconds.observe(0.01);
    for family in registry.gather() {
        for metric in family.get_metric() {
            let instance = metric
                .get_label()
                .iter()
                .find(|l| l.name() == "controller_instance");
            assert_eq!(
                instance.map(|l| l.value()),
                Some("my-instance-id"),
                "{}",
                family.name()
            );
        }
    }
}

#[test]
fn the_documented_metrics_are_declared_with_their_labels() {
    let spec = |name: &str| {
        WvaMetrics::SPECS
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for gauge in [
        "wva_desired_replicas",
        "wva_current_replicas",
        "wva_desired_ratio",
    ] {
        assert_eq!(spec(gauge).kind, "gauge");
        assert_eq!(
            spec(gauge).labels,
            ["variant_name", "namespace", "accelerator_type"]
        );
    }
    let counter = spec("wva_replica_scaling_total");
    assert_eq!(
        (counter.kind, counter.labels),
        (
            "counter",
            &["variant_name", "namespace", "direction", "reason"][..]
        )
    );
    assert_eq!(
        spec("wva_desired_replicas").help,
        "Desired number of replicas for each variant"
    );
}
