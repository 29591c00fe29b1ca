/* bitmap.c: maps of one bit per block (see bitmap.h). */
#include "bitmap.h"

/* The 64 bits from I (a multiple of 64), in map order: bit I + k is bit k. */
static uint64_t word_at(const unsigned char *map, uint64_t i)
{
	uint64_t w = 0;

	for (int k = 7; k >= 0; k--)
		w = w << 8 | map[i / 8 + (unsigned)k];
	return w;
}

bool bk_bits_any(const unsigned char *map, uint64_t first, uint64_t count)
{
	return bk_bits_next(map, first + count, first) < first + count;
}

uint64_t bk_bits_count(const unsigned char *map, uint64_t n)
{
	uint64_t c = 0, i = 0;

	for (; i + 64 <= n; i += 64)
		c += (uint64_t)__builtin_popcountll(word_at(map, i));
	for (; i < n; i++)
		c += bk_bit(map, i);
	return c;
}

uint64_t bk_bits_next(const unsigned char *map, uint64_t n, uint64_t from)
{
	uint64_t i = from;

	for (; i < n && i % 64; i++)
		if (bk_bit(map, i))
			return i;
	for (; i + 64 <= n; i += 64) {
		uint64_t w = word_at(map, i);

		if (w)
			return i + (uint64_t)__builtin_ctzll(w);
	}
	for (; i < n; i++)
		if (bk_bit(map, i))
			return i;
	return n;
}
