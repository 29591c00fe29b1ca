/*
 * state.c: jobs, placement, planning, results and the state file of the
 * coordinator (see state.h; status.c renders it for HTTP).
 *
 * Invariants (checked by tests/unit/test_coord_sched.c):
 *   - a live job is in the due heap exactly when no backup of it is in
 *     flight (so never two backups in flight for one job);
 *   - a job is in the deadline heap exactly when it has a run in flight,
 *     keyed by the earliest deadline of its runs;
 *   - a run keeps its job id across re-dispatches; only a result carrying
 *     that id, from the host the run was dispatched to (co_run.host), with
 *     the routing key its body implies, ends it (anything else is a
 *     duplicate, stale or forged, and dropped);
 *   - a worker is listed only while the config names its host.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "revision.h"

#define STATE_MAGIC "backy-coordinator-state"
/* 3: the 'end' line carries a checksum; 2: the header names the journal generation.
 * 1 and 2 are still read (without a checksum to check). */
#define STATE_VERSION 3
#define STATE_MAX_BYTES ((size_t)1 << 31)
#define CLOCK_SLACK (5 * 60 * BK_USEC)

static const char *const kind_names[CO_RUN_KINDS] = {"backup", "expire"};

void co_state_init(struct co_state *st)
{
	memset(st, 0, sizeof(*st));
	co_heap_init(&st->due);
	co_heap_init(&st->dl);
}

static void run_clear(struct co_run *r)
{
	free(r->tags);
	memset(r, 0, sizeof(*r));
}

static void job_release(struct co_job *j)
{
	free(j->name);
	free(j->last_tags);
	free(j->tagt);
	if (j->saved_tag)
		for (size_t i = 0; i < j->ntagt; i++)
			free(j->saved_tag[i]);
	free(j->saved_tag);
	free(j->next_tags);
	free(j->manual_tags);
	free(j->last_error);
	for (int k = 0; k < CO_RUN_KINDS; k++)
		run_clear(&j->run[k]);
	memset(j, 0, sizeof(*j));
}

