/*
 * test_coord_sched.c: the coordinator's model without a broker: placement,
 * planning with the core schedule maths (catch-up, backoff), one run in
 * flight per job, deadlines and the state file.  The config's own tests are
 * in test_coord_config.c.
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
#include "coord_fixture.h"
#include "state.h"

#define H (3600 * BK_USEC)
#define D (24 * H)


static void test_placement_is_stable_and_moves_few_jobs(void **state)
{
	char *hosts[] = {"b1", "b2", "b3", "b4"};
	size_t moved = 0, count[4] = {0};
	char name[32];

	(void)state;
	for (int i = 0; i < 4000; i++) {
		size_t a, b;

		snprintf(name, sizeof(name), "vm%04d", i);
		a = co_place(name, hosts, 3);
		assert_int_equal(a, co_place(name, hosts, 3));
		b = co_place(name, hosts, 4);
		count[a]++;
		if (a != b) {
			assert_int_equal(b, 3); /* only ever to the new host */
			moved++;
		}
	}
	/* about 1/4 moves; each of 3 hosts gets about 1/3 */
	assert_true(moved > 800 && moved < 1200);
	for (int h = 0; h < 3; h++)
		assert_true(count[h] > 1100 && count[h] < 1550);
}

/* A config of NJOBS jobs "vmNNNN" without host over NHOSTS hosts "bNN", plus one pinned to b00. */
static char *spread_yaml(int njobs, int nhosts)
{
	struct bk_buf b;

	bk_buf_init(&b);
	bk_buf_adds(&b, "schedules: {default: {daily: {interval: 1d, keep: 7}}}\njobs:\n");
	for (int i = 0; i < njobs; i++)
		bk_buf_addf(&b, "  vm%04d: {schedule: default, source: {type: file, filename: /img/%d}}\n",
			    i, i);
	bk_buf_adds(&b, "  pinned: {schedule: default, host: b00, source: {type: file, filename: /img/p}}\n");
	bk_buf_adds(&b, "hosts: [");
	for (int h = 0; h < nhosts; h++)
		bk_buf_addf(&b, "%sb%02d", h ? ", " : "", h);
	bk_buf_adds(&b, "]\nstate-file: /tmp/x/state\n");
	return b.p;
}

static void test_placement_bounds_every_hosts_share(void **state)
{
	char *y = spread_yaml(1999, 100), *y2 = spread_yaml(2099, 100);
	struct co_config c, c2;
	struct co_state st;
	unsigned count[100] = {0}, moved = 0;
	char (*first)[8] = calloc(2000, sizeof(*first));

	(void)state;
	parse_ok(y, &c);
	co_state_init(&st);
	co_state_apply(&st, &c, t0());
	assert_int_equal(st.n, 2000);
	for (size_t i = 0; i < st.n; i++) {
		snprintf(first[i], sizeof(first[i]), "%s", st.hosts[st.jobs[i].host]);
		count[atoi(first[i] + 1)]++;
	}
	/* 2000 jobs on 100 hosts, one of them pinned: every host holds exactly its share */
	for (int h = 0; h < 100; h++)
		assert_int_equal(count[h], 20);
	/* 100 more jobs: the placed ones stay where they are, the new ones fill up evenly */
	parse_ok(y2, &c2);
	co_state_apply(&st, &c2, t0());
	for (size_t i = 0; i < c.njobs; i++) {
		const struct co_job *j = co_job_find(&st, c.jobs[i].name);

		moved += strcmp(st.hosts[j->host], first[i]) != 0;
	}
	assert_int_equal(moved, 0);
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < st.n; i++)
		count[atoi(st.hosts[st.jobs[i].host] + 1)]++;
	for (int h = 0; h < 100; h++)
		assert_int_equal(count[h], 21);
	free(first);
	co_state_release(&st);
	co_config_release(&c);
	co_config_release(&c2);
	free(y);
	free(y2);
}

static void test_backoff_doubles_to_six_hours(void **state)
{
	(void)state;
	assert_int_equal(co_backoff(0), 0);
	assert_int_equal(co_backoff(1), 120);
	assert_int_equal(co_backoff(2), 240);
	assert_int_equal(co_backoff(3), 480);
	assert_int_equal(co_backoff(8), 15360);
	assert_int_equal(co_backoff(9), 21600);
	assert_int_equal(co_backoff(1000), 21600);
}

