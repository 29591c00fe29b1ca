/*
 * test_proto_decode.c: the wire format (proto/proto.c), decoding: every
 * validation rule with its error message: the envelope, syntax and limits,
 * versions, names, ids, strings, times and numbers, the rules of each message
 * kind, and what peek salvages from a message it refuses.
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

#include "proto_fixture.h"

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
		     "unsupported message version 'backy/2.0' (this is backy/1.1)");
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

		assert_non_null(strstr(again, "backy/1.1"));
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

/* 1.1: how much a verify job checks, and what a verify result found. */
static void test_verify_fields_are_validated(void **state)
{
	struct bk_msg m;

	(void)state;
	ACCEPT(JOB_VERIFY, "older_than", "\"12h\"", &m);
	assert_int_equal(m.u.job.older_than, 12 * 3600);
	bk_msg_release(&m);
	ACCEPT1(JOB_VERIFY, "older_than", NULL); /* absent: every revision */
	REJECT(JOB_VERIFY, "older_than", "\"soon\"", "field 'older_than' is not a duration");
	REJECT(JOB_VERIFY, "older_than", "\"0s\"", "field 'older_than' is not a duration");
	REJECT(JOB_VERIFY, "older_than", "86400", "field 'older_than' must be a string");
	REJECT(JOB_EXPIRE, "older_than", "\"1d\"", "only allowed in verify jobs");
	REJECT(JOB, "older_than", "\"1d\"", "only allowed in verify jobs");

	ACCEPT(RES_VERIFY, "verify.distrusted_revisions", NULL, &m);
	assert_true(m.u.result.has_verify);
	assert_int_equal(m.u.result.verify.checked, 2);
	assert_int_equal(m.u.result.verify.distrusted, 1);
	bk_msg_release(&m);
	REJECT(RES_VERIFY, "verify.checked", "-1", "'verify.checked' must be between");
	REJECT(RES_VERIFY, "verify.checked", "100001", "'verify.checked' must be between");
	REJECT(RES_VERIFY, "verify.distrusted", "3", "is larger than field 'verify.checked'");
	ACCEPT1(RES_VERIFY, "verify.distrusted", "0"); /* listed: distrusted before this run */
	REJECT(RES_VERIFY, "verify.distrusted_revisions", "[\"../etc\"]", "invalid revision id");
	REJECT(RES_VERIFY, "verify.distrusted_revisions", "[\"a\",\"a\"]", "twice");
	REJECT(RES_VERIFY, "verify.bad", "1", "unknown field 'verify.bad'");
	REJECT(RES_VERIFY, "verify", "[]", "must be an object");
	REJECT(RES_OK, "verify", "{\"checked\":0,\"distrusted\":0}",
	       "only allowed in results of verify jobs");

	ACCEPT(REQ_VERIFY, "user", NULL, &m);
	assert_int_equal(m.u.request.action, BK_REQUEST_VERIFY);
	bk_msg_release(&m);
	REJECT(REQ_VERIFY, "job", NULL, "missing field 'job'");
	REJECT(REQ_VERIFY, "tags", "[\"daily\"]", "only allowed in run requests");
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
	       "field 'kind' must be one of 'job', 'result', 'heartbeat', 'request', 'reply', not 'jobs'");
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
	ACCEPT1(HEARTBEAT, "progress", NULL);
	REJECT(HEARTBEAT, "running", "[]", "field 'progress' has more entries than field 'running'");
	REJECT(HEARTBEAT, "progress", "[{\"job\":\"vm09\",\"phase\":\"backup\",\"done\":1,\"total\":2}]",
	       "field 'progress' names job 'vm09', which is not running");
	REJECT(HEARTBEAT, "progress", "[{\"job\":\"vm01.root\",\"phase\":\"backup\",\"done\":3,\"total\":2}]",
	       "field 'progress.done' must be");
	REJECT(HEARTBEAT, "progress", "[{\"job\":\"vm01.root\",\"phase\":\"copy\",\"done\":1,\"total\":2}]",
	       "field 'progress.phase' must be 'backup', 'restore' or 'verify'");
	REJECT(HEARTBEAT, "progress", "[{\"job\":\"vm01.root\",\"phase\":\"backup\",\"done\":1}]",
	       "missing field 'progress.total'");
}

static void test_request_rules(void **state)
{
	struct bk_msg m;

	(void)state;
	REJECT(REQ_RUN, "action", "\"backup\"",
	       "field 'action' must be one of 'run', 'expire', 'status', 'verify', not 'backup'");
	REJECT(REQ_STATUS, "action", "\"expire\"", "missing field 'job'");
	REJECT(REQ_STATUS, "tags", "[\"daily\"]", "field 'tags' is only allowed in run requests");
	REJECT(REQ_RUN, "user", "\"alice smith\"", "field 'user' is not a valid user name");
	ACCEPT(REQ_RUN, "user", "\"alice@example.com\"", &m);
	assert_string_equal(m.u.request.user, "alice@example.com");
	bk_msg_release(&m);
	REJECT(REQ_RUN, "tags", "[\"manual:\"]", "field 'tags' holds an invalid tag");
}

static void test_reply_rules(void **state)
{
	struct bk_msg m;

	(void)state;
	ACCEPT(REPLY_OK, "job_id", NULL, &m); /* accepted without a run (queued, status) */
	assert_true(m.u.reply.accepted);
	assert_string_equal(m.u.reply.job_id, "");
	bk_msg_release(&m);
	ACCEPT(REPLY_REFUSED, "job", NULL, &m);
	assert_false(m.u.reply.accepted);
	assert_string_equal(m.u.reply.error_code, "BK_EUSAGE");
	assert_string_equal(m.u.reply.message, "unknown job 'vm99'");
	bk_msg_release(&m);
	REJECT(REPLY_OK, "accepted", "false", "missing field 'error' (required in a refusal)");
	REJECT(REPLY_REFUSED, "accepted", "true", "field 'error' is not allowed in an accepted reply");
	REJECT(REPLY_REFUSED, "job_id", "\"Zq7LmW3xTc9KpRb2Vn5Hd8\"",
	       "field 'job_id' is not allowed in a refusal");
	REJECT(REPLY_REFUSED, "message", "\"why\"", "field 'message' is not allowed in a refusal");
	REJECT(REPLY_OK, "request_id", NULL, "missing field 'request_id'");
	REJECT(REPLY_OK, "accepted", "1", "field 'accepted' must be");
	REJECT(REPLY_OK, "action", "\"backup\"", "field 'action' must be one of 'run', 'expire', 'status'");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects_non_objects_and_bad_syntax),
		cmocka_unit_test(test_rejects_oversized_body),
		cmocka_unit_test(test_rejects_deep_nesting),
		cmocka_unit_test(test_rejects_duplicate_keys),
		cmocka_unit_test(test_rejects_nul_in_strings),
		cmocka_unit_test(test_rejects_unknown_major),
		cmocka_unit_test(test_accepts_higher_minor_ignoring_unknown_fields),
		cmocka_unit_test(test_rejects_unknown_fields_at_own_minor),
		cmocka_unit_test(test_verify_fields_are_validated),
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
		cmocka_unit_test(test_reply_rules),
		cmocka_unit_test(test_peek_salvages_what_it_can),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