void co_state_release(struct co_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		job_release(&st->jobs[i]);
	free(st->jobs);
	free(st->ht);
	for (size_t i = 0; i < st->nhosts; i++)
		free(st->hosts[i]);
	free(st->hosts);
	free(st->host_named);
	for (size_t i = 0; i < st->nworkers; i++)
		free(st->workers[i].running);
	free(st->workers);
	co_heap_release(&st->due);
	co_heap_release(&st->dl);
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

static uint32_t host_intern(struct co_state *st, const char *host)
{
	for (size_t i = 0; i < st->nhosts; i++)
		if (strcmp(st->hosts[i], host) == 0)
			return (uint32_t)i;
	st->hosts = bk_realloc(st->hosts, (st->nhosts + 1) * sizeof(*st->hosts));
	st->hosts[st->nhosts] = bk_strdup(host);
	return (uint32_t)st->nhosts++;
}

size_t co_place(const char *name, char *const *hosts, size_t n)
{
	size_t best = 0;
	uint64_t best_w = 0;
	char key[2 * (BK_MSG_NAME_MAX + 1) + 1];

	for (size_t i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "%s\n%s", name, hosts[i]);
		uint64_t w = bk_hash64(key, (size_t)len);

		if (i == 0 || w > best_w || (w == best_w && strcmp(hosts[i], hosts[best]) < 0)) {
			best = i;
			best_w = w;
		}
	}
	return best;
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

/* Pseudo-revisions of job J (one per schedule tag with a time), oldest first. */
static size_t synth_history(const struct co_job *j, struct bk_rev *hist)
{
	size_t n = 0;

	for (size_t i = 0; i < j->ntagt; i++) {
		size_t k;

		if (!j->tagt[i])
			continue;
		for (k = n; k > 0 && hist[k - 1].timestamp > j->tagt[i]; k--)
			hist[k] = hist[k - 1];
		memset(&hist[k], 0, sizeof(hist[k]));
		hist[k].timestamp = j->tagt[i];
		hist[k].complete = true;
		hist[k].tags.v = &j->sched->s.tags[i].name; /* borrowed, never released */
		hist[k].tags.n = 1;
		n++;
	}
	return n;
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

	if (!j->live || j->run[CO_RUN_BACKUP].active || !j->next_time)
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
	struct bk_rev *hist;
	size_t n;

	if (j->live && !j->retry) {
		hist = bk_calloc(j->ntagt ? j->ntagt : 1, sizeof(*hist));
		n = synth_history(j, hist);
		j->next_time = bk_sched_next(&j->sched->s, j->spread, hist, n, now, &tags);
		set_str(&j->next_tags, join(&tags));
		bk_strv_release(&tags);
		free(hist);
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

static void fill_message(struct co_state *st, struct co_job *j, enum co_run_kind kind,
			 int64_t now, struct bk_msg_job *m)
{
	struct co_run *r = &j->run[kind];

	bk_msg_job_release(m);
	bk_msg_head_new(&m->head);
	m->head.time = now;
	snprintf(m->job_id, sizeof(m->job_id), "%s", r->id);
	snprintf(m->job, sizeof(m->job), "%s", j->name);
	snprintf(m->host, sizeof(m->host), "%s", r->host < st->nhosts ? st->hosts[r->host] : "");
	m->action = kind == CO_RUN_BACKUP ? BK_ACTION_BACKUP : BK_ACTION_EXPIRE;
	if (r->tags)
		bk_strv_split(&m->tags, r->tags);
	m->deadline = r->deadline;
	m->attempt = r->attempt;
	if (j->cfg) {
		m->source = j->cfg->source;
		m->source.filename = NULL;
		bk_msg_source_set_filename(&m->source, j->cfg->source.filename);
	}
	if (j->sched)
		co_schedule_copy(&m->schedule, &j->sched->s);
}

static int64_t timeout_us(const struct co_state *st)
{
	return (st->cfg ? st->cfg->job_timeout : CO_DEFAULT_JOB_TIMEOUT) * BK_USEC;
}

int co_start(struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
	     struct bk_msg_job *m)
{
	struct co_job *j = &st->jobs[i];
	struct co_run *r = &j->run[kind];
	struct bk_strv tags = BK_STRV_INIT, missed = BK_STRV_INIT;

	if (r->active)
		return BK_ELOCKED;
	if (kind == CO_RUN_BACKUP) {
		if (j->manual_tags) {
			bk_strv_split(&tags, j->manual_tags);
			set_str(&j->manual_tags, NULL);
		} else {
			bk_strv_split(&tags, j->next_tags ? j->next_tags : "");
			if (j->retry) {
				struct bk_rev *hist = bk_calloc(j->ntagt ? j->ntagt : 1, sizeof(*hist));
				size_t n = synth_history(j, hist);

				bk_sched_missed(&j->sched->s, hist, n, now, &missed);
				bk_strv_merge(&tags, &missed);
				free(hist);
			}
		}
		if (tags.n == 0)
			bk_strv_add(&tags, j->sched->s.tags[0].name);
		r->tags = join(&tags);
		co_heap_remove(&st->due, i);
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
	fill_message(st, j, kind, now, m);
	bk_strv_release(&tags);
	bk_strv_release(&missed);
	return 0;
}

void co_run_message(struct co_state *st, uint32_t i, enum co_run_kind kind, int64_t now,
		    bool redispatch, struct bk_msg_job *m)
{
	struct co_job *j = &st->jobs[i];
	struct co_run *r = &j->run[kind];

	if (redispatch) {
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
	}
	fill_message(st, j, kind, now, m);
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
			if (r->has_stats)
				j->last_duration = r->stats.duration;
			else if (r->finished >= r->started)
				j->last_duration = (double)(r->finished - r->started) / BK_USEC;
		}
		bk_strv_release(&tags);
		j->fails = 0;
		j->retry = false;
		set_str(&j->last_error, NULL);
		run_clear(run);
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
		run_clear(run);
		co_plan(st, i, now);
	} else {
		if (r->outcome != BK_OUTCOME_OK) {
			struct bk_buf e;

			bk_buf_init(&e);
			bk_buf_addf(&e, "expire: %s: %s", r->error_code,
				    r->error_message ? r->error_message : "");
			set_str(&j->last_error, e.p);
		}
		run_clear(run);
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
	w->seen = now;
	w->seen_mono = bk_monotonic();
	return CO_HB_OK;
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

static bool sched_equal(const struct bk_schedule *a, const struct bk_schedule *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->tags[i].name, b->tags[i].name) || a->tags[i].interval != b->tags[i].interval ||
		    a->tags[i].keep != b->tags[i].keep)
			return false;
	return true;
}

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

/* Map job J's tag times onto schedule S by tag name. */
static void remap_tags(struct co_job *j, const struct bk_schedule *s)
{
	int64_t *t = bk_calloc(s->n ? s->n : 1, sizeof(*t));

	for (size_t i = 0; i < j->ntagt; i++) {
		const char *name = j->saved_tag ? j->saved_tag[i] : j->sched->s.tags[i].name;
		const struct bk_sched_tag *st = bk_schedule_find(s, name);

		if (st)
			t[st - s->tags] = j->tagt[i];
	}
	if (j->saved_tag) {
		for (size_t i = 0; i < j->ntagt; i++)
			free(j->saved_tag[i]);
		free(j->saved_tag);
		j->saved_tag = NULL;
	}
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
		same = j->sched ? sched_equal(&j->sched->s, &sc->s) : j->saved_tag != NULL;
		remap_tags(j, &sc->s);
		j->cfg = jc;
		j->sched = sc;
		j->spread = bk_schedule_spread(j->name, &sc->s);
		j->live = true;
		if (jc->host)
			j->host = host_intern(st, jc->host);
		else if (j->host >= st->nhosts || !host_listed(cfg, st->hosts[j->host]))
			j->host = host_intern(st, cfg->hosts[co_place(j->name, cfg->hosts, cfg->nhosts)]);
		keep_plan[k] = same && j->next_time && tags_fit(j->next_tags, &sc->s);
		if (j->manual_tags && !tags_fit(j->manual_tags, &sc->s))
			set_str(&j->manual_tags, NULL);
	}
	for (size_t i = 0; i < st->n; i++)
		if (st->jobs[i].name)
			job_release(&st->jobs[i]);
	free(st->jobs);
	st->jobs = nj;
	st->n = st->cap = cfg->njobs;
	st->cfg = cfg;
	ht_rebuild(st);
	co_heap_release(&st->due);
	co_heap_release(&st->dl);
	for (size_t i = 0; i < st->n; i++) {
		struct co_job *j = &st->jobs[i];

		if (j->retry && !keep_plan[i])
			j->retry = j->next_time != 0 && tags_fit(j->next_tags, &j->sched->s);
		if (keep_plan[i] || j->retry)
			heap_update(st, (uint32_t)i, now);
		else
			co_plan(st, (uint32_t)i, now);
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

static void remember_request(struct co_state *st, const char *id)
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
	remember_request(st, id);
	if (st->nreq_new < CO_RECENT_REQUESTS)
		st->nreq_new++;
	st->dirty = true;
	return false;
}

/* --- state file --------------------------------------------------------- */

static void add_kv(struct bk_buf *b, const char *k, const char *v)
{
	bk_buf_addf(b, " %s=%s", k, v ? v : "");
}

/* The 'J' line of job J and an 'R' line per run in flight; returns how many lines. */
static size_t format_job(const struct co_state *st, const struct co_job *j, struct bk_buf *out)
{
	size_t lines = 1;

	bk_buf_addf(out, "J name=%s", j->name);
	add_kv(out, "host", j->host < st->nhosts ? st->hosts[j->host] : NULL);
	bk_buf_addf(out, " created=%" PRId64 " last=%" PRId64 " dur=%.6f", j->created,
		    j->last_time, j->last_duration);
	add_kv(out, "ltags", j->last_tags);
	bk_buf_addf(out, " fails=%" PRIu32 " next=%" PRId64, j->fails, j->next_time);
	add_kv(out, "ntags", j->next_tags);
	bk_buf_addf(out, " retry=%d", j->retry ? 1 : 0);
	add_kv(out, "manual", j->manual_tags);
	for (size_t k = 0; k < j->ntagt; k++)
		if (j->tagt[k])
			bk_buf_addf(out, " t:%s=%" PRId64,
				    j->saved_tag ? j->saved_tag[k] : j->sched->s.tags[k].name,
				    j->tagt[k]);
	bk_buf_adds(out, "\n");
	for (int k = 0; k < CO_RUN_KINDS; k++) {
		const struct co_run *r = &j->run[k];

		if (!r->active)
			continue;
		bk_buf_addf(out,
			    "R name=%s kind=%s id=%s attempt=%u deadline=%" PRId64
			    " at=%" PRId64 " confirmed=%d",
			    j->name, kind_names[k], r->id, (unsigned)r->attempt, r->deadline,
			    r->dispatched, r->confirmed ? 1 : 0);
		add_kv(out, "host", r->host < st->nhosts ? st->hosts[r->host] : NULL);
		add_kv(out, "tags", r->tags);
		bk_buf_adds(out, "\n");
		lines++;
	}
	return lines;
}

/* 'Q' lines of the newest N request ids, oldest first (loading them in order rebuilds the ring). */
static void format_requests(const struct co_state *st, unsigned n, struct bk_buf *out)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (st->recent_next + CO_RECENT_REQUESTS - n + i) % CO_RECENT_REQUESTS;

		bk_buf_addf(out, "Q id=%s\n", st->recent[k]);
	}
}

