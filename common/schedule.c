/*
 * schedule.c: schedule maths, expiry and SLA (see schedule.h).
 *
 * Design notes:
 *
 * 1. All time arithmetic is done in microseconds, so "strictly after T" and
 *    "newer than NOW - interval" are exact even for fractional seconds.
 *    Durations are capped at MAX_DURATION so that interval * BK_USEC and the
 *    ideal-time sums stay far inside int64_t for any time between the years
 *    1 and 9999.
 * 2. Only complete revisions count, everywhere: an interrupted backup neither
 *    satisfies a tag, nor counts towards keep, nor keeps the SLA green.
 * 3. The history is sorted oldest first, so "the newest revision with tag T"
 *    is found by walking backwards.
 * 4. The rules of what is due (missed, next, due) read a history only
 *    through its summary (struct bk_sched_seen: per tag the newest
 *    complete revision, and the newest of any tags), so the coordinator,
 *    which keeps only that summary, and the CLI, which has the revisions,
 *    cannot disagree: a manual backup counts as "some history" for both.
 */
#include "schedule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hash.h"

/* 1000 years of 365.25 days; longer "intervals" are typos. */
#define MAX_DURATION (1000LL * 36525 * 864)

#define MANUAL_PREFIX "manual:"

void bk_schedule_release(struct bk_schedule *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->tags[i].name);
	free(s->tags);
	s->tags = NULL;
	s->n = 0;
}

void bk_schedule_copy(struct bk_schedule *dst, const struct bk_schedule *src)
{
	dst->n = src->n;
	dst->tags = bk_calloc(src->n ? src->n : 1, sizeof(*dst->tags));
	for (size_t i = 0; i < src->n; i++) {
		dst->tags[i] = src->tags[i];
		dst->tags[i].name = bk_strdup(src->tags[i].name);
	}
}

bool bk_schedule_equal(const struct bk_schedule *a, const struct bk_schedule *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->tags[i].name, b->tags[i].name) ||
		    a->tags[i].interval != b->tags[i].interval || a->tags[i].keep != b->tags[i].keep)
			return false;
	return true;
}

int bk_duration_parse(const char *s, int64_t *seconds)
{
	long long v, unit;
	char *end;

	if (!s || s[0] < '0' || s[0] > '9')
		return BK_ECONFIG;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v <= 0)
		return BK_ECONFIG;
	switch (*end) {
	case '\0':
		unit = 1;
		break;
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return BK_ECONFIG;
	}
	if (*end && end[1])
		return BK_ECONFIG;
	if (v > MAX_DURATION / unit)
		return BK_ECONFIG;
	*seconds = v * unit;
	return 0;
}

void bk_duration_format_spec(int64_t seconds, char *buf, size_t size)
{
	static const struct {
		int64_t len;
		char suffix;
	} units[] = {{7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}};
	long long v = seconds;
	char suffix = 's';

	if (seconds != 0) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (seconds % units[i].len == 0) {
				v = seconds / units[i].len;
				suffix = units[i].suffix;
				break;
			}
		}
	}
	snprintf(buf, size, "%lld%c", v, suffix);
}

/*
 * Check a schedule tag name.  ':' is refused altogether: it is reserved for
 * "manual:" tags, which no schedule may own (expiry would treat them as
 * schedule tags otherwise), and it would make "tag:NAME" specs ambiguous.
 */
static const char *name_problem(const char *name)
{
	if (!strncmp(name, MANUAL_PREFIX, strlen(MANUAL_PREFIX)))
		return "must not start with 'manual:'";
	if (!bk_tag_valid(name) || strchr(name, ':'))
		return "is not a valid tag (1 to 64 characters from [A-Za-z0-9_.-])";
	return NULL;
}

/* Insert a tag keeping the array sorted; false if NAME is already there. */
static bool add_tag(struct bk_schedule *s, const char *name, int64_t interval, uint64_t keep)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		int c = strcmp(s->tags[i].name, name);

		if (c == 0)
			return false;
		if (c > 0)
			break;
	}
	s->tags = bk_realloc(s->tags, (s->n + 1) * sizeof(*s->tags));
	memmove(s->tags + i + 1, s->tags + i, (s->n - i) * sizeof(*s->tags));
	s->tags[i].name = bk_strdup(name);
	s->tags[i].interval = interval;
	s->tags[i].keep = keep;
	s->n++;
	return true;
}

static int parse_keep(const char *s, uint64_t *keep)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return BK_ECONFIG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return BK_ECONFIG;
	*keep = v;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse one trimmed "NAME=INTERVAL:KEEP" item (modified in place). */
