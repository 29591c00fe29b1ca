/*
 * fleet_worker.c: backy-worker, the storage-host daemon: job queue in,
 * `backy` child processes, results and heartbeats out.
 *
 * Design notes
 *
 * The parts live next door: the config file in worker_config.h, the `backy`
 * child (argv, environment, spawn, its report) in child.h, the rules for
 * pending, running and confirming jobs, without I/O, in jobs.h, and the
 * handling of a delivery, from decoding it to queuing it as pending or
 * answering it, in deliveries.c, the heartbeat in heartbeat.c (struct
 * worker and what these files share: worker_priv.h).  This file does the
 * rest of the I/O: broker, journal, children, signals, and the main loop.
 *
 * 1. Config (worker_config.h).  SIGHUP re-reads the file transactionally: a
 *    bad file keeps the old config; host, base-dir and state-dir need a
 *    restart; amqp or slots changes reconnect.
 *
 * 2. Journal (job_journal.h).  One file per job id in the state directory:
 *    `running` (before the child starts; not fsynced, as losing it only
 *    means the redelivered job runs again, which a stale entry means too)
 *    and `done` with the encoded result (durable: fsynced before the result
 *    is published and the delivery acknowledged), plus a
 *    `published` mark once the broker confirmed the result.  The state
 *    directory is flock()ed: one worker per directory.
 *
 * 3. Flow (ack late).  The worker consumes backy.jobs.<host> with prefetch =
 *    slots and manual acks, and acknowledges a job only after its result is
 *    journalled and confirmed by the broker:
 *
 *      delivery -> decode and check (deliveries.c, note 1)
 *                   | invalid, refused, done before (journal),
 *                   | same repository running ---> answered, settled at once
 *                   | same job id running here --> remember the delivery tag
 *                   | all slots busy ------------> hold (pending) until one frees
 *                   v
 *      journal running -> prepare <base-dir>/<job> + config -> vfork/exec backy
 *      child exits -> read its --result file -> journal done -> publish
 *      (confirm) -> mark published -> ack every delivery tag of the job
 *
 *    Crash of the worker between any two steps: the child dies with it
 *    (PR_SET_PDEATHSIG), the broker redelivers the unacknowledged job, and
 *    the journal decides: stale running entry with a result file from the
 *    child -> the run had finished, use it; without -> run again (backy
 *    removes the partial revision); done -> publish the record if it was
 *    not confirmed.  So every job completes once and gets at least one
 *    result; consumers deduplicate by job_id.
 *
 * 4. Main loop.  Single-threaded.  Signal handlers only set flags (and
 *    stamp a child's exit).  SIGTERM, SIGINT, SIGHUP and SIGCHLD stay
 *    blocked except inside the wait: bk_mq_wait sleeps in ppoll with them
 *    unblocked (bk_mq_set_wait_mask; rabbitmq-c's own poll would restart on
 *    EINTR), so an exiting child or a SIGTERM ends the wait at once, also
 *    one that came while we were busy.  Without that, a tiny job's exit
 *    would be noticed only at the next timeout, and waking up every
 *    millisecond to look cost a third of a CPU.  The wait is at most
 *    WAIT_MS, so heartbeats, deadlines and the broker connection are
 *    serviced at least twice a second whatever runs.
 *
 * 5. Broker loss.  Any BK_EMQ closes the handle; the worker reconnects with
 *    backoff (0.5 s doubling to 30 s) from its main loop, so children are
 *    reaped and signals handled while the broker is away.  After
 *    connecting: publish every done-but-unpublished result from the
 *    journal, then consume (the coordinator declares the job queue; until
 *    it has, consuming fails with 404 and the worker retries with backoff).
 *    Delivery tags belong to a connection, and pending deliveries are
 *    dropped on a loss (jobs.h, note 1).
 *
 *    RabbitMQ's consumer_timeout (30 min by default) closes the channel when
 *    a delivery stays unacknowledged that long, which ack-late does for
 *    every long backup.  By design that is just a broker loss: reconnect,
 *    the job comes back redelivered, it is attached to the running child
 *    (no second run), and its result acknowledges the new delivery.  The
 *    alternative, ack early and keep a local queue, was not chosen: once
 *    acknowledged, the broker forgets the job, and a storage host that dies
 *    or is reinstalled loses it for good; with ack late the broker keeps
 *    every job until its result is safe.
 *
 * 6. SIGTERM/SIGINT (jobs.h, note 4).  Cancel the consumer, hand back
 *    pending deliveries, let running children finish for `grace` seconds,
 *    then SIGTERM, then SIGKILL.  Interrupted jobs are rejected with
 *    requeue, keep their `running` entry and are run again (by this host,
 *    after a restart, on redelivery).  Exit 0.
 *
 * 7. Names are never trusted as paths: proto validates job names (no '/',
 *    no leading '.'), and the repository directory is opened relative to
 *    the base directory's fd with O_NOFOLLOW and checked to resolve to
 *    exactly <base-dir>/<job>, so a symlink never leads out of base-dir.
 *    Job ids (journal file names) are bk_id_valid() strings.
 *
 * 8. Logging: stderr, one line when a job starts and one when it ends (job,
 *    job id, revision, outcome, durations including the worker's overhead).
 *
 * 9. systemd (service.h, dist/systemd/backy-worker.service): READY=1 once
 *    consuming its job queue, i.e. connected with the coordinator's
 *    topology in place (until the coordinator declared the queue the unit
 *    stays "activating", its STATUS says why); RELOADING=1 and READY=1
 *    around a SIGHUP reload; STOPPING=1 at SIGTERM; WATCHDOG=1 from the
 *    main loop, which turns at least every WAIT_MS.
 */
