/*
 * coordinator.c: backy-coordinator, the daemon that turns schedules into jobs.
 *
 * This file is the main loop (standby, active, reload, dispatch); the
 * deliveries are handled in coord_deliver.c, the broker side is
 * coord_broker.c, the status server coord_http.c, the
 * I/O-free model state.c and its file format state_file.c.
 *
 * Design notes
 *
 * 1. Config.  One central YAML file (config.h), a superset of Python
 *    backy's: global, schedules, jobs, plus amqp, hosts (automatic
 *    placement), status (loopback, or TLS + basic auth), state-file, job-timeout and
 *    expire; or a file with those that includes an unchanged Python
 *    backy.conf (`include:`; what Python's keys become: config_python.h,
 *    the callback and status-file: coord_compat.c).
 *    Secrets (source.consul_acl_token) are refused: they would
 *    travel in job messages.  Jobs without a host are placed by rendezvous
 *    hashing of the job name over `hosts`, bounded to each host's share
 *    (place.c), and the placement is remembered in the state, so a job
 *    never moves by itself once it has a repository somewhere.
 *
 * 2. Scheduling.  A binary min-heap of (next due time, job) (heap.h): a tick
 *    pops only due entries, so nothing due costs one comparison and a due
 *    job O(log n).  Each job keeps what the schedule rules read of a
 *    history (struct bk_sched_seen of common/schedule.h: per schedule tag
 *    the time of its newest good revision, and its newest good backup,
 *    manual ones included) and plans with bk_sched_next_seen(), the rule
 *    `backy status` uses; a planned run carries what bk_sched_due_seen(),
 *    the rule of `backy backup` without tags, says at dispatch.  Spread,
 *    ideal times and catch-up are the core's maths, never re-implemented
 *    here, so the coordinator and the CLI agree (test_coord_due.c).  Failures
 *    back off 2, 4, 8 ... minutes, capped at 6 h, reset by a success; the
 *    retry carries the failed tags plus whatever became missed meanwhile.
 *    A backup waits for an expiry of the same job in flight (the worker
 *    would refuse it: one job at a time per repository).
 *    At most one backup per job is in flight (a job in flight is not in the
 *    due heap).  Per-host concurrency is the workers' business (slots): the
 *    coordinator never holds back due jobs, so long jobs on one host cannot
 *    starve short ones elsewhere, and a worker with free slots takes short
 *    jobs from its queue while a long one runs.
 *
 * 3. Dispatch.  A run (job id, attempt, deadline) is durable (note 4)
 *    BEFORE its message is published; messages go out with publisher
 *    confirms in one batch per tick (bk_mq_publish_batch).  A result
 *    carrying the job id of a run in flight ends it: history and backoff
 *    are updated, the run is cleared and, after a good backup, an expire
 *    job goes to the same host (expire: true).  The broker is not
 *    trusted: a result counts only from the host its run was dispatched to
 *    and with the routing key its body implies; results with unknown or
 *    finished job ids, from other hosts or with another key are logged,
 *    counted by reason (/metrics) and dropped, so duplicates are harmless
 *    and forgeries change nothing.  Heartbeats of hosts the config does not
 *    name are dropped too.  A run whose deadline passes is re-dispatched
 *    with the SAME job id and attempt + 1 (to where the job lives now): the
 *    worker answers from its journal if it had finished.
 *    Results and requests are acknowledged only after the state that
 *    reflects them is durable.
 *
 * 4. State.  A snapshot (the state file, state_file.c) plus an append-only
 *    journal "<state-file>.journal" (state_journal.h).  Rewriting the snapshot
 *    costs about 0.5-0.8 s at 100,000 jobs, so it is not what makes
 *    changes durable: co_journal_commit() appends the records of the jobs
 *    that changed (a dispatched run, an applied result, a confirm, a
 *    manual request, a request id) and fdatasyncs them, before every
 *    publish batch, before acknowledgements (at most ACK_BATCH deliveries
 *    wait) and at most once per second otherwise.  A compaction rewrites
 *    the snapshot atomically and starts an empty journal: after a config
 *    (re)load, when the journal outgrows max(4 MiB, the snapshot), 5 min
 *    after its first commit, and at exit.  Loading = snapshot + replay of
 *    its journal, whole commits only; a batch torn by a crash is ignored
 *    (nothing in it was published or acknowledged), any other damage
 *    refuses to start.  After a restart runs in flight stay in flight
 *    until their result or deadline; runs whose publish was never
 *    confirmed are published again with the same job id.  Nothing is
 *    forgotten (planned times are saved too) and nothing is duplicated.
 *
 *                 +---------+  flock(state.lock)  +---------+ exclusive  +--------+
 *      start ---> | standby | ------------------> | standby | ---------> | active |
 *                 +---------+  (previous active   | (broker)|  leader    +--------+
 *                   ^  | retry every 2 s          +---------+  queue       |    |
 *                   +--+ lock busy                  ^  | 405: retry 2 s   |    |
 *                                                   +--+                  |    |
 *                            broker lost, another one took the queue: <---+    |
 *                            step down (reconnect first, with backoff)        |
 *                                                         SIGTERM: save, exit <+
 *
 * 5. Active/standby.  Two locks, both needed to lead:
 *    - an exclusive flock() on "<state-file>.lock", released by the kernel
 *      when the holder dies: coordinators sharing a state file (one host,
 *      or shared storage with working flock: CephFS, NFSv4) never write it
 *      at the same time;
 *    - on the broker, the queue "backy.coordinator.leader" declared
 *      exclusive (and auto-delete) on the coordinator's connection
 *      (bk_mq_declare_exclusive): the broker drops it when that connection
 *      ends (exit, crash, heartbeat timeout), so two coordinators on one
 *      broker never dispatch at once even when their lock files differ.
 *    A standby takes the flock, connects and declares the queue; 405
 *    RESOURCE_LOCKED (BK_ELOCKED) means another coordinator leads: it
 *    keeps the connection (heartbeats) and retries every 2 s.  When both
 *    locks are held it loads the state (snapshot + journal) and becomes
 *    active.  An active coordinator whose connection broke declares the
 *    queue again right after reconnecting; if another coordinator took it
 *    meanwhile it steps down (no HTTP, nothing dispatched or acknowledged)
 *    and reloads the state from disk when it leads again.  The broker lock
 *    does not share state: a takeover continues from the taker's state
 *    file, so coordinators must still share one (else the new leader
 *    starts from its own, older or empty, state and may repeat jobs whose
 *    results the old one had applied).  Only the active coordinator
 *    consumes results, requests and heartbeats, dispatches and serves
 *    HTTP.
 *
 * 6. HTTP (coord_http.c).  libmicrohttpd with its own thread, on loopback or with TLS and basic auth:
 *    GET /v1/status (jobs, workers, coordinator), /v1/workers and /metrics
 *    (Prometheus text).  The handler renders under the state mutex, which
 *    the main loop holds while it changes state (never while it waits for
 *    the broker).
 *
 * 7. Requests on backy.control: run JOB [tags] (a manual backup now, or
 *    right after the run in flight), expire JOB, status (the adapter has no
 *    reply-to, so status is answered over HTTP; the request is logged).
 *
 * 8. Signals only set flags.  SIGTERM/SIGINT: save and stop.  SIGHUP:
 *    parse the whole new config first; on any error log it and keep the
 *    old one; otherwise swap it in (new jobs planned, removed jobs
 *    dropped, runs in flight kept).  amqp, status and state-file changes
 *    need a restart (logged).
 *
 * 9. Time.  bk_now() honours BACKY_NOW.  --time-scale N (or
 *    BACKY_TIME_SCALE) lets the coordinator's clock run N times faster
 *    from its start instant (BACKY_NOW or the real time); with BACKY_NOW
 *    and no scale, time stands still.  The coordinator's now is the "time"
 *    of every job message it sends (proto has no separate field for it).
 *
 * 10. systemd (service.h, dist/systemd/backy-coordinator.service).
 *    READY=1 once active with the topology declared (coord_mq_up), or once
 *    standing by (either lock held by another coordinator): a standby is
 *    what it should be, and a unit that never got ready would be failed
 *    and restarted.  STATUS says which.  RELOADING=1 and READY=1 around a
 *    SIGHUP reload, STOPPING=1 when it stops, WATCHDOG=1 from every loop
 *    that waits (at most STANDBY_RETRY_MS, or a broker reconnect backoff
 *    of at most 30 s, between two pings).  --check-config loads and checks
 *    the config as start-up does, and touches nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "coord.h"
#include "state_journal.h"
#include "log.h"
#include "mq.h"
#include "proto.h"
#include "state.h"
#include "topology.h"

volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;
volatile int g_stop_int; /* for bk_mq_connect_retry */

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		g_reload = 1;
	} else {
		g_stop = 1;
		g_stop_int = 1;
	}
}

