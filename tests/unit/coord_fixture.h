/*
 * coord_fixture.h: what the coordinator's unit tests share: their start
 * instant, the daemon's two ways of putting a run on the wire, done on the
 * model alone, and the config the model tests start from.  Include after cmocka.h.
 */
#ifndef BK_TEST_COORD_FIXTURE_H
#define BK_TEST_COORD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "state.h"

/* The instant the tests start at: 2026-03-02T00:00:00Z. */
static inline int64_t t0(void)
{
	int64_t t;

	assert_int_equal(bk_time_parse("2026-03-02T00:00:00Z", &t), 0);
	return t;
}

/* What the daemon does for a due run: co_start(), then (at publishing) co_run_message(). */
static inline int start_msg(struct co_state *st, uint32_t i, enum co_run_kind k, int64_t now,
			    struct bk_msg_job *m)
{
	int r = co_start(st, i, k, now, NULL);

	if (r == 0)
		co_run_message(st, i, k, now, m);
	return r;
}

/* What the daemon does for a run past its deadline: co_redispatch(), then co_run_message(). */
static inline void redispatch_msg(struct co_state *st, uint32_t i, enum co_run_kind k,
				  int64_t now, struct bk_msg_job *m)
{
	co_redispatch(st, i, k, now);
	co_run_message(st, i, k, now, m);
}

/*
 * The config the model tests start from: three jobs, one of each source type,
 * on hosts b1 and b2.
 */
#define BASE_YAML \
	"global: {base-dir: /srv/backy, worker-limit: 1}\n" \
	"schedules:\n" \
	"  default:\n" \
	"    daily: {interval: 1d, keep: 7}\n" \
	"    weekly: {interval: 1w, keep: 4}\n" \
	"jobs:\n" \
	"  vm01: {schedule: default, source: {type: file, filename: /img/vm01}}\n" \
	"  vm02: {schedule: default, host: b2, source: {type: ceph-rbd, pool: rbd, image: vm02}}\n" \
	"  vm03: {schedule: default, source: {type: flyingcircus, pool: rbd, image: vm03.root, vm: vm03}}\n" \
	"hosts: [b1, b2]\n" \
	"amqp: {url: 'amqp://u:p@127.0.0.1:5672/ci'}\n" \
	"status: {listen: '127.0.0.1:6090'}\n" \
	"state-file: /tmp/x/state\n" \
	"job-timeout: 2h\n"

/* Parse YAML into C; the test fails with the parser's message if it cannot. */
static inline void parse_ok(const char *yaml, struct co_config *c)
{
	struct bk_err err = {0};
	int r = co_config_parse(yaml, strlen(yaml), "c.yaml", c, &err);

	if (r < 0)
		fail_msg("%s", err.msg);
}

/* YAML must be refused as a config, with NEEDLE in the message. */
static inline void expect_error(const char *yaml, const char *needle)
{
	struct co_config c;
	struct bk_err err = {0};

	assert_int_equal(co_config_parse(yaml, strlen(yaml), "c.yaml", &c, &err), BK_ECONFIG);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in '%s'", needle, err.msg);
}

/* BASE_YAML with the line starting with FIND replaced by REPL (to be freed). */
static inline char *edit(const char *find, const char *repl)
{
	const char *base = BASE_YAML;
	const char *p = strstr(base, find);
	const char *eol;
	size_t n;
	char *out;

	assert_non_null(p);
	eol = strchr(p, '\n') + 1;
	n = strlen(base) + strlen(repl) + 2;
	out = malloc(n);
	snprintf(out, n, "%.*s%s\n%s", (int)(p - base), base, repl, eol);
	return out;
}

#endif