#include "fleet_worker.h"
#include "worker_priv.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "job_journal.h"
#include "log.h"
#include "mq.h"
#include "proto.h"
#include "results.h"
#include "fleet_repo.h"
#include "topology.h"
#include "child.h"
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRUNE_EVERY_US (3600 * BK_USEC)
#define WAIT_MS 500 /* longest wait for the broker or a signal (design note 4) */

/* ---- daemon state ------------------------------------------------------------ */

static volatile sig_atomic_t sig_term, sig_hup;
/* bk_monotonic() of the first SIGCHLD not yet taken by reap_children, or 0 */
static _Atomic int64_t sigchld_at;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		sig_hup = 1;
	} else if (sig == SIGCHLD) {
		int64_t none = 0;

		/* clock_gettime is async-signal-safe; the first exit of a batch counts */
		atomic_compare_exchange_strong(&sigchld_at, &none, bk_monotonic());
	} else {
		sig_term++;
	}
}

/* ---- broker ---------------------------------------------------------------------- */

void worker_broker_lost(struct worker *w, const struct bk_err *err)
{
	if (!w->mq)
		return;
	bk_warn("connection to the broker lost: %s; reconnecting", err->msg);
	bk_service_status(&w->svc, "connection to the broker lost; reconnecting");
	bk_mq_close(w->mq);
	w->mq = NULL;
	w->consuming = false;
	bk_mq_backoff_reset(&w->backoff);
	w->next_connect = bk_monotonic();
	/*
	 * The broker has the pending deliveries back and will redeliver them.
	 * Unconfirmed results stay unpublished in the journal: try_connect
	 * publishes them again, and the redelivered jobs are answered from it.
	 */
	for (size_t i = 0; i < w->jobs.nconfirming; i++)
		bk_notice("%s (result recorded, not confirmed by the broker)",
			  w->jobs.confirming[i]->summary);
	bk_jobs_connection_lost(&w->jobs);
}

int worker_mq_check(struct worker *w, int r, const struct bk_err *err)
{
	if (r == BK_EMQ && w->mq && !bk_mq_usable(w->mq))
		worker_broker_lost(w, err);
	return r;
}

void worker_ack_tag(struct worker *w, uint64_t tag, bool reject, bool requeue)
{
	struct bk_err err = {0};
	int r;

	if (!w->mq)
		return;
	r = reject ? bk_mq_reject(w->mq, tag, requeue, &err) : bk_mq_ack(w->mq, tag, &err);
	if (r < 0) {
		bk_warn("unable to %s a delivery: %s", reject ? "reject" : "acknowledge", err.msg);
		worker_mq_check(w, r, &err);
	}
}

/* Ack (or reject) every delivery tag of J that belongs to the current connection. */
static void settle_job(struct worker *w, struct bk_job *j, bool reject, bool requeue)
{
	uint64_t *tags = NULL;
	size_t n = bk_jobs_settle_tags(&w->jobs, j, &tags);

	for (size_t i = 0; i < n; i++)
		worker_ack_tag(w, tags[i], reject, requeue);
	free(tags);
}

