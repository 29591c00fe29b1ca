#!/usr/bin/env bash
# The Debian packages (debian/, docs/operations.md section 16): built from
# a copy of the tree with dpkg-buildpackage (tests/harness/build-debs.sh: one
# build, no tests inside; or taken from BACKY_DEB_DIR, where tests/run-all.sh
# builds them once for this test and test_ansible), lintian finds no errors, they install,
# every program, man page, example config and unit lands where Debian
# expects it, the examples pass the daemons' own config checks, the units
# pass systemd-analyze verify, docs/operations.md and the man pages name the
# paths installed, and purging removes them again.
#
# It installs into this machine's root: it fails if backy packages are
# installed already (remove them first) rather than replace them.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_tool dpkg-buildpackage dh lintian dpkg dpkg-query apt-get systemd-analyze man logrotate runuser tar
SRC=$(cd "$HERE/../.." && pwd)
PKGS=(backy backy-worker backy-coordinator)
OPS=$SRC/docs/operations.md

installed() { dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed; }
for p in "${PKGS[@]}"; do
	installed "$p" && fail "package '$p' is installed already: this test installs and purges its own build (apt-get purge ${PKGS[*]})"
done
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"; }

if [[ -n ${BACKY_DEB_DIR:-} ]]; then
	check "the packages built from this tree by tests/run-all.sh ($BACKY_DEB_DIR)"
	OUT=$(realpath "$BACKY_DEB_DIR")
	DEBS=()
	for p in "${PKGS[@]}"; do
		f=$(compgen -G "$OUT/${p}_*.deb" | head -1) || fail "no ${p}_*.deb in $OUT"
		DEBS+=("$f")
	done
	compgen -G "$OUT/*.changes" >/dev/null || fail "no .changes in $OUT"
