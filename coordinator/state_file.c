/*
 * state_file.c: the coordinator's state on disk: the state file (the
 * snapshot) and the records its journal appends (see state.h for the
 * format, state_journal.h for the framing).
 *
 * A record is one line: a letter, then space-separated KEY=VALUE fields.
 * Which keys a record has, what they mean and how they are checked is one
 * table per record (job_keys, run_keys, confirm_keys); one formatter and
 * one parser walk those tables, so writing and reading a field cannot
 * drift apart.  Unknown keys are ignored (written by a newer coordinator);
 * the 't:TAG' keys of a job line (its per-tag times) are the one family
 * outside the table.  Values never contain spaces: names, ids and tags
 * are validated on the way in.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "hash.h"
#include "revision.h"
#include "state_priv.h"

#define STATE_MAGIC "backy-coordinator-state"
/* 3: the 'end' line carries a checksum; 2: the header names the journal generation.
 * 1 and 2 are still read (without a checksum to check). */
#define STATE_VERSION 3
#define STATE_MAX_BYTES ((size_t)1 << 31)


/* --- the key tables ------------------------------------------------------- */

enum ftype {
	F_JOBNAME, /* char *: a job name (bk_msg_name_valid), once */
	F_JOB,     /* struct co_job *: a known job, by name */
	F_KIND,    /* int: enum co_run_kind by co_run_kind_name */
	F_HOST,    /* uint32_t: index into st->hosts; "" is none (UINT32_MAX) */
	F_I64,     /* int64_t */
	F_U32,     /* uint32_t */
	F_ATTEMPT, /* uint16_t, 1 to BK_MSG_MAX_ATTEMPT */
	F_SECONDS, /* double >= 0, written with microseconds */
	F_BOOL,    /* bool, written 0 or 1 */
	F_TAGS,    /* char *: comma-joined valid tags; "" is NULL */
	F_ID,      /* char[BK_ID_MAX + 1]: a job id (bk_id_valid) */
	F_IDS,     /* char *: comma-joined revision ids (bk_id_valid); "" is NULL */
};

struct field {
	const char *key;
	enum ftype type;
	size_t off;       /* in the record's struct */
	const char *what; /* in "invalid WHAT 'VALUE'" */
};

/* An 'R' line: a run of a job.  Also how a 'K' line names one. */
struct run_rec {
	struct co_job *job;
	int kind;
	struct co_run run;
};

#define JF(k, t, m, w) {k, t, offsetof(struct co_job, m), w}
#define RF(k, t, m, w) {k, t, offsetof(struct run_rec, m), w}

static const struct field job_keys[] = {
	JF("name", F_JOBNAME, name, "job name"),
	JF("host", F_HOST, host, "host"),
	JF("created", F_I64, created, "created"),
	JF("last", F_I64, last_time, "last"),
	JF("dur", F_SECONDS, last_duration, "dur"),
	JF("bytes", F_I64, last_bytes, "bytes"),
	JF("ltags", F_TAGS, last_tags, "ltags"),
	JF("fails", F_U32, fails, "fails"),
	JF("next", F_I64, next_time, "next"),
	JF("ntags", F_TAGS, next_tags, "ntags"),
	JF("retry", F_BOOL, retry, "retry"),
	JF("manual", F_TAGS, manual_tags, "manual"),
	/* the scrub (scrub.h) */
	JF("snext", F_I64, scrub.next, "snext"),
	JF("slast", F_I64, scrub.last, "slast"),
	JF("sok", F_I64, scrub.last_ok, "sok"),
	JF("schecked", F_U32, scrub.checked, "schecked"),
	JF("stotal", F_U32, scrub.checked_total, "stotal"),
	JF("sfound", F_U32, scrub.found_total, "sfound"),
	JF("sfails", F_U32, scrub.fails, "sfails"),
	JF("sfailed", F_U32, scrub.fails_total, "sfailed"),
	JF("sbad", F_IDS, scrub.bad, "sbad"),
	JF("smanual", F_BOOL, scrub.manual, "smanual"),
};

static const struct field run_keys[] = {
	RF("name", F_JOB, job, "run of an unknown job"),
	RF("kind", F_KIND, kind, "kind"),
	RF("id", F_ID, run.id, "job id"),
	RF("attempt", F_ATTEMPT, run.attempt, "attempt"),
	RF("deadline", F_I64, run.deadline, "deadline"),
	RF("at", F_I64, run.dispatched, "at"),
	RF("confirmed", F_BOOL, run.confirmed, "confirmed"),
	RF("host", F_HOST, run.host, "host"),
	RF("tags", F_TAGS, run.tags, "tags"),
	RF("older", F_I64, run.older_than, "older"),
};

