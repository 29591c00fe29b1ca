/*
 * test_engine_verify.c: the comparison of a new revision with the source
 * snapshot (worker/engine/source_verify.c through bk_backup), sized to the
 * change: what is compared, that it catches what it must, and the sample
 * settings of older configs.
 *
 * The seam is the source: this binary defines bk_source_file_ops itself (so
 * the linker does not take worker/engine/source_file.c), a file source with
 * a stable "snapshot" (the file) and a verify_read that records what it was
 * asked for.  Faults are injected there: the copy read can return a damaged
 * block that the snapshot does not have, as a wrong read would.  With
 * g_changes, an incremental's source also names the blocks that may change
 * (a diff), and the comparison runs alongside the copy: verify_read is then
 * called from a second thread, so its bookkeeping is locked and its
 * complaints are collected for the main thread to fail on.  g_hold_for
 * makes the copy's last read wait until a block was compared: proof that
 * the comparison did not wait for the copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "bitmap.h"
#include "check.h"
#include "source.h"
#include "store_fixture.h"
#include "ydoc.h"

#define NBLOCKS 1024u

/* --- the source seam ------------------------------------------------------ */

static long g_corrupt_block = -1;     /* copy reads return this block damaged */
static unsigned char *g_changes;      /* an incremental's diff (changes op); NULL: none */
static unsigned char *g_asked;        /* bit per block verify_read returned */
static uint64_t g_asked_blocks, g_asked_calls;
static char g_complaint[200];         /* what verify_read found wrong with a request */
static long g_hold_for = -1;          /* the copy's last read waits for a verify_read of it */
static bool g_overlapped;             /* ... and it came */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_asked_cond = PTHREAD_COND_INITIALIZER;

struct mock {
	int fd;
	bool incremental;
};

static int mock_open(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		     const char *base, bool *use_base, struct bk_err *err)
{
	struct mock *m = bk_malloc(sizeof(*m));
	struct stat st;

	(void)id;
	m->incremental = base && *use_base;
	m->fd = open(cfg->spec.filename, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0 || fstat(m->fd, &st) < 0) {
		free(m);
		return bk_err_sys(err, -errno, "unable to open '%s'", cfg->spec.filename);
	}
	src->size = (uint64_t)st.st_size;
	src->priv = m;
	return 0;
}

static int mock_read(struct bk_source *src, unsigned char **data, uint64_t off, size_t len,
		     bool may_skip, enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	struct mock *m = src->priv;
	unsigned char *buf = *data;
	uint64_t bad = (uint64_t)g_corrupt_block * src->block_size;
	size_t got;

	(void)may_skip;
	(void)mask;
	*what = BK_READ_DATA;
	if (bk_pread_full(m->fd, buf, len, off, &got) < 0 || got != len)
		return bk_err_set(err, BK_ESOURCE, "short read");
	if (g_corrupt_block >= 0 && bad >= off && bad < off + len)
		buf[bad - off + 17] ^= 0x5a;
	if (g_hold_for >= 0 && off + len == src->size) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 60; /* generous: sanitizer builds compare slowly */
		pthread_mutex_lock(&g_lock);
		while (!bk_bit(g_asked, (uint64_t)g_hold_for) &&
		       pthread_cond_timedwait(&g_asked_cond, &g_lock, &until) == 0)
			;
		g_overlapped = bk_bit(g_asked, (uint64_t)g_hold_for);
		pthread_mutex_unlock(&g_lock);
	}
	return 0;
}

static const unsigned char *mock_changes(struct bk_source *src)
{
	struct mock *m = src->priv;

	return m->incremental ? g_changes : NULL;
}

/* Record that a verification read asked for OFF, LEN: under g_lock. */
static void note_asked(const struct bk_source *src, uint64_t off, size_t len)
{
	if (!(len > 0 && len <= BK_SOURCE_VERIFY_READ) || off % src->block_size)
		snprintf(g_complaint, sizeof(g_complaint), "bad range %llu+%zu",
			 (unsigned long long)off, len);
	for (uint64_t b = off / src->block_size; b * src->block_size < off + len; b++) {
		if (bk_bit(g_asked, b))
			snprintf(g_complaint, sizeof(g_complaint), "block %llu asked for twice",
				 (unsigned long long)b);
		bk_bit_set(g_asked, b);
		g_asked_blocks++;
	}
	g_asked_calls++;
	pthread_cond_broadcast(&g_asked_cond);
}

