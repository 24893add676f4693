//! Fuzzing the parsers users feed: arbitrary bytes and arbitrary YAML into the ConfigMap,
//! Helm values and snapshot parsers never panic; they give an error or a value that passes
//! the same validation the controller runs. Bounded (a few hundred cases each) so CI runs
//! them in seconds.

use proptest::prelude::*;
use std::collections::BTreeMap;
use wva_api::helm_values::HelmValues;
use wva_api::params::Sources;
use wva_api::saturation::{
    SaturationThresholds, parse_saturation, parse_scale_to_zero, saturation_resolution_errors,
    scale_to_zero_resolution_errors,
};
use wva_engine::{Snapshot, decide};

/// Keys the parsers know.
const KEYS: &[&str] = &[
    "kvCacheThreshold",
    "queueLengthThreshold",
    "kvSpareTrigger",
    "queueSpareTrigger",
    "scaleUpStep",
    "model_id",
    "namespace",
    "enable_scale_to_zero",
    "retention_period",
    "data",
    "kind",
    "items",
    "metadata",
    "name",
    "PROMETHEUS_BASE_URL",
    "GLOBAL_OPT_INTERVAL",
];

/// YAML-ish text: mostly the keys and values the parsers know, in random order and shape.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(KEYS).prop_map(String::from),
        "[a-zA-Z_]{1,12}",
    ];
    let value = prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        (-10i64..100).prop_map(|i| i.to_string()),
        Just(".nan".to_string()),
        Just("-.inf".to_string()),
        Just("~".to_string()),
        Just("[1, 2".to_string()),
        Just("{a: b}".to_string()),
        Just("on".to_string()),
        Just("10m".to_string()),
        Just("0s".to_string()),
        Just("|\n  nested: 1".to_string()),
        Just("&a x".to_string()),
        Just("*a".to_string()),
        Just("ConfigMap".to_string()),
        Just("List".to_string()),
        "[ -~]{0,16}",
    ];
    prop::collection::vec((0usize..4, key, value), 0..10).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, k, v)| format!("{}{k}: {v}\n", "  ".repeat(indent)))
            .collect()
    })
}

/// Arbitrary bytes, or YAML-ish text, as a string.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        yamlish(),
        "---\n[ -~\n]{0,64}\n---\n[ -~\n]{0,64}",
    ]
}

fn data(entries: Vec<(String, String)>) -> BTreeMap<String, String> {
    entries.into_iter().collect()
}

const SAMPLE: &str = include_str!("../../sim/scenarios/snapshot.json");

/// A JSON number a careless recording might hold.
fn number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (-5i64..200).prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        Just(serde_json::json!(85)),
        Just(serde_json::json!(u64::MAX)),
    ]
}

/// Replaces the `index`-th number (depth first) of `value`.
fn replace_number(value: &mut serde_json::Value, index: &mut usize, new: &serde_json::Value) {
    match value {
        serde_json::Value::Number(_) => {
            if *index == 0 {
                *value = new.clone();
            }
            *index = index.wrapping_sub(1);
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| replace_number(v, index, new))
        }
        serde_json::Value::Object(map) => {
            map.values_mut().for_each(|v| replace_number(v, index, new))
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn configmap_entries_parse_to_an_error_or_a_valid_entry(
        entries in prop::collection::vec(("default|[a-z]{1,3}", input()), 0..4)
    ) {
        let data = data(entries);
        let saturation = parse_saturation(&data);
        prop_assert!(saturation_resolution_errors(&saturation.entries).is_empty());
        for entry in saturation.entries.values() {
            let base = saturation.entries.get("default").map_or_else(SaturationThresholds::default, |d| d.over(SaturationThresholds::default()));
            prop_assert!(entry.over(base).validate().is_ok(), "{entry:?}");
        }
        let stz = parse_scale_to_zero(&data);
        prop_assert!(scale_to_zero_resolution_errors(&stz.entries).is_empty());
        prop_assert_eq!(saturation.entries.len() + saturation.errors.len(), data.len());
    }

    #[test]
    fn main_config_map_manifests_never_panic(text in input()) {
        let sources = Sources {
            env: BTreeMap::from([("PROMETHEUS_BASE_URL".to_string(), "https://p:9090".to_string())]),
            ..Sources::default()
        };
        let report = wva_controller::config::check(sources, Some(("fuzz.yaml", &text)));
        if report.is_valid() {
            prop_assert!(report.config.is_ok());
        }
    }

    #[test]
    fn helm_values_never_panic(text in input()) {
        let _ = serde_saphyr::from_str::<HelmValues>(&text);
    }

    #[test]
    fn snapshots_never_panic_and_valid_ones_decide(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        changes in prop::collection::vec((0usize..64, number()), 0..6),
    ) {
        let mut sample: serde_json::Value = serde_json::from_str(SAMPLE).expect("sample snapshot");
        for (index, value) in changes {
            replace_number(&mut sample, &mut index.clone(), &value);
        }
        for candidate in [bytes, sample.to_string().into_bytes()] {
            if let Ok(snapshot) = serde_json::from_slice::<Snapshot>(&candidate)
                && snapshot.validate().is_empty()
            {
                let _ = decide(&snapshot);
            }
        }
    }
}
