/* source_spec.c: the source model: names, validator, YAML reader (see source_spec.h). */
#include "source_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char *const type_names[] = {NULL, "file", "rbd", "flyingcircus"};

#define NTYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

void bk_source_spec_init(struct bk_source_spec *s)
{
	memset(s, 0, sizeof(*s));
}

void bk_source_spec_release(struct bk_source_spec *s)
{
	free(s->filename);
	bk_source_spec_init(s);
}

void bk_source_spec_copy(struct bk_source_spec *dst, const struct bk_source_spec *src)
{
	*dst = *src;
	dst->filename = src->filename ? bk_strdup(src->filename) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

bool bk_source_spec_equal(const struct bk_source_spec *a, const struct bk_source_spec *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case BK_SOURCE_FILE:
		return str_eq(a->filename, b->filename);
	case BK_SOURCE_RBD:
		return !strcmp(a->pool, b->pool) && !strcmp(a->image, b->image);
	case BK_SOURCE_FLYINGCIRCUS:
		return !strcmp(a->pool, b->pool) && !strcmp(a->image, b->image) &&
		       !strcmp(a->vm, b->vm);
	default:
		return true;
	}
}

void bk_source_spec_set_filename(struct bk_source_spec *s, const char *f)
{
	free(s->filename);
	s->filename = f ? bk_strdup(f) : NULL;
}

const char *bk_source_type_name(enum bk_source_type type)
{
	return (int)type >= 0 && (int)type < NTYPES ? type_names[type] : NULL;
}

int bk_source_type_parse(const char *s, enum bk_source_type *out)
{
	for (int i = 1; i < NTYPES; i++) {
		if (!strcmp(s, type_names[i])) {
			*out = (enum bk_source_type)i;
			return 0;
		}
	}
	if (!strcmp(s, "ceph-rbd")) {
		*out = BK_SOURCE_RBD;
		return 0;
	}
	return BK_ECONFIG;
}

/* ---- names ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool bk_name_valid(const char *s)
{
	size_t n = strlen(s);

	/* an alphanumeric first also excludes ".", ".." and options */
	if (n == 0 || n > BK_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool bk_ceph_name_valid(const char *s)
{
	if (s[0] == '.')
		return strlen(s) <= BK_NAME_MAX && bk_name_valid(s + 1);
	return bk_name_valid(s);
}

bool bk_source_path_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_SOURCE_PATH_MAX || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == '/') {
			const char *comp = s + i + 1;
			size_t len = strcspn(comp, "/");

			if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
				return false;
		}
	}
	return true;
}

const char *bk_source_spec_invalid(const struct bk_source_spec *s)
{
	switch (s->type) {
	case BK_SOURCE_FILE:
		return s->filename && bk_source_path_valid(s->filename) ? NULL : "filename";
	case BK_SOURCE_RBD:
	case BK_SOURCE_FLYINGCIRCUS:
		if (!bk_ceph_name_valid(s->pool))
			return "pool";
		if (!bk_ceph_name_valid(s->image))
			return "image";
		/* no vm: no freeze, a direct snapshot (REFERENCE-BEHAVIOUR, Consul 6) */
		if (s->type == BK_SOURCE_FLYINGCIRCUS && s->vm[0] && !bk_name_valid(s->vm))
			return "vm";
		return NULL;
	default:
		return "type";
	}
}

/* ---- YAML ---- */

/* "NAME: line L: job 'J': " (the job part only with JOB) into BUF. */
static const char *where(char *buf, size_t size, const char *name, int line, const char *job)
{
	if (job)
		snprintf(buf, size, "%s: line %d: job '%s': ", name, line, job);
	else
		snprintf(buf, size, "%s: line %d: ", name, line);
	return buf;
}

/* One model key of TYPE into OUT; 1 when KEY is not one. */
static int read_key(const char *key, const struct bk_ynode *v, const char *name, const char *job,
		    struct bk_source_spec *out, struct bk_err *err)
{
	char w[256], what[64];
	const char *s;
	bool rbd = out->type == BK_SOURCE_RBD || out->type == BK_SOURCE_FLYINGCIRCUS;
	char *dst = NULL;
	int r;

