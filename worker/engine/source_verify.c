/*
 * source_verify.c: comparing a new image with the source snapshot, sized to
 * the change (see source_verify.h).
 *
 * Design notes:
 * 1. The cost is the fresh blocks plus a fixed sample, never a share of
 *    the image: the bitmap of fresh blocks is scanned a word at a time,
 *    and the sample is drawn by rank (popcount) among the blocks it is taken
 *    from, so an image of 16M blocks costs milliseconds beyond the reads.
 * 2. Ranges come out in ascending order (fresh runs and sample blocks
 *    merged), so the snapshot and the image are both read forwards.
 * 3. Blocks are compared byte for byte; digests are computed only for the
 *    quarantine report of a mismatch.
 */
#include "source_verify.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct walk {
	const struct bk_source_verify *v;
	uint64_t nblocks;
	uint64_t cursor;     /* next block a run may start at */
	bool runs_all;       /* runs over every block (verify_full) */
	bool runs_fresh;     /* runs over the fresh blocks (source_verify.h) */
	uint64_t *sample;    /* sorted block numbers */
	size_t nsample, si;
	int64_t deadline;
	unsigned char *img;  /* BK_SOURCE_VERIFY_READ bytes of the image */
	struct bk_quarantine *q;
	struct bk_source_verify_result *res;
};

static bool bit(const unsigned char *map, uint64_t b)
{
	return map[b / 8] & (1u << (b % 8));
}

/* Number of blocks below NBLOCKS whose bit in MAP is WANT. */
static uint64_t count_bits(const unsigned char *map, uint64_t nblocks, bool want)
{
	uint64_t n = 0, b = 0;

	for (; b + 64 <= nblocks; b += 64) {
		uint64_t w;

		memcpy(&w, map + b / 8, sizeof(w));
		n += (uint64_t)__builtin_popcountll(w);
	}
	for (; b < nblocks; b++)
		n += bit(map, b);
	return want ? n : nblocks - n;
}

