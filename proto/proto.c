/*
 * proto.c: message structs <-> JSON with jansson, and their validation (see proto.h).
 *
 * Decoding runs in four steps, cheapest first, so hostile input is turned
 * away before it costs anything: the body size; a scan of the raw bytes for
 * the nesting depth (before jansson, whose parser recurses); jansson with
 * duplicate keys and "\u0000" rejected; a walk of the whole tree enforcing
 * the generic limits (items, members, key and string lengths), which also
 * binds fields that a newer minor adds and we ignore.  Then the envelope and
 * the fields of the kind are checked one by one; the first problem becomes
 * the error message.
 *
 * Encoding builds the tree in a fixed key order, dumps it compactly and runs
 * the decoder over the result: the decoder is the one definition of a
 * valid message.
 */
#include "proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "revision.h" /* bk_tag_valid */
#include "topology.h" /* BK_KEY_REQUEST */

/* 10000-01-01T00:00:00Z in microseconds: times must be before it. */
#define TIME_END 253402300800000000LL

/* ---- names ---- */

static const char *const kind_names[] = {NULL, "job", "result", "heartbeat", "request"};
static const char *const action_names[] = {NULL, "backup", "expire", "verify"};
static const char *const outcome_names[] = {"ok", "failed", "skipped", "rejected"};
static const char *const source_names[] = {NULL, "file", "rbd", "flyingcircus"};
static const char *const request_names[] = {NULL, "run", "expire", "status"};

#define NNAMES(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : NULL;
}

/* Index of S in NAMES, or -1 (NULL entries never match). */
static int index_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return i;
	return -1;
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

const char *bk_msg_source_type_name(enum bk_msg_source_type type)
{
	return name_of(source_names, NNAMES(source_names), (int)type);
}

const char *bk_msg_request_action_name(enum bk_msg_request_action action)
{
	return name_of(request_names, NNAMES(request_names), (int)action);
}

int bk_msg_errcode_parse(const char *name)
{
#define BK_ERR_PARSE(n, value, text) \
	if (!strcmp(name, #n))       \
		return n;
	BK_ERRORS(BK_ERR_PARSE)
#undef BK_ERR_PARSE
	for (int e = 1; e < 4096; e++) {
		const char *s = strerrorname_np(e);

		if (s && !strcmp(s, name))
			return -e;
	}
	return 0;
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
	return word_valid(s, "._-");
}

/* Ceph pool and image names: like names, but a pool may start with '.' (".rgw.root"). */
static bool rbd_name_valid(const char *s)
{
	if (s[0] == '.')
		return strlen(s) <= BK_MSG_NAME_MAX && word_valid(s + 1, "._-");
	return word_valid(s, "._-");
}

static bool version_valid(const char *s)
{
	return word_valid(s, "._+~-");
}

static bool user_valid(const char *s)
{
	return word_valid(s, "._@-");
}

static bool errcode_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_MSG_NAME_MAX || !(s[0] >= 'A' && s[0] <= 'Z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool tag_valid(const char *s)
{
	return bk_tag_valid(s);
}

/* Absolute, no "." or ".." components, no control characters. */
static bool path_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_MSG_MAX_PATH || s[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == '/') {
			const char *comp = s + i + 1;
			size_t len = strcspn(comp, "/");

			if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
				return false;
		}
	}
	return true;
}

/* Free text: no control characters but tab and newline. */
static bool text_valid(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			return false;
	}
	return true;
}

/* ---- decoding ---- */

struct dec {
	struct bk_err *err;
	const char *kind; /* for messages: "job", ... or NULL before it is known */
	bool strict;      /* unknown fields are errors (proto.h note 2) */
};

static int fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct dec *d, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (d->kind)
		return bk_err_set(d->err, BK_EPROTO, "invalid %s message: %s", d->kind, what);
	return bk_err_set(d->err, BK_EPROTO, "invalid message: %s", what);
}

/* S made safe to print: at most MAX bytes, control and non-ASCII bytes as '?'. */
static const char *show_n(const char *s, char *buf, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static const char *show(const char *s, char buf[72])
{
	return show_n(s, buf, 64);
}

/* "source.pool" from "source" and "pool"; just KEY without a prefix. */
static const char *field(char buf[128], const char *prefix, const char *key)
{
	if (prefix && prefix[0])
		snprintf(buf, 128, "%s.%s", prefix, key);
	else
		snprintf(buf, 128, "%s", key);
	return buf;
}

/*
 * Depth of the raw text, counting brackets outside strings.  Exact for valid
 * JSON; for invalid JSON an upper bound of what jansson reaches before it
 * reports the error, as both read strings the same way up to that point.
 */
static bool depth_ok(const unsigned char *p, size_t len)
{
	int depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > BK_MSG_MAX_DEPTH)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

/*
 * The generic limits on every value, known field or not; DEPTH counts the
 * objects and arrays V is in, WHERE is the key of the nearest member.
 */
static int walk_limits(struct dec *d, json_t *v, int depth, const char *where)
{
	const char *key;
	json_t *item;
	char b[72];
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth + 1 > BK_MSG_MAX_DEPTH)
			return fail(d, "nested deeper than %d levels", BK_MSG_MAX_DEPTH);
		if (json_object_size(v) > BK_MSG_MAX_ITEMS)
			return fail(d, "an object has more than %d members", BK_MSG_MAX_ITEMS);
		json_object_foreach(v, key, item) {
			if (strlen(key) > BK_MSG_MAX_STRING)
				return fail(d, "a key is longer than %d bytes", BK_MSG_MAX_STRING);
			if (walk_limits(d, item, depth + 1, key) < 0)
				return BK_EPROTO;
		}
		break;
	case JSON_ARRAY:
		if (depth + 1 > BK_MSG_MAX_DEPTH)
			return fail(d, "nested deeper than %d levels", BK_MSG_MAX_DEPTH);
		if (json_array_size(v) > BK_MSG_MAX_ITEMS)
			return fail(d, "field '%s' has more than %d items", show(where, b),
				    BK_MSG_MAX_ITEMS);
		json_array_foreach(v, i, item) {
			if (walk_limits(d, item, depth + 1, where) < 0)
				return BK_EPROTO;
		}
		break;
	case JSON_STRING:
		if (json_string_length(v) > BK_MSG_MAX_PATH)
			return fail(d, "field '%s' holds a string longer than %d bytes",
				    show(where, b), BK_MSG_MAX_PATH);
		break;
	default:
		break;
	}
	return 0;
}

