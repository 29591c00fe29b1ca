/*
 * test_py_chunkmap.c: Python backy's chunk maps (proto/py_chunkmap.h), an
 * untrusted input of `backy import`: a fixture map decodes to its size and
 * hashes, and every malformed map is refused with a message naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "py_chunkmap.h"

#define H0 "c72b4ba82d1f51b71c8a18195ad33fc8"
#define H1 "4716d19335891025483315d909ceb72b"

static void test_map_decodes_in_any_key_order(void **state)
{
	/* Python writes keys in insertion order; rev 4 of the fixture is 18 MiB + 1234 */
	const char *text = "{\"mapping\": {\"1\": \"" H1 "\", \"0\": \"" H0 "\", \"2\": \"" H0
			   "\", \"3\": \"" H0 "\", \"4\": \"" H1 "\"}, \"size\": 18875602}";
	struct bk_py_chunkmap m;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_py_chunkmap_decode(text, strlen(text), "map", &m, &err), 0);
	assert_int_equal(m.size, 18875602);
	assert_int_equal(m.n, 5);
	assert_string_equal(m.hash[0], H0);
	assert_string_equal(m.hash[1], H1);
	assert_string_equal(m.hash[4], H1);
	bk_py_chunkmap_release(&m);
}

static void test_stale_entries_past_the_end_are_ignored(void **state)
{
	const char *text = "{\"mapping\": {\"0\": \"" H0 "\", \"7\": \"" H1 "\"}, \"size\": 100}";
	struct bk_py_chunkmap m;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_py_chunkmap_decode(text, strlen(text), "map", &m, &err), 0);
	assert_int_equal(m.n, 1);
	bk_py_chunkmap_release(&m);
	text = "{\"mapping\": {}, \"size\": 0}";
	assert_int_equal(bk_py_chunkmap_decode(text, strlen(text), "map", &m, &err), 0);
	assert_int_equal(m.n, 0);
	bk_py_chunkmap_release(&m);
}

static void test_malformed_maps_are_refused(void **state)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{"{\"mapping\": {\"0\": \"" H0 "\", \"2\": \"" H0 "\", \"5\": \"" H0 "\"}, \"size\": 12582912}",
		 "chunk 1 of 3 is missing"},
		{"{\"mapping\": {\"0\": \"" H0 "\", \"2\": \"" H0 "\"}, \"size\": 12582912}",
		 "'mapping' has 2 chunks, a size of 12582912 bytes needs 3"},
		{"{\"mapping\": {}, \"size\": 1125899906842624}", "needs 268435456"},
		{"{\"mapping\": {\"00\": \"" H0 "\"}, \"size\": 1}", "not a chunk index"},
		{"{\"mapping\": {\"-1\": \"" H0 "\"}, \"size\": 1}", "not a chunk index"},
		{"{\"mapping\": {\"0\": \"C72B4BA82D1F51B71C8A18195AD33FC8\"}, \"size\": 1}",
		 "not a chunk hash"},
		{"{\"mapping\": {\"0\": \"../../etc/passwd\"}, \"size\": 1}", "not a chunk hash"},
		{"{\"mapping\": {\"0\": 5}, \"size\": 1}", "not a chunk hash"},
		{"{\"mapping\": {\"0\": \"" H0 "\"}, \"size\": -1}", "size"},
		{"{\"mapping\": {\"0\": \"" H0 "\"}, \"size\": 1e30}", "size"},
		{"{\"mapping\": {\"0\": \"" H0 "\"}, \"size\": 2251799813685248}", "size"},
		{"{\"mapping\": {\"0\": \"" H0 "\", \"0\": \"" H1 "\"}, \"size\": 1}", "duplicate"},
		{"{\"mapping\": [], \"size\": 1}", "mapping"},
		{"{\"size\": 1}", "mapping"},
		{"{\"mapping\": {}, \"size\": 1, \"extra\": 1}", "extra"},
		{"[]", "chunk map"},
		{"{\"mapping\": {\"0\": \"" H0 "\"}, \"si", "chunk map"},
		{"", "chunk map"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bk_py_chunkmap m;
		struct bk_err err = {0};
		int r = bk_py_chunkmap_decode(cases[i].text, strlen(cases[i].text), "repo/rev", &m, &err);

		if (r != BK_ECORRUPT || !strstr(err.msg, "repo/rev") || !strstr(err.msg, cases[i].expect))
			fail_msg("case %zu: r=%d, expected '%s' in '%s'", i, r, cases[i].expect, err.msg);
		assert_null(m.hash);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_decodes_in_any_key_order),
		cmocka_unit_test(test_stale_entries_past_the_end_are_ignored),
		cmocka_unit_test(test_malformed_maps_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
