/* test_fleet_policy.c: cmocka tests of what a job may ask of a storage host (worker/daemon/fleet_policy.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fleet_policy.h"
#include "proto.h"
#include "schedule.h"

#include <stdio.h>
#include <string.h>

/* Parse YAML TEXT (a worker config fragment) into P; returns the parser's code. */
static int parse(const char *text, struct bk_fleet_policy *p, struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	int r;

	bk_fleet_policy_init(p);
	r = bk_yaml_parse(text, strlen(text), "worker.yaml", &root, err);
	if (r == 0)
		r = bk_fleet_policy_parse(bk_ymap_get(root, "allow"), bk_ymap_get(root, "retention"),
					  "worker.yaml", p, err);
	bk_ynode_free(root);
	return r;
}

static int check_file(const struct bk_fleet_policy *p, const char *path)
{
	struct bk_err err = {0};
	struct bk_source_spec src;
	int r;

	bk_source_spec_init(&src);
	src.type = BK_SOURCE_FILE;
	bk_source_spec_set_filename(&src, path);
	r = bk_fleet_policy_check(p, &src, &err);
	bk_source_spec_release(&src);
	if (r < 0)
		assert_non_null(strstr(err.msg, "allow.paths"));
	return r;
}

static int check_rbd(const struct bk_fleet_policy *p, const char *pool, const char *image)
{
	struct bk_err err = {0};
	struct bk_source_spec src;

	bk_source_spec_init(&src);
	src.type = BK_SOURCE_RBD;
	snprintf(src.pool, sizeof(src.pool), "%s", pool);
	snprintf(src.image, sizeof(src.image), "%s", image);
	return bk_fleet_policy_check(p, &src, &err);
}

static void test_nothing_is_allowed_by_default(void **state)
{
	struct bk_fleet_policy p;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse("host: a\n", &p, &err), 0);
	assert_int_equal(p.min_keep, BK_FLEET_DEFAULT_MIN_KEEP);
	assert_int_equal(p.min_age, BK_FLEET_DEFAULT_MIN_AGE);
	assert_int_equal(check_file(&p, "/etc/shadow"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/dev/loop3"), BK_EDENIED);
	assert_int_equal(check_rbd(&p, "rbd", "vm01"), BK_EDENIED);
	bk_fleet_policy_release(&p);
}

static void test_paths_match_whole_components(void **state)
{
	struct bk_fleet_policy p;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse("allow:\n  paths: [/srv/images/, /dev/vg0]\n", &p, &err), 0);
	assert_int_equal(check_file(&p, "/srv/images/vm01.img"), 0);
	assert_int_equal(check_file(&p, "/srv/images/sub/vm01.img"), 0);
	assert_int_equal(check_file(&p, "/dev/vg0/vm01"), 0);
	assert_int_equal(check_file(&p, "/srv/images"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/srv/images2/vm01.img"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/srv/image"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/dev/vg01/vm01"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/etc/shadow"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/dev/loop3"), BK_EDENIED);
	/* RBD needs pools of its own */
	assert_int_equal(check_rbd(&p, "rbd", "vm01"), BK_EDENIED);
	bk_fleet_policy_release(&p);
}

static void test_root_allows_every_path(void **state)
{
	struct bk_fleet_policy p;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse("allow: {paths: [/]}\n", &p, &err), 0);
	assert_int_equal(check_file(&p, "/etc/shadow"), 0);
	bk_fleet_policy_release(&p);
}

static void test_pools_and_image_patterns(void **state)
{
	struct bk_fleet_policy p;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse("allow:\n  pools: [rbd.ssd, rbd, .rbd-hidden]\n", &p, &err), 0);
	assert_int_equal(check_rbd(&p, ".rbd-hidden", "x"), 0);
	assert_int_equal(check_rbd(&p, "rbd", "anything"), 0);
	assert_int_equal(check_rbd(&p, "rbd.ssd", "vm01.root"), 0);
	assert_int_equal(check_rbd(&p, "rbd.hdd", "vm01.root"), BK_EDENIED);
	assert_int_equal(check_rbd(&p, "rb", "vm01"), BK_EDENIED);
	assert_int_equal(check_file(&p, "/srv/x"), BK_EDENIED);
	bk_fleet_policy_release(&p);

	assert_int_equal(parse("allow:\n  pools: [rbd]\n  images: ['vm*.root', 'db[0-9][0-9]']\n", &p, &err), 0);
	assert_int_equal(check_rbd(&p, "rbd", "vm01.root"), 0);
	assert_int_equal(check_rbd(&p, "rbd", "db01"), 0);
	assert_int_equal(check_rbd(&p, "rbd", "vm01.swap"), BK_EDENIED);
	assert_int_equal(check_rbd(&p, "rbd", "db001"), BK_EDENIED);
	assert_int_equal(check_rbd(&p, "other", "vm01.root"), BK_EDENIED);
	bk_fleet_policy_release(&p);
}

