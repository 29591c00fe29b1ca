/*
 * deliveries.c: backy-worker's handling of what arrives on its job queue,
 * from decoding a delivery to queuing its job as pending or answering it.
 * The main loop (fleet_worker.c) hands every delivery here and starts the
 * pending jobs; what the two files share is in worker_priv.h.
 *
 * Design notes
 *
 * 1. A delivery's way, checked in this order (ack late: the job is
 *    acknowledged only once answered, fleet_worker.c, note 3):
 *
 *      delivery -- stopping -------------------------> reject with requeue
 *        | over BK_MSG_MAX_BODY, not decodable, not a
 *        | job, or a job for another host -----------> rejected result, reject (DLX)
 *        | job id in the journal with other content -> refused: rejected result
 *        |                                             without the job id, reject (DLX)
 *        | journal done: redelivered and published --> ack only
 *        |               otherwise ------------------> republish the record, ack
 *        | same job id here with other content ------> refused, as above
 *        | same job id pending or running here ------> remember the delivery tag
 *        | same repository running ------------------> skipped result, ack
 *        | source refused by this host's policy -----> rejected result, reject (DLX)
 *        v
 *      pending (jobs.h) -> started when a slot frees (fleet_worker.c)
 *
 *    A body over the adapter's own limit never arrives as a delivery: the
 *    adapter dead-letters it and bk_mq_wait returns BK_EPROTO, which the
 *    main loop answers here all the same (a rejected result, no tag).
 *
 * 2. The digest check comes before the journal's answer: a forged or
 *    changed job is never answered with the record of another one
 *    (fleet_policy.h, note 4).  Its rejected result leaves the job id out
 *    (a rejected result may), so the coordinator does not take it for the
 *    answer to the genuine job of that id, which may be in flight.
 *
 * 3. The rejected and skipped results made up here are not journalled:
 *    nothing ran and nothing was created (the policy check reads nothing;
 *    the repository's own source is checked again when the job starts,
 *    fleet_repo.h), and the delivery is settled with the answer, so there
 *    is nothing to recover after a crash.
 */
#include "worker_priv.h"

#include "child.h"
#include "clock.h"
#include "fleet_policy.h"
#include "log.h"
#include "results.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Publish a result that is not journalled (rejected, skipped before a run). */
static void publish_result(struct worker *w, const struct bk_msg_result *res)
{
	struct bk_err err = {0};

	if (bk_results_publish_new(w->mq, res, &err) == BK_EMQ)
		worker_broker_lost(w, &err);
}

/* Publish the recorded result of journal entry E and mark it published: 0 or BK_EMQ. */
static int publish_entry(struct worker *w, struct bk_journal_entry *e)
{
	struct bk_err err = {0};
	int r = bk_results_publish_entry(w->mq, &w->journal, e, &err);

	if (r == BK_EMQ)
		worker_broker_lost(w, &err);
	return r;
}

void worker_answer_unjournalled(struct worker *w, const struct bk_msg_job *job, uint64_t tag,
				enum bk_msg_outcome outcome, const char *code, const char *msg,
				bool transient)
{
	struct bk_msg_result res;

	bk_child_result_init(&res, w->cfg.host, job, outcome);
	bk_msg_result_set_error(&res, code, msg, transient);
	publish_result(w, &res);
	bk_notice("job '%s' (id %s) %s: %s", job->job, job->job_id, bk_msg_outcome_name(outcome),
		  msg);
	bk_msg_result_release(&res);
	if (w->mq)
		worker_ack_tag(w, tag, outcome == BK_OUTCOME_REJECTED, false);
}

void worker_reject_invalid(struct worker *w, const struct bk_mq_delivery *d, int code,
			   const char *msg)
{
	struct bk_msg_peek pk;
	struct bk_msg_result res;

	memset(&pk, 0, sizeof(pk));
	if (d->body)
		bk_msg_peek(d->body, d->len, &pk);
	bk_msg_result_init(&res);
	bk_msg_head_new(&res.head);
	snprintf(res.host, sizeof(res.host), "%s", w->cfg.host);
	snprintf(res.job_id, sizeof(res.job_id), "%s", pk.job_id);
	snprintf(res.job, sizeof(res.job), "%s", pk.job);
	res.action = pk.action;
	res.outcome = BK_OUTCOME_REJECTED;
	res.started = bk_now();
	res.finished = res.started;
	bk_msg_result_set_error(&res, bk_error_name(code), msg, false);
	bk_warn("rejected a message (%zu bytes, id '%.64s', job '%s'): %s", d->len, pk.id, pk.job,
		msg);
	publish_result(w, &res);
	bk_msg_result_release(&res);
	if (d->tag)
		worker_ack_tag(w, d->tag, true, false);
}

/*
 * Answer a delivery whose job id was seen here with other content: rejected
 * and dead-lettered (takes over J).  The result leaves the job id out (a
 * rejected result may), so the coordinator does not take it for the answer
 * to the genuine job of that id, which may be in flight.
 */
