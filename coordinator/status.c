/*
 * status.c: what the coordinator's HTTP endpoint serves, rendered from its
 * state (state.h): GET /v1/status and /v1/workers (JSON) and /metrics
 * (Prometheus text).  Callers hold whatever lock guards the state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "state.h"
#include "status_doc.h"

static int64_t job_backoff(const struct co_job *j)
{
	return co_backoff(j->fails);
}

static void workers_view(const struct co_state *st, struct bk_status_worker *out)
{
	int64_t mono = bk_monotonic();

	for (size_t i = 0; i < st->nworkers; i++) {
		const struct co_worker *w = &st->workers[i];

		out[i] = (struct bk_status_worker){
			.host = w->host,
			.version = w->version,
			.slots = w->slots,
			.busy = w->busy,
			.free_bytes = w->free_bytes,
			.running = w->running ? w->running : "",
			.last_seen = w->seen,
			.age = (int64_t)((mono - w->seen_mono) / BK_USEC),
		};
	}
}

/*
 * The codec refuses nothing the state can hold (strings are escaped, bad
 * UTF-8 is masked): a failure is out of memory, answered with an error body.
 */
static void encode_failed(struct bk_buf *out)
{
	bk_buf_reset(out);
	bk_buf_adds(out, "{\"error\":\"cannot encode the document\"}\n");
}

void co_status_json(const struct co_state *st, int64_t now, const char *role, struct bk_buf *out)
{
	struct bk_status_doc doc;
	struct bk_err err = {0};
	size_t inflight = 0, overdue_n = 0;

	bk_status_doc_init(&doc);
	doc.jobs = bk_calloc(st->n + 1, sizeof(*doc.jobs));
	doc.workers = bk_calloc(st->nworkers + 1, sizeof(*doc.workers));
	for (size_t i = 0; i < st->n; i++) {
		const struct co_job *j = &st->jobs[i];
		const struct co_run *run = &j->run[CO_RUN_BACKUP];
		struct bk_status_job *v;
		int64_t overdue = 0;
		bool ok;

		if (!j->live)
			continue;
		ok = co_job_sla(j, now, &overdue);
		overdue_n += !ok;
		inflight += run->active;
		v = &doc.jobs[doc.njobs++];
		*v = (struct bk_status_job){
			.name = j->name,
			.sla_ok = ok,
			.sla_overdue = overdue,
			.status = co_job_status(j),
			.last_time = j->last_time,
			.last_tags = j->last_tags,
			.last_duration = j->last_duration,
			.next_time = run->active ? 0 : j->next_time,
			.next_tags = run->active ? "" : j->next_tags,
			.manual_tags = j->manual_tags,
			.host = j->host < st->nhosts ? st->hosts[j->host] : "",
			.schedule = j->sched->name,
			.backoff = job_backoff(j),
			.failures = j->fails,
			.last_error = j->last_error,
			.running = run->active,
			.run = {run->id, (unsigned)run->attempt, run->tags, run->dispatched,
				run->deadline},
			.expiring = j->run[CO_RUN_EXPIRE].active,
			.has_scrub = true,
			.scrub = {j->scrub.next, j->scrub.last, j->scrub.last_ok, j->scrub.checked,
				  j->scrub.checked_total, j->scrub.found_total, j->scrub.fails,
				  j->scrub.fails_total, j->scrub.bad ? j->scrub.bad : "",
				  j->run[CO_RUN_VERIFY].active},
		};
		if (run->active) {
			const struct bk_msg_progress *p = co_progress(st, co_run_host(st, run), j->name);

			if (p) {
				v->run.phase = p->phase;
				v->run.done = p->done;
				v->run.total = p->total;
			}
		}
	}
	workers_view(st, doc.workers);
	doc.nworkers = st->nworkers;
	doc.coordinator = (struct bk_status_coordinator){
		.role = role,
		.now = now,
		.jobs = st->n,
		.in_flight = inflight,
		.sla_overdue = overdue_n,
		.version = BACKY_VERSION,
	};
	if (bk_status_encode(&doc, out, &err) < 0)
		encode_failed(out);
	/* the strings were borrowed: free only the arrays */
	free(doc.jobs);
	free(doc.workers);
}

void co_workers_json(const struct co_state *st, struct bk_buf *out)
{
	struct bk_status_worker *w = bk_calloc(st->nworkers + 1, sizeof(*w));
	struct bk_err err = {0};

	workers_view(st, w);
	if (bk_workers_encode(w, st->nworkers, out, &err) < 0)
		encode_failed(out);
	free(w);
}

