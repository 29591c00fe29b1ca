/*
 * test_common.c: the building blocks in common/: the strict YAML loader,
 * .rev metadata, revision ids, the clock, string sets, digests and buffers.
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
#include "clock.h"
#include "error.h"
#include "hash.h"
#include "id.h"
#include "revision.h"
#include "strv.h"
#include "ydoc.h"

/* 2015-09-01T07:06:47Z and 2015-09-01T00:00:00Z in Unix seconds (from Python's calendar.timegm). */
#define T_20150901_070647 1441091207LL
#define T_20150901 1441065600LL

/* --- helpers ------------------------------------------------------------- */

/* Parse TEXT as "t.yaml", expecting success. */
static struct bk_ynode *parse_ok(const char *text)
{
	struct bk_err err = {0};
	struct bk_ynode *root = NULL;
	int r = bk_yaml_parse(text, strlen(text), "t.yaml", &root, &err);

	if (r != 0)
		fail_msg("unexpected parse failure %d: %s", r, err.msg);
	return root;
}

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

/* --- revision ------------------------------------------------------------ */

static void full_rev(struct bk_rev *rev)
{
	bk_rev_init(rev);
	snprintf(rev->id, sizeof(rev->id), "%s", "4Ge6UNPMQfAqVjdb4hmp7V");
	snprintf(rev->parent, sizeof(rev->parent), "%s", "0f8fad5b-d9cb-469f-a165-70867728950e");
	rev->timestamp = T_20150901_070647 * BK_USEC + 123456;
	bk_strv_split(&rev->tags, "weekly,daily,manual:keep");
	rev->trust = BK_TRUST_VERIFIED;
	rev->complete = true;
	rev->bytes_written = 123456789012ULL;
	rev->duration = 12.345678;
	rev->size = 21474836480ULL;
	snprintf(rev->consistency, sizeof(rev->consistency), "%s", "crash-consistent");
	rev->verified_at = (T_20150901_070647 + 3600) * BK_USEC + 7;
}

static void assert_rev_equal(const struct bk_rev *a, const struct bk_rev *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->parent, b->parent);
	assert_true(a->timestamp == b->timestamp);
	assert_true(bk_strv_equal(&a->tags, &b->tags));
	assert_int_equal(a->trust, b->trust);
	assert_int_equal(a->complete, b->complete);
	assert_true(a->bytes_written == b->bytes_written);
	assert_true(a->duration == b->duration);
	assert_true(a->size == b->size);
	assert_string_equal(a->consistency, b->consistency);
	assert_true(a->verified_at == b->verified_at);
}

static void round_trip(const struct bk_rev *rev)
{
	struct bk_buf text;
	struct bk_rev back;
	struct bk_err err = {0};
	int r;

	bk_buf_init(&text);
	bk_rev_format(rev, &text);
	r = bk_rev_parse(text.p, text.len, "x.rev", &back, &err);
	if (r != 0)
		fail_msg("parse of\n%s\nfailed: %s", text.p, err.msg);
	assert_rev_equal(rev, &back);
	bk_rev_release(&back);
	bk_buf_release(&text);
}

static void test_rev_format_parse_round_trip(void **state)
{
	struct bk_rev rev;
	struct bk_buf text;

	(void)state;
	full_rev(&rev);
	bk_buf_init(&text);
	bk_rev_format(&rev, &text);
	assert_non_null(strstr(text.p, "uuid: 4Ge6UNPMQfAqVjdb4hmp7V\n"));
	assert_non_null(strstr(text.p, "timestamp: 2015-09-01T07:06:47.123456+00:00\n"));
	assert_non_null(strstr(text.p, "verified_at: 2015-09-01T08:06:47.000007+00:00\n"));
	assert_non_null(strstr(text.p, "trust: verified\n"));
	assert_non_null(strstr(text.p, "  bytes_written: 123456789012\n"));
	bk_buf_release(&text);
	round_trip(&rev);

	/* a full backup without tags, not verified, incomplete */
	rev.parent[0] = '\0';
	bk_strv_release(&rev.tags);
	rev.trust = BK_TRUST_DISTRUSTED;
	rev.complete = false;
	rev.duration = 0;
	rev.consistency[0] = '\0';
	rev.verified_at = 0;
	rev.bytes_written = 0;
	rev.size = 0;
	round_trip(&rev);

	/* negative timestamps (before 1970) and a trusted revision */
	rev.timestamp = -1;
	rev.trust = BK_TRUST_TRUSTED;
	rev.complete = true;
	rev.duration = 0.5;
	snprintf(rev.consistency, sizeof(rev.consistency), "%s", "frozen");
	round_trip(&rev);
	rev.timestamp = BK_EPOCH_0001 * BK_USEC + 1;
	round_trip(&rev);
	bk_rev_release(&rev);
}

