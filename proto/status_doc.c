/* status_doc.c: GET /v1/status and /v1/workers documents (see status_doc.h). */
#include "status_doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

#define DEPTH 5 /* root, jobs, a job, its running run, its progress */
#define MAXS BK_STATUS_MAX_STRING

void bk_status_doc_init(struct bk_status_doc *d)
{
	memset(d, 0, sizeof(*d));
}

void bk_status_doc_release(struct bk_status_doc *d)
{
	for (size_t i = 0; i < d->nstrings; i++)
		free(d->strings[i]);
	free(d->strings);
	free(d->jobs);
	free(d->workers);
	bk_status_doc_init(d);
}

/* ---- encoding ---- */

static json_t *enc_worker(struct je *e, const struct bk_status_worker *w)
{
	json_t *o = json_object();

	je_put_str(e, o, "version", w->version);
	je_put_uint(e, o, "slots", w->slots);
	je_put_uint(e, o, "busy", w->busy);
	je_put_uint(e, o, "free_bytes", w->free_bytes);
	je_put_str(e, o, "running", w->running);
	je_put_time(e, o, "last_seen", w->last_seen);
	je_put_int(e, o, "age", w->age);
	return o;
}

static json_t *enc_workers(struct je *e, const struct bk_status_worker *w, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		je_put(e, o, w[i].host ? w[i].host : "", enc_worker(e, &w[i]));
	return o;
}

static json_t *enc_scrub(struct je *e, const struct bk_status_scrub *s)
{
	json_t *o = json_object();

	je_put_time(e, o, "next", s->next);
	je_put_time(e, o, "last", s->last);
	je_put_time(e, o, "last_ok", s->last_ok);
	je_put_uint(e, o, "checked", s->checked);
	je_put_uint(e, o, "checked_total", s->checked_total);
	je_put_uint(e, o, "distrusted_found", s->found_total);
	je_put_uint(e, o, "failures", s->failures);
	je_put_uint(e, o, "failures_total", s->failures_total);
	je_put_str(e, o, "distrusted", s->distrusted);
	je_put(e, o, "running", json_boolean(s->running));
	return o;
}

static json_t *enc_job(struct je *e, const struct bk_status_job *j)
{
	json_t *o = json_object(), *run;

	je_put_str(e, o, "sla", j->sla_ok ? "OK" : "TOO OLD");
	je_put_int(e, o, "sla_overdue", j->sla_overdue);
	je_put_str(e, o, "status", j->status);
	je_put_time(e, o, "last_time", j->last_time);
	je_put_str(e, o, "last_tags", j->last_tags);
	/* milliseconds are what the duration is good for */
	je_put(e, o, "last_duration",
	       !j->last_time                ? json_null()
	       : isfinite(j->last_duration) ? json_real(round(j->last_duration * 1000) / 1000)
					    : NULL);
	je_put_time(e, o, "next_time", j->next_time);
	je_put_str(e, o, "next_tags", j->next_tags);
	je_put_str(e, o, "manual_tags", j->manual_tags);
	je_put_str(e, o, "host", j->host);
	je_put_str(e, o, "schedule", j->schedule);
	je_put_int(e, o, "backoff", j->backoff);
	je_put_uint(e, o, "failures", j->failures);
	je_put_str_or_null(e, o, "last_error", j->last_error);
	if (j->running) {
		run = json_object();
		je_put_str(e, run, "job_id", j->run.job_id);
		je_put_uint(e, run, "attempt", j->run.attempt);
		je_put_str(e, run, "tags", j->run.tags);
		je_put_time(e, run, "dispatched", j->run.dispatched);
		je_put_time(e, run, "deadline", j->run.deadline);
		if (j->run.phase && j->run.phase[0]) {
			json_t *p = json_object();

			je_put_str(e, p, "phase", j->run.phase);
			je_put_uint(e, p, "done", j->run.done);
			je_put_uint(e, p, "total", j->run.total);
			je_put(e, run, "progress", p);
		}
		je_put(e, o, "running", run);
	} else {
		je_put(e, o, "running", json_null());
	}
	je_put(e, o, "expiring", json_boolean(j->expiring));
	if (j->has_scrub)
		je_put(e, o, "scrub", enc_scrub(e, &j->scrub));
	return o;
}