/* R: the result the host running J's run of kind K would send. */
static void ok_result(struct bk_msg_result *r, const struct co_state *st, const struct co_job *j,
		      enum co_run_kind k, int64_t now, enum bk_msg_outcome outcome)
{
	bk_msg_result_init(r);
	snprintf(r->job_id, sizeof(r->job_id), "%s", j->run[k].id);
	snprintf(r->job, sizeof(r->job), "%s", j->name);
	snprintf(r->host, sizeof(r->host), "%s", st->hosts[j->run[k].host]);
	r->action = k == CO_RUN_BACKUP ? BK_ACTION_BACKUP : BK_ACTION_EXPIRE;
	r->outcome = outcome;
	if (outcome != BK_OUTCOME_OK)
		bk_msg_result_set_error(r, "BK_ESOURCE", "boom", true);
	r->started = now;
	r->finished = now + BK_USEC;
}

/* co_result() of R delivered with the routing key its body implies. */
static enum co_result result(struct co_state *st, const struct bk_msg_result *r, int64_t now,
			     uint32_t *id)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];

	bk_msg_routing_key_result(r, key);
	return co_result(st, r, key, now, id);
}

static void test_new_job_waits_for_its_ideal_time_with_all_tags(void **state)
{
	struct co_config c;
	struct co_state st;
	struct co_job *j;
	struct bk_strv tags = BK_STRV_INIT;
	int64_t ideal;

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm01");
	assert_non_null(j);
	ideal = bk_sched_next_ideal(&j->sched->s, bk_schedule_spread("vm01", &j->sched->s), t0(),
				    &tags);
	assert_int_equal(j->next_time, ideal);
	assert_string_equal(j->next_tags, "daily,weekly");
	assert_string_equal(co_job_status(j), "waiting");
	assert_string_equal(st.hosts[st.jobs[1].host], "b2"); /* explicit host */
	bk_strv_release(&tags);
	co_state_release(&st);
	co_config_release(&c);
}

static void test_dispatch_result_expire_and_backoff(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_msg_result r;
	struct bk_err err = {0};
	struct bk_buf b;
	uint32_t ids[8], id = 0;
	struct co_job *j;
	int64_t now, due;
	char jid[BK_ID_MAX + 1];

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	bk_buf_init(&b);
	co_state_apply(&st, &c, t0());
	j = co_job_find(&st, "vm01");
	due = j->next_time;
	assert_int_equal(co_take_due(&st, due - 1, ids, 8) == 0 ||
				 st.jobs[ids[0]].next_time <= due - 1,
			 1);
	/* drain everything up to the due time; vm01 is among it */
	now = due;
	while (co_take_due(&st, now, ids, 1)) {
		assert_int_equal(start_msg(&st, ids[0], CO_RUN_BACKUP, now, &m), 0);
		assert_int_equal(bk_msg_encode_job(&m, &b, &err), 0); /* proto accepts it */
	}
	assert_true(j->run[CO_RUN_BACKUP].active);
	assert_int_equal(j->run[CO_RUN_BACKUP].deadline, now + 2 * H);
	assert_string_equal(j->run[CO_RUN_BACKUP].tags, "daily,weekly");
	/* never two in flight: not due again, a second start refuses */
	assert_int_equal(co_take_due(&st, now + 30 * D, ids, 8), 0);
	assert_int_equal(start_msg(&st, (uint32_t)(j - st.jobs), CO_RUN_BACKUP, now, &m), BK_ELOCKED);
	assert_string_equal(co_job_status(j), "running");

	/* a stale result is ignored */
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK);
	snprintf(r.job_id, sizeof(r.job_id), "someotherjobid");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_UNKNOWN_JOB);
	bk_msg_result_release(&r);

	/* failure: backoff 2 min with the same tags */
	now += H;
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_FAILED);
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_DONE);
	bk_msg_result_release(&r);
	assert_string_equal(co_job_status(j), "failed");
	assert_int_equal(j->next_time, now + 120 * BK_USEC);
	assert_int_equal(co_take_due(&st, now + 119 * BK_USEC, ids, 8), 0);
	now += 120 * BK_USEC;
	assert_int_equal(co_take_due(&st, now, ids, 8), 1);
	assert_int_equal(start_msg(&st, ids[0], CO_RUN_BACKUP, now, &m), 0);
	assert_string_equal(j->run[CO_RUN_BACKUP].tags, "daily,weekly");
	/* second failure: 4 min */
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_FAILED);
	result(&st, &r, now, &id);
	bk_msg_result_release(&r);
	assert_int_equal(j->next_time, now + 240 * BK_USEC);
	now += 240 * BK_USEC;
	assert_int_equal(co_take_due(&st, now, ids, 8), 1);
	start_msg(&st, ids[0], CO_RUN_BACKUP, now, &m);

	/* success: backoff reset, expiry wanted, next is the following ideal time */
	snprintf(jid, sizeof(jid), "%s", j->run[CO_RUN_BACKUP].id);
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK);
	bk_strv_add(&r.tags, "daily");
	bk_strv_add(&r.tags, "weekly");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_EXPIRE);
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_UNKNOWN_JOB); /* duplicate */
	bk_msg_result_release(&r);
	assert_int_equal(j->fails, 0);
	assert_string_equal(co_job_status(j), "finished");
	assert_int_equal(j->last_time, now);
	assert_true(j->next_time > now && j->next_time <= now + D);
	assert_string_equal(j->next_tags, "daily");
	assert_int_equal(start_msg(&st, id, CO_RUN_EXPIRE, now, &m), 0);
	assert_int_equal(m.action, BK_ACTION_EXPIRE);
	assert_string_equal(m.host, st.hosts[j->host]);
	assert_int_equal(start_msg(&st, id, CO_RUN_EXPIRE, now, &m), BK_ELOCKED);

	bk_msg_job_release(&m);
	bk_buf_release(&b);
	co_state_release(&st);
	co_config_release(&c);
}

