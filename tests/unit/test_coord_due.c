/*
 * test_coord_due.c: the coordinator and the CLI agree on what is due.
 *
 * One job is stepped through the same schedules twice: by the
 * coordinator's model (co_state with a config: co_take_due, co_start,
 * co_result, co_state_apply) and by the CLI's rule on a real revision
 * history, as `backy` does (bk_sched_next for `backy status`, bk_sched_due
 * for `backy backup` without tags).  After every event both must name the
 * same next time and tags, and at every dispatch the coordinator's tags
 * must be what `backy backup` would run at that instant.  The steps cover
 * a manual backup first, missed tags after a downtime, and grown, shrunk
 * and replaced schedules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "coord_fixture.h"
#include "schedule.h"
#include "state.h"

#define MIN (60 * BK_USEC)
#define H (3600 * BK_USEC)
#define D (24 * H)
#define RUN_TIME (10 * MIN) /* how long every backup takes */

#define YAML_HEAD                                                                                  \
	"schedules:\n"                                                                             \
	"  s:\n"
#define YAML_TAIL                                                                                  \
	"jobs:\n"                                                                                  \
	"  vm01: {schedule: s, source: {type: file, filename: /img/vm01}}\n"                       \
	"hosts: [b1]\n"                                                                            \
	"state-file: /tmp/x/state\n"

static const char *const daily_weekly = YAML_HEAD
	"    daily: {interval: 1d, keep: 7}\n"
	"    weekly: {interval: 1w, keep: 4}\n" YAML_TAIL;
static const char *const grown = YAML_HEAD
	"    daily: {interval: 1d, keep: 7}\n"
	"    weekly: {interval: 1w, keep: 4}\n"
	"    monthly: {interval: 30d, keep: 3}\n" YAML_TAIL;
static const char *const shrunk = YAML_HEAD
	"    daily: {interval: 1d, keep: 7}\n" YAML_TAIL;
static const char *const replaced = YAML_HEAD
	"    hourly: {interval: 6h, keep: 4}\n" YAML_TAIL;

/* The two sides: the coordinator's model, and a repository as the CLI sees it. */
struct pair {
	struct co_config cfg[8]; /* every config applied so far (the state borrows the last) */
	int ncfg;
	struct co_state st;
	uint32_t job;
	const struct bk_schedule *sched; /* the repository's schedule (the job's) */
	struct bk_rev revs[256];
	size_t n;
	int64_t created;
	int64_t now;   /* time of the last event */
	int64_t event; /* idem, for the "nothing due before" checks */
	int steps;
};

static int64_t t_parse(const char *s)
{
	int64_t t;

	assert_int_equal(bk_time_parse(s, &t), 0);
	return t;
}

static const struct co_job *job(const struct pair *p)
{
	return &p->st.jobs[p->job];
}

static void apply(struct pair *p, const char *yaml, int64_t now)
{
	struct co_config *c;
	const struct co_job *j;

	assert_true(p->ncfg < 8);
	c = &p->cfg[p->ncfg++];
	parse_ok(yaml, c);
	co_state_apply(&p->st, c, now);
	j = co_job_find(&p->st, "vm01");
	assert_non_null(j);
	p->job = (uint32_t)(j - p->st.jobs);
	p->sched = &j->sched->s; /* `backy` reads the same schedule from its config */
	p->now = p->event = now;
}

static void pair_init(struct pair *p, int64_t created)
{
	memset(p, 0, sizeof(*p));
	co_state_init(&p->st);
	p->created = created;
	apply(p, daily_weekly, created);
}

static void pair_release(struct pair *p)
{
	for (size_t i = 0; i < p->n; i++)
		bk_rev_release(&p->revs[i]);
	co_state_release(&p->st);
	for (int i = 0; i < p->ncfg; i++)
		co_config_release(&p->cfg[i]);
}

static int64_t spread(const struct pair *p)
{
	return bk_schedule_spread("vm01", p->sched);
}

