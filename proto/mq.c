/*
 * mq.c: the RabbitMQ adapter (see mq.h), on rabbitmq-c 0.11: reading frames,
 * publishing and consuming.  Connections, backoff and the topology are in
 * mq_connect.c, the translation of errors in mq_error.c; what they share is
 * in mq_internal.h.
 *
 * Design notes
 *
 * 1. One frame dispatcher.  Everything that reads from the broker goes
 *    through mq_pump(), which reads one frame and handles it whatever it
 *    is: a delivery (read whole and queued on mq->pending for bk_mq_wait),
 *    a publisher confirm (basic.ack/nack, applied to the batch in flight),
 *    a basic.return (matched to the batch by message_id), a server
 *    basic.cancel, or a channel/connection close (answered with close-ok,
 *    translated, handle broken).  So a delivery arriving while we wait for
 *    confirms is not lost, and a confirm arriving while we wait for
 *    deliveries is not mistaken for an error.  Library RPCs (declare, qos,
 *    consume, cancel) queue unrelated frames inside rabbitmq-c; mq_pump
 *    gets those first (amqp_simple_wait_frame_noblock returns queued
 *    frames before reading the socket).
 *
 * 2. Confirms.  rabbitmq-c 0.11 has no amqp_publisher_confirm_wait.  After
 *    confirm.select the broker numbers our publishes 1, 2, 3 ... on the
 *    channel; mq->next_tag mirrors that count.  A batch remembers the tag
 *    of its first message and a state byte per message; acks with
 *    multiple=true resolve every message up to the tag.  At most
 *    MQ_WINDOW messages are unconfirmed at once, so acks cannot pile up in
 *    the socket buffers while we only write.
 *
 *    Publishes without waiting (bk_mq_publish_nowait) are remembered in
 *    mq->async, oldest first, with their tag, message_id and state; the
 *    same confirm and return handlers resolve them, and bk_mq_confirmed
 *    hands the results out as they come.  The confirm timeout is
 *    enforced by bk_mq_wait on the oldest unresolved one.
 *
 * 3. Broken handles.  After any failure that leaves the channel or
 *    connection in doubt, mq->broken is set with the message; later calls
 *    repeat it.  The caller reconnects.  No automatic channel reopening:
 *    consumers would silently disappear.
 *
 * 4. Heartbeats are sent and checked by rabbitmq-c inside its wait
 *    functions only, hence "call bk_mq_wait often" in mq.h.
 */
#include "mq_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "buf.h"
#include "clock.h"
#include "topology.h"

/* ---- small helpers --------------------------------------------------- */

static char *mq_strdup_bytes(amqp_bytes_t b)
{
	return bk_strndup(b.bytes ? b.bytes : "", b.len);
}

bool mq_shortstr_ok(const char *s)
{
	return s && strlen(s) <= MQ_SHORTSTR;
}

int64_t mq_deadline(int timeout_ms)
{
	return bk_monotonic() + (int64_t)timeout_ms * 1000;
}

/* Milliseconds left until DEADLINE (microseconds), at least 0. */
int mq_left_ms(int64_t deadline)
{
	int64_t left = deadline - bk_monotonic();

	if (left <= 0)
		return 0;
	return (int)((left + 999) / 1000);
}

static void mq_pending_push(struct bk_mq *mq, struct mq_pending *p)
{
	p->next = NULL;
	if (mq->tail)
		mq->tail->next = p;
	else
		mq->head = p;
	mq->tail = p;
}

struct mq_pending *mq_pending_pop(struct bk_mq *mq)
{
	struct mq_pending *p = mq->head;

	if (p) {
		mq->head = p->next;
		if (!mq->head)
			mq->tail = NULL;
	}
	return p;
}

void bk_mq_delivery_release(struct bk_mq_delivery *d)
{
	if (!d)
		return;
	free(d->queue);
	free(d->exchange);
	free(d->routing_key);
	free(d->message_id);
	free(d->reply_to);
	free(d->correlation_id);
	free(d->body);
	memset(d, 0, sizeof(*d));
}

