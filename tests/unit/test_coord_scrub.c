/*
 * test_coord_scrub.c: the scrub schedule of the coordinator's model
 * (coordinator/scrub.h) without a broker: the config, verify jobs in daily
 * slices that re-read every revision within the period, never at once with
 * a backup of the same job, results under the trust rules, manual verifies,
 * status and metrics, and the state file.
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
#include "state.h"

#define H (3600 * BK_USEC)
#define D (24 * H)

static const char base_yaml[] =
	"schedules:\n"
	"  default:\n"
	"    daily: {interval: 1d, keep: 7}\n"
	"jobs:\n"
	"  vm01: {schedule: default, source: {type: file, filename: /img/vm01}}\n"
	"  vm02: {schedule: default, host: b2, source: {type: rbd, pool: rbd, image: vm02}}\n"
	"hosts: [b1, b2]\n"
	"job-timeout: 2h\n";

/* The scrub tests' config: base_yaml followed by EXTRA, in Y. */
static const char *with_base(const char *extra, char y[2048])
{
	snprintf(y, 2048, "%s%s", base_yaml, extra);
	return y;
}

static void parse_extra_ok(const char *extra, struct co_config *c)
{
	char y[2048];

	parse_ok(with_base(extra, y), c);
}

static void expect_config_error(const char *extra, const char *needle)
{
	char y[2048];

	expect_error(with_base(extra, y), needle);
}

/* The result of the run of KIND of J with OUTCOME (error CODE unless ok). */
static void make_result(struct bk_msg_result *r, const struct co_state *st, const struct co_job *j,
			enum co_run_kind k, int64_t now, enum bk_msg_outcome outcome,
			const char *code)
{
	static const enum bk_msg_action act[] = {BK_ACTION_BACKUP, BK_ACTION_EXPIRE,
						 BK_ACTION_VERIFY};

	bk_msg_result_init(r);
	snprintf(r->job_id, sizeof(r->job_id), "%s", j->run[k].id);
	snprintf(r->job, sizeof(r->job), "%s", j->name);
	snprintf(r->host, sizeof(r->host), "%s", st->hosts[j->run[k].host]);
	r->action = act[k];
	r->outcome = outcome;
	if (outcome != BK_OUTCOME_OK)
		bk_msg_result_set_error(r, code, "boom", false);
	r->started = now;
	r->finished = now + BK_USEC;
}

static enum co_result deliver(struct co_state *st, const struct bk_msg_result *r, int64_t now)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	uint32_t id;

	bk_msg_routing_key_result(r, key);
	return co_result(st, r, key, now, &id);
}

static uint32_t idx(const struct co_state *st, const struct co_job *j)
{
	return (uint32_t)(j - st->jobs);
}

/* Run J's due backup at its time and answer it (no expiry): the job is idle after. */
static void backup_done(struct co_state *st, struct co_job *j)
{
	struct bk_msg_job m;
	struct bk_msg_result r;
	int64_t now = j->next_time;

	bk_msg_job_init(&m);
	assert_int_equal(start_msg(st, idx(st, j), CO_RUN_BACKUP, now, &m), 0);
	make_result(&r, st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK, NULL);
	assert_int_equal(deliver(st, &r, now), CO_RESULT_EXPIRE);
	bk_msg_result_release(&r);
	bk_msg_job_release(&m);
}

static void test_config_scrub_defaults_and_errors(void **state)
{
	struct co_config c;

	(void)state;
	parse_extra_ok("", &c);
	assert_int_equal(c.scrub_period, 30 * 86400);
	assert_int_equal(c.scrub_slice, 86400);
	co_config_release(&c);
	parse_extra_ok("scrub: {period: 2w, slice: 12h}\n", &c);
	assert_int_equal(c.scrub_period, 14 * 86400);
	assert_int_equal(c.scrub_slice, 12 * 3600);
	co_config_release(&c);
	parse_extra_ok("scrub: {period: 0}\n", &c);
	assert_int_equal(c.scrub_period, 0);
	co_config_release(&c);
	expect_config_error("scrub: {period: 1d, slice: 2d}\n",
			    "'scrub.slice' must not be longer than 'scrub.period'");
	expect_config_error("scrub: {period: soon}\n",
			    "'scrub.period' must be a positive duration");
	expect_config_error("scrub: {perod: 1d}\n", "perod");
	expect_config_error("scrub: 30d\n", "'scrub' must be a map");
}

