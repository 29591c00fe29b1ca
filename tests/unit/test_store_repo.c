/*
 * test_store_repo.c: repositories (worker/engine/store.c) on a real file
 * system: repository configs, init and open, cleanup of leftovers, the
 * writer lock, holds on revisions and corrupt metadata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "retention.h"
#include "store_fixture.h"

#include <sys/file.h>

/* --- repository config --------------------------------------------------- */

static void test_config_parse_accepts_full_config(void **state)
{
	const char *text = "source:\n"
			   "  type: file\n"
			   "  filename: /dev/vg/vm01\n"
			   "schedule:\n"
			   "  daily:\n"
			   "    interval: 1d\n"
			   "    keep: 7\n"
			   "  weekly: {interval: 1w, keep: 4}\n"
			   "block-size: 131072\n"
			   "created: 2024-05-06T07:08:09.5Z\n";
	struct bk_repo_config cfg;
	struct bk_err err = {0};
	const struct bk_sched_tag *t;

	(void)state;
	assert_int_equal(bk_repo_config_parse(text, strlen(text), "config", &cfg, &err), 0);
	assert_int_equal(cfg.source.spec.type, BK_SOURCE_FILE);
	assert_string_equal(cfg.source.spec.filename, "/dev/vg/vm01");
	assert_int_equal(cfg.block_size, 131072);
	assert_true(cfg.created == 1714979289LL * BK_USEC + 500000);
	assert_int_equal(cfg.schedule.n, 2);
	t = bk_schedule_find(&cfg.schedule, "daily");
	assert_non_null(t);
	assert_int_equal(t->interval, 86400);
	assert_int_equal(t->keep, 7);
	t = bk_schedule_find(&cfg.schedule, "weekly");
	assert_non_null(t);
	assert_int_equal(t->interval, 7 * 86400);
	assert_int_equal(t->keep, 4);
	bk_repo_config_release(&cfg);
	assert_null(cfg.source.spec.filename);
}

static void test_config_parse_defaults(void **state)
{
	const char *text = "source: {type: file, filename: /srv/images/a.img}\n";
	struct bk_repo_config cfg;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_repo_config_parse(text, strlen(text), "config", &cfg, &err), 0);
	assert_string_equal(cfg.source.spec.filename, "/srv/images/a.img");
	assert_int_equal(cfg.block_size, BK_DEFAULT_BLOCK_SIZE);
	assert_true(cfg.created == 0);
	/* BK_DEFAULT_SCHEDULE: daily, monthly, weekly */
	assert_int_equal(cfg.schedule.n, 3);
	assert_int_equal(bk_schedule_find(&cfg.schedule, "daily")->keep, 7);
	assert_int_equal(bk_schedule_find(&cfg.schedule, "monthly")->interval, 30 * 86400);
	bk_repo_config_release(&cfg);
}

static void test_config_parse_rejects_bad_configs(void **state)
{
#define SRC "source: {type: file, filename: /x}\n"
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{SRC "retention: 5\n", "line 2: unknown key 'retention'"},
		{SRC "block_size: 4096\n", "unknown key 'block_size'"},
		{"source: {type: floppy, filename: /x}\n", "'floppy'"},
		{"source: {type: File, filename: /x}\n", "'File'"},
		{"source: {filename: /x}\n", "'source.type' is missing"},
		{"source: {type: file}\n", "'source.filename'"},
		{"source: {type: file, filename: ''}\n", "source.filename"},
		{"source: {type: file, filename: [a]}\n", "'source.filename' must be a string"},
		{"source: /dev/sda\n", "'source' must be a map"},
		{"schedule: {daily: {interval: 1d, keep: 7}}\n", "'source' must be a map"},
		{SRC "block-size: 3000\n", "'block-size' must be a power of two"},
		{SRC "block-size: 0\n", "'block-size' must be a power of two"},
		{SRC "block-size: 8388608\n", "'block-size' must be a power of two"},
		{SRC "block-size: 2048\n", "'block-size' must be a power of two"},
		{SRC "block-size: 64k\n", "'block-size' must be a non-negative integer"},
		{SRC "block-size: -65536\n", "'block-size' must be a non-negative integer"},
		{SRC "created: yesterday\n", "'created' is not an ISO 8601 time"},
		{SRC "schedule: daily\n", "schedule"},
		{"- a\n", "not a YAML map"},
		{"", "not a YAML map"},
		{SRC "source: {type: file, filename: /y}\n", "duplicate key 'source'"},
	};