static int mock_verify_read(struct bk_source *src, const struct bk_verify_io *io,
			    struct bk_err *err)
{
	struct mock *m = src->priv;
	unsigned char *buf = bk_malloc(BK_SOURCE_VERIFY_READ);
	uint64_t off;
	size_t len, got;
	int r;

	while ((r = io->next(io->arg, &off, &len)) > 0) {
		pthread_mutex_lock(&g_lock);
		note_asked(src, off, len);
		pthread_mutex_unlock(&g_lock);
		if (bk_pread_full(m->fd, buf, len, off, &got) < 0 || got != len) {
			r = bk_err_set(err, BK_ESOURCE, "short read");
			break;
		}
		r = io->check(io->arg, off, len, buf, err);
		if (r < 0)
			break;
	}
	free(buf);
	return r;
}

static void mock_close(struct bk_source *src)
{
	struct mock *m = src->priv;

	if (m)
		close(m->fd);
	free(m);
	src->priv = NULL;
}

const struct bk_source_ops bk_source_file_ops = {
	.open = mock_open,
	.read = mock_read,
	.changes = mock_changes,
	.verify_read = mock_verify_read,
	.close = mock_close,
};

/* --- helpers -------------------------------------------------------------- */

static int setup_verify(void **state)
{
	g_corrupt_block = -1;
	g_changes = NULL;
	g_hold_for = -1;
	g_overlapped = false;
	g_complaint[0] = '\0';
	g_asked = bk_calloc(NBLOCKS / 8, 1);
	g_asked_blocks = g_asked_calls = 0;
	return setup(state);
}

static int teardown_verify(void **state)
{
	free(g_asked);
	free(g_changes);
	return teardown(state);
}

static bool asked(uint64_t b)
{
	return bk_bit(g_asked, b);
}

/* The quarantine report of F's last failed backup names block B. */
static void assert_reported(struct fx *f, uint64_t b)
{
	char want[64], *report = quarantine_report(f);

	snprintf(want, sizeof(want), "offset: %llu", (unsigned long long)(b * BS));
	assert_non_null(strstr(report, want));
	free(report);
}

static void forget_asked(void)
{
	memset(g_asked, 0, NBLOCKS / 8);
	g_asked_blocks = g_asked_calls = 0;
}

/*
 * One backup with the sample set to SAMPLE; returns what bk_backup returned.
 * g_asked then holds what this backup compared.
 */
static int run_backup(struct fx *f, int64_t t, uint64_t sample, struct bk_backup_stats *st,
		      struct bk_err *err)
{
	struct bk_strv tags = BK_STRV_INIT;
	int r;

	forget_asked();
	reopen(f);
	lock(f);
	f->r.cfg.source.verify_sample = sample;
	bk_strv_split(&tags, "daily");
	bk_clock_set(t);
	r = bk_backup(&f->r, &tags, false, st, err);
	bk_strv_release(&tags);
	reopen(f);
	if (g_complaint[0])
		fail_msg("verify_read: %s", g_complaint);
	return r;
}

/* Overwrite the blocks of LIST (ending in -1) of IMG and the source with new data. */
static void change_blocks(struct fx *f, unsigned char *img, const long *list, uint64_t seed)
{
	for (const long *b = list; *b >= 0; b++)
		fill_random(img + (size_t)*b * BS, BS, seed + (uint64_t)*b);
	write_file(f->src, img, (size_t)NBLOCKS * BS);
}

static const long changed[] = {3, 4, 5, 77, 300, 301, 640, 1023, -1};

/* g_changes: the diff of `changed` in whole "objects" of 4 blocks (most of them unchanged). */
static void set_diff(void)
{
	g_changes = bk_calloc(NBLOCKS / 8, 1);
	for (const long *b = changed; *b >= 0; b++)
		for (long i = *b / 4 * 4; i < *b / 4 * 4 + 4; i++)
			bk_bit_set(g_changes, (uint64_t)i);
}

static bool bit_in(const long *list, uint64_t b)
{
	for (; *list >= 0; list++)
		if ((uint64_t)*list == b)
			return true;
	return false;
}


