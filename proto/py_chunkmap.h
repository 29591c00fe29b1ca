/*
 * py_chunkmap.h: the chunk map of a Python backy 2.x chunked revision, read
 * by `backy import` (worker/engine/import_py.h).
 *
 * The file <repo>/<uuid> is one JSON object (Python's json.dump):
 *
 *   {"mapping": {"0": "<32 hex>", "1": ..., ...}, "size": 18875602}
 *
 * Keys are decimal chunk indexes (offset / 4 MiB) in any order, values the
 * chunk's name (MurmurHash3 x64 128 of its data, murmur3.h); size is the
 * image size in bytes.  Every index below ceil(size / 4 MiB) must be
 * present (Python cannot read a map with a gap either); keys past the end
 * are checked and ignored.  Limits: the text at most BK_PY_MAP_MAX_BYTES,
 * size at most BK_PY_MAP_MAX_SIZE.  The file is untrusted input: every
 * failure is BK_ECORRUPT with a message naming NAME.
 *
 * Ownership: struct bk_py_chunkmap owns its hash array.
 */
#ifndef BK_PY_CHUNKMAP_H
#define BK_PY_CHUNKMAP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BK_PY_CHUNK_SIZE (4u << 20)
#define BK_PY_MAP_MAX_BYTES (256u << 20)
#define BK_PY_MAP_MAX_SIZE (1ULL << 50) /* 1 PiB */

struct bk_py_chunkmap {
	uint64_t size;     /* image size in bytes */
	size_t n;          /* chunks: ceil(size / BK_PY_CHUNK_SIZE) */
	char (*hash)[33];  /* hash[i]: name of chunk i, 32 lowercase hex digits */
};

/* Decode LEN bytes of TEXT (NAME for messages) into M (which needs no initialisation). */
int bk_py_chunkmap_decode(const char *text, size_t len, const char *name, struct bk_py_chunkmap *m,
			  struct bk_err *err);

void bk_py_chunkmap_release(struct bk_py_chunkmap *m);

#endif
