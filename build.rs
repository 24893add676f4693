//! Renders the declarations in `api/` into `generated/` and the Helm chart.
//!
//! Files are written only when their content changed, so a build never triggers another.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, content) in wva_api::render::artefacts() {
        println!("cargo:rerun-if-changed={path}");
        let target = root.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        if let Some(dir) = target.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            panic!("cannot create {}: {e}", dir.display());
        }
        if let Err(e) = std::fs::write(&target, content) {
            panic!("cannot write {}: {e}", target.display());
        }
    }
}
