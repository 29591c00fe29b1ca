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
 *   distrusted_revisions  their ids (bk_id_valid, distinct), at most
 *                         BK_SCRUB_MAX_LISTED and at most distrusted; optional
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
	struct bk_strv revisions; /* ids of the distrusted revisions */
};

void bk_scrub_counts_init(struct bk_scrub_counts *c);
void bk_scrub_counts_release(struct bk_scrub_counts *c);
void bk_scrub_counts_copy(struct bk_scrub_counts *dst, const struct bk_scrub_counts *src);
bool bk_scrub_counts_equal(const struct bk_scrub_counts *a, const struct bk_scrub_counts *b);

/*
 * Count one checked revision ID; DISTRUSTED when it was found damaged (its
 * id is listed while there is room).  Saturates at the limits.
 */
void bk_scrub_counts_add(struct bk_scrub_counts *c, const char *id, bool distrusted);

#endif
