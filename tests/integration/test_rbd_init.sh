#!/bin/bash
# test_rbd_init.sh: repositories created with `backy init` for RBD sources work
# with the documented defaults (verification of the written blocks plus a
# sample of 256 others, 300 s budget; Consul waits 3 s, polls every 2 s, up to
# 90 s), without editing the config by hand.
#  - `init rbd` and `init ceph-rbd`: the config does not switch verification
#    off (verify_sample/verify_budget at their defaults)
#  - a config with the keys of older versions (verify_percent,
#    verify_min_blocks) still loads; an out-of-range verify_percent is refused
#    naming the key
#  - `init flyingcircus POOL/IMAGE,VM,TOKEN --consul-url URL` succeeds, keeps
#    vm, token and URL, the Consul timings at their defaults, and a backup
#    through the stand-ins comes out frozen
. "$(dirname "$0")/rbd_lib.sh"

rbd_new img i 64M
rbd_write "$img" w:0:4M

# config_value REPO KEY: the value of source.KEY in REPO/config, or "absent"
config_value()
{
	"$PYTHON" - "$1/config" "$2" <<'PYEOF'
import sys
path, key = sys.argv[1:]
inside = False
for line in open(path):
    line = line.rstrip("\n")
    if line == "source:":
        inside = True
        continue
    if inside and not line.startswith("  "):
        break
    if inside and line.startswith("  %s:" % key):
        v = line.split(":", 1)[1].strip().strip('"')
        try:
            v = "%g" % float(v)
        except ValueError:
            pass
        print(v)
        sys.exit(0)
print("absent")
PYEOF
}

# every finding is reported, the test fails at the end if there was one
PROBLEMS=()
problem() { echo "  PROBLEM: $*" >&2; PROBLEMS+=("$*"); }
finish()
{
	((${#PROBLEMS[@]} == 0)) || fail "${#PROBLEMS[@]} problem(s): $(printf '%s; ' "${PROBLEMS[@]}")"
}

# default_or_absent REPO KEY DEFAULT
default_or_absent()
{
	local v
	v=$(config_value "$1" "$2")
	if [[ $v == absent || $v == "$3" ]]; then
		ok "source.$2: $v"
	else
		problem "$(basename "$1")/config: source.$2 is '$v', expected the default $3 (or no key)"
	fi
}

for type in rbd ceph-rbd; do
	check "init $type: verification defaults"
	repo=$T/repo-$type
	bk -b "$repo" init "$type" "$POOL/$img" --ceph-id backup
	default_or_absent "$repo" verify_sample 256
	default_or_absent "$repo" verify_budget 300
	default_or_absent "$repo" verify_full false
done

check "a config with the verification keys of older versions still loads"
set_source "$T/repo-rbd" verify_percent=1 verify_min_blocks=16
bk -b "$T/repo-rbd" status
set_source "$T/repo-rbd" verify_percent=200
expect_fail "verify_percent' is out of range" -b "$T/repo-rbd" status

check "init flyingcircus POOL/IMAGE,VM,TOKEN --consul-url URL"
TOKEN=init-tok-$$
VM=vm-init-$$
start_consul --token "$TOKEN"
CONSUL_TOKEN=$TOKEN
repo=$T/repo-fc
bk_run -b "$repo" init flyingcircus "$POOL/$img,$VM,$TOKEN" --consul-url "$CONSUL_URL" --ceph-id backup
if ((BK_RC != 0)); then
	problem "backy init flyingcircus exited $BK_RC: $(head -c 300 "$T/last.err")"
	finish
fi
assert_eq "source.type" flyingcircus "$(config_value "$repo" type)"
assert_eq "source.vm" "$VM" "$(config_value "$repo" vm)"
assert_eq "source.consul_acl_token" "$TOKEN" "$(config_value "$repo" consul_acl_token)"
assert_eq "source.consul_url" "$CONSUL_URL" "$(config_value "$repo" consul_url)"
default_or_absent "$repo" consul_initial_wait 3
default_or_absent "$repo" consul_poll_interval 2
default_or_absent "$repo" consul_timeout 90
default_or_absent "$repo" verify_sample 256

check "a backup of the fresh flyingcircus repository is frozen"
start_hypervisor react "$VM" "$img"
backup "$repo" manual:first
assert_eq "consistency" frozen "$(rev_field "$repo" "$BID" consistency)"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "fresh flyingcircus"
finish
