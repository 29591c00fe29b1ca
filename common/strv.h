/*
 * strv.h: a sorted set of unique strings (revision tags, schedule tag names).
 *
 * The set owns its strings.  Order is strcmp order, so two sets with the
 * same members compare and print the same way.
 */
#ifndef BK_STRV_H
#define BK_STRV_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct bk_strv {
	char **v;
	size_t n;
};

#define BK_STRV_INIT {NULL, 0}

void bk_strv_release(struct bk_strv *s);
void bk_strv_add(struct bk_strv *s, const char *str);
bool bk_strv_remove(struct bk_strv *s, const char *str);
bool bk_strv_has(const struct bk_strv *s, const char *str);
void bk_strv_copy(struct bk_strv *dst, const struct bk_strv *src);
void bk_strv_merge(struct bk_strv *dst, const struct bk_strv *src);
bool bk_strv_equal(const struct bk_strv *a, const struct bk_strv *b);

/* Add the comma-separated, whitespace-trimmed, non-empty items of LIST. */
void bk_strv_split(struct bk_strv *s, const char *list);

/* Append the members joined by SEP. */
void bk_strv_join(const struct bk_strv *s, const char *sep, struct bk_buf *out);

#endif
