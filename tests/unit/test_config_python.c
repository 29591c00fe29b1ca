/*
 * test_config_python.c: Python backy 2.5.3's central configs (the fixtures
 * in tests/fixtures/python-backy/conf, written for and accepted by the
 * real Python daemon) in backy-coordinator's loader (config.h,
 * config_python.h): they load unchanged, or each refusal names what
 * replaces the key; `include:` takes one from a file with the fleet keys.
 * BACKY_PY_FIXTURES overrides where the fixtures are; without them the
 * tests fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "fs.h"

#include <fcntl.h>

static const char *fixtures(void)
{
	const char *env = getenv("BACKY_PY_FIXTURES");

	return env && *env ? env : BK_PY_FIXTURES;
}

/* The text of the fixture REL (fails the test when it is missing). */
static char *fixture(const char *rel, size_t *len)
{
	char path[4096];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", fixtures(), rel);
	if (bk_fs_read_all(AT_FDCWD, path, 1 << 20, &text, len) < 0)
		fail_msg("fixture '%s' is missing (set BACKY_PY_FIXTURES)", path);
	return text;
}

/* TEXT without the lines containing any of the NULL-terminated DROP. */
static char *without_lines(const char *text, const char *const *drop)
{
	struct bk_buf b;
	const char *p = text;

	bk_buf_init(&b);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		char *line = bk_strndup(p, n);
		bool keep = true;

		for (size_t i = 0; drop[i]; i++)
			keep &= strstr(line, drop[i]) == NULL;
		if (keep)
			bk_buf_add(&b, line, n);
		free(line);
		p += n;
	}
	return b.p ? b.p : bk_strdup("");
}

static int parse(const char *text, struct co_config *c, struct bk_err *err)
{
	return co_config_parse(text, strlen(text), "backy.conf", c, err);
}

static const struct co_sched *sched(const struct co_config *c, const char *name)
{
	for (size_t i = 0; i < c->nscheds; i++)
		if (!strcmp(c->scheds[i].name, name))
			return &c->scheds[i];
	return NULL;
}

static void test_minimal_conf_loads_unchanged_on_this_host(void **state)
{
	struct co_config c;
	struct bk_err err = {0};
	char host[256] = "";
	size_t len;
	char *text = fixture("conf/backy-minimal.conf", &len);
	const struct co_jobcfg *j;

	(void)state;
	assert_int_equal(co_config_parse(text, len, "backy-minimal.conf", &c, &err), 0);
	assert_int_equal(c.njobs, 2);
	assert_int_equal(c.nscheds, 1);
	assert_int_equal(sched(&c, "default")->s.n, 3);
	assert_string_equal(c.base_dir, "/srv/backy");
	j = co_config_job(&c, "db01-root");
	assert_non_null(j);
	assert_int_equal(j->source.type, BK_SOURCE_RBD);
	assert_string_equal(j->source.pool, "rbd.ssd");
	j = co_config_job(&c, "webserver-disk");
	assert_string_equal(j->source.filename, "/srv/images/webserver.img");
	/* no hosts: Python backy ran every job where it ran */
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	assert_int_equal(c.nhosts, 1);
	assert_string_equal(c.hosts[0], host);
	assert_string_equal(c.state_file, CO_DEFAULT_STATE_FILE);
	assert_int_equal(c.status_interval, 30);
	co_config_release(&c);
	free(text);
}

static void test_full_conf_refusals_name_their_replacements(void **state)
{
	static const char *const telnet[] = {"telnet", NULL};
	static const char *const token[] = {"telnet", "consul_acl_token", NULL};
	struct co_config c;
	struct bk_err err = {0};
	size_t len;
	char *text = fixture("conf/backy-full.conf", &len), *t;

	(void)state;
	/* both telnet keys in one message, with what replaces them */
	assert_int_equal(co_config_parse(text, len, "backy-full.conf", &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "backy-full.conf"));
	assert_non_null(strstr(err.msg, "'global.telnet-addrs'"));
	assert_non_null(strstr(err.msg, "'global.telnet-port'"));
	assert_non_null(strstr(err.msg, "backyctl status"));
	/* the Consul token is a secret of the storage host */
	t = without_lines(text, telnet);
	bk_err_clear(&err);
	assert_int_equal(parse(t, &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "job 'vm01'"));
	assert_non_null(strstr(err.msg, "'source.consul_acl_token'"));
	assert_non_null(strstr(err.msg, "consul: {token"));
	free(t);
	/* full-always: true is the storage host's verify_full */
	t = without_lines(text, token);
	bk_err_clear(&err);
	assert_int_equal(parse(t, &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "job 'db01-data'"));
	assert_non_null(strstr(err.msg, "'source.full-always: true'"));
	assert_non_null(strstr(err.msg, "verify_full"));
	free(t);
	free(text);
}

static void test_full_conf_maps_every_other_key(void **state)
{
	static const char *const drop[] = {"telnet", "consul_acl_token", "full-always", NULL};
	struct co_config c;
	struct bk_err err = {0};
	size_t len;
	char *text = fixture("conf/backy-full.conf", &len), *t = without_lines(text, drop);
	const struct co_sched *s;

	(void)state;
	assert_int_equal(parse(t, &c, &err), 0);
	assert_int_equal(c.njobs, 5);
	assert_int_equal(c.nscheds, 3);
	assert_int_equal(c.worker_limit, 3);
	assert_string_equal(c.completed_callback, "/usr/local/bin/backy-completed");
	assert_string_equal(c.status_file, "/srv/backy/status");
	assert_int_equal(c.status_interval, 15);
	s = sched(&c, "archive");
	assert_int_equal(bk_schedule_find(&s->s, "quarterly")->interval, 7776000); /* "7776000" */
	assert_int_equal(bk_schedule_find(&s->s, "yearly")->interval, 365 * 86400);
	s = sched(&c, "frequent");
	assert_int_equal(bk_schedule_find(&s->s, "daily")->interval, 86400); /* "86400s" */
	assert_int_equal(co_config_job(&c, "vm02")->source.type, BK_SOURCE_FLYINGCIRCUS);
	assert_string_equal(co_config_job(&c, "vm02")->source.vm, "vm02");
	/* backend and cow are accepted: backy has one format */
	assert_string_equal(co_config_job(&c, "legacy-fileserver")->source.filename,
			    "/srv/images/fileserver.img");
	co_config_release(&c);
	free(t);
	free(text);
}

