#!/usr/bin/env bash
# CI benchmark smoke run: every bench binary in BENCH_QUICK mode (tiny sizes, one repetition,
# seconds), then the report generator on their output (written under the target dir, not into
# the repository). Fails if a bench panics (they assert counts: no lost increments, exact purge
# counts, sorted keys) or the generator fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_QUICK=1 exec scripts/bench-report.sh
