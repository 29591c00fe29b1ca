/*
 * test_manifest.c: revision manifests (worker/engine/manifest.c) on a real
 * file system: the version 2 round trip, clones with sparse updates and
 * size changes, the checks of header, length, segment table and segments,
 * and version 1 manifests (read, and cloned into version 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

#define HDR BK_MANIFEST_DIGESTS
#define SEG BK_MANIFEST_SEGMENT
#define KIB4 4096u

/* --- helpers ------------------------------------------------------------- */

static int open_dir(const struct fx *f)
{
	int fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* The digest a test stores for block I in generation GEN. */
static void digest_of(uint64_t i, uint64_t gen, struct bk_digest *d)
{
	uint64_t v[2] = {i, gen};

	bk_hash(v, sizeof(v), d);
}

/* Write "m.sums" in DIRFD: generation 0 digests of an image of SIZE bytes. */
static void make_manifest(int dirfd, uint32_t bs, uint64_t size)
{
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d;
	uint64_t n = (size + bs - 1) / bs;

	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", bs, size, &err), 0);
	for (uint64_t i = 0; i < n; i++) {
		digest_of(i, 0, &d);
		assert_int_equal(bk_manifest_put(&m, &d, &err), 0);
	}
	assert_int_equal(bk_manifest_finish(&m, &err), 0);
	bk_manifest_close(&m);
}

/* Write a version 1 manifest "m.sums" by hand: generation 0 digests. */
static void make_v1(const char *dir, uint32_t bs, uint64_t size)
{
	uint64_t n = (size + bs - 1) / bs, len = 32 + n * 16 + 16;
	unsigned char *p = bk_calloc(1, len);
	uint32_t le32 = htole32(bs);
	uint64_t le64 = htole64(size), nb = htole64(n);
	XXH128_canonical_t c;
	char path[256];

	memcpy(p, "BKYSUMS1", 8);
	memcpy(p + 8, &le32, 4);
	memcpy(p + 16, &le64, 8);
	memcpy(p + 24, &nb, 8);
	for (uint64_t i = 0; i < n; i++)
		digest_of(i, 0, (struct bk_digest *)(p + 32 + i * 16));
	XXH128_canonicalFromHash(&c, XXH3_128bits(p, len - 16));
	memcpy(p + len - 16, c.digest, 16);
	snprintf(path, sizeof(path), "%s/m.sums", dir);
	write_file(path, p, len);
	free(p);
}

/* Recompute the table seal of a version 2 manifest after an edit. */
static void reseal(const char *path)
{
	size_t len;
	unsigned char *p = read_file(path, &len);
	XXH128_canonical_t c;

	assert_true(len >= HDR + 16);
	{
		uint64_t nb;
		size_t toff, tlen;
		unsigned char *h;

		memcpy(&nb, p + 24, 8);
		nb = le64toh(nb);
		toff = HDR + (size_t)nb * 16;
		tlen = len - 16 - toff;
		h = bk_malloc(HDR + tlen);
		memcpy(h, p, HDR);
		memcpy(h + HDR, p + toff, tlen);
		XXH128_canonicalFromHash(&c, XXH3_128bits_withSeed(h, HDR + tlen, 0));
		free(h);
	}
	memcpy(p + len - 16, c.digest, 16);
	assert_int_equal(chmod(path, 0640), 0);
	write_file(path, p, len);
	free(p);
}

static void patch(const char *path, uint64_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(bk_pwrite_full(fd, data, len, off), 0);
	close(fd);
}

static void expect_msg(const struct bk_err *err, const char *what)
{
	if (!strstr(err->msg, "manifest 'm.sums' is corrupt") || !strstr(err->msg, what))
		fail_msg("message '%s' lacks '%s'", err->msg, what);
}

static void expect_manifest_corrupt(int dirfd, const char *what)
{
	struct bk_manifest m;
	struct bk_err err = {0};

	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), BK_ECORRUPT);
	assert_int_equal(m.fd, -1);
	expect_msg(&err, what);
	bk_manifest_close(&m);
}

