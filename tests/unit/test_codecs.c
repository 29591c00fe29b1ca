/*
 * test_codecs.c: the document codecs of proto/ other than the messages:
 * the job report (report.h), the status documents (status_doc.h), the job
 * journal entry (journal_entry.h), the Consul KV JSON (consul_kv.h) and the
 * revision list of `backy status --json` (rev_list.h).  Round trips, every
 * field's validation, limits, and garbage that must decode to an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "consul_kv.h"
#include "journal_entry.h"
#include "progress_doc.h"
#include "report.h"
#include "rev_list.h"
#include "status_doc.h"

static int64_t T(const char *s)
{
	int64_t t = 0;

	assert_int_equal(bk_time_parse(s, &t), 0);
	return t;
}

/* ---- job report ---- */

static void full_report(struct bk_report *r)
{
	bk_report_init(r);
	r->outcome = BK_REPORT_OK;
	snprintf(r->revision, sizeof(r->revision), "%s", "4cGhK7wQm2XzR9pTbVn3Ls");
	bk_strv_add(&r->tags, "daily");
	bk_strv_add(&r->tags, "weekly");
	r->has_stats = true;
	r->stats.bytes_written = 1048576;
	r->stats.size = 10737418240ULL;
	r->stats.duration = 569.3;
	r->stats.full = true;
}

static void test_report_round_trip(void **state)
{
	struct bk_report a, b;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	full_report(&a);
	bk_report_init(&b);
	bk_buf_init(&out);
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	assert_string_equal(out.p,
			    "{\"outcome\":\"ok\",\"revision\":\"4cGhK7wQm2XzR9pTbVn3Ls\","
			    "\"tags\":[\"daily\",\"weekly\"],\"stats\":{\"bytes_written\":"
			    "1048576,\"size\":10737418240,\"duration\":569.3,\"full\":true}}");
	assert_int_equal(bk_report_decode(out.p, out.len, &b, &err), 0);
	assert_true(bk_report_equal(&a, &b));

	/* a failure, and a skip with and without an error */
	bk_report_release(&a);
	a.outcome = BK_REPORT_FAILED;
	bk_report_set_error(&a, "BK_ESOURCE", "snapshot 'backy-x' not found");
	bk_buf_reset(&out);
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	assert_string_equal(out.p, "{\"outcome\":\"failed\",\"error\":{\"code\":\"BK_ESOURCE\","
				   "\"message\":\"snapshot 'backy-x' not found\"}}");
	assert_int_equal(bk_report_decode(out.p, out.len, &b, &err), 0);
	assert_true(bk_report_equal(&a, &b));
	assert_int_equal(b.outcome, BK_REPORT_FAILED);
	assert_string_equal(b.error_message, "snapshot 'backy-x' not found");
	a.outcome = BK_REPORT_SKIPPED;
	bk_buf_reset(&out);
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	assert_int_equal(bk_report_decode(out.p, out.len, &b, &err), 0);
	assert_true(bk_report_equal(&a, &b));
	bk_report_release(&a);
	a.outcome = BK_REPORT_SKIPPED;
	bk_buf_reset(&out);
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	assert_string_equal(out.p, "{\"outcome\":\"skipped\"}");
	assert_int_equal(bk_report_decode(out.p, out.len, &b, &err), 0);
	assert_int_equal(b.outcome, BK_REPORT_SKIPPED);
	assert_string_equal(b.error_code, "");
	assert_null(b.error_message);

	assert_string_equal(bk_report_outcome_name(BK_REPORT_SKIPPED), "skipped");
	bk_report_release(&a);
	bk_report_release(&b);
	bk_buf_release(&out);
}

/* What an older backy wrote (a duration in "%.17g") still reads. */
static void test_report_reads_what_backy_wrote_before(void **state)
{
	static const char old[] =
		"{\"revision\":\"4cGhK7wQm2XzR9pTbVn3Ls\",\"tags\":[\"daily\"],\"stats\":{"
		"\"bytes_written\":0,\"size\":4096,\"duration\":0.10000000000000001,\"full\":false}"
		","
		"\"outcome\":\"ok\"}";
	struct bk_report r;
	struct bk_err err = {0};

	(void)state;
	bk_report_init(&r);
	assert_int_equal(bk_report_decode(old, strlen(old), &r, &err), 0);
	assert_int_equal(r.outcome, BK_REPORT_OK);
	assert_true(r.has_stats);
	assert_true(r.stats.duration == 0.1);
	assert_int_equal(r.stats.size, 4096);
	bk_report_release(&r);
}

