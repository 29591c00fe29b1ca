/*
 * ydoc.h: a small, strict YAML document tree on top of libyaml.
 *
 * Used for repository configs, .rev files and the central config.  The
 * loader is strict because these files steer deletion: aliases, anchors,
 * tags other than plain scalars, non-scalar or duplicate keys, more than one
 * document and nesting deeper than BK_YAML_MAX_DEPTH are errors, reported
 * with the line number.  All strings are owned by the tree.
 */
#ifndef BK_YDOC_H
#define BK_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BK_YAML_MAX_DEPTH 32
#define BK_YAML_MAX_BYTES (1 << 20)

enum bk_ytype { BK_Y_SCALAR, BK_Y_SEQ, BK_Y_MAP };

struct bk_ynode {
	enum bk_ytype type;
	int line;              /* 1-based line where the node starts */
	char *str;             /* BK_Y_SCALAR: the value, never NULL */
	bool plain;            /* BK_Y_SCALAR: unquoted (so "null" or "~" means null) */
	size_t n;              /* BK_Y_SEQ, BK_Y_MAP: number of items */
	char **keys;           /* BK_Y_MAP: the keys */
	struct bk_ynode **items;
};

/* Parse LEN bytes at BUF; NAME is used in messages.  *OUT is NULL for an empty document. */
int bk_yaml_parse(const char *buf, size_t len, const char *name, struct bk_ynode **out,
		  struct bk_err *err);

void bk_ynode_free(struct bk_ynode *node);

/* The value of KEY in MAP, or NULL (also when MAP is not a map). */
const struct bk_ynode *bk_ymap_get(const struct bk_ynode *map, const char *key);

/*
 * BK_ECONFIG unless MAP is a map whose keys are all in KNOWN (NULL-terminated).
 * WHAT names the map in messages ("amqp"; "" for the top level).
 */
int bk_ymap_check_keys(const struct bk_ynode *map, const char *const *known, const char *name,
		       const char *what, struct bk_err *err);

/*
 * Optional non-empty string KEY of MAP into *OUT, an owned copy replacing
 * the old value (untouched when KEY is absent or null).  WHAT names it in
 * messages ("amqp.url").
 */
int bk_ymap_str(const struct bk_ynode *map, const char *key, const char *name, const char *what,
		char **out, struct bk_err *err);

/* Whether NODE is absent or a plain null scalar ("", "~", "null"). */
bool bk_ynode_is_null(const struct bk_ynode *node);

/*
 * Typed accessors for scalars; each returns BK_ECONFIG with a message naming
 * NAME (the file) and the line when NODE is not a scalar of that type.
 */
int bk_ynode_u64(const struct bk_ynode *node, const char *name, const char *what, uint64_t *out,
		 struct bk_err *err);
int bk_ynode_double(const struct bk_ynode *node, const char *name, const char *what, double *out,
		    struct bk_err *err);
int bk_ynode_str(const struct bk_ynode *node, const char *name, const char *what, const char **out,
		 struct bk_err *err);
/* true or false (plain YAML words), as "'WHAT' must be true or false". */
int bk_ynode_bool(const struct bk_ynode *node, const char *name, const char *what, bool *out,
		  struct bk_err *err);

#endif
