#!/bin/bash
# test_rbd_consul.sh: the Consul-coordinated freeze (source flyingcircus) with the
# in-tree Consul stand-in and hypervisor stand-in (as client.admin) against the
# real test cluster; backy runs as client.backup.  Timeouts shortened
# (consul_initial_wait 1, consul_poll_interval 1, consul_timeout 6).
#  - frozen: the hypervisor creates backy-<id>; revision consistency frozen in
#    status --json, no "(crash-consistent)" in status; PUT snapshot/<uuid>?cas=0
#    with {"vm": VM, "snapshot": "backy-<id>"}; the request key is deleted;
#    restores identically
#  - silent hypervisor: fallback after the timeout (>= 6 s), warning, revision
#    crash-consistent and "(crash-consistent)" in status; request key deleted
#  - late hypervisor (reacts after the fallback started): the run succeeds, one
#    backy-* snapshot, and the next run is fine
#  - garbage and stale requests under snapshot/: swept (garbage and this VM's
#    backy-* requests deleted; another VM's request and a non-backy request
#    kept), never fatal
#  - Consul down: clear error, exit 1, no revision, no snapshot left
#  - wrong token: refused, exit 1, no revision, no snapshot left
#  - no token or no vm: direct snapshot, no Consul call at all
#  - the token travels only in the X-Consul-Token header: never in a path,
#    query or body, never in backy's output or log
. "$(dirname "$0")/rbd_lib.sh"

SECRET=tok-$RANDOM-s3cr3t-$$
VM=vm-$$
rbd_new img c 64M
rbd_write "$img" w:0:8M w:40M:4M
start_consul --token "$SECRET"
CONSUL_TOKEN=$SECRET

# fc_repo REPO [KEY=VALUE...]: a flyingcircus repository for $img with short timeouts
fc_repo()
{
	local repo=$1
	shift
	rm -rf "$repo"
	rbd_repo "$repo" "$img"
	set_source "$repo" type=flyingcircus "vm=\"$VM\"" "consul_acl_token=\"$SECRET\"" \
		"consul_url=\"$CONSUL_URL\"" consul_initial_wait=1 consul_poll_interval=1 consul_timeout=6 "$@"
}

# backy's requests in the Consul log (JSON lines; the stand-ins use their own User-Agent)
backy_requests() { grep -v -e '"agent": "hypervisor-standin"' -e '"agent": "test"' "$CONSUL_LOG" || true; }

# requests_since N: backy's requests after line N of the Consul log
requests_since() { tail -n +"$(($1 + 1))" "$CONSUL_LOG" | grep -v -e '"agent": "hypervisor-standin"' -e '"agent": "test"' || true; }
log_lines() { wc -l <"$CONSUL_LOG"; }

# check_request_cycle N ID: after log line N backy PUT one create-only request
# for backy-ID and DELETEd that same key
check_request_cycle()
{
	local reqs put key
	reqs=$(requests_since "$1")
	put=$(grep '"method": "PUT"' <<<"$reqs" || true)
	assert_eq "PUT requests" 1 "$(grep -c . <<<"$put")"
	key=$(json_eval 'd["path"]' <<<"$put")
	[[ $key =~ ^/v1/kv/snapshot/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
		fail "request key is not snapshot/<uuid4>: $key"
	assert_eq "PUT query" "cas=0" "$(json_eval 'd["query"]' <<<"$put")"
	assert_eq "PUT body" "{'vm': '$VM', 'snapshot': 'backy-$2'}" "$(json_eval 'json.loads(d["body"])' <<<"$put")"
	grep -q "\"method\": \"DELETE\", \"path\": \"$key\"" <<<"$reqs" || fail "request key $key was not deleted"
	ok "request key $key deleted"
}

assert_no_vm_keys()
{
	local k
	for k in $(consul_keys); do
		case $k in
		snapshot/keep-*) ;;
		*) fail "$1: key $k left in Consul (value: $(consul_kv GET "$k"))" ;;
		esac
	done
	ok "$1: no request keys of $VM left"
}

repo=$T/repo
check "frozen: the hypervisor snapshots within the wait"
fc_repo "$repo"
start_hypervisor react "$VM" "$img" --delay 0.5
n=$(log_lines)
t0=$SECONDS
backup "$repo" manual:frozen
info "frozen backup took $((SECONDS - t0)) s"
assert_eq "consistency" frozen "$(rev_field "$repo" "$BID" consistency)"
grep -q "\"event\": \"snapshot\", \"key\": \"[^\"]*\", \"snapshot\": \"backy-$BID\"" "$HV_LOG" ||
	fail "the hypervisor did not create backy-$BID: $(cat "$HV_LOG")"
ok "the hypervisor created backy-$BID"
bk -b "$repo" status >"$T/status.txt"
assert_not_contains "status table" "$T/status.txt" "crash-consistent"
check_request_cycle "$n" "$BID"
assert_no_vm_keys "frozen"
assert_backy_snaps "backy-* snapshots" "$repo" "$img"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "frozen"
FROZEN=$BID

check "frozen incremental"
rbd_write "$img" w:$((1 * OBJ + 8192)):4K
n=$(log_lines)
backup "$repo" manual:frozen2
assert_eq "consistency" frozen "$(rev_field "$repo" "$BID" consistency)"
assert_eq "parent" "$FROZEN" "$(rev_field "$repo" "$BID" parent)"
assert_eq "bytes_written (the changed block of the object)" 65536 "$(rev_field "$repo" "$BID" bytes_written)"
check_request_cycle "$n" "$BID"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "frozen incremental"
stop_hypervisor

