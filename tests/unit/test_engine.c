/*
 * test_engine.c: the engine (worker/engine/engine.c) on a real file system:
 * backup by manifest comparison, trust and verification, and restore.
 *
 * Sources are small images of 64 KiB blocks, mixed random and zero content
 * (store_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

/* --- backup -------------------------------------------------------------- */

static void test_first_backup_writes_every_nonzero_block(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *img = make_image(size, 1);
	struct bk_backup_stats st;
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d[64], want;
	char path[256], name[96];
	const struct bk_rev *rev;
	struct stat sb;

	write_file(f->src, img, size);
	backup(f, T0, "daily", &st);

	assert_true(st.full);
	assert_int_equal(st.size, size);
	assert_int_equal(st.bytes_read, size);
	assert_int_equal(st.bytes_written, nonzero_bytes(img, size));
	assert_int_equal(st.bytes_written, 51 * (uint64_t)BS); /* 13 of 64 blocks are zero */
	assert_true(bk_id_generated(st.id));
	assert_int_equal(strlen(st.id), BK_ID_SHORT_LEN);

	image_path(f, st.id, path, sizeof(path));
	assert_file_content(path, img, size);
	for (size_t i = 3; i < 64; i += 5)
		if (!hole_at(path, i * BS, BS))
			fail_msg("zero block %zu was written into the first image", i);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0440);

	assert_int_equal(f->r.n, 1);
	rev = &f->r.revs[0];
	assert_string_equal(rev->id, st.id);
	assert_string_equal(rev->parent, "");
	assert_true(rev->complete);
	assert_int_equal(rev->trust, BK_TRUST_TRUSTED);
	assert_int_equal(rev->bytes_written, st.bytes_written);
	assert_int_equal(rev->size, size);
	assert_true(rev->timestamp == T0);
	assert_int_equal(rev->tags.n, 1);
	assert_string_equal(rev->tags.v[0], "daily");
	assert_latest(f, st.id);
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
	assert_int_equal(count_prefix(f->repo, ".tmp-"), 0);

	/* the manifest holds the digest of every block */
	snprintf(name, sizeof(name), "%s.sums", st.id);
	assert_int_equal(bk_manifest_open(&m, f->r.dirfd, name, &err), 0);
	assert_int_equal(m.nblocks, 64);
	assert_int_equal(m.block_size, BS);
	assert_int_equal(bk_manifest_read(&m, 0, 64, d, &err), 0);
	for (size_t i = 0; i < 64; i++) {
		bk_hash(img + i * BS, BS, &want);
		assert_true(bk_digest_equal(&d[i], &want));
	}
	bk_manifest_close(&m);
	free(img);
}

static void test_incremental_backup_writes_only_changed_blocks(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 1);
	unsigned char *b = bk_malloc(size);
	struct bk_backup_stats s1, s2;
	char p1[256], p2[256];
	const struct bk_rev *rev;

	write_file(f->src, a, size);
	backup(f, T0, "daily", &s1);

	memcpy(b, a, size);
	fill_random(b + 1 * BS, BS, 901);
	fill_random(b + 10 * BS, BS, 902);
	fill_random(b + 40 * BS, BS, 903);
	memset(b + 20 * BS, 0, BS); /* was data */
	write_file(f->src, b, size);
	backup(f, T0 + 3600 * BK_USEC, "daily", &s2);

	assert_false(s2.full);
	assert_int_equal(s2.bytes_written, 3 * (uint64_t)BS);
	image_path(f, s1.id, p1, sizeof(p1));
	image_path(f, s2.id, p2, sizeof(p2));
	assert_file_content(p2, b, size);
	assert_file_content(p1, a, size); /* the parent is untouched */
	if (!hole_at(p2, 20 * (uint64_t)BS, BS))
		fail_msg("the zeroed block 20 is not a hole in the new image");
	assert_false(hole_at(p1, 20 * (uint64_t)BS, BS));
	/* 50 data blocks remain: the new image holds no more than that (plus metadata) */
	assert_true(allocated(p2) >= 50 * (uint64_t)BS);
	assert_true(allocated(p2) <= 50 * (uint64_t)BS + 64 * 1024);
	assert_true(allocated(p2) < allocated(p1));

	assert_int_equal(f->r.n, 2);
	rev = &f->r.revs[rev_index(f, s2.id)];
	assert_string_equal(rev->parent, s1.id);
	assert_int_equal(rev->bytes_written, 3 * (uint64_t)BS);
	assert_true(rev->timestamp == T0 + 3600 * BK_USEC);
	assert_string_equal(f->r.revs[1].id, s2.id); /* newest last */
	assert_latest(f, s2.id);
	free(a);
	free(b);
}

