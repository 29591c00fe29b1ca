/*
 * engine.c: the data path: backup into a reflinked clone, and verify (restore
 * to a file is restore.c).
 *
 * Design notes:
 * 1. All I/O uses explicit offsets in CHUNK-sized, block-aligned pieces, so
 *    memory stays bounded (one chunk buffer, one chunk of digests and a
 *    bitmap of one bit per block) whatever the image size.
 * 2. A backup decides per block by digest alone: same digest as the
 *    parent's manifest -> keep the cloned extent; otherwise write it, or
 *    punch a hole if it is all zeros.  The parent image itself is never read
 *    for that decision.
 * 3. Nothing becomes a revision before it is fsynced and checked (store.h,
 *    design note 1); every failure path removes the .new-* files.  The
 *    image's fdatasync runs in a thread while the written blocks are read
 *    back against the sealed manifest (from the page cache either way), so
 *    the disk's flush and the hashing overlap; the manifest is synced and
 *    read back from the disk after that (bk_manifest_confirm).
 * 4. A chain of incrementals fragments the image: every changed block that
 *    lies between cloned ones is an extent of its own, and cloning a file
 *    costs per extent (about 12 us on XFS).  A chunk a backup writes into
 *    whose clone maps to more than COALESCE_EXTENTS extents (FIEMAP, what
 *    earlier backups wrote) is rewritten whole (its non-zero blocks; the
 *    unchanged ones of a diff read from the clone), so a revision keeps
 *    about that many extents per chunk plus one day's changes, however long
 *    the chain, for the space of the rewritten blocks, which no longer share
 *    with the parent (bench/chain.sh measures both).
 */
#include "engine.h"

#include "bitmap.h"
#include "check.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"
#include "source_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK BK_SOURCE_MAX_READ
#define WRITEBACK_WINDOW (64u << 20)
#define SAMPLE_BLOCKS 16
#define COALESCE_EXTENTS 16 /* per CHUNK: extents of 256 KiB on average (note 4) */

static double secs(int64_t usec)
{
	return (double)usec / BK_USEC;
}

/* --- quarantine reports -------------------------------------------------- */

/* Write quarantine/<id>-<time>.yaml; the report is kept after the revision goes. */
static int quarantine_write(struct bk_repo *repo, const char *id, const char *reason,
			    struct bk_quarantine *q, char *name, size_t namesize)
{
	char when[64];
	struct bk_buf doc;
	int qfd, r;

	if (mkdirat(repo->dirfd, "quarantine", 0750) < 0 && errno != EEXIST)
		return -errno;
	qfd = openat(repo->dirfd, "quarantine", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0)
		return -errno;
	bk_time_format(bk_now(), when, sizeof(when), BK_TIME_ISO);
	snprintf(name, namesize, "%s-%.19s.yaml", id, when);
	bk_buf_init(&doc);
	bk_buf_addf(&doc, "revision: %s\ntime: %s\nreason: %s\nmismatches: %u\nblocks:\n", id,
		    when, reason, q->count);
	bk_quarantine_format(q, &doc);
	r = bk_fs_write_atomic(qfd, name, doc.p, doc.len, 0640);
	bk_buf_release(&doc);
	close(qfd);
	return r;
}

/* --- backup -------------------------------------------------------------- */

/*
 * Whether the newest revision P may serve as a trusted parent: no revision
 * since the last full backup before it (or since the start) is distrusted.
 * A revision adopted from Python backy starts a chain too: its manifest was
 * made from its image when it was adopted (store.h, cfg.adopted).
 */
static bool parent_trusted(const struct bk_repo *repo, long p)
{
	long full = 0;

	for (long i = p; i >= 0; i--) {
		const struct bk_rev *rev = &repo->revs[i];

		if (rev->complete && (!rev->parent[0] || rev->timestamp <= repo->cfg.adopted)) {
			full = i;
			break;
		}
	}
	for (size_t i = (size_t)full; i < repo->n; i++)
		if (repo->revs[i].trust == BK_TRUST_DISTRUSTED)
			return false;
	return true;
}