static void update_now(struct coord *co)
{
	if (!co->simulated) {
		co->now = bk_now();
		return;
	}
	co->now = co->start_t + (int64_t)((double)(bk_monotonic() - co->start_mono) * co->scale);
	bk_clock_set(co->now ? co->now : 1);
}

/* --- state --------------------------------------------------------------- */

/*
 * Make the state durable (caller holds the lock): append what changed to the
 * journal, or (FORCE, or the journal's policy) write a snapshot.
 */
int coord_save_state(struct coord *co, bool force)
{
	struct bk_err err = {0};
	uint64_t compactions = co->jn.compactions;
	int r = co_journal_commit(&co->jn, &co->st, co->now, force, &err);

	co->last_save_mono = bk_monotonic();
	if (r < 0)
		bk_error("%s", bk_err_msg(&err, r));
	else if (co->jn.compactions != compactions)
		bk_debug("state snapshot '%s' written in %.3f s (%zu jobs)", co->state_path,
			 (double)co->jn.last_compact_us / 1e6, co->st.n);
	return r;
}

/*
 * Save when needed (snapshot when FORCE), then acknowledge what the durable
 * state covers.  Fails only when the state cannot be saved: an acknowledgement
 * lost with the connection is harmless (the broker redelivers, and a handled
 * result or request is recognised), and the main loop reconnects.
 */
