#!/usr/bin/env bash
# Coordinator scaling benchmark: memory per job, cost per due job (heap pop,
# start, result, bk_sched_next, heap push) for 10k/100k/1M jobs, idle tick,
# state file (snapshot) cost, durability cost of dispatch batches of 1-1000
# jobs with the state journal, and the dispatch path with confirms against a
# real broker with 100k jobs in the state, journal vs a state file rewrite
# per batch (BACKY_RABBIT_ENV or BACKY_AMQP_URL).  Prints numbers; asserts
# nothing.
#
# Usage: bench/coordinator.sh [BUILD_DIR] [JOBS...]   (default: build-co, 10000 100000 1000000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build-co}
shift || true
BIN=$BUILD/coordinator/bench_coordinator
[ -x "$BIN" ] || { echo "bench/coordinator.sh: build $BIN first (cmake --build $BUILD --target bench_coordinator)" >&2; exit 1; }
if [ -n "${BACKY_RABBIT_ENV:-}" ]; then
	# shellcheck disable=SC1090
	. "$BACKY_RABBIT_ENV"
fi
echo "# backy-coordinator bench on $(uname -n), $(nproc) CPUs, $(date -u +%F)"
exec "$BIN" "$@"
