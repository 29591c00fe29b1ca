/*
 * source_rbd.c: Ceph RBD images through librbd, in process.
 *
 * Design notes:
 * 1. Every backup takes snapshot backy-<revision id> (through the Consul
 *    freeze protocol for flyingcircus sources with a VM) and reads only
 *    from it, so the data is stable for the backup and its verification.
 * 2. With a base revision whose snapshot still exists, rbd_diff_iterate2
 *    from backy-<base> marks the changed blocks: whole objects when the
 *    image has a valid fast-diff object map, exact extents without one.
 *    An object map flagged invalid is not trusted: the whole image is read
 *    and the engine compares digests instead.  So is a missing base
 *    snapshot.  Base snapshot and clone seed are the same revision by
 *    construction: the engine passes the one revision it cloned.
 *    Without a diff (a full backup, or no usable base snapshot) the same
 *    call from no snapshot lists the objects that hold data, from a valid
 *    fast-diff object map only: ranges never written are zeros that are not
 *    read (BK_READ_ALLOCATED), so a full backup costs the data, not the size.
 * 3. Reads run QUEUE_DEPTH chunks ahead with aio, so memory is bounded by
 *    QUEUE_DEPTH x BK_SOURCE_MAX_READ (32 MiB) whatever the image size.
 *    The engine gets each chunk in the buffer it was read into (no copy),
 *    which is read into again only after the engine's next read;
 *    verification reads run VERIFY_DEPTH deep within VERIFY_BYTES.  An
 *    incremental with a diff is verified alongside the copy, in a thread of
 *    the engine's (source_verify.h), so up to 48 MiB are in flight then;
 *    other backups are verified after the copy, whose buffers go after its
 *    last read (the last chunk's at finish).
 * 4. Snapshot removal is off the critical path: an incremental starts a
 *    thread that removes every backy-* snapshot but its base's and its own
 *    while it takes its snapshot (both are monitor commits, and they share a
 *    Paxos round) and copies; nothing is removed after the commit.  So
 *    between runs the newest revision's snapshot and, until the next
 *    incremental starts, its parent's exist.  The base is never removed, so a
 *    failed run or a failed removal never makes the next backup full; a
 *    snapshot left behind goes with the next incremental.  An abandoned
 *    backup removes its own snapshot.  Snapshots without the backy- prefix
 *    are never touched.  Every librbd error fails the backup.
 * 5. Two image handles: snapshots are created and removed through one at
 *    the head (rs->head, the reaper's too), and everything is read through
 *    a read-only one opened at the snapshot (rs->img).  So creation and
 *    removal share one acquisition of the exclusive lock (two writable
 *    handles would hand it to each other, and to the VM's, and librbd
 *    turns a failed handover into EROFS), and no snapshot is ever set on
 *    the handle a removal runs through (that drops the lock under it:
 *    EROFS, or a librbd assertion, seen in a stress test).
 */
#include "source.h"

#include "bitmap.h"
#include "clock.h"
#include "consul.h"
#include "id.h"
#include "log.h"
#include "rbd.h"
#include "rbd_map.h"

#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_DEPTH 8
#define VERIFY_DEPTH 32            /* reads in flight while verifying */
#define VERIFY_BYTES (16u << 20)    /* ... and bytes */
#define SNAP_PREFIX "backy-"

#define PIECES 16 /* reads per slot: the data extents of one chunk */

/* One chunk being read: N aio reads into BUF, WANT bytes in all. */
struct slot {
	rbd_completion_t c[PIECES];
	uint64_t piece_off[PIECES];
	size_t piece_len[PIECES];
	unsigned n;       /* pieces in flight */
	unsigned pieces;  /* pieces of the last read, kept after reap */
	unsigned char *buf;
	uint64_t off;
	size_t len;  /* of the range, BUF's valid part being the pieces */
	size_t want;
	bool busy;
};

