#!/usr/bin/env bash
# Install the packages the service harness needs (Debian 12, run as root).
# Idempotent: packages already installed are skipped, so a second run takes ~1 s.
# Package postinst scripts must not start services: if /usr/sbin/policy-rc.d does
# not exist, a temporary one that denies everything (exit 101) is created for the
# duration of the install and removed afterwards.
set -euo pipefail
ME=install.sh
log() { echo "$ME: $*" >&2; }

PKGS=(rabbitmq-server librabbitmq-dev amqp-tools
      ceph-mon ceph-osd ceph-mgr ceph-common librbd-dev librados-dev)
# Tools the harness scripts use; normally present already.
PKGS+=(iproute2 procps coreutils util-linux)
# The test hosts of nspawn-hosts.sh and what test_ansible.sh drives them with.
PKGS+=(systemd-container openssh-server ansible ansible-lint)

t0=$(date +%s.%N)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	log "all ${#PKGS[@]} packages already installed ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	log "missing packages: ${missing[*]} (run as root)"
	exit 1
fi

POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
	if ((created_policy)); then
		rm -f "$POLICY"
		log "removed temporary $POLICY"
	fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# temporary, created by backy tests/harness/install.sh\nexit 101\n' > "$POLICY"
	chmod 0755 "$POLICY"
	created_policy=1
	log "created temporary $POLICY (deny service starts)"
fi

LOG=${TMPDIR:-/tmp}/backy-harness-install.log
log "installing ${#missing[@]} package(s): ${missing[*]} (apt output: $LOG)"
export DEBIAN_FRONTEND=noninteractive
: > "$LOG"
if ! apt-get update >>"$LOG" 2>&1 ||
   ! apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
	log "apt-get failed; last lines of $LOG:"
	tail -n 30 "$LOG" | sed 's/^/    /' >&2
	exit 1
fi
log "done in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