static int save_and_ack(struct coord *co, bool force)
{
	struct bk_err err = {0};
	int r = 0;

	pthread_mutex_lock(&co->lock);
	if (co->st.dirty || force)
		r = coord_save_state(co, force);
	pthread_mutex_unlock(&co->lock);
	if (r < 0)
		return r;
	for (size_t i = 0; i < co->nacks && co->mq; i++) {
		r = bk_mq_ack(co->mq, co->acks[i], &err);
		if (r < 0) {
			bk_warn("acknowledgement failed: %s", bk_err_msg(&err, r));
			break;
		}
	}
	co->nacks = 0;
	return 0;
}

/* --- dispatch -------------------------------------------------------------- */

/* Move due and overdue jobs into the outbox (caller holds the lock). */
static void collect(struct coord *co)
{
	static uint32_t ids[MAX_BATCH];
	const struct co_run *run;
	size_t n;

	n = co_take_overdue(&co->st, co->now, ids, MAX_BATCH);
	for (size_t i = 0; i < n; i++) {
		struct co_job *j = &co->st.jobs[ids[i]];

		for (int k = 0; k < CO_RUN_KINDS; k++) {
			if (!j->run[k].active || j->run[k].deadline > co->now)
				continue;
			run = co_redispatch(&co->st, ids[i], (enum co_run_kind)k, co->now);
			bk_warn("job '%s' (%s %s) passed its deadline: dispatching attempt %u to '%s'",
				j->name, run->id, co_run_kind_name((enum co_run_kind)k), run->attempt,
				co_run_host(&co->st, run));
			coord_outbox_add(co, ids[i], (enum co_run_kind)k);
		}
	}
	n = co_take_due(&co->st, co->now, ids, MAX_BATCH);
	for (size_t i = 0; i < n; i++) {
		if (co_start(&co->st, ids[i], CO_RUN_BACKUP, co->now, &run) < 0)
			continue;
		bk_info("dispatching backup of '%s' (%s, tags %s) to '%s'", co->st.jobs[ids[i]].name,
			run->id, run->tags, co_run_host(&co->st, run));
		coord_outbox_add(co, ids[i], CO_RUN_BACKUP);
	}
	/* after the backups: a verify never takes a backup's turn (scrub.h, note 2) */
	n = co_take_scrub_due(&co->st, co->now, ids, MAX_BATCH);
	for (size_t i = 0; i < n; i++) {
		if (co_scrub_start(&co->st, ids[i], co->now, &run) < 0)
			continue;
		bk_info("dispatching verify of '%s' (%s, older than %" PRId64 " s) to '%s'",
			co->st.jobs[ids[i]].name, run->id, run->older_than,
			co_run_host(&co->st, run));
		coord_outbox_add(co, ids[i], CO_RUN_VERIFY);
	}
}

