//! `wva`: the Workload-Variant-Autoscaler command line.

use clap::{Arg, ArgMatches, Command};
use k8s_openapi::api::core::v1::ConfigMap;
use std::process::ExitCode;
use wva_api::config::StaticConfig;
use wva_api::params::Sources;
use wva_api::render;
use wva_controller::config;

fn cli() -> Command {
    Command::new("wva")
        .about("Workload-Variant-Autoscaler: right-sizes vLLM inference Deployments from saturation signals")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(config::run_command())
        .subcommand(config::config_command())
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
        Some(("config", m)) => check_config(m),
        Some(("params", params)) => print_rendered(
            match params.get_one::<String>("format").map(String::as_str) {
                Some("json") => render::parameters_json().map(|json| json + "\n"),
                _ => render::parameters_markdown(),
            },
        ),
        Some(("crd", _)) => print_rendered(render::crd_yaml()),
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

/// Flags passed explicitly, the process environment, and the main ConfigMap's location.
fn startup_sources(matches: &ArgMatches) -> Sources {
    let mut sources = Sources {
        flags: config::explicit_flags(matches),
        env: std::env::vars().collect(),
        ..Sources::default()
    };
    let (namespace, name) = config::config_map_location(&sources);
    sources.config_map_id = format!("{namespace}/{name}");
    sources
}

/// `wva run`: the controller. Exit 1 when it cannot start.
fn run_controller(matches: &ArgMatches) -> ExitCode {
    let sources = startup_sources(matches);
    let verbosity = StaticConfig::V.resolve(&sources).unwrap_or(2);
    let json = StaticConfig::LOG_JSON.resolve(&sources).unwrap_or(false);
    wva_controller::telemetry::logging::init(verbosity, json);
    // One TLS crypto provider for every client (Kubernetes, Prometheus) and server.
    drop(rustls::crypto::ring::default_provider().install_default());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(wva_controller::run::run(sources)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("failed to start the controller - this is a fatal error: {error}");
            ExitCode::from(1)
        }
    }
}

/// `wva config`: resolves the configuration offline and prints it with sources.
fn check_config(matches: &ArgMatches) -> ExitCode {
    let mut sources = startup_sources(matches);
    if let Some(path) = matches.get_one::<String>("config-map") {
        match read_config_map(path) {
            Ok(data) => sources.config_map = data,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
        }
    }
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
    let values = loaded.values();
    for spec in render::parameters() {
        let value = values.get(spec.key).cloned().unwrap_or_default();
        let source = sources
            .lookup(spec)
            .map_or_else(|| "default".to_string(), |(source, _)| source.to_string());
        println!("  {} = {} ({source})", spec.key, spec.display_value(&value));
    }
    ExitCode::SUCCESS
}

/// The data of a ConfigMap manifest file.
fn read_config_map(path: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --config-map {path}: {e}"))?;
    let cm: ConfigMap = serde_saphyr::from_str(&text)
        .map_err(|e| format!("--config-map {path} is not a ConfigMap manifest: {e}"))?;
    Ok(cm.data.unwrap_or_default())
}

/// Prints a rendered artefact; on a render error prints the error and exits 1.
fn print_rendered(rendered: Result<String, render::RenderError>) -> ExitCode {
    match rendered {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}
