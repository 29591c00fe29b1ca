/* test_worker_config.c: cmocka tests of backy-worker's config file (worker/daemon/worker_config.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MINIMAL "host: store01\nbase-dir: /tmp\namqp: {url: 'amqp://u:p@127.0.0.1:5672/ci'}\n"

static int parse(const char *text, struct bk_fleet_config *cfg, struct bk_err *err)
{
	return bk_fleet_config_parse(text, strlen(text), "worker.yaml", cfg, err);
}

/* TEXT fails with a message containing WANT. */
static void expect_error(const char *text, const char *want)
{
	struct bk_fleet_config cfg;
	struct bk_err err = {0};

	assert_true(parse(text, &cfg, &err) < 0); /* BK_ECONFIG, or -errno for files */
	if (!strstr(err.msg, want))
		fail_msg("expected '%s' in '%s'", want, err.msg);
	assert_null(cfg.host); /* nothing is left after an error */
}

static void test_full_config(void **state)
{
	static const char text[] =
		"host: store01\n"
		"base-dir: /tmp\n"
		"amqp:\n"
		"  url: amqps://worker:secret@broker:5671/backy\n"
		"  heartbeat: 1m\n"
		"  ca-cert: /etc/backy/ca.pem\n"
		"  tls-verify: false\n"
		"slots: 4\n"
		"grace: 30\n"
		"heartbeat-interval: 2\n"
		"state-dir: /var/lib/backy-worker\n"
		"backy: /bin/true\n"
		"keep-results: 2d\n"
		"simulated-time: true\n"
		"ceph: {conf: /etc/ceph/ceph.conf, id: backy}\n"
		"consul: {url: 'http://127.0.0.1:8500', token: t0k}\n"
		"allow: {pools: [rbd], paths: [/srv/images]}\n"
		"retention: {min-keep: 5, min-age: 2d}\n";
	struct bk_fleet_config cfg;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse(text, &cfg, &err), 0);
	assert_string_equal(cfg.host, "store01");
	assert_string_equal(cfg.base_dir, "/tmp");
	assert_string_equal(cfg.amqp.url, "amqps://worker:secret@broker:5671/backy");
	assert_int_equal(cfg.amqp.heartbeat_s, 60);
	assert_string_equal(cfg.amqp.ca_cert, "/etc/backy/ca.pem");
	assert_false(cfg.amqp.tls_verify);
	assert_int_equal(cfg.slots, 4);
	assert_int_equal(cfg.grace, 30);
	assert_int_equal(cfg.heartbeat_interval, 2);
	assert_string_equal(cfg.state_dir, "/var/lib/backy-worker");
	assert_string_equal(cfg.backy, "/bin/true");
	assert_int_equal(cfg.keep, 2 * 86400);
	assert_true(cfg.simulated_time);
	assert_string_equal(cfg.ceph_conf, "/etc/ceph/ceph.conf");
	assert_string_equal(cfg.ceph_id, "backy");
	assert_string_equal(cfg.consul_url, "http://127.0.0.1:8500");
	assert_string_equal(cfg.consul_token, "t0k");
	/* allow and retention are handed to fleet_policy.c as they are */
	assert_int_equal(cfg.policy.pools.n, 1);
	assert_string_equal(cfg.policy.pools.v[0], "rbd");
	assert_int_equal(cfg.policy.paths.n, 1);
	assert_string_equal(cfg.policy.paths.v[0], "/srv/images");
	assert_int_equal(cfg.policy.min_keep, 5);
	assert_int_equal(cfg.policy.min_age, 2 * 86400);
	bk_fleet_config_release(&cfg);
	assert_null(cfg.host);
}

static void test_defaults(void **state)
{
	struct bk_fleet_config cfg;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(parse(MINIMAL, &cfg, &err), 0);
	assert_int_equal(cfg.amqp.heartbeat_s, 0);
	assert_null(cfg.amqp.ca_cert);
	assert_true(cfg.amqp.tls_verify);
	assert_int_equal(cfg.slots, BK_FLEET_DEFAULT_SLOTS);
	assert_int_equal(cfg.grace, BK_FLEET_DEFAULT_GRACE);
	assert_int_equal(cfg.heartbeat_interval, BK_FLEET_DEFAULT_HEARTBEAT);
	assert_int_equal(cfg.keep, BK_FLEET_DEFAULT_KEEP);
	assert_string_equal(cfg.state_dir, "/tmp/.backy-worker");
	assert_non_null(cfg.backy); /* next to the program, else "backy" from PATH */
	assert_false(cfg.simulated_time);
	assert_null(cfg.ceph_conf);
	assert_null(cfg.consul_token);
	assert_int_equal(cfg.policy.pools.n, 0); /* deny by default */
	assert_int_equal(cfg.policy.min_keep, BK_FLEET_DEFAULT_MIN_KEEP);
	assert_int_equal(cfg.policy.min_age, BK_FLEET_DEFAULT_MIN_AGE);
	bk_fleet_config_release(&cfg);
}

