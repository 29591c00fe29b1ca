/*
 * test_ydoc.c: the strict YAML loader (common/ydoc.c): maps, sequences and scalars with
 * their lines, what it refuses, its limits and the typed accessors.
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

/* Parse LEN bytes as "cfg.yaml", expecting BK_ECONFIG with a message containing WANT. */
static void parse_fails(const char *text, size_t len, const char *want)
{
	struct bk_err err = {0};
	struct bk_ynode *root = (struct bk_ynode *)0x1;
	int r = bk_yaml_parse(text, len, "cfg.yaml", &root, &err);

	assert_int_equal(r, BK_ECONFIG);
	assert_int_equal(err.code, BK_ECONFIG);
	assert_null(root);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' does not contain '%s'", err.msg, want);
	if (strncmp(err.msg, "cfg.yaml: ", 10) != 0)
		fail_msg("message '%s' does not start with the file name", err.msg);
}

static char *nested(int levels, const char *inner)
{
	struct bk_buf b;

	bk_buf_init(&b);
	for (int i = 0; i < levels; i++)
		bk_buf_adds(&b, "[");
	bk_buf_adds(&b, inner);
	for (int i = 0; i < levels; i++)
		bk_buf_adds(&b, "]");
	return b.p; /* the caller frees */
}

/* --- ydoc ---------------------------------------------------------------- */

static void test_yaml_parses_maps_seqs_and_scalars_with_lines(void **state)
{
	const char *text = "name: vm01\n"
			   "list:\n"
			   "  - a\n"
			   "  - 'b'\n"
			   "nested:\n"
			   "  k: \"v w\"\n"
			   "flow: {x: 1, y: [2, 3]}\n";
	struct bk_ynode *root = parse_ok(text);
	const struct bk_ynode *n;

	(void)state;
	assert_non_null(root);
	assert_int_equal(root->type, BK_Y_MAP);
	assert_int_equal(root->line, 1);
	assert_int_equal(root->n, 4);
	assert_string_equal(root->keys[0], "name");
	assert_string_equal(root->keys[3], "flow");

	n = bk_ymap_get(root, "name");
	assert_non_null(n);
	assert_int_equal(n->type, BK_Y_SCALAR);
	assert_string_equal(n->str, "vm01");
	assert_true(n->plain);
	assert_int_equal(n->line, 1);

	n = bk_ymap_get(root, "list");
	assert_non_null(n);
	assert_int_equal(n->type, BK_Y_SEQ);
	assert_int_equal(n->n, 2);
	assert_string_equal(n->items[0]->str, "a");
	assert_int_equal(n->items[0]->line, 3);
	assert_true(n->items[0]->plain);
	assert_string_equal(n->items[1]->str, "b");
	assert_int_equal(n->items[1]->line, 4);
	assert_false(n->items[1]->plain);

	n = bk_ymap_get(root, "nested");
	assert_non_null(n);
	assert_int_equal(n->type, BK_Y_MAP);
	assert_int_equal(n->line, 6);
	assert_string_equal(bk_ymap_get(n, "k")->str, "v w");
	assert_int_equal(bk_ymap_get(n, "k")->line, 6);

	n = bk_ymap_get(root, "flow");
	assert_int_equal(n->type, BK_Y_MAP);
	assert_int_equal(n->line, 7);
	assert_string_equal(bk_ymap_get(n, "x")->str, "1");
	assert_int_equal(bk_ymap_get(n, "y")->type, BK_Y_SEQ);
	assert_string_equal(bk_ymap_get(n, "y")->items[1]->str, "3");

	assert_null(bk_ymap_get(root, "missing"));
	assert_null(bk_ymap_get(bk_ymap_get(root, "list"), "a"));
	assert_null(bk_ymap_get(NULL, "a"));
	bk_ynode_free(root);
}

static void test_yaml_null_scalars(void **state)
{
	struct bk_ynode *root = parse_ok("a: ~\nb: null\nc:\nd: 'null'\ne: x\nf: NULL\ng: []\n");

	(void)state;
	assert_true(bk_ynode_is_null(bk_ymap_get(root, "a")));
	assert_true(bk_ynode_is_null(bk_ymap_get(root, "b")));
	assert_true(bk_ynode_is_null(bk_ymap_get(root, "c")));
	assert_false(bk_ynode_is_null(bk_ymap_get(root, "d"))); /* quoted: a string */
	assert_false(bk_ynode_is_null(bk_ymap_get(root, "e")));
	assert_true(bk_ynode_is_null(bk_ymap_get(root, "f")));
	assert_false(bk_ynode_is_null(bk_ymap_get(root, "g")));
	assert_true(bk_ynode_is_null(bk_ymap_get(root, "absent")));
	bk_ynode_free(root);
}

