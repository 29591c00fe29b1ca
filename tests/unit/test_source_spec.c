/*
 * test_source_spec.c: the one source model (common/source_spec.h) and the
 * places that read it: the same pool and image names get the same verdict
 * from the coordinator's config loader, the wire decoder and the worker's
 * repository config parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "proto.h"
#include "schedule.h"
#include "source_spec.h"
#include "store.h"

/* ---- the model ---- */

static void test_type_names_round_trip(void **state)
{
	enum bk_source_type t = BK_SOURCE_NONE;

	(void)state;
	assert_null(bk_source_type_name(BK_SOURCE_NONE));
	assert_null(bk_source_type_name((enum bk_source_type)99));
	for (int i = BK_SOURCE_FILE; i <= BK_SOURCE_FLYINGCIRCUS; i++) {
		assert_int_equal(bk_source_type_parse(bk_source_type_name((enum bk_source_type)i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(bk_source_type_parse("ceph-rbd", &t), 0);
	assert_int_equal(t, BK_SOURCE_RBD);
	assert_int_equal(bk_source_type_parse("File", &t), BK_ECONFIG);
	assert_int_equal(bk_source_type_parse("", &t), BK_ECONFIG);
}

static void test_paths_must_be_absolute_and_plain(void **state)
{
	char long_path[BK_SOURCE_PATH_MAX + 2];

	(void)state;
	assert_true(bk_source_path_valid("/dev/vg/vm01"));
	assert_true(bk_source_path_valid("/srv/a b/\xc3\xa9.img"));
	assert_true(bk_source_path_valid("/srv/..img/.x"));
	assert_false(bk_source_path_valid(""));
	assert_false(bk_source_path_valid("img"));
	assert_false(bk_source_path_valid("/srv/../etc/shadow"));
	assert_false(bk_source_path_valid("/srv/./x"));
	assert_false(bk_source_path_valid("/srv/.."));
	assert_false(bk_source_path_valid("/srv/a\nb"));
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[BK_SOURCE_PATH_MAX] = '\0';
	assert_true(bk_source_path_valid(long_path));
	long_path[BK_SOURCE_PATH_MAX] = 'a';
	long_path[BK_SOURCE_PATH_MAX + 1] = '\0';
	assert_false(bk_source_path_valid(long_path));
}

static void test_validator_names_the_bad_field(void **state)
{
	struct bk_source_spec s, c;

	(void)state;
	bk_source_spec_init(&s);
	assert_string_equal(bk_source_spec_invalid(&s), "type");
	s.type = BK_SOURCE_FILE;
	assert_string_equal(bk_source_spec_invalid(&s), "filename");
	bk_source_spec_set_filename(&s, "/img");
	assert_null(bk_source_spec_invalid(&s));
	bk_source_spec_release(&s);

	s.type = BK_SOURCE_FLYINGCIRCUS;
	snprintf(s.pool, sizeof(s.pool), ".rgw.root");
	assert_string_equal(bk_source_spec_invalid(&s), "image");
	snprintf(s.image, sizeof(s.image), "vm01.root");
	assert_null(bk_source_spec_invalid(&s)); /* no vm: a direct snapshot */
	snprintf(s.vm, sizeof(s.vm), ".vm");
	assert_string_equal(bk_source_spec_invalid(&s), "vm");
	snprintf(s.vm, sizeof(s.vm), "vm01");
	assert_null(bk_source_spec_invalid(&s));

	bk_source_spec_copy(&c, &s);
	assert_true(bk_source_spec_equal(&c, &s));
	snprintf(c.vm, sizeof(c.vm), "vm02");
	assert_false(bk_source_spec_equal(&c, &s));
	c.type = BK_SOURCE_RBD; /* the vm is not part of an rbd source */
	s.type = BK_SOURCE_RBD;
	assert_true(bk_source_spec_equal(&c, &s));
	bk_source_spec_release(&c);
	bk_source_spec_release(&s);
}

/* Read the `source:` map of TEXT with the shared reader; 0 or its error. */
static int read_yaml(const char *text, struct bk_source_spec *out, struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	int r = bk_yaml_parse(text, strlen(text), "cfg", &root, err);

	if (r == 0)
		r = bk_source_spec_read(bk_ymap_get(root, "source"), "cfg", "vm01", out, NULL, NULL,
					err);
	bk_ynode_free(root);
	return r;
}

static void test_yaml_reader_checks_each_key(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"source: {type: floppy}\n", "line 1: job 'vm01': unknown source type 'floppy'"},
		{"source: {type: file}\n", "'source.filename' is required"},
		{"source: {type: file, filename: img}\n", "must be an absolute path"},
		{"source: {type: rbd, pool: rbd}\n", "'source.pool' and 'source.image' are required"},
		{"source: {type: rbd, pool: rbd, image: '-x'}\n", "invalid 'source.image' '-x'"},
		{"source: {type: flyingcircus, pool: rbd, image: i, vm: '-x'}\n", "invalid 'source.vm' '-x'"},
		{"source: {type: rbd, pool: rbd, image: i, vm: v}\n", "unknown key 'source.vm' for type 'rbd'"},
		{"source: {type: rbd, pool: rbd, image: i, ceph_id: x}\n", "unknown key 'source.ceph_id'"},
		{"source: rbd\n", "'jobs.vm01.source' must be a map"},
	};
	struct bk_source_spec s;
	struct bk_err err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (read_yaml(bad[i].text, &s, &err) != BK_ECONFIG || !strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
		assert_null(s.filename);
	}
	assert_int_equal(read_yaml("source: {type: ceph-rbd, pool: .rgw.root, image: i}\n", &s, &err), 0);
	assert_int_equal(s.type, BK_SOURCE_RBD);
	assert_string_equal(s.pool, ".rgw.root");
	bk_source_spec_release(&s);
	/* no vm: no Consul, a direct snapshot (a job message must still name one) */
	assert_int_equal(read_yaml("source: {type: flyingcircus, pool: rbd, image: i}\n", &s, &err), 0);
	assert_string_equal(s.vm, "");
	bk_source_spec_release(&s);
}

static void test_schedule_copy_and_equal(void **state)
{
	struct bk_schedule a = {NULL, 0}, b = {NULL, 0}, c = {NULL, 0}, d = {NULL, 0};
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_schedule_parse_spec("daily=1d:7,weekly=1w:4", &a, &err), 0);
	bk_schedule_copy(&b, &a);
	assert_true(bk_schedule_equal(&a, &b));
	assert_ptr_not_equal(a.tags[0].name, b.tags[0].name);
	b.tags[1].keep = 5;
	assert_false(bk_schedule_equal(&a, &b));
	assert_int_equal(bk_schedule_parse_spec("daily=1d:7", &c, &err), 0);
	assert_false(bk_schedule_equal(&a, &c));
	bk_schedule_release(&c);
	bk_schedule_copy(&d, &c); /* an empty schedule copies to an empty one */
	assert_int_equal(d.n, 0);
	assert_true(bk_schedule_equal(&c, &d));
	bk_schedule_release(&d);
	bk_schedule_release(&a);
	bk_schedule_release(&b);
	bk_schedule_release(&c);
}

/* ---- one verdict everywhere ---- */

/* The same 30 pool and image names, with the verdict the rule gives. */
static const struct {
	const char *name;
	bool valid;
} names[] = {
	{"rbd", true},
	{"ssd-pool", true},
	{"pool_1", true},
	{"0pool", true},
	{"9", true},
	{"A-B_c.d", true},
	{"vm01.root", true},
	{".rgw.root", true},
	{".mgr", true},
	{"a..b", true},
	{"x-", true},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true}, /* 64 */
	{".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true}, /* 64 */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 65 */
	{".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 65 */
	{"", false},
	{".", false},
	{"..", false},
	{".-x", false},
	{"-pool", false},
	{"_pool", false},
	{"a/b", false},
	{"pool@snap", false},
	{"a b", false},
	{" a", false},
	{"\xc3\xa9t\xc3\xa9", false},
	{"pool\xc3\xa9", false},
	{"a\tb", false},
	{"a:b", false},
	{"a\"b", false},
};

/* S as the body of a double-quoted YAML or JSON string. */
static void add_escaped(struct bk_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			bk_buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			bk_buf_addf(b, "\\u%04x", c);
		else
			bk_buf_addf(b, "%c", c);
	}
}

/* The coordinator's verdict on an rbd job with POOL and IMAGE. */
static bool coordinator_accepts(const char *pool, const char *image)
{
	struct co_config c;
	struct bk_err err = {0};
	struct bk_buf y;
	int r;

	bk_buf_init(&y);
	bk_buf_adds(&y, "schedules: {default: {daily: {interval: 1d, keep: 7}}}\n"
			"hosts: [b1]\n"
			"jobs:\n  vm01: {schedule: default, source: {type: rbd, pool: \"");
	add_escaped(&y, pool);
	bk_buf_adds(&y, "\", image: \"");
	add_escaped(&y, image);
	bk_buf_adds(&y, "\"}}\n");
	r = co_config_parse(y.p, y.len, "coordinator.yaml", &c, &err);
	if (r == 0)
		co_config_release(&c);
	bk_buf_release(&y);
	return r == 0;
}

/* The wire decoder's verdict on a backup job with POOL and IMAGE. */
static bool decoder_accepts(const char *pool, const char *image)
{
	struct bk_msg_job j;
	struct bk_msg m;
	struct bk_err err = {0};
	struct bk_buf text, body;
	const char *at;
	int r;

	bk_msg_job_init(&j);
	bk_msg_head_new(&j.head);
	bk_id_new(j.job_id);
	snprintf(j.job, sizeof(j.job), "vm01");
	snprintf(j.host, sizeof(j.host), "b1");
	j.action = BK_ACTION_BACKUP;
	bk_strv_add(&j.tags, "daily");
	j.deadline = j.head.time + 3600 * BK_USEC;
	j.attempt = 1;
	j.source.type = BK_SOURCE_RBD;
	snprintf(j.source.pool, sizeof(j.source.pool), "POOL");
	snprintf(j.source.image, sizeof(j.source.image), "IMAGE");
	bk_buf_init(&text);
	assert_int_equal(bk_msg_encode_job(&j, &text, &err), 0);
	bk_msg_job_release(&j);

	/* the encoder would refuse the names: put them into its output */
	bk_buf_init(&body);
	at = strstr(text.p, "\"POOL\"");
	assert_non_null(at);
	bk_buf_add(&body, text.p, (size_t)(at - text.p));
	bk_buf_adds(&body, "\"");
	add_escaped(&body, pool);
	bk_buf_adds(&body, "\"");
	at += strlen("\"POOL\"");
	{
		const char *im = strstr(at, "\"IMAGE\"");

		assert_non_null(im);
		bk_buf_add(&body, at, (size_t)(im - at));
		bk_buf_adds(&body, "\"");
		add_escaped(&body, image);
		bk_buf_adds(&body, "\"");
		bk_buf_adds(&body, im + strlen("\"IMAGE\""));
	}
	r = bk_msg_decode(body.p, body.len, &m, &err);
	if (r == 0)
		bk_msg_release(&m);
	bk_buf_release(&text);
	bk_buf_release(&body);
	return r == 0;
}

/* The worker's verdict: its repository config parser (the config backy-worker writes). */
static bool repository_accepts(const char *pool, const char *image)
{
	struct bk_repo_config cfg;
	struct bk_err err = {0};
	struct bk_buf y;
	int r;

	bk_buf_init(&y);
	bk_buf_adds(&y, "source: {type: rbd, pool: \"");
	add_escaped(&y, pool);
	bk_buf_adds(&y, "\", image: \"");
	add_escaped(&y, image);
	bk_buf_adds(&y, "\"}\n");
	r = bk_repo_config_parse(y.p, y.len, "config", &cfg, &err);
	if (r == 0)
		bk_repo_config_release(&cfg);
	bk_buf_release(&y);
	return r == 0;
}

static void test_same_names_same_verdicts_everywhere(void **state)
{
	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), 30);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *n = names[i].name;
		bool want = names[i].valid;
		bool v[] = {bk_ceph_name_valid(n),       coordinator_accepts(n, "img"),
			    decoder_accepts(n, "img"),    repository_accepts(n, "img"),
			    coordinator_accepts("rbd", n), decoder_accepts("rbd", n),
			    repository_accepts("rbd", n)};

		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			if (v[k] != want)
				fail_msg("name %zu '%s': verdict %zu is %d, expected %d (0: rule, 1-3: pool in coordinator, wire, repository, 4-6: image)",
					 i, n, k, v[k], want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names_round_trip),
		cmocka_unit_test(test_paths_must_be_absolute_and_plain),
		cmocka_unit_test(test_validator_names_the_bad_field),
		cmocka_unit_test(test_yaml_reader_checks_each_key),
		cmocka_unit_test(test_schedule_copy_and_equal),
		cmocka_unit_test(test_same_names_same_verdicts_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
