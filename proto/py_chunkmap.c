/* py_chunkmap.c: decoding Python backy's chunk maps (see py_chunkmap.h). */
#include "py_chunkmap.h"

#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

void bk_py_chunkmap_release(struct bk_py_chunkmap *m)
{
	free(m->hash);
	memset(m, 0, sizeof(*m));
}

static bool hash_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A decimal index without sign or leading zeros into *OUT; false when KEY is not one. */
static bool index_parse(const char *key, uint64_t *out)
{
	uint64_t v = 0;

	if (!key[0] || (key[0] == '0' && key[1]) || strlen(key) > 15)
		return false;
	for (const char *p = key; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

static int decode(struct jd *d, json_t *root, void *arg)
{
	static const char *const keys[] = {"mapping", "size", NULL};
	struct bk_py_chunkmap *m = arg;
	json_t *mapping = NULL, *v;
	const char *key;
	char shown[72];
	int64_t size = -1;
	size_t seen = 0;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = jd_get_int(d, root, NULL, "size", true, 0, (int64_t)BK_PY_MAP_MAX_SIZE, &size);
	if (r == 0)
		r = jd_get(d, root, NULL, "mapping", true, false, JSON_OBJECT, &mapping);
	if (r < 0)
		return r;
	m->size = (uint64_t)size;
	m->n = (size_t)((m->size + BK_PY_CHUNK_SIZE - 1) / BK_PY_CHUNK_SIZE);
	/* every index must be there: a size the mapping cannot cover allocates nothing */
	if (json_object_size(mapping) < m->n)
		return jd_fail(d, "'mapping' has %zu chunks, a size of %llu bytes needs %zu",
			       json_object_size(mapping), (unsigned long long)m->size, m->n);
	m->hash = bk_calloc(m->n ? m->n : 1, sizeof(*m->hash));
	json_object_foreach(mapping, key, v) {
		uint64_t idx;

		if (!index_parse(key, &idx))
			return jd_fail(d, "key '%s' of 'mapping' is not a chunk index", jd_show(key, shown));
		if (!json_is_string(v) || !hash_valid(json_string_value(v)))
			return jd_fail(d, "chunk %llu: not a chunk hash (32 lowercase hex digits)",
				       (unsigned long long)idx);
		if (idx >= m->n)
			continue; /* stale entry past the end of the image: never read */
		if (!m->hash[idx][0])
			seen++;
		memcpy(m->hash[idx], json_string_value(v), 33);
	}
	if (seen != m->n) {
		for (size_t i = 0; i < m->n; i++)
			if (!m->hash[i][0])
				return jd_fail(d, "chunk %zu of %zu is missing from 'mapping'", i, m->n);
	}
	return 0;
}

static void clear(void *arg)
{
	bk_py_chunkmap_release(arg);
}

int bk_py_chunkmap_decode(const char *text, size_t len, const char *name, struct bk_py_chunkmap *m,
			  struct bk_err *err)
{
	struct bk_err e = {0};
	struct jd d = {.err = &e, .what = "chunk map", .strict = true};
	int r;

	memset(m, 0, sizeof(*m));
	r = jd_decode(&d, text, len, BK_PY_MAP_MAX_BYTES, 4, JSON_OBJECT, decode, clear, m);
	if (r < 0)
		return bk_err_set(err, BK_ECORRUPT, "%s: %s", name, e.msg);
	return 0;
}
