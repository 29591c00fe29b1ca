/* test_job_journal.c: cmocka tests of backy-worker's idempotency journal (worker/daemon/job_journal.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "job_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	struct bk_journal j;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct bk_err err = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	strcat(f->dir, "/state"); /* bk_journal_open creates it */
	assert_int_equal(bk_journal_open(&f->j, f->dir, &err), 0);
	*state = f;
	return 0;
}

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *slash;

	bk_journal_close(&f->j);
	slash = strrchr(f->dir, '/');
	*slash = '\0';
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void entry(struct bk_journal_entry *e, enum bk_journal_state st, const char *id)
{
	bk_journal_entry_init(e);
	e->state = st;
	snprintf(e->job_id, sizeof(e->job_id), "%s", id);
	snprintf(e->job, sizeof(e->job), "vm01");
	e->pid = (long)getpid();
	e->pid_start = bk_journal_proc_start(getpid());
	e->started = 1000;
}

static void test_missing_entry_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;

	assert_int_equal(bk_journal_get(&f->j, "nothere", &e, NULL), -ENOENT);
}

static void test_running_then_done_round_trip(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e, got;
	struct bk_err err = {0};

	entry(&e, BK_JOURNAL_RUNNING, "job-1");
	e.child = 42;
	e.child_start = 77;
	snprintf(e.digest, sizeof(e.digest), "0123456789abcdef0123456789abcdef");
	assert_int_equal(bk_journal_put(&f->j, &e, true, &err), 0);
	assert_int_equal(bk_journal_get(&f->j, "job-1", &got, &err), 0);
	assert_int_equal(got.state, BK_JOURNAL_RUNNING);
	assert_string_equal(got.job, "vm01");
	assert_string_equal(got.digest, "0123456789abcdef0123456789abcdef");
	assert_int_equal(got.child, 42);
	assert_int_equal(got.child_start, 77);
	assert_null(got.result);
	bk_journal_entry_release(&got);

	e.state = BK_JOURNAL_DONE;
	e.finished = 2000;
	bk_journal_entry_set_result(&e, "{\"kind\":\"result\"}");
	assert_int_equal(bk_journal_put(&f->j, &e, true, &err), 0);
	assert_int_equal(bk_journal_get(&f->j, "job-1", &got, &err), 0);
	assert_int_equal(got.state, BK_JOURNAL_DONE);
	assert_false(got.published);
	assert_string_equal(got.digest, "0123456789abcdef0123456789abcdef");
	assert_string_equal(got.result, "{\"kind\":\"result\"}");
	assert_int_equal(got.finished, 2000);
	bk_journal_entry_release(&got);

	e.published = true;
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	assert_int_equal(bk_journal_get(&f->j, "job-1", &got, &err), 0);
	assert_true(got.published);
	bk_journal_entry_release(&got);
	bk_journal_entry_release(&e);
}

static void test_put_leaves_no_temporary_files(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;
	struct bk_err err = {0};
	struct dirent *de;
	DIR *d;
	int n = 0;

	entry(&e, BK_JOURNAL_RUNNING, "job-2");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bk_journal_put(&f->j, &e, i % 2 == 0, &err), 0);
	}
	d = opendir(f->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".lock") && strcmp(de->d_name, ".") &&
		    strcmp(de->d_name, ".."))
			fail_msg("temporary file '%s' left", de->d_name);
		n += strstr(de->d_name, ".json") != NULL;
	}
	closedir(d);
	assert_int_equal(n, 1);
	bk_journal_entry_release(&e);
}

