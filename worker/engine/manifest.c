/*
 * manifest.c: block checksum manifests, versions 1 and 2 (see manifest.h
 * for the layouts).
 *
 * Design notes (version 2):
 * 1. A digest is handed out only from M->seg, after the segment it belongs
 *    to was read whole and matched its seal; the seal came from a table
 *    whose own seal matched at open.  Nothing else is trusted.
 * 2. A writer moves a cursor forward over the blocks (put or skip), so at
 *    most one segment is in memory.  Entering a segment that held the base's
 *    digests checks them against the base's seal first: a damaged base
 *    segment is reported, never resealed with its damage.
 * 3. Only what was put is written (runs of consecutive digests), so the
 *    rest of a cloned manifest keeps sharing the base's extents.
 */
#include "manifest.h"

#include "bitmap.h"
#include "buf.h"
#include "fs.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define V1_HEADER 32
#define HDR BK_MANIFEST_DIGESTS
#define SEG BK_MANIFEST_SEGMENT
#define DL BK_DIGEST_LEN
#define MAX_BLOCKS ((uint64_t)1 << 40)
#define NONE UINT64_MAX

static const char magic1[8] = {'B', 'K', 'Y', 'S', 'U', 'M', 'S', '1'};
static const char magic2[8] = {'B', 'K', 'Y', 'S', 'U', 'M', 'S', '2'};

int bk_manifest_check_block_size(uint64_t block_size)
{
	if (block_size < BK_MANIFEST_MIN_BLOCK || block_size > BK_MANIFEST_MAX_BLOCK ||
	    (block_size & (block_size - 1)))
		return BK_ECONFIG;
	return 0;
}

/* --- layout -------------------------------------------------------------- */

static uint64_t nsegs_of(uint64_t nblocks)
{
	return (nblocks + SEG - 1) / SEG;
}

/* Digests in segment K of a manifest of NBLOCKS blocks (0 past its end). */
static uint32_t seg_len(uint64_t nblocks, uint64_t k)
{
	uint64_t first = k * SEG;

	if (first >= nblocks)
		return 0;
	return nblocks - first < SEG ? (uint32_t)(nblocks - first) : SEG;
}

static uint64_t table_off(uint64_t nblocks)
{
	return HDR + nblocks * DL;
}

static uint64_t file_len(uint64_t nblocks)
{
	return table_off(nblocks) + nsegs_of(nblocks) * DL + DL;
}

/* Length of block I of an image of SIZE bytes. */
static uint64_t block_len(uint64_t size, uint32_t bs, uint64_t i)
{
	return size - i * bs < bs ? size - i * bs : bs;
}

static void seal_of(const void *data, size_t len, uint64_t seed, struct bk_digest *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_withSeed(data, len, seed));
	memcpy(out->b, c.digest, DL);
}

static void encode_header(unsigned char *h, uint32_t block_size, uint64_t size, uint64_t n)
{
	uint32_t bs = htole32(block_size), per = htole32(SEG);
	uint64_t sz = htole64(size), nb = htole64(n);

	memset(h, 0, HDR);
	memcpy(h, magic2, 8);
	memcpy(h + 8, &bs, 4);
	memcpy(h + 12, &per, 4);
	memcpy(h + 16, &sz, 8);
	memcpy(h + 24, &nb, 8);
}

/* The fields of a 32-byte header (both versions) in host order. */
static void decode_header(const unsigned char *h, uint32_t *bs, uint32_t *per, uint64_t *size,
			  uint64_t *nb)
{
	memcpy(bs, h + 8, 4);
	memcpy(per, h + 12, 4);
	memcpy(size, h + 16, 8);
	memcpy(nb, h + 24, 8);
	*bs = le32toh(*bs);
	*per = le32toh(*per);
	*size = le64toh(*size);
	*nb = le64toh(*nb);
}

static bool sizes_ok(uint32_t bs, uint64_t size, uint64_t nb)
{
	return bk_manifest_check_block_size(bs) == 0 && nb == (size + bs - 1) / bs &&
	       nb <= MAX_BLOCKS;
}

static int corrupt(struct bk_err *err, const char *name, const char *why)
{
	return bk_err_set(err, BK_ECORRUPT, "manifest '%s' is corrupt (%s)", name, why);
}

/* --- segments ------------------------------------------------------------ */

