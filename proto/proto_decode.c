/*
 * proto_decode.c: JSON -> message structs, and their validation (see proto.h).
 *
 * Decoding runs in four steps, cheapest first, so hostile input is turned
 * away before it costs anything: the body size; a scan of the raw bytes for
 * the nesting depth (before jansson, whose parser recurses); jansson with
 * duplicate keys and "\u0000" rejected; a walk of the whole tree enforcing
 * the generic limits (items, members, key and string lengths), which also
 * binds fields that a newer minor adds and we ignore (jd_walk_limits).  Then
 * the envelope and the fields of the kind are checked one by one; the first
 * problem becomes the error message.  The decoder is the one definition of
 * a valid message: the encoder runs it over what it wrote.
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "progress_doc.h" /* bk_phase_valid */
#include "revision.h"     /* bk_tag_valid */
#include "scrub_counts_json.h"

#define NNAMES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- names ---- */

/* The wire names of the message enums, indexed by value (NULL: no name). */
static const char *const kind_names[] = {NULL, "job", "result", "heartbeat", "request", "reply"};
static const char *const action_names[] = {NULL, "backup", "expire", "verify"};
static const char *const outcome_names[] = {"ok", "failed", "skipped", "rejected"};
static const char *const request_names[] = {NULL, "run", "expire", "status", "verify"};

/* What the errors call a message of each kind: "invalid job message: ..." */
static const char *const kind_what[] = {"message",	     "job message",
					"result message",    "heartbeat message",
					"request message", "reply message"};

static const char *name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : NULL;
}

const char *bk_msg_kind_name(enum bk_msg_kind kind)
{
	return name_of(kind_names, NNAMES(kind_names), (int)kind);
}

const char *bk_msg_action_name(enum bk_msg_action action)
{
	return name_of(action_names, NNAMES(action_names), (int)action);
}

const char *bk_msg_outcome_name(enum bk_msg_outcome outcome)
{
	return name_of(outcome_names, NNAMES(outcome_names), (int)outcome);
}

const char *bk_msg_request_action_name(enum bk_msg_request_action action)
{
	return name_of(request_names, NNAMES(request_names), (int)action);
}

