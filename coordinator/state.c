/*
 * state.c: the coordinator's model: jobs, placement, planning, runs,
 * results and requests, without any I/O (see state.h; state_file.c puts
 * it on disk, status.c renders it for HTTP).
 *
 * Invariants (checked by tests/unit/test_coord_sched.c):
 *   - a live job is in the due heap exactly when no run of it is in
 *     flight (so never two backups in flight for one job, and never a
 *     backup while its expiry runs: the worker would refuse it);
 *   - a job is in the deadline heap exactly when it has a run in flight,
 *     keyed by the earliest deadline of its runs;
 *   - a run keeps its job id across re-dispatches; only a result carrying
 *     that id, from the host the run was dispatched to (co_run.host), with
 *     the routing key its body implies, ends it (anything else is a
 *     duplicate, stale or forged, and dropped);
 *   - a worker is listed only while the config names its host.
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hash.h"
#include "revision.h"
#include "state_priv.h"

#define CLOCK_SLACK (5 * 60 * BK_USEC)

void co_state_init(struct co_state *st)
{
	memset(st, 0, sizeof(*st));
	co_heap_init(&st->due);
	co_heap_init(&st->dl);
	co_heap_init(&st->scrub);
}

void co_run_clear(struct co_run *r)
{
	free(r->tags);
	memset(r, 0, sizeof(*r));
}

void co_job_release(struct co_job *j)
{
	free(j->name);
	free(j->last_tags);
	free(j->tagt);
	if (j->saved_tag)
		for (size_t i = 0; i < j->ntagt; i++)
			free(j->saved_tag[i]);
	free(j->saved_tag);
	for (size_t i = 0; i < j->ngone; i++)
		free(j->gone[i].name);
	free(j->gone);
	free(j->next_tags);
	free(j->manual_tags);
	free(j->last_error);
	for (int k = 0; k < CO_RUN_KINDS; k++)
		co_run_clear(&j->run[k]);
	co_scrub_release(&j->scrub);
	memset(j, 0, sizeof(*j));
}

void co_state_release(struct co_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		co_job_release(&st->jobs[i]);
	free(st->jobs);
	free(st->ht);
	for (size_t i = 0; i < st->nhosts; i++)
		free(st->hosts[i]);
	free(st->hosts);
	free(st->host_named);
	for (size_t i = 0; i < st->nworkers; i++) {
		free(st->workers[i].running);
		free(st->workers[i].progress);
	}
	free(st->workers);
	co_heap_release(&st->due);
	co_heap_release(&st->dl);
	co_heap_release(&st->scrub);
	free(st->chg);
	co_state_init(st);
}

/* Job I changed (WHAT): the next journal commit must carry it. */
static void mark(struct co_state *st, uint32_t i, enum co_chg what)
{
	struct co_job *j = &st->jobs[i];

	st->dirty = true;
	if (j->chg >= what)
		return;
	if (j->chg == CO_CHG_NONE) {
		if (st->nchg == st->chgcap) {
			st->chgcap = st->chgcap ? 2 * st->chgcap : 256;
			st->chg = bk_realloc(st->chg, st->chgcap * sizeof(*st->chg));
		}
		st->chg[st->nchg++] = i;
	}
	j->chg = (uint8_t)what;
}

void co_job_mark(struct co_state *st, uint32_t i, enum co_chg what)
{
	mark(st, i, what);
}

void co_state_changes_done(struct co_state *st)
{
	for (size_t k = 0; k < st->nchg; k++)
		if (st->chg[k] < st->n)
			st->jobs[st->chg[k]].chg = CO_CHG_NONE;
	st->nchg = 0;
	st->nreq_new = 0;
	if (!st->full)
		st->dirty = false;
}

/* --- names ------------------------------------------------------------ */

static uint64_t name_hash(const char *s)
{
	return bk_hash64(s, strlen(s));
}