static void test_deadline_redispatches_with_the_same_job_id(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	uint32_t ids[8];
	struct co_job *j;
	int64_t now = t0();
	char jid[BK_ID_MAX + 1];

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, now);
	j = co_job_find(&st, "vm02");
	co_heap_set(&st.due, (uint32_t)(j - st.jobs), now); /* due now */
	assert_true(co_take_due(&st, now, ids, 8) >= 1);
	assert_int_equal(start_msg(&st, (uint32_t)(j - st.jobs), CO_RUN_BACKUP, now, &m), 0);
	snprintf(jid, sizeof(jid), "%s", m.job_id);
	assert_int_equal(co_take_overdue(&st, now + 2 * H - 1, ids, 8), 0);
	assert_int_equal(co_take_overdue(&st, now + 2 * H, ids, 8), 1);
	redispatch_msg(&st, ids[0], CO_RUN_BACKUP, now + 2 * H, &m);
	assert_string_equal(m.job_id, jid);
	assert_int_equal(m.attempt, 2);
	assert_int_equal(m.deadline, now + 4 * H);
	assert_int_equal(co_take_overdue(&st, now + 3 * H, ids, 8), 0);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
}

static void test_catch_up_runs_missed_tags_now(void **state)
{
	struct co_config c;
	struct co_state st, st2;
	struct bk_buf b;
	struct bk_err err = {0};
	struct co_job *j;
	int64_t now = t0();
	const char *text;
	char buf[1024];

	(void)state;
	parse_ok(BASE_YAML, &c);
	/* a state where vm01's last daily is 1.6 days old and weekly 2 days old */
	snprintf(buf, sizeof(buf),
		 "backy-coordinator-state 1 saved=0\n"
		 "J name=vm01 host=b1 created=0 last=%lld dur=1.0 ltags=daily fails=0 next=0 ntags= retry=0 manual= t:daily=%lld t:weekly=%lld\n"
		 "end\n",
		 (long long)(now - 16 * D / 10), (long long)(now - 16 * D / 10),
		 (long long)(now - 2 * D));
	text = buf;
	co_state_init(&st);
	assert_int_equal(co_state_parse(&st, text, strlen(text), "state", &err), 0);
	co_state_apply(&st, &c, now);
	j = co_job_find(&st, "vm01");
	/* unless the ideal daily time is within 5 minutes, run now with the missed tag only */
	if (j->next_time != now) {
		assert_true(j->next_time <= now + 5 * 60 * BK_USEC);
	} else {
		assert_string_equal(j->next_tags, "daily");
	}
	assert_false(co_job_sla(j, now, &(int64_t){0})); /* 1.6 d > 1.5 d */
	/* round trip */
	bk_buf_init(&b);
	co_state_format(&st, now, &b);
	co_state_init(&st2);
	assert_int_equal(co_state_parse(&st2, b.p, b.len, "state", &err), 0);
	co_state_apply(&st2, &c, now);
	{
		struct bk_buf b2;

		bk_buf_init(&b2);
		co_state_format(&st2, now, &b2);
		assert_string_equal(b.p, b2.p);
		bk_buf_release(&b2);
	}
	bk_buf_release(&b);
	co_state_release(&st);
	co_state_release(&st2);
	co_config_release(&c);
}

