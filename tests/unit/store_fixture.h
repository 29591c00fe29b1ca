/*
 * store_fixture.h: what the repository tests (test_manifest.c,
 * test_store_repo.c, test_engine.c) share: a fresh repository directory per
 * test (setup/teardown), source images of 64 KiB blocks, mixed random and
 * zero content, one backup run as the CLI does it, and file helpers.
 *
 * Every test works in a fresh directory under /tmp (no reflinks there: the
 * engine falls back to copying the parent and warns once, which is fine).
 * Header only (static inline), so each test binary stays one source file.
 */
#ifndef BK_TEST_STORE_FIXTURE_H
#define BK_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "buf.h"
#include "clock.h"
#include "engine.h"
#include "fs.h"
#include "hash.h"
#include "id.h"
#include "manifest.h"
#include "store.h"

#define BS (64u << 10)
#define CHUNK_BYTES (4u << 20) /* the engine's I/O chunk: 64 blocks */
#define T0 (1441091207LL * BK_USEC) /* 2015-09-01T07:06:47Z */

struct fx {
	char dir[64];   /* the temporary directory */
	char repo[128]; /* DIR/repo */
	char src[128];  /* DIR/source.img */
	struct bk_repo r;
	bool open;
};

/* --- helpers ------------------------------------------------------------- */

static inline void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(bk_pwrite_full(fd, data, len, 0), 0);
	close(fd);
}

static inline void write_text(const char *dir, const char *name, const char *text)
{
	char path[2048];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, text, strlen(text));
}

/* All of PATH (malloc'd) and its length. */
static inline unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail_msg("unable to open '%s': %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	buf = bk_malloc((size_t)st.st_size + 1);
	assert_int_equal(bk_pread_full(fd, buf, (size_t)st.st_size, 0, &got), 0);
	assert_int_equal(got, (size_t)st.st_size);
	close(fd);
	*len = got;
	return buf;
}

static inline void assert_file_content(const char *path, const unsigned char *want, size_t len)
{
	size_t got_len;
	unsigned char *got = read_file(path, &got_len);

	if (got_len != len)
		fail_msg("'%s' has %zu bytes, expected %zu", path, got_len, len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("'%s' differs at byte %zu: 0x%02x, expected 0x%02x", path, i, got[i],
				 want[i]);
	free(got);
}

static inline bool exists(const char *dir, const char *name)
{
	char path[2048];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* Whether [OFF, OFF+LEN) of PATH is unallocated (no data according to SEEK_DATA). */
static inline bool hole_at(const char *path, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t data;
	bool hole;

	assert_true(fd >= 0);
	data = lseek(fd, (off_t)off, SEEK_DATA);
	hole = (data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len);
	close(fd);
	return hole;
}

static inline uint64_t allocated(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static inline uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fill LEN bytes with data that depends on SEED and never forms an all-zero block. */
static inline void fill_random(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(xorshift(&s) >> 24);
	if (len)
		p[0] |= 1;
}

/* An image of SIZE bytes: block i is zero when i % 5 == 3, random (by SEED and i) otherwise. */
static inline unsigned char *make_image(size_t size, uint64_t seed)
{
	unsigned char *p = bk_calloc(1, size ? size : 1);

	for (size_t off = 0, i = 0; off < size; off += BS, i++) {
		size_t len = size - off < BS ? size - off : BS;

		if (i % 5 != 3)
			fill_random(p + off, len, seed * 100003 + i);
	}
	return p;
}

static inline bool block_is_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Bytes in the blocks of IMG (SIZE bytes) that are not all zero. */
static inline uint64_t nonzero_bytes(const unsigned char *img, size_t size)
{
	uint64_t n = 0;

	for (size_t off = 0; off < size; off += BS) {
		size_t len = size - off < BS ? size - off : BS;

		if (!block_is_zero(img + off, len))
			n += len;
	}
	return n;
}

static inline void write_config(const struct fx *f, uint32_t block_size)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "source:\n  type: file\n  filename: %s\nblock-size: %u\ncreated: 2015-08-01T00:00:00Z\n",
		 f->src, block_size);
	write_text(f->repo, "config", text);
}

static inline int setup(void **state)
{
	struct fx *f = bk_calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/bk-test-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->src, sizeof(f->src), "%s/source.img", f->dir);
	if (mkdir(f->repo, 0750) < 0)
		return -1;
	write_config(f, BS);
	bk_clock_set(0);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];

	if (f->open)
		bk_repo_close(&f->r);
	bk_clock_set(0);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwX '%s' && rm -rf '%s'", f->dir, f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "unable to remove '%s'\n", f->dir);
	free(f);
	return 0;
}

/* (Re)open the repository into f->r, without the lock. */
static inline void reopen(struct fx *f)
{
	struct bk_err err = {0};
	int r;

	if (f->open)
		bk_repo_close(&f->r);
	f->open = false;
	r = bk_repo_open(&f->r, f->repo, &err);
	if (r != 0)
		fail_msg("unable to open '%s': %s", f->repo, bk_err_msg(&err, r));
	f->open = true;
}

static inline void lock(struct fx *f)
{
	struct bk_err err = {0};
	int r = bk_repo_lock(&f->r, &err);

	if (r != 0)
		fail_msg("unable to lock: %s", bk_err_msg(&err, r));
}

/* One backup run as the CLI does it: open, lock, back up at time T with TAGS, close. */
static inline void backup(struct fx *f, int64_t t, const char *tags, struct bk_backup_stats *stats)
{
	struct bk_strv tv = BK_STRV_INIT;
	struct bk_err err = {0};
	int r;

	reopen(f);
	lock(f);
	bk_strv_split(&tv, tags);
	bk_clock_set(t);
	r = bk_backup(&f->r, &tv, false, stats, &err);
	bk_strv_release(&tv);
	if (r != 0)
		fail_msg("backup failed (%d): %s", r, bk_err_msg(&err, r));
	reopen(f); /* from now on, look at what is on disk */
}

/* Index of revision ID in f->r, failing if it is not there. */
static inline size_t rev_index(const struct fx *f, const char *id)
{
	for (size_t i = 0; i < f->r.n; i++)
		if (strcmp(f->r.revs[i].id, id) == 0)
			return i;
	fail_msg("revision '%s' not found", id);
	return 0;
}

static inline void image_path(const struct fx *f, const char *id, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->repo, id);
}

static inline void assert_latest(const struct fx *f, const char *id)
{
	char path[256], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/latest", f->repo);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, id);
}

/* Number of entries of DIR whose name starts with PREFIX. */
static inline int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* Flip one byte of a (read-only) revision file at OFF, as bitrot would. */
static inline void corrupt_byte(const char *path, uint64_t off)
{
	unsigned char c;
	int fd;

	assert_int_equal(chmod(path, 0640), 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
	assert_int_equal(chmod(path, 0440), 0);
}

/* The text of the one quarantine report of the repository (malloc'd). */
static inline char *quarantine_report(const struct fx *f)
{
	char qdir[256], path[2048];
	struct dirent *de;
	char *text = NULL;
	size_t len;
	int n = 0;
	DIR *d;

	snprintf(qdir, sizeof(qdir), "%s/quarantine", f->repo);
	d = opendir(qdir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) {
			snprintf(path, sizeof(path), "%s/%s", qdir, de->d_name);
			free(text);
			text = (char *)read_file(path, &len);
			text[len] = '\0';
			n++;
		}
	}
	closedir(d);
	assert_int_equal(n, 1);
	return text;
}

/* A test with a fresh repository directory in *state (struct fx). */
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

#endif
