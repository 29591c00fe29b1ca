/* source.c: source configuration and dispatch (see source.h). */
#include "source.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_source_config_init(struct bk_source_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->consul_initial_wait = 3;
	cfg->consul_poll_interval = 2;
	cfg->consul_timeout = 90;
	cfg->verify_percent = 1;
	cfg->verify_min_blocks = 16;
	cfg->verify_budget = 300;
}

void bk_source_config_release(struct bk_source_config *cfg)
{
	free(cfg->filename);
	free(cfg->pool);
	free(cfg->image);
	free(cfg->ceph_conf);
	free(cfg->ceph_id);
	free(cfg->vm);
	free(cfg->consul_token);
	free(cfg->consul_url);
	memset(cfg, 0, sizeof(*cfg));
}

/* Keys of each source type; the value's kind decides how it is parsed. */
enum kind { STR, NUM, BOOL };

struct key {
	const char *name;
	enum kind kind;
	size_t offset;
	unsigned types; /* bit per enum bk_source_type */
};

#define T_FILE (1u << BK_SOURCE_FILE)
#define T_RBD (1u << BK_SOURCE_RBD)
#define T_FC (1u << BK_SOURCE_FLYINGCIRCUS)
#define F(member) offsetof(struct bk_source_config, member)

static const struct key keys[] = {
	{"filename", STR, F(filename), T_FILE},
	{"pool", STR, F(pool), T_RBD | T_FC},
	{"image", STR, F(image), T_RBD | T_FC},
	{"ceph_conf", STR, F(ceph_conf), T_RBD | T_FC},
	{"ceph_id", STR, F(ceph_id), T_RBD | T_FC},
	{"vm", STR, F(vm), T_FC},
	{"consul_acl_token", STR, F(consul_token), T_FC},
	{"consul_url", STR, F(consul_url), T_FC},
	{"consul_initial_wait", NUM, F(consul_initial_wait), T_FC},
	{"consul_poll_interval", NUM, F(consul_poll_interval), T_FC},
	{"consul_timeout", NUM, F(consul_timeout), T_FC},
	{"verify_percent", NUM, F(verify_percent), T_RBD | T_FC},
	{"verify_min_blocks", NUM, F(verify_min_blocks), T_RBD | T_FC},
	{"verify_budget", NUM, F(verify_budget), T_RBD | T_FC},
	{"verify_full", BOOL, F(verify_full), T_RBD | T_FC},
};

/* Pool and image names: what Ceph accepts and is harmless in messages. */
static bool ceph_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 128 && s[0] != '.' && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int set_key(struct bk_source_config *cfg, const struct key *k, const struct bk_ynode *v,
		   const char *name, struct bk_err *err)
{
	char what[64];
	void *field = (char *)cfg + k->offset;
	const char *s;
	double d;
	int r;

	snprintf(what, sizeof(what), "source.%s", k->name);
	if (k->kind == STR) {
		r = bk_ynode_str(v, name, what, &s, err);
		if (r < 0)
			return r;
		*(char **)field = bk_strdup(s);
		return 0;
	}
	if (k->kind == BOOL) {
		if (v->type != BK_Y_SCALAR || (strcmp(v->str, "true") && strcmp(v->str, "false")))
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be true or false",
					  name, v->line, what);
		*(bool *)field = strcmp(v->str, "true") == 0;
		return 0;
	}
	r = bk_ynode_double(v, name, what, &d, err);
	if (r < 0)
		return r;
	if (d < 0 || d > 1e6)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' is out of range", name, v->line,
				  what);
	if (k->offset == F(verify_min_blocks))
		*(uint64_t *)field = (uint64_t)d;
	else
		*(double *)field = d;
	return 0;
}

int bk_source_config_parse(const struct bk_ynode *map, const char *name,
			   struct bk_source_config *cfg, struct bk_err *err)
{
	const char *type;
	int r;

