/*
 * expire.h: retention, as Python backy does it plus the floors no message
 * can lower (docs/architecture.md, the trust model).
 *
 * Pure functions, like schedule.h: the history and the current time come
 * in as arguments.  The repository side (deleting, retagging under the
 * lock) is worker/engine/retention.h.
 */
#ifndef BK_EXPIRE_H
#define BK_EXPIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "revision.h"
#include "schedule.h"
#include "strv.h"
#include "ydoc.h"

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
	BK_FLOOR_IN_USE,         /* mounted (store.h, design note 4): set by the store, never here */
};

/*
 * FLOOR of POLICY for messages, into BUF: "newest trusted revision",
 * "min-age 1d", "min-keep 3", "mounted".
 */
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

#endif
