//! Runtime updates of the main ConfigMap: mutable keys apply at once, immutable keys are
//! rejected (the running value stays) while the mutable keys of the same update still apply.

use super::load::{Config, load};
use std::collections::BTreeMap;
use wva_api::params::{Change, LoadError, Sources, diff};

/// The outcome of one main ConfigMap update.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The configuration to run with from now on: running static part, new dynamic part.
    pub config: Config,
    /// Mutable parameters whose value changed and now applies.
    pub applied: Vec<Change>,
    /// Immutable parameters the update tried to change; they keep their running value.
    pub rejected: Vec<Change>,
}

/// Applies new ConfigMap `data` to the `running` configuration. `startup` holds the flags and
/// env the process started with, which keep their precedence over the ConfigMap. An update
/// with an invalid value changes nothing and returns every problem.
pub fn apply_config_map(
    running: &Config,
    startup: &Sources,
    data: BTreeMap<String, String>,
) -> Result<Update, LoadError> {
    let sources = Sources {
        config_map: data,
        ..startup.clone()
    };
    let loaded = load(&sources)?;
    Ok(Update {
        applied: diff(&running.dynamic_config, &loaded.dynamic_config),
        rejected: diff(&running.static_config, &loaded.static_config),
        config: Config {
            static_config: running.static_config.clone(),
            dynamic_config: loaded.dynamic_config,
        },
    })
}

/// The log message for an applied change, e.g. `Updated optimization interval`.
pub fn applied_message(change: &Change) -> String {
    match change.spec.key {
        "GLOBAL_OPT_INTERVAL" => "Updated optimization interval".to_string(),
        key => format!("Updated {key}"),
    }
}

/// The Warning event message for rejected immutable changes (secret values redacted).
pub fn rejection_message(config_map_id: &str, rejected: &[Change]) -> String {
    let list: Vec<String> = rejected
        .iter()
        .map(|c| {
            format!(
                "{} (old: {:?}, new: {:?})",
                c.spec.key,
                c.spec.display_value(&c.old),
                c.spec.display_value(&c.new)
            )
        })
        .collect();
    format!(
        "ConfigMap {config_map_id} attempted to change immutable parameters that require controller restart: [{}]. These changes were rejected. Mutable parameter updates were still applied.",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CM: &str = "wva-system/wva-variantautoscaling-config";

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn startup(cm: &[(&str, &str)]) -> (Config, Sources) {
        let sources = Sources {
            config_map_id: CM.into(),
            config_map: data(cm),
            ..Sources::default()
        };
        (load(&sources).expect("valid"), sources)
    }

    #[test]
    fn immutable_change_is_rejected_while_mutable_change_applies() {
        let (running, sources) = startup(&[("PROMETHEUS_BASE_URL", "https://prometheus:9090")]);
        let update = apply_config_map(
            &running,
            &sources,
            data(&[
                ("PROMETHEUS_BASE_URL", "https://new-prometheus:9090"),
                ("GLOBAL_OPT_INTERVAL", "120s"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            update.config.static_config.prometheus_base_url,
            "https://prometheus:9090"
        );
        assert_eq!(
            update.config.dynamic_config.global_opt_interval,
            Duration::from_secs(120)
        );
        assert_eq!(
            applied_message(&update.applied[0]),
            "Updated optimization interval"
        );
        assert_eq!(
            (
                update.applied[0].old.as_str(),
                update.applied[0].new.as_str()
            ),
            ("60s", "120s")
        );
        assert_eq!(
            rejection_message(CM, &update.rejected),
            format!(
                r#"ConfigMap {CM} attempted to change immutable parameters that require controller restart: [PROMETHEUS_BASE_URL (old: "https://prometheus:9090", new: "https://new-prometheus:9090")]. These changes were rejected. Mutable parameter updates were still applied."#
            )
        );
    }

    #[test]
    fn env_keeps_precedence_over_a_config_map_update() {
        let (_, mut sources) = startup(&[("PROMETHEUS_BASE_URL", "https://p")]);
        sources
            .env
            .insert("GLOBAL_OPT_INTERVAL".into(), "30s".into());
        let running = load(&sources).expect("valid");
        let update = apply_config_map(
            &running,
            &sources,
            data(&[
                ("PROMETHEUS_BASE_URL", "https://p"),
                ("GLOBAL_OPT_INTERVAL", "120s"),
            ]),
        )
        .expect("valid");
        assert!(update.applied.is_empty());
        assert_eq!(
            update.config.dynamic_config.global_opt_interval,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn an_invalid_update_changes_nothing_and_names_the_problem() {
        let (running, sources) = startup(&[("PROMETHEUS_BASE_URL", "https://p")]);
        let error = apply_config_map(
            &running,
            &sources,
            data(&[
                ("PROMETHEUS_BASE_URL", "https://p"),
                ("GLOBAL_OPT_INTERVAL", "fast"),
            ]),
        )
        .expect_err("invalid");
        assert!(
            error
                .to_string()
                .contains(r#"invalid value "fast" for GLOBAL_OPT_INTERVAL from ConfigMap"#),
            "{error}"
        );
    }

    #[test]
    fn secrets_never_reach_the_event() {
        let (running, sources) = startup(&[
            ("PROMETHEUS_BASE_URL", "https://p"),
            ("PROMETHEUS_BEARER_TOKEN", "old-token"),
        ]);
        let update = apply_config_map(
            &running,
            &sources,
            data(&[
                ("PROMETHEUS_BASE_URL", "https://p"),
                ("PROMETHEUS_BEARER_TOKEN", "new-token"),
            ]),
        )
        .expect("valid");
        let message = rejection_message(CM, &update.rejected);
        assert!(
            message.contains(r#"PROMETHEUS_BEARER_TOKEN (old: "<redacted>", new: "<redacted>")"#),
            "{message}"
        );
        assert!(!message.contains("token\""));
    }
}