/*
 * Reals are durations rounded to milliseconds: 15 significant digits write
 * them exactly ("12.346", not "12.345999999999999") up to 10^12 seconds.
 */
#define FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

int bk_status_encode(const struct bk_status_doc *d, struct bk_buf *out, struct bk_err *err)
{
	const struct bk_status_coordinator *c = &d->coordinator;
	struct je e = {.bad = NULL};
	json_t *root = json_object(), *jobs = json_object(), *co = json_object();
	int r;

	for (size_t i = 0; i < d->njobs; i++)
		je_put(&e, jobs, d->jobs[i].name ? d->jobs[i].name : "", enc_job(&e, &d->jobs[i]));
	je_put(&e, root, "jobs", jobs);
	je_put(&e, root, "workers", enc_workers(&e, d->workers, d->nworkers));
	je_put_str(&e, co, "role", c->role);
	je_put_time(&e, co, "now", c->now);
	je_put_uint(&e, co, "jobs", c->jobs);
	je_put_uint(&e, co, "in_flight", c->in_flight);
	je_put_uint(&e, co, "sla_overdue", c->sla_overdue);
	je_put_str(&e, co, "version", c->version);
	je_put(&e, root, "coordinator", co);
	r = je_dump(&e, "status document", root, FLAGS, out, err);
	if (r == 0)
		bk_buf_adds(out, "\n");
	return r;
}

int bk_workers_encode(const struct bk_status_worker *w, size_t n, struct bk_buf *out,
		      struct bk_err *err)
{
	struct je e = {.bad = NULL};

	return je_dump(&e, "workers document", enc_workers(&e, w, n), FLAGS, out, err);
}

/* ---- decoding ---- */

/* A copy of S owned by D. */
static const char *keep(struct bk_status_doc *d, const char *s)
{
	d->strings = bk_realloc(d->strings, (d->nstrings + 1) * sizeof(*d->strings));
	d->strings[d->nstrings] = bk_strdup(s);
	return d->strings[d->nstrings++];
}

/* A string field (NULLABLE: null stays NULL), kept in D. */
static int get_s(struct jd *x, struct bk_status_doc *d, json_t *obj, const char *prefix,
		 const char *key, bool nullable, const char **out)
{
	const char *s;
	int r;

	*out = NULL;
	r = jd_get_str(x, obj, prefix, key, true, nullable, 0, MAXS, &s);
	if (r == 0 && s)
		*out = keep(d, s);
	return r;
}

static int get_u(struct jd *x, json_t *obj, const char *prefix, const char *key, int64_t max,
		 uint64_t *out)
{
	int64_t v = 0;
	int r = jd_get_int(x, obj, prefix, key, true, 0, max, &v);

	*out = (uint64_t)v;
	return r;
}

static int dec_worker(struct jd *x, struct bk_status_doc *d, const char *host, json_t *o,
		      struct bk_status_worker *w)
{
	uint64_t slots = 0, busy = 0;
	int r;

	w->host = keep(d, host);
	r = get_s(x, d, o, host, "version", false, &w->version);
	if (r == 0)
		r = get_u(x, o, host, "slots", UINT32_MAX, &slots);
	if (r == 0)
		r = get_u(x, o, host, "busy", UINT32_MAX, &busy);
	if (r == 0)
		r = get_u(x, o, host, "free_bytes", INT64_MAX, &w->free_bytes);
	if (r == 0)
		r = get_s(x, d, o, host, "running", false, &w->running);
	if (r == 0)
		r = jd_get_time(x, o, host, "last_seen", true, true, &w->last_seen);
	if (r == 0)
		r = jd_get_int(x, o, host, "age", true, INT64_MIN, INT64_MAX, &w->age);
	w->slots = (unsigned)slots;
	w->busy = (unsigned)busy;
	return r;
}