/* --- configuration ------------------------------------------------------- */

static void reload(struct coord *co)
{
	struct co_config *nc = bk_calloc(1, sizeof(*nc));
	struct bk_err err = {0};
	int r;

	r = co_config_load(co->config_path, nc, &err);
	if (r < 0) {
		bk_error("reload failed, keeping the old configuration: %s", bk_err_msg(&err, r));
		free(nc);
		pthread_mutex_lock(&co->lock);
		co->st.c.reload_errors++;
		pthread_mutex_unlock(&co->lock);
		return;
	}
	if (strcmp(nc->state_file, co->state_path) != 0)
		bk_warn("reload: a new state-file takes effect at the next restart");
	if ((nc->amqp_url && co->cfg->amqp_url && strcmp(nc->amqp_url, co->cfg->amqp_url)) ||
	    nc->amqp_heartbeat != co->cfg->amqp_heartbeat)
		bk_warn("reload: amqp changes take effect at the next restart");
	if (!co->listen_override &&
	    (strcmp(nc->listen_host, co->listen_host) || nc->listen_port != co->listen_port))
		bk_warn("reload: status.listen changes take effect at the next restart");
	/* keep what the running connections use */
	free(nc->amqp_url);
	nc->amqp_url = co->cfg->amqp_url ? bk_strdup(co->cfg->amqp_url) : NULL;
	free(nc->amqp_ca_cert);
	nc->amqp_ca_cert = co->cfg->amqp_ca_cert ? bk_strdup(co->cfg->amqp_ca_cert) : NULL;
	nc->amqp_heartbeat = co->cfg->amqp_heartbeat;
	nc->amqp_tls_verify = co->cfg->amqp_tls_verify;
	pthread_mutex_lock(&co->lock);
	if (co->active)
		co_state_apply(&co->st, nc, co->now);
	co_config_release(co->cfg);
	free(co->cfg);
	co->cfg = nc;
	co->st.c.reloads++;
	pthread_mutex_unlock(&co->lock);
	bk_notice("configuration reloaded: %zu jobs, %zu schedules", nc->njobs, nc->nscheds);
	if (co->active && co->mq && coord_declare_hosts(co, &err) < 0)
		bk_warn("declaring job queues failed: %s", err.msg);
}

/* SIGHUP: reload, between RELOADING=1 and READY=1 (design note 10). */
static void on_sighup(struct coord *co)
{
	g_reload = 0;
	bk_service_reloading(&co->svc);
	reload(co);
	bk_service_reloaded(&co->svc, co->active ? "active (configuration reloaded)"
						 : "standby (configuration reloaded)");
}

/* Connected, topology declared and consuming: tell systemd (design note 10). */
static void notify_active(struct coord *co)
{
	char status[200];

	snprintf(status, sizeof(status), "active: %zu jobs, %zu hosts", co->st.n, co->st.nhosts);
	bk_service_ready(&co->svc, status);
}

/* --- main loop ------------------------------------------------------------- */

