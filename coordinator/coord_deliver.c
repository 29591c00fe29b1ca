/*
 * coord_deliver.c: what the active coordinator does with a delivery from
 * its queues (design notes 3 and 7 of coordinator.c): results, operator
 * requests and heartbeats.
 *
 * Each is decoded, checked against the state (state.h: the broker is not
 * trusted, so a result counts only from the host and with the routing key
 * of its run) and applied under co->lock.  Results and requests are
 * acknowledged only once the state that reflects them is durable (the
 * main loop's save_and_ack); heartbeats and messages that are dropped are
 * acknowledged at once.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "log.h"
#include "proto.h"
#include "state.h"
#include "topology.h"

/* Acknowledge TAG once the state is durable (save_and_ack in coordinator.c). */
static void defer_ack(struct coord *co, uint64_t tag)
{
	if (co->nacks == co->acks_cap) {
		co->acks_cap = co->acks_cap ? 2 * co->acks_cap : 256;
		co->acks = bk_realloc(co->acks, co->acks_cap * sizeof(*co->acks));
	}
	co->acks[co->nacks++] = tag;
}

static void handle_result(struct coord *co, const struct bk_msg_result *r, const char *key,
			  const void *body, size_t len)
{
	static const char *const why[CO_RESULT_DROPS] = {
		"no such job id in flight",
		"the job is in flight on another host",
		"its routing key does not match its body",
		"the worker got an earlier attempt after its deadline",
	};
	enum co_result res;
	uint32_t id = 0;

	res = co_result(&co->st, r, key, co->now, &id);
	if (res < CO_RESULT_DROPS) {
		bk_warn("dropping %s result for job '%s' (%s) from '%s' (routing key '%s'): %s",
			bk_msg_outcome_name(r->outcome), r->job[0] ? r->job : "-",
			r->job_id[0] ? r->job_id : "-", r->host, key, why[res]);
		return;
	}
	if (r->outcome == BK_OUTCOME_OK)
		bk_info("%s of '%s' (%s) on '%s' succeeded%s%s", bk_msg_action_name(r->action), r->job,
			r->job_id, r->host, r->revision[0] ? ": revision " : "", r->revision);
	else if (r->action == BK_ACTION_VERIFY)
		bk_warn("verify of '%s' (%s) on '%s' %s: %s: %s", r->job, r->job_id, r->host,
			bk_msg_outcome_name(r->outcome), r->error_code,
			r->error_message ? r->error_message : "");
	else
		bk_warn("%s of '%s' (%s) on '%s' %s: %s: %s (retry in %" PRId64 " s)",
			bk_msg_action_name(r->action), r->job, r->job_id, r->host,
			bk_msg_outcome_name(r->outcome), r->error_code,
			r->error_message ? r->error_message : "",
			r->action == BK_ACTION_BACKUP ? co_backoff(co->st.jobs[id].fails) : 0);
	coord_compat_result(co, r, body, len);
	if (res == CO_RESULT_EXPIRE) {
		if (co_start(&co->st, id, CO_RUN_EXPIRE, co->now, NULL) == 0)
			coord_outbox_add(co, id, CO_RUN_EXPIRE);
		else
			bk_info("expiry of '%s' already in flight", r->job);
	}
}

/* Refuse REPLY with CODE and the message of ERR (R its code). */
static void refuse(struct bk_msg_reply *reply, int r, const struct bk_err *err)
{
	reply->accepted = false;
	snprintf(reply->error_code, sizeof(reply->error_code), "%s", bk_error_name(r));
	reply->message = bk_strdup(bk_err_msg(err, r));
}

/*
 * Do what request Q asks and say so in REPLY (initialised, filled): *WAIT
 * when the job id of a run is known only after the next dispatch pass.
 */
static void handle_request(struct coord *co, const struct bk_msg_request *q,
			   struct bk_msg_reply *reply, bool *wait)
{
	const char *user = q->user[0] ? q->user : "-";
	struct bk_err err = {0};
	struct co_job *j;
	int r;