/* `backy verify --result`: what a scrub found travels in "verify". */
static void test_report_carries_scrub_counts(void **state)
{
	struct bk_report a, b;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	bk_report_init(&a);
	bk_report_init(&b);
	bk_buf_init(&out);
	a.outcome = BK_REPORT_FAILED;
	bk_report_set_error(&a, "BK_EVERIFY", "1 of 3 revisions checked are damaged");
	a.has_verify = true;
	bk_scrub_counts_add(&a.verify, false);
	bk_scrub_counts_add(&a.verify, true);
	bk_scrub_counts_add(&a.verify, false);
	bk_scrub_counts_list(&a.verify, "Vy8kLgX5mFjnYcE9p6tWwR");
	bk_scrub_counts_list(&a.verify, "Vy8kLgX5mFjnYcE9p6tWwR"); /* once */
	bk_scrub_counts_list(&a.verify, "../x");                   /* never an invalid id */
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	assert_non_null(strstr(out.p, "\"verify\":{\"checked\":3,\"distrusted\":1,"
				      "\"distrusted_revisions\":[\"Vy8kLgX5mFjnYcE9p6tWwR\"]}"));
	assert_int_equal(bk_report_decode(out.p, out.len, &b, &err), 0);
	assert_true(bk_report_equal(&a, &b));
	assert_int_equal(b.verify.checked, 3);
	assert_int_equal(b.verify.distrusted, 1);
	/* a different finding is a different report */
	b.verify.distrusted = 0;
	assert_false(bk_report_equal(&a, &b));
	bk_report_release(&a);
	bk_report_release(&b);
	bk_buf_release(&out);
}

static void expect_bad_report(const char *text, const char *what)
{
	struct bk_report r;
	struct bk_err err = {0};
	int rc;

	bk_report_init(&r);
	rc = bk_report_decode(text, strlen(text), &r, &err);
	if (rc != BK_EPROTO)
		fail_msg("accepted: %s", text);
	if (!strstr(err.msg, what))
		fail_msg("'%s': message '%s' does not mention '%s'", text, err.msg, what);
	assert_non_null(strstr(err.msg, "invalid job report"));
	/* a failed decode leaves the struct released */
	assert_null(r.error_message);
	assert_int_equal(r.tags.n, 0);
	assert_false(r.has_stats);
}

static void test_report_validates_every_field(void **state)
{
	char big[BK_REPORT_MAX_TEXT + 64];
	char *huge;

	(void)state;
	expect_bad_report("{}", "missing field 'outcome'");
	expect_bad_report("{\"outcome\":\"done\"}", "must be one of");
	expect_bad_report("{\"outcome\":1}", "'outcome' must be a string");
	expect_bad_report("{\"outcome\":\"failed\"}", "missing field 'error'");
	expect_bad_report("{\"outcome\":\"ok\",\"error\":{\"code\":\"EIO\",\"message\":\"x\"}}",
			  "'ok' report has no 'error'");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":\"EIO\"}", "must be an object");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":{\"message\":\"x\"}}",
			  "missing field 'error.code'");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":{\"code\":\"eio\",\"message\":\"x\"}}",
			  "not a valid error code");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":{\"code\":\"EIO\"}}",
			  "missing field 'error.message'");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":{\"code\":\"EIO\",\"message\":\"\"}}",
			  "must not be empty");
	expect_bad_report(
		"{\"outcome\":\"failed\",\"error\":{\"code\":\"EIO\",\"message\":\"a\\u0007\"}}",
		"control characters");
	expect_bad_report("{\"outcome\":\"failed\",\"error\":{\"code\":\"EIO\",\"message\":\"x\","
			  "\"transient\":true}}",
			  "unknown field 'error.transient'");
	memset(big, 'a', sizeof(big));
	snprintf(big, sizeof(big),
		 "{\"outcome\":\"failed\",\"error\":{\"code\":\"EIO\",\"message\":\"");
	memset(big + strlen(big), 'a', BK_REPORT_MAX_TEXT + 1);
	big[sizeof(big) - 4] = '\0';
	strcat(big, "\"}}");
	expect_bad_report(big, "longer than");
	expect_bad_report("{\"outcome\":\"ok\",\"revision\":\"-x\"}", "not a valid id");
	expect_bad_report("{\"outcome\":\"ok\",\"revision\":7}", "must be a string");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":\"daily\"}", "must be an array");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":[1]}", "strings only");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":[\"da ily\"]}", "invalid tag");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":[\"daily\",\"daily\"]}", "twice");
	expect_bad_report(
		"{\"outcome\":\"ok\",\"stats\":{\"size\":1,\"duration\":1,\"full\":true}}",
		"missing field 'stats.bytes_written'");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":-1,\"size\":1,"
			  "\"duration\":1,\"full\":true}}",
			  "'stats.bytes_written' must be between");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":1.5,\"size\":1,"
			  "\"duration\":1,\"full\":true}}",
			  "must be an integer");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":1,\"size\":1,"
			  "\"duration\":-1,\"full\":true}}",
			  "'stats.duration' must be between");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":1,\"size\":1,"
			  "\"duration\":1e10,\"full\":true}}",
			  "'stats.duration' must be between");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":1,\"size\":1,"
			  "\"duration\":1,\"full\":1}}",
			  "'stats.full' must be a boolean");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"bytes_written\":1,\"size\":1,"
			  "\"duration\":1,\"full\":true,\"x\":1}}",
			  "unknown field 'stats.x'");
	expect_bad_report("{\"outcome\":\"ok\",\"revison\":\"x\"}", "unknown field 'revison'");
	expect_bad_report("{\"outcome\":\"ok\",\"verify\":{\"checked\":1}}",
			  "missing field 'verify.distrusted'");
	expect_bad_report("{\"outcome\":\"ok\",\"verify\":{\"checked\":1,\"distrusted\":2}}",
			  "'verify.distrusted' is larger than field 'verify.checked'");
	expect_bad_report("{\"outcome\":\"ok\",\"verify\":{\"checked\":100001,"
			  "\"distrusted\":0}}",
			  "'verify.checked' must be between");
	expect_bad_report("{\"outcome\":\"ok\",\"verify\":{\"checked\":2,\"distrusted\":1,"
			  "\"distrusted_revisions\":[\"a\",\"a\"]}}",
			  "twice");
	expect_bad_report("{\"outcome\":\"ok\",\"verify\":{\"checked\":2,\"distrusted\":1,"
			  "\"distrusted_revisions\":[\"../x\"]}}",
			  "invalid revision id");
	/* syntax and generic limits */
	expect_bad_report("", "line");
	expect_bad_report("{\"outcome\":\"ok\"", "line");
	expect_bad_report("{\"outcome\":\"ok\"}x", "line");
	expect_bad_report("[\"ok\"]", "not a JSON object");
	expect_bad_report("{\"outcome\":\"ok\",\"outcome\":\"ok\"}", "duplicate");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":[\"a\\u0000b\"]}", "line");
	expect_bad_report("{\"outcome\":\"ok\",\"tags\":[\"\xff\"]}", "line");
	expect_bad_report("{\"outcome\":\"ok\",\"stats\":{\"x\":[[1]]}}", "nested deeper than 3");
	huge = calloc(1, BK_REPORT_MAX_BYTES + 16);
	memset(huge, ' ', BK_REPORT_MAX_BYTES + 8);
	huge[0] = '{';
	huge[BK_REPORT_MAX_BYTES + 8] = '}';
	expect_bad_report(huge, "larger than");
	free(huge);
}