struct backup {
	struct bk_repo *repo;
	struct bk_source src;
	uint32_t bs;
	uint64_t nblocks;
	char id[BK_ID_SHORT_LEN + 1];
	char img_name[BK_ID_MAX + 16], sums_name[BK_ID_MAX + 16];
	int dst;
	bool cloned;             /* dst starts as a copy of the parent */
	uint64_t sample[SAMPLE_BLOCKS]; /* cloned blocks check_written reads back */
	unsigned nsample;
	struct bk_manifest parent;
	struct bk_manifest sums;
	unsigned char *written;  /* bitmap: block written by this run */
	unsigned char *recopied; /* bitmap: written with data read from the clone (note 4) */
	unsigned char *fresh;    /* ... with content its parent's block did not have */
	unsigned char *buf;      /* CHUNK bytes: the source may read into it; read back */
	unsigned char *data;     /* the chunk the source answered with (bk_source_ops.read) */
	unsigned char mask[BK_SOURCE_MAX_READ / BK_MANIFEST_MIN_BLOCK / 8];
	unsigned char *zeros;    /* one block of zeros, and its digest */
	struct bk_digest zero_digest;
	struct bk_digest *pdig;
	uint64_t bytes_written;
	uint64_t wb_start, wb_prev;
	struct bk_source_verify verify;      /* against the source, when it has verify_read */
	struct bk_source_verify_task *vtask; /* ... started before the copy */
};

