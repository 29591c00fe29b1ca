/*
 * fuzz_proto.c: libFuzzer target for the message decoder (proto/proto.c).
 *
 * Any bytes: decoding must fail cleanly (kind NONE, a code and a message) or
 * succeed with a message that the encoder accepts, that decodes again to an
 * equal message and whose encoding is a fixed point.  peek and the routing
 * key must cope with anything too.  Violations abort, which libFuzzer and
 * the corpus replay (replay_main.c) report as crashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const struct bk_err *err)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_proto: %s%s%s\n", what, err && err->msg[0] ? ": " : "",
		err ? err->msg : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_msg a, b;
	struct bk_msg_peek peek;
	struct bk_err err = {0};
	struct bk_buf first, second;
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	int r;

	bk_msg_peek(data, size, &peek);
	r = bk_msg_decode(data, size, &a, &err);
	if (r < 0) {
		check(a.kind == BK_MSG_NONE, "failed decode left a message", NULL);
		check(r == BK_EPROTO || r == BK_EVERSION, "unexpected error code", &err);
		check(err.code == r && err.msg[0], "error without a message", &err);
		return 0;
	}
	check(a.kind != BK_MSG_NONE && peek.kind == a.kind, "peek disagrees on the kind", NULL);
	bk_msg_routing_key(&a, key);
	check(strlen(key) > 0 && strlen(key) <= BK_MSG_ROUTING_KEY_MAX, "bad routing key", NULL);

	bk_buf_init(&first);
	bk_buf_init(&second);
	r = bk_msg_encode(&a, &first, &err);
	check(r == 0, "decoded message does not encode", &err);
	r = bk_msg_decode(first.p, first.len, &b, &err);
	check(r == 0, "encoded message does not decode", &err);
	check(bk_msg_equal(&a, &b), "round trip changed the message", NULL);
	r = bk_msg_encode(&b, &second, &err);
	check(r == 0 && first.len == second.len && !memcmp(first.p, second.p, first.len),
	      "encoding is not a fixed point", &err);

	bk_msg_release(&a);
	bk_msg_release(&b);
	bk_buf_release(&first);
	bk_buf_release(&second);
	return 0;
}