/*
 * Every slice each job gets a verify job for the revisions not found
 * intact for period - slice - slice/8: run daily, no revision goes longer
 * than the period without a re-read.
 */
static void test_slices_reread_everything_within_the_period(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_msg_result r;
	struct bk_err err = {0};
	struct bk_buf b;
	uint32_t ids[8];
	int64_t now = t0(), first[2];
	int verifies[2] = {0, 0}, slots[2] = {0, 0};

	(void)state;
	parse_extra_ok("", &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	bk_buf_init(&b);
	co_state_apply(&st, &c, now);
	for (int k = 0; k < 2; k++) {
		const struct co_job *j = &st.jobs[k];

		first[k] = j->scrub.next;
		assert_int_equal(first[k], co_scrub_ideal(j->spread, 86400, now));
		assert_true(first[k] > now && first[k] <= now + D);
		/* half a slice away from the job's backups */
		assert_int_equal(((first[k] - j->next_time) % D + D) % D, D / 2);
	}
	/* 30 simulated days in steps of an hour: backups and verifies answered at once */
	for (int64_t t = now; t < now + 30 * D; t += H) {
		size_t n;

		n = co_take_due(&st, t, ids, 8);
		for (size_t i = 0; i < n; i++) {
			struct co_job *j = &st.jobs[ids[i]];

			assert_int_equal(start_msg(&st, ids[i], CO_RUN_BACKUP, t, &m), 0);
			make_result(&r, &st, j, CO_RUN_BACKUP, t, BK_OUTCOME_OK, NULL);
			if (deliver(&st, &r, t) == CO_RESULT_EXPIRE) {
				assert_int_equal(start_msg(&st, ids[i], CO_RUN_EXPIRE, t, &m), 0);
				bk_msg_result_release(&r);
				make_result(&r, &st, j, CO_RUN_EXPIRE, t, BK_OUTCOME_OK, NULL);
				assert_int_equal(deliver(&st, &r, t), CO_RESULT_DONE);
			}
			bk_msg_result_release(&r);
		}
		n = co_take_scrub_due(&st, t, ids, 8);
		for (size_t i = 0; i < n; i++) {
			struct co_job *j = &st.jobs[ids[i]];
			const struct co_run *run = NULL;

			if (!j->last_time) {
				/* before the first backup: no repository, the slice is skipped */
				assert_int_equal(co_scrub_start(&st, ids[i], t, &run), BK_ENOREV);
				slots[ids[i]]++;
				continue;
			}
			assert_int_equal(co_scrub_start(&st, ids[i], t, &run), 0);
			co_run_message(&st, ids[i], CO_RUN_VERIFY, t, &m);
			assert_int_equal(m.action, BK_ACTION_VERIFY);
			assert_int_equal(m.older_than, 29 * 86400 - 3 * 3600);
			assert_int_equal(m.source.type, BK_SOURCE_NONE);
			assert_int_equal(m.schedule.n, 0);
			assert_string_equal(m.host, st.hosts[j->host]);
			bk_buf_reset(&b);
			assert_int_equal(bk_msg_encode_job(&m, &b, &err), 0); /* proto accepts it */
			/* each slice on its own day, at the job's offset */
			assert_true(t >= first[ids[i]] + slots[ids[i]] * D &&
				    t < first[ids[i]] + slots[ids[i]] * D + H);
			verifies[ids[i]]++;
			slots[ids[i]]++;
			make_result(&r, &st, j, CO_RUN_VERIFY, t, BK_OUTCOME_OK, NULL);
			r.has_verify = true;
			r.verify.checked = 1;
			assert_int_equal(deliver(&st, &r, t), CO_RESULT_DONE);
			bk_msg_result_release(&r);
			assert_int_equal(j->scrub.last_ok, t);
			assert_int_equal(j->scrub.next, first[ids[i]] + slots[ids[i]] * D);
		}
	}
	/* one a day, after the first backup */
	for (int k = 0; k < 2; k++) {
		assert_int_equal(slots[k], 30);
		assert_true(verifies[k] >= 29);
		assert_int_equal(st.jobs[k].scrub.checked_total, (uint32_t)verifies[k]);
	}
	assert_int_equal(st.c.dispatched[CO_RUN_VERIFY], (uint64_t)(verifies[0] + verifies[1]));
	bk_buf_release(&b);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
}

/* A backup and a verify of one job never run at once, and a verify never delays a backup. */
static void test_verify_keeps_out_of_the_way_of_backups(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_msg_result r;
	const struct co_run *run = NULL;
	uint32_t ids[8], i;
	struct co_job *j;
	int64_t now;

	(void)state;
	parse_extra_ok("", &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm01");
	i = idx(&st, j);

	/* no backup yet: nothing to verify, the slice is skipped */
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, i, now, &run), BK_ENOREV);
	assert_false(j->run[CO_RUN_VERIFY].active);
	assert_int_equal(j->scrub.next, now + D);
	backup_done(&st, j);

	/* a backup in flight: the verify is deferred by an hour, nothing dispatched */
	now = j->next_time;
	assert_int_equal(start_msg(&st, i, CO_RUN_BACKUP, now, &m), 0);
	assert_int_equal(co_scrub_start(&st, i, now, &run), BK_ELOCKED);
	assert_false(j->run[CO_RUN_VERIFY].active);
	assert_int_equal(j->scrub.next, now + CO_SCRUB_RETRY);
	assert_int_equal(st.c.scrubs_deferred, 1);
	make_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK, NULL);
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_EXPIRE);
	bk_msg_result_release(&r);

	/* the next backup less than CO_SCRUB_MARGIN away: deferred too */
	now = j->next_time - CO_SCRUB_MARGIN + BK_USEC;
	assert_int_equal(co_scrub_start(&st, i, now, &run), BK_ELOCKED);
	assert_int_equal(st.c.scrubs_deferred, 2);

	/* room: the verify starts; meanwhile the backup is not due and an expiry refused */
	now = j->next_time - 12 * H;
	assert_int_equal(co_scrub_start(&st, i, now, &run), 0);
	assert_true(j->run[CO_RUN_VERIFY].active);
	assert_false(co_heap_has(&st.due, i));
	assert_false(co_heap_has(&st.scrub, i));
	assert_true(co_heap_has(&st.dl, i));
	assert_int_equal(co_start(&st, i, CO_RUN_EXPIRE, now, NULL), BK_ELOCKED);
	assert_int_equal(co_scrub_start(&st, i, now, &run), BK_ELOCKED); /* one at a time */
	/* it overruns past the backup's time: the backup waits for its result, then goes */
	now = j->next_time + H;
	{
		size_t n = co_take_due(&st, now, ids, 8);

		for (size_t k = 0; k < n; k++)
			assert_int_not_equal(ids[k], i);
	}
	make_result(&r, &st, j, CO_RUN_VERIFY, now, BK_OUTCOME_OK, NULL);
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_int_equal(co_take_due(&st, now, ids, 8), 1);
	assert_int_equal(ids[0], i);
	assert_true(co_heap_has(&st.scrub, i));

	/* a manual backup pending keeps a verify away too */
	assert_int_equal(start_msg(&st, i, CO_RUN_BACKUP, now, &m), 0);
	make_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK, NULL);
	deliver(&st, &r, now);
	bk_msg_result_release(&r);
	assert_int_equal(co_request_run(&st, "vm01", &(struct bk_strv)BK_STRV_INIT, now, NULL), 0);
	assert_int_equal(co_scrub_start(&st, i, now + 2 * H, &run), BK_ELOCKED);

	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
}