void co_state_format(const struct co_state *st, int64_t now, struct bk_buf *out)
{
	size_t start = out->len;

	bk_buf_addf(out, "%s %d saved=%" PRId64 " journal=%" PRIu64 "\n", STATE_MAGIC,
		    STATE_VERSION, now, st->gen);
	for (size_t i = 0; i < st->n; i++)
		if (st->jobs[i].name)
			format_job(st, &st->jobs[i], out);
	format_requests(st, st->nrecent, out);
	/* like a journal commit line: what a torn or bit-flipped file would change */
	bk_buf_addf(out, "end sum=%016llx\n", bk_hash64(out->p + start, out->len - start));
}

size_t co_state_format_changes(const struct co_state *st, struct bk_buf *out)
{
	size_t lines = 0;
	unsigned nq = st->nreq_new < st->nrecent ? st->nreq_new : st->nrecent;

	for (size_t k = 0; k < st->nchg; k++) {
		const struct co_job *j = st->chg[k] < st->n ? &st->jobs[st->chg[k]] : NULL;

		if (!j || !j->name || j->chg == CO_CHG_NONE)
			continue;
		if (j->chg == CO_CHG_JOB) {
			lines += format_job(st, j, out);
			continue;
		}
		for (int kind = 0; kind < CO_RUN_KINDS; kind++) {
			if (!j->run[kind].active || !j->run[kind].confirmed)
				continue;
			bk_buf_addf(out, "K name=%s kind=%s id=%s\n", j->name, kind_names[kind],
				    j->run[kind].id);
			lines++;
		}
	}
	format_requests(st, nq, out);
	return lines + nq;
}