int bk_topology_jobs_queue(const char *host, char *out, size_t size)
{
	size_t len;
	int n;

	if (!host)
		return BK_EUSAGE;
	len = strlen(host);
	if (len == 0 || len > BK_HOST_MAX)
		return BK_EUSAGE;
	for (const char *c = host; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
		if (!ok)
			return BK_EUSAGE;
	}
	n = snprintf(out, size, "%s%s", BK_Q_JOBS_PREFIX, host);
	if (n < 0 || (size_t)n >= size)
		return BK_EUSAGE;
	return 0;
}

/* ---- the frame dispatcher -------------------------------------------- */

static const char *mq_consumer_queue(struct bk_mq *mq, amqp_bytes_t tag)
{
	for (unsigned i = 0; i < mq->ncons; i++)
		if (strlen(mq->cons[i].tag) == tag.len && memcmp(mq->cons[i].tag, tag.bytes, tag.len) == 0)
			return mq->cons[i].queue;
	return "";
}

static int mq_on_deliver(struct bk_mq *mq, const amqp_frame_t *f, const char *what,
			 struct bk_err *err)
{
	const amqp_basic_deliver_t *m = f->payload.method.decoded;
	struct mq_pending *p = bk_calloc(1, sizeof(*p));
	amqp_message_t msg;
	amqp_rpc_reply_t r;

	/* Copy the method's fields first: reading the message reuses the frame pool. */
	p->d.tag = m->delivery_tag;
	p->d.redelivered = m->redelivered;
	p->d.exchange = mq_strdup_bytes(m->exchange);
	p->d.routing_key = mq_strdup_bytes(m->routing_key);
	p->d.queue = bk_strdup(mq_consumer_queue(mq, m->consumer_tag));

	memset(&msg, 0, sizeof(msg));
	r = amqp_read_message(mq->conn, f->channel, &msg, 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		bk_mq_delivery_release(&p->d);
		free(p);
		return mq_rpc(mq, err, r, what);
	}
	p->d.message_id = msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG
				  ? mq_strdup_bytes(msg.properties.message_id)
				  : bk_strdup("");
	p->d.reply_to = msg.properties._flags & AMQP_BASIC_REPLY_TO_FLAG
				? mq_strdup_bytes(msg.properties.reply_to)
				: bk_strdup("");
	p->d.correlation_id = msg.properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG
				      ? mq_strdup_bytes(msg.properties.correlation_id)
				      : bk_strdup("");

	if (msg.body.len > mq->max_body) {
		char text[512];

		snprintf(text, sizeof(text),
			 "rabbitmq: message '%s' from queue '%s' is too large (%zu bytes, limit %zu): "
			 "dead-lettered",
			 p->d.message_id, p->d.queue, msg.body.len, mq->max_body);
		p->code = BK_EPROTO;
		p->msg = bk_strdup(text);
		amqp_basic_reject(mq->conn, MQ_CHANNEL, p->d.tag, 0);
		bk_mq_delivery_release(&p->d);
	} else {
		p->d.len = msg.body.len;
		p->d.body = bk_malloc(msg.body.len + 1);
		if (msg.body.len)
			memcpy(p->d.body, msg.body.bytes, msg.body.len);
		((char *)p->d.body)[msg.body.len] = '\0';
	}
	amqp_destroy_message(&msg);
	mq_pending_push(mq, p);
	return 1;
}

static void mq_resolve(struct mq_batch *b, size_t i, bool nack)
{
	if (b->state[i] & MSG_RESOLVED)
		return;
	b->state[i] |= MSG_RESOLVED | (nack ? MSG_NACKED : 0);
	b->resolved++;
}

