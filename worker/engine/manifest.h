/*
 * manifest.h: per-block checksum manifests (<repo>/<id>.sums).
 *
 * Layout, all integers little-endian:
 *
 *   0   8 bytes  magic "BKYSUMS1"
 *   8   u32      block size (a power of two, 4 KiB .. 4 MiB)
 *   12  u32      reserved, 0
 *   16  u64      image size in bytes
 *   24  u64      number of blocks = ceil(image size / block size)
 *   32  16 bytes XXH3-128 digest of each block, in order; the last block
 *                is hashed over its real (possibly short) length
 *   end 16 bytes XXH3-128 of everything before it (the seal)
 *
 * A reader checks magic, sizes and the seal before trusting any digest, so
 * a torn or bit-rotten manifest is rejected as a whole.  A writer produces
 * digests strictly in block order and seals the file in bk_manifest_finish.
 */
#ifndef BK_MANIFEST_H
#define BK_MANIFEST_H

#include <stdint.h>

#include "error.h"
#include "hash.h"

#define BK_MANIFEST_MIN_BLOCK (4u << 10)
#define BK_MANIFEST_MAX_BLOCK (4u << 20)

struct bk_manifest {
	int fd;              /* owned; -1 when closed */
	uint32_t block_size;
	uint64_t size;
	uint64_t nblocks;
	/* writer state */
	void *state;         /* XXH3 state for the seal; NULL for readers */
	uint64_t next;       /* next block index to be written */
	struct bk_digest *pending;
	uint32_t npending;
};

/* Whether BLOCK_SIZE is a power of two within the limits above. */
int bk_manifest_check_block_size(uint64_t block_size);

/* Open and validate NAME in DIRFD for reading. */
int bk_manifest_open(struct bk_manifest *m, int dirfd, const char *name, struct bk_err *err);

/* Read COUNT digests starting at block FIRST (must lie within the manifest). */
int bk_manifest_read(struct bk_manifest *m, uint64_t first, uint32_t count, struct bk_digest *out);

/* Create NAME (O_EXCL) for writing digests of an image of SIZE bytes. */
int bk_manifest_create(struct bk_manifest *m, int dirfd, const char *name, uint32_t block_size,
		       uint64_t size, struct bk_err *err);

/* Append the digest of the next block. */
int bk_manifest_put(struct bk_manifest *m, const struct bk_digest *d);

/* Write the seal and fsync; all blocks must have been put. */
int bk_manifest_finish(struct bk_manifest *m);

void bk_manifest_close(struct bk_manifest *m);

#endif