static void test_yaml_empty_document_is_null(void **state)
{
	static const char *const empties[] = {"", "\n\n", "# only a comment\n", "---\n", "--- \n...\n"};

	(void)state;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct bk_err err = {0};
		struct bk_ynode *root = (struct bk_ynode *)0x1;

		assert_int_equal(bk_yaml_parse(empties[i], strlen(empties[i]), "e.yaml", &root, &err), 0);
		assert_null(root);
	}
	bk_ynode_free(NULL); /* a no-op */
}

static void test_yaml_rejects_duplicate_keys(void **state)
{
	const char *text = "a: 1\nb: 2\na: 3\n";

	(void)state;
	parse_fails(text, strlen(text), "line 3: duplicate key 'a'");
	text = "outer:\n  x: 1\n  x: 2\n";
	parse_fails(text, strlen(text), "line 3: duplicate key 'x'");
}

static void test_yaml_rejects_anchors_and_aliases(void **state)
{
	const char *text = "a: &x 1\nb: *x\n";

	(void)state;
	parse_fails(text, strlen(text), "line 1: anchors and tags are not supported");
	text = "a: 1\nb: *x\n";
	parse_fails(text, strlen(text), "line 2: aliases are not supported");
	text = "- 1\n- &anchor [2]\n";
	parse_fails(text, strlen(text), "line 2: anchors and tags");
}

static void test_yaml_rejects_tags(void **state)
{
	const char *text = "a: 1\nb: !!str 2\n";

	(void)state;
	parse_fails(text, strlen(text), "line 2: anchors and tags are not supported");
	text = "a: !custom {x: 1}\n";
	parse_fails(text, strlen(text), "line 1: anchors and tags");
	text = "!!map\na: 1\n";
	parse_fails(text, strlen(text), "anchors and tags");
}

static void test_yaml_rejects_non_scalar_keys(void **state)
{
	const char *text = "a: 1\n? [x, y]\n: 2\n";

	(void)state;
	parse_fails(text, strlen(text), "line 2: keys must be scalars");
	text = "{[1]: 2}\n";
	parse_fails(text, strlen(text), "keys must be scalars");
}

static void test_yaml_rejects_multiple_documents(void **state)
{
	const char *text = "a: 1\n---\nb: 2\n";

	(void)state;
	parse_fails(text, strlen(text), "line 2: only one document is allowed");
}

static void test_yaml_nesting_limit(void **state)
{
	char *ok = nested(BK_YAML_MAX_DEPTH, "1");
	char *deep = nested(BK_YAML_MAX_DEPTH + 1, "1");
	char *very = nested(1000, "");
	struct bk_ynode *root = parse_ok(ok);
	const struct bk_ynode *n = root;

	(void)state;
	for (int i = 0; i < BK_YAML_MAX_DEPTH; i++) {
		assert_int_equal(n->type, BK_Y_SEQ);
		assert_int_equal(n->n, 1);
		n = n->items[0];
	}
	assert_int_equal(n->type, BK_Y_SCALAR);
	assert_string_equal(n->str, "1");
	bk_ynode_free(root);

	parse_fails(deep, strlen(deep), "line 1: nested too deeply");
	parse_fails(very, strlen(very), "nested too deeply");
	free(ok);
	free(deep);
	free(very);
}

static void test_yaml_rejects_nul_bytes(void **state)
{
	const char text[] = "a: 1\nb: x\0y\n";

	(void)state;
	parse_fails(text, sizeof(text) - 1, "contains a NUL byte");
}

static void test_yaml_size_limit(void **state)
{
	size_t len = BK_YAML_MAX_BYTES;
	char *text = bk_malloc(len + 2);
	struct bk_ynode *root;

	(void)state;
	/* exactly the limit: a long comment, then one key */
	text[0] = '#';
	memset(text + 1, 'x', len - 1);
	memcpy(text + len - 6, "\na: 1\n", 6);
	text[len] = '\0';
	root = parse_ok(text);
	assert_non_null(root);
	assert_string_equal(bk_ymap_get(root, "a")->str, "1");
	bk_ynode_free(root);

	/* one byte more */
	memcpy(text + len - 6, "x\na: 1\n", 7);
	text[len + 1] = '\0';
	parse_fails(text, len + 1, "larger than 1048576 bytes");
	free(text);
}

static void test_yaml_syntax_error_names_file_and_line(void **state)
{
	const char *text = "a: 1\nb: [1, 2\nc: 3\n";
	struct bk_err err = {0};
	struct bk_ynode *root = NULL;

	(void)state;
	parse_fails(text, strlen(text), "line ");
	assert_int_equal(bk_yaml_parse(text, strlen(text), "cfg.yaml", &root, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "cfg.yaml: line "));
	text = "a: 'unterminated\n";
	parse_fails(text, strlen(text), "line ");
}

