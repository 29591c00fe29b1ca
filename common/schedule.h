/*
 * schedule.h: schedule maths, expiry and SLA, as Python backy does them.
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
 * A repository's retention record: the longest retention (keep x interval,
 * seconds) each tag ever had in its schedule.  Expiry keeps a tag that left
 * the schedule on revisions younger than its record, so a new schedule
 * cannot delete at once what an old one promised to keep.
 */
struct bk_retention_tag {
	char *name;      /* owned */
	int64_t seconds; /* > 0 */
};

struct bk_retention {
	struct bk_retention_tag *tags; /* sorted by name */
	size_t n;
};

void bk_retention_release(struct bk_retention *r);

/* TAG's record in seconds, 0 when it has none. */
int64_t bk_retention_get(const struct bk_retention *r, const char *tag);

/* Raise TAG's record to SECONDS (> 0), adding the tag if it has none. */
void bk_retention_raise(struct bk_retention *r, const char *tag, int64_t seconds);

/* Raise DST's records to those of SRC (tag by tag, the larger wins). */
void bk_retention_merge(struct bk_retention *dst, const struct bk_retention *src);

/* Raise R's records to keep x interval of each tag of S (capped at 1000 years). */
void bk_retention_merge_schedule(struct bk_retention *r, const struct bk_schedule *s);

/*
 * Parse a YAML map of tag to duration ({daily: 1w, weekly: 4w}); tag names
 * as in schedules, durations as bk_duration_parse reads them.  NAME for messages.
 */
int bk_retention_from_yaml(const struct bk_ynode *map, const char *name, struct bk_retention *out,
			   struct bk_err *err);

/* Append the flow map "{daily: 1w, weekly: 4w}" ("{}" when empty), without a newline. */
void bk_retention_format_yaml(const struct bk_retention *r, struct bk_buf *out);

/*
 * Floors of an expiry or deletion that no schedule can lower (issue 10: the
 * schedule may come from the broker, which is not trusted).
 */
#define BK_DEFAULT_MIN_KEEP 3
#define BK_DEFAULT_MIN_AGE 86400 /* seconds */

struct bk_expire_policy {
	uint64_t min_keep; /* never leave fewer complete revisions than this */
	int64_t min_age;   /* seconds: never delete a revision younger than this */
	const struct bk_retention *retention; /* borrowed; NULL: no record */
};

/* Why a revision that lost its tags was kept (or why a deletion is refused). */
enum bk_expire_floor {
	BK_FLOOR_NONE,
	BK_FLOOR_NEWEST_TRUSTED, /* the newest complete revision that is not distrusted */
	BK_FLOOR_MIN_AGE,        /* at most min_age old */
	BK_FLOOR_MIN_KEEP,       /* fewer than min_keep complete revisions would be left */
};

/* FLOOR of POLICY for messages, into BUF: "newest trusted revision", "min-age 1d", "min-keep 3". */
void bk_floor_describe(const struct bk_expire_policy *policy, enum bk_expire_floor floor,
		       char *buf, size_t size);

/*
 * Expiry at NOW.  NEWTAGS (n entries, initialised empty by the caller) gets
 * each revision's tags after expiry and REMOVE[i] says whether revision i is
 * left without tags and must be deleted.  For each schedule tag (interval I,
 * keep K) with more than K revisions, the tag stays on the newest K and on
 * every revision younger than NOW - K*I.  Tags of no current schedule are
 * dropped except "manual:" ones.  Incomplete revisions keep their tags and
 * are never removed here.
 */
void bk_expire(const struct bk_schedule *s, const struct bk_rev *hist, size_t n, int64_t now,
	       struct bk_strv *newtags, bool *remove);

/*
 * bk_expire under the floors of POLICY (NULL: none, which is bk_expire).
 * A tag of no current schedule and not "manual:" stays on a revision at
 * most its retention record old (tags without a record go as before).  A
 * complete revision left without tags is removed only if it is not the
 * newest trusted revision, it is more than min_age old, and at least
 * min_keep complete revisions remain (the oldest candidates go first);
 * otherwise it keeps its old tags and KEPT[i] (when KEPT is not NULL) says
 * which floor kept it (BK_FLOOR_NONE for every other revision).  A policy
 * only ever keeps more than bk_expire does.
 */
void bk_expire_floors(const struct bk_schedule *s, const struct bk_expire_policy *policy,
		      const struct bk_rev *hist, size_t n, int64_t now, struct bk_strv *newtags,
		      bool *remove, enum bk_expire_floor *kept);

/*
 * Check a deletion of the revisions marked in REMOVE (n entries) against
 * POLICY at NOW (NULL: no floors).  Returns 0, or BK_EDENIED with a message
 * naming a revision and the first floor the deletion breaks: it deletes the
 * newest trusted revision, a revision younger than min_age, or leaves fewer
 * than min_keep complete revisions.
 */
int bk_floor_check(const struct bk_expire_policy *policy, const struct bk_rev *hist, size_t n,
		   const bool *remove, int64_t now, struct bk_err *err);

/*
 * SLA at NOW: OK when the newest complete revision is at most 1.5 x the
 * smallest interval old.  With no complete revision, OK only while CREATED
 * is less than that long ago (upstream reported OK forever).  *OVERDUE gets
 * the seconds past the SLA (0 when OK).
 */
bool bk_sla_ok(const struct bk_schedule *s, const struct bk_rev *hist, size_t n, int64_t created,
	       int64_t now, int64_t *overdue);

#endif
