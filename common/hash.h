/*
 * hash.h: block digests (XXH3-128) for manifests and verification.
 *
 * XXH3 is not cryptographic: it detects bitrot and changed blocks, it does
 * not defend against an adversary who can write the source.  Digests are
 * stored in XXH128's canonical (big-endian) byte order.
 */
#ifndef BK_HASH_H
#define BK_HASH_H

#include <stdbool.h>
#include <stddef.h>

#define BK_DIGEST_LEN 16

struct bk_digest {
	unsigned char b[BK_DIGEST_LEN];
};

void bk_hash(const void *data, size_t len, struct bk_digest *out);
bool bk_digest_equal(const struct bk_digest *a, const struct bk_digest *b);

/* 32 hex characters plus NUL. */
void bk_digest_hex(const struct bk_digest *d, char out[2 * BK_DIGEST_LEN + 1]);

/* Whether all LEN bytes at DATA are zero (fast path for holes). */
bool bk_is_zero(const void *data, size_t len);

/* 64-bit hash of a string (schedule spread). */
unsigned long long bk_hash64(const void *data, size_t len);

#endif
