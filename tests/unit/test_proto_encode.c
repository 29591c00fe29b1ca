/*
 * test_proto_encode.c: the wire format (proto/proto.c), encoding: round trips
 * of every kind, canonical encoding, what the encoder refuses, routing keys,
 * error and enum names and releasing messages.
 *
 * `test_proto_encode --examples` prints the example messages, one per line
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

#include "proto_fixture.h"

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
	assert_int_equal(m.u.job.head.minor, BK_MSG_MINOR);
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
	assert_non_null(strstr(text, "\"schema\":\"backy/1.1\",\"kind\":\"job\""));
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
		cmocka_unit_test(test_encoder_refuses_invalid_messages),
		cmocka_unit_test(test_set_error_cuts_and_cleans_text),
		cmocka_unit_test(test_routing_keys),
		cmocka_unit_test(test_error_code_names),
		cmocka_unit_test(test_names_of_enums),
		cmocka_unit_test(test_release_is_idempotent),
	};

	if (argc == 2 && !strcmp(argv[1], "--examples"))
		return print_examples();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