/* In strict mode, every key of OBJ must be in the NULL-terminated ALLOWED. */
static int check_keys(struct dec *d, json_t *obj, const char *prefix, const char *const *allowed)
{
	const char *key;
	json_t *v;
	char f[128], b[72];

	if (!d->strict)
		return 0;
	json_object_foreach(obj, key, v) {
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], key))
				break;
		if (!allowed[i])
			return fail(d, "unknown field '%s'", field(f, prefix, show(key, b)));
	}
	return 0;
}

static const char *type_text(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/*
 * Field KEY of OBJ with type T into *OUT (NULL when absent and optional).
 * JSON_REAL accepts any number; JSON_TRUE any boolean.  Optional fields are
 * omitted, never null.
 */
static int get(struct dec *d, json_t *obj, const char *prefix, const char *key, bool required,
	       json_type t, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	char f[128];
	bool ok;

	*out = NULL;
	if (!v) {
		if (required)
			return fail(d, "missing field '%s'", field(f, prefix, key));
		return 0;
	}
	if (t == JSON_REAL)
		ok = json_is_number(v);
	else if (t == JSON_TRUE)
		ok = json_is_boolean(v);
	else
		ok = json_typeof(v) == t;
	if (!ok)
		return fail(d, "field '%s' must be %s", field(f, prefix, key), type_text(t));
	*out = v;
	return 0;
}

/* A string of 1 to MAX bytes (*OUT NULL when absent). */
static int get_str(struct dec *d, json_t *obj, const char *prefix, const char *key, bool required,
		   size_t max, const char **out)
{
	json_t *v;
	char f[128];
	int r;

	*out = NULL;
	r = get(d, obj, prefix, key, required, JSON_STRING, &v);
	if (r < 0 || !v)
		return r;
	if (json_string_length(v) == 0)
		return fail(d, "field '%s' must not be empty", field(f, prefix, key));
	if (json_string_length(v) > max)
		return fail(d, "field '%s' is longer than %zu bytes", field(f, prefix, key), max);
	*out = json_string_value(v);
	return 0;
}

/* A string passing VALID (WHAT describes it) copied into OUT of SIZE bytes ("" when absent). */
static int get_word(struct dec *d, json_t *obj, const char *prefix, const char *key,
		    bool required, bool (*valid)(const char *), const char *what, char *out,
		    size_t size)
{
	const char *s;
	char f[128], b[72];
	int r;

	out[0] = '\0';
	r = get_str(d, obj, prefix, key, required, BK_MSG_MAX_STRING, &s);
	if (r < 0 || !s)
		return r;
	if (!valid(s) || strlen(s) >= size)
		return fail(d, "field '%s' is not %s: '%s'", field(f, prefix, key), what, show(s, b));
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

#define NAME_TEXT "a valid name (1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-')"
#define ID_TEXT "a valid id (1 to 64 characters from [A-Za-z0-9_-], not starting with '-')"

static int get_name(struct dec *d, json_t *obj, const char *prefix, const char *key,
		    bool required, char out[BK_MSG_NAME_MAX + 1])
{
	return get_word(d, obj, prefix, key, required, bk_msg_name_valid, NAME_TEXT, out,
			BK_MSG_NAME_MAX + 1);
}

static int get_id(struct dec *d, json_t *obj, const char *prefix, const char *key, bool required,
		  char out[BK_ID_MAX + 1])
{
	return get_word(d, obj, prefix, key, required, bk_id_valid, ID_TEXT, out, BK_ID_MAX + 1);
}

/* One of NAMES (index into *OUT, unchanged when absent). */
static int get_enum(struct dec *d, json_t *obj, const char *prefix, const char *key,
		    bool required, const char *const *names, int n, int *out)
{
	const char *s;
	char f[128], b[72], list[128];
	size_t len = 0;
	int i, r;

	r = get_str(d, obj, prefix, key, required, BK_MSG_MAX_STRING, &s);
	if (r < 0 || !s)
		return r;
	i = index_of(names, n, s);
	if (i >= 0) {
		*out = i;
		return 0;
	}
	list[0] = '\0';
	for (int j = 0; j < n; j++) {
		if (names[j] && len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s'%s'",
						len ? ", " : "", names[j]);
	}
	return fail(d, "field '%s' must be one of %s, not '%s'", field(f, prefix, key), list,
		    show(s, b));
}

/* An integer in [MIN, MAX]. */
static int get_int(struct dec *d, json_t *obj, const char *prefix, const char *key,
		   bool required, int64_t min, int64_t max, int64_t *out)
{
	json_t *v;
	char f[128];
	json_int_t x;
	int r;

	r = get(d, obj, prefix, key, required, JSON_INTEGER, &v);
	if (r < 0 || !v)
		return r;
	x = json_integer_value(v);
	if (x < 0)
		return fail(d, "field '%s' must not be negative", field(f, prefix, key));
	if (x < min || x > max)
		return fail(d, "field '%s' must be between %lld and %lld, not %lld",
			    field(f, prefix, key), (long long)min, (long long)max, (long long)x);
	*out = x;
	return 0;
}

static int get_time(struct dec *d, json_t *obj, const char *prefix, const char *key,
		    bool required, int64_t *out)
{
	const char *s;
	char f[128], b[72];
	int64_t t;
	int r;

	*out = 0;
	r = get_str(d, obj, prefix, key, required, BK_MSG_MAX_STRING, &s);
	if (r < 0 || !s)
		return r;
	/* a date, 'T', a time and an explicit zone: "2026-11-26T12:00:00Z" */
	if (bk_time_parse(s, &t) < 0 || strlen(s) < 17 || s[10] != 'T' ||
	    !strpbrk(s + 11, "Z+-"))
		return fail(d, "field '%s' is not an ISO 8601 UTC time: '%s'", field(f, prefix, key),
			    show(s, b));
	if (t <= 0 || t >= TIME_END)
		return fail(d, "field '%s' is out of range: '%s'", field(f, prefix, key),
			    show(s, b));
	*out = t;
	return 0;
}

/* An array of distinct strings passing VALID (absent: empty). */
static int get_list(struct dec *d, json_t *obj, const char *prefix, const char *key,
		    bool required, bool (*valid)(const char *), const char *what,
		    struct bk_strv *out)
{
	json_t *v, *item;
	char f[128], b[72];
	size_t i;
	int r;

	r = get(d, obj, prefix, key, required, JSON_ARRAY, &v);
	if (r < 0 || !v)
		return r;
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);

		if (!s)
			return fail(d, "field '%s' must hold strings only", field(f, prefix, key));
		if (!valid(s))
			return fail(d, "field '%s' holds %s: '%s'", field(f, prefix, key), what,
				    show(s, b));
		if (bk_strv_has(out, s))
			return fail(d, "field '%s' lists '%s' twice", field(f, prefix, key),
				    show(s, b));
		bk_strv_add(out, s);
	}
	return 0;
}

