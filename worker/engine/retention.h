/*
 * retention.h: deleting revisions of a repository, by its schedule (expire)
 * or by name (forget), within the retention floors.
 *
 * The rules are common/schedule.h's (bk_expire_floors, bk_floor_check):
 * pure functions of the history.  This is where they meet the store: the
 * repository must be open and locked (bk_repo_lock), revisions are deleted
 * newest first (so an index still to be visited never shifts), retagged
 * ones are rewritten atomically, and 'latest' is moved at the end.  The
 * caller logs: each step is reported through a callback before it happens.
 * A held revision (store.h, design note 4: mounted) is never deleted.
 */
#ifndef BK_RETENTION_H
#define BK_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "expire.h"
#include "store.h"

enum bk_expire_action {
	BK_EXPIRE_KEEP,   /* left without tags, kept by a floor (step.floor says which) */
	BK_EXPIRE_REMOVE, /* deleted */
	BK_EXPIRE_RETAG,  /* its tags become step.newtags */
};

struct bk_expire_step {
	const struct bk_rev *rev; /* as it is before the step */
	enum bk_expire_action action;
	const struct bk_strv *newtags; /* RETAG */
	enum bk_expire_floor floor;    /* KEEP */
};

/* Called for each step before it happens; ARG is the caller's. */
typedef void (*bk_expire_cb)(void *arg, const struct bk_expire_step *step);

/*
 * Apply the schedule's retention to REPO at NOW under the floors of POLICY
 * (its retention record is taken from the repository; NULL: no floors, an
 * operator's --force).  A held revision that would go is kept like one a
 * floor keeps (BK_FLOOR_IN_USE, also under --force), with its tags, so the
 * first expiry after it is released deletes it.  With DRY_RUN only
 * report the steps.  ON_STEP may be NULL.
 */
int bk_repo_expire(struct bk_repo *repo, const struct bk_expire_policy *policy, int64_t now,
		   bool dry_run, bk_expire_cb on_step, void *arg, struct bk_err *err);

/*
 * Delete the revisions marked in MATCH (repo->n entries) unless that breaks
 * a floor of POLICY at NOW (NULL: no floors): then nothing is deleted and
 * BK_EDENIED names the revision and the floor; or while one of them is held:
 * BK_ELOCKED, nothing deleted.  ON_STEP (may be NULL) sees each deletion
 * (BK_EXPIRE_REMOVE) before it happens.
 */
int bk_repo_forget(struct bk_repo *repo, const bool *match, const struct bk_expire_policy *policy,
		   int64_t now, bk_expire_cb on_step, void *arg, struct bk_err *err);

#endif
