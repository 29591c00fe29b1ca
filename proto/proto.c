/*
 * proto.c: the message structs (init and release, equality, routing keys)
 * and their encoding to JSON (see proto.h); the names of the enums live
 * with the decoder (proto_decode.c).
 *
 * Encoding builds the tree in a fixed key order, dumps it compactly and runs
 * the decoder (proto_decode.c) over the result: the decoder is the one
 * definition of a valid message.
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jdoc.h"
#include "scrub_counts_json.h"
#include "topology.h" /* BK_KEY_REQUEST */

/* ---- error codes ---- */

int bk_msg_errcode_parse(const char *name)
{
#define BK_ERR_PARSE(n, value, text, transient)                                                    \
	if (!strcmp(name, #n))                                                                     \
		return n;
	BK_ERRORS(BK_ERR_PARSE)
#undef BK_ERR_PARSE
	for (int e = 1; e < 4096; e++) {
		const char *s = strerrorname_np(e);

		if (s && !strcmp(s, name))
			return -e;
	}
	return 0;
}

/* ---- encoding ---- */

static json_t *enc_head(struct je *e, enum bk_msg_kind kind, const struct bk_msg_head *h)
{
	char schema[32];
	json_t *root = json_object();

	if (!root)
		return NULL;
	snprintf(schema, sizeof(schema), BK_MSG_SCHEMA_NAME "/%d.%d", BK_MSG_MAJOR, BK_MSG_MINOR);
	je_put_str(e, root, "schema", schema);
	je_put_str(e, root, "kind", bk_msg_kind_name(kind));
	je_put_str(e, root, "id", h->id);
	je_put_time(e, root, "time", h->time);
	return root;
}

static json_t *enc_source(struct je *e, const struct bk_source_spec *src)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	je_put_str(e, o, "type", bk_source_type_name(src->type));
	if (src->type == BK_SOURCE_FILE) {
		je_put_str(e, o, "filename", src->filename);
	} else {
		je_put_str(e, o, "pool", src->pool);
		je_put_str(e, o, "image", src->image);
		if (src->type == BK_SOURCE_FLYINGCIRCUS)
			je_put_str(e, o, "vm", src->vm);
	}
	return o;
}

static json_t *enc_schedule(struct je *e, const struct bk_schedule *s)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < s->n; i++) {
		json_t *t = json_object();
		char interval[32];

		if (t) {
			bk_duration_format_spec(s->tags[i].interval, interval, sizeof(interval));
			je_put_str(e, t, "interval", interval);
			je_put_uint(e, t, "keep", s->tags[i].keep);
		}
		je_put(e, o, s->tags[i].name, t);
	}
	return o;
}

static json_t *enc_job(struct je *e, const struct bk_msg_job *m)
{
	json_t *root = enc_head(e, BK_MSG_JOB, &m->head);

	if (!root)
		return NULL;
	je_put_str(e, root, "job_id", m->job_id);
	je_put_str(e, root, "job", m->job);
	je_put_str(e, root, "host", m->host);
	je_put_str(e, root, "action", bk_msg_action_name(m->action));
	if (m->tags.n)
		je_put_list(e, root, "tags", &m->tags);
	je_put_time(e, root, "deadline", m->deadline);
	je_put_uint(e, root, "attempt", m->attempt);
	if (m->source.type != BK_SOURCE_NONE)
		je_put(e, root, "source", enc_source(e, &m->source));
	if (m->schedule.n)
		je_put(e, root, "schedule", enc_schedule(e, &m->schedule));
	if (m->older_than) {
		char older[32];

		bk_duration_format_spec(m->older_than, older, sizeof(older));
		je_put_str(e, root, "older_than", older);
	}
	return root;
}

static json_t *enc_result(struct je *e, const struct bk_msg_result *m)
{
	json_t *root = enc_head(e, BK_MSG_RESULT, &m->head);

	if (!root)
		return NULL;
	je_put_opt(e, root, "job_id", m->job_id);
	je_put_opt(e, root, "job", m->job);
	je_put_str(e, root, "host", m->host);
	if (m->action != BK_ACTION_NONE)
		je_put_str(e, root, "action", bk_msg_action_name(m->action));
	je_put_str(e, root, "outcome", bk_msg_outcome_name(m->outcome));
	if (m->error_code[0] || m->error_message) {
		json_t *err = json_object();

		if (err) {
			je_put_str(e, err, "code", m->error_code);
			je_put_str(e, err, "message", m->error_message);
			if (m->error_transient)
				je_put(e, err, "transient", json_true());
		}
		je_put(e, root, "error", err);
	}
	je_put_opt(e, root, "revision", m->revision);
	if (m->tags.n)
		je_put_list(e, root, "tags", &m->tags);
	if (m->started)
		je_put_time(e, root, "started", m->started);
	if (m->finished)
		je_put_time(e, root, "finished", m->finished);
	if (m->has_stats) {
		json_t *st = json_object();

		if (st) {
			je_put_uint(e, st, "bytes_written", m->stats.bytes_written);
			je_put_uint(e, st, "size", m->stats.size);
			/* json_real() refuses NaN and infinities */
			je_put(e, st, "duration", json_real(m->stats.duration));
		}
		je_put(e, root, "stats", st);
	}
	if (m->has_verify)
		je_put(e, root, "verify", bk_scrub_counts_encode(e, &m->verify));
	return root;
}

