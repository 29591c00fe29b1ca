/*
 * mq_connect.c: the RabbitMQ adapter's connections (see mq.h): connecting
 * (TCP or TLS, login, channel, confirms), closing, reconnecting with
 * backoff, declaring the topology and the exclusive queue that serves as a
 * lock.  Reading and writing messages is in mq.c.
 */
#include "mq_internal.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "buf.h"
#include "clock.h"
#include "topology.h"

/* ---- connect / close ---------------------------------------------------- */

void bk_mq_close(struct bk_mq *mq)
{
	struct mq_pending *p;

	if (!mq)
		return;
	if (mq->conn) {
		if (!mq->conn_dead) {
			if (mq->chan_open)
				amqp_channel_close(mq->conn, MQ_CHANNEL, AMQP_REPLY_SUCCESS);
			amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
		}
		amqp_destroy_connection(mq->conn);
	}
	while ((p = mq_pending_pop(mq)) != NULL) {
		bk_mq_delivery_release(&p->d);
		free(p->msg);
		free(p);
	}
	for (unsigned i = 0; i < mq->ncons; i++) {
		free(mq->cons[i].tag);
		free(mq->cons[i].queue);
	}
	for (size_t i = 0; i < mq->nasync; i++)
		free(mq->async[i].message_id);
	free(mq->async);
	free(mq->where);
	free(mq->vhost);
	free(mq->user);
	free(mq);
}

bool bk_mq_usable(const struct bk_mq *mq)
{
	return mq && !mq->broken;
}

static amqp_table_entry_t mq_entry_utf8(const char *key, const char *value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(value);
	return e;
}

static amqp_table_entry_t mq_entry_bool(const char *key, bool value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = value;
	return e;
}

static amqp_table_entry_t mq_entry_i64(const char *key, int64_t value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = value;
	return e;
}

/*
 * rabbitmq-c 0.11 reports every failed connect as AMQP_STATUS_SOCKET_ERROR
 * and leaves errno at EINPROGRESS (it reads the real error with
 * getsockopt(SO_ERROR) and drops it).  To say "refused" or "no route",
 * connect once more ourselves and return that errno (0 if it worked).
 */
static int mq_probe_errno(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char service[16];
	int e = ETIMEDOUT;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return EHOSTUNREACH;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				a->ai_protocol);
		struct pollfd pfd;
		socklen_t len = sizeof(e);

		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			e = 0;
		} else if (errno != EINPROGRESS) {
			e = errno;
		} else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) <= 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
				e = errno;
		}
		close(fd);
		if (e == 0)
			break;
	}
	freeaddrinfo(res);
	return e;
}

/*
 * Open the socket (FATAL set for errors retrying cannot fix: bad URL, TLS
 * set-up).  INFO's strings point into a copy of the URL.
 */
