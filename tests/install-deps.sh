#!/usr/bin/env bash
# Install what backy needs to build and test on Debian 12 (run as root).
# Idempotent: a second run only checks.
set -euo pipefail

PKGS=(build-essential cmake pkg-config
      libyaml-dev libjansson-dev uuid-dev libxxhash-dev libcmocka-dev
      libcurl4-openssl-dev libmicrohttpd-dev librabbitmq-dev libblkid-dev libsystemd-dev
      btrfs-progs xfsprogs e2fsprogs util-linux fdisk python3 jq time curl bc iproute2 procps
      python3-pika python3-jsonschema openssl prometheus liblzo2-dev
      clang libclang-rt-14-dev
      debhelper dpkg-dev lintian fakeroot adduser logrotate systemd man-db)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: ${missing[*]} (run as root)" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