static json_t *enc_heartbeat(struct je *e, const struct bk_msg_heartbeat *m)
{
	json_t *root = enc_head(e, BK_MSG_HEARTBEAT, &m->head);

	if (!root)
		return NULL;
	je_put_str(e, root, "host", m->host);
	je_put_str(e, root, "version", m->version);
	je_put_uint(e, root, "slots", m->slots);
	je_put_uint(e, root, "busy", m->busy);
	je_put_uint(e, root, "free_bytes", m->free_bytes);
	je_put_list(e, root, "running", &m->running);
	if (m->nprogress) {
		json_t *arr = json_array();

		for (size_t i = 0; arr && i < m->nprogress; i++) {
			const struct bk_msg_progress *p = &m->progress[i];
			json_t *o = json_object();

			je_put_str(e, o, "job", p->job);
			je_put_str(e, o, "phase", p->phase);
			je_put_uint(e, o, "done", p->done);
			je_put_uint(e, o, "total", p->total);
			if (!o || json_array_append_new(arr, o) < 0)
				e->bad = "progress";
		}
		je_put(e, root, "progress", arr);
	}
	return root;
}

static json_t *enc_request(struct je *e, const struct bk_msg_request *m)
{
	json_t *root = enc_head(e, BK_MSG_REQUEST, &m->head);

	if (!root)
		return NULL;
	je_put_str(e, root, "action", bk_msg_request_action_name(m->action));
	je_put_opt(e, root, "job", m->job);
	if (m->tags.n)
		je_put_list(e, root, "tags", &m->tags);
	je_put_opt(e, root, "user", m->user);
	return root;
}

static json_t *enc_reply(struct je *e, const struct bk_msg_reply *m)
{
	json_t *root = enc_head(e, BK_MSG_REPLY, &m->head);

	if (!root)
		return NULL;
	je_put_str(e, root, "request_id", m->request_id);
	je_put_str(e, root, "action", bk_msg_request_action_name(m->action));
	je_put_opt(e, root, "job", m->job);
	je_put(e, root, "accepted", json_boolean(m->accepted));
	je_put_opt(e, root, "job_id", m->job_id);
	if (m->error_code[0]) {
		json_t *err = json_object();

		if (err) {
			je_put_str(e, err, "code", m->error_code);
			je_put_str(e, err, "message", m->message);
		}
		je_put(e, root, "error", err);
	} else if (m->message) {
		je_put_str(e, root, "message", m->message);
	}
	return root;
}

/*
 * Dump ROOT (consumed) compactly, with reals in their shortest exact form
 * (569.3, not 569.29999999999995), check the text with the decoder, append
 * it to OUT.
 */
static int finish(struct je *e, const char *kind, json_t *root, struct bk_buf *out,
		  struct bk_err *err)
{
	struct bk_msg check;
	struct bk_err e2 = {0};
	struct bk_buf text;
	char what[32];
	int precision = root ? je_tree_precision(root) : 17;
	int r;

	snprintf(what, sizeof(what), "%s message", kind);
	bk_buf_init(&text);
	r = je_dump(e, what, root, JSON_COMPACT | JSON_REAL_PRECISION(precision), &text, err);
	if (r < 0)
		goto out;
	r = bk_msg_decode(text.p, text.len, &check, &e2);
	bk_msg_release(&check);
	if (r < 0) {
		bk_err_set(err, r, "cannot encode %s: %s", what, e2.msg);
		goto out;
	}
	bk_buf_add(out, text.p, text.len);
out:
	bk_buf_release(&text);
	return r;
}

int bk_msg_encode_job(const struct bk_msg_job *m, struct bk_buf *out, struct bk_err *err)
{
	struct je e = {.bad = NULL, .exact = true};

	return finish(&e, "job", enc_job(&e, m), out, err);
}

int bk_msg_encode_result(const struct bk_msg_result *m, struct bk_buf *out, struct bk_err *err)
{
	struct je e = {.bad = NULL, .exact = true};

	return finish(&e, "result", enc_result(&e, m), out, err);
}

