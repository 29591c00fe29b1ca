/* cli_status.c: `backy status` and `backy check` (backy(1)). */
#include "cli.h"
#include "clock.h"
#include "rev_list.h"
#include "schedule.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status_json(const struct bk_repo *repo, struct bk_err *err)
{
	struct bk_rev_entry *list = bk_calloc(repo->n + 1, sizeof(*list));
	struct bk_buf text;
	int r;

	for (size_t i = 0; i < repo->n; i++) {
		const struct bk_rev *rev = &repo->revs[i];

		list[i] = (struct bk_rev_entry){
			.uuid = rev->id,
			.timestamp = rev->timestamp,
			.parent = rev->parent,
			.tags = &rev->tags,
			.trust = bk_trust_name(rev->trust),
			.size = rev->size,
			.bytes_written = rev->bytes_written,
			.complete = rev->complete,
			.duration = rev->duration,
			.consistency = rev->consistency,
		};
	}
	bk_buf_init(&text);
	r = bk_rev_list_encode(list, repo->n, &text, err);
	if (r == 0)
		fwrite(text.p, 1, text.len, stdout);
	bk_buf_release(&text);
	free(list);
	return r;
}

static void status_table(const struct bk_repo *repo)
{
	unsigned long long total = 0;
	int64_t now = bk_now(), overdue, next;
	int64_t spread = bk_schedule_spread(repo->name, &repo->cfg.schedule);
	struct bk_strv next_tags = BK_STRV_INIT;
	struct bk_buf tags;
	char when[64], size[32], dur[32];

	bk_buf_init(&tags);
	printf("%-19s  %-22s  %10s  %8s  %-24s  %s\n", "Date (UTC)", "ID", "Size", "Duration",
	       "Tags", "Trust");
	for (size_t i = 0; i < repo->n; i++) {
		const struct bk_rev *rev = &repo->revs[i];

		bk_buf_reset(&tags);
		bk_strv_join(&rev->tags, ",", &tags);
		bk_time_format(rev->timestamp, when, sizeof(when), BK_TIME_DISPLAY);
		bk_size_format(rev->bytes_written, size, sizeof(size));
		if (rev->complete)
			bk_duration_format(rev->duration, dur, sizeof(dur));
		else
			snprintf(dur, sizeof(dur), "-");
		printf("%-19s  %-22s  %10s  %8s  %-24s  %s%s%s\n", when, rev->id, size, dur, tags.p,
		       bk_trust_name(rev->trust), rev->complete ? "" : " (incomplete)",
		       strcmp(rev->consistency, "crash-consistent") == 0 ? " (crash-consistent)"
									    : "");
		total += rev->bytes_written;
	}
	bk_size_format(total, size, sizeof(size));
	printf("\n== Summary\n%zu revision%s\n%s data (estimated)\n", repo->n,
	       repo->n == 1 ? "" : "s", size);
	if (bk_sla_ok(&repo->cfg.schedule, repo->revs, repo->n, repo->cfg.created, now, &overdue))
		printf("SLA: ok\n");
	else
		printf("SLA: overdue by %s\n", (bk_duration_format((double)overdue, dur, sizeof(dur)), dur));
	next = bk_sched_next(&repo->cfg.schedule, spread, repo->revs, repo->n, now, &next_tags);
	bk_buf_reset(&tags);
	bk_strv_join(&next_tags, ",", &tags);
	bk_time_format(next, when, sizeof(when), BK_TIME_DISPLAY);
	printf("next scheduled backup: %s UTC (%s)\n", when, tags.p);
	bk_strv_release(&next_tags);
	bk_buf_release(&tags);
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct bk_repo repo;
	bool json;
	int r;

	if (cli_flag_opt(argc, argv, "json", &json) < 0)
		return cli_usage_error("%s", "usage: backy status [--json]");
	r = cli_open_repo(c, &repo, false);
	if (r < 0)
		return cli_fail(c, r);
	if (json)
		r = status_json(&repo, &c->err);
	else
		status_table(&repo);
	bk_repo_close(&repo);
	return r < 0 ? cli_fail(c, r) : 0;
}

int cmd_check(struct cli *c, int argc, char **argv)
{
	struct bk_repo repo;
	int64_t overdue = 0, age = 0;
	size_t distrusted = 0;
	char dur[32];
	long newest;
	bool sla;
	int r;

	(void)argv;
	if (argc != 1) {
		printf("UNKNOWN: usage: backy check\n");
		return 3;
	}
	r = bk_repo_open(&repo, c->dir, &c->err);
	if (r < 0) {
		printf("UNKNOWN: %s\n", bk_err_msg(&c->err, r));
		return 3;
	}
	for (size_t i = 0; i < repo.n; i++)
		distrusted += repo.revs[i].trust == BK_TRUST_DISTRUSTED;
	newest = bk_repo_newest(&repo);
	if (newest >= 0)
		age = (bk_now() - repo.revs[newest].timestamp) / BK_USEC;
	sla = bk_sla_ok(&repo.cfg.schedule, repo.revs, repo.n, repo.cfg.created, bk_now(), &overdue);
	if (!sla) {
		bk_duration_format((double)overdue, dur, sizeof(dur));
		printf("CRITICAL: '%s' is not within its SLA: %s overdue", repo.name,
		       newest < 0 ? "no revision yet," : dur);
		r = 2;
	} else if (distrusted) {
		printf("WARNING: '%s' has %zu distrusted revision%s", repo.name, distrusted,
		       distrusted == 1 ? "" : "s");
		r = 1;
	} else {
		bk_duration_format((double)age, dur, sizeof(dur));
		if (newest < 0)
			printf("OK: '%s' has no revision yet (within SLA)", repo.name);
		else
			printf("OK: '%s' within SLA, newest revision %s old", repo.name, dur);
		r = 0;
	}
	/* Nagios performance data: overdue is critical above 0, distrusted a warning */
	printf(" | age=%" PRId64 "s;;;0 overdue=%" PRId64 "s;;0;0 revisions=%zu;;;0 distrusted=%zu;0;;0\n",
	       age, sla ? 0 : overdue, repo.n, distrusted);
	bk_repo_close(&repo);
	return r;
}
