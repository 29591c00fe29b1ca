/*
 * proto_fixture.h: what the wire format tests (test_proto_encode.c,
 * test_proto_decode.c) share: the example messages (also the examples of
 * docs/messages.md) and the helpers that make invalid messages from them.
 *
 * Invalid messages are made from valid examples by changing one field with
 * jansson (set_path), so each case says exactly what is wrong with it.
 * Header only (static inline).
 */
#ifndef BK_TEST_PROTO_FIXTURE_H
#define BK_TEST_PROTO_FIXTURE_H

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proto.h"

/* ---- example messages (also the examples of docs/messages.md) ---- */

static inline int64_t t(const char *iso)
{
	int64_t v = 0;

	assert_int_equal(bk_time_parse(iso, &v), 0);
	return v;
}

static inline void head(struct bk_msg_head *h, const char *id, const char *time)
{
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->time = t(time);
}

static inline void example_job(struct bk_msg *m, enum bk_source_type type)
{
	struct bk_msg_job *j = &m->u.job;
	struct bk_err err = {0};

	bk_msg_init(m);
	m->kind = BK_MSG_JOB;
	bk_msg_job_init(j);
	head(&j->head, "7UpNw3sD5rLiJ3gM2k2kqT", "2026-11-26T12:00:00.000123Z");
	snprintf(j->job_id, sizeof(j->job_id), "dMuFXgd6YZrvXnpxQ3YcGa");
	snprintf(j->job, sizeof(j->job), "vm01.root");
	snprintf(j->host, sizeof(j->host), "backy01");
	j->action = BK_ACTION_BACKUP;
	bk_strv_split(&j->tags, "daily,weekly");
	j->deadline = t("2026-11-26T18:00:00Z");
	j->attempt = 1;
	j->source.type = type;
	switch (type) {
	case BK_SOURCE_FILE:
		bk_source_spec_set_filename(&j->source, "/srv/images/vm01.img");
		snprintf(j->job, sizeof(j->job), "vm01");
		break;
	case BK_SOURCE_RBD:
		snprintf(j->source.pool, sizeof(j->source.pool), "rbd.hdd");
		snprintf(j->source.image, sizeof(j->source.image), "vm01.root");
		break;
	default:
		snprintf(j->source.pool, sizeof(j->source.pool), "rbd.ssd");
		snprintf(j->source.image, sizeof(j->source.image), "vm01.root");
		snprintf(j->source.vm, sizeof(j->source.vm), "vm01");
		break;
	}
	assert_int_equal(bk_schedule_parse_spec("daily=1d:9,weekly=1w:5,monthly=30d:4", &j->schedule,
						&err),
			 0);
}

static inline void example_expire_job(struct bk_msg *m)
{
	struct bk_msg_job *j = &m->u.job;

	bk_msg_init(m);
	m->kind = BK_MSG_JOB;
	bk_msg_job_init(j);
	head(&j->head, "Qv4kqE2ZcyBDcbAVxtqLXM", "2026-11-26T12:05:00Z");
	snprintf(j->job_id, sizeof(j->job_id), "HpF6pwrPkKbgyiTbHa7hB3");
	snprintf(j->job, sizeof(j->job), "vm01.root");
	snprintf(j->host, sizeof(j->host), "backy01");
	j->action = BK_ACTION_EXPIRE;
	j->deadline = t("2026-11-26T13:05:00Z");
	j->attempt = 2;
}

