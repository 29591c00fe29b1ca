/* test_worker_jobs.c: cmocka tests of backy-worker's job model (worker/daemon/jobs.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000LL

/* A job JOB_ID of repository REPO with deadline DEADLINE and a backup tag TAG. */
static struct bk_job *job(const char *job_id, const char *repo, int64_t deadline,
			  const char *tag)
{
	struct bk_msg_job m;

	bk_msg_job_init(&m);
	snprintf(m.job_id, sizeof(m.job_id), "%s", job_id);
	snprintf(m.job, sizeof(m.job), "%s", repo);
	snprintf(m.host, sizeof(m.host), "h1");
	m.action = BK_ACTION_BACKUP;
	m.deadline = deadline;
	m.attempt = 1;
	bk_strv_add(&m.tags, tag);
	return bk_job_new(&m, 0);
}

/* Take the next job, expecting verdict V; returns it (the caller's now). */
static struct bk_job *next(struct bk_jobs *js, int64_t now, enum bk_jobs_verdict v)
{
	struct bk_job *j, *other;

	assert_int_equal(bk_jobs_next(js, now, true, &j, &other), v);
	return j;
}

static void test_redelivered_job_gets_the_tag_attached(void **state)
{
	struct bk_jobs js;
	struct bk_job *a = job("id1", "vm01", 100, "daily"), *b = job("id1", "vm01", 100, "daily");
	struct bk_job *other;
	uint64_t *tags;

	(void)state;
	bk_jobs_init(&js, 2);
	assert_int_equal(bk_jobs_classify(&js, a, &other), BK_JOBS_NEW);
	assert_null(other);
	bk_jobs_enqueue(&js, a, 7);
	/* pending: a redelivery attaches */
	assert_int_equal(bk_jobs_classify(&js, b, &other), BK_JOBS_REDELIVERED);
	assert_ptr_equal(other, a);
	bk_jobs_attach(&js, other, 8);
	assert_ptr_equal(next(&js, 50, BK_JOBS_START), a);
	bk_jobs_add_running(&js, a, 1234);
	/* running: the same */
	assert_int_equal(bk_jobs_classify(&js, b, &other), BK_JOBS_REDELIVERED);
	bk_jobs_attach(&js, other, 9);
	assert_int_equal(bk_jobs_settle_tags(&js, a, &tags), 3);
	assert_int_equal(tags[0], 7);
	assert_int_equal(tags[1], 8);
	assert_int_equal(tags[2], 9);
	free(tags);
	assert_int_equal(a->ntags, 0);
	assert_ptr_equal(bk_jobs_take_running(&js, 1234), a);
	assert_null(bk_jobs_take_running(&js, 1234));
	bk_job_free(a);
	bk_job_free(b);
	bk_jobs_release(&js);
}

static void test_changed_digest_is_refused(void **state)
{
	struct bk_jobs js;
	struct bk_job *a = job("id1", "vm01", 100, "daily");
	struct bk_job *b = job("id1", "vm01", 100, "weekly"); /* same id, other tags */
	struct bk_job *c = job("id1", "vm02", 100, "daily");  /* same id, other repository */
	struct bk_job *d = job("id1", "vm01", 999, "daily");  /* only the deadline differs */
	struct bk_job *other;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_enqueue(&js, a, 1);
	assert_int_equal(bk_jobs_classify(&js, b, &other), BK_JOBS_CHANGED);
	assert_ptr_equal(other, a);
	assert_int_equal(bk_jobs_classify(&js, c, &other), BK_JOBS_CHANGED);
	assert_int_equal(bk_jobs_classify(&js, d, &other), BK_JOBS_REDELIVERED);
	bk_job_free(b);
	bk_job_free(c);
	bk_job_free(d);
	bk_jobs_release(&js);
}

static void test_same_repository_running_is_busy(void **state)
{
	struct bk_jobs js;
	struct bk_job *a = job("id1", "vm01", 100, "daily"), *b = job("id2", "vm01", 100, "daily");
	struct bk_job *c = job("id3", "vm01", 100, "daily"), *other, *j;

	(void)state;
	bk_jobs_init(&js, 2);
	bk_jobs_enqueue(&js, a, 1);
	/* a pending job does not hold its repository yet */
	assert_int_equal(bk_jobs_classify(&js, b, &other), BK_JOBS_NEW);
	bk_jobs_enqueue(&js, b, 2);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 10);
	/* on delivery */
	assert_int_equal(bk_jobs_classify(&js, c, &other), BK_JOBS_BUSY);
	assert_ptr_equal(other, a);
	/* and when it would start */
	assert_int_equal(bk_jobs_next(&js, 0, true, &j, &other), BK_JOBS_BUSY);
	assert_ptr_equal(j, b);
	assert_ptr_equal(other, a);
	bk_job_free(b);
	bk_job_free(c);
	bk_jobs_release(&js);
}