static void test_unchanged_source_writes_nothing(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 2);
	struct bk_backup_stats s1, s2;
	char p2[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s1);
	backup(f, T0 + BK_USEC, "", &s2);
	assert_false(s2.full);
	assert_int_equal(s2.bytes_written, 0);
	assert_int_equal(s2.bytes_read, size);
	image_path(f, s2.id, p2, sizeof(p2));
	assert_file_content(p2, a, size);
	for (size_t i = 3; i < 64; i += 5)
		assert_true(hole_at(p2, i * BS, BS));
	assert_string_equal(f->r.revs[rev_index(f, s2.id)].parent, s1.id);
	free(a);
}

/* Rewrite the (version 2) manifest of revision ID as version 1, as an older backy wrote it. */
static void downgrade_manifest(struct fx *f, const char *id)
{
	struct bk_manifest m;
	struct bk_err err = {0};
	char name[96], path[256];
	unsigned char *p;
	uint64_t len;
	XXH128_canonical_t c;

	snprintf(name, sizeof(name), "%s.sums", id);
	snprintf(path, sizeof(path), "%s/%s", f->repo, name);
	assert_int_equal(bk_manifest_open(&m, f->r.dirfd, name, &err), 0);
	len = 32 + m.nblocks * 16 + 16;
	p = bk_calloc(1, len);
	memcpy(p, "BKYSUMS1", 8);
	{
		uint32_t bs = htole32(m.block_size);
		uint64_t size = htole64(m.size), nb = htole64(m.nblocks);

		memcpy(p + 8, &bs, 4);
		memcpy(p + 16, &size, 8);
		memcpy(p + 24, &nb, 8);
	}
	assert_int_equal(bk_manifest_read(&m, 0, (uint32_t)m.nblocks, (struct bk_digest *)(p + 32),
					  &err),
			 0);
	bk_manifest_close(&m);
	XXH128_canonicalFromHash(&c, XXH3_128bits(p, len - 16));
	memcpy(p + len - 16, c.digest, 16);
	assert_int_equal(chmod(path, 0640), 0);
	write_file(path, p, len);
	free(p);
	assert_int_equal(bk_manifest_open(&m, f->r.dirfd, name, &err), 0);
	assert_int_equal(m.version, 1);
	bk_manifest_close(&m);
}

static void test_incremental_on_version_1_manifest_writes_version_2(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 3);
	struct bk_backup_stats s1, s2, s3;
	struct bk_manifest m;
	struct bk_err err = {0};
	char name[96], path[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s1);
	downgrade_manifest(f, s1.id);
	fill_random(a + 7 * BS, BS, 904);
	write_file(f->src, a, size);
	backup(f, T0 + BK_USEC, "", &s2);
	assert_false(s2.full);
	assert_int_equal(s2.bytes_written, BS);
	snprintf(name, sizeof(name), "%s.sums", s2.id);
	assert_int_equal(bk_manifest_open(&m, f->r.dirfd, name, &err), 0);
	assert_int_equal(m.version, 2);
	bk_manifest_close(&m);
	/* the next incremental clones the version 2 manifest, and every revision verifies */
	backup(f, T0 + 2 * BK_USEC, "", &s3);
	assert_false(s3.full);
	assert_int_equal(s3.bytes_written, 0);
	lock(f);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(bk_verify(&f->r, i, false, &err), 0);
	image_path(f, s3.id, path, sizeof(path));
	assert_file_content(path, a, size);
	free(a);
}

