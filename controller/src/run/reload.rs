//! Live reload of the main ConfigMap: mutable parameters take effect at once, restart-only
//! ones are rejected with a Warning event; and the counting and reporting of every rejected
//! ConfigMap update.

use super::context::{Context, State};
use super::events::{Event, Reason};
use crate::config::{applied_message, apply_config_map, rejection_message, unknown_keys};
use crate::keys;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use kube::runtime::reflector::ObjectRef;

/// Applies the main ConfigMap as the cache holds it now.
pub async fn main_config_map(ctx: &Context, state: &mut State) {
    let id = keys::display(&ctx.main_config_map).to_string();
    let data = ctx
        .caches
        .controller_config_maps
        .get(&ctx.main_config_map)
        .and_then(|cm| cm.data.clone())
        .unwrap_or_default();
    warn_unknown_keys(ctx, &id, &data).await;
    match apply_config_map(&state.config, &ctx.startup, data) {
        Ok(update) => {
            for change in &update.applied {
                tracing::info!(
                    key = change.spec.key,
                    old = %change.spec.display_value(&change.old),
                    new = %change.spec.display_value(&change.new),
                    "{}",
                    applied_message(change)
                );
            }
            if !update.applied.is_empty() {
                ctx.metrics
                    .wva_config_updates_total
                    .with_label_values(&[&ctx.main_config_map.name, "applied"])
                    .inc();
            }
            if !update.rejected.is_empty() {
                let message = rejection_message(&id, &update.rejected);
                tracing::error!(configmap = %id, "Attempted to change immutable parameters: {message}");
                tracing::info!(
                    "Rejected immutable parameter changes, continuing with mutable parameter updates"
                );
                config_rejected(
                    ctx,
                    &ctx.main_config_map,
                    Reason::ImmutableConfigChangeRejected,
                    message,
                )
                .await;
            }
            state.config = update.config;
        }
        Err(error) => {
            let message =
                format!("ConfigMap {id} was not applied, the running configuration stays: {error}");
            tracing::warn!("{message}");
            config_rejected(
                ctx,
                &ctx.main_config_map,
                Reason::InvalidConfiguration,
                message,
            )
            .await;
        }
    }
}

/// Warns about keys of the main ConfigMap that no parameter reads: one log line each, one
/// `UnknownConfigKey` Warning event listing them, and `wva_config_unknown_keys_total`.
async fn warn_unknown_keys(
    ctx: &Context,
    id: &str,
    data: &std::collections::BTreeMap<String, String>,
) {
    let unknown = unknown_keys(data);
    if unknown.is_empty() {
        return;
    }
    let messages: Vec<String> = unknown.iter().map(|u| u.message(id)).collect();
    for message in &messages {
        tracing::warn!(configmap = %id, "{message}");
    }
    ctx.metrics
        .wva_config_unknown_keys_total
        .with_label_values(&[&ctx.main_config_map.name])
        .inc_by(unknown.len() as u64);
    let bare = ObjectRef::<ConfigMap>::new(&ctx.main_config_map.name)
        .within(keys::namespace(&ctx.main_config_map));
    ctx.events
        .publish(
            &ObjectReference::from(bare),
            Event::new(Reason::UnknownConfigKey, messages.join("; ")),
        )
        .await;
}

/// Counts a rejected ConfigMap update and says why in a Warning event on the ConfigMap.
pub async fn config_rejected(
    ctx: &Context,
    config_map: &ObjectRef<ConfigMap>,
    reason: Reason,
    message: String,
) {
    ctx.metrics
        .wva_config_updates_total
        .with_label_values(&[&config_map.name, "rejected"])
        .inc();
    // By kind, namespace and name only (no uid or resourceVersion of one version).
    let bare = ObjectRef::<ConfigMap>::new(&config_map.name).within(keys::namespace(config_map));
    let regarding = ObjectReference::from(bare);
    ctx.events
        .publish(&regarding, Event::new(reason, message))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    const URL: (&str, &str) = ("PROMETHEUS_BASE_URL", "https://prometheus.invalid:9090");

    #[tokio::test]
    async fn unknown_keys_warn_with_an_event_and_a_count() {
        let mut f = Fixture::start().await;
        f.cache_main_config_map(&[
            URL,
            ("GLOBAL_OPT_INTERVL", "30s"),
            ("WVA_SCALE_TO_ZER0", "true"),
        ]);
        main_config_map(&f.ctx, &mut f.state).await;
        let events = f.events();
        assert_eq!(
            events,
            [(
                "Warning".to_string(),
                "UnknownConfigKey".to_string(),
                "ConfigMap wva-system/wva-config key GLOBAL_OPT_INTERVL is not a parameter and is ignored: did you mean GLOBAL_OPT_INTERVAL?; ConfigMap wva-system/wva-config key WVA_SCALE_TO_ZER0 is not a parameter and is ignored: did you mean WVA_SCALE_TO_ZERO?".to_string(),
                "wva-config".to_string(),
            )]
        );
        let counted = f
            .ctx
            .metrics
            .wva_config_unknown_keys_total
            .with_label_values(&["wva-config"])
            .get();
        assert_eq!(counted, 2);
    }

    #[tokio::test]
    async fn a_live_change_breaking_a_rule_is_rejected_and_the_running_configuration_stays() {
        let mut f = Fixture::start().await;
        let before = f.state.config.clone();
        f.cache_main_config_map(&[URL, ("GLOBAL_OPT_INTERVAL", "99999999h")]);
        main_config_map(&f.ctx, &mut f.state).await;
        assert_eq!(f.state.config, before);
        let (kind, reason, note, _) = f.events().pop().expect("an event");
        assert_eq!(
            (kind.as_str(), reason.as_str()),
            ("Warning", "InvalidConfiguration")
        );
        assert!(
            note.contains("invalid value \"99999999h\" for GLOBAL_OPT_INTERVAL from ConfigMap"),
            "{note}"
        );
        assert!(note.contains("must be at most 24h"), "{note}");
    }
}