/* ---- character classes ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* 1 to BK_MSG_NAME_MAX characters, alphanumeric first, then alphanumerics or EXTRA. */
static bool word_valid(const char *s, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_MSG_NAME_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

bool bk_msg_name_valid(const char *s)
{
	/* also excludes '.', '..' and leading '-' (proto.h note 7) */
	return bk_name_valid(s);
}

static bool version_valid(const char *s)
{
	return word_valid(s, "._+~-");
}

static bool user_valid(const char *s)
{
	return word_valid(s, "._@-");
}

static bool tag_valid(const char *s)
{
	return bk_tag_valid(s);
}

/* ---- decoding ---- */

_Static_assert(BK_MSG_NAME_MAX == JD_CODE_MAX, "error.code is read by jd_get_code");

/* The generic limits of proto.h, on every value of a message. */
static const struct jd_limits limits = {
	.depth = BK_MSG_MAX_DEPTH,
	.items = BK_MSG_MAX_ITEMS,
	.key = BK_MSG_MAX_STRING,
	.string = BK_MSG_MAX_PATH,
};

/* A count in [MIN, MAX]: a negative one is worded apart from the range. */
static int get_count(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		     int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	char f[128];

	if (json_is_integer(v) && json_integer_value(v) < 0)
		return jd_fail(d, "field '%s' must not be negative", jd_field(f, prefix, key));
	return jd_get_int(d, obj, prefix, key, required, min, max, out);
}

#define TAG_TEXT "an invalid tag (1 to 64 characters from [A-Za-z0-9_.:-])"

static int dec_head(struct jd *d, json_t *root, struct bk_msg_head *h)
{
	int r;

	r = jd_get_id(d, root, NULL, "id", true, h->id);
	if (r == 0)
		r = jd_get_time(d, root, NULL, "time", true, false, &h->time);
	return r;
}

#define HEAD_KEYS "schema", "kind", "id", "time"

/* The source model's rules (source_spec.h), field by field for the message. */
static int dec_source(struct jd *d, json_t *obj, struct bk_source_spec *src)
{
	static const char *const file_keys[] = {"type", "filename", NULL};
	static const char *const rbd_keys[] = {"type", "pool", "image", NULL};
	static const char *const fc_keys[] = {"type", "pool", "image", "vm", NULL};
	const char *source_names[BK_SOURCE_FLYINGCIRCUS + 1];
	int type = 0;
	const char *s;
	char b[72];
	int r;

	for (int i = 0; i < NNAMES(source_names); i++)
		source_names[i] = bk_source_type_name((enum bk_source_type)i);
	r = jd_get_enum(d, obj, "source", "type", true, source_names, NNAMES(source_names), &type);
	if (r < 0)
		return r;
	src->type = (enum bk_source_type)type;
	switch (src->type) {
	case BK_SOURCE_FILE:
		r = jd_check_keys(d, obj, "source", file_keys);
		if (r == 0)
			r = jd_get_str(d, obj, "source", "filename", true, false, 1,
				       BK_MSG_MAX_PATH, &s);
		if (r < 0)
			return r;
		if (!bk_source_path_valid(s))
			return jd_fail(d,
				       "field 'source.filename' is not an absolute path without "
				       "'.' or '..' components and control characters: '%s'",
				       jd_show(s, b));
		bk_source_spec_set_filename(src, s);
		return 0;
	case BK_SOURCE_RBD:
	case BK_SOURCE_FLYINGCIRCUS:
		r = jd_check_keys(d, obj, "source",
				  src->type == BK_SOURCE_RBD ? rbd_keys : fc_keys);
		if (r == 0)
			r = jd_get_word(d, obj, "source", "pool", true, bk_ceph_name_valid,
					"a valid pool name", src->pool, sizeof(src->pool));
		if (r == 0)
			r = jd_get_word(d, obj, "source", "image", true, bk_ceph_name_valid,
					"a valid image name", src->image, sizeof(src->image));
		if (r == 0 && src->type == BK_SOURCE_FLYINGCIRCUS)
			r = jd_get_name(d, obj, "source", "vm", true, src->vm);
		return r;
	default:
		return jd_fail(d, "field 'source.type' is invalid");
	}
}

static int dec_schedule(struct jd *d, json_t *obj, struct bk_schedule *out)
{
	static const char *const keys[] = {"interval", "keep", NULL};
	struct bk_buf spec;
	struct bk_err e = {0};
	const char *name;
	json_t *entry;
	char b[72];
	int r = 0;

	if (json_object_size(obj) == 0)
		return jd_fail(d, "field 'schedule' must not be empty");
	bk_buf_init(&spec);
	json_object_foreach(obj, name, entry)
	{
		char prefix[128], interval[32];
		const char *iv;
		int64_t secs, keep;

		if (!bk_tag_valid(name) || strchr(name, ':')) {
			r = jd_fail(d, "field 'schedule' has an invalid tag name: '%s'",
				    jd_show(name, b));
			goto out;
		}
		snprintf(prefix, sizeof(prefix), "schedule.%s", name);
		if (!json_is_object(entry)) {
			r = jd_fail(d, "field '%s' must be an object", prefix);
			goto out;
		}
		r = jd_check_keys(d, entry, prefix, keys);
		if (r == 0)
			r = jd_get_str(d, entry, prefix, "interval", true, false, 1,
				       BK_MSG_MAX_STRING, &iv);
		if (r < 0)
			goto out;
		if (bk_duration_parse(iv, &secs) < 0) {
			r = jd_fail(d, "field '%s.interval' is not a duration (N[wdhms]): '%s'",
				    prefix, jd_show(iv, b));
			goto out;
		}
		r = get_count(d, entry, prefix, "keep", true, 1, BK_MSG_MAX_KEEP, &keep);
		if (r < 0)
			goto out;
		bk_duration_format_spec(secs, interval, sizeof(interval));
		bk_buf_addf(&spec, "%s%s=%s:%lld", spec.len ? "," : "", name, interval,
			    (long long)keep);
	}
	r = bk_schedule_parse_spec(spec.p, out, &e);
	if (r < 0)
		r = jd_fail(d, "field 'schedule' is invalid: %s", e.msg);
out:
	bk_buf_release(&spec);
	return r;
}

static int dec_job(struct jd *d, json_t *root, struct bk_msg_job *m)
{
	static const char *const keys[] = {HEAD_KEYS, "job_id",   "job",      "host",
					   "action",  "tags",     "deadline", "attempt",
					   "source",  "schedule", "older_than", NULL};
	const char *older;
	json_t *v;
	char b[72];
	int64_t attempt = 0;
	int action = 0;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = jd_get_id(d, root, NULL, "job_id", true, m->job_id);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "job", true, m->job);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = jd_get_enum(d, root, NULL, "action", true, action_names, NNAMES(action_names),
				&action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_action)action;
	r = jd_get_list(d, root, NULL, "tags", false, BK_MSG_MAX_ITEMS, tag_valid, TAG_TEXT,
			&m->tags);
	if (r == 0)
		r = jd_get_time(d, root, NULL, "deadline", true, false, &m->deadline);
	if (r == 0)
		r = get_count(d, root, NULL, "attempt", true, 1, BK_MSG_MAX_ATTEMPT, &attempt);
	if (r < 0)
		return r;
	m->attempt = (unsigned)attempt;
	if (m->deadline < m->head.time)
		return jd_fail(d, "field 'deadline' is before field 'time'");
	if (m->action == BK_ACTION_BACKUP && m->tags.n == 0)
		return jd_fail(d, "field 'tags' must not be empty for a backup");
	r = jd_get(d, root, NULL, "source", m->action == BK_ACTION_BACKUP, false, JSON_OBJECT, &v);
	if (r == 0 && v)
		r = dec_source(d, v, &m->source);
	if (r == 0)
		r = jd_get(d, root, NULL, "schedule", false, false, JSON_OBJECT, &v);
	if (r == 0 && v)
		r = dec_schedule(d, v, &m->schedule);
	if (r == 0)
		r = jd_get_str(d, root, NULL, "older_than", false, false, 1, BK_MSG_MAX_STRING,
			       &older);
	if (r < 0 || !older)
		return r;
	if (m->action != BK_ACTION_VERIFY)
		return jd_fail(d, "field 'older_than' is only allowed in verify jobs");
	if (bk_duration_parse(older, &m->older_than) < 0 || m->older_than <= 0)
		return jd_fail(d, "field 'older_than' is not a duration (N[wdhms]): '%s'",
			       jd_show(older, b));
	return 0;
}

