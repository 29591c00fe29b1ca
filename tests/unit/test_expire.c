/*
 * test_expire.c: expiry under floors and the retention record
 * (common/schedule.c: bk_expire_floors, bk_floor_check, bk_retention_*).
 *
 * The attack these floors close (issue 10): a job from an untrusted broker
 * replaces the schedule with {x: 1d:1} and the next expiry deletes every
 * daily and weekly revision.  The plain rule (bk_expire) is tested first
 * (moved from test_schedule.c); the floor tests also check that the floors only ever
 * keep more than it does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "revision.h"
#include "expire.h"
#include "schedule.h"
#include "strv.h"
#include "ydoc.h"

#include "schedule_fixture.h"

#define NOW (1441800000LL * SEC) /* 2015-09-09T12:00:00Z */

struct history {
	struct bk_rev revs[64];
	size_t n;
};

/* Append a revision (oldest first); its id is "r<index>". */
static struct bk_rev *add(struct history *h, int64_t ts, const char *tags, bool complete)
{
	struct bk_rev *r = &h->revs[h->n];

	assert_true(h->n < 64);
	bk_rev_init(r);
	snprintf(r->id, sizeof(r->id), "r%zu", h->n);
	r->timestamp = ts;
	bk_strv_split(&r->tags, tags);
	r->complete = complete;
	h->n++;
	return r;
}

static void release(struct history *h)
{
	for (size_t i = 0; i < h->n; i++)
		bk_rev_release(&h->revs[i]);
	h->n = 0;
}

struct outcome {
	struct bk_strv tags[64];
	bool remove[64];
	enum bk_expire_floor kept[64];
};

/*
 * Expire H under POLICY and check what holds whatever the policy: a
 * removal is one the plain rule makes too, an incomplete revision is never
 * touched, a spared revision keeps its old tags, a floor never lets the
 * newest trusted revision, one younger than min_age or the min_keep-th
 * complete one go.
 */
static void expire(const struct bk_schedule *s, const struct bk_expire_policy *p,
		   const struct history *h, int64_t now, struct outcome *o)
{
	struct bk_strv plain_tags[64];
	bool plain[64];
	size_t complete = 0, left = 0;
	long newest = -1;

	memset(o, 0, sizeof(*o));
	memset(plain_tags, 0, sizeof(plain_tags));
	bk_expire_floors(s, p, h->revs, h->n, now, o->tags, o->remove, o->kept);
	bk_expire(s, h->revs, h->n, now, plain_tags, plain);
	for (size_t i = 0; i < h->n; i++) {
		const struct bk_rev *r = &h->revs[i];

		if (o->remove[i])
			assert_true(plain[i]);
		if (!r->complete) {
			assert_false(o->remove[i]);
			assert_true(bk_strv_equal(&o->tags[i], &r->tags));
		}
		if (o->kept[i] != BK_FLOOR_NONE) {
			assert_non_null(p);
			assert_true(plain[i] && !o->remove[i]);
			assert_true(bk_strv_equal(&o->tags[i], &r->tags));
		}
		if (!o->remove[i] && r->complete)
			assert_true(o->tags[i].n > 0 || r->tags.n == 0);
		if (r->complete && r->trust != BK_TRUST_DISTRUSTED)
			newest = (long)i;
		complete += r->complete;
		left += r->complete && !o->remove[i];
		bk_strv_release(&plain_tags[i]);
	}
	if (!p)
		return;
	if (newest >= 0)
		assert_false(o->remove[newest]);
	for (size_t i = 0; i < h->n; i++)
		if (o->remove[i] && p->min_age)
			assert_true(h->revs[i].timestamp < now - p->min_age * SEC);
	assert_true(left >= (complete < p->min_keep ? complete : p->min_keep));
}

static void outcome_release(struct outcome *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bk_strv_release(&o->tags[i]);
}

/* Daily revisions for 40 days at noon, Mondays also weekly: {daily: 7, weekly: 4} kept them. */
static void daily_weekly(struct history *h)
{
	for (int d = 40; d >= 1; d--) {
		int64_t ts = NOW - d * DAY - HOUR;

		/* 2015-09-07 was a Monday */
		add(h, ts, (d - 2) % 7 == 0 ? "daily,weekly" : "daily", true);
	}
}

