/*
 * worker_priv.h: what the parts of the backy-worker daemon share: its state
 * (struct worker) and the few functions one part calls in another.
 * fleet_worker.c is the main loop (broker connection, journal, children,
 * signals); deliveries.c handles what arrives on the job queue;
 * heartbeat.c publishes the heartbeat.  Not an API: nothing outside those
 * files includes it.  The design notes are at the top of each file.
 *
 * Everything runs on the main loop's thread.  A struct bk_job passed to a
 * function marked "takes over" is the callee's afterwards (jobs.h).
 */
#ifndef BK_WORKER_PRIV_H
#define BK_WORKER_PRIV_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "job_journal.h"
#include "jobs.h"
#include "mq.h"
#include "service.h"
#include "proto.h"
#include "worker_config.h"

struct worker {
	struct bk_fleet_config cfg;
	const char *config_path;
	struct bk_journal journal;
	int basefd;
	struct bk_mq *mq; /* NULL while the broker is away */
	bool consuming;
	int64_t next_connect;         /* monotonic */
	struct bk_mq_backoff backoff; /* reconnects (mq.h) */
	struct bk_jobs jobs;          /* pending, running, confirming (jobs.h) */
	int64_t next_heartbeat, next_prune;
	bool hb_warned;
	bool queue_missing_logged;     /* try_connect: said once that the job queue is missing */
	sigset_t wait_mask;            /* our signals are blocked except while waiting with this */
	unsigned long long self_start; /* bk_journal_proc_start(getpid()) */
	struct bk_service svc;         /* sd_notify: ready, reloading, stopping, watchdog */
};

/* ---- fleet_worker.c ---- */

/*
 * The broker connection is gone (ERR says why): close it, drop what belongs
 * to it (jobs.h, note 1) and reconnect from the main loop with backoff
 * (fleet_worker.c, design note 5).  A no-op without a connection.
 */
void worker_broker_lost(struct worker *w, const struct bk_err *err);

/* R from a bk_mq_* call: BK_EMQ with the handle unusable is worker_broker_lost. Returns R. */
int worker_mq_check(struct worker *w, int r, const struct bk_err *err);

/* Acknowledge (or reject, with REQUEUE or to the DLX) delivery TAG; a no-op without a broker. */
void worker_ack_tag(struct worker *w, uint64_t tag, bool reject, bool requeue);

/* Start pending jobs while slots are free (fleet_worker.c, design note 3). */
void worker_start_pending(struct worker *w);

/* ---- deliveries.c ---- */

/*
 * Handle delivery D from the job queue (deliveries.c, design note 1): the
 * job is answered, attached to the same job running here, or queued as
 * pending and started when a slot is free.  D stays the caller's.
 */
void worker_handle_delivery(struct worker *w, const struct bk_mq_delivery *d);

/*
 * Answer delivery D, which is not a valid job for this host, with a
 * rejected result carrying error CODE and MSG, and reject it to the DLX.
 * D->body may be NULL and D->tag 0 (the adapter dead-lettered an oversized
 * body itself): then only the result is published.
 */
void worker_reject_invalid(struct worker *w, const struct bk_mq_delivery *d, int code,
			   const char *msg);

/*
 * Answer JOB without running it (OUTCOME skipped or rejected, error CODE
 * and MSG; not journalled) and settle delivery TAG: a rejected job goes to
 * the DLX, a skipped one is acknowledged.
 */
void worker_answer_unjournalled(struct worker *w, const struct bk_msg_job *job, uint64_t tag,
				enum bk_msg_outcome outcome, const char *code, const char *msg,
				bool transient);

/* ---- heartbeat.c ---- */

/*
 * Publish a heartbeat (host, version, slots, busy slots, free bytes of the
 * base directory, running jobs and their children's progress).  A failure
 * is warned about once until one succeeds; a lost broker is handled by
 * worker_mq_check.
 */
void worker_heartbeat(struct worker *w);

#endif
