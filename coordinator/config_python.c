/* config_python.c: Python backy's central config keys (see config_python.h). */
#include "config_python.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define STATUS_INTERVAL_MAX 86400

/* What becomes of a key of `global`: taken by READ, or refused with the replacement. */
struct gkey {
	const char *name;
	int (*read)(const struct bk_ynode *v, const char *name, const char *what,
		    struct co_config *c, struct bk_err *err);
	const char *instead; /* refused: what replaces it */
};

static int read_worker_limit(const struct bk_ynode *v, const char *name, const char *what,
			     struct co_config *c, struct bk_err *err)
{
	int r = bk_ynode_u64(v, name, what, &c->worker_limit, err);

	if (r == 0 && (c->worker_limit < 1 || c->worker_limit > 1024))
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be from 1 to 1024", name,
			       v->line, what);
	return r;
}

static int read_path(const struct bk_ynode *v, const char *name, const char *what, char **out,
		     struct bk_err *err)
{
	if (v->type != BK_Y_SCALAR || v->str[0] != '/')
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be an absolute path", name,
				  v->line, what);
	free(*out);
	*out = bk_strdup(v->str);
	return 0;
}

static int read_base_dir(const struct bk_ynode *v, const char *name, const char *what,
			 struct co_config *c, struct bk_err *err)
{
	return read_path(v, name, what, &c->base_dir, err);
}

static int read_callback(const struct bk_ynode *v, const char *name, const char *what,
			 struct co_config *c, struct bk_err *err)
{
	return read_path(v, name, what, &c->completed_callback, err);
}

static int read_status_file(const struct bk_ynode *v, const char *name, const char *what,
			    struct co_config *c, struct bk_err *err)
{
	return read_path(v, name, what, &c->status_file, err);
}

/* Python takes an integer; a quoted number is fine as well. */
static int read_status_interval(const struct bk_ynode *v, const char *name, const char *what,
				struct co_config *c, struct bk_err *err)
{
	uint64_t s = 0;
	int r = bk_ynode_u64(v, name, what, &s, err);

	if (r == 0 && (s < 1 || s > STATUS_INTERVAL_MAX))
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be from 1 to %d seconds", name,
			       v->line, what, STATUS_INTERVAL_MAX);
	if (r == 0)
		c->status_interval = (int)s;
	return r;
}

static const struct gkey gkeys[] = {
	{"base-dir", read_base_dir, NULL},
	{"worker-limit", read_worker_limit, NULL},
	{"backup-completed-callback", read_callback, NULL},
	{"status-file", read_status_file, NULL},
	{"status-interval", read_status_interval, NULL},
	{"telnet-addrs", NULL,
	 "the telnet console is replaced by 'backyctl status' and GET /v1/status on 'status.listen'"},
	{"telnet-port", NULL,
	 "the telnet console is replaced by 'backyctl status' and GET /v1/status on 'status.listen'"},
	{"api", NULL,
	 "the HTTP API is replaced by GET /v1/status on 'status.listen' (read-only) and 'backyctl' requests over the broker"},
};

int co_python_global(const struct bk_ynode *g, const char *name, struct co_config *c,
		     struct bk_err *err)
{
	struct bk_buf refused;
	char what[96];
	int r = 0;

	if (g->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'global' must be a map", name, g->line);
	bk_buf_init(&refused);
	for (size_t i = 0; r == 0 && i < g->n; i++) {
		const struct gkey *k = NULL;

		for (size_t j = 0; j < sizeof(gkeys) / sizeof(gkeys[0]); j++)
			if (!strcmp(g->keys[i], gkeys[j].name))
				k = &gkeys[j];
		snprintf(what, sizeof(what), "global.%s", g->keys[i]);
		if (!k)
			r = bk_err_set(err, BK_ECONFIG,
				       "%s: line %d: unknown key '%s' (Python backy's global keys are base-dir, worker-limit, backup-completed-callback, status-file, status-interval, telnet-addrs, telnet-port)",
				       name, g->items[i]->line, what);
		else if (k->read)
			r = k->read(g->items[i], name, what, c, err);
		else
			bk_buf_addf(&refused, "%sline %d: '%s': %s", refused.len ? "; " : "",
				    g->items[i]->line, what, k->instead);
	}
	if (r == 0 && refused.len)
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: Python backy settings without an equivalent, remove them: %s", name,
			       refused.p);
	bk_buf_release(&refused);
	return r;
}

int co_python_source_key(const char *const *where, enum bk_source_type type, const char *key,
			 const struct bk_ynode *v, struct bk_err *err)
{
	struct bk_py_source_opts o;
	int r;

	bk_py_source_opts_init(&o);
	r = bk_py_source_key(type, key, v, where[0], where[1], &o, err);
	if (r == 0 && o.full_always)
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: line %d: job '%s': 'source.full-always: true' is a setting of the storage host, not of the job: remove it here and set 'verify_full: true' in the source of the repository config on the storage host (every block compared with the snapshot)",
			       where[0], v->line, where[1]);
	return r;
}