/* jd_decode's callback for the workers document: ARG is the struct bk_status_doc. */
static int dec_workers(struct jd *x, json_t *o, void *arg)
{
	struct bk_status_doc *d = arg;
	const char *host;
	json_t *v;
	int r;

	d->workers = bk_calloc(json_object_size(o) + 1, sizeof(*d->workers));
	json_object_foreach(o, host, v)
	{
		char b[72];

		if (!json_is_object(v))
			return jd_fail(x, "worker '%s' is not an object", jd_show(host, b));
		r = dec_worker(x, d, host, v, &d->workers[d->nworkers]);
		d->nworkers++;
		if (r < 0)
			return r;
	}
	return 0;
}

static int dec_run(struct jd *x, struct bk_status_doc *d, json_t *o, struct bk_status_run *run)
{
	uint64_t attempt = 0;
	json_t *p = NULL;
	int r;

	r = get_s(x, d, o, "running", "job_id", false, &run->job_id);
	if (r == 0)
		r = get_u(x, o, "running", "attempt", UINT32_MAX, &attempt);
	if (r == 0)
		r = get_s(x, d, o, "running", "tags", false, &run->tags);
	if (r == 0)
		r = jd_get_time(x, o, "running", "dispatched", true, true, &run->dispatched);
	if (r == 0)
		r = jd_get_time(x, o, "running", "deadline", true, true, &run->deadline);
	run->attempt = (unsigned)attempt;
	if (r == 0)
		r = jd_get(x, o, "running", "progress", false, false, JSON_OBJECT, &p);
	if (r == 0 && p) {
		r = get_s(x, d, p, "progress", "phase", false, &run->phase);
		if (r == 0)
			r = get_u(x, p, "progress", "done", INT64_MAX, &run->done);
		if (r == 0)
			r = get_u(x, p, "progress", "total", INT64_MAX, &run->total);
	}
	return r;
}

static int dec_scrub(struct jd *x, struct bk_status_doc *d, json_t *o, struct bk_status_scrub *s)
{
	uint64_t v[5] = {0};
	int r;

	r = jd_get_time(x, o, "scrub", "next", true, true, &s->next);
	if (r == 0)
		r = jd_get_time(x, o, "scrub", "last", true, true, &s->last);
	if (r == 0)
		r = jd_get_time(x, o, "scrub", "last_ok", true, true, &s->last_ok);
	if (r == 0)
		r = get_u(x, o, "scrub", "checked", UINT32_MAX, &v[0]);
	if (r == 0)
		r = get_u(x, o, "scrub", "checked_total", UINT32_MAX, &v[1]);
	if (r == 0)
		r = get_u(x, o, "scrub", "distrusted_found", UINT32_MAX, &v[2]);
	if (r == 0)
		r = get_u(x, o, "scrub", "failures", UINT32_MAX, &v[3]);
	if (r == 0)
		r = get_u(x, o, "scrub", "failures_total", UINT32_MAX, &v[4]);
	if (r == 0)
		r = get_s(x, d, o, "scrub", "distrusted", false, &s->distrusted);
	if (r == 0)
		r = jd_get_bool(x, o, "scrub", "running", true, &s->running);
	s->checked = (uint32_t)v[0];
	s->checked_total = (uint32_t)v[1];
	s->found_total = (uint32_t)v[2];
	s->failures = (uint32_t)v[3];
	s->failures_total = (uint32_t)v[4];
	return r;
}

static int dec_job(struct jd *x, struct bk_status_doc *d, const char *name, json_t *o,
		   struct bk_status_job *j)
{
	static const char *const sla[] = {"TOO OLD", "OK"};
	uint64_t fails = 0;
	int ok = 0, r;
	json_t *v;