static void ht_rebuild(struct co_state *st)
{
	size_t cap = 16;

	while (cap < 2 * st->n + 2)
		cap *= 2;
	free(st->ht);
	st->ht = bk_calloc(cap, sizeof(*st->ht));
	st->htcap = cap;
	for (size_t i = 0; i < st->n; i++) {
		size_t h = name_hash(st->jobs[i].name) & (cap - 1);

		while (st->ht[h])
			h = (h + 1) & (cap - 1);
		st->ht[h] = (uint32_t)(i + 1);
	}
}

static void ht_add(struct co_state *st, uint32_t i)
{
	size_t h;

	if (2 * (st->n + 1) >= st->htcap) {
		ht_rebuild(st);
		return;
	}
	h = name_hash(st->jobs[i].name) & (st->htcap - 1);
	while (st->ht[h])
		h = (h + 1) & (st->htcap - 1);
	st->ht[h] = i + 1;
}

void co_job_append(struct co_state *st, struct co_job *j)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 64;
		st->jobs = bk_realloc(st->jobs, st->cap * sizeof(*st->jobs));
	}
	st->jobs[st->n] = *j;
	st->n++;
	ht_add(st, (uint32_t)(st->n - 1));
}

struct co_job *co_job_find(const struct co_state *st, const char *name)
{
	size_t h;

	if (!st->htcap)
		return NULL;
	h = name_hash(name) & (st->htcap - 1);
	while (st->ht[h]) {
		struct co_job *j = &st->jobs[st->ht[h] - 1];

		if (j->name && strcmp(j->name, name) == 0)
			return j;
		h = (h + 1) & (st->htcap - 1);
	}
	return NULL;
}

uint32_t co_host_intern(struct co_state *st, const char *host)
{
	for (size_t i = 0; i < st->nhosts; i++)
		if (strcmp(st->hosts[i], host) == 0)
			return (uint32_t)i;
	st->hosts = bk_realloc(st->hosts, (st->nhosts + 1) * sizeof(*st->hosts));
	st->hosts[st->nhosts] = bk_strdup(host);
	return (uint32_t)st->nhosts++;
}

int64_t co_backoff(uint32_t fails)
{
	int64_t b = CO_BACKOFF_FIRST;

	if (fails == 0)
		return 0;
	for (uint32_t i = 1; i < fails && b < CO_BACKOFF_MAX; i++)
		b *= 2;
	return b < CO_BACKOFF_MAX ? b : CO_BACKOFF_MAX;
}

static char *join(const struct bk_strv *v)
{
	struct bk_buf b;

	bk_buf_init(&b);
	bk_strv_join(v, ",", &b);
	return b.p;
}

static void set_str(char **dst, char *owned)
{
	free(*dst);
	*dst = owned;
}

/* --- planning --------------------------------------------------------- */

/*
 * What the schedule rules read of job J's history (schedule.h): its tag
 * times and its newest good backup, manual ones included, so a first
 * manual backup makes missed tags catch up as `backy status` says.
 */
static struct bk_sched_seen job_seen(const struct co_job *j)
{
	struct bk_sched_seen seen = {j->tagt, j->last_time};

	for (size_t i = 0; i < j->ntagt; i++)
		if (j->tagt[i] > seen.newest)
			seen.newest = j->tagt[i];
	return seen;
}

static void dl_update(struct co_state *st, uint32_t i)
{
	struct co_job *j = &st->jobs[i];
	int64_t min = INT64_MAX;

	for (int k = 0; k < CO_RUN_KINDS; k++)
		if (j->run[k].active && j->run[k].deadline < min)
			min = j->run[k].deadline;
	if (min == INT64_MAX)
		co_heap_remove(&st->dl, i);
	else
		co_heap_set(&st->dl, i, min);
}

