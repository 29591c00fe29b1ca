/*
 * buf.h: a growable, always NUL-terminated byte buffer (after git's strbuf).
 *
 * A buffer owns its memory; bk_buf_release() frees it, after which the
 * buffer must be initialised again before it is used.  Allocation failure aborts: backy has no useful way to go on
 * without memory for a few kilobytes of metadata.
 */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stddef.h>

struct bk_buf {
	char *p;    /* NUL-terminated; never NULL between init and release */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap;
};

void bk_buf_init(struct bk_buf *b);
void bk_buf_release(struct bk_buf *b);
void bk_buf_reset(struct bk_buf *b);
void bk_buf_add(struct bk_buf *b, const void *data, size_t len);
void bk_buf_adds(struct bk_buf *b, const char *s);
void bk_buf_addf(struct bk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append S as a YAML double-quoted scalar (control characters as \\xNN escapes). */
void bk_buf_add_quoted(struct bk_buf *b, const char *s);

/* "20.00 GiB" style rendering of a byte count into OUT. */
void bk_size_format(unsigned long long bytes, char *out, size_t size);

/* Allocation helpers that abort on failure. */
void *bk_malloc(size_t n);
void *bk_calloc(size_t n, size_t size);
void *bk_realloc(void *p, size_t n);
char *bk_strdup(const char *s);
char *bk_strndup(const char *s, size_t n);

#endif
