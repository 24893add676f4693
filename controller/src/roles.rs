//! Prefill/decode roles of pods and targets: the `llm-d.ai/role` label.

use std::collections::BTreeMap;
use wva_engine::Role;

/// The pod label that names a pod's role in prefill/decode disaggregation (llm-d).
pub const ROLE_LABEL: &str = "llm-d.ai/role";

/// The role that `labels` (a pod's, or a target's pod template's) give: `prefill` or
/// `decode` for those exact values of [`ROLE_LABEL`], `both` for any other value or none.
pub fn role_of(labels: Option<&BTreeMap<String, String>>) -> Role {
    match labels.and_then(|l| l.get(ROLE_LABEL)).map(String::as_str) {
        Some("prefill") => Role::Prefill,
        Some("decode") => Role::Decode,
        _ => Role::Both,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(value: Option<&str>) -> Role {
        let labels: BTreeMap<String, String> = value
            .map(|v| (ROLE_LABEL.to_string(), v.to_string()))
            .into_iter()
            .collect();
        role_of(Some(&labels))
    }

    #[test]
    fn only_prefill_and_decode_are_roles() {
        assert_eq!(role(Some("prefill")), Role::Prefill);
        assert_eq!(role(Some("decode")), Role::Decode);
        assert_eq!(
            role(Some("Prefill")),
            Role::Both,
            "values are case-sensitive"
        );
        assert_eq!(role(Some("both")), Role::Both);
        assert_eq!(role(Some("")), Role::Both);
        assert_eq!(role(None), Role::Both);
        assert_eq!(role_of(None), Role::Both);
    }
}
