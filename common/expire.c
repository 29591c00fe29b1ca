/* expire.c: retention records and expiry under floors (see expire.h). */
#include "expire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* --- retention record ------------------------------------------------------ */

void bk_retention_release(struct bk_retention *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->tags[i].name);
	free(r->tags);
	r->tags = NULL;
	r->n = 0;
}

/* Index of TAG in R, or where it would be inserted (with *FOUND false). */
static size_t retention_find(const struct bk_retention *r, const char *tag, bool *found)
{
	size_t lo = 0, hi = r->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->tags[mid].name, tag);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64_t bk_retention_get(const struct bk_retention *r, const char *tag)
{
	bool found;
	size_t i = retention_find(r, tag, &found);

	return found ? r->tags[i].seconds : 0;
}

void bk_retention_raise(struct bk_retention *r, const char *tag, int64_t seconds)
{
	bool found;
	size_t i = retention_find(r, tag, &found);

	if (seconds > BK_DURATION_MAX)
		seconds = BK_DURATION_MAX;
	if (found) {
		if (r->tags[i].seconds < seconds)
			r->tags[i].seconds = seconds;
		return;
	}
	r->tags = bk_realloc(r->tags, (r->n + 1) * sizeof(*r->tags));
	memmove(r->tags + i + 1, r->tags + i, (r->n - i) * sizeof(*r->tags));
	r->tags[i].name = bk_strdup(tag);
	r->tags[i].seconds = seconds;
	r->n++;
}

void bk_retention_merge(struct bk_retention *dst, const struct bk_retention *src)
{
	for (size_t i = 0; i < src->n; i++)
		bk_retention_raise(dst, src->tags[i].name, src->tags[i].seconds);
}

void bk_retention_merge_schedule(struct bk_retention *r, const struct bk_schedule *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct bk_sched_tag *t = &s->tags[i];
		int64_t span = BK_DURATION_MAX;

		if (t->keep <= (uint64_t)(BK_DURATION_MAX / t->interval))
			span = (int64_t)t->keep * t->interval;
		bk_retention_raise(r, t->name, span);
	}
}

int bk_retention_from_yaml(const struct bk_ynode *map, const char *name, struct bk_retention *out,
			   struct bk_err *err)
{
	struct bk_retention r = {NULL, 0};
	int64_t seconds;
	int ret;

	if (map->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'tag-retention' must be a map of tags",
				  name, map->line);
	for (size_t i = 0; i < map->n; i++) {
		const struct bk_ynode *v = map->items[i];
		const char *problem = bk_schedule_tag_problem(map->keys[i]);

		if (problem) {
			ret = bk_err_set(err, BK_ECONFIG, "%s: line %d: retention tag '%s' %s", name,
					 v->line, map->keys[i], problem);
			goto fail;
		}
		if (v->type != BK_Y_SCALAR || bk_duration_parse(v->str, &seconds) < 0) {
			ret = bk_err_set(err, BK_ECONFIG,
					 "%s: line %d: invalid retention '%s' of tag '%s' (expected N[wdhms])",
					 name, v->line, v->type == BK_Y_SCALAR ? v->str : "",
					 map->keys[i]);
			goto fail;
		}
		bk_retention_raise(&r, map->keys[i], seconds);
	}
	*out = r;
	return 0;
fail:
	bk_retention_release(&r);
	return ret;
}

void bk_retention_format_yaml(const struct bk_retention *r, struct bk_buf *out)
{
	char dur[32];

	bk_buf_adds(out, "{");
	for (size_t i = 0; i < r->n; i++) {
		bk_duration_format_spec(r->tags[i].seconds, dur, sizeof(dur));
		bk_buf_addf(out, "%s%s: %s", i ? ", " : "", r->tags[i].name, dur);
	}
	bk_buf_adds(out, "}");
}

/* NOW - KEEP * INTERVAL in microseconds, or INT64_MIN when that underflows. */
static int64_t keep_threshold(int64_t now, uint64_t keep, int64_t interval)
{
	int64_t span, t;

	if (keep > (uint64_t)INT64_MAX || __builtin_mul_overflow((int64_t)keep, interval, &span) ||
	    __builtin_mul_overflow(span, BK_USEC, &span) || __builtin_sub_overflow(now, span, &t))
		return INT64_MIN;
	return t;
}

void bk_floor_describe(const struct bk_expire_policy *policy, enum bk_expire_floor floor,
		       char *buf, size_t size)
{
	char dur[32];

	switch (floor) {
	case BK_FLOOR_NEWEST_TRUSTED:
		snprintf(buf, size, "newest trusted revision");
		break;
	case BK_FLOOR_MIN_AGE:
		bk_duration_format_spec(policy->min_age, dur, sizeof(dur));
		snprintf(buf, size, "min-age %s", dur);
		break;
	case BK_FLOOR_MIN_KEEP:
		snprintf(buf, size, "min-keep %llu", (unsigned long long)policy->min_keep);
		break;
	case BK_FLOOR_IN_USE:
		snprintf(buf, size, "mounted");
		break;
	case BK_FLOOR_NONE:
		snprintf(buf, size, "none");
		break;
	}
}

/* How many complete revisions of HIST are not marked in REMOVE (REMOVE may be NULL). */
static size_t count_complete(const struct bk_rev *hist, size_t n, const bool *remove)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		count += hist[i].complete && !(remove && remove[i]);
	return count;
}

