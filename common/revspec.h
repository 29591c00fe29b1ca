/*
 * revspec.h: revision specifications (REFERENCE-BEHAVIOUR.md, "Revision specs").
 *
 * Grammar, loosest binding first (as Python backy):
 *
 *   spec    := inter { "," inter }            union, in history order
 *   inter   := range { "&" range }            intersection
 *   range   := primary [ ".." primary ]       inclusive time range
 *   primary := "(" spec ")" | FUNC "(" spec ")" | atom
 *   FUNC    := "first" | "last" | "not" | "reverse"
 *   atom    := revision id | full uuid | N (N-th newest, 0 = newest)
 *            | "last" | "latest" | "all" | "clean" | "tag:" NAME
 *            | "trust:" ("trusted" | "distrusted" | "verified")
 *            | ISO date or time (only as a side of "..")
 *
 * Each side of ".." must be exactly one revision or a date; a date-only end
 * includes that whole day; a range whose start is after its end is an error.
 * first()/last() of an empty set is an error.  Whitespace around tokens is
 * ignored.  Results are sets over the history (oldest first).
 */
#ifndef BK_REVSPEC_H
#define BK_REVSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "revision.h"

#define BK_REVSPEC_MAX_LEN 4096
#define BK_REVSPEC_MAX_DEPTH 64

/*
 * Evaluate SPEC over HIST (N revisions, oldest first).  MATCH (N entries)
 * gets true for each selected revision.  Returns 0, or BK_ESPEC / BK_ENOREV
 * with a message that quotes the offending part of the spec.
 */
int bk_revspec_eval(const char *spec, const struct bk_rev *hist, size_t n, bool *match,
		    struct bk_err *err);

/* Evaluate SPEC and require exactly one revision; its index goes to *IDX. */
int bk_revspec_one(const char *spec, const struct bk_rev *hist, size_t n, size_t *idx,
		   struct bk_err *err);

#endif