/* --- the retention record ------------------------------------------------ */

static void test_retention_merges_as_max(void **state)
{
	struct bk_retention r = {NULL, 0}, o = {NULL, 0};
	struct bk_schedule s;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	bk_retention_merge_schedule(&r, &s);
	assert_int_equal(r.n, 2);
	assert_int_equal(bk_retention_get(&r, "daily"), 7 * 86400);
	assert_int_equal(bk_retention_get(&r, "weekly"), 28 * 86400);
	assert_int_equal(bk_retention_get(&r, "monthly"), 0);
	bk_schedule_release(&s);

	/* a shorter schedule lowers nothing, a longer one raises */
	schedule(&s, "daily=1d:1,hourly=1h:2");
	bk_retention_merge_schedule(&r, &s);
	assert_int_equal(bk_retention_get(&r, "daily"), 7 * 86400);
	assert_int_equal(bk_retention_get(&r, "hourly"), 7200);
	bk_retention_raise(&o, "daily", 30 * 86400);
	bk_retention_raise(&o, "weekly", 86400);
	bk_retention_raise(&o, "yearly", 365 * 86400);
	bk_retention_merge(&r, &o);
	assert_int_equal(bk_retention_get(&r, "daily"), 30 * 86400);
	assert_int_equal(bk_retention_get(&r, "weekly"), 28 * 86400);
	assert_int_equal(bk_retention_get(&r, "yearly"), 365 * 86400);
	assert_int_equal(r.n, 4);
	/* sorted by name */
	for (size_t i = 1; i < r.n; i++)
		assert_true(strcmp(r.tags[i - 1].name, r.tags[i].name) < 0);
	bk_schedule_release(&s);
	bk_retention_release(&o);
	bk_retention_release(&r);
}

static void test_retention_caps_huge_keep(void **state)
{
	struct bk_retention r = {NULL, 0}, back = {NULL, 0};
	struct bk_ynode *root = NULL;
	struct bk_err err = {0};
	struct bk_schedule s;
	struct bk_buf text;

	(void)state;
	schedule(&s, "daily=1d:18446744073709551615,weekly=1000w:1000");
	bk_retention_merge_schedule(&r, &s);
	assert_true(bk_retention_get(&r, "daily") >= 365LL * 86400 * 1000);
	assert_true(bk_retention_get(&r, "weekly") == bk_retention_get(&r, "daily"));
	/* what is written can be read back */
	bk_buf_init(&text);
	bk_buf_adds(&text, "r: ");
	bk_retention_format_yaml(&r, &text);
	if (bk_yaml_parse(text.p, text.len, "t", &root, &err) != 0 ||
	    bk_retention_from_yaml(bk_ymap_get(root, "r"), "t", &back, &err) != 0)
		fail_msg("'%s' does not parse back: %s", text.p, err.msg);
	assert_true(bk_retention_get(&back, "daily") == bk_retention_get(&r, "daily"));
	bk_ynode_free(root);
	bk_retention_release(&back);
	bk_retention_release(&r);
	bk_buf_release(&text);
	bk_schedule_release(&s);
}

static void test_retention_yaml_round_trip_and_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"r: {daily: 0}\n", "invalid retention '0' of tag 'daily'"},
		{"r: {daily: 1x}\n", "invalid retention '1x'"},
		{"r: {daily: [1d]}\n", "invalid retention '' of tag 'daily'"},
		{"r: {'manual:x': 1d}\n", "retention tag 'manual:x'"},
		{"r: {'a b': 1d}\n", "retention tag 'a b'"},
		{"r: [daily]\n", "'tag-retention' must be a map"},
	};
	struct bk_retention r = {NULL, 0};
	struct bk_ynode *root = NULL;
	struct bk_err err = {0};
	struct bk_buf text;
	const char *yaml = "r: {weekly: 4w, daily: 7d, odd: 90m}\n";

	(void)state;
	assert_int_equal(bk_yaml_parse(yaml, strlen(yaml), "t", &root, &err), 0);
	assert_int_equal(bk_retention_from_yaml(bk_ymap_get(root, "r"), "t", &r, &err), 0);
	bk_ynode_free(root);
	bk_buf_init(&text);
	bk_retention_format_yaml(&r, &text);
	assert_string_equal(text.p, "{daily: 1w, odd: 90m, weekly: 4w}");
	bk_retention_release(&r);
	bk_buf_reset(&text);
	bk_retention_format_yaml(&r, &text);
	assert_string_equal(text.p, "{}");
	bk_buf_release(&text);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bk_err_clear(&err);
		root = NULL;
		assert_int_equal(bk_yaml_parse(bad[i].text, strlen(bad[i].text), "t", &root, &err), 0);
		assert_int_equal(bk_retention_from_yaml(bk_ymap_get(root, "r"), "t", &r, &err),
				 BK_ECONFIG);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
		bk_ynode_free(root);
	}
}

