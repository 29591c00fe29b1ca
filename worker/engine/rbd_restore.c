/*
 * rbd_restore.c: write a revision into an RBD image.
 *
 * The image is created at the revision's size if it does not exist; an
 * existing image must be at least that large.  The revision is read by the
 * one reader of revisions (check.h, bk_rev_read: every block checked against
 * the manifest as it is read); this file is its sink: chunks are written with
 * QUEUE_DEPTH aio writes in flight.  Holes are skipped on a new image (it
 * reads as zeros) and written as zeroes on an existing one, so no stale
 * data survives.
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

/* One aio write in flight: its buffer stays untouched until it completed. */
struct wslot {
	rbd_completion_t c;
	unsigned char *buf;
	bool busy;
};

/* Where a restore into RBD writes (a struct bk_rev_sink). */
struct rbd_target {
	rbd_image_t img;
	const char *spec;
	bool created; /* a new image reads as zeros: holes need no write */
	struct wslot slots[QUEUE_DEPTH];
	uint64_t n;   /* chunks handed out */
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

/* The next slot's buffer, once its earlier write completed. */
static unsigned char *rbd_buffer(void *arg, uint64_t off, struct bk_err *err)
{
	struct rbd_target *t = arg;
	struct wslot *s = &t->slots[t->n % QUEUE_DEPTH];
	int r;

	(void)off;
	if (s->busy && (r = reap(s)) < 0) {
		bk_err_sys(err, r, "rbd: unable to write '%s'", t->spec);
		return NULL;
	}
	if (!s->buf)
		s->buf = bk_malloc(BK_REV_CHUNK);
	return s->buf;
}

static int rbd_put(void *arg, uint64_t off, uint64_t len, unsigned char *buf, bool hole,
		   struct bk_err *err)
{
	struct rbd_target *t = arg;
	struct wslot *s = &t->slots[t->n++ % QUEUE_DEPTH];
	int r;

	if (hole && t->created)
		return 0;
	r = rbd_aio_create_completion(NULL, NULL, &s->c);
	if (r == 0)
		r = hole ? rbd_aio_write_zeroes(t->img, off, (size_t)len, s->c, 0, 0)
			 : rbd_aio_write2(t->img, off, (size_t)len, (const char *)buf, s->c,
					  LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL);
	if (r < 0)
		return bk_err_sys(err, r, "rbd: unable to write '%s'", t->spec);
	s->busy = true;
	return 0;
}

int bk_restore_rbd(struct bk_repo *repo, size_t idx, const char *spec, const char *ceph_conf,
		   const char *ceph_id, bool progress, struct bk_err *err)
{
	const char *id = repo->revs[idx].id;
	struct rbd_target t = {.spec = spec};
	struct bk_rev_sink sink = {rbd_buffer, rbd_put, &t};
	struct bk_manifest m = {.fd = -1};
	char pool[129], name[129];
	rados_t cluster = NULL;
	rados_ioctx_t io = NULL;
	struct bk_quarantine q;
	struct bk_progress prog;
	uint64_t size = 0;
	const char *slash = strchr(spec, '/');
	int fd = -1, r, order = 22;

	if (!slash || slash == spec || !slash[1] || (size_t)(slash - spec) >= sizeof(pool) ||
	    strlen(slash + 1) >= sizeof(name))
		return bk_err_set(err, BK_EUSAGE, "invalid RBD target 'rbd:%s': expected rbd:POOL/IMAGE",
				  spec);
	snprintf(pool, sizeof(pool), "%.*s", (int)(slash - spec), spec);
	snprintf(name, sizeof(name), "%s", slash + 1);

	bk_quarantine_init(&q);
	r = bk_rev_open(repo, idx, &fd, &m, err);
	if (r < 0)
		goto out;
	r = bk_rbd_connect(ceph_conf, ceph_id, pool, &cluster, &io, err);
	if (r < 0)
		goto out;
	/*
	 * A slot's buffer stays untouched until its write completed: librbd need
	 * not copy it.  Its cache would (an enabled writearound cache turns zero
	 * copy off), and whole-object writes gain nothing from it.
	 */
	rados_conf_set(cluster, "rbd_disable_zero_copy_writes", "false");
	rados_conf_set(cluster, "rbd_cache", "false");
	r = rbd_open(io, name, &t.img, NULL);
	if (r == -ENOENT) {
		r = rbd_create2(io, name, m.size, RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
					  RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF |
					  RBD_FEATURE_DEEP_FLATTEN, &order);
		if (r < 0) {
			bk_err_sys(err, r, "rbd: unable to create image '%s'", spec);
			goto out;
		}
		t.created = true;
		r = rbd_open(io, name, &t.img, NULL);
	}
	if (r < 0) {
		t.img = NULL;
		bk_err_sys(err, r, "rbd: unable to open image '%s'", spec);
		goto out;
	}
	r = rbd_get_size(t.img, &size);
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
	r = bk_rev_read(fd, &m, id, true, &prog, &sink, &q, err);
	if (r < 0)
		goto out;
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		if (t.slots[i].busy && (r = reap(&t.slots[i])) < 0) {
			bk_err_sys(err, r, "rbd: unable to write '%s'", spec);
			goto out;
		}
	}
	r = rbd_flush(t.img);
	if (r < 0) {
		bk_err_sys(err, r, "rbd: unable to flush '%s'", spec);
		goto out;
	}
	r = bk_restore_verdict(id, &q, err);
out:
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		if (t.slots[i].busy)
			reap(&t.slots[i]);
		free(t.slots[i].buf);
	}
	if (t.img)
		rbd_close(t.img);
	bk_rbd_disconnect(cluster, io);
	bk_manifest_close(&m);
	bk_quarantine_release(&q);
	if (fd >= 0)
		close(fd);
	return r;
}
