/* retention.c: expire and forget on a repository (see retention.h). */
#include "retention.h"

#include <stdlib.h>

static void report(bk_expire_cb on_step, void *arg, const struct bk_rev *rev,
		   enum bk_expire_action action, const struct bk_strv *newtags,
		   enum bk_expire_floor floor)
{
	struct bk_expire_step step = {rev, action, newtags, floor};

	if (on_step)
		on_step(arg, &step);
}

int bk_repo_expire(struct bk_repo *repo, const struct bk_expire_policy *policy, int64_t now,
		   bool dry_run, bk_expire_cb on_step, void *arg, struct bk_err *err)
{
	size_t n = repo->n;
	struct bk_strv *newtags = bk_calloc(n ? n : 1, sizeof(*newtags));
	bool *remove = bk_calloc(n ? n : 1, sizeof(*remove));
	enum bk_expire_floor *kept = bk_calloc(n ? n : 1, sizeof(*kept));
	struct bk_expire_policy p;
	int r = 0;

	if (policy) {
		p = *policy;
		p.retention = &repo->cfg.retention;
	}
	bk_expire_floors(&repo->cfg.schedule, policy ? &p : NULL, repo->revs, n, now, newtags,
			 remove, kept);
	for (size_t i = 0; i < n; i++) {
		if (remove[i] && bk_repo_rev_held(repo, i, NULL) < 0) {
			remove[i] = false;
			bk_strv_copy(&newtags[i], &repo->revs[i].tags);
			kept[i] = BK_FLOOR_IN_USE;
		}
	}
	/* newest first, so removals never shift an index still to be visited */
	for (size_t i = n; r == 0 && i-- > 0;) {
		struct bk_rev *rev = &repo->revs[i];

		if (kept[i] != BK_FLOOR_NONE)
			report(on_step, arg, rev, BK_EXPIRE_KEEP, NULL, kept[i]);
		if (remove[i]) {
			report(on_step, arg, rev, BK_EXPIRE_REMOVE, NULL, BK_FLOOR_NONE);
			if (!dry_run)
				r = bk_repo_remove_rev(repo, i, err);
		} else if (!bk_strv_equal(&rev->tags, &newtags[i])) {
			report(on_step, arg, rev, BK_EXPIRE_RETAG, &newtags[i], BK_FLOOR_NONE);
			if (!dry_run) {
				bk_strv_copy(&rev->tags, &newtags[i]);
				r = bk_repo_save_rev(repo, rev, err);
			}
		}
	}
	if (r == 0 && !dry_run)
		r = bk_repo_update_latest(repo, err);
	for (size_t i = 0; i < n; i++)
		bk_strv_release(&newtags[i]);
	free(newtags);
	free(remove);
	free(kept);
	return r;
}

int bk_repo_forget(struct bk_repo *repo, const bool *match, const struct bk_expire_policy *policy,
		   int64_t now, bk_expire_cb on_step, void *arg, struct bk_err *err)
{
	int r = bk_floor_check(policy, repo->revs, repo->n, match, now, err);

	for (size_t i = 0; r == 0 && i < repo->n; i++)
		if (match[i])
			r = bk_repo_rev_held(repo, i, err);
	for (size_t i = repo->n; r == 0 && i-- > 0;) {
		if (!match[i])
			continue;
		report(on_step, arg, &repo->revs[i], BK_EXPIRE_REMOVE, NULL, BK_FLOOR_NONE);
		r = bk_repo_remove_rev(repo, i, err);
	}
	if (r == 0)
		r = bk_repo_update_latest(repo, err);
	return r;
}