/* --- expiry under floors -------------------------------------------------- */

static void test_hostile_schedule_without_record_keeps_young_and_min_keep(void **state)
{
	struct bk_expire_policy p = {3, 86400, NULL};
	struct history h = {.n = 0};
	struct bk_schedule x;
	struct outcome o;
	size_t left = 0;

	(void)state;
	schedule(&x, "x=1d:1");
	daily_weekly(&h);
	add(&h, NOW - 2 * HOUR, "daily", true);
	add(&h, NOW - HOUR, "daily", true);

	/* the plain rule deletes everything: the attack */
	expire(&x, NULL, &h, NOW, &o);
	for (size_t i = 0; i < h.n; i++)
		assert_true(o.remove[i]);
	outcome_release(&o, h.n);

	/* no record: the tags go, but the two young ones stay and one more for min-keep 3 */
	expire(&x, &p, &h, NOW, &o);
	for (size_t i = 0; i < h.n; i++)
		left += !o.remove[i];
	assert_int_equal(left, 3);
	assert_false(o.remove[h.n - 1]);
	assert_int_equal(o.kept[h.n - 1], BK_FLOOR_NEWEST_TRUSTED);
	assert_int_equal(o.kept[h.n - 2], BK_FLOOR_MIN_AGE);
	assert_int_equal(o.kept[h.n - 3], BK_FLOOR_MIN_KEEP); /* the oldest went first */
	assert_tags(&o.tags[h.n - 3], "daily");
	assert_true(o.remove[h.n - 4]);
	outcome_release(&o, h.n);
	release(&h);
	bk_schedule_release(&x);
}

static void test_hostile_schedule_with_record_keeps_what_old_schedule_promised(void **state)
{
	struct bk_retention rec = {NULL, 0};
	struct bk_expire_policy p = {3, 86400, &rec};
	struct bk_schedule old, x;
	struct history h = {.n = 0};
	struct outcome o;

	(void)state;
	schedule(&old, "daily=1d:7,weekly=1w:4");
	schedule(&x, "x=1d:1");
	bk_retention_merge_schedule(&rec, &old);
	daily_weekly(&h);

	expire(&x, &p, &h, NOW, &o);
	for (size_t i = 0; i < h.n; i++) {
		int64_t age = NOW - h.revs[i].timestamp;

		/* daily stays within 7 days, weekly within 28 */
		assert_true(bk_strv_has(&o.tags[i], "daily") == (age <= 7 * DAY));
		assert_true(bk_strv_has(&o.tags[i], "weekly") ==
			    (bk_strv_has(&h.revs[i].tags, "weekly") && age <= 28 * DAY));
		assert_true(o.remove[i] == (age > 7 * DAY && !bk_strv_has(&o.tags[i], "weekly")));
	}
	outcome_release(&o, h.n);
	release(&h);
	bk_retention_release(&rec);
	bk_schedule_release(&old);
	bk_schedule_release(&x);
}

