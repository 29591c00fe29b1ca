#!/usr/bin/env bash
# Monitoring from where monitoring lives (issue 14), with a real broker,
# coordinator and worker:
#   - the status server refuses a non-loopback address without TLS and
#     basic auth, and serves one with them: a Prometheus-style scrape from
#     another network namespace over TLS with credentials works; without
#     credentials, with a wrong password or in plain HTTP it is refused;
#   - after a backup through the fleet, /metrics has the job's last success
#     time, duration and bytes written, the worker's free bytes and running
#     jobs, and backy_build_info; `promtool check metrics` accepts it;
#   - the shipped alert rules pass `promtool check rules` and their unit
#     tests (`promtool test rules`), and every metric the rules and the
#     Grafana dashboard use is one /metrics serves;
#   - backyctl reaches the TLS endpoint through the config, and both
#     `backyctl check` and `backy check` print Nagios performance data.
# Needs BACKY (CTest sets it), BACKY_RABBIT_ENV, root (ip netns); about 15 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'
need_tool openssl promtool ip
MON=$HERE/../../docs/monitoring

H=mon$$
JOB=mvm1
NOW=2030-01-07T00:00:00+00:00
fl_hosts "$H"
mkdir -p "$T/src"
fl_source "$T/src/$JOB" 4

# --- a second network namespace: the Prometheus host ---------------------------
NET=10.213.$(($$ % 250)).
ADDR=${NET}1
NS=bkmon$$
VA=bkm$$a VB=bkm$$b
ip netns add "$NS"
at_exit "ip netns del $NS 2>/dev/null || true"
ip link add "$VA" type veth peer name "$VB"
at_exit "ip link del $VA 2>/dev/null || true"
ip link set "$VB" netns "$NS"
ip addr add "${ADDR}/30" dev "$VA"
ip link set "$VA" up
ip netns exec "$NS" ip addr add "${NET}2/30" dev "$VB"
ip netns exec "$NS" ip link set "$VB" up
ip netns exec "$NS" ip link set lo up

# --- TLS material and the password ---------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=backy-status \
	-addext "subjectAltName=IP:$ADDR" -keyout "$T/status.key" -out "$T/status.crt" 2>"$T/openssl.log" ||
	fail "openssl: $(cat "$T/openssl.log")"
chmod 600 "$T/status.key"
printf 's3cret\n' >"$T/status.pw"
chmod 600 "$T/status.pw"
JOBS="  $JOB: {schedule: default, host: $H, source: {type: file, filename: $T/src/$JOB}}"

check "a non-loopback listener without TLS and basic auth is refused"
fl_coord_config "$T/plain.yaml" "$JOBS"
sed -i "s|^status: .*|status: {listen: \"$ADDR:$FL_PORT\"}|" "$T/plain.yaml"
set +e
BACKY_NOW=$NOW BACKY_TIME_SCALE=0 timeout 20 "$COORD" -c "$T/plain.yaml" >"$T/plain.log" 2>&1
rc=$?
set -e
((rc != 0 && rc != 124)) || fail "the coordinator did not refuse the plain listener (exit $rc)"
grep -q "needs status.tls-cert" "$T/plain.log" || fail "refusal does not say what is needed: $(cat "$T/plain.log")"
ok "refused: $(grep -o "listen address.*" "$T/plain.log" | head -1)"

check "the coordinator serves status over TLS with basic auth on $ADDR"
fl_coord_config "$T/coord.yaml" "$JOBS"
sed -i "s|^status: .*|status: {listen: \"$ADDR:$FL_PORT\", tls-cert: $T/status.crt, tls-key: $T/status.key, auth-user: prom, auth-password-file: $T/status.pw}|" "$T/coord.yaml"
# the harness helpers use plain curl: give it the CA and the credentials
mkdir -p "$T/curlhome"
printf 'cacert = "%s"\nuser = "prom:s3cret"\n' "$T/status.crt" >"$T/curlhome/.curlrc"
export CURL_HOME=$T/curlhome
STATUS_URL=https://$ADDR:$FL_PORT
fl_worker_start w1 "$H"
fl_coord_start c1 "$NOW" 0
grep -q "status on https://$ADDR:$FL_PORT/v1/status (basic auth)" "$T/c1.log" || fail "no https status line in the log"

# scrape PATH [CURL-OPTIONS...]: curl from the Prometheus namespace (no curlrc)
scrape() { local p=$1; shift; ip netns exec "$NS" curl -q -sS --max-time 5 --cacert "$T/status.crt" "$@" "$STATUS_URL$p"; }
code=$(scrape /metrics -o /dev/null -w '%{http_code}') || true
[[ $code == 401 ]] || fail "a scrape without credentials got HTTP $code, not 401"
code=$(scrape /metrics -u prom:wrong -o /dev/null -w '%{http_code}') || true
[[ $code == 401 ]] || fail "a scrape with a wrong password got HTTP $code, not 401"
if ip netns exec "$NS" curl -q -fsS --max-time 5 -u prom:s3cret "http://$ADDR:$FL_PORT/metrics" >/dev/null 2>&1; then
	fail "plain HTTP was answered on the TLS port"
