/* journal_entry.c: the file format of a job journal entry (see journal_entry.h). */
#include "journal_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

static const char *const state_names[] = {"none", "running", "done"};

void bk_journal_entry_init(struct bk_journal_entry *e)
{
	memset(e, 0, sizeof(*e));
}

void bk_journal_entry_release(struct bk_journal_entry *e)
{
	free(e->result);
	bk_journal_entry_init(e);
}

void bk_journal_entry_set_result(struct bk_journal_entry *e, const char *s)
{
	free(e->result);
	e->result = s ? bk_strdup(s) : NULL;
}

int bk_journal_entry_encode(const struct bk_journal_entry *e, struct bk_buf *out,
			    struct bk_err *err)
{
	struct je x = {.bad = NULL};
	json_t *o, *result = NULL;
	int precision;

	if (!bk_id_valid(e->job_id))
		return bk_err_set(err, BK_EUSAGE, "invalid job id '%.80s'", e->job_id);
	if (e->state != BK_JOURNAL_RUNNING && e->state != BK_JOURNAL_DONE)
		return bk_err_set(err, BK_EUSAGE, "journal entry of '%s' has no state", e->job_id);
	if (e->result) {
		result = json_loads(e->result, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(result)) {
			json_decref(result);
			return bk_err_set(err, BK_EPROTO,
					  "journal entry of '%s': its result is not a JSON object",
					  e->job_id);
		}
	}
	o = json_object();
	je_put_str(&x, o, "state", state_names[e->state]);
	je_put_str(&x, o, "job_id", e->job_id);
	je_put_str(&x, o, "job", e->job);
	je_put_int(&x, o, "pid", e->pid);
	je_put_int(&x, o, "pid_start", (int64_t)e->pid_start);
	je_put_int(&x, o, "child", e->child);
	je_put_int(&x, o, "child_start", (int64_t)e->child_start);
	je_put_int(&x, o, "started", e->started);
	je_put_int(&x, o, "finished", e->finished);
	je_put(&x, o, "published", json_boolean(e->published));
	je_put_opt(&x, o, "digest", e->digest);
	/* reals as short as they read back exactly, so the result keeps its text */
	precision = result ? je_tree_precision(result) : 17;
	if (result)
		je_put(&x, o, "result", result);
	return je_dump(&x, "journal entry", o, JSON_COMPACT | JSON_REAL_PRECISION(precision), out,
		       err);
}

/* An integer field, 0 when missing or not an integer (as older workers read it). */
static int64_t get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int dec_entry(json_t *o, struct bk_journal_entry *e)
{
	const char *s;
	json_t *v;
	char *text;

	s = json_string_value(json_object_get(o, "state"));
	if (s && strcmp(s, "running") == 0)
		e->state = BK_JOURNAL_RUNNING;
	else if (s && strcmp(s, "done") == 0)
		e->state = BK_JOURNAL_DONE;
	else
		return BK_ECORRUPT;
	s = json_string_value(json_object_get(o, "job_id"));
	if (!s || !bk_id_valid(s))
		return BK_ECORRUPT;
	snprintf(e->job_id, sizeof(e->job_id), "%s", s);
	s = json_string_value(json_object_get(o, "job"));
	if (!s || strlen(s) > BK_JOURNAL_NAME_MAX)
		return BK_ECORRUPT;
	snprintf(e->job, sizeof(e->job), "%s", s);
	e->pid = (long)get_int(o, "pid");
	e->pid_start = (unsigned long long)get_int(o, "pid_start");
	e->child = (long)get_int(o, "child");
	e->child_start = (unsigned long long)get_int(o, "child_start");
	e->started = get_int(o, "started");
	e->finished = get_int(o, "finished");
	e->published = json_is_true(json_object_get(o, "published"));
	s = json_string_value(json_object_get(o, "digest"));
	if (s && strlen(s) < sizeof(e->digest))
		snprintf(e->digest, sizeof(e->digest), "%s", s);
	if (e->state != BK_JOURNAL_DONE)
		return 0;
	v = json_object_get(o, "result");
	if (json_is_string(v)) {
		e->result = bk_strdup(json_string_value(v)); /* an older worker's entry */
		return 0;
	}
	if (!json_is_object(v))
		return BK_ECORRUPT;
	text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(je_tree_precision(v)));
	if (!text)
		return BK_ECORRUPT;
	e->result = bk_strdup(text);
	free(text);
	return 0;
}

int bk_journal_entry_decode(const void *text, size_t len, struct bk_journal_entry *e,
			    struct bk_err *err)
{
	struct bk_err why = {0};
	struct jd d = {.err = &why, .what = "journal entry", .strict = false};
	json_t *o;
	int r = BK_ECORRUPT;

	bk_journal_entry_init(e);
	/* a result message nests up to 8 deep, the entry adds one */
	o = jd_load(&d, text, len, BK_JOURNAL_MAX_ENTRY, 9, JSON_OBJECT);
	if (o)
		r = dec_entry(o, e);
	json_decref(o);
	if (r < 0) {
		bk_journal_entry_release(e);
		bk_err_set(err, BK_ECORRUPT, "%s", why.code ? why.msg : "not a journal entry");
		return BK_ECORRUPT;
	}
	return 0;
}