/* Reflink the parent image into dst, or copy it where reflinks are unsupported. */
static int seed_from_parent(struct backup *b, const char *pid, struct bk_err *err)
{
	static bool warned;
	struct stat st;
	bool copied = false;
	int pfd, r;

	pfd = openat(b->repo->dirfd, pid, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return bk_err_sys(err, -errno, "unable to open parent revision '%s'", pid);
	r = fstat(pfd, &st) < 0 ? -errno
				: bk_fs_clone_or_copy(pfd, b->dst, (uint64_t)st.st_size, &copied);
	if (copied && !warned) {
		bk_warn("'%s' does not support reflinks: falling back to a full copy of each revision (use btrfs or XFS with reflink=1)",
			b->repo->path);
		warned = true;
	}
	close(pfd);
	if (r < 0)
		return bk_err_sys(err, r, "unable to clone parent revision '%s'", pid);
	return 0;
}

/* Keep dirty pages bounded: start writeback of each window, wait for the one before. */
static void writeback(struct backup *b, uint64_t end)
{
	if (end - b->wb_start < WRITEBACK_WINDOW)
		return;
	sync_file_range(b->dst, (off_t)b->wb_start, (off_t)(end - b->wb_start), SYNC_FILE_RANGE_WRITE);
	if (b->wb_start > b->wb_prev)
		sync_file_range(b->dst, (off_t)b->wb_prev, (off_t)(b->wb_start - b->wb_prev),
				SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					SYNC_FILE_RANGE_WAIT_AFTER);
	b->wb_prev = b->wb_start;
	b->wb_start = end;
}

/* Apply a run of blocks [FIRST, END) of the current chunk: write data or punch zeros. */
static int flush_run(struct backup *b, uint64_t chunk_off, uint64_t len, long first, long end,
		     bool punch, struct bk_err *err)
{
	uint64_t off, n;
	int r;

	if (first < 0 || end <= first)
		return 0;
	off = (uint64_t)first * b->bs;
	n = (uint64_t)end * b->bs < len ? (uint64_t)(end - first) * b->bs : len - off;
	if (punch)
		r = bk_fs_punch(b->dst, chunk_off + off, n);
	else
		r = bk_pwrite_full(b->dst, b->data + off, (size_t)n, chunk_off + off);
	if (r < 0)
		return bk_err_sys(err, r, "unable to write '%s/%s'", b->repo->path, b->img_name);
	if (!punch)
		b->bytes_written += n;
	return 0;
}

/*
 * Rewrite the chunk at OFF (LEN bytes, blocks FIRST .. FIRST+COUNT, in
 * b->data as the source answered WHAT) whole when this run wrote into it and
 * it has become fragmented (design note 4): every non-zero block, the
 * unchanged ones of a BK_READ_MASK answer read from the clone itself.  The
 * rewritten blocks count as written: check_written reads them back.
 */
static int coalesce(struct backup *b, uint64_t off, uint64_t len, uint64_t first, uint32_t count,
		    enum bk_read what, struct bk_err *err)
{
	long run = -1;
	int r;

	if (!b->cloned || !bk_bits_any(b->written, first, count))
		return 0;
	r = bk_fs_extents(b->dst, off, len, COALESCE_EXTENTS + 1);
	if (r <= COALESCE_EXTENTS)
		return 0; /* also where FIEMAP is not supported: nothing to gain there */
	for (uint32_t i = 0; i <= count; i++) {
		uint64_t boff = (uint64_t)i * b->bs, start, end;
		bool data = false;

		if (i < count) {
			uint64_t blen = len - boff < b->bs ? len - boff : b->bs;
			bool in_mask = bk_bit(b->mask, i);

			if (what == BK_READ_MASK && !in_mask) {
				size_t got;

				r = bk_pread_full(b->dst, b->data + boff, (size_t)blen, off + boff, &got);
				if (r < 0 || got != blen)
					return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read '%s'",
							  b->img_name);
				bk_bit_set(b->recopied, first + i);
			}
			/* a hole the source did not read is zeros (the data does not hold them) */
			data = !(what == BK_READ_ALLOCATED && !in_mask) &&
			       !bk_is_zero(b->data + boff, (size_t)blen);
		}
		if (data && run < 0)
			run = i;
		if (data || run < 0)
			continue;
		start = (uint64_t)run * b->bs;
		end = boff < len ? boff : len;
		for (uint64_t j = first + (uint64_t)run; j < first + i; j++) {
			if (!bk_bit(b->written, j))
				b->bytes_written += b->src.size - j * b->bs < b->bs
							    ? b->src.size - j * b->bs
							    : b->bs;
			bk_bit_set(b->written, j);
		}
		r = bk_pwrite_full(b->dst, b->data + start, (size_t)(end - start), off + start);
		if (r < 0)
			return bk_err_sys(err, r, "unable to write '%s/%s'", b->repo->path, b->img_name);
		run = -1;
	}
	return 0;
}

/*
 * Whether the base's digests describe the chunk [OFF, OFF+LEN) of the new
 * image block for block: every block lies within the base image and has the
 * same length in both (only the last block of an image can be short).
 */
static bool covered(const struct backup *b, uint64_t off, uint64_t len)
{
	if ((off + len) % b->bs == 0)
		return off + len <= b->parent.size;
	return b->src.size == b->parent.size;
}

