#!/usr/bin/env bash
# The whole test suite: install dependencies, build (warnings as errors),
# run unit and integration tests, then the same again under ASan+UBSan.
# Needs root (loop-mounted file systems).  Usage: tests/run-all.sh [--quick]
#   --quick: skip the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

tests/install-deps.sh

run_suite() { # build-dir cmake-args...
	local dir=$1
	shift
	cmake -S "$top" -B "$dir" -DBACKY_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
	(cd "$dir" && ctest --output-on-failure --timeout 900)
}

echo "== build and test (release)"
run_suite build/ci
if [ "${1:-}" != "--quick" ]; then
	echo "== build and test (ASan+UBSan)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build/ci-asan -DBACKY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
echo "== all tests passed"
