/*
 * coord_reply.c: replies to operator requests that name a reply_to
 * (docs/messages.md, "reply").
 *
 * A reply says what the coordinator made of a request: accepted (with the
 * job id of the run it started, so the requester can follow it on the
 * result stream) or refused with an error.  It is sent only once the state
 * it speaks of is durable, and for a run only after the dispatch pass that
 * started it.  Replies go to the default exchange with the reply_to as
 * routing key, never into backy's own queues, and are best effort: the
 * request is handled whether or not its reply arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "log.h"

void coord_reply_add(struct coord *co, const struct bk_mq_delivery *d,
		     const struct bk_msg_request *q, struct bk_msg_reply *reply, bool wait)
{
	struct pending_reply *p;

	if (strncmp(d->reply_to, "backy.", 6) == 0) {
		bk_warn("request %s asks for a reply into backy's own queue '%.64s': not replying",
			q->head.id, d->reply_to);
		bk_msg_reply_release(reply);
		return;
	}
	if (co->nreplies == co->replies_cap) {
		co->replies_cap = co->replies_cap ? 2 * co->replies_cap : 16;
		co->replies = bk_realloc(co->replies, co->replies_cap * sizeof(*co->replies));
	}
	p = &co->replies[co->nreplies++];
	memset(p, 0, sizeof(*p));
	p->reply_to = bk_strdup(d->reply_to);
	p->correlation_id = bk_strdup(d->correlation_id[0] ? d->correlation_id : q->head.id);
	p->msg = *reply;
	bk_msg_reply_init(reply);
	p->gen = co->gen;
	p->waiting = wait;
	if (wait) {
		const struct co_job *j = co_job_find(&co->st, q->job);

		if (j && j->run[CO_RUN_BACKUP].active)
			snprintf(p->before, sizeof(p->before), "%s", j->run[CO_RUN_BACKUP].id);
	}
}

/* Whether P can be sent now; fills in the job id of a run that was dispatched. */
static bool resolve(struct coord *co, struct pending_reply *p)
{
	const struct co_job *j;
	const struct co_run *run;

	if (!p->waiting)
		return true;
	if (co->gen == p->gen)
		return false; /* no dispatch pass since the request */
	/* by name: a reload may have moved the job */
	j = co_job_find(&co->st, p->msg.job);
	run = j ? &j->run[CO_RUN_BACKUP] : NULL;
	free(p->msg.message);
	if (run && run->active && strcmp(run->id, p->before) != 0) {
		char text[BK_MSG_NAME_MAX + 64];

		snprintf(p->msg.job_id, sizeof(p->msg.job_id), "%s", run->id);
		snprintf(text, sizeof(text), "manual backup dispatched to '%s'",
			 co_run_host(&co->st, run));
		p->msg.message = bk_strdup(text);
	} else {
		p->msg.message = bk_strdup("manual backup queued: not dispatched yet (see "
					   "next_time in /v1/status)");
	}
	return true;
}

static void reply_free(struct pending_reply *p)
{
	free(p->reply_to);
	free(p->correlation_id);
	bk_msg_reply_release(&p->msg);
}

void coord_replies_flush(struct coord *co)
{
	struct pending_reply *sent;
	struct bk_mq_msg *msgs;
	struct bk_buf *bodies;
	struct bk_err err = {0};
	size_t n = 0, keep = 0;
	int r;

	if (!co->nreplies || !co->mq)
		return;
	pthread_mutex_lock(&co->lock);
	if (co->st.dirty && coord_save_state(co, false) < 0) {
		pthread_mutex_unlock(&co->lock);
		return; /* not durable: no reply yet */
	}
	sent = bk_calloc(co->nreplies, sizeof(*sent));
	msgs = bk_calloc(co->nreplies, sizeof(*msgs));
	bodies = bk_calloc(co->nreplies, sizeof(*bodies));
	for (size_t i = 0; i < co->nreplies; i++) {
		struct pending_reply *p = &co->replies[i];

		if (!resolve(co, p)) {
			co->replies[keep++] = *p;
			continue;
		}
		bk_msg_head_new(&p->msg.head);
		bk_buf_init(&bodies[n]);
		bk_err_clear(&err);
		if (bk_msg_encode_reply(&p->msg, &bodies[n], &err) < 0) {
			bk_error("reply to request %s cannot be encoded: %s", p->msg.request_id,
				 err.msg);
			bk_buf_release(&bodies[n]);
			reply_free(p);
			continue;
		}
		sent[n] = *p;
		msgs[n] = (struct bk_mq_msg){.exchange = "", .key = sent[n].reply_to,
					     .body = bodies[n].p, .len = bodies[n].len,
					     .message_id = sent[n].msg.head.id,
					     .correlation_id = sent[n].correlation_id,
					     .direct_reply = strncmp(sent[n].reply_to,
								     "amq.rabbitmq.reply-to.", 22) == 0};
		n++;
	}
	co->nreplies = keep;
	pthread_mutex_unlock(&co->lock);
	bk_err_clear(&err);
	r = n ? bk_mq_publish_batch(co->mq, msgs, n, &err) : 0;
	if (r < 0)
		bk_warn("replies to requests not delivered (the requests are handled): %s",
			bk_err_msg(&err, r));
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].result == 0)
			bk_info("replied to request %s: %s", sent[i].msg.request_id,
				sent[i].msg.accepted ? "accepted" : "refused");
		reply_free(&sent[i]);
		bk_buf_release(&bodies[i]);
	}
	free(sent);
	free(msgs);
	free(bodies);
}

void coord_replies_free(struct coord *co)
{
	for (size_t i = 0; i < co->nreplies; i++)
		reply_free(&co->replies[i]);
	free(co->replies);
	co->replies = NULL;
	co->nreplies = co->replies_cap = 0;
}
