//! The `wva simulate` and `wva decide` subcommands. Each returns the process exit code and
//! writes to the given streams, so tests see exactly what a user sees.

use crate::autoscaler::AutoscalerSpec;
use crate::manifest::{keda_sample, parse_autoscalers};
use crate::plot::{PlotRun, html, svg};
use crate::policy::{DEFAULT_COMPARE, Policy};
use crate::run::{Report, Summary, simulate};
use crate::scenario::{
    InputError, Scenario, parse_profile, parse_saturation_config, parse_service_class_config,
    parse_vas, read,
};
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use wva_api::config::ScaleFromZeroActuation;
use wva_api::params::grammar::parse_duration;
use wva_api::saturation::{DEFAULT_KEY, ScaleUpStep};
use wva_core::service_class::ModelClass;
use wva_engine::{Snapshot, decide};

/// The `simulate` subcommand.
pub fn simulate_command() -> Command {
    Command::new("simulate")
        .about("Run the decision engine against an emulated vLLM fleet (built-in scenario unless files are given)")
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print the report as JSON"))
        .arg(
            Arg::new("profile")
                .long("profile")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Load profile CSV: time (s), requests_per_second, input_tokens, output_tokens"),
        )
        .arg(
            Arg::new("va")
                .long("va")
                .value_name("FILE")
                .num_args(1..)
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(PathBuf))
                .help("VariantAutoscaling YAML files (one model); sim.wva.llmd.ai/* annotations set the emulated replica"),
        )
        .arg(
            Arg::new("saturation-config")
                .long("saturation-config")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Saturation-scaling entry YAML (the `default` key's value), or a whole ConfigMap"),
        )
        .arg(
            Arg::new("hybrid")
                .long("hybrid")
                .action(ArgAction::SetTrue)
                .help("Run in HYBRID mode (EXPERIMENTAL_PROACTIVE_MODEL=true): the queueing model, learned from the emulated replicas' inter-token latencies, arbitrated with the saturation analyzer"),
        )
        .arg(
            Arg::new("service-class")
                .long("service-class")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Service-class ConfigMap (or the list of classes) giving the model's SLOs for HYBRID mode [default: class standard, ITL 40 ms, TTFT 2000 ms]"),
        )
        .arg(
            Arg::new("scale-up-step")
                .long("scale-up-step")
                .value_parser(["one", "sized"])
                .help("Override scaleUpStep for every entry"),
        )
        .arg(
            Arg::new("duration")
                .long("duration")
                .value_name("DURATION")
                .help("Simulated time, e.g. 30m or 2h [default: the profile's length, 60m for the built-in one]"),
        )
        .arg(
            Arg::new("scale-from-zero-actuation")
                .long("scale-from-zero-actuation")
                .value_parser([ScaleFromZeroActuation::Metric.as_str(), ScaleFromZeroActuation::Scale.as_str()])
                .help("How a scale-from-zero activation reaches the Deployment: metric (the variant's autoscaler reads it: KEDA activates at its next poll, an HPA with minReplicas 0 after its scale-up window) or scale (patched from 0 to 1 at once) [default: the controller's SCALE_FROM_ZERO_ACTUATION default, metric]"),
        )
        .arg(
            Arg::new("scale-from-zero-check-interval")
                .long("scale-from-zero-check-interval")
                .value_name("DURATION")
                .help("How often the gateway queue of a model at zero is checked, in whole seconds from 1s to 1m [default: the controller's SCALE_FROM_ZERO_CHECK_INTERVAL default, 1s]"),
        )
        .arg(
            Arg::new("hpa")
                .long("hpa")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("HorizontalPodAutoscaler (autoscaling/v2) and KEDA ScaledObject manifests, the ones you would apply; each applies to the variant its scaleTargetRef names [default: the chart's HPA for every variant]"),
        )
        .arg(
            Arg::new("keda")
                .long("keda")
                .action(ArgAction::SetTrue)
                .help("Apply the desired replicas with KEDA (docs/samples/keda-scaledobject.yaml's polling interval, cooldown, activation and behavior; the VA's bounds) instead of the chart's HPA"),
        )
        .arg(
            Arg::new("hpa-scale-up-window")
                .long("hpa-scale-up-window")
                .value_name("DURATION")
                .help("Scale-up stabilization window of every HPA, whole seconds up to 1h [default: the chart's hpa.behavior.scaleUp, 240s]"),
        )
        .arg(
            Arg::new("hpa-scale-down-window")
                .long("hpa-scale-down-window")
                .value_name("DURATION")
                .help("Scale-down stabilization window of every HPA, whole seconds up to 1h [default: the chart's hpa.behavior.scaleDown, 240s]"),
        )
        .arg(
            Arg::new("hpa-tolerance")
                .long("hpa-tolerance")
                .value_name("RATIO")
                .value_parser(clap::value_parser!(f64))
                .help("HPA tolerance: no change while desired/current is within it of 1 [default: Kubernetes' 0.1]"),
        )
        .arg(
            Arg::new("hpa-sync-period")
                .long("hpa-sync-period")
                .value_name("DURATION")
                .help("Seconds between HPA syncs, whole seconds from 1s to 5m [default: Kubernetes' 15s]"),
        )
        .arg(
            Arg::new("startup-time")
                .long("startup-time")
                .value_name("DURATION")
                .help("Start-up time (model load) of every variant's pods, whole seconds up to 1h [default: 90s, or the VA's sim.wva.llmd.ai/startup-seconds]"),
        )
        .arg(
            Arg::new("compare")
                .long("compare")
                .value_name("POLICY")
                .num_args(0..)
                .value_delimiter(',')
                .action(ArgAction::Append)
                .help(format!("Also run these policies, ENGINE/AUTOSCALER (ENGINE: one, sized, v2, hybrid; AUTOSCALER: hpa, hpa-fast, keda, run), and print them side by side [default: {}]", DEFAULT_COMPARE.join(","))),
        )
        .arg(
            Arg::new("plot")
                .long("plot")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Draw the run (or the --compare policies side by side) over time into FILE.svg or FILE.html"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_parser(clap::value_parser!(u64))
                .default_value("1")
                .help("Seed of the load generator; the same seed gives the same output"),
        )
}

