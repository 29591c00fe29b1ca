/*
 * test_revision.c: .rev metadata (common/revision.c): the format/parse round trip, deep
 * copies, revisions written by Python backy, corrupt inputs, tags and trust
 * names.
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
#include "revision.h"
#include "strv.h"

#include "common_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rev_format_parse_round_trip),
		cmocka_unit_test(test_rev_copy_is_deep),
		cmocka_unit_test(test_rev_parses_python_backy_rev),
		cmocka_unit_test(test_rev_python_rev_without_duration_is_incomplete),
		cmocka_unit_test(test_rev_corrupt_inputs),
		cmocka_unit_test(test_tag_valid),
		cmocka_unit_test(test_trust_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
