/*
 * jdoc.c: strict JSON reading and writing for every codec of proto/, the
 * messages and the documents (see jdoc.h): loading under limits, the walk
 * of the generic limits, typed field getters that word the first problem
 * as the error, and the setters and dump of the encoders.
 */
#include "jdoc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define TIME_END 253402300800000000LL /* 10000-01-01T00:00:00Z */

int jd_fail(struct jd *d, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return bk_err_set(d->err, BK_EPROTO, "invalid %s: %s", d->what, what);
}

const char *jd_show_n(const char *s, char *buf, size_t max)
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

const char *jd_show(const char *s, char buf[72])
{
	return jd_show_n(s, buf, 64);
}

bool jd_text_valid(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			return false;
	}
	return true;
}

const char *jd_field(char buf[128], const char *prefix, const char *key)
{
	char b[72];

	if (prefix && prefix[0])
		snprintf(buf, 128, "%s.%s", prefix, jd_show(key, b));
	else
		snprintf(buf, 128, "%s", jd_show(key, b));
	return buf;
}

/*
 * Nesting of the raw text, counting brackets outside strings, before jansson
 * (whose parser recurses).  Exact for valid JSON; for invalid JSON an upper
 * bound of what jansson reaches before it reports the error, as both read
 * strings the same way up to that point.
 */
static bool depth_ok(const unsigned char *p, size_t len, int max)
{
	bool in_string = false;
	int depth = 0;

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
			if (++depth > max)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

json_t *jd_load(struct jd *d, const void *text, size_t len, size_t max_bytes, int max_depth,
		json_type root_type)
{
	json_error_t jerr;
	json_t *root;
	char b[JSON_ERROR_TEXT_LENGTH + 4];

	if (len > max_bytes) {
		jd_fail(d, "%zu bytes is larger than %zu bytes", len, max_bytes);
		return NULL;
	}
	if (!depth_ok(text, len, max_depth)) {
		jd_fail(d, "nested deeper than %d levels", max_depth);
		return NULL;
	}
	/* without JSON_ALLOW_NUL, jansson refuses "\u0000" in strings and keys */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		jd_fail(d, "%s at line %d, column %d",
			jd_show_n(jerr.text, b, JSON_ERROR_TEXT_LENGTH), jerr.line, jerr.column);
		return NULL;
	}
	if (json_typeof(root) != root_type) {
		jd_fail(d, "not a JSON %s", root_type == JSON_ARRAY ? "array" : "object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* DEPTH counts the objects and arrays V is in, WHERE is the key of the nearest member. */
static int walk(struct jd *d, json_t *v, const struct jd_limits *lim, int depth, const char *where)
{
	const char *key;
	json_t *item;
	char b[72];
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth + 1 > lim->depth)
			return jd_fail(d, "nested deeper than %d levels", lim->depth);
		if (json_object_size(v) > lim->items)
			return jd_fail(d, "an object has more than %zu members", lim->items);
		json_object_foreach(v, key, item)
		{
			if (strlen(key) > lim->key)
				return jd_fail(d, "a key is longer than %zu bytes", lim->key);
			if (walk(d, item, lim, depth + 1, key) < 0)
				return BK_EPROTO;
		}
		break;
	case JSON_ARRAY:
		if (depth + 1 > lim->depth)
			return jd_fail(d, "nested deeper than %d levels", lim->depth);
		if (json_array_size(v) > lim->items)
			return jd_fail(d, "field '%s' has more than %zu items", jd_show(where, b),
				       lim->items);
		json_array_foreach(v, i, item)
		{
			if (walk(d, item, lim, depth + 1, where) < 0)
				return BK_EPROTO;
		}
		break;
	case JSON_STRING:
		if (json_string_length(v) > lim->string)
			return jd_fail(d, "field '%s' holds a string longer than %zu bytes",
				       jd_show(where, b), lim->string);
		break;
	default:
		break;
	}
	return 0;
}

int jd_walk_limits(struct jd *d, json_t *root, const struct jd_limits *lim)
{
	return walk(d, root, lim, 0, "");
}

int jd_decode(struct jd *d, const void *text, size_t len, size_t max_bytes, int max_depth,
	      json_type root_type, int (*dec)(struct jd *d, json_t *root, void *arg),
	      void (*clear)(void *arg), void *arg)
{
	json_t *root;
	int r = BK_EPROTO;

	if (clear)
		clear(arg);
	root = jd_load(d, text, len, max_bytes, max_depth, root_type);
	if (root)
		r = dec(d, root, arg);
	json_decref(root);
	if (r < 0 && clear)
		clear(arg);
	return r;
}

int jd_check_keys(struct jd *d, json_t *obj, const char *prefix, const char *const *allowed)
{
	const char *key;
	json_t *v;
	char f[128];

	if (!d->strict)
		return 0;
	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], key))
				break;
		if (!allowed[i])
			return jd_fail(d, "unknown field '%s'", jd_field(f, prefix, key));
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