/// The `decide` subcommand.
pub fn decide_command() -> Command {
    Command::new("decide")
        .about("Run one engine cycle on a recorded snapshot (JSON) and print the decisions as JSON")
        .arg(
            Arg::new("snapshot")
                .long("snapshot")
                .value_name("FILE")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Snapshot JSON (see docs/engine.md)"),
        )
}

/// The JSON form of `wva simulate`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    scenario: &'a Scenario,
    timeline: &'a [crate::run::TimelineRow],
    summary: &'a Summary,
    comparison: Vec<Summary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<PolicySummary<'a>>,
}

/// One policy of `--compare` in the JSON report.
#[derive(Serialize)]
struct PolicySummary<'a> {
    policy: &'a str,
    summary: &'a Summary,
}

/// A policy's run.
struct PolicyRun {
    name: String,
    scenario: Scenario,
    report: Report,
}

/// The policies of `--compare`, run; empty without `--compare`.
fn run_policies(m: &ArgMatches, scenario: &Scenario) -> Result<Vec<PolicyRun>, InputError> {
    let Some(given) = m.get_many::<String>("compare") else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = given
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if names.is_empty() {
        names = DEFAULT_COMPARE.iter().map(|p| p.to_string()).collect();
    }
    names
        .into_iter()
        .map(|name| {
            let policy = Policy::parse(&name).map_err(|message| InputError {
                file: "command line".to_string(),
                message,
            })?;
            let scenario = policy.apply(scenario)?;
            let report = simulate(&scenario);
            Ok(PolicyRun {
                name,
                scenario,
                report,
            })
        })
        .collect()
}