static void test_retired_tag_goes_once_older_than_its_record(void **state)
{
	struct bk_retention rec = {NULL, 0};
	struct bk_expire_policy p = {0, 0, &rec};
	struct bk_schedule s;
	struct history h = {.n = 0};
	struct outcome o;

	(void)state;
	schedule(&s, "daily=1d:7");
	bk_retention_raise(&rec, "weekly", 28 * 86400);
	add(&h, NOW - 10 * DAY, "weekly", true);
	add(&h, NOW - 3 * DAY, "daily,weekly", true);
	add(&h, NOW - 1 * DAY, "daily", true);

	/* 10 days old, record 4 weeks: the tag stays, so the revision stays */
	expire(&s, &p, &h, NOW, &o);
	assert_false(o.remove[0]);
	assert_int_equal(o.kept[0], BK_FLOOR_NONE);
	assert_tags(&o.tags[0], "weekly");
	assert_tags(&o.tags[1], "daily,weekly");
	outcome_release(&o, h.n);

	/* exactly 28 days old: still kept; one microsecond older: gone */
	expire(&s, &p, &h, h.revs[0].timestamp + 28 * DAY, &o);
	assert_false(o.remove[0]);
	outcome_release(&o, h.n);
	expire(&s, &p, &h, h.revs[0].timestamp + 28 * DAY + 1, &o);
	assert_true(o.remove[0]);
	assert_tags(&o.tags[1], "daily,weekly");
	outcome_release(&o, h.n);

	/* a tag without a record goes at once, as before */
	bk_strv_add(&h.revs[0].tags, "unknown");
	expire(&s, &p, &h, NOW, &o);
	assert_tags(&o.tags[0], "weekly");
	outcome_release(&o, h.n);

	/* --force (no policy) ignores the record */
	expire(&s, NULL, &h, NOW, &o);
	assert_true(o.remove[0]);
	assert_tags(&o.tags[1], "daily");
	outcome_release(&o, h.n);
	release(&h);
	bk_retention_release(&rec);
	bk_schedule_release(&s);
}

static void test_newest_trusted_is_never_removed_unless_forced(void **state)
{
	struct bk_expire_policy p = {0, 0, NULL};
	struct bk_schedule x;
	struct history h = {.n = 0};
	struct outcome o;

	(void)state;
	schedule(&x, "x=1d:1");
	add(&h, NOW - 30 * DAY, "daily", true);
	add(&h, NOW - 20 * DAY, "daily", true);
	add(&h, NOW - 10 * DAY, "daily", true)->trust = BK_TRUST_DISTRUSTED;
	add(&h, NOW - 5 * DAY, "daily", false);

	/* min-keep 0 and min-age 0: only the newest trusted revision stays (r1) */
	expire(&x, &p, &h, NOW, &o);
	assert_true(o.remove[0]);
	assert_false(o.remove[1]);
	assert_int_equal(o.kept[1], BK_FLOOR_NEWEST_TRUSTED);
	assert_tags(&o.tags[1], "daily");
	assert_true(o.remove[2]);  /* distrusted */
	assert_false(o.remove[3]); /* incomplete */
	outcome_release(&o, h.n);

	/* a verified revision is trusted too */
	h.revs[2].trust = BK_TRUST_VERIFIED;
	expire(&x, &p, &h, NOW, &o);
	assert_true(o.remove[1]);
	assert_int_equal(o.kept[2], BK_FLOOR_NEWEST_TRUSTED);
	outcome_release(&o, h.n);

	/* --force */
	expire(&x, NULL, &h, NOW, &o);
	assert_true(o.remove[0] && o.remove[1] && o.remove[2] && !o.remove[3]);
	outcome_release(&o, h.n);
	release(&h);
	bk_schedule_release(&x);
}

static void test_min_age_and_min_keep(void **state)
{
	struct bk_expire_policy p = {2, 86400, NULL};
	struct bk_schedule x;
	struct history h = {.n = 0};
	struct outcome o;

	(void)state;
	schedule(&x, "x=1d:1");
	add(&h, NOW - 5 * DAY, "a", true);
	add(&h, NOW - 4 * DAY, "b", true);
	add(&h, NOW - 3 * DAY, "c", false);
	add(&h, NOW - DAY - 1, "d", true);
	add(&h, NOW - DAY, "e", true);
	add(&h, NOW - HOUR, "x", true);

	/* 5 complete: e is exactly 1d old (kept), 2 must remain: a, b, d go */
	expire(&x, &p, &h, NOW, &o);
	assert_true(o.remove[0] && o.remove[1] && o.remove[3]);
	assert_false(o.remove[2] || o.remove[4] || o.remove[5]);
	assert_int_equal(o.kept[4], BK_FLOOR_MIN_AGE);
	assert_tags(&o.tags[4], "e");
	outcome_release(&o, h.n);

	/* min-keep 4 of 5 complete, min-age 0: only the oldest candidate goes */
	p.min_keep = 4;
	p.min_age = 0;
	expire(&x, &p, &h, NOW, &o);
	assert_true(o.remove[0]);
	assert_false(o.remove[1] || o.remove[3] || o.remove[4]);
	assert_int_equal(o.kept[1], BK_FLOOR_MIN_KEEP);
	assert_int_equal(o.kept[3], BK_FLOOR_MIN_KEEP);
	assert_int_equal(o.kept[4], BK_FLOOR_MIN_KEEP);
	outcome_release(&o, h.n);

	/* min-keep above the number of revisions: nothing goes */
	p.min_keep = 100;
	expire(&x, &p, &h, NOW, &o);
	for (size_t i = 0; i < h.n; i++)
		assert_false(o.remove[i]);
	outcome_release(&o, h.n);
	release(&h);
	bk_schedule_release(&x);
}