static void test_report_set_error_makes_any_text_valid(void **state)
{
	struct bk_report r, back;
	struct bk_buf out;
	struct bk_err err = {0};
	char big[4000];

	(void)state;
	bk_report_init(&r);
	bk_report_init(&back);
	bk_buf_init(&out);
	r.outcome = BK_REPORT_FAILED;
	bk_report_set_error(&r, "ENOENT", "unable to open '/x\x01y\xff': gone\r");
	assert_string_equal(r.error_code, "ENOENT");
	assert_string_equal(r.error_message, "unable to open '/x?y?': gone?");
	bk_report_set_error(&r, "not a code", NULL);
	assert_string_equal(r.error_code, "EUNKNOWN");
	assert_string_equal(r.error_message, "failed without a message");
	/* long text is cut, never inside a UTF-8 sequence */
	memset(big, 'a', sizeof(big));
	memcpy(big + BK_REPORT_MAX_TEXT - 1, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	bk_report_set_error(&r, "EIO", big);
	assert_int_equal(strlen(r.error_message), BK_REPORT_MAX_TEXT - 1);
	assert_int_equal(bk_report_encode(&r, &out, &err), 0);
	assert_int_equal(bk_report_decode(out.p, out.len, &back, &err), 0);
	assert_true(bk_report_equal(&r, &back));
	/* valid UTF-8 survives */
	bk_report_set_error(&r, "EIO", "caf\xc3\xa9 \xe2\x82\xac");
	assert_string_equal(r.error_message, "caf\xc3\xa9 \xe2\x82\xac");
	bk_report_release(&r);
	bk_report_release(&back);
	bk_buf_release(&out);
}

static void test_report_encode_refuses_invalid_reports(void **state)
{
	struct bk_report r;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	bk_buf_init(&out);
	full_report(&r);
	bk_strv_add(&r.tags, "not a tag");
	assert_int_equal(bk_report_encode(&r, &out, &err), BK_EPROTO);
	assert_non_null(strstr(err.msg, "cannot encode job report"));
	assert_int_equal(out.len, 0);
	bk_report_release(&r);
	/* an ok report with an error, a failure without one */
	bk_err_clear(&err);
	bk_report_init(&r);
	bk_report_set_error(&r, "EIO", "x");
	assert_int_equal(bk_report_encode(&r, &out, &err), BK_EPROTO);
	bk_report_release(&r);
	bk_err_clear(&err);
	r.outcome = BK_REPORT_FAILED;
	assert_int_equal(bk_report_encode(&r, &out, &err), BK_EPROTO);
	assert_int_equal(out.len, 0);
	bk_buf_release(&out);
}

/* Every truncation and single-byte change of a valid report decodes or fails cleanly. */
static void test_report_garbage_never_crashes(void **state)
{
	struct bk_report a, r;
	struct bk_buf out;
	struct bk_err err = {0};
	char *text;

	(void)state;
	full_report(&a);
	bk_report_set_error(&a, "EIO", "x");
	a.outcome = BK_REPORT_FAILED;
	bk_buf_init(&out);
	assert_int_equal(bk_report_encode(&a, &out, &err), 0);
	text = bk_strdup(out.p);
	bk_report_init(&r);
	for (size_t n = 0; n < out.len; n++) {
		int rc = bk_report_decode(text, n, &r, NULL);

		assert_int_equal(rc, BK_EPROTO);
	}
	srand(11);
	for (int i = 0; i < 20000; i++) {
		size_t pos = (size_t)rand() % out.len;
		char was = text[pos];
		int rc;

		text[pos] = (char)(rand() % 256);
		rc = bk_report_decode(text, out.len, &r, NULL);
		assert_true(rc == 0 || rc == BK_EPROTO);
		text[pos] = was;
	}
	bk_report_release(&r);
	bk_report_release(&a);
	bk_buf_release(&out);
	free(text);
}

/* ---- status documents ---- */

static const char status_json[] =
	"{\"jobs\":{\"vm01\":{\"sla\":\"OK\",\"sla_overdue\":0,\"status\":\"running\","
	"\"last_time\":\"2026-11-26T12:00:00.000000+00:00\",\"last_tags\":\"daily\","
	"\"last_duration\":12.346,\"next_time\":null,\"next_tags\":\"\",\"manual_tags\":\"\","
	"\"host\":\"backy01\",\"schedule\":\"default\",\"backoff\":0,\"failures\":0,"
	"\"last_error\":null,\"running\":{\"job_id\":\"j1\",\"attempt\":2,\"tags\":\"daily,"
	"weekly\","
	"\"dispatched\":\"2026-11-27T12:00:00.000000+00:00\","
	"\"deadline\":\"2026-11-27T18:00:00.000000+00:00\"},\"expiring\":false},"
	"\"vm02\":{\"sla\":\"TOO OLD\",\"sla_overdue\":3600,\"status\":\"failed\","
	"\"last_time\":null,\"last_tags\":\"\",\"last_duration\":null,"
	"\"next_time\":\"2026-11-27T13:00:00.000000+00:00\",\"next_tags\":\"daily\","
	"\"manual_tags\":\"manual:x\",\"host\":\"backy02\",\"schedule\":\"default\",\"backoff\":"
	"600,"
	"\"failures\":3,\"last_error\":\"BK_ESOURCE: \\\"pool\\\" gone\\n\",\"running\":null,"
	"\"expiring\":true}},"
	"\"workers\":{\"backy01\":{\"version\":\"0.1.0\",\"slots\":4,\"busy\":1,"
	"\"free_bytes\":8796093022208,\"running\":\"vm01\","
	"\"last_seen\":\"2026-11-27T12:59:30.000000+00:00\",\"age\":30}},"
	"\"coordinator\":{\"role\":\"active\",\"now\":\"2026-11-27T13:00:00.000000+00:00\","
	"\"jobs\":2,\"in_flight\":1,\"sla_overdue\":1,\"version\":\"0.1.0\"}}\n";

static void make_status(struct bk_status_doc *d, struct bk_status_job jobs[2],
			struct bk_status_worker *w)
{
	bk_status_doc_init(d);
	jobs[0] = (struct bk_status_job){
		.name = "vm01",
		.sla_ok = true,
		.status = "running",
		.last_time = T("2026-11-26T12:00:00Z"),
		.last_tags = "daily",
		.last_duration = 12.3456,
		.next_tags = "",
		.manual_tags = "",
		.host = "backy01",
		.schedule = "default",
		.running = true,
		.run = {"j1", 2, "daily,weekly", T("2026-11-27T12:00:00Z"),
			T("2026-11-27T18:00:00Z")},
	};
	jobs[1] = (struct bk_status_job){
		.name = "vm02",
		.sla_overdue = 3600,
		.status = "failed",
		.last_tags = "",
		.last_duration = 99,
		.next_time = T("2026-11-27T13:00:00Z"),
		.next_tags = "daily",
		.manual_tags = "manual:x",
		.host = "backy02",
		.schedule = "default",
		.backoff = 600,
		.failures = 3,
		.last_error = "BK_ESOURCE: \"pool\" gone\n",
		.expiring = true,
	};
	*w = (struct bk_status_worker){
		"backy01", "0.1.0", 4, 1, 8796093022208ULL, "vm01", T("2026-11-27T12:59:30Z"), 30};
	d->jobs = jobs;
	d->njobs = 2;
	d->workers = w;
	d->nworkers = 1;
	d->coordinator = (struct bk_status_coordinator){
		"active", T("2026-11-27T13:00:00Z"), 2, 1, 1, "0.1.0"};
}

static void test_status_encodes_the_documented_shape(void **state)
{
	struct bk_status_job jobs[2];
	struct bk_status_worker w;
	struct bk_status_doc d;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	make_status(&d, jobs, &w);
	bk_buf_init(&out);
	assert_int_equal(bk_status_encode(&d, &out, &err), 0);
	assert_string_equal(out.p, status_json);
	bk_buf_reset(&out);
	assert_int_equal(bk_workers_encode(&w, 1, &out, &err), 0);
	assert_string_equal(out.p,
			    "{\"backy01\":{\"version\":\"0.1.0\",\"slots\":4,\"busy\":1,"
			    "\"free_bytes\":8796093022208,\"running\":\"vm01\","
			    "\"last_seen\":\"2026-11-27T12:59:30.000000+00:00\",\"age\":30}}");
	bk_buf_reset(&out);
	assert_int_equal(bk_workers_encode(NULL, 0, &out, &err), 0);
	assert_string_equal(out.p, "{}");
	bk_buf_release(&out);
}

static void test_status_round_trip(void **state)
{
	struct bk_status_job jobs[2];
	struct bk_status_worker w;
	struct bk_status_doc d, back;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	make_status(&d, jobs, &w);
	bk_status_doc_init(&back);
	bk_buf_init(&out);
	assert_int_equal(bk_status_decode(status_json, strlen(status_json), &back, &err), 0);
	assert_int_equal(back.njobs, 2);
	assert_int_equal(back.nworkers, 1);
	assert_string_equal(back.jobs[0].name, "vm01");
	assert_true(back.jobs[0].sla_ok);
	assert_true(back.jobs[0].running);
	assert_string_equal(back.jobs[0].run.job_id, "j1");
	assert_int_equal(back.jobs[0].run.attempt, 2);
	assert_int_equal(back.jobs[0].run.deadline, T("2026-11-27T18:00:00Z"));
	assert_int_equal(back.jobs[0].next_time, 0);
	assert_true(back.jobs[0].last_duration == 12.346);
	assert_false(back.jobs[1].sla_ok);
	assert_false(back.jobs[1].running);
	assert_int_equal(back.jobs[1].last_time, 0);
	assert_string_equal(back.jobs[1].last_error, "BK_ESOURCE: \"pool\" gone\n");
	assert_null(back.jobs[0].last_error);
	assert_int_equal(back.jobs[1].failures, 3);
	assert_int_equal(back.jobs[1].backoff, 600);
	assert_true(back.jobs[1].expiring);
	assert_string_equal(back.workers[0].host, "backy01");
	assert_int_equal(back.workers[0].free_bytes, 8796093022208ULL);
	assert_int_equal(back.workers[0].age, 30);
	assert_string_equal(back.coordinator.role, "active");
	assert_int_equal(back.coordinator.in_flight, 1);
	/* and what was decoded encodes to the same text */
	assert_int_equal(bk_status_encode(&back, &out, &err), 0);
	assert_string_equal(out.p, status_json);
	bk_buf_reset(&out);
	assert_int_equal(bk_workers_encode(&w, 1, &out, &err), 0);
	assert_int_equal(bk_workers_decode(out.p, out.len, &back, &err), 0);
	assert_int_equal(back.njobs, 0);
	assert_int_equal(back.nworkers, 1);
	assert_string_equal(back.workers[0].running, "vm01");
	bk_status_doc_release(&back);
	bk_buf_release(&out);
}

static void expect_bad_status(const char *text, const char *what)
{
	struct bk_status_doc d;
	struct bk_err err = {0};

	bk_status_doc_init(&d);
	if (bk_status_decode(text, strlen(text), &d, &err) != BK_EPROTO)
		fail_msg("accepted: %s", text);
	if (!strstr(err.msg, what))
		fail_msg("message '%s' does not mention '%s'", err.msg, what);
	assert_int_equal(d.njobs, 0);
	assert_null(d.strings);
}

/* Replace the first FROM in the valid document with TO. */
static char *edit(const char *from, const char *to)
{
	const char *p = strstr(status_json, from);
	size_t n = strlen(status_json) + strlen(to) + 1;
	char *s = malloc(n);

	assert_non_null(p);
	snprintf(s, n, "%.*s%s%s", (int)(p - status_json), status_json, to, p + strlen(from));
	return s;
}

static void test_status_decoder_checks_types_and_ignores_new_fields(void **state)
{
	static const struct {
		const char *from, *to, *what;
	} cases[] = {
		{"\"sla\":\"OK\"", "\"sla\":\"FINE\"", "must be one of"},
		{"\"sla_overdue\":0", "\"sla_overdue\":\"0\"",
		 "'vm01.sla_overdue' must be an integer"},
		{"\"status\":\"running\",", "", "missing field 'vm01.status'"},
		{"\"last_time\":\"2026-11-26T12:00:00.000000+00:00\"",
		 "\"last_time\":\"yesterday\"", "not an ISO 8601 UTC time"},
		{"\"last_duration\":12.346", "\"last_duration\":\"12\"",
		 "must be a number or null"},
		{"\"failures\":0", "\"failures\":-1", "must be between"},
		{"\"last_error\":null", "\"last_error\":7", "must be a string or null"},
		{"\"attempt\":2", "\"attempt\":true", "'running.attempt' must be an integer"},
		{"\"expiring\":false", "\"expiring\":0", "must be a boolean"},
		{"{\"sla\":\"OK\"", "{\"sla\":OK", "line"},
		{"\"slots\":4", "\"slots\":4.5", "'backy01.slots' must be an integer"},
		{"\"role\":\"active\",", "", "missing field 'coordinator.role'"},
		{"\"jobs\":{\"vm01\"", "\"jobz\":{\"vm01\"", "missing field 'jobs'"},
	};
	struct bk_status_doc d;
	struct bk_err err = {0};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = edit(cases[i].from, cases[i].to);
		expect_bad_status(s, cases[i].what);
		free(s);
	}
	expect_bad_status("{\"jobs\":{\"x\":1},\"workers\":{},\"coordinator\":{}}",
			  "not an object");
	expect_bad_status("[]", "not a JSON object");
	expect_bad_status("{\"jobs\":{\"x\":{\"running\":{\"progress\":{\"b\":[1]}}}}}", "nested deeper");
	/* a newer coordinator's fields are fine */
	s = edit("\"expiring\":false", "\"expiring\":false,\"paused\":{\"until\":null}");
	bk_status_doc_init(&d);
	assert_int_equal(bk_status_decode(s, strlen(s), &d, &err), 0);
	assert_int_equal(d.njobs, 2);
	bk_status_doc_release(&d);
	free(s);
}

