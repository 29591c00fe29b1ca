/*
 * http_guard.h: a bound on the time a client of the coordinator's status
 * server (libmicrohttpd) may take to send the headers of a request.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that
 * sends one header line every few seconds keeps its connection for ever,
 * and 64 such clients (the connection limit) lock everybody else out of
 * /v1/status and /metrics.  The guard bounds the total time instead:
 *
 *   - it stamps a connection when it starts (MHD_CONNECTION_NOTIFY_STARTED)
 *     and again when a request on it completes (MHD_OPTION_NOTIFY_COMPLETED:
 *     the next request of a keep-alive connection gets the same bound);
 *   - the access handler clears the stamp (co_http_guard_headers_done):
 *     libmicrohttpd calls it once the request line and headers are in;
 *   - a thread of its own shuts down (shutdown(2), SHUT_RDWR) every socket
 *     whose stamp is older than the limit; libmicrohttpd then reads end of
 *     file and closes the connection as if the client had gone.
 *
 * A socket is shut down only while libmicrohttpd still has it: entries are
 * removed at MHD_CONNECTION_NOTIFY_CLOSED, which libmicrohttpd sends before
 * it closes the descriptor, under the mutex the guard thread holds while it
 * calls shutdown(), so a descriptor number reused by somebody else is never
 * touched.
 *
 * Use: g = co_http_guard_new(); pass co_http_guard_notify (cls g) as
 * MHD_OPTION_NOTIFY_CONNECTION and co_http_guard_completed (cls g) as
 * MHD_OPTION_NOTIFY_COMPLETED to MHD_start_daemon, call
 * co_http_guard_headers_done() at the top of the access handler, and
 * co_http_guard_free() after MHD_stop_daemon().
 */
#ifndef CO_HTTP_GUARD_H
#define CO_HTTP_GUARD_H

#include <stdint.h>

#include <microhttpd.h>

#include "error.h"

struct co_http_guard;

/*
 * Start a guard (and its thread) that cuts connections whose request
 * headers took longer than LIMIT_MS.  Returns NULL with ERR set when the
 * thread cannot be started.  Owned by the caller: co_http_guard_free().
 */
struct co_http_guard *co_http_guard_new(unsigned limit_ms, struct bk_err *err);

/* Stop the thread and free G; call after MHD_stop_daemon().  NULL is a no-op. */
void co_http_guard_free(struct co_http_guard *g);

/* The request of connection C has its headers (call from the access handler). */
void co_http_guard_headers_done(struct MHD_Connection *c);

/* Connections cut so far (for /metrics). */
uint64_t co_http_guard_cut(struct co_http_guard *g);

/* libmicrohttpd callbacks; CLS is the guard. */
void co_http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code);
void co_http_guard_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			     enum MHD_RequestTerminationCode toe);

#endif
