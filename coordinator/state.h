/*
 * state.h: the coordinator's model of the fleet, without any I/O policy.
 *
 * One struct co_job per configured job: where it runs (host), what it did
 * (what the schedule rules of schedule.h read of a history: per schedule
 * tag the time of the newest good revision carrying it, and the newest
 * good backup of any tags), what it does now (at most one backup, one
 * expiry and one verify in flight, each with a stable job id, attempt and
 * deadline) and what it does next (time and tags, backoff after failures;
 * its next verify, scrub.h).  Three indexed heaps order the jobs by next
 * due time, by next verify and by deadline, so the daemon's tick pops only
 * what is due.
 *
 * Everything takes the current time as an argument, so unit tests and the
 * bench drive it without a clock, a broker or a thread.  The daemon
 * (coordinator.c) publishes what co_take_due()/co_take_overdue() hand out
 * and feeds results back through co_result().
 *
 * Ownership: struct co_state owns its jobs and their strings; it borrows
 * the struct co_config given to co_state_apply() until the next apply.
 */
#ifndef CO_STATE_H
#define CO_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "heap.h"
#include "proto.h"
#include "scrub.h"

#define CO_BACKOFF_FIRST (2 * 60)   /* seconds after the first failure */
#define CO_BACKOFF_MAX (6 * 3600)   /* cap of the doubling */
#define CO_DEFAULT_MANUAL_TAG "manual:backyctl"

enum co_run_kind { CO_RUN_BACKUP = 0, CO_RUN_EXPIRE = 1, CO_RUN_VERIFY = 2, CO_RUN_KINDS };

/* One dispatched job waiting for its result. */
struct co_run {
	bool active;
	bool confirmed; /* the broker confirmed the publish (else republish after a restart) */
	uint16_t attempt;
	char id[BK_ID_MAX + 1]; /* job_id: the same for every attempt */
	int64_t deadline;       /* microseconds; no result by then: re-dispatch */
	int64_t dispatched;     /* coordinator time of the first dispatch */
	char *tags;             /* backup: comma-joined tags; NULL for expiry and verify */
	int64_t older_than;     /* verify: the job's older_than (seconds), 0: every revision */
	uint32_t host;          /* index into co_state.hosts: where it was (last) dispatched;
				 * only that host's result ends it, whatever a reload did to
				 * the job's placement meanwhile */
};

/*
 * The time of a tag the job's schedule no longer has.  Its revisions keep
 * it (the repository's retention record), so if the tag comes back, the
 * CLI finds them and so must the coordinator (test_coord_due.c).
 */
struct co_gone_tag {
	char *name;
	int64_t t;
};

struct co_job {
	char *name;
	const struct co_jobcfg *cfg;  /* NULL only between co_state_load() and co_state_apply() */
	const struct co_sched *sched; /* idem */
	int64_t spread;               /* seconds (bk_schedule_spread) */
	uint32_t host;                /* index into co_state.hosts, UINT32_MAX: none */
	int64_t created;              /* first seen (SLA of a job without backups) */
	int64_t last_time;            /* newest good backup (any tags), 0: none */
	double last_duration;         /* seconds */
	int64_t last_bytes;           /* bytes it wrote (0: unknown) */
	char *last_tags;
	int64_t *tagt;                /* per schedule tag (sched->s.tags order), 0: none */
	size_t ntagt;
	char **saved_tag;             /* tag names of tagt while cfg is NULL (from the state file) */
	struct co_gone_tag *gone;     /* tags that left the schedule, with their times */
	size_t ngone;
	uint32_t fails;               /* consecutive failures: backoff */
	int64_t next_time;            /* planned dispatch, 0: not planned */
	char *next_tags;
	bool retry;                   /* next_time is a backoff retry of next_tags */
	char *manual_tags;            /* requested manual run, pending */
	char *last_error;
	struct co_run run[CO_RUN_KINDS];
	struct co_scrub scrub;        /* scrub.h */
	bool live;                    /* still configured */
	uint8_t chg;                  /* enum co_chg: what the journal does not have yet */
};

