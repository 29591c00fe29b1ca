/*
 * test_mq.c: the RabbitMQ adapter (proto/mq.c) against a real broker.
 *
 * The broker URL comes from BACKY_AMQP_URL_COORDINATOR, the coordinator's
 * broker user (tests/harness/rabbit-perms.sh: everything on backy.*, which is
 * what these tests declare, publish, consume and delete), or, when that is
 * not set, BACKY_AMQP_URL (amqp://user:pass@host:port/vhost).  The refusal
 * test also needs BACKY_AMQP_URL_CTL (backyctl's user).  Without them, or
 * with the broker unreachable, the tests fail: a skip is not a pass.  Each test uses its own host name (mqt<pid>-<test>) and so
 * its own job queue, deleted at the end.  The shared backy.dead queue is
 * only read for our own message ids; other messages are left alone.
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

static const char *g_url;

/* Connect with URL (default BACKY_AMQP_URL) and HEARTBEAT; fail the test on error. */
static struct bk_mq *conn_hb(int heartbeat)
{
	struct bk_mq_config cfg = {.url = g_url, .heartbeat_s = heartbeat, .name = "backy test_mq",
				   .timeout_ms = 10000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc = bk_mq_connect(&mq, &cfg, &err);

	if (rc)
		fail_msg("connect failed: %s", bk_err_msg(&err, rc));
	return mq;
}

static struct bk_mq *conn(void)
{
	return conn_hb(0);
}

#define OK(call)                                                                   \
	do {                                                                       \
		int rc_ = (call);                                                  \
		if (rc_ < 0)                                                       \
			fail_msg("%s failed: %s", #call, bk_err_msg(&err, rc_)); \
	} while (0)

/* Per-test host name and job queue name. */
struct names {
	char host[64];
	char queue[128];
};

static void names_init(struct names *n, const char *test)
{
	snprintf(n->host, sizeof(n->host), "mqt%d-%s", (int)getpid(), test);
	assert_int_equal(bk_topology_jobs_queue(n->host, n->queue, sizeof(n->queue)), 0);
}

static void cleanup(const struct names *n)
{
	struct bk_err err = {0};
	struct bk_mq *mq = conn();

	OK(bk_mq_delete_queue(mq, n->queue, &err));
	bk_mq_close(mq);
}

/* Wait up to MS for one delivery; fail the test if none comes. */
static void wait_one(struct bk_mq *mq, int ms, struct bk_mq_delivery *d)
{
	struct bk_err err = {0};
	int rc = bk_mq_wait(mq, ms, d, &err);

	if (rc != 1)
		fail_msg("expected a delivery, got %d: %s", rc, rc < 0 ? bk_err_msg(&err, rc) : "timeout");
}

static void publish_one(struct bk_mq *mq, const struct names *n, const char *id, const char *body)
{
	struct bk_err err = {0};

	OK(bk_mq_publish(mq, BK_EX_JOBS, n->host, body, strlen(body), id, &err));
}

/* ---- tests ---------------------------------------------------------------- */

static void test_declare_twice_is_idempotent(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;

	(void)state;
	names_init(&n, "declare");
	mq = conn();
	OK(bk_mq_declare(mq, NULL, &err));
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_declare(mq, n.host, &err));
	bk_mq_close(mq);
	mq = conn();
	OK(bk_mq_declare(mq, n.host, &err));
	assert_true(bk_mq_usable(mq));
	bk_mq_close(mq);
	cleanup(&n);
}

static void test_declare_rejects_bad_host(void **state)
{
	struct bk_err err = {0};
	struct bk_mq *mq = conn();

	(void)state;
	assert_int_equal(bk_mq_declare(mq, "a b/c", &err), BK_EUSAGE);
	assert_true(bk_mq_usable(mq));
	bk_mq_close(mq);
}

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

/*
 * Wait idle for SECS seconds in waits of WAIT_MS (each must end without a
 * delivery or error), then check that the connection still works: publish
 * ID, receive and acknowledge it.  Returns the number of waits.
 */
static int idle_then_deliver(struct bk_mq *mq, const struct names *n, int secs, int wait_ms,
			     const char *id)
{
	struct bk_err err = {0};
	struct bk_mq_delivery d;
	int64_t until = bk_monotonic() + secs * BK_USEC;
	int loops = 0;

	while (bk_monotonic() < until) {
		int rc = bk_mq_wait(mq, wait_ms, &d, &err);

		if (rc != 0)
			fail_msg("idle wait returned %d: %s", rc, bk_err_msg(&err, rc));
		loops++;
	}
	assert_true(bk_mq_usable(mq));
	publish_one(mq, n, id, "{}");
	wait_one(mq, 5000, &d);
	assert_string_equal(d.message_id, id);
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);
	return loops;
}

