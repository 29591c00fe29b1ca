/*
 * test_proto.c: the wire format (proto/proto.c): round trips of every kind,
 * every validation rule with its error message, versions, routing keys.
 *
 * Invalid messages are made from valid examples by changing one field with
 * jansson (set_path), so each case says exactly what is wrong with it.
 *
 * `test_proto --examples` prints the example messages, one per line
 * preceded by "# <name>", for docs/messages.md (see the note there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proto.h"

/* ---- example messages (also the examples of docs/messages.md) ---- */

static int64_t t(const char *iso)
{
	int64_t v = 0;

	assert_int_equal(bk_time_parse(iso, &v), 0);
	return v;
}

static void head(struct bk_msg_head *h, const char *id, const char *time)
{
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->time = t(time);
}

static void example_job(struct bk_msg *m, enum bk_source_type type)
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

static void example_expire_job(struct bk_msg *m)
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

static void example_result_ok(struct bk_msg *m)
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

static void example_result_failed(struct bk_msg *m)
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

static void example_result_rejected(struct bk_msg *m)
{
	struct bk_msg_result *r = &m->u.result;

	bk_msg_init(m);
	m->kind = BK_MSG_RESULT;
	bk_msg_result_init(r);
	head(&r->head, "ZpTbT7M3rHx8dGvKqWc2Ye", "2026-11-26T12:00:00.5Z");
	snprintf(r->host, sizeof(r->host), "backy01");
	r->outcome = BK_OUTCOME_REJECTED;
	bk_msg_result_set_error(r, bk_error_name(BK_EPROTO),
				"invalid job message: field 'job' is not a valid name (1 to 64 "
				"characters from [A-Za-z0-9._-], not starting with '.' or '-'): "
				"'../../etc'",
				false);
}

static void example_heartbeat(struct bk_msg *m)
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
}

static void example_request_run(struct bk_msg *m)
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

static void example_request_status(struct bk_msg *m)
{
	struct bk_msg_request *q = &m->u.request;

	bk_msg_init(m);
	m->kind = BK_MSG_REQUEST;
	bk_msg_request_init(q);
	head(&q->head, "RcX7pLm2TqW9zKbVn4Hd8G", "2026-11-26T14:13:00Z");
	q->action = BK_REQUEST_STATUS;
}

struct example {
	const char *name;
	void (*make)(struct bk_msg *m);
};

static void ex_job_fc(struct bk_msg *m)
{
	example_job(m, BK_SOURCE_FLYINGCIRCUS);
}

static void ex_job_rbd(struct bk_msg *m)
{
	example_job(m, BK_SOURCE_RBD);
}

static void ex_job_file(struct bk_msg *m)
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
};

#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

/* The encoding of example I (owned by the caller). */
static char *example_text(size_t i)
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
       RES_REJECTED = 6, HEARTBEAT = 7, REQ_RUN = 8, REQ_STATUS = 9 };

/* ---- helpers ---- */

#define PLACEHOLDER "\"@@value@@\""

/*
 * Set the dotted PATH of the message BASE to the raw text VALUE (NULL: delete
 * it).  VALUE goes into the text as it is, so it may be anything, even
 * invalid JSON or numbers jansson would refuse.
 */
static char *with(const char *base, const char *path, const char *value)
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

static int decode_text(const char *text, struct bk_msg *m, struct bk_err *err)
{
	return bk_msg_decode(text, strlen(text), m, err);
}

