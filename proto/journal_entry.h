/*
 * journal_entry.h: one entry of backy-worker's job journal, and its file
 * format (the journal itself, files and locking, is worker/daemon/job_journal.h).
 *
 * An entry is one compact JSON object:
 *
 *   {"state": "running" | "done", "job_id", "job", "pid", "pid_start",
 *    "child", "child_start", "started", "finished", "published",
 *    "digest" (absent when unknown), "result" (done entries)}
 *
 * "result" is the result message the worker publishes for the job, embedded
 * as a JSON object.  Entries of older workers hold it as a string (the
 * encoded message inside JSON): the decoder reads both, the encoder writes
 * the object.  Either way, struct bk_journal_entry carries the message as
 * its text, ready to publish.
 *
 * Decoding follows what older workers wrote: "state", "job_id" and "job"
 * are required, numbers and flags that are missing or of another type read
 * as 0 / false (never an error), an unknown "digest" is dropped.  A file
 * cut short or with trailing garbage does not parse (job_journal.h note 5).
 *
 * Ownership: the entry owns its result text; _release() frees it and leaves
 * the struct as after _init().
 */
#ifndef BK_JOURNAL_ENTRY_H
#define BK_JOURNAL_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "id.h"

#define BK_JOURNAL_NAME_MAX 64
#define BK_JOURNAL_DIGEST_MAX 64
#define BK_JOURNAL_MAX_ENTRY (256 * 1024) /* bytes of one entry file */

enum bk_journal_state {
	BK_JOURNAL_NONE = 0,
	BK_JOURNAL_RUNNING,
	BK_JOURNAL_DONE,
};

struct bk_journal_entry {
	enum bk_journal_state state;
	char job_id[BK_ID_MAX + 1];
	char job[BK_JOURNAL_NAME_MAX + 1];
	long pid; /* worker that ran the job */
	unsigned long long pid_start;
	long child; /* its backy child, 0 before the fork */
	unsigned long long child_start;
	int64_t started;                        /* microseconds UTC */
	int64_t finished;                       /* done: when the result was recorded */
	bool published;                         /* done: the result was confirmed by the broker */
	char digest[BK_JOURNAL_DIGEST_MAX + 1]; /* what the job asked for; "" unknown */
	char *result;                           /* done: owned encoded result message, else NULL */
};

/* init: zeroed, state NONE.  release: free result, back to init. */
void bk_journal_entry_init(struct bk_journal_entry *e);
void bk_journal_entry_release(struct bk_journal_entry *e);

/* Set the owned result text (a copy of S). */
void bk_journal_entry_set_result(struct bk_journal_entry *e, const char *s);

/*
 * Append E as JSON to OUT.  BK_EUSAGE when E has no state or an invalid
 * job id, BK_EPROTO when its result is not a JSON object.
 */
int bk_journal_entry_encode(const struct bk_journal_entry *e, struct bk_buf *out,
			    struct bk_err *err);

/*
 * Parse LEN bytes of TEXT into E (which needs no initialisation; release it
 * after success).  BK_ECORRUPT when it is not an entry.
 */
int bk_journal_entry_decode(const void *text, size_t len, struct bk_journal_entry *e,
			    struct bk_err *err);

#endif
