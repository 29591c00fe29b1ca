/* fleet_policy.c: what a storage host lets a job message do (see fleet_policy.h). */
#include "fleet_policy.h"

#include "buf.h"
#include "proto.h"
#include "schedule.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#define MAX_ENTRIES 1024

void bk_fleet_policy_init(struct bk_fleet_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->min_keep = BK_FLEET_DEFAULT_MIN_KEEP;
	p->min_age = BK_FLEET_DEFAULT_MIN_AGE;
}

void bk_fleet_policy_release(struct bk_fleet_policy *p)
{
	bk_strv_release(&p->pools);
	bk_strv_release(&p->images);
	bk_strv_release(&p->paths);
	bk_fleet_policy_init(p);
}

/*
 * KIND: 'p' a pool name (the one rule of source_spec.h), 'i' an image name
 * pattern (fnmatch syntax: any printable text), 'd' a directory (a valid
 * source path without "//": compared literally, note 2).
 */
static bool entry_valid(const char *s, char kind)
{
	size_t n = strlen(s);

	if (kind == 'p')
		return bk_ceph_name_valid(s);
	if (kind == 'd')
		return bk_source_path_valid(s) && !strstr(s, "//");
	if (n == 0 || n > BK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A list of strings at KEY of MAP into OUT. */
static int parse_list(const struct bk_ynode *map, const char *key, char kind, const char *name,
		      struct bk_strv *out, struct bk_err *err)
{
	static const char *const what[] = {"an allowed Ceph pool name", "an image name pattern",
					   "an absolute directory without '.', '..' or '//'"};
	const struct bk_ynode *n = bk_ymap_get(map, key);
	const char *desc = what[kind == 'p' ? 0 : kind == 'i' ? 1 : 2];

	if (bk_ynode_is_null(n))
		return 0;
	if (n->type != BK_Y_SEQ || n->n > MAX_ENTRIES)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'allow.%s' must be a list (at most %d entries)",
				  name, n->line, key, MAX_ENTRIES);
	for (size_t i = 0; i < n->n; i++) {
		const struct bk_ynode *it = n->items[i];
		struct bk_buf b;

		if (it->type != BK_Y_SCALAR || !entry_valid(it->str, kind))
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'allow.%s' entries must be %s",
					  name, it->line, key, desc);
		bk_buf_init(&b);
		bk_buf_adds(&b, it->str);
		/* "/srv/images/" and "/srv/images" are the same directory; "/" stays */
		while (kind == 'd' && b.len > 1 && b.p[b.len - 1] == '/')
			b.p[--b.len] = '\0';
		bk_strv_add(out, b.p);
		bk_buf_release(&b);
	}
	return 0;
}

int bk_fleet_policy_parse(const struct bk_ynode *allow, const struct bk_ynode *retention,
			  const char *name, struct bk_fleet_policy *p, struct bk_err *err)
{
	static const char *const allow_keys[] = {"pools", "images", "paths", NULL};
	static const char *const retention_keys[] = {"min-keep", "min-age", NULL};
	const struct bk_ynode *n;
	int r = 0;

	if (!bk_ynode_is_null(allow)) {
		r = bk_ymap_check_keys(allow, allow_keys, name, "allow", err);
		if (r == 0)
			r = parse_list(allow, "pools", 'p', name, &p->pools, err);
		if (r == 0)
			r = parse_list(allow, "images", 'i', name, &p->images, err);
		if (r == 0)
			r = parse_list(allow, "paths", 'd', name, &p->paths, err);
		if (r < 0)
			return r;
	}
	if (bk_ynode_is_null(retention))
		return 0;
	r = bk_ymap_check_keys(retention, retention_keys, name, "retention", err);
	if (r < 0)
		return r;
	n = bk_ymap_get(retention, "min-keep");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_u64(n, name, "retention.min-keep", &p->min_keep, err);
		if (r == 0 && p->min_keep > 100000)
			r = bk_err_set(err, BK_ECONFIG,
				       "%s: line %d: 'retention.min-keep' must be from 0 to 100000",
				       name, n->line);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(retention, "min-age");
	if (!bk_ynode_is_null(n)) {
		int64_t secs;

		if (n->type != BK_Y_SCALAR ||
		    (strcmp(n->str, "0") != 0 && (bk_duration_parse(n->str, &secs) < 0 || secs <= 0)))
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: 'retention.min-age' must be 0 or a duration such as 1d",
					  name, n->line);
		p->min_age = strcmp(n->str, "0") == 0 ? 0 : secs;
	}
	return 0;
}

/* Whether PATH lies below directory DIR (component-wise). */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

int bk_fleet_policy_check(const struct bk_fleet_policy *p, const struct bk_source_spec *src,
			  struct bk_err *err)
{
	bool ok = false;

	if (src->type == BK_SOURCE_NONE)
		return 0;
	if (src->type == BK_SOURCE_FILE) {
		for (size_t i = 0; !ok && i < p->paths.n; i++)
			ok = below(src->filename, p->paths.v[i]);
		if (!ok)
			return bk_err_set(err, BK_EDENIED,
					  "file source '%.200s' is not below a directory of 'allow.paths' in this host's worker config",
					  src->filename);
		return 0;
	}
	if (!bk_strv_has(&p->pools, src->pool))
		return bk_err_set(err, BK_EDENIED,
				  "Ceph pool '%s' is not in 'allow.pools' of this host's worker config",
				  src->pool);
	ok = p->images.n == 0;
	for (size_t i = 0; !ok && i < p->images.n; i++)
		ok = fnmatch(p->images.v[i], src->image, 0) == 0;
	if (!ok)
		return bk_err_set(err, BK_EDENIED,
				  "RBD image '%s/%s' matches no pattern of 'allow.images' in this host's worker config",
				  src->pool, src->image);
	return 0;
}

/* Add S and a separator that cannot occur in any field (names and paths hold no control characters). */
static void add_field(struct bk_buf *b, const char *s)
{
	bk_buf_adds(b, s ? s : "");
	bk_buf_adds(b, "\x1f");
}

void bk_fleet_job_digest(const struct bk_msg_job *j, char out[2 * BK_DIGEST_LEN + 1])
{
	struct bk_digest d;
	struct bk_buf b;

	bk_buf_init(&b);
	add_field(&b, j->job);
	add_field(&b, j->host);
	add_field(&b, bk_msg_action_name(j->action));
	bk_strv_join(&j->tags, ",", &b);
	add_field(&b, "");
	add_field(&b, bk_source_type_name(j->source.type));
	add_field(&b, j->source.filename);
	add_field(&b, j->source.pool);
	add_field(&b, j->source.image);
	add_field(&b, j->source.vm);
	bk_schedule_format_yaml(&j->schedule, 0, &b);
	if (j->older_than)
		bk_buf_addf(&b, "\x1folder_than=%lld", (long long)j->older_than);
	bk_hash(b.p ? b.p : "", b.len, &d);
	bk_digest_hex(&d, out);
	bk_buf_release(&b);
}
