/*
 * proto.h: the wire format of the backy fleet, message structs <-> JSON.
 *
 * Four kinds of message travel through RabbitMQ (docs/messages.md is the
 * reference for people writing consumers in other languages; the exchange
 * and queue names are in topology.h):
 *
 *   job        coordinator -> worker   backy.jobs (direct, key = host)
 *   result     worker -> anyone        backy.results (topic,
 *                                      key = <action>.<outcome>.<host>.<job>)
 *   heartbeat  worker -> coordinator   backy.workers (topic, key = host)
 *   request    backyctl -> coordinator backy.control (direct, key "request")
 *   reply      coordinator -> requester  the request's AMQP reply_to (default
 *                                      exchange), correlation_id = its id
 *
 * Every message is one JSON object with an envelope:
 *
 *   {"schema": "backy/1.0", "kind": "job", "id": "<id>", "time": "<ISO 8601 UTC>", ...}
 *
 * Design notes
 *
 * 1. Nothing above this module sees jansson: messages are plain structs,
 *    jansson errors become BK_EPROTO with a message in struct bk_err.
 *
 * 2. Versions.  "backy/MAJOR.MINOR".  A minor release only adds optional
 *    fields; anything else (a new required field, a new value of an enum,
 *    a changed meaning) is a new major.  So a decoder rejects an unknown
 *    major with BK_EVERSION, accepts any minor of its major, rejects unknown
 *    fields in messages of its own (or an older) minor -- they are typos or
 *    bugs -- and ignores unknown fields of a newer minor, which still have
 *    to respect the generic limits below.  Encoders always write
 *    BK_MSG_MAJOR.BK_MSG_MINOR.
 *
 * 3. Strictness.  A decoded message is completely valid: sizes, nesting,
 *    string lengths and characters, ranges and cross-field rules are all
 *    checked here, so the worker may use a job name as a directory name
 *    and a host as a routing key without looking again.  Duplicate keys,
 *    "\u0000" in strings, invalid UTF-8 and top-level values other than an
 *    object are rejected.  Integer fields must be JSON integers (1.0 is not
 *    one), never negative.  Numbers too large for int64 are rejected.
 *
 * 4. Encoding validates too: bk_msg_encode() serialises, then decodes its own
 *    output with the strict decoder, so nothing invalid is ever published
 *    and encode -> decode round-trips exactly (bk_msg_equal() holds).
 *
 * 5. Ids.  The envelope id is unique per message (a fresh short id, 22
 *    base-57 characters; decoders accept any bk_id_valid() string, so
 *    consumers may use uuids).  A job also carries a job_id that stays the
 *    same when the coordinator re-dispatches the job after its deadline
 *    (attempt + 1); the worker records results by job_id, answers a
 *    redelivered or re-dispatched job that already finished from the
 *    record, and every result echoes the job_id.
 *
 * 6. Secrets never travel: a job's source names the pool/image/vm or file,
 *    tokens and keys stay in each worker's local configuration.  The source
 *    is the one model of source_spec.h and is checked by its validator.
 *
 * 7. Names.  Job, host and vm names are 1 to 64 characters from
 *    [A-Za-z0-9._-], not starting with '.' or '-' (so never "." or ".."
 *    and never an option): the worker uses the job name as a directory
 *    name under its backup root.  Result routing keys write '.' inside
 *    host and job names as ':' (not a name character) so they always have
 *    exactly four words: "backup.ok.backy01.vm01:root".  Host names are
 *    also valid in the queue names of topology.h.
 *
 * 8. Times are microseconds UTC (clock.h).  On the wire: ISO 8601 with a
 *    date, a time and an explicit zone (Z or +HH:MM); encoders write
 *    "2026-11-26T12:00:00.123456+00:00".  Accepted range: after the Unix
 *    epoch and before year 10000.
 *
 * Ownership: every struct owns what it points to; _release() frees it and
 * leaves the struct as after _init().  Decoding fills a caller-provided
 * struct; encoding appends to a caller-provided bk_buf.
 */
#ifndef BK_PROTO_H
#define BK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "id.h"
#include "schedule.h"
#include "scrub_counts.h"
#include "source_spec.h"
#include "strv.h"

#define BK_MSG_SCHEMA_NAME "backy"
#define BK_MSG_MAJOR 1
#define BK_MSG_MINOR 1 /* 1.1: reply; heartbeat progress; job older_than, result verify, request verify */