/* --- tests ---------------------------------------------------------------- */

static void test_incremental_compares_every_written_block_and_a_sample(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 7);
	struct bk_backup_stats st;
	struct bk_err err = {0};
	uint64_t others = 0;

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	change_blocks(f, img, changed, 99);
	assert_int_equal(run_backup(f, T0 + BK_USEC, 100, &st, &err), 0);

	assert_false(st.full);
	assert_int_equal(st.bytes_written, 8 * (uint64_t)BS);
	for (const long *b = changed; *b >= 0; b++)
		if (!asked((uint64_t)*b))
			fail_msg("written block %ld was not compared with the source", *b);
	for (uint64_t b = 0; b < NBLOCKS; b++)
		others += asked(b);
	others -= 8;
	assert_int_equal(others, 100);
	assert_int_equal(st.verify_planned, 108);
	assert_int_equal(st.verify_checked, 108);
	/* consecutive written blocks travel in one read */
	assert_true(g_asked_calls < g_asked_blocks);
	free(img);
}

static void test_unchanged_incremental_compares_only_the_sample(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 8);
	struct bk_backup_stats st;
	struct bk_err err = {0};

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	assert_int_equal(run_backup(f, T0 + BK_USEC, 50, &st, &err), 0);
	assert_int_equal(st.bytes_written, 0);
	assert_int_equal(st.verify_planned, 50);
	assert_int_equal(st.verify_checked, 50);
	assert_int_equal(g_asked_blocks, 50);
	free(img);
}

static void test_full_backup_compares_a_sample_of_what_it_wrote(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 9);
	struct bk_backup_stats st;
	struct bk_err err = {0};

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 64, &st, &err), 0);
	assert_true(st.full);
	assert_int_equal(st.verify_planned, 64);
	assert_int_equal(st.verify_checked, 64);
	assert_int_equal(g_asked_blocks, 64);
	for (uint64_t b = 0; b < NBLOCKS; b++)
		if (asked(b) && block_is_zero(img + b * BS, BS))
			fail_msg("block %llu is a hole, not something the backup wrote",
				 (unsigned long long)b);
	free(img);
}

static void test_corrupted_written_block_fails_the_backup(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 10);
	struct bk_backup_stats st;
	struct bk_err err = {0};
	char first[BK_ID_MAX + 1];
	int r;

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	snprintf(first, sizeof(first), "%s", st.id);
	change_blocks(f, img, changed, 123);
	g_corrupt_block = 300; /* written by the incremental, with a sample of 0 */
	r = run_backup(f, T0 + BK_USEC, 0, &st, &err);

	assert_int_equal(r, BK_EVERIFY);
	assert_non_null(strstr(err.msg, "1 blocks differ from the source"));
	assert_null(strstr(err.msg, "distrusted"));
	assert_int_equal(f->r.n, 1);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_TRUSTED); /* the parent is not to blame */
	assert_latest(f, first);
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
	assert_reported(f, 300);
	free(img);
}

static void test_damaged_parent_block_found_by_the_sample_distrusts_it(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 11);
	struct bk_backup_stats st;
	struct bk_err err = {0};
	char path[256];

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	image_path(f, st.id, path, sizeof(path));
	corrupt_byte(path, 500ULL * BS + 9); /* block 500: data, never changed */
	change_blocks(f, img, changed, 5);
	/* a sample as big as the image: the damaged cloned block is compared */
	assert_int_equal(run_backup(f, T0 + BK_USEC, NBLOCKS, &st, &err), BK_EVERIFY);
	assert_non_null(strstr(err.msg, "parent revision distrusted"));
	assert_int_equal(f->r.n, 1);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_DISTRUSTED);
	free(img);
}

