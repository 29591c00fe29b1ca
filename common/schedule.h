/*
 * schedule.h: schedule maths and SLA, as Python backy does them (expiry: expire.h).
 *
 * See ../shared/design/REFERENCE-BEHAVIOUR.md ("Schedules", "Expiry", "SLA").
 * All functions here are pure: the history and the current time come in
 * as arguments, so the coordinator, the CLI and the tests share one copy.
 *
 * Times are microseconds since the Unix epoch (clock.h); intervals and the
 * spread are whole seconds.  A history is an array of revisions sorted by
 * timestamp, oldest first; revisions that are not complete are ignored
 * everywhere in this module.
 */
#ifndef BK_SCHEDULE_H
#define BK_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "revision.h"
#include "strv.h"
#include "ydoc.h"

/* 1000 years of 365.25 days, in seconds: longer "intervals" are typos. */
#define BK_DURATION_MAX (1000LL * 36525 * 864)

/* Tags with this prefix belong to no schedule and are never expired. */
#define BK_MANUAL_PREFIX "manual:"

#define BK_DEFAULT_SCHEDULE "daily=1d:7,weekly=1w:4,monthly=30d:3"

/* Catch-up is skipped when the next ideal run is at most this far away. */
#define BK_CATCHUP_GRACE (5 * 60)

struct bk_sched_tag {
	char *name;       /* owned */
	int64_t interval; /* seconds, > 0 */
	uint64_t keep;
};

struct bk_schedule {
	struct bk_sched_tag *tags; /* sorted by name */
	size_t n;
};

void bk_schedule_release(struct bk_schedule *s);

/* Deep copy of SRC into DST (which must be released or empty); DST owns its copy. */
void bk_schedule_copy(struct bk_schedule *dst, const struct bk_schedule *src);

/* Whether A and B have the same tags, intervals and keeps (tags are sorted by name). */
bool bk_schedule_equal(const struct bk_schedule *a, const struct bk_schedule *b);

/*
 * Why NAME cannot be a schedule tag ("must not start with 'manual:'", ...),
 * or NULL when it can.  ':' is refused altogether: it is reserved for
 * "manual:" tags, which no schedule may own (expiry would treat them as
 * schedule tags otherwise), and it would make "tag:NAME" specs ambiguous.
 */
const char *bk_schedule_tag_problem(const char *name);

/* "1w", "1d", "2d", "1h", "3h", "10m", "25m", "10s", "5" (seconds); returns 0 or BK_ECONFIG. */
int bk_duration_parse(const char *s, int64_t *seconds);

/* Shortest exact rendering ("1w", "30d", "90m", "5s") into BUF. */
void bk_duration_format_spec(int64_t seconds, char *buf, size_t size);

/* Parse "daily=1d:7,weekly=1w:4" (NAME=INTERVAL:KEEP, comma separated). */
int bk_schedule_parse_spec(const char *spec, struct bk_schedule *out, struct bk_err *err);

/* Parse a YAML map {daily: {interval: 1d, keep: 7}, ...}; NAME for messages. */
int bk_schedule_from_yaml(const struct bk_ynode *map, const char *name, struct bk_schedule *out,
			  struct bk_err *err);

/* Append the YAML map form, each tag on a line indented by INDENT spaces. */
void bk_schedule_format_yaml(const struct bk_schedule *s, int indent, struct bk_buf *out);

const struct bk_sched_tag *bk_schedule_find(const struct bk_schedule *s, const char *tag);

/* Smallest and largest interval in seconds (0 for an empty schedule). */
int64_t bk_schedule_min_interval(const struct bk_schedule *s);
int64_t bk_schedule_max_interval(const struct bk_schedule *s);

/*
 * Stable spread of job NAME in seconds, in [0, max interval]: the same name
 * always gets the same offset, and many names spread evenly.
 */
int64_t bk_schedule_spread(const char *name, const struct bk_schedule *s);

/*
 * Next ideal time strictly after T for one tag: times aligned to the epoch
 * 0001-01-01T00:00Z plus SPREAD % INTERVAL.
 */
int64_t bk_sched_next_tag(int64_t t, int64_t interval, int64_t spread);

/* Earliest ideal time after T over all tags, and every tag due at that instant (into TAGS). */
int64_t bk_sched_next_ideal(const struct bk_schedule *s, int64_t spread, int64_t t,
			    struct bk_strv *tags);

/*
 * What the rules below read of a history, and all they read: per schedule
 * tag the timestamp of the newest complete revision carrying it, and the
 * timestamp of the newest complete revision whatever its tags (a manual
 * backup counts).  0 means none.  The coordinator keeps exactly this per
 * job instead of a history and calls the *_seen rules; the CLI calls the
 * history forms, which summarise the history and call the same rules, so
 * both decide what is due the same way.
 */
struct bk_sched_seen {
	const int64_t *tag; /* borrowed: one per schedule tag, in s->tags order */
	int64_t newest;
};

/* Summarise HIST for S: TAG (s->n entries, caller's) and *SEEN (which borrows TAG). */
void bk_sched_seen_from(const struct bk_schedule *s, const struct bk_rev *hist, size_t n,
			int64_t *tag, struct bk_sched_seen *seen);

/* Tags with no complete revision newer than NOW - interval (into MISSED). */
void bk_sched_missed(const struct bk_schedule *s, const struct bk_rev *hist, size_t n,
		     int64_t now, struct bk_strv *missed);
void bk_sched_missed_seen(const struct bk_schedule *s, const struct bk_sched_seen *seen,
			  int64_t now, struct bk_strv *missed);

/*
 * Python backy's Schedule.next(): the time of the next run and its tags (the
 * ideal tags plus any missed ones).  If tags are missed, the history is not
 * empty and the next ideal time is more than BK_CATCHUP_GRACE away, the run
 * is NOW with only the missed tags.  Used by `backy status` and (on its
 * summary) the coordinator.
 */
int64_t bk_sched_next(const struct bk_schedule *s, int64_t spread, const struct bk_rev *hist,
		      size_t n, int64_t now, struct bk_strv *tags);
int64_t bk_sched_next_seen(const struct bk_schedule *s, int64_t spread,
			   const struct bk_sched_seen *seen, int64_t now, struct bk_strv *tags);

/*
 * What a `backy backup` without tags runs at NOW (into TAGS; empty = nothing
 * due).  A tag is due when one of its ideal times passed after its newest
 * complete revision (or after CREATED, when it has none).  With an empty
 * history the first run waits for such an ideal time and carries all tags;
 * otherwise the due tags are joined by the missed ones, and missed tags
 * alone run now unless the next ideal time is within BK_CATCHUP_GRACE.
 */
void bk_sched_due(const struct bk_schedule *s, int64_t spread, const struct bk_rev *hist,
		  size_t n, int64_t created, int64_t now, struct bk_strv *tags);
void bk_sched_due_seen(const struct bk_schedule *s, int64_t spread,
		       const struct bk_sched_seen *seen, int64_t created, int64_t now,
		       struct bk_strv *tags);

/*
 * SLA at NOW: OK when the newest complete revision is at most 1.5 x the
 * smallest interval old.  With no complete revision, OK only while CREATED
 * is less than that long ago (upstream reported OK forever).  *OVERDUE gets
 * the seconds past the SLA (0 when OK).
 */
bool bk_sla_ok(const struct bk_schedule *s, const struct bk_rev *hist, size_t n, int64_t created,
	       int64_t now, int64_t *overdue);

#endif