static inline void example_result_ok(struct bk_msg *m)
{
	struct bk_msg_result *r = &m->u.result;

	bk_msg_init(m);
	m->kind = BK_MSG_RESULT;
	bk_msg_result_init(r);
	head(&r->head, "Bd8V3FdvjZpm5RKmEfs5rS", "2026-11-26T12:09:31.442187Z");
	snprintf(r->job_id, sizeof(r->job_id), "dMuFXgd6YZrvXnpxQ3YcGa");
	snprintf(r->job, sizeof(r->job), "vm01.root");
	snprintf(r->host, sizeof(r->host), "backy01");
	r->action = BK_ACTION_BACKUP;
	r->outcome = BK_OUTCOME_OK;
	snprintf(r->revision, sizeof(r->revision), "Vy8kLgX5mFjnYcE9p6tWwR");
	bk_strv_split(&r->tags, "daily,weekly");
	r->started = t("2026-11-26T12:00:02.100000Z");
	r->finished = t("2026-11-26T12:09:31.400000Z");
	r->has_stats = true;
	r->stats.bytes_written = 1879048192;
	r->stats.size = 53687091200;
	r->stats.duration = 569.3;
}

static inline void example_result_failed(struct bk_msg *m)
{
	struct bk_msg_result *r = &m->u.result;

	bk_msg_init(m);
	m->kind = BK_MSG_RESULT;
	bk_msg_result_init(r);
	head(&r->head, "NnsqE8hLz4RkT2mXbPfC6d", "2026-11-26T12:01:10Z");
	snprintf(r->job_id, sizeof(r->job_id), "dMuFXgd6YZrvXnpxQ3YcGa");
	snprintf(r->job, sizeof(r->job), "vm01.root");
	snprintf(r->host, sizeof(r->host), "backy01");
	r->action = BK_ACTION_BACKUP;
	r->outcome = BK_OUTCOME_FAILED;
	bk_msg_result_set_error(r, bk_error_name(BK_ESOURCE),
				"backup of 'vm01.root' failed: rbd image 'rbd.ssd/vm01.root' not found",
				false);
	r->started = t("2026-11-26T12:01:02Z");
	r->finished = t("2026-11-26T12:01:09.75Z");
}

static inline void example_result_rejected(struct bk_msg *m)
{
	struct bk_msg_result *r = &m->u.result;

	bk_msg_init(m);
	m->kind = BK_MSG_RESULT;
	bk_msg_result_init(r);
	/* what a worker answers to a job it cannot decode (worker_reject_invalid):
	 * the fields that are valid by themselves, no job */
	head(&r->head, "ZpTbT7M3rHx8dGvKqWc2Ye", "2026-11-26T12:00:00.5Z");
	snprintf(r->job_id, sizeof(r->job_id), "dMuFXgd6YZrvXnpxQ3YcGa");
	snprintf(r->host, sizeof(r->host), "backy01");
	r->action = BK_ACTION_BACKUP;
	r->outcome = BK_OUTCOME_REJECTED;
	r->started = t("2026-11-26T12:00:00.5Z");
	r->finished = r->started;
	bk_msg_result_set_error(r, bk_error_name(BK_EPROTO),
				"invalid job message: field 'job' is not a valid name (1 to 64 "
				"characters from [A-Za-z0-9._-], not starting with '.' or '-'): "
				"'../../etc'",
				false);
}

static inline void example_heartbeat(struct bk_msg *m)
{
	struct bk_msg_heartbeat *h = &m->u.heartbeat;

	bk_msg_init(m);
	m->kind = BK_MSG_HEARTBEAT;
	bk_msg_heartbeat_init(h);
	head(&h->head, "4cGhK7wQm2XzR9pTbVn3Ls", "2026-11-26T12:00:30Z");
	snprintf(h->host, sizeof(h->host), "backy01");
	snprintf(h->version, sizeof(h->version), "0.1.0");
	h->slots = 4;
	h->busy = 2;
	h->free_bytes = 8796093022208ULL;
	bk_strv_split(&h->running, "vm01.root,vm07.data");
	h->progress = calloc(1, sizeof(*h->progress));
	h->nprogress = 1;
	snprintf(h->progress[0].job, sizeof(h->progress[0].job), "vm01.root");
	snprintf(h->progress[0].phase, sizeof(h->progress[0].phase), "backup");
	h->progress[0].done = 13421772800ULL;
	h->progress[0].total = 53687091200ULL;
}