static void test_incremental_with_a_diff_is_compared_alongside_the_copy(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 13);
	struct bk_backup_stats st;
	struct bk_err err = {0};
	uint64_t others = 0;

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	change_blocks(f, img, changed, 77);
	set_diff();
	g_hold_for = 640; /* written by the copy before its last chunk (960-1023) */
	assert_int_equal(run_backup(f, T0 + BK_USEC, 100, &st, &err), 0);

	/* the copy's last read waited for block 640 to be compared, and it was */
	assert_true(g_overlapped);
	assert_int_equal(st.bytes_written, 8 * (uint64_t)BS);
	for (const long *b = changed; *b >= 0; b++)
		if (!asked((uint64_t)*b))
			fail_msg("written block %ld was not compared with the source", *b);
	for (uint64_t b = 0; b < NBLOCKS; b++) {
		if (!asked(b) || bit_in(changed, b))
			continue;
		if (bk_bit(g_changes, b))
			fail_msg("block %llu of the diff is in the sample", (unsigned long long)b);
		others++;
	}
	assert_int_equal(others, 100);
	assert_int_equal(st.verify_planned, 108);
	assert_int_equal(st.verify_checked, 108);
	free(img);
}

static void test_damaged_parent_block_found_alongside_the_copy_distrusts_it(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 14);
	struct bk_backup_stats st;
	struct bk_err err = {0};
	char path[256];

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	image_path(f, st.id, path, sizeof(path));
	corrupt_byte(path, 500ULL * BS + 9); /* block 500: data, outside the diff */
	change_blocks(f, img, changed, 6);
	set_diff();
	g_hold_for = 500;
	assert_int_equal(run_backup(f, T0 + BK_USEC, NBLOCKS, &st, &err), BK_EVERIFY);
	assert_true(g_overlapped);
	assert_non_null(strstr(err.msg, "1 blocks differ from the source"));
	assert_non_null(strstr(err.msg, "parent revision distrusted"));
	assert_int_equal(f->r.n, 1);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_DISTRUSTED);
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
	assert_reported(f, 500);
	free(img);
}

static void test_corrupted_written_block_found_alongside_the_copy(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 15);
	struct bk_backup_stats st;
	struct bk_err err = {0};

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	change_blocks(f, img, changed, 8);
	set_diff();
	g_corrupt_block = 300;
	g_hold_for = 300;
	assert_int_equal(run_backup(f, T0 + BK_USEC, 0, &st, &err), BK_EVERIFY);
	assert_true(g_overlapped);
	assert_non_null(strstr(err.msg, "1 blocks differ from the source"));
	assert_null(strstr(err.msg, "distrusted"));
	assert_int_equal(f->r.n, 1);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_TRUSTED);
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
	assert_reported(f, 300);
	free(img);
}

static void test_time_budget_stops_the_comparison_as_partial(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 12);
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_backup_stats st;
	struct bk_err err = {0};

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	reopen(f);
	lock(f);
	f->r.cfg.source.verify_full = true;
	f->r.cfg.source.verify_budget = 0;
	bk_strv_split(&tags, "daily");
	assert_int_equal(bk_backup(&f->r, &tags, false, &st, &err), 0);
	bk_strv_release(&tags);
	assert_int_equal(st.verify_planned, NBLOCKS);
	assert_true(st.verify_checked < st.verify_planned);
	free(img);
}

static void test_time_budget_counts_from_the_end_of_the_copy(void **state)
{
	struct fx *f = *state;
	unsigned char *img = make_image((size_t)NBLOCKS * BS, 16);
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_backup_stats st;
	struct bk_err err = {0};

	write_file(f->src, img, (size_t)NBLOCKS * BS);
	assert_int_equal(run_backup(f, T0, 256, &st, &err), 0);
	change_blocks(f, img, changed, 9);
	set_diff();
	reopen(f);
	lock(f);
	f->r.cfg.source.verify_budget = 0;
	bk_strv_split(&tags, "daily");
	bk_clock_set(T0 + BK_USEC);
	assert_int_equal(bk_backup(&f->r, &tags, false, &st, &err), 0);
	bk_strv_release(&tags);
	/* block 1023, in the last chunk, could only be compared after the copy */
	assert_int_equal(st.verify_planned, 8 + 256);
	assert_true(st.verify_checked < st.verify_planned);
	assert_false(asked(1023));
	free(img);
}

/* Parse the source: map of TEXT into CFG. */
static int parse_source(const char *text, struct bk_source_config *cfg, struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	int r = bk_yaml_parse(text, strlen(text), "config", &root, err);

	if (r == 0)
		r = bk_source_config_parse(bk_ymap_get(root, "source"), "config", cfg, err);
	bk_ynode_free(root);
	return r;
}