static char *joined(const struct bk_strv *v)
{
	struct bk_buf b;

	bk_buf_init(&b);
	bk_strv_join(v, ",", &b);
	return b.p;
}

static void fail_at(const struct pair *p, const char *what, int64_t t, const char *co,
		    const char *cli)
{
	char when[64];

	bk_time_format(t, when, sizeof(when), BK_TIME_DISPLAY);
	fail_msg("step %d at %s: %s: coordinator '%s', backy '%s'", p->steps, when, what, co, cli);
}

/* After an event at p->now: `backy status` and the coordinator's plan agree. */
static void check_plan(struct pair *p)
{
	struct bk_strv tags = BK_STRV_INIT;
	const struct co_job *j = job(p);
	int64_t t = bk_sched_next(p->sched, spread(p), p->revs, p->n, p->now, &tags);
	char *cli = joined(&tags);
	char a[64], b[64];

	if (t != j->next_time) {
		bk_time_format(j->next_time, a, sizeof(a), BK_TIME_DISPLAY);
		bk_time_format(t, b, sizeof(b), BK_TIME_DISPLAY);
		fail_at(p, "next time", p->now, a, b);
	}
	if (strcmp(cli, j->next_tags ? j->next_tags : ""))
		fail_at(p, "next tags", p->now, j->next_tags, cli);
	free(cli);
	bk_strv_release(&tags);
}

/* Record a revision at T with TAGS in the repository (oldest first: T is the newest). */
static void add_rev(struct pair *p, int64_t t, const char *tags)
{
	struct bk_rev *r = &p->revs[p->n++];

	assert_true(p->n <= sizeof(p->revs) / sizeof(p->revs[0]));
	bk_rev_init(r);
	snprintf(r->id, sizeof(r->id), "rev%03zu", p->n);
	r->timestamp = t;
	r->complete = true;
	r->duration = (double)RUN_TIME / BK_USEC;
	bk_strv_split(&r->tags, tags);
}

/* The worker's good result for the backup in flight, started at T and RUN_TIME long. */
static void finish(struct pair *p, int64_t t)
{
	const struct co_run *run = &job(p)->run[CO_RUN_BACKUP];
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_msg_result r;
	uint32_t id = 0;

	assert_true(run->active);
	bk_msg_result_init(&r);
	snprintf(r.job_id, sizeof(r.job_id), "%s", run->id);
	snprintf(r.job, sizeof(r.job), "vm01");
	snprintf(r.host, sizeof(r.host), "%s", co_run_host(&p->st, run));
	r.action = BK_ACTION_BACKUP;
	r.outcome = BK_OUTCOME_OK;
	bk_strv_split(&r.tags, run->tags);
	r.started = t;
	r.finished = t + RUN_TIME;
	add_rev(p, t, run->tags);
	bk_msg_routing_key_result(&r, key);
	assert_int_equal(co_result(&p->st, &r, key, t + RUN_TIME, &id), CO_RESULT_EXPIRE);
	bk_msg_result_release(&r);
	p->now = p->event = t + RUN_TIME;
	p->steps++;
	check_plan(p);
}

/*
 * The coordinator dispatches at AT (its planned time, or later after a
 * downtime of ours): `backy backup` run by cron at AT picks the same tags,
 * and found nothing due between the last event and the planned time.
 */
static void run_due(struct pair *p, int64_t at)
{
	struct bk_strv tags = BK_STRV_INIT;
	const struct co_run *run = NULL;
	int64_t planned = job(p)->next_time;
	uint32_t ids[4];
	char *cli;

	if (planned > p->event) {
		bk_sched_due(p->sched, spread(p), p->revs, p->n, p->created, planned - 1, &tags);
		cli = joined(&tags);
		if (tags.n)
			fail_at(p, "due before the planned time", planned - 1, "", cli);
		free(cli);
		assert_int_equal(co_take_due(&p->st, planned - 1, ids, 4), 0);
	}
	assert_true(at >= planned);
	assert_int_equal(co_take_due(&p->st, at, ids, 4), 1);
	assert_int_equal(ids[0], p->job);
	assert_int_equal(co_start(&p->st, p->job, CO_RUN_BACKUP, at, &run), 0);
	bk_sched_due(p->sched, spread(p), p->revs, p->n, p->created, at, &tags);
	cli = joined(&tags);
	if (strcmp(cli, run->tags))
		fail_at(p, "dispatched tags", at, run->tags, cli);
	free(cli);
	bk_strv_release(&tags);
	finish(p, at);
}

