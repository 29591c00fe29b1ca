/*
 * consul_kv.h: the JSON of the Consul KV freeze protocol (worker/engine/consul.h).
 *
 * backy PUTs snapshot/<uuid> = {"vm": VM, "snapshot": NAME} and lists
 * GET /v1/kv/snapshot/?recurse, which Consul answers with
 * [{"Key": "snapshot/...", "Value": BASE64 | null, ...}, ...].
 *
 * Consul and the hypervisor agents are other programs: the list decoder
 * keeps what it can use (entries with a string Key) and skips the rest;
 * the request decoder accepts exactly an object with string "vm" and
 * "snapshot" (other members are ignored, as Consul's agents may add some).
 *
 * Ownership: decoded strings are owned by the struct they are in; the
 * _release() functions free them.
 */
#ifndef BK_CONSUL_KV_H
#define BK_CONSUL_KV_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define BK_CONSUL_MAX_LIST ((size_t)64 << 20) /* bytes of a key listing */

/* The value of a snapshot request key. */
struct bk_consul_req {
	char *vm;
	char *snapshot;
};

/* One key of a listing. */
struct bk_consul_kv {
	char *key;
	char *value; /* base64-decoded; NULL when null, not a string or not base64 */
};

/* Append {"vm": VM, "snapshot": SNAPSHOT} (ASCII, compact) to OUT. */
int bk_consul_req_encode(const char *vm, const char *snapshot, struct bk_buf *out,
			 struct bk_err *err);

/* Parse a request value; BK_EPROTO when it is not one.  OUT needs no initialisation. */
int bk_consul_req_decode(const char *text, size_t len, struct bk_consul_req *out,
			 struct bk_err *err);
void bk_consul_req_release(struct bk_consul_req *r);

/*
 * Parse a key listing into *OUT (owned array of *N entries, free with
 * bk_consul_kv_free).  BK_EPROTO when it is not a JSON array.
 */
int bk_consul_kv_decode(const char *text, size_t len, struct bk_consul_kv **out, size_t *n,
			struct bk_err *err);
void bk_consul_kv_free(struct bk_consul_kv *kv, size_t n);

#endif