static void expect_raw(const char *file, int line, const void *body, size_t len, int code,
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
static void expect_error(const char *file, int line, int base, const char *path,
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
static void expect_ok(const char *file, int line, int base, const char *path, const char *value,
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

static void accept_and_release(const char *file, int line, int base, const char *path,
			       const char *value)
{
	struct bk_msg m;

	expect_ok(file, line, base, path, value, &m);
	bk_msg_release(&m);
}

#define ACCEPT1(base, path, value) accept_and_release(__FILE__, __LINE__, base, path, value)

/* Encode M, decode the text, check equality; returns the text (owned). */
static char *round_trip(const struct bk_msg *m)
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

/* ---- round trips ---- */

static void test_every_example_round_trips(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		struct bk_msg m;

		examples[i].make(&m);
		free(round_trip(&m));
		bk_msg_release(&m);
	}
}

static void test_job_fields_survive_round_trip(void **state)
{
	struct bk_msg m;
	struct bk_err err = {0};
	char *text;

	(void)state;
	example_job(&m, BK_SOURCE_FLYINGCIRCUS);
	text = example_text(JOB);
	bk_msg_release(&m);
	assert_int_equal(decode_text(text, &m, &err), 0);
	assert_int_equal(m.kind, BK_MSG_JOB);
	assert_string_equal(m.u.job.head.id, "7UpNw3sD5rLiJ3gM2k2kqT");
	assert_int_equal(m.u.job.head.time, t("2026-11-26T12:00:00.000123Z"));
	assert_int_equal(m.u.job.head.minor, 0);
	assert_string_equal(m.u.job.job_id, "dMuFXgd6YZrvXnpxQ3YcGa");
	assert_string_equal(m.u.job.job, "vm01.root");
	assert_string_equal(m.u.job.host, "backy01");
	assert_int_equal(m.u.job.action, BK_ACTION_BACKUP);
	assert_int_equal(m.u.job.tags.n, 2);
	assert_int_equal(m.u.job.attempt, 1);
	assert_int_equal(m.u.job.source.type, BK_SOURCE_FLYINGCIRCUS);
	assert_string_equal(m.u.job.source.pool, "rbd.ssd");
	assert_string_equal(m.u.job.source.vm, "vm01");
	assert_int_equal(m.u.job.schedule.n, 3);
	assert_string_equal(m.u.job.schedule.tags[0].name, "daily");
	assert_int_equal(m.u.job.schedule.tags[0].interval, 86400);
	assert_int_equal(m.u.job.schedule.tags[0].keep, 9);
	assert_non_null(strstr(text, "\"schema\":\"backy/1.0\",\"kind\":\"job\""));
	assert_non_null(strstr(text, "\"time\":\"2026-11-26T12:00:00.000123+00:00\""));
	bk_msg_release(&m);
	free(text);
}

static void test_result_fields_survive_round_trip(void **state)
{
	struct bk_msg m;
	struct bk_err err = {0};
	char *text;

	(void)state;
	text = example_text(RES_OK);
	assert_int_equal(decode_text(text, &m, &err), 0);
	assert_int_equal(m.u.result.outcome, BK_OUTCOME_OK);
	assert_int_equal(m.u.result.stats.size, 53687091200ULL);
	assert_true(m.u.result.stats.duration == 569.3);
	assert_null(m.u.result.error_message);
	bk_msg_release(&m);
	free(text);

	text = example_text(RES_FAILED);
	assert_int_equal(decode_text(text, &m, &err), 0);
	assert_string_equal(m.u.result.error_code, "BK_ESOURCE");
	assert_non_null(strstr(m.u.result.error_message, "not found"));
	assert_false(m.u.result.has_stats);
	bk_msg_release(&m);
	free(text);

	text = example_text(RES_REJECTED);
	assert_int_equal(decode_text(text, &m, &err), 0);
	assert_string_equal(m.u.result.job, "");
	assert_string_equal(m.u.result.job_id, "");
	assert_int_equal(m.u.result.action, BK_ACTION_NONE);
	assert_int_equal(m.u.result.started, 0);
	bk_msg_release(&m);
	free(text);
}

static void test_optional_fields_round_trip(void **state)
{
	struct bk_msg m;

	(void)state;
	/* transient errors, results with only some fields, fractional and integral durations */
	example_result_failed(&m);
	m.u.result.error_transient = true;
	free(round_trip(&m));
	m.u.result.has_stats = true;
	m.u.result.stats.duration = 2.0;
	free(round_trip(&m));
	m.u.result.stats.duration = 1e-300;
	free(round_trip(&m));
	m.u.result.stats.duration = 0.1 + 0.2;
	free(round_trip(&m));
	bk_msg_release(&m);

	example_heartbeat(&m);
	bk_strv_release(&m.u.heartbeat.running);
	m.u.heartbeat.busy = 0;
	m.u.heartbeat.slots = 0;
	m.u.heartbeat.free_bytes = INT64_MAX;
	free(round_trip(&m));
	bk_msg_release(&m);

	example_job(&m, BK_SOURCE_FILE);
	m.u.job.action = BK_ACTION_VERIFY;
	bk_strv_release(&m.u.job.tags);
	bk_schedule_release(&m.u.job.schedule);
	m.u.job.source.type = BK_SOURCE_NONE;
	bk_source_spec_set_filename(&m.u.job.source, NULL);
	free(round_trip(&m));
	bk_msg_release(&m);
}

static void test_encoding_is_canonical(void **state)
{
	(void)state;
	/* decoding and re-encoding an encoder's output gives the same bytes */
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		char *text = example_text(i);
		struct bk_msg m;
		struct bk_err err = {0};
		char *again;

		assert_int_equal(decode_text(text, &m, &err), 0);
		again = round_trip(&m);
		assert_string_equal(text, again);
		free(again);
		free(text);
		bk_msg_release(&m);
	}
}

static void test_equal_sees_every_difference(void **state)
{
	struct bk_msg a, b;

	(void)state;
	example_job(&a, BK_SOURCE_FLYINGCIRCUS);
	example_job(&b, BK_SOURCE_FLYINGCIRCUS);
	assert_true(bk_msg_equal(&a, &b));
	b.u.job.head.minor = 3; /* the minor is not part of the message */
	assert_true(bk_msg_equal(&a, &b));
	b.u.job.schedule.tags[1].keep++;
	assert_false(bk_msg_equal(&a, &b));
	b.u.job.schedule.tags[1].keep--;
	b.u.job.attempt = 2;
	assert_false(bk_msg_equal(&a, &b));
	b.u.job.attempt = 1;
	snprintf(b.u.job.source.vm, sizeof(b.u.job.source.vm), "vm02");
	assert_false(bk_msg_equal(&a, &b));
	bk_msg_release(&b);
	example_heartbeat(&b);
	assert_false(bk_msg_equal(&a, &b));
	bk_msg_release(&a);
	bk_msg_release(&b);
}

static void test_head_new_makes_fresh_ids(void **state)
{
	struct bk_msg_head a, b;

	(void)state;
	bk_clock_set(t("2026-11-26T12:00:00Z"));
	bk_msg_head_new(&a);
	bk_msg_head_new(&b);
	bk_clock_set(0);
	assert_int_equal(strlen(a.id), BK_ID_SHORT_LEN);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(a.time, t("2026-11-26T12:00:00Z"));
}

/* ---- envelope, syntax and limits ---- */

static void test_rejects_non_objects_and_bad_syntax(void **state)
{
	(void)state;
	REJECT_RAW("", "at line");
	REJECT_RAW("[]", "not a JSON object");
	REJECT_RAW("[1,2]", "not a JSON object");
	REJECT_RAW("\"job\"", "'[' or '{' expected");
	REJECT_RAW("42", "'[' or '{' expected");
	REJECT_RAW("null", "'[' or '{' expected");
	REJECT_RAW("{", "at line 1");
	REJECT_RAW("{\"schema\":\"backy/1.0\"} x", "end of file expected");
	REJECT_RAW("{\"schema\":\"backy/1.0\",}", "at line 1");
	REJECT_RAW("{\"schema\":'backy/1.0'}", "invalid token");
	REJECT_RAW("{\"schema\":\"backy/1.0\xff\"}", "unable to decode byte 0xff");
	REJECT_RAW("{}", "missing field 'schema'");
	expect_raw(__FILE__, __LINE__, "{\"a\":\0}", 7, BK_EPROTO, "invalid message");
}

static void test_rejects_oversized_body(void **state)
{
	size_t len = BK_MSG_MAX_BODY + 1;
	char *big = bk_malloc(len);
	char *text = example_text(JOB);

	(void)state;
	/* a valid message padded with whitespace: refused before parsing */
	memset(big, ' ', len);
	memcpy(big, text, strlen(text));
	expect_raw(__FILE__, __LINE__, big, len, BK_EPROTO, "larger than 65536 bytes");
	free(big);
	free(text);
}

static void test_rejects_deep_nesting(void **state)
{
	char deep[4096];
	size_t n = 0;

	(void)state;
	/* 9 levels: the envelope plus 8 nested arrays in an unknown field of a newer minor */
	expect_error(__FILE__, __LINE__, JOB, "x", "[[[[[[[[1]]]]]]]]", BK_EPROTO,
		     "nested deeper than 8 levels");
	/* 8 levels are fine in a newer minor */
	{
		char *b = example_text(JOB), *t1 = with(b, "schema", "\"backy/1.9\""),
		     *t2 = with(t1, "x", "[[[[[[[1]]]]]]]");
		struct bk_msg m;
		struct bk_err err = {0};

		assert_int_equal(decode_text(t2, &m, &err), 0);
		bk_msg_release(&m);
		free(b);
		free(t1);
		free(t2);
	}
	/* thousands of brackets never reach jansson's recursion */
	for (n = 0; n < 2000; n++)
		deep[n] = '[';
	deep[n] = '\0';
	REJECT_RAW(deep, "nested deeper than 8 levels");
	/* brackets inside strings do not count */
	REJECT(JOB, "source.image", "\"[[[[[[[[[[[[\"", "is not a valid image name");
}

static void test_rejects_duplicate_keys(void **state)
{
	char *text = example_text(JOB);
	char *dup;
	size_t len = strlen(text);

	(void)state;
	/* top level: a second "job" at the end */
	dup = bk_malloc(len + 64);
	memcpy(dup, text, len - 1);
	snprintf(dup + len - 1, 64, ",\"job\":\"other\"}");
	REJECT_RAW(dup, "duplicate object key");
	/* nested: two "keep" in one schedule entry */
	REJECT_RAW("{\"schema\":\"backy/1.0\",\"kind\":\"job\",\"schedule\":{\"daily\":"
		   "{\"interval\":\"1d\",\"keep\":1,\"keep\":2}}}",
		   "duplicate object key");
	free(dup);
	free(text);
}

static void test_rejects_nul_in_strings(void **state)
{
	(void)state;
	REJECT(JOB, "job", "\"vm01\\u0000/../../etc\"", "\\u0000 is not allowed");
	REJECT(RES_FAILED, "error.message", "\"a\\u0000b\"", "\\u0000 is not allowed");
	REJECT_RAW("{\"sch\\u0000ema\":\"backy/1.0\"}", "NUL byte in object key not supported");
}

static void test_rejects_unknown_major(void **state)
{
	(void)state;
	expect_error(__FILE__, __LINE__, JOB, "schema", "\"backy/2.0\"", BK_EVERSION,
		     "unsupported message version 'backy/2.0' (this is backy/1.0)");
	expect_error(__FILE__, __LINE__, JOB, "schema", "\"backy/0.9\"", BK_EVERSION,
		     "unsupported message version");
	/* the version is checked before anything else of the message */
	expect_error(__FILE__, __LINE__, HEARTBEAT, "schema", "\"backy/3.1\"", BK_EVERSION,
		     "'backy/3.1'");
	REJECT(JOB, "schema", "\"backy/1\"", "field 'schema' is not 'backy/MAJOR.MINOR': 'backy/1'");
	REJECT(JOB, "schema", "\"backy/01.0\"", "is not 'backy/MAJOR.MINOR'");
	REJECT(JOB, "schema", "\"backy/1.0 \"", "is not 'backy/MAJOR.MINOR'");
	REJECT(JOB, "schema", "\"backy/1.-1\"", "is not 'backy/MAJOR.MINOR'");
	REJECT(JOB, "schema", "\"backy/99999.0\"", "is not 'backy/MAJOR.MINOR'");
	REJECT(JOB, "schema", "\"other/1.0\"", "is not 'backy/MAJOR.MINOR': 'other/1.0'");
	REJECT(JOB, "schema", "1.0", "field 'schema' must be a string");
	REJECT(JOB, "schema", NULL, "missing field 'schema'");
}

static void test_accepts_higher_minor_ignoring_unknown_fields(void **state)
{
	struct bk_msg m;
	char *b = example_text(JOB), *t1 = with(b, "schema", "\"backy/1.7\"");
	char *t2 = with(t1, "priority", "{\"level\":3}"), *t3 = with(t2, "source.snapshot", "true");
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(decode_text(t3, &m, &err), 0);
	assert_int_equal(m.u.job.head.minor, 7);
	assert_string_equal(m.u.job.job, "vm01.root");
	/* and re-encoding writes our version without the unknown fields */
	{
		char *again = round_trip(&m);

		assert_non_null(strstr(again, "backy/1.0"));
		assert_null(strstr(again, "priority"));
		free(again);
	}
	bk_msg_release(&m);
	/* known fields stay strict in a newer minor */
	{
		char *t4 = with(t3, "job", "\"../x\"");

		REJECT_RAW(t4, "field 'job' is not a valid name");
		free(t4);
	}
	free(b);
	free(t1);
	free(t2);
	free(t3);
}

static void test_rejects_unknown_fields_at_own_minor(void **state)
{
	(void)state;
	REJECT(JOB, "priority", "3", "unknown field 'priority'");
	REJECT(JOB, "source.token", "\"secret\"", "unknown field 'source.token'");
	REJECT(JOB, "source.filename", "\"/x\"", "unknown field 'source.filename'");
	REJECT(JOB, "schedule.daily.spread", "1", "unknown field 'schedule.daily.spread'");
	REJECT(RES_OK, "stats.chunks", "1", "unknown field 'stats.chunks'");
	REJECT(RES_FAILED, "error.details", "\"x\"", "unknown field 'error.details'");
	REJECT(HEARTBEAT, "load", "0.5", "unknown field 'load'");
	REJECT(REQ_RUN, "reply_to", "\"amq.rabbitmq.reply-to\"", "unknown field 'reply_to'");
}

static void test_rejects_unknown_kind(void **state)
{
	(void)state;
	REJECT(JOB, "kind", "\"jobs\"",
	       "field 'kind' must be one of 'job', 'result', 'heartbeat', 'request', not 'jobs'");
	REJECT(JOB, "kind", NULL, "missing field 'kind'");
	/* the kind decides which fields belong: a job relabelled as a request */
	REJECT(JOB, "kind", "\"request\"", "invalid request message: unknown field 'job_id'");
}

static void test_generic_limits_bind_ignored_fields(void **state)
{
	char big[BK_MSG_MAX_PATH + 16];
	char list[1024];
	char obj[2048];
	size_t n = 0;
	char *b = example_text(HEARTBEAT), *newer = with(b, "schema", "\"backy/1.1\"");
	char *text;

	(void)state;
	big[0] = '"';
	memset(big + 1, 'a', BK_MSG_MAX_PATH + 1);
	snprintf(big + BK_MSG_MAX_PATH + 2, 8, "\"");
	text = with(newer, "x", big);
	REJECT_RAW(text, "field 'x' holds a string longer than 4096 bytes");
	free(text);

	n = (size_t)snprintf(list, sizeof(list), "[");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "", i);
	snprintf(list + n, sizeof(list) - n, "]");
	text = with(newer, "x", list);
	REJECT_RAW(text, "field 'x' has more than 64 items");
	free(text);

	n = (size_t)snprintf(obj, sizeof(obj), "{");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(obj + n, sizeof(obj) - n, "%s\"k%d\":1", i ? "," : "", i);
	snprintf(obj + n, sizeof(obj) - n, "}");
	text = with(newer, "x", obj);
	REJECT_RAW(text, "an object has more than 64 members");
	free(text);
	free(newer);
	free(b);
}

