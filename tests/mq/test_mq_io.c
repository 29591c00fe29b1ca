/*
 * test_mq_io.c: the RabbitMQ adapter (proto/mq.c) against a real broker:
 * publishing and consuming: confirms, acknowledgements, prefetch, rejects and
 * dead-lettering, redelivery, unroutable and oversized messages, batches,
 * cancel and missing queues.
 *
 * The shared backy.dead queue is only read for our own message ids; other
 * messages are left alone.  The broker URL and the per-test names:
 * mq_fixture.h.
 */
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "mq.h"
#include "topology.h"

#include "mq_fixture.h"

static void test_publish_confirm_consume_ack(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d;
	char id[64];

	(void)state;
	names_init(&n, "basic");
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	for (int i = 0; i < 3; i++) {
		char body[64];

		snprintf(id, sizeof(id), "basic-%d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		publish_one(mq, &n, id, body);
	}
	OK(bk_mq_consume(mq, n.queue, 2, &err));
	for (int i = 0; i < 3; i++) {
		char body[64];

		wait_one(mq, 5000, &d);
		snprintf(id, sizeof(id), "basic-%d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		assert_string_equal(d.message_id, id);
		assert_string_equal(d.exchange, BK_EX_JOBS);
		assert_string_equal(d.routing_key, n.host);
		assert_string_equal(d.queue, n.queue);
		assert_int_equal(d.len, strlen(body));
		assert_string_equal((const char *)d.body, body);
		assert_false(d.redelivered);
		OK(bk_mq_ack(mq, d.tag, &err));
		bk_mq_delivery_release(&d);
	}
	/* Nothing else is there. */
	assert_int_equal(bk_mq_wait(mq, 300, &d, &err), 0);
	OK(bk_mq_cancel(mq, &err));
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_prefetch_limits_unacked(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d[3];
	struct bk_mq_delivery extra;

	(void)state;
	names_init(&n, "prefetch");
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	for (int i = 0; i < 5; i++) {
		char id[32];

		snprintf(id, sizeof(id), "pf-%d", i);
		publish_one(mq, &n, id, "{}");
	}
	OK(bk_mq_consume(mq, n.queue, 2, &err));
	wait_one(mq, 5000, &d[0]);
	wait_one(mq, 5000, &d[1]);
	/* Prefetch 2: the third message waits for an ack. */
	assert_int_equal(bk_mq_wait(mq, 500, &extra, &err), 0);
	OK(bk_mq_ack(mq, d[0].tag, &err));
	wait_one(mq, 5000, &d[2]);
	assert_string_equal(d[2].message_id, "pf-2");
	for (int i = 0; i < 3; i++)
		bk_mq_delivery_release(&d[i]);
	bk_mq_close(mq); /* unacked ones go back */
	cleanup(&n);
}

static void test_reject_without_requeue_lands_in_dead(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d;
	char id[96];
	bool found = false;
	int64_t until;

	(void)state;
	names_init(&n, "dead");
	snprintf(id, sizeof(id), "%s-poison", n.host);
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	publish_one(mq, &n, id, "{\"poison\":true}");
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, id);
	OK(bk_mq_reject(mq, d.tag, false, &err));
	bk_mq_delivery_release(&d);

	/* Look for it in backy.dead; leave everybody else's messages unacked. */
	OK(bk_mq_consume(mq, BK_Q_DEAD, 200, &err));
	until = bk_monotonic() + 10 * BK_USEC;
	while (!found && bk_monotonic() < until) {
		int rc = bk_mq_wait(mq, 500, &d, &err);

		if (rc < 0)
			fail_msg("wait: %s", bk_err_msg(&err, rc));
		if (rc == 1 && strcmp(d.message_id, id) == 0) {
			found = true;
			assert_string_equal(d.queue, BK_Q_DEAD);
			assert_string_equal(d.exchange, BK_EX_DLX);
			assert_string_equal(d.routing_key, n.host); /* dead-lettering keeps the key */
			assert_string_equal((const char *)d.body, "{\"poison\":true}");
			OK(bk_mq_ack(mq, d.tag, &err));
		}
		if (rc == 1)
			bk_mq_delivery_release(&d);
	}
	assert_true(found);
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_redelivered_after_requeue_and_after_close(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d;

	(void)state;
	names_init(&n, "redeliver");
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	publish_one(mq, &n, "r-1", "{}");
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	wait_one(mq, 5000, &d);
	assert_false(d.redelivered);
	OK(bk_mq_reject(mq, d.tag, true, &err));
	bk_mq_delivery_release(&d);
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, "r-1");
	assert_true(d.redelivered);
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);

	/* A consumer that goes away without acking: the message comes back. */
	publish_one(mq, &n, "r-2", "{}");
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, "r-2");
	assert_false(d.redelivered);
	bk_mq_delivery_release(&d);
	bk_mq_close(mq);

	mq = conn();
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, "r-2");
	assert_true(d.redelivered);
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_publish_to_missing_exchange_then_reconnect(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	char ex[64];
	int rc;

	(void)state;
	names_init(&n, "noexchange");
	snprintf(ex, sizeof(ex), "backy.nonexistent.%d", (int)getpid());
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	rc = bk_mq_publish(mq, ex, "k", "{}", 2, "x-1", &err);
	assert_int_equal(rc, BK_EMQ);
	printf("# expected error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "channel closed by broker: 404 NOT_FOUND"));
	assert_non_null(strstr(err.msg, ex));
	assert_false(bk_mq_usable(mq));
	/* The handle stays broken until the caller reconnects. */
	bk_err_clear(&err);
	assert_int_equal(bk_mq_publish(mq, BK_EX_JOBS, n.host, "{}", 2, "x-2", &err), BK_EMQ);
	bk_mq_close(mq);

	mq = conn();
	publish_one(mq, &n, "x-3", "{}");
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_unroutable_mandatory_publish_is_reported(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	char key[96];
	int rc;

	(void)state;
	names_init(&n, "unroutable");
	snprintf(key, sizeof(key), "%s-nobody", n.host);
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	rc = bk_mq_publish(mq, BK_EX_JOBS, key, "{}", 2, "u-1", &err);
	assert_int_equal(rc, BK_ECONFIG);
	printf("# expected error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "unroutable"));
	assert_non_null(strstr(err.msg, "312 NO_ROUTE"));
	assert_non_null(strstr(err.msg, "u-1"));
	/* Still usable: a routable message goes through. */
	assert_true(bk_mq_usable(mq));
	publish_one(mq, &n, "u-2", "{}");

	/* In a batch only the unroutable message fails. */
	{
		struct bk_mq_msg m[3] = {
			{.exchange = BK_EX_JOBS, .key = n.host, .body = "{}", .len = 2, .message_id = "u-3"},
			{.exchange = BK_EX_JOBS, .key = key, .body = "{}", .len = 2, .message_id = "u-4"},
			{.exchange = BK_EX_JOBS, .key = n.host, .body = "{}", .len = 2, .message_id = "u-5"},
		};

		bk_err_clear(&err);
		rc = bk_mq_publish_batch(mq, m, 3, &err);
		assert_int_equal(rc, BK_ECONFIG);
		assert_int_equal(m[0].result, 0);
		assert_int_equal(m[1].result, BK_ECONFIG);
		assert_int_equal(m[2].result, 0);
		assert_non_null(strstr(err.msg, "1 of 3"));
	}
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_batch_5000_confirmed_and_drained(void **state)
{
	enum { N = 5000 };
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_msg *m = calloc(N, sizeof(*m));
	char (*ids)[32] = calloc(N, sizeof(*ids));
	char body[200];
	unsigned char *seen = calloc(N, 1);
	struct bk_mq_delivery d;
	int64_t t0;
	double secs;
	int got = 0;

	(void)state;
	names_init(&n, "batch");
	memset(body, 'x', sizeof(body));
	body[0] = '"';
	body[sizeof(body) - 1] = '"';
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "b-%d", i);
		m[i] = (struct bk_mq_msg){.exchange = BK_EX_JOBS, .key = n.host, .body = body,
					  .len = sizeof(body), .message_id = ids[i]};
	}
	t0 = bk_monotonic();
	OK(bk_mq_publish_batch(mq, m, N, &err));
	secs = (double)(bk_monotonic() - t0) / BK_USEC;
	for (int i = 0; i < N; i++)
		assert_int_equal(m[i].result, 0);
	printf("# batch publish: %d confirmed messages of %zu bytes in %.3f s = %.0f msgs/s\n", N,
	       sizeof(body), secs, N / secs);

	/* For comparison: one confirm round trip per message. */
	t0 = bk_monotonic();
	for (int i = 0; i < 500; i++) {
		char id[32];

		snprintf(id, sizeof(id), "s-%d", i);
		OK(bk_mq_publish(mq, BK_EX_JOBS, n.host, body, sizeof(body), id, &err));
	}
	secs = (double)(bk_monotonic() - t0) / BK_USEC;
	printf("# single publish: 500 confirmed messages in %.3f s = %.0f msgs/s\n", secs, 500 / secs);

	t0 = bk_monotonic();
	OK(bk_mq_consume(mq, n.queue, 500, &err));
	while (got < N + 500) {
		int rc = bk_mq_wait(mq, 5000, &d, &err);

		if (rc != 1)
			fail_msg("drain stopped after %d: %d %s", got, rc, bk_err_msg(&err, rc));
		if (d.message_id[0] == 'b') {
			char *end = NULL;
			long i = strtol(d.message_id + 2, &end, 10);

			assert_true(*end == '\0' && i >= 0 && i < N);
			assert_false(seen[i]);
			seen[i] = 1;
		}
		assert_int_equal(d.len, sizeof(body));
		OK(bk_mq_ack(mq, d.tag, &err));
		bk_mq_delivery_release(&d);
		got++;
	}
	secs = (double)(bk_monotonic() - t0) / BK_USEC;
	printf("# drain: %d messages consumed and acked in %.3f s = %.0f msgs/s\n", got, secs,
	       got / secs);
	assert_int_equal(bk_mq_wait(mq, 200, &d, &err), 0);
	bk_mq_close(mq);
	cleanup(&n);
	free(seen);
	free(ids);
	free(m);
}

/* Deliveries that arrive while we wait for confirms are kept for bk_mq_wait. */
static void test_publish_while_consuming_same_connection(void **state)
{
	enum { N = 1000 };
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_msg *m = calloc(N, sizeof(*m));
	char (*ids)[32] = calloc(N, sizeof(*ids));
	struct bk_mq_delivery d;
	int got = 0;

	(void)state;
	names_init(&n, "mixed");
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_consume(mq, n.queue, 300, &err));
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "m-%d", i);
		m[i] = (struct bk_mq_msg){.exchange = BK_EX_JOBS, .key = n.host, .body = "{}", .len = 2,
					  .message_id = ids[i]};
	}
	OK(bk_mq_publish_batch(mq, m, N, &err));
	while (got < N) {
		int rc = bk_mq_wait(mq, 5000, &d, &err);

		if (rc != 1)
			fail_msg("got %d of %d: %d %s", got, N, rc, bk_err_msg(&err, rc));
		assert_string_equal(d.message_id, ids[got]); /* one queue, one consumer: in order */
		OK(bk_mq_ack(mq, d.tag, &err));
		bk_mq_delivery_release(&d);
		got++;
	}
	bk_mq_close(mq);
	cleanup(&n);
	free(ids);
	free(m);
}

