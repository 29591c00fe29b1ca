/* test_schedule.c: schedule maths (common/schedule.c): durations, specs and their YAML, the spread and ideal times. */
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
#include "error.h"
#include "revision.h"
#include "expire.h"
#include "schedule.h"
#include "strv.h"
#include "ydoc.h"

#include "schedule_fixture.h"

/* ---- durations ---- */

static void test_duration_parses_all_units(void **state)
{
	static const struct {
		const char *s;
		int64_t sec;
	} v[] = {{"1w", 604800}, {"1d", 86400}, {"2d", 172800}, {"1h", 3600}, {"3h", 10800},
		 {"10m", 600},   {"25m", 1500},  {"10s", 10},    {"5", 5},       {"30d", 2592000}};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t sec = -1;

		assert_int_equal(bk_duration_parse(v[i].s, &sec), 0);
		assert_int_equal(sec, v[i].sec);
	}
}

static void test_duration_rejects_bad_input(void **state)
{
	static const char *const bad[] = {
		"",     "0",     "0d",   "-1d",  "+1d", " 1d", "1d ", "1x", "1dd", "1.5d", "d",
		"1W",   "1 d",   "0x10", "1e3",  "99999999999999999999",
		"9223372036854775807s", "9223372036854775807w", "100000000w",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t sec = 42;

		assert_int_equal(bk_duration_parse(bad[i], &sec), BK_ECONFIG);
		assert_int_equal(sec, 42);
	}
}

static void test_duration_format_uses_shortest_exact_unit(void **state)
{
	static const struct {
		int64_t sec;
		const char *s;
	} v[] = {{604800, "1w"}, {1209600, "2w"}, {2592000, "30d"}, {86400, "1d"},
		 {5400, "90m"},   {3600, "1h"},    {10800, "3h"},     {600, "10m"},
		 {5, "5s"},       {86401, "86401s"}, {90, "90s"}};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t back = 0;

		bk_duration_format_spec(v[i].sec, buf, sizeof(buf));
		assert_string_equal(buf, v[i].s);
		assert_int_equal(bk_duration_parse(buf, &back), 0);
		assert_int_equal(back, v[i].sec);
	}
}

/* ---- specs and YAML ---- */

static void test_spec_parses_default_schedule_sorted(void **state)
{
	struct bk_schedule s;

	(void)state;
	schedule(&s, BK_DEFAULT_SCHEDULE);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.tags[0].name, "daily");
	assert_int_equal(s.tags[0].interval, 86400);
	assert_int_equal(s.tags[0].keep, 7);
	assert_string_equal(s.tags[1].name, "monthly");
	assert_int_equal(s.tags[1].interval, 30 * 86400);
	assert_int_equal(s.tags[1].keep, 3);
	assert_string_equal(s.tags[2].name, "weekly");
	assert_int_equal(s.tags[2].interval, 7 * 86400);
	assert_int_equal(s.tags[2].keep, 4);
	assert_int_equal(bk_schedule_min_interval(&s), 86400);
	assert_int_equal(bk_schedule_max_interval(&s), 30 * 86400);
	assert_non_null(bk_schedule_find(&s, "weekly"));
	assert_int_equal(bk_schedule_find(&s, "weekly")->keep, 4);
	assert_null(bk_schedule_find(&s, "hourly"));
	assert_null(bk_schedule_find(&s, "manual:daily"));
	bk_schedule_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.tags);

	schedule(&s, " hourly=1h:24 , daily=1d:1 ");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.tags[0].name, "daily");
	assert_string_equal(s.tags[1].name, "hourly");
	assert_int_equal(s.tags[1].keep, 24);
	bk_schedule_release(&s);
}