int bk_msg_encode_heartbeat(const struct bk_msg_heartbeat *m, struct bk_buf *out,
			    struct bk_err *err)
{
	struct je e = {.bad = NULL, .exact = true};

	return finish(&e, "heartbeat", enc_heartbeat(&e, m), out, err);
}

int bk_msg_encode_request(const struct bk_msg_request *m, struct bk_buf *out, struct bk_err *err)
{
	struct je e = {.bad = NULL, .exact = true};

	return finish(&e, "request", enc_request(&e, m), out, err);
}

int bk_msg_encode_reply(const struct bk_msg_reply *m, struct bk_buf *out, struct bk_err *err)
{
	struct je e = {.bad = NULL, .exact = true};

	return finish(&e, "reply", enc_reply(&e, m), out, err);
}

int bk_msg_encode(const struct bk_msg *m, struct bk_buf *out, struct bk_err *err)
{
	switch (m->kind) {
	case BK_MSG_JOB:
		return bk_msg_encode_job(&m->u.job, out, err);
	case BK_MSG_RESULT:
		return bk_msg_encode_result(&m->u.result, out, err);
	case BK_MSG_HEARTBEAT:
		return bk_msg_encode_heartbeat(&m->u.heartbeat, out, err);
	case BK_MSG_REQUEST:
		return bk_msg_encode_request(&m->u.request, out, err);
	case BK_MSG_REPLY:
		return bk_msg_encode_reply(&m->u.reply, out, err);
	default:
		return bk_err_set(err, BK_EPROTO, "cannot encode a message of no kind");
	}
}

/* ---- structs ---- */

void bk_msg_head_new(struct bk_msg_head *head)
{
	memset(head, 0, sizeof(*head));
	bk_id_new(head->id);
	head->time = bk_now();
	head->minor = BK_MSG_MINOR;
}