static void test_older_sample_settings_still_load(void **state)
{
	struct bk_source_config cfg;
	struct bk_err err = {0};
	struct bk_buf out;

	(void)state;
	/* what `backy init` wrote before: a share, a minimum, verify_full written out */
	assert_int_equal(parse_source("source: {type: rbd, pool: p, image: i, verify_percent: 1,\n"
				      "  verify_min_blocks: 16, verify_budget: 60, verify_full: false}\n",
				      &cfg, &err),
			 0);
	assert_false(cfg.verify_full);
	assert_int_equal(cfg.verify_sample, 256);
	assert_true(cfg.verify_budget == 60);
	bk_buf_init(&out);
	bk_source_config_format(&cfg, &out);
	assert_null(strstr(out.p, "verify_percent"));
	assert_null(strstr(out.p, "verify_min_blocks"));
	assert_non_null(strstr(out.p, "verify_sample: 256"));
	bk_buf_release(&out);
	bk_source_config_release(&cfg);

	/* 100 % meant every block, whatever verify_full said */
	assert_int_equal(parse_source("source: {type: rbd, pool: p, image: i, verify_percent: 100,\n"
				      "  verify_full: false}\n",
				      &cfg, &err),
			 0);
	assert_true(cfg.verify_full);
	bk_source_config_release(&cfg);

	assert_int_equal(parse_source("source: {type: rbd, pool: p, image: i, verify_percent: 101}\n",
				      &cfg, &err),
			 BK_ECONFIG);
	assert_non_null(strstr(err.msg, "'source.verify_percent' is out of range"));
	assert_int_equal(parse_source("source: {type: rbd, pool: p, image: i, verify_sample: 32}\n",
				      &cfg, &err),
			 0);
	assert_int_equal(cfg.verify_sample, 32);
	bk_source_config_release(&cfg);
}

/*
 * The read-back's sample and the comparison with the source may both find
 * the same damaged block of the parent: the report lists it once.
 */
static void test_block_found_by_both_checks_is_reported_once(void **state)
{
	struct bk_quarantine q, task;
	struct bk_digest a = {{1}}, b = {{2}};
	struct bk_buf out;
	const char *first;

	(void)state;
	bk_quarantine_init(&q);
	bk_quarantine_init(&task);
	bk_quarantine_add(&q, 500ULL * BS, BS, &a, &b);
	bk_quarantine_add(&task, 7ULL * BS, BS, &a, &b);
	bk_quarantine_add(&task, 500ULL * BS, BS, &b, &a);
	bk_quarantine_merge(&q, &task);
	assert_int_equal(q.count, 2);
	bk_buf_init(&out);
	bk_quarantine_format(&q, &out);
	first = strstr(out.p, "- offset: 32768000\n"); /* block 500, the read-back's finding */
	assert_non_null(first);
	assert_null(strstr(first + 3, "offset: 32768000"));
	assert_non_null(strstr(first, "expected: '01"));
	assert_non_null(strstr(out.p, "- offset: 458752\n")); /* block 7 */
	bk_buf_release(&out);
	bk_quarantine_release(&task);
	bk_quarantine_release(&q);
}

int main(void)
{
#define TV(fn) cmocka_unit_test_setup_teardown(fn, setup_verify, teardown_verify)
	const struct CMUnitTest tests[] = {
		TV(test_incremental_compares_every_written_block_and_a_sample),
		TV(test_unchanged_incremental_compares_only_the_sample),
		TV(test_full_backup_compares_a_sample_of_what_it_wrote),
		TV(test_corrupted_written_block_fails_the_backup),
		TV(test_damaged_parent_block_found_by_the_sample_distrusts_it),
		TV(test_incremental_with_a_diff_is_compared_alongside_the_copy),
		TV(test_damaged_parent_block_found_alongside_the_copy_distrusts_it),
		TV(test_corrupted_written_block_found_alongside_the_copy),
		TV(test_time_budget_stops_the_comparison_as_partial),
		TV(test_time_budget_counts_from_the_end_of_the_copy),
		cmocka_unit_test(test_older_sample_settings_still_load),
		cmocka_unit_test(test_block_found_by_both_checks_is_reported_once),
	};
#undef TV
	return cmocka_run_group_tests(tests, NULL, NULL);
}