/* What changed in a job since the state was last made durable (state_journal.h). */
enum co_chg {
	CO_CHG_NONE = 0,
	CO_CHG_CONFIRM, /* only the confirmed flag of its runs: a short 'K' record */
	CO_CHG_JOB,     /* anything else: the whole job ('J' and 'R' records) */
};

struct co_worker {
	char host[BK_MSG_NAME_MAX + 1];
	char version[BK_MSG_NAME_MAX + 1];
	unsigned slots, busy;
	uint64_t free_bytes;
	char *running;     /* comma-joined job names */
	unsigned nrunning; /* how many */
	struct bk_msg_progress *progress; /* of running jobs, as the last heartbeat said */
	size_t nprogress;
	int64_t seen; /* coordinator time of the last heartbeat */
	int64_t seen_mono; /* monotonic time of it: ages are real seconds, whatever the time scale */
};

/*
 * What became of a result.  The broker is not trusted: anybody able to
 * publish there can write any body.  A result counts only when it answers a
 * run in flight, comes from the host that run was dispatched to, and its
 * routing key (what a broker with per-host topic permissions checks) is the
 * one its body implies (same host and job).  Everything else is dropped and
 * counted by reason.
 */
enum co_result {
	CO_RESULT_UNKNOWN_JOB = 0, /* dropped: no such job, or its job id is not in flight
				    * (a duplicate, a stale answer, or a forgery) */
	CO_RESULT_WRONG_HOST,      /* dropped: the run is in flight on another host */
	CO_RESULT_ROUTING_KEY,     /* dropped: the routing key is not the body's */
	CO_RESULT_STALE,           /* dropped: a worker got an earlier attempt after its
				    * deadline and skipped it (ETIMEDOUT); the re-dispatch
				    * in flight answers for itself */
	CO_RESULT_DROPS,           /* (the number of reasons above) */
	CO_RESULT_DONE = CO_RESULT_DROPS, /* matched a run; nothing else to do */
	CO_RESULT_EXPIRE,          /* a good backup: the caller should start an expiry */
};

/* What became of a heartbeat: only configured hosts are listed as workers. */
enum co_hb {
	CO_HB_OK = 0,
	CO_HB_UNKNOWN_HOST, /* dropped: not in the config's hosts nor any job's host */
	CO_HB_ROUTING_KEY,  /* dropped: the routing key is not the body's host */
	CO_HB_KINDS,
};

struct co_counters {
	uint64_t dispatched[CO_RUN_KINDS];
	uint64_t redispatched;
	uint64_t republished;
	uint64_t published;
	uint64_t publish_errors;
	uint64_t results_ok, results_failed;
	uint64_t results_ignored;    /* every dropped result (the sum of results_dropped) */
	uint64_t results_dropped[CO_RESULT_DROPS]; /* by reason (enum co_result) */
	uint64_t heartbeats_dropped[CO_HB_KINDS];  /* by reason (enum co_hb; [0] unused) */
	uint64_t manual_requests;
	uint64_t scrubs_deferred; /* verifies put off (scrub.h, note 2) */
	uint64_t saves;           /* snapshots (state file rewrites) */
	uint64_t journal_commits; /* appends to the journal */
	uint64_t reloads, reload_errors;
};

#define CO_RECENT_REQUESTS 256

struct co_state {
	const struct co_config *cfg;
	struct co_job *jobs;
	size_t n, cap;
	uint32_t *ht; /* open addressing: job index + 1, 0 empty */
	size_t htcap;
	char **hosts; /* interned host names, never shrinks */
	size_t nhosts;
	bool *host_named; /* per hosts[]: named as a job's host by the config (co_state_apply) */
	size_t nhost_named;
	struct co_heap due; /* idle jobs by next_time */
	struct co_heap dl;  /* jobs with runs in flight by earliest deadline */
	struct co_heap scrub; /* jobs by next verify (scrub.h) */
	struct co_worker *workers;
	size_t nworkers;
	struct co_counters c;
	/* ids of the last requests handled (a ring, saved in the state file): a
	 * request redelivered after a crash or broker restart is not run twice */
	char recent[CO_RECENT_REQUESTS][BK_ID_MAX + 1];
	unsigned nrecent, recent_next;
	bool dirty; /* differs from what is durable (state file + journal) */
	/* change tracking for the journal (state_journal.h): jobs changed since the
	 * last commit (each once, see co_job.chg), request ids remembered
	 * since, and whether a change only a full snapshot can express (jobs
	 * added, dropped or reordered by co_state_apply) happened */
	uint32_t *chg;
	size_t nchg, chgcap;
	unsigned nreq_new;
	bool full;
	uint64_t gen; /* generation of the journal that belongs to the state file */
};