struct rbd_source {
	rados_t cluster;
	rados_ioctx_t io;
	rbd_image_t head;       /* at the head: snapshots made and removed (note 5) */
	rbd_image_t img;        /* read-only, at the snapshot: everything read */
	char snap[BK_ID_MAX + 8];
	bool snap_created;
	struct bk_rbd_map map;  /* what to read; no bits: everything (note 2) */
	char base_snap[BK_ID_MAX + 8]; /* backy-<base>: the reaper keeps it */
	pthread_t reaper;       /* removing older backy-* snapshots (note 4) */
	bool reaping;
	uint64_t nblocks;
	struct slot slots[QUEUE_DEPTH];
	struct slot *held;      /* the chunk the engine has, until its next read */
	uint64_t ahead;         /* next offset to prefetch */
	size_t chunk;           /* the engine's read size, learnt from the first read */
};

static int rbd_fail(struct bk_err *err, int r, const struct bk_source *src, const char *what)
{
	return bk_err_sys(err, r, "rbd: unable to %s '%s'", what, bk_source_describe(src->cfg));
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int snap_exists(struct rbd_source *rs, const char *name, bool *exists)
{
	return rbd_snap_exists(rs->head, name, exists);
}

/*
 * Ask the hypervisor through Consul to freeze the guest and create the
 * snapshot; fall back to a direct (crash-consistent) snapshot on timeout.
 */
static int freeze_snapshot(struct bk_source *src, struct rbd_source *rs, struct bk_err *err)
{
	const struct bk_source_config *cfg = src->cfg;
	struct bk_consul c = {cfg->consul_url, cfg->consul_token, 10000};
	int64_t start = bk_monotonic();
	bool exists = false;
	char key[128] = "";
	double waited;
	int r, sr;

	r = bk_consul_request_snapshot(&c, cfg->spec.vm, rs->snap, key, sizeof(key), err);
	if (r < 0)
		return r;
	sleep_s(cfg->consul_initial_wait);
	for (;;) {
		r = snap_exists(rs, rs->snap, &exists);
		if (r < 0) {
			rbd_fail(err, r, src, "list snapshots of");
			break;
		}
		waited = (double)(bk_monotonic() - start) / BK_USEC;
		if (exists || waited >= cfg->consul_timeout)
			break;
		sleep_s(cfg->consul_poll_interval);
	}
	if (r == 0 && exists) {
		snprintf(src->consistency, sizeof(src->consistency), "frozen");
	} else if (r == 0) {
		bk_warn("hypervisor did not snapshot '%s' (vm '%s') within %gs: taking a crash-consistent snapshot",
			bk_source_describe(cfg), cfg->spec.vm, cfg->consul_timeout);
		r = rbd_snap_create(rs->head, rs->snap);
		if (r == -EEXIST) {
			/* the hypervisor answered late, after freezing: its snapshot stands */
			snprintf(src->consistency, sizeof(src->consistency), "frozen");
			r = 0;
		} else if (r < 0) {
			rbd_fail(err, r, src, "create a snapshot of");
		} else {
			snprintf(src->consistency, sizeof(src->consistency), "crash-consistent");
		}
	}
	rs->snap_created = r == 0;
	/* the request key must go whatever happened; stale ones of this VM too */
	sr = bk_consul_delete(&c, key, r < 0 ? NULL : err);
	if (sr == 0)
		sr = bk_consul_sweep(&c, cfg->spec.vm, r < 0 ? NULL : err);
	if (r == 0 && sr < 0)
		r = sr;
	return r;
}

/* Whether the image's object map and fast-diff are valid at the current snapshot. */
static int map_valid(struct rbd_source *rs, bool *valid)
{
	uint64_t features, flags;
	int r;

	r = rbd_get_features(rs->img, &features);
	if (r == 0)
		r = rbd_get_flags(rs->img, &flags);
	if (r < 0)
		return r;
	*valid = (features & RBD_FEATURE_FAST_DIFF) &&
		 !(flags & (RBD_FLAG_OBJECT_MAP_INVALID | RBD_FLAG_FAST_DIFF_INVALID));
	return 0;
}

/* rs->map from snapshot FROM (NULL: the blocks that hold data), timed for the debug log. */
static int diff_map(struct bk_source *src, struct rbd_source *rs, const char *from,
		    bool whole_object, struct bk_err *err)
{
	int64_t t = bk_monotonic();
	int r;

	r = bk_rbd_map_diff(&rs->map, rs->img, from, src->size, src->block_size, whole_object);
	if (r < 0)
		return rbd_fail(err, r, src, from ? "compute the changes of" : "list the data of");
	bk_debug("rbd: %s: %llu blocks in %.3f s", from ? "diff" : "allocation map",
		 (unsigned long long)bk_bits_count(rs->map.bits, rs->map.nblocks),
		 (double)(bk_monotonic() - t) / BK_USEC);
	return 0;
}

/* Mark the blocks changed since snapshot backy-BASE, or leave rs->map empty. */
static int compute_diff(struct bk_source *src, struct rbd_source *rs, const char *base,
			struct bk_err *err)
{
	char from[BK_ID_MAX + 8];
	bool exists = false, valid_from = false, valid_to = false;
	int r;

	snprintf(from, sizeof(from), SNAP_PREFIX "%s", base);
	r = snap_exists(rs, from, &exists);
	if (r < 0)
		return rbd_fail(err, r, src, "list snapshots of");
	if (!exists) {
		bk_warn("snapshot '%s' of '%s' is gone: reading the whole image", from,
			bk_source_describe(src->cfg));
		return 0;
	}
	r = rbd_snap_set(rs->img, from);
	if (r == 0)
		r = map_valid(rs, &valid_from);
	if (r == 0)
		r = rbd_snap_set(rs->img, rs->snap);
	if (r == 0)
		r = map_valid(rs, &valid_to);
	if (r < 0)
		return rbd_fail(err, r, src, "inspect");
	if (!valid_from || !valid_to) {
		uint64_t features = 0;

		rbd_get_features(rs->img, &features);
		if (features & RBD_FEATURE_FAST_DIFF) {
			bk_warn("object map of '%s' is flagged invalid: reading the whole image",
				bk_source_describe(src->cfg));
			return 0;
		}
	}
	return diff_map(src, rs, from, valid_from && valid_to, err);
}

/*
 * Without a diff from a base: mark the blocks that hold data, so that
 * never-written ranges are not read (a full backup of a thin image costs
 * its data, not its size).  Only with a valid fast-diff object map, which
 * says which objects exist without touching them (a listing without it
 * asks every object: 36 s for a 1 TiB image); the existing ones are then
 * narrowed to their extents.  Otherwise everything is read.
 */
static int alloc_map(struct bk_source *src, struct rbd_source *rs, struct bk_err *err)
{
	bool valid = false;
	int64_t t;
	int r;

	r = map_valid(rs, &valid);
	if (r < 0)
		return rbd_fail(err, r, src, "inspect");
	if (!valid)
		return 0;
	r = diff_map(src, rs, NULL, true, err);
	if (r < 0)
		return r;
	t = bk_monotonic();
	r = bk_rbd_map_refine(&rs->map, rs->img);
	if (r < 0)
		return rbd_fail(err, r, src, "list the data of");
	bk_debug("rbd: extents: %llu blocks in %.3f s",
		 (unsigned long long)bk_bits_count(rs->map.bits, rs->map.nblocks),
		 (double)(bk_monotonic() - t) / BK_USEC);
	return 0;
}

/* Set KEY to VALUE unless ceph.conf or CEPH_ARGS changed it from DEFAULT_S. */
static void bound_timeout(rados_t cluster, const char *key, double default_s, const char *value)
{
	char cur[64];

	if (rados_conf_get(cluster, key, cur, sizeof(cur)) == 0 && strtod(cur, NULL) != default_s)
		return;
	rados_conf_set(cluster, key, value);
}

int bk_rbd_connect(const char *ceph_conf, const char *ceph_id, const char *pool,
		   rados_t *cluster, rados_ioctx_t *io, struct bk_err *err)
{
	int r;

	*cluster = NULL;
	*io = NULL;
	r = rados_create(cluster, ceph_id);
	if (r < 0) {
		*cluster = NULL;
		return bk_err_sys(err, r, "rados: unable to create a client for id '%s'",
				  ceph_id ? ceph_id : "admin");
	}
	r = rados_conf_read_file(*cluster, ceph_conf);
	if (r < 0) {
		bk_err_sys(err, r, "rados: unable to read ceph config '%s'",
			   ceph_conf ? ceph_conf : "(default)");
		goto fail;
	}
	rados_conf_parse_env(*cluster, NULL);
	/*
	 * Bounded waits for an unreachable cluster.  rados_conf_set overrides
	 * ceph.conf and CEPH_ARGS, so only values still at Ceph's defaults
	 * (300 s, 0 = forever, 0) are replaced: the others were chosen.
	 */
	bound_timeout(*cluster, "client_mount_timeout", 300, "30");
	bound_timeout(*cluster, "rados_mon_op_timeout", 0, "60");
	bound_timeout(*cluster, "rados_osd_op_timeout", 0, "120");
	r = rados_connect(*cluster);
	if (r < 0) {
		bk_err_sys(err, r, "rados: unable to connect to the Ceph cluster");
		goto fail;
	}
	r = rados_ioctx_create(*cluster, pool, io);
	if (r < 0) {
		*io = NULL;
		bk_err_sys(err, r, "rados: unable to open pool '%s'", pool);
		goto fail;
	}
	return 0;
fail:
	rados_shutdown(*cluster);
	*cluster = NULL;
	return r;
}

void bk_rbd_disconnect(rados_t cluster, rados_ioctx_t io)
{
	if (io)
		rados_ioctx_destroy(io);
	if (cluster)
		rados_shutdown(cluster);
}

static void rbd_close_source(struct bk_source *src);
static void start_reaper(struct bk_source *src, struct rbd_source *rs, const char *base);
static void join_reaper(struct rbd_source *rs);

static int rbd_open_source(struct bk_source *src, const struct bk_source_config *cfg,
			   const char *id, const char *base, bool *use_base, struct bk_err *err)
{
	struct rbd_source *rs = calloc(1, sizeof(*rs));
	int64_t t;
	int r;

	if (!rs)
		return bk_err_set(err, -ENOMEM, "out of memory");
	src->priv = rs;
	snprintf(rs->snap, sizeof(rs->snap), SNAP_PREFIX "%s", id);
	r = bk_rbd_connect(cfg->ceph_conf, cfg->ceph_id, cfg->spec.pool, &rs->cluster, &rs->io, err);
	if (r < 0)
		goto fail;
	r = rbd_open(rs->io, cfg->spec.image, &rs->head, NULL);
	if (r < 0) {
		rs->head = NULL;
		if (r == -ENOENT)
			bk_err_set(err, BK_ESOURCE, "rbd: image '%s' does not exist",
				   bk_source_describe(cfg));
		else
			rbd_fail(err, r, src, "open");
		goto fail;
	}
	if (base && *use_base)
		start_reaper(src, rs, base); /* overlaps with taking the snapshot */
	t = bk_monotonic();
	if (cfg->spec.type == BK_SOURCE_FLYINGCIRCUS && cfg->spec.vm[0] && cfg->consul_token &&
	    cfg->consul_token[0]) {
		r = freeze_snapshot(src, rs, err);
	} else {
		r = rbd_snap_create(rs->head, rs->snap);
		if (r < 0)
			rbd_fail(err, r, src, "create a snapshot of");
		rs->snap_created = r == 0;
		snprintf(src->consistency, sizeof(src->consistency), "crash-consistent");
	}
	if (r < 0)
		goto fail;
	bk_debug("rbd: snapshot '%s' taken in %.3f s", rs->snap, (double)(bk_monotonic() - t) / BK_USEC);
	r = rbd_open_read_only(rs->io, cfg->spec.image, &rs->img, rs->snap);
	if (r < 0)
		rs->img = NULL;
	else
		r = rbd_get_size(rs->img, &src->size);
	if (r < 0) {
		rbd_fail(err, r, src, "read the snapshot of");
		goto fail;
	}
	if (base && *use_base) {
		r = compute_diff(src, rs, base, err);
		if (r < 0)
			goto fail;
	}
	if (!rs->map.bits) {
		r = alloc_map(src, rs, err);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	join_reaper(rs);
	if (rs->head && rs->snap_created)
		rbd_snap_remove(rs->head, rs->snap);
	rbd_close_source(src);
	return r;
}

/* Add a read of LEN bytes at OFF into S->buf + (OFF - S->off). */
static int add_piece(struct rbd_source *rs, struct slot *s, uint64_t off, size_t len, int flags)
{
	rbd_completion_t c;
	int r;

	r = rbd_aio_create_completion(NULL, NULL, &c);
	if (r < 0)
		return r;
	r = rbd_aio_read2(rs->img, off, len, (char *)s->buf + (off - s->off), c, flags);
	if (r < 0) {
		rbd_aio_release(c);
		return r;
	}
	s->c[s->n] = c;
	s->piece_off[s->n] = off;
	s->piece_len[s->n++] = len;
	s->pieces = s->n;
	s->want += len;
	s->busy = true;
	return 0;
}

static ssize_t reap(struct slot *s);

/* Make S read the range OFF, LEN (its buffer BUFSIZE bytes, made on first use). */
static int begin(struct slot *s, uint64_t off, size_t len, size_t bufsize)
{
	if (!s->buf) {
		s->buf = malloc(bufsize);
		if (!s->buf)
			return -ENOMEM;
	}
	s->off = off;
	s->len = len;
	s->want = 0;
	s->n = 0;
	return 0;
}

/* Start reading LEN bytes at OFF into slot S in one piece. */
static int issue(struct rbd_source *rs, struct slot *s, uint64_t off, size_t len, size_t bufsize,
		 int flags)
{
	int r = begin(s, off, len, bufsize);

	return r < 0 ? r : add_piece(rs, s, off, len, flags);
}

/*
 * Start reading the marked blocks of OFF, LEN into slot S, one piece per
 * run of them (one piece for all when there are more runs than PIECES).
 */
static int issue_marked(struct bk_source *src, struct rbd_source *rs, struct slot *s,
			uint64_t off, size_t len, int flags)
{
	uint32_t bs = src->block_size;
	uint64_t first = off / bs, end = (off + len + bs - 1) / bs, runs = 0;
	int r = begin(s, off, len, BK_SOURCE_MAX_READ);

	for (uint64_t b = first; b < end; b++)
		runs += bk_bit(rs->map.bits, b) && (b == first || !bk_bit(rs->map.bits, b - 1));
	if (r < 0 || runs > PIECES)
		return r < 0 ? r : add_piece(rs, s, off, len, flags);
	for (uint64_t b = first; b < end && r == 0; b++) {
		uint64_t e = b, poff, pend;

		if (!bk_bit(rs->map.bits, b))
			continue;
		while (e < end && bk_bit(rs->map.bits, e))
			e++;
		poff = b * bs;
		pend = e * bs < off + len ? e * bs : off + len;
		r = add_piece(rs, s, poff, (size_t)(pend - poff), flags);
		b = e;
	}
	if (r < 0 && s->busy)
		reap(s);
	return r;
}

/*
 * Wait for slot S; returns the bytes read (S->want when complete) or the
 * first negative error, and frees the slot.
 */
static ssize_t reap(struct slot *s)
{
	ssize_t r = 0;

	for (unsigned i = 0; i < s->n; i++) {
		ssize_t got;

		rbd_aio_wait_for_complete(s->c[i]);
		got = rbd_aio_get_return_value(s->c[i]);
		rbd_aio_release(s->c[i]);
		if (r >= 0 && got < 0)
			r = got;
		else if (r >= 0)
			r += (size_t)got == s->piece_len[i] ? got : 0;
	}
	s->n = 0;
	s->busy = false;
	return r;
}

static struct slot *find_slot(struct rbd_source *rs, uint64_t off, bool busy)
{
	for (int i = 0; i < QUEUE_DEPTH; i++)
		if (rs->slots[i].busy == busy && &rs->slots[i] != rs->held &&
		    (!busy || rs->slots[i].off == off))
			return &rs->slots[i];
	return NULL;
}

/* Keep the queue full with the next chunks that will need data. */
static int prefetch(struct bk_source *src, struct rbd_source *rs)
{
	struct slot *s;
	int r;

	while (rs->ahead < src->size && (s = find_slot(rs, 0, false))) {
		size_t len = src->size - rs->ahead < rs->chunk ? (size_t)(src->size - rs->ahead)
							       : rs->chunk;

		int flags = LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL | LIBRADOS_OP_FLAG_FADVISE_NOCACHE;

		/* a full backup reads only the extents that hold data (note 2) */
		if (rs->map.bits && rs->map.allocated)
			r = bk_rbd_map_any(&rs->map, rs->ahead, len)
				    ? issue_marked(src, rs, s, rs->ahead, len, flags)
				    : 0;
		else if (!rs->map.bits || bk_rbd_map_any(&rs->map, rs->ahead, len))
			r = issue(rs, s, rs->ahead, len, BK_SOURCE_MAX_READ, flags);
		else
			r = 0;
		if (r < 0)
			return r;
		rs->ahead += len;
	}
	return 0;
}

static int read_chunk(struct bk_source *src, unsigned char **data, uint64_t off, size_t len,
		      bool may_skip, enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	struct rbd_source *rs = src->priv;
	struct slot *s;
	ssize_t got;
	int r;

	rs->held = NULL; /* the engine is done with the chunk before */
	if (!rs->chunk)
		rs->chunk = len;
	*what = BK_READ_DATA;
	if (rs->map.bits && (may_skip || rs->map.allocated)) {
		if (!bk_rbd_map_any(&rs->map, off, len)) {
			memset(mask, 0, (len / src->block_size + 8) / 8);
			*what = rs->map.allocated ? BK_READ_ALLOCATED : BK_READ_UNCHANGED;
			return prefetch(src, rs) < 0 ? rbd_fail(err, -EIO, src, "read") : 0;
		}
		*what = rs->map.allocated ? BK_READ_ALLOCATED : BK_READ_MASK;
		memset(mask, 0, (len / src->block_size + 8) / 8);
		for (uint64_t i = 0; i * src->block_size < len; i++) {
			uint64_t b = off / src->block_size + i;

			if (bk_bit(rs->map.bits, b))
				bk_bit_set(mask, i);
		}
	}
	if (rs->ahead < off)
		rs->ahead = off;
	r = prefetch(src, rs);
	if (r < 0)
		return rbd_fail(err, r, src, "read");
	s = find_slot(rs, off, true);
	if (!s) {
		/* not prefetched: a range the diff did not predict the engine needs */
		got = rbd_read2(rs->img, off, len, (char *)*data, LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL);
		if (got >= 0 && (size_t)got == len)
			return 0;
		return got < 0 ? rbd_fail(err, (int)got, src, "read")
			       : bk_err_set(err, BK_ESOURCE, "rbd: short read of '%s' at %llu",
					    bk_source_describe(src->cfg), (unsigned long long)off);
	}
	r = prefetch(src, rs);
	if (r < 0)
		return rbd_fail(err, r, src, "read");
	got = reap(s);
	if (got < 0)
		return rbd_fail(err, (int)got, src, "read");
	if ((size_t)got != s->want)
		return bk_err_set(err, BK_ESOURCE, "rbd: short read of '%s' at %llu: %zd of %zu bytes",
				  bk_source_describe(src->cfg), (unsigned long long)off, got, s->want);
	rs->held = s; /* the engine reads its buffer: not reused until the next read */
	*data = s->buf;
	return 0;
}

/* Free the copy's read-ahead buffers, all but the one the engine holds. */
static void release_copy_slots(struct rbd_source *rs)
{
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		if (&rs->slots[i] == rs->held)
			continue;
		if (rs->slots[i].busy)
			reap(&rs->slots[i]);
		free(rs->slots[i].buf);
		rs->slots[i].buf = NULL;
	}
}

/* The read op: a chunk; after the last one the read-ahead buffers go (note 3). */
static int rbd_source_read(struct bk_source *src, unsigned char **data, uint64_t off, size_t len,
			   bool may_skip, enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	int r = read_chunk(src, data, off, len, may_skip, what, mask, err);

	if (off + len >= src->size)
		release_copy_slots(src->priv);
	return r;
}

/* The changes op: the diff of an incremental, known since open. */
static const unsigned char *rbd_changes(struct bk_source *src)
{
	struct rbd_source *rs = src->priv;

	return rs->map.allocated ? NULL : rs->map.bits;
}

/*
 * The verification pipeline: up to VERIFY_DEPTH reads and VERIFY_BYTES in
 * flight, reaped in the order they were issued (a ring), each handed to
 * io->check.  Slot buffers grow to the largest read they carried.
 */
static int rbd_verify_read(struct bk_source *src, const struct bk_verify_io *io,
			   struct bk_err *err)
{
	struct rbd_source *rs = src->priv;
	struct slot ring[VERIFY_DEPTH] = {0};
	size_t cap[VERIFY_DEPTH] = {0}, inflight = 0;
	unsigned head = 0, busy = 0;
	bool more = true, have = false;
	uint64_t off = 0;
	size_t len = 0;
	int r = 0;

	while (r == 0 && (more || busy)) {
		while (r == 0 && more && busy < VERIFY_DEPTH) {
			unsigned i = (head + busy) % VERIFY_DEPTH;

			if (!have) {
				int n = io->next(io->arg, &off, &len);

				if (n <= 0) {
					r = n;
					more = false;
					break;
				}
				have = true;
			}
			if (busy && inflight + len > VERIFY_BYTES)
				break;
			if (cap[i] < len) {
				free(ring[i].buf);
				ring[i].buf = NULL;
				cap[i] = len;
			}
			r = issue(rs, &ring[i], off, len, cap[i],
				  LIBRADOS_OP_FLAG_FADVISE_RANDOM | LIBRADOS_OP_FLAG_FADVISE_NOCACHE);
			if (r < 0) {
				rbd_fail(err, r, src, "read back");
				break;
			}
			have = false;
			inflight += len;
			busy++;
		}
		if (r == 0 && busy) {
			struct slot *s = &ring[head];
			ssize_t got = reap(s);

			head = (head + 1) % VERIFY_DEPTH;
			busy--;
			inflight -= s->len;
			if (got < 0)
				r = rbd_fail(err, (int)got, src, "read back");
			else if ((size_t)got != s->len)
				r = bk_err_set(err, BK_ESOURCE, "rbd: short read of '%s' at %llu",
					       bk_source_describe(src->cfg), (unsigned long long)s->off);
			else
				r = io->check(io->arg, s->off, s->len, s->buf, err);
		}
	}
	for (; busy; busy--, head = (head + 1) % VERIFY_DEPTH)
		reap(&ring[head]);
	for (unsigned i = 0; i < VERIFY_DEPTH; i++)
		free(ring[i].buf);
	return r;
}

/*
 * Remove backy-* snapshots: with ONLY that one, else all but KEEP_A and
 * KEEP_B (either may be NULL); never others.  Failures are warnings: a
 * snapshot left behind is removed by a later run.
 */
static void remove_snapshots(struct bk_source *src, rbd_image_t img, const char *keep_a,
			     const char *keep_b, const char *only)
{
	rbd_snap_info_t *snaps = NULL;
	int max = 16, n;
	int64_t t;

	for (;;) {
		snaps = realloc(snaps, (size_t)max * sizeof(*snaps));
		if (!snaps)
			return;
		n = rbd_snap_list(img, snaps, &max);
		if (n != -ERANGE)
			break;
	}
	for (int i = 0; i < n; i++) {
		const char *name = snaps[i].name;
		int r;

		if (strncmp(name, SNAP_PREFIX, strlen(SNAP_PREFIX)) != 0)
			continue;
		if (only ? strcmp(name, only) != 0
			 : (keep_a && !strcmp(name, keep_a)) || (keep_b && !strcmp(name, keep_b)))
			continue;
		t = bk_monotonic();
		r = rbd_snap_remove(img, name);
		if (r < 0)
			bk_warn("rbd: unable to remove snapshot '%s' of '%s': %s", name,
				bk_source_describe(src->cfg), bk_strerror(r));
		else
			bk_debug("rbd: snapshot '%s' removed in %.3f s", name,
				 (double)(bk_monotonic() - t) / BK_USEC);
	}
	if (n >= 0)
		rbd_snap_list_end(snaps);
	free(snaps);
}

/* The snapshot reaper's thread: every backy-* but the base's and our own (note 5). */
static void *reap_snapshots(void *arg)
{
	struct bk_source *src = arg;
	struct rbd_source *rs = src->priv;

	remove_snapshots(src, rs->head, rs->base_snap, rs->snap, NULL);
	return NULL;
}

/* Start the reaper (design note 4); without a thread the snapshots wait for the next run. */
static void start_reaper(struct bk_source *src, struct rbd_source *rs, const char *base)
{
	snprintf(rs->base_snap, sizeof(rs->base_snap), SNAP_PREFIX "%s", base);
	rs->reaping = pthread_create(&rs->reaper, NULL, reap_snapshots, src) == 0;
}

static void join_reaper(struct rbd_source *rs)
{
	if (rs->reaping)
		pthread_join(rs->reaper, NULL);
	rs->reaping = false;
}

static void rbd_finish(struct bk_source *src, bool committed)
{
	struct rbd_source *rs = src->priv;

	if (!rs || !rs->img)
		return;
	join_reaper(rs);
	rs->held = NULL;
	release_copy_slots(rs);
	if (!committed && rs->snap_created)
		remove_snapshots(src, rs->head, NULL, NULL, rs->snap);
}

static void rbd_close_source(struct bk_source *src)
{
	struct rbd_source *rs = src->priv;

	if (!rs)
		return;
	join_reaper(rs);
	rs->held = NULL;
	release_copy_slots(rs);
	if (rs->img)
		rbd_close(rs->img);
	if (rs->head)
		rbd_close(rs->head);
	bk_rbd_disconnect(rs->cluster, rs->io);
	bk_rbd_map_release(&rs->map);
	free(rs);
	src->priv = NULL;
}

const struct bk_source_ops bk_source_rbd_ops = {
	.open = rbd_open_source,
	.read = rbd_source_read,
	.changes = rbd_changes,
	.verify_read = rbd_verify_read,
	.finish = rbd_finish,
	.close = rbd_close_source,
};