/* ---- names, ids, strings ---- */

static void test_rejects_bad_job_names(void **state)
{
	static const char *const bad[] = {
		"\"../../etc\"", "\"..\"", "\".\"", "\"a/b\"", "\"/etc\"", "\".hidden\"", "\"-rf\"",
		"\"a b\"", "\"vm\\u00e9\"", "\"tab\\there\"", "\"a\\\\b\"", "\"x:y\"",
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", /* 65 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		REJECT(JOB, "job", bad[i], "field 'job' is not a valid name (1 to 64 characters");
		REJECT(JOB, "host", bad[i], "field 'host' is not a valid name");
		REJECT(HEARTBEAT, "host", bad[i], "field 'host' is not a valid name");
		REJECT(REQ_RUN, "job", bad[i], "field 'job' is not a valid name");
		REJECT(JOB, "source.vm", bad[i], "field 'source.vm' is not a valid name");
	}
	REJECT(JOB, "job", "\"\"", "field 'job' must not be empty");
	REJECT(JOB, "job", "\"../../etc\"", "'../../etc'");
	/* 64 characters and inner dots, dashes and underscores are fine */
	ACCEPT1(JOB, "job",
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
	ACCEPT1(JOB, "job", "\"vm-01_a.b\"");
	ACCEPT1(JOB, "job", "\"0\"");
	assert_true(bk_msg_name_valid("vm01.root"));
	assert_false(bk_msg_name_valid(".."));
	assert_false(bk_msg_name_valid(""));
}

static void test_error_messages_quote_values_safely(void **state)
{
	(void)state;
	/* control characters and non-ASCII are shown as '?', long values cut */
	REJECT(JOB, "job", "\"a\\u001b[31mb\"", "'a?[31mb'");
	REJECT(JOB, "job",
	       "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
	       "xxxxxxxx...'");
}

static void test_rejects_bad_ids(void **state)
{
	(void)state;
	REJECT(JOB, "id", "\"a/b\"", "field 'id' is not a valid id");
	REJECT(JOB, "id", "\"-x\"", "field 'id' is not a valid id");
	REJECT(JOB, "id", "\"a.b\"", "field 'id' is not a valid id");
	REJECT(JOB, "job_id", "\"../x\"", "field 'job_id' is not a valid id");
	REJECT(RES_OK, "revision", "\"../../latest\"", "field 'revision' is not a valid id");
	REJECT(JOB, "id", NULL, "missing field 'id'");
	/* uuids are ids too */
	ACCEPT1(JOB, "id", "\"0f8fad5b-d9cb-469f-a165-70867728950e\"");
}

static void test_rejects_bad_times(void **state)
{
	(void)state;
	REJECT(JOB, "time", "\"2026-11-26\"", "field 'time' is not an ISO 8601 UTC time");
	REJECT(JOB, "time", "\"2026-11-26T12:00:00\"", "not an ISO 8601 UTC time");
	REJECT(JOB, "time", "\"2026-11-26 12:00:00Z\"", "not an ISO 8601 UTC time");
	REJECT(JOB, "time", "\"2026-02-30T12:00:00Z\"", "not an ISO 8601 UTC time");
	REJECT(JOB, "time", "\"yesterday\"", "not an ISO 8601 UTC time: 'yesterday'");
	REJECT(JOB, "time", "1764158400", "field 'time' must be a string");
	REJECT(JOB, "time", "\"1969-12-31T23:59:59Z\"", "field 'time' is out of range");
	REJECT(JOB, "time", "\"1970-01-01T00:00:00Z\"", "field 'time' is out of range");
	REJECT(JOB, "deadline", "\"9999-12-31T23:59:59-01:00\"", "field 'deadline' is out of range");
	REJECT(JOB, "deadline", "\"2026-11-26T11:00:00Z\"", "field 'deadline' is before field 'time'");
	REJECT(RES_OK, "finished", "\"2026-11-26T11:00:00Z\"",
	       "field 'finished' is before field 'started'");
	/* offsets are converted to UTC */
	{
		struct bk_msg m;

		ACCEPT(JOB, "time", "\"2026-11-26T13:00:00.000123+01:00\"", &m);
		assert_int_equal(m.u.job.head.time, t("2026-11-26T12:00:00.000123Z"));
		bk_msg_release(&m);
	}
}

static void test_rejects_wrong_types(void **state)
{
	(void)state;
	REJECT(JOB, "job", "42", "field 'job' must be a string");
	REJECT(JOB, "job", "null", "field 'job' must be a string");
	REJECT(JOB, "tags", "\"daily\"", "field 'tags' must be an array");
	REJECT(JOB, "tags", "[\"daily\",1]", "field 'tags' must hold strings only");
	REJECT(JOB, "attempt", "\"1\"", "field 'attempt' must be an integer");
	REJECT(JOB, "attempt", "1.0", "field 'attempt' must be an integer");
	REJECT(JOB, "attempt", "true", "field 'attempt' must be an integer");
	REJECT(JOB, "source", "\"rbd\"", "field 'source' must be an object");
	REJECT(JOB, "schedule", "[]", "field 'schedule' must be an object");
	REJECT(JOB, "schedule.daily", "\"1d:7\"", "field 'schedule.daily' must be an object");
	REJECT(RES_OK, "stats.duration", "\"1s\"", "field 'stats.duration' must be a number");
	REJECT(RES_FAILED, "error.transient", "1", "field 'error.transient' must be a boolean");
	REJECT(RES_FAILED, "error", "\"boom\"", "field 'error' must be an object");
	REJECT(HEARTBEAT, "running", "{}", "field 'running' must be an array");
}

static void test_rejects_negative_and_out_of_range_numbers(void **state)
{
	(void)state;
	REJECT(JOB, "attempt", "-1", "field 'attempt' must not be negative");
	REJECT(JOB, "attempt", "0", "field 'attempt' must be between 1 and 1000, not 0");
	REJECT(JOB, "attempt", "1001", "must be between 1 and 1000, not 1001");
	REJECT(JOB, "attempt", "99999999999999999999", "too big");
	REJECT(JOB, "schedule.daily.keep", "0", "field 'schedule.daily.keep' must be between 1");
	REJECT(JOB, "schedule.daily.keep", "-3", "must not be negative");
	REJECT(RES_OK, "stats.size", "-1", "field 'stats.size' must not be negative");
	REJECT(RES_OK, "stats.bytes_written", "-9223372036854775808", "must not be negative");
	REJECT(RES_OK, "stats.duration", "-0.5", "field 'stats.duration' must not be negative");
	REJECT(RES_OK, "stats.duration", "1e10", "field 'stats.duration' must be at most");
	REJECT(RES_OK, "stats.duration", "1e999", "overflow");
	REJECT(HEARTBEAT, "slots", "1025", "field 'slots' must be between 0 and 1024");
	REJECT(HEARTBEAT, "free_bytes", "-1", "field 'free_bytes' must not be negative");
	ACCEPT1(RES_OK, "stats.size", "9223372036854775807");
	ACCEPT1(RES_OK, "stats.duration", "0");
	ACCEPT1(RES_OK, "stats.duration", "7");
}

static void test_rejects_missing_required_fields(void **state)
{
	static const struct {
		int base;
		const char *field;
	} required[] = {
		{JOB, "id"},          {JOB, "time"},          {JOB, "job_id"},
		{JOB, "job"},         {JOB, "host"},          {JOB, "action"},
		{JOB, "deadline"},    {JOB, "attempt"},       {JOB, "source"},
		{JOB, "source.type"}, {JOB, "source.pool"},   {JOB, "source.image"},
		{JOB, "source.vm"},   {JOB_FILE, "source.filename"},
		{JOB, "schedule.daily.interval"},             {JOB, "schedule.daily.keep"},
		{RES_OK, "job_id"},   {RES_OK, "job"},        {RES_OK, "host"},
		{RES_OK, "action"},   {RES_OK, "outcome"},    {RES_OK, "started"},
		{RES_OK, "finished"}, {RES_OK, "stats.size"}, {RES_OK, "stats.duration"},
		{RES_FAILED, "error"}, {RES_FAILED, "error.code"}, {RES_FAILED, "error.message"},
		{RES_REJECTED, "host"}, {HEARTBEAT, "host"},  {HEARTBEAT, "version"},
		{HEARTBEAT, "slots"}, {HEARTBEAT, "busy"},    {HEARTBEAT, "free_bytes"},
		{HEARTBEAT, "running"}, {REQ_RUN, "action"},  {REQ_RUN, "job"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want), "missing field '%s'", required[i].field);
		REJECT(required[i].base, required[i].field, NULL, want);
	}
}

static void test_optional_fields_may_be_omitted(void **state)
{
	struct bk_msg m;

	(void)state;
	ACCEPT(JOB, "schedule", NULL, &m);
	assert_int_equal(m.u.job.schedule.n, 0);
	bk_msg_release(&m);
	ACCEPT1(JOB_EXPIRE, "tags", NULL);
	ACCEPT1(RES_OK, "stats", NULL);
	ACCEPT1(RES_OK, "revision", NULL);
	ACCEPT1(RES_OK, "tags", NULL);
	ACCEPT1(RES_FAILED, "error.transient", NULL);
	ACCEPT1(REQ_RUN, "tags", NULL);
	ACCEPT1(REQ_RUN, "user", NULL);
	ACCEPT1(REQ_STATUS, "job", "\"vm01.root\"");
	/* verify and expire jobs need no source */
	ACCEPT1(JOB_EXPIRE, "source", NULL);
	ACCEPT1(JOB_EXPIRE, "action", "\"verify\"");
}

/* ---- per-kind rules ---- */

static void test_job_tags_and_schedule_rules(void **state)
{
	(void)state;
	REJECT(JOB, "tags", "[]", "field 'tags' must not be empty for a backup");
	REJECT(JOB, "tags", NULL, "field 'tags' must not be empty for a backup");
	REJECT(JOB, "tags", "[\"daily\",\"daily\"]", "field 'tags' lists 'daily' twice");
	REJECT(JOB, "tags", "[\"da ily\"]", "field 'tags' holds an invalid tag");
	REJECT(JOB, "tags", "[\":x\"]", "field 'tags' holds an invalid tag");
	REJECT(JOB, "tags", "[\"\"]", "field 'tags' holds an invalid tag");
	REJECT(JOB, "action", "\"restore\"",
	       "field 'action' must be one of 'backup', 'expire', 'verify', not 'restore'");
	REJECT(JOB, "schedule", "{}", "field 'schedule' must not be empty");
	REJECT(JOB, "schedule.daily.interval", "\"1y\"",
	       "field 'schedule.daily.interval' is not a duration (N[wdhms]): '1y'");
	REJECT(JOB, "schedule.daily.interval", "\"0d\"", "is not a duration");
	REJECT(JOB, "schedule.daily.interval", "\"1d,x=1d\"", "is not a duration");
	REJECT(JOB, "schedule.manual:x", "{\"interval\":\"1d\",\"keep\":1}",
	       "field 'schedule' has an invalid tag name: 'manual:x'");
	REJECT(JOB, "schedule.a=b", "{\"interval\":\"1d\",\"keep\":1}",
	       "field 'schedule' has an invalid tag name: 'a=b'");
	ACCEPT1(JOB, "schedule.hourly", "{\"interval\":\"60m\",\"keep\":24}");
	ACCEPT1(JOB, "tags", "[\"manual:before-upgrade\"]");
}

static void test_job_source_rules(void **state)
{
	char path[BK_MSG_MAX_PATH + 16];

	(void)state;
	REJECT(JOB, "source.type", "\"ceph\"",
	       "field 'source.type' must be one of 'file', 'rbd', 'flyingcircus', not 'ceph'");
	REJECT(JOB_FILE, "source.filename", "\"images/vm01.img\"",
	       "field 'source.filename' is not an absolute path");
	REJECT(JOB_FILE, "source.filename", "\"/srv/../etc/shadow\"", "is not an absolute path");
	REJECT(JOB_FILE, "source.filename", "\"/srv/images/..\"", "is not an absolute path");
	REJECT(JOB_FILE, "source.filename", "\"/srv/./x\"", "is not an absolute path");
	REJECT(JOB_FILE, "source.filename", "\"/srv/x\\ny\"", "is not an absolute path");
	REJECT(JOB_FILE, "source.filename", "\"\"", "field 'source.filename' must not be empty");
	ACCEPT1(JOB_FILE, "source.filename", "\"/srv/..x/.y/z..\"");
	ACCEPT1(JOB_FILE, "source.filename", "\"/dev/vg0/vm01 disk\"");
	/* 4096 bytes are fine, 4097 are not */
	path[0] = '"';
	path[1] = '/';
	memset(path + 2, 'a', BK_MSG_MAX_PATH - 1);
	snprintf(path + BK_MSG_MAX_PATH + 1, 8, "\"");
	ACCEPT1(JOB_FILE, "source.filename", path);
	path[BK_MSG_MAX_PATH + 1] = 'a';
	snprintf(path + BK_MSG_MAX_PATH + 2, 8, "\"");
	REJECT(JOB_FILE, "source.filename", path,
	       "field 'filename' holds a string longer than 4096 bytes");
	REJECT(JOB, "source.pool", "\"rbd/ssd\"", "field 'source.pool' is not a valid pool name");
	REJECT(JOB, "source.pool", "\"..\"", "is not a valid pool name");
	REJECT(JOB, "source.pool", "\"-x\"", "is not a valid pool name");
	REJECT(JOB, "source.image", "\"vm01@snap\"", "field 'source.image' is not a valid image name");
	ACCEPT1(JOB, "source.pool", "\".rgw.root\"");
	/* fields of another source type are unknown */
	REJECT(JOB_RBD, "source.vm", "\"vm01\"", "unknown field 'source.vm'");
}

static void test_result_rules(void **state)
{
	struct bk_msg m;
	char msg[BK_MSG_MAX_TEXT + 8];

	(void)state;
	REJECT(RES_OK, "error", "{\"code\":\"EIO\",\"message\":\"x\"}",
	       "field 'error' is not allowed in an ok result");
	REJECT(RES_FAILED, "error", NULL, "missing field 'error' (required in a failed result)");
	ACCEPT1(RES_FAILED, "outcome", "\"skipped\"");
	REJECT(RES_OK, "outcome", "\"done\"",
	       "field 'outcome' must be one of 'ok', 'failed', 'skipped', 'rejected', not 'done'");
	REJECT(RES_FAILED, "error.code", "\"eio\"", "field 'error.code' is not a valid error code");
	REJECT(RES_FAILED, "error.code", "\"1EIO\"", "is not a valid error code");
	REJECT(RES_FAILED, "error.message", "\"\"", "field 'error.message' must not be empty");
	REJECT(RES_FAILED, "error.message", "\"a\\u001bb\"",
	       "field 'error.message' holds control characters");
	ACCEPT1(RES_FAILED, "error.message", "\"line one\\n\\tline two \\u00e9\"");
	msg[0] = '"';
	memset(msg + 1, 'm', BK_MSG_MAX_TEXT + 1);
	snprintf(msg + BK_MSG_MAX_TEXT + 2, sizeof(msg) - BK_MSG_MAX_TEXT - 2, "\"");
	REJECT(RES_FAILED, "error.message", msg, "field 'error.message' is longer than 1024 bytes");
	/* only rejected results may lack the job */
	REJECT(RES_FAILED, "job", NULL, "missing field 'job'");
	REJECT(RES_FAILED, "job_id", NULL, "missing field 'job_id'");
	REJECT(RES_REJECTED, "job", "\"../x\"", "field 'job' is not a valid name");
	ACCEPT(RES_REJECTED, "job", "\"vm01\"", &m);
	assert_string_equal(m.u.result.job, "vm01");
	bk_msg_release(&m);
	REJECT(RES_OK, "tags", "[\"daily\",\"daily\"]", "lists 'daily' twice");
}

static void test_heartbeat_rules(void **state)
{
	(void)state;
	REJECT(HEARTBEAT, "busy", "5", "field 'busy' is larger than field 'slots'");
	REJECT(HEARTBEAT, "slots", "1", "field 'busy' is larger than field 'slots'");
	REJECT(HEARTBEAT, "running", "[\"a\",\"b\",\"c\",\"d\",\"e\"]",
	       "field 'running' lists more jobs than field 'slots'");
	REJECT(HEARTBEAT, "running", "[\"../x\"]", "field 'running' holds an invalid job name");
	REJECT(HEARTBEAT, "running", "[\"a\",\"a\"]", "field 'running' lists 'a' twice");
	REJECT(HEARTBEAT, "version", "\"1.0 beta\"", "field 'version' is not a valid version");
	ACCEPT1(HEARTBEAT, "version", "\"2.1.0+deb12u1~rc1\"");
	ACCEPT1(HEARTBEAT, "running", "[]");
}

static void test_request_rules(void **state)
{
	struct bk_msg m;

	(void)state;
	REJECT(REQ_RUN, "action", "\"backup\"",
	       "field 'action' must be one of 'run', 'expire', 'status', not 'backup'");
	REJECT(REQ_STATUS, "action", "\"expire\"", "missing field 'job'");
	REJECT(REQ_STATUS, "tags", "[\"daily\"]", "field 'tags' is only allowed in run requests");
	REJECT(REQ_RUN, "user", "\"alice smith\"", "field 'user' is not a valid user name");
	ACCEPT(REQ_RUN, "user", "\"alice@example.com\"", &m);
	assert_string_equal(m.u.request.user, "alice@example.com");
	bk_msg_release(&m);
	REJECT(REQ_RUN, "tags", "[\"manual:\"]", "field 'tags' holds an invalid tag");
}

/* ---- encoder, routing, helpers ---- */

static void test_encoder_refuses_invalid_messages(void **state)
{
	struct bk_msg m;
	struct bk_buf buf;
	struct bk_err err = {0};

	(void)state;
	bk_buf_init(&buf);
	bk_buf_adds(&buf, "keep");

	example_job(&m, BK_SOURCE_FLYINGCIRCUS);
	snprintf(m.u.job.job, sizeof(m.u.job.job), "../../etc");
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "cannot encode job message: invalid job message: field "
					"'job' is not a valid name"));
	bk_msg_release(&m);

	bk_err_clear(&err);
	example_result_ok(&m);
	m.u.result.stats.duration = NAN;
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "field 'duration' has no valid value"));
	m.u.result.stats.duration = 1;
	bk_err_clear(&err);
	m.u.result.stats.size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "field 'size' has no valid value"));
	bk_msg_release(&m);

	bk_err_clear(&err);
	example_result_ok(&m);
	m.u.result.outcome = (enum bk_msg_outcome)17;
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "field 'outcome' has no valid value"));
	bk_msg_release(&m);

	bk_err_clear(&err);
	example_heartbeat(&m);
	m.u.heartbeat.head.id[0] = '\0';
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "field 'id' must not be empty"));
	bk_msg_release(&m);

	bk_err_clear(&err);
	example_result_failed(&m);
	bk_msg_result_set_error(&m.u.result, "EIO", "bad \xff utf-8", false);
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "field 'message' has no valid value"));
	bk_msg_release(&m);

	bk_err_clear(&err);
	bk_msg_init(&m);
	assert_int_equal(bk_msg_encode(&m, &buf, &err), BK_EPROTO);
	/* nothing was appended by the failures */
	assert_string_equal(buf.p, "keep");
	bk_buf_release(&buf);
}