/* ---- journal entry ---- */

static void test_journal_entry_embeds_the_result(void **state)
{
	static const char result[] = "{\"schema\":\"backy/1.0\",\"kind\":\"result\",\"stats\":"
				     "{\"duration\":569.3},\"tags\":[\"daily\"]}";
	struct bk_journal_entry e, back;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	bk_journal_entry_init(&e);
	bk_buf_init(&out);
	e.state = BK_JOURNAL_DONE;
	snprintf(e.job_id, sizeof(e.job_id), "%s", "job-1");
	snprintf(e.job, sizeof(e.job), "%s", "vm01");
	e.pid = 42;
	e.pid_start = 1234567;
	e.child = 43;
	e.child_start = 1234568;
	e.started = 1000;
	e.finished = 2000;
	e.published = true;
	snprintf(e.digest, sizeof(e.digest), "%s", "abc");
	bk_journal_entry_set_result(&e, result);
	assert_int_equal(bk_journal_entry_encode(&e, &out, &err), 0);
	assert_string_equal(out.p,
			    "{\"state\":\"done\",\"job_id\":\"job-1\",\"job\":\"vm01\","
			    "\"pid\":42,\"pid_start\":1234567,\"child\":43,"
			    "\"child_start\":1234568,\"started\":1000,\"finished\":2000,"
			    "\"published\":true,\"digest\":\"abc\",\"result\":{\"schema\":"
			    "\"backy/1.0\",\"kind\":\"result\",\"stats\":{\"duration\":569.3},"
			    "\"tags\":[\"daily\"]}}");
	assert_int_equal(bk_journal_entry_decode(out.p, out.len, &back, &err), 0);
	assert_int_equal(back.state, BK_JOURNAL_DONE);
	assert_string_equal(back.job_id, "job-1");
	assert_string_equal(back.job, "vm01");
	assert_int_equal(back.pid, 42);
	assert_int_equal(back.child_start, 1234568);
	assert_int_equal(back.finished, 2000);
	assert_true(back.published);
	assert_string_equal(back.digest, "abc");
	assert_string_equal(back.result, result);
	bk_journal_entry_release(&back);
	/* a result that is not a JSON object is refused */
	bk_journal_entry_set_result(&e, "not json");
	bk_buf_reset(&out);
	assert_int_equal(bk_journal_entry_encode(&e, &out, &err), BK_EPROTO);
	assert_int_equal(out.len, 0);
	bk_err_clear(&err);
	e.state = BK_JOURNAL_NONE;
	assert_int_equal(bk_journal_entry_encode(&e, &out, &err), BK_EUSAGE);
	bk_journal_entry_release(&e);
	bk_buf_release(&out);
}