/* Index of the newest complete revision that is not distrusted, or -1. */
static long newest_trusted(const struct bk_rev *hist, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (hist[i].complete && hist[i].trust != BK_TRUST_DISTRUSTED)
			return (long)i;
	return -1;
}

void bk_expire_floors(const struct bk_schedule *s, const struct bk_expire_policy *policy,
		      const struct bk_rev *hist, size_t n, int64_t now, struct bk_strv *newtags,
		      bool *remove, enum bk_expire_floor *kept)
{
	size_t complete, allowed;
	int64_t young;
	long newest;

	for (size_t i = 0; i < n; i++) {
		bk_strv_copy(&newtags[i], &hist[i].tags);
		remove[i] = false;
		if (kept)
			kept[i] = BK_FLOOR_NONE;
	}

	/* phase 1: expire schedule tags beyond keep and older than keep * interval */
	for (size_t t = 0; t < s->n; t++) {
		const struct bk_sched_tag *st = &s->tags[t];
		int64_t threshold = keep_threshold(now, st->keep, st->interval);
		uint64_t seen = 0;

		/* newest first: the first KEEP carriers stay whatever their age */
		for (size_t i = n; i-- > 0;) {
			if (!hist[i].complete || !bk_strv_has(&hist[i].tags, st->name))
				continue;
			if (seen++ < st->keep)
				continue;
			if (hist[i].timestamp < threshold)
				bk_strv_remove(&newtags[i], st->name);
		}
	}

	/*
	 * phase 2: drop tags of no current schedule, except manual ones and,
	 * under a policy, those younger than the longest retention they had
	 */
	for (size_t i = 0; i < n; i++) {
		if (!hist[i].complete)
			continue;
		for (size_t j = 0; j < hist[i].tags.n; j++) {
			const char *tag = hist[i].tags.v[j];
			int64_t rec = 0;

			if (!strncmp(tag, BK_MANUAL_PREFIX, strlen(BK_MANUAL_PREFIX)) ||
			    bk_schedule_find(s, tag))
				continue;
			if (policy && policy->retention)
				rec = bk_retention_get(policy->retention, tag);
			if (rec && hist[i].timestamp >= keep_threshold(now, 1, rec))
				continue;
			bk_strv_remove(&newtags[i], tag);
		}
	}

	/* phase 3: complete revisions without tags go, unless a floor keeps them */
	for (size_t i = 0; i < n; i++)
		remove[i] = hist[i].complete && newtags[i].n == 0;
	if (!policy)
		return;
	newest = newest_trusted(hist, n);
	young = keep_threshold(now, 1, policy->min_age);
	complete = count_complete(hist, n, NULL);
	allowed = complete > policy->min_keep ? complete - policy->min_keep : 0;
	for (size_t i = 0; i < n; i++) { /* oldest first: they go first under min_keep */
		enum bk_expire_floor floor = BK_FLOOR_NONE;

		if (!remove[i])
			continue;
		if ((long)i == newest)
			floor = BK_FLOOR_NEWEST_TRUSTED;
		else if (policy->min_age > 0 && hist[i].timestamp >= young)
			floor = BK_FLOOR_MIN_AGE;
		else if (allowed == 0)
			floor = BK_FLOOR_MIN_KEEP;
		else
			allowed--;
		if (floor == BK_FLOOR_NONE)
			continue;
		/* spared revisions keep their tags: a revision without tags looks like debris */
		remove[i] = false;
		bk_strv_copy(&newtags[i], &hist[i].tags);
		if (kept)
			kept[i] = floor;
	}
}

void bk_expire(const struct bk_schedule *s, const struct bk_rev *hist, size_t n, int64_t now,
	       struct bk_strv *newtags, bool *remove)
{
	bk_expire_floors(s, NULL, hist, n, now, newtags, remove, NULL);
}

int bk_floor_check(const struct bk_expire_policy *policy, const struct bk_rev *hist, size_t n,
		   const bool *remove, int64_t now, struct bk_err *err)
{
	long newest = newest_trusted(hist, n);
	size_t left = count_complete(hist, n, remove);
	int64_t young;
	char dur[32];

	if (!policy)
		return 0;
	young = keep_threshold(now, 1, policy->min_age);
	bk_duration_format_spec(policy->min_age, dur, sizeof(dur));
	for (size_t i = n; i-- > 0;) { /* newest first: name the revision a reader cares about */
		if (!remove[i])
			continue;
		if ((long)i == newest)
			return bk_err_set(err, BK_EDENIED,
					  "refusing to delete revision '%s': it is the newest trusted revision",
					  hist[i].id);
		if (policy->min_age > 0 && hist[i].timestamp >= young)
			return bk_err_set(err, BK_EDENIED,
					  "refusing to delete revision '%s': it is younger than min-age %s",
					  hist[i].id, dur);
		if (hist[i].complete && left < policy->min_keep)
			return bk_err_set(err, BK_EDENIED,
					  "refusing to delete revision '%s': %zu revision%s would be left, fewer than min-keep %llu",
					  hist[i].id, left, left == 1 ? "" : "s",
					  (unsigned long long)policy->min_keep);
	}
	return 0;
}
