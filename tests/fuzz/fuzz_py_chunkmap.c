/*
 * fuzz_py_chunkmap.c: libFuzzer target for Python backy's chunk maps
 * (proto/py_chunkmap.h), the untrusted input `backy import` reads first.
 *
 * Any bytes: decoding fails cleanly (BK_ECORRUPT, a message, nothing
 * allocated) or gives a map whose chunk count is ceil(size / 4 MiB) and
 * whose every hash is 32 lowercase hex digits, so import_py.c may build a
 * file name from it.  Violations abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_chunkmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_py_chunkmap: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_py_chunkmap m;
	struct bk_err err = {0};
	int r = bk_py_chunkmap_decode((const char *)data, size, "map", &m, &err);

	if (r < 0) {
		check(r == BK_ECORRUPT && err.code == BK_ECORRUPT && err.msg[0], "failure without a message");
		check(m.hash == NULL && m.n == 0, "failure left a map");
		return 0;
	}
	check(m.size <= BK_PY_MAP_MAX_SIZE, "size beyond the limit");
	check(m.n == (m.size + BK_PY_CHUNK_SIZE - 1) / BK_PY_CHUNK_SIZE, "chunk count");
	for (size_t i = 0; i < m.n; i++) {
		check(strlen(m.hash[i]) == 32, "hash length");
		check(strspn(m.hash[i], "0123456789abcdef") == 32, "hash digits");
	}
	bk_py_chunkmap_release(&m);
	return 0;
}