void bk_msg_job_init(struct bk_msg_job *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_job_release(struct bk_msg_job *m)
{
	bk_strv_release(&m->tags);
	bk_source_spec_release(&m->source);
	bk_schedule_release(&m->schedule);
	bk_msg_job_init(m);
}

void bk_msg_result_init(struct bk_msg_result *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_result_release(struct bk_msg_result *m)
{
	free(m->error_message);
	bk_strv_release(&m->tags);
	bk_scrub_counts_release(&m->verify);
	bk_msg_result_init(m);
}

void bk_msg_heartbeat_init(struct bk_msg_heartbeat *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_heartbeat_release(struct bk_msg_heartbeat *m)
{
	bk_strv_release(&m->running);
	free(m->progress);
	bk_msg_heartbeat_init(m);
}

void bk_msg_request_init(struct bk_msg_request *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_request_release(struct bk_msg_request *m)
{
	bk_strv_release(&m->tags);
	bk_msg_request_init(m);
}

void bk_msg_reply_init(struct bk_msg_reply *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_reply_release(struct bk_msg_reply *m)
{
	free(m->message);
	bk_msg_reply_init(m);
}

void bk_msg_result_set_error(struct bk_msg_result *m, const char *code, const char *message,
			     bool transient)
{
	size_t n;

	snprintf(m->error_code, sizeof(m->error_code), "%s", code ? code : "");
	free(m->error_message);
	m->error_message = NULL;
	m->error_transient = transient;
	if (!message)
		return;
	/* cut at a character boundary, control characters become '?' */
	n = strlen(message);
	if (n > BK_MSG_MAX_TEXT) {
		n = BK_MSG_MAX_TEXT;
		while (n > 0 && ((unsigned char)message[n] & 0xc0) == 0x80)
			n--;
	}
	m->error_message = bk_strndup(message, n);
	for (char *p = m->error_message; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			*p = '?';
	}
}

void bk_msg_init(struct bk_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_release(struct bk_msg *m)
{
	switch (m->kind) {
	case BK_MSG_JOB:
		bk_msg_job_release(&m->u.job);
		break;
	case BK_MSG_RESULT:
		bk_msg_result_release(&m->u.result);
		break;
	case BK_MSG_HEARTBEAT:
		bk_msg_heartbeat_release(&m->u.heartbeat);
		break;
	case BK_MSG_REQUEST:
		bk_msg_request_release(&m->u.request);
		break;
	case BK_MSG_REPLY:
		bk_msg_reply_release(&m->u.reply);
		break;
	default:
		break;
	}
	bk_msg_init(m);
}

/* ---- comparison and routing ---- */

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static bool head_eq(const struct bk_msg_head *a, const struct bk_msg_head *b)
{
	return !strcmp(a->id, b->id) && a->time == b->time;
}

static bool job_eq(const struct bk_msg_job *a, const struct bk_msg_job *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->job_id, b->job_id) &&
	       !strcmp(a->job, b->job) && !strcmp(a->host, b->host) && a->action == b->action &&
	       bk_strv_equal(&a->tags, &b->tags) && a->deadline == b->deadline &&
	       a->attempt == b->attempt && bk_source_spec_equal(&a->source, &b->source) &&
	       bk_schedule_equal(&a->schedule, &b->schedule) && a->older_than == b->older_than;
}

static bool result_eq(const struct bk_msg_result *a, const struct bk_msg_result *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->job_id, b->job_id) &&
	       !strcmp(a->job, b->job) && !strcmp(a->host, b->host) && a->action == b->action &&
	       a->outcome == b->outcome && !strcmp(a->error_code, b->error_code) &&
	       str_eq(a->error_message, b->error_message) &&
	       a->error_transient == b->error_transient && !strcmp(a->revision, b->revision) &&
	       bk_strv_equal(&a->tags, &b->tags) && a->started == b->started &&
	       a->finished == b->finished && a->has_stats == b->has_stats &&
	       (!a->has_stats ||
		(a->stats.bytes_written == b->stats.bytes_written &&
		 a->stats.size == b->stats.size && a->stats.duration == b->stats.duration)) &&
	       a->has_verify == b->has_verify &&
	       (!a->has_verify || bk_scrub_counts_equal(&a->verify, &b->verify));
}

static bool heartbeat_eq(const struct bk_msg_heartbeat *a, const struct bk_msg_heartbeat *b)
{
	if (a->nprogress != b->nprogress)
		return false;
	for (size_t i = 0; i < a->nprogress; i++)
		if (strcmp(a->progress[i].job, b->progress[i].job) ||
		    strcmp(a->progress[i].phase, b->progress[i].phase) ||
		    a->progress[i].done != b->progress[i].done ||
		    a->progress[i].total != b->progress[i].total)
			return false;
	return head_eq(&a->head, &b->head) && !strcmp(a->host, b->host) &&
	       !strcmp(a->version, b->version) && a->slots == b->slots && a->busy == b->busy &&
	       a->free_bytes == b->free_bytes && bk_strv_equal(&a->running, &b->running);
}

static bool request_eq(const struct bk_msg_request *a, const struct bk_msg_request *b)
{
	return head_eq(&a->head, &b->head) && a->action == b->action && !strcmp(a->job, b->job) &&
	       bk_strv_equal(&a->tags, &b->tags) && !strcmp(a->user, b->user);
}

static bool reply_eq(const struct bk_msg_reply *a, const struct bk_msg_reply *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->request_id, b->request_id) &&
	       a->action == b->action && !strcmp(a->job, b->job) && a->accepted == b->accepted &&
	       !strcmp(a->job_id, b->job_id) && !strcmp(a->error_code, b->error_code) &&
	       str_eq(a->message, b->message);
}

bool bk_msg_equal(const struct bk_msg *a, const struct bk_msg *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case BK_MSG_JOB:
		return job_eq(&a->u.job, &b->u.job);
	case BK_MSG_RESULT:
		return result_eq(&a->u.result, &b->u.result);
	case BK_MSG_HEARTBEAT:
		return heartbeat_eq(&a->u.heartbeat, &b->u.heartbeat);
	case BK_MSG_REQUEST:
		return request_eq(&a->u.request, &b->u.request);
	case BK_MSG_REPLY:
		return reply_eq(&a->u.reply, &b->u.reply);
	default:
		return true;
	}
}

/* Append WORD to OUT at *POS with '.' as ':' ("-" when empty or NULL). */
static void key_word(char *out, size_t *pos, const char *word)
{
	if (*pos)
		out[(*pos)++] = '.';
	if (!word || !word[0])
		word = "-";
	for (size_t i = 0; word[i] && i < BK_MSG_NAME_MAX; i++)
		out[(*pos)++] = word[i] == '.' ? ':' : word[i];
	out[*pos] = '\0';
}

void bk_msg_routing_key_result(const struct bk_msg_result *r, char *out)
{
	size_t pos = 0;

	out[0] = '\0';
	key_word(out, &pos, bk_msg_action_name(r->action));
	key_word(out, &pos, bk_msg_outcome_name(r->outcome));
	key_word(out, &pos, r->host);
	key_word(out, &pos, r->job);
}

void bk_msg_routing_key(const struct bk_msg *m, char *out)
{
	out[0] = '\0';
	switch (m->kind) {
	case BK_MSG_JOB:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", m->u.job.host);
		break;
	case BK_MSG_RESULT:
		bk_msg_routing_key_result(&m->u.result, out);
		break;
	case BK_MSG_HEARTBEAT:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", m->u.heartbeat.host);
		break;
	case BK_MSG_REQUEST:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", BK_KEY_REQUEST);
		break;
	default:
		break;
	}
}
