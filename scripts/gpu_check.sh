#!/usr/bin/env bash
# One GPU session, unattended: benchmarks + the default model's training from its carried state.
#
#   scripts/gpu_check.sh              # on the GPU machine (the device tool sets $OUT)
#   scripts/gpu_check.sh --dry-run    # here, on CPU: every stage at tiny sizes
#
# Runs latentedit from the source tree (PYTHONPATH, nothing installed). Writes $OUT/gpu_<date>.json,
# $OUT/gpu_check.log and the run's resume state as ≤ 15 MiB parts; see scripts/README.md.
# Options are passed to scripts/gpu_check.py (--budget-s, --train-steps, --skip, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "gpu_check: error: no Python interpreter '$PY' (set PYTHON=/path/to/python)" >&2
    exit 2
fi
copy=()
if [ -z "${OUT:-}" ]; then  # run by hand: results under runs/, the JSON also into docs/bench
    OUT="$repo/runs/gpu_check_out/$(date -u +%Y%m%d-%H%M%S)"
    copy=(--copy-to "$repo/docs/bench")
fi
mkdir -p "$OUT"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
log="$OUT/gpu_check.log"

set +e
"$PY" "$here/gpu_check.py" --out "$OUT" ${copy[@]+"${copy[@]}"} "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# the log is one of the 8 returned files: keep it under 2 MiB (its first and last MiB)
max=$((2 * 1024 * 1024))
if [ "$(stat -c %s "$log")" -gt "$max" ]; then
    { head -c $((max / 2 - 100)) "$log"; printf '\n[... gpu_check.sh: log cut to 2 MiB ...]\n'; tail -c $((max / 2 - 100)) "$log"; } > "$log.tmp"
    mv "$log.tmp" "$log"
fi
if [ "$rc" -ne 0 ]; then
    echo "gpu_check: FAILED with status $rc; partial results in $OUT" >&2
else
    echo "gpu_check: ok; results in $OUT"
fi
exit "$rc"