#undef SRC

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bk_repo_config cfg;
		struct bk_err err = {0};
		int r = bk_repo_config_parse(cases[i].text, strlen(cases[i].text), "config", &cfg, &err);

		if (r != BK_ECONFIG)
			fail_msg("case %zu (%s): got %d, expected BK_ECONFIG", i, cases[i].text, r);
		if (strncmp(err.msg, "config", 6) != 0 || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: message '%s' lacks 'config' or '%s'", i, err.msg,
				 cases[i].msg);
		assert_null(cfg.source.spec.filename);
		assert_null(cfg.schedule.tags);
	}
}

static void test_config_format_parse_round_trip(void **state)
{
	struct bk_repo_config cfg, back;
	struct bk_err err = {0};
	struct bk_buf text, again;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.source.spec.type = BK_SOURCE_FILE;
	cfg.source.spec.filename = bk_strdup("/srv/we\"ird\\dir/new line \xc3\xa9: #x.img");
	assert_int_equal(bk_schedule_parse_spec("hourly=1h:24,daily=1d:7", &cfg.schedule, &err), 0);
	cfg.block_size = 4096;
	cfg.created = T0 + 123456;

	bk_buf_init(&text);
	bk_repo_config_format(&cfg, &text);
	if (bk_repo_config_parse(text.p, text.len, "config", &back, &err) != 0)
		fail_msg("formatted config\n%s\ndoes not parse: %s", text.p, err.msg);
	assert_int_equal(back.source.spec.type, BK_SOURCE_FILE);
	assert_string_equal(back.source.spec.filename, cfg.source.spec.filename);
	assert_int_equal(back.block_size, 4096);
	assert_true(back.created == cfg.created);
	assert_int_equal(back.schedule.n, 2);
	assert_int_equal(bk_schedule_find(&back.schedule, "hourly")->interval, 3600);
	assert_int_equal(bk_schedule_find(&back.schedule, "hourly")->keep, 24);
	assert_int_equal(bk_schedule_find(&back.schedule, "daily")->keep, 7);

	/* formatting is stable */
	bk_buf_init(&again);
	bk_repo_config_format(&back, &again);
	assert_string_equal(again.p, text.p);
	bk_buf_release(&again);
	bk_buf_release(&text);
	bk_repo_config_release(&back);
	bk_repo_config_release(&cfg);
}

