/* test_schedule_due.c: when a job is due (common/schedule.c): next() and catch-up, due() as the CLI uses it, and the SLA. */
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
		cmocka_unit_test(test_next_empty_history_waits_for_ideal_with_all_tags),
		cmocka_unit_test(test_catchup_runs_now_when_daily_missed),
		cmocka_unit_test(test_catchup_waits_within_grace),
		cmocka_unit_test(test_catchup_runs_only_missed_tags),
		cmocka_unit_test(test_missed_needs_a_complete_revision_newer_than_interval),
		cmocka_unit_test(test_due_empty_history_waits_for_first_ideal_with_all_tags),
		cmocka_unit_test(test_due_when_ideal_time_passed_since_last_revision),
		cmocka_unit_test(test_due_tags_are_joined_by_missed_ones),
		cmocka_unit_test(test_due_missed_tag_alone_runs_unless_within_grace),
		cmocka_unit_test(test_sla_boundary_36h),
		cmocka_unit_test(test_sla_uses_smallest_interval),
		cmocka_unit_test(test_sla_ignores_incomplete_revisions),
		cmocka_unit_test(test_sla_empty_history_ok_only_while_young),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