static void heap_update(struct co_state *st, uint32_t i, int64_t now)
{
	struct co_job *j = &st->jobs[i];

	/* an expiry or verify in flight holds the repository: the worker would refuse a backup */
	if (!j->live || j->run[CO_RUN_BACKUP].active || j->run[CO_RUN_EXPIRE].active ||
	    j->run[CO_RUN_VERIFY].active || !j->next_time)
		co_heap_remove(&st->due, i);
	else if (j->manual_tags)
		co_heap_set(&st->due, i, now < j->next_time ? now : j->next_time);
	else
		co_heap_set(&st->due, i, j->next_time);
}

void co_plan(struct co_state *st, uint32_t i, int64_t now)
{
	struct co_job *j = &st->jobs[i];
	struct bk_strv tags = BK_STRV_INIT;

	if (j->live && !j->retry) {
		struct bk_sched_seen seen = job_seen(j);

		j->next_time = bk_sched_next_seen(&j->sched->s, j->spread, &seen, now, &tags);
		set_str(&j->next_tags, join(&tags));
		bk_strv_release(&tags);
		mark(st, i, CO_CHG_JOB);
	}
	heap_update(st, i, now);
}

size_t co_take_due(struct co_state *st, int64_t now, uint32_t *out, size_t max)
{
	size_t n = 0;
	int64_t key;
	uint32_t id;

	while (n < max && co_heap_peek(&st->due, &key, &id) && key <= now) {
		co_heap_pop(&st->due, &key, &id);
		out[n++] = id;
	}
	return n;
}

size_t co_take_overdue(struct co_state *st, int64_t now, uint32_t *out, size_t max)
{
	size_t n = 0;
	int64_t key;
	uint32_t id;

	while (n < max && co_heap_peek(&st->dl, &key, &id) && key <= now) {
		co_heap_pop(&st->dl, &key, &id);
		out[n++] = id;
	}
	return n;
}

const char *co_run_kind_name(enum co_run_kind kind)
{
	static const char *const names[CO_RUN_KINDS] = {"backup", "expire", "verify"};

	return kind < CO_RUN_KINDS ? names[kind] : "";
}

const char *co_run_host(const struct co_state *st, const struct co_run *r)
{
	return r->host < st->nhosts ? st->hosts[r->host] : "";
}

void co_run_message(const struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
		    struct bk_msg_job *m)
{
	const struct co_job *j = &st->jobs[i];
	const struct co_run *r = &j->run[kind];

	bk_msg_job_release(m);
	bk_msg_head_new(&m->head);
	m->head.time = now;
	snprintf(m->job_id, sizeof(m->job_id), "%s", r->id);
	snprintf(m->job, sizeof(m->job), "%s", j->name);
	snprintf(m->host, sizeof(m->host), "%s", co_run_host(st, r));
	m->action = kind == CO_RUN_BACKUP   ? BK_ACTION_BACKUP
		    : kind == CO_RUN_EXPIRE ? BK_ACTION_EXPIRE
					    : BK_ACTION_VERIFY;
	m->older_than = kind == CO_RUN_VERIFY ? r->older_than : 0;
	if (r->tags)
		bk_strv_split(&m->tags, r->tags);
	m->deadline = r->deadline;
	m->attempt = r->attempt;
	if (kind == CO_RUN_VERIFY)
		return; /* reads what is there: no source, no schedule (scrub.h) */
	if (j->cfg) {
		m->source = j->cfg->source;
		m->source.filename = NULL;
		bk_source_spec_set_filename(&m->source, j->cfg->source.filename);
	}
	if (j->sched)
		bk_schedule_copy(&m->schedule, &j->sched->s);
}

static int64_t timeout_us(const struct co_state *st)
{
	return (st->cfg ? st->cfg->job_timeout : CO_DEFAULT_JOB_TIMEOUT) * BK_USEC;
}

