/* strv.c: sorted string sets (see strv.h). */
#include "strv.h"

#include <stdlib.h>
#include <string.h>

void bk_strv_release(struct bk_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Index of STR, or of the position where it would be inserted; *FOUND says which. */
static size_t find(const struct bk_strv *s, const char *str, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid], str);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

void bk_strv_add(struct bk_strv *s, const char *str)
{
	bool found;
	size_t i = find(s, str, &found);

	if (found)
		return;
	s->v = bk_realloc(s->v, (s->n + 1) * sizeof(*s->v));
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = bk_strdup(str);
	s->n++;
}

bool bk_strv_remove(struct bk_strv *s, const char *str)
{
	bool found;
	size_t i = find(s, str, &found);

	if (!found)
		return false;
	free(s->v[i]);
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return true;
}

bool bk_strv_has(const struct bk_strv *s, const char *str)
{
	bool found;

	find(s, str, &found);
	return found;
}

void bk_strv_copy(struct bk_strv *dst, const struct bk_strv *src)
{
	bk_strv_release(dst);
	bk_strv_merge(dst, src);
}

void bk_strv_merge(struct bk_strv *dst, const struct bk_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		bk_strv_add(dst, src->v[i]);
}

bool bk_strv_equal(const struct bk_strv *a, const struct bk_strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

void bk_strv_split(struct bk_strv *s, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		const char *a = p, *b;
		char *item;

		if (!end)
			end = p + strlen(p);
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			item = bk_strndup(a, (size_t)(b - a));
			bk_strv_add(s, item);
			free(item);
		}
		p = *end ? end + 1 : end;
	}
}

void bk_strv_join(const struct bk_strv *s, const char *sep, struct bk_buf *out)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			bk_buf_adds(out, sep);
		bk_buf_adds(out, s->v[i]);
	}
}