static void test_config_retention_record(void **state)
{
	const char *old_text = "source: {type: file, filename: /x}\n"
			       "schedule: {daily: {interval: 1d, keep: 7}, weekly: {interval: 1w, keep: 4}}\n";
	const char *new_text = "source: {type: file, filename: /x}\n"
			       "schedule: {x: {interval: 1d, keep: 1}, daily: {interval: 1d, keep: 1}}\n"
			       "tag-retention: {monthly: 90d, daily: 2d}\n";
	struct bk_repo_config old, cfg, back;
	struct bk_err err = {0};
	struct bk_buf text;

	(void)state;
	/* a repository from before the record: initialised from its schedule */
	assert_int_equal(bk_repo_config_parse(old_text, strlen(old_text), "config", &old, &err), 0);
	assert_int_equal(old.retention.n, 2);
	assert_int_equal(bk_retention_get(&old.retention, "daily"), 7 * 86400);
	assert_int_equal(bk_retention_get(&old.retention, "weekly"), 28 * 86400);
	/* a record below the schedule is raised to it */
	assert_int_equal(bk_repo_config_parse(new_text, strlen(new_text), "config", &cfg, &err), 0);
	assert_int_equal(bk_retention_get(&cfg.retention, "daily"), 2 * 86400);
	assert_int_equal(bk_retention_get(&cfg.retention, "x"), 86400);
	assert_int_equal(bk_retention_get(&cfg.retention, "monthly"), 90 * 86400);

	/* a new schedule for an old repository: the max over both records and schedules */
	bk_repo_config_merge_retention(&cfg, &old);
	assert_int_equal(cfg.retention.n, 4);
	assert_int_equal(bk_retention_get(&cfg.retention, "daily"), 7 * 86400);
	assert_int_equal(bk_retention_get(&cfg.retention, "weekly"), 28 * 86400);
	assert_int_equal(bk_retention_get(&cfg.retention, "monthly"), 90 * 86400);
	assert_int_equal(bk_retention_get(&cfg.retention, "x"), 86400);
	assert_int_equal(bk_schedule_find(&cfg.schedule, "daily")->keep, 1); /* the schedule is new */

	/* written always, and read back */
	bk_buf_init(&text);
	bk_repo_config_format(&cfg, &text);
	assert_non_null(strstr(text.p, "\ntag-retention: {daily: 1w, monthly: 90d, weekly: 4w, x: 1d}\n"));
	assert_int_equal(bk_repo_config_parse(text.p, text.len, "config", &back, &err), 0);
	assert_int_equal(bk_retention_get(&back.retention, "weekly"), 28 * 86400);
	assert_int_equal(back.retention.n, 4);
	bk_repo_config_release(&back);
	bk_buf_reset(&text);
	bk_repo_config_format(&old, &text);
	assert_non_null(strstr(text.p, "\ntag-retention: {daily: 1w, weekly: 4w}\n"));
	bk_buf_release(&text);

	/* a bad record is an error naming the file */
	bk_repo_config_release(&back);
	{
		const char *bad = "source: {type: file, filename: /x}\ntag-retention: {daily: forever}\n";

		assert_int_equal(bk_repo_config_parse(bad, strlen(bad), "config", &back, &err),
				 BK_ECONFIG);
		assert_non_null(strstr(err.msg, "config: line 2: invalid retention 'forever'"));
	}
	bk_repo_config_release(&cfg);
	bk_repo_config_release(&old);
}

