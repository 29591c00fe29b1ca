/*
 * mq_internal.h: what the two halves of the RabbitMQ adapter share: the
 * handle (struct bk_mq), its parts and the helpers of mq.c that
 * mq_connect.c uses.  Not an API: nothing outside proto/mq*.c includes it.
 */
#ifndef BK_MQ_INTERNAL_H
#define BK_MQ_INTERNAL_H

#include "mq.h"

#include <amqp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define MQ_CHANNEL 1
#define MQ_MAX_CONSUMERS 16
#define MQ_WINDOW 2048
#define MQ_SHORTSTR 255
#define MQ_DEFAULT_HEARTBEAT 30
#define MQ_DEFAULT_TIMEOUT_MS 30000
#define MQ_DEFAULT_MAX_BODY (16u << 20)

enum {
	MSG_RESOLVED = 1, /* basic.ack or basic.nack seen */
	MSG_NACKED = 2,
	MSG_RETURNED = 4,
};

/* A delivery read but not yet handed out, or an error to hand out instead. */
struct mq_pending {
	struct mq_pending *next;
	struct bk_mq_delivery d;
	int code;
	char *msg;
};

struct mq_consumer {
	char *tag;
	char *queue;
};

/* One publish without waiting, until bk_mq_confirmed hands out its result. */
struct mq_async {
	uint64_t tag;     /* delivery tag of the publish (its sequence number) */
	char *message_id; /* owned: matches a basic.return */
	unsigned char state;
	int64_t sent;     /* bk_monotonic() at the publish */
};

/* The publish batch whose confirms we are collecting (lives on the stack). */
struct mq_batch {
	struct bk_mq_msg *msgs;
	size_t sent;          /* published so far */
	uint64_t base;        /* delivery tag of msgs[0] */
	unsigned char *state; /* MSG_* per message */
	size_t low;           /* every index below is resolved */
	size_t resolved;
	char returned_why[160]; /* reply of the first basic.return */
};

struct bk_mq {
	amqp_connection_state_t conn;
	char *where; /* host:port, for messages (never the password) */
	char *vhost;
	char *user;
	int timeout_ms;
	size_t max_body;

	bool broken;
	bool conn_dead; /* socket unusable: skip the polite close */
	bool chan_open;
	int broken_code;
	char broken_msg[1024];

	uint64_t next_tag;
	struct mq_batch *batch;
	struct mq_pending *head, *tail;
	struct mq_consumer cons[MQ_MAX_CONSUMERS];
	unsigned ncons;

	struct mq_async *async; /* publishes without waiting, oldest first */
	size_t nasync, async_cap;

	bool has_mask; /* bk_mq_set_wait_mask: mq_pump sleeps in ppoll with wait_mask */
	sigset_t wait_mask;

	/* non-zero while a call wants 404 NOT_FOUND returned as this code (see mq_server_close) */
	int not_found_code;
};

/* Break the handle with CODE and MSG (kept for later calls); returns CODE. */
int mq_break(struct bk_mq *mq, struct bk_err *err, int code, const char *msg);
/* 0 if MQ is usable; else BK_EUSAGE (no handle) or the code and message that broke it. */
int mq_check(struct bk_mq *mq, struct bk_err *err);
/* bk_monotonic() + TIMEOUT_MS, and the milliseconds left until such a deadline. */
int64_t mq_deadline(int timeout_ms);
int mq_left_ms(int64_t deadline);
/* Translate the reply of the last library RPC (WHAT names it in messages). */
int mq_last_rpc(struct bk_mq *mq, struct bk_err *err, const char *what);
int mq_rpc(struct bk_mq *mq, struct bk_err *err, amqp_rpc_reply_t r, const char *what);
/* A rabbitmq-c STATUS while doing WHAT: the connection is dead, the handle broken. */
int mq_status(struct bk_mq *mq, struct bk_err *err, int status, const char *what);
/* The broker closed the channel or connection (method M) during WHAT: answer close-ok, break. */
int mq_server_close(struct bk_mq *mq, struct bk_err *err, const amqp_method_t *m,
		    const char *what);
/* Take the oldest delivery read but not handed out (NULL: none). */
struct mq_pending *mq_pending_pop(struct bk_mq *mq);
/* Whether S fits an AMQP short string. */
bool mq_shortstr_ok(const char *s);

#endif