static void test_restart_keeps_runs_in_flight(void **state)
{
	struct co_config c;
	struct co_state st, st2;
	struct bk_msg_job m;
	struct bk_buf b;
	struct bk_err err = {0};
	struct bk_msg_result r;
	uint32_t ids[8], id;
	struct co_job *j, *j2;
	int64_t now = t0();

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, now);
	j = co_job_find(&st, "vm03");
	co_heap_set(&st.due, (uint32_t)(j - st.jobs), now);
	co_take_due(&st, now, ids, 8);
	assert_int_equal(start_msg(&st, (uint32_t)(j - st.jobs), CO_RUN_BACKUP, now, &m), 0);
	co_confirmed(&st, (uint32_t)(j - st.jobs), CO_RUN_BACKUP);
	assert_int_equal(co_request_run(&st, "vm03", &(struct bk_strv)BK_STRV_INIT, now, &err), 0);
	assert_int_equal(co_request_run(&st, "vm03", &(struct bk_strv)BK_STRV_INIT, now, &err), 0);
	{
		struct bk_strv bad = BK_STRV_INIT;

		bk_strv_add(&bad, "hourly");
		assert_int_equal(co_request_run(&st, "vm03", &bad, now, &err), BK_ETAG);
		assert_int_equal(co_request_run(&st, "nope", &bad, now, &err), BK_EUSAGE);
		bk_strv_release(&bad);
	}

	bk_buf_init(&b);
	co_state_format(&st, now, &b);
	co_state_init(&st2);
	assert_int_equal(co_state_parse(&st2, b.p, b.len, "state", &err), 0);
	co_state_apply(&st2, &c, now + 60 * BK_USEC);
	j2 = co_job_find(&st2, "vm03");
	assert_true(j2->run[CO_RUN_BACKUP].active);
	assert_true(j2->run[CO_RUN_BACKUP].confirmed);
	assert_string_equal(j2->run[CO_RUN_BACKUP].id, j->run[CO_RUN_BACKUP].id);
	assert_string_equal(j2->manual_tags, CO_DEFAULT_MANUAL_TAG);
	assert_string_equal(st2.hosts[j2->host], st.hosts[j->host]);
	/* nothing due for it while in flight, deadline still tracked */
	assert_false(co_heap_has(&st2.due, (uint32_t)(j2 - st2.jobs)));
	assert_true(co_heap_has(&st2.dl, (uint32_t)(j2 - st2.jobs)));
	/* its result is still accepted after the restart; the manual run follows at once */
	ok_result(&r, &st2, j2, CO_RUN_BACKUP, now + H, BK_OUTCOME_OK);
	assert_int_equal(result(&st2, &r, now + H, &id), CO_RESULT_EXPIRE);
	bk_msg_result_release(&r);
	assert_int_equal(co_take_due(&st2, now + H, ids, 8), 1);
	assert_int_equal(start_msg(&st2, ids[0], CO_RUN_BACKUP, now + H, &m), 0);
	assert_string_equal(m.tags.v[0], CO_DEFAULT_MANUAL_TAG);

	/* a corrupt state file names the line */
	co_state_release(&st);
	co_state_init(&st);
	bk_err_clear(&err);
	assert_int_equal(co_state_parse(&st, "backy-coordinator-state 1\nJ name=../x\nend\n", 40,
					"state", &err),
			 BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "line 2"));
	bk_err_clear(&err);
	assert_int_equal(co_state_parse(&st, "backy-coordinator-state 1\n", 26, "state", &err),
			 BK_ECORRUPT);

	bk_buf_release(&b);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_state_release(&st2);
	co_config_release(&c);
}