/* Limits on everything a peer controls. */
#define BK_MSG_MAX_BODY (64 * 1024) /* bytes of one message body */
#define BK_MSG_MAX_DEPTH 8          /* nesting of objects and arrays; the envelope is 1 */
#define BK_MSG_MAX_STRING 256       /* bytes of a string or key unless noted otherwise */
#define BK_MSG_MAX_TEXT 1024        /* bytes of error.message */
#define BK_MSG_MAX_PATH BK_SOURCE_PATH_MAX /* bytes of source.filename */
#define BK_MSG_MAX_ITEMS 64         /* items of an array, members of an object */
#define BK_MSG_NAME_MAX BK_NAME_MAX /* job, host, vm, pool, image, version, error code */
#define BK_MSG_MAX_ATTEMPT 1000
#define BK_MSG_MAX_SLOTS 1024
#define BK_MSG_MAX_KEEP 100000
#define BK_MSG_MAX_DURATION 1e9 /* seconds, stats.duration */

/* Longest routing key bk_msg_routing_key() writes, excluding the NUL. */
#define BK_MSG_ROUTING_KEY_MAX (8 + 1 + 8 + 1 + BK_MSG_NAME_MAX + 1 + BK_MSG_NAME_MAX)

enum bk_msg_kind {
	BK_MSG_NONE = 0, /* an initialised or released struct bk_msg */
	BK_MSG_JOB,
	BK_MSG_RESULT,
	BK_MSG_HEARTBEAT,
	BK_MSG_REQUEST,
	BK_MSG_REPLY, /* 1.1: only to those who asked (reply_to), see docs/messages.md */
};

/* What a job does (and what a result reports on). */
enum bk_msg_action {
	BK_ACTION_NONE = 0, /* only in rejected results of undecodable jobs */
	BK_ACTION_BACKUP,
	BK_ACTION_EXPIRE,
	BK_ACTION_VERIFY,
};

enum bk_msg_outcome {
	BK_OUTCOME_OK = 0,
	BK_OUTCOME_FAILED,   /* ran and failed: error required */
	BK_OUTCOME_SKIPPED,  /* not run (deadline passed, repository busy, ...): error required */
	BK_OUTCOME_REJECTED, /* invalid job, never run: error required, job may be unknown */
};

enum bk_msg_request_action {
	BK_REQUEST_NONE = 0,
	BK_REQUEST_RUN,    /* run JOB now (backup with TAGS) */
	BK_REQUEST_EXPIRE, /* expire JOB now */
	BK_REQUEST_STATUS, /* status of JOB, or of the fleet when job is "" */
	BK_REQUEST_VERIFY, /* verify (scrub) JOB now (1.1) */
};

/* The envelope.  bk_msg_head_new() fills it for a message about to be sent. */
struct bk_msg_head {
	char id[BK_ID_MAX + 1]; /* unique per message */
	int64_t time;           /* when the message was made, microseconds UTC */
	unsigned minor;         /* schema minor of a decoded message (ignored by encoders) */
};

struct bk_msg_job {
	struct bk_msg_head head;
	char job_id[BK_ID_MAX + 1];     /* stable across re-dispatches (note 5) */
	char job[BK_MSG_NAME_MAX + 1];  /* repository name on the worker */
	char host[BK_MSG_NAME_MAX + 1]; /* storage host that must run it */
	enum bk_msg_action action;
	struct bk_strv tags;            /* backup: the tags of the new revision (1 or more) */
	int64_t deadline;               /* no result by then: the coordinator re-dispatches */
	unsigned attempt;               /* 1 for the first dispatch */
	struct bk_source_spec source;   /* required for backup, optional otherwise; NONE: */
					/* absent (keep the repository's source) */
	struct bk_schedule schedule;    /* optional (n == 0: absent) */
	int64_t older_than;             /* verify only: check the revisions last verified */
					/* (never: made) more than this many seconds ago; */
					/* 0: absent (every revision) */
};

struct bk_msg_stats {
	uint64_t bytes_written; /* at most INT64_MAX */
	uint64_t size;          /* image size in bytes, at most INT64_MAX */
	double duration;        /* seconds, 0 to BK_MSG_MAX_DURATION */
};

