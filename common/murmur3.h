/*
 * murmur3.h: MurmurHash3 x64 128-bit, the chunk hash of Python backy.
 *
 * Python backy 2.x names each chunk of its chunked store after
 * mmh3.hash_bytes(data) with seed 0: the two 64-bit halves h1, h2 of
 * MurmurHash3_x64_128, each little-endian, h1 first.  `backy import`
 * checks every chunk it reads against that name.  Not a defence against an
 * adversary: it finds damage.
 */
#ifndef BK_MURMUR3_H
#define BK_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

#define BK_MURMUR3_LEN 16

/* The 16 bytes mmh3.hash_bytes(DATA[0:LEN], seed=SEED) returns. */
void bk_murmur3_x64_128(const void *data, size_t len, uint32_t seed,
			unsigned char out[BK_MURMUR3_LEN]);

/* The same as 32 lowercase hex characters plus NUL (Python backy's chunk name). */
void bk_murmur3_hex(const void *data, size_t len, char out[2 * BK_MURMUR3_LEN + 1]);

#endif
