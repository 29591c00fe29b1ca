/* test_schedule.c: schedule maths, catch-up, expiry and SLA (common/schedule.c). */
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
#include "schedule.h"
#include "strv.h"
#include "ydoc.h"

#define SEC BK_USEC
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)


/* ISO time to microseconds; the test fails on a typo. */
static int64_t T(const char *s)
{
	int64_t t = 0;

	assert_int_equal(bk_time_parse(s, &t), 0);
	return t;
}

static void assert_time(int64_t got, const char *want)
{
	char a[64], b[64];

	bk_time_format(got, a, sizeof(a), BK_TIME_ISO);
	bk_time_format(T(want), b, sizeof(b), BK_TIME_ISO);
	assert_string_equal(a, b);
	assert_true(got == T(want));
}

/* Compare a set with a comma-separated, sorted list ("" for empty). */
static void assert_tags(const struct bk_strv *s, const char *want)
{
	char got[512] = "";
	size_t len = 0;

	for (size_t i = 0; i < s->n; i++) {
		int r = snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "", s->v[i]);

		assert_true(r > 0 && (size_t)r < sizeof(got) - len);
		len += (size_t)r;
	}
	assert_string_equal(got, want);
}

static void schedule(struct bk_schedule *s, const char *spec)
{
	struct bk_err err = {0};

	memset(s, 0, sizeof(*s));
	assert_int_equal(bk_schedule_parse_spec(spec, s, &err), 0);
}

static void mkrev(struct bk_rev *r, int64_t ts, const char *tags, bool complete)
{
	static unsigned serial;

	bk_rev_init(r);
	snprintf(r->id, sizeof(r->id), "rev-%u", serial++);
	r->timestamp = ts;
	bk_strv_split(&r->tags, tags);
	r->complete = complete;
}

static void release_revs(struct bk_rev *revs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bk_rev_release(&revs[i]);
}

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

/* ---- next() and catch-up ---- */

