/*
 * coord_http.c: the coordinator's status server (design note 6 of
 * coordinator.c): libmicrohttpd with its own thread, on loopback or, with
 * TLS and basic auth (status.tls-*, status.auth-*), on any address;
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

/* Equal without an early exit: the time does not tell how much of a guess was right. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

/* Whether CONN carries the configured basic-auth credentials (true when none are set). */
static bool authorized(struct coord *co, struct MHD_Connection *conn)
{
	char *pass = NULL;
	char *user;
	bool ok;

	if (!co->http_auth.user)
		return true;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = user && pass && same_secret(user, co->http_auth.user) &&
	     same_secret(pass, co->http_auth.password);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result deny(struct coord *co, struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\":\"authentication required\"}\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	co->http_denied++;
	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_basic_auth_fail_response(conn, "backy", resp);
	MHD_destroy_response(resp);
	return ret;
}

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
	if (!authorized(co, conn))
		return deny(co, conn);
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
			    "backy_coordinator_http_cut_total %" PRIu64 "\n"
			    "# HELP backy_coordinator_http_denied_total Status requests refused for "
			    "want of valid credentials.\n"
			    "# TYPE backy_coordinator_http_denied_total counter\n"
			    "backy_coordinator_http_denied_total %" PRIu64 "\n",
			    HTTP_HEADER_MS, co_http_guard_cut(co->guard), co->http_denied);
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
	co_status_auth_copy(&co->http_auth, &(struct co_status_auth){0});
}

int coord_http_start(struct coord *co, struct bk_err *err)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	bool tls;

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
	co_status_auth_copy(&co->http_auth, &co->cfg->status_auth);
	tls = co->http_auth.cert_pem != NULL;
	if (tls)
		flags |= MHD_USE_TLS;
	/* the TLS options last: without MHD_USE_TLS they would be refused, so they end the list */
	co->http = MHD_start_daemon(
		flags, (uint16_t)co->listen_port, NULL, NULL, http_handler, co, MHD_OPTION_SOCK_ADDR,
		sa, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_NOTIFY_CONNECTION, co_http_guard_notify, co->guard,
		MHD_OPTION_NOTIFY_COMPLETED, co_http_guard_completed, co->guard,
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, co->http_auth.cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, co->http_auth.key_pem, MHD_OPTION_END);
	if (!co->http) {
		coord_http_stop(co);
		return bk_err_set(err, -EADDRINUSE,
				  "unable to serve status on %s:%u (address in use%s)", co->listen_host,
				  co->listen_port, tls ? ", or a certificate or key libmicrohttpd refused" : "");
	}
	bk_info("status on http%s://%s%s%s:%u/v1/status%s", tls ? "s" : "",
		strchr(co->listen_host, ':') ? "[" : "", co->listen_host,
		strchr(co->listen_host, ':') ? "]" : "", co->listen_port,
		co->http_auth.user ? " (basic auth)" : "");
	return 0;
}