static void test_rev_copy_is_deep(void **state)
{
	struct bk_rev a, b;

	(void)state;
	full_rev(&a);
	bk_rev_init(&b);
	bk_strv_add(&b.tags, "old");
	bk_rev_copy(&b, &a);
	assert_rev_equal(&a, &b);
	assert_ptr_not_equal(a.tags.v, b.tags.v);
	bk_strv_add(&b.tags, "extra");
	assert_int_equal(a.tags.n, 3);
	bk_rev_release(&a);
	bk_rev_release(&b);
}

static void test_rev_parses_python_backy_rev(void **state)
{
	const char *text = "backend_type: chunked\n"
			   "parent: ''\n"
			   "stats: {bytes_written: 1024, duration: 3.5}\n"
			   "tags: [daily, weekly]\n"
			   "timestamp: 2015-09-01 07:06:47.123456+00:00\n"
			   "trust: trusted\n"
			   "uuid: 4Ge6UNPMQfAqVjdb4hmp7V\n";
	struct bk_err err = {0};
	struct bk_rev rev;

	(void)state;
	assert_int_equal(bk_rev_parse(text, strlen(text), "4Ge6UNPMQfAqVjdb4hmp7V.rev", &rev, &err), 0);
	assert_string_equal(rev.id, "4Ge6UNPMQfAqVjdb4hmp7V");
	assert_string_equal(rev.parent, "");
	assert_true(rev.timestamp == T_20150901_070647 * BK_USEC + 123456);
	assert_int_equal(rev.tags.n, 2);
	assert_string_equal(rev.tags.v[0], "daily");
	assert_string_equal(rev.tags.v[1], "weekly");
	assert_int_equal(rev.trust, BK_TRUST_TRUSTED);
	assert_true(rev.complete);
	assert_int_equal(rev.bytes_written, 1024);
	assert_true(rev.duration == 3.5);
	assert_int_equal(rev.size, 0);
	assert_string_equal(rev.consistency, "");
	assert_true(rev.verified_at == 0);
	bk_rev_release(&rev);
}

static void test_rev_python_rev_without_duration_is_incomplete(void **state)
{
	const char *with_stats = "uuid: 0f8fad5b-d9cb-469f-a165-70867728950e\n"
				 "timestamp: 2015-09-01 07:06:47+00:00\n"
				 "parent: null\n"
				 "stats: {bytes_written: 2048}\n"
				 "tags: [daily]\n";
	const char *no_stats = "uuid: abc\ntimestamp: 2015-09-01\n";
	struct bk_err err = {0};
	struct bk_rev rev;

	(void)state;
	assert_int_equal(bk_rev_parse(with_stats, strlen(with_stats), "a.rev", &rev, &err), 0);
	assert_string_equal(rev.id, "0f8fad5b-d9cb-469f-a165-70867728950e");
	assert_false(rev.complete);
	assert_int_equal(rev.bytes_written, 2048);
	assert_string_equal(rev.parent, "");
	assert_int_equal(rev.trust, BK_TRUST_TRUSTED); /* no trust field: trusted */
	bk_rev_release(&rev);

	/* every writer writes stats: a .rev without it lost its tail */
	assert_int_equal(bk_rev_parse(no_stats, strlen(no_stats), "b.rev", &rev, &err), BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "'stats' is missing"));
}

