/*
 * schedule_fixture.h: what the schedule and expiry tests (test_schedule.c,
 * test_schedule_due.c, test_expire.c) share: time units, ISO times, tag sets,
 * parsed schedules and revisions.  Header only (static inline).
 */
#ifndef BK_TEST_SCHEDULE_FIXTURE_H
#define BK_TEST_SCHEDULE_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "revision.h"
#include "expire.h"
#include "schedule.h"
#include "strv.h"
#include "ydoc.h"

#define SEC BK_USEC
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)


/* ISO time to microseconds; the test fails on a typo. */
static inline int64_t T(const char *s)
{
	int64_t t = 0;

	assert_int_equal(bk_time_parse(s, &t), 0);
	return t;
}

static inline void assert_time(int64_t got, const char *want)
{
	char a[64], b[64];

	bk_time_format(got, a, sizeof(a), BK_TIME_ISO);
	bk_time_format(T(want), b, sizeof(b), BK_TIME_ISO);
	assert_string_equal(a, b);
	assert_true(got == T(want));
}

/* Compare a set with a comma-separated, sorted list ("" for empty). */
static inline void assert_tags(const struct bk_strv *s, const char *want)
{
	char got[512] = "";
	size_t len = 0;

	for (size_t i = 0; i < s->n; i++) {
		int r = snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "", s->v[i]);

		assert_true(r > 0 && (size_t)r < sizeof(got) - len);
		len += (size_t)r;
	}
	assert_string_equal(got, want);
}

static inline void schedule(struct bk_schedule *s, const char *spec)
{
	struct bk_err err = {0};

	memset(s, 0, sizeof(*s));
	assert_int_equal(bk_schedule_parse_spec(spec, s, &err), 0);
}

static inline void mkrev(struct bk_rev *r, int64_t ts, const char *tags, bool complete)
{
	static unsigned serial;

	bk_rev_init(r);
	snprintf(r->id, sizeof(r->id), "rev-%u", serial++);
	r->timestamp = ts;
	bk_strv_split(&r->tags, tags);
	r->complete = complete;
}

static inline void release_revs(struct bk_rev *revs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bk_rev_release(&revs[i]);
}

#endif
