/*
 * test_coord_state_journal.c: the coordinator's state on disk (state_journal.h):
 * snapshot + journal replay gives the state a full save would, a torn
 * tail is ignored and cut, damage before the last commit refuses to load,
 * compaction (also interrupted half-way) loses nothing.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "fs.h"
#include "hash.h"
#include "state_journal.h"
#include "coord_fixture.h"
#include "state.h"

#define H (3600 * BK_USEC)

static const char *yaml =
	"schedules:\n"
	"  default:\n"
	"    daily: {interval: 1d, keep: 7}\n"
	"    weekly: {interval: 1w, keep: 4}\n"
	"jobs:\n"
	"  vm01: {schedule: default, source: {type: file, filename: /img/vm01}}\n"
	"  vm02: {schedule: default, host: b2, source: {type: ceph-rbd, pool: rbd, image: vm02}}\n"
	"  vm03: {schedule: default, source: {type: flyingcircus, pool: rbd, image: vm03.root, vm: vm03}}\n"
	"  vm04: {schedule: default, source: {type: file, filename: /img/vm04}}\n"
	"  vm05: {schedule: default, source: {type: file, filename: /img/vm05}}\n"
	"hosts: [b1, b2]\n"
	"amqp: {url: 'amqp://u:p@127.0.0.1:5672/ci'}\n"
	"state-file: /tmp/x/state\n"
	"job-timeout: 2h\n";

struct fx {
	char dir[64];
	char path[128];  /* state file */
	char jpath[160]; /* its journal */
	struct co_config c;
	struct co_state st;
	struct co_journal jn;
	int64_t now;
	struct bk_msg_job m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct bk_err err = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_coord_journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	snprintf(f->jpath, sizeof(f->jpath), "%s/state.journal", f->dir);
	parse_ok(yaml, &f->c);
	assert_int_equal(bk_time_parse("2026-03-02T00:00:00Z", &f->now), 0);
	co_state_init(&f->st);
	co_journal_init(&f->jn, f->path);
	bk_msg_job_init(&f->m);
	assert_int_equal(co_journal_load(&f->jn, &f->st, &err), 0);
	co_state_apply(&f->st, &f->c, f->now);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	bk_msg_job_release(&f->m);
	co_journal_release(&f->jn);
	co_state_release(&f->st);
	co_config_release(&f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void commit(struct fx *f, bool force)
{
	struct bk_err err = {0};
	int r = co_journal_commit(&f->jn, &f->st, f->now, force, &err);

	if (r < 0)
		fail_msg("commit: %s", err.msg);
	assert_false(f->st.dirty);
}

/* The state file text without its header line (which holds the save time). */
static char *text_of(const struct co_state *st)
{
	struct bk_buf b;
	char *nl, *out;

	bk_buf_init(&b);
	co_state_format(st, 0, &b);
	nl = strchr(b.p, '\n');
	out = strdup(nl + 1);
	bk_buf_release(&b);
	return out;
}

/* Load PATH's snapshot + journal into a fresh state and compare with F's live state. */
static void assert_reloads_equal(struct fx *f, struct co_journal *out_jn)
{
	struct co_state st2;
	struct co_journal jn2;
	struct bk_err err = {0};
	char *a, *b;
	int r;

	co_state_init(&st2);
	co_journal_init(&jn2, f->path);
	r = co_journal_load(&jn2, &st2, &err);
	if (r < 0)
		fail_msg("load: %s", err.msg);
	a = text_of(&f->st);
	b = text_of(&st2);
	assert_string_equal(a, b);
	free(a);
	free(b);
	if (out_jn)
		*out_jn = jn2;
	else
		co_journal_release(&jn2);
	co_state_release(&st2);
}

static uint32_t idx(struct fx *f, const char *name)
{
	struct co_job *j = co_job_find(&f->st, name);

	assert_non_null(j);
	return (uint32_t)(j - f->st.jobs);
}

static void start(struct fx *f, const char *name, enum co_run_kind k)
{
	uint32_t ids[8], i = idx(f, name);

	if (k == CO_RUN_BACKUP) {
		co_heap_set(&f->st.due, i, f->now);
		while (co_take_due(&f->st, f->now, ids, 8) == 8)
			;
	}
	assert_int_equal(start_msg(&f->st, i, k, f->now, &f->m), 0);
}

static enum co_result finish(struct fx *f, const char *name, enum co_run_kind k,
			     enum bk_msg_outcome outcome)
{
	struct bk_msg_result r;
	struct co_job *j = &f->st.jobs[idx(f, name)];
	enum co_result res;
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	uint32_t id;

	bk_msg_result_init(&r);
	snprintf(r.job_id, sizeof(r.job_id), "%s", j->run[k].id);
	snprintf(r.job, sizeof(r.job), "%s", j->name);
	snprintf(r.host, sizeof(r.host), "%s", f->st.hosts[j->run[k].host]);
	r.action = k == CO_RUN_BACKUP ? BK_ACTION_BACKUP : BK_ACTION_EXPIRE;
	r.outcome = outcome;
	if (outcome != BK_OUTCOME_OK)
		bk_msg_result_set_error(&r, "BK_ESOURCE", "boom", true);
	r.started = f->now;
	r.finished = f->now + BK_USEC;
	bk_msg_routing_key_result(&r, key);
	res = co_result(&f->st, &r, key, f->now, &id);
	bk_msg_result_release(&r);
	return res;
}

/* A bit of everything the daemon does between commits, checked after each commit. */
static void test_replay_gives_the_state_of_a_full_save(void **state)
{
	struct fx *f = *state;
	struct co_state st3;
	struct bk_err err = {0};
	struct bk_buf b;
	char *a, *c;

	commit(f, false); /* co_state_apply: a snapshot */
	assert_int_equal(f->jn.compactions, 1);
	assert_reloads_equal(f, NULL);

	start(f, "vm01", CO_RUN_BACKUP);
	start(f, "vm03", CO_RUN_BACKUP);
	commit(f, false);
	assert_int_equal(f->jn.commits, 1);
	assert_reloads_equal(f, NULL);

	co_confirmed(&f->st, idx(f, "vm01"), CO_RUN_BACKUP); /* a 'K' record */
	assert_false(co_request_seen(&f->st, "req-1"));
	assert_int_equal(co_request_run(&f->st, "vm02", &(struct bk_strv)BK_STRV_INIT, f->now,
					&err), 0);
	commit(f, false);
	assert_reloads_equal(f, NULL);

	f->now += H;
	assert_int_equal(finish(f, "vm01", CO_RUN_BACKUP, BK_OUTCOME_OK), CO_RESULT_EXPIRE);
	start(f, "vm01", CO_RUN_EXPIRE);
	assert_int_equal(finish(f, "vm03", CO_RUN_BACKUP, BK_OUTCOME_FAILED), CO_RESULT_DONE);
	start(f, "vm02", CO_RUN_BACKUP); /* the manual run */
	co_confirmed(&f->st, idx(f, "vm02"), CO_RUN_BACKUP);
	commit(f, false);
	assert_reloads_equal(f, NULL);

	/* past the deadline: the same job id, attempt 2, not confirmed */
	f->now += 3 * H;
	redispatch_msg(&f->st, idx(f, "vm02"), CO_RUN_BACKUP, f->now, &f->m);
	assert_int_equal(f->m.attempt, 2);
	assert_false(co_request_seen(&f->st, "req-2"));
	assert_true(co_request_seen(&f->st, "req-1"));
	commit(f, false);
	assert_int_equal(f->jn.compactions, 1);
	assert_int_equal(f->jn.commits, 4);
	assert_reloads_equal(f, NULL);

	/* and what a full save of the same state says */
	bk_buf_init(&b);
	co_state_format(&f->st, f->now, &b);
	co_state_init(&st3);
	assert_int_equal(co_state_parse(&st3, b.p, b.len, "full", &err), 0);
	a = text_of(&f->st);
	c = text_of(&st3);
	assert_string_equal(a, c);
	free(a);
	free(c);
	bk_buf_release(&b);
	co_state_release(&st3);
}

/* After a restart from snapshot + journal the daemon goes on exactly as before. */
static void test_restart_continues_from_the_journal(void **state)
{
	struct fx *f = *state;
	struct co_state st2;
	struct co_journal jn2;
	struct bk_err err = {0};
	struct co_job *j;
	char id[BK_ID_MAX + 1];

	commit(f, false);
	start(f, "vm04", CO_RUN_BACKUP);
	snprintf(id, sizeof(id), "%s", f->st.jobs[idx(f, "vm04")].run[CO_RUN_BACKUP].id);
	commit(f, false);
	co_state_init(&st2);
	co_journal_init(&jn2, f->path);
	assert_int_equal(co_journal_load(&jn2, &st2, &err), 0);
	assert_int_equal(jn2.replayed_batches, 1);
	co_state_apply(&st2, &f->c, f->now + 60 * BK_USEC);
	j = co_job_find(&st2, "vm04");
	assert_true(j->run[CO_RUN_BACKUP].active);
	assert_false(j->run[CO_RUN_BACKUP].confirmed); /* published again after the restart */
	assert_string_equal(j->run[CO_RUN_BACKUP].id, id);
	assert_false(co_heap_has(&st2.due, (uint32_t)(j - st2.jobs)));
	/* the restarted one snapshots first (apply), then appends */
	assert_int_equal(co_journal_commit(&jn2, &st2, f->now, false, &err), 0);
	assert_int_equal(jn2.compactions, 1);
	co_confirmed(&st2, (uint32_t)(j - st2.jobs), CO_RUN_BACKUP);
	assert_int_equal(co_journal_commit(&jn2, &st2, f->now, false, &err), 0);
	assert_int_equal(jn2.commits, 1);
	co_journal_release(&jn2);
	co_state_release(&f->st);
	co_state_init(&f->st);
	co_journal_release(&f->jn);
	co_journal_init(&f->jn, f->path);
	assert_int_equal(co_journal_load(&f->jn, &f->st, &err), 0);
	assert_true(co_job_find(&f->st, "vm04")->run[CO_RUN_BACKUP].confirmed);
	co_state_release(&st2);
}

static void append_raw(const char *path, const char *s)
{
	FILE *fp = fopen(path, "ae");

	assert_non_null(fp);
	assert_int_equal(fputs(s, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static off_t file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/* An append interrupted by a crash leaves a tail without its commit line: ignored, then cut. */
static void test_torn_tail_is_ignored_and_cut(void **state)
{
	struct fx *f = *state;
	struct co_journal jn2;
	off_t good;

	commit(f, false);
	start(f, "vm01", CO_RUN_BACKUP);
	commit(f, false);
	good = file_size(f->jpath);

	/* a partial line */
	append_raw(f->jpath, "J name=vm02 host=b2 crea");
	assert_reloads_equal(f, &jn2);
	assert_int_equal(jn2.torn_bytes, 24);
	co_journal_release(&jn2);

	/* whole records (not even valid ones: uncommitted, never read), then a partial commit line */
	append_raw(f->jpath, "ted=1\nR name=vm02 kind=backup id=x attempt=1\nC seq=2 n=");
	assert_reloads_equal(f, &jn2);
	assert_true(jn2.torn_bytes > 24);

	/* the next commit cuts the tail first, and the result loads */
	{
		struct co_state st2;
		struct bk_err err = {0};

		co_state_init(&st2);
		co_journal_release(&jn2);
		co_journal_init(&jn2, f->path);
		assert_int_equal(co_journal_load(&jn2, &st2, &err), 0);
		co_confirmed(&st2, (uint32_t)(co_job_find(&st2, "vm01") - st2.jobs), CO_RUN_BACKUP);
		assert_int_equal(co_journal_commit(&jn2, &st2, f->now, false, &err), 0);
		assert_int_equal(jn2.compactions, 0);
		assert_true(file_size(f->jpath) > good);
		co_confirmed(&f->st, idx(f, "vm01"), CO_RUN_BACKUP);
		co_state_changes_done(&f->st);
		co_journal_release(&jn2);
		co_state_release(&st2);
	}
	assert_reloads_equal(f, &jn2);
	assert_int_equal(jn2.torn_bytes, 0);
	assert_int_equal(jn2.replayed_batches, 2);
	co_journal_release(&jn2);
}

static void put_file(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "we");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Replace the first occurrence of FIND in PATH by REPL (same length or not). */
static void edit_file(const char *path, const char *find, const char *repl)
{
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *fp;

	assert_int_equal(bk_fs_read_all(AT_FDCWD, path, 1 << 24, &buf, &len), 0);
	p = strstr(buf, find);
	assert_non_null(p);
	fp = fopen(path, "we");
	assert_non_null(fp);
	fwrite(buf, 1, (size_t)(p - buf), fp);
	fputs(repl, fp);
	fputs(p + strlen(find), fp);
	assert_int_equal(fclose(fp), 0);
	free(buf);
}

/* Give the state file PATH the checksum of its (edited) content, as a coordinator would. */
static void reseal(const char *path)
{
	char *buf = NULL, *end;
	size_t len = 0;
	FILE *fp;

	assert_int_equal(bk_fs_read_all(AT_FDCWD, path, 1 << 24, &buf, &len), 0);
	end = strstr(buf, "\nend sum=");
	assert_non_null(end);
	end++;
	fp = fopen(path, "we");
	assert_non_null(fp);
	fwrite(buf, 1, (size_t)(end - buf), fp);
	fprintf(fp, "end sum=%016llx\n", bk_hash64(buf, (size_t)(end - buf)));
	assert_int_equal(fclose(fp), 0);
	free(buf);
}

static void expect_corrupt(struct fx *f, const char *needle)
{
	struct co_state st2;
	struct co_journal jn2;
	struct bk_err err = {0};

	co_state_init(&st2);
	co_journal_init(&jn2, f->path);
	assert_int_equal(co_journal_load(&jn2, &st2, &err), BK_ECORRUPT);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in '%s'", needle, err.msg);
	assert_int_equal(st2.n, 0);
	co_journal_release(&jn2);
	co_state_release(&st2);
}

/* Anything wrong before the last commit line refuses to load (never forget runs). */
static void test_damage_before_the_last_commit_refuses_to_load(void **state)
{
	struct fx *f = *state;
	char *orig = NULL;
	size_t len = 0;

	commit(f, false);
	start(f, "vm01", CO_RUN_BACKUP);
	commit(f, false);
	start(f, "vm02", CO_RUN_BACKUP);
	commit(f, false);
	assert_int_equal(bk_fs_read_all(AT_FDCWD, f->jpath, 1 << 24, &orig, &len), 0);

	/* one changed byte in a committed record: the checksum says so */
	edit_file(f->jpath, "kind=backup", "kind=expire");
	expect_corrupt(f, "does not match its");
	put_file(f->jpath, orig, len);

	/* a missing batch */
	edit_file(f->jpath, "C seq=1 ", "C seq=0 ");
	expect_corrupt(f, "commit 0 where 1 was expected");
	put_file(f->jpath, orig, len);
	edit_file(f->jpath, "C seq=1 n=", "C seq=1 x=");
	expect_corrupt(f, "line 4: malformed commit line");
	put_file(f->jpath, orig, len);

	/* not a journal at all */
	edit_file(f->jpath, "backy-coordinator-journal 1", "backy-coordinator-journal 9");
	expect_corrupt(f, "invalid header");
	put_file(f->jpath, orig, len);

	/* a journal newer than its state file (an older state file restored next to it) */
	edit_file(f->path, " journal=1\n", " journal=0\n");
	reseal(f->path);
	expect_corrupt(f, "newer than the state file");
	edit_file(f->path, " journal=0\n", " journal=1\n");
	reseal(f->path);

	assert_reloads_equal(f, NULL);
	free(orig);
}

/* The snapshot carries a checksum like the journal's commits; older files still load. */
static void test_snapshot_checksum_refuses_damage(void **state)
{
	struct fx *f = *state;
	char *orig = NULL, *old = NULL, *p;
	size_t len = 0;

	start(f, "vm01", CO_RUN_BACKUP);
	commit(f, true); /* the run is in the snapshot, the journal is empty */
	assert_int_equal(bk_fs_read_all(AT_FDCWD, f->path, 1 << 24, &orig, &len), 0);
	assert_non_null(strstr(orig, "\nend sum="));

	/* a change the line parser would happily accept */
	edit_file(f->path, "kind=backup", "kind=expire");
	expect_corrupt(f, "/state: checksum mismatch");
	put_file(f->path, orig, len);
	edit_file(f->path, "J name=vm05 ", "J name=vm06 ");
	expect_corrupt(f, "/state: checksum mismatch");
	put_file(f->path, orig, len);
	/* the header (journal generation) is covered too */
	edit_file(f->path, " journal=1\n", " journal=2\n");
	expect_corrupt(f, "/state: checksum mismatch");
	put_file(f->path, orig, len);
	/* cut off, or the checksum removed */
	put_file(f->path, orig, (size_t)(strstr(orig, "\nend sum=") - orig) + 1);
	expect_corrupt(f, "/state: no checksum at the end");
	put_file(f->path, orig, len);
	p = strstr(orig, "\nend sum=");
	edit_file(f->path, p + 1, "end\n");
	expect_corrupt(f, "/state: no checksum at the end");
	put_file(f->path, orig, len);
	assert_reloads_equal(f, NULL);

	/* written by the previous version: version 2, plain 'end', runs without host= */
	old = strdup(orig);
	memcpy(old + strlen("backy-coordinator-state "), "2", 1);
	p = strstr(old, "\nend sum=");
	memcpy(p + 1, "end\n", sizeof("end\n"));
	p = strstr(strstr(old, "\nR name=vm01 "), " host=");
	assert_non_null(p);
	assert_true(p < strchr(strstr(old, "\nR ") + 1, '\n')); /* on the R line */
	memmove(p, p + 8, strlen(p + 8) + 1);                      /* " host=bN" */
	put_file(f->path, old, strlen(old));
	assert_reloads_equal(f, NULL);
	free(old);
	free(orig);
}

/* A compaction writes the snapshot, then an empty journal; stopped in between, nothing is lost. */
static void test_compaction_and_its_interruption(void **state)
{
	struct fx *f = *state;
	struct co_journal jn2;
	char *old = NULL;
	size_t len = 0;
	uint64_t gen;

	commit(f, false);
	gen = f->st.gen;
	for (int i = 0; i < 3; i++) {
		start(f, i == 0 ? "vm01" : i == 1 ? "vm04" : "vm05", CO_RUN_BACKUP);
		commit(f, false);
	}
	assert_int_equal(f->jn.compactions, 1);
	assert_int_equal(bk_fs_read_all(AT_FDCWD, f->jpath, 1 << 24, &old, &len), 0);

	/* a journal larger than the limit (and than the snapshot) compacts at the next commit */
	f->jn.compact_bytes = 1;
	f->jn.snap_bytes = 1;
	co_confirmed(&f->st, idx(f, "vm05"), CO_RUN_BACKUP);
	commit(f, false);
	assert_int_equal(f->jn.compactions, 2);
	assert_int_equal(f->st.gen, gen + 1);
	assert_int_equal(file_size(f->jpath), strlen("backy-coordinator-journal 1 gen=2\n"));
	assert_reloads_equal(f, NULL);

	/* a crash after the snapshot's rename but before the journal's: the old journal is stale */
	put_file(f->jpath, old, len);
	assert_reloads_equal(f, &jn2);
	assert_true(jn2.stale);
	assert_int_equal(jn2.replayed_batches, 0);
	co_journal_release(&jn2);
	/* on request (clean exit), even without changes */
	commit(f, true);
	assert_int_equal(f->jn.compactions, 3);
	assert_reloads_equal(f, NULL);

	/* time-based: the oldest commit is older than compact_us */
	f->jn.compact_bytes = 1 << 20;
	f->jn.snap_bytes = 0;
	f->jn.compact_us = 0;
	co_confirmed(&f->st, idx(f, "vm04"), CO_RUN_BACKUP);
	commit(f, false); /* first commit after a compaction: appended */
	assert_int_equal(f->jn.compactions, 3);
	assert_reloads_equal(f, NULL);
	co_confirmed(&f->st, idx(f, "vm01"), CO_RUN_BACKUP);
	commit(f, false);
	assert_int_equal(f->jn.compactions, 4);
	assert_int_equal(f->st.gen, gen + 3);
	assert_reloads_equal(f, NULL);
	free(old);
}

/* Many random steps, random commits and compactions: every reload equals the live state. */
static void test_random_steps_reload_equal(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"vm01", "vm02", "vm03", "vm04", "vm05"};
	struct bk_err err = {0};
	unsigned seed = 12345;

	commit(f, false);
	for (int step = 0; step < 400; step++) {
		const char *name = names[rand_r(&seed) % 5];
		uint32_t i = idx(f, name);
		struct co_job *j = &f->st.jobs[i];
		int op = rand_r(&seed) % 8;
		char rid[32];

		f->now += (int64_t)(rand_r(&seed) % 600) * BK_USEC;
		switch (op) {
		case 0:
			if (!j->run[CO_RUN_BACKUP].active)
				start(f, name, CO_RUN_BACKUP);
			break;
		case 1:
			if (!j->run[CO_RUN_EXPIRE].active)
				start(f, name, CO_RUN_EXPIRE);
			break;
		case 2:
		case 3:
			for (int k = 0; k < CO_RUN_KINDS; k++)
				if (j->run[k].active)
					finish(f, name, (enum co_run_kind)k,
					       op == 2 ? BK_OUTCOME_OK : BK_OUTCOME_FAILED);
			break;
		case 4:
			for (int k = 0; k < CO_RUN_KINDS; k++)
				if (j->run[k].active)
					co_confirmed(&f->st, i, (enum co_run_kind)k);
			break;
		case 5:
			for (int k = 0; k < CO_RUN_KINDS; k++)
				if (j->run[k].active)
					redispatch_msg(&f->st, i, (enum co_run_kind)k, f->now, &f->m);
			break;
		case 6:
			snprintf(rid, sizeof(rid), "req-%d", step);
			co_request_seen(&f->st, rid);
			co_request_run(&f->st, name, &(struct bk_strv)BK_STRV_INIT, f->now, &err);
			break;
		default:
			co_plan(&f->st, i, f->now);
			break;
		}
		if (rand_r(&seed) % 4 == 0) {
			commit(f, rand_r(&seed) % 25 == 0);
			assert_reloads_equal(f, NULL);
		}
	}
	commit(f, false);
	assert_reloads_equal(f, NULL);
	assert_true(f->jn.commits > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_gives_the_state_of_a_full_save, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_continues_from_the_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_is_ignored_and_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_before_the_last_commit_refuses_to_load,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_checksum_refuses_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_and_its_interruption, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_random_steps_reload_equal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
