/* manifest.c: block checksum manifests (see manifest.h for the layout). */
#include "manifest.h"

#include "buf.h"
#include "fs.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define HEADER 32
#define PENDING_MAX 4096 /* digests buffered before a write: 64 KiB */

static const char magic[8] = {'B', 'K', 'Y', 'S', 'U', 'M', 'S', '1'};

int bk_manifest_check_block_size(uint64_t block_size)
{
	if (block_size < BK_MANIFEST_MIN_BLOCK || block_size > BK_MANIFEST_MAX_BLOCK ||
	    (block_size & (block_size - 1)))
		return BK_ECONFIG;
	return 0;
}

static void encode_header(unsigned char h[HEADER], uint32_t block_size, uint64_t size, uint64_t n)
{
	uint32_t bs = htole32(block_size);
	uint64_t sz = htole64(size), nb = htole64(n);

	memset(h, 0, HEADER);
	memcpy(h, magic, 8);
	memcpy(h + 8, &bs, 4);
	memcpy(h + 16, &sz, 8);
	memcpy(h + 24, &nb, 8);
}

void bk_manifest_close(struct bk_manifest *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->state)
		XXH3_freeState(m->state);
	free(m->pending);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int bk_manifest_open(struct bk_manifest *m, int dirfd, const char *name, struct bk_err *err)
{
	unsigned char h[HEADER], seal[BK_DIGEST_LEN], buf[64 << 10];
	XXH3_state_t *st = NULL;
	XXH128_canonical_t c;
	struct stat sb;
	uint32_t bs;
	uint64_t sz, nb, off, end;
	size_t got;
	int r;

	memset(m, 0, sizeof(*m));
	m->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0)
		return bk_err_sys(err, -errno, "unable to open manifest '%s'", name);
	if (fstat(m->fd, &sb) < 0) {
		r = bk_err_sys(err, -errno, "unable to stat manifest '%s'", name);
		goto fail;
	}
	r = bk_pread_full(m->fd, h, HEADER, 0, &got);
	if (r < 0) {
		bk_err_sys(err, r, "unable to read manifest '%s'", name);
		goto fail;
	}
	memcpy(&bs, h + 8, 4);
	memcpy(&sz, h + 16, 8);
	memcpy(&nb, h + 24, 8);
	bs = le32toh(bs);
	sz = le64toh(sz);
	nb = le64toh(nb);
	if (got != HEADER || memcmp(h, magic, 8) != 0 || bk_manifest_check_block_size(bs) < 0 ||
	    nb != (sz + bs - 1) / bs || nb > ((uint64_t)1 << 40) ||
	    (uint64_t)sb.st_size != HEADER + nb * BK_DIGEST_LEN + BK_DIGEST_LEN) {
		r = bk_err_set(err, BK_ECORRUPT, "manifest '%s' is corrupt (bad header or length)", name);
		goto fail;
	}
	/* check the seal over header and digests */
	st = XXH3_createState();
	XXH3_128bits_reset(st);
	end = HEADER + nb * BK_DIGEST_LEN;
	for (off = 0; off < end; off += got) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);

		r = bk_pread_full(m->fd, buf, want, off, &got);
		if (r < 0 || got != want) {
			r = bk_err_sys(err, r < 0 ? r : -EIO, "unable to read manifest '%s'", name);
			goto fail;
		}
		XXH3_128bits_update(st, buf, got);
	}
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	r = bk_pread_full(m->fd, seal, sizeof(seal), end, &got);
	if (r < 0 || got != sizeof(seal) || memcmp(seal, c.digest, sizeof(seal)) != 0) {
		r = bk_err_set(err, BK_ECORRUPT, "manifest '%s' is corrupt (seal mismatch)", name);
		goto fail;
	}
	XXH3_freeState(st);
	m->block_size = bs;
	m->size = sz;
	m->nblocks = nb;
	return 0;
fail:
	if (st)
		XXH3_freeState(st);
	bk_manifest_close(m);
	return r;
}

int bk_manifest_read(struct bk_manifest *m, uint64_t first, uint32_t count, struct bk_digest *out)
{
	size_t got;
	int r;

	if (first + count > m->nblocks)
		return -EINVAL;
	r = bk_pread_full(m->fd, out, (size_t)count * BK_DIGEST_LEN,
			  HEADER + first * BK_DIGEST_LEN, &got);
	if (r < 0)
		return r;
	return got == (size_t)count * BK_DIGEST_LEN ? 0 : -EIO;
}

int bk_manifest_create(struct bk_manifest *m, int dirfd, const char *name, uint32_t block_size,
		       uint64_t size, struct bk_err *err)
{
	unsigned char h[HEADER];
	int r;

	memset(m, 0, sizeof(*m));
	m->block_size = block_size;
	m->size = size;
	m->nblocks = (size + block_size - 1) / block_size;
	m->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0)
		return bk_err_sys(err, -errno, "unable to create manifest '%s'", name);
	m->state = XXH3_createState();
	m->pending = bk_malloc(PENDING_MAX * sizeof(*m->pending));
	XXH3_128bits_reset(m->state);
	encode_header(h, block_size, size, m->nblocks);
	XXH3_128bits_update(m->state, h, HEADER);
	r = bk_pwrite_full(m->fd, h, HEADER, 0);
	if (r < 0) {
		bk_manifest_close(m);
		return bk_err_sys(err, r, "unable to write manifest '%s'", name);
	}
	return 0;
}

static int flush_pending(struct bk_manifest *m)
{
	size_t len = (size_t)m->npending * BK_DIGEST_LEN;
	int r;

	if (!m->npending)
		return 0;
	XXH3_128bits_update(m->state, m->pending, len);
	r = bk_pwrite_full(m->fd, m->pending, len, HEADER + (m->next - m->npending) * BK_DIGEST_LEN);
	m->npending = 0;
	return r;
}

int bk_manifest_put(struct bk_manifest *m, const struct bk_digest *d)
{
	if (m->next >= m->nblocks)
		return -EINVAL;
	m->pending[m->npending++] = *d;
	m->next++;
	if (m->npending == PENDING_MAX)
		return flush_pending(m);
	return 0;
}

int bk_manifest_finish(struct bk_manifest *m)
{
	XXH128_canonical_t c;
	int r;

	if (m->next != m->nblocks)
		return -EINVAL;
	r = flush_pending(m);
	if (r < 0)
		return r;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(m->state));
	r = bk_pwrite_full(m->fd, c.digest, BK_DIGEST_LEN, HEADER + m->nblocks * BK_DIGEST_LEN);
	if (r < 0)
		return r;
	if (fsync(m->fd) < 0)
		return -errno;
	return 0;
}