static int mq_open_socket(struct bk_mq *mq, const struct bk_mq_config *cfg,
			  const struct amqp_connection_info *info, bool *fatal, struct bk_err *err)
{
	amqp_socket_t *sock = NULL;
	struct timeval tv;
	int st;

	if (info->ssl) {
		sock = amqp_ssl_socket_new(mq->conn);
		if (!sock) {
			*fatal = true;
			return bk_err_set(err, BK_ECONFIG, "rabbitmq: unable to create a TLS socket");
		}
		amqp_ssl_socket_set_verify_peer(sock, cfg->tls_verify);
		amqp_ssl_socket_set_verify_hostname(sock, cfg->tls_verify);
		if (cfg->ca_cert && amqp_ssl_socket_set_cacert(sock, cfg->ca_cert) != AMQP_STATUS_OK) {
			*fatal = true;
			return bk_err_set(err, BK_ECONFIG,
					  "rabbitmq: unable to load CA certificate '%s'", cfg->ca_cert);
		}
	} else {
		sock = amqp_tcp_socket_new(mq->conn);
		if (!sock)
			return bk_err_set(err, BK_EMQ, "rabbitmq: unable to create a socket");
	}

	tv.tv_sec = mq->timeout_ms / 1000;
	tv.tv_usec = (mq->timeout_ms % 1000) * 1000;
	errno = 0;
	st = amqp_socket_open_noblock(sock, info->host, info->port, &tv);
	if (st == AMQP_STATUS_OK)
		return 0;
	mq->conn_dead = true;
	switch (st) {
	case AMQP_STATUS_SOCKET_ERROR:
	case AMQP_STATUS_TCP_ERROR: {
		int e = mq_probe_errno(info->host, info->port, mq->timeout_ms < 2000 ? mq->timeout_ms : 2000);

		if (e == ECONNREFUSED)
			return bk_err_set(err, BK_EMQ, "rabbitmq: connection to '%s' refused", mq->where);
		return bk_err_set(err, BK_EMQ, "rabbitmq: unable to connect to '%s': %s", mq->where,
				  e ? strerror(e) : "socket error");
	}
	case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
		return bk_err_set(err, BK_EMQ, "rabbitmq: unable to resolve host '%s'", info->host);
	case AMQP_STATUS_TIMEOUT:
		return bk_err_set(err, BK_EMQ, "rabbitmq: connection to '%s' timed out after %d ms",
				  mq->where, mq->timeout_ms);
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
		return bk_err_set(err, BK_ECONFIG, "rabbitmq: TLS connection to '%s' failed: %s",
				  mq->where, amqp_error_string2(st));
	default:
		return bk_err_set(err, BK_EMQ, "rabbitmq: unable to connect to '%s': %s", mq->where,
				  amqp_error_string2(st));
	}
}

static int mq_login(struct bk_mq *mq, const struct bk_mq_config *cfg,
		    const struct amqp_connection_info *info, struct bk_err *err)
{
	amqp_table_entry_t caps_e[1];
	amqp_table_entry_t props_e[2];
	amqp_table_t caps;
	amqp_table_t props;
	amqp_rpc_reply_t r;
	int heartbeat = cfg->heartbeat_s == 0 ? MQ_DEFAULT_HEARTBEAT : cfg->heartbeat_s;
	char what[512];

	if (heartbeat < 0)
		heartbeat = 0;
	/* Merged by rabbitmq-c into its defaults (product, version, capabilities). */
	caps_e[0] = mq_entry_bool("consumer_cancel_notify", true);
	caps.num_entries = 1;
	caps.entries = caps_e;
	props_e[0].key = amqp_cstring_bytes("capabilities");
	props_e[0].value.kind = AMQP_FIELD_KIND_TABLE;
	props_e[0].value.value.table = caps;
	props.num_entries = 1;
	props.entries = props_e;
	if (cfg->name && cfg->name[0]) {
		props_e[1] = mq_entry_utf8("connection_name", cfg->name);
		props.num_entries = 2;
	}

	r = amqp_login_with_properties(mq->conn, info->vhost, 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat,
				       &props, AMQP_SASL_METHOD_PLAIN, info->user, info->password);
	snprintf(what, sizeof(what), "login to '%s' vhost '%s' as user '%s'", mq->where,
		 info->vhost, info->user);
	return mq_rpc(mq, err, r, what);
}

static int mq_connect(struct bk_mq **out, const struct bk_mq_config *cfg, bool *fatal,
		      struct bk_err *err)
{
	struct amqp_connection_info info;
	struct bk_mq *mq = NULL;
	char *url = NULL;
	char where[300];
	int rc;