int jd_get(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	   bool nullable, json_type t, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	char f[128];
	bool ok;

	*out = NULL;
	if (!v) {
		if (required)
			return jd_fail(d, "missing field '%s'", jd_field(f, prefix, key));
		return 0;
	}
	if (nullable && json_is_null(v))
		return 0;
	if (t == JSON_REAL)
		ok = json_is_number(v);
	else if (t == JSON_TRUE)
		ok = json_is_boolean(v);
	else
		ok = json_typeof(v) == t;
	if (!ok)
		return jd_fail(d, "field '%s' must be %s%s", jd_field(f, prefix, key), type_text(t),
			       nullable ? " or null" : "");
	*out = v;
	return 0;
}

int jd_get_str(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       bool nullable, size_t min, size_t max, const char **out)
{
	json_t *v;
	char f[128];
	int r;

	*out = NULL;
	r = jd_get(d, obj, prefix, key, required, nullable, JSON_STRING, &v);
	if (r < 0 || !v)
		return r;
	if (json_string_length(v) < min)
		return jd_fail(d, "field '%s' must not be empty", jd_field(f, prefix, key));
	if (json_string_length(v) > max)
		return jd_fail(d, "field '%s' is longer than %zu bytes", jd_field(f, prefix, key),
			       max);
	*out = json_string_value(v);
	return 0;
}