/*
 * Read the N digests of segment K into M->seg and check them against SEAL
 * (the seal of manifest NAME, for messages).  M->loaded is K on success.
 */
static int load_segment(struct bk_manifest *m, uint64_t k, uint32_t n, const struct bk_digest *seal,
			const char *name, struct bk_err *err)
{
	struct bk_digest d;
	size_t got;
	int r;

	m->loaded = NONE;
	if (!m->seg)
		m->seg = bk_malloc((size_t)SEG * DL);
	r = bk_pread_full(m->fd, m->seg, (size_t)n * DL, HDR + k * SEG * DL, &got);
	if (r < 0 || got != (size_t)n * DL)
		return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read manifest '%s'", name);
	seal_of(m->seg, (size_t)n * DL, k, &d);
	if (!bk_digest_equal(&d, seal)) {
		char why[64];

		snprintf(why, sizeof(why), "segment %llu seal mismatch", (unsigned long long)k);
		return corrupt(err, name, why);
	}
	m->loaded = k;
	return 0;
}

/* --- reading ------------------------------------------------------------- */

void bk_manifest_close(struct bk_manifest *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->ht);
	free(m->seg);
	free(m->resealed);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->loaded = NONE;
}

static void init(struct bk_manifest *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->loaded = NONE;
	snprintf(m->name, sizeof(m->name), "%s", name);
}

/* Version 1: check the seal over everything (the whole file). */
static int open_v1(struct bk_manifest *m, const unsigned char *h, uint64_t flen, struct bk_err *err)
{
	unsigned char seal[DL], buf[64 << 10];
	XXH3_state_t *st = NULL;
	XXH128_canonical_t c;
	uint32_t bs, zero;
	uint64_t sz, nb, off, end;
	size_t got;
	int r = 0;

	decode_header(h, &bs, &zero, &sz, &nb);
	if (!sizes_ok(bs, sz, nb) || flen != V1_HEADER + nb * DL + DL)
		return corrupt(err, m->name, "bad header or length");
	st = XXH3_createState();
	if (!st)
		return bk_err_sys(err, -ENOMEM, "unable to check manifest '%s'", m->name);
	XXH3_128bits_reset(st);
	end = V1_HEADER + nb * DL;
	for (off = 0; off < end; off += got) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);

		r = bk_pread_full(m->fd, buf, want, off, &got);
		if (r < 0 || got != want) {
			r = bk_err_sys(err, r < 0 ? r : -EIO, "unable to read manifest '%s'",
				       m->name);
			goto out;
		}
		XXH3_128bits_update(st, buf, got);
	}
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	r = bk_pread_full(m->fd, seal, sizeof(seal), end, &got);
	if (r < 0 || got != sizeof(seal) || memcmp(seal, c.digest, sizeof(seal)) != 0) {
		r = corrupt(err, m->name, "seal mismatch");
		goto out;
	}
	m->version = 1;
	m->block_size = bs;
	m->size = sz;
	m->nblocks = nb;
out:
	XXH3_freeState(st);
	return r;
}

/* Version 2: header block, length, segment table and its seal. */
static int open_v2(struct bk_manifest *m, uint64_t flen, struct bk_err *err)
{
	struct bk_digest seal, want;
	uint32_t bs, per;
	uint64_t sz, nb, tlen;
	size_t got;
	int r;

	m->ht = bk_malloc(HDR);
	r = bk_pread_full(m->fd, m->ht, HDR, 0, &got);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read manifest '%s'", m->name);
	if (got != HDR)
		return corrupt(err, m->name, "bad header or length");
	decode_header(m->ht, &bs, &per, &sz, &nb);
	if (!sizes_ok(bs, sz, nb) || per != SEG || flen != file_len(nb))
		return corrupt(err, m->name, "bad header or length");
	for (size_t i = 32; i < HDR; i++)
		if (m->ht[i])
			return corrupt(err, m->name, "bad header or length");
	m->nsegs = nsegs_of(nb);
	tlen = m->nsegs * DL;
	m->ht = bk_realloc(m->ht, HDR + tlen);
	r = bk_pread_full(m->fd, m->ht + HDR, (size_t)tlen, table_off(nb), &got);
	if (r == 0 && got == tlen)
		r = bk_pread_full(m->fd, seal.b, DL, table_off(nb) + tlen, &got);
	if (r < 0 || got != DL)
		return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read manifest '%s'", m->name);
	seal_of(m->ht, HDR + tlen, 0, &want);
	if (!bk_digest_equal(&seal, &want))
		return corrupt(err, m->name, "table seal mismatch");
	m->table = (struct bk_digest *)(m->ht + HDR);
	m->version = 2;
	m->block_size = bs;
	m->size = sz;
	m->nblocks = nb;
	return 0;
}

