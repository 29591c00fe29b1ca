/*
 * restore.c: writing a revision to a file, a block device or a stream
 * (bk_restore); every block is checked against the manifest on the way
 * (check.h).  Restore into RBD is rbd_restore.c.
 */
#include "engine.h"

#include "check.h"
#include "fs.h"
#include "manifest.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open TARGET for writing without reading it; see bk_restore for the kinds. */
static int open_target(struct bk_repo *repo, const char *target, uint64_t size, int *out,
		       bool *sparse, bool *seekable, struct bk_err *err)
{
	struct stat st;
	uint64_t devsize;
	int fd, r;

	*sparse = false;
	*seekable = true;
	if (strcmp(target, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return bk_err_set(err, BK_EUSAGE, "refusing to write an image to a terminal");
		r = bk_repo_check_target(repo, NULL, STDOUT_FILENO, err);
		if (r < 0)
			return r;
		*out = STDOUT_FILENO;
		*seekable = false;
		return 0;
	}
	/* config, .rev files, the log ... under any name: see bk_repo_check_target */
	r = bk_repo_check_target(repo, target, -1, err);
	if (r < 0)
		return r;
	if (stat(target, &st) < 0) {
		if (errno != ENOENT)
			return bk_err_sys(err, -errno, "unable to stat target '%s'", target);
		fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		*sparse = true;
	} else if (S_ISDIR(st.st_mode)) {
		return bk_err_set(err, BK_EUSAGE, "target '%s' is a directory", target);
	} else if (S_ISREG(st.st_mode)) {
		fd = open(target, O_WRONLY | O_CLOEXEC);
		r = fd >= 0 ? bk_repo_check_target(repo, target, fd, err) : 0;
		if (r < 0) {
			close(fd); /* it changed since the check above */
			return r;
		}
		if (fd >= 0 && ftruncate(fd, 0) < 0) {
			close(fd);
			return bk_err_sys(err, -errno, "unable to truncate target '%s'", target);
		}
		*sparse = true;
	} else if (S_ISBLK(st.st_mode)) {
		fd = open(target, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &devsize) == 0 && devsize < size) {
			close(fd);
			return bk_err_set(err, BK_EUSAGE,
					  "target '%s' is smaller (%llu bytes) than the revision (%llu bytes)",
					  target, (unsigned long long)devsize, (unsigned long long)size);
		}
	} else {
		fd = open(target, O_WRONLY | O_CLOEXEC);
		*seekable = false;
	}
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to open target '%s'", target);
	if (*sparse && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return bk_err_sys(err, -errno, "unable to size target '%s'", target);
	}
	*out = fd;
	return 0;
}

static int write_stream(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Write the non-zero blocks of BUF (LEN bytes at OFF) to a freshly truncated file. */
static int write_sparse(int fd, const unsigned char *buf, uint64_t len, uint64_t off, uint32_t bs)
{
	uint64_t run = 0, pos;
	int r;

	for (pos = 0; pos < len; pos += bs) {
		uint64_t blen = len - pos < bs ? len - pos : bs;

		if (!bk_is_zero(buf + pos, (size_t)blen))
			continue;
		if (pos > run) {
			r = bk_pwrite_full(fd, buf + run, (size_t)(pos - run), off + run);
			if (r < 0)
				return r;
		}
		run = pos + blen;
	}
	if (len > run)
		return bk_pwrite_full(fd, buf + run, (size_t)(len - run), off + run);
	return 0;
}

/* Where a restore to a file, a device or a stream writes (a struct bk_rev_sink). */
struct target {
	int fd;
	const char *name;
	bool sparse, seekable;
	uint32_t block_size;
	unsigned char *buf;
};

static unsigned char *target_buffer(void *arg, uint64_t off, struct bk_err *err)
{
	struct target *t = arg;

	(void)off;
	(void)err;
	return t->buf;
}

static int target_put(void *arg, uint64_t off, uint64_t len, unsigned char *buf, bool hole,
		      struct bk_err *err)
{
	struct target *t = arg;
	int r;

	if (t->sparse)
		r = hole ? 0 : write_sparse(t->fd, buf, len, off, t->block_size);
	else if (t->seekable)
		r = bk_pwrite_full(t->fd, buf, (size_t)len, off);
	else
		r = write_stream(t->fd, buf, (size_t)len);
	return r < 0 ? bk_err_sys(err, r, "unable to write target '%s'", t->name) : 0;
}

int bk_restore(struct bk_repo *repo, size_t idx, const char *target, bool progress,
	       struct bk_err *err)
{
	const char *id = repo->revs[idx].id;
	struct bk_manifest m = {.fd = -1};
	struct target t = {.fd = -1, .name = target};
	struct bk_rev_sink sink = {target_buffer, target_put, &t};
	struct bk_progress prog;
	struct bk_quarantine q;
	int fd = -1, r;

	bk_quarantine_init(&q);
	r = bk_rev_open(repo, idx, &fd, &m, err);
	if (r < 0)
		goto done;
	r = open_target(repo, target, m.size, &t.fd, &t.sparse, &t.seekable, err);
	if (r < 0)
		goto done;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	t.block_size = m.block_size;
	t.buf = bk_malloc(BK_REV_CHUNK);
	bk_progress_init(&prog, progress, "restore", m.size);
	r = bk_rev_read(fd, &m, id, true, &prog, &sink, &q, err);
	if (r < 0)
		goto done;
	if (t.seekable && fsync(t.fd) < 0) {
		r = bk_err_sys(err, -errno, "unable to sync target '%s'", target);
		goto done;
	}
	r = bk_restore_verdict(id, &q, err);
done:
	if (t.fd >= 0 && t.fd != STDOUT_FILENO)
		close(t.fd);
	if (fd >= 0)
		close(fd);
	bk_manifest_close(&m);
	bk_quarantine_release(&q);
	free(t.buf);
	return r;
}