static void test_spec_rejects_bad_items_with_clear_messages(void **state)
{
	static const struct {
		const char *spec;
		const char *msg;
	} v[] = {
		{"", "empty schedule specification"},
		{"  ", "empty schedule specification"},
		{"daily1d:7", "invalid schedule item 'daily1d:7': missing '='"},
		{"daily=1d", "invalid schedule item 'daily=1d': missing ':'"},
		{"daily=1x:7", "invalid schedule item 'daily=1x:7': bad interval '1x'"},
		{"daily=0d:7", "bad interval '0d'"},
		{"daily=1d:0", "invalid schedule item 'daily=1d:0': bad keep '0'"},
		{"daily=1d:-1", "bad keep '-1'"},
		{"daily=1d:7x", "bad keep '7x'"},
		{"daily=1d:", "bad keep ''"},
		{"daily=1d:7,weekly=1w:4,daily=2d:3", "duplicate schedule tag 'daily'"},
		{"manual:x=1d:7", "tag 'manual:x' must not start with 'manual:'"},
		{"da ily=1d:7", "tag 'da ily' is not a valid tag"},
		{"=1d:7", "tag '' is not a valid tag"},
		{"a:b=1d:7", "tag 'a:b' is not a valid tag"},
		{"daily=1d:7,,weekly=1w:4", "invalid schedule 'daily=1d:7,,weekly=1w:4': empty item"},
		{"daily=1d:7,", "empty item"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bk_schedule s = {NULL, 0};
		struct bk_err err = {0};

		assert_int_equal(bk_schedule_parse_spec(v[i].spec, &s, &err), BK_ECONFIG);
		assert_int_equal(err.code, BK_ECONFIG);
		if (!strstr(err.msg, v[i].msg))
			fail_msg("spec '%s': message '%s' lacks '%s'", v[i].spec, err.msg, v[i].msg);
		assert_int_equal(s.n, 0);
		assert_null(s.tags);
	}
}

static int load_yaml(const char *text, struct bk_ynode **root)
{
	struct bk_err err = {0};

	return bk_yaml_parse(text, strlen(text), "cfg.yaml", root, &err);
}

static void test_yaml_schedule_parses_and_formats_round_trip(void **state)
{
	const char *text = "weekly: {interval: 1w, keep: 4}\n"
			   "daily:\n"
			   "  interval: 24h\n"
			   "  keep: 7\n"
			   "monthly: {keep: 3, interval: 2592000}\n";
	const char *want = "  daily:\n"
			   "    interval: 1d\n"
			   "    keep: 7\n"
			   "  monthly:\n"
			   "    interval: 30d\n"
			   "    keep: 3\n"
			   "  weekly:\n"
			   "    interval: 1w\n"
			   "    keep: 4\n";
	struct bk_ynode *root = NULL, *again = NULL;
	struct bk_schedule s = {NULL, 0}, s2 = {NULL, 0};
	struct bk_err err = {0};
	struct bk_buf b;

	(void)state;
	assert_int_equal(load_yaml(text, &root), 0);
	assert_int_equal(bk_schedule_from_yaml(root, "cfg.yaml", &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.tags[0].name, "daily");
	assert_int_equal(s.tags[0].interval, 86400);
	bk_buf_init(&b);
	bk_schedule_format_yaml(&s, 2, &b);
	assert_string_equal(b.p, want);

	assert_int_equal(load_yaml(b.p, &again), 0);
	assert_int_equal(bk_schedule_from_yaml(again, "again.yaml", &s2, &err), 0);
	assert_int_equal(s2.n, s.n);
	for (size_t i = 0; i < s.n; i++) {
		assert_string_equal(s2.tags[i].name, s.tags[i].name);
		assert_int_equal(s2.tags[i].interval, s.tags[i].interval);
		assert_int_equal(s2.tags[i].keep, s.tags[i].keep);
	}

	bk_buf_reset(&b);
	bk_schedule_format_yaml(&s, 0, &b);
	assert_string_equal(b.p, "daily:\n  interval: 1d\n  keep: 7\nmonthly:\n  interval: 30d\n"
				 "  keep: 3\nweekly:\n  interval: 1w\n  keep: 4\n");
	bk_buf_release(&b);
	bk_schedule_release(&s);
	bk_schedule_release(&s2);
	bk_ynode_free(root);
	bk_ynode_free(again);
}

static void test_yaml_schedule_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} v[] = {
		{"daily:\n  interval: 1d\n  kep: 7\n",
		 "cfg.yaml: line 3: unknown key 'kep' in schedule tag 'daily'"},
		{"daily:\n  interval: 1d\n", "cfg.yaml: line 2: schedule tag 'daily' has no 'keep'"},
		{"daily: {keep: 7}\n", "cfg.yaml: line 1: schedule tag 'daily' has no 'interval'"},
		{"daily:\n  interval: 1d\n  keep: 7\nweekly:\n  interval: 1y\n  keep: 4\n",
		 "cfg.yaml: line 5: invalid interval '1y' of schedule tag 'weekly'"},
		{"daily:\n  interval: 1d\n  keep: 0\n",
		 "cfg.yaml: line 3: invalid keep '0' of schedule tag 'daily'"},
		{"daily:\n  interval: 1d\n  keep: [7]\n", "cfg.yaml: line 3: invalid keep"},
		{"daily: 1d\n", "cfg.yaml: line 1: schedule tag 'daily' must be a map"},
		{"manual:daily: {interval: 1d, keep: 7}\n",
		 "cfg.yaml: line 1: schedule tag 'manual:daily' must not start with 'manual:'"},
		{"- daily\n", "cfg.yaml: line 1: schedule must be a map of tags"},
		{"{}\n", "cfg.yaml: line 1: schedule has no tags"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct bk_ynode *root = NULL;
		struct bk_schedule s = {NULL, 0};
		struct bk_err err = {0};

		assert_int_equal(load_yaml(v[i].text, &root), 0);
		assert_int_equal(bk_schedule_from_yaml(root, "cfg.yaml", &s, &err), BK_ECONFIG);
		if (!strstr(err.msg, v[i].msg))
			fail_msg("yaml %zu: message '%s' lacks '%s'", i, err.msg, v[i].msg);
		assert_int_equal(s.n, 0);
		bk_ynode_free(root);
	}
	{
		struct bk_schedule s = {NULL, 0};
		struct bk_err err = {0};

		assert_int_equal(bk_schedule_from_yaml(NULL, "cfg.yaml", &s, &err), BK_ECONFIG);
		assert_string_equal(err.msg, "cfg.yaml: schedule is missing");
	}
}

/* ---- spread ---- */

static void test_spread_is_stable_and_even(void **state)
{
	struct bk_schedule s, daily, empty = {NULL, 0};
	unsigned buckets[10] = {0};
	char name[32];

	(void)state;
	schedule(&s, BK_DEFAULT_SCHEDULE);
	schedule(&daily, "daily=1d:7");

	/* pinned: a job keeps its slot across restarts and releases */
	assert_int_equal(bk_schedule_spread("test01", &daily), 32098);
	assert_int_equal(bk_schedule_spread("test02", &daily), 85753);
	assert_int_equal(bk_schedule_spread("asdf02", &daily), 35879);
	assert_int_equal(bk_schedule_spread("test01", &daily), bk_schedule_spread("test01", &daily));
	assert_int_not_equal(bk_schedule_spread("test01", &daily), bk_schedule_spread("test02", &daily));
	assert_int_equal(bk_schedule_spread("vm01", &empty), 0);

	for (int i = 0; i < 10000; i++) {
		int64_t sp;

		snprintf(name, sizeof(name), "vm%05d.example.com", i);
		sp = bk_schedule_spread(name, &daily);
		assert_in_range(sp, 0, 86400);
		buckets[sp * 10 / 86401]++;
		sp = bk_schedule_spread(name, &s);
		assert_in_range(sp, 0, 30 * 86400);
	}
	/* 1000 expected per bucket, sd ~30: 150 is five sigma */
	for (int i = 0; i < 10; i++)
		assert_in_range(buckets[i], 850, 1150);
	bk_schedule_release(&s);
	bk_schedule_release(&daily);
}

/* ---- ideal times ---- */

static void test_next_tag_vector_2015(void **state)
{
	(void)state;
	assert_time(bk_sched_next_tag(T("2015-09-01T07:06:47Z"), 86400, 100),
		    "2015-09-02T00:01:40Z");
	assert_time(bk_sched_next_tag(T("2015-09-02T00:01:41Z"), 86400, 100),
		    "2015-09-03T00:01:40Z");
}

static void test_next_tag_is_strictly_after(void **state)
{
	int64_t ideal = T("2015-09-02T00:01:40Z");

	(void)state;
	assert_true(bk_sched_next_tag(ideal, 86400, 100) == ideal + DAY);
	assert_true(bk_sched_next_tag(ideal - 1, 86400, 100) == ideal);
	assert_true(bk_sched_next_tag(ideal + 1, 86400, 100) == ideal + DAY);
	/* spread beyond the interval wraps around */
	assert_true(bk_sched_next_tag(ideal - 1, 86400, 86400 + 100) == ideal);
	assert_true(bk_sched_next_tag(ideal - 1, 86400, 7 * 86400 + 100) == ideal);
	/* hourly with a spread of 1000 s: xx:16:40 */
	assert_time(bk_sched_next_tag(T("2015-09-01T07:06:47Z"), 3600, 1000),
		    "2015-09-01T07:16:40Z");
	assert_time(bk_sched_next_tag(T("2015-09-01T07:16:40Z"), 3600, 1000),
		    "2015-09-01T08:16:40Z");
}

static void test_weekly_lands_on_mondays(void **state)
{
	(void)state;
	/* 2015-09-01 was a Tuesday, 2015-09-07 a Monday */
	assert_time(bk_sched_next_tag(T("2015-09-01T07:06:47Z"), 7 * 86400, 0),
		    "2015-09-07T00:00:00Z");
	assert_time(bk_sched_next_tag(T("2015-09-06T23:59:59Z"), 7 * 86400, 0),
		    "2015-09-07T00:00:00Z");
	assert_time(bk_sched_next_tag(T("2015-09-07T00:00:00Z"), 7 * 86400, 0),
		    "2015-09-14T00:00:00Z");
	assert_time(bk_sched_next_tag(T("2024-01-03T12:00:00Z"), 7 * 86400, 0),
		    "2024-01-08T00:00:00Z");
	/* before the Unix epoch works too: 1969-12-29 was a Monday */
	assert_time(bk_sched_next_tag(T("1969-12-25T00:00:00Z"), 7 * 86400, 0),
		    "1969-12-29T00:00:00Z");
}

static void test_next_ideal_groups_tags_due_together(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	int64_t t;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4,hourly=1h:24");
	t = bk_sched_next_ideal(&s, 0, T("2015-09-06T23:30:00Z"), &tags);
	assert_time(t, "2015-09-07T00:00:00Z");
	assert_tags(&tags, "daily,hourly,weekly");
	t = bk_sched_next_ideal(&s, 0, T("2015-09-07T00:00:00Z"), &tags);
	assert_time(t, "2015-09-07T01:00:00Z");
	assert_tags(&tags, "hourly");
	bk_schedule_release(&s);

	schedule(&s, "daily=1d:7,weekly=1w:4");
	t = bk_sched_next_ideal(&s, 0, T("2015-09-02T10:00:00Z"), &tags);
	assert_time(t, "2015-09-03T00:00:00Z");
	assert_tags(&tags, "daily");
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parses_all_units),
		cmocka_unit_test(test_duration_rejects_bad_input),
		cmocka_unit_test(test_duration_format_uses_shortest_exact_unit),
		cmocka_unit_test(test_spec_parses_default_schedule_sorted),
		cmocka_unit_test(test_spec_rejects_bad_items_with_clear_messages),
		cmocka_unit_test(test_yaml_schedule_parses_and_formats_round_trip),
		cmocka_unit_test(test_yaml_schedule_errors_name_file_and_line),
		cmocka_unit_test(test_spread_is_stable_and_even),
		cmocka_unit_test(test_next_tag_vector_2015),
		cmocka_unit_test(test_next_tag_is_strictly_after),
		cmocka_unit_test(test_weekly_lands_on_mondays),
		cmocka_unit_test(test_next_ideal_groups_tags_due_together),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
