//! The `wva run` and `wva config` command lines, built from the generated parameter table.
//!
//! Every parameter with a flag becomes an argument whose help line shows its env var /
//! ConfigMap key, default and mutability; parameters without a flag are listed after the
//! options. `-h` shows the first paragraph of each parameter's doc comment, `--help` also the
//! paragraphs after it. No argument has a clap default, so an argument is present in the matches exactly
//! when it was passed explicitly, which is what the precedence rules need.

use clap::{Arg, ArgAction, ArgMatches, Command};
use std::collections::BTreeMap;
use wva_api::params::ParamSpec;
use wva_api::render::parameters;

/// The `run` subcommand with one argument per flagged parameter.
pub fn run_command() -> Command {
    with_parameters(Command::new("run"))
        .about("Run the controller")
        .long_about(
            "Run the controller: resolve the configuration (explicit flags, env, the main \
             ConfigMap, defaults), check Prometheus, then reconcile VariantAutoscalings and \
             publish wva_desired_replicas. Exits 1 with every problem listed when the \
             configuration is invalid or Prometheus stays unreachable.",
        )
}

/// The `config` subcommand: the same arguments, resolved offline and printed with their
/// sources; `--config-map FILE` stands in for the main ConfigMap.
pub fn config_command() -> Command {
    with_parameters(Command::new("config"))
        .about("Resolve and print the configuration without starting the controller")
        .long_about(
            "Resolve the configuration exactly as `wva run` would (explicit flags, env, the main \
             ConfigMap given with --config-map, defaults), print every value with its source, \
             and exit 0, or 1 listing every problem.",
        )
        .arg(
            Arg::new("config-map")
                .long("config-map")
                .value_name("FILE")
                .help("A ConfigMap manifest (YAML) to use as the main ConfigMap"),
        )
}

fn with_parameters(command: Command) -> Command {
    command
        .args(parameters().filter_map(argument))
        .after_long_help(env_only_help())
        .after_help(
            "Parameters without a flag are read from env or the main ConfigMap: see --help.",
        )
}

/// The placeholder of a flag's value: `<INT>`, or the words of a choice (`<metric|scale>`).
fn value_name(value_type: &str) -> String {
    if value_type.contains('|') {
        value_type.to_string()
    } else {
        value_type.to_uppercase()
    }
}

fn argument(spec: &'static ParamSpec) -> Option<Arg> {
    if spec.flag.is_none() && spec.short.is_none() {
        return None;
    }
    let mut arg = Arg::new(spec.field)
        .value_name(value_name(spec.value_type))
        .help(help_line(spec))
        .action(ArgAction::Set);
    if !spec.details.is_empty() {
        arg = arg.long_help(format!("{}\n\n{}", help_line(spec), spec.details));
    }
    if let Some(long) = spec.flag {
        arg = arg.long(long);
    }
    if let Some(short) = spec.short {
        arg = arg.short(short);
    }
    if spec.value_type == "bool" {
        // `--leader-elect` means true; `--leader-elect=false` is also accepted.
        arg = arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true");
    }
    Some(arg)
}

/// One help line: description, key, default, mutability.
fn help_line(spec: &ParamSpec) -> String {
    let key = if spec.env_only {
        format!("env: {}", spec.key)
    } else {
        format!("env/ConfigMap key: {}", spec.key)
    };
    format!(
        "{} [{key}] [default: {}] [{}]",
        spec.description(),
        spec.default_display(),
        if spec.mutable { "mutable" } else { "restart" }
    )
}

/// The list of parameters that have no flag, for the end of `--help`.
fn env_only_help() -> String {
    let mut text = String::from("Parameters set by env var or main ConfigMap key only:\n");
    for spec in parameters().filter(|s| s.flag.is_none() && s.short.is_none()) {
        text.push_str(&format!("  {:<48} {}\n", spec.key, help_line(spec)));
        for paragraph in spec.details.split("\n\n").filter(|p| !p.is_empty()) {
            text.push_str(&format!("  {:<48} {paragraph}\n", ""));
        }
    }
    text
}

/// The flags passed explicitly on the command line, keyed by field name, as raw text.
pub fn explicit_flags(matches: &ArgMatches) -> BTreeMap<String, String> {
    parameters()
        .filter(|spec| spec.flag.is_some() || spec.short.is_some())
        .filter_map(|spec| {
            let value = matches.get_one::<String>(spec.field)?;
            Some((spec.field.to_string(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parameter whose doc comment has a second paragraph.
    static DETAILED: ParamSpec = ParamSpec {
        field: "workers",
        key: "WORKERS",
        flag: Some("workers"),
        short: None,
        value_type: "int",
        default: Some("4"),
        min: None,
        max: None,
        required: false,
        env_only: false,
        secret: false,
        mutable: false,
        pending: None,
        summary: "Worker threads.",
        details: "One per core is plenty.",
    };

    #[test]
    fn the_doc_paragraphs_after_the_first_are_the_long_help() {
        let arg = argument(&DETAILED).expect("has a flag");
        let mut command = Command::new("run").arg(arg);
        let short = command.render_help().to_string();
        let long = command.render_long_help().to_string();
        assert!(
            short.contains("Worker threads. [env/ConfigMap key: WORKERS]"),
            "{short}"
        );
        assert!(!short.contains("One per core is plenty."), "{short}");
        assert!(
            long.contains("Worker threads. [env/ConfigMap key: WORKERS]"),
            "{long}"
        );
        assert!(long.contains("One per core is plenty."), "{long}");
    }
}