/* job_journal.h note 5: the done entry overwrites the synced running entry in place */
static void test_final_put_overwrites_in_place(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e, got;
	struct bk_err err = {0};
	struct stat before, after;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/job-f.json", f->dir);
	entry(&e, BK_JOURNAL_RUNNING, "job-f");
	e.child = 4242;
	bk_journal_entry_set_result(&e, NULL);
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	assert_int_equal(bk_journal_sync(&f->j, &err), 0);
	assert_int_equal(stat(path, &before), 0);

	e.state = BK_JOURNAL_DONE;
	e.finished = 3000;
	bk_journal_entry_set_result(&e, "{\"kind\":\"result\",\"outcome\":\"ok\"}");
	assert_int_equal(bk_journal_put_final(&f->j, &e, &err), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino); /* same file: its name was durable */
	assert_int_equal(bk_journal_get(&f->j, "job-f", &got, &err), 0);
	assert_int_equal(got.state, BK_JOURNAL_DONE);
	assert_string_equal(got.result, "{\"kind\":\"result\",\"outcome\":\"ok\"}");
	bk_journal_entry_release(&got);

	/* a shorter entry is truncated to its length, not left with the old tail */
	bk_journal_entry_set_result(&e, "{}");
	assert_int_equal(bk_journal_put_final(&f->j, &e, &err), 0);
	assert_int_equal(bk_journal_get(&f->j, "job-f", &got, &err), 0);
	assert_string_equal(got.result, "{}");
	bk_journal_entry_release(&got);

	/* a torn overwrite (new text over a longer old one) does not parse: not done */
	fp = fopen(path, "w");
	fputs("{\"state\":\"done\",\"job_id\":\"job-f\",\"job\":\"vm01\",\"result\":\"{}\"}er\"}", fp);
	fclose(fp);
	assert_int_equal(bk_journal_get(&f->j, "job-f", &got, &err), BK_ECORRUPT);

	/* without an entry file it is an ordinary durable put */
	snprintf(e.job_id, sizeof(e.job_id), "job-g");
	assert_int_equal(bk_journal_put_final(&f->j, &e, &err), 0);
	assert_int_equal(bk_journal_get(&f->j, "job-g", &got, &err), 0);
	assert_int_equal(got.state, BK_JOURNAL_DONE);
	bk_journal_entry_release(&got);
	bk_journal_entry_release(&e);
}

static void test_corrupt_entry_is_reported(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;
	struct bk_err err = {0};
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/bad.json", f->dir);
	fp = fopen(path, "w");
	fputs("{\"state\": \"running\", \"job_id\": \"other\"", fp);
	fclose(fp);
	assert_int_equal(bk_journal_get(&f->j, "bad", &e, &err), BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "bad.json"));
	/* a done entry without its result is corrupt too */
	fp = fopen(path, "w");
	fputs("{\"state\": \"done\", \"job_id\": \"bad\", \"job\": \"x\"}", fp);
	fclose(fp);
	bk_err_clear(&err);
	assert_int_equal(bk_journal_get(&f->j, "bad", &e, &err), BK_ECORRUPT);
}