static void test_rev_corrupt_inputs(void **state)
{
#define BASE "timestamp: 2015-09-01T07:06:47Z\n"
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{"- a\n- b\n", "not a YAML map"},
		{"", "not a YAML map"},
		{"just a string\n", "not a YAML map"},
		{BASE "uuid: a/b\n", "'uuid' is not a valid revision id"},
		{BASE "uuid: ../x\n", "'uuid' is not a valid revision id"},
		{BASE "uuid: ''\n", "'uuid' is not a valid revision id"},
		{BASE, "'uuid' is missing"},
		{BASE "uuid: [a]\n", "'uuid' must be a string"},
		{"uuid: x\ntimestamp: yesterday\n", "'timestamp' is not an ISO 8601 time"},
		{"uuid: x\ntimestamp: 2015-02-30\n", "'timestamp' is not an ISO 8601 time"},
		{"uuid: x\n", "'timestamp' is missing"},
		{BASE "uuid: x\nparent: ../y\n", "'parent' is not a valid revision id"},
		{BASE "uuid: x\ntags: daily\n", "'tags' is not a list"},
		{BASE "uuid: x\ntags: {a: 1}\n", "'tags' is not a list"},
		{BASE "uuid: x\ntags: [daily, 'bad tag']\n", "'tags' holds an invalid tag"},
		{BASE "uuid: x\ntags: [[daily]]\n", "'tags' holds an invalid tag"},
		{BASE "uuid: x\ntrust: maybe\n", "'trust' is not trusted, distrusted or verified"},
		{BASE "uuid: x\nstats: 5\n", "'stats' is missing or not a map"},
		{BASE "uuid: x\nstats: {duration: x}\n", "'stats.duration' must be a number"},
		{BASE "uuid: x\nstats: {duration: nan}\n", "'stats.duration' must be a number"},
		{BASE "uuid: x\nstats: {bytes_written: -5, duration: 1}\n",
		 "'stats.bytes_written' must be a non-negative integer"},
		{BASE "uuid: x\nstats: {}\nsize: big\n", "'size' must be a non-negative integer"},
		{BASE "uuid: x\nstats: {}\nverified_at: never\n", "'verified_at' is not an ISO 8601 time"},
		{BASE "uuid: x\nstats: {}\nconsistency: 0123456789012345678901234567890123\n",
		 "'consistency' is too long"},
		{BASE "uuid: [x\n", "line"},
		{BASE "uuid: x\nuuid: y\n", "duplicate key 'uuid'"},
	};
#undef BASE

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bk_err err = {0};
		struct bk_rev rev;
		int r = bk_rev_parse(cases[i].text, strlen(cases[i].text), "bad.rev", &rev, &err);

		if (r != BK_ECORRUPT)
			fail_msg("case %zu (%s): got %d, expected BK_ECORRUPT", i, cases[i].text, r);
		assert_int_equal(err.code, BK_ECORRUPT);
		if (strncmp(err.msg, "bad.rev", 7) != 0 || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks 'bad.rev' or '%s'", i, err.msg,
				 cases[i].msg);
		/* nothing half-parsed is left behind */
		assert_int_equal(rev.tags.n, 0);
		assert_null(rev.tags.v);
	}
}

static void test_tag_valid(void **state)
{
	char t64[65], t65[66];

	(void)state;
	memset(t64, 'a', 64);
	t64[64] = '\0';
	memset(t65, 'a', 65);
	t65[65] = '\0';
	assert_true(bk_tag_valid("daily"));
	assert_true(bk_tag_valid("manual:keep"));
	assert_true(bk_tag_valid("a.b-c_D9"));
	assert_true(bk_tag_valid("x"));
	assert_true(bk_tag_valid(t64));
	assert_false(bk_tag_valid(t65));
	assert_false(bk_tag_valid(""));
	assert_false(bk_tag_valid("a b"));
	assert_false(bk_tag_valid("a,b"));
	assert_false(bk_tag_valid("a/b"));
	assert_false(bk_tag_valid(":x"));
	assert_false(bk_tag_valid("manual:"));
	assert_false(bk_tag_valid("t\xc3\xa4g"));
	assert_false(bk_tag_valid("a\nb"));
}

static void test_trust_names(void **state)
{
	enum bk_trust t = BK_TRUST_TRUSTED;

	(void)state;
	assert_string_equal(bk_trust_name(BK_TRUST_TRUSTED), "trusted");
	assert_string_equal(bk_trust_name(BK_TRUST_DISTRUSTED), "distrusted");
	assert_string_equal(bk_trust_name(BK_TRUST_VERIFIED), "verified");
	assert_int_equal(bk_trust_parse("distrusted", &t), 0);
	assert_int_equal(t, BK_TRUST_DISTRUSTED);
	assert_int_equal(bk_trust_parse("Trusted", &t), BK_EUSAGE);
	assert_int_equal(bk_trust_parse("", &t), BK_EUSAGE);
	assert_int_equal(t, BK_TRUST_DISTRUSTED);
}