/* Whether the COUNT digests of M from FIRST are generation GEN's. */
static void expect_digests(struct bk_manifest *m, uint64_t first, uint32_t count, uint64_t gen)
{
	struct bk_digest *got = bk_malloc((size_t)count * 16), want;
	struct bk_err err = {0};
	int r = bk_manifest_read(m, first, count, got, &err);

	if (r != 0)
		fail_msg("reading %u digests at %llu: %s", count, (unsigned long long)first,
			 err.msg);
	for (uint32_t i = 0; i < count; i++) {
		digest_of(first + i, gen, &want);
		if (!bk_digest_equal(&got[i], &want))
			fail_msg("digest %llu is not generation %llu's",
				 (unsigned long long)(first + i), (unsigned long long)gen);
	}
	free(got);
}

static uint64_t file_size(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, 0), 0);
	return (uint64_t)st.st_size;
}

/* --- version 2: writing and reading -------------------------------------- */

static void test_manifest_round_trip(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	/* more than two segments, and a short last block */
	uint64_t size = (2ULL * SEG + 100) * KIB4 + 100;
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest got[4];

	make_manifest(dirfd, KIB4, size);
	assert_true(file_size(dirfd, "m.sums") == HDR + (2ULL * SEG + 101) * 16 + 3 * 16 + 16);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.block_size, KIB4);
	assert_true(m.size == size);
	assert_int_equal(m.nblocks, 2 * SEG + 101);
	assert_int_equal(m.nsegs, 3);
	expect_digests(&m, 0, 5, 0);
	expect_digests(&m, SEG - 3, 7, 0);       /* across a segment boundary */
	expect_digests(&m, SEG - 1, SEG + 2, 0); /* across two */
	expect_digests(&m, 2 * SEG + 100, 1, 0);
	assert_int_equal(bk_manifest_read(&m, 2 * SEG + 100, 2, got, &err), -EINVAL);
	assert_int_equal(bk_manifest_read(&m, 2 * SEG + 101, 1, got, &err), -EINVAL);
	assert_int_equal(bk_manifest_check(&m, &err), 0);
	bk_manifest_close(&m);
	assert_int_equal(m.fd, -1);

	/* O_EXCL: an existing manifest is never overwritten */
	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", KIB4, KIB4, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "'m.sums'"));
	bk_manifest_close(&m);
	close(dirfd);
}

/* A sealed manifest reads as finished before it is synced; the confirm comes after the seal. */
static void test_manifest_seal_then_confirm(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	uint64_t n = SEG + 10;
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d;

	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", KIB4, n * KIB4, &err), 0);
	for (uint64_t i = 0; i < n; i++) {
		digest_of(i, 0, &d);
		assert_int_equal(bk_manifest_put(&m, &d, &err), 0);
	}
	assert_int_equal(bk_manifest_confirm(&m, &err), -EINVAL); /* not sealed */
	assert_int_equal(bk_manifest_seal(&m, &err), 0);
	expect_digests(&m, SEG - 2, 5, 0);
	assert_int_equal(bk_manifest_confirm(&m, &err), 0);
	assert_int_equal(bk_manifest_confirm(&m, &err), -EINVAL); /* once */
	expect_digests(&m, 0, (uint32_t)n, 0);
	bk_manifest_close(&m);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(bk_manifest_check(&m, &err), 0);
	bk_manifest_close(&m);
	close(dirfd);
}

static void test_manifest_of_empty_image(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	struct bk_manifest m;
	struct bk_err err = {0};

	make_manifest(dirfd, BS, 0);
	assert_int_equal(file_size(dirfd, "m.sums"), HDR + 16);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(m.nblocks, 0);
	assert_int_equal(m.size, 0);
	assert_int_equal(bk_manifest_check(&m, &err), 0);
	bk_manifest_close(&m);
	close(dirfd);
}

static void test_manifest_writer_enforces_block_count(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d;

	digest_of(0, 0, &d);
	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", KIB4, 3 * KIB4 + 1, &err), 0);
	assert_int_equal(m.nblocks, 4);
	assert_int_equal(bk_manifest_skip(&m, 1, &err), -EINVAL); /* nothing to keep */
	for (int i = 0; i < 3; i++)
		assert_int_equal(bk_manifest_put(&m, &d, &err), 0);
	assert_int_equal(bk_manifest_finish(&m, &err), -EINVAL); /* one block missing */
	assert_int_equal(bk_manifest_put(&m, &d, &err), 0);
	assert_int_equal(bk_manifest_put(&m, &d, &err), -EINVAL); /* one too many */
	assert_int_equal(bk_manifest_finish(&m, &err), 0);
	bk_manifest_close(&m);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	bk_manifest_close(&m);
	close(dirfd);
}

