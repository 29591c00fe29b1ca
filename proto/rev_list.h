/*
 * rev_list.h: the revision list `backy status --json` prints (backy(1)).
 *
 * A JSON array, one object per revision, oldest first, indented by two:
 *
 *   [{"uuid": ID, "timestamp": ISO 8601, "parent": ID (null when none),
 *     "tags": [...], "trust": "trusted" | "untrusted" | "distrusted" | ...,
 *     "size": N, "bytes_written": N, "complete": B,
 *     "duration": seconds (null while incomplete),
 *     "consistency": TEXT (omitted when unknown)}, ...]
 *
 * Scripts parse it, so the shape is a compatibility promise: fields are only
 * ever added.
 *
 * Ownership: struct bk_rev_entry borrows every pointer from the caller for
 * the duration of the call.
 */
#ifndef BK_REV_LIST_H
#define BK_REV_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "strv.h"

struct bk_rev_entry {
	const char *uuid;
	int64_t timestamp;          /* microseconds UTC */
	const char *parent;         /* NULL or "": none (written as null) */
	const struct bk_strv *tags; /* NULL: none */
	const char *trust;          /* bk_trust_name() */
	uint64_t size;              /* at most INT64_MAX */
	uint64_t bytes_written;     /* at most INT64_MAX */
	bool complete;
	double duration;         /* seconds; written only when complete */
	const char *consistency; /* NULL or "": unknown */
};

/* Append the N entries of REVS as the indented JSON array plus a newline to OUT. */
int bk_rev_list_encode(const struct bk_rev_entry *revs, size_t n, struct bk_buf *out,
		       struct bk_err *err);

#endif