/* A request redelivered after a crash, a takeover or a broker restart runs once. */
static void test_requests_are_handled_once_across_restarts(void **state)
{
	struct co_state st, st2;
	struct bk_err err = {0};
	struct bk_buf b;
	char id[BK_ID_SHORT_LEN + 1];

	(void)state;
	co_state_init(&st);
	assert_false(co_request_seen(&st, "req-1"));
	assert_true(st.dirty);
	assert_true(co_request_seen(&st, "req-1"));
	/* the ring forgets the oldest ids only */
	for (int i = 0; i < CO_RECENT_REQUESTS - 1; i++) {
		bk_id_new(id);
		assert_false(co_request_seen(&st, id));
	}
	assert_true(co_request_seen(&st, "req-1"));
	assert_false(co_request_seen(&st, "req-2")); /* pushes req-1 out */
	bk_buf_init(&b);
	co_state_format(&st, t0(), &b);
	co_state_init(&st2);
	assert_int_equal(co_state_parse(&st2, b.p, b.len, "state", &err), 0);
	assert_true(co_request_seen(&st2, "req-2"));
	assert_true(co_request_seen(&st2, id));
	assert_false(co_request_seen(&st2, "req-1"));
	bk_buf_release(&b);
	co_state_release(&st);
	co_state_release(&st2);
}

static void test_reload_adds_and_drops_jobs_keeping_runs(void **state)
{
	struct co_config c, c2;
	struct co_state st;
	struct bk_msg_job m;
	uint32_t ids[8];
	struct co_job *j;
	int64_t now = t0();
	char jid[BK_ID_MAX + 1];
	char *y;

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, now);
	j = co_job_find(&st, "vm01");
	co_heap_set(&st.due, (uint32_t)(j - st.jobs), now);
	co_take_due(&st, now, ids, 8);
	start_msg(&st, (uint32_t)(j - st.jobs), CO_RUN_BACKUP, now, &m);
	snprintf(jid, sizeof(jid), "%s", m.job_id);
	y = edit("  vm03:", "  vm04: {schedule: default, source: {type: file, filename: /img/vm04}}");
	parse_ok(y, &c2);
	free(y);
	co_state_apply(&st, &c2, now);
	co_config_release(&c);
	assert_null(co_job_find(&st, "vm03"));
	assert_non_null(co_job_find(&st, "vm04"));
	j = co_job_find(&st, "vm01");
	assert_string_equal(j->run[CO_RUN_BACKUP].id, jid);
	assert_false(co_heap_has(&st.due, (uint32_t)(j - st.jobs)));
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c2);
}

/* Start a backup of NAME at NOW (it is made due first); returns its index. */
static uint32_t start_backup(struct co_state *st, const char *name, int64_t now,
			     struct bk_msg_job *m)
{
	struct co_job *j = co_job_find(st, name);
	uint32_t ids[8];

	assert_non_null(j);
	co_heap_set(&st->due, (uint32_t)(j - st->jobs), now);
	while (co_take_due(st, now, ids, 8) == 8)
		;
	assert_int_equal(start_msg(st, (uint32_t)(j - st->jobs), CO_RUN_BACKUP, now, m), 0);
	return (uint32_t)(j - st->jobs);
}

static bool metric_is(const struct co_state *st, const char *line)
{
	struct bk_buf b;
	bool found;

	bk_buf_init(&b);
	co_metrics(st, t0(), true, &b);
	found = strstr(b.p, line) != NULL;
	if (!found)
		print_message("'%s' not in:\n%s", line, b.p);
	bk_buf_release(&b);
	return found;
}