int co_start(struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
	     const struct co_run **started)
{
	struct co_job *j = &st->jobs[i];
	struct co_run *r = &j->run[kind];
	struct bk_strv tags = BK_STRV_INIT, missed = BK_STRV_INIT;

	if (r->active || (kind == CO_RUN_EXPIRE && j->run[CO_RUN_VERIFY].active))
		return BK_ELOCKED;
	if (kind == CO_RUN_BACKUP) {
		if (j->manual_tags) {
			bk_strv_split(&tags, j->manual_tags);
			set_str(&j->manual_tags, NULL);
		} else {
			struct bk_sched_seen seen = job_seen(j);

			/*
			 * A retry adds what became missed meanwhile; a planned run
			 * carries what `backy backup` would run now (the same tags
			 * at the planned time, more after a downtime of ours)
			 */
			bk_strv_split(&tags, j->next_tags ? j->next_tags : "");
			if (j->retry)
				bk_sched_missed_seen(&j->sched->s, &seen, now, &missed);
			else
				bk_sched_due_seen(&j->sched->s, j->spread, &seen, j->created, now,
						  &missed);
			bk_strv_merge(&tags, &missed);
		}
		if (tags.n == 0)
			bk_strv_add(&tags, j->sched->s.tags[0].name);
		r->tags = join(&tags);
	}
	bk_id_new(r->id);
	r->active = true;
	r->confirmed = false;
	r->host = j->host;
	r->attempt = 1;
	r->dispatched = now;
	r->deadline = now + timeout_us(st);
	st->c.dispatched[kind]++;
	mark(st, i, CO_CHG_JOB);
	dl_update(st, i);
	heap_update(st, i, now); /* out of the due heap while the run is in flight */
	bk_strv_release(&tags);
	bk_strv_release(&missed);
	if (started)
		*started = r;
	return 0;
}

const struct co_run *co_redispatch(struct co_state *st, uint32_t i, enum co_run_kind kind,
				   int64_t now)
{
	struct co_job *j = &st->jobs[i];
	struct co_run *r = &j->run[kind];

	/* a new attempt goes where the job lives now (a reload may have moved
	 * it); from then on only that host's result ends the run */
	r->host = j->host;
	if (r->attempt < BK_MSG_MAX_ATTEMPT)
		r->attempt++;
	r->deadline = now + timeout_us(st);
	r->confirmed = false;
	st->c.redispatched++;
	mark(st, i, CO_CHG_JOB);
	dl_update(st, i);
	return r;
}

void co_confirmed(struct co_state *st, uint32_t i, enum co_run_kind kind)
{
	st->jobs[i].run[kind].confirmed = true;
	st->c.published++;
	mark(st, i, CO_CHG_CONFIRM);
}

/* --- results and requests --------------------------------------------- */

static int tag_index(const struct co_job *j, const char *tag)
{
	for (size_t i = 0; i < j->ntagt; i++)
		if (strcmp(j->sched->s.tags[i].name, tag) == 0)
			return (int)i;
	return -1;
}

/*
 * Time of the revision a good result made: the worker's start time when it
 * is plausible, else the dispatch time (the worker's clock may differ from
 * ours, notably when time is simulated).
 */
static int64_t revision_time(const struct co_run *run, const struct bk_msg_result *r, int64_t now)
{
	if (r->started && r->started >= run->dispatched - CLOCK_SLACK &&
	    r->started <= now + CLOCK_SLACK)
		return r->started;
	return run->dispatched;
}

/* The routing key of a result: what the broker may have checked, unlike the body. */
static bool result_key_matches(const struct bk_msg_result *r, const char *key)
{
	char want[BK_MSG_ROUTING_KEY_MAX + 1];

	bk_msg_routing_key_result(r, want);
	return key && strcmp(key, want) == 0;
}

static enum co_result drop(struct co_state *st, enum co_result why)
{
	st->c.results_dropped[why]++;
	st->c.results_ignored++;
	return why;
}

const char *co_result_drop_reason(enum co_result res)
{
	static const char *const names[CO_RESULT_DROPS] = {"unknown_job", "wrong_host",
							   "routing_key", "stale"};

	return res < CO_RESULT_DROPS ? names[res] : NULL;
}

