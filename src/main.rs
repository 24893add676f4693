//! `wva`: the Workload-Variant-Autoscaler command line.

use clap::{Arg, ArgMatches, Command};
use std::process::ExitCode;
use wva_api::params::{Sources, resolve};
use wva_api::render;
use wva_controller::config;

fn cli() -> Command {
    Command::new("wva")
        .about("Workload-Variant-Autoscaler: right-sizes vLLM inference Deployments from saturation signals")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(config::run_command())
        .subcommand(
            Command::new("params")
                .about("Print the configuration parameter reference")
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(["markdown", "json"])
                        .default_value("markdown")
                        .help("Output format"),
                ),
        )
        .subcommand(Command::new("crd").about("Print the VariantAutoscaling CRD as YAML"))
        .subcommand(wva_sim::cli::simulate_command())
        .subcommand(wva_sim::cli::decide_command())
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    match matches.subcommand() {
        Some(("run", run)) => run_controller(run),
        Some(("params", params)) => {
            match params.get_one::<String>("format").map(String::as_str) {
                Some("json") => println!("{}", render::parameters_json()),
                _ => print!("{}", render::parameters_markdown()),
            }
            ExitCode::SUCCESS
        }
        Some(("crd", _)) => {
            print!("{}", render::crd_yaml());
            ExitCode::SUCCESS
        }
        Some(("simulate", m)) => ExitCode::from(wva_sim::cli::run_simulate(
            m,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )),
        Some(("decide", m)) => ExitCode::from(wva_sim::cli::run_decide(
            m,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )),
        _ => ExitCode::FAILURE,
    }
}

/// Loads and validates the configuration, then reports it. Exit 1 on any invalid value.
fn run_controller(matches: &ArgMatches) -> ExitCode {
    let mut sources = Sources {
        flags: config::explicit_flags(matches),
        env: std::env::vars().collect(),
        ..Sources::default()
    };
    sources.config_map_id = config_map_id(&sources);
    let loaded = match config::load(&sources) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: failed to load configuration - this is a fatal error");
            for problem in &error.errors {
                eprintln!("error: {problem}");
            }
            return ExitCode::from(1);
        }
    };
    for warning in loaded.inert_warnings() {
        eprintln!("warning: {warning}");
    }
    println!(
        "configuration valid (main ConfigMap {}):",
        sources.config_map_id
    );
    for spec in render::parameters() {
        let value = loaded.values().get(spec.key).cloned().unwrap_or_default();
        let source = sources
            .lookup(spec)
            .map_or_else(|| "default".to_string(), |(source, _)| source.to_string());
        println!("  {} = {} ({source})", spec.key, spec.display_value(&value));
    }
    println!("the controller loop is not part of this build yet; exiting after validation");
    ExitCode::SUCCESS
}

/// `namespace/name` of the main ConfigMap, from the env-only parameters that locate it.
fn config_map_id(sources: &Sources) -> String {
    let mut ignored = Vec::new();
    let mut value = |key: &str| {
        render::parameters()
            .find(|s| s.key == key)
            .and_then(|spec| resolve::<String>(spec, sources, &mut ignored))
            .unwrap_or_default()
    };
    format!("{}/{}", value("POD_NAMESPACE"), value("CONFIG_MAP_NAME"))
}