/* Next space-separated token of *S (NUL-terminated in place), or NULL. */
static char *next_tok(char **s)
{
	char *t = *s;

	while (*t == ' ')
		t++;
	if (!*t)
		return NULL;
	*s = t + strcspn(t, " ");
	if (**s)
		*(*s)++ = 0;
	return t;
}

struct pctx {
	const char *name;
	int line;
	struct bk_err *err;
};

static int bad(struct pctx *p, const char *what, const char *v)
{
	return bk_err_set(p->err, BK_ECORRUPT, "%s: line %d: invalid %s '%.64s'", p->name, p->line,
			  what, v);
}

static int p_i64(struct pctx *p, const char *k, const char *v, int64_t *out)
{
	char *end = NULL;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (!*v || *end || errno)
		return bad(p, k, v);
	*out = x;
	return 0;
}

static bool tags_valid(const char *v)
{
	struct bk_strv s = BK_STRV_INIT;
	bool ok = true;

	bk_strv_split(&s, v);
	for (size_t i = 0; i < s.n; i++)
		ok = ok && bk_tag_valid(s.v[i]);
	bk_strv_release(&s);
	return ok;
}

static int p_tags(struct pctx *p, const char *k, const char *v, char **out)
{
	if (!*v) {
		set_str(out, NULL);
		return 0;
	}
	if (!tags_valid(v))
		return bad(p, k, v);
	set_str(out, bk_strdup(v));
	return 0;
}