static inline void example_request_run(struct bk_msg *m)
{
	struct bk_msg_request *q = &m->u.request;

	bk_msg_init(m);
	m->kind = BK_MSG_REQUEST;
	bk_msg_request_init(q);
	head(&q->head, "KjT3nWq8ZrX2mGvLpBc5Hd", "2026-11-26T14:12:00Z");
	q->action = BK_REQUEST_RUN;
	snprintf(q->job, sizeof(q->job), "vm01.root");
	bk_strv_split(&q->tags, "manual:before-upgrade");
	snprintf(q->user, sizeof(q->user), "alice");
}

static inline void example_request_status(struct bk_msg *m)
{
	struct bk_msg_request *q = &m->u.request;

	bk_msg_init(m);
	m->kind = BK_MSG_REQUEST;
	bk_msg_request_init(q);
	head(&q->head, "RcX7pLm2TqW9zKbVn4Hd8G", "2026-11-26T14:13:00Z");
	q->action = BK_REQUEST_STATUS;
}

/* The answer to example_request_run, published to its reply_to. */
static inline void example_reply_accepted(struct bk_msg *m)
{
	struct bk_msg_reply *r = &m->u.reply;

	bk_msg_init(m);
	m->kind = BK_MSG_REPLY;
	bk_msg_reply_init(r);
	head(&r->head, "Pw4sTn8KcYb2XrLm6Gq3Hv", "2026-11-26T14:12:00.35Z");
	snprintf(r->request_id, sizeof(r->request_id), "KjT3nWq8ZrX2mGvLpBc5Hd");
	r->action = BK_REQUEST_RUN;
	snprintf(r->job, sizeof(r->job), "vm01.root");
	r->accepted = true;
	snprintf(r->job_id, sizeof(r->job_id), "Zq7LmW3xTc9KpRb2Vn5Hd8");
	r->message = strdup("manual backup dispatched to 'backy01'");
}

static inline void example_reply_refused(struct bk_msg *m)
{
	struct bk_msg_reply *r = &m->u.reply;

	bk_msg_init(m);
	m->kind = BK_MSG_REPLY;
	bk_msg_reply_init(r);
	head(&r->head, "Hn2VbQ8wLr5TzKc3Xp7Md4", "2026-11-26T14:14:00.2Z");
	snprintf(r->request_id, sizeof(r->request_id), "Fw9KdT2mXq4LzRc7Vb3Np6");
	r->action = BK_REQUEST_RUN;
	snprintf(r->job, sizeof(r->job), "vm99");
	snprintf(r->error_code, sizeof(r->error_code), "BK_EUSAGE");
	r->message = strdup("unknown job 'vm99'");
}

/* A scrub slice: the revisions not found intact for 29 days (1.1). */
static inline void example_verify_job(struct bk_msg *m)
{
	struct bk_msg_job *j = &m->u.job;

	bk_msg_init(m);
	m->kind = BK_MSG_JOB;
	bk_msg_job_init(j);
	head(&j->head, "Wm3XcT8kPq2ZrLbN5vHd7G", "2026-11-27T03:00:00Z");
	snprintf(j->job_id, sizeof(j->job_id), "Tq7ZkV2mXcW9pLbN4rHd8S");
	snprintf(j->job, sizeof(j->job), "vm01.root");
	snprintf(j->host, sizeof(j->host), "backy01");
	j->action = BK_ACTION_VERIFY;
	j->deadline = t("2026-11-27T09:00:00Z");
	j->attempt = 1;
	j->older_than = 29 * 86400;
}