static int parse_item(char *item, struct bk_schedule *s, struct bk_err *err)
{
	char *name = item, *eq, *colon, *dur, *keep_s;
	const char *problem;
	int64_t interval;
	uint64_t keep;
	char *orig = bk_strdup(item);
	int r = 0;

	eq = strchr(item, '=');
	if (!eq) {
		r = bk_err_set(err, BK_ECONFIG, "invalid schedule item '%s': missing '='", orig);
		goto out;
	}
	*eq = '\0';
	dur = eq + 1;
	colon = strrchr(dur, ':');
	if (!colon) {
		r = bk_err_set(err, BK_ECONFIG, "invalid schedule item '%s': missing ':'", orig);
		goto out;
	}
	*colon = '\0';
	keep_s = colon + 1;
	problem = name_problem(name);
	if (problem) {
		r = bk_err_set(err, BK_ECONFIG, "invalid schedule item '%s': tag '%s' %s", orig,
			       name, problem);
		goto out;
	}
	if (bk_duration_parse(dur, &interval) < 0) {
		r = bk_err_set(err, BK_ECONFIG,
			       "invalid schedule item '%s': bad interval '%s' (expected N[wdhms])",
			       orig, dur);
		goto out;
	}
	if (parse_keep(keep_s, &keep) < 0) {
		r = bk_err_set(err, BK_ECONFIG,
			       "invalid schedule item '%s': bad keep '%s' (expected a positive integer)",
			       orig, keep_s);
		goto out;
	}
	if (!add_tag(s, name, interval, keep))
		r = bk_err_set(err, BK_ECONFIG, "duplicate schedule tag '%s'", name);
out:
	free(orig);
	return r;
}

int bk_schedule_parse_spec(const char *spec, struct bk_schedule *out, struct bk_err *err)
{
	struct bk_schedule s = {NULL, 0};
	const char *p = spec;
	int r = 0;

	if (!spec || !spec[strspn(spec, " \t\r\n")])
		return bk_err_set(err, BK_ECONFIG, "empty schedule specification");
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *item;

		while (len && is_space(*p)) {
			p++;
			len--;
		}
		while (len && is_space(p[len - 1]))
			len--;
		if (!len) {
			r = bk_err_set(err, BK_ECONFIG, "invalid schedule '%s': empty item", spec);
			goto out;
		}
		item = bk_strndup(p, len);
		r = parse_item(item, &s, err);
		free(item);
		if (r < 0)
			goto out;
		if (!end)
			break;
		p = end + 1;
	}
	*out = s;
	return 0;
out:
	bk_schedule_release(&s);
	return r;
}

/* Parse one "NAME: {interval: D, keep: K}" entry of a YAML schedule. */
static int yaml_tag(const char *tag, const struct bk_ynode *node, const char *name,
		    struct bk_schedule *s, struct bk_err *err)
{
	const struct bk_ynode *iv, *kv;
	const char *problem = name_problem(tag);
	int64_t interval;
	uint64_t keep;

	if (problem)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule tag '%s' %s", name,
				  node->line, tag, problem);
	if (node->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: schedule tag '%s' must be a map with 'interval' and 'keep'",
				  name, node->line, tag);
	for (size_t i = 0; i < node->n; i++) {
		if (strcmp(node->keys[i], "interval") && strcmp(node->keys[i], "keep"))
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: unknown key '%s' in schedule tag '%s'", name,
					  node->items[i]->line, node->keys[i], tag);
	}
	iv = bk_ymap_get(node, "interval");
	if (!iv)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule tag '%s' has no 'interval'",
				  name, node->line, tag);
	if (iv->type != BK_Y_SCALAR || bk_duration_parse(iv->str, &interval) < 0)
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: invalid interval '%s' of schedule tag '%s' (expected N[wdhms])",
				  name, iv->line, iv->type == BK_Y_SCALAR ? iv->str : "", tag);
	kv = bk_ymap_get(node, "keep");
	if (!kv)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule tag '%s' has no 'keep'",
				  name, node->line, tag);
	if (kv->type != BK_Y_SCALAR || parse_keep(kv->str, &keep) < 0)
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: invalid keep '%s' of schedule tag '%s' (expected a positive integer)",
				  name, kv->line, kv->type == BK_Y_SCALAR ? kv->str : "", tag);
	if (!add_tag(s, tag, interval, keep))
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: duplicate schedule tag '%s'", name,
				  node->line, tag);
	return 0;
}

int bk_schedule_from_yaml(const struct bk_ynode *map, const char *name, struct bk_schedule *out,
			  struct bk_err *err)
{
	struct bk_schedule s = {NULL, 0};
	int r;

