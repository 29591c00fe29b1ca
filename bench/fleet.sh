#!/usr/bin/env bash
# bench/fleet.sh: a fleet at scale, simulated.
#
# FLEET_HOSTS backy-worker processes, one per storage host, each with its own
# broker user, config, state directory and base directory (a subdirectory of
# one loop-mounted XFS shared by all hosts), run FLEET_JOBS jobs on tiny sparse
# file sources (64 KiB to 1 MiB) for one backy-coordinator through FLEET_HOURS
# simulated hours.  Time is simulated as in tests/integration/test_fleet_week.sh:
# the coordinator runs on BACKY_NOW + BACKY_TIME_SCALE, the workers with
# simulated-time: true (so each revision carries the coordinator's time).
#
# Phases:
#   idle   the workers and a coordinator frozen at the start (the "probe": it
#          plans and places every job and takes heartbeats, nothing is due) for
#          FLEET_IDLE_S seconds: idle CPU of a worker, of the coordinator (that
#          is heartbeat handling) and of the broker
#   day    a coordinator from the start at FLEET_SCALE x real time until the
#          simulated end (FLEET_SECONDS of real time by default)
#   drain  a coordinator frozen at the end: what was due until then finishes
# Checks (exit 1 when one does not hold; bench/fleet_check.py):
#   - every job ran exactly once per due time: one good backup result (distinct
#     job id) and one revision per ideal time of the schedule up to the end,
#     each revision between its due time and the next, one expiry per backup,
#     nothing failed;
#   - placement (rendezvous hashing, co_place) within +-FLEET_SPREAD_PCT % of the
#     mean number of jobs per host;
# and prints the coordinator's CPU time (/proc/PID/stat utime+stime) and peak
# memory (VmHWM) per job and per host, the workers' CPU (their own and their
# backy children's) and memory (RSS, PSS), and the broker's CPU.  One run,
# so the figures are medians of nothing: compare per-job costs, not wall time.
#
# Usage: bench/fleet.sh   (root; BACKY_RABBIT_ENV of tests/harness/rabbit-up.sh)
#   BACKY           the backy binary (default build/worker/backy); backy-worker,
#                   backy-coordinator and tests/mq_publish are found next to it
#   FLEET_HOSTS=100 FLEET_JOBS=2000 FLEET_HOURS=24
#   FLEET_INTERVAL=1d     the schedule's one tag ("bench"), every job the same
#   FLEET_SECONDS=900     real seconds for the simulated hours (sets the scale)
#   FLEET_SCALE=          time scale; overrides FLEET_SECONDS
#   FLEET_SLOTS=2         slots per worker
#   FLEET_HEARTBEAT=5     seconds between a worker's heartbeats
#   FLEET_IDLE_S=20       length of the idle measurement
#   FLEET_SPREAD_PCT=20   allowed deviation of a host's job count from the mean
#   FLEET_STATUS_PORT=    the coordinator's status port (default: a free one)
#   FLEET_SMOKE=1         a small run to develop with: 5 hosts, 50 jobs, 24 h of
#                         6-hourly backups in 120 s, spread tolerance 60 %
#                         (each of these can still be set)
#   BACKY_TEST_KEEP=1     keep the scratch directory (logs, results, plan)
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
HERE=$ROOT/tests/integration # the fleet helpers find the harness from here
export BACKY=${BACKY:-$ROOT/build/worker/backy}
if [[ ${FLEET_SMOKE:-0} == 1 ]]; then
	: "${FLEET_HOSTS:=5}" "${FLEET_JOBS:=50}" "${FLEET_INTERVAL:=6h}" "${FLEET_SECONDS:=120}"
	: "${FLEET_SPREAD_PCT:=60}" "${FLEET_IDLE_S:=10}"
fi
HOSTS_N=${FLEET_HOSTS:-100}
JOBS_N=${FLEET_JOBS:-2000}
HOURS=${FLEET_HOURS:-24}
INTERVAL=${FLEET_INTERVAL:-1d}
REAL_S=${FLEET_SECONDS:-900}
SCALE=${FLEET_SCALE:-$((HOURS * 3600 / REAL_S))}
IDLE_S=${FLEET_IDLE_S:-20}
HB=${FLEET_HEARTBEAT:-5}
SPREAD=${FLEET_SPREAD_PCT:-20}
export FL_SLOTS=${FLEET_SLOTS:-2} FL_HEARTBEAT=$HB
# shellcheck source=../tests/integration/lib.sh
. "$HERE/lib.sh"
# shellcheck source=../tests/integration/fleet_lib.sh
. "$HERE/fleet_lib.sh"
at_exit '((rc == 0)) || fl_dump'
((SCALE >= 1)) || fail "time scale $SCALE: FLEET_SECONDS is longer than FLEET_HOURS"
if [[ -n ${FLEET_STATUS_PORT:-} ]]; then
	FL_PORT=$FLEET_STATUS_PORT
	STATUS_URL=http://127.0.0.1:$FL_PORT
