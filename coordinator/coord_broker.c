/*
 * coord_broker.c: the coordinator's side of the broker (design notes 3
 * and 5 of coordinator.c): connecting with backoff, holding the broker
 * lock, declaring and consuming, and publishing the outbox with confirms.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord.h"
#include "log.h"
#include "proto.h"
#include "topology.h"

static void on_retry(void *arg, const struct bk_err *err, unsigned attempt, unsigned delay_ms)
{
	struct coord *co = arg;

	bk_service_watchdog(&co->svc); /* the retries are the main loop while the broker is away */
	bk_service_status(&co->svc, "waiting for the broker");
	bk_warn("broker connection attempt %u failed: %s (next in %u ms)", attempt, err->msg,
		delay_ms);
}

void coord_outbox_add(struct coord *co, uint32_t job, enum co_run_kind kind)
{
	if (co->nout == co->out_cap) {
		co->out_cap = co->out_cap ? 2 * co->out_cap : 256;
		co->out = bk_realloc(co->out, co->out_cap * sizeof(*co->out));
	}
	co->out[co->nout].job = job;
	co->out[co->nout].kind = (uint8_t)kind;
	co->nout++;
}

/* Queue every run in flight whose publish was not confirmed (after a restart or reconnect). */
static void republish_unconfirmed(struct coord *co)
{
	for (size_t i = 0; i < co->st.n; i++)
		for (int k = 0; k < CO_RUN_KINDS; k++)
			if (co->st.jobs[i].live && co->st.jobs[i].run[k].active &&
			    !co->st.jobs[i].run[k].confirmed) {
				coord_outbox_add(co, (uint32_t)i, (enum co_run_kind)k);
				co->st.c.republished++;
			}
}

int coord_declare_hosts(struct coord *co, struct bk_err *err)
{
	int r = bk_mq_declare(co->mq, NULL, err);

	for (size_t i = 0; r == 0 && i < co->st.nhosts; i++)
		r = bk_mq_declare(co->mq, co->st.hosts[i], err);
	return r;
}

/*
 * A set-up step on a fresh connection failed (or the broker refused it):
 * drop the connection; the next connect backs off (mq_lead), whatever the
 * code, since a broker that refuses a declare or a consume (403, 541 ...)
 * may be fixed by its operator without restarting us.
 */
static int mq_setup_failed(struct coord *co)
{
	bk_mq_close(co->mq);
	co->mq = NULL;
	co->leader = false;
	co->nacks = 0;
	return BK_EMQ;
}

/*
 * Be connected and hold the broker lock: connect (with backoff) unless the
 * connection is usable, then declare LEADER_QUEUE exclusive unless this
 * connection holds it already.  BK_ELOCKED: another coordinator holds it;
 * the connection stays open (it has no consumers) for the next try.
 *
 * A connection that did not last MQ_HEALTHY_US (its set-up failed, or the
 * broker dropped it right away) counts as a failed connect: the next one
 * waits the reconnect backoff of bk_mq_connect_retry, which continues the
 * same sequence; a connection that lasted resets it.
 */
int coord_mq_lead(struct coord *co)
{
	struct bk_mq_config mc;
	struct bk_err err = {0};
	int r;

	if (co->mq && bk_mq_usable(co->mq) && co->leader)
		return 0;
	if (!co->mq || !bk_mq_usable(co->mq)) {
		bk_mq_close(co->mq);
		co->mq = NULL;
		co->leader = false;
		co->nacks = 0; /* unacknowledged deliveries come back */
		if (co->mq_since && bk_monotonic() - co->mq_since < MQ_HEALTHY_US) {
			unsigned ms = bk_mq_backoff_next(&co->backoff);

			bk_warn("broker connection lasted %.1f s: reconnecting in %u ms",
				(double)(bk_monotonic() - co->mq_since) / 1e6, ms);
			bk_mq_backoff_sleep(ms, &g_stop_int);
		} else {
			bk_mq_backoff_reset(&co->backoff);
		}
		co->mq_since = 0;
		memset(&mc, 0, sizeof(mc));
		mc.url = co->cfg->amqp_url;
		mc.heartbeat_s = co->cfg->amqp_heartbeat;
		mc.ca_cert = co->cfg->amqp_ca_cert;
		mc.tls_verify = co->cfg->amqp_tls_verify;
		mc.name = "backy-coordinator";
		mc.on_retry = on_retry;
		mc.on_retry_arg = co;
		mc.backoff = &co->backoff;
		r = bk_mq_connect_retry(&co->mq, &mc, &g_stop_int, &err);
		if (r < 0) {
			if (!g_stop)
				bk_error("%s", bk_err_msg(&err, r));
			return r;
		}
		co->mq_since = bk_monotonic();
	}
	r = bk_mq_declare_exclusive(co->mq, LEADER_QUEUE, &err);
	if (r == 0) {
		co->leader = true;
		bk_info("holding the broker lock '%s'", LEADER_QUEUE);
	} else if (r != BK_ELOCKED) {
		if (!g_stop)
			bk_error("taking the broker lock failed: %s", bk_err_msg(&err, r));
		return mq_setup_failed(co);
	}
	return r;
}