static int try_lock(struct coord *co)
{
	if (co->lock_fd < 0) {
		co->lock_fd = open(co->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (co->lock_fd < 0) {
			bk_error("unable to open '%s': %s", co->lock_path, strerror(errno));
			return -errno;
		}
	}
	if (flock(co->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	if (errno == EWOULDBLOCK)
		return 0;
	bk_error("unable to lock '%s': %s", co->lock_path, strerror(errno));
	return -errno;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL); /* a signal ends it early, which is what we want */
}

/* Milliseconds of real time until the next due job or deadline, at most TICK_MS. */
static int wait_ms(struct coord *co)
{
	int64_t key, next = INT64_MAX, d;
	uint32_t id;

	if (co->nout)
		return 0;
	if (co_heap_peek(&co->st.due, &key, &id))
		next = key;
	if (co_heap_peek(&co->st.dl, &key, &id) && key < next)
		next = key;
	if (next == INT64_MAX)
		return TICK_MS;
	if (next <= co->now)
		return 0;
	if (co->simulated && co->scale == 0)
		return TICK_MS;
	d = (int64_t)((double)(next - co->now) / (co->simulated ? co->scale : 1.0) / 1000.0) + 1;
	return d < TICK_MS ? (int)d : TICK_MS;
}

static int become_active(struct coord *co)
{
	struct bk_err err = {0};
	int r;

	pthread_mutex_lock(&co->lock);
	update_now(co);
	co_state_release(&co->st);
	co_state_init(&co->st);
	co_journal_release(&co->jn); /* another coordinator may have written both since */
	co_journal_init(&co->jn, co->state_path);
	r = co_journal_load(&co->jn, &co->st, &err);
	if (r == 0) {
		co_state_apply(&co->st, co->cfg, co->now);
		co->active = true;
	}
	pthread_mutex_unlock(&co->lock);
	if (r < 0) {
		bk_error("%s (moving the state file and its journal aside starts from an empty state)",
			 bk_err_msg(&err, r));
		return r;
	}
	if (co->jn.stale)
		bk_info("journal '%s' is older than the state file (compaction interrupted): ignored",
			co->jn.path);
	if (co->jn.torn_bytes)
		bk_warn("journal '%s': ignoring %" PRIu64 " bytes after its last commit (an append "
			"interrupted by a crash; nothing in it was published)",
			co->jn.path, co->jn.torn_bytes);
	bk_notice("active: %zu jobs, state '%s' (+ %" PRIu64 " journal commits, %" PRIu64
		  " records)", co->st.n, co->state_path, co->jn.replayed_batches,
		  co->jn.replayed_records);
	r = coord_http_start(co, &err);
	if (r < 0)
		bk_error("%s", bk_err_msg(&err, r));
	return r;
}

static int run_active(struct coord *co)
{
	struct bk_mq_delivery d;
	struct bk_err err = {0};
	int r;

	memset(&d, 0, sizeof(d));
	r = coord_mq_up(co);
	if (r == 0)
		notify_active(co);
	while (!g_stop) {
		bk_service_watchdog(&co->svc);
		if (r == BK_ELOCKED)
			return r; /* another coordinator leads since our connection broke */
		if (r == BK_EMQ || !co->mq || !bk_mq_usable(co->mq)) {
			r = coord_mq_up(co);
			if (r < 0) {
				if (g_stop)
					break;
				if (r != BK_EMQ && r != BK_ELOCKED)
					return r;
				continue;
			}
			notify_active(co);
		}
		if (g_reload)
			on_sighup(co);
		pthread_mutex_lock(&co->lock);
		update_now(co);
		collect(co);
		co->gen++;
		pthread_mutex_unlock(&co->lock);
		coord_compat_tick(co);
		r = coord_flush(co);
		if (r == BK_EMQ)
			continue;
		if (r < 0)
			return r;
		coord_replies_flush(co);
		bk_err_clear(&err);
		r = bk_mq_wait(co->mq, bk_service_wait_ms(&co->svc, wait_ms(co)), &d, &err);
		for (int n = 0; r == 1; n++) {
			pthread_mutex_lock(&co->lock);
			update_now(co);
			pthread_mutex_unlock(&co->lock);
			coord_handle_delivery(co, &d);
			bk_mq_delivery_release(&d);
			if (n >= 1000 || co->nacks >= ACK_BATCH)
				break;
			r = bk_mq_wait(co->mq, 0, &d, &err);
		}
		if (r < 0 && r != BK_EPROTO) {
			bk_warn("broker: %s", bk_err_msg(&err, r));
			r = BK_EMQ;
			continue;
		}
		r = 0;
		if (co->nacks >= ACK_BATCH || bk_monotonic() - co->last_save_mono >= BK_USEC ||
		    (co->nacks && co->nout))
			if (save_and_ack(co, false) < 0)
				return -EIO;
	}
	bk_service_stopping(&co->svc);
	coord_flush(co);
	save_and_ack(co, true);
	return 0;
}

/* Another coordinator took the broker lock while our connection was down: stand by. */
static void step_down(struct coord *co)
{
	bk_warn("another coordinator holds the broker lock '%s' now: standing by (state is "
		"reloaded when this one leads again)",
		LEADER_QUEUE);
	coord_http_stop(co);
	pthread_mutex_lock(&co->lock);
	co->active = false;
	co->nout = 0;  /* runs in the outbox are in the state: whoever leads publishes them */
	co->nacks = 0; /* this connection has no consumers: nothing was delivered on it */
	pthread_mutex_unlock(&co->lock);
}

/* Standby with a broker connection: wait STANDBY_RETRY_MS, keeping heartbeats going. */
static void standby_wait(struct coord *co)
{
	struct bk_mq_delivery d;
	struct bk_err err = {0};

	memset(&d, 0, sizeof(d));
	for (int waited = 0; waited < STANDBY_RETRY_MS && !g_stop && !g_reload; waited += 500) {
		bk_service_watchdog(&co->svc);
		if (!co->mq || !bk_mq_usable(co->mq)) {
			sleep_ms(500);
			continue;
		}
		if (bk_mq_wait(co->mq, 500, &d, &err) == 1) {
			bk_mq_reject(co->mq, d.tag, true, NULL); /* not ours to handle */
			bk_mq_delivery_release(&d);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: backy-coordinator [-v] -c CONFIG [--time-scale N] [--status-listen ADDR:PORT]\n"
		"       backy-coordinator --check-config CONFIG\n"
		"\n"
		"Reads the central config, dispatches backup and expiry jobs through RabbitMQ,\n"
		"tracks results and serves GET /v1/status and /metrics.  Runs in the foreground;\n"
		"SIGHUP reloads the config, SIGTERM stops.  A second instance (same state file,\n"
		"same broker) stands by until the first one dies.\n"
		"\n"
		"  -c, --config FILE        central config (required)\n"
		"  --check-config FILE      load and check FILE, print what is wrong, exit 0 if\n"
		"                           it is good (no broker, no state touched)\n"
		"  --time-scale N           simulated clock running N times faster from its start\n"
		"                           (BACKY_NOW or now); also BACKY_TIME_SCALE\n"
		"  --status-listen A:P      override status.listen (loopback only)\n"
		"  -v                       more messages (-vv: debug)\n");
}

/* Load PATH into C as start-up does (the loader, then what running needs). */
static int load_config(const char *path, struct co_config *c, struct bk_err *err)
{
	int r = co_config_load(path, c, err);

	if (r == 0 && !c->amqp_url) {
		co_config_release(c);
		r = bk_err_set(err, BK_ECONFIG, "%s: 'amqp.url' is required", path);
	}
	return r;
}

/* --check-config PATH: the exit status of the program. */
static int check_config(const char *path)
{
	struct co_config c;
	struct bk_err err = {0};
	int r;

	co_config_init(&c);
	r = load_config(path, &c, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		return 1;
	}
	printf("%s: ok (%zu jobs, %zu schedules, %zu hosts, state-file %s)\n", path, c.njobs,
	       c.nscheds, c.nhosts, c.state_file);
	co_config_release(&c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"time-scale", required_argument, NULL, 'T'},
		{"status-listen", required_argument, NULL, 'L'},
		{"check-config", required_argument, NULL, 'K'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct coord co;
	struct sigaction sa;
	struct bk_err err = {0};
	const char *scale_s = getenv("BACKY_TIME_SCALE");
	const char *listen = NULL, *check = NULL;
	int verbosity = 0, c, r;
	bool waiting_logged = false, broker_waiting_logged = false;

	memset(&co, 0, sizeof(co));
	co.lock_fd = -1;
	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			co.config_path = optarg;
			break;
		case 'T':
			scale_s = optarg;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'K':
			check = optarg;
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	bk_log_init("backy-coordinator", verbosity);
	if (check && !co.config_path && optind == argc)
		return check_config(check);
	if (!co.config_path || optind != argc || check) {
		usage(stderr);
		return 1;
	}
	r = bk_clock_init(&err);
	if (r < 0) {
		bk_error("%s", err.msg);
		return 1;
	}
	co.simulated = getenv("BACKY_NOW") && *getenv("BACKY_NOW");
	co.scale = co.simulated ? 0 : 1;
	if (scale_s && *scale_s) {
		char *end = NULL;

		co.scale = strtod(scale_s, &end);
		if (*end || !(co.scale >= 0) || co.scale > 1e9) {
			bk_error("invalid time scale '%s': expected a number >= 0", scale_s);
			return 1;
		}
		co.simulated = true;
	}
	co.start_t = bk_now();
	co.start_mono = bk_monotonic();
	update_now(&co);

	co.cfg = bk_calloc(1, sizeof(*co.cfg));
	r = load_config(co.config_path, co.cfg, &err);
	if (r < 0) {
		bk_error("%s", bk_err_msg(&err, r));
		return 1;
	}
	snprintf(co.listen_host, sizeof(co.listen_host), "%s", co.cfg->listen_host);
	co.listen_port = co.cfg->listen_port;
	if (listen) {
		bk_err_clear(&err);
		if (co_listen_parse(listen, co_status_secured(&co.cfg->status_auth), co.listen_host,
				    sizeof(co.listen_host), &co.listen_port, &err) < 0) {
			bk_error("%s", err.msg);
			return 1;
		}
		co.listen_override = true;
	}
	co.state_path = bk_strdup(co.cfg->state_file);
	co.lock_path = bk_malloc(strlen(co.state_path) + 6);
	snprintf(co.lock_path, strlen(co.state_path) + 6, "%s.lock", co.state_path);
	pthread_mutex_init(&co.lock, NULL);
	bk_service_init(&co.svc);
	co_state_init(&co.st);
	co_journal_init(&co.jn, co.state_path);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = 0;
	while (!g_stop) {
		bk_service_watchdog(&co.svc);
		if (g_reload)
			on_sighup(&co);
		r = try_lock(&co);
		if (r < 0)
			break;
		if (r == 0) {
			if (!waiting_logged) {
				bk_notice("standby: '%s' is held by the active coordinator", co.lock_path);
				bk_service_ready(&co.svc, "standby: the state file's lock is held");
			}
			waiting_logged = true;
			sleep_ms(bk_service_wait_ms(&co.svc, STANDBY_RETRY_MS));
			continue;
		}
		r = coord_mq_lead(&co);
		if (r == BK_ELOCKED) {
			if (!broker_waiting_logged) {
				bk_notice("standby: the broker lock '%s' is held by another coordinator",
					  LEADER_QUEUE);
				bk_service_ready(&co.svc, "standby: the broker lock is held");
			}
			broker_waiting_logged = true;
			standby_wait(&co);
			continue;
		}
		if (r < 0) {
			if (r == BK_EMQ && !g_stop)
				continue; /* the connection broke while trying: again */
			break;
		}
		r = become_active(&co);
		if (r == 0)
			r = run_active(&co);
		if (r == BK_ELOCKED && !g_stop) {
			step_down(&co);
			waiting_logged = broker_waiting_logged = false;
			continue;
		}
		break;
	}
	if (r == BK_ELOCKED || (r == BK_EMQ && g_stop))
		r = 0;
	bk_service_stopping(&co.svc);
	coord_http_stop(&co);
	coord_replies_free(&co);
	bk_mq_close(co.mq);
	if (co.lock_fd >= 0)
		close(co.lock_fd); /* releases the lock: the standby takes over */
	co_state_release(&co.st);
	co_journal_release(&co.jn);
	co_config_release(co.cfg);
	free(co.cfg);
	free(co.state_path);
	free(co.lock_path);
	free(co.acks);
	free(co.out);
	pthread_mutex_destroy(&co.lock);
	bk_notice("stopped");
	return r < 0 ? 1 : 0;
}