static void try_connect(struct worker *w)
{
	struct bk_mq_config mc = {0};
	struct bk_err err = {0};
	char name[128];
	char queue[256] = "";
	int r;

	snprintf(name, sizeof(name), "backy-worker %s", w->cfg.host);
	mc.url = w->cfg.amqp.url;
	mc.heartbeat_s = w->cfg.amqp.heartbeat_s;
	mc.ca_cert = w->cfg.amqp.ca_cert;
	mc.tls_verify = w->cfg.amqp.tls_verify;
	mc.name = name;
	mc.timeout_ms = 10000;
	mc.max_body = 1 << 20; /* larger ones are dead-lettered by the adapter (BK_EPROTO) */
	/*
	 * No declare here: the worker's broker user may not configure anything
	 * (docs/operations.md, "Broker users and permissions"); backy-coordinator
	 * declares the topology and this host's job queue.
	 */
	r = bk_mq_connect(&w->mq, &mc, &err);
	if (r == 0) {
		bk_mq_set_wait_mask(w->mq, &w->wait_mask);
		bk_jobs_connected(&w->jobs);
		r = bk_results_publish_unpublished(w->mq, &w->journal, &err);
		if (r < 0) {
			worker_broker_lost(w, &err); /* lost again: schedules a retry */
			return;
		}
	}
	if (r == 0 && !w->jobs.stopping) {
		bk_topology_jobs_queue(w->cfg.host, queue, sizeof(queue));
		r = bk_mq_consume(w->mq, queue, w->cfg.slots, &err);
		w->consuming = r == 0;
	}
	if (r < 0) {
		unsigned ms = bk_mq_backoff_next(&w->backoff);

		bk_service_status(&w->svc, r == -ENOENT ? "waiting for the job queue" : "waiting for the broker");
		if (r == -ENOENT && !w->queue_missing_logged)
			bk_warn("job queue '%s' does not exist yet: it is declared by backy-coordinator; "
				"retrying in %.1f s", queue, ms / 1000.0);
		else if (r == -ENOENT)
			bk_debug("job queue '%s' still missing; retrying in %.1f s", queue, ms / 1000.0);
		else
			bk_warn("unable to connect to the broker: %s; retrying in %.1f s", err.msg,
				ms / 1000.0);
		w->queue_missing_logged |= r == -ENOENT;
		bk_mq_close(w->mq);
		w->mq = NULL;
		w->consuming = false;
		w->next_connect = bk_monotonic() + (int64_t)ms * 1000;
		return;
	}
	bk_mq_backoff_reset(&w->backoff);
	w->queue_missing_logged = false;
	bk_notice("connected to the broker, %s %s (prefetch %u)",
		  w->consuming ? "consuming" : "not consuming", queue, w->cfg.slots);
	/* ready (design note 9): connected, and the coordinator's topology has our queue */
	if (w->consuming) {
		char status[300];

		snprintf(status, sizeof(status), "consuming %s, %u slot%s", queue, w->cfg.slots,
			 w->cfg.slots == 1 ? "" : "s");
		bk_service_ready(&w->svc, status);
	}
}

/* ---- jobs --------------------------------------------------------------------- */

/*
 * J's result is confirmed (or can never be): acknowledge its deliveries, log
 * the end of the job, then mark the journal entry published.  Frees J.
 */
static void finish_job(struct worker *w, struct bk_job *j)
{
	struct bk_err err = {0};
	int64_t total, child, now, t_pub;

	settle_job(w, j, false, false);
	now = bk_monotonic();
	total = now - j->received;
	t_pub = now - j->published;
	child = j->spawned && j->exited > j->spawned ? j->exited - j->spawned : 0;
	/*
	 * Overhead: what the worker adds to the backy run, from the delivery to
	 * the result confirmed and the delivery acknowledged, minus the child
	 * (vfork returned to its exit, stamped by SIGCHLD).
	 */
	bk_notice("%s, %.3f s (backy %.3f s, backup %.3f s, worker overhead %.1f ms = %.1f before + %.1f after, of which %.1f publish and ack)",
		  j->summary, total / 1e6, child / 1e6, j->backup_s, (total - child) / 1e3,
		  child ? (j->spawned - j->received) / 1e3 : 0.0,
		  child ? (now - j->exited) / 1e3 : 0.0, t_pub / 1e3);
	/* after the ack: a crash before this line only republishes the result */
	j->done.published = true;
	if (bk_journal_put(&w->journal, &j->done, false, &err) < 0)
		bk_warn("%s", err.msg);
	bk_job_free(j);
}