int jd_get_word(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool (*valid)(const char *), const char *what, char *out, size_t size)
{
	const char *s;
	char f[128], b[72];
	int r;

	out[0] = '\0';
	r = jd_get_str(d, obj, prefix, key, required, false, 1,
		       d->word_max ? d->word_max : size - 1, &s);
	if (r < 0 || !s)
		return r;
	if (!valid(s) || strlen(s) >= size)
		return jd_fail(d, "field '%s' is not %s: '%s'", jd_field(f, prefix, key), what,
			       jd_show(s, b));
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int jd_get_text(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, const char **out)
{
	char f[128], b[72];
	int r;

	r = jd_get_str(d, obj, prefix, key, required, false, 1, max, out);
	if (r < 0 || !*out)
		return r;
	if (!jd_text_valid(*out))
		return jd_fail(d, "field '%s' holds control characters: '%s'",
			       jd_field(f, prefix, key), jd_show(*out, b));
	return 0;
}

bool jd_code_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > JD_CODE_MAX || !(s[0] >= 'A' && s[0] <= 'Z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int jd_get_code(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		char out[JD_CODE_MAX + 1])
{
	return jd_get_word(d, obj, prefix, key, required, jd_code_valid,
			   "a valid error code (1 to 64 characters from [A-Z0-9_])", out,
			   JD_CODE_MAX + 1);
}

int jd_get_error(struct jd *d, json_t *obj, const char *prefix, const char *const *keys,
		 size_t max_text, char code[JD_CODE_MAX + 1], char **message)
{
	const char *msg;
	int r;

	r = jd_check_keys(d, obj, prefix, keys);
	if (r == 0)
		r = jd_get_code(d, obj, prefix, "code", true, code);
	if (r == 0)
		r = jd_get_text(d, obj, prefix, "message", true, max_text, &msg);
	if (r == 0)
		*message = bk_strdup(msg);
	return r;
}

#define NAME_TEXT                                                                                  \
	"a valid name (1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-')"
#define ID_TEXT "a valid id (1 to 64 characters from [A-Za-z0-9_-], not starting with '-')"

int jd_get_name(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		char out[BK_NAME_MAX + 1])
{
	return jd_get_word(d, obj, prefix, key, required, bk_name_valid, NAME_TEXT, out,
			   BK_NAME_MAX + 1);
}

int jd_get_id(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	      char out[BK_ID_MAX + 1])
{
	return jd_get_word(d, obj, prefix, key, required, bk_id_valid, ID_TEXT, out, BK_ID_MAX + 1);
}

int jd_get_int(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       int64_t min, int64_t max, int64_t *out)
{
	json_t *v;
	char f[128];
	json_int_t x;
	int r;

	r = jd_get(d, obj, prefix, key, required, false, JSON_INTEGER, &v);
	if (r < 0 || !v)
		return r;
	x = json_integer_value(v);
	if (x < min || x > max)
		return jd_fail(d, "field '%s' must be between %lld and %lld, not %lld",
			       jd_field(f, prefix, key), (long long)min, (long long)max,
			       (long long)x);
	*out = x;
	return 0;
}

int jd_get_num(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
	       bool nullable, double min, double max, double *out)
{
	json_t *v;
	char f[128];
	double x;
	int r;

	r = jd_get(d, obj, prefix, key, required, nullable, JSON_REAL, &v);
	if (r < 0 || !v)
		return r;
	x = json_number_value(v);
	if (!(x >= min && x <= max))
		return jd_fail(d, "field '%s' must be between %g and %g", jd_field(f, prefix, key),
			       min, max);
	*out = x;
	return 0;
}

int jd_get_bool(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool *out)
{
	json_t *v;
	int r;

	r = jd_get(d, obj, prefix, key, required, false, JSON_TRUE, &v);
	if (r == 0 && v)
		*out = json_is_true(v);
	return r;
}

int jd_index_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return i;
	return -1;
}

int jd_get_enum(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		const char *const *names, int n, int *out)
{
	const char *s;
	char f[128], b[72], list[160];
	size_t len = 0;
	int i, r;

	r = jd_get_str(d, obj, prefix, key, required, false, 1, d->word_max ? d->word_max : 256,
		       &s);
	if (r < 0 || !s)
		return r;
	i = jd_index_of(names, n, s);
	if (i >= 0) {
		*out = i;
		return 0;
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (names[i] && len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s'%s'",
						len ? ", " : "", names[i]);
	}
	return jd_fail(d, "field '%s' must be one of %s, not '%s'", jd_field(f, prefix, key), list,
		       jd_show(s, b));
}

int jd_get_time(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		bool nullable, int64_t *out)
{
	const char *s;
	char f[128], b[72];
	int64_t t;
	int r;

	*out = 0;
	r = jd_get_str(d, obj, prefix, key, required, nullable, 1, d->word_max ? d->word_max : 64,
		       &s);
	if (r < 0 || !s)
		return r;
	/* a date, 'T', a time and an explicit zone: "2026-11-26T12:00:00Z" */
	if (bk_time_parse(s, &t) < 0 || strlen(s) < 17 || s[10] != 'T' || !strpbrk(s + 11, "Z+-"))
		return jd_fail(d, "field '%s' is not an ISO 8601 UTC time: '%s'",
			       jd_field(f, prefix, key), jd_show(s, b));
	if (t <= 0 || t >= TIME_END)
		return jd_fail(d, "field '%s' is out of range: '%s'", jd_field(f, prefix, key),
			       jd_show(s, b));
	*out = t;
	return 0;
}

int jd_get_list(struct jd *d, json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, bool (*valid)(const char *), const char *what, struct bk_strv *out)
{
	json_t *v, *item;
	char f[128], b[72];
	size_t i;
	int r;

	r = jd_get(d, obj, prefix, key, required, false, JSON_ARRAY, &v);
	if (r < 0 || !v)
		return r;
	if (json_array_size(v) > max)
		return jd_fail(d, "field '%s' has more than %zu items", jd_field(f, prefix, key),
			       max);
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);

		if (!s)
			return jd_fail(d, "field '%s' must hold strings only",
				       jd_field(f, prefix, key));
		if (!valid(s))
			return jd_fail(d, "field '%s' holds %s: '%s'", jd_field(f, prefix, key),
				       what, jd_show(s, b));
		if (bk_strv_has(out, s))
			return jd_fail(d, "field '%s' lists '%s' twice", jd_field(f, prefix, key),
				       jd_show(s, b));
		bk_strv_add(out, s);
	}
	return 0;
}