static void test_rejected_confs(void **state)
{
	struct co_config c;
	struct bk_err err = {0};
	size_t len;
	char *text = fixture("conf/rejected/unknown-schedule.conf", &len);

	(void)state;
	/* Python noticed this only when its scheduler started; the loader says so at once */
	assert_int_equal(co_config_parse(text, len, "unknown-schedule.conf", &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "unknown schedule 'nightly'"));
	free(text);
	/* Python crashed on a bare integer interval; it is unambiguous seconds here */
	text = fixture("conf/rejected/int-interval.conf", &len);
	assert_int_equal(co_config_parse(text, len, "int-interval.conf", &c, &err), 0);
	assert_int_equal(sched(&c, "default")->s.tags[0].interval, 86400);
	co_config_release(&c);
	free(text);
}

static void test_global_keys_checked(void **state)
{
	static const struct {
		const char *global, *expect;
	} cases[] = {
		{"api: {port: 6023}", "'global.api': the HTTP API is replaced by GET /v1/status"},
		{"colour: blue", "unknown key 'global.colour'"},
		{"worker-limit: 0", "'global.worker-limit' must be from 1 to 1024"},
		{"base-dir: srv/backy", "'global.base-dir' must be an absolute path"},
		{"status-interval: 0", "'global.status-interval' must be from 1 to 86400"},
		{"backup-completed-callback: notify", "must be an absolute path"},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct co_config c;
		struct bk_err err = {0};

		snprintf(text, sizeof(text),
			 "global:\n  %s\nschedules:\n  d:\n    daily: {interval: 1d, keep: 3}\n",
			 cases[i].global);
		assert_int_equal(parse(text, &c, &err), BK_ECONFIG);
		if (!strstr(err.msg, cases[i].expect))
			fail_msg("'%s': expected '%s' in '%s'", cases[i].global, cases[i].expect, err.msg);
	}
}

/* Write TEXT to DIR/NAME. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_include_takes_python_conf_unchanged(void **state)
{
	char dir[] = "/tmp/test_config_python.XXXXXX", path[4096];
	struct co_config c;
	struct bk_err err = {0};
	size_t len;
	char *text = fixture("conf/backy-minimal.conf", &len);

	(void)state;
	assert_non_null(mkdtemp(dir));
	put(dir, "backy.conf", text);
	put(dir, "coordinator.yaml",
	    "include: backy.conf\nhosts: [store1, store2]\namqp: {url: \"amqp://c:p@mq:5672/\"}\n"
	    "state-file: /var/lib/bc/state\n");
	snprintf(path, sizeof(path), "%s/coordinator.yaml", dir);
	assert_int_equal(co_config_load(path, &c, &err), 0);
	assert_int_equal(c.njobs, 2);
	assert_int_equal(c.nhosts, 2);
	assert_string_equal(c.amqp_url, "amqp://c:p@mq:5672/");
	assert_string_equal(c.base_dir, "/srv/backy");
	co_config_release(&c);
	/* a section in both files is an error naming both */
	put(dir, "twice.yaml", "include: backy.conf\nschedules: {}\n");
	snprintf(path, sizeof(path), "%s/twice.yaml", dir);
	assert_int_equal(co_config_load(path, &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "'schedules' is in the included"));
	/* an error in the included file names that file and its line */
	put(dir, "bad.conf", "global:\n  telnet-port: 1\nschedules: {}\n");
	put(dir, "inc-bad.yaml", "include: bad.conf\n");
	snprintf(path, sizeof(path), "%s/inc-bad.yaml", dir);
	bk_err_clear(&err);
	assert_int_equal(co_config_load(path, &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "bad.conf: Python backy settings without an equivalent"));
	assert_non_null(strstr(err.msg, "line 2: 'global.telnet-port'"));
	/* the included file holds only what Python's does */
	put(dir, "fleet.conf", "hosts: [a]\nschedules: {d: {daily: {interval: 1d, keep: 1}}}\n");
	put(dir, "inc-fleet.yaml", "include: fleet.conf\n");
	snprintf(path, sizeof(path), "%s/inc-fleet.yaml", dir);
	bk_err_clear(&err);
	assert_int_equal(co_config_load(path, &c, &err), BK_ECONFIG);
	assert_non_null(strstr(err.msg, "fleet.conf"));
	assert_non_null(strstr(err.msg, "'hosts'"));
	for (const char *n = "backy.conf\0coordinator.yaml\0twice.yaml\0bad.conf\0inc-bad.yaml\0"
			     "fleet.conf\0inc-fleet.yaml\0";
	     *n; n += strlen(n) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		unlink(path);
	}
	rmdir(dir);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_conf_loads_unchanged_on_this_host),
		cmocka_unit_test(test_full_conf_refusals_name_their_replacements),
		cmocka_unit_test(test_full_conf_maps_every_other_key),
		cmocka_unit_test(test_rejected_confs),
		cmocka_unit_test(test_global_keys_checked),
		cmocka_unit_test(test_include_takes_python_conf_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