static const struct field confirm_keys[] = {
	RF("name", F_JOB, job, "confirmation of an unknown job"),
	RF("kind", F_KIND, kind, "kind"),
	RF("id", F_ID, run.id, "job id"),
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

/* --- formatting ------------------------------------------------------------ */

static void format_fields(const struct co_state *st, const struct field *tab, size_t n,
			  const void *rec, struct bk_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = (const char *)rec + tab[i].off;
		const char *s = NULL;
		uint32_t h;

		bk_buf_addf(out, "%s%s=", i ? " " : "", tab[i].key);
		switch (tab[i].type) {
		case F_JOBNAME:
		case F_TAGS:
		case F_IDS:
			memcpy(&s, p, sizeof(s));
			bk_buf_adds(out, s ? s : "");
			break;
		case F_JOB: {
			const struct co_job *j;

			memcpy(&j, p, sizeof(j));
			bk_buf_adds(out, j->name);
			break;
		}
		case F_KIND:
			bk_buf_adds(out, co_run_kind_name((enum co_run_kind) * (const int *)(const void *)p));
			break;
		case F_HOST:
			memcpy(&h, p, sizeof(h));
			bk_buf_adds(out, h < st->nhosts ? st->hosts[h] : "");
			break;
		case F_I64:
			bk_buf_addf(out, "%" PRId64, *(const int64_t *)(const void *)p);
			break;
		case F_U32:
			bk_buf_addf(out, "%" PRIu32, *(const uint32_t *)(const void *)p);
			break;
		case F_ATTEMPT:
			bk_buf_addf(out, "%u", (unsigned)*(const uint16_t *)(const void *)p);
			break;
		case F_SECONDS:
			bk_buf_addf(out, "%.6f", *(const double *)(const void *)p);
			break;
		case F_BOOL:
			bk_buf_addf(out, "%d", *(const bool *)(const void *)p ? 1 : 0);
			break;
		case F_ID:
			bk_buf_adds(out, p);
			break;
		}
	}
}

/* The 'J' line of job J and an 'R' line per run in flight; returns how many lines. */
static size_t format_job(const struct co_state *st, const struct co_job *j, struct bk_buf *out)
{
	size_t lines = 1;

	bk_buf_adds(out, "J ");
	format_fields(st, job_keys, NKEYS(job_keys), j, out);
	for (size_t k = 0; k < j->ntagt; k++)
		if (j->tagt[k])
			bk_buf_addf(out, " t:%s=%" PRId64,
				    j->saved_tag ? j->saved_tag[k] : j->sched->s.tags[k].name,
				    j->tagt[k]);
	for (size_t k = 0; k < j->ngone; k++) /* read back as tags of the schedule: remapped */
		bk_buf_addf(out, " t:%s=%" PRId64, j->gone[k].name, j->gone[k].t);
	bk_buf_adds(out, "\n");
	for (int k = 0; k < CO_RUN_KINDS; k++) {
		struct run_rec rr = {(struct co_job *)j, k, j->run[k]}; /* shallow: read only */

		if (!j->run[k].active)
			continue;
		bk_buf_adds(out, "R ");
		format_fields(st, run_keys, NKEYS(run_keys), &rr, out);
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
			struct run_rec rr = {(struct co_job *)j, kind, j->run[kind]};

			if (!j->run[kind].active || !j->run[kind].confirmed)
				continue;
			bk_buf_adds(out, "K ");
			format_fields(st, confirm_keys, NKEYS(confirm_keys), &rr, out);
			bk_buf_adds(out, "\n");
			lines++;
		}
	}
	format_requests(st, nq, out);
	return lines + nq;
}

/* --- parsing --------------------------------------------------------------- */

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
	struct co_state *st;
	const char *name;
	int line;
	struct bk_err *err;
};

static int bad(struct pctx *p, const char *what, const char *v)
{
	return bk_err_set(p->err, BK_ECORRUPT, "%s: line %d: invalid %s '%.64s'", p->name, p->line,
			  what, v);
}

static int p_i64(struct pctx *p, const char *what, const char *v, int64_t *out)
{
	char *end = NULL;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (!*v || *end || errno)
		return bad(p, what, v);
	*out = x;
	return 0;
}

