/*
 * coord.h: the backy-coordinator daemon's own state (struct coord) and the
 * parts of the daemon in files of their own: the status server
 * (coord_http.c), the broker side (coord_broker.c: connection, broker
 * lock, publishing), the deliveries (coord_deliver.c) and the replies to
 * requests (coord_reply.c).  Only the daemon's files include it; the design notes
 * are in coordinator.c.
 *
 * Locking: co->lock guards st, cfg and now, which the HTTP thread reads;
 * everything else belongs to the main loop.
 */
#ifndef CO_COORD_H
#define CO_COORD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "callback.h"
#include "config.h"
#include "error.h"
#include "mq.h"
#include "service.h"
#include "state.h"
#include "state_journal.h"

#define TICK_MS 1000
#define MAX_BATCH 10000
#define ACK_BATCH 256
#define STANDBY_RETRY_MS 2000
#define LEADER_QUEUE "backy.coordinator.leader" /* the broker-side lock (note 5) */
#define HTTP_CONNECTIONS 64u
#define HTTP_HEADER_MS 5000u /* a request's headers, in total (http_guard.h) */
#define MQ_HEALTHY_US (30 * BK_USEC) /* a connection that lasted this long resets the backoff */

struct outbox_ent {
	uint32_t job;
	uint8_t kind;
};

/* A reply to a request with a reply_to, waiting to be sent (coord_reply.c). */
struct pending_reply {
	char *reply_to;
	char *correlation_id;
	struct bk_msg_reply msg;
	char before[BK_ID_MAX + 1];         /* waiting: its backup in flight when asked, or "" */
	uint64_t gen;                       /* waiting: co->gen when asked */
	bool waiting;                       /* a run: job_id once dispatched */
};

struct coord {
	const char *config_path;
	struct co_config *cfg; /* current; owned */
	struct co_state st;
	struct co_journal jn; /* how st reaches the disk */
	pthread_mutex_t lock; /* st, cfg, now: shared with the HTTP thread */
	bool active;
	int lock_fd;
	char *state_path;
	char *lock_path;
	char listen_host[64];
	unsigned listen_port;
	bool listen_override;
	struct MHD_Daemon *http;
	struct co_http_guard *guard; /* of http */
	struct co_status_auth http_auth; /* what http was started with (TLS, basic auth) */
	uint64_t http_denied; /* requests refused for want of credentials (HTTP thread only) */
	struct bk_mq *mq;
	bool leader; /* mq holds LEADER_QUEUE */
	int64_t mq_since; /* bk_monotonic() when mq connected, 0: not connected */
	struct bk_mq_backoff backoff; /* reconnects, also after set-ups that failed (mq_lead) */

	/* clock */
	double scale; /* 0: frozen at start_t */
	bool simulated;
	int64_t start_t, start_mono;
	int64_t now;

	/* deferred acknowledgements (after the state is durable) */
	uint64_t *acks;
	size_t nacks, acks_cap;
	int64_t last_save_mono;

	struct outbox_ent *out;
	size_t nout, out_cap;
	uint64_t gen; /* dispatch passes (collect) so far */

	struct pending_reply *replies;
	size_t nreplies, replies_cap;

	int64_t hb_warned; /* bk_monotonic() of the last warning about a dropped heartbeat */

	struct bk_service svc; /* sd_notify (coordinator.c, design note 10) */
	/* Python backy's global keys (config_python.h) */
	struct co_callbacks callbacks;  /* backup-completed-callback runs (callback.h) */
	int64_t status_file_mono;       /* bk_monotonic() of the last status-file write */
	bool status_file_failing;       /* the last write failed (logged once) */
};

/*
 * Python backy's global keys (coord_compat.c): after a result counted
 * (BODY: the message as received) the backup-completed-callback; each
 * turn of the main loop, reaping callbacks and writing the status-file.
 */
void coord_compat_result(struct coord *co, const struct bk_msg_result *r, const void *body,
			 size_t len);
void coord_compat_tick(struct coord *co);
/* Before a heartbeat is applied: warn once when a worker's slots differ from worker-limit. */
void coord_compat_heartbeat(struct coord *co, const struct bk_msg_heartbeat *hb);

/* Signal flags (coordinator.c): stop asked; the same for bk_mq_connect_retry's loops. */
extern volatile sig_atomic_t g_stop;
extern volatile int g_stop_int;

/*
 * Serve GET /v1/status, /v1/workers and /metrics on listen_host:listen_port
 * (none if ""), over TLS and behind basic auth where cfg->status_auth says so.
 */
int coord_http_start(struct coord *co, struct bk_err *err);
void coord_http_stop(struct coord *co);

/*
 * Be connected and hold the broker lock (LEADER_QUEUE).  0, BK_ELOCKED
 * (another coordinator holds it; the connection stays open), or an error
 * (the connection is dropped and the next try backs off).
 */
int coord_mq_lead(struct coord *co);

/* coord_mq_lead(), then declare the topology, consume, queue unconfirmed runs for publishing. */
int coord_mq_up(struct coord *co);

/* Declare the job queues of every host the state knows. */
int coord_declare_hosts(struct coord *co, struct bk_err *err);

/*
 * Handle delivery D from one of the coordinator's queues (coord_deliver.c):
 * decode, check and apply it under co->lock.  A result or request is
 * acknowledged once the state is durable (its tag waits in co->acks);
 * anything else is acknowledged, an undecodable message rejected, at once.
 */
void coord_handle_delivery(struct coord *co, struct bk_mq_delivery *d);

/* Queue the run of KIND of JOB for the next coord_flush() (caller holds the lock). */
void coord_outbox_add(struct coord *co, uint32_t job, enum co_run_kind kind);

/*
 * Queue the reply to the request Q of delivery D (which has a reply_to):
 * REPLY is taken over; WAIT: a run whose job_id is known only once it is
 * dispatched.  A reply_to naming one of backy's own queues gets none.
 * Caller holds the lock.
 */
void coord_reply_add(struct coord *co, const struct bk_mq_delivery *d,
		     const struct bk_msg_request *q, struct bk_msg_reply *reply, bool wait);

/*
 * Send the replies that are ready, once the state they speak of is durable:
 * after a dispatch pass for runs (with the job id of the backup started).
 * A reply that cannot be delivered is logged and dropped: the request
 * itself is handled.
 */
void coord_replies_flush(struct coord *co);

/* Drop every pending reply (shutdown). */
void coord_replies_free(struct coord *co);

/* Persist, then publish the outbox with confirms.  Returns BK_EMQ when the broker is gone. */
int coord_flush(struct coord *co);

/* Make the state durable (coordinator.c; caller holds the lock). */
int coord_save_state(struct coord *co, bool force);

#endif
