/*
 * coord_fixture.h: what the coordinator's unit tests share: the daemon's
 * two ways of putting a run on the wire, done on the model alone.
 */
#ifndef BK_TEST_COORD_FIXTURE_H
#define BK_TEST_COORD_FIXTURE_H

#include "state.h"

/* What the daemon does for a due run: co_start(), then (at publishing) co_run_message(). */
static inline int start_msg(struct co_state *st, uint32_t i, enum co_run_kind k, int64_t now,
			    struct bk_msg_job *m)
{
	int r = co_start(st, i, k, now, NULL);

	if (r == 0)
		co_run_message(st, i, k, now, m);
	return r;
}

/* What the daemon does for a run past its deadline: co_redispatch(), then co_run_message(). */
static inline void redispatch_msg(struct co_state *st, uint32_t i, enum co_run_kind k,
				  int64_t now, struct bk_msg_job *m)
{
	co_redispatch(st, i, k, now);
	co_run_message(st, i, k, now, m);
}

#endif