static int dec_error(struct jd *d, json_t *obj, struct bk_msg_result *m)
{
	static const char *const keys[] = {"code", "message", "transient", NULL};
	json_t *v;
	int r;

	r = jd_get_error(d, obj, "error", keys, BK_MSG_MAX_TEXT, m->error_code, &m->error_message);
	if (r < 0)
		return r;
	r = jd_get(d, obj, "error", "transient", false, false, JSON_TRUE, &v);
	if (r == 0 && v)
		m->error_transient = json_is_true(v);
	return r;
}

static int dec_stats(struct jd *d, json_t *obj, struct bk_msg_stats *s)
{
	static const char *const keys[] = {"bytes_written", "size", "duration", NULL};
	int64_t bytes = 0, size = 0;
	json_t *v;
	double dur;
	int r;

	r = jd_check_keys(d, obj, "stats", keys);
	if (r == 0)
		r = get_count(d, obj, "stats", "bytes_written", true, 0, INT64_MAX, &bytes);
	if (r == 0)
		r = get_count(d, obj, "stats", "size", true, 0, INT64_MAX, &size);
	if (r == 0)
		r = jd_get(d, obj, "stats", "duration", true, false, JSON_REAL, &v);
	if (r < 0)
		return r;
	dur = json_number_value(v);
	if (!(dur >= 0))
		return jd_fail(d, "field 'stats.duration' must not be negative");
	if (dur > BK_MSG_MAX_DURATION)
		return jd_fail(d, "field 'stats.duration' must be at most %.0f",
			       BK_MSG_MAX_DURATION);
	s->bytes_written = (uint64_t)bytes;
	s->size = (uint64_t)size;
	s->duration = dur;
	return 0;
}