static void test_journal_entry_reads_older_entries(void **state)
{
	static const char old[] =
		"{\"state\":\"done\",\"job_id\":\"job-2\",\"job\":\"vm01\",\"pid\":1,\"pid_start\":"
		"2,"
		"\"child\":3,\"child_start\":4,\"started\":5,\"finished\":6,\"published\":false,"
		"\"result\":\"{\\\"kind\\\":\\\"result\\\"}\"}";
	static const char running[] =
		"{\"state\":\"running\",\"job_id\":\"job-3\",\"job\":\"vm02\","
		"\"pid\":\"x\"}";
	struct bk_journal_entry e;
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_journal_entry_decode(old, strlen(old), &e, &err), 0);
	assert_string_equal(e.result, "{\"kind\":\"result\"}");
	assert_string_equal(e.digest, "");
	assert_false(e.published);
	bk_journal_entry_release(&e);
	assert_int_equal(bk_journal_entry_decode(running, strlen(running), &e, &err), 0);
	assert_int_equal(e.state, BK_JOURNAL_RUNNING);
	assert_int_equal(e.pid, 0);
	assert_null(e.result);
	bk_journal_entry_release(&e);
}

static void test_journal_entry_garbage_is_corrupt(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"state\":\"done\",\"job_id\":\"j\",\"job\":\"vm01\"}", /* done without result */
		"{\"state\":\"done\",\"job_id\":\"j\",\"job\":\"vm01\",\"result\":7}",
		"{\"state\":\"paused\",\"job_id\":\"j\",\"job\":\"vm01\"}",
		"{\"state\":\"running\",\"job_id\":\"../x\",\"job\":\"vm01\"}",
		"{\"state\":\"running\",\"job\":\"vm01\"}",
		"{\"state\":\"running\",\"job_id\":\"j\"}",
		"{\"state\":\"running\",\"job_id\":\"j\",\"job\":\"vm01\"}}",
		"{\"state\":\"running\",\"state\":\"running\",\"job_id\":\"j\",\"job\":\"vm01\"}",
	};
	struct bk_journal_entry e;
	struct bk_err err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bk_err_clear(&err);
		if (bk_journal_entry_decode(bad[i], strlen(bad[i]), &e, &err) != BK_ECORRUPT)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(err.code, BK_ECORRUPT);
		assert_null(e.result);
	}
}