static void test_floors_change_nothing_for_a_healthy_repository(void **state)
{
	struct bk_retention rec = {NULL, 0};
	struct bk_expire_policy p = {3, 86400, &rec};
	struct history h = {.n = 0};
	struct bk_schedule s;
	struct outcome o, plain;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	bk_retention_merge_schedule(&rec, &s);
	daily_weekly(&h);
	expire(&s, &p, &h, NOW, &o);
	expire(&s, NULL, &h, NOW, &plain);
	for (size_t i = 0; i < h.n; i++) {
		assert_true(o.remove[i] == plain.remove[i]);
		assert_true(bk_strv_equal(&o.tags[i], &plain.tags[i]));
	}
	outcome_release(&o, h.n);
	outcome_release(&plain, h.n);
	release(&h);
	bk_retention_release(&rec);
	bk_schedule_release(&s);
}

/* xorshift64: the same sequence on every run */
static uint64_t rnd(uint64_t *seed)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return *seed;
}

/* Random histories, schedules and policies: the invariants in expire() hold. */
static void test_floors_hold_on_random_histories(void **state)
{
	static const char *const specs[] = {"x=1d:1", "daily=1d:3", "daily=1h:1,weekly=1d:2",
					    "a=2d:1,b=3h:4"};
	static const char *const tagsets[] = {"daily", "weekly", "daily,weekly", "x", "manual:m",
					      "a,b", "", "gone"};
	uint64_t seed = 88172645463325252ULL;

	(void)state;
	for (int round = 0; round < 400; round++) {
		struct bk_retention rec = {NULL, 0};
		struct bk_expire_policy p;
		struct history h = {.n = 0};
		struct bk_schedule s;
		struct outcome o;
		int64_t ts = NOW - 40 * DAY;
		size_t n;

		schedule(&s, specs[rnd(&seed) % 4]);
		if (rnd(&seed) % 2)
			bk_retention_raise(&rec, "daily", (int64_t)(rnd(&seed) % 20 + 1) * 86400);
		if (rnd(&seed) % 2)
			bk_retention_raise(&rec, "weekly", (int64_t)(rnd(&seed) % 60 + 1) * 86400);
		p.min_keep = rnd(&seed) % 5;
		p.min_age = (int64_t)(rnd(&seed) % 3) * 43200;
		p.retention = &rec;
		n = rnd(&seed) % 30;
		for (size_t i = 0; i < n; i++) {
			struct bk_rev *r;

			ts += (int64_t)(rnd(&seed) % (3 * DAY));
			const char *tags = tagsets[rnd(&seed) % 8];

			r = add(&h, ts, tags, rnd(&seed) % 8 != 0);
			if (rnd(&seed) % 5 == 0)
				r->trust = BK_TRUST_DISTRUSTED;
		}
		expire(&s, &p, &h, NOW, &o);
		outcome_release(&o, h.n);
		release(&h);
		bk_retention_release(&rec);
		bk_schedule_release(&s);
	}
}

/* --- deletions (forget) under floors --------------------------------------------- */

