#!/usr/bin/env bash
# Installs kubernetes-validate (PyPI, bundles the Kubernetes JSON schemas, works offline) and
# jsonschema (to check VariantAutoscaling objects against the generated CRD) into a venv at
# ${WVA_TOOLS:-<repo>/.ci/tools}/venv when missing. Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${WVA_TOOLS:-$repo/.ci/tools}"
venv="$tools/venv"
kv_version="1.33.1"

if [ -x "$venv/bin/kubernetes-validate" ] && "$venv/bin/python" -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "kubernetes-validate already at $venv/bin/kubernetes-validate"
  exit 0
fi

command -v python3 >/dev/null || { echo "error: python3 is needed for kubernetes-validate" >&2; exit 1; }
echo "==> installing kubernetes-validate $kv_version (PyPI) into $venv"
python3 -m venv "$venv" || {
  echo "error: 'python3 -m venv' failed; install the venv module (Debian: apt-get install -y python3-venv)" >&2
  exit 1
}
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "kubernetes-validate==$kv_version" jsonschema pyyaml
"$venv/bin/kubernetes-validate" --version
