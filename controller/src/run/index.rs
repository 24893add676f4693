//! Which VAs target which Deployment, kept current from VA events, so that a Deployment event
//! reconciles its VAs without scanning every cached VA.

use crate::keys::{DeploymentRef, VaRef};
use std::collections::{HashMap, HashSet};

/// Deployment → the VAs that scale it.
#[derive(Debug, Default)]
pub struct TargetIndex {
    by_target: HashMap<DeploymentRef, HashSet<VaRef>>,
    target_of: HashMap<VaRef, DeploymentRef>,
}

impl TargetIndex {
    /// Records that `va` (created or changed) scales `target`.
    pub fn set(&mut self, va: VaRef, target: DeploymentRef) {
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

    /// The VAs that scale `deployment`, ordered by name.
    pub fn targeting(&self, deployment: &DeploymentRef) -> Vec<VaRef> {
        let mut vas: Vec<VaRef> = self
            .by_target
            .get(deployment)
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
    use kube::runtime::reflector::ObjectRef;

    #[test]
    fn follows_vas_that_change_target_and_forgets_deleted_ones() {
        let (a, b): (VaRef, VaRef) = (
            ObjectRef::new("a").within("n"),
            ObjectRef::new("b").within("n"),
        );
        let (d1, d2): (DeploymentRef, DeploymentRef) = (
            ObjectRef::new("d1").within("n"),
            ObjectRef::new("d2").within("n"),
        );
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
                .targeting(&ObjectRef::new("d2").within("other"))
                .is_empty(),
            "same name, other namespace"
        );
    }
}