static void test_required_keys(void **state)
{
	(void)state;
	expect_error("", "worker.yaml: empty configuration");
	expect_error("base-dir: /tmp\namqp: {url: 'amqp://h/'}\n", "worker.yaml: 'host' is required");
	expect_error("host: a\namqp: {url: 'amqp://h/'}\n", "worker.yaml: 'base-dir' is required");
	expect_error("host: a\nbase-dir: /tmp\n", "worker.yaml: 'amqp' with 'url' is required");
	expect_error("host: a\nbase-dir: /tmp\namqp: {heartbeat: 5}\n",
		     "worker.yaml: line 3: 'amqp.url' is required");
}

static void test_each_key_error_has_its_line(void **state)
{
	static const struct {
		const char *extra, *want;
	} cases[] = {
		{"slots: 0\n", "line 4: 'slots' must be from 1 to 1024"},
		{"slots: 1025\n", "line 4: 'slots' must be from 1 to 1024"},
		{"slots: many\n", "line 4"},
		{"grace: 604801\n", "line 4: 'grace' must be from 0 to 604800"},
		{"heartbeat-interval: 0\n", "line 4: 'heartbeat-interval' must be from 1 to 3600"},
		{"keep-results: forever\n", "line 4: 'keep-results' must be a duration such as 7d"},
		{"state-dir: relative\n", "line 4: 'state-dir' must be an absolute path"},
		{"state-dir: ''\n", "line 4: 'state-dir' must not be empty"},
		{"backy: /nonexistent/backy\n", "line 4: 'backy' '/nonexistent/backy' is not executable"},
		{"simulated-time: yes\n", "line 4: 'simulated-time' must be true or false"},
		{"ceph: {conf: /c, user: x}\n", "line 4: unknown key 'user' in ceph"},
		{"consul: {url: ''}\n", "line 4: 'consul.url' must not be empty"},
		{"allow: {pools: [rbd], hosts: [x]}\n", "line 4"},
		{"retention: {min-keep: -1}\n", "line 4"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];

		snprintf(text, sizeof(text), "%s%s", MINIMAL, cases[i].extra);
		expect_error(text, cases[i].want);
	}
	expect_error("host: a/b\nbase-dir: /tmp\namqp: {url: 'amqp://h/'}\n",
		     "line 1: 'host' must be 1 to 64 characters");
	expect_error("host: .a\nbase-dir: /tmp\namqp: {url: 'amqp://h/'}\n", "line 1: 'host'");
	expect_error("host: a\nbase-dir: tmp\namqp: {url: 'amqp://h/'}\n",
		     "line 2: 'base-dir' must be an absolute path");
	expect_error("host: a\nbase-dir: /nonexistent/dir\namqp: {url: 'amqp://h/'}\n",
		     "line 2: unable to resolve 'base-dir' '/nonexistent/dir'");
}

static void test_amqp_block_errors(void **state)
{
	static const struct {
		const char *amqp, *want;
	} cases[] = {
		{"amqp: {url: 'http://h/'}\n", "line 3: 'amqp.url' must start with amqp:// or amqps://"},
		{"amqp: {url: ''}\n", "line 3: 'amqp.url' must not be empty"},
		{"amqp: {url: 'amqp://h/', heartbeat: 2h}\n", "line 3: 'amqp.heartbeat' must be from 0 to 3600"},
		{"amqp: {url: 'amqp://h/', heartbeat: -1}\n", "line 3: 'amqp.heartbeat'"},
		{"amqp: {url: 'amqp://h/', tls-verify: 1}\n", "line 3: 'amqp.tls-verify' must be true or false"},
		{"amqp: {url: 'amqp://h/', vhost: x}\n", "line 3: unknown key 'vhost' in amqp"},
		{"amqp: [x]\n", "line 3: 'amqp' must be a map"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];

		snprintf(text, sizeof(text), "host: a\nbase-dir: /tmp\n%s", cases[i].amqp);
		expect_error(text, cases[i].want);
	}
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error(MINIMAL "bogus: 1\n", "worker.yaml: line 4: unknown key 'bogus'");
	expect_error(MINIMAL "Slots: 1\n", "unknown key 'Slots'");
}

static void test_load_reads_the_file(void **state)
{
	char path[] = "/tmp/test_worker_config.XXXXXX";
	struct bk_fleet_config cfg;
	struct bk_err err = {0};
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, MINIMAL, strlen(MINIMAL)), (ssize_t)strlen(MINIMAL));
	close(fd);
	assert_int_equal(bk_fleet_config_load(path, &cfg, &err), 0);
	assert_string_equal(cfg.host, "store01");
	bk_fleet_config_release(&cfg);
	unlink(path);
	assert_true(bk_fleet_config_load(path, &cfg, &err) < 0);
	assert_non_null(strstr(err.msg, "unable to read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_required_keys),
		cmocka_unit_test(test_each_key_error_has_its_line),
		cmocka_unit_test(test_amqp_block_errors),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_load_reads_the_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