#define TAG_TEXT "an invalid tag (1 to 64 characters from [A-Za-z0-9_.:-])"

static int dec_head(struct dec *d, json_t *root, struct bk_msg_head *h)
{
	int r;

	r = get_id(d, root, NULL, "id", true, h->id);
	if (r == 0)
		r = get_time(d, root, NULL, "time", true, &h->time);
	return r;
}

#define HEAD_KEYS "schema", "kind", "id", "time"

static int dec_source(struct dec *d, json_t *obj, struct bk_msg_source *src)
{
	static const char *const file_keys[] = {"type", "filename", NULL};
	static const char *const rbd_keys[] = {"type", "pool", "image", NULL};
	static const char *const fc_keys[] = {"type", "pool", "image", "vm", NULL};
	int type = 0;
	const char *s;
	char b[72];
	int r;

	r = get_enum(d, obj, "source", "type", true, source_names, NNAMES(source_names), &type);
	if (r < 0)
		return r;
	src->type = (enum bk_msg_source_type)type;
	switch (src->type) {
	case BK_SOURCE_FILE:
		r = check_keys(d, obj, "source", file_keys);
		if (r == 0)
			r = get_str(d, obj, "source", "filename", true, BK_MSG_MAX_PATH, &s);
		if (r < 0)
			return r;
		if (!path_valid(s))
			return fail(d,
				    "field 'source.filename' is not an absolute path without "
				    "'.' or '..' components and control characters: '%s'",
				    show(s, b));
		src->filename = bk_strdup(s);
		return 0;
	case BK_SOURCE_RBD:
	case BK_SOURCE_FLYINGCIRCUS:
		r = check_keys(d, obj, "source", src->type == BK_SOURCE_RBD ? rbd_keys : fc_keys);
		if (r == 0)
			r = get_word(d, obj, "source", "pool", true, rbd_name_valid,
				     "a valid pool name", src->pool, sizeof(src->pool));
		if (r == 0)
			r = get_word(d, obj, "source", "image", true, rbd_name_valid,
				     "a valid image name", src->image, sizeof(src->image));
		if (r == 0 && src->type == BK_SOURCE_FLYINGCIRCUS)
			r = get_name(d, obj, "source", "vm", true, src->vm);
		return r;
	default:
		return fail(d, "field 'source.type' is invalid");
	}
}

static int dec_schedule(struct dec *d, json_t *obj, struct bk_schedule *out)
{
	static const char *const keys[] = {"interval", "keep", NULL};
	struct bk_buf spec;
	struct bk_err e = {0};
	const char *name;
	json_t *entry;
	char b[72];
	int r = 0;

	if (json_object_size(obj) == 0)
		return fail(d, "field 'schedule' must not be empty");
	bk_buf_init(&spec);
	json_object_foreach(obj, name, entry) {
		char prefix[128], interval[32];
		const char *iv;
		int64_t secs, keep;

		if (!bk_tag_valid(name) || strchr(name, ':')) {
			r = fail(d, "field 'schedule' has an invalid tag name: '%s'", show(name, b));
			goto out;
		}
		snprintf(prefix, sizeof(prefix), "schedule.%s", name);
		if (!json_is_object(entry)) {
			r = fail(d, "field '%s' must be an object", prefix);
			goto out;
		}
		r = check_keys(d, entry, prefix, keys);
		if (r == 0)
			r = get_str(d, entry, prefix, "interval", true, BK_MSG_MAX_STRING, &iv);
		if (r < 0)
			goto out;
		if (bk_duration_parse(iv, &secs) < 0) {
			r = fail(d, "field '%s.interval' is not a duration (N[wdhms]): '%s'", prefix,
				 show(iv, b));
			goto out;
		}
		r = get_int(d, entry, prefix, "keep", true, 1, BK_MSG_MAX_KEEP, &keep);
		if (r < 0)
			goto out;
		bk_duration_format_spec(secs, interval, sizeof(interval));
		bk_buf_addf(&spec, "%s%s=%s:%lld", spec.len ? "," : "", name, interval,
			    (long long)keep);
	}
	r = bk_schedule_parse_spec(spec.p, out, &e);
	if (r < 0)
		r = fail(d, "field 'schedule' is invalid: %s", e.msg);
out:
	bk_buf_release(&spec);
	return r;
}

