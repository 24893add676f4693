//! Running `wva simulate` and `wva decide` in-process as a user would, shared by the tests.

#![allow(dead_code)] // a module of each test crate: not every crate uses every helper

use clap::Command;
use std::io::Write as _;
use std::path::PathBuf;
use wva_sim::cli;

/// What a run printed and returned.
pub struct Run {
    /// Exit code.
    pub code: u8,
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
}

/// `wva ARGS` in-process: exit code, stdout, stderr.
pub fn wva(args: &[&str]) -> Run {
    let command = Command::new("wva")
        .subcommand(cli::simulate_command())
        .subcommand(cli::decide_command());
    let matches = command
        .try_get_matches_from(std::iter::once("wva").chain(args.iter().copied()))
        .expect("arguments parse");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match matches.subcommand() {
        Some(("simulate", m)) => cli::run_simulate(m, &mut out, &mut err),
        Some(("decide", m)) => cli::run_decide(m, &mut out, &mut err),
        _ => unreachable!("a subcommand is given"),
    };
    Run {
        code,
        out: String::from_utf8(out).expect("utf-8"),
        err: String::from_utf8(err).expect("utf-8"),
    }
}

/// The path of a file of `sim/scenarios`.
pub fn sample(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
        .display()
        .to_string()
}

/// Writes `content` to a temporary file named `name`; returns its path.
pub fn temp_file(name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wva-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .expect("temp file");
    path.display().to_string()
}

/// Parses JSON output, showing it when it is not JSON.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