/* Run what is planned, at the planned time. */
static void run_next(struct pair *p)
{
	run_due(p, job(p)->next_time);
}

/* A manual backup at AT with TAGS: `backyctl run` for the coordinator, `backy backup TAGS`. */
static void run_manual(struct pair *p, int64_t at, const char *tags)
{
	struct bk_strv v = BK_STRV_INIT;
	struct bk_err err = {0};
	const struct co_run *run = NULL;
	uint32_t ids[4];

	bk_strv_split(&v, tags);
	assert_int_equal(co_request_run(&p->st, "vm01", &v, at, &err), 0);
	bk_strv_release(&v);
	assert_int_equal(co_take_due(&p->st, at, ids, 4), 1);
	assert_int_equal(co_start(&p->st, p->job, CO_RUN_BACKUP, at, &run), 0);
	assert_string_equal(run->tags, tags);
	finish(p, at);
}

/* The configuration (coordinator) and the repository config (CLI) get a new schedule at AT. */
static void reschedule(struct pair *p, const char *yaml, int64_t at)
{
	apply(p, yaml, at);
	p->steps++;
	check_plan(p);
}

static bool tag_in(const char *list, const char *tag)
{
	struct bk_strv v = BK_STRV_INIT;
	bool has;

	bk_strv_split(&v, list ? list : "");
	has = bk_strv_has(&v, tag);
	bk_strv_release(&v);
	return has;
}

static void test_new_job_waits_for_the_first_ideal_time(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	check_plan(&p);
	assert_true(job(&p)->next_time > p.created);
	assert_string_equal(job(&p)->next_tags, "daily,weekly");
	for (int i = 0; i < 20; i++)
		run_next(&p);
	pair_release(&p);
}

/* The bug of issue 11: the coordinator waited a day and dispatched nothing. */
static void test_first_manual_backup_catches_up_missed_tags(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	check_plan(&p);
	run_manual(&p, p.created + H, CO_DEFAULT_MANUAL_TAG);
	assert_int_equal(job(&p)->next_time, p.now); /* catch-up: now */
	assert_string_equal(job(&p)->next_tags, "daily,weekly");
	run_next(&p);
	assert_true(job(&p)->next_time > p.now);
	for (int i = 0; i < 20; i++)
		run_next(&p);
	pair_release(&p);
}