static int dec_job(struct dec *d, json_t *root, struct bk_msg_job *m)
{
	static const char *const keys[] = {HEAD_KEYS, "job_id", "job", "host", "action", "tags",
					   "deadline", "attempt", "source", "schedule", NULL};
	json_t *v;
	int64_t attempt = 0;
	int action = 0;
	int r;

	r = check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = get_id(d, root, NULL, "job_id", true, m->job_id);
	if (r == 0)
		r = get_name(d, root, NULL, "job", true, m->job);
	if (r == 0)
		r = get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = get_enum(d, root, NULL, "action", true, action_names, NNAMES(action_names),
			     &action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_action)action;
	r = get_list(d, root, NULL, "tags", false, tag_valid, TAG_TEXT, &m->tags);
	if (r == 0)
		r = get_time(d, root, NULL, "deadline", true, &m->deadline);
	if (r == 0)
		r = get_int(d, root, NULL, "attempt", true, 1, BK_MSG_MAX_ATTEMPT, &attempt);
	if (r < 0)
		return r;
	m->attempt = (unsigned)attempt;
	if (m->deadline < m->head.time)
		return fail(d, "field 'deadline' is before field 'time'");
	if (m->action == BK_ACTION_BACKUP && m->tags.n == 0)
		return fail(d, "field 'tags' must not be empty for a backup");
	r = get(d, root, NULL, "source", m->action == BK_ACTION_BACKUP, JSON_OBJECT, &v);
	if (r == 0 && v)
		r = dec_source(d, v, &m->source);
	if (r == 0)
		r = get(d, root, NULL, "schedule", false, JSON_OBJECT, &v);
	if (r == 0 && v)
		r = dec_schedule(d, v, &m->schedule);
	return r;
}

static int dec_error(struct dec *d, json_t *obj, struct bk_msg_result *m)
{
	static const char *const keys[] = {"code", "message", "transient", NULL};
	const char *msg;
	json_t *v;
	char b[72];
	int r;

	r = check_keys(d, obj, "error", keys);
	if (r == 0)
		r = get_word(d, obj, "error", "code", true, errcode_valid,
			     "a valid error code (1 to 64 characters from [A-Z0-9_])", m->error_code,
			     sizeof(m->error_code));
	if (r == 0)
		r = get_str(d, obj, "error", "message", true, BK_MSG_MAX_TEXT, &msg);
	if (r < 0)
		return r;
	if (!text_valid(msg))
		return fail(d, "field 'error.message' holds control characters: '%s'",
			    show(msg, b));
	m->error_message = bk_strdup(msg);
	r = get(d, obj, "error", "transient", false, JSON_TRUE, &v);
	if (r == 0 && v)
		m->error_transient = json_is_true(v);
	return r;
}

static int dec_stats(struct dec *d, json_t *obj, struct bk_msg_stats *s)
{
	static const char *const keys[] = {"bytes_written", "size", "duration", NULL};
	int64_t bytes = 0, size = 0;
	json_t *v;
	double dur;
	int r;

	r = check_keys(d, obj, "stats", keys);
	if (r == 0)
		r = get_int(d, obj, "stats", "bytes_written", true, 0, INT64_MAX, &bytes);
	if (r == 0)
		r = get_int(d, obj, "stats", "size", true, 0, INT64_MAX, &size);
	if (r == 0)
		r = get(d, obj, "stats", "duration", true, JSON_REAL, &v);
	if (r < 0)
		return r;
	dur = json_number_value(v);
	if (!(dur >= 0))
		return fail(d, "field 'stats.duration' must not be negative");
	if (dur > BK_MSG_MAX_DURATION)
		return fail(d, "field 'stats.duration' must be at most %.0f", BK_MSG_MAX_DURATION);
	s->bytes_written = (uint64_t)bytes;
	s->size = (uint64_t)size;
	s->duration = dur;
	return 0;
}

static int dec_result(struct dec *d, json_t *root, struct bk_msg_result *m)
{
	static const char *const keys[] = {HEAD_KEYS, "job_id",  "job",     "host",
					   "action",  "outcome", "error",   "revision",
					   "tags",    "started", "finished", "stats",
					   NULL};
	int outcome = 0, action = 0;
	bool rejected;
	json_t *v;
	int r;

	r = check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = get_enum(d, root, NULL, "outcome", true, outcome_names, NNAMES(outcome_names),
			     &outcome);
	if (r < 0)
		return r;
	m->outcome = (enum bk_msg_outcome)outcome;
	rejected = m->outcome == BK_OUTCOME_REJECTED;
	r = get_id(d, root, NULL, "job_id", !rejected, m->job_id);
	if (r == 0)
		r = get_name(d, root, NULL, "job", !rejected, m->job);
	if (r == 0)
		r = get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = get_enum(d, root, NULL, "action", !rejected, action_names,
			     NNAMES(action_names), &action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_action)action;
	r = get(d, root, NULL, "error", false, JSON_OBJECT, &v);
	if (r < 0)
		return r;
	if (m->outcome == BK_OUTCOME_OK && v)
		return fail(d, "field 'error' is not allowed in an ok result");
	if (m->outcome != BK_OUTCOME_OK && !v)
		return fail(d, "missing field 'error' (required in a %s result)",
			    outcome_names[m->outcome]);
	if (v) {
		r = dec_error(d, v, m);
		if (r < 0)
			return r;
	}
	r = get_id(d, root, NULL, "revision", false, m->revision);
	if (r == 0)
		r = get_list(d, root, NULL, "tags", false, tag_valid, TAG_TEXT, &m->tags);
	if (r == 0)
		r = get_time(d, root, NULL, "started", !rejected, &m->started);
	if (r == 0)
		r = get_time(d, root, NULL, "finished", !rejected, &m->finished);
	if (r < 0)
		return r;
	if (m->started && m->finished && m->finished < m->started)
		return fail(d, "field 'finished' is before field 'started'");
	r = get(d, root, NULL, "stats", false, JSON_OBJECT, &v);
	if (r == 0 && v) {
		m->has_stats = true;
		r = dec_stats(d, v, &m->stats);
	}
	return r;
}