	j->name = keep(d, name);
	r = jd_get_enum(x, o, name, "sla", true, sla, 2, &ok);
	j->sla_ok = ok == 1;
	if (r == 0)
		r = jd_get_int(x, o, name, "sla_overdue", true, INT64_MIN, INT64_MAX,
			       &j->sla_overdue);
	if (r == 0)
		r = get_s(x, d, o, name, "status", false, &j->status);
	if (r == 0)
		r = jd_get_time(x, o, name, "last_time", true, true, &j->last_time);
	if (r == 0)
		r = get_s(x, d, o, name, "last_tags", false, &j->last_tags);
	if (r == 0)
		r = jd_get_num(x, o, name, "last_duration", true, true, -1e18, 1e18,
			       &j->last_duration);
	if (r == 0)
		r = jd_get_time(x, o, name, "next_time", true, true, &j->next_time);
	if (r == 0)
		r = get_s(x, d, o, name, "next_tags", false, &j->next_tags);
	if (r == 0)
		r = get_s(x, d, o, name, "manual_tags", false, &j->manual_tags);
	if (r == 0)
		r = get_s(x, d, o, name, "host", false, &j->host);
	if (r == 0)
		r = get_s(x, d, o, name, "schedule", false, &j->schedule);
	if (r == 0)
		r = jd_get_int(x, o, name, "backoff", true, INT64_MIN, INT64_MAX, &j->backoff);
	if (r == 0)
		r = get_u(x, o, name, "failures", UINT32_MAX, &fails);
	j->failures = (uint32_t)fails;
	if (r == 0)
		r = get_s(x, d, o, name, "last_error", true, &j->last_error);
	if (r == 0)
		r = jd_get(x, o, name, "running", true, true, JSON_OBJECT, &v);
	if (r == 0 && v) {
		j->running = true;
		r = dec_run(x, d, v, &j->run);
	}
	if (r == 0)
		r = jd_get_bool(x, o, name, "expiring", true, &j->expiring);
	if (r == 0)
		r = jd_get(x, o, name, "scrub", false, false, JSON_OBJECT, &v);
	if (r == 0 && v) {
		j->has_scrub = true;
		r = dec_scrub(x, d, v, &j->scrub);
	}
	return r;
}

/* jd_decode's callback for the status document: ARG is the struct bk_status_doc. */
static int dec_status(struct jd *x, json_t *root, void *arg)
{
	struct bk_status_doc *d = arg;
	struct bk_status_coordinator *c = &d->coordinator;
	json_t *jobs, *v;
	const char *name;
	int r;

	r = jd_get(x, root, NULL, "jobs", true, false, JSON_OBJECT, &jobs);
	if (r < 0)
		return r;
	d->jobs = bk_calloc(json_object_size(jobs) + 1, sizeof(*d->jobs));
	json_object_foreach(jobs, name, v)
	{
		char b[72];

		if (!json_is_object(v))
			return jd_fail(x, "job '%s' is not an object", jd_show(name, b));
		r = dec_job(x, d, name, v, &d->jobs[d->njobs]);
		d->njobs++;
		if (r < 0)
			return r;
	}
	r = jd_get(x, root, NULL, "workers", true, false, JSON_OBJECT, &v);
	if (r == 0)
		r = dec_workers(x, v, d);
	if (r == 0)
		r = jd_get(x, root, NULL, "coordinator", true, false, JSON_OBJECT, &v);
	if (r == 0)
		r = get_s(x, d, v, "coordinator", "role", false, &c->role);
	if (r == 0)
		r = jd_get_time(x, v, "coordinator", "now", true, true, &c->now);
	if (r == 0)
		r = get_u(x, v, "coordinator", "jobs", INT64_MAX, &c->jobs);
	if (r == 0)
		r = get_u(x, v, "coordinator", "in_flight", INT64_MAX, &c->in_flight);
	if (r == 0)
		r = get_u(x, v, "coordinator", "sla_overdue", INT64_MAX, &c->sla_overdue);
	if (r == 0)
		r = get_s(x, d, v, "coordinator", "version", false, &c->version);
	return r;
}

/* jd_decode's CLEAR: ARG is the struct bk_status_doc. */
static void clear_doc(void *arg)
{
	bk_status_doc_release(arg);
}

static int decode(const void *text, size_t len, struct bk_status_doc *out, struct bk_err *err,
		  const char *what, int (*dec)(struct jd *, json_t *, void *))
{
	struct jd x = {.err = err, .what = what, .strict = false};

	return jd_decode(&x, text, len, BK_STATUS_MAX_BYTES, DEPTH, JSON_OBJECT, dec, clear_doc,
			 out);
}

int bk_status_decode(const void *text, size_t len, struct bk_status_doc *out, struct bk_err *err)
{
	return decode(text, len, out, err, "status document", dec_status);
}

int bk_workers_decode(const void *text, size_t len, struct bk_status_doc *out, struct bk_err *err)
{
	return decode(text, len, out, err, "workers document", dec_workers);
}