/// The run's title in the plot: the step and the autoscalers.
fn run_title(scenario: &Scenario, report: &Report) -> String {
    let kinds: BTreeSet<&str> = scenario
        .variants
        .iter()
        .map(|v| v.autoscaler.kind())
        .collect();
    format!(
        "{}: {}, {}",
        scenario.model_id,
        engine(&report.summary),
        kinds.into_iter().collect::<Vec<_>>().join(" and ")
    )
}

/// Writes the plot of `runs` to `file` (`.svg` or `.html`).
fn write_plot(file: &Path, runs: &[PlotRun]) -> Result<(), InputError> {
    let fail = |message: String| InputError {
        file: file.display().to_string(),
        message,
    };
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let text = match extension {
        "svg" => svg(runs),
        "html" => html(runs),
        _ => {
            return Err(fail(format!(
                "--plot writes .svg or .html, not {extension:?}; name the file e.g. run.svg"
            )));
        }
    }
    .map_err(&fail)?;
    std::fs::write(file, text).map_err(|e| fail(format!("cannot write the plot: {e}")))
}

/// Runs `wva simulate`; returns the exit code.
pub fn run_simulate(m: &ArgMatches, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let scenario = match scenario_from(m) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    };
    let report = simulate(&scenario);
    let comparison: Vec<Summary> = [ScaleUpStep::One, ScaleUpStep::Sized]
        .into_iter()
        .map(|step| simulate(&with_step(&scenario, step)).summary)
        .collect();
    let policies = match run_policies(m, &scenario) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    };
    if let Some(file) = m.get_one::<PathBuf>("plot") {
        let runs: Vec<PlotRun> = if policies.is_empty() {
            vec![PlotRun {
                title: run_title(&scenario, &report),
                scenario: &scenario,
                report: &report,
            }]
        } else {
            policies
                .iter()
                .map(|p| PlotRun {
                    title: p.name.clone(),
                    scenario: &p.scenario,
                    report: &p.report,
                })
                .collect()
        };
        if let Err(e) = write_plot(file, &runs) {
            let _ = writeln!(err, "error: {e}");
            return 1;
        }
    }
    let written = if m.get_flag("json") {
        let json = JsonReport {
            scenario: &scenario,
            timeline: &report.timeline,
            summary: &report.summary,
            comparison,
            policies: policies
                .iter()
                .map(|p| PolicySummary {
                    policy: &p.name,
                    summary: &p.report.summary,
                })
                .collect(),
        };
        match serde_json::to_string_pretty(&json) {
            Ok(text) => writeln!(out, "{text}"),
            Err(e) => writeln!(err, "error: cannot render JSON: {e}"),
        }
    } else {
        let mut text = render_text(&scenario, &report, &comparison);
        render_policies(&mut text, &policies);
        write!(out, "{text}")
    };
    u8::from(written.is_err())
}

/// Runs `wva decide`; returns the exit code.
pub fn run_decide(m: &ArgMatches, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let Some(file) = m.get_one::<PathBuf>("snapshot") else {
        let _ = writeln!(err, "error: --snapshot FILE is required");
        return 1;
    };
    match load_snapshot(file) {
        Ok(snapshot) => {
            let cycle = decide(&snapshot);
            match serde_json::to_string_pretty(&cycle) {
                Ok(text) => u8::from(writeln!(out, "{text}").is_err()),
                Err(e) => {
                    let _ = writeln!(err, "error: cannot render JSON: {e}");
                    1
                }
            }
        }
        Err(problems) => {
            for p in problems {
                let _ = writeln!(err, "error: {p}");
            }
            1
        }
    }
}

/// Reads and validates a snapshot; every problem names the file and the field.
pub fn load_snapshot(file: &Path) -> Result<Snapshot, Vec<InputError>> {
    let text = read(file).map_err(|e| vec![e])?;
    let name = file.display().to_string();
    let mut json = serde_json::Deserializer::from_str(&text);
    let snapshot: Snapshot = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!("{path}: ") };
        vec![InputError {
            file: name.clone(),
            message: format!(
                "{at}{}; the snapshot format (now, config, models[].variants[], freeGpus) is in docs/engine.md",
                e.inner()
            ),
        }]
    })?;
    let problems = snapshot.validate();
    if problems.is_empty() {
        Ok(snapshot)
    } else {
        Err(problems
            .into_iter()
            .map(|message| InputError {
                file: name.clone(),
                message,
            })
            .collect())
    }
}

