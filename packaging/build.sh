#!/usr/bin/env bash
# Build the one-folder frozen app:  packaging/build.sh  ->  dist/v2a-studio/v2a-studio
#
# Uses the project venv (.venv, or $PYTHON) and needs the [build] extra (PyInstaller).
# Work files go to build/pyinstaller, the bundle to dist/ (both gitignored).
# Environment: V2A_BUNDLE_CUDA=full|cpu (see packaging/v2a-studio.spec), NICE=10 (default) to
# stay polite on shared machines, V2A_BUILD_CLEAN=1 to rebuild from scratch,
# V2A_BUILD_SNAPSHOT=1 to freeze a copy of the tree taken in one instant (build/snapshot):
# the analysis reads sources over many minutes, so in a tree others are editing it can
# otherwise bundle half-old, half-new modules (seen: a caller newer than its callee).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
NICE=${NICE:-10}

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "PyInstaller missing: $PY -m pip install -e '.[build]'" >&2
  exit 2
fi
# Icons are committed; re-render only if the SVG is newer than the PNGs (needs Qt).
if [ packaging/icons/v2a-studio.svg -nt packaging/icons/v2a-studio-256.png ]; then
  QT_QPA_PLATFORM=offscreen "$PY" packaging/icons/render_icons.py >/dev/null
fi

SPEC=packaging/v2a-studio.spec
if [ "${V2A_BUILD_SNAPSHOT:-0}" = 1 ]; then
  rm -rf build/snapshot && mkdir -p build/snapshot
  cp -a app engine resources packaging pyproject.toml README.md LICENSE build/snapshot/
  find build/snapshot -name __pycache__ -prune -exec rm -rf {} +
  SPEC=build/snapshot/packaging/v2a-studio.spec
  echo "building from a snapshot of the tree taken $(date -u +%H:%M:%SZ)"
fi
clean=()
[ "${V2A_BUILD_CLEAN:-0}" = 1 ] && clean=(--clean)
start=$(date +%s)
nice -n "$NICE" "$PY" -m PyInstaller --noconfirm "${clean[@]}" \
  --workpath build/pyinstaller --distpath dist "$SPEC"
end=$(date +%s)

name=$("$PY" -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['name'])")
name=${V2A_BUNDLE_NAME:-$name}
echo "built dist/$name in $((end - start)) s; size $(du -sh "dist/$name" | cut -f1)"
