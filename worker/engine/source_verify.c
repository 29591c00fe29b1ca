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
 * 4. An incremental with a diff draws its sample from the blocks outside
 *    the diff and compares them in a thread while the copy runs: they are
 *    the parent's, cloned before the copy starts, and the copy leaves their
 *    bytes as they are (a fragmented chunk rewritten whole gets the same
 *    bytes back).  Any mismatch there is the parent's.  The thread touches
 *    only its own walk, quarantine and result, merged when it is joined;
 *    the fresh blocks are known only when the copy is over.
 */
#include "source_verify.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct walk {
	const struct bk_source_verify *v;
	bool early;          /* the sample outside v->changes, during the copy (note 4) */
	uint64_t nblocks;
	uint64_t cursor;     /* next block a run may start at */
	bool runs_all;       /* runs over every block (verify_full) */
	bool runs_fresh;     /* runs over the fresh blocks (source_verify.h) */
	uint64_t *sample;    /* sorted block numbers */
	size_t nsample, si;
	int64_t deadline;
	atomic_bool *stop;   /* set: end the reads now (an abandoned backup) */
	unsigned char *img;  /* BK_SOURCE_VERIFY_READ bytes of the image */
	struct bk_quarantine *q;
	struct bk_source_verify_result *res;
};

/* A verification started before the copy (source_verify.h). */
struct bk_source_verify_task {
	const struct bk_source_verify *v;
	struct walk fresh;          /* after the copy: the fresh blocks */
	struct walk early;          /* during it: the sample, in THREAD */
	struct bk_quarantine eq;    /* ... its mismatches */
	struct bk_source_verify_result eres;
	struct bk_err eerr;
	int er;
	pthread_t thread;
	bool threaded;
	atomic_bool stop;
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
 * among those whose bit in MAP is FROM_SET into W->sample, sorted: random
 * distinct ranks (drawn again where they repeat), then one pass from ranks
 * to blocks.
 */
static void draw_sample(struct walk *w, uint64_t want, const unsigned char *map, bool from_set)
{
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
	if (bk_monotonic() > w->deadline || (w->stop && atomic_load(w->stop)))
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
			/* the early sample holds only blocks the copy keeps from the parent */
			if (w->early || (v->incremental && !bit(v->written, (off + pos) / v->block_size)))
				w->res->parent_bad = true;
		}
		w->res->checked++;
	}
	return 0;
}

/* The sample of the blocks outside v->changes, in its own thread (note 4). */
static void *early_main(void *arg)
{
	struct bk_source_verify_task *t = arg;
	struct bk_verify_io io = {walk_next, walk_check, &t->early};

	t->er = t->v->src->ops->verify_read(t->v->src, &io, &t->eerr);
	return NULL;
}

static void walk_init(struct walk *w, const struct bk_source_verify *v, struct bk_quarantine *q,
		      struct bk_source_verify_result *res)
{
	memset(res, 0, sizeof(*res));
	w->v = v;
	w->q = q;
	w->res = res;
	w->nblocks = (v->size + v->block_size - 1) / v->block_size;
	w->deadline = bk_monotonic() + (int64_t)(v->src->cfg->verify_budget * BK_USEC);
	w->img = bk_malloc(BK_SOURCE_VERIFY_READ);
}

struct bk_source_verify_task *bk_source_verify_start(const struct bk_source_verify *v)
{
	struct bk_source_verify_task *t = bk_calloc(1, sizeof(*t));
	const struct bk_source_config *cfg = v->src->cfg;
	struct walk *e = &t->early;

	t->v = v;
	atomic_init(&t->stop, false);
	if (!v->incremental || !v->changes || cfg->verify_full || !cfg->verify_sample)
		return t;
	bk_quarantine_init(&t->eq);
	walk_init(e, v, &t->eq, &t->eres);
	e->early = true;
	e->stop = &t->stop;
	draw_sample(e, cfg->verify_sample, v->changes, false);
	e->res->planned = e->nsample;
	if (pthread_create(&t->thread, NULL, early_main, t) == 0) {
		t->threaded = true;
		return t;
	}
	/* no thread: the sample is compared after the copy instead */
	free(e->img);
	free(e->sample);
	bk_quarantine_release(&t->eq);
	memset(e, 0, sizeof(*e));
	return t;
}

/*
 * Join the early sample's thread (its findings go to Q and RES) and free T.
 * Returns its result, its error in ERR.
 */
static int join_free(struct bk_source_verify_task *t, struct bk_quarantine *q,
		     struct bk_source_verify_result *res, struct bk_err *err)
{
	int r = 0;

	if (t->threaded) {
		pthread_join(t->thread, NULL);
		r = t->er;
		if (r < 0)
			*err = t->eerr;
		bk_quarantine_merge(q, &t->eq);
		res->planned += t->eres.planned;
		res->checked += t->eres.checked;
		res->early = t->eres.checked;
		res->parent_bad |= t->eres.parent_bad;
		free(t->early.img);
		free(t->early.sample);
		bk_quarantine_release(&t->eq);
	}
	free(t);
	return r;
}

int bk_source_verify_finish(struct bk_source_verify_task *t, struct bk_quarantine *q,
			    struct bk_source_verify_result *res, struct bk_err *err)
{
	const struct bk_source_verify *v = t->v;
	const struct bk_source_config *cfg = v->src->cfg;
	struct walk *w = &t->fresh;
	struct bk_verify_io io = {walk_next, walk_check, w};
	struct bk_err eerr = {0};
	int r, re;

	walk_init(w, v, q, res);
	if (cfg->verify_full) {
		w->runs_all = true;
		res->planned = w->nblocks;
	} else if (v->incremental) {
		w->runs_fresh = true;
		if (!t->threaded)
			draw_sample(w, cfg->verify_sample, v->fresh, false);
		res->planned = count_bits(v->fresh, w->nblocks, true) + w->nsample;
	} else {
		draw_sample(w, cfg->verify_sample, v->fresh, true);
		res->planned = w->nsample;
	}
	r = v->src->ops->verify_read(v->src, &io, err);
	free(w->img);
	free(w->sample);
	if (r < 0)
		atomic_store(&t->stop, true);
	re = join_free(t, q, res, &eerr);
	if (r == 0 && re < 0) {
		*err = eerr;
		r = re;
	}
	bk_debug("verification against the source: %llu of %llu blocks compared, %llu of them during the copy, %u differ",
		 (unsigned long long)res->checked, (unsigned long long)res->planned,
		 (unsigned long long)res->early, q->count);
	return r;
}

void bk_source_verify_abandon(struct bk_source_verify_task *t)
{
	struct bk_source_verify_result res = {0};
	struct bk_quarantine q;
	struct bk_err err = {0};

	if (!t)
		return;
	atomic_store(&t->stop, true);
	bk_quarantine_init(&q);
	join_free(t, &q, &res, &err);
	bk_quarantine_release(&q);
}