/* A 'J' line: a new job, or (REPLACE, journal records) the new image of a known one. */
static int parse_job_line(struct co_state *st, struct pctx *p, char *line, bool replace)
{
	struct co_job *old;
	struct co_job j;
	char *save = line, *tok;
	int64_t x = 0;
	int r = 0;

	memset(&j, 0, sizeof(j));
	j.host = UINT32_MAX;
	for (tok = next_tok(&save); tok && r == 0; tok = next_tok(&save)) {
		char *eq = strchr(tok, '=');
		const char *v;

		if (!eq) {
			r = bad(p, "field", tok);
			break;
		}
		*eq = 0;
		v = eq + 1;
		if (strcmp(tok, "name") == 0) {
			if (!bk_msg_name_valid(v) || j.name)
				r = bad(p, "job name", v);
			else
				j.name = bk_strdup(v);
		} else if (strcmp(tok, "host") == 0) {
			if (*v && !bk_msg_name_valid(v))
				r = bad(p, "host", v);
			else if (*v)
				j.host = host_intern(st, v);
		} else if (strcmp(tok, "created") == 0) {
			r = p_i64(p, tok, v, &j.created);
		} else if (strcmp(tok, "last") == 0) {
			r = p_i64(p, tok, v, &j.last_time);
		} else if (strcmp(tok, "dur") == 0) {
			char *end = NULL;

			j.last_duration = strtod(v, &end);
			if (!*v || *end || !(j.last_duration >= 0))
				r = bad(p, tok, v);
		} else if (strcmp(tok, "ltags") == 0) {
			r = p_tags(p, tok, v, &j.last_tags);
		} else if (strcmp(tok, "fails") == 0) {
			r = p_i64(p, tok, v, &x);
			if (r == 0 && (x < 0 || x > UINT32_MAX))
				r = bad(p, tok, v);
			j.fails = (uint32_t)x;
		} else if (strcmp(tok, "next") == 0) {
			r = p_i64(p, tok, v, &j.next_time);
		} else if (strcmp(tok, "ntags") == 0) {
			r = p_tags(p, tok, v, &j.next_tags);
		} else if (strcmp(tok, "retry") == 0) {
			r = p_i64(p, tok, v, &x);
			j.retry = x != 0;
		} else if (strcmp(tok, "manual") == 0) {
			r = p_tags(p, tok, v, &j.manual_tags);
		} else if (strncmp(tok, "t:", 2) == 0) {
			if (!bk_tag_valid(tok + 2)) {
				r = bad(p, "tag", tok + 2);
				break;
			}
			r = p_i64(p, tok, v, &x);
			j.tagt = bk_realloc(j.tagt, (j.ntagt + 1) * sizeof(*j.tagt));
			j.saved_tag = bk_realloc(j.saved_tag, (j.ntagt + 1) * sizeof(*j.saved_tag));
			j.tagt[j.ntagt] = x;
			j.saved_tag[j.ntagt++] = bk_strdup(tok + 2);
		}
		/* unknown fields are ignored: written by a newer coordinator */
	}
	if (r == 0 && !j.name)
		r = bad(p, "job line", "no name");
	old = r == 0 ? co_job_find(st, j.name) : NULL;
	if (old && !replace)
		r = bad(p, "duplicate job", j.name);
	if (r == 0 && !j.saved_tag)
		j.saved_tag = bk_calloc(1, sizeof(*j.saved_tag)); /* marks "loaded" */
	if (r < 0) {
		job_release(&j);
		return r;
	}
	if (old) {
		job_release(old); /* its runs too: 'R' lines follow for those still in flight */
		*old = j;
		return 0;
	}
	if (st->n == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 64;
		st->jobs = bk_realloc(st->jobs, st->cap * sizeof(*st->jobs));
	}
	st->jobs[st->n] = j;
	st->n++;
	ht_add(st, (uint32_t)(st->n - 1));
	return 0;
}