static int dec_result(struct jd *d, json_t *root, struct bk_msg_result *m)
{
	static const char *const keys[] = {HEAD_KEYS,  "job_id", "job",      "host", "action",
					   "outcome",  "error",  "revision", "tags", "started",
					   "finished", "stats",  "verify",   NULL};
	int outcome = 0, action = 0;
	bool rejected;
	json_t *v;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = jd_get_enum(d, root, NULL, "outcome", true, outcome_names,
				NNAMES(outcome_names), &outcome);
	if (r < 0)
		return r;
	m->outcome = (enum bk_msg_outcome)outcome;
	rejected = m->outcome == BK_OUTCOME_REJECTED;
	r = jd_get_id(d, root, NULL, "job_id", !rejected, m->job_id);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "job", !rejected, m->job);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = jd_get_enum(d, root, NULL, "action", !rejected, action_names,
				NNAMES(action_names), &action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_action)action;
	r = jd_get(d, root, NULL, "error", false, false, JSON_OBJECT, &v);
	if (r < 0)
		return r;
	if (m->outcome == BK_OUTCOME_OK && v)
		return jd_fail(d, "field 'error' is not allowed in an ok result");
	if (m->outcome != BK_OUTCOME_OK && !v)
		return jd_fail(d, "missing field 'error' (required in a %s result)",
			       outcome_names[m->outcome]);
	if (v) {
		r = dec_error(d, v, m);
		if (r < 0)
			return r;
	}
	r = jd_get_id(d, root, NULL, "revision", false, m->revision);
	if (r == 0)
		r = jd_get_list(d, root, NULL, "tags", false, BK_MSG_MAX_ITEMS, tag_valid, TAG_TEXT,
				&m->tags);
	if (r == 0)
		r = jd_get_time(d, root, NULL, "started", !rejected, false, &m->started);
	if (r == 0)
		r = jd_get_time(d, root, NULL, "finished", !rejected, false, &m->finished);
	if (r < 0)
		return r;
	if (m->started && m->finished && m->finished < m->started)
		return jd_fail(d, "field 'finished' is before field 'started'");
	r = jd_get(d, root, NULL, "stats", false, false, JSON_OBJECT, &v);
	if (r == 0 && v) {
		m->has_stats = true;
		r = dec_stats(d, v, &m->stats);
	}
	if (r == 0)
		r = jd_get(d, root, NULL, "verify", false, false, JSON_OBJECT, &v);
	if (r < 0 || !v)
		return r;
	if (m->action != BK_ACTION_VERIFY)
		return jd_fail(d, "field 'verify' is only allowed in results of verify jobs");
	m->has_verify = true;
	return bk_scrub_counts_decode(d, v, "verify", &m->verify);
}

