/*
 * test_pyrepo.c: the per-job configs Python backy 2.5.3's daemon wrote
 * (tests/fixtures/python-backy/conf/daemon-written, or
 * BACKY_PY_FIXTURES) read as Python's (worker/engine/pyrepo.h) and told
 * apart from ours (store.h, bk_repo_config_origin).  Without the fixtures
 * the tests fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>

#include "buf.h"
#include "fs.h"
#include "pyrepo.h"
#include "store.h"

static char *fixture(const char *rel, size_t *len)
{
	const char *env = getenv("BACKY_PY_FIXTURES");
	char path[4096];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", env && *env ? env : BK_PY_FIXTURES, rel);
	if (bk_fs_read_all(AT_FDCWD, path, 1 << 20, &text, len) < 0)
		fail_msg("fixture '%s' is missing (set BACKY_PY_FIXTURES)", path);
	return text;
}

/* Parse the daemon-written config of JOB in SET as Python's into CFG. */
static void parse(const char *set, const char *job, struct bk_repo_config *cfg)
{
	char rel[256];
	struct bk_err err = {0};
	size_t len;
	char *text;

	snprintf(rel, sizeof(rel), "conf/daemon-written/%s/%s/config", set, job);
	text = fixture(rel, &len);
	assert_int_equal(bk_repo_config_origin(text, len), BK_CONFIG_FOREIGN);
	if (bk_py_repo_config_parse(text, len, rel, cfg, &err) < 0)
		fail_msg("%s: %s", rel, err.msg);
	free(text);
}

static void test_daemon_written_configs_map(void **state)
{
	struct bk_repo_config cfg;

	(void)state;
	parse("full", "vm01", &cfg); /* flyingcircus with its token */
	assert_int_equal(cfg.source.spec.type, BK_SOURCE_FLYINGCIRCUS);
	assert_string_equal(cfg.source.spec.vm, "vm01");
	assert_string_equal(cfg.source.consul_token, "00000000-1111-2222-3333-444444444444");
	assert_int_equal(bk_repo_config_mode(&cfg), 0600);
	assert_int_equal(cfg.schedule.n, 4);
	assert_int_equal(bk_schedule_find(&cfg.schedule, "weekly")->interval, 7 * 86400);
	bk_repo_config_release(&cfg);
	parse("full", "db01-data", &cfg); /* ceph-rbd, backend: chunked, full-always: true */
	assert_int_equal(cfg.source.spec.type, BK_SOURCE_RBD);
	assert_true(cfg.source.verify_full);
	bk_repo_config_release(&cfg);
	parse("full", "legacy-fileserver", &cfg); /* file, cow: false, backend: cowfile */
	assert_string_equal(cfg.source.spec.filename, "/srv/images/fileserver.img");
	assert_int_equal(bk_schedule_find(&cfg.schedule, "quarterly")->interval, 7776000);
	assert_int_equal(cfg.block_size, BK_DEFAULT_BLOCK_SIZE);
	bk_repo_config_release(&cfg);
	for (const char *j = "vm02\0scratch\0"; *j; j += strlen(j) + 1) {
		parse("full", j, &cfg);
		bk_repo_config_release(&cfg);
	}
	for (const char *j = "db01-root\0webserver-disk\0"; *j; j += strlen(j) + 1) {
		parse("minimal", j, &cfg);
		bk_repo_config_release(&cfg);
	}
}

static void test_ours_is_told_apart(void **state)
{
	struct bk_repo_config cfg;
	struct bk_buf text;

	(void)state;
	parse("minimal", "webserver-disk", &cfg);
	bk_buf_init(&text);
	bk_repo_config_format(&cfg, &text);
	assert_int_equal(bk_repo_config_origin(text.p, text.len), BK_CONFIG_OURS);
	assert_int_equal(bk_repo_config_origin("[1, 2", 5), BK_CONFIG_UNREADABLE);
	assert_int_equal(bk_repo_config_origin("- a\n", 4), BK_CONFIG_UNREADABLE);
	bk_buf_release(&text);
	bk_repo_config_release(&cfg);
}

static void test_python_source_keys_checked(void **state)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{"source: {type: file, filename: /a, backend: zfs}\n", "must be chunked or cowfile"},
		{"source: {type: file, filename: /a, cow: maybe}\n", "'source.cow' must be true or false"},
		{"source: {type: file, filename: /a, full-always: true}\n", "unknown key 'source.full-always'"},
		{"source: {type: ceph-rbd, pool: p, image: i, cow: true}\n", "unknown key 'source.cow'"},
		{"source: {type: file}\n", "'source.filename' is required"},
		{"schedule: {}\nsource: {type: file, filename: /a}\nextra: 1\n", "unknown key 'extra'"},
		{"schedule: {daily: {interval: 1d}}\nsource: {type: file, filename: /a}\n", "keep"},
		{"- not a map\n", "not a Python backy repository config"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bk_repo_config cfg;
		struct bk_err err = {0};
		int r = bk_py_repo_config_parse(cases[i].text, strlen(cases[i].text), "config", &cfg,
						&err);

		if (r != BK_ECONFIG || !strstr(err.msg, cases[i].expect))
			fail_msg("case %zu: r=%d, expected '%s' in '%s'", i, r, cases[i].expect, err.msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_written_configs_map),
		cmocka_unit_test(test_ours_is_told_apart),
		cmocka_unit_test(test_python_source_keys_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
