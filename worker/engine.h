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
};

/*
 * Back the configured source up into a new revision carrying TAGS.  The new
 * revision is a reflink clone of the newest revision (a full copy, with a
 * warning, where the file system cannot clone); only blocks whose digest
 * differs from the parent's manifest are written, zero blocks become holes.
 * The written blocks and a sample of the others are read back and checked
 * before the revision is committed.  Parent data is not trusted while a
 * revision since the last full backup is distrusted.
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
 * Re-read revision IDX from disk and compare it with its manifest.  Marks
 * it verified, or distrusted with a quarantine report (BK_EVERIFY).
 */
int bk_verify(struct bk_repo *repo, size_t idx, bool progress, struct bk_err *err);

#endif