check "silent hypervisor: crash-consistent fallback after the timeout"
start_hypervisor silent "$VM" "$img"
n=$(log_lines)
t0=$SECONDS
backup "$repo" manual:silent
dt=$((SECONDS - t0))
assert_ge "seconds (timeout 6)" 6 "$dt"
assert_le "seconds" 30 "$dt"
assert_contains "backup stderr" "$T/last.err" "crash-consistent"
assert_eq "consistency" crash-consistent "$(rev_field "$repo" "$BID" consistency)"
bk -b "$repo" status >"$T/status.txt"
grep -F "$BID" "$T/status.txt" | grep -qF "(crash-consistent)" ||
	fail "status does not mark $BID crash-consistent: $(cat "$T/status.txt")"
ok "status marks $BID (crash-consistent)"
grep -q "\"event\": \"seen\".*backy-$BID" "$HV_LOG" || fail "the silent hypervisor never saw the request"
check_request_cycle "$n" "$BID"
assert_no_vm_keys "silent"
assert_backy_snaps "backy-* snapshots" "$repo" "$img"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "silent"
stop_hypervisor

check "late hypervisor: reacts 8 s after the request (fallback started at 6 s)"
start_hypervisor late "$VM" "$img" --late 8
rbd_write "$img" w:$((2 * OBJ)):4K
n=$(log_lines)
backup "$repo" manual:late
LATE=$BID
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "late"
for i in $(seq 1 100); do
	grep -q "backy-$LATE" <(grep -e snapshot-failed -e '"event": "snapshot"' "$HV_LOG") && break
	sleep 0.2
done
grep -q "backy-$LATE" <(grep -e snapshot-failed -e '"event": "snapshot"' "$HV_LOG") ||
	fail "the late hypervisor never acted on backy-$LATE: $(cat "$HV_LOG")"
info "hypervisor: $(grep -e snapshot-failed -e '"event": "snapshot"' "$HV_LOG" | tail -n 1 | cut -c 1-200)"
assert_eq "late: consistency" crash-consistent "$(rev_field "$repo" "$LATE" consistency)"
assert_backy_snaps "late: backy-* snapshots" "$repo" "$img"
check_request_cycle "$n" "$BID"
stop_hypervisor
start_hypervisor react "$VM" "$img"
rbd_write "$img" w:$((3 * OBJ)):4K
backup "$repo" manual:after-late
assert_eq "consistency after the late one" frozen "$(rev_field "$repo" "$BID" consistency)"
assert_backy_snaps "backy-* snapshots" "$repo" "$img"
restore_cmp "$repo" "$BID" "$(rbd_digest "$img@backy-$BID")" "after late"
stop_hypervisor

check "garbage and stale requests under snapshot/ are swept, never fatal"
start_hypervisor garbage "$VM" "$img"
consul_keys >"$T/keys-before"
grep -q garbage-nonjson "$T/keys-before" || fail "garbage keys were not written: $(cat "$T/keys-before")"
n=$(log_lines)
backup "$repo" manual:garbage
assert_eq "consistency" frozen "$(rev_field "$repo" "$BID" consistency)"
check_request_cycle "$n" "$BID"
assert_eq "keys left" "snapshot/keep-nonbacky snapshot/keep-other-vm" "$(consul_keys | sort | tr '\n' ' ' | sed 's/ $//')"
assert_no_vm_keys "garbage"
stop_hypervisor

check "wrong token: refused, exit 1, no revision, no snapshot left"
repo2=$T/repo-wrong
fc_repo "$repo2" "consul_acl_token=\"not-the-token\""
expect_fail "consul" -b "$repo2" backup manual:x
assert_eq "revisions" 0 "$(status_eval "$repo2" 'len(d)')"
assert_backy_snaps "backy-* snapshots" "$repo" "$img"

check "Consul down: exit 1, clear error, no revision, no snapshot left"
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
repo3=$T/repo-down
fc_repo "$repo3" "consul_url=\"http://127.0.0.1:$port\""
t0=$SECONDS
expect_fail "consul" -b "$repo3" backup manual:x
assert_le "seconds until the failure" 30 $((SECONDS - t0))
assert_eq "revisions" 0 "$(status_eval "$repo3" 'len(d)')"
assert_eq ".new-* left" 0 "$(find "$repo3" -maxdepth 1 -name '.new-*' | wc -l)"
assert_backy_snaps "backy-* snapshots" "$repo" "$img"

check "no token / no vm: direct snapshot, no Consul call"
for variant in notoken novm; do
	repo4=$T/repo-$variant
	rm -rf "$repo4"
	rbd_repo "$repo4" "$img"
	if [[ $variant == notoken ]]; then
		set_source "$repo4" type=flyingcircus "vm=\"$VM\"" "consul_url=\"$CONSUL_URL\""
	else
		set_source "$repo4" type=flyingcircus "consul_acl_token=\"$SECRET\"" "consul_url=\"$CONSUL_URL\""
	fi
	n=$(log_lines)
	backup "$repo4" manual:$variant
	assert_eq "$variant: Consul requests" "" "$(requests_since "$n")"
	assert_eq "$variant: consistency" crash-consistent "$(rev_field "$repo4" "$BID" consistency)"
done

check "the token only travelled in the X-Consul-Token header"
assert_not_contains "Consul request log (paths, queries, bodies)" "$CONSUL_LOG" "$SECRET"
bad=$(backy_requests | grep -v '"token": "ok"' | grep -v 'not-the-token' || true)
# the wrong-token repository's requests carry a wrong token: that is the point
[[ -z $(grep -v '"token": "wrong"' <<<"$bad" | grep . || true) ]] ||
	fail "backy requests without the token header: $bad"
ok "every backy request carried X-Consul-Token"
for f in "$repo/backy.log" "$T/last.err"; do
	assert_not_contains "$(basename "$f")" "$f" "$SECRET"
done
assert_ge "backy requests seen" 10 "$(backy_requests | wc -l)"
