/* test_revspec.c: revision spec grammar and evaluation (common/revspec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h" /* bk_calloc */
#include "clock.h"
#include "id.h"
#include "revspec.h"

#define MAX_HIST 8

/* A full uuid stored as a revision id as it is (old repositories). */
#define UUID_FULL "0f8fad5b-d9cb-469f-a165-70867728950e"
/* A full uuid whose short encoding is a revision id (new repositories). */
#define UUID_SHORT "7c9e6679-7425-40de-944b-e07fc1f90ae7"

struct hist {
	struct bk_rev rev[MAX_HIST];
	size_t n;
};

static void add_rev(struct hist *h, const char *id, const char *time, const char *tags,
		    enum bk_trust trust, bool complete)
{
	struct bk_rev *r = &h->rev[h->n++];

	bk_rev_init(r);
	assert_true(strlen(id) <= BK_ID_MAX);
	memcpy(r->id, id, strlen(id) + 1);
	assert_int_equal(bk_time_parse(time, &r->timestamp), 0);
	bk_strv_split(&r->tags, tags);
	r->trust = trust;
	r->complete = complete;
}

/* The fixture of Python backy's test_repository.py, for its vectors. */
static int setup_upstream(void **state)
{
	struct hist *h = bk_calloc(1, sizeof(*h));

	add_rev(h, "123-0", "2015-08-29T00:00:00Z", "daily,weekly,monthly", BK_TRUST_VERIFIED, true);
	add_rev(h, "123-1", "2015-08-30T01:00:00Z", "daily,weekly", BK_TRUST_TRUSTED, true);
	add_rev(h, "123-2", "2015-08-30T02:00:00Z", "daily", BK_TRUST_TRUSTED, false);
	*state = h;
	return 0;
}

/*
 * Five revisions on consecutive days at noon:
 *   0  123-0            2015-08-29  daily,weekly,monthly  verified    complete
 *   1  123-1            2015-08-30  daily                 trusted     complete
 *   2  123-2            2015-08-31  daily                 distrusted  complete
 *   3  UUID_FULL        2015-09-01  daily,weekly          trusted     incomplete
 *   4  short(UUID_SHORT) 2015-09-02 daily,manual:keep     trusted     complete
 */
static int setup_five(void **state)
{
	struct hist *h = bk_calloc(1, sizeof(*h));
	char short_id[BK_ID_SHORT_LEN + 1];

	assert_int_equal(bk_id_from_uuid(UUID_SHORT, short_id), 0);
	add_rev(h, "123-0", "2015-08-29T12:00:00Z", "daily,weekly,monthly", BK_TRUST_VERIFIED, true);
	add_rev(h, "123-1", "2015-08-30T12:00:00Z", "daily", BK_TRUST_TRUSTED, true);
	add_rev(h, "123-2", "2015-08-31T12:00:00Z", "daily", BK_TRUST_DISTRUSTED, true);
	add_rev(h, UUID_FULL, "2015-09-01T12:00:00Z", "daily,weekly", BK_TRUST_TRUSTED, false);
	add_rev(h, short_id, "2015-09-02T12:00:00Z", "daily,manual:keep", BK_TRUST_TRUSTED, true);
	*state = h;
	return 0;
}

static int setup_empty(void **state)
{
	*state = bk_calloc(1, sizeof(struct hist));
	return 0;
}

static int teardown(void **state)
{
	struct hist *h = *state;

	for (size_t i = 0; i < h->n; i++)
		bk_rev_release(&h->rev[i]);
	free(h);
	return 0;
}

/* Evaluate SPEC and compare the selected indices, "0,2,3" ("" for none). */
static void check(const struct hist *h, const char *spec, const char *expect)
{
	bool match[MAX_HIST];
	struct bk_err err;
	char got[3 * MAX_HIST + 1] = "";
	size_t len = 0;
	int r;

	bk_err_clear(&err);
	memset(match, 0xaa, sizeof(match));
	r = bk_revspec_eval(spec, h->rev, h->n, match, &err);
	if (r != 0)
		fail_msg("'%s' failed: %s", spec, err.msg);
	for (size_t i = 0; i < h->n; i++) {
		if (match[i])
			len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%zu", len ? "," : "", i);
	}
	if (strcmp(got, expect) != 0)
		fail_msg("'%s' selected {%s}, expected {%s}", spec, got, expect);
}