/* --- clones -------------------------------------------------------------- */

/*
 * Clone BASE (open) into "c.sums" for SIZE bytes: generation 1 digests for
 * the blocks in [FROM, TO) and every block the clone may not keep, the
 * base's for the rest.
 */
static void clone_with(int dirfd, struct bk_manifest *base, uint64_t size, uint64_t from,
		       uint64_t to, struct bk_manifest *c)
{
	struct bk_err err = {0};
	struct bk_digest d;
	int r;

	r = bk_manifest_clone(c, dirfd, "c.sums", base, size, &err);
	if (r != 0)
		fail_msg("clone: %s", err.msg);
	for (uint64_t i = 0; i < c->nblocks; i++) {
		if (i < c->keep && (i < from || i >= to)) {
			assert_int_equal(bk_manifest_skip(c, 1, &err), 0);
			continue;
		}
		digest_of(i, 1, &d);
		assert_int_equal(bk_manifest_put(c, &d, &err), 0);
	}
	r = bk_manifest_finish(c, &err);
	if (r != 0)
		fail_msg("finish: %s", err.msg);
}

static void test_manifest_clone_writes_only_touched_segments(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	uint64_t n = 4 * SEG + 7, size = n * KIB4;
	struct bk_manifest base, c;
	struct bk_err err = {0};
	size_t blen, clen;
	unsigned char *before, *after;
	char path[256];

	make_manifest(dirfd, KIB4, size);
	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	before = read_file(path, &blen);
	assert_int_equal(bk_manifest_open(&base, dirfd, "m.sums", &err), 0);
	/* a few blocks in segment 2, one of them its last */
	clone_with(dirfd, &base, size, 3 * SEG - 5, 3 * SEG, &c);
	assert_int_equal(c.keep, n);
	assert_int_equal(c.stat_segments, 1);
	bk_manifest_close(&c);
	bk_manifest_close(&base);

	/* the base is untouched */
	after = read_file(path, &clen);
	assert_true(clen == blen && memcmp(before, after, blen) == 0);
	free(after);
	/* the clone reads as base plus change, from a fresh open */
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	assert_int_equal(bk_manifest_check(&c, &err), 0);
	expect_digests(&c, 0, 3 * SEG - 5, 0);
	expect_digests(&c, 3 * SEG - 5, 5, 1);
	expect_digests(&c, 3 * SEG, SEG + 7, 0);
	bk_manifest_close(&c);
	/* byte for byte what a fresh writer makes: only segment 2 and the table differ */
	snprintf(path, sizeof(path), "%s/c.sums", f->dir);
	after = read_file(path, &clen);
	assert_true(clen == blen);
	assert_true(memcmp(before, after, HDR + (3 * SEG - 5) * 16) == 0);
	assert_true(memcmp(before + HDR + 3 * SEG * 16, after + HDR + 3 * SEG * 16,
			   (SEG + 7) * 16) == 0);
	assert_true(memcmp(before + HDR + n * 16, after + HDR + n * 16, 2 * 16) == 0);
	assert_false(memcmp(before + HDR + n * 16 + 2 * 16, after + HDR + n * 16 + 2 * 16, 16) ==
		     0);
	free(before);
	free(after);

	/* an unchanged clone writes no segment at all */
	assert_int_equal(bk_manifest_open(&base, dirfd, "c.sums", &err), 0);
	assert_int_equal(bk_manifest_clone(&c, dirfd, "d.sums", &base, size, &err), 0);
	assert_int_equal(bk_manifest_skip(&c, n, &err), 0);
	assert_int_equal(bk_manifest_finish(&c, &err), 0);
	assert_int_equal(c.stat_segments, 0);
	expect_digests(&c, 3 * SEG - 7, 2, 0);
	expect_digests(&c, 3 * SEG - 4, 2, 1);
	bk_manifest_close(&c);
	bk_manifest_close(&base);
	close(dirfd);
}