static int copy_source(struct backup *b, bool use_parent, bool progress, struct bk_err *err)
{
	uint64_t size = b->src.size;
	struct bk_progress prog;
	int r;

	bk_progress_init(&prog, progress, "backup", size);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		uint64_t len = size - off < CHUNK ? size - off : CHUNK;
		uint64_t first = off / b->bs;
		uint32_t count = (uint32_t)((len + b->bs - 1) / b->bs), pcount = 0;
		long run = -1;
		bool run_punch = false;
		enum bk_read what;

		b->data = b->buf;
		r = b->src.ops->read(&b->src, &b->data, off, (size_t)len,
				     use_parent && covered(b, off, len), &what, b->mask, err);
		if (r < 0)
			return r;
		/* the parent's digests, to compare data and changed blocks with (the new
		 * manifest is its clone) */
		if (what != BK_READ_UNCHANGED && use_parent && first < b->parent.nblocks) {
			pcount = b->parent.nblocks - first < count ? (uint32_t)(b->parent.nblocks - first)
								   : count;
			r = bk_manifest_read(&b->parent, first, pcount, b->pdig, err);
			if (r < 0)
				return r;
		}
		if (what == BK_READ_UNCHANGED) {
			r = bk_manifest_skip(&b->sums, count, err);
			if (r < 0)
				return r;
			count = 0;
		}
		for (uint32_t i = 0; i < count; i++) {
			uint64_t boff = (uint64_t)i * b->bs;
			uint64_t blen = len - boff < b->bs ? len - boff : b->bs;
			struct bk_digest d;
			bool same, zero, punch;

			bool in_mask = bk_bit(b->mask, i);
			/* never written in the source: zeros that were not read */
			bool hole = what == BK_READ_ALLOCATED && !in_mask;

			if (what == BK_READ_MASK && !in_mask) {
				/* unchanged: ends a run (the data need not hold it) */
				r = flush_run(b, off, len, run, i, run_punch, err);
				if (r == 0)
					r = bk_manifest_skip(&b->sums, 1, err);
				if (r < 0)
					return r;
				run = -1;
				continue;
			}
			if (hole && blen == b->bs)
				d = b->zero_digest;
			else
				bk_hash(hole ? b->zeros : b->data + boff, (size_t)blen, &d);
			/*
			 * The parent has this content already (a whole-object diff names
			 * every block of a changed object, most of them unchanged): the
			 * clone keeps it shared, as for a block a data read found equal.
			 */
			same = i < pcount && first + i < b->sums.keep && bk_digest_equal(&d, &b->pdig[i]);
			r = same ? bk_manifest_skip(&b->sums, 1, err) : bk_manifest_put(&b->sums, &d, err);
			if (r < 0)
				return r;
			zero = !same && (hole || bk_is_zero(b->data + boff, (size_t)blen));
			/* a zero block only needs a hole punched where cloned data lies */
			punch = zero && b->cloned && first + i < b->parent.nblocks;
			if (same || (zero && !punch)) {
				r = flush_run(b, off, len, run, i, run_punch, err);
				if (r < 0)
					return r;
				run = -1;
				continue;
			}
			if (run >= 0 && run_punch != punch) {
				r = flush_run(b, off, len, run, i, run_punch, err);
				if (r < 0)
					return r;
				run = -1;
			}
			if (run < 0) {
				run = i;
				run_punch = punch;
			}
			if (!punch)
				bk_bit_set(b->written, first + i);
			/* what the source comparison must see: content the parent did not have */
			if (!punch && !(i < pcount && bk_digest_equal(&d, &b->pdig[i])))
				bk_bit_set(b->fresh, first + i);
		}
		r = flush_run(b, off, len, run, count, run_punch, err);
		if (r == 0)
			r = coalesce(b, off, len, first, count, what, err);
		if (r < 0)
			return r;
		if (b->vtask)
			bk_source_verify_copied(b->vtask, first + count);
		writeback(b, off + len);
		bk_progress_show(&prog, off + len, false);
	}
	bk_progress_show(&prog, size, true);
	return 0;
}

/*
 * Draw the cloned blocks check_written samples, sorted, and have the kernel
 * read them ahead while the copy runs: a clone has a page cache of its own,
 * so they are cold, and one synchronous read after another adds up.
 */
static void draw_sample(struct backup *b)
{
	uint64_t seed = bk_hash64(b->id, strlen(b->id)) | 1;

	for (; b->cloned && b->nblocks && b->nsample < SAMPLE_BLOCKS; b->nsample++) {
		unsigned j = b->nsample;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		for (; j > 0 && b->sample[j - 1] > seed % b->nblocks; j--)
			b->sample[j] = b->sample[j - 1];
		b->sample[j] = seed % b->nblocks;
	}
	for (unsigned i = 0; i < b->nsample; i++)
		posix_fadvise(b->dst, (off_t)(b->sample[i] * b->bs), b->bs, POSIX_FADV_WILLNEED);
}