static void test_set_error_cuts_and_cleans_text(void **state)
{
	struct bk_msg m;
	char text[2048];

	(void)state;
	example_result_failed(&m);
	bk_msg_result_set_error(&m.u.result, "EIO", "read failed:\r\x1b[0m at block 7\n", true);
	assert_string_equal(m.u.result.error_message, "read failed:??[0m at block 7\n");
	free(round_trip(&m));
	/* 1023 'a' then a two-byte character across the limit: cut before it */
	memset(text, 'a', BK_MSG_MAX_TEXT - 1);
	snprintf(text + BK_MSG_MAX_TEXT - 1, sizeof(text) - BK_MSG_MAX_TEXT + 1, "\xc3\xa9tail");
	bk_msg_result_set_error(&m.u.result, "EIO", text, false);
	assert_int_equal(strlen(m.u.result.error_message), BK_MSG_MAX_TEXT - 1);
	free(round_trip(&m));
	bk_msg_release(&m);
}

static void test_routing_keys(void **state)
{
	struct bk_msg m;
	char key[BK_MSG_ROUTING_KEY_MAX + 1];

	(void)state;
	example_result_ok(&m);
	bk_msg_routing_key(&m, key);
	assert_string_equal(key, "backup.ok.backy01.vm01:root");
	snprintf(m.u.result.host, sizeof(m.u.result.host), "backy01.dc1.example.com");
	bk_msg_routing_key_result(&m.u.result, key);
	assert_string_equal(key, "backup.ok.backy01:dc1:example:com.vm01:root");
	bk_msg_release(&m);

	example_result_rejected(&m);
	bk_msg_routing_key(&m, key);
	assert_string_equal(key, "-.rejected.backy01.-");
	bk_msg_release(&m);

	example_result_failed(&m);
	m.u.result.action = BK_ACTION_VERIFY;
	memset(m.u.result.host, 'h', BK_MSG_NAME_MAX);
	memset(m.u.result.job, 'j', BK_MSG_NAME_MAX);
	bk_msg_routing_key(&m, key);
	assert_int_equal(strlen(key), strlen("verify.failed.") + 2 * BK_MSG_NAME_MAX + 1);
	assert_true(strlen(key) <= BK_MSG_ROUTING_KEY_MAX);
	bk_msg_release(&m);

	example_job(&m, BK_SOURCE_RBD);
	snprintf(m.u.job.host, sizeof(m.u.job.host), "backy01.example.com");
	bk_msg_routing_key(&m, key);
	assert_string_equal(key, "backy01.example.com");
	bk_msg_release(&m);
	example_heartbeat(&m);
	bk_msg_routing_key(&m, key);
	assert_string_equal(key, "backy01");
	bk_msg_release(&m);
	example_request_run(&m);
	bk_msg_routing_key(&m, key);
	assert_string_equal(key, "request");
	bk_msg_release(&m);
}

