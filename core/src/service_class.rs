//! The service-class ConfigMap of the proactive (HYBRID) mode: latency targets (SLOs) and a
//! priority per model.
//!
//! Two forms are read, in any data key:
//!
//! ```yaml
//! serviceClasses: |          # a list, one item per (class, model)
//!   - name: Premium
//!     model: meta/llama-3.1-8b
//!     priority: 1
//!     slo-itl: 24            # inter-token latency, ms (also `slo-tpot`)
//!     slo-ttw: 500           # time to first token, ms (also `slo-ttft`)
//! premium: |                 # one class with several models
//!   name: Premium
//!   priority: 1
//!   data:
//!     - model: meta/llama-3.1-8b
//!       slo-tpot: 24
//!       slo-ttft: 500
//! ```
//!
//! A model listed by several classes gets the class with the highest priority (the lowest
//! number, 1 to 100), ties by class name.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The default priority of a class that gives none (the lowest).
pub const LOWEST_PRIORITY: u32 = 100;

/// Latency targets, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slo {
    /// Inter-token latency (time per output token).
    pub itl_ms: Option<f64>,
    /// Time to first token (time to wait).
    pub ttft_ms: Option<f64>,
}

/// The class a model belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelClass {
    /// The class name.
    pub class: String,
    /// 1 (highest) to 100.
    pub priority: u32,
    /// The model's targets in that class.
    pub slo: Slo,
}

/// The parsed service classes: which class each model belongs to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceClasses {
    by_model: BTreeMap<String, ModelClass>,
}

impl ServiceClasses {
    /// The class of `model`, if a class lists it.
    pub fn of(&self, model: &str) -> Option<&ModelClass> {
        self.by_model.get(model)
    }

    /// Every model with its class, by model.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelClass)> {
        self.by_model.iter().map(|(m, c)| (m.as_str(), c))
    }
}

/// One item of either form, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: Option<String>,
    model: Option<String>,
    priority: Option<i64>,
    #[serde(rename = "slo-itl")]
    itl: Option<f64>,
    #[serde(rename = "slo-tpot")]
    tpot: Option<f64>,
    #[serde(rename = "slo-ttw")]
    ttw: Option<f64>,
    #[serde(rename = "slo-ttft")]
    ttft: Option<f64>,
    data: Option<Vec<RawModel>>,
}

/// One model of a class's `data`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    model: Option<String>,
    #[serde(rename = "slo-itl")]
    itl: Option<f64>,
    #[serde(rename = "slo-tpot")]
    tpot: Option<f64>,
    #[serde(rename = "slo-ttw")]
    ttw: Option<f64>,
    #[serde(rename = "slo-ttft")]
    ttft: Option<f64>,
}

/// The targets as written, under either name.
#[derive(Debug, Default)]
struct RawSlo {
    itl: Option<f64>,
    tpot: Option<f64>,
    ttw: Option<f64>,
    ttft: Option<f64>,
}

/// The items of one data key: a YAML list of classes, or one class.
fn read_classes(text: &str) -> Result<Vec<RawClass>, String> {
    let is_list = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with('-') || l.starts_with('['));
    if is_list {
        serde_saphyr::from_str::<Vec<RawClass>>(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str::<RawClass>(text)
            .map(|c| vec![c])
            .map_err(|e| e.to_string())
    }
}

