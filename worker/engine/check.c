/* check.c: revision data against its manifest (see check.h). */
#include "check.h"

#include <errno.h>
#include <unistd.h>

void bk_quarantine_init(struct bk_quarantine *q)
{
	bk_buf_init(&q->text);
	q->count = 0;
}

void bk_quarantine_release(struct bk_quarantine *q)
{
	bk_buf_release(&q->text);
	q->count = 0;
}

void bk_quarantine_add(struct bk_quarantine *q, uint64_t off, uint64_t len,
		       const struct bk_digest *expected, const struct bk_digest *actual)
{
	char e[2 * BK_DIGEST_LEN + 1], a[2 * BK_DIGEST_LEN + 1];

	if (q->count++ >= BK_QUARANTINE_MAX)
		return;
	bk_digest_hex(expected, e);
	bk_digest_hex(actual, a);
	bk_buf_addf(&q->text, "- offset: %llu\n  length: %llu\n  expected: '%s'\n  actual: '%s'\n",
		    (unsigned long long)off, (unsigned long long)len, e, a);
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