/* Take the confirms that arrived: finish their jobs (or reconnect on a nack). */
static void collect_confirms(struct worker *w)
{
	struct bk_err err = {0};
	uint64_t seq;
	int r;

	while (w->mq && (r = bk_mq_confirmed(w->mq, &seq, &err)) != 0) {
		struct bk_job *j = bk_jobs_take_confirmed(&w->jobs, seq);

		if (!j)
			continue;
		if (r == BK_EMQ) {
			/* a nack: reconnect and send it again (the journal still says unpublished) */
			bk_jobs_add_confirming(&w->jobs, j, seq);
			worker_broker_lost(w, &err);
			return;
		}
		if (r < 0)
			bk_error("unable to publish the result of job '%s' (id %s): %s", j->msg.job,
				 j->msg.job_id, err.msg);
		bk_err_clear(&err);
		finish_job(w, j);
	}
}

/*
 * Record RES as the outcome of J (durably: before the result leaves the
 * host), publish it and settle the deliveries once it is confirmed.  Takes
 * over J: it waits among the confirming jobs for its confirm, or is freed.
 */
static void complete_job(struct worker *w, struct bk_job *j, struct bk_msg_result *res)
{
	struct bk_err err = {0}, perr = {0};
	struct bk_buf b, line;
	char nm[BK_ID_MAX + 16];
	int r;

	bk_buf_init(&b);
	if (bk_msg_encode_result(res, &b, &err) < 0) {
		/* cannot happen with the values set above; never leave the job hanging */
		bk_error("job '%s' (id %s): unable to encode its result: %s", j->msg.job,
			 j->msg.job_id, err.msg);
		bk_buf_reset(&b);
		bk_err_clear(&err);
		bk_msg_result_set_error(res, "EUNKNOWN", "the worker could not encode the result", false);
		res->outcome = BK_OUTCOME_FAILED;
		res->revision[0] = '\0';
		bk_strv_release(&res->tags);
		res->has_stats = false;
		bk_msg_encode_result(res, &b, &err);
	}
	bk_journal_entry_init(&j->done);
	j->done.state = BK_JOURNAL_DONE;
	snprintf(j->done.job_id, sizeof(j->done.job_id), "%s", j->msg.job_id);
	snprintf(j->done.job, sizeof(j->done.job), "%s", j->msg.job);
	j->done.pid = (long)getpid();
	j->done.started = res->started;
	j->done.finished = bk_now();
	snprintf(j->done.digest, sizeof(j->done.digest), "%s", j->digest);
	j->done.result = b.p; /* owned by the entry now */
	r = j->entry_synced ? bk_journal_put_final(&w->journal, &j->done, &err)
			    : bk_journal_put(&w->journal, &j->done, true, &err);
	if (r < 0)
		bk_error("job '%s' (id %s): %s", j->msg.job, j->msg.job_id, err.msg);
	bk_child_result_name(j->msg.job_id, nm, sizeof(nm));
	bk_fs_unlink(w->journal.dirfd, nm);
	bk_child_progress_name(j->msg.job_id, nm, sizeof(nm));
	bk_fs_unlink(w->journal.dirfd, nm);

	bk_buf_init(&line);
	bk_results_outcome_line(res, &line);
	j->summary = line.p;
	j->backup_s = res->has_stats ? res->stats.duration : 0.0;

	j->published = bk_monotonic();
	r = bk_results_publish_nowait(w->mq, j->done.result, &j->seq, &perr);
	if (r == 0) {
		bk_jobs_add_confirming(&w->jobs, j, j->seq);
		return;
	}
	if (r == BK_EMQ) {
		/* published after reconnecting (logged again then); the redelivery is acked then */
		worker_broker_lost(w, &perr);
		bk_notice("%s (result recorded, the broker is away)", j->summary);
		bk_job_free(j);
		return;
	}
	finish_job(w, j);
}

/*
 * Publish a failure of J that happened before its child ran, and settle it
 * (takes over J).  A refusal by this host's policy is a rejection.
 */