static void test_damaged_parent_manifest_segment_distrusts_the_parent(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 4);
	struct bk_backup_stats s1, s2;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_err err = {0};
	char path[256];
	int r;

	write_file(f->src, a, size);
	backup(f, T0, "", &s1);
	snprintf(path, sizeof(path), "%s/%s.sums", f->repo, s1.id);
	corrupt_byte(path, BK_MANIFEST_DIGESTS + 30 * 16 + 2); /* not the table: open succeeds */
	reopen(f);
	lock(f);
	bk_clock_set(T0 + BK_USEC);
	r = bk_backup(&f->r, &tags, false, &s2, &err);
	assert_int_equal(r, BK_ECORRUPT);
	if (!strstr(err.msg, "segment 0 seal mismatch") || !strstr(err.msg, "distrusted"))
		fail_msg("unexpected message '%s'", err.msg);
	reopen(f);
	assert_int_equal(f->r.n, 1);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_DISTRUSTED);
	backup(f, T0 + 2 * BK_USEC, "", &s2);
	assert_true(s2.full);
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, a, size);
	free(a);
}

/* Write IMG to PATH as a sparse file: only its non-zero 4 KiB pages are written. */
static void write_sparse(const char *path, const unsigned char *img, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	for (size_t off = 0; off < size; off += 4096)
		if (!block_is_zero(img + off, 4096))
			assert_int_equal(bk_pwrite_full(fd, img + off, 4096, off), 0);
	close(fd);
}

/*
 * A sparse source's holes are not read (source_file.c): what the engine keeps
 * for them must be zeros, never what its buffer held from an earlier chunk,
 * and a block that is partly data is read whole.
 */
static void test_sparse_source_is_backed_up_exactly(void **state)
{
	struct fx *f = *state;
	size_t size = 3 * (size_t)CHUNK_BYTES;
	unsigned char *a = bk_calloc(1, size), *b;
	struct bk_backup_stats s1, s2;
	char path[256];

	fill_random(a, CHUNK_BYTES, 11);                  /* chunk 0: all data */
	fill_random(a + CHUNK_BYTES + 5 * BS, 4096, 12);  /* chunk 1: one page at the start of block 69 */
	fill_random(a + CHUNK_BYTES + 9 * BS - 4096, 4096, 13); /* ... one at the end of block 72 */
	fill_random(a + CHUNK_BYTES + 30 * BS, 3 * BS, 14);     /* ... and blocks 94-96 */
	/* chunk 2: a hole */
	write_sparse(f->src, a, size);
	backup(f, T0, "", &s1);
	image_path(f, s1.id, path, sizeof(path));
	assert_file_content(path, a, size);
	assert_int_equal(s1.bytes_written, 64 * (uint64_t)BS + 5 * (uint64_t)BS);
	assert_true(hole_at(path, CHUNK_BYTES, 5 * BS));
	assert_true(hole_at(path, 2 * (uint64_t)CHUNK_BYTES, CHUNK_BYTES));

	/* data becomes a hole, a hole becomes data, the rest stays */
	b = bk_malloc(size);
	memcpy(b, a, size);
	memset(b + 10 * BS, 0, 2 * BS);
	memset(b + CHUNK_BYTES + 5 * BS, 0, BS);
	fill_random(b + 2 * (size_t)CHUNK_BYTES + 7 * BS, BS, 15);
	write_sparse(f->src, b, size);
	backup(f, T0 + BK_USEC, "", &s2);
	assert_false(s2.full);
	assert_int_equal(s2.bytes_written, 1 * (uint64_t)BS); /* the new data; holes are punched */
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, b, size);
	assert_true(hole_at(path, 10 * (uint64_t)BS, 2 * BS));
	assert_true(hole_at(path, CHUNK_BYTES + 5 * (uint64_t)BS, BS));
	free(a);
	free(b);
}

/* One chunk of SRC at OFF, read into BUF or the source's own buffer (*DATA). */
static int read_at(struct bk_source *src, unsigned char *buf, unsigned char **data, uint64_t off,
		   enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	*data = buf;
	return src->ops->read(src, data, off, CHUNK_BYTES, false, what, mask, err);
}