	*out = NULL;
	*fatal = false;
	if (!cfg || !cfg->url) {
		*fatal = true;
		return bk_err_set(err, BK_ECONFIG, "rabbitmq: no broker url configured");
	}
	url = bk_strdup(cfg->url);
	if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
		free(url);
		*fatal = true;
		/* The URL holds the password: do not quote it. */
		return bk_err_set(err, BK_ECONFIG,
				  "rabbitmq: malformed broker url (expected "
				  "amqp[s]://user:password@host:port/vhost)");
	}

	mq = bk_calloc(1, sizeof(*mq));
	snprintf(where, sizeof(where), "%s:%d", info.host, info.port);
	mq->where = bk_strdup(where);
	mq->vhost = bk_strdup(info.vhost);
	mq->user = bk_strdup(info.user);
	mq->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : MQ_DEFAULT_TIMEOUT_MS;
	mq->max_body = cfg->max_body ? cfg->max_body : MQ_DEFAULT_MAX_BODY;
	mq->next_tag = 1;
	mq->conn = amqp_new_connection();
	if (!mq->conn) {
		rc = bk_err_set(err, BK_EMQ, "rabbitmq: out of memory");
		goto fail;
	}

	rc = mq_open_socket(mq, cfg, &info, fatal, err);
	if (rc)
		goto fail;
	{
		struct timeval tv = {mq->timeout_ms / 1000, (mq->timeout_ms % 1000) * 1000};
		amqp_set_handshake_timeout(mq->conn, &tv);
		amqp_set_rpc_timeout(mq->conn, &tv);
	}
	rc = mq_login(mq, cfg, &info, err);
	if (rc)
		goto fail;

	if (!amqp_channel_open(mq->conn, MQ_CHANNEL)) {
		rc = mq_last_rpc(mq, err, "opening a channel");
		goto fail;
	}
	mq->chan_open = true;
	if (!amqp_confirm_select(mq->conn, MQ_CHANNEL)) {
		rc = mq_last_rpc(mq, err, "enabling publisher confirms");
		goto fail;
	}
	free(url);
	*out = mq;
	return 0;

fail:
	free(url);
	bk_mq_close(mq);
	return rc;
}

int bk_mq_connect(struct bk_mq **out, const struct bk_mq_config *cfg, struct bk_err *err)
{
	bool fatal;

	return mq_connect(out, cfg, &fatal, err);
}

void bk_mq_backoff_reset(struct bk_mq_backoff *b)
{
	b->delay_ms = 0;
}

unsigned bk_mq_backoff_next(struct bk_mq_backoff *b)
{
	unsigned delay = b->delay_ms ? b->delay_ms : 500;

	if (!b->seed)
		b->seed = ((unsigned)bk_monotonic() ^ ((unsigned)getpid() << 16)) | 1;
	b->delay_ms = delay >= 15000 ? 30000 : delay * 2;
	/* +-25 % jitter so a fleet does not reconnect in lock step. */
	return delay - delay / 4 + (unsigned)(rand_r(&b->seed) % (delay / 2 + 1));
}

void bk_mq_backoff_sleep(unsigned ms, volatile const int *stop)
{
	int64_t until = mq_deadline((int)ms);

	while (!*stop) {
		int left = mq_left_ms(until);
		struct timespec ts;

		if (left <= 0)
			break;
		if (left > 200)
			left = 200;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL); /* EINTR: fine, *stop is checked next */
	}
}

int bk_mq_connect_retry(struct bk_mq **out, const struct bk_mq_config *cfg,
			volatile const int *stop, struct bk_err *err)
{
	struct bk_err last = {0};
	struct bk_mq_backoff own = {0};
	struct bk_mq_backoff *bo = cfg->backoff ? cfg->backoff : &own;
	unsigned attempt = 0;

	*out = NULL;
	while (!*stop) {
		struct bk_err e = {0};
		bool fatal = false;
		unsigned sleep_ms;
		int rc;

		rc = mq_connect(out, cfg, &fatal, &e);
		if (rc == 0)
			return 0;
		if (fatal)
			return bk_err_set(err, rc, "%s", e.msg);
		last = e;
		attempt++;
		sleep_ms = bk_mq_backoff_next(bo);
		if (cfg->on_retry)
			cfg->on_retry(cfg->on_retry_arg, &e, attempt, sleep_ms);
		bk_mq_backoff_sleep(sleep_ms, stop);
	}
	if (attempt == 0)
		return bk_err_set(err, BK_EMQ, "rabbitmq: connect cancelled");
	return bk_err_set(err, BK_EMQ, "rabbitmq: connect cancelled after %u attempts: %s", attempt,
			  last.msg);
}

