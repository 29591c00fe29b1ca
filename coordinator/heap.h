/*
 * heap.h: an indexed binary min-heap of (key, id) pairs.
 *
 * The coordinator keeps two: due times of idle jobs and deadlines of jobs in
 * flight.  Ids are small integers (job slots); POS maps an id to its place in
 * the heap so a key can be changed or removed in O(log n).  Peeking at the
 * minimum is O(1): a tick with nothing due is one comparison.
 *
 * Ownership: the heap owns its arrays; co_heap_release() frees them.
 * Allocation failure aborts (bk_malloc).
 */
#ifndef CO_HEAP_H
#define CO_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct co_heap_ent {
	int64_t key;
	uint32_t id;
};

struct co_heap {
	struct co_heap_ent *v;
	size_t n, cap;
	uint32_t *pos; /* pos[id] = index + 1, 0 when id is not in the heap */
	size_t npos;
};

void co_heap_init(struct co_heap *h);
void co_heap_release(struct co_heap *h);

/* Insert ID with KEY, or change its key when it is already in the heap. */
void co_heap_set(struct co_heap *h, uint32_t id, int64_t key);

/* Remove ID; false when it was not in the heap. */
bool co_heap_remove(struct co_heap *h, uint32_t id);

bool co_heap_has(const struct co_heap *h, uint32_t id);

/* Key of ID (which must be in the heap). */
int64_t co_heap_key(const struct co_heap *h, uint32_t id);

/* The minimum without removing it; false when the heap is empty. */
static inline bool co_heap_peek(const struct co_heap *h, int64_t *key, uint32_t *id)
{
	if (h->n == 0)
		return false;
	*key = h->v[0].key;
	*id = h->v[0].id;
	return true;
}

/* Remove and return the minimum; false when the heap is empty. */
bool co_heap_pop(struct co_heap *h, int64_t *key, uint32_t *id);

#endif
