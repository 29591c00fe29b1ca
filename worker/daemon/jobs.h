/*
 * jobs.h: backy-worker's jobs, as a model without I/O: which deliveries
 * wait for a slot, which jobs run (child pid), which results await the
 * broker's confirm, and the rules that decide between them.  The daemon
 * (fleet_worker.c, deliveries.c) does the I/O -- journal, broker,
 * children -- and asks this model what to do; time comes in as an
 * argument, so the rules are unit-tested (tests/unit/test_worker_jobs.c).
 *
 *   delivery --classify--> CHANGED (same job id, other content): reject
 *                          REDELIVERED (same job id here): attach the tag
 *                          BUSY (same repository running): answer skipped
 *                          NEW --enqueue--> pending
 *   pending --next--> (no slot: stays) EXPIRED: answer skipped
 *                                      BUSY: answer skipped
 *                                      START --> running (pid) --exit-->
 *   result journalled and published --> confirming (seq) --confirm--> done:
 *   acknowledge the job's delivery tags of the current connection
 *
 * Design notes
 *
 * 1. Delivery tags belong to a connection: each connection has a
 *    generation number and a tag of an older generation is never
 *    acknowledged (that would close the new channel).  The broker
 *    redelivers those jobs, and REDELIVERED attaches the redelivery to the
 *    job still running here, so its result acknowledges the new delivery.
 *    Pending (not started) deliveries are dropped on a loss (the broker has
 *    them back), and so are unconfirmed results (the journal still has them
 *    as unpublished; the daemon publishes them again after reconnecting).
 *
 * 2. One run per repository: a job whose repository has a job running here
 *    is answered skipped (BK_ELOCKED), on delivery and again when it would
 *    start.
 *
 * 3. Deadline: a job whose deadline passed before it could start is
 *    answered skipped, not run: the coordinator considers it lost and
 *    dispatches it again, so running it now could only duplicate work
 *    (docs/messages.md, result outcomes).  The daemon turns this off under
 *    simulated time, where the deadline is on the sender's clock.
 *
 * 4. Stop (SIGTERM/SIGINT): no new jobs; pending deliveries are handed back;
 *    running jobs get the grace period, then SIGTERM to their process
 *    groups (they are marked interrupted: handed back, not answered), then
 *    SIGKILL every BK_JOBS_KILL_WAIT until they are gone.  A second stop
 *    shortens the grace period to now.
 *
 * Ownership: the model owns the jobs on its lists; a job taken off a list
 * (next, take_running, take_confirmed, pop_pending) belongs to the caller,
 * who frees it with bk_job_free() or hands it back with an add function.
 */
#ifndef BK_WORKER_JOBS_H
#define BK_WORKER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"
#include "job_journal.h"
#include "proto.h"

#define BK_JOBS_KILL_WAIT (10 * 1000000LL) /* microseconds between SIGTERM and SIGKILL */

struct bk_job_tag {
	uint64_t tag;
	unsigned gen; /* connection generation the tag belongs to */
};

struct bk_job {
	struct bk_msg_job msg;              /* owned */
	char digest[2 * BK_DIGEST_LEN + 1]; /* what the job asks for (fleet_policy.h, note 4) */
	pid_t pid;                          /* running: the child; 0 before */
	struct bk_job_tag *tags;            /* its deliveries not yet settled */
	size_t ntags;
	bool interrupted;                   /* stopped by our shutdown: hand the job back */
	/* the daemon's bookkeeping, not used by the rules (monotonic microseconds) */
	int64_t received;  /* when the first delivery arrived */
	int64_t spawned;   /* when vfork returned (backy exec'd) */
	int64_t exited;    /* at the SIGCHLD of its exit */
	int64_t started;   /* bk_now() at start (result.started) */
	bool entry_synced; /* its running entry's name is durable (job_journal.h, note 5) */
	/* confirming: the result is journalled and published, its confirm awaited */
	struct bk_journal_entry done; /* the done entry (owned result text) */
	uint64_t seq;                 /* the publish's sequence number */
	int64_t published;            /* when it was published */
	char *summary;                /* owned: the start of the end-of-job log line */
	double backup_s;              /* the backup's own duration (result stats) */
};

/* A job for MSG (its contents taken over; MSG is left empty), received at RECEIVED. */
struct bk_job *bk_job_new(struct bk_msg_job *msg, int64_t received);
/* Free J and everything it owns; NULL is a no-op. */
void bk_job_free(struct bk_job *j);