/// Parses the data of a service-class ConfigMap. Any error rejects the whole ConfigMap (the
/// caller keeps the last good classes); each error names the data key, the class and the
/// field, the bad value and the fix.
pub fn parse_service_classes(
    data: &BTreeMap<String, String>,
) -> Result<ServiceClasses, Vec<String>> {
    let mut errors = Vec::new();
    let mut by_model: BTreeMap<String, ModelClass> = BTreeMap::new();
    for (key, text) in data {
        let classes = match read_classes(text) {
            Ok(classes) => classes,
            Err(e) => {
                errors.push(format!(
                    "{key}: invalid YAML: {e}; write a list of classes (name, model, priority, slo-itl, slo-ttw) or one class with `data: [{{model, slo-tpot, slo-ttft}}]`"
                ));
                continue;
            }
        };
        for (index, raw) in classes.into_iter().enumerate() {
            let at = match &raw.name {
                Some(name) => format!("{key}: class {name:?}"),
                None => format!("{key}[{index}]"),
            };
            match class_models(&at, raw) {
                Ok(models) => {
                    for (model, class) in models {
                        let better = by_model.get(&model).is_none_or(|held| {
                            (class.priority, &class.class) < (held.priority, &held.class)
                        });
                        if better {
                            by_model.insert(model, class);
                        }
                    }
                }
                Err(mut problems) => errors.append(&mut problems),
            }
        }
    }
    if errors.is_empty() {
        Ok(ServiceClasses { by_model })
    } else {
        Err(errors)
    }
}

/// The (model, class) pairs of one class item.
fn class_models(at: &str, raw: RawClass) -> Result<Vec<(String, ModelClass)>, Vec<String>> {
    let mut problems = Vec::new();
    let name = match raw.name.filter(|n| !n.trim().is_empty()) {
        Some(name) => name,
        None => {
            problems.push(format!(
                "{at}: `name` is missing; name the class, e.g. `name: Premium`"
            ));
            String::new()
        }
    };
    let priority = match raw.priority {
        None => LOWEST_PRIORITY,
        Some(p) if (1..=i64::from(LOWEST_PRIORITY)).contains(&p) => p as u32,
        Some(p) => {
            problems.push(format!(
                "{at}: priority is {p}, expected 1 (highest) to 100 (lowest)"
            ));
            LOWEST_PRIORITY
        }
    };
    let class_slo = RawSlo {
        itl: raw.itl,
        tpot: raw.tpot,
        ttw: raw.ttw,
        ttft: raw.ttft,
    };
    let mut items: Vec<(Option<String>, RawSlo, String)> = Vec::new();
    match (raw.model, raw.data) {
        (Some(model), None) => items.push((Some(model), class_slo, at.to_string())),
        (None, Some(data)) => {
            if class_slo.any() {
                problems.push(format!(
                    "{at}: SLOs are given both on the class and in `data`; give them per model in `data`"
                ));
            }
            for (i, m) in data.into_iter().enumerate() {
                let slo = RawSlo {
                    itl: m.itl,
                    tpot: m.tpot,
                    ttw: m.ttw,
                    ttft: m.ttft,
                };
                items.push((m.model, slo, format!("{at} data[{i}]")));
            }
        }
        (Some(_), Some(_)) => problems.push(format!(
            "{at}: both `model` and `data` are given; use `model` with the SLOs on the class, or `data: [{{model, ...}}]`"
        )),
        (None, None) => problems.push(format!(
            "{at}: no model: set `model: <modelID>` or `data: [{{model: <modelID>, slo-tpot: .., slo-ttft: ..}}]`"
        )),
    }
    let mut models = Vec::new();
    for (model, slo, here) in items {
        let Some(model) = model.filter(|m| !m.trim().is_empty()) else {
            problems.push(format!(
                "{here}: `model` is missing; set the model ID the VAs use"
            ));
            continue;
        };
        match slo.resolve(&here) {
            Ok(slo) => models.push((
                model,
                ModelClass {
                    class: name.clone(),
                    priority,
                    slo,
                },
            )),
            Err(mut more) => problems.append(&mut more),
        }
    }
    if problems.is_empty() {
        Ok(models)
    } else {
        Err(problems)
    }
}

impl RawSlo {
    fn any(&self) -> bool {
        self.itl.is_some() || self.tpot.is_some() || self.ttw.is_some() || self.ttft.is_some()
    }