	if (!map)
		return bk_err_set(err, BK_ECONFIG, "%s: schedule is missing", name);
	if (map->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule must be a map of tags",
				  name, map->line);
	if (map->n == 0)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule has no tags", name,
				  map->line);
	for (size_t i = 0; i < map->n; i++) {
		r = yaml_tag(map->keys[i], map->items[i], name, &s, err);
		if (r < 0) {
			bk_schedule_release(&s);
			return r;
		}
	}
	*out = s;
	return 0;
}

void bk_schedule_format_yaml(const struct bk_schedule *s, int indent, struct bk_buf *out)
{
	char dur[32];

	for (size_t i = 0; i < s->n; i++) {
		bk_duration_format_spec(s->tags[i].interval, dur, sizeof(dur));
		bk_buf_addf(out, "%*s%s:\n", indent, "", s->tags[i].name);
		bk_buf_addf(out, "%*sinterval: %s\n", indent + 2, "", dur);
		bk_buf_addf(out, "%*skeep: %llu\n", indent + 2, "",
			    (unsigned long long)s->tags[i].keep);
	}
}

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

	if (seconds > MAX_DURATION)
		seconds = MAX_DURATION;
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
		int64_t span = MAX_DURATION;

		if (t->keep <= (uint64_t)(MAX_DURATION / t->interval))
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
		const char *problem = name_problem(map->keys[i]);

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

const struct bk_sched_tag *bk_schedule_find(const struct bk_schedule *s, const char *tag)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->tags[mid].name, tag);

		if (c == 0)
			return &s->tags[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int64_t bk_schedule_min_interval(const struct bk_schedule *s)
{
	int64_t min = 0;

	for (size_t i = 0; i < s->n; i++)
		if (i == 0 || s->tags[i].interval < min)
			min = s->tags[i].interval;
	return min;
}

int64_t bk_schedule_max_interval(const struct bk_schedule *s)
{
	int64_t max = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->tags[i].interval > max)
			max = s->tags[i].interval;
	return max;
}

int64_t bk_schedule_spread(const char *name, const struct bk_schedule *s)
{
	int64_t max = bk_schedule_max_interval(s);

	if (max <= 0)
		return 0;
	return (int64_t)(bk_hash64(name, strlen(name)) % (unsigned long long)(max + 1));
}

/* Floor division and modulo (C rounds towards zero). */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

int64_t bk_sched_next_tag(int64_t t, int64_t interval, int64_t spread)
{
	int64_t epoch = BK_EPOCH_0001 * BK_USEC;
	int64_t iv, off, n;

	if (interval <= 0 || interval > MAX_DURATION)
		return INT64_MAX;
	iv = interval * BK_USEC;
	off = floor_mod(spread, interval) * BK_USEC;
	n = floor_div(t - epoch - off, iv);
	return epoch + (n + 1) * iv + off;
}

int64_t bk_sched_next_ideal(const struct bk_schedule *s, int64_t spread, int64_t t,
			    struct bk_strv *tags)
{
	int64_t best = INT64_MAX;

	bk_strv_release(tags);
	for (size_t i = 0; i < s->n; i++) {
		int64_t next = bk_sched_next_tag(t, s->tags[i].interval, spread);

		if (next < best) {
			best = next;
			bk_strv_release(tags);
		}
		if (next == best)
			bk_strv_add(tags, s->tags[i].name);
	}
	return best;
}

/* The newest complete revision carrying TAG, or NULL. */
static const struct bk_rev *newest_with(const struct bk_rev *hist, size_t n, const char *tag)
{
	for (size_t i = n; i-- > 0;)
		if (hist[i].complete && bk_strv_has(&hist[i].tags, tag))
			return &hist[i];
	return NULL;
}