/* Whether every comma-separated item of V passes VALID. */
static bool list_valid(const char *v, bool (*valid)(const char *))
{
	struct bk_strv s = BK_STRV_INIT;
	bool ok = true;

	bk_strv_split(&s, v);
	for (size_t i = 0; i < s.n; i++)
		ok = ok && valid(s.v[i]);
	bk_strv_release(&s);
	return ok;
}

/* Store value V of field F into the record at REC. */
static int parse_field(struct pctx *p, const struct field *f, const char *v, void *rec)
{
	char *dst = (char *)rec + f->off;
	int64_t x = 0;
	int r = 0;

	switch (f->type) {
	case F_JOBNAME: {
		char *s;

		memcpy(&s, dst, sizeof(s));
		if (!bk_msg_name_valid(v) || s)
			return bad(p, f->what, v);
		s = bk_strdup(v);
		memcpy(dst, &s, sizeof(s));
		return 0;
	}
	case F_JOB: {
		struct co_job *j = co_job_find(p->st, v);

		if (!j)
			return bad(p, f->what, v);
		memcpy(dst, &j, sizeof(j));
		return 0;
	}
	case F_KIND:
		for (int k = 0; k < CO_RUN_KINDS; k++) {
			if (strcmp(v, co_run_kind_name((enum co_run_kind)k)) == 0) {
				memcpy(dst, &k, sizeof(k));
				return 0;
			}
		}
		return bad(p, f->what, v);
	case F_HOST: {
		uint32_t h;

		if (!*v)
			return 0;
		if (!bk_msg_name_valid(v))
			return bad(p, f->what, v);
		h = co_host_intern(p->st, v);
		memcpy(dst, &h, sizeof(h));
		return 0;
	}
	case F_I64:
		r = p_i64(p, f->what, v, &x);
		if (r == 0)
			memcpy(dst, &x, sizeof(x));
		return r;
	case F_U32: {
		uint32_t u;

		r = p_i64(p, f->what, v, &x);
		if (r == 0 && (x < 0 || x > UINT32_MAX))
			r = bad(p, f->what, v);
		u = (uint32_t)x;
		memcpy(dst, &u, sizeof(u));
		return r;
	}
	case F_ATTEMPT: {
		uint16_t u;

		r = p_i64(p, f->what, v, &x);
		if (r == 0 && (x < 1 || x > BK_MSG_MAX_ATTEMPT))
			r = bad(p, f->what, v);
		u = (uint16_t)x;
		memcpy(dst, &u, sizeof(u));
		return r;
	}
	case F_SECONDS: {
		char *end = NULL;
		double d = strtod(v, &end);

		if (!*v || *end || !(d >= 0))
			return bad(p, f->what, v);
		memcpy(dst, &d, sizeof(d));
		return 0;
	}
	case F_BOOL: {
		bool b;

		r = p_i64(p, f->what, v, &x);
		b = x != 0;
		memcpy(dst, &b, sizeof(b));
		return r;
	}
	case F_TAGS:
	case F_IDS: {
		char *s;

		if (*v && !list_valid(v, f->type == F_TAGS ? bk_tag_valid : bk_id_valid))
			return bad(p, f->what, v);
		memcpy(&s, dst, sizeof(s));
		free(s);
		s = *v ? bk_strdup(v) : NULL;
		memcpy(dst, &s, sizeof(s));
		return 0;
	}
	case F_ID:
		if (!bk_id_valid(v))
			return bad(p, f->what, v);
		snprintf(dst, BK_ID_MAX + 1, "%s", v);
		return 0;
	}
	return bad(p, "field", v);
}

/* A job line's 't:TAG=TIME' field: the time of the newest good backup with TAG. */
static int parse_tag_time(struct pctx *p, const char *key, const char *v, struct co_job *j)
{
	const char *tag = key + 2;
	int64_t x = 0;
	int r;

	if (!bk_tag_valid(tag))
		return bad(p, "tag", tag);
	r = p_i64(p, key, v, &x);
	j->tagt = bk_realloc(j->tagt, (j->ntagt + 1) * sizeof(*j->tagt));
	j->saved_tag = bk_realloc(j->saved_tag, (j->ntagt + 1) * sizeof(*j->saved_tag));
	j->tagt[j->ntagt] = x;
	j->saved_tag[j->ntagt++] = bk_strdup(tag);
	return r;
}

/*
 * Parse the KEY=VALUE fields of LINE (modified in place) into REC by TAB;
 * JOB (for a job line, else NULL) also takes 't:' fields.  Unknown keys are
 * ignored: written by a newer coordinator.
 */
static int parse_fields(struct pctx *p, char *line, const struct field *tab, size_t n, void *rec,
			struct co_job *job)
{
	char *save = line, *tok;
	int r = 0;

