#!/usr/bin/env bash
# The whole test suite: install dependencies, build (warnings as errors),
# start a throw-away single-node Ceph and a private RabbitMQ, run unit and
# integration tests, then an ASan+UBSan build of the unit tests and the
# integration tests of our own data path; prints the ten slowest tests of each.
# Needs root (loop-mounted file systems, services).
# Usage: tests/run-all.sh [--quick]   (--quick: skip the sanitizer pass)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
t0=$SECONDS

tests/install-deps.sh
tests/harness/install.sh

base=${BACKY_TEST_BASE:-/tmp/backy-test}
export BACKY_TEST_BASE=$base
export BACKY_CEPH_ENV=$base/ceph/env BACKY_RABBIT_ENV=$base/rabbit/env
export RABBIT_CONSUMER_TIMEOUT_MS=${RABBIT_CONSUMER_TIMEOUT_MS:-60000}

run_suite() { # build-dir ctest-include-regex services cmake-args...
	local dir=$1 include=$2 services=$3 rc=0
	shift 3
	cmake -S "$top" -B "$dir" -DBACKY_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	# shellcheck disable=SC2086 # services is a list of options
	tests/harness/with-services.sh $services -- \
		bash -c 'cd "$1" && ctest --output-on-failure --timeout 900 ${2:+-R "$2"}' _ "$dir" "$include" \
		| tee "$dir/ctest.out" || rc=$?
	slowest "$dir/ctest.out"
	return "$rc"
}

# slowest CTEST-OUTPUT: the ten slowest tests of a run, for whoever watches CI time
slowest() {
	echo "-- the ten slowest tests:"
	sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 \1/p' "$1" |
		sort -rn | head -n 10 | awk '{printf "   %8.1f s  %s\n", $1, $2}'
}

# The release pass runs everything.  The sanitizer pass runs what ASan and
# UBSan can find something in: every unit test and fuzz corpus (parsers,
# schedule maths, the store), and the integration tests that drive our own
# data path and daemons once (backup/restore on XFS, hostile input, one
# worker, one coordinator, the broker adapter, the daemons' systemd side).
# The rest repeats the same code with more waiting (other file systems,
# simulated days, Ceph, broker restarts and timeouts, multi-minute fleet
# scenarios) or, like the crash test, is calibrated on run times that
# ASan's exit-time leak check distorts.
# It needs no Ceph.
asan_include='^(unit\.|fuzz\.|integration\.(mq_connect|mq_io|test_cow_xfs|test_bad_input|test_migrate_python|test_worker_basic|test_coord_basic|test_service_notify)$)'

echo "== Debian packages, built once for test_packages and test_ansible"
if tests/harness/build-debs.sh "$base/debs" >/dev/null; then
	export BACKY_DEB_DIR=$base/debs
else
	echo "run-all: building the packages failed; test_packages builds them again and says why"
fi
echo "== build and test (release)"
run_suite build/ci "" "--ceph --rabbit"
if [ "${1:-}" != "--quick" ]; then
	echo "== build and test (ASan+UBSan)"
	LSAN_OPTIONS=suppressions=$top/tests/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build/ci-asan "$asan_include" --rabbit -DBACKY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
echo "== all tests passed in $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"