static void mq_on_confirm(struct bk_mq *mq, uint64_t tag, bool multiple, bool nack)
{
	struct mq_batch *b = mq->batch;
	size_t last;

	for (size_t i = 0; i < mq->nasync; i++) {
		struct mq_async *a = &mq->async[i];

		if (a->tag == tag || (multiple && (tag == 0 || a->tag < tag)))
			a->state |= MSG_RESOLVED | (nack && !(a->state & MSG_RESOLVED) ? MSG_NACKED : 0);
	}
	if (!b || b->sent == 0)
		return; /* stale confirm from a failed earlier batch */
	if (multiple && tag == 0)
		tag = b->base + b->sent - 1;
	if (tag < b->base || (!multiple && tag >= b->base + b->sent))
		return; /* not one of the batch (a publish without waiting) */
	last = (size_t)(tag - b->base);
	if (last >= b->sent)
		last = b->sent - 1;
	if (multiple) {
		for (size_t i = b->low; i <= last; i++)
			mq_resolve(b, i, nack);
	} else {
		mq_resolve(b, last, nack);
	}
	while (b->low < b->sent && (b->state[b->low] & MSG_RESOLVED))
		b->low++;
}

static int mq_on_return(struct bk_mq *mq, const amqp_frame_t *f, const char *what,
			struct bk_err *err)
{
	const amqp_basic_return_t *m = f->payload.method.decoded;
	struct mq_batch *b = mq->batch;
	amqp_message_t msg;
	amqp_rpc_reply_t r;
	char why[160];
	unsigned matched = 0;

	snprintf(why, sizeof(why), "%u %.*s", m->reply_code,
		 (int)(m->reply_text.len > 100 ? 100 : m->reply_text.len),
		 (const char *)m->reply_text.bytes);
	memset(&msg, 0, sizeof(msg));
	r = amqp_read_message(mq->conn, f->channel, &msg, 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		return mq_rpc(mq, err, r, what);
	if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
		amqp_bytes_t id = msg.properties.message_id;

		for (size_t i = 0; i < mq->nasync; i++) {
			const char *mid = mq->async[i].message_id;

			if (strlen(mid) == id.len && memcmp(mid, id.bytes, id.len) == 0)
				mq->async[i].state |= MSG_RETURNED;
		}
	}
	if (b && (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)) {
		amqp_bytes_t id = msg.properties.message_id;

		for (size_t i = 0; i < b->sent; i++) {
			const char *mid = b->msgs[i].message_id;
			if (strlen(mid) == id.len && memcmp(mid, id.bytes, id.len) == 0) {
				b->state[i] |= MSG_RETURNED;
				matched++;
			}
		}
		if (matched && !b->returned_why[0])
			snprintf(b->returned_why, sizeof(b->returned_why), "%s", why);
	}
	amqp_destroy_message(&msg);
	return 1;
}

static int mq_on_cancel(struct bk_mq *mq, const amqp_frame_t *f, struct bk_err *err)
{
	const amqp_basic_cancel_t *m = f->payload.method.decoded;
	char msg[1024];

	snprintf(msg, sizeof(msg), "rabbitmq: consumer of queue '%s' cancelled by broker '%s'",
		 mq_consumer_queue(mq, m->consumer_tag), mq->where);
	return mq_break(mq, err, BK_EMQ, msg);
}

/*
 * Read a frame like amqp_simple_wait_frame_noblock, but sleep in ppoll with
 * mq->wait_mask (a signal ends the wait: AMQP_STATUS_TIMEOUT).  The reads
 * around the sleep wait 1 us, not 0: only with a deadline in the future
 * does rabbitmq-c check the broker's heartbeat deadline (and it sends ours
 * when due).  The first read also empties what TLS buffered unseen by poll.
 */
static int mq_sleep_frame(struct bk_mq *mq, int timeout_ms, amqp_frame_t *f)
{
	struct timeval tick = {0, 1};
	int hb = amqp_get_heartbeat(mq->conn), st, ms = 1000;
	struct pollfd p = {.fd = amqp_get_sockfd(mq->conn), .events = POLLIN};
	struct timespec ts;

	st = amqp_simple_wait_frame_noblock(mq->conn, f, &tick);
	if (st != AMQP_STATUS_TIMEOUT)
		return st;
	if (hb > 0 && hb * 250 < ms)
		ms = hb * 250; /* rabbitmq-c sends ours every hb/2 s, when called */
	if (timeout_ms > 0 && timeout_ms < ms)
		ms = timeout_ms;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	if (ppoll(&p, 1, &ts, &mq->wait_mask) <= 0)
		return AMQP_STATUS_TIMEOUT; /* timeout, signal; a socket error shows in the read */
	return amqp_simple_wait_frame_noblock(mq->conn, f, &tick);
}