fi
TCK=$(getconf CLK_TCK)
S=2030-01-07T00:00:00+00:00 # fixed start of the simulated period
S_EPOCH=$(fl_epoch "$S")
END_EPOCH=$((S_EPOCH + HOURS * 3600))
echo "# backy fleet bench on $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "# $HOSTS_N hosts x $FL_SLOTS slots, $JOBS_N jobs every $INTERVAL, $HOURS simulated hours at x$SCALE, heartbeat ${HB}s"

# --- process figures ---------------------------------------------------------------

# cpu PID: "OWN CHILDREN" CPU time of PID in clock ticks (utime+stime, cutime+cstime)
cpu()
{
	local l f
	{ read -r l <"/proc/$1/stat"; } 2>/dev/null || { echo "0 0"; return; }
	l=${l##*) }
	read -r -a f <<<"$l"
	echo "$((f[11] + f[12])) $((f[13] + f[14]))"
}

# mem PID: "HWM RSS PSS" of PID in KiB
mem()
{
	local hwm rss pss
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
	pss=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0)
	echo "${hwm:-0} ${rss:-0} ${pss:-0}"
}

# workers_cpu: "OWN CHILDREN" summed over every worker, in clock ticks
workers_cpu()
{
	local n o c so=0 sc=0
	for n in "${!FL_WPID[@]}"; do
		read -r o c < <(cpu "${FL_WPID[$n]}")
		so=$((so + o))
		sc=$((sc + c))
	done
	echo "$so $sc"
}

# workers_mem: "MAX-HWM SUM-RSS SUM-PSS MAX-RSS" over every worker, KiB
workers_mem()
{
	local n h r p mh=0 sr=0 sp=0 mr=0
	for n in "${!FL_WPID[@]}"; do
		read -r h r p < <(mem "${FL_WPID[$n]}")
		((h > mh)) && mh=$h
		((r > mr)) && mr=$r
		sr=$((sr + r))
		sp=$((sp + p))
	done
	echo "$mh $sr $sp $mr"
}

BEAM=$(cat "$BACKY_RABBIT_DIR/rabbit.pid" 2>/dev/null || true)
broker_cpu() { if [[ -n $BEAM ]]; then cpu "$BEAM" | cut -d' ' -f1; else echo 0; fi; }

# seconds DURATION: 90s, 15m, 6h, 1d, 1w in seconds
seconds()
{
	local n=${1%[smhdw]}
	case $1 in
	*s) echo "$n" ;;
	*m) echo $((n * 60)) ;;
	*h) echo $((n * 3600)) ;;
	*d) echo $((n * 86400)) ;;
	*w) echo $((n * 604800)) ;;
	*) fail "duration '$1': expected a number with s, m, h, d or w" ;;
	esac
}

# f EXPR: a number, awk-formatted ("%.2f" of EXPR)
f() { awk "BEGIN {printf \"%.${2:-2}f\", $1}"; }

# metric NAME [LABELS]: a value of the active coordinator's /metrics
metric()
{
	local k=$1
	[[ -z ${2:-} ]] || k+="{$2}"
	curl -fsS --max-time 10 "$STATUS_URL/metrics" |
		awk -v k="$k" '$1 == k {print $2; found = 1} END {if (!found) print 0}'
}

# --- the storage: one XFS, one subdirectory per host, the sources next to them -----------

