/*
 * coord_fixture.h: what the coordinator's unit tests share: their start
 * instant, and the daemon's two ways of putting a run on the wire, done on
 * the model alone.  Include after cmocka.h.
 */
#ifndef BK_TEST_COORD_FIXTURE_H
#define BK_TEST_COORD_FIXTURE_H

#include "clock.h"
#include "state.h"

/* The instant the tests start at: 2026-03-02T00:00:00Z. */
static inline int64_t t0(void)
{
	int64_t t;

	assert_int_equal(bk_time_parse("2026-03-02T00:00:00Z", &t), 0);
	return t;
}

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
