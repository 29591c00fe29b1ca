/*
 * mq.h: backy's one adapter around RabbitMQ (rabbitmq-c 0.11).
 *
 * Nothing outside mq.c sees an amqp_* type: errors come back as negative
 * codes plus a struct bk_err message, deliveries as plain structs.
 *
 * Model
 *   One connection, one channel (in confirm mode) per struct bk_mq.  The
 *   handle is not thread-safe and must not be shared between threads or
 *   across fork(): one connection per process or thread.  A forked child
 *   must not call any bk_mq_* function on its parent's handle, not even
 *   bk_mq_close (that would close the parent's connection); the socket
 *   is close-on-exec.
 *
 * Errors (the code decides retry versus give up)
 *   BK_EMQ      transient: connection refused or lost, heartbeat timeout,
 *               channel or connection closed by the broker (including
 *               404 NOT_FOUND, 406 PRECONDITION_FAILED such as the
 *               consumer_timeout "delivery acknowledgement timed out"),
 *               confirm timeout, nack.  The handle is then *broken*: every
 *               later call fails with BK_EMQ until the caller does
 *               bk_mq_close() and connects again (bk_mq_connect_retry).
 *               Exception: a nacked message (bk_mq_publish) leaves the
 *               handle usable.
 *   BK_ECONFIG  permanent: malformed URL, TLS set-up (CA file), login
 *               refused (403 ACCESS_REFUSED), vhost not allowed (530),
 *               access refused on a resource (403), and an unroutable
 *               mandatory message (no queue bound for the key: nothing
 *               consumes it until somebody fixes the topology).  Login and
 *               access errors break the handle too; an unroutable message
 *               does not.
 *   BK_EUSAGE   bad arguments (NULL body, host name not usable in a queue
 *               name, ...).
 *   BK_EPROTO   bk_mq_wait only: a delivery larger than max_body was
 *               rejected to the dead-letter exchange; the handle is fine,
 *               log and call bk_mq_wait again.
 *   Messages read like "rabbitmq: connection to '127.0.0.1:5673' refused"
 *   or "rabbitmq: channel closed by broker: 404 NOT_FOUND - no exchange
 *   'x' in vhost 'ci'".  The password is never part of a message.
 *
 * Heartbeats
 *   rabbitmq-c sends and checks heartbeats only while it is called.  A
 *   daemon must call bk_mq_wait() (or another bk_mq_* function that reads)
 *   at least every heartbeat_s / 2 seconds; the daemons call it every
 *   second in their main loop while long jobs run in child processes.
 *   A signal does not cut bk_mq_wait short (rabbitmq-c restarts poll on
 *   EINTR), so loops that watch signal flags use timeouts of about 1 s,
 *   unless they block their signals and hand bk_mq_set_wait_mask the mask
 *   to wait with: then bk_mq_wait sleeps in ppoll with that mask and a
 *   signal ends it at once, without the race of a flag set just before
 *   the wait began.
 *
 * consumer_timeout
 *   RabbitMQ closes the channel (406 PRECONDITION_FAILED) when a delivery
 *   stays unacknowledged longer than consumer_timeout (30 min default).
 *   That surfaces here as BK_EMQ from bk_mq_wait and the delivery is
 *   requeued with redelivered=true; callers running longer jobs must
 *   acknowledge (or hand off) before that, or the broker must be configured
 *   with a longer consumer_timeout.
 *
 * TLS
 *   Use an amqps://user:pass@host:5671/vhost URL.  ca_cert names a PEM file
 *   with the CA that signed the broker's certificate (NULL: none loaded,
 *   which only works with tls_verify=false).  tls_verify=true checks the
 *   peer certificate and the host name in the URL against it; false
 *   encrypts without authenticating the broker (tests only).  Example:
 *     url = "amqps://backy:secret@mq.example.net:5671/backy"
 *     ca_cert = "/etc/backy/rabbitmq-ca.pem", tls_verify = true
 *   The broker side needs listeners.ssl.default = 5671 and
 *   ssl_options.{cacertfile,certfile,keyfile} in rabbitmq.conf.  (TLS was
 *   not exercised by tests/mq; the code path is rabbitmq-c's OpenSSL
 *   socket with peer and host name verification.)
 */
#ifndef BK_MQ_H
#define BK_MQ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct bk_mq;