static void test_heartbeats_keep_idle_connection_open(void **state)
{
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	int loops;

	(void)state;
	names_init(&n, "heartbeat");
	mq = conn_hb(2);
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	loops = idle_then_deliver(mq, &n, 10, 1000, "hb-1");
	printf("# heartbeat 2 s: connection alive after %d one-second waits\n", loops);
	bk_mq_close(mq);
	cleanup(&n);
}

static volatile sig_atomic_t g_alarms;

static void on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
}

/*
 * With a wait mask, a signal ends bk_mq_wait at once, also one that came
 * while it was blocked before the wait; the waits stay short enough for
 * heartbeats, and deliveries still come out.
 */
static void test_wait_mask_signal_ends_wait(void **state)
{
	struct itimerval it = {.it_value = {0, 200000}};
	struct sigaction sa = {.sa_handler = on_alarm};
	struct bk_err err = {0};
	struct bk_mq_delivery d;
	sigset_t block, old, mask;
	struct bk_mq *mq;
	struct names n;
	int64_t t0;
	int loops;

	(void)state;
	names_init(&n, "waitmask");
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	mask = old;
	sigdelset(&mask, SIGALRM);
	mq = conn_hb(2);
	bk_mq_set_wait_mask(mq, &mask);
	OK(bk_mq_declare(mq, n.host, &err));
	OK(bk_mq_consume(mq, n.queue, 1, &err));

	/* a signal during the wait */
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = bk_monotonic();
	assert_int_equal(bk_mq_wait(mq, 20000, &d, &err), 0);
	assert_int_equal(g_alarms, 1);
	assert_true(bk_monotonic() - t0 < 900000); /* not the 20 s, nor a 1 s tick */

	/* a signal that came before the wait (pending while blocked) */
	raise(SIGALRM);
	t0 = bk_monotonic();
	assert_int_equal(bk_mq_wait(mq, 20000, &d, &err), 0);
	assert_int_equal(g_alarms, 2);
	assert_true(bk_monotonic() - t0 < 100000);

	/* 6 s of masked waits with a 2 s heartbeat: the connection stays up */
	loops = idle_then_deliver(mq, &n, 6, 20000, "wm-1");
	assert_true(loops >= 6); /* woke up at least every 0.5 s (heartbeat / 4) */
	printf("# wait mask: %d masked waits in 6 s, connection alive\n", loops);
	bk_mq_close(mq);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGALRM, SIG_DFL);
	cleanup(&n);
}

/* Not calling the library for 4 heartbeat intervals loses the connection: BK_EMQ. */
static void test_missed_heartbeats_are_transient_errors(void **state)
{
	struct bk_err err = {0};
	struct bk_mq *mq = conn_hb(1);
	struct bk_mq_delivery d;
	struct timespec ts = {5, 0};
	int rc;

	(void)state;
	nanosleep(&ts, NULL);
	rc = bk_mq_wait(mq, 3000, &d, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_EMQ);
	assert_false(bk_mq_usable(mq));
	bk_mq_close(mq);
}

static char *url_with(const char *user, const char *pass, const char *vhost)
{
	/* Rebuild BACKY_AMQP_URL with another user, password or vhost. */
	const char *rest = strstr(g_url, "://");
	const char *at;
	const char *slash;
	struct bk_buf b;

	assert_non_null(rest);
	rest += 3;
	at = strchr(rest, '@');
	assert_non_null(at);
	slash = strchr(at, '/');
	bk_buf_init(&b);
	bk_buf_add(&b, g_url, (size_t)(rest - g_url));
	bk_buf_addf(&b, "%s:%s", user, pass);
	if (slash)
		bk_buf_add(&b, at, (size_t)(slash - at));
	else
		bk_buf_adds(&b, at);
	bk_buf_addf(&b, "/%s", vhost);
	return b.p;
}

