//! `wva`: the Workload-Variant-Autoscaler command line.

use clap::{Arg, ArgMatches, Command};
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

/// `wva config`: `wva run`'s checks, offline; prints every value with its source, and every
/// ConfigMap of `--config-map` under its own name. Exit 1 on any error.
fn check_config(matches: &ArgMatches) -> ExitCode {
    let sources = startup_sources(matches);
    let manifest = match matches.get_one::<String>("config-map") {
        Some(path) => match wva_api::input::read_input(path) {
            Ok(text) => Some((path.as_str(), text)),
            Err(error) => {
                eprintln!("error: --config-map {path}: {error}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let report = config::check(
        sources,
        manifest.as_ref().map(|(path, text)| (*path, text.as_str())),
    );
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    let loaded = match &report.config {
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
    let mut out: String = report.checked.iter().map(|l| format!("{l}\n")).collect();
    if !report.is_valid() {
        emit(&out);
        eprintln!("error: configuration invalid: fix the errors above");
        return ExitCode::from(1);
    }
    let sources = &report.sources;
    out.push_str(&format!(
        "configuration valid (main ConfigMap {}):\n",
        sources.config_map_id
    ));
    let values = loaded.values();
    for spec in render::parameters() {
        let value = values.get(spec.key).cloned().unwrap_or_default();
        let source = sources
            .lookup(spec)
            .map_or_else(|| "default".to_string(), |(source, _)| source.to_string());
        out.push_str(&format!(
            "  {} = {} ({source})\n",
            spec.key,
            spec.display_value(&value)
        ));
    }
    emit(&out)
}

/// Writes `text` to stdout. A reader that went away (`wva params | head -1`) ends the output
/// quietly with success; any other write error is reported and exits 1.
fn emit(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints a rendered artefact; on a render error prints the error and exits 1.
fn print_rendered(rendered: Result<String, render::RenderError>) -> ExitCode {
    match rendered {
        Ok(text) => emit(&text),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}
