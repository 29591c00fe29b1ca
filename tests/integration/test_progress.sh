#!/usr/bin/env bash
# Progress of running jobs (issue 14), with a real broker, coordinator and
# worker:
#   - `backy --progress-file FILE backup` leaves FILE as a valid progress
#     document with everything done; off a terminal, a run shorter than the
#     log interval prints no progress lines;
#   - what a running child reports reaches the heartbeats, /v1/status
#     (running.progress) and `backyctl status` ("running 25%"); the file is
#     gone once the job is done.
# The fleet part runs the worker with a wrapper around backy that reports a
# fixed progress and waits before the real backup, so the check does not
# depend on timing.  Needs BACKY (CTest sets it) and BACKY_RABBIT_ENV; about 15 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'

check "backy --progress-file: a valid document, everything done at the end"
mkdir -p "$T/src" "$T/cli"
fl_source "$T/src/cli" 8
"$BACKY" -b "$T/cli/repo" init file "$T/src/cli" >/dev/null 2>&1 || fail "backy init failed"
"$BACKY" -b "$T/cli/repo" --progress-file "$T/cli/progress" backup -f manual:progress >"$T/cli/out" 2>"$T/cli/err" ||
	fail "backup failed: $(cat "$T/cli/err")"
jq -e '.phase == "backup" and .total == 8388608 and .done == .total and (keys | length == 3)' "$T/cli/progress" >/dev/null ||
	fail "progress document: $(cat "$T/cli/progress")"
[[ ! -e $T/cli/progress.tmp ]] || fail "progress.tmp left behind"
if grep -q "backup: .*%" "$T/cli/err"; then fail "a short run off a terminal printed progress: $(cat "$T/cli/err")"; fi
ok "$(cat "$T/cli/progress")"

check "a running job's progress: heartbeat, /v1/status, backyctl status"
H=pg$$
JOB=pvm1
NOW=2030-01-07T00:00:00+00:00
fl_hosts "$H"
fl_source "$T/src/$JOB" 4
cat >"$T/slow-backy" <<EOF_WRAP
#!/bin/sh
# report a quarter done, wait, then the real backy (which reports for itself)
prog= prev=
for a; do [ "\$prev" = --progress-file ] && prog=\$a; prev=\$a; done
[ -n "\$prog" ] && printf '{"phase":"backup","done":1048576,"total":4194304}' >"\$prog"
case " \$* " in *" backup "*) sleep 8 ;; esac
exec "$BACKY" "\$@"
EOF_WRAP
chmod +x "$T/slow-backy"
fl_worker_config w1 "$H"
sed -i "s|^backy: .*|backy: $T/slow-backy|" "$T/w1/worker.yaml"
fl_worker_start w1
fl_coord_config "$T/coord.yaml" "  $JOB: {schedule: default, host: $H, source: {type: file, filename: $T/src/$JOB}}"
fl_coord_start c1 "$NOW" 0
"$CTL" --url "$CTL_URL" run "$JOB" --tags manual:progress >/dev/null || fail "backyctl run failed"
fl_wait 20 "/v1/status shows the progress of the running backup" \
	fl_status_true ".jobs.$JOB.running.progress == {\"phase\": \"backup\", \"done\": 1048576, \"total\": 4194304}"
out=$("$CTL" --status-url "$STATUS_URL" status)
grep -q "^$JOB .* running 25% " <<<"$out" || fail "backyctl status: $out"
ok "$(grep "^$JOB " <<<"$out")"
fl_wait 60 "the backup is done" fl_status_true ".jobs.$JOB.running == null and .jobs.$JOB.last_time != null"
fl_wait 20 "the progress file is gone" bash -c "! ls '$T/w1/state/'*.progress >/dev/null 2>&1"
fl_coord_stop c1
fl_worker_stop w1