/*
 * Read back every written block and a sample of the cloned ones and compare
 * them with the new manifest.  A mismatch in a cloned block means the parent
 * itself is damaged: *PARENT_BAD tells the caller to distrust it.  Only the
 * manifest segments of those blocks are read (manifest.h).
 */
static int check_written(struct backup *b, struct bk_quarantine *q, bool *parent_bad,
			 struct bk_err *err)
{
	const uint64_t *sample = b->sample;
	uint32_t per_chunk = CHUNK / b->bs;
	unsigned nsample = b->nsample, s = 0;
	int r;

	for (uint64_t first = 0; first < b->nblocks; first += per_chunk) {
		uint32_t count = b->nblocks - first < per_chunk ? (uint32_t)(b->nblocks - first)
								: per_chunk;

		while (s < nsample && sample[s] < first)
			s++;
		if (!bk_bits_any(b->written, first, count) &&
		    !(s < nsample && sample[s] < first + count))
			continue;
		r = bk_manifest_read(&b->sums, first, count, b->pdig, err);
		if (r < 0)
			return r;
		for (uint32_t i = 0; i < count; i++) {
			uint64_t blk = first + i, off = blk * b->bs;
			uint64_t blen = b->src.size - off < b->bs ? b->src.size - off : b->bs;
			bool sampled = false;
			struct bk_digest d;
			size_t got;

			while (s < nsample && sample[s] == blk) {
				sampled = !bk_bit(b->written, blk);
				s++;
			}
			if (!bk_bit(b->written, blk) && !sampled)
				continue;
			r = bk_pread_full(b->dst, b->buf, (size_t)blen, off, &got);
			if (r < 0 || got != blen)
				return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read back '%s'",
						  b->img_name);
			bk_hash(b->buf, (size_t)blen, &d);
			if (!bk_digest_equal(&d, &b->pdig[i])) {
				bk_quarantine_add(q, off, blen, &b->pdig[i], &d);
				/* cloned data that does not match: the parent is damaged */
				*parent_bad |= sampled || bk_bit(b->recopied, blk);
			}
		}
	}
	return 0;
}

static void backup_release(struct backup *b, bool keep)
{
	bk_source_verify_abandon(b->vtask);
	bk_source_close(&b->src, keep);
	if (b->dst >= 0)
		close(b->dst);
	bk_manifest_close(&b->parent);
	bk_manifest_close(&b->sums);
	if (!keep) {
		unlinkat(b->repo->dirfd, b->img_name, 0);
		unlinkat(b->repo->dirfd, b->sums_name, 0);
	}
	free(b->written);
	free(b->recopied);
	free(b->fresh);
	free(b->zeros);
	free(b->buf);
	free(b->pdig);
}

/*
 * A segment of the parent's manifest did not match its seal (in the parent
 * or in the clone taken from it): the parent is damaged, so it is
 * distrusted and the next backup is full.  ERR keeps the finding.
 */
static int distrust_parent(struct bk_repo *repo, long p, struct bk_err *err)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	repo->revs[p].trust = BK_TRUST_DISTRUSTED;
	bk_repo_save_rev(repo, &repo->revs[p], NULL);
	bk_err_clear(err);
	return bk_err_set(err, BK_ECORRUPT, "%s: parent revision '%s' distrusted, the next backup is full",
			  msg, repo->revs[p].id);
}

int bk_backup(struct bk_repo *repo, const struct bk_strv *tags, bool progress,
	      struct bk_backup_stats *stats, struct bk_err *err)
{
	struct backup b = {.repo = repo, .dst = -1};
	int64_t t0 = bk_monotonic(), now = bk_now();
	int64_t t_parent = t0, t_src = t0, t_open = t0, t_copy = t0, t_data = t0, t_sync = t0;
	int64_t t_check = t0, t_wait = t0, t_verify = t0, t_commit;
	uint64_t segs, nsegs;
	struct bk_quarantine q;
	struct bk_fs_sync data_sync;
	char name[BK_ID_MAX + 8];
	struct bk_rev rev;
	bool use_parent = false, parent_bad = false, committed = false;
	long p = -1;
	int r, sr;