/* Lead (mq_lead), declare the topology, consume, queue unconfirmed runs for publishing. */
int coord_mq_up(struct coord *co)
{
	struct bk_err err = {0};
	int r;

	r = coord_mq_lead(co);
	if (r < 0)
		return r;
	r = coord_declare_hosts(co, &err);
	if (r == 0)
		r = bk_mq_consume(co->mq, BK_Q_RESULTS, 1000, &err);
	if (r == 0)
		r = bk_mq_consume(co->mq, BK_Q_REQUESTS, 100, &err);
	if (r == 0)
		r = bk_mq_consume(co->mq, BK_Q_HEARTBEATS, 100, &err);
	if (r < 0) {
		bk_error("broker set-up failed: %s", bk_err_msg(&err, r));
		return mq_setup_failed(co);
	}
	bk_info("connected to the broker");
	pthread_mutex_lock(&co->lock);
	republish_unconfirmed(co);
	pthread_mutex_unlock(&co->lock);
	return 0;
}

int coord_flush(struct coord *co)
{
	struct bk_mq_msg *msgs = NULL;
	struct bk_buf *bodies = NULL;
	char (*ids)[BK_ID_MAX + 1] = NULL;
	char (*keys)[BK_MSG_NAME_MAX + 1] = NULL;
	struct bk_msg_job m;
	struct bk_err err = {0};
	size_t n = 0, nout;
	int r = 0;

	if (!co->nout)
		return 0;
	pthread_mutex_lock(&co->lock);
	nout = co->nout;
	r = coord_save_state(co, false); /* the runs are on disk before anything is published */
	if (r < 0) {
		pthread_mutex_unlock(&co->lock);
		return r;
	}
	msgs = bk_calloc(nout, sizeof(*msgs));
	bodies = bk_calloc(nout, sizeof(*bodies));
	ids = bk_calloc(nout, sizeof(*ids));
	keys = bk_calloc(nout, sizeof(*keys));
	bk_msg_job_init(&m);
	for (size_t i = 0; i < nout; i++) {
		const struct outbox_ent *o = &co->out[i];
		struct co_job *j = &co->st.jobs[o->job];

		if (!j->run[o->kind].active)
			continue;
		co_run_message(&co->st, o->job, (enum co_run_kind)o->kind, co->now, &m);
		bk_buf_init(&bodies[n]);
		bk_err_clear(&err);
		if (bk_msg_encode_job(&m, &bodies[n], &err) < 0) {
			bk_error("job '%s' cannot be encoded: %s", j->name, err.msg);
			bk_buf_release(&bodies[n]);
			continue;
		}
		snprintf(ids[n], sizeof(ids[n]), "%s", m.head.id);
		snprintf(keys[n], sizeof(keys[n]), "%s", m.host);
		msgs[n].exchange = BK_EX_JOBS;
		msgs[n].key = keys[n];
		msgs[n].body = bodies[n].p;
		msgs[n].len = bodies[n].len;
		msgs[n].message_id = ids[n];
		co->out[n] = *o; /* compact: out[i] for msgs[i] */
		n++;
	}
	bk_msg_job_release(&m);
	pthread_mutex_unlock(&co->lock);

	bk_err_clear(&err);
	r = n ? bk_mq_publish_batch(co->mq, msgs, n, &err) : 0;
	if (r < 0)
		bk_error("publishing jobs failed: %s", bk_err_msg(&err, r));

	pthread_mutex_lock(&co->lock);
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].result == 0)
			co_confirmed(&co->st, co->out[i].job, (enum co_run_kind)co->out[i].kind);
		else
			co->st.c.publish_errors++;
	}
	/* Unconfirmed runs stay in flight: republished after a reconnect or at their deadline. */
	co->nout = 0;
	pthread_mutex_unlock(&co->lock);
	for (size_t i = 0; i < n; i++)
		bk_buf_release(&bodies[i]);
	free(msgs);
	free(bodies);
	free(ids);
	free(keys);
	return r == BK_EMQ || (co->mq && !bk_mq_usable(co->mq)) ? BK_EMQ : 0;
}