static void test_floor_check_refuses_with_clear_messages(void **state)
{
	struct bk_expire_policy p = {3, 86400, NULL};
	struct history h = {.n = 0};
	struct bk_err err = {0};
	bool rm[8] = {false};

	(void)state;
	add(&h, NOW - 9 * DAY, "daily", true);
	add(&h, NOW - 8 * DAY, "daily", false);
	add(&h, NOW - 7 * DAY, "daily", true);
	add(&h, NOW - 6 * DAY, "daily", true);
	add(&h, NOW - 5 * DAY, "daily", true);
	add(&h, NOW - HOUR, "daily", true)->trust = BK_TRUST_DISTRUSTED;

	/* one old revision of 5 complete: fine */
	rm[0] = true;
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), 0);
	/* the incomplete one too: it does not count for min-keep */
	rm[1] = true;
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), 0);
	/* a second complete one leaves 3, a third 2 */
	rm[2] = true;
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), 0);
	rm[3] = true;
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), BK_EDENIED);
	assert_string_equal(err.msg,
			    "refusing to delete revision 'r3': 2 revisions would be left, fewer than min-keep 3");
	/* the newest trusted one (r4: r5 is distrusted) */
	memset(rm, 0, sizeof(rm));
	rm[4] = true;
	bk_err_clear(&err);
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), BK_EDENIED);
	assert_string_equal(err.msg,
			    "refusing to delete revision 'r4': it is the newest trusted revision");
	/* a young one, even distrusted */
	memset(rm, 0, sizeof(rm));
	rm[5] = true;
	bk_err_clear(&err);
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), BK_EDENIED);
	assert_string_equal(err.msg, "refusing to delete revision 'r5': it is younger than min-age 1d");
	/* with min-keep 0 and min-age 0, still not the newest trusted one */
	p.min_keep = 0;
	p.min_age = 0;
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), 0);
	memset(rm, 1, sizeof(rm));
	assert_int_equal(bk_floor_check(&p, h.revs, h.n, rm, NOW, &err), BK_EDENIED);
	/* no policy (--force): anything goes */
	assert_int_equal(bk_floor_check(NULL, h.revs, h.n, rm, NOW, &err), 0);
	release(&h);
}

static void test_floor_describe(void **state)
{
	struct bk_expire_policy p = {3, 86400, NULL};
	char buf[64];

	(void)state;
	bk_floor_describe(&p, BK_FLOOR_MIN_KEEP, buf, sizeof(buf));
	assert_string_equal(buf, "min-keep 3");
	bk_floor_describe(&p, BK_FLOOR_MIN_AGE, buf, sizeof(buf));
	assert_string_equal(buf, "min-age 1d");
	bk_floor_describe(&p, BK_FLOOR_NEWEST_TRUSTED, buf, sizeof(buf));
	assert_string_equal(buf, "newest trusted revision");
}

/* ---- the plain rule (bk_expire) ---- */


struct rev_history {
	struct bk_rev *revs;
	size_t n;
};

static void history_add(struct rev_history *h, int64_t ts, const char *tags, bool complete)
{
	h->revs = realloc(h->revs, (h->n + 1) * sizeof(*h->revs));
	assert_non_null(h->revs);
	mkrev(&h->revs[h->n], ts, tags, complete);
	h->n++;
}

static void history_release(struct rev_history *h)
{
	release_revs(h->revs, h->n);
	free(h->revs);
	h->revs = NULL;
	h->n = 0;
}

/*
 * Expire H at NOW and apply the result.  Checks the invariants: a schedule
 * tag is only removed from revisions older than NOW - K*I and not among the
 * newest K carriers, and incomplete revisions are never touched.
 */
static size_t expire_apply(const struct bk_schedule *s, struct rev_history *h, int64_t now)
{
	struct bk_strv *newtags = calloc(h->n + 1, sizeof(*newtags));
	bool *remove = calloc(h->n + 1, sizeof(*remove));
	size_t kept = 0, removed = 0;

	assert_non_null(newtags);
	assert_non_null(remove);
	bk_expire(s, h->revs, h->n, now, newtags, remove);
	for (size_t i = 0; i < h->n; i++) {
		if (!h->revs[i].complete) {
			assert_false(remove[i]);
			assert_true(bk_strv_equal(&newtags[i], &h->revs[i].tags));
			continue;
		}
		assert_true(remove[i] == (newtags[i].n == 0));
		for (size_t j = 0; j < s->n; j++) {
			const struct bk_sched_tag *st = &s->tags[j];
			size_t newer = 0;

			if (!bk_strv_has(&h->revs[i].tags, st->name) ||
			    bk_strv_has(&newtags[i], st->name))
				continue;
			for (size_t k = i + 1; k < h->n; k++)
				newer += h->revs[k].complete && bk_strv_has(&h->revs[k].tags, st->name);
			assert_true(newer >= st->keep);
			assert_true(h->revs[i].timestamp < now - (int64_t)st->keep * st->interval * SEC);
		}
	}
	for (size_t i = 0; i < h->n; i++) {
		if (remove[i]) {
			bk_rev_release(&h->revs[i]);
			removed++;
		} else {
			bk_strv_copy(&h->revs[i].tags, &newtags[i]);
			h->revs[kept++] = h->revs[i];
		}
		bk_strv_release(&newtags[i]);
	}
	h->n = kept;
	free(newtags);
	free(remove);
	return removed;
}