/* The result is stored as an object; entries of older workers (a string) still read. */
static void test_result_is_embedded_and_old_entries_read(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e, got;
	struct bk_err err = {0};
	char path[128], *text = NULL;
	size_t len = 0;
	FILE *fp;

	entry(&e, BK_JOURNAL_DONE, "job-r");
	bk_journal_entry_set_result(&e, "{\"kind\":\"result\",\"outcome\":\"ok\"}");
	assert_int_equal(bk_journal_put(&f->j, &e, true, &err), 0);
	snprintf(path, sizeof(path), "%s/job-r.json", f->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_true(getdelim(&text, &len, '\0', fp) > 0);
	fclose(fp);
	assert_non_null(strstr(text, ",\"result\":{\"kind\":\"result\",\"outcome\":\"ok\"}}"));
	free(text);
	bk_journal_entry_release(&e);

	fp = fopen(path, "w");
	fputs("{\"state\":\"done\",\"job_id\":\"job-r\",\"job\":\"vm01\",\"pid\":1,"
	      "\"published\":true,\"result\":\"{\\\"kind\\\":\\\"result\\\"}\"}",
	      fp);
	fclose(fp);
	assert_int_equal(bk_journal_get(&f->j, "job-r", &got, &err), 0);
	assert_int_equal(got.state, BK_JOURNAL_DONE);
	assert_true(got.published);
	assert_string_equal(got.result, "{\"kind\":\"result\"}");
	bk_journal_entry_release(&got);
}

static void test_hostile_job_ids_are_refused(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;
	struct bk_err err = {0};

	assert_int_equal(bk_journal_get(&f->j, "../x", &e, &err), BK_EUSAGE);
	entry(&e, BK_JOURNAL_RUNNING, "../../etc/passwd");
	bk_err_clear(&err);
	assert_int_equal(bk_journal_put(&f->j, &e, true, &err), BK_EUSAGE);
	bk_err_clear(&err);
	assert_int_equal(bk_journal_remove(&f->j, "a/b", &err), BK_EUSAGE);
	entry(&e, BK_JOURNAL_RUNNING, "-rf");
	bk_err_clear(&err);
	assert_int_equal(bk_journal_put(&f->j, &e, true, &err), BK_EUSAGE);
}

static void test_second_open_is_locked(void **state)
{
	struct fixture *f = *state;
	struct bk_err err = {0};
	pid_t pid = fork();

	if (pid == 0) {
		/* flock is per open file description: a second process must be refused */
		struct bk_journal j2;

		_exit(bk_journal_open(&j2, f->dir, &err) == BK_ELOCKED ? 0 : 1);
	}
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_entry_of_a_dead_worker_is_stale(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;
	int status;
	pid_t pid;

	(void)f;
	entry(&e, BK_JOURNAL_RUNNING, "job-3");
	assert_false(bk_journal_entry_stale(&e)); /* we are alive */

	pid = fork();
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	e.pid = (long)pid;
	e.pid_start = 12345;
	assert_true(bk_journal_entry_stale(&e));

	/* a live child keeps the entry alive even when the worker is gone */
	e.child = (long)getpid();
	e.child_start = bk_journal_proc_start(getpid());
	assert_false(bk_journal_entry_stale(&e));

	/* a reused pid (same number, other start time) does not */
	e.child_start = e.child_start + 1;
	assert_true(bk_journal_entry_stale(&e));

	e.state = BK_JOURNAL_DONE;
	assert_false(bk_journal_entry_stale(&e));
}

static void test_proc_start_of_missing_process_is_zero(void **state)
{
	(void)state;
	assert_int_equal(bk_journal_proc_start(0), 0);
	assert_int_equal(bk_journal_proc_start(-1), 0);
	assert_true(bk_journal_proc_start(getpid()) > 0);
	assert_false(bk_journal_proc_alive(0, 0));
}

static void test_prune_removes_old_published_done_entries(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e, got;
	struct bk_err err = {0};
	char path[128];
	FILE *fp;

	entry(&e, BK_JOURNAL_DONE, "old");
	bk_journal_entry_set_result(&e, "{}");
	e.finished = 100;
	e.published = true;
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	snprintf(path, sizeof(path), "%s/old.log", f->dir);
	fp = fopen(path, "w");
	fclose(fp);

	snprintf(e.job_id, sizeof(e.job_id), "unpublished");
	e.published = false;
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);

	snprintf(e.job_id, sizeof(e.job_id), "young");
	e.published = true;
	e.finished = 5000;
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	bk_journal_entry_release(&e);

	entry(&e, BK_JOURNAL_RUNNING, "running");
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);

	assert_int_equal(bk_journal_prune(&f->j, 1000, &err), 1);
	assert_int_equal(bk_journal_get(&f->j, "old", &got, NULL), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(bk_journal_get(&f->j, "unpublished", &got, NULL), 0);
	bk_journal_entry_release(&got);
	assert_int_equal(bk_journal_get(&f->j, "young", &got, NULL), 0);
	bk_journal_entry_release(&got);
	assert_int_equal(bk_journal_get(&f->j, "running", &got, NULL), 0);
	bk_journal_entry_release(&got);
}

static void test_list_names_every_entry(void **state)
{
	struct fixture *f = *state;
	struct bk_journal_entry e;
	struct bk_err err = {0};
	char **ids;
	size_t n;
	char path[128];
	FILE *fp;

	entry(&e, BK_JOURNAL_RUNNING, "a1");
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	snprintf(e.job_id, sizeof(e.job_id), "b2");
	assert_int_equal(bk_journal_put(&f->j, &e, false, &err), 0);
	/* not entries: other suffixes and names that are no job ids */
	snprintf(path, sizeof(path), "%s/a1.result", f->dir);
	fp = fopen(path, "w");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/-x.json", f->dir);
	fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(bk_journal_list(&f->j, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true((strcmp(ids[0], "a1") == 0 && strcmp(ids[1], "b2") == 0) ||
		    (strcmp(ids[0], "b2") == 0 && strcmp(ids[1], "a1") == 0));
	bk_journal_ids_free(ids, n);
	assert_int_equal(bk_journal_remove(&f->j, "a1", &err), 0);
	assert_int_equal(access(path, F_OK), 0); /* -x.json untouched */
	snprintf(path, sizeof(path), "%s/a1.result", f->dir);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_entry_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_is_embedded_and_old_entries_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_running_then_done_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_leaves_no_temporary_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_put_overwrites_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_entry_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_job_ids_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_open_is_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_of_a_dead_worker_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_start_of_missing_process_is_zero, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prune_removes_old_published_done_entries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_names_every_entry, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