static void test_yaml_u64_accessor(void **state)
{
	struct bk_ynode *root =
		parse_ok("n: 42\nneg: -1\nfrac: 1.5\nword: abc\nbig: 18446744073709551616\n"
			 "max: 18446744073709551615\nhex: 0x10\nempty: ''\nlist: [1]\nquoted: '7'\n"
			 "plus: +3\nexp: 1e3\n");
	static const char *const bad[] = {"neg", "frac", "word", "big", "hex", "empty", "list",
					  "plus", "exp"};
	struct bk_err err = {0};
	uint64_t v = 0;

	(void)state;
	assert_int_equal(bk_ynode_u64(bk_ymap_get(root, "n"), "t.yaml", "n", &v, &err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(bk_ynode_u64(bk_ymap_get(root, "max"), "t.yaml", "max", &v, &err), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(bk_ynode_u64(bk_ymap_get(root, "quoted"), "t.yaml", "quoted", &v, &err), 0);
	assert_int_equal(v, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bk_ynode *n = bk_ymap_get(root, bad[i]);
		char want[128];

		bk_err_clear(&err);
		v = 12345;
		assert_int_equal(bk_ynode_u64(n, "t.yaml", bad[i], &v, &err), BK_ECONFIG);
		assert_int_equal(v, 12345);
		snprintf(want, sizeof(want), "t.yaml: line %d: '%s' must be a non-negative integer",
			 n->line, bad[i]);
		assert_string_equal(err.msg, want);
	}
	bk_err_clear(&err);
	assert_int_equal(bk_ynode_u64(NULL, "t.yaml", "size", &v, &err), BK_ECONFIG);
	assert_string_equal(err.msg, "t.yaml: 'size' is missing");
	bk_ynode_free(root);
}

static void test_yaml_double_accessor(void **state)
{
	struct bk_ynode *root = parse_ok("d: 3.5\ni: 42\nneg: -2.25\nexp: 1.5e2\n"
					 "nan: nan\nNaN: NaN\ninf: inf\nninf: -inf\nyinf: .inf\n"
					 "ynan: .nan\nhuge: 1e999\nword: abc\nempty: ''\nmap: {}\n"
					 "trail: '1.5 '\n");
	static const char *const bad[] = {"nan", "NaN", "inf", "ninf", "yinf", "ynan",
					  "huge", "word", "empty", "map", "trail"};
	struct bk_err err = {0};
	double v = 0;

	(void)state;
	assert_int_equal(bk_ynode_double(bk_ymap_get(root, "d"), "t.yaml", "d", &v, &err), 0);
	assert_true(v == 3.5);
	assert_int_equal(bk_ynode_double(bk_ymap_get(root, "i"), "t.yaml", "i", &v, &err), 0);
	assert_true(v == 42.0);
	assert_int_equal(bk_ynode_double(bk_ymap_get(root, "neg"), "t.yaml", "neg", &v, &err), 0);
	assert_true(v == -2.25);
	assert_int_equal(bk_ynode_double(bk_ymap_get(root, "exp"), "t.yaml", "exp", &v, &err), 0);
	assert_true(v == 150.0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bk_ynode *n = bk_ymap_get(root, bad[i]);
		char want[128];

		bk_err_clear(&err);
		v = 7.0;
		assert_int_equal(bk_ynode_double(n, "t.yaml", bad[i], &v, &err), BK_ECONFIG);
		assert_true(v == 7.0);
		snprintf(want, sizeof(want), "t.yaml: line %d: '%s' must be a number", n->line, bad[i]);
		assert_string_equal(err.msg, want);
	}
	bk_ynode_free(root);
}

static void test_yaml_str_accessor(void **state)
{
	struct bk_ynode *root = parse_ok("s: hello\nl:\n  - x\n");
	struct bk_err err = {0};
	const char *s = NULL;

	(void)state;
	assert_int_equal(bk_ynode_str(bk_ymap_get(root, "s"), "t.yaml", "s", &s, &err), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(bk_ynode_str(bk_ymap_get(root, "l"), "t.yaml", "l", &s, &err), BK_ECONFIG);
	assert_string_equal(err.msg, "t.yaml: line 3: 'l' must be a string");
	bk_ynode_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_parses_maps_seqs_and_scalars_with_lines),
		cmocka_unit_test(test_yaml_null_scalars),
		cmocka_unit_test(test_yaml_empty_document_is_null),
		cmocka_unit_test(test_yaml_rejects_duplicate_keys),
		cmocka_unit_test(test_yaml_rejects_anchors_and_aliases),
		cmocka_unit_test(test_yaml_rejects_tags),
		cmocka_unit_test(test_yaml_rejects_non_scalar_keys),
		cmocka_unit_test(test_yaml_rejects_multiple_documents),
		cmocka_unit_test(test_yaml_nesting_limit),
		cmocka_unit_test(test_yaml_rejects_nul_bytes),
		cmocka_unit_test(test_yaml_size_limit),
		cmocka_unit_test(test_yaml_syntax_error_names_file_and_line),
		cmocka_unit_test(test_yaml_u64_accessor),
		cmocka_unit_test(test_yaml_double_accessor),
		cmocka_unit_test(test_yaml_str_accessor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