	if (!strcmp(key, "filename") && out->type == BK_SOURCE_FILE)
		;
	else if (!strcmp(key, "pool") && rbd)
		dst = out->pool;
	else if (!strcmp(key, "image") && rbd)
		dst = out->image;
	else if (!strcmp(key, "vm") && out->type == BK_SOURCE_FLYINGCIRCUS)
		dst = out->vm;
	else
		return 1;
	snprintf(what, sizeof(what), "source.%s", key);
	r = bk_ynode_str(v, name, what, &s, err);
	if (r < 0)
		return r;
	where(w, sizeof(w), name, v->line, job);
	if (!dst) {
		if (!bk_source_path_valid(s))
			return bk_err_set(err, BK_ECONFIG,
					  "%s'source.filename' must be an absolute path without '.' or '..' components and control characters, at most %d bytes",
					  w, BK_SOURCE_PATH_MAX);
		bk_source_spec_set_filename(out, s);
		return 0;
	}
	if (dst == out->vm && !bk_name_valid(s))
		return bk_err_set(err, BK_ECONFIG,
				  "%sinvalid 'source.vm' '%.80s': 1 to %d characters from [A-Za-z0-9._-], starting with a letter or digit",
				  w, s, BK_NAME_MAX);
	if (dst != out->vm && !bk_ceph_name_valid(s))
		return bk_err_set(err, BK_ECONFIG,
				  "%sinvalid '%s' '%.80s': a Ceph name is 1 to %d characters from [A-Za-z0-9._-], starting with a letter, a digit or '.'",
				  w, what, s, BK_NAME_MAX);
	snprintf(dst, BK_NAME_MAX + 1, "%s", s);
	return 0;
}

int bk_source_spec_read(const struct bk_ynode *map, const char *name, const char *job,
			struct bk_source_spec *out, bk_source_extra_fn extra, void *arg,
			struct bk_err *err)
{
	const char *type, *missing;
	char w[256];
	int r;

	bk_source_spec_init(out);
	if (!map || map->type != BK_Y_MAP) {
		if (job)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: 'jobs.%s.source' must be a map with 'type'", name,
					  map ? map->line : 0, job);
		return bk_err_set(err, BK_ECONFIG, "%s: 'source' must be a map with 'type'", name);
	}
	r = bk_ynode_str(bk_ymap_get(map, "type"), name, "source.type", &type, err);
	if (r < 0)
		return r;
	if (bk_source_type_parse(type, &out->type) < 0)
		return bk_err_set(err, BK_ECONFIG,
				  "%sunknown source type '%.80s' (expected file, rbd, ceph-rbd or flyingcircus)",
				  where(w, sizeof(w), name, bk_ymap_get(map, "type")->line, job), type);
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i];
		const struct bk_ynode *v = map->items[i];

		if (!strcmp(k, "type"))
			continue;
		r = read_key(k, v, name, job, out, err);
		if (r == 1 && extra)
			r = extra(arg, out->type, k, v, err);
		if (r == 1)
			r = bk_err_set(err, BK_ECONFIG, "%sunknown key 'source.%s' for type '%s'",
				       where(w, sizeof(w), name, v->line, job), k, type);
		if (r < 0)
			goto fail;
	}
	missing = bk_source_spec_invalid(out);
	if (missing) {
		/* every present value was checked as it was read: a key is missing */
		where(w, sizeof(w), name, map->line, job);
		if (out->type == BK_SOURCE_FILE)
			r = bk_err_set(err, BK_ECONFIG, "%s'source.filename' is required", w);
		else if (!strcmp(missing, "vm"))
			r = bk_err_set(err, BK_ECONFIG, "%s'source.vm' is required", w);
		else
			r = bk_err_set(err, BK_ECONFIG, "%s'source.pool' and 'source.image' are required",
				       w);
		goto fail;
	}
	return 0;
fail:
	bk_source_spec_release(out);
	return r;
}