/* A file source that shrinks between open and read is an error, in data and in holes alike. */
static void test_source_that_shrinks_during_the_backup_fails(void **state)
{
	struct fx *f = *state;
	size_t size = 2 * (size_t)CHUNK_BYTES;
	unsigned char *img = bk_calloc(1, size), *buf = bk_malloc(CHUNK_BYTES), *data, mask[128];
	struct bk_source_config cfg;
	struct bk_source src = {0};
	struct bk_err err = {0};
	enum bk_read what;
	bool use_base = false;

	fill_random(img, BS, 21); /* chunk 0: one block of data, then a hole; chunk 1: a hole */
	fill_random(img + CHUNK_BYTES, BS, 22);
	write_sparse(f->src, img, size);
	bk_source_config_init(&cfg);
	cfg.spec.type = BK_SOURCE_FILE;
	cfg.spec.filename = bk_strdup(f->src);
	assert_int_equal(bk_source_open(&src, &cfg, BS, "id", NULL, &use_base, &err), 0);
	assert_int_equal(src.size, size);
	assert_int_equal(read_at(&src, buf, &data, 0, &what, mask, &err), 0);
	assert_int_equal(what, BK_READ_ALLOCATED);
	assert_int_equal(mask[0], 1);
	assert_memory_equal(data, img, BS);

	assert_int_equal(truncate(f->src, CHUNK_BYTES + BS / 2), 0); /* into chunk 1's data */
	assert_int_equal(read_at(&src, buf, &data, CHUNK_BYTES, &what, mask, &err),
			 BK_ESOURCE);
	assert_non_null(strstr(err.msg, "shrank during the backup"));
	bk_err_clear(&err);
	assert_int_equal(truncate(f->src, BS), 0); /* chunk 0 now ends in a hole that is gone */
	assert_int_equal(read_at(&src, buf, &data, 0, &what, mask, &err),
			 BK_ESOURCE);
	assert_non_null(strstr(err.msg, "shrank during the backup"));
	bk_source_close(&src, false);
	bk_source_config_release(&cfg);
	free(img);
	free(buf);
}

static void test_grown_source_is_backed_up_exactly(void **state)
{
	struct fx *f = *state;
	size_t size1 = 64 * (size_t)BS, size2 = 70 * (size_t)BS + 1234;
	unsigned char *b = make_image(size2, 3); /* block 68 is zero (68 % 5 == 3) */
	struct bk_backup_stats s1, s2;
	char path[256];

	write_file(f->src, b, size1);
	backup(f, T0, "", &s1);
	write_file(f->src, b, size2);
	backup(f, T0 + BK_USEC, "", &s2);

	assert_false(s2.full);
	assert_int_equal(s2.size, size2);
	/* blocks 64..67 and 69 and the 1234-byte tail */
	assert_int_equal(s2.bytes_written, 5 * (uint64_t)BS + 1234);
	assert_int_equal(s2.bytes_written, nonzero_bytes(b + size1, size2 - size1));
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, b, size2);
	assert_true(hole_at(path, 68 * (uint64_t)BS, BS));
	assert_int_equal(f->r.revs[rev_index(f, s2.id)].size, size2);
	free(b);
}

static void test_shrunk_source_is_backed_up_exactly(void **state)
{
	struct fx *f = *state;
	size_t size1 = 64 * (size_t)BS, size2 = 30 * (size_t)BS + 777, size3 = 3 * (size_t)BS + 100;
	unsigned char *a = make_image(size1, 4);
	struct bk_backup_stats s1, s2, s3;
	char path[256];

	write_file(f->src, a, size1);
	backup(f, T0, "", &s1);

	/* the short last block is a prefix of a data block: its digest differs */
	assert_int_equal(truncate(f->src, (off_t)size2), 0);
	backup(f, T0 + BK_USEC, "", &s2);
	assert_false(s2.full);
	assert_int_equal(s2.size, size2);
	assert_int_equal(s2.bytes_written, 777);
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, a, size2);

	/* now the short last block lies in a zero block (block 3) */
	assert_int_equal(truncate(f->src, (off_t)size3), 0);
	backup(f, T0 + 2 * BK_USEC, "", &s3);
	assert_false(s3.full);
	assert_int_equal(s3.bytes_written, 0);
	image_path(f, s3.id, path, sizeof(path));
	assert_file_content(path, a, size3);

	/* and the older revisions are still whole */
	image_path(f, s1.id, path, sizeof(path));
	assert_file_content(path, a, size1);
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, a, size2);
	free(a);
}

