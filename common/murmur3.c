/* murmur3.c: MurmurHash3 x64 128-bit (see murmur3.h), after Austin Appleby's public-domain reference. */
#include "murmur3.h"

#include <stdio.h>
#include <string.h>

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

/* Little-endian 64-bit load of N <= 8 bytes (the tail) or 8 bytes. */
static uint64_t load_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static void store_le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void bk_murmur3_x64_128(const void *data, size_t len, uint32_t seed,
			unsigned char out[BK_MURMUR3_LEN])
{
	const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
	const unsigned char *p = data;
	size_t nblocks = len / 16, tail = len % 16;
	uint64_t h1 = seed, h2 = seed, k1, k2;

	for (size_t i = 0; i < nblocks; i++) {
		k1 = load_le(p + i * 16, 8);
		k2 = load_le(p + i * 16 + 8, 8);
		k1 *= c1;
		k1 = rotl64(k1, 31);
		k1 *= c2;
		h1 ^= k1;
		h1 = rotl64(h1, 27);
		h1 += h2;
		h1 = h1 * 5 + 0x52dce729;
		k2 *= c2;
		k2 = rotl64(k2, 33);
		k2 *= c1;
		h2 ^= k2;
		h2 = rotl64(h2, 31);
		h2 += h1;
		h2 = h2 * 5 + 0x38495ab5;
	}
	p += nblocks * 16;
	if (tail > 8) {
		k2 = load_le(p + 8, tail - 8);
		k2 *= c2;
		k2 = rotl64(k2, 33);
		k2 *= c1;
		h2 ^= k2;
	}
	if (tail) {
		k1 = load_le(p, tail > 8 ? 8 : tail);
		k1 *= c1;
		k1 = rotl64(k1, 31);
		k1 *= c2;
		h1 ^= k1;
	}
	h1 ^= (uint64_t)len;
	h2 ^= (uint64_t)len;
	h1 += h2;
	h2 += h1;
	h1 = fmix64(h1);
	h2 = fmix64(h2);
	h1 += h2;
	h2 += h1;
	store_le(out, h1);
	store_le(out + 8, h2);
}

void bk_murmur3_hex(const void *data, size_t len, char out[2 * BK_MURMUR3_LEN + 1])
{
	unsigned char h[BK_MURMUR3_LEN];

	bk_murmur3_x64_128(data, len, 0, h);
	for (int i = 0; i < BK_MURMUR3_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}
