/*
 * msg_check: the decoder's verdict on message files, for the schema checks
 * (tests/schema/check_messages.py).
 *
 *   msg_check FILE...
 *
 * prints one line per file: "ok<TAB>FILE<TAB>KIND<TAB>ROUTING-KEY" when
 * bk_msg_decode() accepts it, "error<TAB>FILE<TAB>CODE<TAB>MESSAGE" when it
 * refuses it.  Exit 0 unless a file cannot be read.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "fs.h"
#include "proto.h"

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		char key[BK_MSG_ROUTING_KEY_MAX + 1];
		struct bk_err err = {0};
		struct bk_msg m;
		char *body = NULL;
		size_t len = 0;
		int r = bk_fs_read_all(AT_FDCWD, argv[i], (size_t)1 << 24, &body, &len);

		if (r < 0) {
			fprintf(stderr, "msg_check: cannot read '%s'\n", argv[i]);
			rc = 1;
			continue;
		}
		r = bk_msg_decode(body, len, &m, &err);
		if (r < 0) {
			printf("error\t%s\t%s\t%s\n", argv[i], bk_error_name(r), bk_err_msg(&err, r));
		} else {
			bk_msg_routing_key(&m, key);
			printf("ok\t%s\t%s\t%s\n", argv[i], bk_msg_kind_name(m.kind), key);
			bk_msg_release(&m);
		}
		free(body);
	}
	return rc;
}