/*
 * Verify results count under the trust rules of co_result(); damage found is
 * a finding, not a failure; the distrusted revisions are kept for status.
 */
static void test_verify_results_findings_and_failures(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_result r;
	const struct co_run *run = NULL;
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_buf b;
	struct co_job *j;
	uint32_t i, id;
	int64_t now;

	(void)state;
	parse_extra_ok("", &c);
	co_state_init(&st);
	bk_buf_init(&b);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm02");
	i = idx(&st, j);
	backup_done(&st, j);
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, i, now, &run), 0);

	/* from another host, or under another routing key: dropped, the run stays */
	make_result(&r, &st, j, CO_RUN_VERIFY, now, BK_OUTCOME_FAILED, "BK_EVERIFY");
	r.has_verify = true;
	r.verify.checked = 3;
	r.verify.distrusted = 1;
	bk_strv_add(&r.verify.revisions, "Vy8kLgX5mFjnYcE9p6tWwR");
	snprintf(r.host, sizeof(r.host), "b1");
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_WRONG_HOST);
	snprintf(r.host, sizeof(r.host), "b2");
	r.action = BK_ACTION_BACKUP;
	bk_msg_routing_key_result(&r, key);
	r.action = BK_ACTION_VERIFY;
	assert_int_equal(co_result(&st, &r, key, now, &id), CO_RESULT_ROUTING_KEY);
	assert_true(j->run[CO_RUN_VERIFY].active);
	assert_int_equal(j->scrub.found_total, 0);

	/* the genuine one: a finding */
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_false(j->run[CO_RUN_VERIFY].active);
	assert_int_equal(j->scrub.fails, 0);
	assert_int_equal(j->scrub.last_ok, now);
	assert_int_equal(j->scrub.checked, 3);
	assert_int_equal(j->scrub.found_total, 1);
	assert_string_equal(j->scrub.bad, "Vy8kLgX5mFjnYcE9p6tWwR");
	assert_int_equal(co_scrub_bad_count(&j->scrub), 1);
	assert_null(j->last_error); /* the backups are fine */
	assert_string_equal(co_job_status(j), "finished");

	/* status and metrics show it */
	co_status_json(&st, now, "active", &b);
	assert_non_null(strstr(b.p, "\"distrusted\":\"Vy8kLgX5mFjnYcE9p6tWwR\""));
	assert_non_null(strstr(b.p, "\"distrusted_found\":1"));
	bk_buf_reset(&b);
	co_metrics(&st, now, true, &b);
	assert_non_null(strstr(b.p, "backy_scrub_distrusted_revisions{job=\"vm02\"} 1\n"));
	assert_non_null(strstr(b.p, "backy_scrub_revisions_checked_total{job=\"vm02\"} 3\n"));
	assert_non_null(strstr(b.p, "backy_coordinator_jobs_in_flight{action=\"verify\"} 0\n"));

	/* a failure (not a finding): counted, the list stays, the next slice as planned */
	backup_done(&st, j);
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, i, now, &run), 0);
	make_result(&r, &st, j, CO_RUN_VERIFY, now, BK_OUTCOME_FAILED, "EIO");
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_int_equal(j->scrub.fails, 1);
	assert_int_equal(j->scrub.fails_total, 1);
	assert_int_equal(j->scrub.last_ok, now - D);
	assert_string_equal(j->scrub.bad, "Vy8kLgX5mFjnYcE9p6tWwR");
	assert_int_equal(j->scrub.next, now + D);
	bk_buf_reset(&b);
	co_metrics(&st, now, true, &b);
	assert_non_null(strstr(b.p, "backy_scrub_failures_total{job=\"vm02\"} 1\n"));

	/* the operator forgot the revision: the next verify lists none */
	backup_done(&st, j);
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, i, now, &run), 0);
	make_result(&r, &st, j, CO_RUN_VERIFY, now, BK_OUTCOME_OK, NULL);
	r.has_verify = true;
	r.verify.checked = 1;
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_null(j->scrub.bad);
	assert_int_equal(j->scrub.fails, 0);
	assert_int_equal(j->scrub.checked_total, 4);

	bk_buf_release(&b);
	co_state_release(&st);
	co_config_release(&c);
}