static void test_error_code_names(void **state)
{
	(void)state;
	assert_string_equal(bk_error_name(BK_ESOURCE), "BK_ESOURCE");
	assert_string_equal(bk_error_name(BK_EVERSION), "BK_EVERSION");
	assert_string_equal(bk_error_name(-5), "EIO");
	assert_string_equal(bk_error_name(-28), "ENOSPC");
	assert_string_equal(bk_error_name(0), "EUNKNOWN");
	assert_string_equal(bk_error_name(-99999), "EUNKNOWN");
	assert_int_equal(bk_msg_errcode_parse("BK_ELOCKED"), BK_ELOCKED);
	assert_int_equal(bk_msg_errcode_parse("ENOSPC"), -28);
	assert_int_equal(bk_msg_errcode_parse("BK_EFUTURE"), 0);
	assert_string_equal(bk_strerror(BK_EPROTO), "invalid message");
	assert_string_equal(bk_strerror(BK_EVERSION), "unsupported message version");
}

static void test_names_of_enums(void **state)
{
	(void)state;
	assert_string_equal(bk_msg_kind_name(BK_MSG_HEARTBEAT), "heartbeat");
	assert_null(bk_msg_kind_name(BK_MSG_NONE));
	assert_string_equal(bk_msg_action_name(BK_ACTION_VERIFY), "verify");
	assert_null(bk_msg_action_name((enum bk_msg_action)99));
	assert_string_equal(bk_msg_outcome_name(BK_OUTCOME_REJECTED), "rejected");
	assert_string_equal(bk_source_type_name(BK_SOURCE_FLYINGCIRCUS), "flyingcircus");
	assert_string_equal(bk_msg_request_action_name(BK_REQUEST_STATUS), "status");
}

