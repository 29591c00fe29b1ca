/*
 * backyctl_watch.c: `backyctl watch`, the result stream as it happens
 * (backyctl(1)): a queue of its own bound to backy.results, one line per
 * result, a table or the JSON as published.
 *
 * The queue is a dashboard's: named dashboard.backyctl.<host>.<pid>, not
 * durable, exclusive, gone with the connection, so watch needs the
 * dashboard's broker user (docs/operations.md, "Broker users and
 * permissions").  Messages that do not decode are reported on stderr and
 * skipped; a lost connection ends the watch with an error (exit 1).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backyctl.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "proto.h"
#include "topology.h"

static volatile sig_atomic_t g_watch_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_watch_stop = 1;
}

/* One table line for result R. */
static void print_row(const struct bk_msg_result *r)
{
	char when[64], size[32];

	bk_time_format(r->head.time, when, sizeof(when), BK_TIME_ISO);
	when[10] = ' ';
	when[19] = '\0';
	printf("%s  %-6s  %-8s  %-16s  %-20s  ", when,
	       r->action ? bk_msg_action_name(r->action) : "-", bk_msg_outcome_name(r->outcome),
	       r->host, r->job[0] ? r->job : "-");
	if (r->outcome != BK_OUTCOME_OK) {
		printf("%s: %s\n", r->error_code, r->error_message ? r->error_message : "");
		return;
	}
	if (r->revision[0])
		printf("revision %s", r->revision);
	if (r->has_stats) {
		bk_size_format(r->stats.bytes_written, size, sizeof(size));
		printf("%s%s written in %.1f s", r->revision[0] ? ", " : "", size,
		       r->stats.duration);
	}
	printf("  (job id %s)\n", r->job_id);
}

int backyctl_watch(const struct bk_mq_config *mc, const char *binding, bool json, long count)
{
	struct sigaction sa;
	struct bk_mq_delivery d;
	struct bk_mq *mq = NULL;
	struct bk_err err = {0};
	char host[64] = "", queue[160];
	long seen = 0;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", *p))
			*p = '_';
	snprintf(queue, sizeof(queue), "dashboard.backyctl.%s.%ld", host[0] ? host : "host",
		 (long)getpid());
	r = bk_mq_connect(&mq, mc, &err);
	if (r == 0)
		r = bk_mq_listen(mq, queue, BK_EX_RESULTS, binding, 256, &err);
	if (r < 0)
		goto out;
	bk_notice("watching backy.results (binding '%s') through queue %s; Ctrl-C ends", binding,
		  queue);
	if (!json)
		printf("%-19s  %-6s  %-8s  %-16s  %-20s  %s\n", "TIME (UTC)", "ACTION", "OUTCOME",
		       "HOST", "JOB", "WHAT");
	fflush(stdout);
	memset(&d, 0, sizeof(d));
	while (!g_watch_stop && (count <= 0 || seen < count)) {
		struct bk_msg m;
		struct bk_err e = {0};

		r = bk_mq_wait(mq, 1000, &d, &err);
		if (r == 0 || r == BK_EPROTO)
			continue;
		if (r < 0)
			goto out;
		if (bk_msg_decode(d.body, d.len, &m, &e) < 0 || m.kind != BK_MSG_RESULT) {
			bk_warn("skipping a message on backy.results (key '%s'): %s", d.routing_key,
				e.msg[0] ? e.msg : "not a result");
		} else {
			if (json)
				printf("%.*s\n", (int)d.len, (const char *)d.body);
			else
				print_row(&m.u.result);
			fflush(stdout);
			seen++;
		}
		bk_msg_release(&m);
		r = bk_mq_ack(mq, d.tag, &err);
		bk_mq_delivery_release(&d);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		bk_error("watch: %s", bk_err_msg(&err, r));
	bk_mq_close(mq);
	return r < 0 ? 1 : 0;
}
