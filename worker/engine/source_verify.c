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
 *    merged), so the snapshot and the image are both read forwards; alongside
 *    the copy, the sample may run ahead of the fresh blocks.
 * 3. Blocks are compared byte for byte; digests are computed only for the
 *    quarantine report of a mismatch.
 * 4. An incremental with a diff is compared in a thread alongside the copy:
 *    its sample, drawn from the blocks outside the diff, at once (they are
 *    the parent's, cloned before the copy starts, and the copy leaves their
 *    bytes as they are: a fragmented chunk rewritten whole gets the same
 *    bytes back), so a mismatch there is the parent's; its fresh blocks
 *    below the block the copy says it is done with (whole bitmap bytes, so
 *    the copy never writes a byte the thread reads), waiting for more.  The
 *    thread has its own walk, quarantine and result, merged when it is
 *    joined.  The time budget counts from the end of the copy.
 */
#include "source_verify.h"

#include "bitmap.h"
#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct walk {
	const struct bk_source_verify *v;
	struct bk_source_verify_task *task; /* a walk alongside the copy (note 4); NULL after it */
	uint64_t nblocks;
	uint64_t cursor;     /* next block a run may start at */
	bool runs_all;       /* runs over every block (verify_full) */
	bool runs_fresh;     /* runs over the fresh blocks (source_verify.h) */
	uint64_t *sample;    /* sorted block numbers */
	size_t nsample, si;
	int64_t deadline;    /* of a walk alongside the copy: set when the copy is over */
	unsigned char *img;  /* BK_SOURCE_VERIFY_READ bytes of the image */
	struct bk_quarantine *q;
	struct bk_source_verify_result *res;
};

/* A verification started before the copy (source_verify.h). */
struct bk_source_verify_task {
	const struct bk_source_verify *v;
	struct walk walk;           /* in THREAD, alongside the copy */
	struct bk_quarantine q;     /* ... its mismatches */
	struct bk_source_verify_result res;
	struct bk_err err;
	int r;
	pthread_t thread;
	bool threaded;
	atomic_bool stop;           /* end the reads now (an abandoned backup) */
	atomic_uint_least64_t copied; /* the copy is done below this block */
	atomic_bool waiting;        /* the walk waits for COPIED to move, on COND */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

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
 * to blocks.  The kernel is asked to read them ahead in the image.
 */
static void draw_sample(struct walk *w, uint64_t want, const unsigned char *map, bool from_set)
{
	uint64_t set = bk_bits_count(map, w->nblocks), seed = w->v->seed | 1;
	uint64_t pool = from_set ? set : w->nblocks - set;
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
		if (bk_bit(map, b) != from_set)
			continue;
		if (rank++ == w->sample[k])
			w->sample[k++] = b;
	}
	w->nsample = k;
	/* cold in the image (a clone has a page cache of its own): read ahead */
	for (k = 0; k < w->nsample; k++)
		posix_fadvise(w->v->img_fd, (off_t)(w->sample[k] * w->v->block_size),
			      (off_t)w->v->block_size, POSIX_FADV_WILLNEED);
}

/* Wait (a while at most) for the copy to get past block LIM. */
static void wait_copied(struct bk_source_verify_task *t, uint64_t lim)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100000000L; /* 0.1 s */
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->waiting, true);
	if (atomic_load(&t->copied) == lim && !atomic_load(&t->stop))
		pthread_cond_timedwait(&t->cond, &t->lock, &until);
	atomic_store(&t->waiting, false);
	pthread_mutex_unlock(&t->lock);
}

/*
 * struct bk_verify_io.next: runs (fresh or all blocks) and sample blocks
 * merged in ascending order; alongside the copy, runs only below the
 * blocks it is done with (waiting for more), sample blocks at any time.
 */
static int walk_next(void *arg, uint64_t *off, size_t *len)
{
	struct walk *w = arg;
	const struct bk_source_verify *v = w->v;
	uint64_t max = BK_SOURCE_VERIFY_READ / v->block_size;
	uint64_t lim, run, first, end;

	for (;;) {
		lim = w->task ? atomic_load(&w->task->copied) : w->nblocks;
		if (w->task && atomic_load(&w->task->stop))
			return 0;
		if (lim == w->nblocks && bk_monotonic() > w->deadline)
			return 0;
		run = lim;
		if (w->runs_all)
			run = w->cursor;
		else if (w->runs_fresh)
			run = bk_bits_next(v->fresh, lim, w->cursor);
		if (w->si < w->nsample && (w->sample[w->si] < run || run >= lim)) {
			first = w->sample[w->si++];
			end = first + 1;
			break;
		}
		if (run < lim) {
			first = run;
			end = first + 1;
			while (end < lim && end - first < max && (w->runs_all || bk_bit(v->fresh, end)))
				end++;
			w->cursor = end;
			break;
		}
		w->cursor = lim;
		if (lim == w->nblocks)
			return 0;
		wait_copied(w->task, lim);
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
			/* cloned data that does not match: the parent is damaged (alongside
			 * the copy, the blocks outside the diff are the cloned ones) */
			if (w->task ? !bk_bit(v->changes, (off + pos) / v->block_size)
				    : v->incremental && !bk_bit(v->written, (off + pos) / v->block_size))
				w->res->parent_bad = true;
		}
		w->res->checked++;
	}
	return 0;
}