static void fail_before_run(struct worker *w, struct bk_job *j, int code, const char *msg)
{
	struct bk_msg_result res;

	bk_child_result_init(&res, w->cfg.host, &j->msg,
			     code == BK_EDENIED ? BK_OUTCOME_REJECTED : BK_OUTCOME_FAILED);
	bk_msg_result_set_error(&res, bk_error_name(code), msg, bk_error_transient(code));
	j->started = res.started;
	complete_job(w, j, &res);
	bk_msg_result_release(&res);
}

/*
 * Prepare the repository of job J (fleet_repo.h).  A verify job changes
 * nothing there: whatever source or schedule it carries is ignored, so it
 * only finds an existing repository (a missing one is a clear failure and
 * nothing is created).
 */
static int prepare_job_repo(struct worker *w, const struct bk_msg_job *j, char *path,
			    struct bk_err *err)
{
	static const struct bk_source_spec none = {.type = BK_SOURCE_NONE};
	bool verify = j->action == BK_ACTION_VERIFY;

	return bk_fleet_repo_prepare(&w->cfg, w->basefd, j->job, verify ? &none : &j->source,
				     j->schedule.n && !verify ? &j->schedule : NULL, path, err);
}

/* Start job J (taken over: on return it is running or answered and freed). */
static void start_job(struct worker *w, struct bk_job *j)
{
	char path[PATH_MAX], logname[BK_ID_MAX + 8], rname[BK_ID_MAX + 16];
	struct bk_child_cmd cmd;
	struct bk_journal_entry e;
	struct bk_err err = {0};
	int logfd = -1, r;
	pid_t pid, self = getpid();

	bk_child_result_name(j->msg.job_id, rname, sizeof(rname));
	r = bk_journal_get(&w->journal, j->msg.job_id, &e, &err);
	if (r == 0 && e.state == BK_JOURNAL_RUNNING &&
	    faccessat(w->journal.dirfd, rname, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		/* a dead worker's child finished: its result counts, no second run */
		struct bk_msg_result res;

		bk_notice("job '%s' (id %s) finished under the previous worker: recording its result",
			  j->msg.job, j->msg.job_id);
		j->started = e.started ? e.started : bk_now();
		bk_child_result(w->journal.dirfd, w->cfg.host, w->cfg.backy, &j->msg, j->started, -1,
				&res);
		complete_job(w, j, &res);
		bk_msg_result_release(&res);
		bk_journal_entry_release(&e);
		return;
	}
	if (r == 0)
		bk_journal_entry_release(&e);
	else if (r != -ENOENT)
		bk_warn("%s; starting the job anew", err.msg);
	bk_err_clear(&err);

	r = prepare_job_repo(w, &j->msg, path, &err);
	if (r < 0) {
		fail_before_run(w, j, r, err.msg);
		return;
	}

	j->started = bk_now();
	bk_journal_entry_init(&e);
	e.state = BK_JOURNAL_RUNNING;
	snprintf(e.job_id, sizeof(e.job_id), "%s", j->msg.job_id);
	snprintf(e.job, sizeof(e.job), "%s", j->msg.job);
	e.pid = (long)self;
	e.pid_start = w->self_start;
	e.started = j->started;
	snprintf(e.digest, sizeof(e.digest), "%s", j->digest);
	bk_fs_unlink(w->journal.dirfd, rname);
	/*
	 * Not fsynced: losing a running entry in a power failure has the same
	 * effect as finding it stale (the redelivered job runs again).  The
	 * entry rewritten after the fork is synced while the child runs, for
	 * the done entry's sake (job_journal.h, note 5).
	 */
	r = bk_journal_put(&w->journal, &e, false, &err);
	if (r < 0) {
		fail_before_run(w, j, r, err.msg);
		return;
	}

	bk_child_log_name(j->msg.job_id, logname, sizeof(logname));
	logfd = openat(w->journal.dirfd, logname,
		       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	bk_child_cmd_init(&cmd, &w->cfg, &j->msg, path);
	pid = bk_child_spawn(&cmd, logfd, self);
	j->spawned = bk_monotonic();
	if (logfd >= 0)
		close(logfd);
	if (pid < 0) {
		r = -errno;
		bk_child_cmd_release(&cmd);
		fail_before_run(w, j, r, "unable to start backy: vfork failed");
		return;
	}
	setpgid(pid, pid); /* also in the child: whoever runs first */
	bk_jobs_add_running(&w->jobs, j, pid);
	e.child = (long)pid;
	e.child_start = bk_journal_proc_start(pid);
	/* durable while the child runs, so the done entry costs one flush (job_journal.h, note 5) */
	if (bk_journal_put(&w->journal, &e, false, &err) < 0 || bk_journal_sync(&w->journal, &err) < 0)
		bk_warn("%s", err.msg);
	else
		j->entry_synced = true;
	bk_notice("job '%s' (id %s) %s started%s%s (attempt %u, pid %ld)", j->msg.job,
		  j->msg.job_id, bk_msg_action_name(j->msg.action), cmd.tags.len ? ", tags " : "",
		  cmd.tags.p, j->msg.attempt, (long)pid);
	bk_child_cmd_release(&cmd);
}

/* Answer every current delivery of J skipped with CODE and MSG, and free J. */
static void skip_job(struct worker *w, struct bk_job *j, const char *code, const char *msg,
		     bool transient)
{
	uint64_t *tags = NULL;
	size_t n = bk_jobs_settle_tags(&w->jobs, j, &tags);

	for (size_t i = 0; i < n; i++)
		worker_answer_unjournalled(w, &j->msg, tags[i], BK_OUTCOME_SKIPPED, code, msg,
					   transient);
	free(tags);
	bk_job_free(j);
}

/*
 * Start pending jobs while slots are free.  A job whose deadline passed
 * before it could start is answered skipped (jobs.h, note 3), and so is one
 * whose repository is busy (note 2).
 */
void worker_start_pending(struct worker *w)
{
	for (;;) {
		struct bk_job *j, *other;
		char msg[300], when[64];
		enum bk_jobs_verdict v = bk_jobs_next(&w->jobs, bk_now(), !w->cfg.simulated_time,
						      &j, &other);

		if (v == BK_JOBS_NONE)
			return;
		if (v == BK_JOBS_EXPIRED) {
			bk_time_format(j->msg.deadline, when, sizeof(when), BK_TIME_ISO);
			snprintf(msg, sizeof(msg),
				 "the job's deadline %s passed before it could start", when);
			skip_job(w, j, "ETIMEDOUT", msg, false);
		} else if (v == BK_JOBS_BUSY) {
			snprintf(msg, sizeof(msg), "job '%s' is already running on host '%s' (id %s)",
				 j->msg.job, w->cfg.host, other->msg.job_id);
			skip_job(w, j, bk_error_name(BK_ELOCKED), msg, true);
		} else {
			start_job(w, j);
		}
	}
}

/* Child PID exited with STATUS at EXITED (monotonic). */
static void child_done(struct worker *w, struct bk_job *j, int status, int64_t exited)
{
	struct bk_msg_result res;

	/* a SIGCHLD older than the fork belongs to an earlier child (or came before we looked) */
	j->exited = exited >= j->spawned ? exited : bk_monotonic();
	if (j->interrupted) {
		bk_notice("job '%s' (id %s) stopped by the shutdown: handing it back to the broker",
			  j->msg.job, j->msg.job_id);
		settle_job(w, j, true, true);
		bk_job_free(j);
		return;
	}
	bk_child_result(w->journal.dirfd, w->cfg.host, w->cfg.backy, &j->msg, j->started, status,
			&res);
	complete_job(w, j, &res);
	bk_msg_result_release(&res);
}

static void reap_children(struct worker *w)
{
	/* every child reaped now exited at or after the first SIGCHLD not yet taken */
	int64_t exited = atomic_exchange(&sigchld_at, 0);

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		struct bk_job *j;

		if (pid <= 0)
			return;
		j = bk_jobs_take_running(&w->jobs, pid);
		if (j)
			child_done(w, j, status, exited);
	}
}

/* ---- stop, reload --------------------------------------------------------- */

/* SIGTERM/SIGINT (jobs.h, note 4): no new jobs, pending ones handed back. */
static void begin_stop(struct worker *w)
{
	struct bk_err err = {0};
	size_t n = w->jobs.nrunning;
	struct bk_job *j;

	if (w->jobs.stopping) {
		bk_notice("second signal: stopping running jobs now");
		bk_jobs_stop(&w->jobs, bk_monotonic(), 0);
		return;
	}
	bk_service_stopping(&w->svc);
	bk_jobs_stop(&w->jobs, bk_monotonic(), (int64_t)w->cfg.grace * BK_USEC);
	bk_notice("stopping: no new jobs; %zu running job%s get%s up to %u s", n,
		  n == 1 ? "" : "s", n == 1 ? "s" : "", w->cfg.grace);
	if (w->mq && w->consuming) {
		int r = bk_mq_cancel(w->mq, &err);

		if (r < 0)
			bk_warn("unable to cancel the consumer: %s", err.msg);
		worker_mq_check(w, r, &err);
		w->consuming = false;
	}
	while ((j = bk_jobs_pop_pending(&w->jobs)) != NULL) {
		settle_job(w, j, true, true);
		bk_job_free(j);
	}
}

/* After the grace period: SIGTERM the running jobs, then SIGKILL them. */
static void stop_step(struct worker *w)
{
	enum bk_jobs_signal sig = bk_jobs_stop_step(&w->jobs, bk_monotonic());
	size_t n = w->jobs.nrunning;

	if (sig == BK_JOBS_SIGNAL_NONE)
		return;
	if (sig == BK_JOBS_SIGNAL_TERM)
		bk_notice("grace period over: terminating %zu job%s", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		kill(-w->jobs.running[i]->pid, sig == BK_JOBS_SIGNAL_TERM ? SIGTERM : SIGKILL);
}

static void reload(struct worker *w)
{
	struct bk_fleet_config nc;
	struct bk_err err = {0};
	bool reconnect;

	if (bk_fleet_config_load(w->config_path, &nc, &err) < 0) {
		bk_error("reload failed, keeping the old configuration: %s", err.msg);
		return;
	}
	if (strcmp(nc.host, w->cfg.host) || strcmp(nc.base_dir, w->cfg.base_dir) ||
	    strcmp(nc.state_dir, w->cfg.state_dir)) {
		bk_warn("host, base-dir and state-dir changes need a restart: keeping '%s', '%s', '%s'",
			w->cfg.host, w->cfg.base_dir, w->cfg.state_dir);
		free(nc.host);
		nc.host = bk_strdup(w->cfg.host);
		free(nc.base_dir);
		nc.base_dir = bk_strdup(w->cfg.base_dir);
		free(nc.state_dir);
		nc.state_dir = bk_strdup(w->cfg.state_dir);
	}
	reconnect = nc.slots != w->cfg.slots || !bk_amqp_settings_equal(&nc.amqp, &w->cfg.amqp);
	bk_fleet_config_release(&w->cfg);
	w->cfg = nc;
	w->jobs.slots = nc.slots;
	bk_notice("configuration reloaded%s", reconnect ? "; reconnecting to the broker" : "");
	if (reconnect && w->mq) {
		struct bk_err e2 = {0};

		bk_err_set(&e2, BK_EMQ, "reconnecting for the new configuration");
		worker_broker_lost(w, &e2);
	}
}

/* Kill children of a dead predecessor that outlived it (they hold repository locks). */
static void recover(struct worker *w)
{
	struct bk_journal_entry e;
	struct bk_err err = {0};
	char **ids = NULL;
	size_t n = 0;

	if (bk_journal_list(&w->journal, &ids, &n, &err) < 0) {
		bk_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (bk_journal_get(&w->journal, ids[i], &e, &err) < 0) {
			bk_warn("%s", err.msg);
			bk_err_clear(&err);
			continue;
		}
		if (e.state == BK_JOURNAL_RUNNING && e.child > 0 &&
		    bk_journal_proc_alive(e.child, e.child_start)) {
			bk_warn("job '%s' (id %s): killing pid %ld left over from a previous worker",
				e.job, e.job_id, e.child);
			kill(-(pid_t)e.child, SIGKILL);
			kill((pid_t)e.child, SIGKILL);
			for (int k = 0; k < 100 && bk_journal_proc_alive(e.child, e.child_start); k++)
				poll(NULL, 0, 100);
		}
		if (e.state == BK_JOURNAL_RUNNING)
			bk_info("job '%s' (id %s) was interrupted: it runs again when redelivered",
				e.job, e.job_id);
		bk_journal_entry_release(&e);
	}
	bk_journal_ids_free(ids, n);
}

int bk_fleet_run(const char *config_path, struct bk_fleet_config *cfg, struct bk_err *err)
{
	static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct worker w = {.basefd = -1};
	struct sigaction sa;
	sigset_t sigs;
	int r, pruned;

	w.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	w.config_path = config_path;
	bk_jobs_init(&w.jobs, w.cfg.slots);
	bk_service_init(&w.svc);
	w.journal.dirfd = -1;
	w.journal.lockfd = -1;

	/*
	 * Our signals stay blocked except while we wait (design note 4): a
	 * SIGCHLD or SIGTERM then ends the wait at once, also when it came
	 * just before the wait began.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sigs);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		sa.sa_flags = SA_RESTART | (handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
		sigaction(handled[i], &sa, NULL);
		sigaddset(&sigs, handled[i]);
	}
	sigprocmask(SIG_BLOCK, &sigs, &w.wait_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigdelset(&w.wait_mask, handled[i]);
	signal(SIGPIPE, SIG_IGN);

	w.basefd = open(w.cfg.base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.basefd < 0) {
		r = bk_err_sys(err, -errno, "unable to open base directory '%s'", w.cfg.base_dir);
		goto out;
	}
	r = bk_journal_open(&w.journal, w.cfg.state_dir, err);
	if (r < 0)
		goto out;
	recover(&w);
	w.self_start = bk_journal_proc_start(getpid());
	bk_notice("backy-worker %s for host '%s' starting: base %s, %u slot%s, backy '%s'",
		  BACKY_VERSION, w.cfg.host, w.cfg.base_dir, w.cfg.slots,
		  w.cfg.slots == 1 ? "" : "s", w.cfg.backy);

	for (;;) {
		struct bk_mq_delivery d;
		struct bk_err e2 = {0};
		int64_t now;

		if (sig_term) {
			sig_term = 0;
			begin_stop(&w);
		}
		if (sig_hup) {
			sig_hup = 0;
			bk_service_reloading(&w.svc);
			reload(&w);
			bk_service_reloaded(&w.svc, w.consuming ? "consuming (configuration reloaded)"
								: "configuration reloaded");
		}
		bk_service_watchdog(&w.svc);
		reap_children(&w);
		stop_step(&w);
		if (w.jobs.stopping && bk_jobs_idle(&w.jobs))
			break;
		now = bk_monotonic();
		if (!w.mq && now >= w.next_connect)
			try_connect(&w);
		worker_start_pending(&w);
		now = bk_monotonic();
		if (w.mq && now >= w.next_heartbeat) {
			worker_heartbeat(&w);
			w.next_heartbeat = now + (int64_t)w.cfg.heartbeat_interval * BK_USEC;
		}
		if (now >= w.next_prune) {
			pruned = bk_journal_prune(&w.journal, bk_now() - w.cfg.keep * BK_USEC, &e2);
			if (pruned < 0)
				bk_warn("%s", e2.msg);
			else if (pruned > 0)
				bk_info("pruned %d old journal entr%s", pruned, pruned == 1 ? "y" : "ies");
			w.next_prune = now + PRUNE_EVERY_US;
		}
		if (!w.mq) {
			int64_t left = (w.next_connect - bk_monotonic()) / 1000;
			int ms = bk_service_wait_ms(&w.svc, left < WAIT_MS ? (left < 1 ? 1 : (int)left)
									  : WAIT_MS);
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

			ppoll(NULL, 0, &ts, &w.wait_mask);
			continue;
		}
		r = bk_mq_wait(w.mq, bk_service_wait_ms(&w.svc, WAIT_MS), &d, &e2);
		if (r >= 0)
			collect_confirms(&w);
		if (r == 1) {
			worker_handle_delivery(&w, &d);
			bk_mq_delivery_release(&d);
		} else if (r == BK_EPROTO) {
			struct bk_mq_delivery none = {0};

			/* an oversized body, dead-lettered by the adapter: answer it all the same */
			worker_reject_invalid(&w, &none, BK_EPROTO, e2.msg);
		} else if (r < 0) {
			worker_broker_lost(&w, &e2);
		}
	}
	bk_notice("stopped");
	r = 0;
out:
	bk_mq_close(w.mq);
	bk_jobs_release(&w.jobs);
	if (w.journal.dirfd >= 0)
		bk_journal_close(&w.journal);
	if (w.basefd >= 0)
		close(w.basefd);
	bk_fleet_config_release(&w.cfg);
	return r;
}
