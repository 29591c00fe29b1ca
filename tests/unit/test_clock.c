/*
 * test_clock.c: the clock (common/clock.c): ISO time parsing and formatting, the
 * BACKY_NOW override, the test seam and durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"

#include "common_fixture.h"

/* --- clock --------------------------------------------------------------- */

static void expect_time(const char *s, int64_t want)
{
	int64_t t = 0;

	if (bk_time_parse(s, &t) != 0)
		fail_msg("'%s' did not parse", s);
	if (t != want)
		fail_msg("'%s' parsed to %lld, expected %lld", s, (long long)t, (long long)want);
}

static void test_time_parse_accepts_iso_forms(void **state)
{
	(void)state;
	expect_time("2015-09-01T07:06:47Z", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01 07:06:47+00:00", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47+0000", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47", T_20150901_070647 * BK_USEC);
	expect_time("2015-09-01T07:06:47.5+02:00", (T_20150901_070647 - 7200) * BK_USEC + 500000);
	expect_time("2015-09-01T07:06:47.123456Z", T_20150901_070647 * BK_USEC + 123456);
	expect_time("2015-09-01T07:06:47.1234567Z", T_20150901_070647 * BK_USEC + 123456);
	expect_time("2015-09-01T07:06:47-05:30", (T_20150901_070647 + 5 * 3600 + 1800) * BK_USEC);
	expect_time("2015-09-01T07:06Z", (T_20150901_070647 - 47) * BK_USEC);
	expect_time("2015-09-01", T_20150901 * BK_USEC);
	expect_time("1970-01-01T00:00:00Z", 0);
	expect_time("1969-12-31T23:59:59.999999Z", -1);
	expect_time("0001-01-01T00:00:00Z", BK_EPOCH_0001 * BK_USEC);
	expect_time("2016-02-29", (T_20150901 + 181 * 86400) * BK_USEC);
	expect_time("2000-02-29T00:00:00Z", 951782400LL * BK_USEC);
}

static void test_time_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"2015-02-30", "2015-13-01", "2015-00-10", "2015-09-00", "2015-09-31", "garbage",
		"2015-09-01T25:00", "2015-09-01T12:60", "2015-09-01T12:00:61", "2015-9-1",
		"2015-09-01T", "2015-09-01T07:06:47.", "2015-09-01T07:06:47+2", "2015-09-01T07:06:47+24:00",
		"2015-09-01T07:06:47Zjunk", "", "0000-01-01", "1900-02-29", "2015-02-29",
		"2015-09-01T07", "2015-09-01X07:06:47",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 42;

		if (bk_time_parse(bad[i], &t) != BK_EUSAGE)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(t == 42);
	}
}

static void test_time_format_iso_and_display_round_trip(void **state)
{
	static const int64_t times[] = {
		0, 1, -1, 999999, -999999, 1000000, -1000000, -1500000,
		T_20150901_070647 * BK_USEC + 123456, BK_EPOCH_0001 * BK_USEC,
		BK_EPOCH_0001 * BK_USEC + 1, 253402300799LL * BK_USEC + 999999, /* 9999-12-31T23:59:59.999999 */
	};
	char buf[64];
	int64_t t;

	(void)state;
	bk_time_format(T_20150901_070647 * BK_USEC + 123456, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "2015-09-01T07:06:47.123456+00:00");
	bk_time_format(T_20150901_070647 * BK_USEC + 123456, buf, sizeof(buf), BK_TIME_DISPLAY);
	assert_string_equal(buf, "2015-09-01 07:06:47");
	bk_time_format(-1, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999+00:00");
	bk_time_format(-1, buf, sizeof(buf), BK_TIME_DISPLAY);
	assert_string_equal(buf, "1969-12-31 23:59:59");
	bk_time_format(-1500000, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "1969-12-31T23:59:58.500000+00:00");
	bk_time_format(BK_EPOCH_0001 * BK_USEC, buf, sizeof(buf), BK_TIME_ISO);
	assert_string_equal(buf, "0001-01-01T00:00:00.000000+00:00");

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		bk_time_format(times[i], buf, sizeof(buf), BK_TIME_ISO);
		assert_int_equal(bk_time_parse(buf, &t), 0);
		if (t != times[i])
			fail_msg("%lld -> '%s' -> %lld", (long long)times[i], buf, (long long)t);
		bk_time_format(times[i], buf, sizeof(buf), BK_TIME_DISPLAY);
		assert_int_equal(bk_time_parse(buf, &t), 0);
		/* the display form drops the microseconds: it rounds down */
		assert_true(t <= times[i] && times[i] - t < BK_USEC);
	}
}

