/* rbd_map.c: the blocks of an RBD snapshot a backup reads (see rbd_map.h). */
#include "rbd_map.h"

#include "bitmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int diff_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct bk_rbd_map *m = arg;
	uint64_t first = off / m->block_size;
	uint64_t last = len ? (off + len - 1) / m->block_size : first;

	/* from a base, a discarded range reads as zeros: a change like any other */
	if (m->allocated && !exists)
		return 0;
	for (uint64_t b = first; b <= last && b < m->nblocks; b++)
		bk_bit_set(m->bits, b);
	return 0;
}

int bk_rbd_map_diff(struct bk_rbd_map *m, rbd_image_t img, const char *from, uint64_t size,
		    uint32_t block_size, bool whole_object)
{
	int r;

	memset(m, 0, sizeof(*m));
	m->size = size;
	m->block_size = block_size;
	m->nblocks = (size + block_size - 1) / block_size;
	m->allocated = !from;
	m->bits = calloc((size_t)(m->nblocks + 7) / 8 + 1, 1);
	if (!m->bits)
		return -ENOMEM;
	r = rbd_diff_iterate2(img, from, 0, size, 1, whole_object, diff_cb, m);
	if (r < 0)
		bk_rbd_map_release(m);
	return r < 0 ? r : 0;
}

int bk_rbd_map_refine(struct bk_rbd_map *m, rbd_image_t img)
{
	uint64_t b = 0;
	int r;

	while (b < m->nblocks) {
		uint64_t end, off, len;

		if (!bk_bit(m->bits, b)) {
			b++;
			continue;
		}
		for (end = b; end < m->nblocks && bk_bit(m->bits, end); end++)
			bk_bit_clear(m->bits, end);
		off = b * m->block_size;
		len = (end * m->block_size < m->size ? end * m->block_size : m->size) - off;
		r = rbd_diff_iterate2(img, NULL, off, len, 1, 0, diff_cb, m);
		if (r < 0) {
			bk_rbd_map_release(m);
			return r;
		}
		b = end;
	}
	return 0;
}

bool bk_rbd_map_any(const struct bk_rbd_map *m, uint64_t off, uint64_t len)
{
	uint64_t first = off / m->block_size, end = (off + len + m->block_size - 1) / m->block_size;

	if (end > m->nblocks)
		end = m->nblocks;
	return first < end && bk_bits_any(m->bits, first, end - first);
}

void bk_rbd_map_release(struct bk_rbd_map *m)
{
	free(m->bits);
	memset(m, 0, sizeof(*m));
}