/* heartbeat "progress": [{"job", "phase", "done", "total"}, ...], jobs of "running" */
static int dec_progress(struct jd *d, json_t *arr, struct bk_msg_heartbeat *m)
{
	static const char *const keys[] = {"job", "phase", "done", "total", NULL};
	size_t i;
	json_t *o;

	if (json_array_size(arr) > m->running.n)
		return jd_fail(d, "field 'progress' has more entries than field 'running'");
	m->progress = bk_calloc(json_array_size(arr) + 1, sizeof(*m->progress));
	json_array_foreach(arr, i, o)
	{
		struct bk_msg_progress *p = &m->progress[i];
		int64_t done = 0, total = 0;
		const char *phase;
		int r;

		if (!json_is_object(o))
			return jd_fail(d, "field 'progress' must hold objects");
		r = jd_check_keys(d, o, "progress", keys);
		if (r == 0)
			r = jd_get_name(d, o, "progress", "job", true, p->job);
		if (r == 0)
			r = jd_get_str(d, o, "progress", "phase", true, false, 1, BK_MSG_MAX_STRING,
				       &phase);
		if (r == 0 && !bk_phase_valid(phase))
			r = jd_fail(d, "field 'progress.phase' must be 'backup', 'restore' or 'verify'");
		if (r == 0)
			r = get_count(d, o, "progress", "total", true, 0, INT64_MAX, &total);
		if (r == 0)
			r = get_count(d, o, "progress", "done", true, 0, total, &done);
		if (r < 0)
			return r;
		if (!bk_strv_has(&m->running, p->job))
			return jd_fail(d, "field 'progress' names job '%s', which is not running", p->job);
		snprintf(p->phase, sizeof(p->phase), "%s", phase);
		p->done = (uint64_t)done;
		p->total = (uint64_t)total;
		m->nprogress = i + 1;
	}
	return 0;
}

static int dec_heartbeat(struct jd *d, json_t *root, struct bk_msg_heartbeat *m)
{
	static const char *const keys[] = {HEAD_KEYS, "host",       "version", "slots", "busy",
					   "free_bytes", "running", "progress", NULL};
	json_t *v;
	int64_t slots = 0, busy = 0, free_bytes = 0;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = jd_get_word(d, root, NULL, "version", true, version_valid,
				"a valid version (1 to 64 characters from [A-Za-z0-9._+~-])",
				m->version, sizeof(m->version));
	if (r == 0)
		r = get_count(d, root, NULL, "slots", true, 0, BK_MSG_MAX_SLOTS, &slots);
	if (r == 0)
		r = get_count(d, root, NULL, "busy", true, 0, BK_MSG_MAX_SLOTS, &busy);
	if (r == 0)
		r = get_count(d, root, NULL, "free_bytes", true, 0, INT64_MAX, &free_bytes);
	if (r == 0)
		r = jd_get_list(d, root, NULL, "running", true, BK_MSG_MAX_ITEMS, bk_msg_name_valid,
				"an invalid job name", &m->running);
	if (r < 0)
		return r;
	m->slots = (unsigned)slots;
	m->busy = (unsigned)busy;
	m->free_bytes = (uint64_t)free_bytes;
	if (m->busy > m->slots)
		return jd_fail(d, "field 'busy' is larger than field 'slots'");
	if (m->running.n > m->slots)
		return jd_fail(d, "field 'running' lists more jobs than field 'slots'");
	r = jd_get(d, root, NULL, "progress", false, false, JSON_ARRAY, &v);
	if (r == 0 && v)
		r = dec_progress(d, v, m);
	return r;
}

static int dec_request(struct jd *d, json_t *root, struct bk_msg_request *m)
{
	static const char *const keys[] = {HEAD_KEYS, "action", "job", "tags", "user", NULL};
	int action = 0;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = jd_get_enum(d, root, NULL, "action", true, request_names, NNAMES(request_names),
				&action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_request_action)action;
	r = jd_get_name(d, root, NULL, "job", m->action != BK_REQUEST_STATUS, m->job);
	if (r == 0 && m->action != BK_REQUEST_RUN && json_object_get(root, "tags"))
		r = jd_fail(d, "field 'tags' is only allowed in run requests");
	if (r == 0)
		r = jd_get_list(d, root, NULL, "tags", false, BK_MSG_MAX_ITEMS, tag_valid, TAG_TEXT,
				&m->tags);
	if (r == 0)
		r = jd_get_word(d, root, NULL, "user", false, user_valid,
				"a valid user name (1 to 64 characters from [A-Za-z0-9._@-])",
				m->user, sizeof(m->user));
	return r;
}