void co_state_init(struct co_state *st);
void co_state_release(struct co_state *st);

/*
 * Make the jobs those of CFG (borrowed until the next call): jobs already
 * known keep their history, placement and runs in flight; new jobs are
 * placed and planned at NOW; jobs no longer configured are dropped (a
 * result for them is then ignored).  Never fails.
 */
void co_state_apply(struct co_state *st, const struct co_config *cfg, int64_t now);

struct co_job *co_job_find(const struct co_state *st, const char *name);

/*
 * Whether request ID was handled already; if not, remember it (the state is
 * then dirty, and saved before the request is acknowledged).
 */
bool co_request_seen(struct co_state *st, const char *id);

/*
 * Placement (place.c).  co_place_bounded: rendezvous (highest random
 * weight) placement of NAME over the N HOSTS whose LOADS are below CAP
 * (LOADS NULL: all of them); co_place: over all of them.
 */
size_t co_place_bounded(const char *name, char *const *hosts, size_t n, const uint32_t *loads,
			uint32_t cap);
size_t co_place(const char *name, char *const *hosts, size_t n);

/*
 * Give every job of JOBS (N, from co_state_apply) whose host is UINT32_MAX
 * a host of CFG's hosts, in order, each bounded to ceil(jobs / hosts) of the
 * jobs on those hosts (place.c).
 */
void co_place_jobs(struct co_state *st, const struct co_config *cfg, struct co_job *jobs,
		   size_t n);

/* Backoff in seconds after FAILS consecutive failures (0 for none). */
int64_t co_backoff(uint32_t fails);

/* Compute the next dispatch of job I at NOW and (re)insert it in the due heap. */
void co_plan(struct co_state *st, uint32_t i, int64_t now);

/* Pop up to MAX jobs due at NOW into OUT; returns how many. */
size_t co_take_due(struct co_state *st, int64_t now, uint32_t *out, size_t max);

/* Pop up to MAX jobs whose oldest run passed its deadline at NOW. */
size_t co_take_overdue(struct co_state *st, int64_t now, uint32_t *out, size_t max);

/*
 * Start a run of KIND for job I at NOW (fresh job id, attempt 1); *STARTED
 * (when not NULL) gets the run, which stays owned by ST.  For a backup the
 * tags are the planned ones (plus missed schedule tags for a retry, or the
 * manual ones).  Returns BK_ELOCKED when a run of KIND is in flight.  The
 * message is built once, by co_run_message(), when it is published.
 */
int co_start(struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
	     const struct co_run **started);

/*
 * The run of KIND in flight for job I passed its deadline at NOW: a new
 * attempt (same job id, attempt + 1, new deadline) to where the job lives
 * now.  Returns the run (owned by ST).
 */
const struct co_run *co_redispatch(struct co_state *st, uint32_t i, enum co_run_kind kind,
				   int64_t now);

/* Fill M (initialised by the caller) with the message of the run of KIND in flight for job I. */
void co_run_message(const struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
		    struct bk_msg_job *m);

/* "backup", "expire" or "verify". */
const char *co_run_kind_name(enum co_run_kind kind);

/* The host run R was (last) dispatched to, "" if none (a string of ST). */
const char *co_run_host(const struct co_state *st, const struct co_run *r);

/* The run of KIND of job I was confirmed by the broker. */
void co_confirmed(struct co_state *st, uint32_t i, enum co_run_kind kind);

/*
 * Apply result R, delivered with routing key KEY, at NOW.  For
 * CO_RESULT_DONE and CO_RESULT_EXPIRE *JOB is the job's index.
 */
