//! Which analyzer the saturation entries in force select, as far as collection cares: the
//! token-capacity analyzer (V2) needs four more Prometheus queries per cycle, so the
//! collector runs them only when some entry in force selects it.

use std::collections::BTreeSet;
use wva_api::saturation::SaturationEntry;
use wva_engine::EngineConfig;

/// Whether `entry` selects the token-capacity analyzer: an entry with `analyzers` does.
///
/// pending = "the `analyzers` key of saturation entries (issue 14, engine part)": until
/// `SaturationEntry` has it no entry selects V2, so nothing new is queried. Once it lands,
/// this becomes `entry.analyzers.is_some()` (or whatever marks an entry as V2).
pub fn selects_token_capacity(entry: &SaturationEntry) -> bool {
    let _ = entry;
    false
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
    fn no_entry_selects_the_token_capacity_analyzer_before_the_analyzers_key_exists() {
        let entry = SaturationEntry {
            kv_cache_threshold: Some(0.8),
            ..SaturationEntry::default()
        };
        let mut config = EngineConfig::default();
        config.saturation.insert("default".into(), entry.clone());
        config
            .namespace_saturation
            .insert("team-a".into(), [("default".to_string(), entry)].into());
        assert!(!token_capacity_in_force(&config, ["team-a", "team-b"]));
        assert!(!token_capacity_in_force(&config, []));
    }
}
