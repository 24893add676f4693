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
        .filter(|m| m.deployment.is_some())
        .filter(|m| missing.contains(&(m.namespace(), m.va.spec.model_id.as_str())))
        .filter_map(|m| {
            let seen = signals.other_models.get(&m.key).filter(|s| !s.is_empty())?;
            let names: Vec<String> = seen.iter().map(|name| format!("{name:?}")).collect();
            let fix = if names.len() == 1 {
                "set the VA's spec.modelID to it"
            } else {
                "set the VA's spec.modelID to the one the Deployment serves"
            };
            let note = format!(
                "No vLLM series with model_name {:?} on the pods of Deployment {}; their series carry model_name {}: {fix}",
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
    use kube::runtime::reflector::ObjectRef;

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
