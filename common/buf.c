/* buf.c: growable buffers and aborting allocators (see buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("backy: out of memory\n", stderr);
	abort();
}

void *bk_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *bk_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *bk_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *bk_strdup(const char *s)
{
	return bk_strndup(s, strlen(s));
}

char *bk_strndup(const char *s, size_t n)
{
	char *p = bk_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void bk_buf_init(struct bk_buf *b)
{
	b->cap = 64;
	b->len = 0;
	b->p = bk_malloc(b->cap);
	b->p[0] = '\0';
}

void bk_buf_release(struct bk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void bk_buf_reset(struct bk_buf *b)
{
	b->len = 0;
	b->p[0] = '\0';
}

static void grow(struct bk_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	while (b->len + extra + 1 > b->cap)
		b->cap *= 2;
	b->p = bk_realloc(b->p, b->cap);
}

void bk_buf_add(struct bk_buf *b, const void *data, size_t len)
{
	grow(b, len);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void bk_buf_adds(struct bk_buf *b, const char *s)
{
	bk_buf_add(b, s, strlen(s));
}

void bk_buf_addf(struct bk_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void bk_buf_add_quoted(struct bk_buf *b, const char *s)
{
	bk_buf_adds(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			bk_buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			bk_buf_addf(b, "\\x%02x", c);
		else
			bk_buf_add(b, s, 1);
	}
	bk_buf_adds(b, "\"");
}

void bk_size_format(unsigned long long bytes, char *out, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, size, "%llu B", bytes);
	else
		snprintf(out, size, "%.2f %s", v, units[u]);
}
