/*
 * test_coord_config.c: the coordinator's config (config.h): the superset of
 * Python backy's keys, errors that name their line, and where the status
 * server may listen and with what protection.
 */
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

#include "config.h"
#include "coord_fixture.h"

static void test_config_parses_python_superset(void **state)
{
	struct co_config c;
	const struct co_jobcfg *j;

	(void)state;
	parse_ok(BASE_YAML, &c);
	assert_int_equal(c.njobs, 3);
	assert_int_equal(c.nhosts, 2);
	assert_int_equal(c.job_timeout, 7200);
	assert_true(c.expire);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 6090);
	j = co_config_job(&c, "vm03");
	assert_non_null(j);
	assert_int_equal(j->source.type, BK_SOURCE_FLYINGCIRCUS);
	assert_string_equal(j->source.vm, "vm03");
	assert_null(co_config_job(&c, "vm04"));
	assert_string_equal(co_config_job(&c, "vm02")->host, "b2");
	assert_null(co_config_job(&c, "vm01")->host);
	co_config_release(&c);
}

static void test_config_errors_name_the_line(void **state)
{
	static const struct {
		const char *line, *repl, *error;
	} cases[] = {
		{"  vm03:",
		 "  vm03: {schedule: default, source: {type: flyingcircus, pool: rbd, image: i, vm: v, consul_acl_token: s3cret}}",
		 "line 9: job 'vm03': secrets do not belong in the central config"},
		{"  vm01:",
		 "  ../x: {schedule: default, source: {type: file, filename: /img}}",
		 "line 7: invalid job name '../x'"},
		{"  vm01:",
		 "  vm01: {schedule: nightly, source: {type: file, filename: /img}}",
		 "line 7: job 'vm01': unknown schedule 'nightly'"},
		{"  vm01:",
		 "  vm01: {schedule: default, source: {type: file, filename: img}}",
		 "must be an absolute path"},
		{"status:",
		 "status: {listen: '0.0.0.0:6090'}",
		 "is not a loopback address"},
		{"job-timeout:",
		 "job-timeout: soon",
		 "line 14: 'job-timeout' must be a positive duration"},
		{"job-timeout:",
		 "jobtimeout: 1h",
		 "line 14: unknown key 'jobtimeout'"},
		{"hosts:",
		 "hosts: []",
		 "job 'vm01' names no host"},
		{"  vm01:",
		 "  vm01: {schedule: default, source: {type: file, filename: /img, ceph_conf: /etc/ceph.conf}}",
		 "worker-local setting"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *y = edit(cases[i].line, cases[i].repl);

		expect_error(y, cases[i].error);
		free(y);
	}
}

static void test_listen_accepts_loopback_only(void **state)
{
	char host[64];
	unsigned port;

	(void)state;
	assert_int_equal(co_listen_parse("127.0.0.1:80", false, host, sizeof(host), &port, NULL), 0);
	assert_int_equal(co_listen_parse("[::1]:8080", false, host, sizeof(host), &port, NULL), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	assert_int_equal(co_listen_parse("localhost:1", false, host, sizeof(host), &port, NULL), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(co_listen_parse("10.0.0.1:80", false, host, sizeof(host), &port, NULL), BK_ECONFIG);
	assert_int_equal(co_listen_parse("[::]:80", false, host, sizeof(host), &port, NULL), BK_ECONFIG);
	assert_int_equal(co_listen_parse("127.0.0.1:99999", false, host, sizeof(host), &port, NULL), BK_ECONFIG);
	assert_int_equal(co_listen_parse("127.0.0.1", false, host, sizeof(host), &port, NULL), BK_ECONFIG);
	/* with TLS and basic auth configured, any address */
	assert_int_equal(co_listen_parse("0.0.0.0:9180", true, host, sizeof(host), &port, NULL), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(co_listen_parse("[::]:9180", true, host, sizeof(host), &port, NULL), 0);
	assert_int_equal(co_listen_parse("backy01:9180", true, host, sizeof(host), &port, NULL), BK_ECONFIG);
}

/* Write TEXT to a new file under /tmp with MODE; returns its malloc'ed path. */
static char *temp_file(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/bk-status-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* The base config with "status: {listen: '0.0.0.0:9180', FIELDS}"; malloc'ed. */
static char *status_yaml(const char *fmt, ...)
{
	char fields[900], line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fields, sizeof(fields), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "status: {listen: '0.0.0.0:9180'%s}", fields);
	return edit("status:", line);
}

static void test_status_beyond_loopback_needs_tls_and_auth(void **state)
{
	char *cert = temp_file("-----BEGIN CERTIFICATE-----\n", 0644);
	char *key = temp_file("-----BEGIN PRIVATE KEY-----\n", 0600);
	char *pass = temp_file("s3cret\n", 0640);
	char *open_pass = temp_file("s3cret\n", 0644);
	const char *auth = ", tls-cert: %s, tls-key: %s, auth-user: prom, auth-password-file: %s";
	struct {
		char *yaml;
		const char *error; /* NULL: valid */
	} cases[] = {
		{status_yaml(""), "needs status.tls-cert"},
		/* TLS without auth is not enough */
		{status_yaml(", tls-cert: %s, tls-key: %s", cert, key), "needs status.tls-cert"},
		{status_yaml(", tls-cert: %s", cert), "go together"},
		{status_yaml(auth, cert, key, open_pass), "may be read by anyone"},
		{status_yaml(auth, cert, key, "/nonexistent/pw"), "unable to read status.auth-password-file"},
		{status_yaml(auth, cert, key, pass), NULL},
	};
	struct co_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].error) {
			expect_error(cases[i].yaml, cases[i].error);
		} else {
			parse_ok(cases[i].yaml, &c);
			assert_string_equal(c.listen_host, "0.0.0.0");
			assert_true(co_status_secured(&c.status_auth));
			assert_string_equal(c.status_auth.user, "prom");
			assert_string_equal(c.status_auth.password, "s3cret"); /* the newline dropped */
			co_config_release(&c);
		}
		free(cases[i].yaml);
	}
	for (char **p = (char *[]){cert, key, pass, open_pass, NULL}; *p; p++) {
		unlink(*p);
		free(*p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_parses_python_superset),
		cmocka_unit_test(test_config_errors_name_the_line),
		cmocka_unit_test(test_listen_accepts_loopback_only),
		cmocka_unit_test(test_status_beyond_loopback_needs_tls_and_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
