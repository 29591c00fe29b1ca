/* results.c: backy-worker's results on their way out (see results.h). */
#include "results.h"

#include "log.h"
#include "topology.h"

#include <string.h>

bool bk_results_decode(const char *text, size_t len, struct bk_msg *m, char *key)
{
	struct bk_err err = {0};
	int r = bk_msg_decode(text, len, m, &err);

	if (r < 0 || m->kind != BK_MSG_RESULT) {
		bk_error("recorded result is invalid, dropping it: %s", err.msg);
		if (r == 0)
			bk_msg_release(m);
		return false;
	}
	bk_msg_routing_key_result(&m->u.result, key);
	return true;
}

/* Publish TEXT, waiting for the confirm (SEQ NULL) or not. */
static int publish(struct bk_mq *mq, const char *text, size_t len, uint64_t *seq,
		   struct bk_err *err)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_err perr = {0};
	struct bk_msg m;
	int r;

	if (!mq)
		return bk_err_set(err, BK_EMQ, "not connected to the broker");
	if (!bk_results_decode(text, len, &m, key))
		return 1;
	if (seq)
		r = bk_mq_publish_nowait(mq, BK_EX_RESULTS, key, text, len, m.u.result.head.id, seq,
					 &perr);
	else
		r = bk_mq_publish(mq, BK_EX_RESULTS, key, text, len, m.u.result.head.id, &perr);
	bk_msg_release(&m);
	if (r == BK_EMQ) /* connection gone, or a nack: either way reconnect and send it again */
		return bk_err_set(err, BK_EMQ, "%s", perr.msg);
	if (r < 0) {
		bk_error("unable to publish result '%s': %s", key, perr.msg);
		return 1;
	}
	return 0;
}

int bk_results_publish(struct bk_mq *mq, const char *text, size_t len, struct bk_err *err)
{
	int r = publish(mq, text, len, NULL, err);

	return r == 1 ? 0 : r;
}

int bk_results_publish_nowait(struct bk_mq *mq, const char *text, uint64_t *seq,
			      struct bk_err *err)
{
	return publish(mq, text, strlen(text), seq, err);
}

int bk_results_publish_new(struct bk_mq *mq, const struct bk_msg_result *res, struct bk_err *err)
{
	struct bk_err eerr = {0};
	struct bk_buf b;
	int r = 0;

	bk_buf_init(&b);
	if (bk_msg_encode_result(res, &b, &eerr) < 0)
		bk_error("unable to encode a result: %s", eerr.msg);
	else
		r = bk_results_publish(mq, b.p, b.len, err);
	bk_buf_release(&b);
	return r;
}

int bk_results_publish_entry(struct bk_mq *mq, struct bk_journal *j, struct bk_journal_entry *e,
			     struct bk_err *err)
{
	struct bk_err jerr = {0};
	int r;

	if (!e->result)
		return 0;
	r = bk_results_publish(mq, e->result, strlen(e->result), err);
	if (r < 0)
		return r;
	e->published = true;
	if (bk_journal_put(j, e, false, &jerr) < 0)
		bk_warn("%s", jerr.msg);
	return 0;
}

void bk_results_outcome_line(const struct bk_msg_result *r, struct bk_buf *out)
{
	bk_buf_addf(out, "job '%s' (id %s) %s %s: %s%s%s%s%s", r->job, r->job_id,
		    bk_msg_action_name(r->action), r->outcome == BK_OUTCOME_OK ? "done" : "ended",
		    bk_msg_outcome_name(r->outcome), r->revision[0] ? ", revision " : "",
		    r->revision, r->error_message ? ": " : "",
		    r->error_message ? r->error_message : "");
}

/* Log the outcome of the job whose recorded result is TEXT, plus HOW. */
static void log_recorded(const char *text, const char *how)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_msg m;
	struct bk_buf line;

	if (!bk_results_decode(text, strlen(text), &m, key))
		return;
	bk_buf_init(&line);
	bk_results_outcome_line(&m.u.result, &line);
	bk_notice("%s (%s)", line.p, how);
	bk_buf_release(&line);
	bk_msg_release(&m);
}

int bk_results_publish_unpublished(struct bk_mq *mq, struct bk_journal *j, struct bk_err *err)
{
	struct bk_journal_entry e;
	struct bk_err lerr = {0};
	char **ids = NULL;
	size_t n = 0;
	int r, count = 0;

	r = bk_journal_list(j, &ids, &n, &lerr);
	if (r < 0) {
		bk_error("%s", lerr.msg);
		return 0;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (bk_journal_get(j, ids[i], &e, NULL) < 0)
			continue;
		if (e.state == BK_JOURNAL_DONE && !e.published) {
			r = bk_results_publish_entry(mq, j, &e, err);
			if (r == 0 && e.result)
				log_recorded(e.result, "result published after reconnecting");
			count += r == 0;
		}
		bk_journal_entry_release(&e);
	}
	bk_journal_ids_free(ids, n);
	if (count)
		bk_notice("published %d recorded result%s", count, count == 1 ? "" : "s");
	return r;
}