static void test_manifest_clone_follows_size_changes(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	struct bk_manifest base, c;
	struct bk_err err = {0};
	uint64_t n = 2 * SEG + 10;

	/* the base ends in a short block */
	make_manifest(dirfd, KIB4, n * KIB4 - 1000);
	assert_int_equal(bk_manifest_open(&base, dirfd, "m.sums", &err), 0);

	/* grow by a segment and a half: the short block and all new ones are put */
	clone_with(dirfd, &base, (n + SEG + SEG / 2) * KIB4, 0, 0, &c);
	assert_int_equal(c.keep, n - 1);
	assert_int_equal(c.nsegs, 4);
	assert_int_equal(c.stat_segments, 2); /* segment 2 (the short block) and 3 */
	bk_manifest_close(&c);
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	assert_int_equal(c.nblocks, n + SEG + SEG / 2);
	assert_int_equal(bk_manifest_check(&c, &err), 0);
	expect_digests(&c, 0, (uint32_t)n - 1, 0);
	expect_digests(&c, n - 1, SEG + SEG / 2 + 1, 1);
	bk_manifest_close(&c);
	assert_int_equal(unlinkat(dirfd, "c.sums", 0), 0);

	/* a block may not be skipped once its length changed */
	assert_int_equal(bk_manifest_clone(&c, dirfd, "c.sums", &base, n * KIB4, &err), 0);
	assert_int_equal(bk_manifest_skip(&c, n, &err), -EINVAL);
	assert_int_equal(bk_manifest_skip(&c, n - 1, &err), 0);
	bk_manifest_close(&c);
	assert_int_equal(unlinkat(dirfd, "c.sums", 0), 0);

	/* shrink to within segment 0 with no put: segment 0 is resealed, the table shrinks */
	clone_with(dirfd, &base, 1000 * (uint64_t)KIB4, 0, 0, &c);
	assert_int_equal(c.keep, 1000);
	assert_int_equal(c.stat_segments, 1);
	bk_manifest_close(&c);
	assert_int_equal(file_size(dirfd, "c.sums"), HDR + 1000 * 16 + 16 + 16);
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	assert_int_equal(bk_manifest_check(&c, &err), 0);
	expect_digests(&c, 0, 1000, 0);
	bk_manifest_close(&c);
	assert_int_equal(unlinkat(dirfd, "c.sums", 0), 0);

	/* shrink to a short block inside segment 1: that block is put */
	clone_with(dirfd, &base, (SEG + 5) * (uint64_t)KIB4 + 17, 0, 0, &c);
	assert_int_equal(c.keep, SEG + 5);
	bk_manifest_close(&c);
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	assert_int_equal(bk_manifest_check(&c, &err), 0);
	expect_digests(&c, 0, SEG + 5, 0);
	expect_digests(&c, SEG + 5, 1, 1);
	bk_manifest_close(&c);
	assert_int_equal(unlinkat(dirfd, "c.sums", 0), 0);

	/* to nothing */
	clone_with(dirfd, &base, 0, 0, 0, &c);
	bk_manifest_close(&c);
	assert_int_equal(file_size(dirfd, "c.sums"), HDR + 16);
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	bk_manifest_close(&c);
	bk_manifest_close(&base);
	close(dirfd);
}

/* --- damage -------------------------------------------------------------- */