static void test_next_empty_history_waits_for_ideal_with_all_tags(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	int64_t t;

	(void)state;
	schedule(&s, "daily=1d:5");
	t = bk_sched_next(&s, 1, NULL, 0, T("2015-09-01T07:06:47Z"), &tags);
	assert_time(t, "2015-09-02T00:00:01Z");
	assert_tags(&tags, "daily");
	bk_schedule_release(&s);

	schedule(&s, "daily=1d:7,weekly=1w:4");
	t = bk_sched_next(&s, 1, NULL, 0, T("2015-09-01T07:06:47Z"), &tags);
	assert_time(t, "2015-09-02T00:00:01Z");
	assert_tags(&tags, "daily,weekly");
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_catchup_runs_now_when_daily_missed(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r;
	int64_t now = T("2015-09-01T07:06:47Z"), t;

	(void)state;
	schedule(&s, "daily=1d:5");
	mkrev(&r, now - DAY * 16 / 10, "daily", true);
	t = bk_sched_next(&s, 1, &r, 1, now, &tags);
	assert_true(t == now);
	assert_tags(&tags, "daily");
	bk_rev_release(&r);

	/* an incomplete revision does not count as history */
	mkrev(&r, now - DAY * 16 / 10, "daily", false);
	t = bk_sched_next(&s, 1, &r, 1, now, &tags);
	assert_time(t, "2015-09-02T00:00:01Z");
	assert_tags(&tags, "daily");
	bk_rev_release(&r);

	/* a fresh daily: nothing missed, wait for the ideal time */
	mkrev(&r, now - HOUR, "daily", true);
	t = bk_sched_next(&s, 1, &r, 1, now, &tags);
	assert_time(t, "2015-09-02T00:00:01Z");
	assert_tags(&tags, "daily");
	bk_rev_release(&r);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_catchup_waits_within_grace(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r;
	int64_t t;

	(void)state;
	schedule(&s, "daily=1d:5");
	mkrev(&r, T("2015-09-01T07:06:47Z") - DAY * 16 / 10, "daily", true);
	t = bk_sched_next(&s, 1, &r, 1, T("2015-09-01T23:55:00Z"), &tags);
	assert_time(t, "2015-09-01T23:55:00Z");
	assert_tags(&tags, "daily");
	t = bk_sched_next(&s, 1, &r, 1, T("2015-09-01T23:55:01Z"), &tags);
	assert_time(t, "2015-09-02T00:00:01Z");
	assert_tags(&tags, "daily");
	bk_rev_release(&r);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_catchup_runs_only_missed_tags(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r[2];
	int64_t now = T("2015-09-03T12:00:00Z"), t;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	mkrev(&r[0], T("2015-09-01T00:00:00Z"), "daily,weekly", true);
	mkrev(&r[1], T("2015-09-03T00:00:00Z"), "daily", true);
	/* weekly is fresh, daily is fresh: wait for the next ideal */
	t = bk_sched_next(&s, 0, r, 2, now, &tags);
	assert_time(t, "2015-09-04T00:00:00Z");
	assert_tags(&tags, "daily");
	/* nine days later both are missed: now, with both */
	t = bk_sched_next(&s, 0, r, 2, now + 9 * DAY, &tags);
	assert_true(t == now + 9 * DAY);
	assert_tags(&tags, "daily,weekly");
	release_revs(r, 2);

	/* weekly missed, daily fresh: now, with weekly only */
	mkrev(&r[0], T("2015-08-20T00:00:00Z"), "daily,weekly", true);
	mkrev(&r[1], T("2015-09-03T00:00:00Z"), "daily", true);
	t = bk_sched_next(&s, 0, r, 2, now, &tags);
	assert_true(t == now);
	assert_tags(&tags, "weekly");
	/* within the grace period the missed tag joins the ideal run */
	t = bk_sched_next(&s, 0, r, 2, T("2015-09-03T23:56:00Z"), &tags);
	assert_time(t, "2015-09-04T00:00:00Z");
	assert_tags(&tags, "daily,weekly");
	release_revs(r, 2);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_missed_needs_a_complete_revision_newer_than_interval(void **state)
{
	struct bk_schedule s;
	struct bk_strv missed = BK_STRV_INIT;
	struct bk_rev r[3];
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	bk_sched_missed(&s, NULL, 0, now, &missed);
	assert_tags(&missed, "daily,weekly");

	mkrev(&r[0], now - 7 * DAY + 1, "weekly", true);
	mkrev(&r[1], now - DAY, "daily", true);
	mkrev(&r[2], now - HOUR, "daily", false);
	bk_sched_missed(&s, r, 3, now, &missed);
	assert_tags(&missed, "daily");
	r[1].timestamp = now - DAY + 1;
	bk_sched_missed(&s, r, 3, now, &missed);
	assert_tags(&missed, "");
	r[0].timestamp = now - 7 * DAY;
	bk_sched_missed(&s, r, 3, now, &missed);
	assert_tags(&missed, "weekly");
	release_revs(r, 3);
	bk_strv_release(&missed);
	bk_schedule_release(&s);
}

/* ---- due (the CLI rule) ---- */

static void test_due_empty_history_waits_for_first_ideal_with_all_tags(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r;
	int64_t created = T("2015-09-01T07:06:47Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	bk_sched_due(&s, 1, NULL, 0, created, created, &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 1, NULL, 0, created, T("2015-09-02T00:00:00Z"), &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 1, NULL, 0, created, T("2015-09-02T00:00:01Z") - 1, &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 1, NULL, 0, created, T("2015-09-02T00:00:01Z"), &tags);
	assert_tags(&tags, "daily,weekly");
	/* incomplete revisions are not history */
	mkrev(&r, T("2015-09-01T12:00:00Z"), "daily", false);
	bk_sched_due(&s, 1, &r, 1, created, T("2015-09-01T23:00:00Z"), &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 1, &r, 1, created, T("2015-09-02T03:00:00Z"), &tags);
	assert_tags(&tags, "daily,weekly");
	bk_rev_release(&r);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_due_when_ideal_time_passed_since_last_revision(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r[2];
	int64_t created = T("2015-08-01T00:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	mkrev(&r[0], T("2015-08-31T00:10:00Z"), "daily,weekly", true);
	mkrev(&r[1], T("2015-09-02T00:10:00Z"), "daily", true);
	bk_sched_due(&s, 1, r, 2, created, T("2015-09-02T12:00:00Z"), &tags);
	assert_tags(&tags, "");
	/* the daily ideal 00:00:01 has not come yet */
	bk_sched_due(&s, 1, r, 2, created, T("2015-09-03T00:00:00Z"), &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 1, r, 2, created, T("2015-09-03T00:00:01Z"), &tags);
	assert_tags(&tags, "daily");
	/* Monday: both ideal times passed */
	r[1].timestamp = T("2015-09-06T00:10:00Z");
	bk_sched_due(&s, 1, r, 2, created, T("2015-09-07T06:00:00Z"), &tags);
	assert_tags(&tags, "daily,weekly");
	/* a revision exactly at the ideal time satisfies it */
	r[1].timestamp = T("2015-09-03T00:00:01Z");
	bk_sched_due(&s, 1, r, 2, created, T("2015-09-03T06:00:00Z"), &tags);
	assert_tags(&tags, "");
	release_revs(r, 2);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_due_tags_are_joined_by_missed_ones(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r;
	int64_t created = T("2015-09-01T07:06:47Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	/* weekly: no revision and its last ideal (Monday) was before CREATED: missed, not due */
	mkrev(&r, T("2015-09-02T00:00:05Z"), "daily", true);
	bk_sched_due(&s, 0, &r, 1, created, T("2015-09-02T23:59:59Z"), &tags);
	assert_tags(&tags, "");
	bk_sched_due(&s, 0, &r, 1, created, T("2015-09-03T00:30:00Z"), &tags);
	assert_tags(&tags, "daily,weekly");
	bk_rev_release(&r);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

static void test_due_missed_tag_alone_runs_unless_within_grace(void **state)
{
	struct bk_schedule s;
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev r;
	int64_t created = T("2015-09-01T07:06:47Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	/* weekly has no revision and no ideal time passed since CREATED: missed, not due */
	mkrev(&r, T("2015-09-02T00:00:05Z"), "daily", true);
	bk_sched_due(&s, 0, &r, 1, created, T("2015-09-02T10:00:00Z"), &tags);
	assert_tags(&tags, "weekly");
	bk_sched_due(&s, 0, &r, 1, created, T("2015-09-02T23:55:00Z") - 1, &tags);
	assert_tags(&tags, "weekly");
	bk_sched_due(&s, 0, &r, 1, created, T("2015-09-02T23:55:00Z"), &tags);
	assert_tags(&tags, "");
	bk_rev_release(&r);
	bk_strv_release(&tags);
	bk_schedule_release(&s);
}

/* ---- expiry ---- */

struct history {
	struct bk_rev *revs;
	size_t n;
};

static void history_add(struct history *h, int64_t ts, const char *tags, bool complete)
{
	h->revs = realloc(h->revs, (h->n + 1) * sizeof(*h->revs));
	assert_non_null(h->revs);
	mkrev(&h->revs[h->n], ts, tags, complete);
	h->n++;
}

static void history_release(struct history *h)
{
	release_revs(h->revs, h->n);
	free(h->revs);
	h->revs = NULL;
	h->n = 0;
}

/*
 * Expire H at NOW and apply the result.  Checks the invariants: a schedule
 * tag is only removed from revisions older than NOW - K*I and not among the
 * newest K carriers, and incomplete revisions are never touched.
 */
static size_t expire_apply(const struct bk_schedule *s, struct history *h, int64_t now)
{
	struct bk_strv *newtags = calloc(h->n + 1, sizeof(*newtags));
	bool *remove = calloc(h->n + 1, sizeof(*remove));
	size_t kept = 0, removed = 0;

	assert_non_null(newtags);
	assert_non_null(remove);
	bk_expire(s, h->revs, h->n, now, newtags, remove);
	for (size_t i = 0; i < h->n; i++) {
		if (!h->revs[i].complete) {
			assert_false(remove[i]);
			assert_true(bk_strv_equal(&newtags[i], &h->revs[i].tags));
			continue;
		}
		assert_true(remove[i] == (newtags[i].n == 0));
		for (size_t j = 0; j < s->n; j++) {
			const struct bk_sched_tag *st = &s->tags[j];
			size_t newer = 0;

			if (!bk_strv_has(&h->revs[i].tags, st->name) ||
			    bk_strv_has(&newtags[i], st->name))
				continue;
			for (size_t k = i + 1; k < h->n; k++)
				newer += h->revs[k].complete && bk_strv_has(&h->revs[k].tags, st->name);
			assert_true(newer >= st->keep);
			assert_true(h->revs[i].timestamp < now - (int64_t)st->keep * st->interval * SEC);
		}
	}
	for (size_t i = 0; i < h->n; i++) {
		if (remove[i]) {
			bk_rev_release(&h->revs[i]);
			removed++;
		} else {
			bk_strv_copy(&h->revs[i].tags, &newtags[i]);
			h->revs[kept++] = h->revs[i];
		}
		bk_strv_release(&newtags[i]);
	}
	h->n = kept;
	free(newtags);
	free(remove);
	return removed;
}

static size_t count_tag(const struct history *h, const char *tag)
{
	size_t c = 0;

	for (size_t i = 0; i < h->n; i++)
		c += bk_strv_has(&h->revs[i].tags, tag);
	return c;
}

static void test_expire_keeps_young_revisions(void **state)
{
	struct bk_schedule s;
	struct history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:5");
	history_add(&h, now - 30 * DAY, "daily,unknown", false);   /* incomplete: untouched */
	history_add(&h, now - 10 * DAY, "daily,manual:test,unknown", true);
	history_add(&h, now - 6 * DAY, "daily", true);             /* older: loses the tag */
	history_add(&h, now - 5 * DAY + HOUR, "daily", true);      /* 6th, inside the window: stays */
	history_add(&h, now - 4 * DAY, "daily", true);
	history_add(&h, now - 3 * DAY, "daily", true);
	history_add(&h, now - 2 * DAY, "daily", true);
	history_add(&h, now - 1 * DAY, "daily", true);
	history_add(&h, now - HOUR, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 8);
	assert_tags(&h.revs[0].tags, "daily,unknown");
	assert_tags(&h.revs[1].tags, "manual:test");
	assert_true(h.revs[2].timestamp == now - 5 * DAY + HOUR);
	assert_tags(&h.revs[2].tags, "daily");
	assert_int_equal(count_tag(&h, "daily"), 7); /* 6 complete + the incomplete one */
	assert_tags(&h.revs[7].tags, "daily");
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_boundary_is_inclusive(void **state)
{
	struct bk_schedule s;
	struct history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:2");
	history_add(&h, now - 2 * DAY - 1, "daily", true);
	history_add(&h, now - 2 * DAY, "daily", true);
	history_add(&h, now - DAY, "daily", true);
	history_add(&h, now, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 3);
	assert_true(h.revs[0].timestamp == now - 2 * DAY);
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_keeps_newest_k_however_old(void **state)
{
	struct bk_schedule s;
	struct history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:3");
	for (int i = 0; i < 3; i++)
		history_add(&h, now - (100 - i) * DAY, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 0);
	assert_int_equal(h.n, 3);
	history_add(&h, now - 50 * DAY, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 3);
	assert_true(h.revs[0].timestamp == now - 99 * DAY);
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_drops_unscheduled_tags_and_empty_revisions(void **state)
{
	struct bk_schedule s;
	struct history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	history_add(&h, now - 3 * DAY, "hourly", true);
	history_add(&h, now - 2 * DAY, "", true);
	history_add(&h, now - 2 * DAY + 1, "hourly", false);
	history_add(&h, now - DAY, "daily,hourly,manual:keep,weekly", true);
	history_add(&h, now - HOUR, "manual:x", true);
	history_add(&h, now - MIN, "", false); /* running: no tags yet, never removed here */
	assert_int_equal(expire_apply(&s, &h, now), 2);
	assert_int_equal(h.n, 4);
	assert_tags(&h.revs[0].tags, "hourly");
	assert_false(h.revs[0].complete);
	assert_tags(&h.revs[1].tags, "daily,manual:keep,weekly");
	assert_tags(&h.revs[2].tags, "manual:x");
	assert_tags(&h.revs[3].tags, "");
	assert_false(h.revs[3].complete);
	history_release(&h);
	bk_schedule_release(&s);
}

/*
 * Sixty days of `backy backup` (no tags) every hour, each followed by an
 * expiry, for a job created on Monday 2024-01-01 00:00 with a spread of
 * 03:00:17.  The daily ideal passes at 03:00:17, so every day at 04:00 one
 * revision appears; Mondays carry daily and weekly.
 */
static void test_expire_scenario_60_days_daily_weekly(void **state)
{
	struct bk_schedule s;
	struct history h = {NULL, 0};
	struct bk_strv tags = BK_STRV_INIT;
	int64_t created = T("2024-01-01T00:00:00Z"), now = created, last = 0;
	int64_t spread = 3 * 3600 + 17;
	size_t backups = 0, removed = 0, weeklies = 0;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	for (int step = 1; step <= 60 * 24; step++) {
		now = created + step * HOUR;
		bk_sched_due(&s, spread, h.revs, h.n, created, now, &tags);
		if (!tags.n)
			continue;
		/* every backup is at 04:00, one per day */
		assert_int_equal((now - created) % DAY, 4 * HOUR);
		if (last)
			assert_true(now - last == DAY);
		last = now;
		if ((now - created) % (7 * DAY) == 4 * HOUR) {
			assert_tags(&tags, "daily,weekly");
			weeklies++;
		} else {
			assert_tags(&tags, "daily");
		}
		history_add(&h, now, "", true);
		bk_strv_copy(&h.revs[h.n - 1].tags, &tags);
		backups++;
		removed += expire_apply(&s, &h, now);
		/* retention: the newest K and everything within K*I */
		if (backups >= 8)
			assert_int_equal(count_tag(&h, "daily"), 8);
	}
	assert_int_equal(backups, 60);
	assert_int_equal(weeklies, 9); /* days 0, 7, ..., 56 */
	/* the last backup ran on day 59 (2024-02-29 04:00) */
	assert_time(last, "2024-02-29T04:00:00Z");
	/* dailies: days 52..59 (day 52 is exactly 7 days old, so it stays) */
	assert_int_equal(count_tag(&h, "daily"), 8);
	assert_time(h.revs[h.n - 8].timestamp, "2024-02-22T04:00:00Z");
	/* weeklies: Mondays 35, 42, 49, 56; day 28 fell out of the 28-day window */
	assert_int_equal(count_tag(&h, "weekly"), 4);
	assert_time(h.revs[0].timestamp, "2024-02-05T04:00:00Z");
	assert_int_equal(h.n, 11);
	assert_int_equal(removed, 49);
	/* nothing is due right after the last backup */
	bk_sched_due(&s, spread, h.revs, h.n, created, last + HOUR, &tags);
	assert_tags(&tags, "");
	bk_strv_release(&tags);
	history_release(&h);
	bk_schedule_release(&s);
}

/* ---- SLA ---- */

static void test_sla_boundary_36h(void **state)
{
	struct bk_schedule s;
	struct bk_rev r;
	int64_t now = T("2015-09-10T12:00:00Z"), overdue = -1;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	mkrev(&r, now - 36 * HOUR, "daily", true);
	assert_true(bk_sla_ok(&s, &r, 1, 0, now, &overdue));
	assert_int_equal(overdue, 0);
	assert_false(bk_sla_ok(&s, &r, 1, 0, now + SEC, &overdue));
	assert_int_equal(overdue, 1);
	assert_false(bk_sla_ok(&s, &r, 1, 0, now + 1, &overdue));
	assert_int_equal(overdue, 1);
	assert_false(bk_sla_ok(&s, &r, 1, 0, now + 2 * HOUR, &overdue));
	assert_int_equal(overdue, 7200);
	bk_rev_release(&r);
	bk_schedule_release(&s);
}

static void test_sla_uses_smallest_interval(void **state)
{
	struct bk_schedule s;
	struct bk_rev r;
	int64_t now = T("2015-09-10T12:00:00Z"), overdue = -1;

	(void)state;
	schedule(&s, "hourly=1h:24,daily=1d:7");
	mkrev(&r, now - 90 * MIN, "daily", true);
	assert_true(bk_sla_ok(&s, &r, 1, 0, now, &overdue));
	assert_false(bk_sla_ok(&s, &r, 1, 0, now + SEC, &overdue));
	assert_int_equal(overdue, 1);
	bk_rev_release(&r);
	bk_schedule_release(&s);
}

static void test_sla_ignores_incomplete_revisions(void **state)
{
	struct bk_schedule s;
	struct bk_rev r[2];
	int64_t now = T("2015-09-10T12:00:00Z"), overdue = -1;

	(void)state;
	schedule(&s, "daily=1d:7");
	mkrev(&r[0], now - 40 * HOUR, "daily", true);
	mkrev(&r[1], now - HOUR, "daily", false);
	assert_false(bk_sla_ok(&s, r, 2, 0, now, &overdue));
	assert_int_equal(overdue, 4 * 3600);
	/* only incomplete revisions: judged by CREATED */
	assert_true(bk_sla_ok(&s, &r[1], 1, now - 35 * HOUR, now, &overdue));
	assert_int_equal(overdue, 0);
	assert_false(bk_sla_ok(&s, &r[1], 1, now - 37 * HOUR, now, &overdue));
	assert_int_equal(overdue, 3600);
	release_revs(r, 2);
	bk_schedule_release(&s);
}

static void test_sla_empty_history_ok_only_while_young(void **state)
{
	struct bk_schedule s, empty = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z"), overdue = -1;

	(void)state;
	schedule(&s, "daily=1d:7");
	assert_true(bk_sla_ok(&s, NULL, 0, now - 36 * HOUR + 1, now, &overdue));
	assert_int_equal(overdue, 0);
	assert_false(bk_sla_ok(&s, NULL, 0, now - 36 * HOUR, now, &overdue));
	assert_false(bk_sla_ok(&s, NULL, 0, now - 40 * HOUR, now, &overdue));
	assert_int_equal(overdue, 4 * 3600);
	/* no schedule, nothing expected */
	assert_true(bk_sla_ok(&empty, NULL, 0, now - 400 * DAY, now, &overdue));
	assert_int_equal(overdue, 0);
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
		cmocka_unit_test(test_next_empty_history_waits_for_ideal_with_all_tags),
		cmocka_unit_test(test_catchup_runs_now_when_daily_missed),
		cmocka_unit_test(test_catchup_waits_within_grace),
		cmocka_unit_test(test_catchup_runs_only_missed_tags),
		cmocka_unit_test(test_missed_needs_a_complete_revision_newer_than_interval),
		cmocka_unit_test(test_due_empty_history_waits_for_first_ideal_with_all_tags),
		cmocka_unit_test(test_due_when_ideal_time_passed_since_last_revision),
		cmocka_unit_test(test_due_tags_are_joined_by_missed_ones),
		cmocka_unit_test(test_due_missed_tag_alone_runs_unless_within_grace),
		cmocka_unit_test(test_expire_keeps_young_revisions),
		cmocka_unit_test(test_expire_boundary_is_inclusive),
		cmocka_unit_test(test_expire_keeps_newest_k_however_old),
		cmocka_unit_test(test_expire_drops_unscheduled_tags_and_empty_revisions),
		cmocka_unit_test(test_expire_scenario_60_days_daily_weekly),
		cmocka_unit_test(test_sla_boundary_36h),
		cmocka_unit_test(test_sla_uses_smallest_interval),
		cmocka_unit_test(test_sla_ignores_incomplete_revisions),
		cmocka_unit_test(test_sla_empty_history_ok_only_while_young),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