/* The walk alongside the copy, in its own thread (note 4). */
static void *walk_main(void *arg)
{
	struct bk_source_verify_task *t = arg;
	struct bk_verify_io io = {walk_next, walk_check, &t->walk};

	t->r = t->v->src->ops->verify_read(t->v->src, &io, &t->err);
	return NULL;
}

/* When the comparison must stop if it starts now (the source's verify_budget). */
static int64_t budget_end(const struct bk_source_verify *v)
{
	return bk_monotonic() + (int64_t)(v->src->cfg->verify_budget * BK_USEC);
}

static void walk_init(struct walk *w, const struct bk_source_verify *v, struct bk_quarantine *q,
		      struct bk_source_verify_result *res)
{
	memset(res, 0, sizeof(*res));
	w->v = v;
	w->q = q;
	w->res = res;
	w->nblocks = (v->size + v->block_size - 1) / v->block_size;
	w->deadline = budget_end(v);
	w->img = bk_malloc(BK_SOURCE_VERIFY_READ);
}

struct bk_source_verify_task *bk_source_verify_start(const struct bk_source_verify *v)
{
	struct bk_source_verify_task *t = bk_calloc(1, sizeof(*t));
	const struct bk_source_config *cfg = v->src->cfg;
	struct walk *w = &t->walk;

	t->v = v;
	atomic_init(&t->stop, false);
	atomic_init(&t->copied, 0);
	atomic_init(&t->waiting, false);
	if (!v->incremental || !v->changes || cfg->verify_full)
		return t;
	bk_quarantine_init(&t->q);
	walk_init(w, v, &t->q, &t->res);
	w->task = t;
	w->runs_fresh = true;
	draw_sample(w, cfg->verify_sample, v->changes, false);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pthread_create(&t->thread, NULL, walk_main, t) == 0) {
		t->threaded = true;
		return t;
	}
	/* no thread: everything is compared after the copy instead */
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(w->img);
	free(w->sample);
	bk_quarantine_release(&t->q);
	memset(w, 0, sizeof(*w));
	return t;
}

void bk_source_verify_copied(struct bk_source_verify_task *t, uint64_t blocks)
{
	/* whole bytes of the bitmaps only: the copy still sets bits in the next */
	if (!t->threaded || atomic_load(&t->copied) == t->walk.nblocks ||
	    (blocks < t->walk.nblocks && (blocks &= ~(uint64_t)7) == 0))
		return;
	if (blocks > t->walk.nblocks)
		blocks = t->walk.nblocks;
	if (blocks == t->walk.nblocks) /* the budget counts from here (source.h) */
		t->walk.deadline = budget_end(t->v);
	atomic_store(&t->copied, blocks);
	if (atomic_load(&t->waiting)) {
		pthread_mutex_lock(&t->lock);
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
	}
}

/* End T's walk (STOP: at once, else once it has read everything) and free T. */
static int join_free(struct bk_source_verify_task *t, bool stop, struct bk_quarantine *q,
		     struct bk_source_verify_result *res, struct bk_err *err)
{
	int r = 0;

	if (t->threaded) {
		if (stop)
			atomic_store(&t->stop, true);
		bk_source_verify_copied(t, t->walk.nblocks);
		pthread_join(t->thread, NULL);
		r = t->r;
		if (r < 0)
			*err = t->err;
		bk_quarantine_merge(q, &t->q);
		*res = t->res;
		res->planned = bk_bits_count(t->v->fresh, t->walk.nblocks) + t->walk.nsample;
		res->alongside = true;
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t->walk.img);
		free(t->walk.sample);
		bk_quarantine_release(&t->q);
	}
	free(t);
	return r;
}

int bk_source_verify_finish(struct bk_source_verify_task *t, struct bk_quarantine *q,
			    struct bk_source_verify_result *res, struct bk_err *err)
{
	const struct bk_source_verify *v = t->v;
	const struct bk_source_config *cfg = v->src->cfg;
	struct walk w = {0};
	struct bk_verify_io io = {walk_next, walk_check, &w};
	int r;

	if (t->threaded) {
		r = join_free(t, false, q, res, err);
	} else {
		free(t);
		walk_init(&w, v, q, res);
		if (cfg->verify_full) {
			w.runs_all = true;
			res->planned = w.nblocks;
		} else if (v->incremental) {
			w.runs_fresh = true;
			draw_sample(&w, cfg->verify_sample, v->fresh, false);
			res->planned = bk_bits_count(v->fresh, w.nblocks) + w.nsample;
		} else {
			draw_sample(&w, cfg->verify_sample, v->fresh, true);
			res->planned = w.nsample;
		}
		r = v->src->ops->verify_read(v->src, &io, err);
		free(w.img);
		free(w.sample);
	}
	bk_debug("verification against the source: %llu of %llu blocks compared %s the copy, %u differ",
		 (unsigned long long)res->checked, (unsigned long long)res->planned,
		 res->alongside ? "alongside" : "after", q->count);
	return r;
}

void bk_source_verify_abandon(struct bk_source_verify_task *t)
{
	struct bk_source_verify_result res;
	struct bk_quarantine q;
	struct bk_err err = {0};

	if (!t)
		return;
	bk_quarantine_init(&q);
	join_free(t, true, &q, &res, &err);
	bk_quarantine_release(&q);
}