/* --- id ------------------------------------------------------------------ */

/* The base-57 alphabet, built independently: digits and letters without 0, 1, I, O and l. */
static void alphabet57(char out[58])
{
	static const char all[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = 0;

	for (const char *p = all; *p; p++)
		if (!strchr("01IOl", *p))
			out[n++] = *p;
	assert_int_equal(n, 57);
	out[n] = '\0';
}

/* Short id of UUID via 128-bit arithmetic, most significant digit first. */
static void reference_short_id(const char *uuid, char out[23])
{
	unsigned __int128 v = 0;
	char alpha[58];

	alphabet57(alpha);
	for (const char *p = uuid; *p; p++) {
		unsigned d;

		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			d = (unsigned)(*p - 'A' + 10);
		v = v * 16 + d;
	}
	for (int i = 21; i >= 0; i--) {
		out[i] = alpha[(int)(v % 57)];
		v /= 57;
	}
	assert_true(v == 0);
	out[22] = '\0';
}

static void test_id_from_uuid_known_vectors(void **state)
{
	static const char *const uuids[] = {
		"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"7c9e6679-7425-40de-944b-e07fc1f90ae7", "0f8fad5b-d9cb-469f-a165-70867728950e",
		"00000000-0000-0000-0000-000000000039", "80000000-0000-0000-0000-000000000000",
	};
	char got[BK_ID_SHORT_LEN + 1], want[23];

	(void)state;
	assert_int_equal(bk_id_from_uuid(uuids[0], got), 0);
	assert_string_equal(got, "2222222222222222222222");
	/* 0x39 == 57: "10" in base 57 */
	assert_int_equal(bk_id_from_uuid(uuids[4], got), 0);
	assert_string_equal(got, "2222222222222222222232");
	for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
		assert_int_equal(bk_id_from_uuid(uuids[i], got), 0);
		reference_short_id(uuids[i], want);
		assert_string_equal(got, want);
	}
	/* upper case is the same uuid */
	assert_int_equal(bk_id_from_uuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7", got), 0);
	reference_short_id(uuids[2], want);
	assert_string_equal(got, want);
}

static void test_id_from_uuid_random_uuids(void **state)
{
	static const char hex[] = "0123456789abcdef";
	char uuid[37], got[BK_ID_SHORT_LEN + 1], want[23];
	unsigned seed = 12345;

	(void)state;
	for (int k = 0; k < 200; k++) {
		for (int i = 0; i < 36; i++) {
			seed = seed * 1103515245u + 12345u;
			uuid[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[(seed >> 16) & 15];
		}
		uuid[36] = '\0';
		assert_int_equal(bk_id_from_uuid(uuid, got), 0);
		reference_short_id(uuid, want);
		assert_string_equal(got, want);
		assert_true(bk_id_generated(got));
		assert_true(bk_id_generated(uuid));
	}
}

static void test_id_from_uuid_rejects_malformed(void **state)
{
	char got[BK_ID_SHORT_LEN + 1];

	(void)state;
	assert_int_equal(bk_id_from_uuid("", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("00000000-0000-0000-0000-00000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("00000000-0000-0000-0000-0000000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("g0000000-0000-0000-0000-000000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("000000000000000000000000000000000000", got), BK_EUSAGE);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_id_new_is_22_base57_digits_and_unique(void **state)
{
	enum { N = 10000 };
	char **ids = bk_calloc(N, sizeof(*ids));
	char alpha[58];

	(void)state;
	alphabet57(alpha);
	for (int i = 0; i < N; i++) {
		char id[BK_ID_SHORT_LEN + 1];

		memset(id, '!', sizeof(id));
		bk_id_new(id);
		assert_int_equal(strlen(id), 22);
		assert_int_equal(strspn(id, alpha), 22);
		assert_true(bk_id_valid(id));
		assert_true(bk_id_generated(id));
		ids[i] = bk_strdup(id);
	}
	qsort(ids, N, sizeof(*ids), cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	for (int i = 0; i < N; i++)
		free(ids[i]);
	free(ids);
}

static void test_id_valid_and_generated(void **state)
{
	char s64[65], s65[66];

	(void)state;
	memset(s64, 'a', 64);
	s64[64] = '\0';
	memset(s65, 'a', 65);
	s65[65] = '\0';
	assert_true(bk_id_valid("123-0"));
	assert_true(bk_id_valid("a_b"));
	assert_true(bk_id_valid("x-"));
	assert_true(bk_id_valid(s64));
	assert_true(bk_id_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(bk_id_valid(s65));
	assert_false(bk_id_valid(""));
	assert_false(bk_id_valid("../x"));
	assert_false(bk_id_valid("a/b"));
	assert_false(bk_id_valid("-x"));
	assert_false(bk_id_valid("."));
	assert_false(bk_id_valid("a.rev"));
	assert_false(bk_id_valid("a b"));

	assert_true(bk_id_generated("2222222222222222222222"));
	assert_true(bk_id_generated("4Ge6UNPMQfAqVjdb4hmp7V"));
	assert_true(bk_id_generated("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(bk_id_generated("222222222222222222222"));   /* 21 */
	assert_false(bk_id_generated("22222222222222222222222")); /* 23 */
	assert_false(bk_id_generated("0222222222222222222222"));  /* '0' is not a digit */
	assert_false(bk_id_generated("I222222222222222222222"));
	assert_false(bk_id_generated("l222222222222222222222"));
	assert_false(bk_id_generated("2222222222222222222-22"));
	assert_false(bk_id_generated("0f8fad5b-d9cb-469f-a165-70867728950x"));
	assert_false(bk_id_generated("notes.txt"));
	assert_false(bk_id_generated(""));
	assert_false(bk_id_generated("123-0"));
}

/* --- clock --------------------------------------------------------------- */

static void expect_time(const char *s, int64_t want)
{
	int64_t t = 0;

	if (bk_time_parse(s, &t) != 0)
		fail_msg("'%s' did not parse", s);
	if (t != want)
		fail_msg("'%s' parsed to %lld, expected %lld", s, (long long)t, (long long)want);
}

static void test_time_parse_accepts_iso_forms(void **state)
{
	(void)state;
	expect_time("2015-09-01T07:06:47Z", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01 07:06:47+00:00", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47+0000", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47.5+02:00", (T_20150901_070647 - 7200) * BK_USEC + 500000);
	expect_time("2015-09-01T07:06:47.123456Z", T_20150901_070647 * BK_USEC + 123456);
	expect_time("2015-09-01T07:06:47.1234567Z", T_20150901_070647 * BK_USEC + 123456);
	expect_time("2015-09-01T07:06:47-05:30", (T_20150901_070647 + 5 * 3600 + 1800) * BK_USEC);
	expect_time("2015-09-01T07:06Z", (T_20150901_070647 - 47) * BK_USEC);
	expect_time("2015-09-01", T_20150901 * BK_USEC);
	expect_time("1970-01-01T00:00:00Z", 0);
	expect_time("1969-12-31T23:59:59.999999Z", -1);
	expect_time("0001-01-01T00:00:00Z", BK_EPOCH_0001 * BK_USEC);
	expect_time("2016-02-29", (T_20150901 + 181 * 86400) * BK_USEC);
	expect_time("2000-02-29T00:00:00Z", 951782400LL * BK_USEC);
}

static void test_time_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"2015-02-30", "2015-13-01", "2015-00-10", "2015-09-00", "2015-09-31", "garbage",
		"2015-09-01T25:00", "2015-09-01T12:60", "2015-09-01T12:00:61", "2015-9-1",
		"2015-09-01T", "2015-09-01T07:06:47.", "2015-09-01T07:06:47+2", "2015-09-01T07:06:47+24:00",
		"2015-09-01T07:06:47Zjunk", "", "0000-01-01", "1900-02-29", "2015-02-29",
		"2015-09-01T07", "2015-09-01X07:06:47",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 42;

		if (bk_time_parse(bad[i], &t) != BK_EUSAGE)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(t == 42);
	}
}

static void test_time_format_iso_and_display_round_trip(void **state)
{
	static const int64_t times[] = {
		0, 1, -1, 999999, -999999, 1000000, -1000000, -1500000,
		T_20150901_070647 * BK_USEC + 123456, BK_EPOCH_0001 * BK_USEC,
		BK_EPOCH_0001 * BK_USEC + 1, 253402300799LL * BK_USEC + 999999, /* 9999-12-31T23:59:59.999999 */
	};
	char buf[64];
	int64_t t;

	(void)state;
	bk_time_format(T_20150901_070647 * BK_USEC + 123456, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "2015-09-01T07:06:47.123456+00:00");
	bk_time_format(T_20150901_070647 * BK_USEC + 123456, buf, sizeof(buf), BK_TIME_DISPLAY);
	assert_string_equal(buf, "2015-09-01 07:06:47");
	bk_time_format(-1, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999+00:00");
	bk_time_format(-1, buf, sizeof(buf), BK_TIME_DISPLAY);
	assert_string_equal(buf, "1969-12-31 23:59:59");
	bk_time_format(-1500000, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "1969-12-31T23:59:58.500000+00:00");
	bk_time_format(BK_EPOCH_0001 * BK_USEC, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "0001-01-01T00:00:00.000000+00:00");

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		bk_time_format(times[i], buf, sizeof(buf), BK_TIME_ISO);
		assert_int_equal(bk_time_parse(buf, &t), 0);
		if (t != times[i])
			fail_msg("%lld -> '%s' -> %lld", (long long)times[i], buf, (long long)t);
		bk_time_format(times[i], buf, sizeof(buf), BK_TIME_DISPLAY);
		assert_int_equal(bk_time_parse(buf, &t), 0);
		/* the display form drops the microseconds: it rounds down */
		assert_true(t <= times[i] && times[i] - t < BK_USEC);
	}
}

static void test_backy_now_overrides_the_clock(void **state)
{
	struct bk_err err = {0};
	int64_t real;

	(void)state;
	assert_int_equal(setenv("BACKY_NOW", "2020-01-02T03:04:05Z", 1), 0);
	assert_int_equal(bk_clock_init(&err), 0);
	assert_true(bk_now() == 1577934245LL * BK_USEC);
	assert_true(bk_now() == 1577934245LL * BK_USEC); /* fixed, not running */

	assert_int_equal(setenv("BACKY_NOW", "tomorrow", 1), 0);
	assert_int_equal(bk_clock_init(&err), BK_EUSAGE);
	assert_int_equal(err.code, BK_EUSAGE);
	assert_non_null(strstr(err.msg, "'tomorrow'"));
	assert_true(bk_now() == 1577934245LL * BK_USEC); /* unchanged */

	unsetenv("BACKY_NOW");
	bk_clock_set(0);
	bk_err_clear(&err);
	assert_int_equal(bk_clock_init(&err), 0);
	real = (int64_t)time(NULL) * BK_USEC;
	assert_true(bk_now() >= real - 5 * BK_USEC && bk_now() <= real + 5 * BK_USEC);
}

static void test_backy_now_at_unix_epoch_is_honoured(void **state)
{
	struct bk_err err = {0};

	(void)state;
	/* a valid ISO 8601 UTC time like any other: bk_now() must return it */
	assert_int_equal(setenv("BACKY_NOW", "1970-01-01T00:00:00Z", 1), 0);
	assert_int_equal(bk_clock_init(&err), 0);
	assert_true(bk_now() == 0);
	unsetenv("BACKY_NOW");
	bk_clock_set(0);
}

static void test_clock_set_seam(void **state)
{
	int64_t m1, m2, real;

	(void)state;
	bk_clock_set(123456789);
	assert_true(bk_now() == 123456789);
	m1 = bk_monotonic();
	m2 = bk_monotonic();
	assert_true(m2 >= m1); /* the monotonic clock ignores the seam */
	assert_true(m1 != 123456789);
	bk_clock_set(-5 * BK_USEC);
	assert_true(bk_now() == -5 * BK_USEC);
	bk_clock_set(0);
	real = (int64_t)time(NULL) * BK_USEC;
	assert_true(bk_now() >= real - 5 * BK_USEC && bk_now() <= real + 5 * BK_USEC);
}

static void test_duration_format(void **state)
{
	char buf[32];

	(void)state;
	bk_duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	bk_duration_format(59.4, buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	bk_duration_format(61, buf, sizeof(buf));
	assert_string_equal(buf, "1m 01s");
	bk_duration_format(3725, buf, sizeof(buf));
	assert_string_equal(buf, "1h 02m");
}

/* --- strv ---------------------------------------------------------------- */

static void assert_strv(const struct bk_strv *s, const char *joined)
{
	struct bk_buf b;

	bk_buf_init(&b);
	bk_strv_join(s, "|", &b);
	assert_string_equal(b.p, joined);
	bk_buf_release(&b);
}

static void test_strv_add_keeps_sorted_unique(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_add(&s, "weekly");
	bk_strv_add(&s, "daily");
	bk_strv_add(&s, "monthly");
	bk_strv_add(&s, "daily");
	bk_strv_add(&s, "Z");
	bk_strv_add(&s, "manual:x");
	assert_int_equal(s.n, 5);
	assert_strv(&s, "Z|daily|manual:x|monthly|weekly");
	assert_true(bk_strv_has(&s, "monthly"));
	assert_false(bk_strv_has(&s, "month"));
	bk_strv_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	bk_strv_release(&s); /* twice is fine */
}

static void test_strv_remove(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_split(&s, "a,b,c,d");
	assert_true(bk_strv_remove(&s, "b"));
	assert_strv(&s, "a|c|d");
	assert_false(bk_strv_remove(&s, "b"));
	assert_false(bk_strv_remove(&s, "x"));
	assert_true(bk_strv_remove(&s, "d"));
	assert_true(bk_strv_remove(&s, "a"));
	assert_strv(&s, "c");
	assert_true(bk_strv_remove(&s, "c"));
	assert_int_equal(s.n, 0);
	assert_false(bk_strv_remove(&s, "c"));
	bk_strv_release(&s);
}

static void test_strv_split_trims_and_skips_empty_items(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_split(&s, " weekly , daily,,\tmonthly\t,, ,");
	assert_strv(&s, "daily|monthly|weekly");
	bk_strv_release(&s);
	bk_strv_split(&s, "");
	assert_int_equal(s.n, 0);
	bk_strv_split(&s, ",,, ,");
	assert_int_equal(s.n, 0);
	bk_strv_split(&s, "b,a,b");
	assert_strv(&s, "a|b");
	bk_strv_split(&s, "c"); /* adds to what is there */
	assert_strv(&s, "a|b|c");
	bk_strv_release(&s);
	bk_strv_split(&s, "two words, x");
	assert_strv(&s, "two words|x");
	bk_strv_release(&s);
}

static void test_strv_join_equal_copy_merge(void **state)
{
	struct bk_strv a = BK_STRV_INIT, b = BK_STRV_INIT, c = BK_STRV_INIT;
	struct bk_buf out;

	(void)state;
	bk_buf_init(&out);
	bk_strv_join(&a, ", ", &out);
	assert_string_equal(out.p, "");
	bk_strv_split(&a, "x,y,z");
	bk_strv_join(&a, ", ", &out);
	assert_string_equal(out.p, "x, y, z");

	bk_strv_split(&b, "z,x,y");
	assert_true(bk_strv_equal(&a, &b));
	bk_strv_remove(&b, "y");
	assert_false(bk_strv_equal(&a, &b));
	bk_strv_add(&b, "w");
	assert_false(bk_strv_equal(&a, &b)); /* same size, other member */
	assert_true(bk_strv_equal(&c, &c));

	bk_strv_add(&c, "old");
	bk_strv_copy(&c, &a);
	assert_true(bk_strv_equal(&c, &a));
	assert_ptr_not_equal(c.v[0], a.v[0]);
	bk_strv_merge(&c, &b);
	assert_strv(&c, "w|x|y|z");
	bk_strv_release(&a);
	bk_strv_release(&b);
	bk_strv_release(&c);
	bk_buf_release(&out);
}

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

/* --- error --------------------------------------------------------------- */

static void test_err_keeps_the_first_error(void **state)
{
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_err_set(&err, BK_ECONFIG, "first %d", 1), BK_ECONFIG);
	assert_int_equal(bk_err_set(&err, BK_ECORRUPT, "second"), BK_ECORRUPT);
	assert_int_equal(err.code, BK_ECONFIG);
	assert_string_equal(err.msg, "first 1");
	bk_err_clear(&err);
	assert_int_equal(bk_err_sys(&err, -2, "unable to open '%s'", "x"), -2);
	assert_string_equal(err.msg, "unable to open 'x': No such file or directory");
	assert_string_equal(bk_err_msg(&err, -2), err.msg);
	assert_string_equal(bk_err_msg(NULL, BK_ELOCKED), "operation already in progress");
	assert_string_equal(bk_strerror(BK_EVERIFY), "verification failed");
	assert_int_equal(bk_err_set(NULL, BK_EUSAGE, "ignored"), BK_EUSAGE);
}

static void test_error_transient_column(void **state)
{
	static const char *const transient[] = {"BK_ELOCKED", "BK_ESOURCE", "BK_EMQ", "EINTR",
						"EAGAIN", "ETIMEDOUT", "ENOSPC", "EIO"};
	static const char *const permanent[] = {"BK_EUSAGE", "BK_ECONFIG", "BK_ECORRUPT",
						"BK_ESPEC", "BK_ENOREV", "BK_EVERIFY", "BK_ETAG",
						"BK_EPROTO", "BK_EVERSION", "BK_EDENIED", "ENOENT",
						"EACCES", "EUNKNOWN", "", "eio", "EIO "};

	(void)state;
	assert_true(bk_error_transient(BK_ELOCKED));
	assert_true(bk_error_transient(BK_ESOURCE));
	assert_true(bk_error_transient(BK_EMQ));
	assert_true(bk_error_transient(-EIO));
	assert_true(bk_error_transient(-ENOSPC));
	assert_true(bk_error_transient(-EAGAIN));
	assert_true(bk_error_transient(-ETIMEDOUT));
	assert_true(bk_error_transient(-EINTR));
	assert_false(bk_error_transient(BK_ECORRUPT));
	assert_false(bk_error_transient(BK_EDENIED));
	assert_false(bk_error_transient(-ENOENT));
	assert_false(bk_error_transient(0));
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		assert_true(bk_error_name_transient(transient[i]));
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
		assert_false(bk_error_name_transient(permanent[i]));
	assert_false(bk_error_name_transient(NULL));
	/* the code and its wire name agree */
	for (int code = -1012; code <= -1000; code++)
		assert_int_equal(bk_error_transient(code),
				 bk_error_name_transient(bk_error_name(code)));
	for (int e = 1; e < 134; e++)
		assert_int_equal(bk_error_transient(-e), bk_error_name_transient(bk_error_name(-e)));
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
		cmocka_unit_test(test_rev_format_parse_round_trip),
		cmocka_unit_test(test_rev_copy_is_deep),
		cmocka_unit_test(test_rev_parses_python_backy_rev),
		cmocka_unit_test(test_rev_python_rev_without_duration_is_incomplete),
		cmocka_unit_test(test_rev_corrupt_inputs),
		cmocka_unit_test(test_tag_valid),
		cmocka_unit_test(test_trust_names),
		cmocka_unit_test(test_id_from_uuid_known_vectors),
		cmocka_unit_test(test_id_from_uuid_random_uuids),
		cmocka_unit_test(test_id_from_uuid_rejects_malformed),
		cmocka_unit_test(test_id_new_is_22_base57_digits_and_unique),
		cmocka_unit_test(test_id_valid_and_generated),
		cmocka_unit_test(test_time_parse_accepts_iso_forms),
		cmocka_unit_test(test_time_parse_rejects_malformed),
		cmocka_unit_test(test_time_format_iso_and_display_round_trip),
		cmocka_unit_test(test_backy_now_overrides_the_clock),
		cmocka_unit_test(test_backy_now_at_unix_epoch_is_honoured),
		cmocka_unit_test(test_clock_set_seam),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_strv_add_keeps_sorted_unique),
		cmocka_unit_test(test_strv_remove),
		cmocka_unit_test(test_strv_split_trims_and_skips_empty_items),
		cmocka_unit_test(test_strv_join_equal_copy_merge),
		cmocka_unit_test(test_is_zero_finds_single_nonzero_byte_anywhere),
		cmocka_unit_test(test_is_zero_on_a_large_block),
		cmocka_unit_test(test_digest_hex_and_equal),
		cmocka_unit_test(test_buf_addf_grows_past_initial_capacity),
		cmocka_unit_test(test_buf_add_quoted_escapes),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_err_keeps_the_first_error),
		cmocka_unit_test(test_error_transient_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