static void test_manifest_corrupted_segment_fails_where_it_is_read(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	uint64_t n = 3 * SEG + 1;
	struct bk_manifest m, c;
	struct bk_err err = {0};
	struct bk_digest d[2];
	char path[256];

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, KIB4, n * KIB4);
	corrupt_byte(path, HDR + (2 * SEG + 17) * 16 + 3); /* a digest in segment 2 */

	/* open checks the table only; segments 0, 1 and 3 still read */
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	expect_digests(&m, 0, 2, 0);
	expect_digests(&m, 3 * SEG, 1, 0);
	assert_int_equal(bk_manifest_read(&m, 2 * SEG + 17, 1, d, &err), BK_ECORRUPT);
	expect_msg(&err, "segment 2 seal mismatch");
	bk_err_clear(&err);
	assert_int_equal(bk_manifest_read(&m, 2 * SEG - 1, 2, d, &err), BK_ECORRUPT);
	bk_err_clear(&err);
	assert_int_equal(bk_manifest_check(&m, &err), BK_ECORRUPT);
	expect_msg(&err, "segment 2 seal mismatch");
	bk_err_clear(&err);

	/* a clone never reseals the damage: writing into segment 2 fails ... */
	assert_int_equal(bk_manifest_clone(&c, dirfd, "c.sums", &m, n * KIB4, &err), 0);
	assert_int_equal(bk_manifest_skip(&c, 2 * SEG + 1, &err), 0);
	digest_of(0, 1, &d[0]);
	assert_int_equal(bk_manifest_put(&c, &d[0], &err), BK_ECORRUPT);
	expect_msg(&err, "segment 2 seal mismatch");
	bk_err_clear(&err);
	bk_manifest_close(&c);
	assert_int_equal(unlinkat(dirfd, "c.sums", 0), 0);

	/* ... and skipping it keeps it detectable in the clone */
	assert_int_equal(bk_manifest_clone(&c, dirfd, "c.sums", &m, n * KIB4, &err), 0);
	assert_int_equal(bk_manifest_skip(&c, n, &err), 0);
	assert_int_equal(bk_manifest_finish(&c, &err), 0);
	assert_int_equal(bk_manifest_read(&c, 2 * SEG, 1, d, &err), BK_ECORRUPT);
	if (!strstr(err.msg, "manifest 'c.sums' is corrupt (segment 2 seal mismatch)"))
		fail_msg("unexpected message '%s'", err.msg);
	bk_manifest_close(&c);
	bk_manifest_close(&m);
	close(dirfd);
}

static void test_manifest_corrupted_table_or_header_is_rejected_at_open(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	uint64_t n = 2 * SEG + 3, toff = HDR + n * 16;
	char path[256];

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, KIB4, n * KIB4);
	corrupt_byte(path, toff + 16 + 5); /* the seal of segment 1 */
	expect_manifest_corrupt(dirfd, "table seal mismatch");
	corrupt_byte(path, toff + 16 + 5);
	corrupt_byte(path, toff + 3 * 16 + 2); /* the table seal itself */
	expect_manifest_corrupt(dirfd, "table seal mismatch");
	corrupt_byte(path, toff + 3 * 16 + 2);
	corrupt_byte(path, 2000); /* the reserved part of the header block */
	expect_manifest_corrupt(dirfd, "");
	reseal(path);
	expect_manifest_corrupt(dirfd, "bad header or length");
	corrupt_byte(path, 2000);
	reseal(path);
	corrupt_byte(path, 20); /* the image size */
	expect_manifest_corrupt(dirfd, "");
	close(dirfd);
}

static void test_manifest_rejects_truncated_or_extended_file(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	char path[256];
	const uint64_t full = HDR + 5 * 16 + 16 + 16;

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, BS, 5 * (uint64_t)BS);
	assert_int_equal(file_size(dirfd, "m.sums"), full);
	assert_int_equal(truncate(path, (off_t)full - 1), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, (off_t)full - 16), 0); /* seal missing */
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, 100), 0); /* not even a header block */
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, 10), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, 0), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");

	assert_int_equal(unlink(path), 0);
	make_manifest(dirfd, BS, 5 * (uint64_t)BS);
	assert_int_equal(truncate(path, (off_t)full + 1), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");
	close(dirfd);
}

static void test_manifest_rejects_wrong_magic(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	char path[256];
	struct bk_manifest m;
	struct bk_err err = {0};

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, BS, 5 * (uint64_t)BS);
	/* the reseal helper itself keeps a good manifest good */
	reseal(path);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	bk_manifest_close(&m);

	patch(path, 0, "BKYSUMS3", 8);
	reseal(path);
	expect_manifest_corrupt(dirfd, "bad header or length");
	/* a version 2 file under the version 1 magic */
	patch(path, 0, "BKYSUMS1", 8);
	expect_manifest_corrupt(dirfd, "bad header or length");
	close(dirfd);
}