static int dec_heartbeat(struct dec *d, json_t *root, struct bk_msg_heartbeat *m)
{
	static const char *const keys[] = {HEAD_KEYS, "host",       "version", "slots",
					   "busy",    "free_bytes", "running", NULL};
	int64_t slots = 0, busy = 0, free_bytes = 0;
	int r;

	r = check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = get_name(d, root, NULL, "host", true, m->host);
	if (r == 0)
		r = get_word(d, root, NULL, "version", true, version_valid,
			     "a valid version (1 to 64 characters from [A-Za-z0-9._+~-])",
			     m->version, sizeof(m->version));
	if (r == 0)
		r = get_int(d, root, NULL, "slots", true, 0, BK_MSG_MAX_SLOTS, &slots);
	if (r == 0)
		r = get_int(d, root, NULL, "busy", true, 0, BK_MSG_MAX_SLOTS, &busy);
	if (r == 0)
		r = get_int(d, root, NULL, "free_bytes", true, 0, INT64_MAX, &free_bytes);
	if (r == 0)
		r = get_list(d, root, NULL, "running", true, bk_msg_name_valid,
			     "an invalid job name", &m->running);
	if (r < 0)
		return r;
	m->slots = (unsigned)slots;
	m->busy = (unsigned)busy;
	m->free_bytes = (uint64_t)free_bytes;
	if (m->busy > m->slots)
		return fail(d, "field 'busy' is larger than field 'slots'");
	if (m->running.n > m->slots)
		return fail(d, "field 'running' lists more jobs than field 'slots'");
	return 0;
}