/* A scrub that found one damaged revision (1.1). */
static inline void example_result_verify(struct bk_msg *m)
{
	struct bk_msg_result *r = &m->u.result;

	bk_msg_init(m);
	m->kind = BK_MSG_RESULT;
	bk_msg_result_init(r);
	head(&r->head, "Hc5LpW2qXz8TmVbK3nRd6F", "2026-11-27T03:04:10Z");
	snprintf(r->job_id, sizeof(r->job_id), "Tq7ZkV2mXcW9pLbN4rHd8S");
	snprintf(r->job, sizeof(r->job), "vm01.root");
	snprintf(r->host, sizeof(r->host), "backy01");
	r->action = BK_ACTION_VERIFY;
	r->outcome = BK_OUTCOME_FAILED;
	bk_msg_result_set_error(r, bk_error_name(BK_EVERIFY),
				"1 of 2 revisions checked are damaged and now distrusted", false);
	r->started = t("2026-11-27T03:00:01Z");
	r->finished = t("2026-11-27T03:04:09.5Z");
	r->has_verify = true;
	r->verify.checked = 2;
	r->verify.distrusted = 1;
	bk_strv_add(&r->verify.revisions, "Vy8kLgX5mFjnYcE9p6tWwR");
}

static inline void example_request_verify(struct bk_msg *m)
{
	struct bk_msg_request *q = &m->u.request;

	bk_msg_init(m);
	m->kind = BK_MSG_REQUEST;
	bk_msg_request_init(q);
	head(&q->head, "Pz4NcR7wLm2XqTbV9kHd3J", "2026-11-27T10:00:00Z");
	q->action = BK_REQUEST_VERIFY;
	snprintf(q->job, sizeof(q->job), "vm01.root");
	snprintf(q->user, sizeof(q->user), "alice");
}

struct example {
	const char *name;
	void (*make)(struct bk_msg *m);
};

static inline void ex_job_fc(struct bk_msg *m)
{
	example_job(m, BK_SOURCE_FLYINGCIRCUS);
}

static inline void ex_job_rbd(struct bk_msg *m)
{
	example_job(m, BK_SOURCE_RBD);
}

static inline void ex_job_file(struct bk_msg *m)
{
	example_job(m, BK_SOURCE_FILE);
}

static const struct example examples[] = {
	{"job-backup-flyingcircus", ex_job_fc},
	{"job-backup-rbd", ex_job_rbd},
	{"job-backup-file", ex_job_file},
	{"job-expire", example_expire_job},
	{"result-ok", example_result_ok},
	{"result-failed", example_result_failed},
	{"result-rejected", example_result_rejected},
	{"heartbeat", example_heartbeat},
	{"request-run", example_request_run},
	{"request-status", example_request_status},
	{"reply-accepted", example_reply_accepted},
	{"reply-refused", example_reply_refused},
	{"job-verify", example_verify_job},
	{"result-verify", example_result_verify},
	{"request-verify", example_request_verify},
};

#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

/* The encoding of example I (owned by the caller). */
static inline char *example_text(size_t i)
{
	struct bk_msg m;
	struct bk_buf buf;
	struct bk_err err = {0};
	char *s;

	examples[i].make(&m);
	bk_buf_init(&buf);
	if (bk_msg_encode(&m, &buf, &err) < 0)
		fail_msg("example %s does not encode: %s", examples[i].name, err.msg);
	s = bk_strdup(buf.p);
	bk_buf_release(&buf);
	bk_msg_release(&m);
	return s;
}

enum { JOB = 0, JOB_RBD = 1, JOB_FILE = 2, JOB_EXPIRE = 3, RES_OK = 4, RES_FAILED = 5,
       RES_REJECTED = 6, HEARTBEAT = 7, REQ_RUN = 8, REQ_STATUS = 9, REPLY_OK = 10,
       REPLY_REFUSED = 11, JOB_VERIFY = 12, RES_VERIFY = 13, REQ_VERIFY = 14 };

/* ---- helpers ---- */

#define PLACEHOLDER "\"@@value@@\""

/*
 * Set the dotted PATH of the message BASE to the raw text VALUE (NULL: delete
 * it).  VALUE goes into the text as it is, so it may be anything, even
 * invalid JSON or numbers jansson would refuse.
 */