/* The per-job families of /metrics: one HELP/TYPE block each, a line per live job. */
enum job_metric { JM_OVERDUE, JM_FAILURES, JM_LAST_SUCCESS, JM_LAST_DURATION, JM_LAST_BYTES, JM_N };

static const char *const job_metric_text[JM_N][2] = {
	{"backy_job_sla_overdue_seconds", "Seconds past the SLA (0 within it)."},
	{"backy_job_failures", "Backups failed in a row (0 after a good one)."},
	{"backy_job_last_success_timestamp_seconds",
	 "Unix time of the newest good backup (absent before the first)."},
	{"backy_job_last_duration_seconds", "How long the newest good backup took."},
	{"backy_job_last_bytes_written", "Bytes the newest good backup wrote (0: nothing changed, or not reported)."},
};

static void job_metrics(const struct co_state *st, int64_t now, struct bk_buf *out)
{
	for (int k = 0; k < JM_N; k++) {
		bk_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", job_metric_text[k][0],
			    job_metric_text[k][1], job_metric_text[k][0]);
		for (size_t i = 0; i < st->n; i++) {
			const struct co_job *j = &st->jobs[i];
			int64_t overdue = 0;

			if (!j->live || (k > JM_FAILURES && !j->last_time))
				continue;
			bk_buf_addf(out, "%s{job=\"%s\",host=\"%s\"} ", job_metric_text[k][0], j->name,
				    j->host < st->nhosts ? st->hosts[j->host] : "");
			if (k == JM_OVERDUE) {
				co_job_sla(j, now, &overdue);
				bk_buf_addf(out, "%" PRId64 "\n", overdue);
			} else if (k == JM_FAILURES) {
				bk_buf_addf(out, "%" PRIu32 "\n", j->fails);
			} else if (k == JM_LAST_SUCCESS) {
				bk_buf_addf(out, "%.3f\n", (double)j->last_time / BK_USEC);
			} else if (k == JM_LAST_DURATION) {
				bk_buf_addf(out, "%.3f\n", j->last_duration);
			} else {
				bk_buf_addf(out, "%" PRId64 "\n", j->last_bytes);
			}
		}
	}
}

/* The per-worker families, from the last heartbeat of each. */
static void worker_metrics(const struct co_state *st, struct bk_buf *out)
{
	static const char *const text[][2] = {
		{"backy_worker_busy_slots", "Slots in use per worker (last heartbeat)."},
		{"backy_worker_slots", "Jobs a worker runs at once (last heartbeat)."},
		{"backy_worker_running_jobs", "Jobs running on a worker (last heartbeat)."},
		{"backy_worker_free_bytes", "Free space of a worker's backup file system (last heartbeat)."},
		{"backy_worker_heartbeat_age_seconds", "Seconds since the last heartbeat."},
	};

	if (!st->nworkers)
		return;
	for (size_t k = 0; k < sizeof(text) / sizeof(text[0]); k++) {
		bk_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", text[k][0], text[k][1], text[k][0]);
		for (size_t i = 0; i < st->nworkers; i++) {
			const struct co_worker *w = &st->workers[i];
			uint64_t v;

			switch (k) {
			case 0: v = w->busy; break;
			case 1: v = w->slots; break;
			case 2: v = w->nrunning; break;
			case 3: v = w->free_bytes; break;
			default: v = (uint64_t)((bk_monotonic() - w->seen_mono) / BK_USEC); break;
			}
			bk_buf_addf(out, "%s{host=\"%s\"} %" PRIu64 "\n", text[k][0], w->host, v);
		}
	}
}

