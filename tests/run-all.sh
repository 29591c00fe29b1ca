#!/usr/bin/env bash
# The whole test suite: install dependencies, build (warnings as errors),
# start a throw-away single-node Ceph and a private RabbitMQ, run unit and
# integration tests, then the same again under ASan+UBSan.
# Needs root (loop-mounted file systems, services).
# Usage: tests/run-all.sh [--quick]   (--quick: skip the sanitizer pass)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

tests/install-deps.sh
tests/harness/install.sh

base=${BACKY_TEST_BASE:-/tmp/backy-test}
export BACKY_TEST_BASE=$base
export BACKY_CEPH_ENV=$base/ceph/env BACKY_RABBIT_ENV=$base/rabbit/env
export RABBIT_CONSUMER_TIMEOUT_MS=${RABBIT_CONSUMER_TIMEOUT_MS:-60000}

run_suite() { # build-dir ctest-exclude-regex cmake-args...
	local dir=$1 exclude=$2
	shift 2
	cmake -S "$top" -B "$dir" -DBACKY_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	tests/harness/with-services.sh --ceph --rabbit -- \
		bash -c 'cd "$1" && ctest --output-on-failure --timeout 900 ${2:+-E "$2"}' _ "$dir" "$exclude"
}

# The sanitizer pass runs every unit test and the integration tests of our
# own data path.  Run in the release pass only: the tests that mostly wait on
# external daemons (Ceph, broker restarts and timeouts, multi-minute fleet
# scenarios), to keep CI well inside its time limit, and the crash test,
# whose kill moments are calibrated on the process run time: under ASan the
# exit-time leak check makes most kills land after the commit.
asan_exclude='integration\.test_(crash|rbd_|fleet_|worker_consumer_timeout|worker_broker_restart)'

echo "== build and test (release)"
run_suite build/ci ""
if [ "${1:-}" != "--quick" ]; then
	echo "== build and test (ASan+UBSan)"
	LSAN_OPTIONS=suppressions=$top/tests/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build/ci-asan "$asan_exclude" -DBACKY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
echo "== all tests passed"
