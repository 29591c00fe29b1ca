/* hash.c: XXH3 block digests (see hash.h). */
#include "hash.h"

#include <stdint.h>
#include <string.h>
#include <xxhash.h>
#ifdef BACKY_HAVE_XXH_DISPATCH
#include <xxh_x86dispatch.h> /* XXH3 with the widest vector unit the CPU has */
#endif

void bk_hash(const void *data, size_t len, struct bk_digest *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(out->b, c.digest, BK_DIGEST_LEN);
}

bool bk_digest_equal(const struct bk_digest *a, const struct bk_digest *b)
{
	return memcmp(a->b, b->b, BK_DIGEST_LEN) == 0;
}

void bk_digest_hex(const struct bk_digest *d, char out[2 * BK_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < BK_DIGEST_LEN; i++) {
		out[2 * i] = hex[d->b[i] >> 4];
		out[2 * i + 1] = hex[d->b[i] & 15];
	}
	out[2 * BK_DIGEST_LEN] = '\0';
}

bool bk_is_zero(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t acc = 0;
	size_t i = 0;

	/* check word-wise in chunks so a data block fails fast */
	while (i < len && ((uintptr_t)(p + i) & 7))
		if (p[i++])
			return false;
	for (; i + 64 <= len; i += 64) {
		const uint64_t *w = (const uint64_t *)(const void *)(p + i);

		acc = w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
		if (acc)
			return false;
	}
	for (; i < len; i++)
		if (p[i])
			return false;
	return true;
}

unsigned long long bk_hash64(const void *data, size_t len)
{
	return (unsigned long long)XXH3_64bits(data, len);
}
