/*
 * check.h: reading a revision and checking its data against its manifest,
 * and collecting what did not match (the body of a quarantine report).
 *
 * Every path that reads a revision (restore to a file or device, restore
 * into RBD, verify) checks each block on the way: one bad block in a shared
 * extent poisons every revision using it, so it must be seen where it is read.
 */
#ifndef BK_CHECK_H
#define BK_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "hash.h"
#include "manifest.h"
#include "progress.h"

#define BK_QUARANTINE_MAX 1000 /* mismatches listed in one report */

/* A block whose data did not match: where, and both digests. */
struct bk_mismatch {
	uint64_t off, len;
	struct bk_digest expected, actual;
};

/*
 * What a check found: blocks that did not match, and NOTE, a finding that
 * is not a block (a damaged manifest).  A block found twice (by the
 * read-back and by the comparison with the source) is one mismatch, the
 * first finding listed.
 */
struct bk_quarantine {
	struct bk_mismatch *list; /* the first BK_QUARANTINE_MAX, in the order found */
	unsigned listed;
	unsigned count;           /* all mismatches, also those past BK_QUARANTINE_MAX */
	char note[1024];          /* "" or one line */
};

void bk_quarantine_init(struct bk_quarantine *q);
void bk_quarantine_release(struct bk_quarantine *q);
void bk_quarantine_add(struct bk_quarantine *q, uint64_t off, uint64_t len,
		       const struct bk_digest *expected, const struct bk_digest *actual);
/*
 * Add the mismatches of another check, FROM, to Q: a block both list is
 * one mismatch, Q's finding; the rest are added (bk_quarantine_add).
 */
void bk_quarantine_merge(struct bk_quarantine *q, const struct bk_quarantine *from);
/* Append Q as the YAML list of a report: the note as a comment, then the blocks. */
void bk_quarantine_format(const struct bk_quarantine *q, struct bk_buf *out);

/*
 * Check the blocks of one chunk (at OFF, LEN bytes, in BUF unless HOLE, which
 * reads as zeros) against their manifest digests DIG; record mismatches in Q.
 */
void bk_check_chunk(const struct bk_manifest *m, const unsigned char *buf, bool hole,
		    uint64_t off, uint64_t len, const struct bk_digest *dig,
		    struct bk_quarantine *q);

/* Whether [OFF, OFF+LEN) of the image FD is a hole. */
bool bk_image_hole(int fd, uint64_t off, uint64_t len);

/*
 * Open revision IDX of REPO for reading: its image (*FD) and manifest (M),
 * checking the whole manifest (every segment against its seal, before
 * anything is written anywhere) and that the sizes agree (BK_ECORRUPT when
 * not).  On failure nothing stays open.
 */
struct bk_repo;
int bk_rev_open(struct bk_repo *repo, size_t idx, int *fd, struct bk_manifest *m,
		struct bk_err *err);

/* The largest piece bk_rev_read hands to a sink (block aligned). */
#define BK_REV_CHUNK (4u << 20)

/*
 * Where bk_rev_read puts what it read: restore to a file, device or
 * stream (engine.c), restore into RBD (rbd_restore.c), verify (nothing).
 */
struct bk_rev_sink {
	/*
	 * The buffer (BK_REV_CHUNK bytes, the sink's) the chunk at OFF is read
	 * into, or NULL with ERR set.  A sink with writes in flight hands out a
	 * free one.
	 */
	unsigned char *(*buffer)(void *arg, uint64_t off, struct bk_err *err);
	/* The checked chunk: LEN bytes at OFF in BUF (zeros if HOLE); < 0 stops, ERR set. */
	int (*put)(void *arg, uint64_t off, uint64_t len, unsigned char *buf, bool hole,
		   struct bk_err *err);
	void *arg;
};

/*
 * The one loop that reads a revision (image FD, manifest M, id ID for
 * messages): chunk by chunk in order, each block checked against the
 * manifest (mismatches into Q), then given to SINK.  With FIND_HOLES, holes
 * of the image are not read (they are zeros); without, every byte is read
 * from the disk (verify).  PROG shows progress (may be NULL).  Returns 0
 * when everything was read and put, also with mismatches in Q.
 */
int bk_rev_read(int fd, struct bk_manifest *m, const char *id, bool find_holes,
		struct bk_progress *prog, const struct bk_rev_sink *sink, struct bk_quarantine *q,
		struct bk_err *err);

/*
 * The end of a restore of revision ID that read everything: 0, or, when Q
 * holds mismatches, the list logged as an error and BK_EVERIFY in ERR (the
 * target was written all the same: the operator decides what to keep).
 */
int bk_restore_verdict(const char *id, const struct bk_quarantine *q, struct bk_err *err);

#endif
