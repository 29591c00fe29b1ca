/*
 * status_doc.h: the coordinator's status documents, GET /v1/status and
 * GET /v1/workers, written by backy-coordinator (coordinator/status.c) and
 * read by backyctl and by monitoring scripts (backy-coordinator(8)).
 *
 *   /v1/status  {"jobs": {NAME: JOB, ...},
 *                "workers": WORKERS,
 *                "coordinator": {"role", "now", "jobs", "in_flight",
 *                                "sla_overdue", "version"}}
 *   JOB         {"sla": "OK" | "TOO OLD", "sla_overdue": seconds,
 *                "status": "waiting" | "running" | "failed" | "finished",
 *                "last_time": TIME | null, "last_tags": "daily,weekly",
 *                "last_duration": seconds | null, "next_time": TIME | null,
 *                "next_tags", "manual_tags", "host", "schedule",
 *                "backoff": seconds, "failures": N, "last_error": TEXT | null,
 *                "running": {"job_id", "attempt", "tags", "dispatched",
 *                            "deadline", "progress": {"phase", "done", "total"}
 *                            (when the worker reports it)} | null,
 *                "expiring": B, "scrub": SCRUB}
 *   SCRUB       {"next": TIME | null, "last": TIME | null, "last_ok": TIME | null,
 *                "checked": N, "checked_total": N, "distrusted_found": N,
 *                "failures": N, "failures_total": N,
 *                "distrusted": "rev1,rev2", "running": B}    (coordinator/scrub.h)
 *   /v1/workers {HOST: {"version", "slots", "busy", "free_bytes", "running",
 *                "last_seen": TIME | null, "age": seconds}, ...}
 *
 * TIME is ISO 8601 UTC ("2026-11-26T12:00:00.000000+00:00"); members keep
 * the order above (jobs and workers in the coordinator's order).
 *
 * Design notes
 *
 * 1. Compatibility: scripts parse these documents, so fields are only ever
 *    added.  The decoder checks the type of every field it knows and
 *    requires all of them but "scrub" (added later: optional), and ignores
 *    fields it does not know (a newer coordinator may have added some).
 *
 * 2. Limits: a document is at most BK_STATUS_MAX_BYTES, nested at most 5
 *    deep, strings at most BK_STATUS_MAX_STRING bytes.
 *
 * Ownership: for encoding, every pointer in these structs is borrowed from
 * the caller for the duration of the call.  A decoded struct
 * bk_status_doc owns its arrays and strings; bk_status_doc_release() frees
 * them and leaves it as after _init().
 */
#ifndef BK_STATUS_DOC_H
#define BK_STATUS_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define BK_STATUS_MAX_BYTES ((size_t)256 << 20)
#define BK_STATUS_MAX_STRING 65536

/* The backup of a job in flight. */
struct bk_status_run {
	const char *job_id;
	unsigned attempt;
	const char *tags;   /* comma-separated */
	int64_t dispatched; /* microseconds UTC, 0: null */
	int64_t deadline;   /* idem */
	const char *phase;  /* progress from the worker's heartbeats: "backup", ...; NULL or "": none */
	uint64_t done, total; /* bytes */
};

/* The scrub of a job (coordinator/scrub.h). */
struct bk_status_scrub {
	int64_t next;               /* next planned verify, 0: null */
	int64_t last;               /* the last verify result, 0: null */
	int64_t last_ok;            /* the last verify that checked what it asked for, 0: null */
	uint32_t checked;           /* revisions the last good verify checked */
	uint32_t checked_total;     /* revisions checked by every verify */
	uint32_t found_total;       /* revisions found damaged by every verify */
	uint32_t failures;          /* verify failures in a row (findings are no failures) */
	uint32_t failures_total;    /* every verify failure */
	const char *distrusted;     /* the repository's distrusted revisions at the last verify, "" none */
	bool running;               /* a verify is in flight */
};

struct bk_status_job {
	const char *name;
	bool sla_ok;           /* "OK", else "TOO OLD" */
	int64_t sla_overdue;   /* seconds past the SLA, 0 within it */
	const char *status;    /* waiting, running, failed, finished */
	int64_t last_time;     /* last good backup, 0: never (null) */
	const char *last_tags; /* its tags, comma-separated */
	double last_duration;  /* its duration in seconds (null without last_time) */
	int64_t next_time;     /* next scheduled backup, 0: null (running) */
	const char *next_tags;
	const char *manual_tags; /* tags asked for by backyctl run, "" none */
	const char *host;
	const char *schedule;
	int64_t backoff;        /* seconds of backoff after failures */
	uint32_t failures;      /* failures in a row */
	const char *last_error; /* NULL: null */
	bool running;           /* RUN is valid */
	struct bk_status_run run;
	bool expiring; /* an expiry run is in flight */
	bool has_scrub; /* SCRUB is valid (absent in a document of an older coordinator) */
	struct bk_status_scrub scrub;
};

struct bk_status_worker {
	const char *host;
	const char *version;
	unsigned slots, busy;
	uint64_t free_bytes;
	const char *running; /* the jobs it runs, comma-separated */
	int64_t last_seen;   /* microseconds UTC of the last heartbeat, 0: null */
	int64_t age;         /* seconds since that heartbeat */
};

struct bk_status_coordinator {
	const char *role; /* "active" or "standby" */
	int64_t now;      /* the coordinator's time, microseconds UTC */
	uint64_t jobs, in_flight, sla_overdue;
	const char *version;
};

struct bk_status_doc {
	struct bk_status_job *jobs;
	size_t njobs;
	struct bk_status_worker *workers;
	size_t nworkers;
	struct bk_status_coordinator coordinator;
	/* decoded documents: the strings the pointers above point to */
	char **strings;
	size_t nstrings;
};

void bk_status_doc_init(struct bk_status_doc *d);
void bk_status_doc_release(struct bk_status_doc *d);

/* Append /v1/status (with a final newline) to OUT. */
int bk_status_encode(const struct bk_status_doc *d, struct bk_buf *out, struct bk_err *err);

/* Append /v1/workers for the N workers of W (no final newline) to OUT. */
int bk_workers_encode(const struct bk_status_worker *w, size_t n, struct bk_buf *out,
		      struct bk_err *err);

/* Parse /v1/status into OUT (initialised; released first and on failure). */
int bk_status_decode(const void *text, size_t len, struct bk_status_doc *out, struct bk_err *err);

/* Parse /v1/workers into OUT->workers (same rules). */
int bk_workers_decode(const void *text, size_t len, struct bk_status_doc *out, struct bk_err *err);

#endif
