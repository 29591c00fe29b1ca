/*
 * report.h: the job report, the document `backy --result FILE` writes and
 * backy-worker reads when the child has ended.
 *
 * One compact JSON object (docs/operations.md, "backy --result"):
 *
 *   {"outcome": "ok" | "failed" | "skipped",
 *    "error": {"code": "BK_ESOURCE", "message": "..."},      failed: required,
 *                                                            skipped: optional, ok: never
 *    "revision": "<id>", "tags": ["daily", ...],             optional
 *    "stats": {"bytes_written": N, "size": N, "duration": S, "full": B},  optional
 *    "verify": {"checked": N, "distrusted": N,                          optional
 *               "distrusted_revisions": ["<id>", ...]}}                 (scrub_counts.h)
 *
 * Design notes
 *
 * 1. The file comes from a child process that may have crashed half-way or
 *    been replaced: bk_report_decode() checks everything (size, nesting,
 *    duplicate keys, unknown fields, types, ranges, names) and turns any
 *    garbage into BK_EPROTO with a message, never a partial struct.
 *
 * 2. bk_report_encode() validates by decoding its own output, so what the
 *    CLI writes is always something the worker accepts; a report that cannot
 *    be encoded (an invalid tag, say) is an error for the writer.
 *
 * 3. Error messages come from anywhere (file names, librbd): use
 *    bk_report_set_error(), which makes any text acceptable (control
 *    characters and invalid UTF-8 become '?', long text is cut).
 *
 * Ownership: struct bk_report owns what it points to; _release() frees it
 * and leaves the struct as after _init().  Decoding fills a caller-provided,
 * initialised struct (releasing what it held first; on failure it is left
 * released); encoding appends to a caller-provided bk_buf.
 */
#ifndef BK_REPORT_H
#define BK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "id.h"
#include "scrub_counts.h"
#include "strv.h"

#define BK_REPORT_MAX_BYTES (64 * 1024) /* of the whole document */
#define BK_REPORT_MAX_TEXT 1024         /* bytes of error.message */
#define BK_REPORT_CODE_MAX 64           /* bytes of error.code, [A-Z][A-Z0-9_]* */
#define BK_REPORT_MAX_TAGS 64
#define BK_REPORT_MAX_DURATION 1e9 /* seconds */

enum bk_report_outcome {
	BK_REPORT_OK = 0,
	BK_REPORT_FAILED,
	BK_REPORT_SKIPPED, /* nothing to do (no tag due): not an error */
};

struct bk_report_stats {
	uint64_t bytes_written; /* at most INT64_MAX */
	uint64_t size;          /* image size in bytes, at most INT64_MAX */
	double duration;        /* seconds, 0 to BK_REPORT_MAX_DURATION */
	bool full;              /* a full backup, not an incremental one */
};

struct bk_report {
	enum bk_report_outcome outcome;
	char error_code[BK_REPORT_CODE_MAX + 1]; /* bk_error_name() of the failure, or "" */
	char *error_message;                     /* owned, 1 to BK_REPORT_MAX_TEXT bytes, or NULL */
	char revision[BK_ID_MAX + 1];            /* revision made or checked, or "" */
	struct bk_strv tags;                     /* its tags (bk_tag_valid, distinct) */
	bool has_stats;
	struct bk_report_stats stats;
	bool has_verify;                         /* `backy verify`: what it found */
	struct bk_scrub_counts verify;
};

void bk_report_init(struct bk_report *r);
void bk_report_release(struct bk_report *r);

/* "ok", "failed", "skipped". */
const char *bk_report_outcome_name(enum bk_report_outcome outcome);

/*
 * Set the error to CODE (a wire name such as bk_error_name() returns) and a
 * copy of MESSAGE made valid (design note 3; NULL or "" becomes "failed
 * without a message").  Replaces an earlier error.
 */
void bk_report_set_error(struct bk_report *r, const char *code, const char *message);

/* Append R as compact JSON to OUT; BK_EPROTO (and nothing appended) if R is invalid. */
int bk_report_encode(const struct bk_report *r, struct bk_buf *out, struct bk_err *err);

/* Parse and validate LEN bytes of TEXT into OUT (design note 1). */
int bk_report_decode(const void *text, size_t len, struct bk_report *out, struct bk_err *err);

/* Field by field (duration exactly). */
bool bk_report_equal(const struct bk_report *a, const struct bk_report *b);

#endif