/* The broker is not trusted: only the dispatched host's result, with its own key, counts. */
static void test_results_count_only_from_the_dispatched_host(void **state)
{
	struct co_config c;
	struct co_state st;
	struct bk_msg_job m;
	struct bk_msg_result r;
	uint32_t i, id = 0;
	struct co_job *j;
	int64_t now = t0();
	char key[BK_MSG_ROUTING_KEY_MAX + 1];

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	co_state_apply(&st, &c, now);
	i = start_backup(&st, "vm02", now, &m); /* host: b2 */
	j = &st.jobs[i];
	assert_string_equal(m.host, "b2");
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_OK);
	bk_strv_add(&r.tags, "daily");

	/* a forged result from a host the job never ran on, with a matching key */
	snprintf(r.host, sizeof(r.host), "evilhost");
	snprintf(r.revision, sizeof(r.revision), "madeuprevision");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_WRONG_HOST);
	/* another configured host is just as wrong */
	snprintf(r.host, sizeof(r.host), "b1");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_WRONG_HOST);
	/* the right host in the body, but a key the broker let another host publish */
	snprintf(r.host, sizeof(r.host), "b2");
	assert_int_equal(co_result(&st, &r, "backup.ok.evilhost.vm02", now, &id),
			 CO_RESULT_ROUTING_KEY);
	assert_int_equal(co_result(&st, &r, "backup.ok.b2.vm01", now, &id), CO_RESULT_ROUTING_KEY);
	assert_int_equal(co_result(&st, &r, "", now, &id), CO_RESULT_ROUTING_KEY);
	assert_int_equal(co_result(&st, &r, NULL, now, &id), CO_RESULT_ROUTING_KEY);
	/* a job id that is not in flight */
	snprintf(r.job_id, sizeof(r.job_id), "UnknownJobId0000000000");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_UNKNOWN_JOB);
	snprintf(r.job_id, sizeof(r.job_id), "%s", j->run[CO_RUN_BACKUP].id);
	/* the right host skipped an earlier attempt it got after its deadline */
	r.outcome = BK_OUTCOME_SKIPPED;
	bk_msg_result_set_error(&r, "ETIMEDOUT", "the job's deadline passed before it could start",
				false);
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_STALE);
	r.outcome = BK_OUTCOME_OK;
	r.error_code[0] = '\0';
	free(r.error_message);
	r.error_message = NULL;
	/* none of it changed anything */
	assert_true(j->run[CO_RUN_BACKUP].active);
	assert_string_equal(co_job_status(j), "running");
	assert_int_equal(j->last_time, 0);
	assert_int_equal(st.c.results_ok + st.c.results_failed, 0);
	assert_int_equal(st.c.results_dropped[CO_RESULT_WRONG_HOST], 2);
	assert_int_equal(st.c.results_dropped[CO_RESULT_ROUTING_KEY], 4);
	assert_int_equal(st.c.results_dropped[CO_RESULT_UNKNOWN_JOB], 1);
	assert_int_equal(st.c.results_dropped[CO_RESULT_STALE], 1);
	assert_int_equal(st.c.results_ignored, 8);
	assert_true(metric_is(&st, "backy_coordinator_results_dropped_total{reason=\"wrong_host\"} 2\n"));
	assert_true(metric_is(&st, "backy_coordinator_results_dropped_total{reason=\"routing_key\"} 4\n"));
	assert_true(metric_is(&st, "backy_coordinator_results_dropped_total{reason=\"unknown_job\"} 1\n"));
	assert_true(metric_is(&st, "backy_coordinator_results_dropped_total{reason=\"stale\"} 1\n"));
	assert_true(metric_is(&st, "backy_coordinator_results_ignored_total 8\n"));

	/* the real worker's result, then the same again: the job id is finished */
	bk_msg_routing_key_result(&r, key);
	assert_string_equal(key, "backup.ok.b2.vm02");
	assert_int_equal(co_result(&st, &r, key, now, &id), CO_RESULT_EXPIRE);
	assert_int_equal(id, i);
	assert_int_equal(st.c.results_ok, 1);
	assert_string_equal(co_job_status(j), "finished");
	assert_int_equal(co_result(&st, &r, key, now, &id), CO_RESULT_UNKNOWN_JOB);
	assert_int_equal(st.c.results_dropped[CO_RESULT_UNKNOWN_JOB], 2);
	bk_msg_result_release(&r);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
}