static void test_manifest_rejects_bad_block_size(void **state)
{
	static const uint32_t bad[] = {0, 3000, 4095, 4097, 12288, 8u << 20, 2048};
	struct fx *f = *state;
	int dirfd = open_dir(f);
	char path[256];

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t le = htole32(bad[i]);

		unlink(path);
		make_manifest(dirfd, KIB4, 0); /* no blocks, so the count stays consistent */
		patch(path, 8, &le, 4);
		reseal(path);
		expect_manifest_corrupt(dirfd, "bad header or length");
	}

	/* a block count that does not match the size, under a valid seal */
	unlink(path);
	make_manifest(dirfd, KIB4, 3 * KIB4);
	{
		uint64_t size = htole64(5 * KIB4);

		patch(path, 16, &size, 8);
	}
	reseal(path);
	expect_manifest_corrupt(dirfd, "bad header or length");

	/* another segment size */
	unlink(path);
	make_manifest(dirfd, KIB4, 3 * KIB4);
	{
		uint32_t per = htole32(SEG / 2);

		patch(path, 12, &per, 4);
	}
	reseal(path);
	expect_manifest_corrupt(dirfd, "bad header or length");
	close(dirfd);
}

/* --- version 1 ----------------------------------------------------------- */

static void test_manifest_reads_version_1(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	uint64_t n = SEG + 300, size = n * KIB4 - 5;
	struct bk_manifest m, c;
	struct bk_err err = {0};
	char path[256];

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_v1(f->dir, KIB4, size);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(m.version, 1);
	assert_true(m.size == size);
	assert_int_equal(m.nblocks, n);
	assert_int_equal(bk_manifest_check(&m, &err), 0);
	expect_digests(&m, 0, 3, 0);
	expect_digests(&m, SEG - 2, 300, 0);

	/* its clone is a version 2 manifest: changed blocks put, the rest kept */
	clone_with(dirfd, &m, size, 10, 20, &c);
	assert_int_equal(c.stat_segments, 1);
	bk_manifest_close(&c);
	bk_manifest_close(&m);
	assert_int_equal(bk_manifest_open(&c, dirfd, "c.sums", &err), 0);
	assert_int_equal(c.version, 2);
	assert_int_equal(bk_manifest_check(&c, &err), 0);
	expect_digests(&c, 0, 10, 0);
	expect_digests(&c, 10, 10, 1);
	expect_digests(&c, 20, (uint32_t)n - 20, 0);
	bk_manifest_close(&c);

	/* the whole-file seal of version 1 is checked at open */
	corrupt_byte(path, 32 + (SEG + 7) * 16 + 1);
	expect_manifest_corrupt(dirfd, "seal mismatch");
	assert_int_equal(truncate(path, 32 + (off_t)n * 16), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");
	close(dirfd);
}

static void test_manifest_check_block_size(void **state)
{
	(void)state;
	assert_int_equal(bk_manifest_check_block_size(4096), 0);
	assert_int_equal(bk_manifest_check_block_size(8192), 0);
	assert_int_equal(bk_manifest_check_block_size(64 << 10), 0);
	assert_int_equal(bk_manifest_check_block_size(4 << 20), 0);
	assert_int_equal(bk_manifest_check_block_size(0), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(1), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(2048), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(4095), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(4097), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(3 * 4096), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(8 << 20), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size((4 << 20) + 4096), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size(1ULL << 40), BK_ECONFIG);
	assert_int_equal(bk_manifest_check_block_size((1ULL << 32) + 4096), BK_ECONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_manifest_round_trip),
		T(test_manifest_seal_then_confirm),
		T(test_manifest_of_empty_image),
		T(test_manifest_writer_enforces_block_count),
		T(test_manifest_clone_writes_only_touched_segments),
		T(test_manifest_clone_follows_size_changes),
		T(test_manifest_corrupted_segment_fails_where_it_is_read),
		T(test_manifest_corrupted_table_or_header_is_rejected_at_open),
		T(test_manifest_rejects_truncated_or_extended_file),
		T(test_manifest_rejects_wrong_magic),
		T(test_manifest_rejects_bad_block_size),
		T(test_manifest_reads_version_1),
		cmocka_unit_test(test_manifest_check_block_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
