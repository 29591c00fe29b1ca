/*
 * test_coord_callback.c: backup-completed-callback (coordinator/callback.h):
 * the program gets the job name as its argument and the whole result
 * document on stdin, runs without a shell, is reaped without blocking, and
 * is killed when it outlives the timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <fcntl.h>

#include "buf.h"
#include "callback.h"
#include "clock.h"
#include "fs.h"

struct ended {
	char job[65];
	int status;
	bool killed;
	int count;
};

static void done(void *arg, const char *job, int status, bool killed)
{
	struct ended *e = arg;

	snprintf(e->job, sizeof(e->job), "%s", job);
	e->status = status;
	e->killed = killed;
	e->count++;
}

/* Poll CB until nothing runs (at most 10 s), as if NOW_SHIFT microseconds later. */
static void reap(struct co_callbacks *cb, int64_t now_shift, struct ended *e)
{
	for (int i = 0; cb->n && i < 1000; i++) {
		co_callbacks_poll(cb, bk_monotonic() + now_shift, done, e);
		if (cb->n)
			usleep(10000);
	}
	assert_int_equal(cb->n, 0);
}

/* A script in DIR: "#!/bin/sh" plus BODY, executable. */
static void script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_callback_gets_job_and_document(void **state)
{
	char dir[] = "/tmp/test_coord_callback.XXXXXX", prog[4096], body[4096], out[4096];
	struct co_callbacks cb = {0};
	struct ended e = {0};
	struct bk_err err = {0};
	struct bk_buf doc;
	char *got = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/cb with space", dir);
	snprintf(body, sizeof(body), "cat > '%s/'\"$1\".json; echo \"$#\" > '%s/argc'", dir, dir);
	script(prog, body);
	/* a document larger than a pipe's buffer: nobody may block on it */
	bk_buf_init(&doc);
	for (int i = 0; i < 20000; i++)
		bk_buf_addf(&doc, "{\"line\": %d}\n", i);
	assert_int_equal(co_callback_start(&cb, prog, "vm01", doc.p, doc.len, &err), 0);
	reap(&cb, 0, &e);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.job, "vm01");
	assert_true(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0);
	assert_false(e.killed);
	snprintf(out, sizeof(out), "%s/vm01.json", dir);
	assert_int_equal(bk_fs_read_all(AT_FDCWD, out, 1 << 22, &got, &len), 0);
	assert_int_equal(len, doc.len);
	assert_memory_equal(got, doc.p, len);
	free(got);
	snprintf(out, sizeof(out), "%s/argc", dir);
	assert_int_equal(bk_fs_read_all(AT_FDCWD, out, 64, &got, &len), 0);
	assert_string_equal(got, "1\n"); /* one argument: no shell split anything */
	free(got);
	unlink(out);
	snprintf(out, sizeof(out), "%s/vm01.json", dir);
	unlink(out);
	unlink(prog);
	rmdir(dir);
	bk_buf_release(&doc);
}

static void test_failing_and_hanging_callbacks(void **state)
{
	char dir[] = "/tmp/test_coord_callback.XXXXXX", prog[4096];
	struct co_callbacks cb = {0};
	struct ended e = {0};
	struct bk_err err = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/fail", dir);
	script(prog, "exit 3");
	assert_int_equal(co_callback_start(&cb, prog, "vm02", "{}", 2, &err), 0);
	reap(&cb, 0, &e);
	assert_true(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 3);
	/* past the timeout it is killed, and reported so */
	script(prog, "exec sleep 30");
	assert_int_equal(co_callback_start(&cb, prog, "vm03", "{}", 2, &err), 0);
	co_callbacks_poll(&cb, bk_monotonic(), done, &e);
	assert_int_equal(cb.n, 1); /* still running: the poll did not wait */
	reap(&cb, CO_CALLBACK_TIMEOUT + BK_USEC, &e);
	assert_true(e.killed);
	assert_string_equal(e.job, "vm03");
	/* a program that does not exist */
	assert_true(co_callback_start(&cb, "/nonexistent/cb", "vm04", "{}", 2, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/cb"));
	unlink(prog);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callback_gets_job_and_document),
		cmocka_unit_test(test_failing_and_hanging_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
