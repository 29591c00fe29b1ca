/*
 * mq_error.c: how the RabbitMQ adapter turns what goes wrong (a rabbitmq-c
 * status, a broker's channel or connection close, an RPC reply) into a
 * bk_err, and breaks the handle (mq.c, design note 3): later calls repeat
 * the message until the caller reconnects.
 *
 * Codes: 403 ACCESS_REFUSED and 530 NOT_ALLOWED are BK_ECONFIG (they will
 * not fix themselves), 404 is the caller's not_found_code when it set one,
 * everything else is BK_EMQ.
 */
#include "mq_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Mark MQ broken with CODE and the message already in ERR (or MSG). */
int mq_break(struct bk_mq *mq, struct bk_err *err, int code, const char *msg)
{
	if (!mq->broken) {
		mq->broken = true;
		mq->broken_code = code;
		snprintf(mq->broken_msg, sizeof(mq->broken_msg), "%s", msg);
	}
	return bk_err_set(err, code, "%s", msg);
}

int mq_check(struct bk_mq *mq, struct bk_err *err)
{
	if (!mq)
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: no connection");
	if (mq->broken)
		return bk_err_set(err, mq->broken_code, "%s", mq->broken_msg);
	return 0;
}

/* A rabbitmq-c status code (library error) while doing WHAT. */
int mq_status(struct bk_mq *mq, struct bk_err *err, int status, const char *what)
{
	char msg[1024];
	int code = BK_EMQ;

	switch (status) {
	case AMQP_STATUS_HEARTBEAT_TIMEOUT:
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: heartbeat timeout on connection to '%s'",
			 what, mq->where);
		break;
	case AMQP_STATUS_CONNECTION_CLOSED:
	case AMQP_STATUS_SOCKET_CLOSED:
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: connection to '%s' closed", what,
			 mq->where);
		break;
	case AMQP_STATUS_TIMEOUT:
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: no answer from '%s' within %d ms", what,
			 mq->where, mq->timeout_ms);
		break;
	case AMQP_STATUS_SOCKET_ERROR:
	case AMQP_STATUS_TCP_ERROR:
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: socket error on connection to '%s': %s",
			 what, mq->where, errno ? strerror(errno) : "unknown");
		break;
	default:
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed on connection to '%s': %s", what,
			 mq->where, amqp_error_string2(status));
		break;
	}
	mq->conn_dead = true;
	return mq_break(mq, err, code, msg);
}

/* 403 ACCESS_REFUSED and 530 NOT_ALLOWED will not fix themselves. */
static int mq_reply_code_class(unsigned reply_code)
{
	return reply_code == 403 || reply_code == 530 ? BK_ECONFIG : BK_EMQ;
}

/*
 * The broker closed the channel or the connection (method M) while we were
 * doing WHAT: answer with close-ok, translate, break the handle.
 */
int mq_server_close(struct bk_mq *mq, struct bk_err *err, const amqp_method_t *m,
		    const char *what)
{
	char msg[1024];
	unsigned reply = 0;
	amqp_bytes_t text = amqp_empty_bytes;
	const char *whom = "channel";

	if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
		const amqp_channel_close_t *c = m->decoded;
		amqp_channel_close_ok_t ok = {0};

		reply = c->reply_code;
		text = c->reply_text;
		amqp_send_method(mq->conn, MQ_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
		mq->chan_open = false;
	} else if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
		const amqp_connection_close_t *c = m->decoded;
		amqp_connection_close_ok_t ok = {0};

		reply = c->reply_code;
		text = c->reply_text;
		whom = "connection";
		amqp_send_method(mq->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		mq->chan_open = false;
		mq->conn_dead = true;
	} else {
		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: unexpected method 0x%08x from '%s'",
			 what, (unsigned)m->id, mq->where);
		mq->conn_dead = true;
		return mq_break(mq, err, BK_EMQ, msg);
	}
	snprintf(msg, sizeof(msg), "rabbitmq: %s failed: %s closed by broker: %u %.*s", what, whom,
		 reply, (int)(text.len > 600 ? 600 : text.len), (const char *)text.bytes);
	if (reply == 404 && mq->not_found_code) {
		/* the handle is broken all the same; only this call's code differs */
		mq_break(mq, NULL, BK_EMQ, msg);
		return bk_err_set(err, mq->not_found_code, "%s", msg);
	}
	return mq_break(mq, err, mq_reply_code_class(reply), msg);
}

int mq_rpc(struct bk_mq *mq, struct bk_err *err, amqp_rpc_reply_t r, const char *what)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return mq_status(mq, err, r.library_error, what);
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		return mq_server_close(mq, err, &r.reply, what);
	default: {
		char msg[1024];

		snprintf(msg, sizeof(msg), "rabbitmq: %s failed: no reply from '%s'", what, mq->where);
		mq->conn_dead = true;
		return mq_break(mq, err, BK_EMQ, msg);
	}
	}
}

int mq_last_rpc(struct bk_mq *mq, struct bk_err *err, const char *what)
{
	return mq_rpc(mq, err, amqp_get_rpc_reply(mq->conn), what);
}
