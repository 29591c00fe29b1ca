/* consul.c: the Consul KV freeze-request protocol over libcurl (see consul.h). */
#include "consul.h"

#include "buf.h"
#include "consul_kv.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define MAX_RESPONSE (4 << 20)

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	struct bk_buf *b = arg;

	if (b->len + size * n > MAX_RESPONSE)
		return 0; /* makes curl fail the transfer */
	bk_buf_add(b, data, size * n);
	return size * n;
}

/* One HTTP request; *STATUS gets the HTTP status, OUT the body (optional). */
static int request(const struct bk_consul *c, const char *method, const char *path,
		   const char *body, struct bk_buf *out, long *status, struct bk_err *err)
{
	static bool initialised;
	struct curl_slist *headers = NULL;
	struct bk_buf url, token, sink;
	CURLcode cr;
	CURL *curl;
	int r = 0;

	if (!initialised) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		initialised = true;
	}
	curl = curl_easy_init();
	if (!curl)
		return bk_err_set(err, BK_ESOURCE, "consul: unable to initialise libcurl");
	bk_buf_init(&url);
	bk_buf_init(&token);
	bk_buf_init(&sink);
	bk_buf_addf(&url, "%s%s", c->url, path);
	if (c->token && c->token[0]) {
		bk_buf_addf(&token, "X-Consul-Token: %s", c->token);
		headers = curl_slist_append(headers, token.p);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url.p);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out ? out : &sink);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	cr = curl_easy_perform(curl);
	if (cr != CURLE_OK) {
		r = bk_err_set(err, BK_ESOURCE, "consul: %s %s failed: %s", method, c->url,
			       curl_easy_strerror(cr));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	bk_buf_release(&url);
	bk_buf_release(&token);
	bk_buf_release(&sink);
	return r;
}

int bk_consul_request_snapshot(const struct bk_consul *c, const char *vm, const char *name,
			       char *key, size_t keysize, struct bk_err *err)
{
	char uuid[37], path[128];
	struct bk_buf out, body;
	long status = 0;
	uuid_t u;
	int r;

	uuid_generate_random(u);
	uuid_unparse_lower(u, uuid);
	snprintf(key, keysize, "snapshot/%s", uuid);
	snprintf(path, sizeof(path), "/v1/kv/%s?cas=0", key);
	bk_buf_init(&out);
	bk_buf_init(&body);
	r = bk_consul_req_encode(vm, name, &body, err);
	if (r == 0)
		r = request(c, "PUT", path, body.p, &out, &status, err);
	bk_buf_release(&body);
	if (r == 0 && (status != 200 || strncmp(out.p, "true", 4) != 0))
		r = bk_err_set(err, BK_ESOURCE, "consul: request '%s' refused (HTTP %ld: %.200s)", key,
			       status, out.p);
	bk_buf_release(&out);
	if (r < 0)
		key[0] = '\0';
	return r;
}

int bk_consul_delete(const struct bk_consul *c, const char *key, struct bk_err *err)
{
	char path[256];
	long status = 0;
	int r;

	if (!key[0])
		return 0;
	snprintf(path, sizeof(path), "/v1/kv/%s", key);
	r = request(c, "DELETE", path, NULL, NULL, &status, err);
	if (r == 0 && status != 200 && status != 404)
		r = bk_err_set(err, BK_ESOURCE, "consul: unable to delete '%s' (HTTP %ld)", key, status);
	return r;
}

/* Whether a request value VALUE (decoded) is garbage or a backy request of VM. */
static bool sweepable(const char *value, const char *vm)
{
	struct bk_consul_req req;
	bool ours;

	if (!value || bk_consul_req_decode(value, strlen(value), &req, NULL) < 0)
		return true;
	ours = strcmp(req.vm, vm) == 0 && strncmp(req.snapshot, "backy-", 6) == 0;
	bk_consul_req_release(&req);
	return ours;
}

int bk_consul_sweep(const struct bk_consul *c, const char *vm, struct bk_err *err)
{
	struct bk_consul_kv *list = NULL;
	struct bk_buf out;
	long status = 0;
	size_t n = 0;
	int r, count = 0;

	bk_buf_init(&out);
	r = request(c, "GET", "/v1/kv/snapshot/?recurse", NULL, &out, &status, err);
	if (r < 0 || status == 404)
		goto done;
	if (status != 200) {
		r = bk_err_set(err, BK_ESOURCE, "consul: listing 'snapshot/' failed (HTTP %ld)", status);
		goto done;
	}
	if (bk_consul_kv_decode(out.p, out.len, &list, &n, NULL) < 0) {
		r = bk_err_set(err, BK_ESOURCE, "consul: listing 'snapshot/' returned no JSON array");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = list[i].key;

		if (strncmp(key, "snapshot/", 9) != 0 || strlen(key) > 200)
			continue;
		if (sweepable(list[i].value, vm) && bk_consul_delete(c, key, NULL) == 0)
			count++;
	}
done:
	bk_consul_kv_free(list, n);
	bk_buf_release(&out);
	return r < 0 ? r : count;
}
