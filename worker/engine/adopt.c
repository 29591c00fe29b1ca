/* adopt.c: adopting a Python backy cowfile repository in place (see adopt.h). */
#include "adopt.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "manifest.h"
#include "pyrepo.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (4u << 20)

/* Compute REV's manifest from its image into <id>.sums (renamed into place when complete). */
static int make_manifest(struct bk_repo *repo, const struct bk_rev *rev, unsigned char *buf,
			 uint64_t *bytes, struct bk_err *err)
{
	char tmp[BK_ID_MAX + 16], name[BK_ID_MAX + 16];
	struct bk_manifest m = {.fd = -1};
	uint32_t bs = repo->cfg.block_size;
	struct stat st;
	int fd, r;

	fd = openat(repo->dirfd, rev->id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return bk_err_sys(err, -errno, "revision '%s' has no image '%s/%s'", rev->id,
				  repo->path, rev->id);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bk_err_set(err, BK_ECORRUPT, "image '%s/%s' is not a regular file", repo->path,
				  rev->id);
	}
	snprintf(tmp, sizeof(tmp), ".new-%s.sums", rev->id);
	snprintf(name, sizeof(name), "%s.sums", rev->id);
	bk_fs_unlink(repo->dirfd, tmp); /* from an interrupted adoption */
	r = bk_manifest_create(&m, repo->dirfd, tmp, bs, (uint64_t)st.st_size, err);
	for (uint64_t off = 0; r == 0 && off < (uint64_t)st.st_size; off += READ_CHUNK) {
		uint64_t left = (uint64_t)st.st_size - off;
		size_t len = left < READ_CHUNK ? (size_t)left : READ_CHUNK, got = 0;

		r = bk_pread_full(fd, buf, len, off, &got);
		if (r == 0 && got != len)
			r = -EIO; /* the image shrank under us */
		if (r < 0) {
			bk_err_sys(err, r, "unable to read '%s/%s'", repo->path, rev->id);
			break;
		}
		for (size_t b = 0; r == 0 && b < len; b += bs) {
			struct bk_digest d;

			bk_hash(buf + b, len - b < bs ? len - b : bs, &d);
			r = bk_manifest_put(&m, &d, err);
		}
		*bytes += len;
	}
	if (r == 0)
		r = bk_manifest_finish(&m, err);
	if (r == 0 && (fchmod(m.fd, 0440) < 0 || renameat(repo->dirfd, tmp, repo->dirfd, name) < 0))
		r = -errno;
	if (r < 0 && !err->code)
		bk_err_sys(err, r, "unable to write manifest '%s/%s'", repo->path, name);
	bk_manifest_close(&m);
	close(fd);
	if (r < 0)
		bk_fs_unlink(repo->dirfd, tmp);
	return r;
}

/* Refuse what adoption cannot take: chunked revisions (before anything is written). */
static int check_backends(struct bk_repo *repo, struct bk_err *err)
{
	for (size_t i = 0; i < repo->n; i++) {
		enum bk_py_backend be;
		int r = bk_py_rev_backend(repo, i, &be, err);

		if (r < 0)
			return r;
		if (be == BK_PY_CHUNKED)
			return bk_err_set(err, BK_EUSAGE,
					  "revision '%s' of '%s' is stored in chunks: adoption takes raw images only; convert the repository with 'backy -b NEWDIR import %s'",
					  repo->revs[i].id, repo->path, repo->path);
	}
	return 0;
}

int bk_adopt(const char *dir, struct bk_adopt_stats *st, struct bk_err *err)
{
	struct bk_repo repo;
	struct bk_repo_config cfg;
	unsigned char *buf = NULL;
	int pylock = -1, r;

	memset(st, 0, sizeof(*st));
	r = bk_py_repo_open(&repo, dir, err);
	if (r < 0)
		return r;
	r = bk_repo_lock(&repo, err);
	if (r == 0)
		r = bk_py_repo_lock(&repo, true, &pylock, err);
	if (r == 0)
		r = bk_repo_load(&repo, err); /* under both locks */
	if (r == 0)
		r = check_backends(&repo, err);
	if (r < 0)
		goto out;
	buf = bk_malloc(READ_CHUNK);
	for (size_t i = 0; i < repo.n; i++) {
		char name[BK_ID_MAX + 16];
		struct bk_manifest m = {.fd = -1};
		struct bk_err e = {0};

		if (!repo.revs[i].complete) {
			st->incomplete++;
			continue;
		}
		st->revisions++;
		snprintf(name, sizeof(name), "%s.sums", repo.revs[i].id);
		if (bk_manifest_open(&m, repo.dirfd, name, &e) == 0) {
			bk_manifest_close(&m); /* made by an adoption that was interrupted later */
			continue;
		}
		r = make_manifest(&repo, &repo.revs[i], buf, &st->bytes_read, err);
		if (r < 0)
			goto out;
		st->manifests++;
	}
	/* keep Python's config, then commit the adoption by writing ours */
	if (linkat(repo.dirfd, "config", repo.dirfd, "config.python-backy", 0) < 0 &&
	    errno != EEXIST) {
		r = bk_err_sys(err, -errno, "unable to keep Python's config as '%s/config.python-backy'",
			       dir);
		goto out;
	}
	cfg = repo.cfg;
	cfg.created = cfg.adopted = bk_now();
	r = bk_repo_save_config(&repo, &cfg, err);
	if (r == 0)
		r = bk_repo_update_latest(&repo, err);
out:
	free(buf);
	if (pylock >= 0)
		close(pylock);
	bk_repo_close(&repo);
	return r;
}
