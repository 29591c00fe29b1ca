/*
 * scrub.h: the scrub schedule of the coordinator's model: when each job's
 * repository gets a `verify` job, what it asks for, and what its result
 * tells (I/O-free like state.h, whose struct co_state it works on).
 *
 * Design notes
 *
 * 1. Slices.  With `scrub: {period: P, slice: S}` (config.h; default 30d
 *    and 1d) every job gets one verify job per slice, at its own offset
 *    in the slice (half a slice after its backup spread, so scrubs and
 *    backups of one job keep apart).  A scheduled verify asks for the
 *    revisions last found intact (verified, or else backed up) at least
 *    P - S - S/8 ago (job field older_than; 0, every revision, when that
 *    is not positive): run every S, no revision goes longer than P
 *    without a re-read as long as no slice starts more than S/8 late
 *    (a deferral, note 2), and each slice reads only what became due
 *    since the last one.  A job without a good backup yet skips its
 *    slices (there is no repository to read).  A slice that fails or is deferred is
 *    caught up by the next one (older_than covers what it missed).
 *
 * 2. Never in the way of a backup.  A verify starts only when the job has
 *    no run in flight and no manual backup pending, and (a scheduled one)
 *    when the next backup is at least CO_SCRUB_MARGIN away; otherwise it
 *    is deferred by CO_SCRUB_RETRY (a manual one by CO_SCRUB_RETRY_MANUAL).  While a verify is in flight the
 *    job's backup waits for it like for an expiry (state.c, heap_update),
 *    and the worker's repository lock serializes the two as well.
 *
 * 2a. A verify job carries neither source nor schedule: it reads what the
 *    repository holds (the worker would ignore them, backy-worker(8)).
 *
 * 3. Manual verifies (`backyctl verify JOB`, co_request_verify) check
 *    every revision (no older_than) at the next tick, margin or not.
 *
 * 4. Results count under the trust rules of co_result() (run in flight,
 *    dispatched host, matching routing key).  A result whose error is
 *    BK_EVERIFY is a finding, not a failure: the scrub worked and found
 *    damage.  Any other failure counts in fails (status, /metrics); the
 *    next slice comes at its normal time.  The last result's list of the
 *    repository's distrusted revisions is kept (bad) for status.
 */
#ifndef CO_SCRUB_H
#define CO_SCRUB_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "error.h"
#include "proto.h"

#define CO_DEFAULT_SCRUB_PERIOD (30 * 86400) /* seconds */
#define CO_DEFAULT_SCRUB_SLICE 86400         /* seconds */
#define CO_SCRUB_MARGIN (3600 * BK_USEC)     /* free time before the next backup */
#define CO_SCRUB_RETRY (3600 * BK_USEC)      /* a deferred verify tries again after */
#define CO_SCRUB_RETRY_MANUAL (60 * BK_USEC) /* ... a deferred manual one */

/* The scrub of one job (a member of struct co_job). */
struct co_scrub {
	int64_t next;           /* planned verify (microseconds), 0: not planned */
	int64_t last;           /* the last verify result, 0: none */
	int64_t last_ok;        /* the last verify that checked what it asked for */
	uint32_t checked;       /* revisions the last good verify checked */
	uint32_t checked_total; /* ... every verify of this job (saturating) */
	uint32_t found_total;   /* revisions found damaged, every verify (saturating) */
	uint32_t fails;         /* consecutive verify failures (not findings) */
	uint32_t fails_total;   /* every verify failure (saturating) */
	char *bad;              /* comma-joined ids of the repository's distrusted
				 * revisions at the last verify, NULL: none */
	bool manual;            /* backyctl verify: a full verify at the next tick */
};

struct co_state;
struct co_run;

/* Free what S owns and zero it. */
void co_scrub_release(struct co_scrub *s);

/*
 * The first slice time strictly after AFTER (microseconds) of a job with
 * backup spread SPREAD (seconds) and slices of SLICE seconds (note 1).
 */
int64_t co_scrub_ideal(int64_t spread, int64_t slice, int64_t after);

/*
 * Plan job I's next verify at NOW when none is planned (or it is disabled
 * by the config: unplanned), and put the job in or out of the scrub heap
 * (in: live, planned, no verify in flight).  co_state_apply() and
 * co_result() call it.
 */
void co_scrub_plan(struct co_state *st, uint32_t i, int64_t now);

/* Pop up to MAX jobs whose verify is due at NOW into OUT; returns how many. */
size_t co_take_scrub_due(struct co_state *st, int64_t now, uint32_t *out, size_t max);

/*
 * Start the verify of job I at NOW (note 2): 0 and the run in *STARTED
 * (owned by ST), or BK_ELOCKED when it is deferred or BK_ENOREV when the
 * job has no backup yet (planned again, nothing to publish).
 */
int co_scrub_start(struct co_state *st, uint32_t i, int64_t now, const struct co_run **started);

/* The older_than of a verify started now for job I (seconds, 0: every revision). */
int64_t co_scrub_older_than(const struct co_state *st, uint32_t i);

/* Account verify result R of job I at NOW (co_result() calls it; note 4). */
void co_scrub_result(struct co_state *st, uint32_t i, const struct bk_msg_result *r, int64_t now);

/* A manual verify of NAME (note 3): BK_EUSAGE for an unknown job. */
int co_request_verify(struct co_state *st, const char *name, int64_t now, struct bk_err *err);

/* How many distrusted revisions job J's last verify listed. */
size_t co_scrub_bad_count(const struct co_scrub *s);

#endif