/* backyctl verify: a full verify at the next tick; the slices go on after it. */
static void test_manual_verify_checks_everything_now(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_err err = {0};
	const struct co_run *run = NULL;
	uint32_t ids[8];
	struct co_job *j;
	int64_t now = t0() + 3 * H;

	(void)state;
	parse_extra_ok("scrub: {period: 0}\n", &c); /* even with scheduled scrubs off */
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm01");
	assert_int_equal(j->scrub.next, 0);
	assert_int_equal(co_take_scrub_due(&st, t0() + 60 * D, ids, 8), 0);
	assert_int_equal(co_request_verify(&st, "nope", now, &err), BK_EUSAGE);
	assert_int_equal(co_request_verify(&st, "vm01", now, &err), 0);
	assert_int_equal(co_take_scrub_due(&st, now, ids, 8), 1);
	assert_int_equal(co_scrub_start(&st, ids[0], now, &run), 0);
	co_run_message(&st, ids[0], CO_RUN_VERIFY, now, &m);
	assert_int_equal(m.older_than, 0); /* every revision */
	assert_int_equal(run->older_than, 0);
	assert_false(j->scrub.manual);
	/* a re-dispatch asks for the same (the worker's job digest) */
	co_redispatch(&st, ids[0], CO_RUN_VERIFY, now + 3 * H);
	co_run_message(&st, ids[0], CO_RUN_VERIFY, now + 3 * H, &m);
	assert_int_equal(m.older_than, 0);
	assert_int_equal(m.attempt, 2);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
}

