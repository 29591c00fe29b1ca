/* heap.c: indexed binary min-heap (see heap.h). */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

void co_heap_init(struct co_heap *h)
{
	memset(h, 0, sizeof(*h));
}

void co_heap_release(struct co_heap *h)
{
	free(h->v);
	free(h->pos);
	co_heap_init(h);
}

/* Ties are broken by id so the order of equal keys is deterministic. */
static bool less(const struct co_heap_ent *a, const struct co_heap_ent *b)
{
	return a->key < b->key || (a->key == b->key && a->id < b->id);
}

static void place(struct co_heap *h, size_t i, struct co_heap_ent e)
{
	h->v[i] = e;
	h->pos[e.id] = (uint32_t)(i + 1);
}

static void sift_up(struct co_heap *h, size_t i)
{
	struct co_heap_ent e = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!less(&e, &h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, e);
}

static void sift_down(struct co_heap *h, size_t i)
{
	struct co_heap_ent e = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!less(&h->v[c], &e))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, e);
}

bool co_heap_has(const struct co_heap *h, uint32_t id)
{
	return id < h->npos && h->pos[id] != 0;
}

int64_t co_heap_key(const struct co_heap *h, uint32_t id)
{
	return h->v[h->pos[id] - 1].key;
}

void co_heap_set(struct co_heap *h, uint32_t id, int64_t key)
{
	struct co_heap_ent e = {key, id};

	if (id >= h->npos) {
		size_t n = h->npos ? h->npos : 64;

		while (n <= id)
			n *= 2;
		h->pos = bk_realloc(h->pos, n * sizeof(*h->pos));
		memset(h->pos + h->npos, 0, (n - h->npos) * sizeof(*h->pos));
		h->npos = n;
	}
	if (h->pos[id]) {
		size_t i = h->pos[id] - 1;
		int64_t old = h->v[i].key;

		h->v[i].key = key;
		if (key < old)
			sift_up(h, i);
		else
			sift_down(h, i);
		return;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->v = bk_realloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = e;
	sift_up(h, h->n - 1);
}

bool co_heap_remove(struct co_heap *h, uint32_t id)
{
	size_t i;

	if (!co_heap_has(h, id))
		return false;
	i = h->pos[id] - 1;
	h->pos[id] = 0;
	h->n--;
	if (i == h->n)
		return true;
	place(h, i, h->v[h->n]);
	if (i > 0 && less(&h->v[i], &h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
	return true;
}

bool co_heap_pop(struct co_heap *h, int64_t *key, uint32_t *id)
{
	if (h->n == 0)
		return false;
	*key = h->v[0].key;
	*id = h->v[0].id;
	co_heap_remove(h, *id);
	return true;
}
