/*
 * rbd_map.h: which blocks of an RBD snapshot a backup reads, as a bitmap
 * built with rbd_diff_iterate2 (internal to the rbd source, source_rbd.c).
 *
 * Two kinds: the blocks changed since a base snapshot (an incremental), or
 * the blocks that hold data at all (ALLOCATED: a full backup of a thin
 * image reads only those; the others are zeros that were never written).
 */
#ifndef BK_RBD_MAP_H
#define BK_RBD_MAP_H

#include <rbd/librbd.h>
#include <stdbool.h>
#include <stdint.h>

struct bk_rbd_map {
	unsigned char *bits; /* bit per block (bitmap.h), owned; NULL: no map (read everything) */
	uint64_t nblocks;
	uint64_t size;       /* of the snapshot, in bytes */
	uint32_t block_size;
	bool allocated;      /* bits mark data, not changes */
};

/*
 * Mark the blocks of IMG's current snapshot (SIZE bytes, blocks of
 * BLOCK_SIZE) that differ from snapshot FROM, or with FROM NULL that hold
 * data; WHOLE_OBJECT reports whole objects from the object map.  Returns 0
 * or a negative librbd error (M is then released).
 */
int bk_rbd_map_diff(struct bk_rbd_map *m, rbd_image_t img, const char *from, uint64_t size,
		    uint32_t block_size, bool whole_object);

/*
 * Narrow an ALLOCATED map made with whole objects to the extents that hold
 * data: each run of marked blocks is listed again without whole_object (one
 * listing per object of the run, none for objects that do not exist).
 * Returns 0 or a negative librbd error (M is then released).
 */
int bk_rbd_map_refine(struct bk_rbd_map *m, rbd_image_t img);

/* Whether any block of the byte range OFF, LEN is marked. */
bool bk_rbd_map_any(const struct bk_rbd_map *m, uint64_t off, uint64_t len);

void bk_rbd_map_release(struct bk_rbd_map *m);

#endif
