/*
 * rbd_restore.c: write a revision into an RBD image.
 *
 * The image is created at the revision's size if it does not exist; an
 * existing image must be at least that large.  Data chunks are written with
 * QUEUE_DEPTH aio writes in flight.  Holes are skipped on a new image (it
 * reads as zeros) and written as zeroes on an existing one, so no stale
 * data survives.  Every block is checked against the manifest as it is read.
 */
#include "engine.h"

#include "check.h"
#include "fs.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"
#include "rbd.h"

#include <errno.h>
#include <fcntl.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_DEPTH 8
#define CHUNK BK_SOURCE_MAX_READ

struct wslot {
	rbd_completion_t c;
	unsigned char *buf;
	uint64_t off;
	bool busy;
};

static int reap(struct wslot *s)
{
	ssize_t r;

	rbd_aio_wait_for_complete(s->c);
	r = rbd_aio_get_return_value(s->c);
	rbd_aio_release(s->c);
	s->busy = false;
	return r < 0 ? (int)r : 0;
}

int bk_restore_rbd(struct bk_repo *repo, size_t idx, const char *spec, const char *ceph_conf,
		   const char *ceph_id, bool progress, struct bk_err *err)
{
	const char *id = repo->revs[idx].id;
	struct wslot slots[QUEUE_DEPTH] = {0};
	struct bk_manifest m = {.fd = -1};
	struct bk_digest dig[CHUNK / BK_MANIFEST_MIN_BLOCK];
	char pool[129], name[129], sums[BK_ID_MAX + 8];
	rados_t cluster = NULL;
	rados_ioctx_t io = NULL;
	rbd_image_t img = NULL;
	struct bk_quarantine q;
	struct bk_progress prog;
	uint64_t size = 0;
	const char *slash = strchr(spec, '/');
	bool created = false;
	int fd = -1, r, order = 22;

	if (!slash || slash == spec || !slash[1] || (size_t)(slash - spec) >= sizeof(pool) ||
	    strlen(slash + 1) >= sizeof(name))
		return bk_err_set(err, BK_EUSAGE, "invalid RBD target 'rbd:%s': expected rbd:POOL/IMAGE",
				  spec);
	snprintf(pool, sizeof(pool), "%.*s", (int)(slash - spec), spec);
	snprintf(name, sizeof(name), "%s", slash + 1);

	fd = openat(repo->dirfd, id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to open revision '%s'", id);
	bk_quarantine_init(&q);
	snprintf(sums, sizeof(sums), "%s.sums", id);
	r = bk_manifest_open(&m, repo->dirfd, sums, err);
	if (r < 0)
		goto out;
	r = bk_rbd_connect(ceph_conf, ceph_id, pool, &cluster, &io, err);
	if (r < 0)
		goto out;
	/* a slot's buffer stays untouched until its write completed: librbd need not copy it */
	rados_conf_set(cluster, "rbd_disable_zero_copy_writes", "false");
	r = rbd_open(io, name, &img, NULL);
	if (r == -ENOENT) {
		r = rbd_create2(io, name, m.size, RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
					  RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF |
					  RBD_FEATURE_DEEP_FLATTEN, &order);
		if (r < 0) {
			bk_err_sys(err, r, "rbd: unable to create image '%s'", spec);
			goto out;
		}
		created = true;
		r = rbd_open(io, name, &img, NULL);
	}
	if (r < 0) {
		img = NULL;
		bk_err_sys(err, r, "rbd: unable to open image '%s'", spec);
		goto out;
	}
	r = rbd_get_size(img, &size);
	if (r < 0) {
		bk_err_sys(err, r, "rbd: unable to get the size of '%s'", spec);
		goto out;
	}
	if (size < m.size) {
		r = bk_err_set(err, BK_EUSAGE, "rbd image '%s' is smaller (%llu bytes) than revision '%s' (%llu bytes)",
			       spec, (unsigned long long)size, id, (unsigned long long)m.size);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	bk_progress_init(&prog, progress, "restore", m.size);
	for (uint64_t off = 0, n = 0; off < m.size; off += CHUNK, n++) {
		uint64_t len = m.size - off < CHUNK ? m.size - off : CHUNK;
		uint32_t count = (uint32_t)((len + m.block_size - 1) / m.block_size);
		struct wslot *s = &slots[n % QUEUE_DEPTH];
		bool hole = bk_image_hole(fd, off, len);
		size_t got;

		if (s->busy && (r = reap(s)) < 0) {
			bk_err_sys(err, r, "rbd: unable to write '%s'", spec);
			goto out;
		}
		if (!s->buf)
			s->buf = bk_malloc(CHUNK);
		r = bk_manifest_read(&m, off / m.block_size, count, dig);
		if (r < 0) {
			bk_err_sys(err, r, "unable to read the manifest of '%s'", id);
			goto out;
		}
		if (hole) {
			memset(s->buf, 0, (size_t)len);
		} else {
			r = bk_pread_full(fd, s->buf, (size_t)len, off, &got);
			if (r < 0 || got != len) {
				r = bk_err_sys(err, r < 0 ? r : -EIO, "unable to read revision '%s'", id);
				goto out;
			}
		}
		bk_check_chunk(&m, s->buf, hole, off, len, dig, &q);
		bk_progress_show(&prog, off + len, false);
		if (hole && created)
			continue;
		r = rbd_aio_create_completion(NULL, NULL, &s->c);
		if (r == 0)
			r = hole ? rbd_aio_write_zeroes(img, off, (size_t)len, s->c, 0, 0)
				 : rbd_aio_write2(img, off, (size_t)len, (const char *)s->buf, s->c,
						  LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL);
		if (r < 0) {
			bk_err_sys(err, r, "rbd: unable to write '%s'", spec);
			goto out;
		}
		s->off = off;
		s->busy = true;
	}
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		if (slots[i].busy && (r = reap(&slots[i])) < 0) {
			bk_err_sys(err, r, "rbd: unable to write '%s'", spec);
			goto out;
		}
	}
	r = rbd_flush(img);
	if (r < 0) {
		bk_err_sys(err, r, "rbd: unable to flush '%s'", spec);
		goto out;
	}
	bk_progress_show(&prog, m.size, true);
	if (q.count) {
		bk_error("revision '%s' is damaged:\n%s", id, q.text.p);
		r = bk_err_set(err, BK_EVERIFY,
			       "restore of '%s' finished, but %u blocks did not match their checksums (listed above)",
			       id, q.count);
	}
out:
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		if (slots[i].busy)
			reap(&slots[i]);
		free(slots[i].buf);
	}
	if (img)
		rbd_close(img);
	bk_rbd_disconnect(cluster, io);
	bk_manifest_close(&m);
	bk_quarantine_release(&q);
	if (fd >= 0)
		close(fd);
	return r;
}
