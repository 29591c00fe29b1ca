/*
 * mq_publish: publish each line of standard input as one message, with
 * publisher confirms, for tests and benchmarks.
 *
 *   mq_publish URL EXCHANGE KEY < lines
 *   mq_publish URL EXCHANGE KEY BODY      (one message, newlines and all)
 *
 * amqp-publish (amqp-tools) does not wait for confirms and closes its
 * connection right after the last write: messages still in flight can be
 * dropped on the way into a quorum queue (seen: 18 of 150).  This tool
 * exits 0 only when the broker confirmed every message and routed it to a
 * queue.  Message ids are "mq-publish-<pid>-<line>".
 *
 *   mq_publish --declare URL [HOST...]
 *
 * declares backy's topology (bk_mq_declare) and the job queue of each HOST,
 * as backy-coordinator does: for tests and benchmarks that run workers
 * without a coordinator.  Only the coordinator's broker user may do that
 * (workers and backyctl have no configure permission), so URL is the
 * coordinator's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mq.h"

static int declare(int argc, char **argv)
{
	struct bk_mq_config cfg = {.url = argv[0], .name = "mq_publish --declare"};
	struct bk_err err = {0};
	struct bk_mq *mq = NULL;
	int r;

	r = bk_mq_connect(&mq, &cfg, &err);
	if (r == 0)
		r = bk_mq_declare(mq, NULL, &err);
	for (int i = 1; r == 0 && i < argc; i++)
		r = bk_mq_declare(mq, argv[i], &err);
	bk_mq_close(mq);
	if (r < 0) {
		fprintf(stderr, "mq_publish: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bk_mq_config cfg = {.url = argc > 1 ? argv[1] : NULL, .name = "mq_publish"};
	struct bk_err err = {0};
	struct bk_mq_msg *msgs = NULL;
	char **ids = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	struct bk_mq *mq;
	ssize_t len;
	int r;

	if (argc >= 3 && strcmp(argv[1], "--declare") == 0)
		return declare(argc - 2, argv + 2);
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: mq_publish URL EXCHANGE KEY [BODY]   (without BODY: one message per line of stdin)\n"
				"       mq_publish --declare URL [HOST...]\n");
		return 2;
	}
	while (argc == 5 ? n == 0 : (len = getline(&line, &lcap, stdin)) > 0) {
		if (argc == 5) {
			line = strdup(argv[4]);
			if (!line)
				return 1;
			len = (ssize_t)strlen(argv[4]);
		} else if (line[len - 1] == '\n') {
			line[--len] = '\0';
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			msgs = realloc(msgs, cap * sizeof(*msgs));
			ids = realloc(ids, cap * sizeof(*ids));
			if (!msgs || !ids)
				return 1;
		}
		ids[n] = malloc(64);
		if (!ids[n])
			return 1;
		snprintf(ids[n], 64, "mq-publish-%ld-%zu", (long)getpid(), n + 1);
		msgs[n] = (struct bk_mq_msg){.exchange = argv[2], .key = argv[3], .body = line,
					     .len = (size_t)len, .message_id = ids[n]};
		line = NULL;
		lcap = 0;
		n++;
	}
	r = bk_mq_connect(&mq, &cfg, &err);
	if (r == 0) {
		r = n ? bk_mq_publish_batch(mq, msgs, n, &err) : 0;
		bk_mq_close(mq);
	}
	for (size_t i = 0; i < n; i++) {
		free((void *)msgs[i].body);
		free(ids[i]);
	}
	free(msgs);
	free(ids);
	free(line);
	if (r < 0) {
		fprintf(stderr, "mq_publish: %s\n", err.msg);
		return 1;
	}
	return 0;
}
