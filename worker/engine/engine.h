/*
 * engine.h: backup, restore and verification of revisions.
 *
 * Every function here works on an open repository (store.h).  Functions that
 * change the repository need the writer lock (bk_repo_lock); restore does
 * not.  PROGRESS turns on a progress line on stderr.
 */
#ifndef BK_ENGINE_H
#define BK_ENGINE_H

#include <stdbool.h>

#include "error.h"
#include "store.h"
#include "strv.h"

struct bk_backup_stats {
	char id[BK_ID_MAX + 1];
	bool full;               /* no trusted parent: every block was written */
	uint64_t size;
	uint64_t bytes_read;
	uint64_t bytes_written;
	double duration;
	uint64_t verify_planned;  /* snapshot sources: blocks to compare with the snapshot */
	uint64_t verify_checked;  /* ... and compared: fewer means partially verified */
};

/*
 * Back the configured source up into a new revision carrying TAGS.  The new
 * revision is a reflink clone of the newest revision (a full copy, with a
 * warning, where the file system cannot clone); only blocks whose digest
 * differs from the parent's manifest are written, zero blocks become holes,
 * and a chunk written into that had become fragmented is rewritten whole.
 * The manifest is a clone of the parent's with only the changed digests
 * written (manifest.h); a damaged segment of the parent's fails the backup
 * with BK_ECORRUPT and distrusts the parent.
 * The written blocks and a sample of the others are read back and checked
 * before the revision is committed; for sources with a stable snapshot, the
 * blocks with new content and a sample of the others (source config
 * verify_*, source_verify.h) are also compared with the snapshot.  A mismatch fails the backup with a quarantine report and no
 * revision; running out of the verification time budget commits the
 * revision with stats->verify_checked < stats->verify_planned ("partially
 * verified").  Parent data is not trusted while a revision since the last
 * full backup is distrusted.
 */
int bk_backup(struct bk_repo *repo, const struct bk_strv *tags, bool progress,
	      struct bk_backup_stats *stats, struct bk_err *err);

/*
 * Write revision IDX to TARGET: "-" for stdout, a block device (written in
 * full, holes as zeros) or a file (created or truncated, holes kept).  The
 * target is never read.  Every block is checked against the manifest as it
 * is read; corrupt blocks are written anyway (this is a restore) and make
 * the call fail with BK_EVERIFY afterwards.
 */
int bk_restore(struct bk_repo *repo, size_t idx, const char *target, bool progress,
	       struct bk_err *err);

/*
 * Write revision IDX into the RBD image SPEC ("POOL/IMAGE"), creating it at
 * the revision's size if needed (an existing one must not be smaller), as
 * Ceph client CEPH_ID with CEPH_CONF (NULL for the defaults).
 */
int bk_restore_rbd(struct bk_repo *repo, size_t idx, const char *spec, const char *ceph_conf,
		   const char *ceph_id, bool progress, struct bk_err *err);

/*
 * Re-read revision IDX from disk and compare it with its manifest.  Marks
 * it verified, or distrusted with a quarantine report (BK_EVERIFY).
 */
int bk_verify(struct bk_repo *repo, size_t idx, bool progress, struct bk_err *err);

#endif
