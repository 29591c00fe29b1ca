/*
 * test_id.c: revision ids (common/id.c): base-57 ids from UUIDs, new ids and their
 * validation.
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

#include "buf.h"
#include "error.h"
#include "id.h"

/* --- id ------------------------------------------------------------------ */

/* The base-57 alphabet, built independently: digits and letters without 0, 1, I, O and l. */
static void alphabet57(char out[58])
{
	static const char all[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = 0;

	for (const char *p = all; *p; p++)
		if (!strchr("01IOl", *p))
			out[n++] = *p;
	assert_int_equal(n, 57);
	out[n] = '\0';
}

/* Short id of UUID via 128-bit arithmetic, most significant digit first. */
static void reference_short_id(const char *uuid, char out[23])
{
	unsigned __int128 v = 0;
	char alpha[58];

	alphabet57(alpha);
	for (const char *p = uuid; *p; p++) {
		unsigned d;

		if (*p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			d = (unsigned)(*p - 'A' + 10);
		v = v * 16 + d;
	}
	for (int i = 21; i >= 0; i--) {
		out[i] = alpha[(int)(v % 57)];
		v /= 57;
	}
	assert_true(v == 0);
	out[22] = '\0';
}

static void test_id_from_uuid_known_vectors(void **state)
{
	static const char *const uuids[] = {
		"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
		"7c9e6679-7425-40de-944b-e07fc1f90ae7", "0f8fad5b-d9cb-469f-a165-70867728950e",
		"00000000-0000-0000-0000-000000000039", "80000000-0000-0000-0000-000000000000",
	};
	char got[BK_ID_SHORT_LEN + 1], want[23];

	(void)state;
	assert_int_equal(bk_id_from_uuid(uuids[0], got), 0);
	assert_string_equal(got, "2222222222222222222222");
	/* 0x39 == 57: "10" in base 57 */
	assert_int_equal(bk_id_from_uuid(uuids[4], got), 0);
	assert_string_equal(got, "2222222222222222222232");
	for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
		assert_int_equal(bk_id_from_uuid(uuids[i], got), 0);
		reference_short_id(uuids[i], want);
		assert_string_equal(got, want);
	}
	/* upper case is the same uuid */
	assert_int_equal(bk_id_from_uuid("7C9E6679-7425-40DE-944B-E07FC1F90AE7", got), 0);
	reference_short_id(uuids[2], want);
	assert_string_equal(got, want);
}

static void test_id_from_uuid_random_uuids(void **state)
{
	static const char hex[] = "0123456789abcdef";
	char uuid[37], got[BK_ID_SHORT_LEN + 1], want[23];
	unsigned seed = 12345;

	(void)state;
	for (int k = 0; k < 200; k++) {
		for (int i = 0; i < 36; i++) {
			seed = seed * 1103515245u + 12345u;
			uuid[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[(seed >> 16) & 15];
		}
		uuid[36] = '\0';
		assert_int_equal(bk_id_from_uuid(uuid, got), 0);
		reference_short_id(uuid, want);
		assert_string_equal(got, want);
		assert_true(bk_id_generated(got));
		assert_true(bk_id_generated(uuid));
	}
}

static void test_id_from_uuid_rejects_malformed(void **state)
{
	char got[BK_ID_SHORT_LEN + 1];

	(void)state;
	assert_int_equal(bk_id_from_uuid("", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("00000000-0000-0000-0000-00000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("00000000-0000-0000-0000-0000000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("g0000000-0000-0000-0000-000000000000", got), BK_EUSAGE);
	assert_int_equal(bk_id_from_uuid("000000000000000000000000000000000000", got), BK_EUSAGE);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_id_new_is_22_base57_digits_and_unique(void **state)
{
	enum { N = 10000 };
	char **ids = bk_calloc(N, sizeof(*ids));
	char alpha[58];

	(void)state;
	alphabet57(alpha);
	for (int i = 0; i < N; i++) {
		char id[BK_ID_SHORT_LEN + 1];

		memset(id, '!', sizeof(id));
		bk_id_new(id);
		assert_int_equal(strlen(id), 22);
		assert_int_equal(strspn(id, alpha), 22);
		assert_true(bk_id_valid(id));
		assert_true(bk_id_generated(id));
		ids[i] = bk_strdup(id);
	}
	qsort(ids, N, sizeof(*ids), cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	for (int i = 0; i < N; i++)
		free(ids[i]);
	free(ids);
}

static void test_id_valid_and_generated(void **state)
{
	char s64[65], s65[66];

	(void)state;
	memset(s64, 'a', 64);
	s64[64] = '\0';
	memset(s65, 'a', 65);
	s65[65] = '\0';
	assert_true(bk_id_valid("123-0"));
	assert_true(bk_id_valid("a_b"));
	assert_true(bk_id_valid("x-"));
	assert_true(bk_id_valid(s64));
	assert_true(bk_id_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(bk_id_valid(s65));
	assert_false(bk_id_valid(""));
	assert_false(bk_id_valid("../x"));
	assert_false(bk_id_valid("a/b"));
	assert_false(bk_id_valid("-x"));
	assert_false(bk_id_valid("."));
	assert_false(bk_id_valid("a.rev"));
	assert_false(bk_id_valid("a b"));

	assert_true(bk_id_generated("2222222222222222222222"));
	assert_true(bk_id_generated("4Ge6UNPMQfAqVjdb4hmp7V"));
	assert_true(bk_id_generated("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(bk_id_generated("222222222222222222222"));   /* 21 */
	assert_false(bk_id_generated("22222222222222222222222")); /* 23 */
	assert_false(bk_id_generated("0222222222222222222222"));  /* '0' is not a digit */
	assert_false(bk_id_generated("I222222222222222222222"));
	assert_false(bk_id_generated("l222222222222222222222"));
	assert_false(bk_id_generated("2222222222222222222-22"));
	assert_false(bk_id_generated("0f8fad5b-d9cb-469f-a165-70867728950x"));
	assert_false(bk_id_generated("notes.txt"));
	assert_false(bk_id_generated(""));
	assert_false(bk_id_generated("123-0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_from_uuid_known_vectors),
		cmocka_unit_test(test_id_from_uuid_random_uuids),
		cmocka_unit_test(test_id_from_uuid_rejects_malformed),
		cmocka_unit_test(test_id_new_is_22_base57_digits_and_unique),
		cmocka_unit_test(test_id_valid_and_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