static void test_config_with_consul_token_is_private(void **state)
{
	struct fx *f = *state;
	struct bk_repo_config cfg;
	struct bk_err err = {0};
	char dir[256], path[300];
	struct stat st;

	memset(&cfg, 0, sizeof(cfg));
	bk_source_config_init(&cfg.source);
	cfg.source.spec.type = BK_SOURCE_FLYINGCIRCUS;
	snprintf(cfg.source.spec.pool, sizeof(cfg.source.spec.pool), "rbd");
	snprintf(cfg.source.spec.image, sizeof(cfg.source.spec.image), "vm01.root");
	snprintf(cfg.source.spec.vm, sizeof(cfg.source.spec.vm), "vm01");
	assert_int_equal(bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &cfg.schedule, &err), 0);
	cfg.block_size = BS;
	assert_int_equal(bk_repo_config_mode(&cfg), 0640);
	snprintf(dir, sizeof(dir), "%s/public", f->dir);
	assert_int_equal(bk_repo_init(dir, &cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	cfg.source.consul_token = bk_strdup("s3cr3t");
	assert_int_equal(bk_repo_config_mode(&cfg), 0600);
	snprintf(dir, sizeof(dir), "%s/private", f->dir);
	assert_int_equal(bk_repo_init(dir, &cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	bk_repo_config_release(&cfg);
}

static void test_repo_init_refuses_existing_config(void **state)
{
	struct fx *f = *state;
	struct bk_repo_config cfg;
	struct bk_err err = {0};
	char dir[256], path[300];
	size_t len1, len2;
	unsigned char *before, *after;

	memset(&cfg, 0, sizeof(cfg));
	cfg.source.spec.type = BK_SOURCE_FILE;
	cfg.source.spec.filename = bk_strdup("/dev/vg/vm01");
	assert_int_equal(bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &cfg.schedule, &err), 0);
	cfg.block_size = BS;
	cfg.created = T0;

	snprintf(dir, sizeof(dir), "%s/vm01", f->dir);
	assert_int_equal(bk_repo_init(dir, &cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	before = read_file(path, &len1);

	bk_source_config_release(&cfg.source);
	cfg.source.spec.filename = bk_strdup("/dev/vg/other");
	assert_int_equal(bk_repo_init(dir, &cfg, &err), BK_EUSAGE);
	assert_non_null(strstr(err.msg, "exists already"));
	after = read_file(path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(before, after, len1);

	/* what init wrote opens as a repository */
	bk_repo_config_release(&cfg);
	{
		struct bk_repo r;

		bk_err_clear(&err);
		assert_int_equal(bk_repo_open(&r, dir, &err), 0);
		assert_string_equal(r.name, "vm01");
		assert_string_equal(r.cfg.source.spec.filename, "/dev/vg/vm01");
		assert_true(r.cfg.created == T0);
		assert_int_equal(r.n, 0);
		bk_repo_close(&r);
	}
	free(before);
	free(after);
}

static void test_repo_open_without_config_fails(void **state)
{
	struct fx *f = *state;
	struct bk_repo r;
	struct bk_err err = {0};

	assert_int_equal(bk_repo_open(&r, f->dir, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "not a backy repository"));
	assert_int_equal(r.dirfd, -1);
}

/* --- cleanup ------------------------------------------------------------- */

static void test_cleanup_removes_leftovers_and_keeps_foreign_files(void **state)
{
	static const char *const foreign[] = {
		"notes.txt", "my-own-file", "backy.log", "IIIIIIIIIIIIIIIIIIIIII", "my-disk.sums",
		"2222222222222222222222.bak",
	};
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 19);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	char gen[BK_ID_SHORT_LEN + 1], junk[9][160], path[256];
	int n = 0, r;

	write_file(f->src, a, 4 * (size_t)BS);
	backup(f, T0, "", &s);

	bk_id_new(gen);
	snprintf(junk[n++], sizeof(junk[0]), ".new-%s", gen);
	snprintf(junk[n++], sizeof(junk[0]), ".new-%s.sums", gen);
	snprintf(junk[n++], sizeof(junk[0]), ".tmp-config");
	snprintf(junk[n++], sizeof(junk[0]), ".tmp-%s.rev", s.id);
	snprintf(junk[n++], sizeof(junk[0]), "%s", gen);
	snprintf(junk[n++], sizeof(junk[0]), "%s.sums", gen);
	snprintf(junk[n++], sizeof(junk[0]), "0f8fad5b-d9cb-469f-a165-70867728950e");
	snprintf(junk[n++], sizeof(junk[0]), "0f8fad5b-d9cb-469f-a165-70867728950e.sums");
	for (int i = 0; i < n; i++)
		write_text(f->repo, junk[i], "leftover");
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		write_text(f->repo, foreign[i], "mine");
	snprintf(path, sizeof(path), "%s/quarantine", f->repo);
	assert_int_equal(mkdir(path, 0750), 0);
	write_text(path, "x-2015-09-01T00:00:00.yaml", "revision: x\n");

	reopen(f);
	lock(f);
	r = bk_repo_cleanup(&f->r, &err);
	if (r != n)
		fail_msg("cleanup removed %d files, expected %d (%s)", r, n, err.msg);
	for (int i = 0; i < n; i++)
		if (exists(f->repo, junk[i]))
			fail_msg("leftover '%s' was kept", junk[i]);
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		if (!exists(f->repo, foreign[i]))
			fail_msg("foreign file '%s' was removed", foreign[i]);
	assert_true(exists(f->repo, "config"));
	assert_true(exists(f->repo, "latest"));
	assert_true(exists(f->repo, ".lock"));
	assert_true(exists(f->repo, "quarantine/x-2015-09-01T00:00:00.yaml"));
	assert_true(exists(f->repo, s.id));
	snprintf(path, sizeof(path), "%s.sums", s.id);
	assert_true(exists(f->repo, path));
	snprintf(path, sizeof(path), "%s.rev", s.id);
	assert_true(exists(f->repo, path));

	/* nothing left to do the second time */
	assert_int_equal(bk_repo_cleanup(&f->r, &err), 0);
	free(a);
}

/*
 * An incomplete revision (no stats.duration: a Python backy run that died,
 * or a .rev that lost its tail) is never deleted automatically: cleanup
 * cannot tell the two apart, and deleting on input it could not validate
 * could lose a backup.  The operator forgets it explicitly.
 */
static void test_cleanup_keeps_incomplete_revisions(void **state)
{
	struct fx *f = *state;
	const char *uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
	struct bk_err err = {0};
	char name[128];

	snprintf(name, sizeof(name), "%s.rev", uuid);
	write_text(f->repo, name,
		   "uuid: 0f8fad5b-d9cb-469f-a165-70867728950e\n"
		   "timestamp: 2015-09-01 07:06:47+00:00\n"
		   "parent: ''\nstats: {bytes_written: 1024}\ntags: [daily]\n");
	write_text(f->repo, uuid, "partial image");
	write_text(f->repo, "4Ge6UNPMQfAqVjdb4hmp7V.rev",
		   "uuid: 4Ge6UNPMQfAqVjdb4hmp7V\ntimestamp: 2015-09-02T00:00:00Z\n"
		   "stats: {bytes_written: 5, duration: 1.5}\n");
	write_text(f->repo, "4Ge6UNPMQfAqVjdb4hmp7V", "complete image");
	reopen(f);
	assert_int_equal(f->r.n, 2);
	lock(f);
	assert_int_equal(bk_repo_cleanup(&f->r, &err), 0);
	assert_int_equal(f->r.n, 2);
	assert_true(exists(f->repo, name));
	assert_true(exists(f->repo, uuid));
	assert_true(exists(f->repo, "4Ge6UNPMQfAqVjdb4hmp7V"));
	assert_true(exists(f->repo, "4Ge6UNPMQfAqVjdb4hmp7V.rev"));
}

/* --- lock ---------------------------------------------------------------- */

static void test_second_writer_gets_elocked(void **state)
{
	struct fx *f = *state;
	struct bk_repo other;
	struct bk_err err = {0};

	reopen(f);
	lock(f);
	lock(f); /* taking it again in the same handle is a no-op */
	assert_int_equal(bk_repo_open(&other, f->repo, &err), 0);
	assert_int_equal(bk_repo_lock(&other, &err), BK_ELOCKED);
	assert_int_equal(err.code, BK_ELOCKED);
	assert_non_null(strstr(err.msg, "busy"));
	assert_int_equal(other.lockfd, -1);

	/* released when the holder closes */
	bk_repo_close(&f->r);
	f->open = false;
	bk_err_clear(&err);
	assert_int_equal(bk_repo_lock(&other, &err), 0);
	bk_repo_close(&other);
}

/* --- holds (store.h, design note 4) ------------------------------------------- */

static void count_in_use(void *arg, const struct bk_expire_step *st)
{
	if (st->action == BK_EXPIRE_KEEP && st->floor == BK_FLOOR_IN_USE)
		++*(int *)arg;
}

static void test_held_revision_is_never_deleted(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 21);
	struct bk_backup_stats s1, s2;
	struct bk_err err = {0};
	bool match[2] = {true, true};
	int fd = -1, fd2 = -1, in_use = 0;

	write_file(f->src, a, 4 * (size_t)BS);
	backup(f, T0, "gone", &s1);
	backup(f, T0 + 3600 * BK_USEC, "gone", &s2);
	assert_int_equal(bk_repo_hold_rev(&f->r, rev_index(f, s1.id), &fd, &err), 0);
	/* holds are shared: a second one on the same revision is fine */
	assert_int_equal(bk_repo_hold_rev(&f->r, rev_index(f, s1.id), &fd2, &err), 0);
	close(fd2);
	lock(f);
	assert_int_equal(bk_repo_rev_held(&f->r, 0, &err), BK_ELOCKED);
	assert_non_null(strstr(err.msg, "mounted"));
	assert_int_equal(bk_repo_rev_held(&f->r, 1, NULL), 0);

	/* forget refuses and deletes nothing, not even the unheld revision asked for with it */
	bk_err_clear(&err);
	assert_int_equal(bk_repo_forget(&f->r, match, NULL, T0, NULL, NULL, &err), BK_ELOCKED);
	assert_non_null(strstr(err.msg, s1.id));
	assert_int_equal(f->r.n, 2);
	assert_true(exists(f->repo, s2.id));
	bk_err_clear(&err);
	assert_int_equal(bk_repo_remove_rev(&f->r, 0, &err), BK_ELOCKED);
	assert_true(exists(f->repo, s1.id));

	/* expire without floors deletes the other one and keeps the held one, tags and all */
	bk_err_clear(&err);
	assert_int_equal(bk_repo_expire(&f->r, NULL, T0 + 7200 * BK_USEC, false, count_in_use,
					&in_use, &err),
			 0);
	assert_int_equal(in_use, 1);
	assert_int_equal(f->r.n, 1);
	assert_string_equal(f->r.revs[0].id, s1.id);
	assert_int_equal(f->r.revs[0].tags.n, 1);
	assert_false(exists(f->repo, s2.id));

	/* released: the next expiry deletes it */
	close(fd);
	assert_int_equal(bk_repo_expire(&f->r, NULL, T0 + 7200 * BK_USEC, false, NULL, NULL, &err), 0);
	assert_int_equal(f->r.n, 0);
	assert_false(exists(f->repo, s1.id));
	free(a);
}

static void test_hold_refuses_a_revision_being_deleted_or_gone(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(2 * (size_t)BS, 22);
	struct bk_backup_stats s;
	struct bk_err err = {0};
	char path[256];
	int fd = -1, ex;

	write_file(f->src, a, 2 * (size_t)BS);
	backup(f, T0, "daily", &s);
	/* a deletion in progress holds the image exclusively */
	image_path(f, s.id, path, sizeof(path));
	ex = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ex >= 0);
	assert_int_equal(flock(ex, LOCK_EX), 0);
	assert_int_equal(bk_repo_hold_rev(&f->r, 0, &fd, &err), BK_ELOCKED);
	assert_non_null(strstr(err.msg, "being deleted"));
	assert_int_equal(fd, -1);
	close(ex);

	/* deleted since the repository was loaded: the .rev went first */
	snprintf(path, sizeof(path), "%s/%s.rev", f->repo, s.id);
	assert_int_equal(unlink(path), 0);
	bk_err_clear(&err);
	assert_int_equal(bk_repo_hold_rev(&f->r, 0, &fd, &err), BK_ENOREV);
	assert_int_equal(fd, -1);
	free(a);
}

/* --- corrupt metadata ---------------------------------------------------- */

static void test_corrupt_rev_makes_open_fail_naming_it(void **state)
{
	struct fx *f = *state;
	unsigned char *a = make_image(4 * (size_t)BS, 20);
	struct bk_backup_stats s;
	struct bk_repo r;
	struct bk_err err = {0};

	write_file(f->src, a, 4 * (size_t)BS);
	backup(f, T0, "", &s);
	bk_repo_close(&f->r);
	f->open = false;

	write_text(f->repo, "2222222222222222222222.rev", "uuid: [unterminated\n");
	assert_int_equal(bk_repo_open(&r, f->repo, &err), BK_ECORRUPT);
	assert_int_equal(err.code, BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "2222222222222222222222.rev"));
	assert_int_equal(r.dirfd, -1);

	/* well-formed, but not the revision its name says */
	write_text(f->repo, "2222222222222222222222.rev",
		   "uuid: 3333333333333333333333\ntimestamp: 2015-09-01\nstats: {bytes_written: 0}\n");
	bk_err_clear(&err);
	assert_int_equal(bk_repo_open(&r, f->repo, &err), BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "2222222222222222222222.rev"));
	assert_non_null(strstr(err.msg, "3333333333333333333333"));

	/* a bad trust value in an otherwise good .rev */
	write_text(f->repo, "2222222222222222222222.rev",
		   "uuid: 2222222222222222222222\ntimestamp: 2015-09-01\ntrust: perhaps\n");
	bk_err_clear(&err);
	assert_int_equal(bk_repo_open(&r, f->repo, &err), BK_ECORRUPT);
	assert_non_null(strstr(err.msg, "2222222222222222222222.rev"));

	/* nothing was deleted because of it */
	assert_true(exists(f->repo, s.id));
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_parse_accepts_full_config),
		cmocka_unit_test(test_config_parse_defaults),
		cmocka_unit_test(test_config_parse_rejects_bad_configs),
		cmocka_unit_test(test_config_format_parse_round_trip),
		cmocka_unit_test(test_config_retention_record),
		T(test_config_with_consul_token_is_private),
		T(test_repo_init_refuses_existing_config),
		T(test_repo_open_without_config_fails),
		T(test_cleanup_removes_leftovers_and_keeps_foreign_files),
		T(test_cleanup_keeps_incomplete_revisions),
		T(test_second_writer_gets_elocked),
		T(test_held_revision_is_never_deleted),
		T(test_hold_refuses_a_revision_being_deleted_or_gone),
		T(test_corrupt_rev_makes_open_fail_naming_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