static size_t count_tag(const struct rev_history *h, const char *tag)
{
	size_t c = 0;

	for (size_t i = 0; i < h->n; i++)
		c += bk_strv_has(&h->revs[i].tags, tag);
	return c;
}

static void test_expire_keeps_young_revisions(void **state)
{
	struct bk_schedule s;
	struct rev_history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:5");
	history_add(&h, now - 30 * DAY, "daily,unknown", false);   /* incomplete: untouched */
	history_add(&h, now - 10 * DAY, "daily,manual:test,unknown", true);
	history_add(&h, now - 6 * DAY, "daily", true);             /* older: loses the tag */
	history_add(&h, now - 5 * DAY + HOUR, "daily", true);      /* 6th, inside the window: stays */
	history_add(&h, now - 4 * DAY, "daily", true);
	history_add(&h, now - 3 * DAY, "daily", true);
	history_add(&h, now - 2 * DAY, "daily", true);
	history_add(&h, now - 1 * DAY, "daily", true);
	history_add(&h, now - HOUR, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 8);
	assert_tags(&h.revs[0].tags, "daily,unknown");
	assert_tags(&h.revs[1].tags, "manual:test");
	assert_true(h.revs[2].timestamp == now - 5 * DAY + HOUR);
	assert_tags(&h.revs[2].tags, "daily");
	assert_int_equal(count_tag(&h, "daily"), 7); /* 6 complete + the incomplete one */
	assert_tags(&h.revs[7].tags, "daily");
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_boundary_is_inclusive(void **state)
{
	struct bk_schedule s;
	struct rev_history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:2");
	history_add(&h, now - 2 * DAY - 1, "daily", true);
	history_add(&h, now - 2 * DAY, "daily", true);
	history_add(&h, now - DAY, "daily", true);
	history_add(&h, now, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 3);
	assert_true(h.revs[0].timestamp == now - 2 * DAY);
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_keeps_newest_k_however_old(void **state)
{
	struct bk_schedule s;
	struct rev_history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:3");
	for (int i = 0; i < 3; i++)
		history_add(&h, now - (100 - i) * DAY, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 0);
	assert_int_equal(h.n, 3);
	history_add(&h, now - 50 * DAY, "daily", true);
	assert_int_equal(expire_apply(&s, &h, now), 1);
	assert_int_equal(h.n, 3);
	assert_true(h.revs[0].timestamp == now - 99 * DAY);
	history_release(&h);
	bk_schedule_release(&s);
}

static void test_expire_drops_unscheduled_tags_and_empty_revisions(void **state)
{
	struct bk_schedule s;
	struct rev_history h = {NULL, 0};
	int64_t now = T("2015-09-10T12:00:00Z");

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	history_add(&h, now - 3 * DAY, "hourly", true);
	history_add(&h, now - 2 * DAY, "", true);
	history_add(&h, now - 2 * DAY + 1, "hourly", false);
	history_add(&h, now - DAY, "daily,hourly,manual:keep,weekly", true);
	history_add(&h, now - HOUR, "manual:x", true);
	history_add(&h, now - MIN, "", false); /* running: no tags yet, never removed here */
	assert_int_equal(expire_apply(&s, &h, now), 2);
	assert_int_equal(h.n, 4);
	assert_tags(&h.revs[0].tags, "hourly");
	assert_false(h.revs[0].complete);
	assert_tags(&h.revs[1].tags, "daily,manual:keep,weekly");
	assert_tags(&h.revs[2].tags, "manual:x");
	assert_tags(&h.revs[3].tags, "");
	assert_false(h.revs[3].complete);
	history_release(&h);
	bk_schedule_release(&s);
}

/*
 * Sixty days of `backy backup` (no tags) every hour, each followed by an
 * expiry, for a job created on Monday 2024-01-01 00:00 with a spread of
 * 03:00:17.  The daily ideal passes at 03:00:17, so every day at 04:00 one
 * revision appears; Mondays carry daily and weekly.
 */
static void test_expire_scenario_60_days_daily_weekly(void **state)
{
	struct bk_schedule s;
	struct rev_history h = {NULL, 0};
	struct bk_strv tags = BK_STRV_INIT;
	int64_t created = T("2024-01-01T00:00:00Z"), now = created, last = 0;
	int64_t spread = 3 * 3600 + 17;
	size_t backups = 0, removed = 0, weeklies = 0;

	(void)state;
	schedule(&s, "daily=1d:7,weekly=1w:4");
	for (int step = 1; step <= 60 * 24; step++) {
		now = created + step * HOUR;
		bk_sched_due(&s, spread, h.revs, h.n, created, now, &tags);
		if (!tags.n)
			continue;
		/* every backup is at 04:00, one per day */
		assert_int_equal((now - created) % DAY, 4 * HOUR);
		if (last)
			assert_true(now - last == DAY);
		last = now;
		if ((now - created) % (7 * DAY) == 4 * HOUR) {
			assert_tags(&tags, "daily,weekly");
			weeklies++;
		} else {
			assert_tags(&tags, "daily");
		}
		history_add(&h, now, "", true);
		bk_strv_copy(&h.revs[h.n - 1].tags, &tags);
		backups++;
		removed += expire_apply(&s, &h, now);
		/* retention: the newest K and everything within K*I */
		if (backups >= 8)
			assert_int_equal(count_tag(&h, "daily"), 8);
	}
	assert_int_equal(backups, 60);
	assert_int_equal(weeklies, 9); /* days 0, 7, ..., 56 */
	/* the last backup ran on day 59 (2024-02-29 04:00) */
	assert_time(last, "2024-02-29T04:00:00Z");
	/* dailies: days 52..59 (day 52 is exactly 7 days old, so it stays) */
	assert_int_equal(count_tag(&h, "daily"), 8);
	assert_time(h.revs[h.n - 8].timestamp, "2024-02-22T04:00:00Z");
	/* weeklies: Mondays 35, 42, 49, 56; day 28 fell out of the 28-day window */
	assert_int_equal(count_tag(&h, "weekly"), 4);
	assert_time(h.revs[0].timestamp, "2024-02-05T04:00:00Z");
	assert_int_equal(h.n, 11);
	assert_int_equal(removed, 49);
	/* nothing is due right after the last backup */
	bk_sched_due(&s, spread, h.revs, h.n, created, last + HOUR, &tags);
	assert_tags(&tags, "");
	bk_strv_release(&tags);
	history_release(&h);
	bk_schedule_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expire_keeps_young_revisions),
		cmocka_unit_test(test_expire_boundary_is_inclusive),
		cmocka_unit_test(test_expire_keeps_newest_k_however_old),
		cmocka_unit_test(test_expire_drops_unscheduled_tags_and_empty_revisions),
		cmocka_unit_test(test_expire_scenario_60_days_daily_weekly),
		cmocka_unit_test(test_retention_merges_as_max),
		cmocka_unit_test(test_retention_caps_huge_keep),
		cmocka_unit_test(test_retention_yaml_round_trip_and_errors),
		cmocka_unit_test(test_hostile_schedule_without_record_keeps_young_and_min_keep),
		cmocka_unit_test(test_hostile_schedule_with_record_keeps_what_old_schedule_promised),
		cmocka_unit_test(test_retired_tag_goes_once_older_than_its_record),
		cmocka_unit_test(test_newest_trusted_is_never_removed_unless_forced),
		cmocka_unit_test(test_min_age_and_min_keep),
		cmocka_unit_test(test_floors_change_nothing_for_a_healthy_repository),
		cmocka_unit_test(test_floors_hold_on_random_histories),
		cmocka_unit_test(test_floor_check_refuses_with_clear_messages),
		cmocka_unit_test(test_floor_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