/* The scrub and a verify in flight survive a restart (state file) and the journal. */
static void test_scrub_state_survives_restarts(void **state)
{
	struct co_config c;
	struct co_state st, st2;
	struct bk_msg_result r;
	const struct co_run *run = NULL;
	struct bk_err err = {0};
	struct bk_buf b;
	struct co_job *j, *j2;
	int64_t now;

	(void)state;
	parse_extra_ok("scrub: {period: 10d, slice: 1d}\n", &c);
	co_state_init(&st);
	bk_buf_init(&b);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm01");
	backup_done(&st, j);
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, idx(&st, j), now, &run), 0);
	make_result(&r, &st, j, CO_RUN_VERIFY, now, BK_OUTCOME_FAILED, "BK_EVERIFY");
	r.has_verify = true;
	r.verify.checked = 2;
	r.verify.distrusted = 2;
	bk_strv_add(&r.verify.revisions, "Vy8kLgX5mFjnYcE9p6tWwR");
	bk_strv_add(&r.verify.revisions, "Bd8V3FdvjZpm5RKmEfs5rS");
	assert_int_equal(deliver(&st, &r, now), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	backup_done(&st, j);
	now = j->scrub.next;
	assert_int_equal(co_scrub_start(&st, idx(&st, j), now, &run), 0);
	assert_int_equal(run->older_than, 9 * 86400 - 3 * 3600);
	co_confirmed(&st, idx(&st, j), CO_RUN_VERIFY);

	co_state_format(&st, now, &b);
	co_state_init(&st2);
	assert_int_equal(co_state_parse(&st2, b.p, b.len, "state", &err), 0);
	co_state_apply(&st2, &c, now + BK_USEC);
	j2 = co_job_find(&st2, "vm01");
	assert_true(j2->run[CO_RUN_VERIFY].active);
	assert_true(j2->run[CO_RUN_VERIFY].confirmed);
	assert_int_equal(j2->run[CO_RUN_VERIFY].older_than, 9 * 86400 - 3 * 3600);
	assert_string_equal(j2->run[CO_RUN_VERIFY].id, j->run[CO_RUN_VERIFY].id);
	assert_string_equal(j2->scrub.bad, "Bd8V3FdvjZpm5RKmEfs5rS,Vy8kLgX5mFjnYcE9p6tWwR");
	assert_int_equal(j2->scrub.found_total, 2);
	assert_int_equal(j2->scrub.last_ok, j->scrub.last_ok);
	assert_int_equal(j2->scrub.next, j->scrub.next);
	assert_false(co_heap_has(&st2.scrub, idx(&st2, j2))); /* in flight */
	assert_true(co_heap_has(&st2.dl, idx(&st2, j2)));
	/* its result still counts after the restart */
	make_result(&r, &st2, j2, CO_RUN_VERIFY, now + H, BK_OUTCOME_OK, NULL);
	assert_int_equal(deliver(&st2, &r, now + H), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_true(co_heap_has(&st2.scrub, idx(&st2, j2)));

	/* the journal's records of the change replay into the same job */
	bk_buf_reset(&b);
	assert_true(co_state_format_changes(&st2, &b) >= 1);
	assert_non_null(strstr(b.p, "sfound=2"));
	assert_non_null(strstr(b.p, "sbad=Bd8V3FdvjZpm5RKmEfs5rS,Vy8kLgX5mFjnYcE9p6tWwR"));
	/* a forged list in a state file is refused */
	{
		struct co_state st3;
		static const char bad[] = "backy-coordinator-state 1\nJ name=vm01 sbad=../x\nend\n";

		co_state_init(&st3);
		bk_err_clear(&err);
		assert_int_equal(co_state_parse(&st3, bad, strlen(bad), "state", &err),
				 BK_ECORRUPT);
		assert_non_null(strstr(err.msg, "invalid sbad"));
		co_state_release(&st3);
	}
	bk_buf_release(&b);
	co_state_release(&st);
	co_state_release(&st2);
	co_config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_scrub_defaults_and_errors),
		cmocka_unit_test(test_slices_reread_everything_within_the_period),
		cmocka_unit_test(test_verify_keeps_out_of_the_way_of_backups),
		cmocka_unit_test(test_verify_results_findings_and_failures),
		cmocka_unit_test(test_manual_verify_checks_everything_now),
		cmocka_unit_test(test_scrub_state_survives_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