/*
 * Read one frame (waiting at most TIMEOUT_MS, negative: no limit) and
 * handle it.  Returns 1 when a frame was handled, 0 on timeout, negative on
 * failure (the handle is then broken).  WHAT names the operation for
 * messages.
 */
static int mq_pump(struct bk_mq *mq, int timeout_ms, const char *what, struct bk_err *err)
{
	amqp_frame_t f;
	struct timeval tv;
	struct timeval *tvp = NULL;
	int st;

	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	/* Safe here: we hold no pointer into earlier frames.  Queued frames are kept. */
	amqp_maybe_release_buffers(mq->conn);
	if (mq->has_mask && timeout_ms != 0)
		st = mq_sleep_frame(mq, timeout_ms, &f);
	else
		st = amqp_simple_wait_frame_noblock(mq->conn, &f, tvp);
	if (st == AMQP_STATUS_TIMEOUT)
		return 0;
	if (st != AMQP_STATUS_OK)
		return mq_status(mq, err, st, what);
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 1; /* a stray header or body frame: nothing to do with it */

	switch (f.payload.method.id) {
	case AMQP_BASIC_DELIVER_METHOD:
		return mq_on_deliver(mq, &f, what, err);
	case AMQP_BASIC_ACK_METHOD: {
		const amqp_basic_ack_t *a = f.payload.method.decoded;
		mq_on_confirm(mq, a->delivery_tag, a->multiple, false);
		return 1;
	}
	case AMQP_BASIC_NACK_METHOD: {
		const amqp_basic_nack_t *a = f.payload.method.decoded;
		mq_on_confirm(mq, a->delivery_tag, a->multiple, true);
		return 1;
	}
	case AMQP_BASIC_RETURN_METHOD:
		return mq_on_return(mq, &f, what, err);
	case AMQP_BASIC_CANCEL_METHOD:
		return mq_on_cancel(mq, &f, err);
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		return mq_server_close(mq, err, &f.payload.method, what);
	default:
		return 1;
	}
}

/* ---- publishing -------------------------------------------------------- */

static int mq_msg_check(const struct bk_mq_msg *m, struct bk_err *err)
{
	if (!mq_shortstr_ok(m->exchange) || !mq_shortstr_ok(m->key) ||
	    (m->correlation_id && !mq_shortstr_ok(m->correlation_id)))
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: publish needs an exchange (\"\": the "
						  "default one), a routing key and a correlation id "
						  "of at most 255 bytes");
	if (!m->message_id || !m->message_id[0] || !mq_shortstr_ok(m->message_id))
		return bk_err_set(err, BK_EUSAGE,
				  "rabbitmq: publish needs a message id of 1 to 255 bytes");
	if (!m->body && m->len)
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: publish of message '%s' without a body",
				  m->message_id);
	return 0;
}

static int mq_send(struct bk_mq *mq, const struct bk_mq_msg *m, struct bk_err *err)
{
	amqp_basic_properties_t props;
	amqp_bytes_t body;
	char what[600];
	int st;

	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		       AMQP_BASIC_MESSAGE_ID_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	props.message_id = amqp_cstring_bytes(m->message_id);
	if (m->correlation_id && m->correlation_id[0]) {
		props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
		props.correlation_id = amqp_cstring_bytes(m->correlation_id);
	}
	body.bytes = (void *)m->body;
	body.len = m->len;
	st = amqp_basic_publish(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(m->exchange),
				amqp_cstring_bytes(m->key), !m->direct_reply, 0, &props, body);
	if (st == AMQP_STATUS_OK)
		return 0;
	snprintf(what, sizeof(what), "publish of message '%s' to exchange '%s'", m->message_id,
		 m->exchange);
	return mq_status(mq, err, st, what);
}

