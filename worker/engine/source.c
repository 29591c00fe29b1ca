/* source.c: source configuration (see source.h); opening a source is source_open.c. */
#include "source.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_source_config_init(struct bk_source_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	bk_source_spec_init(&cfg->spec);
	cfg->consul_initial_wait = 3;
	cfg->consul_poll_interval = 2;
	cfg->consul_timeout = 90;
	cfg->verify_sample = 256;
	cfg->verify_budget = 300;
}

void bk_source_config_release(struct bk_source_config *cfg)
{
	bk_source_spec_release(&cfg->spec);
	free(cfg->ceph_conf);
	free(cfg->ceph_id);
	free(cfg->consul_token);
	free(cfg->consul_url);
	memset(cfg, 0, sizeof(*cfg));
}

static char *dup_or_null(const char *s)
{
	return s ? bk_strdup(s) : NULL;
}

void bk_source_config_copy(struct bk_source_config *dst, const struct bk_source_config *src)
{
	*dst = *src;
	bk_source_spec_copy(&dst->spec, &src->spec);
	dst->ceph_conf = dup_or_null(src->ceph_conf);
	dst->ceph_id = dup_or_null(src->ceph_id);
	dst->consul_token = dup_or_null(src->consul_token);
	dst->consul_url = dup_or_null(src->consul_url);
}

/*
 * Keys of each source type, in the order they are written.  MODEL keys are
 * the source model's (read by bk_source_spec_read), the others are local to
 * this host; the value's kind decides how it is parsed.
 */
enum kind { MODEL, STR, NUM, BOOL };

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
	{"filename", MODEL, 0, T_FILE},
	{"pool", MODEL, 0, T_RBD | T_FC},
	{"image", MODEL, 0, T_RBD | T_FC},
	{"ceph_conf", STR, F(ceph_conf), T_RBD | T_FC},
	{"ceph_id", STR, F(ceph_id), T_RBD | T_FC},
	{"vm", MODEL, 0, T_FC},
	{"consul_acl_token", STR, F(consul_token), T_FC},
	{"consul_url", STR, F(consul_url), T_FC},
	{"consul_initial_wait", NUM, F(consul_initial_wait), T_FC},
	{"consul_poll_interval", NUM, F(consul_poll_interval), T_FC},
	{"consul_timeout", NUM, F(consul_timeout), T_FC},
	{"verify_sample", NUM, F(verify_sample), T_RBD | T_FC},
	{"verify_budget", NUM, F(verify_budget), T_RBD | T_FC},
	{"verify_full", BOOL, F(verify_full), T_RBD | T_FC},
};

/* The value of model key K in SPEC (NULL or "" when unset). */
static const char *model_value(const struct bk_source_spec *spec, const struct key *k)
{
	if (!strcmp(k->name, "filename"))
		return spec->filename;
	if (!strcmp(k->name, "pool"))
		return spec->pool;
	if (!strcmp(k->name, "image"))
		return spec->image;
	return spec->vm;
}

/* What bk_source_config_parse passes to local_key. */
struct parse_ctx {
	struct bk_source_config *cfg;
	const char *name;
	bool legacy_full; /* verify_percent: 100 of an older config */
};

/*
 * verify_percent and verify_min_blocks, the sample settings before the
 * sample was sized to the change: still read so that older configs load.
 * A share of 100 % meant every block, which is verify_full now; smaller
 * shares and the minimum are superseded by verify_sample.
 */
static int legacy_key(struct parse_ctx *ctx, const char *key, const struct bk_ynode *v,
		      struct bk_err *err)
{
	char what[64];
	double d;
	int r;

	snprintf(what, sizeof(what), "source.%s", key);
	r = bk_ynode_double(v, ctx->name, what, &d, err);
	if (r < 0)
		return r;
	if (d < 0 || d > (strcmp(key, "verify_percent") == 0 ? 100 : 1e6))
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' is out of range", ctx->name,
				  v->line, what);
	if (strcmp(key, "verify_percent") == 0 && d >= 100)
		ctx->legacy_full = true;
	return 0;
}