fn scenario_from(m: &ArgMatches) -> Result<Scenario, InputError> {
    let mut s = Scenario::default_scenario();
    let arg_error = |message: String| InputError {
        file: "command line".to_string(),
        message,
    };
    if let Some(file) = m.get_one::<PathBuf>("profile") {
        s.profile = parse_profile(file, &read(file)?)?;
        let end = s.profile.last().map_or(0.0, |p| p.time);
        s.duration_seconds = (end.ceil() as u64).max(60);
    }
    if let Some(files) = m.get_many::<PathBuf>("va") {
        let mut variants = Vec::new();
        let mut model: Option<(String, String, PathBuf)> = None;
        let mut names = BTreeSet::new();
        for file in files {
            for (ns, id, spec) in parse_vas(file, &read(file)?)? {
                match &model {
                    Some((mns, mid, first)) if (mns, mid) != (&ns, &id) => {
                        return Err(InputError {
                            file: file.display().to_string(),
                            message: format!(
                                "VA {} is for model {id:?} in namespace {ns:?}, but {} is for {mid:?} in {mns:?}; wva simulate runs one model: pass the VAs of one model",
                                spec.name,
                                first.display()
                            ),
                        });
                    }
                    Some(_) => {}
                    None => model = Some((ns.clone(), id.clone(), file.clone())),
                }
                if !names.insert(spec.name.clone()) {
                    return Err(InputError {
                        file: file.display().to_string(),
                        message: format!(
                            "VA name {:?} given twice; VA names must be unique",
                            spec.name
                        ),
                    });
                }
                variants.push(spec);
            }
        }
        if let Some((ns, id, _)) = model {
            s.namespace = ns;
            s.model_id = id;
            s.variants = variants;
        }
    }
    if let Some(file) = m.get_one::<PathBuf>("saturation-config") {
        s.saturation = parse_saturation_config(file, &read(file)?)?;
    }
    if let Some(file) = m.get_one::<PathBuf>("service-class") {
        s.service_class = Some(parse_service_class_config(file, &read(file)?, &s.model_id)?);
    }
    if m.get_flag("hybrid") {
        s.hybrid = true;
    }
    if let Some(text) = m.get_one::<String>("duration") {
        let d = parse_duration(text).map_err(|e| arg_error(format!("--duration: {e}")))?;
        if d.as_secs() < 60 || d.as_secs() > 7 * 24 * 3600 {
            return Err(arg_error(format!(
                "--duration is {text}, expected from 1m to 168h"
            )));
        }
        s.duration_seconds = d.as_secs();
    }
    if let Some(seed) = m.get_one::<u64>("seed") {
        s.seed = *seed;
    }
    if let Some(text) = m.get_one::<String>("scale-from-zero-actuation") {
        s.scale_from_zero_actuation = [
            ScaleFromZeroActuation::Metric,
            ScaleFromZeroActuation::Scale,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
        .ok_or_else(|| {
            arg_error(format!(
                "--scale-from-zero-actuation is {text:?}, expected metric or scale"
            ))
        })?;
    }
    if let Some(text) = m.get_one::<String>("scale-from-zero-check-interval") {
        let d = parse_duration(text)
            .map_err(|e| arg_error(format!("--scale-from-zero-check-interval: {e}")))?;
        if d.subsec_nanos() != 0 || !(1..=60).contains(&d.as_secs()) {
            return Err(arg_error(format!(
                "--scale-from-zero-check-interval is {text}, expected whole seconds from 1s to 1m (the simulator's clock ticks once a second)"
            )));
        }
        s.scale_from_zero_check_seconds = d.as_secs();
    }
    apply_autoscalers(m, &mut s)?;
    if let Some(text) = m.get_one::<String>("startup-time") {
        let seconds = whole_seconds(text, "--startup-time", 0, 3600)?;
        for v in &mut s.variants {
            v.replica.startup_seconds = seconds;
        }
    }
    if let Some(step) = m.get_one::<String>("scale-up-step") {
        let step = step.parse::<ScaleUpStep>().map_err(arg_error)?;
        s = with_step(&s, step);
    }
    Ok(s)
}

/// A duration flag in whole seconds from `lo` to `hi`.
fn whole_seconds(text: &str, flag: &str, lo: u64, hi: u64) -> Result<u64, InputError> {
    let arg_error = |message: String| InputError {
        file: "command line".to_string(),
        message,
    };
    let d = parse_duration(text).map_err(|e| arg_error(format!("{flag}: {e}")))?;
    if d.subsec_nanos() != 0 || !(lo..=hi).contains(&d.as_secs()) {
        return Err(arg_error(format!(
            "{flag} is {text}, expected whole seconds from {lo}s to {hi}s"
        )));
    }
    Ok(d.as_secs())
}

/// `--keda`, `--hpa FILE` and the `--hpa-*` flags, in that order.
fn apply_autoscalers(m: &ArgMatches, s: &mut Scenario) -> Result<(), InputError> {
    if m.get_flag("keda") {
        for v in &mut s.variants {
            v.autoscaler = AutoscalerSpec::Keda(keda_sample(v.min_replicas, v.max_replicas)?);
        }
    }
    if let Some(file) = m.get_one::<PathBuf>("hpa") {
        for (target, spec) in parse_autoscalers(file, &read(file)?)? {
            let names = s
                .variants
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let variant = s.variants.iter_mut().find(|v| v.name == target).ok_or_else(|| InputError {
                file: file.display().to_string(),
                message: format!(
                    "spec.scaleTargetRef.name is {target:?}, but no variant is named so; name one of: {names}"
                ),
            })?;
            variant.autoscaler = spec;
        }
    }
    let window = |flag: &str| {
        m.get_one::<String>(flag)
            .map(|t| whole_seconds(t, &format!("--{flag}"), 0, 3600))
            .transpose()
    };
    let up = window("hpa-scale-up-window")?;
    let down = window("hpa-scale-down-window")?;
    let sync = m
        .get_one::<String>("hpa-sync-period")
        .map(|t| whole_seconds(t, "--hpa-sync-period", 1, 300))
        .transpose()?;
    let tolerance = m.get_one::<f64>("hpa-tolerance").copied();
    if let Some(t) = tolerance
        && !(0.0..1.0).contains(&t)
    {
        return Err(InputError {
            file: "command line".to_string(),
            message: format!("--hpa-tolerance is {t}, expected from 0 to below 1 (e.g. 0.1)"),
        });
    }
    for v in &mut s.variants {
        let hpa = v.autoscaler.hpa_mut();
        if let Some(up) = up {
            hpa.scale_up.stabilization_window_seconds = up as u32;
        }
        if let Some(down) = down {
            hpa.scale_down.stabilization_window_seconds = down as u32;
        }
        if let Some(sync) = sync {
            hpa.sync_seconds = sync;
        }
        if let Some(t) = tolerance {
            hpa.tolerance = t;
        }
    }
    Ok(())
}

/// `scenario` with `scaleUpStep` set on every entry (and on a `default` entry).
pub fn with_step(scenario: &Scenario, step: ScaleUpStep) -> Scenario {
    let mut s = scenario.clone();
    s.saturation.entry(DEFAULT_KEY.to_string()).or_default();
    for entry in s.saturation.values_mut() {
        entry.scale_up_step = Some(step);
    }
    s
}

/// How the run decided: `scaleUpStep one|sized` under the saturation analyzer (V1), or
/// `token-capacity analyzer (V2)`; `, HYBRID mode` when the queueing model was on.
fn engine(s: &Summary) -> String {
    let analyzer = match s.analyzer {
        "token-capacity" => "token-capacity analyzer (V2)".to_string(),
        _ => format!("scaleUpStep {}", s.scale_up_step),
    };
    if s.hybrid {
        format!("{analyzer}, HYBRID mode")
    } else {
        analyzer
    }
}

/// The model's service class as the header shows it in HYBRID mode.
fn service_class(class: Option<&ModelClass>) -> String {
    let Some(c) = class else {
        return "no service class: HYBRID mode runs capacity-only".to_string();
    };
    let ms = |x: Option<f64>| x.map_or("none".to_string(), |v| format!("{v} ms"));
    format!(
        "service class {} (priority {}): ITL {}, TTFT {}",
        c.class,
        c.priority,
        ms(c.slo.itl_ms),
        ms(c.slo.ttft_ms)
    )
}

fn clock(seconds: u64) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

fn render_text(s: &Scenario, r: &Report, comparison: &[Summary]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "wva simulate: model {} in namespace {}, {} variants, {} simulated, seed {}, {}",
        s.model_id,
        s.namespace,
        s.variants.len(),
        clock(s.duration_seconds),
        s.seed,
        engine(&r.summary)
    );
    if s.hybrid {
        let _ = writeln!(o, "  {}", service_class(s.service_class.as_ref()));
    }
    for v in &s.variants {
        let _ = writeln!(
            o,
            "  {}: cost {}, {}, KV {} tokens, max_num_seqs {}, decode {} tok/s, start-up {}s, min {} max {}, {} at start",
            v.name,
            v.cost,
            v.accelerator,
            v.replica.kv_capacity_tokens,
            v.replica.max_num_seqs,
            v.replica.decode_tokens_per_second,
            v.replica.startup_seconds,
            v.min_replicas.map_or("-".to_string(), |x| x.to_string()),
            v.max_replicas.map_or("-".to_string(), |x| x.to_string()),
            v.initial_replicas
        );
        let _ = writeln!(o, "    {}", v.autoscaler);
    }
    let _ = writeln!(
        o,
        "\nreplicas per variant: ready/pods->desired (WVA's, which the autoscaler applies); KV% = average over ready replicas; queue = waiting requests; [held: ...] = an autoscaler holds the pods away from WVA's desired replicas, and why\n"
    );
    let width = s
        .variants
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(8)
        .max(10);
    let mut header = format!("{:>6} {:>6}", "time", "req/s");
    for v in &s.variants {
        let _ = write!(header, "  {:>width$}", v.name);
    }
    let _ = writeln!(o, "{header}  {:>5} {:>6}  decision", "KV%", "queue");
    for row in &r.timeline {
        let mut line = format!("{:>6} {:>6.1}", clock(row.time), row.load_rps);
        for i in 0..s.variants.len() {
            let cell = format!("{}/{}->{}", row.ready[i], row.replicas[i], row.desired[i]);
            let _ = write!(line, "  {cell:>width$}");
        }
        let held = s
            .variants
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let condition = row.autoscaler.get(i).copied().flatten()?;
                (condition.holds() && row.replicas[i] != row.desired[i])
                    .then(|| format!("{} {condition:?}", v.name))
            })
            .collect::<Vec<_>>();
        let held = if held.is_empty() {
            String::new()
        } else {
            format!("  [held: {}]", held.join(", "))
        };
        let _ = writeln!(
            o,
            "{line}  {:>5.1} {:>6}  {}{held}",
            row.kv_percent, row.queue, row.reason
        );
    }
    let _ = writeln!(o);
    render_summary(&mut o, &r.summary);
    render_wakes(&mut o, s, &r.summary);
    let _ = writeln!(o, "\nscale-up step comparison (same scenario, same seed):");
    let _ = writeln!(
        o,
        "  {:<6} {:>14} {:>15} {:>9} {:>13} {:>10} {:>10}",
        "step", "time saturated", "replica-minutes", "cost", "scale events", "TTFT p50", "TTFT p95"
    );
    for c in comparison {
        let _ = writeln!(
            o,
            "  {:<6} {:>14} {:>15.1} {:>9.2} {:>13} {:>9.1}s {:>9.1}s",
            c.scale_up_step,
            clock(c.seconds_saturated),
            c.replica_minutes,
            c.cost,
            c.scale_events,
            c.ttft_p50_seconds,
            c.ttft_p95_seconds
        );
    }
    o
}