static void test_peek_salvages_what_it_can(void **state)
{
	struct bk_msg_peek p;
	char *b = example_text(JOB), *bad = with(b, "host", "\"../x\"");
	char *bad2 = with(bad, "job", "\"../y\"");

	(void)state;
	bk_msg_peek(bad, strlen(bad), &p);
	assert_int_equal(p.kind, BK_MSG_JOB);
	assert_string_equal(p.id, "7UpNw3sD5rLiJ3gM2k2kqT");
	assert_string_equal(p.job_id, "dMuFXgd6YZrvXnpxQ3YcGa");
	assert_string_equal(p.job, "vm01.root");
	assert_int_equal(p.action, BK_ACTION_BACKUP);
	bk_msg_peek(bad2, strlen(bad2), &p);
	assert_string_equal(p.job, "");
	assert_string_equal(p.job_id, "dMuFXgd6YZrvXnpxQ3YcGa");
	bk_msg_peek("not json", 8, &p);
	assert_int_equal(p.kind, BK_MSG_NONE);
	assert_string_equal(p.id, "");
	bk_msg_peek("[[[[[[[[[[[[[[[[[[[[", 20, &p);
	assert_int_equal(p.kind, BK_MSG_NONE);
	free(b);
	free(bad);
	free(bad2);
}