static void test_connect_errors_are_classified(void **state)
{
	struct bk_mq_config cfg = {.timeout_ms = 5000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	char *url;
	int rc;

	(void)state;
	cfg.url = "amqp://u:secretpw@127.0.0.1:1/v";
	rc = bk_mq_connect(&mq, &cfg, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_EMQ);
	assert_null(mq);
	assert_string_equal(err.msg, "rabbitmq: connection to '127.0.0.1:1' refused");

	bk_err_clear(&err);
	cfg.url = "http://nope";
	assert_int_equal(bk_mq_connect(&mq, &cfg, &err), BK_ECONFIG);

	url = url_with("ciuser", "wrong-secretpw", "ci");
	cfg.url = url;
	bk_err_clear(&err);
	rc = bk_mq_connect(&mq, &cfg, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_ECONFIG);
	assert_non_null(strstr(err.msg, "403 ACCESS_REFUSED"));
	assert_null(strstr(err.msg, "secretpw"));
	free(url);

	/* The test user's password is whatever BACKY_AMQP_URL says: reuse it. */
	{
		struct bk_mq *ok = conn();
		bk_mq_close(ok);
	}
	{
		const char *rest = strstr(g_url, "://") + 3;
		const char *colon = strchr(rest, ':');
		const char *at = strchr(rest, '@');
		char user[128];
		char pass[128];

		assert_true(colon && at && colon < at);
		snprintf(user, sizeof(user), "%.*s", (int)(colon - rest), rest);
		snprintf(pass, sizeof(pass), "%.*s", (int)(at - colon - 1), colon + 1);
		url = url_with(user, pass, "no-such-vhost-mqt");
	}
	cfg.url = url;
	bk_err_clear(&err);
	rc = bk_mq_connect(&mq, &cfg, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_ECONFIG);
	assert_non_null(strstr(err.msg, "530 NOT_ALLOWED"));
	free(url);
}

struct retry_log {
	unsigned calls;
	unsigned delays[8];
	int stop;
};

static void on_retry(void *arg, const struct bk_err *err, unsigned attempt, unsigned delay_ms)
{
	struct retry_log *log = arg;

	assert_int_equal(err->code, BK_EMQ);
	assert_int_equal(attempt, log->calls + 1);
	if (log->calls < 8)
		log->delays[log->calls] = delay_ms;
	log->calls++;
	if (log->calls == 3)
		log->stop = 1;
}

static void test_connect_retry_backs_off_until_stopped(void **state)
{
	struct retry_log log = {0};
	struct bk_mq_config cfg = {.url = "amqp://u:p@127.0.0.1:1/v", .timeout_ms = 2000,
				   .on_retry = on_retry, .on_retry_arg = &log};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc;

	(void)state;
	rc = bk_mq_connect_retry(&mq, &cfg, &log.stop, &err);
	assert_int_equal(rc, BK_EMQ);
	assert_null(mq);
	assert_int_equal(log.calls, 3);
	/* 0.5 s, 1 s, 2 s, each +-25 %. */
	assert_in_range(log.delays[0], 375, 625);
	assert_in_range(log.delays[1], 750, 1250);
	assert_in_range(log.delays[2], 1500, 2500);
	printf("# retry delays: %u %u %u ms; %s\n", log.delays[0], log.delays[1], log.delays[2],
	       err.msg);

	/* Against the real broker it connects at once. */
	log = (struct retry_log){0};
	cfg.url = g_url;
	bk_err_clear(&err);
	OK(bk_mq_connect_retry(&mq, &cfg, &log.stop, &err));
	assert_int_equal(log.calls, 0);
	bk_mq_close(mq);
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

struct restart_wait {
	int stop;
	int64_t until;
	unsigned attempts;
};

static void on_restart_retry(void *arg, const struct bk_err *err, unsigned attempt,
			     unsigned delay_ms)
{
	struct restart_wait *w = arg;

	(void)err;
	(void)delay_ms;
	w->attempts = attempt;
	if (bk_monotonic() > w->until)
		w->stop = 1;
}

/*
 * The broker restarts (tests/harness/rabbit-restart.sh) under a consumer:
 * the consumer sees BK_EMQ, bk_mq_connect_retry gets back in once the
 * broker is up, and the unacknowledged persistent message is still there.
 */
static void test_broker_restart_then_reconnect(void **state)
{
	const char *dir = getenv("BACKY_RABBIT_DIR");
	char script[4096];
	struct names n;
	struct bk_err err = {0};
	struct bk_mq *mq;
	struct bk_mq_delivery d;
	struct restart_wait w = {0};
	struct bk_mq_config cfg = {.url = g_url, .heartbeat_s = 2, .timeout_ms = 5000,
				   .on_retry = on_restart_retry, .on_retry_arg = &w};
	char *argv[4];
	pid_t pid;
	int status = 0;
	int64_t t0;
	int64_t until;
	int rc = 0;

	(void)state;
	if (!dir || !dir[0])
		fail_msg("BACKY_RABBIT_DIR is not set: run under tests/harness/with-services.sh "
			 "--rabbit, the broker restart test restarts that broker");
	snprintf(script, sizeof(script), "%s/tests/harness/rabbit-restart.sh", BK_SOURCE_DIR);
	names_init(&n, "restart");
	mq = conn_hb(2);
	OK(bk_mq_declare(mq, n.host, &err));
	publish_one(mq, &n, "rs-1", "{\"survives\":true}");
	OK(bk_mq_consume(mq, n.queue, 1, &err));
	wait_one(mq, 5000, &d);
	assert_false(d.redelivered);
	bk_mq_delivery_release(&d); /* never acked */

	argv[0] = "bash";
	argv[1] = script;
	argv[2] = (char *)dir;
	argv[3] = NULL;
	t0 = bk_monotonic();
	assert_int_equal(posix_spawnp(&pid, "bash", NULL, NULL, argv, NULL), 0);

	until = t0 + 120 * BK_USEC;
	while (bk_monotonic() < until) {
		rc = bk_mq_wait(mq, 1000, &d, &err);
		if (rc != 0)
			break;
	}
	printf("# during restart after %.1f s: %s\n", (double)(bk_monotonic() - t0) / BK_USEC,
	       err.msg);
	assert_int_equal(rc, BK_EMQ);
	assert_false(bk_mq_usable(mq));
	bk_mq_close(mq);

	w.until = bk_monotonic() + 120 * BK_USEC;
	bk_err_clear(&err);
	rc = bk_mq_connect_retry(&mq, &cfg, &w.stop, &err);
	if (rc)
		fail_msg("no reconnect within 120 s: %s", err.msg);
	printf("# reconnected %.1f s after the restart began, %u failed attempts\n",
	       (double)(bk_monotonic() - t0) / BK_USEC, w.attempts);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	OK(bk_mq_consume(mq, n.queue, 1, &err));
	wait_one(mq, 30000, &d);
	assert_string_equal(d.message_id, "rs-1");
	assert_string_equal((const char *)d.body, "{\"survives\":true}");
	assert_true(d.redelivered);
	OK(bk_mq_ack(mq, d.tag, &err));
	bk_mq_delivery_release(&d);
	bk_mq_close(mq);
	cleanup(&n);
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

/*
 * A user without the right (backyctl's: it may only publish to backy.control)
 * gets BK_ECONFIG with the broker's 403 ACCESS_REFUSED, for a declare and for
 * a publish to another exchange: retrying will not help.
 */
static void test_access_refused_is_a_config_error(void **state)
{
	const char *url = getenv("BACKY_AMQP_URL_CTL");
	struct bk_mq_config cfg = {.url = url, .timeout_ms = 10000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc;

	(void)state;
	if (!url || !url[0])
		fail_msg("BACKY_AMQP_URL_CTL is not set: run under tests/harness/with-services.sh "
			 "--rabbit, whose broker has backy's role users");
	OK(bk_mq_connect(&mq, &cfg, &err));
	rc = bk_mq_declare(mq, NULL, &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_ECONFIG);
	assert_non_null(strstr(err.msg, "403 ACCESS_REFUSED"));
	assert_false(bk_mq_usable(mq));
	bk_mq_close(mq);

	bk_err_clear(&err);
	OK(bk_mq_connect(&mq, &cfg, &err));
	rc = bk_mq_publish(mq, BK_EX_JOBS, "somehost", "{}", 2, "refused-1", &err);
	printf("# expected error: %s\n", err.msg);
	assert_int_equal(rc, BK_ECONFIG);
	assert_non_null(strstr(err.msg, "403 ACCESS_REFUSED"));
	bk_mq_close(mq);
}

static int group_setup(void **state)
{
	struct bk_mq_config cfg = {.timeout_ms = 5000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc;

	(void)state;
	g_url = getenv("BACKY_AMQP_URL_COORDINATOR");
	if (!g_url || !g_url[0])
		g_url = getenv("BACKY_AMQP_URL");
	if (!g_url || !g_url[0]) {
		fprintf(stderr, "test_mq: neither BACKY_AMQP_URL_COORDINATOR nor BACKY_AMQP_URL is set "
				"(amqp://user:pass@host:port/vhost); this integration test needs a "
				"real RabbitMQ\n");
		return -1;
	}
	cfg.url = g_url;
	rc = bk_mq_connect(&mq, &cfg, &err);
	if (rc) {
		fprintf(stderr, "test_mq: broker unreachable: %s\n", bk_err_msg(&err, rc));
		return -1;
	}
	bk_mq_close(mq);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_declare_twice_is_idempotent),
		cmocka_unit_test(test_declare_rejects_bad_host),
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
		cmocka_unit_test(test_access_refused_is_a_config_error),
		cmocka_unit_test(test_oversized_delivery_is_dead_lettered),
		cmocka_unit_test(test_connect_errors_are_classified),
		cmocka_unit_test(test_connect_retry_backs_off_until_stopped),
		cmocka_unit_test(test_heartbeats_keep_idle_connection_open),
		cmocka_unit_test(test_wait_mask_signal_ends_wait),
		cmocka_unit_test(test_missed_heartbeats_are_transient_errors),
		cmocka_unit_test(test_broker_restart_then_reconnect),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