/* The catch-up waits for the expiry the manual backup started: the worker would refuse it. */
static void test_catch_up_waits_for_the_expiry_in_flight(void **state)
{
	const struct co_run *run = NULL;
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_msg_result r;
	struct pair p;
	uint32_t ids[4], id = 0;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	run_manual(&p, p.created + H, CO_DEFAULT_MANUAL_TAG);
	assert_int_equal(co_start(&p.st, p.job, CO_RUN_EXPIRE, p.now, &run), 0);
	assert_int_equal(co_take_due(&p.st, p.now + H, ids, 4), 0);
	bk_msg_result_init(&r);
	snprintf(r.job_id, sizeof(r.job_id), "%s", run->id);
	snprintf(r.job, sizeof(r.job), "vm01");
	snprintf(r.host, sizeof(r.host), "%s", co_run_host(&p.st, run));
	r.action = BK_ACTION_EXPIRE;
	r.outcome = BK_OUTCOME_OK;
	r.started = p.now;
	r.finished = p.now + MIN;
	bk_msg_routing_key_result(&r, key);
	assert_int_equal(co_result(&p.st, &r, key, p.now + MIN, &id), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	/* due since the manual backup ended: taken at once, with the catch-up tags */
	run_due(&p, p.now + MIN);
	assert_string_equal(job(&p)->last_tags, "daily,weekly");
	pair_release(&p);
}

static void test_first_manual_backup_with_a_schedule_tag(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	run_manual(&p, p.created + 5 * MIN, "daily");
	assert_string_equal(job(&p)->next_tags, "weekly");
	for (int i = 0; i < 10; i++)
		run_next(&p);
	/* manual runs in between change nothing the two disagree on */
	run_manual(&p, p.now + 3 * H, "manual:before-upgrade");
	run_manual(&p, p.now + H, "daily,manual:x");
	for (int i = 0; i < 10; i++)
		run_next(&p);
	pair_release(&p);
}

static void test_downtime_catches_up_missed_tags(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	for (int i = 0; i < 5; i++)
		run_next(&p);
	/* the coordinator (or cron) was down for 9 days: daily and weekly are missed */
	run_due(&p, job(&p)->next_time + 9 * D + 3 * H);
	assert_true(tag_in(job(&p)->last_tags, "weekly"));
	for (int i = 0; i < 10; i++)
		run_next(&p);
	/* a shorter one: a day and a bit */
	run_due(&p, job(&p)->next_time + D + 2 * H);
	for (int i = 0; i < 10; i++)
		run_next(&p);
	pair_release(&p);
}

static void test_grown_shrunk_and_replaced_schedules(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, t_parse("2026-03-04T10:17:00Z"));
	for (int i = 0; i < 4; i++)
		run_next(&p);
	/* grown: monthly is missed at once and caught up */
	reschedule(&p, grown, p.now + 2 * H);
	assert_true(tag_in(job(&p)->next_tags, "monthly"));
	for (int i = 0; i < 40; i++)
		run_next(&p);
	/* shrunk: weekly and monthly go */
	reschedule(&p, shrunk, p.now + 5 * H);
	assert_string_equal(job(&p)->next_tags, "daily");
	for (int i = 0; i < 10; i++)
		run_next(&p);
	/* grown again: weekly comes back, its old revisions still count */
	reschedule(&p, grown, p.now + H);
	for (int i = 0; i < 10; i++)
		run_next(&p);
	/* replaced: no revision carries a tag of the new schedule, but there is history */
	reschedule(&p, replaced, p.now + 30 * MIN);
	assert_int_equal(job(&p)->next_time, p.now);
	assert_string_equal(job(&p)->next_tags, "hourly");
	for (int i = 0; i < 20; i++)
		run_next(&p);
	pair_release(&p);
}

/* The same steps with many creation times: spreads and ideal times fall everywhere. */
static void test_many_start_times(void **state)
{
	int64_t base = t_parse("2026-03-02T00:00:00Z");

	(void)state;
	for (int k = 0; k < 48; k++) {
		struct pair p;

		pair_init(&p, base + k * (7 * H + 13 * MIN));
		if (k % 2)
			run_manual(&p, p.created + (k % 5) * H + MIN, CO_DEFAULT_MANUAL_TAG);
		for (int i = 0; i < 8; i++)
			run_next(&p);
		if (k % 3 == 0)
			run_due(&p, job(&p)->next_time + (k % 4 + 1) * D);
		reschedule(&p, k % 2 ? grown : shrunk, p.now + (k % 7) * H);
		for (int i = 0; i < 8; i++)
			run_next(&p);
		pair_release(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_job_waits_for_the_first_ideal_time),
		cmocka_unit_test(test_first_manual_backup_catches_up_missed_tags),
		cmocka_unit_test(test_catch_up_waits_for_the_expiry_in_flight),
		cmocka_unit_test(test_first_manual_backup_with_a_schedule_tag),
		cmocka_unit_test(test_downtime_catches_up_missed_tags),
		cmocka_unit_test(test_grown_shrunk_and_replaced_schedules),
		cmocka_unit_test(test_many_start_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