static void test_release_is_idempotent(void **state)
{
	struct bk_msg m;

	(void)state;
	example_job(&m, BK_SOURCE_FILE);
	bk_msg_release(&m);
	assert_int_equal(m.kind, BK_MSG_NONE);
	bk_msg_release(&m);
	bk_msg_init(&m);
	bk_msg_release(&m);
}

/* ---- examples for the documentation ---- */

static int print_examples(void)
{
	for (size_t i = 0; i < N_EXAMPLES; i++) {
		char *text = example_text(i);
		struct bk_msg m;
		char key[BK_MSG_ROUTING_KEY_MAX + 1];
		struct bk_err err = {0};

		if (decode_text(text, &m, &err) < 0)
			return 1;
		bk_msg_routing_key(&m, key);
		printf("# %s %s\n%s\n", examples[i].name, key, text);
		bk_msg_release(&m);
		free(text);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_example_round_trips),
		cmocka_unit_test(test_job_fields_survive_round_trip),
		cmocka_unit_test(test_result_fields_survive_round_trip),
		cmocka_unit_test(test_optional_fields_round_trip),
		cmocka_unit_test(test_encoding_is_canonical),
		cmocka_unit_test(test_equal_sees_every_difference),
		cmocka_unit_test(test_head_new_makes_fresh_ids),
		cmocka_unit_test(test_rejects_non_objects_and_bad_syntax),
		cmocka_unit_test(test_rejects_oversized_body),
		cmocka_unit_test(test_rejects_deep_nesting),
		cmocka_unit_test(test_rejects_duplicate_keys),
		cmocka_unit_test(test_rejects_nul_in_strings),
		cmocka_unit_test(test_rejects_unknown_major),
		cmocka_unit_test(test_accepts_higher_minor_ignoring_unknown_fields),
		cmocka_unit_test(test_rejects_unknown_fields_at_own_minor),
		cmocka_unit_test(test_rejects_unknown_kind),
		cmocka_unit_test(test_generic_limits_bind_ignored_fields),
		cmocka_unit_test(test_rejects_bad_job_names),
		cmocka_unit_test(test_error_messages_quote_values_safely),
		cmocka_unit_test(test_rejects_bad_ids),
		cmocka_unit_test(test_rejects_bad_times),
		cmocka_unit_test(test_rejects_wrong_types),
		cmocka_unit_test(test_rejects_negative_and_out_of_range_numbers),
		cmocka_unit_test(test_rejects_missing_required_fields),
		cmocka_unit_test(test_optional_fields_may_be_omitted),
		cmocka_unit_test(test_job_tags_and_schedule_rules),
		cmocka_unit_test(test_job_source_rules),
		cmocka_unit_test(test_result_rules),
		cmocka_unit_test(test_heartbeat_rules),
		cmocka_unit_test(test_request_rules),
		cmocka_unit_test(test_encoder_refuses_invalid_messages),
		cmocka_unit_test(test_set_error_cuts_and_cleans_text),
		cmocka_unit_test(test_routing_keys),
		cmocka_unit_test(test_error_code_names),
		cmocka_unit_test(test_names_of_enums),
		cmocka_unit_test(test_peek_salvages_what_it_can),
		cmocka_unit_test(test_release_is_idempotent),
	};

	if (argc == 2 && !strcmp(argv[1], "--examples"))
		return print_examples();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