/* A reload that moves a job in flight: the run still belongs to the host it went to. */
static void test_a_run_keeps_its_host_across_moves_and_restarts(void **state)
{
	struct co_config c, c2;
	struct co_state st, st2;
	struct bk_msg_job m;
	struct bk_msg_result r;
	struct bk_err err = {0};
	struct bk_buf b;
	uint32_t i, id = 0;
	struct co_job *j;
	int64_t now = t0();
	char *y, *p;

	(void)state;
	parse_ok(BASE_YAML, &c);
	co_state_init(&st);
	bk_msg_job_init(&m);
	bk_buf_init(&b);
	co_state_apply(&st, &c, now);
	i = start_backup(&st, "vm02", now, &m);
	y = edit("  vm02:", "  vm02: {schedule: default, host: b1, source: {type: ceph-rbd, pool: rbd, image: vm02}}");
	parse_ok(y, &c2);
	free(y);
	co_state_apply(&st, &c2, now);
	j = co_job_find(&st, "vm02");
	assert_string_equal(st.hosts[j->host], "b1");
	assert_string_equal(st.hosts[j->run[CO_RUN_BACKUP].host], "b2");

	/* the run's host survives a restart (R line host=) */
	co_state_format(&st, now, &b);
	assert_non_null(strstr(b.p, "R name=vm02 kind=backup"));
	co_state_init(&st2);
	assert_int_equal(co_state_parse(&st2, b.p, b.len, "state", &err), 0);
	co_state_apply(&st2, &c2, now);
	j = co_job_find(&st2, "vm02");
	assert_string_equal(st2.hosts[j->run[CO_RUN_BACKUP].host], "b2");
	co_state_release(&st2);

	/* a republish goes to b2, and only b2's result counts */
	co_run_message(&st, i, CO_RUN_BACKUP, now, &m);
	assert_string_equal(m.host, "b2");
	j = &st.jobs[i];
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_FAILED);
	snprintf(r.host, sizeof(r.host), "b1");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_WRONG_HOST);
	bk_msg_result_release(&r);
	/* past the deadline the new attempt goes to where the job lives now: b1 */
	redispatch_msg(&st, i, CO_RUN_BACKUP, now + 3 * H, &m);
	assert_string_equal(m.host, "b1");
	ok_result(&r, &st, j, CO_RUN_BACKUP, now, BK_OUTCOME_FAILED);
	assert_string_equal(r.host, "b1");
	snprintf(r.host, sizeof(r.host), "b2");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_WRONG_HOST);
	snprintf(r.host, sizeof(r.host), "b1");
	assert_int_equal(result(&st, &r, now, &id), CO_RESULT_DONE);
	bk_msg_result_release(&r);

	/* a state file of the previous version (runs without host=): the job's host */
	i = start_backup(&st, "vm03", now, &m);
	bk_buf_release(&b);
	bk_buf_init(&b);
	co_state_format(&st, now, &b);
	p = strstr(b.p, "R name=vm03 kind=backup");
	assert_non_null(p);
	p = strstr(p, " host=");
	memmove(p, p + 8, strlen(p + 8) + 1); /* " host=bN" */
	p = strstr(b.p, "\nend sum=");
	memcpy(p + 1, "end\n", sizeof("end\n")); /* the previous version: no checksum */
	memcpy(b.p + strlen("backy-coordinator-state "), "2", 1);
	co_state_init(&st2);
	if (co_state_parse(&st2, b.p, strlen(b.p), "state", &err) < 0)
		fail_msg("%s", err.msg);
	j = co_job_find(&st2, "vm03");
	assert_true(j->run[CO_RUN_BACKUP].active);
	assert_int_equal(j->run[CO_RUN_BACKUP].host, j->host);
	assert_string_equal(st2.hosts[j->run[CO_RUN_BACKUP].host],
			    st.hosts[st.jobs[i].run[CO_RUN_BACKUP].host]);
	co_state_release(&st2);

	bk_buf_release(&b);
	bk_msg_job_release(&m);
	co_state_release(&st);
	co_config_release(&c);
	co_config_release(&c2);
}

static enum co_hb beat(struct co_state *st, const char *host, const char *key)
{
	struct bk_msg_heartbeat hb;
	enum co_hb res;