static int dec_reply(struct jd *d, json_t *root, struct bk_msg_reply *m)
{
	static const char *const keys[] = {HEAD_KEYS, "request_id", "action", "job", "accepted",
					   "job_id",  "error",      "message", NULL};
	static const char *const error_keys[] = {"code", "message", NULL};
	const char *text = NULL;
	json_t *v, *err;
	int action = 0;
	int r;

	r = jd_check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = jd_get_id(d, root, NULL, "request_id", true, m->request_id);
	if (r == 0)
		r = jd_get_enum(d, root, NULL, "action", true, request_names, NNAMES(request_names),
				&action);
	if (r == 0)
		r = jd_get_name(d, root, NULL, "job", false, m->job);
	if (r == 0)
		r = jd_get(d, root, NULL, "accepted", true, false, JSON_TRUE, &v);
	if (r == 0)
		r = jd_get_id(d, root, NULL, "job_id", false, m->job_id);
	if (r == 0)
		r = jd_get(d, root, NULL, "error", false, false, JSON_OBJECT, &err);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_request_action)action;
	m->accepted = json_is_true(v);
	if (m->accepted && err)
		return jd_fail(d, "field 'error' is not allowed in an accepted reply");
	if (!m->accepted && !err)
		return jd_fail(d, "missing field 'error' (required in a refusal)");
	if (!m->accepted && m->job_id[0])
		return jd_fail(d, "field 'job_id' is not allowed in a refusal");
	if (err && json_object_get(root, "message"))
		return jd_fail(d, "field 'message' is not allowed in a refusal (error.message says why)");
	if (err)
		return jd_get_error(d, err, "error", error_keys, BK_MSG_MAX_TEXT, m->error_code,
				    &m->message);
	r = jd_get_text(d, root, NULL, "message", false, BK_MSG_MAX_TEXT, &text);
	if (r == 0 && text)
		m->message = bk_strdup(text);
	return r;
}

/* "backy/MAJOR.MINOR" with 1 to 4 digits each and no leading zeros. */
static bool parse_number(const char **p, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 4)
			return false;
		v = v * 10 + (unsigned)(s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return false;
	*p = s + n;
	*out = v;
	return true;
}

static int dec_schema(struct jd *d, json_t *root, unsigned *minor)
{
	const char *s, *p;
	unsigned major;
	char b[72];
	int r;

	r = jd_get_str(d, root, NULL, "schema", true, false, 1, BK_MSG_MAX_STRING, &s);
	if (r < 0)
		return r;
	p = s + strlen(BK_MSG_SCHEMA_NAME "/");
	if (strncmp(s, BK_MSG_SCHEMA_NAME "/", strlen(BK_MSG_SCHEMA_NAME "/")) ||
	    !parse_number(&p, &major) || *p++ != '.' || !parse_number(&p, minor) || *p)
		return jd_fail(d,
			       "field 'schema' is not '" BK_MSG_SCHEMA_NAME "/MAJOR.MINOR': '%s'",
			       jd_show(s, b));
	if (major != BK_MSG_MAJOR)
		return bk_err_set(d->err, BK_EVERSION,
				  "unsupported message version '%s' (this is " BK_MSG_SCHEMA_NAME
				  "/%d.%d)",
				  jd_show(s, b), BK_MSG_MAJOR, BK_MSG_MINOR);
	return 0;
}

