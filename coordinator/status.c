/*
 * status.c: what the coordinator's HTTP endpoint serves, rendered from its
 * state (state.h): GET /v1/status and /v1/workers (JSON) and /metrics
 * (Prometheus text).  Callers hold whatever lock guards the state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "state.h"

static void json_str(struct bk_buf *b, const char *s)
{
	bk_buf_adds(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			bk_buf_addf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			bk_buf_addf(b, "\\u%04x", *p);
		else
			bk_buf_add(b, p, 1);
	}
	bk_buf_adds(b, "\"");
}

static void json_time(struct bk_buf *b, int64_t t)
{
	char s[64];

	if (!t) {
		bk_buf_adds(b, "null");
		return;
	}
	bk_time_format(t, s, sizeof(s), BK_TIME_ISO);
	json_str(b, s);
}

static int64_t job_backoff(const struct co_job *j)
{
	return co_backoff(j->fails);
}

void co_status_json(const struct co_state *st, int64_t now, const char *role, struct bk_buf *out)
{
	size_t inflight = 0, overdue_n = 0;
	bool first = true;

	bk_buf_adds(out, "{\"jobs\":{");
	for (size_t i = 0; i < st->n; i++) {
		const struct co_job *j = &st->jobs[i];
		const struct co_run *run = &j->run[CO_RUN_BACKUP];
		int64_t overdue = 0;
		bool ok;

		if (!j->live)
			continue;
		ok = co_job_sla(j, now, &overdue);
		overdue_n += !ok;
		inflight += run->active;
		bk_buf_adds(out, first ? "" : ",");
		first = false;
		json_str(out, j->name);
		bk_buf_adds(out, ":{\"sla\":");
		json_str(out, ok ? "OK" : "TOO OLD");
		bk_buf_addf(out, ",\"sla_overdue\":%" PRId64 ",\"status\":", overdue);
		json_str(out, co_job_status(j));
		bk_buf_adds(out, ",\"last_time\":");
		json_time(out, j->last_time);
		bk_buf_adds(out, ",\"last_tags\":");
		json_str(out, j->last_tags);
		if (j->last_time)
			bk_buf_addf(out, ",\"last_duration\":%.3f", j->last_duration);
		else
			bk_buf_adds(out, ",\"last_duration\":null");
		bk_buf_adds(out, ",\"next_time\":");
		json_time(out, run->active ? 0 : j->next_time);
		bk_buf_adds(out, ",\"next_tags\":");
		json_str(out, run->active ? "" : j->next_tags);
		bk_buf_adds(out, ",\"manual_tags\":");
		json_str(out, j->manual_tags);
		bk_buf_adds(out, ",\"host\":");
		json_str(out, j->host < st->nhosts ? st->hosts[j->host] : "");
		bk_buf_adds(out, ",\"schedule\":");
		json_str(out, j->sched->name);
		bk_buf_addf(out, ",\"backoff\":%" PRId64 ",\"failures\":%" PRIu32, job_backoff(j),
			    j->fails);
		bk_buf_adds(out, ",\"last_error\":");
		if (j->last_error)
			json_str(out, j->last_error);
		else
			bk_buf_adds(out, "null");
		bk_buf_adds(out, ",\"running\":");
		if (run->active) {
			bk_buf_adds(out, "{\"job_id\":");
			json_str(out, run->id);
			bk_buf_addf(out, ",\"attempt\":%u,\"tags\":", (unsigned)run->attempt);
			json_str(out, run->tags);
			bk_buf_adds(out, ",\"dispatched\":");
			json_time(out, run->dispatched);
			bk_buf_adds(out, ",\"deadline\":");
			json_time(out, run->deadline);
			bk_buf_adds(out, "}");
		} else {
			bk_buf_adds(out, "null");
		}
		bk_buf_addf(out, ",\"expiring\":%s}", j->run[CO_RUN_EXPIRE].active ? "true" : "false");
	}
	bk_buf_adds(out, "},\"workers\":");
	co_workers_json(st, out);
	bk_buf_adds(out, ",\"coordinator\":{\"role\":");
	json_str(out, role);
	bk_buf_adds(out, ",\"now\":");
	json_time(out, now);
	bk_buf_addf(out, ",\"jobs\":%zu,\"in_flight\":%zu,\"sla_overdue\":%zu,\"version\":", st->n,
		    inflight, overdue_n);
	json_str(out, BACKY_VERSION);
	bk_buf_adds(out, "}}\n");
}

void co_workers_json(const struct co_state *st, struct bk_buf *out)
{
	bk_buf_adds(out, "{");
	for (size_t i = 0; i < st->nworkers; i++) {
		const struct co_worker *w = &st->workers[i];

		bk_buf_adds(out, i ? "," : "");
		json_str(out, w->host);
		bk_buf_adds(out, ":{\"version\":");
		json_str(out, w->version);
		bk_buf_addf(out, ",\"slots\":%u,\"busy\":%u,\"free_bytes\":%" PRIu64 ",\"running\":",
			    w->slots, w->busy, w->free_bytes);
		json_str(out, w->running);
		bk_buf_adds(out, ",\"last_seen\":");
		json_time(out, w->seen);
		bk_buf_addf(out, ",\"age\":%" PRId64 "}", (int64_t)((bk_monotonic() - w->seen_mono) / BK_USEC));
	}
	bk_buf_adds(out, "}");
}

void co_metrics(const struct co_state *st, int64_t now, bool active, struct bk_buf *out)
{
	size_t inflight[CO_RUN_KINDS] = {0}, failing = 0, overdue_n = 0, live = 0;
	struct bk_buf per;

	bk_buf_init(&per);
	bk_buf_adds(&per, "# HELP backy_job_sla_overdue_seconds Seconds past the SLA (0 within it).\n"
			  "# TYPE backy_job_sla_overdue_seconds gauge\n");
	for (size_t i = 0; i < st->n; i++) {
		const struct co_job *j = &st->jobs[i];
		int64_t overdue = 0;

		if (!j->live)
			continue;
		live++;
		overdue_n += !co_job_sla(j, now, &overdue);
		failing += j->fails > 0;
		for (int k = 0; k < CO_RUN_KINDS; k++)
			inflight[k] += j->run[k].active;
		bk_buf_addf(&per, "backy_job_sla_overdue_seconds{job=\"%s\",host=\"%s\"} %" PRId64 "\n",
			    j->name, j->host < st->nhosts ? st->hosts[j->host] : "", overdue);
	}
	bk_buf_addf(out,
		    "# HELP backy_coordinator_active 1 when this coordinator dispatches, 0 on standby.\n"
		    "# TYPE backy_coordinator_active gauge\nbacky_coordinator_active %d\n"
		    "# HELP backy_coordinator_jobs Configured jobs.\n"
		    "# TYPE backy_coordinator_jobs gauge\nbacky_coordinator_jobs %zu\n"
		    "# HELP backy_coordinator_jobs_in_flight Jobs dispatched and not answered yet.\n"
		    "# TYPE backy_coordinator_jobs_in_flight gauge\n"
		    "backy_coordinator_jobs_in_flight{action=\"backup\"} %zu\n"
		    "backy_coordinator_jobs_in_flight{action=\"expire\"} %zu\n"
		    "# HELP backy_coordinator_jobs_failing Jobs whose last backup failed (in backoff).\n"
		    "# TYPE backy_coordinator_jobs_failing gauge\nbacky_coordinator_jobs_failing %zu\n"
		    "# HELP backy_coordinator_sla_overdue_jobs Jobs outside their SLA.\n"
		    "# TYPE backy_coordinator_sla_overdue_jobs gauge\nbacky_coordinator_sla_overdue_jobs %zu\n"
		    "# HELP backy_coordinator_dispatched_total Jobs dispatched (first attempts).\n"
		    "# TYPE backy_coordinator_dispatched_total counter\n"
		    "backy_coordinator_dispatched_total{action=\"backup\"} %" PRIu64 "\n"
		    "backy_coordinator_dispatched_total{action=\"expire\"} %" PRIu64 "\n"
		    "# HELP backy_coordinator_redispatched_total Jobs dispatched again after their deadline.\n"
		    "# TYPE backy_coordinator_redispatched_total counter\nbacky_coordinator_redispatched_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_published_total Job messages confirmed by the broker.\n"
		    "# TYPE backy_coordinator_published_total counter\nbacky_coordinator_published_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_publish_errors_total Job messages the broker did not confirm.\n"
		    "# TYPE backy_coordinator_publish_errors_total counter\nbacky_coordinator_publish_errors_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_results_total Results matched to a job in flight.\n"
		    "# TYPE backy_coordinator_results_total counter\n"
		    "backy_coordinator_results_total{outcome=\"ok\"} %" PRIu64 "\n"
		    "backy_coordinator_results_total{outcome=\"failed\"} %" PRIu64 "\n"
		    "# HELP backy_coordinator_results_ignored_total Results dropped (sum of backy_coordinator_results_dropped_total).\n"
		    "# TYPE backy_coordinator_results_ignored_total counter\nbacky_coordinator_results_ignored_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_manual_requests_total Manual runs requested.\n"
		    "# TYPE backy_coordinator_manual_requests_total counter\nbacky_coordinator_manual_requests_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_state_saves_total State file snapshots written (compactions).\n"
		    "# TYPE backy_coordinator_state_saves_total counter\nbacky_coordinator_state_saves_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_journal_commits_total Changes appended to the state journal.\n"
		    "# TYPE backy_coordinator_journal_commits_total counter\nbacky_coordinator_journal_commits_total %" PRIu64 "\n"
		    "# HELP backy_coordinator_reloads_total Configuration reloads (result=error kept the old one).\n"
		    "# TYPE backy_coordinator_reloads_total counter\n"
		    "backy_coordinator_reloads_total{result=\"ok\"} %" PRIu64 "\n"
		    "backy_coordinator_reloads_total{result=\"error\"} %" PRIu64 "\n"
		    "# HELP backy_coordinator_workers Workers seen through heartbeats.\n"
		    "# TYPE backy_coordinator_workers gauge\nbacky_coordinator_workers %zu\n",
		    active ? 1 : 0, live, inflight[0], inflight[1], failing, overdue_n,
		    st->c.dispatched[0], st->c.dispatched[1], st->c.redispatched, st->c.published,
		    st->c.publish_errors, st->c.results_ok, st->c.results_failed,
		    st->c.results_ignored, st->c.manual_requests, st->c.saves,
		    st->c.journal_commits, st->c.reloads,
		    st->c.reload_errors, st->nworkers);
	if (st->nworkers) {
		bk_buf_adds(out, "# HELP backy_worker_busy_slots Slots in use per worker (last heartbeat).\n"
				 "# TYPE backy_worker_busy_slots gauge\n");
		for (size_t i = 0; i < st->nworkers; i++)
			bk_buf_addf(out, "backy_worker_busy_slots{host=\"%s\"} %u\n", st->workers[i].host,
				    st->workers[i].busy);
		bk_buf_adds(out, "# HELP backy_worker_heartbeat_age_seconds Seconds since the last heartbeat.\n"
				 "# TYPE backy_worker_heartbeat_age_seconds gauge\n");
		for (size_t i = 0; i < st->nworkers; i++)
			bk_buf_addf(out, "backy_worker_heartbeat_age_seconds{host=\"%s\"} %" PRId64 "\n",
				    st->workers[i].host, (int64_t)((bk_monotonic() - st->workers[i].seen_mono) / BK_USEC));
	}
	bk_buf_adds(out, "# HELP backy_coordinator_results_dropped_total Results dropped: unknown_job (no such "
			 "job id in flight), wrong_host (in flight on another host), routing_key (key "
			 "and body disagree), stale (an attempt skipped after its deadline).\n"
			 "# TYPE backy_coordinator_results_dropped_total counter\n");
	for (int k = 0; k < CO_RESULT_DROPS; k++)
		bk_buf_addf(out, "backy_coordinator_results_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			    co_result_drop_reason((enum co_result)k), st->c.results_dropped[k]);
	bk_buf_adds(out, "# HELP backy_coordinator_heartbeats_dropped_total Heartbeats dropped: "
			 "unknown_host (not in the config), routing_key (key is not the body's host).\n"
			 "# TYPE backy_coordinator_heartbeats_dropped_total counter\n");
	for (int k = CO_HB_OK + 1; k < CO_HB_KINDS; k++)
		bk_buf_addf(out, "backy_coordinator_heartbeats_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			    co_hb_drop_reason((enum co_hb)k), st->c.heartbeats_dropped[k]);
	bk_buf_add(out, per.p, per.len);
	bk_buf_release(&per);
}
