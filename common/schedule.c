/*
 * schedule.c: schedule maths, expiry and SLA (see schedule.h).
 *
 * Design notes:
 *
 * 1. All time arithmetic is done in microseconds, so "strictly after T" and
 *    "newer than NOW - interval" are exact even for fractional seconds.
 *    Durations are capped at BK_DURATION_MAX so that interval * BK_USEC and the
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
	if (v > BK_DURATION_MAX / unit)
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

const char *bk_schedule_tag_problem(const char *name)
{
	if (!strncmp(name, BK_MANUAL_PREFIX, strlen(BK_MANUAL_PREFIX)))
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
	problem = bk_schedule_tag_problem(name);
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
	const char *problem = bk_schedule_tag_problem(tag);
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

	if (interval <= 0 || interval > BK_DURATION_MAX)
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
