/* ydoc.c: strict YAML tree loader over libyaml's event parser (see ydoc.h). */
#include "ydoc.h"

#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct loader {
	yaml_parser_t parser;
	const char *name;
	struct bk_err *err;
};

void bk_ynode_free(struct bk_ynode *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->n; i++) {
		if (node->keys)
			free(node->keys[i]);
		bk_ynode_free(node->items[i]);
	}
	free(node->keys);
	free(node->items);
	free(node->str);
	free(node);
}

static int next_event(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev))
		return bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: %s", l->name,
				  l->parser.problem_mark.line + 1,
				  l->parser.problem ? l->parser.problem : "syntax error");
	return 0;
}

static int load_node(struct loader *l, yaml_event_t *ev, int depth, struct bk_ynode **out);

/* Load the items of a sequence or map whose start event has been consumed. */
static int load_children(struct loader *l, struct bk_ynode *node, int depth)
{
	yaml_event_type_t end = node->type == BK_Y_MAP ? YAML_MAPPING_END_EVENT
						       : YAML_SEQUENCE_END_EVENT;
	yaml_event_t ev;
	int r;

	for (;;) {
		char *key = NULL;
		struct bk_ynode *child = NULL;

		r = next_event(l, &ev);
		if (r < 0)
			return r;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (node->type == BK_Y_MAP) {
			if (ev.type != YAML_SCALAR_EVENT) {
				r = bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: keys must be scalars",
					       l->name, ev.start_mark.line + 1);
				yaml_event_delete(&ev);
				return r;
			}
			key = bk_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			if (bk_ymap_get(node, key)) {
				r = bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: duplicate key '%s'",
					       l->name, ev.start_mark.line + 1, key);
				free(key);
				yaml_event_delete(&ev);
				return r;
			}
			yaml_event_delete(&ev);
			r = next_event(l, &ev);
			if (r < 0) {
				free(key);
				return r;
			}
		}
		r = load_node(l, &ev, depth + 1, &child);
		if (r < 0) {
			free(key);
			return r;
		}
		node->items = bk_realloc(node->items, (node->n + 1) * sizeof(*node->items));
		if (node->type == BK_Y_MAP) {
			node->keys = bk_realloc(node->keys, (node->n + 1) * sizeof(*node->keys));
			node->keys[node->n] = key;
		}
		node->items[node->n++] = child;
	}
}

/* Build a node from EV (consumed) and, for collections, the events that follow. */
static int load_node(struct loader *l, yaml_event_t *ev, int depth, struct bk_ynode **out)
{
	struct bk_ynode *node;
	yaml_char_t *anchor = NULL, *tag = NULL;
	int r;

	if (depth > BK_YAML_MAX_DEPTH) {
		r = bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: nested too deeply", l->name,
			       ev->start_mark.line + 1);
		yaml_event_delete(ev);
		return r;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_ALIAS_EVENT:
	default:
		r = bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: aliases are not supported",
			       l->name, ev->start_mark.line + 1);
		yaml_event_delete(ev);
		return r;
	}
	if (anchor || tag) {
		r = bk_err_set(l->err, BK_ECONFIG, "%s: line %zu: anchors and tags are not supported",
			       l->name, ev->start_mark.line + 1);
		yaml_event_delete(ev);
		return r;
	}
	node = bk_calloc(1, sizeof(*node));
	node->line = (int)ev->start_mark.line + 1;
	if (ev->type == YAML_SCALAR_EVENT) {
		node->type = BK_Y_SCALAR;
		node->str = bk_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		yaml_event_delete(ev);
		*out = node;
		return 0;
	}
	node->type = ev->type == YAML_MAPPING_START_EVENT ? BK_Y_MAP : BK_Y_SEQ;
	yaml_event_delete(ev);
	r = load_children(l, node, depth);
	if (r < 0) {
		bk_ynode_free(node);
		return r;
	}
	*out = node;
	return 0;
}

int bk_yaml_parse(const char *buf, size_t len, const char *name, struct bk_ynode **out,
		  struct bk_err *err)
{
	struct loader l = {.name = name, .err = err};
	struct bk_ynode *root = NULL;
	yaml_event_t ev;
	int r;