/* Evaluate SPEC expecting CODE and, when MSG is not NULL, exactly that message. */
static void check_err(const struct hist *h, const char *spec, int code, const char *msg)
{
	bool match[MAX_HIST];
	struct bk_err err;
	int r;

	bk_err_clear(&err);
	r = bk_revspec_eval(spec, h->rev, h->n, match, &err);
	if (r != code)
		fail_msg("'%s' returned %d (%s), expected %d", spec, r, err.msg, code);
	assert_int_equal(err.code, code);
	assert_true(err.msg[0] != '\0');
	if (msg)
		assert_string_equal(err.msg, msg);
}

/* Upstream vectors (REFERENCE-BEHAVIOUR.md, "Revision specs"). */

static void test_upstream_date_range_to_last_clean_daily(void **state)
{
	check(*state, "2015-08-30..last(last(tag:daily&clean))", "1");
}

static void test_upstream_number_union_range(void **state)
{
	check(*state, "0,2..1", "0,1,2");
}

static void test_upstream_nested_parens(void **state)
{
	check(*state, "( (first( (123-0, 123-1)) ))", "0");
}

static void test_upstream_errors(void **state)
{
	check_err(*state, "aaaa..125", BK_ENOREV, "unknown revision 'aaaa'");
	check_err(*state, "first(not(all))", BK_ENOREV, "no revision matches 'not(all)'");
	/* "2015-09" is no date, so it is looked up as a revision */
	check_err(*state, "2015-09..2015-08-30", BK_ENOREV, "unknown revision '2015-09'");
	check_err(*state, "last)..5", BK_ESPEC, "unbalanced ')' at ')..5'");
	/* upstream allows an open end ("x.."), the grammar here does not */
	check_err(*state, "clean-..,1", BK_ESPEC, "expected a revision at ',1'");
	check_err(*state, "123-", BK_ENOREV, "unknown revision '123-'");
}

/* The other vectors of upstream's test_find_revisions that keep their meaning here. */
static void test_upstream_find_revisions(void **state)
{
	check(*state, "all", "0,1,2");
	check(*state, "1", "1");
	check(*state, "tag:dail", "");
	check(*state, "trust:verified", "0");
	check(*state, "2..1", "0,1");
	check(*state, "123-0..123-1", "0,1");
	check(*state, "tag:weekly", "0,1");
	check(*state, "1, tag:weekly", "0,1");
	check(*state, "2,1, 2,0,1", "0,1,2");
	check(*state, "reverse(not(clean))", "2");
	/* upstream keeps list order and answers 123-1; sets are in history order */
	check(*state, "last(reverse(first(123-1, 123-0)))", "0");
}

