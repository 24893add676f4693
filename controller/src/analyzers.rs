//! Which analyzer the saturation entries in force select, as far as collection cares: the
//! token-capacity analyzer (V2) needs four more Prometheus queries per cycle, so the
//! collector runs them only when some entry in force selects it.

use std::collections::BTreeSet;
use wva_api::saturation::SaturationEntry;
use wva_engine::EngineConfig;

/// Whether `entry` selects the token-capacity analyzer: it has an `analyzers` list with an
/// enabled analyzer (an empty or all-disabled list keeps its models on V1).
pub fn selects_token_capacity(entry: &SaturationEntry) -> bool {
    entry
        .analyzers
        .as_ref()
        .is_some_and(|list| list.iter().any(|a| a.is_enabled()))
}

/// Whether any saturation entry in force in one of `namespaces` (the global map, or a
/// namespace's local map where it replaces the global one) selects the token-capacity
/// analyzer. Over-approximates on purpose: an entry for a model without VAs still counts;
/// the extra queries cost the same whatever the number of models.
pub fn token_capacity_in_force<'a>(
    config: &EngineConfig,
    namespaces: impl IntoIterator<Item = &'a str>,
) -> bool {
    let namespaces: BTreeSet<&str> = namespaces.into_iter().collect();
    namespaces.into_iter().any(|ns| {
        config
            .saturation_entries(ns)
            .values()
            .any(selects_token_capacity)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_with_an_enabled_analyzer_selects_the_token_capacity_analyzer() {
        let v1 = SaturationEntry {
            kv_cache_threshold: Some(0.8),
            ..SaturationEntry::default()
        };
        let v2: SaturationEntry =
            serde_saphyr::from_str("analyzers:\n  - name: saturation\n").expect("entry");
        let off: SaturationEntry =
            serde_saphyr::from_str("analyzers:\n  - name: saturation\n    enabled: false\n")
                .expect("entry");
        let mut config = EngineConfig::default();
        config.saturation.insert("default".into(), v1.clone());
        config
            .namespace_saturation
            .insert("team-a".into(), [("default".to_string(), off)].into());
        assert!(!token_capacity_in_force(&config, ["team-a", "team-b"]));
        assert!(!token_capacity_in_force(&config, []));
        config
            .namespace_saturation
            .insert("team-c".into(), [("default".to_string(), v2)].into());
        assert!(token_capacity_in_force(&config, ["team-c"]));
        assert!(!token_capacity_in_force(&config, ["team-b"]));
    }
}