/* ---- Consul KV ---- */

static void test_consul_request_round_trip(void **state)
{
	static const char extra[] = "{\"vm\":\"a\",\"snapshot\":\"b\",\"x\":1}";
	struct bk_consul_req req;
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	bk_buf_init(&out);
	assert_int_equal(bk_consul_req_encode("vm01", "backy-4cGh", &out, &err), 0);
	assert_string_equal(out.p, "{\"vm\":\"vm01\",\"snapshot\":\"backy-4cGh\"}");
	assert_int_equal(bk_consul_req_decode(out.p, out.len, &req, &err), 0);
	assert_string_equal(req.vm, "vm01");
	assert_string_equal(req.snapshot, "backy-4cGh");
	bk_consul_req_release(&req);
	bk_buf_reset(&out);
	assert_int_equal(bk_consul_req_encode("caf\xc3\xa9", "s", &out, &err), 0);
	assert_string_equal(out.p, "{\"vm\":\"caf\\u00E9\",\"snapshot\":\"s\"}");
	/* other members are fine, missing or mistyped ones are not */
	assert_int_equal(bk_consul_req_decode(extra, strlen(extra), &req, NULL), 0);
	bk_consul_req_release(&req);
	assert_int_equal(bk_consul_req_decode("{\"vm\":\"a\"}", 10, &req, NULL), BK_EPROTO);
	assert_int_equal(bk_consul_req_decode("{\"vm\":1,\"snapshot\":\"b\"}", 24, &req, NULL),
			 BK_EPROTO);
	assert_int_equal(bk_consul_req_decode("garbage", 7, &req, NULL), BK_EPROTO);
	assert_null(req.vm);
	bk_buf_release(&out);
}