static void test_cancel_stops_deliveries(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d;

	(void)state;
	names_init(&n, "cancel");
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_consume(mq, n.queue, 5, &err));
	OK(bk_mq_cancel(mq, &err));
	publish_one(mq, &n, "c-1", "{}");
	assert_int_equal(bk_mq_wait(mq, 500, &d, &err), 0);
	OK(bk_mq_consume(mq, n.queue, 5, &err));
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, "c-1");
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_oversized_delivery_is_dead_lettered(void **state)
{
	struct names n;
	struct bk_mq_config cfg = {.url = g_url, .max_body = 100};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	struct bk_mq_delivery d;
	char big[300];
	int rc;

	(void)state;
	names_init(&n, "oversized");
	memset(big, 'y', sizeof(big));
	OK(bk_mq_connect(&mq, &cfg, &err));
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_publish(mq, BK_EX_JOBS, n.host, big, sizeof(big), "big-1", &err));
	publish_one(mq, &n, "small-1", "{}");
	OK(bk_mq_consume(mq, n.queue, 5, &err));
	rc = bk_mq_wait(mq, 5000, &d, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_EPROTO);
	assert_true(bk_mq_usable(mq));
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, "small-1");
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);
	bk_mq_close(mq);
	cleanup(&n);
	/* big-1 sits in backy.dead now; drain it so reruns stay clean. */
	mq = conn();
	OK(bk_mq_consume(mq, BK_Q_DEAD, 100, &err));
	for (;;) {
		rc = bk_mq_wait(mq, 1000, &d, &err);
		if (rc != 1)
			break;
		if (strcmp(d.message_id, "big-1") == 0) {
			OK(bk_mq_ack(mq, d.tag, &err));
			bk_mq_delivery_release(&d);
			break;
		}
		bk_mq_delivery_release(&d);
	}
	bk_mq_close(mq);
}

