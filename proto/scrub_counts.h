/*
 * scrub_counts.h: what one verify (scrub) run found, the one representation
 * shared by the job report of `backy verify --result` (report.h) and the
 * result message (proto.h), with its one validator and JSON codec.
 *
 * On the wire (both documents):
 *
 *   "verify": {"checked": 3, "distrusted": 1, "distrusted_revisions": ["<id>"]}
 *
 *   checked               revisions re-read and compared with their manifest,
 *                         0 to BK_SCRUB_MAX_CHECKED
 *   distrusted            of those, how many were found damaged and are now
 *                         distrusted, at most checked
 *   distrusted_revisions  the ids of every revision of the repository that is
 *                         distrusted after the run (found now or before;
 *                         bk_id_valid, distinct), at most BK_SCRUB_MAX_LISTED;
 *                         optional (absent: none)
 *
 * Ownership: the struct owns its list; _release() frees it and leaves the
 * struct as after _init().  The codec functions live in proto/ only (they
 * take jdoc.h's decoder and encoder state).
 */
#ifndef BK_SCRUB_COUNTS_H
#define BK_SCRUB_COUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "strv.h"

#define BK_SCRUB_MAX_CHECKED 100000 /* revisions of one repository (BK_MSG_MAX_KEEP) */
#define BK_SCRUB_MAX_LISTED 64      /* distrusted revision ids carried */

struct bk_scrub_counts {
	uint32_t checked;
	uint32_t distrusted;
	struct bk_strv revisions; /* ids of the repository's distrusted revisions */
};

void bk_scrub_counts_init(struct bk_scrub_counts *c);
void bk_scrub_counts_release(struct bk_scrub_counts *c);
void bk_scrub_counts_copy(struct bk_scrub_counts *dst, const struct bk_scrub_counts *src);
bool bk_scrub_counts_equal(const struct bk_scrub_counts *a, const struct bk_scrub_counts *b);

/* Count one checked revision, DISTRUSTED when it was found damaged (saturating). */
void bk_scrub_counts_add(struct bk_scrub_counts *c, bool distrusted);

/* List ID as distrusted, while there is room (a valid id, once). */
void bk_scrub_counts_list(struct bk_scrub_counts *c, const char *id);

#endif
