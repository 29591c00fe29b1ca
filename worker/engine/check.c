/* check.c: reading a revision and checking it against its manifest (see check.h). */
#include "check.h"

#include "fs.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void bk_quarantine_init(struct bk_quarantine *q)
{
	memset(q, 0, sizeof(*q));
}

void bk_quarantine_release(struct bk_quarantine *q)
{
	free(q->list);
	bk_quarantine_init(q);
}

void bk_quarantine_add(struct bk_quarantine *q, uint64_t off, uint64_t len,
		       const struct bk_digest *expected, const struct bk_digest *actual)
{
	q->count++;
	if (q->listed >= BK_QUARANTINE_MAX)
		return;
	if (!q->list)
		q->list = bk_malloc(BK_QUARANTINE_MAX * sizeof(*q->list));
	q->list[q->listed++] = (struct bk_mismatch){off, len, *expected, *actual};
}

/* Whether one of the first N blocks Q lists is the one at OFF. */
static bool listed(const struct bk_quarantine *q, unsigned n, uint64_t off)
{
	for (unsigned i = 0; i < n; i++)
		if (q->list[i].off == off)
			return true;
	return false;
}

void bk_quarantine_merge(struct bk_quarantine *q, const struct bk_quarantine *from)
{
	unsigned mine = q->listed; /* a check finds a block once: only Q's own can repeat it */

	for (unsigned i = 0; i < from->listed; i++) {
		const struct bk_mismatch *m = &from->list[i];

		if (!listed(q, mine, m->off))
			bk_quarantine_add(q, m->off, m->len, &m->expected, &m->actual);
	}
	q->count += from->count - from->listed;
}

void bk_quarantine_format(const struct bk_quarantine *q, struct bk_buf *out)
{
	if (q->note[0])
		bk_buf_addf(out, "# %s\n", q->note);
	for (unsigned i = 0; i < q->listed; i++) {
		const struct bk_mismatch *m = &q->list[i];
		char e[2 * BK_DIGEST_LEN + 1], a[2 * BK_DIGEST_LEN + 1];

		bk_digest_hex(&m->expected, e);
		bk_digest_hex(&m->actual, a);
		bk_buf_addf(out, "- offset: %llu\n  length: %llu\n  expected: '%s'\n  actual: '%s'\n",
			    (unsigned long long)m->off, (unsigned long long)m->len, e, a);
	}
}

void bk_check_chunk(const struct bk_manifest *m, const unsigned char *buf, bool hole,
		    uint64_t off, uint64_t len, const struct bk_digest *dig,
		    struct bk_quarantine *q)
{
	static const unsigned char zeros[BK_MANIFEST_MAX_BLOCK];
	uint32_t count = (uint32_t)((len + m->block_size - 1) / m->block_size);

	for (uint32_t i = 0; i < count; i++) {
		uint64_t boff = (uint64_t)i * m->block_size;
		uint64_t blen = len - boff < m->block_size ? len - boff : m->block_size;
		struct bk_digest d;

		bk_hash(hole ? zeros : buf + boff, (size_t)blen, &d);
		if (!bk_digest_equal(&d, &dig[i]))
			bk_quarantine_add(q, off + boff, blen, &dig[i], &d);
	}
}

bool bk_image_hole(int fd, uint64_t off, uint64_t len)
{
	off_t data = lseek(fd, (off_t)off, SEEK_DATA);

	return (data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len);
}

int bk_rev_open(struct bk_repo *repo, size_t idx, int *fd, struct bk_manifest *m,
		struct bk_err *err)
{
	const struct bk_rev *rev = &repo->revs[idx];
	char name[BK_ID_MAX + 8];
	struct stat st;
	int r;

	*fd = openat(repo->dirfd, rev->id, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return bk_err_sys(err, -errno, "unable to open revision '%s'", rev->id);
	snprintf(name, sizeof(name), "%s.sums", rev->id);
	r = bk_manifest_open(m, repo->dirfd, name, err);
	if (r == 0)
		r = bk_manifest_check(m, err);
	if (r < 0)
		goto fail;
	if (fstat(*fd, &st) < 0) {
		r = bk_err_sys(err, -errno, "unable to stat revision '%s'", rev->id);
		goto fail;
	}
	if ((uint64_t)st.st_size != m->size || (rev->size && rev->size != m->size)) {
		r = bk_err_set(err, BK_ECORRUPT,
			       "revision '%s' is damaged: image is %llu bytes, manifest says %llu",
			       rev->id, (unsigned long long)st.st_size, (unsigned long long)m->size);
		goto fail;
	}
	return 0;
fail:
	close(*fd);
	*fd = -1;
	bk_manifest_close(m);
	return r;
}

int bk_rev_read(int fd, struct bk_manifest *m, const char *id, bool find_holes,
		struct bk_progress *prog, const struct bk_rev_sink *sink, struct bk_quarantine *q,
		struct bk_err *err)
{
	struct bk_digest dig[BK_REV_CHUNK / BK_MANIFEST_MIN_BLOCK];
	int r = 0;

	for (uint64_t off = 0; off < m->size; off += BK_REV_CHUNK) {
		uint64_t len = m->size - off < BK_REV_CHUNK ? m->size - off : BK_REV_CHUNK;
		uint32_t count = (uint32_t)((len + m->block_size - 1) / m->block_size);
		bool hole = find_holes && bk_image_hole(fd, off, len);
		unsigned char *buf = sink->buffer(sink->arg, off, err);
		size_t got = 0;

		if (!buf)
			return err->code;
		r = bk_manifest_read(m, off / m->block_size, count, dig, err);
		if (r < 0)
			return r;
		if (hole) {
			memset(buf, 0, (size_t)len);
		} else {
			r = bk_pread_full(fd, buf, (size_t)len, off, &got);
			if (r < 0 || got != len)
				return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read revision '%s'",
						  id);
		}
		bk_check_chunk(m, buf, hole, off, len, dig, q);
		r = sink->put(sink->arg, off, len, buf, hole, err);
		if (r < 0)
			return r;
		if (prog)
			bk_progress_show(prog, off + len, false);
	}
	if (prog)
		bk_progress_show(prog, m->size, true);
	return 0;
}

int bk_restore_verdict(const char *id, const struct bk_quarantine *q, struct bk_err *err)
{
	struct bk_buf text;

	if (!q->count)
		return 0;
	bk_buf_init(&text);
	bk_quarantine_format(q, &text);
	bk_error("revision '%s' is damaged:\n%s", id, text.p);
	bk_buf_release(&text);
	return bk_err_set(err, BK_EVERIFY,
			  "restore of '%s' finished, but %u blocks did not match their checksums (listed above)",
			  id, q->count);
}