static void test_slots_limit_running_jobs(void **state)
{
	struct bk_jobs js;
	struct bk_job *j;

	(void)state;
	bk_jobs_init(&js, 2);
	bk_jobs_enqueue(&js, job("id1", "a", 100, "daily"), 1);
	bk_jobs_enqueue(&js, job("id2", "b", 100, "daily"), 2);
	bk_jobs_enqueue(&js, job("id3", "c", 100, "daily"), 3);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 11);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 12);
	assert_null(next(&js, 0, BK_JOBS_NONE));
	assert_int_equal(js.npending, 1);
	j = bk_jobs_take_running(&js, 11);
	assert_string_equal(j->msg.job_id, "id1");
	bk_job_free(j);
	j = next(&js, 0, BK_JOBS_START);
	assert_string_equal(j->msg.job_id, "id3"); /* oldest first */
	bk_job_free(j);
	bk_jobs_release(&js);
}

static void test_deadline_passed_is_expired(void **state)
{
	struct bk_jobs js;
	struct bk_job *j, *other;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_enqueue(&js, job("id1", "a", 100 * SEC, "daily"), 1);
	bk_jobs_enqueue(&js, job("id2", "b", 100 * SEC, "daily"), 2);
	bk_jobs_enqueue(&js, job("id3", "c", 100 * SEC, "daily"), 3);
	/* at the deadline it may still start */
	j = next(&js, 100 * SEC, BK_JOBS_START);
	bk_job_free(j);
	j = next(&js, 100 * SEC + 1, BK_JOBS_EXPIRED);
	assert_string_equal(j->msg.job_id, "id2");
	bk_job_free(j);
	/* without the check (simulated time) it starts */
	assert_int_equal(bk_jobs_next(&js, 500 * SEC, false, &j, &other), BK_JOBS_START);
	bk_job_free(j);
	bk_jobs_release(&js);
}

static void test_tags_of_an_old_connection_are_never_acked(void **state)
{
	struct bk_jobs js;
	struct bk_job *a = job("id1", "vm01", 100, "daily"), *b = job("id1", "vm01", 100, "daily");
	struct bk_job *other;
	uint64_t *tags;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_connected(&js);
	bk_jobs_enqueue(&js, a, 5);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 42);
	bk_jobs_connection_lost(&js); /* a running job stays */
	assert_int_equal(js.nrunning, 1);
	bk_jobs_connected(&js);
	assert_int_equal(bk_jobs_classify(&js, b, &other), BK_JOBS_REDELIVERED);
	bk_jobs_attach(&js, other, 1); /* tag numbers restart on a new channel */
	assert_int_equal(bk_jobs_settle_tags(&js, a, &tags), 1);
	assert_int_equal(tags[0], 1);
	free(tags);
	/* nothing left: a second settle acknowledges nothing */
	assert_int_equal(bk_jobs_settle_tags(&js, a, &tags), 0);
	assert_null(tags);
	bk_job_free(b);
	bk_jobs_release(&js);
}

static void test_connection_loss_drops_pending_and_confirming(void **state)
{
	struct bk_jobs js;
	struct bk_job *j;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_enqueue(&js, job("id1", "a", 100, "daily"), 1);
	bk_jobs_enqueue(&js, job("id2", "b", 100, "daily"), 2);
	j = next(&js, 0, BK_JOBS_START);
	bk_jobs_add_confirming(&js, j, 17);
	assert_null(bk_jobs_take_confirmed(&js, 16));
	bk_jobs_connection_lost(&js);
	assert_int_equal(js.npending, 0);
	assert_int_equal(js.nconfirming, 0);
	assert_true(bk_jobs_idle(&js));
	bk_jobs_release(&js);
}