    /// The targets, each given by one of its two names, positive and finite; at least one.
    fn resolve(&self, at: &str) -> Result<Slo, Vec<String>> {
        let mut problems = Vec::new();
        let mut pick = |old: (&str, Option<f64>), new: (&str, Option<f64>)| match (old.1, new.1) {
            (Some(_), Some(_)) => {
                problems.push(format!(
                    "{at}: both {} and {} are given; they are the same target, keep one",
                    old.0, new.0
                ));
                None
            }
            (Some(v), None) | (None, Some(v)) => {
                let field = if old.1.is_some() { old.0 } else { new.0 };
                if v.is_finite() && v > 0.0 {
                    Some(v)
                } else {
                    problems.push(format!(
                        "{at}: {field} is {v}, expected milliseconds above 0"
                    ));
                    None
                }
            }
            (None, None) => None,
        };
        let slo = Slo {
            itl_ms: pick(("slo-itl", self.itl), ("slo-tpot", self.tpot)),
            ttft_ms: pick(("slo-ttw", self.ttw), ("slo-ttft", self.ttft)),
        };
        if problems.is_empty() && slo.itl_ms.is_none() && slo.ttft_ms.is_none() {
            problems.push(format!(
                "{at}: no target: set slo-itl (or slo-tpot) and/or slo-ttw (or slo-ttft), in ms"
            ));
        }
        if problems.is_empty() {
            Ok(slo)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SEED: &str = "\
- name: Premium
  model: meta/llama-3.1-8b
  priority: 1
  slo-itl: 24
  slo-ttw: 500
- name: Standard
  model: meta/llama-3.1-8b
  priority: 5
  slo-itl: 50
  slo-ttw: 1000
- name: Freemium
  model: ibm/granite-13b
  priority: 10
  slo-itl: 100
  slo-ttw: 2000
";

    #[test]
    fn the_documented_list_form_gives_each_model_its_highest_priority_class() {
        let classes = parse_service_classes(&data(&[("serviceClasses", SEED)])).expect("valid");
        let llama = classes.of("meta/llama-3.1-8b").expect("classed");
        assert_eq!((llama.class.as_str(), llama.priority), ("Premium", 1));
        assert_eq!(
            llama.slo,
            Slo {
                itl_ms: Some(24.0),
                ttft_ms: Some(500.0)
            }
        );
        assert_eq!(classes.of("ibm/granite-13b").expect("classed").priority, 10);
        assert_eq!(classes.of("other"), None);
    }

    #[test]
    fn the_per_class_data_form_and_the_later_slo_names_are_read() {
        let premium = "name: Premium\npriority: 2\ndata:\n  - model: a\n    slo-tpot: 30\n    slo-ttft: 800\n  - model: b\n    slo-ttft: 900\n";
        let classes = parse_service_classes(&data(&[("premium", premium)])).expect("valid");
        assert_eq!(
            classes.of("a").map(|c| c.slo),
            Some(Slo {
                itl_ms: Some(30.0),
                ttft_ms: Some(800.0)
            })
        );
        assert_eq!(
            classes.of("b").map(|c| (c.priority, c.slo.itl_ms)),
            Some((2, None))
        );
    }

    #[test]
    fn errors_name_the_key_class_and_field_with_the_fix() {
        let bad = "\
- name: Gold
  model: m
  priority: 0
  slo-itl: -3
- name: Silver
  model: n
  slo-itl: 10
  slo-tpot: 12
- model: o
  slo-ttw: 100
- name: Bronze
  model: p
";
        let errors = parse_service_classes(&data(&[("serviceClasses", bad)])).expect_err("bad");
        let expected = [
            "serviceClasses: class \"Gold\": priority is 0, expected 1 (highest) to 100 (lowest)",
            "serviceClasses: class \"Gold\": slo-itl is -3, expected milliseconds above 0",
            "serviceClasses: class \"Silver\": both slo-itl and slo-tpot are given; they are the same target, keep one",
            "serviceClasses[2]: `name` is missing; name the class, e.g. `name: Premium`",
            "serviceClasses: class \"Bronze\": no target: set slo-itl (or slo-tpot) and/or slo-ttw (or slo-ttft), in ms",
        ];
        assert_eq!(errors, expected);
        let unknown = parse_service_classes(&data(&[(
            "c",
            "name: X\nmodel: m\nslo-itl: 5\nsloitl: 4\n",
        )]))
        .expect_err("unknown field");
        assert!(unknown[0].starts_with("c: invalid YAML:"), "{unknown:?}");
    }
}