static void refuse_changed_job(struct worker *w, struct bk_job *j, uint64_t tag)
{
	struct bk_msg_result res;
	char msg[300];

	snprintf(msg, sizeof(msg),
		 "job id '%s' was seen before with different content (job, host, action, tags, source or schedule): refusing to run or answer it",
		 j->msg.job_id);
	bk_child_result_init(&res, w->cfg.host, NULL, BK_OUTCOME_REJECTED);
	snprintf(res.job, sizeof(res.job), "%s", j->msg.job);
	res.action = j->msg.action;
	bk_msg_result_set_error(&res, bk_error_name(BK_EPROTO), msg, false);
	publish_result(w, &res);
	bk_warn("job '%s': %s", j->msg.job, msg);
	bk_msg_result_release(&res);
	if (w->mq)
		worker_ack_tag(w, tag, true, false);
	bk_job_free(j);
}

void worker_handle_delivery(struct worker *w, const struct bk_mq_delivery *d)
{
	struct bk_journal_entry e;
	struct bk_err err = {0};
	struct bk_job *j, *other;
	struct bk_msg m;
	char msg[400];
	int r;

	if (w->jobs.stopping) {
		worker_ack_tag(w, d->tag, true, true);
		return;
	}
	if (d->len > BK_MSG_MAX_BODY) {
		snprintf(msg, sizeof(msg), "message of %zu bytes exceeds the limit of %d bytes",
			 d->len, BK_MSG_MAX_BODY);
		worker_reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	r = bk_msg_decode(d->body, d->len, &m, &err);
	if (r < 0) {
		worker_reject_invalid(w, d, r, err.msg);
		return;
	}
	if (m.kind != BK_MSG_JOB) {
		snprintf(msg, sizeof(msg), "expected a job message, got a %s message",
			 bk_msg_kind_name(m.kind));
		bk_msg_release(&m);
		worker_reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	if (strcmp(m.u.job.host, w->cfg.host) != 0) {
		snprintf(msg, sizeof(msg), "job for host '%s' delivered to host '%s'", m.u.job.host,
			 w->cfg.host);
		bk_msg_release(&m);
		worker_reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	j = bk_job_new(&m.u.job, bk_monotonic()); /* takes over what m owns */

	r = bk_journal_get(&w->journal, j->msg.job_id, &e, &err);
	if (r == 0 && e.digest[0] && strcmp(e.digest, j->digest) != 0) {
		/* never answer a forged or changed job with the record of another one */
		bk_journal_entry_release(&e);
		refuse_changed_job(w, j, d->tag);
		return;
	}
	if (r == 0 && e.state == BK_JOURNAL_DONE) {
		if (d->redelivered && e.published) {
			/* our own unacknowledged delivery came back: the result is out already */
			worker_ack_tag(w, d->tag, false, false);
		} else if (publish_entry(w, &e) == 0) {
			bk_notice("job '%s' (id %s) finished before: answered from the journal",
				  j->msg.job, j->msg.job_id);
			worker_ack_tag(w, d->tag, false, false);
		}
		bk_journal_entry_release(&e);
		bk_job_free(j);
		return;
	}
	if (r == 0)
		bk_journal_entry_release(&e);
	else if (r != -ENOENT)
		bk_warn("%s", err.msg);

	switch (bk_jobs_classify(&w->jobs, j, &other)) {
	case BK_JOBS_CHANGED:
		refuse_changed_job(w, j, d->tag);
		return;
	case BK_JOBS_REDELIVERED:
		/* a redelivery (broker loss, consumer_timeout) of a job running here */
		bk_jobs_attach(&w->jobs, other, d->tag);
		bk_info("job '%s' (id %s) redelivered while running: not starting it again",
			j->msg.job, j->msg.job_id);
		bk_job_free(j);
		return;
	case BK_JOBS_BUSY:
		snprintf(msg, sizeof(msg), "job '%s' is already running on host '%s' (id %s)",
			 j->msg.job, w->cfg.host, other->msg.job_id);
		worker_answer_unjournalled(w, &j->msg, d->tag, BK_OUTCOME_SKIPPED,
					   bk_error_name(BK_ELOCKED), msg, true);
		bk_job_free(j);
		return;
	default:
		break;
	}
	bk_err_clear(&err);
	if (bk_fleet_policy_check(&w->cfg.policy, &j->msg.source, &err) < 0) {
		/* nothing is read or created (the repository's own source is checked at start) */
		worker_answer_unjournalled(w, &j->msg, d->tag, BK_OUTCOME_REJECTED,
					   bk_error_name(BK_EDENIED), err.msg, false);
		bk_job_free(j);
		return;
	}
	bk_jobs_enqueue(&w->jobs, j, d->tag);
	worker_start_pending(w);
}