fi
scrape /metrics -f -u prom:s3cret >"$T/metrics0" || fail "the scrape with credentials failed"
grep -q '^backy_build_info{version="[^"]*"} 1$' "$T/metrics0" || fail "no backy_build_info"
grep -q '^backy_coordinator_http_denied_total [2-9]' "$T/metrics0" || fail "refused scrapes not counted"
ok "401 without or with wrong credentials, refused in plain HTTP, served with them"

check "after a backup: per-job and per-worker metrics, promtool accepts them"
"$CTL" --url "$CTL_URL" run "$JOB" --tags manual:mon >/dev/null || fail "backyctl run failed"
fl_wait 60 "the backup of $JOB is accounted" fl_status_true ".jobs.$JOB.last_time != null"
fl_wait 60 "the coordinator is idle" fl_idle
fl_wait 20 "a heartbeat after the backup" bash -c "curl -fsS '$STATUS_URL/v1/workers' | jq -e '.\"$H\".busy == 0'"
scrape /metrics -f -u prom:s3cret >"$T/metrics"
m() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"; }
L="{job=\"$JOB\",host=\"$H\"}"
[[ $(m "backy_job_last_success_timestamp_seconds$L") == "$(fl_epoch "$NOW").000" ]] ||
	fail "last success: '$(m "backy_job_last_success_timestamp_seconds$L")', expected $(fl_epoch "$NOW").000"
bytes=$(m "backy_job_last_bytes_written$L")
fl_repo_status "$T/w1/base" "$JOB" | jq -e --argjson b "${bytes:-null}" 'map(.bytes_written) | index($b) != null' >/dev/null ||
	fail "bytes written '$bytes' is no revision's: $(fl_repo_status "$T/w1/base" "$JOB" | jq -c 'map(.bytes_written)')"
[[ -n $(m "backy_job_last_duration_seconds$L") ]] || fail "no last duration"
[[ $(m "backy_worker_free_bytes{host=\"$H\"}") -gt 0 ]] || fail "no free bytes of $H"
[[ $(m "backy_worker_running_jobs{host=\"$H\"}") == 0 ]] || fail "running jobs of $H: '$(m "backy_worker_running_jobs{host=\"$H\"}")'"
promtool check metrics <"$T/metrics" >"$T/promtool.log" 2>&1 || fail "promtool check metrics: $(cat "$T/promtool.log")"
ok "last success, duration, bytes, free bytes, running jobs; promtool check metrics clean"

check "alert rules and dashboard: checked, tested, and only metrics that exist"
promtool check rules "$MON/backy-rules.yml" >"$T/rules.log" 2>&1 || fail "promtool check rules: $(cat "$T/rules.log")"
promtool test rules "$MON/backy-rules.test.yml" >"$T/rules-test.log" 2>&1 || fail "promtool test rules: $(cat "$T/rules-test.log")"
jq -e '.panels | length > 0' "$MON/grafana-dashboard.json" >/dev/null || fail "the dashboard has no panels"
served=$(grep -v '^#' "$T/metrics" | sed 's/[{ ].*//' | sort -u)
used=$( (grep -o 'backy_[a-z_]*' "$MON/backy-rules.yml"; jq -r '.. | .expr? // empty' "$MON/grafana-dashboard.json" | grep -o 'backy_[a-z_]*') | sort -u)
[[ -n $used ]] || fail "no metric found in the rules and the dashboard"
for name in $used; do
	grep -qx "$name" <<<"$served" || fail "rules or dashboard use '$name', which /metrics does not serve"
done
ok "$(wc -w <<<"$used") metrics used, all served"

check "backyctl finds the TLS endpoint through the config; Nagios perfdata"
out=$("$CTL" -c "$T/coord.yaml" check) || fail "backyctl check: $out"
[[ $out == "OK: 1 jobs within SLA | jobs=1;;;0 overdue=0;;0;0 failing=0;0;;0 workers=1;;;0" ]] || fail "backyctl check line: $out"
out=$(CURL_HOME=/nonexistent "$CTL" --status-url "$STATUS_URL" --status-ca "$T/status.crt" check) && fail "check without credentials: $out"
[[ $out == UNKNOWN:*401* ]] || fail "check without credentials should be UNKNOWN (401): $out"
out=$("$CTL" --status-url "$STATUS_URL" --status-ca "$T/status.crt" --status-user prom --status-password-file "$T/status.pw" workers) ||
	fail "backyctl workers with --status-user: $out"
out=$(BACKY_NOW=$NOW "$BACKY" -b "$T/w1/base/$JOB" check) || fail "backy check: $out"
[[ $out == "OK: '$JOB' within SLA, newest revision "*" | age=0s;;;0 overdue=0s;;0;0 revisions="[12]";;;0 distrusted=0;0;;0" ]] ||
	fail "backy check line: $out"
ok "$out"
set +e
out=$("$BACKY" -b "$T/w1/base/$JOB" check extra)
rc1=$?
out2=$(BACKY_NOW=garbage "$BACKY" -b "$T/w1/base/$JOB" check)
rc2=$?
set -e
[[ $rc1 == 3 && $out == UNKNOWN:* && $rc2 == 3 && $out2 == UNKNOWN:* ]] ||
	fail "backy check usage error / bad BACKY_NOW should be 3 UNKNOWN as backy(1) says: $rc1 '$out', $rc2 '$out2'"
fl_coord_stop c1
fl_worker_stop w1