static int parse_run_line(struct co_state *st, struct pctx *p, char *line)
{
	struct co_run run;
	struct co_job *j = NULL;
	int kind = -1;
	char *save = line, *tok;
	int64_t x = 0;
	int r = 0;

	memset(&run, 0, sizeof(run));
	run.host = UINT32_MAX;
	for (tok = next_tok(&save); tok && r == 0; tok = next_tok(&save)) {
		char *eq = strchr(tok, '=');
		const char *v;

		if (!eq) {
			r = bad(p, "field", tok);
			break;
		}
		*eq = 0;
		v = eq + 1;
		if (strcmp(tok, "name") == 0) {
			j = co_job_find(st, v);
			if (!j)
				r = bad(p, "run of an unknown job", v);
		} else if (strcmp(tok, "kind") == 0) {
			for (int k = 0; k < CO_RUN_KINDS; k++)
				if (strcmp(v, kind_names[k]) == 0)
					kind = k;
			if (kind < 0)
				r = bad(p, tok, v);
		} else if (strcmp(tok, "id") == 0) {
			if (!bk_id_valid(v))
				r = bad(p, "job id", v);
			else
				snprintf(run.id, sizeof(run.id), "%s", v);
		} else if (strcmp(tok, "attempt") == 0) {
			r = p_i64(p, tok, v, &x);
			if (r == 0 && (x < 1 || x > BK_MSG_MAX_ATTEMPT))
				r = bad(p, tok, v);
			run.attempt = (uint16_t)x;
		} else if (strcmp(tok, "deadline") == 0) {
			r = p_i64(p, tok, v, &run.deadline);
		} else if (strcmp(tok, "at") == 0) {
			r = p_i64(p, tok, v, &run.dispatched);
		} else if (strcmp(tok, "confirmed") == 0) {
			r = p_i64(p, tok, v, &x);
			run.confirmed = x != 0;
		} else if (strcmp(tok, "tags") == 0) {
			r = p_tags(p, tok, v, &run.tags);
		} else if (strcmp(tok, "host") == 0) {
			if (*v && !bk_msg_name_valid(v))
				r = bad(p, tok, v);
			else if (*v)
				run.host = host_intern(st, v);
		}
	}
	if (r == 0 && (!j || kind < 0 || !run.id[0] || !run.attempt))
		r = bad(p, "run line", "incomplete");
	if (r == 0 && kind == CO_RUN_BACKUP && !run.tags)
		r = bad(p, "run line", "backup without tags");
	if (r < 0) {
		free(run.tags);
		return r;
	}
	if (run.host == UINT32_MAX)
		run.host = j->host; /* written before runs had a host: where the job lived */
	run.active = true;
	run_clear(&j->run[kind]);
	j->run[kind] = run;
	return 0;
}