	bk_quarantine_init(&q);
	bk_rev_init(&rev);
	b.parent.fd = -1;
	b.sums.fd = -1;
	memset(stats, 0, sizeof(*stats));

	r = bk_repo_cleanup(repo, err);
	if (r < 0)
		goto out;
	bk_id_new(b.id);
	snprintf(b.img_name, sizeof(b.img_name), ".new-%s", b.id);
	snprintf(b.sums_name, sizeof(b.sums_name), ".new-%s.sums", b.id);
	b.bs = repo->cfg.block_size;

	p = bk_repo_newest(repo);
	if (p >= 0 && parent_trusted(repo, p)) {
		struct bk_err perr = {0};

		snprintf(name, sizeof(name), "%s.sums", repo->revs[p].id);
		if (bk_manifest_open(&b.parent, repo->dirfd, name, &perr) < 0)
			bk_warn("%s: writing a full backup", perr.msg);
		else if (b.parent.block_size != b.bs)
			bk_warn("block size changed from %u to %u: writing a full backup",
				b.parent.block_size, b.bs);
		else
			use_parent = true;
	} else if (p >= 0) {
		bk_notice("a revision since the last full backup is distrusted: writing a full backup");
	}
	t_parent = bk_monotonic();
	r = bk_source_open(&b.src, &repo->cfg.source, b.bs, b.id,
			   use_parent ? repo->revs[p].id : NULL, &use_parent, err);
	if (r < 0)
		goto out;
	if (!use_parent)
		bk_manifest_close(&b.parent);
	b.nblocks = (b.src.size + b.bs - 1) / b.bs;
	t_src = bk_monotonic();

