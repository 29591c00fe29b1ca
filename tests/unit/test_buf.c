/*
 * test_buf.c: growable buffers (common/buf.c): formatting past the initial capacity,
 * quoting and size formatting.
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
#include "ydoc.h"

#include "common_fixture.h"

/* --- buf ----------------------------------------------------------------- */

static void test_buf_addf_grows_past_initial_capacity(void **state)
{
	struct bk_buf b;
	char expect[8192];
	char big[201];
	size_t n = 0;

	(void)state;
	bk_buf_init(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	/* 63 characters fit the first 64 bytes exactly, the 64th does not */
	bk_buf_addf(&b, "%063d", 7);
	assert_int_equal(b.len, 63);
	bk_buf_addf(&b, "%s", "x");
	assert_int_equal(b.len, 64);
	assert_true(b.cap > 64);
	assert_int_equal(strlen(b.p), 64);
	assert_int_equal(b.p[63], 'x');
	bk_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");

	memset(big, 'q', 200);
	big[200] = '\0';
	bk_buf_addf(&b, "<%s>", big);
	assert_int_equal(b.len, 202);
	assert_int_equal(b.p[0], '<');
	assert_int_equal(b.p[201], '>');
	assert_int_equal(b.p[202], '\0');
	bk_buf_release(&b);

	bk_buf_init(&b);
	for (int i = 0; i < 1000; i++) {
		bk_buf_addf(&b, "%d,", i);
		n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%d,", i);
	}
	assert_int_equal(b.len, n);
	assert_string_equal(b.p, expect);
	bk_buf_add(&b, "ab\0cd", 5);
	assert_int_equal(b.len, n + 5);
	assert_memory_equal(b.p + n, "ab\0cd", 6);
	bk_buf_release(&b);
	assert_null(b.p);
}

static void test_buf_add_quoted_escapes(void **state)
{
	struct bk_buf b;
	char text[160];
	size_t n = 0;
	struct bk_ynode *root;

	(void)state;
	bk_buf_init(&b);
	bk_buf_add_quoted(&b, "plain");
	assert_string_equal(b.p, "\"plain\"");
	bk_buf_reset(&b);
	bk_buf_add_quoted(&b, "a\"b\\c\nd\x01\x7f\xc3\xa9");
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\x0ad\\x01\\x7f\xc3\xa9\"");
	bk_buf_reset(&b);
	bk_buf_add_quoted(&b, "");
	assert_string_equal(b.p, "\"\"");

	/* every ASCII character survives a trip through the YAML loader */
	for (int c = 1; c < 128; c++)
		text[n++] = (char)c;
	text[n] = '\0';
	bk_buf_reset(&b);
	bk_buf_adds(&b, "k: ");
	bk_buf_add_quoted(&b, text);
	bk_buf_adds(&b, "\n");
	root = parse_ok(b.p);
	assert_string_equal(bk_ymap_get(root, "k")->str, text);
	bk_ynode_free(root);
	bk_buf_release(&b);
}

static void test_size_format(void **state)
{
	char out[32];

	(void)state;
	bk_size_format(0, out, sizeof(out));
	assert_string_equal(out, "0 B");
	bk_size_format(1023, out, sizeof(out));
	assert_string_equal(out, "1023 B");
	bk_size_format(1024, out, sizeof(out));
	assert_string_equal(out, "1.00 KiB");
	bk_size_format(1536, out, sizeof(out));
	assert_string_equal(out, "1.50 KiB");
	bk_size_format(1ULL << 20, out, sizeof(out));
	assert_string_equal(out, "1.00 MiB");
	bk_size_format(20ULL << 30, out, sizeof(out));
	assert_string_equal(out, "20.00 GiB");
	bk_size_format(3ULL << 40, out, sizeof(out));
	assert_string_equal(out, "3.00 TiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_addf_grows_past_initial_capacity),
		cmocka_unit_test(test_buf_add_quoted_escapes),
		cmocka_unit_test(test_size_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