int bk_manifest_open(struct bk_manifest *m, int dirfd, const char *name, struct bk_err *err)
{
	unsigned char h[V1_HEADER];
	struct stat sb;
	size_t got;
	int r;

	init(m, name);
	m->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		r = bk_err_sys(err, -errno, "unable to open manifest '%s'", name);
		goto fail;
	}
	if (fstat(m->fd, &sb) < 0) {
		r = bk_err_sys(err, -errno, "unable to stat manifest '%s'", name);
		goto fail;
	}
	r = bk_pread_full(m->fd, h, V1_HEADER, 0, &got);
	if (r < 0) {
		r = bk_err_sys(err, r, "unable to read manifest '%s'", name);
		goto fail;
	}
	if (got == V1_HEADER && memcmp(h, magic1, 8) == 0)
		r = open_v1(m, h, (uint64_t)sb.st_size, err);
	else if (got == V1_HEADER && memcmp(h, magic2, 8) == 0)
		r = open_v2(m, (uint64_t)sb.st_size, err);
	else
		r = corrupt(err, name, "bad header or length");
	if (r == 0)
		return 0;
fail:
	bk_manifest_close(m);
	return r;
}

int bk_manifest_read(struct bk_manifest *m, uint64_t first, uint32_t count, struct bk_digest *out,
		     struct bk_err *err)
{
	size_t got;
	int r;

	if (m->writing || first > m->nblocks || count > m->nblocks - first)
		return bk_err_sys(err, -EINVAL, "unable to read manifest '%s'", m->name);
	if (m->version == 1) {
		r = bk_pread_full(m->fd, out, (size_t)count * DL, V1_HEADER + first * DL, &got);
		if (r < 0 || got != (size_t)count * DL)
			return bk_err_sys(err, r < 0 ? r : -EIO, "unable to read manifest '%s'",
					  m->name);
		return 0;
	}
	while (count) {
		uint64_t k = first / SEG;
		uint32_t i = (uint32_t)(first % SEG), n = seg_len(m->nblocks, k) - i;

		if (m->loaded != k) {
			r = load_segment(m, k, seg_len(m->nblocks, k), &m->table[k], m->name, err);
			if (r < 0)
				return r;
		}
		if (n > count)
			n = count;
		memcpy(out, m->seg + i, (size_t)n * DL);
		out += n;
		first += n;
		count -= n;
	}
	return 0;
}

