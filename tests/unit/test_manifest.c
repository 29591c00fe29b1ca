/*
 * test_manifest.c: revision manifests (worker/engine/manifest.c) on a real
 * file system: the round trip, the block count the writer enforces, and the
 * seal, size, magic and block-size checks of the reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_fixture.h"

/* --- manifest ------------------------------------------------------------ */

static int open_dir(const struct fx *f)
{
	int fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void digest_of(uint64_t i, struct bk_digest *d)
{
	bk_hash(&i, sizeof(i), d);
}

/* Write "m.sums" in DIRFD: NBLOCKS digests of the block index, image size SIZE. */
static void make_manifest(int dirfd, uint32_t bs, uint64_t size)
{
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d;
	uint64_t n = (size + bs - 1) / bs;

	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", bs, size, &err), 0);
	for (uint64_t i = 0; i < n; i++) {
		digest_of(i, &d);
		assert_int_equal(bk_manifest_put(&m, &d), 0);
	}
	assert_int_equal(bk_manifest_finish(&m), 0);
	bk_manifest_close(&m);
}

/* Recompute the seal of PATH after an edit, so only the edit itself can be rejected. */
static void reseal(const char *path)
{
	size_t len;
	unsigned char *p = read_file(path, &len);
	XXH128_canonical_t c;

	assert_true(len >= 16);
	XXH128_canonicalFromHash(&c, XXH3_128bits(p, len - 16));
	memcpy(p + len - 16, c.digest, 16);
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

static void expect_manifest_corrupt(int dirfd, const char *what)
{
	struct bk_manifest m;
	struct bk_err err = {0};

	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), BK_ECORRUPT);
	assert_int_equal(m.fd, -1);
	if (!strstr(err.msg, "manifest 'm.sums' is corrupt") || !strstr(err.msg, what))
		fail_msg("message '%s' lacks '%s'", err.msg, what);
	bk_manifest_close(&m);
}

static void test_manifest_round_trip(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	/* more digests than the writer buffers, and a short last block */
	uint64_t size = 10000ULL * 4096 + 100;
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest got[20], want;

	make_manifest(dirfd, 4096, size);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(m.block_size, 4096);
	assert_true(m.size == size);
	assert_int_equal(m.nblocks, 10001);
	assert_int_equal(bk_manifest_read(&m, 0, 5, got), 0);
	for (uint64_t i = 0; i < 5; i++) {
		digest_of(i, &want);
		assert_true(bk_digest_equal(&got[i], &want));
	}
	/* across the writer's 4096-digest flush boundary */
	assert_int_equal(bk_manifest_read(&m, 4090, 12, got), 0);
	for (uint64_t i = 0; i < 12; i++) {
		digest_of(4090 + i, &want);
		assert_true(bk_digest_equal(&got[i], &want));
	}
	assert_int_equal(bk_manifest_read(&m, 10000, 1, got), 0);
	digest_of(10000, &want);
	assert_true(bk_digest_equal(&got[0], &want));
	assert_int_equal(bk_manifest_read(&m, 10000, 2, got), -EINVAL);
	assert_int_equal(bk_manifest_read(&m, 10001, 1, got), -EINVAL);
	bk_manifest_close(&m);
	assert_int_equal(m.fd, -1);

	/* O_EXCL: an existing manifest is never overwritten */
	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", 4096, 4096, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "'m.sums'"));
	bk_manifest_close(&m);
	close(dirfd);
}

static void test_manifest_of_empty_image(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	struct bk_manifest m;
	struct bk_err err = {0};
	struct stat st;

	make_manifest(dirfd, BS, 0);
	assert_int_equal(fstatat(dirfd, "m.sums", &st, 0), 0);
	assert_int_equal(st.st_size, 32 + 16);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	assert_int_equal(m.nblocks, 0);
	assert_int_equal(m.size, 0);
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

	digest_of(0, &d);
	assert_int_equal(bk_manifest_create(&m, dirfd, "m.sums", 4096, 3 * 4096 + 1, &err), 0);
	assert_int_equal(m.nblocks, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bk_manifest_put(&m, &d), 0);
	assert_int_equal(bk_manifest_finish(&m), -EINVAL); /* one block missing */
	assert_int_equal(bk_manifest_put(&m, &d), 0);
	assert_int_equal(bk_manifest_put(&m, &d), -EINVAL); /* one too many */
	assert_int_equal(bk_manifest_finish(&m), 0);
	bk_manifest_close(&m);
	assert_int_equal(bk_manifest_open(&m, dirfd, "m.sums", &err), 0);
	bk_manifest_close(&m);
	close(dirfd);
}

static void test_manifest_seal_detects_flipped_digest_byte(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	char path[256];

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, BS, 5 * (uint64_t)BS);
	corrupt_byte(path, 32 + 2 * 16 + 7); /* digest of block 2 */
	expect_manifest_corrupt(dirfd, "seal mismatch");
	corrupt_byte(path, 32 + 2 * 16 + 7); /* repaired */
	corrupt_byte(path, 32 + 5 * 16 + 3); /* the seal itself */
	expect_manifest_corrupt(dirfd, "seal mismatch");
	corrupt_byte(path, 32 + 5 * 16 + 3);
	corrupt_byte(path, 20); /* the image size in the header */
	expect_manifest_corrupt(dirfd, "");
	close(dirfd);
}

static void test_manifest_rejects_truncated_or_extended_file(void **state)
{
	struct fx *f = *state;
	int dirfd = open_dir(f);
	char path[256];
	const uint64_t full = 32 + 5 * 16 + 16;

	snprintf(path, sizeof(path), "%s/m.sums", f->dir);
	make_manifest(dirfd, BS, 5 * (uint64_t)BS);
	assert_int_equal(truncate(path, (off_t)full - 1), 0);
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, (off_t)full - 16), 0); /* seal missing */
	expect_manifest_corrupt(dirfd, "bad header or length");
	assert_int_equal(truncate(path, 10), 0); /* not even a header */
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

	patch(path, 0, "BKYSUMS2", 8);
	reseal(path);
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
		make_manifest(dirfd, 4096, 0); /* no blocks, so the count stays consistent */
		patch(path, 8, &le, 4);
		reseal(path);
		expect_manifest_corrupt(dirfd, "bad header or length");
	}

	/* a block count that does not match the size, under a valid seal */
	unlink(path);
	make_manifest(dirfd, 4096, 3 * 4096);
	{
		uint64_t size = htole64(5 * 4096);

		patch(path, 16, &size, 8);
	}
	reseal(path);
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
		T(test_manifest_of_empty_image),
		T(test_manifest_writer_enforces_block_count),
		T(test_manifest_seal_detects_flipped_digest_byte),
		T(test_manifest_rejects_truncated_or_extended_file),
		T(test_manifest_rejects_wrong_magic),
		T(test_manifest_rejects_bad_block_size),
		cmocka_unit_test(test_manifest_check_block_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
