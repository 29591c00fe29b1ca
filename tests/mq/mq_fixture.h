/*
 * mq_fixture.h: the helpers the broker adapter tests (test_mq_connect.c,
 * test_mq_io.c) share, in mq_fixture.c, linked into both.
 *
 * The broker URL comes from BACKY_AMQP_URL_COORDINATOR, the coordinator's
 * broker user (tests/harness/rabbit-perms.sh: everything on backy.*, which is
 * what these tests declare, publish, consume and delete), or, when that is
 * not set, BACKY_AMQP_URL (amqp://user:pass@host:port/vhost).  Without them,
 * or with the broker unreachable, group_setup fails the binary: a skip is not
 * a pass.  Each test uses its own host name (mqt<pid>-<test>) and so its own
 * job queue, deleted at the end.
 */
#ifndef BK_TEST_MQ_FIXTURE_H
#define BK_TEST_MQ_FIXTURE_H

#include "mq.h"

/* The broker URL; set by group_setup, not owned (it points into the environment). */
extern const char *g_url;

/* Connect with g_url and HEARTBEAT (conn: none); fail the test on error. */
struct bk_mq *conn_hb(int heartbeat);
struct bk_mq *conn(void);

#define OK(call)                                                                   \
	do {                                                                       \
		int rc_ = (call);                                                  \
		if (rc_ < 0)                                                       \
			fail_msg("%s failed: %s", #call, bk_err_msg(&err, rc_)); \
	} while (0)

/* Per-test host name and job queue name. */
struct names {
	char host[64];
	char queue[128];
};

void names_init(struct names *n, const char *test);
/* Delete N's job queue. */
void cleanup(const struct names *n);
/* Wait up to MS for one delivery; fail the test if none comes. */
void wait_one(struct bk_mq *mq, int ms, struct bk_mq_delivery *d);
/* Publish BODY with message id ID to N's host; fail the test on error. */
void publish_one(struct bk_mq *mq, const struct names *n, const char *id, const char *body);

/* cmocka group setup: find the broker URL and check the broker answers. */
int group_setup(void **state);

#endif