/* Wait until at most TARGET messages of B are unresolved. */
static int mq_drain(struct bk_mq *mq, struct mq_batch *b, size_t target, const char *what,
		    struct bk_err *err)
{
	int64_t deadline = mq_deadline(mq->timeout_ms);

	while (b->sent - b->resolved > target) {
		size_t before = b->resolved;
		int left = mq_left_ms(deadline);
		int rc;

		if (left == 0) {
			char msg[700];

			snprintf(msg, sizeof(msg),
				 "rabbitmq: %s failed: no publisher confirm from '%s' within %d ms", what,
				 mq->where, mq->timeout_ms);
			mq->conn_dead = true; /* confirms in doubt: do not wait politely on close */
			return mq_break(mq, err, BK_EMQ, msg);
		}
		rc = mq_pump(mq, left, what, err);
		if (rc < 0)
			return rc;
		if (b->resolved != before)
			deadline = mq_deadline(mq->timeout_ms);
	}
	return 0;
}

int bk_mq_publish_batch(struct bk_mq *mq, struct bk_mq_msg *msgs, size_t n, struct bk_err *err)
{
	struct mq_batch b;
	char what[600];
	size_t failed = 0;
	size_t first = n;
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		msgs[i].result = 0;
		rc = mq_msg_check(&msgs[i], err);
		if (rc) {
			for (size_t j = 0; j < n; j++)
				msgs[j].result = rc;
			return rc;
		}
	}
	if (n == 0)
		return 0;
	if (n == 1)
		snprintf(what, sizeof(what), "publish of message '%s' to exchange '%s'",
			 msgs[0].message_id, msgs[0].exchange);
	else
		snprintf(what, sizeof(what), "publish of %zu messages", n);

	memset(&b, 0, sizeof(b));
	b.msgs = msgs;
	b.base = mq->next_tag;
	b.state = bk_calloc(n, 1);
	mq->batch = &b;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = mq_send(mq, &msgs[i], err);
		if (rc)
			break;
		mq->next_tag++;
		b.sent++;
		if (b.sent - b.resolved >= MQ_WINDOW)
			rc = mq_drain(mq, &b, MQ_WINDOW / 2, what, err);
	}
	if (!rc)
		rc = mq_drain(mq, &b, 0, what, err);
	mq->batch = NULL;

	for (size_t i = 0; i < n; i++) {
		int r = 0;

		if (!(b.state[i] & MSG_RESOLVED) || (b.state[i] & MSG_NACKED))
			r = BK_EMQ;
		else if (b.state[i] & MSG_RETURNED)
			r = BK_ECONFIG;
		msgs[i].result = r;
		if (r) {
			failed++;
			if (first == n)
				first = i;
		}
	}
	if (rc == 0 && failed) {
		const struct bk_mq_msg *m = &msgs[first];
		char one[600];

		if (b.state[first] & MSG_NACKED)
			snprintf(one, sizeof(one), "message '%s' to exchange '%s' was nacked by the broker",
				 m->message_id, m->exchange);
		else
			snprintf(one, sizeof(one),
				 "message '%s' to exchange '%s' with key '%s' is unroutable: %s",
				 m->message_id, m->exchange, m->key, b.returned_why);
		if (n == 1)
			rc = bk_err_set(err, m->result, "rabbitmq: %s", one);
		else
			rc = bk_err_set(err, m->result, "rabbitmq: %zu of %zu messages failed: %s",
					failed, n, one);
	}
	free(b.state);
	return rc;
}

int bk_mq_publish(struct bk_mq *mq, const char *exchange, const char *key, const void *body,
		  size_t len, const char *message_id, struct bk_err *err)
{
	struct bk_mq_msg m = {
		.exchange = exchange, .key = key, .body = body, .len = len, .message_id = message_id};

	return bk_mq_publish_batch(mq, &m, 1, err);
}