static void test_confirm_by_sequence_number(void **state)
{
	struct bk_jobs js;
	struct bk_job *a = job("id1", "a", 100, "daily"), *b = job("id2", "b", 100, "daily");

	(void)state;
	bk_jobs_init(&js, 2);
	bk_jobs_add_confirming(&js, a, 3);
	bk_jobs_add_confirming(&js, b, 4);
	assert_false(bk_jobs_idle(&js));
	assert_ptr_equal(bk_jobs_take_confirmed(&js, 4), b);
	assert_ptr_equal(bk_jobs_take_confirmed(&js, 3), a);
	assert_null(bk_jobs_take_confirmed(&js, 3));
	assert_true(bk_jobs_idle(&js));
	bk_job_free(a);
	bk_job_free(b);
	bk_jobs_release(&js);
}

static void test_stop_hands_back_pending_then_terms_and_kills(void **state)
{
	struct bk_jobs js;
	struct bk_job *j, *other;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_enqueue(&js, job("id1", "a", 100, "daily"), 1);
	bk_jobs_enqueue(&js, job("id2", "b", 100, "daily"), 2);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 9);
	assert_int_equal(bk_jobs_stop_step(&js, 1000 * SEC), BK_JOBS_SIGNAL_NONE); /* not stopping */
	bk_jobs_stop(&js, 10 * SEC, 60 * SEC);
	assert_true(js.stopping);
	/* no new jobs while stopping, pending ones are handed back */
	assert_int_equal(bk_jobs_next(&js, 0, true, &j, &other), BK_JOBS_NONE);
	j = bk_jobs_pop_pending(&js);
	assert_string_equal(j->msg.job_id, "id2");
	bk_job_free(j);
	assert_null(bk_jobs_pop_pending(&js));
	/* grace, then SIGTERM (interrupted), SIGKILL every BK_JOBS_KILL_WAIT */
	assert_int_equal(bk_jobs_stop_step(&js, 69 * SEC), BK_JOBS_SIGNAL_NONE);
	assert_false(js.running[0]->interrupted);
	assert_int_equal(bk_jobs_stop_step(&js, 70 * SEC), BK_JOBS_SIGNAL_TERM);
	assert_true(js.running[0]->interrupted);
	assert_int_equal(bk_jobs_stop_step(&js, 71 * SEC), BK_JOBS_SIGNAL_NONE);
	assert_int_equal(bk_jobs_stop_step(&js, 70 * SEC + BK_JOBS_KILL_WAIT), BK_JOBS_SIGNAL_KILL);
	assert_int_equal(bk_jobs_stop_step(&js, 71 * SEC + BK_JOBS_KILL_WAIT), BK_JOBS_SIGNAL_NONE);
	assert_int_equal(bk_jobs_stop_step(&js, 70 * SEC + 2 * BK_JOBS_KILL_WAIT),
			 BK_JOBS_SIGNAL_KILL);
	j = bk_jobs_take_running(&js, 9);
	bk_job_free(j);
	/* nothing running: nothing to signal */
	assert_int_equal(bk_jobs_stop_step(&js, 1000 * SEC), BK_JOBS_SIGNAL_NONE);
	assert_true(bk_jobs_idle(&js));
	bk_jobs_release(&js);
}

static void test_second_stop_ends_the_grace_period(void **state)
{
	struct bk_jobs js;

	(void)state;
	bk_jobs_init(&js, 1);
	bk_jobs_enqueue(&js, job("id1", "a", 100, "daily"), 1);
	bk_jobs_add_running(&js, next(&js, 0, BK_JOBS_START), 9);
	bk_jobs_stop(&js, 10 * SEC, 600 * SEC);
	assert_int_equal(bk_jobs_stop_step(&js, 20 * SEC), BK_JOBS_SIGNAL_NONE);
	bk_jobs_stop(&js, 20 * SEC, 600 * SEC);
	assert_int_equal(bk_jobs_stop_step(&js, 20 * SEC), BK_JOBS_SIGNAL_TERM);
	bk_jobs_release(&js);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redelivered_job_gets_the_tag_attached),
		cmocka_unit_test(test_changed_digest_is_refused),
		cmocka_unit_test(test_same_repository_running_is_busy),
		cmocka_unit_test(test_slots_limit_running_jobs),
		cmocka_unit_test(test_deadline_passed_is_expired),
		cmocka_unit_test(test_tags_of_an_old_connection_are_never_acked),
		cmocka_unit_test(test_connection_loss_drops_pending_and_confirming),
		cmocka_unit_test(test_confirm_by_sequence_number),
		cmocka_unit_test(test_stop_hands_back_pending_then_terms_and_kills),
		cmocka_unit_test(test_second_stop_ends_the_grace_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
