/*
 * http_guard.c: cut status-server connections whose request headers take
 * too long in total (see http_guard.h for why and how).
 */
#include "http_guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "clock.h"

/* One connection libmicrohttpd has open: its socket_context. */
struct guard_conn {
	struct guard_conn *prev, *next;
	struct co_http_guard *g;
	int fd;
	int64_t since; /* bk_monotonic() since when headers are awaited; 0: in a request */
};

struct co_http_guard {
	pthread_mutex_t lock; /* the list, stamps, stop */
	pthread_cond_t wake;  /* stop */
	pthread_t thread;
	struct guard_conn *head;
	int64_t limit_us;
	uint64_t cut;
	bool stop;
};

#define TICK_MS 250 /* how late a cut may come */

static void *guard_main(void *arg)
{
	struct co_http_guard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		int64_t now = bk_monotonic();

		for (struct guard_conn *c = g->head; c; c = c->next) {
			if (!c->since || now - c->since < g->limit_us)
				continue;
			/* libmicrohttpd reads end of file and closes it (and tells us) */
			shutdown(c->fd, SHUT_RDWR);
			c->since = 0;
			g->cut++;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct co_http_guard *co_http_guard_new(unsigned limit_ms, struct bk_err *err)
{
	struct co_http_guard *g = bk_calloc(1, sizeof(*g));
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	g->limit_us = (int64_t)limit_ms * 1000;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* signals are the main thread's business: the guard thread blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&g->thread, NULL, guard_main, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		bk_err_set(err, -r, "unable to start the status server's guard thread: %s",
			   strerror(r));
		return NULL;
	}
	return g;
}

void co_http_guard_free(struct co_http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	/* MHD_stop_daemon() closed every connection (NOTIFY_CLOSED): nothing is left */
	while (g->head) {
		struct guard_conn *c = g->head;

		g->head = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

uint64_t co_http_guard_cut(struct co_http_guard *g)
{
	uint64_t n;

	pthread_mutex_lock(&g->lock);
	n = g->cut;
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* Stamp connection C's socket context (awaiting headers since now, or NOT). */
static void stamp(struct MHD_Connection *c, bool awaiting)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guard_conn *gc = ci ? ci->socket_context : NULL;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->g->lock);
	gc->since = awaiting ? bk_monotonic() : 0;
	pthread_mutex_unlock(&gc->g->lock);
}

void co_http_guard_headers_done(struct MHD_Connection *c)
{
	stamp(c, false);
}

void co_http_guard_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			     enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con_cls;
	(void)toe;
	stamp(c, true); /* keep-alive: the next request's headers get the same bound */
}

void co_http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct co_http_guard *g = cls;
	struct guard_conn *gc = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (!ci)
			return; /* cannot happen; unguarded then, as before */
		gc = bk_calloc(1, sizeof(*gc));
		gc->g = g;
		gc->fd = ci->connect_fd;
		pthread_mutex_lock(&g->lock);
		gc->since = bk_monotonic();
		gc->next = g->head;
		if (g->head)
			g->head->prev = gc;
		g->head = gc;
		pthread_mutex_unlock(&g->lock);
		*socket_context = gc;
		return;
	}
	if (!gc)
		return;
	pthread_mutex_lock(&g->lock);
	if (gc->prev)
		gc->prev->next = gc->next;
	else
		g->head = gc->next;
	if (gc->next)
		gc->next->prev = gc->prev;
	pthread_mutex_unlock(&g->lock);
	free(gc);
	*socket_context = NULL;
}