static void test_backup_of_image_with_odd_size_from_scratch(void **state)
{
	struct fx *f = *state;
	size_t size = 5 * (size_t)BS + 1; /* last block: one byte */
	unsigned char *a = make_image(size, 5);
	struct bk_backup_stats s;
	char path[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s);
	assert_int_equal(s.bytes_written, nonzero_bytes(a, size));
	image_path(f, s.id, path, sizeof(path));
	assert_file_content(path, a, size);

	/* an empty source is a valid, empty revision */
	write_file(f->src, "", 0);
	backup(f, T0 + BK_USEC, "", &s);
	assert_int_equal(s.size, 0);
	assert_int_equal(s.bytes_written, 0);
	image_path(f, s.id, path, sizeof(path));
	assert_file_content(path, (const unsigned char *)"", 0);
	free(a);
}

static void test_backup_stores_tags(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 6);
	struct bk_backup_stats s1, s2;
	const struct bk_rev *rev;

	write_file(f->src, a, 4 * (size_t)BS);
	backup(f, T0, "weekly, daily,manual:keep", &s1);
	backup(f, T0 + BK_USEC, "", &s2);
	rev = &f->r.revs[rev_index(f, s1.id)];
	assert_int_equal(rev->tags.n, 3);
	assert_string_equal(rev->tags.v[0], "daily");
	assert_string_equal(rev->tags.v[1], "manual:keep");
	assert_string_equal(rev->tags.v[2], "weekly");
	assert_int_equal(f->r.revs[rev_index(f, s2.id)].tags.n, 0);
	free(a);
}

static void test_latest_points_at_newest_and_history_is_ordered(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 7);
	struct bk_backup_stats s[3];

	write_file(f->src, a, 4 * (size_t)BS);
	for (int i = 0; i < 3; i++) {
		/* the same clock reading every time: history must stay strictly ordered */
		backup(f, T0, "", &s[i]);
		assert_latest(f, s[i].id);
	}
	assert_int_equal(f->r.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(f->r.revs[i].id, s[i].id);
		assert_true(f->r.revs[i].timestamp == T0 + i);
	}
	assert_int_equal(bk_repo_newest(&f->r), 2);
	free(a);
}

static void test_backup_of_missing_source_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct bk_backup_stats st;
	struct bk_err err = {0};
	struct bk_strv tags = BK_STRV_INIT;

	reopen(f);
	lock(f);
	assert_int_equal(bk_backup(&f->r, &tags, false, &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, f->src));
	assert_int_equal(f->r.n, 0);
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
	assert_false(exists(f->repo, "latest"));

	/* a directory is not a source */
	assert_int_equal(mkdir(f->src, 0700), 0);
	bk_err_clear(&err);
	assert_int_equal(bk_backup(&f->r, &tags, false, &st, &err), BK_ESOURCE);
	assert_non_null(strstr(err.msg, "directory"));
	assert_int_equal(count_prefix(f->repo, ".new-"), 0);
}

/* --- trust and verification ---------------------------------------------- */

static void test_verify_of_corrupted_revision_distrusts_it(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 8);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	char path[256], want[128];
	char *report;
	size_t idx;

	write_file(f->src, a, size);
	backup(f, T0, "daily", &s);
	image_path(f, s.id, path, sizeof(path));
	corrupt_byte(path, 5 * (uint64_t)BS + 123);

	lock(f);
	idx = rev_index(f, s.id);
	bk_clock_set(T0 + 60 * BK_USEC);
	assert_int_equal(bk_verify(&f->r, idx, false, &err), BK_EVERIFY);
	assert_non_null(strstr(err.msg, s.id));
	assert_non_null(strstr(err.msg, "quarantine"));
	assert_non_null(strstr(err.msg, "1 blocks"));
	assert_int_equal(f->r.revs[idx].trust, BK_TRUST_DISTRUSTED);

	reopen(f); /* the verdict is on disk */
	idx = rev_index(f, s.id);
	assert_int_equal(f->r.revs[idx].trust, BK_TRUST_DISTRUSTED);
	assert_true(f->r.revs[idx].verified_at == 0);

	report = quarantine_report(f);
	snprintf(want, sizeof(want), "revision: %s\n", s.id);
	assert_non_null(strstr(report, want));
	snprintf(want, sizeof(want), "- offset: %llu\n", 5ULL * BS);
	if (!strstr(report, want))
		fail_msg("report lacks '%s':\n%s", want, report);
	assert_non_null(strstr(report, "  length: 65536\n"));
	assert_non_null(strstr(report, "mismatches: 1\n"));
	assert_null(strstr(report, "offset: 0\n"));
	free(report);
	free(a);
}