/* Size, depth and syntax of a message body; the root object or NULL. */
static json_t *load(struct jd *d, const void *body, size_t len)
{
	if (len > BK_MSG_MAX_BODY) {
		jd_fail(d, "body of %zu bytes is larger than %d bytes", len, BK_MSG_MAX_BODY);
		return NULL;
	}
	return jd_load(d, body, len, BK_MSG_MAX_BODY, BK_MSG_MAX_DEPTH, JSON_OBJECT);
}

int bk_msg_decode(const void *body, size_t len, struct bk_msg *out, struct bk_err *err)
{
	struct jd d = {
		.err = err, .what = kind_what[0], .strict = true, .word_max = BK_MSG_MAX_STRING};
	json_t *root = NULL;
	unsigned minor = 0;
	int kind = 0;
	int r;

	bk_msg_init(out);
	root = load(&d, body, len);
	if (!root)
		return BK_EPROTO;
	/* the version first: another major may have other limits */
	r = dec_schema(&d, root, &minor);
	if (r == 0)
		r = jd_walk_limits(&d, root, &limits);
	if (r == 0)
		r = jd_get_enum(&d, root, NULL, "kind", true, kind_names, NNAMES(kind_names),
				&kind);
	if (r < 0)
		goto out;
	d.strict = minor <= BK_MSG_MINOR;
	d.what = kind_what[kind];
	out->kind = (enum bk_msg_kind)kind;
	switch (out->kind) {
	case BK_MSG_JOB:
		bk_msg_job_init(&out->u.job);
		r = dec_job(&d, root, &out->u.job);
		out->u.job.head.minor = minor;
		break;
	case BK_MSG_RESULT:
		bk_msg_result_init(&out->u.result);
		r = dec_result(&d, root, &out->u.result);
		out->u.result.head.minor = minor;
		break;
	case BK_MSG_HEARTBEAT:
		bk_msg_heartbeat_init(&out->u.heartbeat);
		r = dec_heartbeat(&d, root, &out->u.heartbeat);
		out->u.heartbeat.head.minor = minor;
		break;
	case BK_MSG_REQUEST:
		bk_msg_request_init(&out->u.request);
		r = dec_request(&d, root, &out->u.request);
		out->u.request.head.minor = minor;
		break;
	case BK_MSG_REPLY:
		bk_msg_reply_init(&out->u.reply);
		r = dec_reply(&d, root, &out->u.reply);
		out->u.reply.head.minor = minor;
		break;
	default:
		r = jd_fail(&d, "unknown kind");
		break;
	}
out:
	if (r < 0)
		bk_msg_release(out);
	json_decref(root);
	return r;
}

void bk_msg_peek(const void *body, size_t len, struct bk_msg_peek *out)
{
	struct jd d = {
		.err = NULL, .what = kind_what[0], .strict = false, .word_max = BK_MSG_MAX_STRING};
	json_t *root;
	const char *s;
	int i;

	memset(out, 0, sizeof(*out));
	root = load(&d, body, len);
	if (!root)
		return;
	s = json_string_value(json_object_get(root, "kind"));
	i = s ? jd_index_of(kind_names, NNAMES(kind_names), s) : -1;
	if (i > 0)
		out->kind = (enum bk_msg_kind)i;
	s = json_string_value(json_object_get(root, "id"));
	if (s && bk_id_valid(s))
		memcpy(out->id, s, strlen(s) + 1);
	s = json_string_value(json_object_get(root, "job_id"));
	if (s && bk_id_valid(s))
		memcpy(out->job_id, s, strlen(s) + 1);
	s = json_string_value(json_object_get(root, "job"));
	if (s && bk_msg_name_valid(s))
		memcpy(out->job, s, strlen(s) + 1);
	s = json_string_value(json_object_get(root, "action"));
	i = s ? jd_index_of(action_names, NNAMES(action_names), s) : -1;
	if (i > 0)
		out->action = (enum bk_msg_action)i;
	json_decref(root);
}
