/*
 * coord_http.c: the coordinator's status server (design note 6 of
 * coordinator.c): libmicrohttpd with its own thread on a loopback address,
 * GET /v1/status, /v1/workers and /metrics rendered under the state lock,
 * and http_guard.h cutting connections whose headers do not arrive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "http_guard.h"
#include "log.h"

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct coord *co = cls;
	struct MHD_Response *resp;
	struct bk_buf b;
	const char *type = "application/json";
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)con_cls;
	co_http_guard_headers_done(conn);
	bk_buf_init(&b);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		bk_buf_adds(&b, "{\"error\":\"only GET\"}\n");
	} else if (strcmp(url, "/v1/status") == 0) {
		pthread_mutex_lock(&co->lock);
		co_status_json(&co->st, co->now, co->active ? "active" : "standby", &b);
		pthread_mutex_unlock(&co->lock);
	} else if (strcmp(url, "/v1/workers") == 0) {
		pthread_mutex_lock(&co->lock);
		co_workers_json(&co->st, &b);
		pthread_mutex_unlock(&co->lock);
		bk_buf_adds(&b, "\n");
	} else if (strcmp(url, "/metrics") == 0) {
		type = "text/plain; version=0.0.4";
		pthread_mutex_lock(&co->lock);
		co_metrics(&co->st, co->now, co->active, &b);
		pthread_mutex_unlock(&co->lock);
		bk_buf_addf(&b,
			    "# HELP backy_coordinator_http_cut_total Status connections cut: request "
			    "headers not complete within %u ms.\n"
			    "# TYPE backy_coordinator_http_cut_total counter\n"
			    "backy_coordinator_http_cut_total %" PRIu64 "\n",
			    HTTP_HEADER_MS, co_http_guard_cut(co->guard));
	} else {
		status = MHD_HTTP_NOT_FOUND;
		bk_buf_adds(&b, "{\"error\":\"not found; try /v1/status, /v1/workers or /metrics\"}\n");
	}
	resp = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		bk_buf_release(&b);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

void coord_http_stop(struct coord *co)
{
	if (co->http)
		MHD_stop_daemon(co->http);
	co->http = NULL;
	co_http_guard_free(co->guard); /* after the daemon: it closed every connection */
	co->guard = NULL;
}

int coord_http_start(struct coord *co, struct bk_err *err)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!co->listen_host[0] || co->http)
		return 0;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, co->listen_host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)co->listen_port);
		sa = (const struct sockaddr *)&sin;
	} else {
		inet_pton(AF_INET6, co->listen_host, &sin6.sin6_addr);
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)co->listen_port);
		sa = (const struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	}
	co->guard = co_http_guard_new(HTTP_HEADER_MS, err);
	if (!co->guard)
		return err->code;
	co->http = MHD_start_daemon(
		flags, (uint16_t)co->listen_port, NULL, NULL, http_handler, co, MHD_OPTION_SOCK_ADDR,
		sa, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_NOTIFY_CONNECTION, co_http_guard_notify, co->guard,
		MHD_OPTION_NOTIFY_COMPLETED, co_http_guard_completed, co->guard, MHD_OPTION_END);
	if (!co->http) {
		coord_http_stop(co);
		return bk_err_set(err, -EADDRINUSE, "unable to serve status on %s:%u", co->listen_host,
				  co->listen_port);
	}
	bk_info("status on http://%s%s%s:%u/v1/status", strchr(co->listen_host, ':') ? "[" : "",
		co->listen_host, strchr(co->listen_host, ':') ? "]" : "", co->listen_port);
	return 0;
}

