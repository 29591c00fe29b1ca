/*
 * test_hash.c: block digests (common/hash.c): known answers, the zero-block test and
 * digest hex and equality.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "hash.h"

/* --- hash ---------------------------------------------------------------- */

static void test_is_zero_finds_single_nonzero_byte_anywhere(void **state)
{
	uint64_t storage[40]; /* 320 bytes, 8-aligned */
	unsigned char *mem = (unsigned char *)storage;

	(void)state;
	memset(storage, 0, sizeof(storage));
	for (int start = 8; start < 16; start++) {
		unsigned char *p = mem + start; /* aligned for start == 8, unaligned otherwise */

		/* neighbours outside the range do not count */
		mem[start - 1] = 0xff;
		mem[start + 200] = 0xff;
		assert_true(bk_is_zero(p, 200));
		for (int pos = 0; pos < 200; pos++) {
			p[pos] = 0x80;
			if (bk_is_zero(p, 200))
				fail_msg("byte %d of a buffer at offset %d was missed", pos, start);
			for (size_t len = 0; len <= 200; len += 13)
				assert_int_equal(bk_is_zero(p, len), (size_t)pos >= len);
			p[pos] = 0;
		}
		mem[start - 1] = 0;
		mem[start + 200] = 0;
	}
	assert_true(bk_is_zero(mem, 0));
}

static void test_is_zero_on_a_large_block(void **state)
{
	size_t len = 64 << 10;
	unsigned char *p = bk_calloc(1, len);

	(void)state;
	assert_true(bk_is_zero(p, len));
	p[len - 1] = 1;
	assert_false(bk_is_zero(p, len));
	p[len - 1] = 0;
	p[len / 2 + 3] = 1;
	assert_false(bk_is_zero(p, len));
	free(p);
}

/*
 * The digests are on disk (every manifest): whatever XXH3 code path the CPU
 * gets (hash.c), a block hashes to XXH3-128 in canonical byte order, as the
 * reference implementation gives it for these inputs.
 */
static void test_digest_is_xxh3_128_canonical(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} kat[] = {
		{0, "99aa06d3014798d86001c324468d497f"},
		{3, "ce31763cbf8245a5a9088dda485b481c"},
		{65536, "6a2504ac37f3b3b35d03b43b14c75500"},
	};
	unsigned char *buf = bk_malloc(65536);
	char hex[2 * BK_DIGEST_LEN + 1];
	struct bk_digest d;

	(void)state;
	for (size_t i = 0; i < 65536; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++) {
		bk_hash(buf, kat[k].len, &d);
		bk_digest_hex(&d, hex);
		assert_string_equal(hex, kat[k].hex);
	}
	free(buf);
}

static void test_digest_hex_and_equal(void **state)
{
	struct bk_digest d, e;
	char hex[2 * BK_DIGEST_LEN + 1];

	(void)state;
	for (int i = 0; i < BK_DIGEST_LEN; i++)
		d.b[i] = (unsigned char)(i * 17);
	bk_digest_hex(&d, hex);
	assert_string_equal(hex, "00112233445566778899aabbccddeeff");
	d.b[0] = 0xa5;
	d.b[15] = 0x0f;
	bk_digest_hex(&d, hex);
	assert_string_equal(hex, "a5112233445566778899aabbccddee0f");

	/* XXH3-128 of no input, in canonical (big-endian) order */
	bk_hash("", 0, &d);
	bk_digest_hex(&d, hex);
	assert_string_equal(hex, "99aa06d3014798d86001c324468d497f");

	bk_hash("abc", 3, &d);
	bk_hash("abc", 3, &e);
	assert_true(bk_digest_equal(&d, &e));
	bk_hash("abd", 3, &e);
	assert_false(bk_digest_equal(&d, &e));
	bk_hash("ab", 2, &e);
	assert_false(bk_digest_equal(&d, &e));
	e = d;
	e.b[15] ^= 1;
	assert_false(bk_digest_equal(&d, &e));
	assert_true(bk_hash64("vm01", 4) == bk_hash64("vm01", 4));
	assert_true(bk_hash64("vm01", 4) != bk_hash64("vm02", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_zero_finds_single_nonzero_byte_anywhere),
		cmocka_unit_test(test_is_zero_on_a_large_block),
		cmocka_unit_test(test_digest_is_xxh3_128_canonical),
		cmocka_unit_test(test_digest_hex_and_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
