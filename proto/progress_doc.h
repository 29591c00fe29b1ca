/*
 * progress_doc.h: the progress of a running `backy` child, the document
 * `backy --progress-file FILE` rewrites (atomically, at most once a
 * second) and backy-worker reads for its heartbeats (docs/messages.md,
 * heartbeat "progress"):
 *
 *   {"phase": "backup" | "restore" | "verify", "done": N, "total": N}
 *
 * done and total are bytes, done <= total.  The decoder checks everything:
 * the file comes from another process and may be half-written garbage.
 */
#ifndef BK_PROGRESS_DOC_H
#define BK_PROGRESS_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define BK_PROGRESS_DOC_MAX_BYTES 1024
#define BK_PHASE_MAX 15

struct bk_progress_doc {
	char phase[BK_PHASE_MAX + 1]; /* bk_phase_valid() */
	uint64_t done;                /* bytes, at most total */
	uint64_t total;               /* bytes, at most INT64_MAX */
};

/* Whether S is a phase name: "backup", "restore" or "verify". */
bool bk_phase_valid(const char *s);

/* Append P as compact JSON to OUT; BK_EPROTO when P is invalid. */
int bk_progress_doc_encode(const struct bk_progress_doc *p, struct bk_buf *out,
			   struct bk_err *err);

/* Parse and validate LEN bytes of TEXT into OUT. */
int bk_progress_doc_decode(const void *text, size_t len, struct bk_progress_doc *out,
			   struct bk_err *err);

#endif
