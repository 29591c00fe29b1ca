/*
 * results.h: backy-worker's results on their way out: decoding what the job
 * journal recorded, publishing it with or without waiting for the broker's
 * confirm, marking it published, and the one line that logs a job's outcome.
 *
 * Functions that publish take the broker handle (NULL: not connected) and
 * return BK_EMQ when the connection is gone or the broker refused the
 * message (a nack): the caller then drops the handle and reconnects, and the
 * journal still holds the result as unpublished (job_journal.h), so
 * bk_results_publish_unpublished sends it after the reconnect.  Permanent
 * errors (a record that does not decode, an unroutable message) are logged
 * here and not retried.
 */
#ifndef BK_RESULTS_H
#define BK_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "job_journal.h"
#include "mq.h"
#include "proto.h"

/*
 * Decode the recorded result TEXT into *M (release it after) and its routing
 * KEY (BK_MSG_ROUTING_KEY_MAX + 1 bytes); false, logged, when the record is
 * not a valid result.
 */
bool bk_results_decode(const char *text, size_t len, struct bk_msg *m, char *key);

/* Publish the encoded result TEXT and wait for the confirm: 0 or BK_EMQ (ERR set). */
int bk_results_publish(struct bk_mq *mq, const char *text, size_t len, struct bk_err *err);

/*
 * Publish the encoded result TEXT without waiting: 0 sent (*SEQ for
 * bk_mq_confirmed), BK_EMQ (ERR set), 1 nothing to wait for (logged).
 */
int bk_results_publish_nowait(struct bk_mq *mq, const char *text, uint64_t *seq,
			      struct bk_err *err);

/* Encode and publish RES, which is not journalled (rejected, skipped): 0 or BK_EMQ. */
int bk_results_publish_new(struct bk_mq *mq, const struct bk_msg_result *res, struct bk_err *err);

/* Publish the recorded result of entry E and mark it published in J: 0 or BK_EMQ. */
int bk_results_publish_entry(struct bk_mq *mq, struct bk_journal *j, struct bk_journal_entry *e,
			     struct bk_err *err);

/*
 * After connecting: publish every done result of J the broker has not
 * confirmed yet, logging each job's outcome.  0 or BK_EMQ.
 */
int bk_results_publish_unpublished(struct bk_mq *mq, struct bk_journal *j, struct bk_err *err);

/* "job 'vm01' (id X) backup done: ok, revision Y": the start of a job's last log line. */
void bk_results_outcome_line(const struct bk_msg_result *r, struct bk_buf *out);

#endif