	*out = NULL;
	if (len > BK_YAML_MAX_BYTES)
		return bk_err_set(err, BK_ECONFIG, "%s: larger than %d bytes", name, BK_YAML_MAX_BYTES);
	if (memchr(buf, '\0', len))
		return bk_err_set(err, BK_ECONFIG, "%s: contains a NUL byte", name);
	if (!yaml_parser_initialize(&l.parser))
		return bk_err_set(err, -ENOMEM, "%s: cannot initialise the YAML parser", name);
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);

	/* stream start, then a document start or the stream end */
	r = next_event(&l, &ev);
	if (r < 0)
		goto out;
	yaml_event_delete(&ev);
	r = next_event(&l, &ev);
	if (r < 0)
		goto out;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	r = next_event(&l, &ev);
	if (r < 0)
		goto out;
	r = load_node(&l, &ev, 0, &root);
	if (r < 0)
		goto out;
	r = next_event(&l, &ev); /* document end */
	if (r < 0)
		goto out;
	yaml_event_delete(&ev);
	r = next_event(&l, &ev);
	if (r < 0)
		goto out;
	if (ev.type != YAML_STREAM_END_EVENT) {
		r = bk_err_set(err, BK_ECONFIG, "%s: line %zu: only one document is allowed", name,
			       ev.start_mark.line + 1);
		yaml_event_delete(&ev);
		goto out;
	}
	yaml_event_delete(&ev);
	/* an empty document is a plain empty scalar: treat it as no document */
	if (root->type == BK_Y_SCALAR && root->plain && root->str[0] == '\0') {
		bk_ynode_free(root);
		root = NULL;
	}
	*out = root;
	root = NULL;
out:
	bk_ynode_free(root);
	yaml_parser_delete(&l.parser);
	return r;
}

const struct bk_ynode *bk_ymap_get(const struct bk_ynode *map, const char *key)
{
	if (!map || map->type != BK_Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

bool bk_ynode_is_null(const struct bk_ynode *node)
{
	if (!node)
		return true;
	if (node->type != BK_Y_SCALAR || !node->plain)
		return false;
	return !node->str[0] || !strcmp(node->str, "~") || !strcmp(node->str, "null") ||
	       !strcmp(node->str, "Null") || !strcmp(node->str, "NULL");
}

static int type_error(const struct bk_ynode *node, const char *name, const char *what,
		      const char *expected, struct bk_err *err)
{
	if (!node)
		return bk_err_set(err, BK_ECONFIG, "%s: '%s' is missing", name, what);
	return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be %s", name, node->line, what,
			  expected);
}

int bk_ynode_u64(const struct bk_ynode *node, const char *name, const char *what, uint64_t *out,
		 struct bk_err *err)
{
	char *end;
	unsigned long long v;

	if (!node || node->type != BK_Y_SCALAR || node->str[0] < '0' || node->str[0] > '9')
		return type_error(node, name, what, "a non-negative integer", err);
	errno = 0;
	v = strtoull(node->str, &end, 10);
	if (errno || *end)
		return type_error(node, name, what, "a non-negative integer", err);
	*out = v;
	return 0;
}

int bk_ynode_double(const struct bk_ynode *node, const char *name, const char *what, double *out,
		    struct bk_err *err)
{
	char *end;
	double v;

	if (!node || node->type != BK_Y_SCALAR || !node->str[0])
		return type_error(node, name, what, "a number", err);
	errno = 0;
	v = strtod(node->str, &end);
	if (errno || *end || !isfinite(v))
		return type_error(node, name, what, "a number", err);
	*out = v;
	return 0;
}

int bk_ynode_str(const struct bk_ynode *node, const char *name, const char *what, const char **out,
		 struct bk_err *err)
{
	if (!node || node->type != BK_Y_SCALAR)
		return type_error(node, name, what, "a string", err);
	*out = node->str;
	return 0;
}

int bk_ymap_check_keys(const struct bk_ynode *map, const char *const *known, const char *name,
		       const char *what, struct bk_err *err)
{
	if (map->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be a map", name, map->line,
				  what);
	for (size_t i = 0; i < map->n; i++) {
		bool ok = false;

		for (size_t k = 0; known[k]; k++)
			ok |= strcmp(map->keys[i], known[k]) == 0;
		if (!ok)
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: unknown key '%s'%s%s", name,
					  map->items[i]->line, map->keys[i], what[0] ? " in " : "",
					  what);
	}
	return 0;
}

int bk_ymap_str(const struct bk_ynode *map, const char *key, const char *name, const char *what,
		char **out, struct bk_err *err)
{
	const struct bk_ynode *n = bk_ymap_get(map, key);
	const char *s = NULL;
	int r;

	if (bk_ynode_is_null(n))
		return 0;
	r = bk_ynode_str(n, name, what, &s, err);
	if (r < 0)
		return r;
	if (!s[0])
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must not be empty", name,
				  n->line, what);
	free(*out);
	*out = bk_strdup(s);
	return 0;
}

int bk_ynode_bool(const struct bk_ynode *node, const char *name, const char *what, bool *out,
		  struct bk_err *err)
{
	if (!node || node->type != BK_Y_SCALAR ||
	    (strcmp(node->str, "true") != 0 && strcmp(node->str, "false") != 0))
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be true or false", name,
				  node ? node->line : 0, what);
	*out = strcmp(node->str, "true") == 0;
	return 0;
}
