/*
 * test_bitmap.c: maps of one bit per block (common/bitmap.c): the word-wide
 * scans give what a bit-by-bit reference gives, at the edges of words and
 * bytes, for maps whose length is not a multiple of 64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bitmap.h"

#define NBITS 301u /* not a multiple of 8 or 64 */

/* Bit by bit, what bk_bits_next must answer. */
static uint64_t next_ref(const unsigned char *map, uint64_t n, uint64_t from)
{
	for (uint64_t i = from; i < n; i++)
		if (bk_bit(map, i))
			return i;
	return n;
}

static void check_against_reference(const unsigned char *map)
{
	uint64_t count = 0;

	for (uint64_t i = 0; i < NBITS; i++)
		count += bk_bit(map, i);
	assert_int_equal(bk_bits_count(map, NBITS), count);
	for (uint64_t from = 0; from <= NBITS; from++) {
		assert_int_equal(bk_bits_next(map, NBITS, from), next_ref(map, NBITS, from));
		for (uint64_t len = 0; from + len <= NBITS; len += 13)
			assert_int_equal(bk_bits_any(map, from, len),
					 next_ref(map, from + len, from) < from + len);
	}
}

static void test_set_clear_and_test(void **state)
{
	unsigned char map[(NBITS + 7) / 8] = {0};

	(void)state;
	bk_bit_set(map, 0);
	bk_bit_set(map, 9);
	bk_bit_set(map, 300);
	assert_int_equal(map[0], 0x01);
	assert_int_equal(map[1], 0x02);
	assert_int_equal(map[37], 0x10);
	assert_true(bk_bit(map, 9));
	assert_false(bk_bit(map, 8));
	bk_bit_clear(map, 9);
	assert_false(bk_bit(map, 9));
	assert_true(bk_bit(map, 0) && bk_bit(map, 300));
}

static void test_scans_at_word_and_byte_edges(void **state)
{
	static const uint64_t edges[] = {0, 7, 8, 63, 64, 65, 127, 128, 255, 256, 299, 300};
	unsigned char map[(NBITS + 7) / 8 + 8];

	(void)state;
	memset(map, 0, sizeof(map));
	check_against_reference(map); /* empty: nothing anywhere */
	assert_int_equal(bk_bits_next(map, NBITS, 0), NBITS);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		memset(map, 0, sizeof(map));
		bk_bit_set(map, edges[i]);
		check_against_reference(map);
		assert_int_equal(bk_bits_next(map, NBITS, 0), edges[i]);
		assert_int_equal(bk_bits_count(map, NBITS), 1);
	}
	/* bits past N do not count */
	memset(map, 0, sizeof(map));
	bk_bit_set(map, NBITS + 3);
	assert_int_equal(bk_bits_count(map, NBITS), 0);
	assert_int_equal(bk_bits_next(map, NBITS, 0), NBITS);
	assert_false(bk_bits_any(map, 200, NBITS - 200));
}

static void test_scans_of_a_dense_pattern(void **state)
{
	unsigned char map[(NBITS + 7) / 8];

	(void)state;
	for (size_t i = 0; i < sizeof(map); i++)
		map[i] = (unsigned char)(i * 37 + 11);
	check_against_reference(map);
	memset(map, 0xff, sizeof(map));
	check_against_reference(map);
	assert_int_equal(bk_bits_count(map, NBITS), NBITS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_clear_and_test),
		cmocka_unit_test(test_scans_at_word_and_byte_edges),
		cmocka_unit_test(test_scans_of_a_dense_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