	for (tok = next_tok(&save); tok && r == 0; tok = next_tok(&save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return bad(p, "field", tok);
		*eq = 0;
		if (job && strncmp(tok, "t:", 2) == 0) {
			r = parse_tag_time(p, tok, eq + 1, job);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(tok, tab[i].key) == 0) {
				r = parse_field(p, &tab[i], eq + 1, rec);
				break;
			}
		}
	}
	return r;
}

/* A 'J' line: a new job, or (REPLACE, journal records) the new image of a known one. */
static int parse_job_line(struct pctx *p, char *line, bool replace)
{
	struct co_state *st = p->st;
	struct co_job *old;
	struct co_job j;
	int r;

	memset(&j, 0, sizeof(j));
	j.host = UINT32_MAX;
	r = parse_fields(p, line, job_keys, NKEYS(job_keys), &j, &j);
	if (r == 0 && !j.name)
		r = bad(p, "job line", "no name");
	old = r == 0 ? co_job_find(st, j.name) : NULL;
	if (old && !replace)
		r = bad(p, "duplicate job", j.name);
	if (r == 0 && !j.saved_tag)
		j.saved_tag = bk_calloc(1, sizeof(*j.saved_tag)); /* marks "loaded" */
	if (r < 0) {
		co_job_release(&j);
		return r;
	}
	if (old) {
		co_job_release(old); /* its runs too: 'R' lines follow for those still in flight */
		*old = j;
		return 0;
	}
	co_job_append(st, &j);
	return 0;
}

static int parse_run_line(struct pctx *p, char *line)
{
	struct run_rec rr;
	int r;

	memset(&rr, 0, sizeof(rr));
	rr.kind = -1;
	rr.run.host = UINT32_MAX;
	r = parse_fields(p, line, run_keys, NKEYS(run_keys), &rr, NULL);
	if (r == 0 && (!rr.job || rr.kind < 0 || !rr.run.id[0] || !rr.run.attempt))
		r = bad(p, "run line", "incomplete");
	if (r == 0 && rr.kind == CO_RUN_BACKUP && !rr.run.tags)
		r = bad(p, "run line", "backup without tags");
	if (r < 0) {
		free(rr.run.tags);
		return r;
	}
	if (rr.run.host == UINT32_MAX)
		rr.run.host = rr.job->host; /* written before runs had a host: where the job lived */
	rr.run.active = true;
	co_run_clear(&rr.job->run[rr.kind]);
	rr.job->run[rr.kind] = rr.run;
	return 0;
}

/* A 'K' line: the run with that id was confirmed by the broker. */
static int parse_confirm_line(struct pctx *p, char *line)
{
	struct run_rec rr;
	struct co_run *run;
	int r;

	memset(&rr, 0, sizeof(rr));
	rr.kind = -1;
	r = parse_fields(p, line, confirm_keys, NKEYS(confirm_keys), &rr, NULL);
	if (r < 0)
		return r;
	if (!rr.job || rr.kind < 0 || !rr.run.id[0])
		return bad(p, "confirmation", "incomplete");
	run = &rr.job->run[rr.kind];
	if (!run->active || strcmp(run->id, rr.run.id) != 0)
		return bad(p, "confirmation of a run not in flight", rr.run.id);
	run->confirmed = true;
	return 0;
}

static int parse_request_line(struct pctx *p, const char *id)
{
	if (!bk_id_valid(id))
		return bad(p, "request id", id);
	co_remember_request(p->st, id);
	return 0;
}

int co_state_record(struct co_state *st, char *line, const char *name, int lineno,
		    struct bk_err *err)
{
	struct pctx p = {st, name, lineno, err};

	if (strncmp(line, "J ", 2) == 0)
		return parse_job_line(&p, line + 2, true);
	if (strncmp(line, "R ", 2) == 0)
		return parse_run_line(&p, line + 2);
	if (strncmp(line, "K ", 2) == 0)
		return parse_confirm_line(&p, line + 2);
	if (strncmp(line, "Q id=", 5) == 0)
		return parse_request_line(&p, line + 5);
	return bad(&p, "record", line);
}

/* --- the state file ---------------------------------------------------------- */

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
	struct pctx p = {st, name, 0, err};
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
			r = parse_job_line(&p, line + 2, false);
		} else if (strncmp(line, "R ", 2) == 0) {
			r = parse_run_line(&p, line + 2);
		} else if (strncmp(line, "Q id=", 5) == 0) {
			r = parse_request_line(&p, line + 5);
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