	snprintf(reply->request_id, sizeof(reply->request_id), "%s", q->head.id);
	reply->action = q->action;
	snprintf(reply->job, sizeof(reply->job), "%s", q->job);
	reply->accepted = true;
	if (co_request_seen(&co->st, q->head.id)) {
		bk_info("request %s was handled already: ignoring its redelivery", q->head.id);
		reply->message = bk_strdup("handled before (a redelivery)");
		return;
	}
	j = q->job[0] ? co_job_find(&co->st, q->job) : NULL;
	switch (q->action) {
	case BK_REQUEST_RUN:
		r = co_request_run(&co->st, q->job, &q->tags, co->now, &err);
		if (r < 0) {
			bk_warn("run request from '%s' refused: %s", user, bk_err_msg(&err, r));
			refuse(reply, r, &err);
		} else if (j->run[CO_RUN_BACKUP].active) {
			char text[BK_ID_MAX + 96];

			bk_notice("manual backup of '%s' requested by '%s' (after the one in flight)",
				  q->job, user);
			snprintf(text, sizeof(text), "queued: runs after the backup in flight (job id %s)",
				 j->run[CO_RUN_BACKUP].id);
			reply->message = bk_strdup(text);
		} else {
			bk_notice("manual backup of '%s' requested by '%s'", q->job, user);
			*wait = true;
		}
		break;
	case BK_REQUEST_EXPIRE:
		if (!j || !j->live) {
			r = bk_err_set(&err, BK_EUSAGE, "unknown job '%s'", q->job);
			bk_warn("expire request from '%s' refused: %s", user, err.msg);
			refuse(reply, r, &err);
			break;
		}
		if (co_start(&co->st, (uint32_t)(j - co->st.jobs), CO_RUN_EXPIRE, co->now, NULL) == 0) {
			coord_outbox_add(co, (uint32_t)(j - co->st.jobs), CO_RUN_EXPIRE);
			bk_notice("expiry of '%s' requested by '%s'", q->job, user);
		} else {
			bk_info("expiry of '%s' already in flight", q->job);
			reply->message = bk_strdup("an expiry was in flight already");
		}
		snprintf(reply->job_id, sizeof(reply->job_id), "%s", j->run[CO_RUN_EXPIRE].id);
		break;
	case BK_REQUEST_VERIFY:
		r = co_request_verify(&co->st, q->job, co->now, &err);
		if (r < 0) {
			bk_warn("verify request from '%s' refused: %s", user, bk_err_msg(&err, r));
			refuse(reply, r, &err);
		} else {
			bk_notice("verify of '%s' requested by '%s'", q->job, user);
			reply->message = bk_strdup("verify of every revision at the next tick");
		}
		break;
	default:
		bk_info("status request from '%s': status is served over HTTP (GET /v1/status)", user);
		reply->message = bk_strdup("status is served over HTTP: GET /v1/status");
		break;
	}
}

/* Heartbeats come every few seconds: a dropped one is logged at most once a minute. */
static void handle_heartbeat(struct coord *co, const struct bk_msg_heartbeat *hb, const char *key)
{
	enum co_hb res;
	int64_t t = bk_monotonic();

	coord_compat_heartbeat(co, hb);
	res = co_heartbeat(&co->st, hb, key, co->now);

	if (res == CO_HB_OK)
		return;
	if (co->hb_warned && t - co->hb_warned < 60 * BK_USEC) {
		bk_debug("dropping a heartbeat of '%s' (routing key '%s')", hb->host, key);
		return;
	}
	co->hb_warned = t;
	bk_warn("dropping a heartbeat of '%s' (routing key '%s'): %s (counted in "
		"backy_coordinator_heartbeats_dropped_total; further drops within a minute are "
		"not logged)",
		hb->host, key,
		res == CO_HB_UNKNOWN_HOST ? "the configuration names no such host"
					  : "its routing key is not its host");
}

void coord_handle_delivery(struct coord *co, struct bk_mq_delivery *d)
{
	struct bk_msg msg;
	struct bk_err err = {0};
	bool defer = false;
	int r;

	r = bk_msg_decode(d->body, d->len, &msg, &err);
	if (r < 0) {
		bk_warn("dropping undecodable message from queue '%s': %s", d->queue,
			bk_err_msg(&err, r));
		bk_mq_reject(co->mq, d->tag, false, NULL);
		return;
	}
	pthread_mutex_lock(&co->lock);
	if (msg.kind == BK_MSG_RESULT && strcmp(d->queue, BK_Q_RESULTS) == 0) {
		handle_result(co, &msg.u.result, d->routing_key, d->body, d->len);
		defer = true;
	} else if (msg.kind == BK_MSG_REQUEST && strcmp(d->queue, BK_Q_REQUESTS) == 0) {
		struct bk_msg_reply reply;
		bool wait = false;

		bk_msg_reply_init(&reply);
		handle_request(co, &msg.u.request, &reply, &wait);
		if (d->reply_to[0])
			coord_reply_add(co, d, &msg.u.request, &reply, wait);
		bk_msg_reply_release(&reply);
		defer = true;
	} else if (msg.kind == BK_MSG_HEARTBEAT && strcmp(d->queue, BK_Q_HEARTBEATS) == 0) {
		handle_heartbeat(co, &msg.u.heartbeat, d->routing_key);
	} else {
		bk_warn("ignoring a %s message on queue '%s'", bk_msg_kind_name(msg.kind), d->queue);
	}
	pthread_mutex_unlock(&co->lock);
	bk_msg_release(&msg);
	if (defer)
		defer_ack(co, d->tag);
	else
		bk_mq_ack(co->mq, d->tag, NULL);
}