enum co_result co_result(struct co_state *st, const struct bk_msg_result *r, const char *key,
			 int64_t now, uint32_t *job)
{
	struct co_job *j = r->job[0] ? co_job_find(st, r->job) : NULL;
	enum co_result res = CO_RESULT_DONE;
	struct co_run *run = NULL;
	uint32_t i;
	int kind;

	if (!result_key_matches(r, key))
		return drop(st, CO_RESULT_ROUTING_KEY);
	if (!j || !j->live || !r->job_id[0])
		return drop(st, CO_RESULT_UNKNOWN_JOB);
	for (kind = 0; kind < CO_RUN_KINDS; kind++)
		if (j->run[kind].active && strcmp(j->run[kind].id, r->job_id) == 0)
			break;
	if (kind == CO_RUN_KINDS)
		return drop(st, CO_RESULT_UNKNOWN_JOB);
	if (j->run[kind].host >= st->nhosts || strcmp(st->hosts[j->run[kind].host], r->host) != 0)
		return drop(st, CO_RESULT_WRONG_HOST);
	/*
	 * The worker skips a job it gets after its deadline; by then this run was
	 * dispatched again under the same job id, and that attempt answers.
	 */
	if (r->outcome == BK_OUTCOME_SKIPPED && strcmp(r->error_code, "ETIMEDOUT") == 0)
		return drop(st, CO_RESULT_STALE);
	i = (uint32_t)(j - st->jobs);
	*job = i;
	run = &j->run[kind];
	if (r->outcome == BK_OUTCOME_OK)
		st->c.results_ok++;
	else
		st->c.results_failed++;
	if (kind == CO_RUN_BACKUP && r->outcome == BK_OUTCOME_OK) {
		struct bk_strv tags = BK_STRV_INIT;
		int64_t t = revision_time(run, r, now);

		if (r->tags.n)
			bk_strv_copy(&tags, &r->tags);
		else
			bk_strv_split(&tags, run->tags);
		for (size_t k = 0; k < tags.n; k++) {
			int ti = tag_index(j, tags.v[k]);

			if (ti >= 0 && j->tagt[ti] < t)
				j->tagt[ti] = t;
		}
		if (t >= j->last_time) {
			j->last_time = t;
			set_str(&j->last_tags, join(&tags));
			j->last_bytes = r->has_stats ? (int64_t)r->stats.bytes_written : 0;
			if (r->has_stats)
				j->last_duration = r->stats.duration;
			else if (r->finished >= r->started)
				j->last_duration = (double)(r->finished - r->started) / BK_USEC;
		}
		bk_strv_release(&tags);
		j->fails = 0;
		j->retry = false;
		set_str(&j->last_error, NULL);
		co_run_clear(run);
		co_plan(st, i, now);
		if (st->cfg && st->cfg->expire)
			res = CO_RESULT_EXPIRE;
	} else if (kind == CO_RUN_BACKUP) {
		struct bk_buf e;

		bk_buf_init(&e);
		bk_buf_addf(&e, "%s: %s", r->error_code[0] ? r->error_code : "EUNKNOWN",
			    r->error_message ? r->error_message : bk_msg_outcome_name(r->outcome));
		set_str(&j->last_error, e.p);
		if (j->fails < UINT32_MAX)
			j->fails++;
		j->retry = true;
		j->next_time = now + co_backoff(j->fails) * BK_USEC;
		set_str(&j->next_tags, run->tags);
		run->tags = NULL;
		co_run_clear(run);
		co_plan(st, i, now);
	} else if (kind == CO_RUN_VERIFY) {
		co_run_clear(run);
		co_scrub_result(st, i, r, now);
		heap_update(st, i, now); /* a backup due meanwhile goes now */
	} else {
		if (r->outcome != BK_OUTCOME_OK) {
			struct bk_buf e;

			bk_buf_init(&e);
			bk_buf_addf(&e, "expire: %s: %s", r->error_code,
				    r->error_message ? r->error_message : "");
			set_str(&j->last_error, e.p);
		}
		co_run_clear(run);
		heap_update(st, i, now); /* a backup due meanwhile goes now */
	}
	dl_update(st, i);
	mark(st, i, CO_CHG_JOB);
	return res;
}