/*
 * Only the coordinator declares job queues: consuming one that nobody has
 * declared yet is -ENOENT (the worker waits for it), and the handle is
 * broken like after any channel error.
 */
static void test_consume_missing_queue_is_enoent(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	int rc;

	(void)state;
	names_init(&n, "missing");
	mq = conn();
	OK(bk_mq_delete_queue(mq, n.queue, &err));
	rc = bk_mq_consume(mq, n.queue, 1, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(err.code, -ENOENT);
	assert_non_null(strstr(err.msg, "404 NOT_FOUND"));
	assert_non_null(strstr(err.msg, n.queue));
	assert_false(bk_mq_usable(mq));
	bk_err_clear(&err);
	assert_int_equal(bk_mq_publish(mq, BK_EX_RESULTS, "a.b.c.d", "{}", 2, "m-1", &err), BK_EMQ);
	bk_mq_close(mq);

	/* once declared, the same consume works */
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	bk_mq_close(mq);
	cleanup(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_confirm_consume_ack),
		cmocka_unit_test(test_prefetch_limits_unacked),
		cmocka_unit_test(test_reject_without_requeue_lands_in_dead),
		cmocka_unit_test(test_redelivered_after_requeue_and_after_close),
		cmocka_unit_test(test_publish_to_missing_exchange_then_reconnect),
		cmocka_unit_test(test_unroutable_mandatory_publish_is_reported),
		cmocka_unit_test(test_batch_5000_confirmed_and_drained),
		cmocka_unit_test(test_publish_while_consuming_same_connection),
		cmocka_unit_test(test_cancel_stops_deliveries),
		cmocka_unit_test(test_consume_missing_queue_is_enoent),
		cmocka_unit_test(test_oversized_delivery_is_dead_lettered),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