static void test_backy_now_overrides_the_clock(void **state)
{
	struct bk_err err = {0};
	int64_t real;

	(void)state;
	assert_int_equal(setenv("BACKY_NOW", "2020-01-02T03:04:05Z", 1), 0);
	assert_int_equal(bk_clock_init(&err), 0);
	assert_true(bk_now() == 1577934245LL * BK_USEC);
	assert_true(bk_now() == 1577934245LL * BK_USEC); /* fixed, not running */

	assert_int_equal(setenv("BACKY_NOW", "tomorrow", 1), 0);
	assert_int_equal(bk_clock_init(&err), BK_EUSAGE);
	assert_int_equal(err.code, BK_EUSAGE);
	assert_non_null(strstr(err.msg, "'tomorrow'"));
	assert_true(bk_now() == 1577934245LL * BK_USEC); /* unchanged */

	unsetenv("BACKY_NOW");
	bk_clock_set(0);
	bk_err_clear(&err);
	assert_int_equal(bk_clock_init(&err), 0);
	real = (int64_t)time(NULL) * BK_USEC;
	assert_true(bk_now() >= real - 5 * BK_USEC && bk_now() <= real + 5 * BK_USEC);
}

static void test_backy_now_at_unix_epoch_is_honoured(void **state)
{
	struct bk_err err = {0};

	(void)state;
	/* a valid ISO 8601 UTC time like any other: bk_now() must return it */
	assert_int_equal(setenv("BACKY_NOW", "1970-01-01T00:00:00Z", 1), 0);
	assert_int_equal(bk_clock_init(&err), 0);
	assert_true(bk_now() == 0);
	unsetenv("BACKY_NOW");
	bk_clock_set(0);
}

static void test_clock_set_seam(void **state)
{
	int64_t m1, m2, real;

	(void)state;
	bk_clock_set(123456789);
	assert_true(bk_now() == 123456789);
	m1 = bk_monotonic();
	m2 = bk_monotonic();
	assert_true(m2 >= m1); /* the monotonic clock ignores the seam */
	assert_true(m1 != 123456789);
	bk_clock_set(-5 * BK_USEC);
	assert_true(bk_now() == -5 * BK_USEC);
	bk_clock_set(0);
	real = (int64_t)time(NULL) * BK_USEC;
	assert_true(bk_now() >= real - 5 * BK_USEC && bk_now() <= real + 5 * BK_USEC);
}

static void test_duration_format(void **state)
{
	char buf[32];

	(void)state;
	bk_duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	bk_duration_format(59.4, buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	bk_duration_format(61, buf, sizeof(buf));
	assert_string_equal(buf, "1m 01s");
	bk_duration_format(3725, buf, sizeof(buf));
	assert_string_equal(buf, "1h 02m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_parse_accepts_iso_forms),
		cmocka_unit_test(test_time_parse_rejects_malformed),
		cmocka_unit_test(test_time_format_iso_and_display_round_trip),
		cmocka_unit_test(test_backy_now_overrides_the_clock),
		cmocka_unit_test(test_backy_now_at_unix_epoch_is_honoured),
		cmocka_unit_test(test_clock_set_seam),
		cmocka_unit_test(test_duration_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