static int dec_request(struct dec *d, json_t *root, struct bk_msg_request *m)
{
	static const char *const keys[] = {HEAD_KEYS, "action", "job", "tags", "user", NULL};
	int action = 0;
	int r;

	r = check_keys(d, root, NULL, keys);
	if (r == 0)
		r = dec_head(d, root, &m->head);
	if (r == 0)
		r = get_enum(d, root, NULL, "action", true, request_names, NNAMES(request_names),
			     &action);
	if (r < 0)
		return r;
	m->action = (enum bk_msg_request_action)action;
	r = get_name(d, root, NULL, "job", m->action != BK_REQUEST_STATUS, m->job);
	if (r == 0 && m->action != BK_REQUEST_RUN && json_object_get(root, "tags"))
		r = fail(d, "field 'tags' is only allowed in run requests");
	if (r == 0)
		r = get_list(d, root, NULL, "tags", false, tag_valid, TAG_TEXT, &m->tags);
	if (r == 0)
		r = get_word(d, root, NULL, "user", false, user_valid,
			     "a valid user name (1 to 64 characters from [A-Za-z0-9._@-])", m->user,
			     sizeof(m->user));
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

static int dec_schema(struct dec *d, json_t *root, unsigned *minor)
{
	const char *s, *p;
	unsigned major;
	char b[72];
	int r;

	r = get_str(d, root, NULL, "schema", true, BK_MSG_MAX_STRING, &s);
	if (r < 0)
		return r;
	p = s + strlen(BK_MSG_SCHEMA_NAME "/");
	if (strncmp(s, BK_MSG_SCHEMA_NAME "/", strlen(BK_MSG_SCHEMA_NAME "/")) ||
	    !parse_number(&p, &major) || *p++ != '.' || !parse_number(&p, minor) || *p)
		return fail(d, "field 'schema' is not '" BK_MSG_SCHEMA_NAME "/MAJOR.MINOR': '%s'",
			    show(s, b));
	if (major != BK_MSG_MAJOR)
		return bk_err_set(d->err, BK_EVERSION,
				  "unsupported message version '%s' (this is " BK_MSG_SCHEMA_NAME
				  "/%d.%d)",
				  show(s, b), BK_MSG_MAJOR, BK_MSG_MINOR);
	return 0;
}

/* Size, depth and syntax; the root object or NULL. */
static json_t *load(struct dec *d, const void *body, size_t len)
{
	json_error_t jerr;
	json_t *root;

	if (len > BK_MSG_MAX_BODY) {
		fail(d, "body of %zu bytes is larger than %d bytes", len, BK_MSG_MAX_BODY);
		return NULL;
	}
	if (!depth_ok(body, len)) {
		fail(d, "nested deeper than %d levels", BK_MSG_MAX_DEPTH);
		return NULL;
	}
	/* without JSON_ALLOW_NUL, jansson refuses "\u0000" in strings and keys */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char b[JSON_ERROR_TEXT_LENGTH + 4];

		fail(d, "%s at line %d, column %d", show_n(jerr.text, b, JSON_ERROR_TEXT_LENGTH),
		     jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		fail(d, "not a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

int bk_msg_decode(const void *body, size_t len, struct bk_msg *out, struct bk_err *err)
{
	struct dec d = {err, NULL, true};
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
		r = walk_limits(&d, root, 0, "");
	if (r == 0)
		r = get_enum(&d, root, NULL, "kind", true, kind_names, NNAMES(kind_names), &kind);
	if (r < 0)
		goto out;
	d.strict = minor <= BK_MSG_MINOR;
	d.kind = kind_names[kind];
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
	default:
		r = fail(&d, "unknown kind");
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
	struct dec d = {NULL, NULL, false};
	json_t *root;
	const char *s;
	int i;

	memset(out, 0, sizeof(*out));
	root = load(&d, body, len);
	if (!root)
		return;
	s = json_string_value(json_object_get(root, "kind"));
	i = s ? index_of(kind_names, NNAMES(kind_names), s) : -1;
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
	i = s ? index_of(action_names, NNAMES(action_names), s) : -1;
	if (i > 0)
		out->action = (enum bk_msg_action)i;
	json_decref(root);
}

/* ---- encoding ---- */

struct enc {
	const char *bad; /* first field that could not be represented */
	int precision;   /* digits for reals (there is at most one per message), 0: 17 */
};

/* Fewest significant digits that read back as V: 569.3, not 569.29999999999995. */
static int shortest_precision(double v)
{
	char buf[64];

	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

/* Set KEY of OBJ to V (which may be NULL: a value jansson refused). */
static void put(struct enc *e, json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v) < 0) {
		if (!e->bad)
			e->bad = key;
	}
}

static void put_str(struct enc *e, json_t *obj, const char *key, const char *s)
{
	put(e, obj, key, s ? json_string(s) : NULL);
}

/* Only when non-empty. */
static void put_opt(struct enc *e, json_t *obj, const char *key, const char *s)
{
	if (s && s[0])
		put_str(e, obj, key, s);
}

static void put_uint(struct enc *e, json_t *obj, const char *key, uint64_t v)
{
	put(e, obj, key, v <= INT64_MAX ? json_integer((json_int_t)v) : NULL);
}

static void put_time(struct enc *e, json_t *obj, const char *key, int64_t t)
{
	char buf[64];

	bk_time_format(t, buf, sizeof(buf), BK_TIME_ISO);
	put_str(e, obj, key, buf);
}

static void put_list(struct enc *e, json_t *obj, const char *key, const struct bk_strv *v,
		     bool always)
{
	json_t *a;

	if (!v->n && !always)
		return;
	a = json_array();
	for (size_t i = 0; a && i < v->n; i++) {
		if (json_array_append_new(a, json_string(v->v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	put(e, obj, key, a);
}

static json_t *enc_head(struct enc *e, enum bk_msg_kind kind, const struct bk_msg_head *h)
{
	char schema[32];
	json_t *root = json_object();

	if (!root)
		return NULL;
	snprintf(schema, sizeof(schema), BK_MSG_SCHEMA_NAME "/%d.%d", BK_MSG_MAJOR, BK_MSG_MINOR);
	put_str(e, root, "schema", schema);
	put_str(e, root, "kind", bk_msg_kind_name(kind));
	put_str(e, root, "id", h->id);
	put_time(e, root, "time", h->time);
	return root;
}

static json_t *enc_source(struct enc *e, const struct bk_msg_source *src)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put_str(e, o, "type", bk_msg_source_type_name(src->type));
	if (src->type == BK_SOURCE_FILE) {
		put_str(e, o, "filename", src->filename);
	} else {
		put_str(e, o, "pool", src->pool);
		put_str(e, o, "image", src->image);
		if (src->type == BK_SOURCE_FLYINGCIRCUS)
			put_str(e, o, "vm", src->vm);
	}
	return o;
}

static json_t *enc_schedule(struct enc *e, const struct bk_schedule *s)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < s->n; i++) {
		json_t *t = json_object();
		char interval[32];

		if (t) {
			bk_duration_format_spec(s->tags[i].interval, interval, sizeof(interval));
			put_str(e, t, "interval", interval);
			put_uint(e, t, "keep", s->tags[i].keep);
		}
		put(e, o, s->tags[i].name, t);
	}
	return o;
}

static json_t *enc_job(struct enc *e, const struct bk_msg_job *m)
{
	json_t *root = enc_head(e, BK_MSG_JOB, &m->head);

	if (!root)
		return NULL;
	put_str(e, root, "job_id", m->job_id);
	put_str(e, root, "job", m->job);
	put_str(e, root, "host", m->host);
	put_str(e, root, "action", bk_msg_action_name(m->action));
	put_list(e, root, "tags", &m->tags, false);
	put_time(e, root, "deadline", m->deadline);
	put_uint(e, root, "attempt", m->attempt);
	if (m->source.type != BK_SOURCE_NONE)
		put(e, root, "source", enc_source(e, &m->source));
	if (m->schedule.n)
		put(e, root, "schedule", enc_schedule(e, &m->schedule));
	return root;
}

static json_t *enc_result(struct enc *e, const struct bk_msg_result *m)
{
	json_t *root = enc_head(e, BK_MSG_RESULT, &m->head);

	if (!root)
		return NULL;
	put_opt(e, root, "job_id", m->job_id);
	put_opt(e, root, "job", m->job);
	put_str(e, root, "host", m->host);
	if (m->action != BK_ACTION_NONE)
		put_str(e, root, "action", bk_msg_action_name(m->action));
	put_str(e, root, "outcome", bk_msg_outcome_name(m->outcome));
	if (m->error_code[0] || m->error_message) {
		json_t *err = json_object();

		if (err) {
			put_str(e, err, "code", m->error_code);
			put_str(e, err, "message", m->error_message);
			if (m->error_transient)
				put(e, err, "transient", json_true());
		}
		put(e, root, "error", err);
	}
	put_opt(e, root, "revision", m->revision);
	put_list(e, root, "tags", &m->tags, false);
	if (m->started)
		put_time(e, root, "started", m->started);
	if (m->finished)
		put_time(e, root, "finished", m->finished);
	if (m->has_stats) {
		json_t *st = json_object();

		if (st) {
			put_uint(e, st, "bytes_written", m->stats.bytes_written);
			put_uint(e, st, "size", m->stats.size);
			/* json_real() refuses NaN and infinities */
			put(e, st, "duration", json_real(m->stats.duration));
			e->precision = shortest_precision(m->stats.duration);
		}
		put(e, root, "stats", st);
	}
	return root;
}

static json_t *enc_heartbeat(struct enc *e, const struct bk_msg_heartbeat *m)
{
	json_t *root = enc_head(e, BK_MSG_HEARTBEAT, &m->head);

	if (!root)
		return NULL;
	put_str(e, root, "host", m->host);
	put_str(e, root, "version", m->version);
	put_uint(e, root, "slots", m->slots);
	put_uint(e, root, "busy", m->busy);
	put_uint(e, root, "free_bytes", m->free_bytes);
	put_list(e, root, "running", &m->running, true);
	return root;
}

static json_t *enc_request(struct enc *e, const struct bk_msg_request *m)
{
	json_t *root = enc_head(e, BK_MSG_REQUEST, &m->head);

	if (!root)
		return NULL;
	put_str(e, root, "action", bk_msg_request_action_name(m->action));
	put_opt(e, root, "job", m->job);
	put_list(e, root, "tags", &m->tags, false);
	put_opt(e, root, "user", m->user);
	return root;
}

/* Dump ROOT (consumed), check the text with the decoder, append it to OUT. */
static int finish(struct enc *e, const char *kind, json_t *root, struct bk_buf *out,
		  struct bk_err *err)
{
	struct bk_msg check;
	struct bk_err e2 = {0};
	char *text = NULL;
	int r;

	if (!root)
		return bk_err_set(err, BK_EPROTO, "cannot encode %s message: out of memory", kind);
	if (e->bad) {
		json_decref(root);
		return bk_err_set(err, BK_EPROTO,
				  "cannot encode %s message: field '%s' has no valid value", kind,
				  e->bad);
	}
	text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(e->precision));
	json_decref(root);
	if (!text)
		return bk_err_set(err, BK_EPROTO, "cannot encode %s message: out of memory", kind);
	r = bk_msg_decode(text, strlen(text), &check, &e2);
	bk_msg_release(&check);
	if (r < 0) {
		bk_err_set(err, r, "cannot encode %s message: %s", kind, e2.msg);
		goto out;
	}
	bk_buf_adds(out, text);
out:
	free(text);
	return r;
}

int bk_msg_encode_job(const struct bk_msg_job *m, struct bk_buf *out, struct bk_err *err)
{
	struct enc e = {NULL, 0};

	return finish(&e, "job", enc_job(&e, m), out, err);
}

int bk_msg_encode_result(const struct bk_msg_result *m, struct bk_buf *out, struct bk_err *err)
{
	struct enc e = {NULL, 0};

	return finish(&e, "result", enc_result(&e, m), out, err);
}

int bk_msg_encode_heartbeat(const struct bk_msg_heartbeat *m, struct bk_buf *out,
			    struct bk_err *err)
{
	struct enc e = {NULL, 0};

	return finish(&e, "heartbeat", enc_heartbeat(&e, m), out, err);
}

int bk_msg_encode_request(const struct bk_msg_request *m, struct bk_buf *out, struct bk_err *err)
{
	struct enc e = {NULL, 0};

	return finish(&e, "request", enc_request(&e, m), out, err);
}

int bk_msg_encode(const struct bk_msg *m, struct bk_buf *out, struct bk_err *err)
{
	switch (m->kind) {
	case BK_MSG_JOB:
		return bk_msg_encode_job(&m->u.job, out, err);
	case BK_MSG_RESULT:
		return bk_msg_encode_result(&m->u.result, out, err);
	case BK_MSG_HEARTBEAT:
		return bk_msg_encode_heartbeat(&m->u.heartbeat, out, err);
	case BK_MSG_REQUEST:
		return bk_msg_encode_request(&m->u.request, out, err);
	default:
		return bk_err_set(err, BK_EPROTO, "cannot encode a message of no kind");
	}
}

/* ---- structs ---- */

void bk_msg_head_new(struct bk_msg_head *head)
{
	memset(head, 0, sizeof(*head));
	bk_id_new(head->id);
	head->time = bk_now();
	head->minor = BK_MSG_MINOR;
}

void bk_msg_job_init(struct bk_msg_job *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_job_release(struct bk_msg_job *m)
{
	bk_strv_release(&m->tags);
	free(m->source.filename);
	bk_schedule_release(&m->schedule);
	bk_msg_job_init(m);
}

void bk_msg_result_init(struct bk_msg_result *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_result_release(struct bk_msg_result *m)
{
	free(m->error_message);
	bk_strv_release(&m->tags);
	bk_msg_result_init(m);
}

void bk_msg_heartbeat_init(struct bk_msg_heartbeat *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_heartbeat_release(struct bk_msg_heartbeat *m)
{
	bk_strv_release(&m->running);
	bk_msg_heartbeat_init(m);
}

void bk_msg_request_init(struct bk_msg_request *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_request_release(struct bk_msg_request *m)
{
	bk_strv_release(&m->tags);
	bk_msg_request_init(m);
}

void bk_msg_source_set_filename(struct bk_msg_source *src, const char *s)
{
	free(src->filename);
	src->filename = s ? bk_strdup(s) : NULL;
}

void bk_msg_result_set_error(struct bk_msg_result *m, const char *code, const char *message,
			     bool transient)
{
	size_t n;

	snprintf(m->error_code, sizeof(m->error_code), "%s", code ? code : "");
	free(m->error_message);
	m->error_message = NULL;
	m->error_transient = transient;
	if (!message)
		return;
	/* cut at a character boundary, control characters become '?' */
	n = strlen(message);
	if (n > BK_MSG_MAX_TEXT) {
		n = BK_MSG_MAX_TEXT;
		while (n > 0 && ((unsigned char)message[n] & 0xc0) == 0x80)
			n--;
	}
	m->error_message = bk_strndup(message, n);
	for (char *p = m->error_message; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			*p = '?';
	}
}

void bk_msg_init(struct bk_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void bk_msg_release(struct bk_msg *m)
{
	switch (m->kind) {
	case BK_MSG_JOB:
		bk_msg_job_release(&m->u.job);
		break;
	case BK_MSG_RESULT:
		bk_msg_result_release(&m->u.result);
		break;
	case BK_MSG_HEARTBEAT:
		bk_msg_heartbeat_release(&m->u.heartbeat);
		break;
	case BK_MSG_REQUEST:
		bk_msg_request_release(&m->u.request);
		break;
	default:
		break;
	}
	bk_msg_init(m);
}

/* ---- comparison and routing ---- */

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static bool head_eq(const struct bk_msg_head *a, const struct bk_msg_head *b)
{
	return !strcmp(a->id, b->id) && a->time == b->time;
}

static bool schedule_eq(const struct bk_schedule *a, const struct bk_schedule *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->tags[i].name, b->tags[i].name) ||
		    a->tags[i].interval != b->tags[i].interval || a->tags[i].keep != b->tags[i].keep)
			return false;
	}
	return true;
}

static bool source_eq(const struct bk_msg_source *a, const struct bk_msg_source *b)
{
	return a->type == b->type && str_eq(a->filename, b->filename) &&
	       !strcmp(a->pool, b->pool) && !strcmp(a->image, b->image) && !strcmp(a->vm, b->vm);
}

static bool job_eq(const struct bk_msg_job *a, const struct bk_msg_job *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->job_id, b->job_id) &&
	       !strcmp(a->job, b->job) && !strcmp(a->host, b->host) && a->action == b->action &&
	       bk_strv_equal(&a->tags, &b->tags) && a->deadline == b->deadline &&
	       a->attempt == b->attempt && source_eq(&a->source, &b->source) &&
	       schedule_eq(&a->schedule, &b->schedule);
}

static bool result_eq(const struct bk_msg_result *a, const struct bk_msg_result *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->job_id, b->job_id) &&
	       !strcmp(a->job, b->job) && !strcmp(a->host, b->host) && a->action == b->action &&
	       a->outcome == b->outcome && !strcmp(a->error_code, b->error_code) &&
	       str_eq(a->error_message, b->error_message) &&
	       a->error_transient == b->error_transient && !strcmp(a->revision, b->revision) &&
	       bk_strv_equal(&a->tags, &b->tags) && a->started == b->started &&
	       a->finished == b->finished && a->has_stats == b->has_stats &&
	       (!a->has_stats || (a->stats.bytes_written == b->stats.bytes_written &&
				  a->stats.size == b->stats.size &&
				  a->stats.duration == b->stats.duration));
}

static bool heartbeat_eq(const struct bk_msg_heartbeat *a, const struct bk_msg_heartbeat *b)
{
	return head_eq(&a->head, &b->head) && !strcmp(a->host, b->host) &&
	       !strcmp(a->version, b->version) && a->slots == b->slots && a->busy == b->busy &&
	       a->free_bytes == b->free_bytes && bk_strv_equal(&a->running, &b->running);
}

static bool request_eq(const struct bk_msg_request *a, const struct bk_msg_request *b)
{
	return head_eq(&a->head, &b->head) && a->action == b->action && !strcmp(a->job, b->job) &&
	       bk_strv_equal(&a->tags, &b->tags) && !strcmp(a->user, b->user);
}

bool bk_msg_equal(const struct bk_msg *a, const struct bk_msg *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case BK_MSG_JOB:
		return job_eq(&a->u.job, &b->u.job);
	case BK_MSG_RESULT:
		return result_eq(&a->u.result, &b->u.result);
	case BK_MSG_HEARTBEAT:
		return heartbeat_eq(&a->u.heartbeat, &b->u.heartbeat);
	case BK_MSG_REQUEST:
		return request_eq(&a->u.request, &b->u.request);
	default:
		return true;
	}
}

/* Append WORD to OUT at *POS with '.' as ':' ("-" when empty or NULL). */
static void key_word(char *out, size_t *pos, const char *word)
{
	if (*pos)
		out[(*pos)++] = '.';
	if (!word || !word[0])
		word = "-";
	for (size_t i = 0; word[i] && i < BK_MSG_NAME_MAX; i++)
		out[(*pos)++] = word[i] == '.' ? ':' : word[i];
	out[*pos] = '\0';
}

void bk_msg_routing_key_result(const struct bk_msg_result *r, char *out)
{
	size_t pos = 0;

	out[0] = '\0';
	key_word(out, &pos, bk_msg_action_name(r->action));
	key_word(out, &pos, bk_msg_outcome_name(r->outcome));
	key_word(out, &pos, r->host);
	key_word(out, &pos, r->job);
}

void bk_msg_routing_key(const struct bk_msg *m, char *out)
{
	out[0] = '\0';
	switch (m->kind) {
	case BK_MSG_JOB:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", m->u.job.host);
		break;
	case BK_MSG_RESULT:
		bk_msg_routing_key_result(&m->u.result, out);
		break;
	case BK_MSG_HEARTBEAT:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", m->u.heartbeat.host);
		break;
	case BK_MSG_REQUEST:
		snprintf(out, BK_MSG_ROUTING_KEY_MAX + 1, "%s", BK_KEY_REQUEST);
		break;
	default:
		break;
	}
}