static void test_upstream_find_one(void **state)
{
	const struct hist *h = *state;
	size_t idx = 99;

	assert_int_equal(bk_revspec_one("last", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(bk_revspec_one("0", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(bk_revspec_one("2", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(bk_revspec_one("last(tag:daily)", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(bk_revspec_one("last(tag:weekly)", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(bk_revspec_one("last(tag:monthly)", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(bk_revspec_one(" first( tag:monthly  ) ", h->rev, h->n, &idx, NULL), 0);
	assert_int_equal(idx, 0);
	check_err(h, "125-125", BK_ENOREV, "unknown revision '125-125'");
}

/* Atoms */

static void test_atom_numbers_count_from_newest(void **state)
{
	check(*state, "0", "4");
	check(*state, "1", "3");
	check(*state, "4", "0");
	check(*state, "00", "4");
}

static void test_atom_number_too_large(void **state)
{
	check_err(*state, "5", BK_ENOREV, "revision number '5' out of range (5 revisions)");
	check_err(*state, "99999999999999999999999999", BK_ENOREV, NULL);
}

static void test_atom_number_negative(void **state)
{
	check_err(*state, "-1", BK_ENOREV, "revision number '-1' is negative");
	check_err(*state, "-0", BK_ENOREV, "revision number '-0' is negative");
}

static void test_atom_number_out_of_range_falls_back_to_id(void **state)
{
	struct hist h = {.n = 0};

	(void)state;
	add_rev(&h, "a", "2015-08-29T00:00:00Z", "daily", BK_TRUST_TRUSTED, true);
	add_rev(&h, "7", "2015-08-30T00:00:00Z", "daily", BK_TRUST_TRUSTED, true);
	check(&h, "1", "0");
	check(&h, "7", "1");
	for (size_t i = 0; i < h.n; i++)
		bk_rev_release(&h.rev[i]);
}

static void test_atom_last_and_latest(void **state)
{
	check(*state, "last", "4");
	check(*state, "latest", "4");
}

static void test_atom_all(void **state)
{
	check(*state, "all", "0,1,2,3,4");
}

static void test_atom_clean(void **state)
{
	check(*state, "clean", "0,1,2,4");
}

static void test_atom_tag(void **state)
{
	check(*state, "tag:daily", "0,1,2,3,4");
	check(*state, "tag:weekly", "0,3");
	check(*state, "tag:monthly", "0");
	check(*state, "tag:manual:keep", "4");
}

static void test_atom_unknown_tag_is_empty(void **state)
{
	check(*state, "tag:hourly", "");
	check(*state, "tag:hourly,123-1", "1");
	check(*state, "not(tag:hourly)", "0,1,2,3,4");
}

static void test_atom_invalid_tag(void **state)
{
	check_err(*state, "tag:", BK_ESPEC, "invalid tag '' in 'tag:'");
	check_err(*state, "tag:a+b", BK_ESPEC, "invalid tag 'a+b' in 'tag:a+b'");
}

static void test_atom_trust(void **state)
{
	check(*state, "trust:trusted", "1,3,4");
	check(*state, "trust:distrusted", "2");
	check(*state, "trust:verified", "0");
	check(*state, "trust:Verified", "0");
	check_err(*state, "trust:bogus", BK_ESPEC,
		  "invalid trust 'bogus', expected trusted, distrusted or verified");
	check_err(*state, "trust:", BK_ESPEC, NULL);
	check_err(*state, "trust:distrustedxxxxxxxxxxxx", BK_ESPEC, NULL);
}

static void test_atom_revision_id(void **state)
{
	const struct hist *h = *state;

	check(h, "123-1", "1");
	check(h, "123-0,123-2", "0,2");
	check(h, h->rev[4].id, "4");
	check_err(h, "123-9", BK_ENOREV, "unknown revision '123-9'");
	/* ids are matched exactly */
	check_err(h, "123", BK_ENOREV, "revision number '123' out of range (5 revisions)");
	check_err(h, "123-", BK_ENOREV, "unknown revision '123-'");
}

static void test_atom_full_uuid_matches_id_or_short_id(void **state)
{
	check(*state, UUID_FULL, "3");
	check(*state, UUID_SHORT, "4");
	check(*state, "7C9E6679-7425-40DE-944B-E07FC1F90AE7", "4");
	check_err(*state, "7c9e6679-7425-40de-944b-e07fc1f90ae8", BK_ENOREV,
		  "unknown revision '7c9e6679-7425-40de-944b-e07fc1f90ae8'");
}

static void test_atom_date_outside_range(void **state)
{
	check_err(*state, "2015-08-30", BK_ESPEC, "date '2015-08-30' is only valid as a side of '..'");
	check_err(*state, "2015-08-30T12:00:00", BK_ESPEC, NULL);
}

static void test_empty_history(void **state)
{
	check(*state, "all", "");
	check(*state, "clean", "");
	check(*state, "tag:daily", "");
	check(*state, "not(all)", "");
	check_err(*state, "last", BK_ENOREV, "no revision matches 'last'");
	check_err(*state, "latest", BK_ENOREV, NULL);
	check_err(*state, "0", BK_ENOREV, "revision number '0' out of range (0 revisions)");
	check_err(*state, "first(all)", BK_ENOREV, "no revision matches 'all'");
	check_err(*state, "123-0", BK_ENOREV, "unknown revision '123-0'");
	check(*state, "2015-08-29..2015-08-30", "");
}

/* Operators and functions */

static void test_union(void **state)
{
	check(*state, "123-2,123-0", "0,2");
	check(*state, "0,0,last", "4");
	check(*state, "tag:weekly,trust:distrusted,0", "0,2,3,4");
}

static void test_intersection(void **state)
{
	check(*state, "tag:weekly&clean", "0");
	check(*state, "tag:daily&trust:trusted&clean", "1,4");
	check(*state, "123-0&123-1", "");
}

static void test_not(void **state)
{
	check(*state, "not(clean)", "3");
	check(*state, "not(all)", "");
	check(*state, "not(123-0,123-1)", "2,3,4");
}

static void test_first_and_last_functions(void **state)
{
	check(*state, "first(all)", "0");
	check(*state, "last(all)", "4");
	check(*state, "first(tag:weekly)", "0");
	check(*state, "last(tag:weekly)", "3");
	check(*state, "last(clean)", "4");
	check(*state, "first(not(123-0))", "1");
	check_err(*state, "last(tag:hourly)", BK_ENOREV, "no revision matches 'tag:hourly'");
	check_err(*state, "first(123-0&123-1)", BK_ENOREV, "no revision matches '123-0&123-1'");
}

static void test_reverse_is_identity(void **state)
{
	check(*state, "reverse(all)", "0,1,2,3,4");
	check(*state, "first(reverse(tag:weekly))", "0");
	check(*state, "last(reverse(tag:weekly))", "3");
}

static void test_last_atom_versus_function(void **state)
{
	check(*state, "last", "4");
	check(*state, "last(123-1)", "1");
	check(*state, "last (123-0, 123-1)", "1");
	check(*state, "last,123-0", "0,4");
}

static void test_range_of_revisions(void **state)
{
	check(*state, "123-1..123-2", "1,2");
	check(*state, "123-1..last", "1,2,3,4");
	check(*state, "123-2..123-2", "2");
	check(*state, "3..1", "1,2,3");
	check(*state, "first(tag:weekly)..last(tag:weekly)", "0,1,2,3");
}

static void test_range_of_dates(void **state)
{
	/* a date-only end covers the whole day */
	check(*state, "2015-08-30..2015-08-31", "1,2");
	check(*state, "2015-08-30..2015-08-30", "1");
	check(*state, "2015-08-28..2015-08-28", "");
	check(*state, "2015-08-30T12:00:00..2015-08-31T11:59:59", "1");
	check(*state, "2015-08-30T12:00:00Z..2015-08-31T12:00:00+00:00", "1,2");
	check(*state, "2015-08-30T14:00:00+02:00..2015-08-30T12:00", "1");
	check(*state, "2015-08-31T12:00:00.000001..2015-09-02T12:00:00.5Z", "3,4");
	check(*state, "2015-08-31..last", "2,3,4");
	check(*state, "123-1..2015-09-01", "1,2,3");
}

static void test_range_starting_after_end(void **state)
{
	check_err(*state, "123-2..123-1", BK_ESPEC, "range '123-2..123-1' starts after it ends");
	check_err(*state, "1..3", BK_ESPEC, "range '1..3' starts after it ends");
	check_err(*state, "2015-09-01..2015-08-30", BK_ESPEC,
		  "range '2015-09-01..2015-08-30' starts after it ends");
}

static void test_range_sides_must_be_one_revision(void **state)
{
	check_err(*state, "tag:weekly..last", BK_ESPEC,
		  "range side 'tag:weekly' matches 2 revisions, expected one");
	check_err(*state, "123-0..(123-1,123-2)", BK_ESPEC,
		  "range side '(123-1,123-2)' matches 2 revisions, expected one");
	check_err(*state, "tag:hourly..last", BK_ENOREV, "no revision matches 'tag:hourly'");
	check_err(*state, "123-0..aaaa", BK_ENOREV, "unknown revision 'aaaa'");
	/* a parenthesised date is a revision lookup, not a date */
	check_err(*state, "(2015-08-30)..last", BK_ESPEC, NULL);
}

static void test_precedence(void **state)
{
	/* ',' is loosest: a,(b&c) */
	check(*state, "123-0,123-1&123-2", "0");
	check(*state, "123-0,123-1&clean", "0,1");
	check(*state, "(123-0,123-1)&123-1", "1");
	/* '..' binds tighter than '&' and ',' */
	check(*state, "123-1..last&trust:trusted", "1,3,4");
	check(*state, "1..last,123-0", "0,3,4");
	check(*state, "123-0,123-2..1&clean", "0,2");
	check(*state, "tag:weekly&123-0..1", "0,3");
}

static void test_nesting(void **state)
{
	const struct hist *h = *state;
	char spec[4 * BK_REVSPEC_MAX_DEPTH + 16];
	size_t len = 0;

	check(h, "not(not(not(tag:weekly)))", "1,2,4");
	check(h, "first(last(first(all)))", "0");
	check(h, "((123-1),((123-2)))", "1,2");
	check(h, "last(first(not(123-0))..last(not(clean)))", "3");

	/* exactly the maximum depth is fine */
	for (int i = 0; i < BK_REVSPEC_MAX_DEPTH; i++)
		spec[len++] = '(';
	memcpy(spec + len, "all", 3);
	len += 3;
	for (int i = 0; i < BK_REVSPEC_MAX_DEPTH; i++)
		spec[len++] = ')';
	spec[len] = '\0';
	check(h, spec, "0,1,2,3,4");

	/* one more is not */
	len = 0;
	for (int i = 0; i <= BK_REVSPEC_MAX_DEPTH; i++)
		spec[len++] = '(';
	memcpy(spec + len, "all", 3);
	len += 3;
	for (int i = 0; i <= BK_REVSPEC_MAX_DEPTH; i++)
		spec[len++] = ')';
	spec[len] = '\0';
	check_err(h, spec, BK_ESPEC, NULL);
	assert_non_null(strstr(bk_strerror(BK_ESPEC), "revision"));
}

static void test_nesting_limit_message(void **state)
{
	const struct hist *h = *state;
	char spec[4 * (BK_REVSPEC_MAX_DEPTH + 1) + 1];
	bool match[MAX_HIST];
	struct bk_err err;
	size_t len = 0;

	/* the depth error comes before the missing ')' */
	for (int i = 0; i <= BK_REVSPEC_MAX_DEPTH; i++) {
		memcpy(spec + len, "not(", 4);
		len += 4;
	}
	spec[len] = '\0';
	bk_err_clear(&err);
	assert_int_equal(bk_revspec_eval(spec, h->rev, h->n, match, &err), BK_ESPEC);
	assert_string_equal(err.msg, "revision spec nested too deeply at '('");
}

static void test_whitespace_is_ignored(void **state)
{
	check(*state, " \t123-1 ,\n 123-2 ", "1,2");
	check(*state, "123-1 .. 123-2", "1,2");
	check(*state, "  first ( tag:weekly )  ", "0");
	check(*state, "tag:weekly\t&\tclean", "0");
}

static void test_ids_with_dashes_are_one_word(void **state)
{
	/* "123-0" is one word, not "123" minus "0"; "." inside a word is kept */
	check(*state, "123-0", "0");
	check_err(*state, "123-0.5", BK_ENOREV, "unknown revision '123-0.5'");
	check_err(*state, "123-0...123-1", BK_ENOREV, "unknown revision '.123-1'");
}

static void test_malformed_specs(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"123-0,,123-1",
		",123-0",
		"123-0,",
		"&123-0",
		"123-0&",
		"123-0&&123-1",
		"(123-0",
		"123-0)",
		"()",
		"first()",
		"first(123-0",
		"first 123-0",
		"123-0 123-1",
		"foo(123-0)",
		"tag:weekly(123-0)",
		"123-0..",
		"..123-0",
		"..",
		"123-0..123-1..123-2",
		"123-0!",
		"a;b",
		"\"123-0\"",
		"123-0\x01",
		"123-0\xc3\xa9",
		"(123-0))",
		"((123-0)",
		")(",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_err(*state, bad[i], BK_ESPEC, NULL);
}

static void test_malformed_messages(void **state)
{
	check_err(*state, "", BK_ESPEC, "empty revision spec");
	check_err(*state, " \t", BK_ESPEC, "empty revision spec");
	check_err(*state, "(123-0", BK_ESPEC, "expected ')' at end of revision spec");
	check_err(*state, "(123-0 123-1)", BK_ESPEC, "expected ')' at '123-1)'");
	check_err(*state, "123-0,,123-1", BK_ESPEC, "expected a revision at ',123-1'");
	check_err(*state, "123-0&", BK_ESPEC, "expected a revision at end of revision spec");
	check_err(*state, "123-0)", BK_ESPEC, "unbalanced ')' at ')'");
	check_err(*state, "123-0 123-1", BK_ESPEC, "expected ',' or '&' at '123-1'");
	check_err(*state, "foo(123-0)", BK_ESPEC, "unknown function 'foo'");
	check_err(*state, "123-0;", BK_ESPEC, "invalid character at ';'");
	check_err(*state, "123-0\x01", BK_ESPEC, "invalid character at '?'");
}

static void test_syntax_errors_come_before_lookups(void **state)
{
	/* "aaaa" does not exist, but the missing ')' is reported */
	check_err(*state, "aaaa,(123-0", BK_ESPEC, "expected ')' at end of revision spec");
}

static void test_length_limit(void **state)
{
	const struct hist *h = *state;
	char *spec = bk_calloc(BK_REVSPEC_MAX_LEN + 2, 1);

	memset(spec, ' ', BK_REVSPEC_MAX_LEN);
	memcpy(spec, "all", 3);
	check(h, spec, "0,1,2,3,4");
	spec[BK_REVSPEC_MAX_LEN] = ' ';
	check_err(h, spec, BK_ESPEC, "revision spec longer than 4096 characters");

	/* the longest union still works: "0,0,...,0,1" */
	for (size_t i = 0; i < BK_REVSPEC_MAX_LEN; i += 2)
		memcpy(spec + i, "0,", 2);
	spec[BK_REVSPEC_MAX_LEN - 1] = '\0';
	spec[BK_REVSPEC_MAX_LEN - 2] = '1';
	assert_int_equal(strlen(spec), BK_REVSPEC_MAX_LEN - 1);
	check(h, spec, "3,4");
	free(spec);
}

static void test_one(void **state)
{
	const struct hist *h = *state;
	struct bk_err err;
	size_t idx = 99;

	bk_err_clear(&err);
	assert_int_equal(bk_revspec_one("last", h->rev, h->n, &idx, &err), 0);
	assert_int_equal(idx, 4);
	assert_int_equal(bk_revspec_one("first(tag:weekly)", h->rev, h->n, &idx, &err), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(bk_revspec_one(UUID_FULL, h->rev, h->n, &idx, &err), 0);
	assert_int_equal(idx, 3);

	idx = 99;
	assert_int_equal(bk_revspec_one("tag:weekly", h->rev, h->n, &idx, &err), BK_ESPEC);
	assert_string_equal(err.msg, "'tag:weekly' matches 2 revisions, expected one");
	assert_int_equal(idx, 99);

	bk_err_clear(&err);
	assert_int_equal(bk_revspec_one("tag:hourly", h->rev, h->n, &idx, &err), BK_ENOREV);
	assert_string_equal(err.msg, "no revision matches 'tag:hourly'");

	bk_err_clear(&err);
	assert_int_equal(bk_revspec_one("nope", h->rev, h->n, &idx, &err), BK_ENOREV);
	assert_string_equal(err.msg, "unknown revision 'nope'");

	bk_err_clear(&err);
	assert_int_equal(bk_revspec_one("(", h->rev, h->n, &idx, &err), BK_ESPEC);
	assert_int_equal(idx, 99);
}

static void test_one_on_empty_history(void **state)
{
	const struct hist *h = *state;
	struct bk_err err;
	size_t idx = 99;

	bk_err_clear(&err);
	assert_int_equal(bk_revspec_one("all", h->rev, h->n, &idx, &err), BK_ENOREV);
	assert_string_equal(err.msg, "no revision matches 'all'");
	assert_int_equal(idx, 99);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_upstream_date_range_to_last_clean_daily, setup_upstream),
		T(test_upstream_number_union_range, setup_upstream),
		T(test_upstream_nested_parens, setup_upstream),
		T(test_upstream_errors, setup_upstream),
		T(test_upstream_find_revisions, setup_upstream),
		T(test_upstream_find_one, setup_upstream),
		T(test_atom_numbers_count_from_newest, setup_five),
		T(test_atom_number_too_large, setup_five),
		T(test_atom_number_negative, setup_five),
		T(test_atom_number_out_of_range_falls_back_to_id, setup_empty),
		T(test_atom_last_and_latest, setup_five),
		T(test_atom_all, setup_five),
		T(test_atom_clean, setup_five),
		T(test_atom_tag, setup_five),
		T(test_atom_unknown_tag_is_empty, setup_five),
		T(test_atom_invalid_tag, setup_five),
		T(test_atom_trust, setup_five),
		T(test_atom_revision_id, setup_five),
		T(test_atom_full_uuid_matches_id_or_short_id, setup_five),
		T(test_atom_date_outside_range, setup_five),
		T(test_empty_history, setup_empty),
		T(test_union, setup_five),
		T(test_intersection, setup_five),
		T(test_not, setup_five),
		T(test_first_and_last_functions, setup_five),
		T(test_reverse_is_identity, setup_five),
		T(test_last_atom_versus_function, setup_five),
		T(test_range_of_revisions, setup_five),
		T(test_range_of_dates, setup_five),
		T(test_range_starting_after_end, setup_five),
		T(test_range_sides_must_be_one_revision, setup_five),
		T(test_precedence, setup_five),
		T(test_nesting, setup_five),
		T(test_nesting_limit_message, setup_five),
		T(test_whitespace_is_ignored, setup_five),
		T(test_ids_with_dashes_are_one_word, setup_five),
		T(test_malformed_specs, setup_five),
		T(test_malformed_messages, setup_five),
		T(test_syntax_errors_come_before_lookups, setup_five),
		T(test_length_limit, setup_five),
		T(test_one, setup_five),
		T(test_one_on_empty_history, setup_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
