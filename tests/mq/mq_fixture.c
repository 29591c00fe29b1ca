/*
 * mq_fixture.c: what the broker adapter tests share: the broker URL from the
 * environment (checked once by mq_group_setup), connecting, per-test names
 * and publish/wait helpers.  See mq_fixture.h.
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

#include "error.h"
#include "mq.h"
#include "topology.h"

#include "mq_fixture.h"

const char *g_url;

/* Connect with URL (default BACKY_AMQP_URL) and HEARTBEAT; fail the test on error. */
struct bk_mq *conn_hb(int heartbeat)
{
	struct bk_mq_config cfg = {.url = g_url, .heartbeat_s = heartbeat, .name = "backy test_mq",
				   .timeout_ms = 10000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc = bk_mq_connect(&mq, &cfg, &err);

	if (rc)
		fail_msg("connect failed: %s", bk_err_msg(&err, rc));
	return mq;
}

struct bk_mq *conn(void)
{
	return conn_hb(0);
}

void names_init(struct names *n, const char *test)
{
	snprintf(n->host, sizeof(n->host), "mqt%d-%s", (int)getpid(), test);
	assert_int_equal(bk_topology_jobs_queue(n->host, n->queue, sizeof(n->queue)), 0);
}

void cleanup(const struct names *n)
{
	struct bk_err err = {0};
	struct bk_mq *mq = conn();

	OK(bk_mq_delete_queue(mq, n->queue, &err));
	bk_mq_close(mq);
}

/* Wait up to MS for one delivery; fail the test if none comes. */
void wait_one(struct bk_mq *mq, int ms, struct bk_mq_delivery *d)
{
	struct bk_err err = {0};
	int rc = bk_mq_wait(mq, ms, d, &err);

	if (rc != 1)
		fail_msg("expected a delivery, got %d: %s", rc, rc < 0 ? bk_err_msg(&err, rc) : "timeout");
}

void publish_one(struct bk_mq *mq, const struct names *n, const char *id, const char *body)
{
	struct bk_err err = {0};

	OK(bk_mq_publish(mq, BK_EX_JOBS, n->host, body, strlen(body), id, &err));
}

int group_setup(void **state)
{
	struct bk_mq_config cfg = {.timeout_ms = 5000};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int rc;

	(void)state;
	g_url = getenv("BACKY_AMQP_URL_COORDINATOR");
	if (!g_url || !g_url[0])
		g_url = getenv("BACKY_AMQP_URL");
	if (!g_url || !g_url[0]) {
		fprintf(stderr, "test_mq: neither BACKY_AMQP_URL_COORDINATOR nor BACKY_AMQP_URL is set "
				"(amqp://user:pass@host:port/vhost); this integration test needs a "
				"real RabbitMQ\n");
		return -1;
	}
	cfg.url = g_url;
	rc = bk_mq_connect(&mq, &cfg, &err);
	if (rc) {
		fprintf(stderr, "test_mq: broker unreachable: %s\n", bk_err_msg(&err, rc));
		return -1;
	}
	bk_mq_close(mq);
	return 0;
}