enum co_result co_result(struct co_state *st, const struct bk_msg_result *r, const char *key,
			 int64_t now, uint32_t *job);

/* "unknown_job", "wrong_host", "routing_key" or "stale" (metrics label); NULL for the others. */
const char *co_result_drop_reason(enum co_result res);

/*
 * A manual run of NAME with TAGS (empty: CO_DEFAULT_MANUAL_TAG): it is
 * dispatched at the next tick, or right after the backup or expiry in
 * flight.  Tags
 * must be schedule tags of the job or "manual:" tags.
 */
int co_request_run(struct co_state *st, const char *name, const struct bk_strv *tags,
		   int64_t now, struct bk_err *err);

/* Record heartbeat HB, delivered with routing key KEY, received at NOW (or drop it). */
enum co_hb co_heartbeat(struct co_state *st, const struct bk_msg_heartbeat *hb, const char *key,
			int64_t now);

/* "unknown_host" or "routing_key" (metrics label); NULL for CO_HB_OK. */
const char *co_hb_drop_reason(enum co_hb res);

/* Whether HOST is named by the current config (its hosts list, or a job's host). */
bool co_host_configured(const struct co_state *st, const char *host);

/* SLA of job J at NOW (schedule.h's bk_sla_ok on the synthetic history). */
bool co_job_sla(const struct co_job *j, int64_t now, int64_t *overdue);

/* The progress the last heartbeat of HOST reported for JOB, or NULL. */
const struct bk_msg_progress *co_progress(const struct co_state *st, const char *host,
					  const char *job);

/* "running", "failed", "finished" or "waiting". */
const char *co_job_status(const struct co_job *j);

/*
 * The state file (the snapshot, state_file.c): a line-oriented text file written
 * atomically (temporary file, fsync, rename, fsync of the directory).  Its
 * header names the generation of the journal that continues it (st->gen;
 * state_journal.h); its last line, "end sum=HEX", the hash (bk_hash64) of every
 * byte before it.  co_state_load() fills an empty state (before the first
 * co_state_apply) from the state file alone; a missing file is an empty
 * state, a malformed one BK_ECORRUPT naming the line, one whose checksum
 * does not match BK_ECORRUPT naming the file.  Files of versions 1 and 2
 * (no checksum; runs without host=, which then get their job's host) are
 * still read.  co_state_save()
 * clears every change mark (the snapshot covers everything).  The daemon
 * goes through state_journal.h, which adds the journal to both.
 */
void co_state_format(const struct co_state *st, int64_t now, struct bk_buf *out);
int co_state_parse(struct co_state *st, const char *buf, size_t len, const char *name,
		   struct bk_err *err);
int co_state_save(struct co_state *st, const char *path, int64_t now, struct bk_err *err);
int co_state_load(struct co_state *st, const char *path, struct bk_err *err);

/*
 * Journal records (state_journal.h frames them).  co_state_format_changes()
 * appends to OUT the records of what changed since the last
 * co_state_changes_done(): per changed job its 'J' line and one 'R' line
 * per run in flight (or only 'K name= kind= id=' lines when just the
 * confirmed flag changed), then 'Q id=' lines of the requests remembered
 * since; returns how many lines.  co_state_record() applies one such line
 * (NUL-terminated, modified in place) to a loaded state: 'J' replaces the
 * job of that name (clearing its runs) or adds it, 'R' sets a run, 'K'
 * marks the run with that id confirmed, 'Q' remembers a request id.
 * Errors are BK_ECORRUPT naming NAME and LINE.
 */
size_t co_state_format_changes(const struct co_state *st, struct bk_buf *out);
void co_state_changes_done(struct co_state *st);
int co_state_record(struct co_state *st, char *line, const char *name, int lineno,
		    struct bk_err *err);

/* GET /v1/status, /v1/workers and /metrics bodies (status.c). */
void co_status_json(const struct co_state *st, int64_t now, const char *role, struct bk_buf *out);
void co_workers_json(const struct co_state *st, struct bk_buf *out);
void co_metrics(const struct co_state *st, int64_t now, bool active, struct bk_buf *out);

#endif
