/* consul.c: the Consul KV freeze-request protocol over libcurl (see consul.h). */
#include "consul.h"

#include "buf.h"

#include <curl/curl.h>
#include <jansson.h>
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
	struct bk_buf out;
	json_t *value;
	char *body;
	long status = 0;
	uuid_t u;
	int r;

	uuid_generate_random(u);
	uuid_unparse_lower(u, uuid);
	snprintf(key, keysize, "snapshot/%s", uuid);
	snprintf(path, sizeof(path), "/v1/kv/%s?cas=0", key);
	value = json_pack("{s:s, s:s}", "vm", vm, "snapshot", name);
	body = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(value);
	bk_buf_init(&out);
	r = request(c, "PUT", path, body, &out, &status, err);
	free(body);
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

/* Decode base64 (as Consul returns values); NULL when it is not valid base64. */
static char *unbase64(const char *in)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	char *out = bk_malloc(n / 4 * 3 + 4);
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n && in[i] != '='; i++) {
		const char *p = strchr(alphabet, in[i]);

		if (!p || !in[i]) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* Whether a request value VALUE (decoded) is garbage or a backy request of VM. */
static bool sweepable(const char *value, const char *vm)
{
	json_t *v = value ? json_loads(value, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *rvm = NULL, *snap = NULL;
	bool garbage, ours;

	garbage = !v || json_unpack(v, "{s:s, s:s}", "vm", &rvm, "snapshot", &snap) != 0;
	ours = !garbage && strcmp(rvm, vm) == 0 && strncmp(snap, "backy-", 6) == 0;
	json_decref(v);
	return garbage || ours;
}

int bk_consul_sweep(const struct bk_consul *c, const char *vm, struct bk_err *err)
{
	struct bk_buf out;
	json_t *list = NULL, *item;
	long status = 0;
	size_t i;
	int r, count = 0;

	bk_buf_init(&out);
	r = request(c, "GET", "/v1/kv/snapshot/?recurse", NULL, &out, &status, err);
	if (r < 0 || status == 404)
		goto done;
	if (status != 200) {
		r = bk_err_set(err, BK_ESOURCE, "consul: listing 'snapshot/' failed (HTTP %ld)", status);
		goto done;
	}
	list = json_loadb(out.p, out.len, 0, NULL);
	if (!json_is_array(list)) {
		r = bk_err_set(err, BK_ESOURCE, "consul: listing 'snapshot/' returned no JSON array");
		goto done;
	}
	json_array_foreach(list, i, item) {
		const char *key = json_string_value(json_object_get(item, "Key"));
		const char *b64 = json_string_value(json_object_get(item, "Value"));
		char *value;
		bool sweep;

		if (!key || strncmp(key, "snapshot/", 9) != 0 || strlen(key) > 200)
			continue;
		value = b64 ? unbase64(b64) : NULL;
		sweep = sweepable(value, vm);
		free(value);
		if (sweep && bk_consul_delete(c, key, NULL) == 0)
			count++;
	}
done:
	json_decref(list);
	bk_buf_release(&out);
	return r < 0 ? r : count;
}