struct bk_jobs {
	unsigned slots;  /* jobs running at once */
	unsigned gen;    /* generation of the current broker connection */
	bool stopping;
	int64_t stop_deadline; /* the grace period ends (monotonic) */
	int64_t kill_deadline; /* next SIGKILL; 0 before the SIGTERM */
	struct bk_job **pending;    /* deliveries waiting for a slot, oldest first */
	size_t npending;
	struct bk_job **running;    /* children */
	size_t nrunning;
	struct bk_job **confirming; /* results published, confirm not yet seen */
	size_t nconfirming;
};

void bk_jobs_init(struct bk_jobs *js, unsigned slots);
/* Free every job on the lists. */
void bk_jobs_release(struct bk_jobs *js);
/* Nothing pending, running or confirming. */
bool bk_jobs_idle(const struct bk_jobs *js);

enum bk_jobs_verdict {
	BK_JOBS_NONE,        /* next: nothing to start */
	BK_JOBS_NEW,         /* classify: nothing here knows the job */
	BK_JOBS_REDELIVERED, /* classify: the same job is pending or running here */
	BK_JOBS_CHANGED,     /* classify: its job id is here with other content */
	BK_JOBS_BUSY,        /* its repository has a job running here (note 2) */
	BK_JOBS_EXPIRED,     /* next: its deadline passed before it could start */
	BK_JOBS_START,       /* next: start it now */
};

/*
 * What to do with the delivered job J (not on a list).  *OTHER: for
 * REDELIVERED and CHANGED the job of the same id, for BUSY the running job
 * of the same repository; NULL otherwise.
 */
enum bk_jobs_verdict bk_jobs_classify(const struct bk_jobs *js, const struct bk_job *j,
				      struct bk_job **other);

/* Remember delivery TAG of the current connection for J. */
void bk_jobs_attach(struct bk_jobs *js, struct bk_job *j, uint64_t tag);
/* Attach TAG and queue J (taken over) behind the pending ones. */
void bk_jobs_enqueue(struct bk_jobs *js, struct bk_job *j, uint64_t tag);

/*
 * The next pending job, if one may leave the queue now: NONE when stopping,
 * when nothing is pending or all slots are busy.  Otherwise the oldest
 * pending job is taken off the queue into *J (the caller's now) with
 * EXPIRED when CHECK_DEADLINE and its deadline is before NOW (bk_now()
 * time, note 3), BUSY (*OTHER: the running job) or START.
 */
enum bk_jobs_verdict bk_jobs_next(struct bk_jobs *js, int64_t now, bool check_deadline,
				  struct bk_job **j, struct bk_job **other);

/* J's child PID runs (J taken over). */
void bk_jobs_add_running(struct bk_jobs *js, struct bk_job *j, pid_t pid);
/* Take the running job of child PID off the list; NULL when it is not ours. */
struct bk_job *bk_jobs_take_running(struct bk_jobs *js, pid_t pid);

/* J's result was published with sequence number SEQ (J taken over). */
void bk_jobs_add_confirming(struct bk_jobs *js, struct bk_job *j, uint64_t seq);
/* Take the job whose result had sequence number SEQ; NULL when none. */
struct bk_job *bk_jobs_take_confirmed(struct bk_jobs *js, uint64_t seq);

/*
 * The delivery tags of J that belong to the current connection (note 1),
 * into *TAGS (allocated, free it; NULL when none); J forgets all its tags.
 * Returns their number.
 */
size_t bk_jobs_settle_tags(const struct bk_jobs *js, struct bk_job *j, uint64_t **tags);

/* A new broker connection: tags from now on belong to a new generation. */
void bk_jobs_connected(struct bk_jobs *js);
/*
 * The broker connection is gone: a new generation, and the pending and
 * confirming jobs are freed (note 1; log the confirming ones before).
 */
void bk_jobs_connection_lost(struct bk_jobs *js);

/*
 * Stop (note 4) at NOW (monotonic) with GRACE microseconds for running jobs;
 * a second call ends the grace period now.  Hand the pending jobs back with
 * bk_jobs_pop_pending().
 */
void bk_jobs_stop(struct bk_jobs *js, int64_t now, int64_t grace);
/* The oldest pending job, taken off the queue; NULL when none. */
struct bk_job *bk_jobs_pop_pending(struct bk_jobs *js);

enum bk_jobs_signal {
	BK_JOBS_SIGNAL_NONE,
	BK_JOBS_SIGNAL_TERM, /* SIGTERM every running job's process group (now interrupted) */
	BK_JOBS_SIGNAL_KILL, /* SIGKILL them */
};

/* What the running jobs get at NOW while stopping (note 4). */
enum bk_jobs_signal bk_jobs_stop_step(struct bk_jobs *js, int64_t now);

#endif