/// The `--compare` table.
fn render_policies(o: &mut String, policies: &[PolicyRun]) {
    if policies.is_empty() {
        return;
    }
    let width = policies
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(o, "\npolicy comparison (same scenario, same seed):");
    let _ = writeln!(
        o,
        "  {:<width$} {:>14} {:>15} {:>9} {:>9} {:>13}",
        "policy", "time saturated", "replica-minutes", "cost", "TTFT p95", "scale events"
    );
    for p in policies {
        let c = &p.report.summary;
        let _ = writeln!(
            o,
            "  {:<width$} {:>14} {:>15.1} {:>9.2} {:>8.1}s {:>13}",
            p.name,
            clock(c.seconds_saturated),
            c.replica_minutes,
            c.cost,
            c.ttft_p95_seconds,
            c.scale_events
        );
    }
}

fn render_summary(o: &mut String, s: &Summary) {
    let share = |x: u64| 100.0 * x as f64 / s.duration_seconds.max(1) as f64;
    let per_variant = |f: &dyn Fn(&crate::run::VariantSummary) -> String| {
        s.variants.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(o, "summary ({}):", engine(s));
    let _ = writeln!(
        o,
        "  time saturated:   {} ({:.1}% of {})",
        clock(s.seconds_saturated),
        share(s.seconds_saturated),
        clock(s.duration_seconds)
    );
    let _ = writeln!(
        o,
        "  replica-minutes:  {:.1} ({})",
        s.replica_minutes,
        per_variant(&|v| format!(
            "{} {:.1}, peak {}",
            v.name, v.replica_minutes, v.peak_replicas
        ))
    );
    let _ = writeln!(
        o,
        "  cost:             {:.2} ({})",
        s.cost,
        per_variant(&|v| format!("{} {:.2}", v.name, v.cost))
    );
    let _ = writeln!(o, "  scale events:     {}", s.scale_events);
    let _ = writeln!(
        o,
        "  requests:         {} arrived, {} completed",
        s.requests_arrived, s.requests_completed
    );
    let _ = writeln!(
        o,
        "  time to first token: p50 {:.1}s, p95 {:.1}s",
        s.ttft_p50_seconds, s.ttft_p95_seconds
    );
}

/// `  TTFT p50 …s, max …s` of a set of requests, or why there is none.
fn ttft_range(p50: Option<f64>, max: Option<f64>) -> String {
    match (p50, max) {
        (Some(p50), Some(max)) => format!("TTFT p50 {p50:.1}s, max {max:.1}s"),
        _ => "no first token yet".to_string(),
    }
}

fn render_wakes(o: &mut String, scenario: &Scenario, s: &Summary) {
    let how = format!(
        "actuation {}, gateway queue checked every {}s",
        scenario.scale_from_zero_actuation, scenario.scale_from_zero_check_seconds
    );
    if s.wakes.is_empty() {
        let _ = writeln!(o, "  scale from zero:  no wake ({how})");
        return;
    }
    let _ = writeln!(
        o,
        "  scale from zero:  {} wake{} ({how}); first {} requests of each: {}",
        s.wakes.len(),
        if s.wakes.len() == 1 { "" } else { "s" },
        crate::run::FIRST_REQUESTS_PER_WAKE,
        ttft_range(s.wake_ttft_p50_seconds, s.wake_ttft_max_seconds)
    );
    for w in &s.wakes {
        let _ = writeln!(
            o,
            "    {} {} from 0 to 1, gateway queue {}: {} requests, {}",
            clock(w.time),
            w.variant,
            w.gateway_queue,
            w.first_requests,
            ttft_range(w.ttft_p50_seconds, w.ttft_max_seconds)
        );
    }
}