static void test_verify_of_clean_revision_marks_it_verified(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS + 4000;
	unsigned char *a = make_image(size, 9);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	size_t idx;

	write_file(f->src, a, size);
	backup(f, T0, "daily", &s);
	lock(f);
	bk_clock_set(T0 + 7200 * BK_USEC);
	assert_int_equal(bk_verify(&f->r, rev_index(f, s.id), false, &err), 0);
	reopen(f);
	idx = rev_index(f, s.id);
	assert_int_equal(f->r.revs[idx].trust, BK_TRUST_VERIFIED);
	assert_true(f->r.revs[idx].verified_at == T0 + 7200 * BK_USEC);
	assert_true(f->r.revs[idx].complete);
	assert_int_equal(f->r.revs[idx].tags.n, 1); /* the rest of the .rev is kept */
	assert_false(exists(f->repo, "quarantine"));
	free(a);
}

static void test_verify_reports_damaged_manifest(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(8 * (size_t)BS, 10);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	char path[256];
	char *report;

	write_file(f->src, a, 8 * (size_t)BS);
	backup(f, T0, "", &s);
	snprintf(path, sizeof(path), "%s/%s.sums", f->repo, s.id);
	corrupt_byte(path, BK_MANIFEST_DIGESTS + 3 * 16); /* a digest */
	lock(f);
	assert_int_equal(bk_verify(&f->r, 0, false, &err), BK_EVERIFY);
	assert_int_equal(f->r.revs[0].trust, BK_TRUST_DISTRUSTED);
	report = quarantine_report(f);
	assert_non_null(strstr(report, "seal mismatch"));
	free(report);
	free(a);
}

static void test_backup_after_distrusted_revision_is_full(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 11);
	struct bk_backup_stats s1, s2, s3;
	struct bk_err err = {0};
	const struct bk_rev *rev;
	char path[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s1);
	image_path(f, s1.id, path, sizeof(path));
	corrupt_byte(path, 9 * (uint64_t)BS + 5);
	lock(f);
	assert_int_equal(bk_verify(&f->r, 0, false, &err), BK_EVERIFY);

	/* the source did not change, but the parent cannot be trusted */
	backup(f, T0 + BK_USEC, "", &s2);
	assert_true(s2.full);
	assert_int_equal(s2.bytes_written, nonzero_bytes(a, size));
	rev = &f->r.revs[rev_index(f, s2.id)];
	assert_string_equal(rev->parent, "");
	image_path(f, s2.id, path, sizeof(path));
	assert_file_content(path, a, size);

	/* the new full backup is a trusted base again */
	backup(f, T0 + 2 * BK_USEC, "", &s3);
	assert_false(s3.full);
	assert_int_equal(s3.bytes_written, 0);
	assert_string_equal(f->r.revs[rev_index(f, s3.id)].parent, s2.id);
	free(a);
}

/* --- restore ------------------------------------------------------------- */

static void restore_ok(struct fx *f, size_t idx, const char *target)
{
	struct bk_err err = {0};
	int r = bk_restore(&f->r, idx, target, false, &err);

	if (r != 0)
		fail_msg("restore failed (%d): %s", r, bk_err_msg(&err, r));
}

static void test_restore_to_new_file_keeps_holes(void **state)
{
	struct fx *f = *state;
	/* three I/O chunks, the middle one entirely zero, and a short tail */
	size_t size = 2 * (size_t)CHUNK_BYTES + 10 * BS + 300;
	unsigned char *a = make_image(size, 12);
	struct bk_backup_stats s;
	char target[256];

	memset(a + CHUNK_BYTES, 0, CHUNK_BYTES);
	write_file(f->src, a, size);
	backup(f, T0, "", &s);
	snprintf(target, sizeof(target), "%s/restored.img", f->dir);
	restore_ok(f, 0, target);
	assert_file_content(target, a, size);
	if (!hole_at(target, CHUNK_BYTES, CHUNK_BYTES))
		fail_msg("the zero range [4 MiB, 8 MiB) was written into the restored file");
	assert_false(hole_at(target, 0, BS));
	free(a);
}