static void test_retention_floors(void **state)
{
	struct bk_fleet_policy p;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse("retention: {min-keep: 5, min-age: 2d}\n", &p, &err), 0);
	assert_int_equal(p.min_keep, 5);
	assert_int_equal(p.min_age, 2 * 86400);
	bk_fleet_policy_release(&p);
	assert_int_equal(parse("retention: {min-keep: 0, min-age: 0}\n", &p, &err), 0);
	assert_int_equal(p.min_keep, 0);
	assert_int_equal(p.min_age, 0);
	bk_fleet_policy_release(&p);
}

static void test_bad_configs_are_refused(void **state)
{
	static const char *const bad[] = {
		"allow: [rbd]\n",
		"allow: {pool: [rbd]}\n",
		"allow: {pools: rbd}\n",
		"allow: {pools: ['']}\n",
		"allow: {pools: ['-x']}\n",
		"allow: {pools: [rbd/x]}\n",
		"allow: {pools: [{a: b}]}\n",
		"allow: {paths: [relative/dir]}\n",
		"allow: {paths: [/srv/../etc]}\n",
		"allow: {paths: [/srv/./x]}\n",
		"allow: {paths: [/srv/..]}\n",
		"allow: {paths: ['//srv']}\n",
		"retention: {min-keep: -1}\n",
		"retention: {min-keep: 100001}\n",
		"retention: {min-age: soon}\n",
		"retention: {min-age: -1d}\n",
		"retention: {keep: 3}\n",
		"retention: 3\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bk_fleet_policy p;
		struct bk_err err = {0};

		if (parse(bad[i], &p, &err) != BK_ECONFIG)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err.msg, "worker.yaml: line"));
		bk_fleet_policy_release(&p);
	}
}

static void job(struct bk_msg_job *j)
{
	struct bk_err err = {0};

	bk_msg_job_init(j);
	snprintf(j->job_id, sizeof(j->job_id), "dMuFXgd6YZrvXnpxQ3YcGa");
	snprintf(j->job, sizeof(j->job), "vm01");
	snprintf(j->host, sizeof(j->host), "backy01");
	j->action = BK_ACTION_BACKUP;
	bk_strv_add(&j->tags, "daily");
	j->deadline = 1000;
	j->attempt = 1;
	j->source.type = BK_SOURCE_RBD;
	snprintf(j->source.pool, sizeof(j->source.pool), "rbd");
	snprintf(j->source.image, sizeof(j->source.image), "vm01");
	assert_int_equal(bk_schedule_parse_spec("daily=1d:7", &j->schedule, &err), 0);
}

static void test_job_digest_covers_what_the_job_asks(void **state)
{
	char base[2 * BK_DIGEST_LEN + 1], d[2 * BK_DIGEST_LEN + 1];
	struct bk_err err = {0};
	struct bk_msg_job j;

	(void)state;
	job(&j);
	bk_fleet_job_digest(&j, base);
	assert_int_equal(strlen(base), 2 * BK_DIGEST_LEN);

	/* a re-dispatch: new envelope, attempt and deadline, same job */
	snprintf(j.head.id, sizeof(j.head.id), "other");
	j.attempt = 2;
	j.deadline = 5000;
	bk_fleet_job_digest(&j, d);
	assert_string_equal(d, base);

	/* anything the job asks for changes it */
	snprintf(j.source.image, sizeof(j.source.image), "vm02");
	bk_fleet_job_digest(&j, d);
	assert_string_not_equal(d, base);
	snprintf(j.source.image, sizeof(j.source.image), "vm01");
	bk_strv_add(&j.tags, "weekly");
	bk_fleet_job_digest(&j, d);
	assert_string_not_equal(d, base);
	bk_strv_remove(&j.tags, "weekly");
	j.action = BK_ACTION_EXPIRE;
	bk_fleet_job_digest(&j, d);
	assert_string_not_equal(d, base);
	j.action = BK_ACTION_BACKUP;
	bk_schedule_release(&j.schedule);
	assert_int_equal(bk_schedule_parse_spec("x=1d:1", &j.schedule, &err), 0);
	bk_fleet_job_digest(&j, d);
	assert_string_not_equal(d, base);
	bk_schedule_release(&j.schedule);
	assert_int_equal(bk_schedule_parse_spec("daily=1d:7", &j.schedule, &err), 0);
	bk_fleet_job_digest(&j, d);
	assert_string_equal(d, base);
	bk_msg_job_release(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_is_allowed_by_default),
		cmocka_unit_test(test_paths_match_whole_components),
		cmocka_unit_test(test_root_allows_every_path),
		cmocka_unit_test(test_pools_and_image_patterns),
		cmocka_unit_test(test_retention_floors),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_job_digest_covers_what_the_job_asks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
