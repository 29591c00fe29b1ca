/*
 * scrub.c: the scrub schedule of the coordinator's model: planning verify
 * jobs in slices, starting them out of the way of backups, and what their
 * results tell (see scrub.h).
 */
#include "scrub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "state.h"
#include "state_priv.h"

void co_scrub_release(struct co_scrub *s)
{
	free(s->bad);
	memset(s, 0, sizeof(*s));
}

static int64_t period_s(const struct co_state *st)
{
	return st->cfg ? st->cfg->scrub_period : CO_DEFAULT_SCRUB_PERIOD;
}

static int64_t slice_s(const struct co_state *st)
{
	return st->cfg ? st->cfg->scrub_slice : CO_DEFAULT_SCRUB_SLICE;
}

int64_t co_scrub_ideal(int64_t spread, int64_t slice, int64_t after)
{
	int64_t len = slice * BK_USEC;
	int64_t off = ((spread % slice + slice / 2) % slice) * BK_USEC;
	int64_t n = (after - off) / len;

	/* floor division: times before the epoch do not occur, but be exact */
	if (after - off < 0 && (after - off) % len)
		n--;
	return (n + 1) * len + off;
}

static void heap_update(struct co_state *st, uint32_t i)
{
	const struct co_job *j = &st->jobs[i];

	if (!j->live || !j->scrub.next || j->run[CO_RUN_VERIFY].active)
		co_heap_remove(&st->scrub, i);
	else
		co_heap_set(&st->scrub, i, j->scrub.next);
}

void co_scrub_plan(struct co_state *st, uint32_t i, int64_t now)
{
	struct co_job *j = &st->jobs[i];

	if (period_s(st) == 0 && !j->scrub.manual) {
		if (j->scrub.next) {
			j->scrub.next = 0;
			co_job_mark(st, i, CO_CHG_JOB);
		}
	} else if (!j->scrub.next) {
		j->scrub.next = co_scrub_ideal(j->spread, slice_s(st), now);
		co_job_mark(st, i, CO_CHG_JOB);
	}
	heap_update(st, i);
}

size_t co_take_scrub_due(struct co_state *st, int64_t now, uint32_t *out, size_t max)
{
	size_t n = 0;
	int64_t key;
	uint32_t id;

	while (n < max && co_heap_peek(&st->scrub, &key, &id) && key <= now) {
		co_heap_pop(&st->scrub, &key, &id);
		out[n++] = id;
	}
	return n;
}

int64_t co_scrub_older_than(const struct co_state *st, uint32_t i)
{
	const struct co_job *j = &st->jobs[i];

	int64_t older = period_s(st) - slice_s(st) - slice_s(st) / 8;

	/* note 1: an eighth of a slice for a slice that starts late (a tick, a deferral) */
	return j->scrub.manual || older <= 0 ? 0 : older;
}

/* Whether job J leaves room for a verify at NOW (note 2). */
static bool room_for_verify(const struct co_job *j, int64_t now)
{
	if (j->run[CO_RUN_BACKUP].active || j->run[CO_RUN_EXPIRE].active || j->manual_tags)
		return false;
	return j->scrub.manual || !j->next_time || j->next_time - now >= CO_SCRUB_MARGIN;
}

int co_scrub_start(struct co_state *st, uint32_t i, int64_t now, const struct co_run **started)
{
	struct co_job *j = &st->jobs[i];
	int64_t older = co_scrub_older_than(st, i);
	int r;

	if (j->run[CO_RUN_VERIFY].active)
		return BK_ELOCKED;
	if (!j->last_time && !j->scrub.manual) {
		/* no backup yet, no repository: this slice has nothing to read */
		j->scrub.next = co_scrub_ideal(j->spread, slice_s(st), now);
		co_job_mark(st, i, CO_CHG_JOB);
		heap_update(st, i);
		return BK_ENOREV;
	}
	if (!room_for_verify(j, now)) {
		j->scrub.next = now + (j->scrub.manual ? CO_SCRUB_RETRY_MANUAL : CO_SCRUB_RETRY);
		st->c.scrubs_deferred++;
		co_job_mark(st, i, CO_CHG_JOB);
		heap_update(st, i);
		return BK_ELOCKED;
	}
	r = co_start(st, i, CO_RUN_VERIFY, now, started);
	if (r < 0)
		return r;
	j->run[CO_RUN_VERIFY].older_than = older;
	j->scrub.manual = false;
	j->scrub.next = co_scrub_ideal(j->spread, slice_s(st), now); /* the next slice */
	heap_update(st, i);
	return 0;
}

static void add_sat(uint32_t *v, uint32_t n)
{
	*v = UINT32_MAX - *v < n ? UINT32_MAX : *v + n;
}

void co_scrub_result(struct co_state *st, uint32_t i, const struct bk_msg_result *r, int64_t now)
{
	struct co_scrub *s = &st->jobs[i].scrub;
	bool finding = r->outcome == BK_OUTCOME_FAILED &&
		       strcmp(r->error_code, bk_error_name(BK_EVERIFY)) == 0;

	s->last = now;
	if (r->outcome == BK_OUTCOME_OK || finding) {
		s->last_ok = now;
		s->fails = 0;
	} else {
		add_sat(&s->fails, 1);
		add_sat(&s->fails_total, 1);
	}
	if (r->has_verify) {
		struct bk_buf b;

		s->checked = r->verify.checked;
		add_sat(&s->checked_total, r->verify.checked);
		add_sat(&s->found_total, r->verify.distrusted);
		bk_buf_init(&b);
		bk_strv_join(&r->verify.revisions, ",", &b);
		free(s->bad);
		s->bad = b.len ? b.p : NULL;
		if (!s->bad)
			bk_buf_release(&b);
	}
	co_job_mark(st, i, CO_CHG_JOB);
	co_scrub_plan(st, i, now);
}

int co_request_verify(struct co_state *st, const char *name, int64_t now, struct bk_err *err)
{
	struct co_job *j = co_job_find(st, name);
	uint32_t i;

	if (!j || !j->live)
		return bk_err_set(err, BK_EUSAGE, "unknown job '%s'", name);
	i = (uint32_t)(j - st->jobs);
	j->scrub.manual = true;
	j->scrub.next = now; /* at the next tick; the slices go on after it */
	st->c.manual_requests++;
	co_job_mark(st, i, CO_CHG_JOB);
	heap_update(st, i);
	return 0;
}

size_t co_scrub_bad_count(const struct co_scrub *s)
{
	size_t n = 0;

	if (!s->bad)
		return 0;
	for (const char *p = s->bad; p; p = strchr(p + 1, ','))
		n++;
	return n;
}