static void test_restore_keeps_zero_blocks_inside_data_as_holes(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 13);
	struct bk_backup_stats s;
	char target[256], img[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s);
	image_path(f, s.id, img, sizeof(img));
	assert_true(hole_at(img, 3 * (uint64_t)BS, BS)); /* a hole in the revision */
	snprintf(target, sizeof(target), "%s/restored.img", f->dir);
	restore_ok(f, 0, target);
	assert_file_content(target, a, size);
	free(a);
	/* bk_restore: "a file (created or truncated, holes kept)" */
	if (!hole_at(target, 3 * (uint64_t)BS, BS))
		fail_msg("the 64 KiB hole at block 3 of the revision became data in the restored "
			 "file (%llu bytes allocated, the revision has %llu)",
			 (unsigned long long)allocated(target), (unsigned long long)allocated(img));
}

static void test_restore_to_existing_file_truncates_and_rewrites(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS;
	unsigned char *a = make_image(size, 14), *b = make_image(size, 15);
	unsigned char *junk = bk_malloc(3 * size);
	struct bk_backup_stats s1, s2;
	char target[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s1);
	write_file(f->src, b, size);
	backup(f, T0 + BK_USEC, "", &s2);

	snprintf(target, sizeof(target), "%s/existing.img", f->dir);
	memset(junk, 0xaa, 3 * size);
	write_file(target, junk, 3 * size);
	restore_ok(f, rev_index(f, s2.id), target);
	assert_file_content(target, b, size); /* zero blocks read as zeros, not 0xaa */

	/* the older revision, over the newer one */
	restore_ok(f, rev_index(f, s1.id), target);
	assert_file_content(target, a, size);
	free(a);
	free(b);
	free(junk);
}

static void test_restore_into_directory_fails(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 16);
	struct bk_backup_stats s;
	struct bk_err err = {0};

	write_file(f->src, a, 4 * (size_t)BS);
	backup(f, T0, "", &s);
	assert_int_equal(bk_restore(&f->r, 0, f->dir, false, &err), BK_EUSAGE);
	assert_non_null(strstr(err.msg, "is a directory"));
	free(a);
}