int co_request_run(struct co_state *st, const char *name, const struct bk_strv *tags,
		   int64_t now, struct bk_err *err)
{
	struct co_job *j = co_job_find(st, name);
	struct bk_strv v = BK_STRV_INIT;

	if (!j || !j->live)
		return bk_err_set(err, BK_EUSAGE, "unknown job '%s'", name);
	for (size_t k = 0; k < tags->n; k++) {
		const char *t = tags->v[k];

		if (!bk_tag_valid(t) || (strncmp(t, "manual:", 7) != 0 && tag_index(j, t) < 0))
			return bk_err_set(err, BK_ETAG,
					  "tag '%s' is neither a tag of schedule '%s' nor a 'manual:' tag",
					  t, j->sched->name);
	}
	if (j->manual_tags)
		bk_strv_split(&v, j->manual_tags);
	if (tags->n)
		bk_strv_merge(&v, tags);
	else
		bk_strv_add(&v, CO_DEFAULT_MANUAL_TAG);
	set_str(&j->manual_tags, join(&v));
	bk_strv_release(&v);
	st->c.manual_requests++;
	mark(st, (uint32_t)(j - st->jobs), CO_CHG_JOB);
	heap_update(st, (uint32_t)(j - st->jobs), now);
	return 0;
}

static bool host_listed(const struct co_config *cfg, const char *host)
{
	for (size_t i = 0; i < cfg->nhosts; i++)
		if (strcmp(cfg->hosts[i], host) == 0)
			return true;
	return false;
}

bool co_host_configured(const struct co_state *st, const char *host)
{
	if (!st->cfg)
		return false;
	if (host_listed(st->cfg, host))
		return true;
	for (size_t i = 0; i < st->nhost_named; i++)
		if (st->host_named[i] && strcmp(st->hosts[i], host) == 0)
			return true;
	return false;
}

const char *co_hb_drop_reason(enum co_hb res)
{
	static const char *const names[CO_HB_KINDS] = {NULL, "unknown_host", "routing_key"};

	return res < CO_HB_KINDS ? names[res] : NULL;
}

enum co_hb co_heartbeat(struct co_state *st, const struct bk_msg_heartbeat *hb, const char *key,
			int64_t now)
{
	struct co_worker *w = NULL;
	enum co_hb why = CO_HB_OK;

	/* the worker list is what the config expects, never what the broker brings */
	if (!key || strcmp(key, hb->host) != 0)
		why = CO_HB_ROUTING_KEY;
	else if (!co_host_configured(st, hb->host))
		why = CO_HB_UNKNOWN_HOST;
	if (why != CO_HB_OK) {
		st->c.heartbeats_dropped[why]++;
		return why;
	}
	for (size_t i = 0; i < st->nworkers; i++)
		if (strcmp(st->workers[i].host, hb->host) == 0)
			w = &st->workers[i];
	if (!w) {
		st->workers = bk_realloc(st->workers, (st->nworkers + 1) * sizeof(*st->workers));
		w = &st->workers[st->nworkers++];
		memset(w, 0, sizeof(*w));
		snprintf(w->host, sizeof(w->host), "%s", hb->host);
	}
	snprintf(w->version, sizeof(w->version), "%s", hb->version);
	w->slots = hb->slots;
	w->busy = hb->busy;
	w->free_bytes = hb->free_bytes;
	set_str(&w->running, join(&hb->running));
	w->nrunning = (unsigned)hb->running.n;
	free(w->progress);
	w->progress = hb->nprogress ? bk_calloc(hb->nprogress, sizeof(*w->progress)) : NULL;
	if (hb->nprogress)
		memcpy(w->progress, hb->progress, hb->nprogress * sizeof(*w->progress));
	w->nprogress = hb->nprogress;
	w->seen = now;
	w->seen_mono = bk_monotonic();
	return CO_HB_OK;
}