/*
 * The reconnect backoff of bk_mq_connect_retry(): 0.5 s doubling to 30 s,
 * +-25 % jitter.  A value of its own for callers that must also back off
 * after a connect that succeeded: when the set-up on the new connection
 * (declare, consume) fails, or the connection breaks right after it was
 * made, reconnecting at once would hit a broker that refuses every consume
 * dozens of times a second.  Such a caller keeps one across connections,
 * waits bk_mq_backoff_next() before reconnecting, passes it to
 * bk_mq_connect_retry() (cfg->backoff) so failed connects continue the
 * same sequence, and resets it once a connection proved healthy.
 * Zero-initialised is reset.
 */
struct bk_mq_backoff {
	unsigned delay_ms; /* the next base delay; 0: 500 */
	unsigned seed;     /* jitter; 0: seeded at the first use */
};

void bk_mq_backoff_reset(struct bk_mq_backoff *b);

/* The delay to wait now (jittered), doubling the next one. */
unsigned bk_mq_backoff_next(struct bk_mq_backoff *b);

/* Sleep MS milliseconds or until *STOP becomes non-zero (checked every 200 ms). */
void bk_mq_backoff_sleep(unsigned ms, volatile const int *stop);

/* Called by bk_mq_connect_retry() after each failed attempt (for logging). */
typedef void bk_mq_retry_fn(void *arg, const struct bk_err *err, unsigned attempt,
			    unsigned delay_ms);

/*
 * Connection settings.  Strings are borrowed: they must stay valid during
 * bk_mq_connect()/bk_mq_connect_retry() only (the handle copies what it
 * keeps).  Zero-initialise and set what you need; 0 means the default.
 */
struct bk_mq_config {
	const char *url;     /* amqp://user:pass@host:port/vhost; amqps:// for TLS */
	int heartbeat_s;     /* 0: 30; negative: heartbeats off */
	const char *ca_cert; /* amqps: PEM CA file, or NULL */
	bool tls_verify;     /* amqps: verify peer certificate and host name */
	const char *name;    /* connection name in the management UI, or NULL */
	/*
	 * Added to the requested API (all optional):
	 * timeout_ms bounds connect, login, each broker RPC and each wait for
	 * publisher confirms, so a half-dead broker cannot hang a daemon
	 * forever (0: 30000).  max_body caps an incoming message body; larger
	 * deliveries are dead-lettered (0: 16 MiB).  on_retry/on_retry_arg:
	 * see bk_mq_connect_retry().
	 */
	int timeout_ms;
	size_t max_body;
	bk_mq_retry_fn *on_retry;
	void *on_retry_arg;
	/* bk_mq_connect_retry: the backoff to continue (see struct bk_mq_backoff), or
	 * NULL for a fresh one per call */
	struct bk_mq_backoff *backoff;
};

/*
 * Connect (TCP or TLS), log in, open one channel and put it in confirm
 * mode.  On success *OUT is a new handle owned by the caller (free with
 * bk_mq_close); on error *OUT is NULL.
 */
int bk_mq_connect(struct bk_mq **out, const struct bk_mq_config *cfg, struct bk_err *err);

/*
 * Like bk_mq_connect, retrying with exponential backoff (0.5 s doubling to
 * 30 s, +-25 % jitter) until it succeeds or *STOP becomes non-zero (checked
 * at least every 200 ms; a signal interrupting the sleep is noticed at
 * once).  Every failed attempt is passed to cfg->on_retry when set; the
 * function itself logs nothing.  Login and access errors are retried too
 * (an operator can fix them on the broker); a malformed URL or a bad TLS
 * configuration is returned at once.  When stopped, returns BK_EMQ with
 * the last error (or "connect cancelled" if no attempt was made).
 */
int bk_mq_connect_retry(struct bk_mq **out, const struct bk_mq_config *cfg,
			volatile const int *stop, struct bk_err *err);

/*
 * Close the channel and connection politely when the handle is healthy,
 * then free everything, including deliveries received but not yet
 * returned by bk_mq_wait (unacknowledged deliveries go back to their
 * queue with redelivered=true).  NULL is a no-op.
 */
void bk_mq_close(struct bk_mq *mq);

/* False once the handle is broken (see Errors above): reconnect. */
bool bk_mq_usable(const struct bk_mq *mq);