/* A 'K' line: the run with that id was confirmed by the broker. */
static int parse_confirm_line(struct co_state *st, struct pctx *p, char *line)
{
	struct co_job *j = NULL;
	const char *id = NULL;
	int kind = -1;
	char *save = line, *tok;

	for (tok = next_tok(&save); tok; tok = next_tok(&save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return bad(p, "field", tok);
		*eq = 0;
		if (strcmp(tok, "name") == 0) {
			j = co_job_find(st, eq + 1);
			if (!j)
				return bad(p, "confirmation of an unknown job", eq + 1);
		} else if (strcmp(tok, "kind") == 0) {
			for (int k = 0; k < CO_RUN_KINDS; k++)
				if (strcmp(eq + 1, kind_names[k]) == 0)
					kind = k;
			if (kind < 0)
				return bad(p, tok, eq + 1);
		} else if (strcmp(tok, "id") == 0) {
			id = eq + 1;
		}
	}
	if (!j || kind < 0 || !id)
		return bad(p, "confirmation", "incomplete");
	if (!j->run[kind].active || strcmp(j->run[kind].id, id) != 0)
		return bad(p, "confirmation of a run not in flight", id);
	j->run[kind].confirmed = true;
	return 0;
}

int co_state_record(struct co_state *st, char *line, const char *name, int lineno,
		    struct bk_err *err)
{
	struct pctx p = {name, lineno, err};

	if (strncmp(line, "J ", 2) == 0)
		return parse_job_line(st, &p, line + 2, true);
	if (strncmp(line, "R ", 2) == 0)
		return parse_run_line(st, &p, line + 2);
	if (strncmp(line, "K ", 2) == 0)
		return parse_confirm_line(st, &p, line + 2);
	if (strncmp(line, "Q id=", 5) == 0) {
		if (!bk_id_valid(line + 5))
			return bad(&p, "request id", line + 5);
		remember_request(st, line + 5);
		return 0;
	}
	return bad(&p, "record", line);
}

/*
 * Check the checksum of a version 3 state file: its last line is
 * "end sum=HEX", the hash of every byte before that line.
 */
static int check_sum(const char *buf, size_t len, const char *name, struct bk_err *err)
{
	size_t last = len - 1; /* the final newline (line 1 had one) */
	unsigned long long want;
	char *end = NULL;

	while (last > 0 && buf[last - 1] != '\n')
		last--;
	if (len - last < 9 || strncmp(buf + last, "end sum=", 8) != 0 || buf[len - 1] != '\n')
		return bk_err_set(err, BK_ECORRUPT, "%s: no checksum at the end (truncated file)",
				  name);
	errno = 0;
	want = strtoull(buf + last + 8, &end, 16);
	if (errno || end != buf + len - 1 || len - last != 8 + 16 + 1)
		return bk_err_set(err, BK_ECORRUPT, "%s: malformed checksum line '%.40s'", name,
				  buf + last);
	if (want != bk_hash64(buf, last))
		return bk_err_set(err, BK_ECORRUPT,
				  "%s: checksum mismatch: the state file is damaged (restore it "
				  "from a backup, or move it and its journal aside to start from "
				  "an empty state)",
				  name);
	return 0;
}

int co_state_parse(struct co_state *st, const char *buf, size_t len, const char *name,
		   struct bk_err *err)
{
	struct pctx p = {name, 0, err};
	char *copy = bk_strndup(buf, len);
	char *line = copy, *next;
	bool ended = false;
	long version = 0;
	int r = 0;

	for (; line && *line && r == 0; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			r = bad(&p, "line", "no newline at the end (truncated file)");
			break;
		}
		*next++ = 0;
		p.line++;
		if (p.line == 1) {
			char *save = line + sizeof(STATE_MAGIC), *tok;
			long v = 0;

			if (strncmp(line, STATE_MAGIC " ", sizeof(STATE_MAGIC)) != 0) {
				r = bad(&p, "header", line);
				break;
			}
			tok = next_tok(&save);
			v = tok ? strtol(tok, NULL, 10) : 0;
			if (v < 1 || v > STATE_VERSION) {
				r = bk_err_set(err, BK_ECORRUPT, "%s: unsupported state version %ld", name, v);
				break;
			}
			version = v;
			if (version >= 3) {
				r = check_sum(buf, len, name, err);
				if (r < 0)
					break;
			}
			for (tok = next_tok(&save); tok && r == 0; tok = next_tok(&save)) {
				int64_t g = 0;

				if (strncmp(tok, "journal=", 8) != 0)
					continue;
				r = p_i64(&p, "journal generation", tok + 8, &g);
				if (r == 0 && g < 0)
					r = bad(&p, "journal generation", tok + 8);
				st->gen = (uint64_t)g;
			}
		} else if (ended) {
			r = bad(&p, "line after 'end'", line);
		} else if (strncmp(line, "J ", 2) == 0) {
			r = parse_job_line(st, &p, line + 2, false);
		} else if (strncmp(line, "R ", 2) == 0) {
			r = parse_run_line(st, &p, line + 2);
		} else if (strncmp(line, "Q id=", 5) == 0) {
			if (!bk_id_valid(line + 5))
				r = bad(&p, "request id", line + 5);
			else
				remember_request(st, line + 5);
		} else if (version < 3 ? strcmp(line, "end") == 0 : strncmp(line, "end sum=", 8) == 0) {
			ended = true;
		} else {
			r = bad(&p, "line", line);
		}
	}
	if (r == 0 && !ended)
		r = bk_err_set(err, BK_ECORRUPT, "%s: missing 'end' line (truncated file)", name);
	free(copy);
	if (r < 0)
		co_state_release(st);
	return r;
}

int co_state_save(struct co_state *st, const char *path, int64_t now, struct bk_err *err)
{
	struct bk_buf b;
	const char *base;
	int dirfd = -1;
	int r;

	r = bk_fs_open_parent(path, &dirfd, &base);
	if (r < 0)
		return bk_err_sys(err, r, "unable to open the directory of '%s'", path);
	bk_buf_init(&b);
	co_state_format(st, now, &b);
	r = bk_fs_write_atomic(dirfd, base, b.p, b.len, 0600);
	if (r < 0) {
		bk_err_sys(err, r, "unable to write '%s'", path);
	} else {
		st->full = false;
		co_state_changes_done(st);
		st->c.saves++;
	}
	bk_buf_release(&b);
	close(dirfd);
	return r;
}

int co_state_load(struct co_state *st, const char *path, struct bk_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = bk_fs_read_all(AT_FDCWD, path, STATE_MAX_BYTES, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s'", path);
	r = co_state_parse(st, buf, len, path, err);
	free(buf);
	return r;
}
