//! The model ID mismatch: a VA's pods run, but no vLLM series carries its `modelID` as
//! `model_name` while the series of its pods carry other names. Each affected VA gets one
//! `ModelIDNotFound` warning while the mismatch lasts (again when it clears and comes back),
//! naming the model IDs its pods serve.

use super::events::{Event, Reason};
use crate::assemble::Member;
use crate::keys::{self, VaRef};
use std::collections::{HashMap, HashSet};
use wva_collector::Signals;
use wva_engine::{SignalStatus, Snapshot};

/// The `ModelIDNotFound` events of this cycle, by VA: one for each VA whose model reported no
/// series (`NoData`) while its own pods report series of other models.
pub fn not_found(
    snapshot: &Snapshot,
    signals: &Signals,
    members: &[Member<'_>],
) -> HashMap<VaRef, Event> {
    let missing: HashSet<(&str, &str)> = snapshot
        .models
        .iter()
        .filter(|m| m.signals == SignalStatus::NoData)
        .map(|m| (m.namespace.as_str(), m.model_id.as_str()))
        .collect();
    members
        .iter()
        .filter(|m| m.target.is_some())
        .filter(|m| missing.contains(&(m.namespace(), m.va.spec.model_id.as_str())))
        .filter_map(|m| {
            let seen = signals.other_models.get(&m.key).filter(|s| !s.is_empty())?;
            let names: Vec<String> = seen.iter().map(|name| format!("{name:?}")).collect();
            let kind = m.va.spec.scale_target_ref.kind;
            let fix = if names.len() == 1 {
                "set the VA's spec.modelID to it".to_string()
            } else {
                format!("set the VA's spec.modelID to the one the {kind} serves")
            };
            let note = format!(
                "No vLLM series with model_name {:?} on the pods of {kind} {}; their series carry model_name {}: {fix}",
                m.va.spec.model_id,
                m.va.spec.scale_target_ref.name,
                names.join(", ")
            );
            Some((keys::of(m.va), Event::new(Reason::ModelIDNotFound, note)))
        })
        .collect()
}

/// The VAs warned about a model ID mismatch that still lasts.
#[derive(Debug, Default)]
pub struct Warned(HashSet<VaRef>);

impl Warned {
    /// Of this cycle's mismatches, the events not yet published (the VA was not warned since
    /// its mismatch started); forgets the VAs whose mismatch cleared, so a new one warns again.
    pub fn news(&mut self, current: HashMap<VaRef, Event>) -> Vec<(VaRef, Event)> {
        self.0.retain(|va| current.contains_key(va));
        current
            .into_iter()
            .filter(|(va, _)| self.0.insert(va.clone()))
            .collect()
    }

    /// Forgets `va` (it or its target is gone).
    pub fn forget(&mut self, va: &VaRef) {
        self.0.remove(va);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::cycle;
    use crate::testing::{Fixture, NAMESPACE};
    use kube::runtime::reflector::ObjectRef;
    use std::sync::{Arc, Mutex};
    use wva_testkit::{StubResponse, StubServer};

    const WRONG: &str = "meta/llama-3.1-8b";
    const SERVED: &str = "meta-llama/Llama-3.1-8B-Instruct";

    /// A Prometheus whose every answer is one series of pod `llama-0` with `model_name` set
    /// to what `served` holds.
    fn prometheus(served: Arc<Mutex<String>>) -> StubServer {
        StubServer::start(move |_: &wva_testkit::RecordedRequest| {
            let model = served.lock().expect("served").clone();
            StubResponse::json(
                serde_json::json!({
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{
                        "metric": {"namespace": NAMESPACE, "pod": "llama-0", "model_name": model},
                        "value": [0, "0.2"],
                    }]},
                })
                .to_string(),
            )
        })
    }

    fn warnings(fx: &Fixture) -> Vec<(String, String, String)> {
        fx.events()
            .into_iter()
            .filter(|(_, reason, _, _)| reason == "ModelIDNotFound")
            .map(|(kind, _, note, va)| (kind, note, va))
            .collect()
    }

    fn counted(fx: &Fixture) -> u64 {
        fx.ctx
            .metrics
            .wva_model_id_not_found_total
            .with_label_values(&["llama-8b", NAMESPACE])
            .get()
    }

    /// A VA whose modelID its pods do not serve: one warning naming the served model ID while
    /// it lasts, the MetricsAvailable message names it, the counter counts each start.
    #[tokio::test]
    async fn a_wrong_model_id_is_warned_once_while_it_lasts_and_names_the_served_one() {
        let served = Arc::new(Mutex::new(SERVED.to_string()));
        let stub = prometheus(served.clone());
        let mut fx = Fixture::start().await;
        fx.use_prometheus(&stub.url());
        fx.create_deployment("llama");
        fx.cache_pod("llama-0", "llama");
        fx.create_va_for("llama-8b", "llama", WRONG, "10.0");

        cycle::run(&fx.ctx, &mut fx.state).await;
        fx.refresh_va("llama-8b");
        cycle::run(&fx.ctx, &mut fx.state).await;

        let note = format!(
            "No vLLM series with model_name \"{WRONG}\" on the pods of Deployment llama; their series carry model_name \"{SERVED}\": set the VA's spec.modelID to it"
        );
        assert_eq!(
            warnings(&fx),
            [("Warning".to_string(), note.clone(), "llama-8b".to_string())],
            "one warning over two cycles"
        );
        assert_eq!(counted(&fx), 1);
        let (status, reason, message) = fx
            .condition("llama-8b", "MetricsAvailable")
            .expect("MetricsAvailable");
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", "MetricsMissing")
        );
        assert!(
            message.contains(&format!("report model_name \"{SERVED}\"")),
            "{message}"
        );

        // The pods serve the VA's model ID for a cycle, then another model again.
        *served.lock().expect("served") = WRONG.to_string();
        fx.refresh_va("llama-8b");
        cycle::run(&fx.ctx, &mut fx.state).await;
        assert_eq!(warnings(&fx).len(), 1, "no warning while it matches");
        *served.lock().expect("served") = SERVED.to_string();
        fx.refresh_va("llama-8b");
        cycle::run(&fx.ctx, &mut fx.state).await;
        assert_eq!(warnings(&fx).len(), 2, "warned again when it came back");
        assert_eq!(counted(&fx), 2);
    }

    fn events(vas: &[&str]) -> HashMap<VaRef, Event> {
        vas.iter()
            .map(|va| {
                (
                    ObjectRef::new(va).within("ns"),
                    Event::new(Reason::ModelIDNotFound, *va),
                )
            })
            .collect()
    }

    fn names(news: Vec<(VaRef, Event)>) -> Vec<String> {
        let mut names: Vec<String> = news.into_iter().map(|(va, _)| va.name).collect();
        names.sort();
        names
    }

    #[test]
    fn warns_once_while_it_lasts_and_again_when_it_comes_back() {
        let mut warned = Warned::default();
        assert_eq!(names(warned.news(events(&["a", "b"]))), ["a", "b"]);
        assert!(warned.news(events(&["a", "b"])).is_empty(), "still lasting");
        assert!(warned.news(events(&["b"])).is_empty(), "a cleared");
        assert_eq!(names(warned.news(events(&["a", "b"]))), ["a"], "a is back");
        warned.forget(&ObjectRef::new("b").within("ns"));
        assert_eq!(names(warned.news(events(&["a", "b"]))), ["b"]);
    }
}