/*
 * Declare the whole topology (topology.h) idempotently: exchanges, the
 * dead-letter queue, the coordinator's queues, and, when HOST is non-NULL,
 * the job queue backy.jobs.<HOST> bound with routing key HOST.  Only
 * backy-coordinator declares (NULL, then each storage host): it needs the
 * configure permission on backy.*, which workers and backyctl do not have
 * (docs/operations.md, "Broker users and permissions"); a refusal is
 * BK_ECONFIG (403 ACCESS_REFUSED).
 */
int bk_mq_declare(struct bk_mq *mq, const char *host, struct bk_err *err);

/*
 * Delete QUEUE and the messages in it (added to the requested API: for
 * decommissioning a storage host's job queue, and for tests that must not
 * leave queues behind).  Deleting a queue that does not exist succeeds.
 */
int bk_mq_delete_queue(struct bk_mq *mq, const char *queue, struct bk_err *err);

/*
 * Declare QUEUE exclusive to this connection (non-durable, auto-delete):
 * a lock that the broker releases when the connection ends, however it
 * ends (close, process death, heartbeat timeout).  0: the queue is ours
 * (declaring it again on the same connection succeeds too); BK_ELOCKED:
 * another connection holds it (405 RESOURCE_LOCKED), and the handle stays
 * usable: retry later on the same handle.  Other errors as above (the
 * handle breaks).  The declare uses a second channel, closed again
 * afterwards, so consumers and confirms on the main channel are untouched.
 */
int bk_mq_declare_exclusive(struct bk_mq *mq, const char *queue, struct bk_err *err);

/*
 * Listen to EXCHANGE with binding KEY, as a dashboard does: declare QUEUE
 * (not durable, exclusive, deleted with the connection), bind it and
 * consume it with PREFETCH (bk_mq_consume; acknowledge each delivery).
 * QUEUE must be a name the user may configure (a dashboard's dashboard.*).
 */
int bk_mq_listen(struct bk_mq *mq, const char *queue, const char *exchange, const char *key,
		 unsigned prefetch, struct bk_err *err);

/*
 * One outgoing message.  All pointers are borrowed for the duration of the
 * call.  EXCHANGE "" is the default exchange (KEY: a queue name, e.g. a
 * request's reply_to).  MESSAGE_ID is required and should be unique (backy uses the job
 * or event id): it is the AMQP message_id property, consumers use it to
 * deduplicate, and bk_mq_publish_batch uses it to match a returned
 * (unroutable) message to its entry.  RESULT is set by the call.
 */
struct bk_mq_msg {
	const char *exchange;
	const char *key;
	const void *body;
	size_t len;
	const char *message_id;
	const char *correlation_id; /* optional: the AMQP correlation_id (a reply's request) */
	bool direct_reply;          /* to a direct reply-to name (amq.rabbitmq.reply-to.*): not
				     * mandatory, since the broker reports those unroutable
				     * although it delivers them */
	int result; /* out: 0 confirmed, or a negative code */
};

/*
 * Publish one persistent (delivery_mode 2), mandatory message with
 * content_type application/json and the given message_id, and wait for
 * the publisher confirm.  0 when the broker acknowledged it and routed it
 * to at least one queue; BK_ECONFIG when it was unroutable (basic.return);
 * BK_EMQ on basic.nack (handle stays usable) or a connection/channel
 * failure (handle broken; the message may or may not have been enqueued:
 * publish it again with the same message_id after reconnecting).
 */
int bk_mq_publish(struct bk_mq *mq, const char *exchange, const char *key, const void *body,
		  size_t len, const char *message_id, struct bk_err *err);

/*
 * Publish N messages, then wait for all of their confirms (keeping at most
 * a few thousand unconfirmed so neither side's socket buffers fill).
 * Sets MSGS[i].result for every message and returns 0 when all were
 * confirmed and routed, else the first failing message's code with a
 * message naming it and counting the failures.  On a connection failure
 * the unconfirmed messages get BK_EMQ (fate unknown: republish them).
 */
int bk_mq_publish_batch(struct bk_mq *mq, struct bk_mq_msg *msgs, size_t n, struct bk_err *err);

/*
 * Publish like bk_mq_publish but without waiting for the confirm: *SEQ
 * gets the message's sequence number on this handle, and the result comes
 * out of bk_mq_confirmed later (bk_mq_wait returns 0 early when one is
 * ready, and breaks the handle with BK_EMQ when one waits longer than
 * timeout_ms).  Errors of the send itself as bk_mq_publish.  At most
 * 2048 may wait at once.  Unconfirmed ones die with the handle: their fate
 * is unknown, publish them again after reconnecting.
 */