int bk_manifest_check(struct bk_manifest *m, struct bk_err *err)
{
	int r;

	if (m->writing)
		return bk_err_sys(err, -EINVAL, "unable to check manifest '%s'", m->name);
	for (uint64_t k = 0; m->version == 2 && k < m->nsegs; k++) {
		r = load_segment(m, k, seg_len(m->nblocks, k), &m->table[k], m->name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- writing ------------------------------------------------------------- */

static int start_writer(struct bk_manifest *m, int dirfd, const char *name, uint32_t block_size,
			uint64_t size, struct bk_err *err)
{
	init(m, name);
	if (bk_manifest_check_block_size(block_size) < 0 ||
	    (size + block_size - 1) / block_size > MAX_BLOCKS)
		return bk_err_sys(err, -EINVAL, "unable to create manifest '%s'", name);
	m->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0)
		return bk_err_sys(err, -errno, "unable to create manifest '%s'", name);
	m->version = 2;
	m->block_size = block_size;
	m->size = size;
	m->nblocks = (size + block_size - 1) / block_size;
	m->nsegs = nsegs_of(m->nblocks);
	m->ht = bk_calloc(1, HDR + m->nsegs * DL);
	m->table = (struct bk_digest *)(m->ht + HDR);
	encode_header(m->ht, block_size, size, m->nblocks);
	m->resealed = bk_calloc(1, (size_t)(m->nsegs + 7) / 8);
	m->writing = true;
	m->header_changed = true;
	return 0;
}

int bk_manifest_create(struct bk_manifest *m, int dirfd, const char *name, uint32_t block_size,
		       uint64_t size, struct bk_err *err)
{
	int r = start_writer(m, dirfd, name, block_size, size, err);

	if (r < 0)
		bk_manifest_close(m);
	return r;
}

/* Write a version 1 BASE's digests and seal them, as if it were a version 2 clone. */
static int convert_v1(struct bk_manifest *m, struct bk_manifest *base, struct bk_err *err)
{
	int r;

	if (!m->seg)
		m->seg = bk_malloc((size_t)SEG * DL);
	for (uint64_t k = 0; k < nsegs_of(base->nblocks); k++) {
		uint32_t n = seg_len(base->nblocks, k);

		r = bk_manifest_read(base, k * SEG, n, m->seg, err);
		if (r < 0)
			return r;
		r = bk_pwrite_full(m->fd, m->seg, (size_t)n * DL, HDR + k * SEG * DL);
		if (r < 0)
			return bk_err_sys(err, r, "unable to write manifest '%s'", m->name);
		if (k < m->nsegs)
			seal_of(m->seg, (size_t)n * DL, k, &m->table[k]);
	}
	return 0;
}

int bk_manifest_clone(struct bk_manifest *m, int dirfd, const char *name, struct bk_manifest *base,
		      uint64_t size, struct bk_err *err)
{
	uint64_t keep;
	bool copied;
	int r;

	if (base->fd < 0 || base->writing || !base->version) {
		init(m, name);
		return bk_err_sys(err, -EINVAL, "unable to clone manifest '%s'", base->name);
	}
	r = start_writer(m, dirfd, name, base->block_size, size, err);
	if (r < 0)
		goto fail;
	snprintf(m->base_name, sizeof(m->base_name), "%s", base->name);
	if (base->version == 2) {
		r = bk_fs_clone_or_copy(base->fd, m->fd, file_len(base->nblocks), &copied);
		if (r < 0) {
			r = bk_err_sys(err, r, "unable to clone manifest '%s'", base->name);
			goto fail;
		}
		memcpy(m->table, base->table,
		       (size_t)(m->nsegs < base->nsegs ? m->nsegs : base->nsegs) * DL);
		m->header_changed = base->size != size;
	} else {
		r = convert_v1(m, base, err);
		if (r < 0)
			goto fail;
	}
	m->base_nblocks = base->nblocks;
	keep = m->nblocks < base->nblocks ? m->nblocks : base->nblocks;
	if (keep && block_len(size, m->block_size, keep - 1) !=
			    block_len(base->size, m->block_size, keep - 1))
		keep--;
	m->keep = keep;
	return 0;
fail:
	bk_manifest_close(m);
	return r;
}

/* Write the digests put since the last run ended. */
static int flush_run(struct bk_manifest *m, struct bk_err *err)
{
	int r;

	if (!m->run_len)
		return 0;
	r = bk_pwrite_full(m->fd, m->seg + m->run_first % SEG, (size_t)m->run_len * DL,
			   HDR + m->run_first * DL);
	m->run_len = 0;
	return r < 0 ? bk_err_sys(err, r, "unable to write manifest '%s'", m->name) : 0;
}

/* Load segment K for writing: the base's digests in it, checked (design note 2). */
static int enter(struct bk_manifest *m, uint64_t k, struct bk_err *err)
{
	uint32_t n = seg_len(m->base_nblocks, k);
	int r;

	if (!m->seg)
		m->seg = bk_malloc((size_t)SEG * DL);
	if (n) {
		r = load_segment(m, k, n, &m->table[k], m->base_name, err);
		if (r < 0)
			return r;
	}
	memset(m->seg + n, 0, (size_t)(SEG - n) * DL);
	m->loaded = k;
	return 0;
}

/* Write what was put into the loaded segment and seal it. */
static int leave(struct bk_manifest *m, struct bk_err *err)
{
	uint64_t k = m->loaded;
	int r;

	if (k == NONE)
		return 0;
	r = flush_run(m, err);
	if (r < 0)
		return r;
	seal_of(m->seg, (size_t)seg_len(m->nblocks, k) * DL, k, &m->table[k]);
	bk_bit_set(m->resealed, k);
	m->stat_segments++;
	m->loaded = NONE;
	return 0;
}

int bk_manifest_put(struct bk_manifest *m, const struct bk_digest *d, struct bk_err *err)
{
	uint64_t k = m->next / SEG;
	int r;

	if (!m->writing || m->next >= m->nblocks)
		return bk_err_sys(err, -EINVAL, "unable to write manifest '%s'", m->name);
	if (m->loaded != k) {
		r = leave(m, err);
		if (r == 0)
			r = enter(m, k, err);
		if (r < 0)
			return r;
	}
	if (!m->run_len)
		m->run_first = m->next;
	m->seg[m->next % SEG] = *d;
	m->run_len++;
	m->next++;
	return 0;
}

int bk_manifest_skip(struct bk_manifest *m, uint64_t count, struct bk_err *err)
{
	if (!m->writing || m->next > m->keep || count > m->keep - m->next)
		return bk_err_sys(err, -EINVAL, "unable to write manifest '%s'", m->name);
	m->next += count;
	return flush_run(m, err);
}

/* Re-read what finish wrote, from the disk (design note 1 applies to it too). */
static int read_back(struct bk_manifest *m, struct bk_err *err)
{
	uint64_t tlen = m->nsegs * DL;
	unsigned char *copy = bk_malloc(HDR + tlen + DL);
	struct bk_digest seal;
	size_t got;
	int r;

	posix_fadvise(m->fd, 0, 0, POSIX_FADV_DONTNEED);
	r = bk_pread_full(m->fd, copy, HDR, 0, &got);
	if (r == 0 && got == HDR)
		r = bk_pread_full(m->fd, copy + HDR, (size_t)tlen + DL, table_off(m->nblocks),
				  &got);
	seal_of(m->ht, HDR + tlen, 0, &seal);
	if (r < 0 || got != tlen + DL || memcmp(copy, m->ht, HDR + tlen) != 0 ||
	    memcmp(copy + HDR + tlen, seal.b, DL) != 0)
		r = bk_err_sys(err, r < 0 ? r : -EIO, "manifest '%s' reads back differently",
			       m->name);
	free(copy);
	for (uint64_t k = 0; r == 0 && k < m->nsegs; k++)
		if (bk_bit(m->resealed, k))
			r = load_segment(m, k, seg_len(m->nblocks, k), &m->table[k], m->name, err);
	return r;
}

int bk_manifest_seal(struct bk_manifest *m, struct bk_err *err)
{
	uint64_t last = m->nsegs - 1;
	struct bk_digest seal;
	int r;

	if (!m->writing || m->next != m->nblocks)
		return bk_err_sys(err, -EINVAL, "unable to write manifest '%s'", m->name);
	r = leave(m, err);
	/* the last segment changed length without a put (the image shrank) */
	if (r == 0 && m->nsegs && !bk_bit(m->resealed, last) &&
	    seg_len(m->nblocks, last) != seg_len(m->base_nblocks, last)) {
		r = enter(m, last, err);
		if (r == 0)
			r = leave(m, err);
	}
	if (r < 0)
		return r;
	seal_of(m->ht, HDR + m->nsegs * DL, 0, &seal);
	if (m->header_changed)
		r = bk_pwrite_full(m->fd, m->ht, HDR, 0);
	if (r == 0)
		r = bk_pwrite_full(m->fd, m->table, (size_t)m->nsegs * DL, table_off(m->nblocks));
	if (r == 0)
		r = bk_pwrite_full(m->fd, seal.b, DL, table_off(m->nblocks) + m->nsegs * DL);
	if (r == 0 && ftruncate(m->fd, (off_t)file_len(m->nblocks)) < 0)
		r = -errno;
	if (r < 0)
		return bk_err_sys(err, r, "unable to write manifest '%s'", m->name);
	m->writing = false;
	m->sealed = true;
	return 0;
}

int bk_manifest_confirm(struct bk_manifest *m, struct bk_err *err)
{
	if (!m->sealed)
		return bk_err_sys(err, -EINVAL, "unable to sync manifest '%s'", m->name);
	if (fsync(m->fd) < 0)
		return bk_err_sys(err, -errno, "unable to write manifest '%s'", m->name);
	m->sealed = false;
	return read_back(m, err);
}

int bk_manifest_finish(struct bk_manifest *m, struct bk_err *err)
{
	int r = bk_manifest_seal(m, err);

	return r < 0 ? r : bk_manifest_confirm(m, err);
}