/* The first block at or after FROM whose bit is set, or NBLOCKS. */
static uint64_t next_set(const unsigned char *map, uint64_t nblocks, uint64_t from)
{
	uint64_t b = from;

	while (b < nblocks && b % 64) {
		if (bit(map, b))
			return b;
		b++;
	}
	for (; b + 64 <= nblocks; b += 64) {
		uint64_t w;

		memcpy(&w, map + b / 8, sizeof(w));
		if (w)
			break;
	}
	for (; b < nblocks; b++)
		if (bit(map, b))
			return b;
	return nblocks;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort A[0..N) and drop repeats; returns the new count. */
static size_t sort_unique(uint64_t *a, size_t n)
{
	size_t k = 0;

	qsort(a, n, sizeof(*a), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!k || a[k - 1] != a[i])
			a[k++] = a[i];
	return k;
}

/*
 * Draw WANT distinct blocks at random (all of them when there are fewer)
 * among those whose bit is FROM_SET into W->sample, sorted: random distinct
 * ranks (drawn again where they repeat), then one pass from ranks to blocks.
 */
static void draw_sample(struct walk *w, uint64_t want, bool from_set)
{
	const unsigned char *map = w->v->fresh;
	uint64_t pool = count_bits(map, w->nblocks, from_set), seed = w->v->seed | 1;
	uint64_t rank = 0;
	size_t n = 0, k = 0;

	if (want > pool)
		want = pool;
	if (!want)
		return;
	w->sample = bk_malloc((size_t)want * sizeof(*w->sample));
	if (want == pool) {
		for (uint64_t i = 0; i < want; i++)
			w->sample[i] = i;
		n = (size_t)want;
	}
	while (n < want) {
		for (size_t i = n; i < want; i++)
			w->sample[i] = xorshift(&seed) % pool;
		n = sort_unique(w->sample, (size_t)want);
	}
	/* ranks to block numbers, in place (both ascend); whole words skipped */
	for (uint64_t b = 0; b < w->nblocks && k < n; b++) {
		if (b % 64 == 0 && b + 64 <= w->nblocks) {
			uint64_t word, in;

			memcpy(&word, map + b / 8, sizeof(word));
			in = (uint64_t)__builtin_popcountll(from_set ? word : ~word);
			if (rank + in <= w->sample[k]) {
				rank += in;
				b += 63;
				continue;
			}
		}
		if (bit(map, b) != from_set)
			continue;
		if (rank++ == w->sample[k])
			w->sample[k++] = b;
	}
	w->nsample = k;
}

/* struct bk_verify_io.next */
static int walk_next(void *arg, uint64_t *off, size_t *len)
{
	struct walk *w = arg;
	const struct bk_source_verify *v = w->v;
	uint64_t run = w->nblocks, end, max = BK_SOURCE_VERIFY_READ / v->block_size;
	uint64_t first;

	while (w->si < w->nsample && w->sample[w->si] < w->cursor)
		w->si++;
	if (w->runs_all)
		run = w->cursor;
	else if (w->runs_fresh)
		run = next_set(v->fresh, w->nblocks, w->cursor);
	if (run >= w->nblocks && w->si == w->nsample)
		return 0;
	if (bk_monotonic() > w->deadline)
		return 0;
	if (w->si < w->nsample && w->sample[w->si] < run) {
		first = w->sample[w->si++];
		end = first + 1;
	} else {
		first = run;
		end = first + 1;
		while (end < w->nblocks && end - first < max &&
		       (w->runs_all || bit(v->fresh, end)))
			end++;
		w->cursor = end;
	}
	*off = first * v->block_size;
	*len = (size_t)((end * v->block_size < v->size ? end * v->block_size : v->size) - *off);
	return 1;
}

/* struct bk_verify_io.check: compare the snapshot's DATA with the image */
static int walk_check(void *arg, uint64_t off, size_t len, const unsigned char *data,
		      struct bk_err *err)
{
	struct walk *w = arg;
	const struct bk_source_verify *v = w->v;
	size_t got;
	int r;

	r = bk_pread_full(v->img_fd, w->img, len, off, &got);
	if (r < 0 || got != len)
		return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read back '%s'", v->img_name);
	for (size_t pos = 0; pos < len; pos += v->block_size) {
		size_t blen = len - pos < v->block_size ? len - pos : v->block_size;

		if (memcmp(data + pos, w->img + pos, blen) != 0) {
			struct bk_digest ds, di;

			bk_hash(data + pos, blen, &ds);
			bk_hash(w->img + pos, blen, &di);
			bk_quarantine_add(w->q, off + pos, blen, &ds, &di);
			if (v->incremental && !bit(v->written, (off + pos) / v->block_size))
				w->res->parent_bad = true;
		}
		w->res->checked++;
	}
	return 0;
}

int bk_source_verify(const struct bk_source_verify *v, struct bk_quarantine *q,
		     struct bk_source_verify_result *res, struct bk_err *err)
{
	const struct bk_source_config *cfg = v->src->cfg;
	struct walk w = {.v = v, .q = q, .res = res};
	struct bk_verify_io io = {walk_next, walk_check, &w};
	int r;

	memset(res, 0, sizeof(*res));
	w.nblocks = (v->size + v->block_size - 1) / v->block_size;
	w.deadline = bk_monotonic() + (int64_t)(cfg->verify_budget * BK_USEC);
	if (cfg->verify_full) {
		w.runs_all = true;
		res->planned = w.nblocks;
	} else if (v->incremental) {
		w.runs_fresh = true;
		draw_sample(&w, cfg->verify_sample, false);
		res->planned = count_bits(v->fresh, w.nblocks, true) + w.nsample;
	} else {
		draw_sample(&w, cfg->verify_sample, true);
		res->planned = w.nsample;
	}
	w.img = bk_malloc(BK_SOURCE_VERIFY_READ);
	r = v->src->ops->verify_read(v->src, &io, err);
	free(w.img);
	free(w.sample);
	return r;
}