/* ---- topology ---------------------------------------------------------- */

static int mq_exchange(struct bk_mq *mq, const char *name, const char *type, struct bk_err *err)
{
	char what[300];

	if (amqp_exchange_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name),
				  amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table))
		return 0;
	snprintf(what, sizeof(what), "declaring exchange '%s'", name);
	return mq_last_rpc(mq, err, what);
}

struct mq_queue_args {
	bool quorum;
	const char *dlx;
	int64_t ttl_ms;
	int64_t max_len;
};

static int mq_queue(struct bk_mq *mq, const char *name, const struct mq_queue_args *a,
		    const char *exchange, const char *key, struct bk_err *err)
{
	amqp_table_entry_t e[4];
	amqp_table_t args;
	char what[600];

	args.num_entries = 0;
	args.entries = e;
	if (a->quorum)
		e[args.num_entries++] = mq_entry_utf8("x-queue-type", "quorum");
	if (a->dlx)
		e[args.num_entries++] = mq_entry_utf8("x-dead-letter-exchange", a->dlx);
	if (a->ttl_ms)
		e[args.num_entries++] = mq_entry_i64("x-message-ttl", a->ttl_ms);
	if (a->max_len)
		e[args.num_entries++] = mq_entry_i64("x-max-length", a->max_len);

	if (!amqp_queue_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0, args)) {
		snprintf(what, sizeof(what), "declaring queue '%s'", name);
		return mq_last_rpc(mq, err, what);
	}
	if (!amqp_queue_bind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name),
			     amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table)) {
		snprintf(what, sizeof(what), "binding queue '%s' to exchange '%s' with key '%s'", name,
			 exchange, key);
		return mq_last_rpc(mq, err, what);
	}
	return 0;
}

int bk_mq_declare(struct bk_mq *mq, const char *host, struct bk_err *err)
{
	static const struct {
		const char *name;
		const char *type;
	} ex[] = {
		{BK_EX_JOBS, "direct"},    {BK_EX_RESULTS, "topic"}, {BK_EX_CONTROL, "direct"},
		{BK_EX_WORKERS, "topic"}, {BK_EX_DLX, "fanout"},
	};
	const struct mq_queue_args dead = {.quorum = false};
	const struct mq_queue_args work = {.quorum = true, .dlx = BK_EX_DLX};
	const struct mq_queue_args beats = {
		.quorum = true, .ttl_ms = BK_HEARTBEAT_TTL_MS, .max_len = BK_HEARTBEAT_MAX_LEN};
	char jobs[sizeof(BK_Q_JOBS_PREFIX) + BK_HOST_MAX];
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	if (host && bk_topology_jobs_queue(host, jobs, sizeof(jobs)))
		return bk_err_set(err, BK_EUSAGE,
				  "rabbitmq: host name '%.*s' is not usable in a queue name", 100, host);

	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		rc = mq_exchange(mq, ex[i].name, ex[i].type, err);
		if (rc)
			return rc;
	}
	rc = mq_queue(mq, BK_Q_DEAD, &dead, BK_EX_DLX, "", err);
	if (!rc)
		rc = mq_queue(mq, BK_Q_RESULTS, &work, BK_EX_RESULTS, "#", err);
	if (!rc)
		rc = mq_queue(mq, BK_Q_REQUESTS, &work, BK_EX_CONTROL, BK_KEY_REQUEST, err);
	/* No DLX here: expired heartbeats would flood backy.dead. */
	if (!rc)
		rc = mq_queue(mq, BK_Q_HEARTBEATS, &beats, BK_EX_WORKERS, "#", err);
	if (!rc && host)
		rc = mq_queue(mq, jobs, &work, BK_EX_JOBS, host, err);
	return rc;
}