struct bk_msg_result {
	struct bk_msg_head head;
	char job_id[BK_ID_MAX + 1];     /* the job's job_id; "" only in rejected results */
	char job[BK_MSG_NAME_MAX + 1];  /* "" only in rejected results */
	char host[BK_MSG_NAME_MAX + 1]; /* the worker's host, always */
	enum bk_msg_action action;      /* BK_ACTION_NONE only in rejected results */
	enum bk_msg_outcome outcome;
	/* Present (non-empty code) exactly when outcome is not OK. */
	char error_code[BK_MSG_NAME_MAX + 1]; /* bk_error_name(): "BK_ESOURCE", "EIO" */
	char *error_message;                  /* owned, 1 to BK_MSG_MAX_TEXT bytes, or NULL */
	bool error_transient;                 /* retrying later may succeed */
	char revision[BK_ID_MAX + 1];         /* revision made (backup) or checked (verify), or "" */
	struct bk_strv tags;                  /* tags of that revision */
	int64_t started;                      /* required unless rejected (0: absent) */
	int64_t finished;                     /* required unless rejected, >= started */
	bool has_stats;
	struct bk_msg_stats stats;
	bool has_verify;                      /* verify results: what the run found */
	struct bk_scrub_counts verify;
};

/* How far a running job is (1.1), from its backy child (progress_doc.h). */
struct bk_msg_progress {
	char job[BK_MSG_NAME_MAX + 1]; /* one of the heartbeat's running jobs */
	char phase[16];                /* "backup", "restore" or "verify" */
	uint64_t done;                 /* bytes, at most total */
	uint64_t total;                /* bytes, at most INT64_MAX */
};

struct bk_msg_heartbeat {
	struct bk_msg_head head;
	char host[BK_MSG_NAME_MAX + 1];
	char version[BK_MSG_NAME_MAX + 1]; /* backy version, [A-Za-z0-9._+~-] */
	unsigned slots;                    /* jobs it runs at once, 0 to BK_MSG_MAX_SLOTS */
	unsigned busy;                     /* slots in use, <= slots */
	uint64_t free_bytes;               /* free space of the backup file system */
	struct bk_strv running;            /* names of the jobs running now, at most slots */
	struct bk_msg_progress *progress;  /* owned: of running jobs that report it (1.1) */
	size_t nprogress;                  /* at most running.n */
};

struct bk_msg_request {
	struct bk_msg_head head;
	enum bk_msg_request_action action;
	char job[BK_MSG_NAME_MAX + 1];  /* required for run, expire and verify, optional for status */
	struct bk_strv tags;            /* run only; empty: the coordinator's default tags */
	char user[BK_MSG_NAME_MAX + 1]; /* who asked (for the audit log), or "" */
};

/*
 * The coordinator's answer to a request that named a reply_to: accepted
 * (for run and expire with the job id of the run it started, when it
 * started one) or refused with an error.
 */
struct bk_msg_reply {
	struct bk_msg_head head;
	char request_id[BK_ID_MAX + 1]; /* the request's envelope id */
	enum bk_msg_request_action action;
	char job[BK_MSG_NAME_MAX + 1];  /* the request's job, or "" */
	bool accepted;
	char job_id[BK_ID_MAX + 1];     /* accepted run/expire: the run started for it, or "" */
	char error_code[BK_MSG_NAME_MAX + 1]; /* exactly when refused */
	char *message;                  /* owned: why refused (required then), or a note, or NULL */
};

/* Any message; KIND says which member of U is live. */
struct bk_msg {
	enum bk_msg_kind kind;
	union {
		struct bk_msg_job job;
		struct bk_msg_result result;
		struct bk_msg_heartbeat heartbeat;
		struct bk_msg_request request;
		struct bk_msg_reply reply;
	} u;
};

void bk_msg_head_new(struct bk_msg_head *head); /* fresh short id, bk_now() */

void bk_msg_job_init(struct bk_msg_job *m);
void bk_msg_job_release(struct bk_msg_job *m);
void bk_msg_result_init(struct bk_msg_result *m);
void bk_msg_result_release(struct bk_msg_result *m);
void bk_msg_heartbeat_init(struct bk_msg_heartbeat *m);
void bk_msg_heartbeat_release(struct bk_msg_heartbeat *m);
void bk_msg_request_init(struct bk_msg_request *m);
void bk_msg_request_release(struct bk_msg_request *m);
void bk_msg_reply_init(struct bk_msg_reply *m);
void bk_msg_reply_release(struct bk_msg_reply *m);

