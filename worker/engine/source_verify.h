/*
 * source_verify.h: comparing a new image with the source snapshot it was
 * made from, sized to the change.
 *
 * What is compared (source config verify_*):
 *  - an incremental backup: every block it wrote with content the parent's
 *    block did not have (a whole-object diff rewrites many blocks with the
 *    parent's content: those count as the rest), plus a random sample of
 *    verify_sample of the rest (a mismatch in a block kept from the parent
 *    means the parent is damaged);
 *  - a full backup: a random sample of verify_sample of the blocks it wrote
 *    (each written block was read back against the manifest already);
 *  - with verify_full: every block.
 * The snapshot is read through the source's verify_read pipeline (many reads
 * in flight), consecutive blocks in one read of up to BK_SOURCE_VERIFY_READ.
 * An incremental whose source knows before the copy which blocks may change
 * (its changes op: a diff) is compared alongside the copy, in a thread: the
 * sample, drawn from the blocks outside the diff (the parent's, cloned,
 * whatever the copy does), at once; the blocks it wrote as the copy gets
 * past them.  Otherwise the comparison runs after the copy.
 * The whole-image check of a revision against its manifest is bk_verify
 * (engine.h), run as a scrub.
 */
#ifndef BK_SOURCE_VERIFY_H
#define BK_SOURCE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "error.h"
#include "source.h"

/* What to compare; the caller owns every pointer, which must outlive the task. */
struct bk_source_verify {
	struct bk_source *src;        /* open, with a verify_read op */
	int img_fd;                   /* the new image, readable */
	const char *img_name;         /* for messages */
	uint32_t block_size;
	uint64_t size;                /* of the image and the snapshot */
	const unsigned char *written; /* bit per block written by this backup */
	const unsigned char *fresh;   /* ... with content the parent's block did not have */
	const unsigned char *changes; /* bit per block the copy may write (the source's
				       * changes op); NULL: any */
	bool incremental;             /* the unwritten blocks were cloned from a parent */
	uint64_t seed;                /* of the random sample */
};

struct bk_source_verify_result {
	uint64_t planned;  /* blocks to compare */
	uint64_t checked;  /* ... and compared: fewer means the time budget ran out */
	bool alongside;    /* compared alongside the copy */
	bool parent_bad;   /* a mismatch in a block cloned from the parent */
};

struct bk_source_verify_task;

/*
 * Start the comparison of V, before the copy, once the new image holds the
 * parent's clone: an incremental with V->changes starts its thread (the
 * source's verify_read must allow that alongside its reads).  Every task
 * ends with exactly one of bk_source_verify_finish and _abandon.
 */
struct bk_source_verify_task *bk_source_verify_start(const struct bk_source_verify *v);

/*
 * The copy is done with every block below BLOCKS: their bits in V->written
 * and V->fresh are final (and so are the image's bytes).
 */
void bk_source_verify_copied(struct bk_source_verify_task *t, uint64_t blocks);

/*
 * After the copy: compare what is left (or everything, without a thread),
 * within the source's verify_budget counted from the end of the copy.
 * Mismatches are added to Q (the caller decides); RES says what was done.
 * Returns 0, or a negative error for an I/O failure.  Frees T.
 */
int bk_source_verify_finish(struct bk_source_verify_task *t, struct bk_quarantine *q,
			    struct bk_source_verify_result *res, struct bk_err *err);

/* Stop T's reads and free it (the backup failed); NULL is ignored. */
void bk_source_verify_abandon(struct bk_source_verify_task *t);

#endif
