/*
 * test_service.c: the daemons' side of systemd (common/service.c): what they
 * send to NOTIFY_SOCKET, when, and the watchdog's timing; a datagram socket of
 * the test stands in for systemd's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service.h"

struct fixture {
	char dir[48];
	char path[80];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_service.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", f->path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	free(f);
	return 0;
}

/* The next datagram, or "" if none comes within MS. */
static const char *next_msg(struct fixture *f, int ms)
{
	static char buf[1024];
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, ms) != 1)
		return buf;
	n = recv(f->fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_ready_sends_ready_and_status(void **state)
{
	struct fixture *f = *state;
	struct bk_service svc;

	bk_service_init(&svc);
	assert_int_equal(svc.watchdog_usec, 0);
	assert_true(bk_service_ready(&svc, "consuming backy.jobs.h1") > 0);
	assert_string_equal(next_msg(f, 1000), "READY=1\nSTATUS=consuming backy.jobs.h1");
	bk_service_status(&svc, "waiting for the broker");
	assert_string_equal(next_msg(f, 1000), "STATUS=waiting for the broker");
	assert_int_equal(bk_service_status(&svc, NULL), 0);
	assert_string_equal(next_msg(f, 50), "");
}

static void test_reload_is_silent_before_ready(void **state)
{
	struct fixture *f = *state;
	struct bk_service svc;
	const char *m;

	bk_service_init(&svc);
	assert_int_equal(bk_service_reloading(&svc), 0);
	assert_int_equal(bk_service_reloaded(&svc, "x"), 0);
	assert_string_equal(next_msg(f, 50), "");

	bk_service_ready(&svc, NULL);
	assert_string_equal(next_msg(f, 1000), "READY=1");
	bk_service_reloading(&svc);
	m = next_msg(f, 1000);
	assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(strtoull(m + 27, NULL, 10) > 0);
	bk_service_reloaded(&svc, "reloaded");
	assert_string_equal(next_msg(f, 1000), "READY=1\nSTATUS=reloaded");
}

static void test_stopping_is_sent_once(void **state)
{
	struct fixture *f = *state;
	struct bk_service svc;

	bk_service_init(&svc);
	bk_service_stopping(&svc);
	assert_string_equal(next_msg(f, 1000), "STOPPING=1\nSTATUS=stopping");
	assert_int_equal(bk_service_stopping(&svc), 0);
	assert_string_equal(next_msg(f, 50), "");
}

static void test_watchdog_pings_every_half_interval(void **state)
{
	struct fixture *f = *state;
	struct bk_service svc;
	int ms;

	setenv("WATCHDOG_USEC", "400000", 1);
	bk_service_init(&svc);
	assert_int_equal(svc.watchdog_usec, 400000);
	assert_int_equal(bk_service_wait_ms(&svc, 500), 500); /* no ping yet: nothing to time */
	bk_service_watchdog(&svc);
	assert_string_equal(next_msg(f, 1000), "WATCHDOG=1");
	/* the next one is due 200 ms after the first: not sooner, and no wait beyond it */
	assert_int_equal(bk_service_watchdog(&svc), 0);
	assert_string_equal(next_msg(f, 50), "");
	ms = bk_service_wait_ms(&svc, 500);
	assert_true(ms >= 1 && ms <= 200);
	assert_int_equal(bk_service_wait_ms(&svc, 1), 1);
	usleep((useconds_t)(ms + 5) * 1000);
	bk_service_watchdog(&svc);
	assert_string_equal(next_msg(f, 1000), "WATCHDOG=1");
}

static void test_no_watchdog_for_another_pid(void **state)
{
	struct bk_service svc;
	char pid[32];

	(void)state;
	setenv("WATCHDOG_USEC", "400000", 1);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	bk_service_init(&svc);
	assert_int_equal(svc.watchdog_usec, 0);
	assert_int_equal(bk_service_watchdog(&svc), 0);
	assert_int_equal(bk_service_wait_ms(&svc, 700), 700);
}

static void test_without_notify_socket_nothing_is_sent(void **state)
{
	struct fixture *f = *state;
	struct bk_service svc;

	unsetenv("NOTIFY_SOCKET");
	bk_service_init(&svc);
	assert_int_equal(bk_service_ready(&svc, "x"), 0);
	assert_int_equal(bk_service_stopping(&svc), 0);
	assert_string_equal(next_msg(f, 50), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_sends_ready_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_is_silent_before_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopping_is_sent_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_pings_every_half_interval, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_watchdog_for_another_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_notify_socket_nothing_is_sent, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