/* ---- writing ---- */

void je_put(struct je *e, json_t *obj, const char *key, json_t *v)
{
	if (!v || !obj || json_object_set_new(obj, key, v) < 0) {
		if (!e->bad)
			e->bad = key;
	}
}

json_t *je_string(const char *s)
{
	json_t *v;
	char *copy;

	v = json_string(s ? s : "");
	if (v)
		return v;
	/* not UTF-8: keep the ASCII, mark the rest */
	copy = bk_strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* Exact: NULL and invalid UTF-8 are refused (json_string returns NULL). */
static json_t *string_of(const struct je *e, const char *s)
{
	if (e->exact)
		return s ? json_string(s) : NULL;
	return je_string(s);
}

void je_put_str(struct je *e, json_t *obj, const char *key, const char *s)
{
	je_put(e, obj, key, string_of(e, s));
}

void je_put_opt(struct je *e, json_t *obj, const char *key, const char *s)
{
	if (s && s[0])
		je_put_str(e, obj, key, s);
}

void je_put_str_or_null(struct je *e, json_t *obj, const char *key, const char *s)
{
	je_put(e, obj, key, s ? je_string(s) : json_null());
}

void je_put_int(struct je *e, json_t *obj, const char *key, int64_t v)
{
	je_put(e, obj, key, json_integer((json_int_t)v));
}

void je_put_uint(struct je *e, json_t *obj, const char *key, uint64_t v)
{
	je_put(e, obj, key, v <= INT64_MAX ? json_integer((json_int_t)v) : NULL);
}

void je_put_time(struct je *e, json_t *obj, const char *key, int64_t t)
{
	char buf[64];

	if (!t && !e->exact) {
		je_put(e, obj, key, json_null());
		return;
	}
	bk_time_format(t, buf, sizeof(buf), BK_TIME_ISO);
	je_put_str(e, obj, key, buf);
}

void je_put_list(struct je *e, json_t *obj, const char *key, const struct bk_strv *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < v->n; i++) {
		if (json_array_append_new(a, string_of(e, v->v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	je_put(e, obj, key, a);
}

int je_precision(double v)
{
	char buf[64];

	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

int je_tree_precision(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	int p = 1, q;

	switch (json_typeof(v)) {
	case JSON_REAL:
		return je_precision(json_real_value(v));
	case JSON_OBJECT:
		json_object_foreach(v, key, item)
		{
			q = je_tree_precision(item);
			p = q > p ? q : p;
		}
		return p;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
		{
			q = je_tree_precision(item);
			p = q > p ? q : p;
		}
		return p;
	default:
		return 1;
	}
}

int je_dump(struct je *e, const char *what, json_t *root, size_t flags, struct bk_buf *out,
	    struct bk_err *err)
{
	char *text;

	if (!root)
		return bk_err_set(err, BK_EPROTO, "cannot encode %s: out of memory", what);
	if (e->bad) {
		json_decref(root);
		return bk_err_set(err, BK_EPROTO, "cannot encode %s: field '%s' has no valid value",
				  what, e->bad);
	}
	text = json_dumps(root, flags);
	json_decref(root);
	if (!text)
		return bk_err_set(err, BK_EPROTO, "cannot encode %s: out of memory", what);
	bk_buf_adds(out, text);
	free(text);
	return 0;
}