const struct bk_msg_progress *co_progress(const struct co_state *st, const char *host,
					  const char *job)
{
	for (size_t i = 0; i < st->nworkers; i++) {
		const struct co_worker *w = &st->workers[i];

		if (strcmp(w->host, host) != 0)
			continue;
		for (size_t k = 0; k < w->nprogress; k++)
			if (strcmp(w->progress[k].job, job) == 0)
				return &w->progress[k];
	}
	return NULL;
}

bool co_job_sla(const struct co_job *j, int64_t now, int64_t *overdue)
{
	struct bk_rev rev;

	memset(&rev, 0, sizeof(rev));
	rev.complete = true;
	rev.timestamp = j->last_time;
	return bk_sla_ok(&j->sched->s, &rev, j->last_time ? 1 : 0, j->created, now, overdue);
}

const char *co_job_status(const struct co_job *j)
{
	if (j->run[CO_RUN_BACKUP].active)
		return "running";
	if (j->fails)
		return "failed";
	if (j->last_time)
		return "finished";
	return "waiting";
}

/* --- configuration ---------------------------------------------------- */

/* Whether every tag of LIST is a tag of S or a manual tag. */
static bool tags_fit(const char *list, const struct bk_schedule *s)
{
	struct bk_strv v = BK_STRV_INIT;
	bool ok = true;

	bk_strv_split(&v, list ? list : "");
	for (size_t i = 0; i < v.n; i++)
		if (strncmp(v.v[i], "manual:", 7) != 0 && !bk_schedule_find(s, v.v[i]))
			ok = false;
	bk_strv_release(&v);
	return ok;
}

static void gone_add(struct co_gone_tag **gone, size_t *n, const char *name, int64_t t)
{
	*gone = bk_realloc(*gone, (*n + 1) * sizeof(**gone));
	(*gone)[*n].name = bk_strdup(name);
	(*gone)[*n].t = t;
	(*n)++;
}

/*
 * Map job J's tag times onto schedule S by tag name; the times of tags S
 * does not have are kept aside (co_gone_tag) for when they come back.
 */
static void remap_tags(struct co_job *j, const struct bk_schedule *s)
{
	int64_t *t = bk_calloc(s->n ? s->n : 1, sizeof(*t));
	struct co_gone_tag *gone = NULL;
	size_t ngone = 0;

	for (size_t i = 0; i < j->ntagt + j->ngone; i++) {
		const struct co_gone_tag *g = i >= j->ntagt ? &j->gone[i - j->ntagt] : NULL;
		const char *name = g ? g->name
				     : j->saved_tag ? j->saved_tag[i] : j->sched->s.tags[i].name;
		int64_t time = g ? g->t : j->tagt[i];
		const struct bk_sched_tag *st = bk_schedule_find(s, name);

		if (st)
			t[st - s->tags] = time;
		else if (time)
			gone_add(&gone, &ngone, name, time);
	}
	if (j->saved_tag) {
		for (size_t i = 0; i < j->ntagt; i++)
			free(j->saved_tag[i]);
		free(j->saved_tag);
		j->saved_tag = NULL;
	}
	for (size_t i = 0; i < j->ngone; i++)
		free(j->gone[i].name);
	free(j->gone);
	j->gone = gone;
	j->ngone = ngone;
	free(j->tagt);
	j->tagt = t;
	j->ntagt = s->n;
}

/* Mark the hosts the config names as jobs' hosts, and forget workers of other hosts. */
static void forget_unconfigured(struct co_state *st)
{
	size_t n = 0;

	free(st->host_named);
	st->host_named = bk_calloc(st->nhosts ? st->nhosts : 1, sizeof(*st->host_named));
	st->nhost_named = st->nhosts;
	for (size_t i = 0; i < st->n; i++)
		if (st->jobs[i].cfg->host && st->jobs[i].host < st->nhosts)
			st->host_named[st->jobs[i].host] = true;
	for (size_t i = 0; i < st->nworkers; i++) {
		if (co_host_configured(st, st->workers[i].host)) {
			st->workers[n++] = st->workers[i];
			continue;
		}
		free(st->workers[i].running);
		free(st->workers[i].progress);
	}
	st->nworkers = n;
}