int bk_mq_publish_nowait(struct bk_mq *mq, const char *exchange, const char *key,
			 const void *body, size_t len, const char *message_id, uint64_t *seq,
			 struct bk_err *err)
{
	struct bk_mq_msg m = {
		.exchange = exchange, .key = key, .body = body, .len = len, .message_id = message_id};
	struct mq_async *a;
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	rc = mq_msg_check(&m, err);
	if (rc)
		return rc;
	if (mq->nasync >= MQ_WINDOW)
		return bk_err_set(err, BK_EUSAGE,
				  "rabbitmq: more than %d publishes waiting for their confirm",
				  MQ_WINDOW);
	rc = mq_send(mq, &m, err);
	if (rc)
		return rc;
	if (mq->nasync == mq->async_cap) {
		mq->async_cap = mq->async_cap ? 2 * mq->async_cap : 16;
		mq->async = bk_realloc(mq->async, mq->async_cap * sizeof(*mq->async));
	}
	a = &mq->async[mq->nasync++];
	a->tag = mq->next_tag++;
	a->message_id = bk_strdup(message_id);
	a->state = 0;
	a->sent = bk_monotonic();
	*seq = a->tag;
	return 0;
}

int bk_mq_confirmed(struct bk_mq *mq, uint64_t *seq, struct bk_err *err)
{
	struct mq_async a;
	size_t i = 0;
	int rc = 0;

	while (mq && i < mq->nasync && !(mq->async[i].state & MSG_RESOLVED))
		i++;
	if (!mq || i == mq->nasync)
		return 0;
	a = mq->async[i];
	mq->nasync--;
	memmove(&mq->async[i], &mq->async[i + 1], (mq->nasync - i) * sizeof(*mq->async));
	*seq = a.tag;
	if (a.state & MSG_NACKED)
		rc = bk_err_set(err, BK_EMQ, "rabbitmq: message '%s' was nacked by the broker",
				a.message_id);
	else if (a.state & MSG_RETURNED)
		rc = bk_err_set(err, BK_ECONFIG, "rabbitmq: message '%s' is unroutable",
				a.message_id);
	free(a.message_id);
	return rc ? rc : 1;
}

/* Break MQ when the oldest publish without waiting has waited too long for its confirm. */
static int mq_async_check(struct bk_mq *mq, struct bk_err *err)
{
	char msg[600];

	if (!mq->nasync || (mq->async[0].state & MSG_RESOLVED) ||
	    bk_monotonic() - mq->async[0].sent < (int64_t)mq->timeout_ms * 1000)
		return 0;
	snprintf(msg, sizeof(msg),
		 "rabbitmq: publish of message '%.255s' failed: no publisher confirm from '%.200s' "
		 "within %d ms",
		 mq->async[0].message_id, mq->where, mq->timeout_ms);
	mq->conn_dead = true; /* confirms in doubt: do not wait politely on close */
	return mq_break(mq, err, BK_EMQ, msg);
}

static bool mq_async_ready(const struct bk_mq *mq)
{
	for (size_t i = 0; i < mq->nasync; i++)
		if (mq->async[i].state & MSG_RESOLVED)
			return true;
	return false;
}

/* ---- consuming ----------------------------------------------------------- */

int bk_mq_consume(struct bk_mq *mq, const char *queue, unsigned prefetch, struct bk_err *err)
{
	amqp_basic_consume_ok_t *ok;
	char what[400];
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	if (!mq_shortstr_ok(queue) || !queue[0])
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: consume needs a queue name");
	if (prefetch == 0 || prefetch > UINT16_MAX)
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: prefetch %u out of range 1..65535",
				  prefetch);
	if (mq->ncons == MQ_MAX_CONSUMERS)
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: more than %d consumers on one connection",
				  MQ_MAX_CONSUMERS);

	snprintf(what, sizeof(what), "setting prefetch for queue '%s'", queue);
	/* global=0: RabbitMQ applies the limit to each consumer created after it. */
	if (!amqp_basic_qos(mq->conn, MQ_CHANNEL, 0, (uint16_t)prefetch, 0))
		return mq_last_rpc(mq, err, what);
	ok = amqp_basic_consume(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0,
				0, 0, amqp_empty_table);
	if (!ok) {
		snprintf(what, sizeof(what), "consuming queue '%s'", queue);
		/* a queue nobody has declared yet is worth telling apart (see mq.h) */
		mq->not_found_code = -ENOENT;
		rc = mq_last_rpc(mq, err, what);
		mq->not_found_code = 0;
		return rc;
	}
	mq->cons[mq->ncons].tag = mq_strdup_bytes(ok->consumer_tag);
	mq->cons[mq->ncons].queue = bk_strdup(queue);
	mq->ncons++;
	return 0;
}