int bk_mq_publish_nowait(struct bk_mq *mq, const char *exchange, const char *key,
			 const void *body, size_t len, const char *message_id, uint64_t *seq,
			 struct bk_err *err);

/*
 * Hand out one resolved publish of bk_mq_publish_nowait: 0 when none is,
 * 1 with *SEQ when the broker confirmed and routed it, else *SEQ and the
 * code as for bk_mq_publish (BK_EMQ nacked, BK_ECONFIG unroutable; the
 * handle stays usable).  Call it until 0 after each bk_mq_wait.
 */
int bk_mq_confirmed(struct bk_mq *mq, uint64_t *seq, struct bk_err *err);

/*
 * Start consuming QUEUE with manual acknowledgements and at most PREFETCH
 * (> 0) unacknowledged deliveries for this consumer (basic.qos, per
 * consumer).  May be called for several queues; deliveries of all of them
 * come out of bk_mq_wait.  At most 16 consumers per handle.  -ENOENT when
 * QUEUE does not exist (404 NOT_FOUND: nobody has declared it yet, which
 * only the coordinator's broker user may do); the handle is then broken as
 * for BK_EMQ: close it and connect again later.
 */
int bk_mq_consume(struct bk_mq *mq, const char *queue, unsigned prefetch, struct bk_err *err);

/*
 * Cancel every consumer of this handle.  Deliveries already sent by the
 * broker may still come out of bk_mq_wait; ack or reject them as usual.
 */
int bk_mq_cancel(struct bk_mq *mq, struct bk_err *err);

/*
 * One received message, owned by the caller once bk_mq_wait has filled it:
 * free the strings and body with bk_mq_delivery_release().  BODY has LEN
 * bytes followed by a NUL that is not counted (handy for JSON parsers).
 * Strings are never NULL (empty when the property was absent).
 */
struct bk_mq_delivery {
	uint64_t tag; /* for bk_mq_ack / bk_mq_reject on the same handle */
	bool redelivered;
	char *queue; /* the queue it was consumed from (added to the API) */
	char *exchange;
	char *routing_key;
	char *message_id;
	char *reply_to;       /* AMQP reply_to, "" when absent */
	char *correlation_id; /* AMQP correlation_id, "" when absent */
	void *body;
	size_t len;
};

/* Free what D holds and zero it; a zeroed delivery is fine. */
void bk_mq_delivery_release(struct bk_mq_delivery *d);

/*
 * Wait up to TIMEOUT_MS (0: just poll; negative: no limit) for a delivery,
 * sending and checking heartbeats meanwhile.  Returns 1 and fills D (which
 * the caller must release), 0 on timeout (or early: a publish without
 * waiting was resolved, see bk_mq_confirmed), or a negative code (BK_EMQ:
 * reconnect; BK_EPROTO: an oversized message was dead-lettered, carry on).
 */
int bk_mq_wait(struct bk_mq *mq, int timeout_ms, struct bk_mq_delivery *d, struct bk_err *err);

/*
 * Let bk_mq_wait sleep with the signal mask MASK (copied; NULL: as
 * rabbitmq-c does, signals do not wake it).  For callers that keep their
 * signals blocked and unblock them only while waiting: bk_mq_wait then
 * returns 0 when one arrives.  It also returns 0 about every second (more
 * often with short heartbeats) so that rabbitmq-c can send heartbeats.
 */
void bk_mq_set_wait_mask(struct bk_mq *mq, const sigset_t *mask);

/*
 * Acknowledge delivery TAG: the broker forgets the message.  Tags belong to
 * the handle that received them; an unknown tag makes the broker close the
 * channel (406 PRECONDITION_FAILED), reported by the next call that reads.
 */
int bk_mq_ack(struct bk_mq *mq, uint64_t tag, struct bk_err *err);

/*
 * Reject delivery TAG.  REQUEUE=true puts it back (redelivered=true next
 * time); false dead-letters it through the queue's DLX (backy.dlx ->
 * backy.dead for job queues) or drops it when the queue has none.
 */
int bk_mq_reject(struct bk_mq *mq, uint64_t tag, bool requeue, struct bk_err *err);

#endif
