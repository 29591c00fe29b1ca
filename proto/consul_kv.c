/* consul_kv.c: the JSON of the Consul KV freeze protocol (see consul_kv.h). */
#include "consul_kv.h"

#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

int bk_consul_req_encode(const char *vm, const char *snapshot, struct bk_buf *out,
			 struct bk_err *err)
{
	struct je e = {.bad = NULL};
	json_t *o = json_object();

	je_put_str(&e, o, "vm", vm);
	je_put_str(&e, o, "snapshot", snapshot);
	return je_dump(&e, "consul request", o, JSON_COMPACT | JSON_ENSURE_ASCII, out, err);
}

int bk_consul_req_decode(const char *text, size_t len, struct bk_consul_req *out,
			 struct bk_err *err)
{
	struct jd d = {.err = err, .what = "consul request", .strict = false};
	const char *vm = NULL, *snap = NULL;
	json_t *o;
	int r;

	memset(out, 0, sizeof(*out));
	o = jd_load(&d, text, len, 64 * 1024, 8, JSON_OBJECT);
	if (!o)
		return BK_EPROTO;
	r = jd_get_str(&d, o, NULL, "vm", true, false, 0, 4096, &vm);
	if (r == 0)
		r = jd_get_str(&d, o, NULL, "snapshot", true, false, 0, 4096, &snap);
	if (r == 0) {
		out->vm = bk_strdup(vm);
		out->snapshot = bk_strdup(snap);
	}
	json_decref(o);
	return r;
}

void bk_consul_req_release(struct bk_consul_req *r)
{
	free(r->vm);
	free(r->snapshot);
	memset(r, 0, sizeof(*r));
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

		if (!p) {
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

int bk_consul_kv_decode(const char *text, size_t len, struct bk_consul_kv **out, size_t *n,
			struct bk_err *err)
{
	struct jd d = {.err = err, .what = "consul key listing", .strict = false};
	json_t *list, *item;
	size_t i;

	*out = NULL;
	*n = 0;
	list = jd_load(&d, text, len, BK_CONSUL_MAX_LIST, 8, JSON_ARRAY);
	if (!list)
		return BK_EPROTO;
	*out = bk_calloc(json_array_size(list) + 1, sizeof(**out));
	json_array_foreach(list, i, item)
	{
		const char *key = json_string_value(json_object_get(item, "Key"));
		const char *b64 = json_string_value(json_object_get(item, "Value"));

		if (!key)
			continue;
		(*out)[*n].key = bk_strdup(key);
		(*out)[*n].value = b64 ? unbase64(b64) : NULL;
		(*n)++;
	}
	json_decref(list);
	return 0;
}

void bk_consul_kv_free(struct bk_consul_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}
