#!/usr/bin/env bash
# Frozen-app smoke test: build the one-folder bundle (or reuse dist/), then
#   1. report the bundle size (and what takes the space),
#   2. measure the cold-start time to the first window (page cache of the bundle evicted
#      first, where the OS allows) and a warm start,
#   3. run `<bundle>/v2a-studio --selftest` offscreen from an unrelated folder with a fresh
#      V2A_HOME, so nothing from the checkout or the user's profile can help it.
# Usage: packaging/smoke_test.sh [--rebuild]      Exit status: the self-test's.
# Writes a JSON summary to build/smoke_test.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
name=$("$PY" -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['name'])")
name=${V2A_BUNDLE_NAME:-$name}
BUNDLE="$ROOT/dist/$name"
EXE="$BUNDLE/$name"

if [ "${1:-}" = "--rebuild" ] || [ ! -x "$EXE" ]; then
  packaging/build.sh
fi
[ -x "$EXE" ] || { echo "no bundle at $EXE" >&2; exit 2; }

echo "== bundle size"
size_bytes=$(du -sb "$BUNDLE" | cut -f1)
echo "$(du -sh "$BUNDLE" | cut -f1)  $BUNDLE  ($size_bytes bytes, $(find "$BUNDLE" -type f | wc -l) files)"
echo "-- largest parts"
du -s --block-size=1M "$BUNDLE"/_internal/* 2>/dev/null | sort -rn | head -12 | awk '{printf "  %6d MB  %s\n", $1, $2}'

evict() {  # drop the bundle's pages from the page cache (no root needed: POSIX_FADV_DONTNEED)
  "$PY" - "$BUNDLE" <<'PYEOF' || true
import os, sys
n = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        try:
            fd = os.open(os.path.join(d, f), os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); n += 1
        finally:
            os.close(fd)
print(f"  evicted {n} files from the page cache")
PYEOF
}

first_window() {  # seconds from exec to the first exposed top-level window
  local t0 line t1
  t0=$(date +%s.%N)
  line=$(cd /tmp && V2A_STARTUP_PROBE=1 QT_QPA_PLATFORM=offscreen V2A_HOME="$WORK/home" \
         timeout 300 "$EXE" 2>"$WORK/start.err" | grep -m1 '^V2A_FIRST_WINDOW' || true)
  if [ -z "$line" ]; then echo "nan"; tail -5 "$WORK/start.err" >&2; return; fi
  t1=$(echo "$line" | cut -d' ' -f2)
  "$PY" -c "print(f'{$t1 - $t0:.2f}')"
}

WORK=$(mktemp -d /tmp/v2a-smoke.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "== start-up (offscreen, to first window)"
evict
cold=$(first_window)
warm=$(first_window)
echo "  cold start: ${cold} s   warm start: ${warm} s"

echo "== --selftest (offscreen, cwd /tmp, fresh V2A_HOME)"
t0=$(date +%s.%N)
set +e
(cd /tmp && QT_QPA_PLATFORM=offscreen V2A_HOME="$WORK/home2" timeout 1200 "$EXE" --selftest) \
  2>&1 | tee "$WORK/selftest.log"
rc=${PIPESTATUS[0]}
set -e
t1=$(date +%s.%N)
secs=$("$PY" -c "print(f'{$t1 - $t0:.1f}')")
echo "== selftest exit status $rc in ${secs} s"

mkdir -p build
"$PY" - "$size_bytes" "$cold" "$warm" "$rc" "$secs" "$BUNDLE" <<'PYEOF'
import json, platform, os, sys, time
size, cold, warm, rc, secs, bundle = sys.argv[1:]
out = {
    "bundle": bundle, "bundle_bytes": int(size), "bundle_gb": round(int(size) / 1e9, 2),
    "cold_start_to_first_window_s": float(cold), "warm_start_to_first_window_s": float(warm),
    "selftest_exit_status": int(rc), "selftest_wall_s": float(secs),
    "machine": f"{platform.machine()} {platform.system()} {platform.release()}, {os.cpu_count()} CPUs",
    "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
open("build/smoke_test.json", "w").write(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
PYEOF
exit "$rc"
