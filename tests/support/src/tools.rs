//! The command-line tools the chart and end-to-end tests run: found through their env var,
//! the tools directory `tests/tools/install-*.sh` fills (`$WVA_TOOLS`, default `.ci/tools` in
//! the repository), or `PATH`; otherwise the test fails naming the installer to run.

use std::path::{Path, PathBuf};

/// The directory `tests/tools/install-*.sh` install into: `$WVA_TOOLS`, else `.ci/tools`.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("WVA_TOOLS").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/tools"),
    }
}

/// A tool from `env_var`, `in_tools` under [`tools_dir`], or `on_path` on `PATH`; panics
/// naming `tests/tools/<installer>` when none exists.
pub fn tool(env_var: &str, in_tools: &str, on_path: &str, installer: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let local = tools_dir().join(in_tools);
    if local.is_file() {
        return local;
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(on_path);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{on_path} not found (looked at ${env_var}, {} and PATH): run `bash tests/tools/{installer}` \
         from the repository root, or set {env_var}",
        local.display()
    );
}

/// helm: `$WVA_HELM_BIN`, the tools directory, or `PATH`.
pub fn helm() -> PathBuf {
    tool("WVA_HELM_BIN", "bin/helm", "helm", "install-helm.sh")
}

/// Runs `command` with `input` on its standard input and returns what it printed and its
/// exit status.
pub fn output_with_stdin(
    command: &mut std::process::Command,
    input: &[u8],
) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("writes the input");
    child.wait_with_output().expect("the command ends")
}