static void test_restore_onto_repository_files_fails(void **state)
{
	struct fx *f = *state;
	size_t size = 4 * (size_t)BS, clen;
	unsigned char *a = make_image(size, 17), *config;
	struct bk_backup_stats s;
	struct bk_manifest m;
	char targets[13][256], name[96], path[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s);
	write_text(f->repo, "backy.log", "log\n");
	snprintf(path, sizeof(path), "%s/config", f->repo);
	config = read_file(path, &clen);
	image_path(f, s.id, targets[0], sizeof(targets[0]));
	snprintf(targets[1], sizeof(targets[1]), "%s/latest", f->repo);
	snprintf(targets[2], sizeof(targets[2]), "%s/%s.sums", f->repo, s.id);
	snprintf(targets[3], sizeof(targets[3]), "%s/config", f->repo);
	snprintf(targets[4], sizeof(targets[4]), "%s/%s.rev", f->repo, s.id);
	snprintf(targets[5], sizeof(targets[5]), "%s/.lock", f->repo);
	snprintf(targets[6], sizeof(targets[6]), "%s/backy.log", f->repo);
	/* other names of the config: hard link, symlink, path through a symlinked directory */
	snprintf(targets[7], sizeof(targets[7]), "%s/hardlink", f->dir);
	assert_int_equal(link(targets[3], targets[7]), 0);
	snprintf(targets[8], sizeof(targets[8]), "%s/symlink", f->dir);
	assert_int_equal(symlink(targets[3], targets[8]), 0);
	snprintf(path, sizeof(path), "%s/dirlink", f->dir);
	assert_int_equal(symlink(f->repo, path), 0);
	snprintf(targets[9], sizeof(targets[9]), "%s/dirlink/%s", f->dir, s.id);
	snprintf(targets[10], sizeof(targets[10]), "%s/dirlink/config", f->dir);
	/* new files inside the repository, directly and below it */
	snprintf(targets[11], sizeof(targets[11]), "%s/dirlink/new.img", f->dir);
	snprintf(targets[12], sizeof(targets[12]), "%s/quarantine/new.img", f->repo);
	snprintf(path, sizeof(path), "%s/quarantine", f->repo);
	mkdir(path, 0750);
	for (int i = 0; i < 13; i++) {
		struct bk_err err = {0};
		int r = bk_restore(&f->r, 0, targets[i], false, &err);

		if (r != BK_EUSAGE)
			fail_msg("restore onto '%s' gave %d (%s)", targets[i], r, bk_err_msg(&err, r));
		if (!strstr(err.msg, i < 11 ? "file of this repository" : "inside this repository") ||
		    !strstr(err.msg, targets[i]))
			fail_msg("restore onto '%s': unexpected message '%s'", targets[i], err.msg);
	}
	assert_false(exists(f->repo, "new.img"));
	assert_false(exists(path, "new.img"));
	snprintf(path, sizeof(path), "%s/config", f->repo);
	assert_file_content(path, config, clen);
	snprintf(path, sizeof(path), "%s/backy.log", f->repo);
	assert_file_content(path, (const unsigned char *)"log\n", 4);
	/* the check is about the repository, not about names: a file next to it is fine */
	snprintf(path, sizeof(path), "%s/config", f->dir);
	{
		struct bk_err err = {0};

		assert_int_equal(bk_restore(&f->r, 0, path, false, &err), 0);
		assert_file_content(path, a, size);
	}
	free(config);
	assert_file_content(targets[0], a, size);
	snprintf(name, sizeof(name), "%s.sums", s.id);
	{
		struct bk_err err = {0};

		assert_int_equal(bk_manifest_open(&m, f->r.dirfd, name, &err), 0);
		bk_manifest_close(&m);
	}
	free(a);
}

static void test_restore_of_corrupted_block_writes_everything_then_fails(void **state)
{
	struct fx *f = *state;
	size_t size = 64 * (size_t)BS + 999;
	unsigned char *a = make_image(size, 18);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	char img[256], target[256];

	write_file(f->src, a, size);
	backup(f, T0, "", &s);
	image_path(f, s.id, img, sizeof(img));
	corrupt_byte(img, 7 * (uint64_t)BS + 100);
	snprintf(target, sizeof(target), "%s/restored.img", f->dir);
	assert_int_equal(bk_restore(&f->r, 0, target, false, &err), BK_EVERIFY);
	assert_non_null(strstr(err.msg, "1 blocks"));
	/* the damaged block as it is, and every block after it */
	a[7 * BS + 100] ^= 0x5a;
	assert_file_content(target, a, size);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_first_backup_writes_every_nonzero_block),
		T(test_incremental_backup_writes_only_changed_blocks),
		T(test_unchanged_source_writes_nothing),
		T(test_incremental_on_version_1_manifest_writes_version_2),
		T(test_damaged_parent_manifest_segment_distrusts_the_parent),
		T(test_sparse_source_is_backed_up_exactly),
		T(test_source_that_shrinks_during_the_backup_fails),
		T(test_grown_source_is_backed_up_exactly),
		T(test_shrunk_source_is_backed_up_exactly),
		T(test_backup_of_image_with_odd_size_from_scratch),
		T(test_backup_stores_tags),
		T(test_latest_points_at_newest_and_history_is_ordered),
		T(test_backup_of_missing_source_leaves_nothing),
		T(test_verify_of_corrupted_revision_distrusts_it),
		T(test_verify_of_clean_revision_marks_it_verified),
		T(test_verify_reports_damaged_manifest),
		T(test_backup_after_distrusted_revision_is_full),
		T(test_restore_to_new_file_keeps_holes),
		T(test_restore_keeps_zero_blocks_inside_data_as_holes),
		T(test_restore_to_existing_file_truncates_and_rewrites),
		T(test_restore_into_directory_fails),
		T(test_restore_onto_repository_files_fails),
		T(test_restore_of_corrupted_block_writes_everything_then_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