void bk_sched_seen_from(const struct bk_schedule *s, const struct bk_rev *hist, size_t n,
			int64_t *tag, struct bk_sched_seen *seen)
{
	seen->tag = tag;
	seen->newest = 0;
	for (size_t i = n; i-- > 0;) {
		if (hist[i].complete) {
			seen->newest = hist[i].timestamp;
			break;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct bk_rev *r = newest_with(hist, n, s->tags[i].name);

		tag[i] = r ? r->timestamp : 0;
	}
}

/* Summarise HIST into *SEEN; the caller frees the returned tag array. */
static int64_t *seen_alloc(const struct bk_schedule *s, const struct bk_rev *hist, size_t n,
			   struct bk_sched_seen *seen)
{
	int64_t *tag = bk_calloc(s->n ? s->n : 1, sizeof(*tag));

	bk_sched_seen_from(s, hist, n, tag, seen);
	return tag;
}

void bk_sched_missed_seen(const struct bk_schedule *s, const struct bk_sched_seen *seen,
			  int64_t now, struct bk_strv *missed)
{
	bk_strv_release(missed);
	for (size_t i = 0; i < s->n; i++) {
		int64_t t = seen->tag[i];

		if (!t || t <= now - s->tags[i].interval * BK_USEC)
			bk_strv_add(missed, s->tags[i].name);
	}
}

void bk_sched_missed(const struct bk_schedule *s, const struct bk_rev *hist, size_t n,
		     int64_t now, struct bk_strv *missed)
{
	struct bk_sched_seen seen;
	int64_t *tag = seen_alloc(s, hist, n, &seen);

	bk_sched_missed_seen(s, &seen, now, missed);
	free(tag);
}

int64_t bk_sched_next_seen(const struct bk_schedule *s, int64_t spread,
			   const struct bk_sched_seen *seen, int64_t now, struct bk_strv *tags)
{
	struct bk_strv missed = BK_STRV_INIT;
	int64_t t;

	t = bk_sched_next_ideal(s, spread, now, tags);
	bk_sched_missed_seen(s, seen, now, &missed);
	bk_strv_merge(tags, &missed);
	if (missed.n && seen->newest && t > now + BK_CATCHUP_GRACE * BK_USEC) {
		t = now;
		bk_strv_copy(tags, &missed);
	}
	bk_strv_release(&missed);
	return t;
}

int64_t bk_sched_next(const struct bk_schedule *s, int64_t spread, const struct bk_rev *hist,
		      size_t n, int64_t now, struct bk_strv *tags)
{
	struct bk_sched_seen seen;
	int64_t *tag = seen_alloc(s, hist, n, &seen);
	int64_t t = bk_sched_next_seen(s, spread, &seen, now, tags);

	free(tag);
	return t;
}

void bk_sched_due_seen(const struct bk_schedule *s, int64_t spread,
		       const struct bk_sched_seen *seen, int64_t created, int64_t now,
		       struct bk_strv *tags)
{
	struct bk_strv due = BK_STRV_INIT, missed = BK_STRV_INIT, ideal = BK_STRV_INIT;

	bk_strv_release(tags);
	for (size_t i = 0; i < s->n; i++) {
		const struct bk_sched_tag *st = &s->tags[i];
		int64_t prev = bk_sched_next_tag(now, st->interval, spread) - st->interval * BK_USEC;

		if (prev > (seen->tag[i] ? seen->tag[i] : created))
			bk_strv_add(&due, st->name);
	}
	if (!seen->newest) {
		if (due.n)
			for (size_t i = 0; i < s->n; i++)
				bk_strv_add(tags, s->tags[i].name);
		goto out;
	}
	bk_sched_missed_seen(s, seen, now, &missed);
	if (due.n) {
		bk_strv_merge(tags, &due);
		bk_strv_merge(tags, &missed);
	} else if (missed.n &&
		   bk_sched_next_ideal(s, spread, now, &ideal) > now + BK_CATCHUP_GRACE * BK_USEC) {
		bk_strv_merge(tags, &missed);
	}
out:
	bk_strv_release(&due);
	bk_strv_release(&missed);
	bk_strv_release(&ideal);
}

void bk_sched_due(const struct bk_schedule *s, int64_t spread, const struct bk_rev *hist,
		  size_t n, int64_t created, int64_t now, struct bk_strv *tags)
{
	struct bk_sched_seen seen;
	int64_t *tag = seen_alloc(s, hist, n, &seen);

	bk_sched_due_seen(s, spread, &seen, created, now, tags);
	free(tag);
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

			if (!strncmp(tag, MANUAL_PREFIX, strlen(MANUAL_PREFIX)) ||
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

bool bk_sla_ok(const struct bk_schedule *s, const struct bk_rev *hist, size_t n, int64_t created,
	       int64_t now, int64_t *overdue)
{
	int64_t limit = bk_schedule_min_interval(s) * BK_USEC / 2 * 3;
	int64_t age, past;
	bool ok;

	*overdue = 0;
	if (s->n == 0)
		return true;
	for (size_t i = n; i-- > 0;) {
		if (hist[i].complete) {
			age = now - hist[i].timestamp;
			ok = age <= limit;
			goto out;
		}
	}
	age = now - created;
	ok = age < limit;
out:
	past = age - limit;
	if (!ok && past > 0)
		*overdue = floor_div(past + BK_USEC - 1, BK_USEC);
	return ok;
}
