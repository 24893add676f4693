//! Prefill/decode roles: a model whose variants serve different [`Role`]s is decided as one
//! group per role, so that saturation, averages, capacity and scale decisions never mix the
//! signals of prefill and decode pods.

use crate::{ModelGroup, Role};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The role of a group split by [`by_role`]: that of its variants (all the same), `both` for
/// a group without variants.
pub(crate) fn role_of(group: &ModelGroup) -> Role {
    group.variants.first().map(|v| v.role).unwrap_or_default()
}

/// `groups` with each model whose variants serve several roles split into one group per
/// role (in role order), each with the model's own signals, request count and gateway
/// queue. A model with a single role is borrowed as it is.
pub(crate) fn by_role<'a>(
    groups: impl IntoIterator<Item = &'a ModelGroup>,
) -> Vec<Cow<'a, ModelGroup>> {
    let mut out = Vec::new();
    for group in groups {
        let roles: BTreeSet<Role> = group.variants.iter().map(|v| v.role).collect();
        if roles.len() <= 1 {
            out.push(Cow::Borrowed(group));
            continue;
        }
        for role in roles {
            let mut part = group.clone();
            part.variants.retain(|v| v.role == role);
            out.push(Cow::Owned(part));
        }
    }
    out
}