int bk_mq_cancel(struct bk_mq *mq, struct bk_err *err)
{
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	while (mq->ncons > 0) {
		struct mq_consumer *c = &mq->cons[mq->ncons - 1];
		char what[400];

		if (!amqp_basic_cancel(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(c->tag))) {
			snprintf(what, sizeof(what), "cancelling the consumer of queue '%s'", c->queue);
			return mq_last_rpc(mq, err, what);
		}
		free(c->tag);
		free(c->queue);
		mq->ncons--;
	}
	return 0;
}

/* Hand out the oldest pending entry: 1 with a delivery, or its error. */
static int mq_hand_out(struct bk_mq *mq, struct bk_mq_delivery *d, struct bk_err *err)
{
	struct mq_pending *p = mq_pending_pop(mq);
	int rc = 1;

	if (p->code) {
		rc = bk_err_set(err, p->code, "%s", p->msg);
		free(p->msg);
	} else {
		*d = p->d;
	}
	free(p);
	return rc;
}

int bk_mq_wait(struct bk_mq *mq, int timeout_ms, struct bk_mq_delivery *d, struct bk_err *err)
{
	int64_t deadline = timeout_ms > 0 ? mq_deadline(timeout_ms) : 0;
	int rc;

	memset(d, 0, sizeof(*d));
	if (mq && mq->head)
		return mq_hand_out(mq, d, err);
	rc = mq_check(mq, err);
	if (rc)
		return rc;
	for (;;) {
		int left = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : mq_left_ms(deadline);

		rc = mq_async_check(mq, err);
		if (rc < 0)
			return rc;
		if (mq_async_ready(mq))
			return 0;
		if (mq->nasync && (left < 0 || left > mq->timeout_ms))
			left = mq->timeout_ms; /* wake up to check the confirm timeout */
		rc = mq_pump(mq, left, "waiting for deliveries", err);
		if (rc < 0)
			return rc;
		if (mq->head)
			return mq_hand_out(mq, d, err);
		if (mq_async_ready(mq))
			return 0;
		if (rc == 0 && (timeout_ms >= 0 || mq->has_mask))
			return 0;
		if (timeout_ms > 0 && mq_left_ms(deadline) == 0)
			return 0;
	}
}

void bk_mq_set_wait_mask(struct bk_mq *mq, const sigset_t *mask)
{
	mq->has_mask = mask != NULL;
	if (mask)
		mq->wait_mask = *mask;
}

int bk_mq_ack(struct bk_mq *mq, uint64_t tag, struct bk_err *err)
{
	int rc = mq_check(mq, err);
	int st;

	if (rc)
		return rc;
	st = amqp_basic_ack(mq->conn, MQ_CHANNEL, tag, 0);
	if (st != AMQP_STATUS_OK)
		return mq_status(mq, err, st, "acknowledging a delivery");
	return 0;
}

int bk_mq_reject(struct bk_mq *mq, uint64_t tag, bool requeue, struct bk_err *err)
{
	int rc = mq_check(mq, err);
	int st;

	if (rc)
		return rc;
	st = amqp_basic_reject(mq->conn, MQ_CHANNEL, tag, requeue);
	if (st != AMQP_STATUS_OK)
		return mq_status(mq, err, st, "rejecting a delivery");
	return 0;
}