static void test_consul_listing(void **state)
{
	/* "eyJ2bSI6InZtMDEifQ==" is {"vm":"vm01"} */
	static const char list[] =
		"[{\"Key\":\"snapshot/a\",\"Value\":\"eyJ2bSI6InZtMDEifQ==\",\"Flags\":0},"
		"{\"Key\":\"snapshot/b\",\"Value\":null},"
		"{\"Value\":\"eA==\"},"
		"{\"Key\":\"snapshot/c\",\"Value\":\"not*base64\"},"
		"7]";
	struct bk_consul_kv *kv = NULL;
	struct bk_err err = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(bk_consul_kv_decode(list, strlen(list), &kv, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(kv[0].key, "snapshot/a");
	assert_string_equal(kv[0].value, "{\"vm\":\"vm01\"}");
	assert_string_equal(kv[1].key, "snapshot/b");
	assert_null(kv[1].value);
	assert_string_equal(kv[2].key, "snapshot/c");
	assert_null(kv[2].value);
	bk_consul_kv_free(kv, n);
	assert_int_equal(bk_consul_kv_decode("{}", 2, &kv, &n, &err), BK_EPROTO);
	assert_null(kv);
	assert_int_equal(n, 0);
	assert_int_equal(bk_consul_kv_decode("[", 1, &kv, &n, NULL), BK_EPROTO);
	assert_int_equal(bk_consul_kv_decode("[]", 2, &kv, &n, NULL), 0);
	assert_int_equal(n, 0);
	bk_consul_kv_free(kv, n);
}

/* ---- revision list ---- */

static void test_rev_list_shape(void **state)
{
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_rev_entry revs[2] = {
		{.uuid = "a1",
		 .timestamp = T("2026-11-26T12:00:00Z"),
		 .parent = "",
		 .tags = &tags,
		 .trust = "trusted",
		 .size = 4096,
		 .bytes_written = 512,
		 .complete = true,
		 .duration = 1.25,
		 .consistency = "fsfreeze"},
		{.uuid = "b2",
		 .timestamp = T("2026-11-27T12:00:00Z"),
		 .parent = "a1",
		 .trust = "untrusted",
		 .size = 4096},
	};
	struct bk_buf out;
	struct bk_err err = {0};

	(void)state;
	bk_strv_add(&tags, "daily");
	bk_buf_init(&out);
	assert_int_equal(bk_rev_list_encode(revs, 2, &out, &err), 0);
	assert_string_equal(out.p, "[\n"
				   "  {\n"
				   "    \"uuid\": \"a1\",\n"
				   "    \"timestamp\": \"2026-11-26T12:00:00.000000+00:00\",\n"
				   "    \"parent\": null,\n"
				   "    \"tags\": [\n"
				   "      \"daily\"\n"
				   "    ],\n"
				   "    \"trust\": \"trusted\",\n"
				   "    \"size\": 4096,\n"
				   "    \"bytes_written\": 512,\n"
				   "    \"complete\": true,\n"
				   "    \"duration\": 1.25,\n"
				   "    \"consistency\": \"fsfreeze\"\n"
				   "  },\n"
				   "  {\n"
				   "    \"uuid\": \"b2\",\n"
				   "    \"timestamp\": \"2026-11-27T12:00:00.000000+00:00\",\n"
				   "    \"parent\": \"a1\",\n"
				   "    \"tags\": [],\n"
				   "    \"trust\": \"untrusted\",\n"
				   "    \"size\": 4096,\n"
				   "    \"bytes_written\": 0,\n"
				   "    \"complete\": false,\n"
				   "    \"duration\": null\n"
				   "  }\n"
				   "]\n");
	bk_buf_reset(&out);
	assert_int_equal(bk_rev_list_encode(NULL, 0, &out, &err), 0);
	assert_string_equal(out.p, "[]\n");
	bk_strv_release(&tags);
	bk_buf_release(&out);
}

static void test_progress_doc(void **state)
{
	struct bk_progress_doc p = {.phase = "backup", .done = 1, .total = 4}, q;
	struct bk_err err = {0};
	struct bk_buf b;
	static const char *const bad[] = {
		"{\"phase\":\"backup\",\"done\":5,\"total\":4}",
		"{\"phase\":\"copy\",\"done\":1,\"total\":4}",
		"{\"phase\":\"backup\",\"done\":1}",
		"{\"phase\":\"backup\",\"done\":1,\"total\":4,\"eta\":3}",
		"{\"phase\":\"backup\",\"done\":-1,\"total\":4}",
		"{\"phase\":\"backup\",\"do",
	};

	(void)state;
	bk_buf_init(&b);
	assert_int_equal(bk_progress_doc_encode(&p, &b, &err), 0);
	assert_string_equal(b.p, "{\"phase\":\"backup\",\"done\":1,\"total\":4}");
	assert_int_equal(bk_progress_doc_decode(b.p, b.len, &q, &err), 0);
	assert_string_equal(q.phase, "backup");
	assert_true(q.done == 1 && q.total == 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bk_progress_doc_decode(bad[i], strlen(bad[i]), &q, &err), BK_EPROTO);
	p.done = 5; /* more than total */
	assert_int_equal(bk_progress_doc_encode(&p, &b, NULL), BK_EPROTO);
	bk_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_round_trip),
		cmocka_unit_test(test_report_reads_what_backy_wrote_before),
		cmocka_unit_test(test_report_carries_scrub_counts),
		cmocka_unit_test(test_report_validates_every_field),
		cmocka_unit_test(test_report_set_error_makes_any_text_valid),
		cmocka_unit_test(test_report_encode_refuses_invalid_reports),
		cmocka_unit_test(test_report_garbage_never_crashes),
		cmocka_unit_test(test_status_encodes_the_documented_shape),
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_status_decoder_checks_types_and_ignores_new_fields),
		cmocka_unit_test(test_journal_entry_embeds_the_result),
		cmocka_unit_test(test_journal_entry_reads_older_entries),
		cmocka_unit_test(test_journal_entry_garbage_is_corrupt),
		cmocka_unit_test(test_consul_request_round_trip),
		cmocka_unit_test(test_consul_listing),
		cmocka_unit_test(test_rev_list_shape),
		cmocka_unit_test(test_progress_doc),
	};

	bk_clock_init(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
