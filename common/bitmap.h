/*
 * bitmap.h: maps of one bit per block, as the engine, the sources and the
 * manifest keep them: bit I is bit I % 8 of byte I / 8.  The caller sizes
 * the map ((N + 7) / 8 bytes for N bits) and owns it.
 */
#ifndef BK_BITMAP_H
#define BK_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

static inline bool bk_bit(const unsigned char *map, uint64_t i)
{
	return map[i / 8] & (1u << (i % 8));
}

static inline void bk_bit_set(unsigned char *map, uint64_t i)
{
	map[i / 8] |= (unsigned char)(1u << (i % 8));
}

static inline void bk_bit_clear(unsigned char *map, uint64_t i)
{
	map[i / 8] &= (unsigned char)~(1u << (i % 8));
}

/* Whether any of the COUNT bits from FIRST is set (a word at a time where it can). */
bool bk_bits_any(const unsigned char *map, uint64_t first, uint64_t count);

/* The number of bits set below N. */
uint64_t bk_bits_count(const unsigned char *map, uint64_t n);

/* The first set bit at or after FROM and below N, or N. */
uint64_t bk_bits_next(const unsigned char *map, uint64_t n, uint64_t from);

#endif
