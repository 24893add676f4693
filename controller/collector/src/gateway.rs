//! The inference gateway's queue per model: what scale-from-zero reads for models at zero.

use crate::response::Sample;
use std::collections::HashMap;

/// Requests waiting at the gateway, by (namespace, model ID), from one query. A series without
/// a `namespace` label (an endpoint picker scraped without it) counts for the model in every
/// namespace; a series with one only for that namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayQueues {
    by_model: HashMap<(Option<String>, String), f64>,
}

impl GatewayQueues {
    /// The queues of a query answer; series without `target_model_name` or with a NaN/±Inf
    /// value are left out (unknown, not 0).
    pub fn from_samples(samples: Vec<Sample>) -> Self {
        let mut by_model = HashMap::new();
        for mut sample in samples {
            let (Some(model), Some(value)) =
                (sample.labels.remove("target_model_name"), sample.value)
            else {
                continue;
            };
            let namespace = sample.labels.remove("namespace");
            *by_model.entry((namespace, model)).or_insert(0.0) += value;
        }
        GatewayQueues { by_model }
    }

    /// The queue of `model` in `namespace`; `None` when no series names it (the gateway has
    /// not seen the model, or its metrics are not scraped).
    pub fn get(&self, namespace: &str, model: &str) -> Option<f64> {
        let scoped = self
            .by_model
            .get(&(Some(namespace.to_string()), model.to_string()));
        let unscoped = self.by_model.get(&(None, model.to_string()));
        match (scoped, unscoped) {
            (None, None) => None,
            (a, b) => Some(a.copied().unwrap_or(0.0) + b.copied().unwrap_or(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(labels: &[(&str, &str)], value: Option<f64>) -> Sample {
        Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        }
    }

    #[test]
    fn queues_are_per_namespace_and_model_and_unknown_stays_unknown() {
        let queues = GatewayQueues::from_samples(vec![
            sample(&[("namespace", "a"), ("target_model_name", "m")], Some(3.0)),
            sample(&[("namespace", "b"), ("target_model_name", "m")], Some(0.0)),
            sample(&[("target_model_name", "n")], Some(2.0)),
            sample(&[("namespace", "a"), ("target_model_name", "nan")], None),
            sample(&[("namespace", "a")], Some(9.0)),
        ]);
        assert_eq!(queues.get("a", "m"), Some(3.0));
        assert_eq!(queues.get("b", "m"), Some(0.0));
        assert_eq!(queues.get("c", "m"), None);
        assert_eq!(queues.get("x", "n"), Some(2.0));
        assert_eq!(queues.get("a", "nan"), None);
    }
}