/* bk_source_extra_fn: the local keys of TYPE. */
static int local_key(void *arg, enum bk_source_type type, const char *key,
		     const struct bk_ynode *v, struct bk_err *err)
{
	struct parse_ctx *ctx = arg;
	const struct key *k = NULL;
	char what[64];
	void *field;
	const char *s;
	double d;
	int r;

	if (type != BK_SOURCE_FILE &&
	    (strcmp(key, "verify_percent") == 0 || strcmp(key, "verify_min_blocks") == 0))
		return legacy_key(ctx, key, v, err);
	for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
		if (keys[j].kind != MODEL && strcmp(key, keys[j].name) == 0 &&
		    (keys[j].types & (1u << type)))
			k = &keys[j];
	if (!k)
		return 1;
	field = (char *)ctx->cfg + k->offset;
	snprintf(what, sizeof(what), "source.%s", k->name);
	if (k->kind == STR) {
		r = bk_ynode_str(v, ctx->name, what, &s, err);
		if (r < 0)
			return r;
		free(*(char **)field);
		*(char **)field = bk_strdup(s);
		return 0;
	}
	if (k->kind == BOOL) {
		if (v->type != BK_Y_SCALAR || (strcmp(v->str, "true") && strcmp(v->str, "false")))
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be true or false",
					  ctx->name, v->line, what);
		*(bool *)field = strcmp(v->str, "true") == 0;
		return 0;
	}
	r = bk_ynode_double(v, ctx->name, what, &d, err);
	if (r < 0)
		return r;
	if (d < 0 || d > 1e6)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' is out of range", ctx->name,
				  v->line, what);
	if (k->offset == F(verify_sample))
		*(uint64_t *)field = (uint64_t)d;
	else
		*(double *)field = d;
	return 0;
}

int bk_source_config_check(struct bk_source_config *cfg, const char *name, struct bk_err *err)
{
	const char *bad = bk_source_spec_invalid(&cfg->spec);

	if (bad)
		return bk_err_set(err, BK_ECONFIG, "%s: 'source.%s' is missing or invalid", name, bad);
	if (cfg->spec.type == BK_SOURCE_FILE) {
		snprintf(cfg->desc, sizeof(cfg->desc), "%s", cfg->spec.filename);
		return 0;
	}
	if (cfg->consul_poll_interval <= 0)
		return bk_err_set(err, BK_ECONFIG, "%s: consul_poll_interval must be > 0", name);
	if (cfg->spec.type == BK_SOURCE_FLYINGCIRCUS && !cfg->consul_url)
		cfg->consul_url = bk_strdup(BK_CONSUL_DEFAULT_URL);
	snprintf(cfg->desc, sizeof(cfg->desc), "%s/%s", cfg->spec.pool, cfg->spec.image);
	return 0;
}

int bk_source_config_parse(const struct bk_ynode *map, const char *name,
			   struct bk_source_config *cfg, struct bk_err *err)
{
	struct parse_ctx ctx = {cfg, name, false};
	int r;

	bk_source_config_init(cfg);
	r = bk_source_spec_read(map, name, NULL, &cfg->spec, local_key, &ctx, err);
	if (ctx.legacy_full)
		cfg->verify_full = true;
	if (r == 0)
		r = bk_source_config_check(cfg, name, err);
	if (r < 0)
		bk_source_config_release(cfg);
	return r;
}

void bk_source_config_format(const struct bk_source_config *cfg, struct bk_buf *out)
{
	bk_buf_addf(out, "source:\n  type: %s\n", bk_source_type_name(cfg->spec.type));
	for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
		const struct key *k = &keys[j];
		const void *field = (const char *)cfg + k->offset;
		const char *s = NULL;

		if (!(k->types & (1u << cfg->spec.type)))
			continue;
		if (k->kind == MODEL)
			s = model_value(&cfg->spec, k);
		else if (k->kind == STR)
			s = *(char *const *)field;
		if (s && (k->kind == STR || s[0])) {
			bk_buf_addf(out, "  %s: ", k->name);
			bk_buf_add_quoted(out, s);
			bk_buf_adds(out, "\n");
		} else if (k->kind == BOOL) {
			bk_buf_addf(out, "  %s: %s\n", k->name, *(const bool *)field ? "true" : "false");
		} else if (k->kind == NUM && k->offset == F(verify_sample)) {
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