else
	check "dpkg-buildpackage from a copy of the tree"
	t0=$SECONDS
	OUT=$T/src
	mapfile -t DEBS < <("$SRC/tests/harness/build-debs.sh" "$OUT" || echo FAILED)
	[[ ${#DEBS[@]} == 3 && ${DEBS[*]} != *FAILED* ]] || fail "building the packages failed"
fi
ok "${DEBS[*]##*/}"

check "lintian: no errors"
lintian --fail-on error "$OUT/"*.changes >"$T/lintian.log" 2>&1 || { cat "$T/lintian.log"; fail "lintian reports errors"; }
sed 's/^/     /' "$T/lintian.log" | grep -v 'root privileges' || true
ok "lintian clean of errors ($(grep -c '^W:' "$T/lintian.log" || true) warnings)"

check "the packages install"
at_exit "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q purge ${PKGS[*]} >>'$T/apt.log' 2>&1"
apt install "${DEBS[@]}" >"$T/apt.log" 2>&1 || { tail -30 "$T/apt.log"; fail "apt-get install of the .debs failed"; }
for p in "${PKGS[@]}"; do installed "$p" || fail "'$p' is not installed"; done
ok "installed ${PKGS[*]}"

check "every file where Debian expects it"
for f in /usr/bin/backy /usr/bin/backyctl /usr/sbin/backy-worker /usr/sbin/backy-coordinator; do
	[[ -x $f ]] || fail "'$f' is not installed"
done
for page in 1/backy 1/backyctl 5/backy.yaml 5/backy-worker.yaml 5/backy-repository 8/backy-worker 8/backy-coordinator; do
	f=/usr/share/man/man${page%%/*}/${page#*/}.${page%%/*}.gz
	[[ -f $f ]] || fail "man page '$f' is not installed"
	[[ $(man -w "${page%%/*}" "${page#*/}") == "$f" ]] || fail "man ${page%%/*} ${page#*/} does not find '$f'"
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	[[ -z $warnings ]] || fail "man page '$f' has warnings: $warnings"
done
for f in /lib/systemd/system/backy-worker.service /lib/systemd/system/backy-coordinator.service \
	/etc/logrotate.d/backy; do
	[[ -f $f ]] || fail "'$f' is not installed"
done
conffiles=$(dpkg-query -W -f='${Conffiles}\n' "${PKGS[@]}")
for f in /etc/backy/worker.yaml.example /etc/backy/backy.yaml.example /etc/logrotate.d/backy; do
	grep -q " $f " <<<"$conffiles" || fail "'$f' is not a conffile"
done
ok "programs in /usr/bin and /usr/sbin, man pages in sections 1, 5, 8, units in /lib/systemd/system, conffiles in /etc"
getent passwd backy >/dev/null || fail "no system user 'backy'"
assert_eq "owner and mode of /var/lib/backy" "backy:backy 750" "$(stat -c '%U:%G %a' /var/lib/backy)"
/usr/bin/backy --version >/dev/null || fail "backy --version failed"

check "the examples pass the daemons' checks; logrotate takes its file"
runuser -u backy -- /usr/sbin/backy-coordinator --check-config /etc/backy/backy.yaml.example >"$T/check.out" ||
	fail "backy-coordinator --check-config refuses the example (as user backy)"
assert_contains "the coordinator's example" "$T/check.out" "state-file /var/lib/backy/state"
mkdir -p "$T/base"
sed "s|^base-dir: .*|base-dir: $T/base|" /etc/backy/worker.yaml.example >"$T/worker.yaml"
/usr/sbin/backy-worker -c "$T/worker.yaml" --check >"$T/check.out" || fail "backy-worker --check refuses the example"
assert_contains "the worker's example" "$T/check.out" "backy /usr/bin/backy"
logrotate -d /etc/logrotate.d/backy >"$T/logrotate.log" 2>&1 || { cat "$T/logrotate.log"; fail "logrotate refuses /etc/logrotate.d/backy"; }
ok "logrotate -d /etc/logrotate.d/backy"

check "systemd-analyze verify: the installed units are clean"
systemd-analyze verify /lib/systemd/system/backy-worker.service /lib/systemd/system/backy-coordinator.service \
	>"$T/verify.log" 2>&1 || { cat "$T/verify.log"; fail "systemd-analyze verify failed"; }
[[ -s $T/verify.log ]] && { cat "$T/verify.log"; fail "systemd-analyze verify has complaints"; }
ok "no complaints"

check "docs/operations.md and the man pages name the paths the packages install"
for p in "${PKGS[@]}"; do
	# shellcheck disable=SC2046 # a list of pages
	zcat $(dpkg -L "$p" | grep '^/usr/share/man/.*\.gz$') >"$T/pages.txt"
	for f in $(dpkg -L "$p"); do
		[[ -f $f && $f != /usr/share/doc/* ]] || continue
		if [[ $f == /usr/share/man/* ]]; then
			name=$(basename "$f" .gz)
			grep -qF "${name%.*}(${name##*.})" "$OPS" || fail "operations.md does not name ${name%.*}(${name##*.})"
			continue
		fi
		grep -qF "$f" "$OPS" || fail "operations.md does not name '$f' (package $p)"
		if [[ $f == /etc/* || $f == /lib/* ]]; then
			grep -qF "${f//-/\\-}" "$T/pages.txt" || grep -qF "$f" "$T/pages.txt" ||
				fail "no man page of $p names '$f'"
		fi
	done
done
ok "every installed path is in operations.md, every /etc and unit path in a man page of its package"

check "purge removes them"
apt purge "${PKGS[@]}" >>"$T/apt.log" 2>&1 || { tail -20 "$T/apt.log"; fail "apt-get purge failed"; }
for f in /usr/bin/backy /usr/sbin/backy-worker /usr/sbin/backy-coordinator /lib/systemd/system/backy-worker.service \
	/etc/backy/backy.yaml.example /var/lib/backy; do
	[[ -e $f ]] && fail "'$f' is still there after the purge"
done
ok "nothing left"
