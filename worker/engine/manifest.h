/*
 * manifest.h: per-block checksum manifests (<repo>/<id>.sums).
 *
 * Version 2 (written since issue 12), all integers little-endian:
 *
 *   0     4096 bytes  header block: magic "BKYSUMS2", u32 block size (a power
 *                     of two, 4 KiB .. 4 MiB), u32 digests per segment
 *                     (BK_MANIFEST_SEGMENT), u64 image size in bytes, u64
 *                     number of blocks = ceil(image size / block size); the
 *                     rest of the block is zeros
 *   4096  16 bytes    XXH3-128 digest of each block, in order; the last block
 *                     is hashed over its real (possibly short) length
 *   T     16 bytes    per segment (BK_MANIFEST_SEGMENT digests, the last one
 *                     possibly shorter): XXH3-128 of its digests, seeded with
 *                     the segment's index (the segment table);
 *                     T = 4096 + 16 * number of blocks
 *   end   16 bytes    XXH3-128 of the header block and the segment table
 *                     (the table seal)
 *
 * A reader checks header, length and table seal at open (a few KiB even
 * for a terabyte image) and each segment against its seal the first time
 * it reads from it, so a torn or bit-rotten manifest is never trusted, and
 * a backup checks only the segments it uses.
 *
 * A writer either creates a manifest (every digest put in block order) or
 * clones the parent's (FICLONE, a copy where the file system cannot): then
 * the digests of unchanged blocks are skipped, only changed ones written,
 * and only segments that were written to (or changed length) are checked
 * against their old seal, resealed, synced and read back.
 *
 * Version 1 ("BKYSUMS1", written before issue 12) is still read: a
 * 32-byte header (magic, u32 block size, u32 zero, u64 image size, u64
 * block count), the digests, and one XXH3-128 of everything before it, all
 * checked at open.  A clone of a version 1 manifest is written as version 2.
 */
#ifndef BK_MANIFEST_H
#define BK_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"

#define BK_MANIFEST_MIN_BLOCK (4u << 10)
#define BK_MANIFEST_MAX_BLOCK (4u << 20)
#define BK_MANIFEST_SEGMENT 65536u /* digests per segment: 1 MiB */
#define BK_MANIFEST_DIGESTS 4096u  /* v2: offset of the first digest */
#define BK_MANIFEST_NAME_MAX 128

struct bk_manifest {
	int fd;                          /* owned; -1 when closed */
	char name[BK_MANIFEST_NAME_MAX]; /* for messages */
	unsigned version;                /* 1 or 2 */
	uint32_t block_size;
	uint64_t size;
	uint64_t nblocks;
	/* version 2 */
	uint64_t nsegs;
	unsigned char *ht;       /* the header block followed by the segment table */
	struct bk_digest *table; /* in HT: the seal of each segment (nsegs) */
	struct bk_digest *seg;   /* BK_MANIFEST_SEGMENT digests: segment LOADED */
	uint64_t loaded;         /* UINT64_MAX: none */
	/* writer state (bk_manifest_create, bk_manifest_clone until finish) */
	bool writing;
	bool sealed;           /* by bk_manifest_seal, not yet synced (bk_manifest_confirm) */
	uint64_t next;         /* next block to put or skip */
	uint64_t keep;         /* blocks [0, keep) hold the base's digests */
	uint64_t base_nblocks; /* digests the file held when writing began */
	char base_name[BK_MANIFEST_NAME_MAX];
	uint64_t run_first; /* digests put into SEG but not yet written */
	uint32_t run_len;
	bool header_changed;     /* the header block must be written */
	unsigned char *resealed; /* bitmap: segments sealed by this writer */
	uint64_t stat_segments;  /* segments resealed by this writer (for stats) */
};

/* Whether BLOCK_SIZE is a power of two within the limits above. */
int bk_manifest_check_block_size(uint64_t block_size);

/*
 * Open and validate NAME in DIRFD for reading (v1: everything; v2: header,
 * length and segment table).  BK_ECORRUPT with a message naming the file
 * when it is damaged; on failure M is closed.
 */
int bk_manifest_open(struct bk_manifest *m, int dirfd, const char *name, struct bk_err *err);

/*
 * Read COUNT digests starting at block FIRST (must lie within the
 * manifest, else -EINVAL) into OUT.  Each v2 segment read from is checked
 * against its seal first: BK_ECORRUPT with a message when it does not match.
 */
int bk_manifest_read(struct bk_manifest *m, uint64_t first, uint32_t count, struct bk_digest *out,
		     struct bk_err *err);

/* Check every segment against its seal (what bk_manifest_read would find). */
int bk_manifest_check(struct bk_manifest *m, struct bk_err *err);

/* Create NAME (O_EXCL) for the digests of an image of SIZE bytes, all to be put. */
int bk_manifest_create(struct bk_manifest *m, int dirfd, const char *name, uint32_t block_size,
		       uint64_t size, struct bk_err *err);

/*
 * Create NAME (O_EXCL) as a clone of BASE (open for reading, same block
 * size, not written to after this) for an image of SIZE bytes.  The digests
 * of blocks [0, M->keep) (the base's blocks that keep their length) may be
 * skipped; every other block must be put.
 */
int bk_manifest_clone(struct bk_manifest *m, int dirfd, const char *name, struct bk_manifest *base,
		      uint64_t size, struct bk_err *err);

/* Set the digest of the next block. */
int bk_manifest_put(struct bk_manifest *m, const struct bk_digest *d, struct bk_err *err);

/* Keep the base's digests of the next COUNT blocks (all below M->keep, else -EINVAL). */
int bk_manifest_skip(struct bk_manifest *m, uint64_t count, struct bk_err *err);

/*
 * All blocks were put or skipped: seal the changed segments and the table,
 * fsync, and read back what was written (from the disk, not the cache).
 * Afterwards M reads like a manifest opened with bk_manifest_open.
 * bk_manifest_seal and bk_manifest_confirm are its two halves: after the
 * seal M reads as finished (from the cache), so a caller can use it while
 * it syncs other files; the confirm does the fsync and the read-back.
 */
int bk_manifest_finish(struct bk_manifest *m, struct bk_err *err);
int bk_manifest_seal(struct bk_manifest *m, struct bk_err *err);
int bk_manifest_confirm(struct bk_manifest *m, struct bk_err *err);

/* Close M; a no-op on a closed or zeroed manifest with fd -1. */
void bk_manifest_close(struct bk_manifest *m);

#endif
