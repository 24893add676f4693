//! Which VAs target which workload, kept current from VA events, so that an event of a
//! Deployment, StatefulSet or LeaderWorkerSet reconciles its VAs without scanning every cached
//! VA.

use crate::keys::VaRef;
use crate::target::TargetRef;
use std::collections::{HashMap, HashSet};

/// Scale target → the VAs that scale it.
#[derive(Debug, Default)]
pub struct TargetIndex {
    by_target: HashMap<TargetRef, HashSet<VaRef>>,
    target_of: HashMap<VaRef, TargetRef>,
}

impl TargetIndex {
    /// Records that `va` (created or changed) scales `target`.
    pub fn set(&mut self, va: VaRef, target: TargetRef) {
        if self.target_of.get(&va) == Some(&target) {
            return;
        }
        self.remove(&va);
        self.by_target
            .entry(target.clone())
            .or_default()
            .insert(va.clone());
        self.target_of.insert(va, target);
    }

    /// Forgets `va` (deleted).
    pub fn remove(&mut self, va: &VaRef) {
        let Some(target) = self.target_of.remove(va) else {
            return;
        };
        if let Some(vas) = self.by_target.get_mut(&target) {
            vas.remove(va);
            if vas.is_empty() {
                self.by_target.remove(&target);
            }
        }
    }

    /// The VAs that scale `target`, ordered by name.
    pub fn targeting(&self, target: &TargetRef) -> Vec<VaRef> {
        let mut vas: Vec<VaRef> = self
            .by_target
            .get(target)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        vas.sort_by(|a, b| a.name.cmp(&b.name));
        vas
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ScaleTargetKind;
    use kube::runtime::reflector::ObjectRef;

    fn target(kind: ScaleTargetKind, namespace: &str, name: &str) -> TargetRef {
        TargetRef {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn follows_vas_that_change_target_and_forgets_deleted_ones() {
        let (a, b): (VaRef, VaRef) = (
            ObjectRef::new("a").within("n"),
            ObjectRef::new("b").within("n"),
        );
        let d1 = target(ScaleTargetKind::Deployment, "n", "d1");
        let d2 = target(ScaleTargetKind::Deployment, "n", "d2");
        let mut index = TargetIndex::default();
        index.set(b.clone(), d1.clone());
        index.set(a.clone(), d1.clone());
        assert_eq!(index.targeting(&d1), [a.clone(), b.clone()]);
        index.set(a.clone(), d2.clone());
        assert_eq!(index.targeting(&d1), std::slice::from_ref(&b));
        assert_eq!(index.targeting(&d2), std::slice::from_ref(&a));
        index.remove(&b);
        assert!(index.targeting(&d1).is_empty());
        assert!(
            index
                .targeting(&target(ScaleTargetKind::Deployment, "other", "d2"))
                .is_empty(),
            "same name, other namespace"
        );
        assert!(
            index
                .targeting(&target(ScaleTargetKind::StatefulSet, "n", "d2"))
                .is_empty(),
            "same name, other kind"
        );
    }
}
