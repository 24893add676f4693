//! Renders the declarations in `api/` into `generated/` and the Helm chart.
//!
//! Files are written only when their content changed, so a build never triggers another. A
//! render or write that fails fails the build with a `cargo::error` naming the file, and
//! leaves the file as it was.

use std::path::Path;
use std::process::ExitCode;
use wva_api::render::{ARTEFACTS, Artefact};

fn main() -> ExitCode {
    println!("cargo::rerun-if-changed=build.rs");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = false;
    for artefact in ARTEFACTS {
        println!("cargo::rerun-if-changed={}", artefact.path);
        if let Err(error) = write(root, artefact) {
            // An instruction is one line.
            let error = error.replace('\n', " ");
            println!("cargo::error=cannot generate {}: {error}", artefact.path);
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Renders one artefact and writes it under `root` unless the file already holds that text.
fn write(root: &Path, artefact: &Artefact) -> Result<(), String> {
    let content = (artefact.render)().map_err(|e| e.to_string())?;
    let target = root.join(artefact.path);
    if std::fs::read_to_string(&target).ok().as_deref() == Some(content.as_str()) {
        return Ok(());
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&target, content).map_err(|e| format!("cannot write {}: {e}", target.display()))
}