int bk_mq_delete_queue(struct bk_mq *mq, const char *queue, struct bk_err *err)
{
	char what[400];
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	if (!mq_shortstr_ok(queue) || !queue[0])
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: delete needs a queue name");
	if (amqp_queue_delete(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 0))
		return 0;
	snprintf(what, sizeof(what), "deleting queue '%s'", queue);
	return mq_last_rpc(mq, err, what);
}

/* ---- exclusive queue (a lock held by the connection) -------------------- */

/*
 * The declare runs on a channel of its own: RESOURCE_LOCKED closes the
 * channel it was sent on, and channel MQ_CHANNEL (confirms, consumers) must
 * survive that.  An exclusive queue belongs to the connection, not to the
 * channel, so the channel is closed again once the queue is ours.
 */
#define MQ_LOCK_CHANNEL 2

int bk_mq_declare_exclusive(struct bk_mq *mq, const char *queue, struct bk_err *err)
{
	amqp_rpc_reply_t r;
	char what[400];
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	if (!mq_shortstr_ok(queue) || !queue[0] || strncmp(queue, "amq.", 4) == 0)
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: exclusive declare needs a queue name");
	snprintf(what, sizeof(what), "declaring exclusive queue '%s'", queue);
	if (!amqp_channel_open(mq->conn, MQ_LOCK_CHANNEL))
		return mq_last_rpc(mq, err, what);
	if (amqp_queue_declare(mq->conn, MQ_LOCK_CHANNEL, amqp_cstring_bytes(queue), 0, 0, 1, 1,
			       amqp_empty_table)) {
		r = amqp_channel_close(mq->conn, MQ_LOCK_CHANNEL, AMQP_REPLY_SUCCESS);
		return mq_rpc(mq, err, r, what);
	}
	r = amqp_get_rpc_reply(mq->conn);
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
	    ((const amqp_channel_close_t *)r.reply.decoded)->reply_code == 405) {
		amqp_channel_close_ok_t ok = {0};

		/* only the lock channel is gone: answer for it, the handle stays usable */
		if (amqp_send_method(mq->conn, MQ_LOCK_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
		    AMQP_STATUS_OK) {
			mq->conn_dead = true;
			return mq_break(mq, err, BK_EMQ, "rabbitmq: answering a channel close failed");
		}
		return bk_err_set(err, BK_ELOCKED,
				  "rabbitmq: queue '%s' is held by another connection (405 "
				  "RESOURCE_LOCKED)",
				  queue);
	}
	return mq_rpc(mq, err, r, what);
}

int bk_mq_listen(struct bk_mq *mq, const char *queue, const char *exchange, const char *key,
		 unsigned prefetch, struct bk_err *err)
{
	char what[600];
	int rc;

	rc = mq_check(mq, err);
	if (rc)
		return rc;
	if (!mq_shortstr_ok(queue) || !queue[0] || !mq_shortstr_ok(exchange) || !mq_shortstr_ok(key))
		return bk_err_set(err, BK_EUSAGE, "rabbitmq: listening needs a queue, an exchange "
						  "and a key of at most 255 bytes");
	snprintf(what, sizeof(what), "declaring queue '%s'", queue);
	if (!amqp_queue_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 0, 1, 1,
				amqp_empty_table))
		return mq_last_rpc(mq, err, what);
	snprintf(what, sizeof(what), "binding queue '%s' to exchange '%s' with key '%s'", queue,
		 exchange, key);
	if (!amqp_queue_bind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
			     amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table))
		return mq_last_rpc(mq, err, what);
	return bk_mq_consume(mq, queue, prefetch, err);
}
