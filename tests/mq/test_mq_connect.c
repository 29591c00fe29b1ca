/*
 * test_mq_connect.c: the RabbitMQ adapter (proto/mq.c) against a real broker:
 * the connection and its topology: declaring, connect errors and their
 * classification, connect retries, heartbeats and signals during a wait, a
 * broker restart, and refused access.
 *
 * The refusal test also needs BACKY_AMQP_URL_CTL (backyctl's user); the
 * broker URL and the per-test names: mq_fixture.h.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_declare_twice_is_idempotent),
		cmocka_unit_test(test_declare_rejects_bad_host),
		cmocka_unit_test(test_access_refused_is_a_config_error),
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