hosts=()
for ((i = 1; i <= HOSTS_N; i++)); do hosts+=("$(printf 'h%03d' "$i")"); done
check "a loop-mounted XFS for $HOSTS_N hosts and $JOBS_N sources"
mkfs_loop xfs $((4 + JOBS_N / 256))G
FS=${LOOP_MNT#"$T"/}
mkdir -p "$LOOP_MNT/src"
"$PYTHON" - "$LOOP_MNT/src" "$JOBS_N" <<'EOF'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(12)
for i in range(1, n + 1):
    size = 65536 * rng.randint(1, 16)             # 64 KiB .. 1 MiB, sparse
    with open(os.path.join(d, "vm%04d" % i), "wb") as f:
        f.truncate(size)
        f.seek(65536 * rng.randrange(size // 65536))
        f.write(os.urandom(65536))
EOF
joblines=
for ((i = 1; i <= JOBS_N; i++)); do
	j=$(printf 'vm%04d' "$i")
	joblines+="  $j: {schedule: default, source: {type: file, filename: $LOOP_MNT/src/$j}}"$'\n'
done
ok "$(du -sh --apparent-size "$LOOP_MNT/src" | cut -f1) of sources ($(du -sh "$LOOP_MNT/src" | cut -f1) allocated)"

check "$HOSTS_N workers, each its own broker user, config, state and base directory"
t0=$SECONDS
fl_hosts "${hosts[@]}"
for h in "${hosts[@]}"; do fl_worker_start "$FS/$h" "$h"; done
fl_listen
ok "started in $((SECONDS - t0)) s"

# --- idle: the probe coordinator, frozen at the start --------------------------------------

KEEP=$((HOURS * 3600 / $(seconds "$INTERVAL") + 2))
export FL_SCHEDULE="{bench: {interval: $INTERVAL, keep: $KEEP}}"
fl_coord_config "$T/coord.yaml" "$joblines"
check "idle for $IDLE_S s: the workers and a coordinator frozen at $S (plans, places, takes heartbeats)"
fl_coord_start probe "$S" 0
PROBE=${FL_CPID[probe]}
fl_status >"$T/plan.json"
sleep 3 # the heartbeats queued before it started are consumed
read -r c0 _ < <(cpu "$PROBE")
read -r w0 _ < <(workers_cpu)
b0=$(broker_cpu)
sleep "$IDLE_S"
read -r c1 _ < <(cpu "$PROBE")
read -r w1 _ < <(workers_cpu)
b1=$(broker_cpu)
read -r probe_hwm _ < <(mem "$PROBE")
fl_coord_stop probe
rm -f "$T/coord.state" "$T/coord.state.journal" "$T/coord.state.lock"
nhb=$((HOSTS_N * IDLE_S / HB))
IDLE_WORKER=$(f "100 * ($w1 - $w0) / $TCK / $IDLE_S / $HOSTS_N" 3)
IDLE_COORD=$(f "100 * ($c1 - $c0) / $TCK / $IDLE_S" 2)
IDLE_HB_US=$(f "1e6 * ($c1 - $c0) / $TCK / $nhb" 0)
IDLE_BROKER=$(f "100 * ($b1 - $b0) / $TCK / $IDLE_S" 1)
ok "idle CPU: worker $IDLE_WORKER % each, coordinator $IDLE_COORD % (about $nhb heartbeats: $IDLE_HB_US us each), broker $IDLE_BROKER %"

# --- the simulated period ------------------------------------------------------------------

check "$HOURS simulated hours at x$SCALE (about $((HOURS * 3600 / SCALE)) s)"
read -r wd0 wc0 < <(workers_cpu)
tw0=$(date +%s.%N)
b0=$(broker_cpu)
launch=$(date +%s.%N)
fl_coord_start day "$S" "$SCALE"
DAY=${FL_CPID[day]}
last=$SECONDS
while :; do
	el=$(f "$(date +%s.%N) - $launch" 3)
	(($(f "$S_EPOCH + $el * $SCALE" 0) >= END_EPOCH)) && break
	if ((SECONDS - last >= 30)); then
		last=$SECONDS
		info "simulated $(fl_iso "$(f "$S_EPOCH + $el * $SCALE" 0)"): $(metric backy_coordinator_dispatched_total 'action="backup"') backups dispatched, $(metric backy_coordinator_results_total 'outcome="ok"') good results (backup and expiry), in flight $(metric backy_coordinator_jobs_in_flight 'action="backup"')+$(metric backy_coordinator_jobs_in_flight 'action="expire"'), load $(cut -d' ' -f1 /proc/loadavg)"
	fi
	kill -0 "$DAY" 2>/dev/null || fail "the coordinator exited during the simulated period"
	sleep 0.5
done
DAY_DISPATCHED=$(metric backy_coordinator_dispatched_total 'action="backup"')
DAY_JOURNAL=$(metric backy_coordinator_journal_commits_total)
DAY_REDISPATCHED=$(metric backy_coordinator_redispatched_total)
read -r day_cpu _ < <(cpu "$DAY")
read -r day_hwm _ < <(mem "$DAY")
fl_coord_stop day
# the stopped coordinator's clock cannot have passed this: nothing it ran was due later
E_EPOCH=$(f "$S_EPOCH + ($(date +%s.%N) - $launch) * $SCALE + 1" 0)
E=$(fl_iso "$E_EPOCH")
ok "stopped at simulated $E or earlier: $DAY_DISPATCHED backups dispatched, $DAY_JOURNAL journal commits"

check "drain: a coordinator frozen at $E finishes what was due"
tc0=$(date +%s.%N)
fl_coord_start drain "$E" 0
DRAIN=${FL_CPID[drain]}
t0=$SECONDS
quiet=0
while ((quiet < 2)); do
	sleep 2
	if (($(metric backy_coordinator_jobs_in_flight 'action="backup"') + $(metric backy_coordinator_jobs_in_flight 'action="expire"') == 0)); then
		quiet=$((quiet + 1))
	else
		quiet=0
	fi
	((SECONDS - t0 < 3600)) || fail "jobs still in flight after an hour of draining"
done
n=-1
while (($(grep -c . "$T/results.jsonl") != n)); do
	n=$(grep -c . "$T/results.jsonl")
	sleep 2
done
read -r drain_cpu _ < <(cpu "$DRAIN")
read -r drain_hwm _ < <(mem "$DRAIN")
read -r wd1 wc1 < <(workers_cpu)
tw1=$(date +%s.%N)
b1=$(broker_cpu)
read -r w_hwm w_rss w_pss w_maxrss < <(workers_mem)
ok "drained in $((SECONDS - t0)) s"
fl_coord_stop drain
for h in "${hosts[@]}"; do kill -TERM "${FL_WPID[$FS/$h]}"; done # all at once: each stop waits
for h in "${hosts[@]}"; do fl_worker_stop "$FS/$h"; done

# --- checks and figures ----------------------------------------------------------------------

check "every job once per due time, placement spread"
set +e
"$PYTHON" "$BENCH/fleet_check.py" --plan "$T/plan.json" --results "$T/results.jsonl" \
	--base "$LOOP_MNT" --backy "$BACKY" --start "$S_EPOCH" --end "$E_EPOCH" \
	--interval "$(seconds "$INTERVAL")" --spread "$SPREAD" --hosts "${hosts[*]}" | tee "$T/check.txt"
rc_check=${PIPESTATUS[0]}
set -e
runs=$(awk '/^backups /{print $2}' "$T/check.txt")
[[ $runs =~ ^[0-9]+$ ]] && ((runs > 0)) || runs=1

coord_cpu=$(f "($day_cpu + $drain_cpu) / $TCK" 2)
echo
echo "coordinator (day + drain)"
# what idling costs over the same time at the idle rate (heartbeats, wake-ups)
coord_idle=$(f "$IDLE_COORD / 100 * ($tw1 - $tc0 + $tc0 - $launch)" 2)
workers_idle=$(f "$IDLE_WORKER / 100 * $HOSTS_N * ($tw1 - $tw0)" 2)
echo "  CPU            $coord_cpu s ($(f "$day_cpu / $TCK") + $(f "$drain_cpu / $TCK")): $(f "1e3 * $coord_cpu / $runs" 3) ms per backup run, $(f "1e3 * $coord_cpu / $JOBS_N" 3) ms per job, $(f "1e3 * $coord_cpu / $HOSTS_N" 1) ms per host"
echo "                 of which idling (heartbeats) about $coord_idle s: $(f "1e3 * ($coord_cpu - $coord_idle) / $runs" 3) ms per backup run without it"
echo "  peak memory    $((day_hwm > drain_hwm ? day_hwm : drain_hwm)) KiB (probe $probe_hwm): $(f "1024 * ($day_hwm > $drain_hwm ? $day_hwm : $drain_hwm) / $JOBS_N" 0) B per job, $(f "($day_hwm > $drain_hwm ? $day_hwm : $drain_hwm) / $HOSTS_N" 0) KiB per host"
echo "  idle           $IDLE_COORD % of a CPU with $HOSTS_N workers heartbeating every ${HB}s ($IDLE_HB_US us per heartbeat)"
echo "  journal        $DAY_JOURNAL commits in the day ($(f "$DAY_JOURNAL / $runs" 2) per backup run), $DAY_REDISPATCHED re-dispatched"
echo "workers ($HOSTS_N)"
echo "  CPU, own       $(f "($wd1 - $wd0) / $TCK") s: $(f "1e3 * ($wd1 - $wd0) / $TCK / $runs" 2) ms per backup run (with its expiry), idle $IDLE_WORKER % each"
echo "                 of which idling about $workers_idle s: $(f "1e3 * (($wd1 - $wd0) / $TCK - $workers_idle) / $runs" 2) ms per backup run without it"
echo "  CPU, backy     $(f "($wc1 - $wc0) / $TCK") s: $(f "1e3 * ($wc1 - $wc0) / $TCK / $runs" 2) ms per backup run (with its expiry)"
echo "  memory         RSS $(f "$w_rss / 1024" 1) MiB in total, $(f "$w_rss / $HOSTS_N" 0) KiB each (max $w_maxrss, peak $w_hwm); PSS $(f "$w_pss / 1024" 1) MiB in total"
broker_idle=$(f "$IDLE_BROKER / 100 * ($tw1 - $tw0)" 2)
echo "broker           CPU $(f "($b1 - $b0) / $TCK") s in the day and drain: $(f "1e3 * ($b1 - $b0) / $TCK / $runs" 2) ms per backup run; idle $IDLE_BROKER %"
echo "                 of which idling (queues, connections, heartbeats) about $broker_idle s: $(f "1e3 * (($b1 - $b0) / $TCK - $broker_idle) / $runs" 2) ms per backup run without it"
((rc_check == 0)) || fail "a property does not hold (see above)"