	b.dst = openat(repo->dirfd, b.img_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (b.dst < 0) {
		r = bk_err_sys(err, -errno, "unable to create '%s/%s'", repo->path, b.img_name);
		goto out;
	}
	if (use_parent) {
		r = seed_from_parent(&b, repo->revs[p].id, err);
		if (r < 0)
			goto out;
		b.cloned = true;
	}
	if (ftruncate(b.dst, (off_t)b.src.size) < 0) {
		r = bk_err_sys(err, -errno, "unable to size '%s/%s'", repo->path, b.img_name);
		goto out;
	}
	if (use_parent)
		r = bk_manifest_clone(&b.sums, repo->dirfd, b.sums_name, &b.parent, b.src.size, err);
	else
		r = bk_manifest_create(&b.sums, repo->dirfd, b.sums_name, b.bs, b.src.size, err);
	if (r < 0)
		goto out;
	b.written = bk_calloc((size_t)(b.nblocks + 7) / 8, 1);
	b.recopied = bk_calloc((size_t)(b.nblocks + 7) / 8, 1);
	b.fresh = bk_calloc((size_t)(b.nblocks + 7) / 8, 1);
	b.buf = bk_malloc(CHUNK);
	b.pdig = bk_malloc((CHUNK / BK_MANIFEST_MIN_BLOCK) * sizeof(*b.pdig));
	b.zeros = bk_calloc(b.bs, 1);
	bk_hash(b.zeros, b.bs, &b.zero_digest);
	draw_sample(&b);
	if (b.src.ops->verify_read) {
		b.verify = (struct bk_source_verify){
			&b.src, b.dst, b.img_name, b.bs, b.src.size, b.written, b.fresh,
			b.cloned && b.src.ops->changes ? b.src.ops->changes(&b.src) : NULL, b.cloned,
			bk_hash64(b.id, strlen(b.id))};
		b.vtask = bk_source_verify_start(&b.verify);
	}

	t_open = bk_monotonic();
	r = copy_source(&b, use_parent, progress, err);
	if (r < 0)
		goto out;
	t_copy = bk_monotonic();
	/* the image is synced while the written blocks are read back (note 3) */
	r = bk_manifest_seal(&b.sums, err);
	if (r < 0)
		goto out;
	bk_fs_sync_start(&data_sync, b.dst);
	t_sync = bk_monotonic();
	r = check_written(&b, &q, &parent_bad, err);
	t_check = bk_monotonic();
	sr = bk_fs_sync_wait(&data_sync);
	t_wait = bk_monotonic();
	if (r == 0 && sr < 0)
		r = bk_err_sys(err, sr, "unable to sync '%s/%s'", repo->path, b.img_name);
	if (r == 0)
		r = bk_manifest_confirm(&b.sums, err);
	t_data = bk_monotonic();
	if (r == 0 && b.vtask) {
		struct bk_source_verify_result vr;

		r = bk_source_verify_finish(b.vtask, &q, &vr, err);
		b.vtask = NULL;
		stats->verify_planned = vr.planned;
		stats->verify_checked = vr.checked;
		parent_bad |= vr.parent_bad;
	}
	if (r < 0)
		goto out;
	t_verify = bk_monotonic();
	if (q.count) {
		char report[128] = "";

		quarantine_write(repo, b.id, "backup read-back", &q, report, sizeof(report));
		if (parent_bad) {
			repo->revs[p].trust = BK_TRUST_DISTRUSTED;
			bk_repo_save_rev(repo, &repo->revs[p], NULL);
		}
		r = bk_err_set(err, BK_EVERIFY,
			       "backup verification failed: %u blocks differ from the source%s (report: '%s/quarantine/%s')",
			       q.count, parent_bad ? ", parent revision distrusted" : "", repo->path,
			       report);
		goto out;
	}

	/* commit: image and manifest into place, then the .rev (store.h, note 1) */
	if (fchmod(b.dst, 0440) < 0 || fchmod(b.sums.fd, 0440) < 0 ||
	    renameat(repo->dirfd, b.img_name, repo->dirfd, b.id) < 0) {
		r = bk_err_sys(err, -errno, "unable to commit revision '%s'", b.id);
		goto out;
	}
	snprintf(b.img_name, sizeof(b.img_name), "%s", b.id);
	snprintf(name, sizeof(name), "%s.sums", b.id);
	if (renameat(repo->dirfd, b.sums_name, repo->dirfd, name) < 0) {
		r = bk_err_sys(err, -errno, "unable to commit revision '%s'", b.id);
		goto out;
	}
	snprintf(b.sums_name, sizeof(b.sums_name), "%s", name);
	snprintf(rev.id, sizeof(rev.id), "%s", b.id);
	if (use_parent)
		snprintf(rev.parent, sizeof(rev.parent), "%s", repo->revs[p].id);
	rev.timestamp = now;
	if (p >= 0 && rev.timestamp <= repo->revs[p].timestamp)
		rev.timestamp = repo->revs[p].timestamp + 1; /* keep history strictly ordered */
	bk_strv_copy(&rev.tags, tags);
	rev.trust = BK_TRUST_TRUSTED;
	rev.complete = true;
	rev.bytes_written = b.bytes_written;
	rev.size = b.src.size;
	snprintf(rev.consistency, sizeof(rev.consistency), "%s", b.src.consistency);
	rev.duration = (double)(bk_monotonic() - t0) / BK_USEC;
	r = bk_repo_save_rev(repo, &rev, err);
	if (r < 0)
		goto out;
	committed = true;
	bk_repo_add_rev(repo, &rev);
	r = bk_repo_update_latest(repo, err);

	snprintf(stats->id, sizeof(stats->id), "%s", b.id);
	stats->full = !use_parent;
	stats->size = b.src.size;
	stats->bytes_read = b.src.size;
	stats->bytes_written = b.bytes_written;
	stats->duration = rev.duration;
out:
	if (r == BK_ECORRUPT && use_parent && !committed)
		r = distrust_parent(repo, p, err);
	t_commit = bk_monotonic();
	segs = b.sums.stat_segments;
	nsegs = b.sums.nsegs;
	backup_release(&b, committed);
	if (committed)
		bk_debug("backup phases: parent manifest %.3f s, open source %.3f s, clone parent %.3f s, copy %.3f s, sync %.3f s, read-back %.3f s, verify against source %.3f s, commit %.3f s, close source %.3f s; of the sync: manifest %.3f s (%llu of %llu segments written)",
			 secs(t_parent - t0), secs(t_src - t_parent), secs(t_open - t_src),
			 secs(t_copy - t_open), secs(t_sync - t_copy + t_data - t_check),
			 secs(t_check - t_sync), secs(t_verify - t_data), secs(t_commit - t_verify),
			 secs(bk_monotonic() - t_commit), secs(t_sync - t_copy + t_data - t_wait),
			 (unsigned long long)segs, (unsigned long long)nsegs);
	bk_quarantine_release(&q);
	bk_rev_release(&rev);
	return r;
}

/* --- verify ---------------------------------------------------------------- */

/* verify only checks what it reads (a struct bk_rev_sink that keeps nothing) */
static unsigned char *verify_buffer(void *arg, uint64_t off, struct bk_err *err)
{
	(void)off;
	(void)err;
	return arg;
}

static int verify_put(void *arg, uint64_t off, uint64_t len, unsigned char *buf, bool hole,
		      struct bk_err *err)
{
	(void)arg;
	(void)off;
	(void)len;
	(void)buf;
	(void)hole;
	(void)err;
	return 0;
}

int bk_verify(struct bk_repo *repo, size_t idx, bool progress, struct bk_err *err)
{
	struct bk_rev *rev = &repo->revs[idx];
	struct bk_manifest m = {.fd = -1};
	unsigned char *buf = NULL;
	struct bk_err verr = {0};
	struct bk_progress prog;
	struct bk_quarantine q;
	char report[128] = "";
	int fd = -1, r;

	bk_quarantine_init(&q);
	r = bk_rev_open(repo, idx, &fd, &m, &verr);
	if (r == BK_ECORRUPT) {
		/* a damaged manifest or a wrong size is a finding, not an I/O failure */
		snprintf(q.note, sizeof(q.note), "%s", verr.msg);
		q.count = 1;
	} else if (r < 0) {
		bk_err_set(err, r, "%s", verr.msg);
		goto done;
	} else {
		struct bk_rev_sink sink = {verify_buffer, verify_put, NULL};

		/* drop cached pages so the check reads what is on the disk */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		buf = bk_malloc(BK_REV_CHUNK);
		sink.arg = buf;
		bk_progress_init(&prog, progress, "verify", m.size);
		r = bk_rev_read(fd, &m, rev->id, false, &prog, &sink, &q, err);
		if (r < 0)
			goto done;
	}
	if (q.count) {
		r = quarantine_write(repo, rev->id, "verify", &q, report, sizeof(report));
		if (r < 0)
			bk_warn("unable to write a quarantine report for '%s': %s", rev->id,
				bk_strerror(r));
		rev->trust = BK_TRUST_DISTRUSTED;
	} else {
		rev->trust = BK_TRUST_VERIFIED;
		rev->verified_at = bk_now();
	}
	r = bk_repo_save_rev(repo, rev, err);
	if (r < 0)
		goto done;
	if (q.count)
		r = bk_err_set(err, BK_EVERIFY,
			       "revision '%s' is damaged: %u blocks differ from its manifest; marked distrusted (report: '%s/quarantine/%s')",
			       rev->id, q.count, repo->path, report);
done:
	if (fd >= 0)
		close(fd);
	bk_manifest_close(&m);
	bk_quarantine_release(&q);
	free(buf);
	return r;
}