static inline char *with(const char *base, const char *path, const char *value)
{
	json_error_t e;
	json_t *root = json_loads(base, 0, &e), *obj;
	char buf[256], *p, *dot, *at;
	char *text;
	struct bk_buf out;

	assert_non_null(root);
	snprintf(buf, sizeof(buf), "%s", path);
	obj = root;
	p = buf;
	while ((dot = strchr(p, '.')) != NULL) {
		*dot = '\0';
		obj = json_object_get(obj, p);
		assert_non_null(obj);
		p = dot + 1;
	}
	if (value)
		assert_int_equal(json_object_set_new(obj, p, json_string("@@value@@")), 0);
	else
		json_object_del(obj, p);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	at = strstr(text, PLACEHOLDER);
	if (!at)
		return text;
	bk_buf_init(&out);
	bk_buf_add(&out, text, (size_t)(at - text));
	bk_buf_adds(&out, value);
	bk_buf_adds(&out, at + strlen(PLACEHOLDER));
	free(text);
	return out.p; /* the buffer's memory, now owned by the caller */
}

static inline int decode_text(const char *text, struct bk_msg *m, struct bk_err *err)
{
	return bk_msg_decode(text, strlen(text), m, err);
}

static inline void expect_raw(const char *file, int line, const void *body, size_t len, int code,
		       const char *substring)
{
	struct bk_msg m;
	struct bk_err err = {0};
	int r = bk_msg_decode(body, len, &m, &err);

	if (r != code || !strstr(err.msg, substring)) {
		fail_msg("%s:%d: expected %d with '%s', got %d: %s", file, line, code, substring, r,
			 err.msg);
	}
	assert_int_equal(m.kind, BK_MSG_NONE);
	assert_int_equal(err.code, code);
}

/* Example BASE with PATH set to VALUE must be refused with CODE and SUBSTRING. */
static inline void expect_error(const char *file, int line, int base, const char *path,
			 const char *value, int code, const char *substring)
{
	char *b = example_text((size_t)base);
	char *text = with(b, path, value);

	expect_raw(file, line, text, strlen(text), code, substring);
	free(text);
	free(b);
}

#define REJECT(base, path, value, substring) \
	expect_error(__FILE__, __LINE__, base, path, value, BK_EPROTO, substring)
#define REJECT_RAW(text, substring) \
	expect_raw(__FILE__, __LINE__, text, strlen(text), BK_EPROTO, substring)

/* Example BASE with PATH set to VALUE must be accepted; the message in *M. */
static inline void expect_ok(const char *file, int line, int base, const char *path, const char *value,
		      struct bk_msg *m)
{
	char *b = example_text((size_t)base);
	char *text = with(b, path, value);
	struct bk_err err = {0};

	if (decode_text(text, m, &err) < 0)
		fail_msg("%s:%d: %s=%s refused: %s", file, line, path, value ? value : "(deleted)",
			 err.msg);
	free(text);
	free(b);
}

#define ACCEPT(base, path, value, m) expect_ok(__FILE__, __LINE__, base, path, value, m)

static inline void accept_and_release(const char *file, int line, int base, const char *path,
			       const char *value)
{
	struct bk_msg m;

	expect_ok(file, line, base, path, value, &m);
	bk_msg_release(&m);
}

#define ACCEPT1(base, path, value) accept_and_release(__FILE__, __LINE__, base, path, value)

/* Encode M, decode the text, check equality; returns the text (owned). */
static inline char *round_trip(const struct bk_msg *m)
{
	struct bk_msg back;
	struct bk_buf buf;
	struct bk_err err = {0};
	char *s;

	bk_buf_init(&buf);
	if (bk_msg_encode(m, &buf, &err) < 0)
		fail_msg("encode: %s", err.msg);
	if (decode_text(buf.p, &back, &err) < 0)
		fail_msg("decode of %s: %s", buf.p, err.msg);
	assert_true(bk_msg_equal(m, &back));
	assert_int_equal(back.kind, m->kind);
	bk_msg_release(&back);
	s = bk_strdup(buf.p);
	bk_buf_release(&buf);
	return s;
}

#endif