	bk_msg_heartbeat_init(&hb);
	snprintf(hb.host, sizeof(hb.host), "%s", host);
	snprintf(hb.version, sizeof(hb.version), "0.1.0");
	hb.slots = 2;
	res = co_heartbeat(st, &hb, key, t0());
	bk_msg_heartbeat_release(&hb);
	return res;
}

static bool worker_listed(const struct co_state *st, const char *host)
{
	struct bk_buf b;
	char needle[BK_MSG_NAME_MAX + 8];
	bool found;

	bk_buf_init(&b);
	co_workers_json(st, &b);
	snprintf(needle, sizeof(needle), "\"%s\":", host);
	found = strstr(b.p, needle) != NULL;
	bk_buf_release(&b);
	return found;
}

/* Workers are the hosts the config names, whatever heartbeats the broker brings. */
static void test_heartbeats_only_from_configured_hosts(void **state)
{
	struct co_config c, c2;
	struct co_state st;
	char *y;

	(void)state;
	y = edit("  vm03:", "  vm03: {schedule: default, host: b3, source: {type: file, filename: /img/vm03}}");
	parse_ok(y, &c);
	free(y);
	co_state_init(&st);
	co_state_apply(&st, &c, t0());
	assert_int_equal(beat(&st, "b1", "b1"), CO_HB_OK);
	assert_int_equal(beat(&st, "b3", "b3"), CO_HB_OK); /* a job's host, not in hosts: */
	assert_int_equal(beat(&st, "evilhost", "evilhost"), CO_HB_UNKNOWN_HOST);
	assert_int_equal(beat(&st, "b2", "evilhost"), CO_HB_ROUTING_KEY);
	assert_int_equal(beat(&st, "evilhost", "b2"), CO_HB_ROUTING_KEY);
	assert_int_equal(beat(&st, "b2", NULL), CO_HB_ROUTING_KEY);
	assert_true(worker_listed(&st, "b1"));
	assert_true(worker_listed(&st, "b3"));
	assert_false(worker_listed(&st, "evilhost"));
	assert_false(worker_listed(&st, "b2"));
	assert_int_equal(st.nworkers, 2);
	assert_true(metric_is(&st, "backy_coordinator_heartbeats_dropped_total{reason=\"unknown_host\"} 1\n"));
	assert_true(metric_is(&st, "backy_coordinator_heartbeats_dropped_total{reason=\"routing_key\"} 3\n"));
	assert_true(metric_is(&st, "backy_coordinator_workers 2\n"));

	/* a reload that removes b1 from hosts and b3 from the jobs: both leave the list */
	parse_ok(BASE_YAML, &c2);
	free(c2.hosts[0]);
	c2.hosts[0] = c2.hosts[1];
	c2.nhosts = 1;
	co_state_apply(&st, &c2, t0());
	co_config_release(&c);
	assert_false(worker_listed(&st, "b1"));
	assert_false(worker_listed(&st, "b3"));
	assert_int_equal(st.nworkers, 0);
	assert_int_equal(beat(&st, "b1", "b1"), CO_HB_UNKNOWN_HOST);
	assert_int_equal(beat(&st, "b2", "b2"), CO_HB_OK);
	assert_true(worker_listed(&st, "b2"));
	co_state_release(&st);
	co_config_release(&c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placement_is_stable_and_moves_few_jobs),
		cmocka_unit_test(test_placement_bounds_every_hosts_share),
		cmocka_unit_test(test_backoff_doubles_to_six_hours),
		cmocka_unit_test(test_new_job_waits_for_its_ideal_time_with_all_tags),
		cmocka_unit_test(test_dispatch_result_expire_and_backoff),
		cmocka_unit_test(test_deadline_redispatches_with_the_same_job_id),
		cmocka_unit_test(test_catch_up_runs_missed_tags_now),
		cmocka_unit_test(test_restart_keeps_runs_in_flight),
		cmocka_unit_test(test_requests_are_handled_once_across_restarts),
		cmocka_unit_test(test_reload_adds_and_drops_jobs_keeping_runs),
		cmocka_unit_test(test_results_count_only_from_the_dispatched_host),
		cmocka_unit_test(test_a_run_keeps_its_host_across_moves_and_restarts),
		cmocka_unit_test(test_heartbeats_only_from_configured_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