	bk_source_config_init(cfg);
	if (!map || map->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: 'source' must be a map with 'type'", name);
	r = bk_ynode_str(bk_ymap_get(map, "type"), name, "source.type", &type, err);
	if (r < 0)
		return r;
	if (strcmp(type, "file") == 0)
		cfg->type = BK_SOURCE_FILE;
	else if (strcmp(type, "rbd") == 0 || strcmp(type, "ceph-rbd") == 0)
		cfg->type = BK_SOURCE_RBD;
	else if (strcmp(type, "flyingcircus") == 0)
		cfg->type = BK_SOURCE_FLYINGCIRCUS;
	else
		return bk_err_set(err, BK_ECONFIG,
				  "%s: unknown source type '%s' (expected file, rbd, ceph-rbd or flyingcircus)",
				  name, type);
	for (size_t i = 0; i < map->n; i++) {
		const struct key *k = NULL;

		if (strcmp(map->keys[i], "type") == 0)
			continue;
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (strcmp(map->keys[i], keys[j].name) == 0 &&
			    (keys[j].types & (1u << cfg->type)))
				k = &keys[j];
		if (!k) {
			r = bk_err_set(err, BK_ECONFIG, "%s: line %d: unknown key 'source.%s' for type '%s'",
				       name, map->items[i]->line, map->keys[i], type);
			goto fail;
		}
		r = set_key(cfg, k, map->items[i], name, err);
		if (r < 0)
			goto fail;
	}
	if (cfg->type == BK_SOURCE_FILE) {
		if (!cfg->filename || cfg->filename[0] != '/') {
			r = bk_err_set(err, BK_ECONFIG, "%s: 'source.filename' must be an absolute path",
				       name);
			goto fail;
		}
		snprintf(cfg->desc, sizeof(cfg->desc), "%s", cfg->filename);
		return 0;
	}
	if (!cfg->pool || !cfg->image || !ceph_name_valid(cfg->pool) ||
	    !ceph_name_valid(cfg->image)) {
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: 'source.pool' and 'source.image' must be Ceph names ([A-Za-z0-9._-])",
			       name);
		goto fail;
	}
	if (cfg->verify_percent > 100 || cfg->consul_poll_interval <= 0) {
		r = bk_err_set(err, BK_ECONFIG, "%s: verify_percent must be 0..100 and consul_poll_interval > 0",
			       name);
		goto fail;
	}
	if (cfg->type == BK_SOURCE_FLYINGCIRCUS && !cfg->consul_url)
		cfg->consul_url = bk_strdup(BK_CONSUL_DEFAULT_URL);
	snprintf(cfg->desc, sizeof(cfg->desc), "%s/%s", cfg->pool, cfg->image);
	return 0;
fail:
	bk_source_config_release(cfg);
	return r;
}

void bk_source_config_format(const struct bk_source_config *cfg, struct bk_buf *out)
{
	static const char *const type_names[] = {"file", "rbd", "flyingcircus"};

	bk_buf_addf(out, "source:\n  type: %s\n", type_names[cfg->type]);
	for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
		const struct key *k = &keys[j];
		const void *field = (const char *)cfg + k->offset;

		if (!(k->types & (1u << cfg->type)))
			continue;
		if (k->kind == STR && *(char *const *)field) {
			bk_buf_addf(out, "  %s: ", k->name);
			bk_buf_add_quoted(out, *(char *const *)field);
			bk_buf_adds(out, "\n");
		} else if (k->kind == BOOL) {
			bk_buf_addf(out, "  %s: %s\n", k->name, *(const bool *)field ? "true" : "false");
		} else if (k->kind == NUM && k->offset == F(verify_min_blocks)) {
			bk_buf_addf(out, "  %s: %llu\n", k->name,
				    (unsigned long long)*(const uint64_t *)field);
		} else if (k->kind == NUM) {
			bk_buf_addf(out, "  %s: %g\n", k->name, *(const double *)field);
		}
	}
}

const char *bk_source_describe(const struct bk_source_config *cfg)
{
	return cfg->desc;
}

int bk_source_open(struct bk_source *src, const struct bk_source_config *cfg,
		   uint32_t block_size, const char *id, const char *base, bool *use_base,
		   struct bk_err *err)
{
	int r;

	memset(src, 0, sizeof(*src));
	src->cfg = cfg;
	src->block_size = block_size;
	src->ops = cfg->type == BK_SOURCE_FILE ? &bk_source_file_ops : &bk_source_rbd_ops;
	r = src->ops->open(src, cfg, id, base, use_base, err);
	if (r < 0)
		src->ops = NULL; /* open cleaned up after itself */
	return r;
}

void bk_source_close(struct bk_source *src, bool committed)
{
	if (!src->ops)
		return;
	if (src->ops->finish)
		src->ops->finish(src, committed);
	src->ops->close(src);
	src->ops = NULL;
}