/* The scrub of job J (scrub.h) as metric lines, appended to OUT (HELP and TYPE first). */
static void scrub_metrics(const struct co_job *j, struct bk_buf *out)
{
	static const char head[] =
		"# HELP backy_scrub_last_timestamp_seconds The last verify that checked what it asked for (0: never).\n"
		"# TYPE backy_scrub_last_timestamp_seconds gauge\n"
		"# HELP backy_scrub_revisions_checked_total Revisions re-read by verify jobs.\n"
		"# TYPE backy_scrub_revisions_checked_total counter\n"
		"# HELP backy_scrub_revisions_found_distrusted_total Revisions verify jobs found damaged.\n"
		"# TYPE backy_scrub_revisions_found_distrusted_total counter\n"
		"# HELP backy_scrub_distrusted_revisions Distrusted revisions of the repository at the last verify.\n"
		"# TYPE backy_scrub_distrusted_revisions gauge\n"
		"# HELP backy_scrub_failures_total Verify jobs that failed (findings are not failures).\n"
		"# TYPE backy_scrub_failures_total counter\n";
	const char *n = j->name;

	if (!out->len)
		bk_buf_adds(out, head);
	bk_buf_addf(out, "backy_scrub_last_timestamp_seconds{job=\"%s\"} %" PRId64 "\n", n,
		    (int64_t)(j->scrub.last_ok / BK_USEC));
	bk_buf_addf(out, "backy_scrub_revisions_checked_total{job=\"%s\"} %" PRIu32 "\n", n,
		    j->scrub.checked_total);
	bk_buf_addf(out, "backy_scrub_revisions_found_distrusted_total{job=\"%s\"} %" PRIu32 "\n",
		    n, j->scrub.found_total);
	bk_buf_addf(out, "backy_scrub_distrusted_revisions{job=\"%s\"} %zu\n", n,
		    co_scrub_bad_count(&j->scrub));
	bk_buf_addf(out, "backy_scrub_failures_total{job=\"%s\"} %" PRIu32 "\n", n,
		    j->scrub.fails_total);
}

void co_metrics(const struct co_state *st, int64_t now, bool active, struct bk_buf *out)
{
	size_t inflight[CO_RUN_KINDS] = {0}, failing = 0, overdue_n = 0, live = 0;
	struct bk_buf scrub;

	bk_buf_init(&scrub);
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
		scrub_metrics(j, &scrub);
	}
	bk_buf_addf(out,
		    "# HELP backy_build_info The running coordinator's version.\n"
		    "# TYPE backy_build_info gauge\nbacky_build_info{version=\"%s\"} 1\n"
		    "# HELP backy_coordinator_active 1 when this coordinator dispatches, 0 on standby.\n"
		    "# TYPE backy_coordinator_active gauge\nbacky_coordinator_active %d\n"
		    "# HELP backy_coordinator_jobs Configured jobs.\n"
		    "# TYPE backy_coordinator_jobs gauge\nbacky_coordinator_jobs %zu\n"
		    "# HELP backy_coordinator_jobs_in_flight Jobs dispatched and not answered yet.\n"
		    "# TYPE backy_coordinator_jobs_in_flight gauge\n"
		    "backy_coordinator_jobs_in_flight{action=\"backup\"} %zu\n"
		    "backy_coordinator_jobs_in_flight{action=\"expire\"} %zu\n"
		    "backy_coordinator_jobs_in_flight{action=\"verify\"} %zu\n"
		    "# HELP backy_coordinator_jobs_failing Jobs whose last backup failed (in backoff).\n"
		    "# TYPE backy_coordinator_jobs_failing gauge\nbacky_coordinator_jobs_failing %zu\n"
		    "# HELP backy_coordinator_sla_overdue_jobs Jobs outside their SLA.\n"
		    "# TYPE backy_coordinator_sla_overdue_jobs gauge\nbacky_coordinator_sla_overdue_jobs %zu\n"
		    "# HELP backy_coordinator_dispatched_total Jobs dispatched (first attempts).\n"
		    "# TYPE backy_coordinator_dispatched_total counter\n"
		    "backy_coordinator_dispatched_total{action=\"backup\"} %" PRIu64 "\n"
		    "backy_coordinator_dispatched_total{action=\"expire\"} %" PRIu64 "\n"
		    "backy_coordinator_dispatched_total{action=\"verify\"} %" PRIu64 "\n"
		    "# HELP backy_coordinator_scrubs_deferred_total Verify jobs put off to keep out of a backup's way.\n"
		    "# TYPE backy_coordinator_scrubs_deferred_total counter\nbacky_coordinator_scrubs_deferred_total %" PRIu64 "\n"
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
		    BACKY_VERSION, active ? 1 : 0, live, inflight[0], inflight[1], inflight[2], failing,
		    overdue_n, st->c.dispatched[0], st->c.dispatched[1], st->c.dispatched[2],
		    st->c.scrubs_deferred, st->c.redispatched, st->c.published,
		    st->c.publish_errors, st->c.results_ok, st->c.results_failed,
		    st->c.results_ignored, st->c.manual_requests, st->c.saves,
		    st->c.journal_commits, st->c.reloads,
		    st->c.reload_errors, st->nworkers);
	worker_metrics(st, out);
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
	job_metrics(st, now, out);
	bk_buf_add(out, scrub.p, scrub.len);
	bk_buf_release(&scrub);
}