/*
 * Set the error of a result.  MESSAGE (any text, e.g. a child's stderr line)
 * is copied, cut to BK_MSG_MAX_TEXT bytes at a character boundary, with
 * control characters other than tab and newline replaced by '?'.
 */
void bk_msg_result_set_error(struct bk_msg_result *m, const char *code, const char *message,
			     bool transient);

/* bk_msg_init: kind NONE.  bk_msg_release: release the live member, back to NONE. */
void bk_msg_init(struct bk_msg *m);
void bk_msg_release(struct bk_msg *m);

/*
 * Decode and validate one message body of LEN bytes (not NUL-terminated).
 * OUT needs no initialisation; its previous content is not freed.  On
 * success OUT holds the message and the caller must bk_msg_release() it;
 * on failure OUT is kind NONE and the return value is BK_EVERSION (a
 * major this code does not speak) or BK_EPROTO, with the reason in ERR
 * ("invalid job message: field 'job' is not a valid name: '../x'").
 */
int bk_msg_decode(const void *body, size_t len, struct bk_msg *out, struct bk_err *err);

/*
 * Encode M (compact JSON, no trailing newline) and append it to OUT.
 * Returns 0, or BK_EPROTO when M is not a valid message (OUT unchanged).
 * head.minor is ignored: encoders always write BK_MSG_MAJOR.BK_MSG_MINOR.
 */
int bk_msg_encode(const struct bk_msg *m, struct bk_buf *out, struct bk_err *err);
int bk_msg_encode_job(const struct bk_msg_job *m, struct bk_buf *out, struct bk_err *err);
int bk_msg_encode_result(const struct bk_msg_result *m, struct bk_buf *out, struct bk_err *err);
int bk_msg_encode_heartbeat(const struct bk_msg_heartbeat *m, struct bk_buf *out,
			    struct bk_err *err);
int bk_msg_encode_request(const struct bk_msg_request *m, struct bk_buf *out,
			  struct bk_err *err);
int bk_msg_encode_reply(const struct bk_msg_reply *m, struct bk_buf *out, struct bk_err *err);

/* Whether A and B carry the same message (every field but head.minor). */
bool bk_msg_equal(const struct bk_msg *a, const struct bk_msg *b);

/*
 * What can be salvaged from a body that failed to decode, to address a
 * rejected result: each field is filled only when present and valid by
 * itself ("" / BK_ACTION_NONE otherwise).  Never fails, never allocates
 * beyond the parse, applies the same size and depth limits.
 */
struct bk_msg_peek {
	enum bk_msg_kind kind;
	char id[BK_ID_MAX + 1];
	char job_id[BK_ID_MAX + 1];
	char job[BK_MSG_NAME_MAX + 1];
	enum bk_msg_action action;
};
void bk_msg_peek(const void *body, size_t len, struct bk_msg_peek *out);

/*
 * Routing key of M into OUT (BK_MSG_ROUTING_KEY_MAX + 1 bytes): the host
 * for jobs and heartbeats, BK_KEY_REQUEST for requests and
 * "<action>.<outcome>.<host>.<job>" for results, where '.' inside host and
 * job is written as ':' and an unknown action or job as "-" (rejected
 * results).  M must be valid (as decoded, or accepted by the encoder).
 */
void bk_msg_routing_key(const struct bk_msg *m, char *out);
void bk_msg_routing_key_result(const struct bk_msg_result *r, char *out);

/*
 * Wire names ("job", "backup", "ok", "run"); NULL for values out of range.
 * Source types are bk_source_type_name()'s (source_spec.h).
 */
const char *bk_msg_kind_name(enum bk_msg_kind kind);
const char *bk_msg_action_name(enum bk_msg_action action);
const char *bk_msg_outcome_name(enum bk_msg_outcome outcome);
const char *bk_msg_request_action_name(enum bk_msg_request_action action);

/*
 * Error codes on the wire are bk_error_name() names: "BK_ESOURCE" for
 * project codes, "EIO" for errno values, "EUNKNOWN" otherwise.  This maps a
 * name back to its code, 0 when the name is unknown (a newer worker's code).
 */
int bk_msg_errcode_parse(const char *name);

/* Whether S is a valid job, host or vm name (note 7; bk_name_valid()). */
bool bk_msg_name_valid(const char *s);

#endif