void co_state_apply(struct co_state *st, const struct co_config *cfg, int64_t now)
{
	struct co_job *nj = bk_calloc(cfg->njobs ? cfg->njobs : 1, sizeof(*nj));
	bool *keep_plan = bk_calloc(cfg->njobs ? cfg->njobs : 1, sizeof(*keep_plan));

	for (size_t k = 0; k < cfg->njobs; k++) {
		const struct co_jobcfg *jc = &cfg->jobs[k];
		const struct co_sched *sc = &cfg->scheds[jc->sched];
		struct co_job *old = co_job_find(st, jc->name);
		struct co_job *j = &nj[k];
		bool same;

		if (old) {
			*j = *old;
			memset(old, 0, sizeof(*old)); /* moved; name NULL marks it */
		} else {
			j->name = bk_strdup(jc->name);
			j->created = now;
			j->host = UINT32_MAX;
		}
		same = j->sched ? bk_schedule_equal(&j->sched->s, &sc->s) : j->saved_tag != NULL;
		remap_tags(j, &sc->s);
		j->cfg = jc;
		j->sched = sc;
		j->spread = bk_schedule_spread(j->name, &sc->s);
		j->live = true;
		if (jc->host)
			j->host = co_host_intern(st, jc->host);
		else if (j->host >= st->nhosts || !host_listed(cfg, st->hosts[j->host]))
			j->host = UINT32_MAX; /* placed below, with the loads known (place.c) */
		keep_plan[k] = same && j->next_time && tags_fit(j->next_tags, &sc->s);
		if (j->manual_tags && !tags_fit(j->manual_tags, &sc->s))
			set_str(&j->manual_tags, NULL);
	}
	co_place_jobs(st, cfg, nj, cfg->njobs);
	for (size_t i = 0; i < st->n; i++)
		if (st->jobs[i].name)
			co_job_release(&st->jobs[i]);
	free(st->jobs);
	st->jobs = nj;
	st->n = st->cap = cfg->njobs;
	st->cfg = cfg;
	ht_rebuild(st);
	co_heap_release(&st->due);
	co_heap_release(&st->dl);
	co_heap_release(&st->scrub);
	for (size_t i = 0; i < st->n; i++) {
		struct co_job *j = &st->jobs[i];

		if (j->retry && !keep_plan[i])
			j->retry = j->next_time != 0 && tags_fit(j->next_tags, &j->sched->s);
		if (keep_plan[i] || j->retry)
			heap_update(st, (uint32_t)i, now);
		else
			co_plan(st, (uint32_t)i, now);
		co_scrub_plan(st, (uint32_t)i, now);
		dl_update(st, (uint32_t)i);
	}
	free(keep_plan);
	forget_unconfigured(st);
	/* jobs were added, dropped or moved: only a snapshot says that */
	for (size_t i = 0; i < st->n; i++)
		st->jobs[i].chg = CO_CHG_NONE;
	st->nchg = 0;
	st->full = true;
	st->dirty = true;
}

void co_remember_request(struct co_state *st, const char *id)
{
	snprintf(st->recent[st->recent_next], sizeof(st->recent[0]), "%s", id);
	st->recent_next = (st->recent_next + 1) % CO_RECENT_REQUESTS;
	if (st->nrecent < CO_RECENT_REQUESTS)
		st->nrecent++;
}

bool co_request_seen(struct co_state *st, const char *id)
{
	for (unsigned i = 0; i < st->nrecent; i++)
		if (strcmp(st->recent[i], id) == 0)
			return true;
	co_remember_request(st, id);
	if (st->nreq_new < CO_RECENT_REQUESTS)
		st->nreq_new++;
	st->dirty = true;
	return false;
}
