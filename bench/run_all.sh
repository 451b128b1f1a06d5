#!/usr/bin/env bash
# Runs every benchmark in sequence, each writing bench/results/<name>.json, then the summary table
# (bench/results/summary.md). Usage: bench/run_all.sh [--quick]
#   --quick: fewer rounds everywhere (a smoke run, a few minutes less; not for publishing).
# Uses the project's venv if there is one, else `python` on PATH. Exit status: the number of failed steps.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python; fi
fi
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
mkdir -p bench/results
failed=0

step() {
  local name="$1"; shift
  echo
  echo "=== $name: $* ==="
  local t0=$SECONDS
  if "$@"; then
    echo "--- $name done in $((SECONDS - t0)) s"
  else
    echo "--- $name FAILED (exit $?) after $((SECONDS - t0)) s"
    failed=$((failed + 1))
  fi
}

if [ "$QUICK" = 1 ]; then
  step overhead        "$PY" bench/overhead.py --repeat 2 --repeat-large 1
  step vs_plain        "$PY" bench/vs_plain.py --rounds 5 --rounds-large 2
  step eager_vs_phases "$PY" bench/eager_vs_phases.py --rounds 3
  step replay          "$PY" bench/replay.py --rounds 5
  step local_model     "$PY" bench/local_model.py --rounds 1
  step load            "$PY" bench/load.py --repeat 1
  step post_run        "$PY" bench/post_run.py --rounds 1
  step engine_cpu      "$PY" bench/engine_cpu.py --rounds 3
  step loop_fairness   "$PY" bench/loop_fairness.py --rounds 1
  step soak            "$PY" bench/soak.py --branches 500
  step sources_index   "$PY" bench/sources_index.py --rounds 1 --queries 20
  step cost            "$PY" bench/cost.py
else
  step overhead        "$PY" bench/overhead.py
  step vs_plain        "$PY" bench/vs_plain.py
  step eager_vs_phases "$PY" bench/eager_vs_phases.py
  step replay          "$PY" bench/replay.py
  step local_model     "$PY" bench/local_model.py
  step load            "$PY" bench/load.py
  step post_run        "$PY" bench/post_run.py
  step engine_cpu      "$PY" bench/engine_cpu.py
  step loop_fairness   "$PY" bench/loop_fairness.py
  step soak            "$PY" bench/soak.py
  step sources_index   "$PY" bench/sources_index.py
  step cost            "$PY" bench/cost.py
fi

# The app's own benchmarks: streaming into the run screen, and a large run with the app on.
step tui_stream bash -c "'$PY' bench/tui_stream.py 2>&1 | tee bench/results/tui_stream.txt; exit \${PIPESTATUS[0]}"
step app_load "$PY" bench/app_load.py

echo
step summary bash -c "'$PY' bench/summary.py > bench/results/summary.md && cat bench/results/summary.md"
echo
echo "failed steps: $failed"
exit "$failed"
