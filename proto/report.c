/* report.c: the job report of `backy --result` (see report.h). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"
#include "revision.h"
#include "scrub_counts_json.h"

#define WHAT "job report"
#define DEPTH 3 /* the object, error/stats/tags/verify, verify.distrusted_revisions */

static const char *const outcome_names[] = {"ok", "failed", "skipped"};

void bk_report_init(struct bk_report *r)
{
	memset(r, 0, sizeof(*r));
}

void bk_report_release(struct bk_report *r)
{
	free(r->error_message);
	bk_strv_release(&r->tags);
	bk_scrub_counts_release(&r->verify);
	bk_report_init(r);
}

const char *bk_report_outcome_name(enum bk_report_outcome outcome)
{
	if ((unsigned)outcome < sizeof(outcome_names) / sizeof(outcome_names[0]))
		return outcome_names[outcome];
	return "unknown";
}

/* Valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF), N bytes of S. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], len, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		if (i + len > n)
			return false;
		cp = c & (0x7f >> len);
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

void bk_report_set_error(struct bk_report *r, const char *code, const char *message)
{
	size_t n;
	char *m;

	snprintf(r->error_code, sizeof(r->error_code), "%s",
		 code && jd_code_valid(code) ? code : "EUNKNOWN");
	free(r->error_message);
	m = bk_strdup(message && message[0] ? message : "failed without a message");
	n = strlen(m);
	if (n > BK_REPORT_MAX_TEXT) {
		n = BK_REPORT_MAX_TEXT;
		/* do not cut a UTF-8 sequence in two */
		while (n > 0 && ((unsigned char)m[n] & 0xc0) == 0x80)
			n--;
		m[n] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			m[i] = '?';
	}
	if (!utf8_valid((unsigned char *)m, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)m[i] >= 0x80)
				m[i] = '?';
	r->error_message = m;
}

/* ---- decoding ---- */

static int dec_stats(struct jd *d, json_t *obj, struct bk_report_stats *s)
{
	static const char *const keys[] = {"bytes_written", "size", "duration", "full", NULL};
	int64_t bytes = 0, size = 0;
	int rc;

	rc = jd_check_keys(d, obj, "stats", keys);
	if (rc == 0)
		rc = jd_get_int(d, obj, "stats", "bytes_written", true, 0, INT64_MAX, &bytes);
	if (rc == 0)
		rc = jd_get_int(d, obj, "stats", "size", true, 0, INT64_MAX, &size);
	if (rc == 0)
		rc = jd_get_num(d, obj, "stats", "duration", true, false, 0, BK_REPORT_MAX_DURATION,
				&s->duration);
	if (rc == 0)
		rc = jd_get_bool(d, obj, "stats", "full", true, &s->full);
	s->bytes_written = (uint64_t)bytes;
	s->size = (uint64_t)size;
	return rc;
}

#define TAG_TEXT "an invalid tag"

_Static_assert(BK_REPORT_CODE_MAX == JD_CODE_MAX, "error.code is read by jd_get_code");

/* jd_decode's callbacks: ARG is the struct bk_report. */
static void clear_report(void *arg)
{
	bk_report_release(arg);
}

static int dec_report(struct jd *d, json_t *root, void *arg)
{
	static const char *const keys[] = {"outcome", "error", "revision", "tags",
					   "stats",   "verify", NULL};
	static const char *const error_keys[] = {"code", "message", NULL};
	struct bk_report *r = arg;
	int outcome = -1, rc;
	json_t *v;

	rc = jd_check_keys(d, root, NULL, keys);
	if (rc == 0)
		rc = jd_get_enum(d, root, NULL, "outcome", true, outcome_names, 3, &outcome);
	if (rc < 0)
		return rc;
	r->outcome = (enum bk_report_outcome)outcome;
	rc = jd_get(d, root, NULL, "error", r->outcome == BK_REPORT_FAILED, false, JSON_OBJECT, &v);
	if (rc == 0 && v && r->outcome == BK_REPORT_OK)
		return jd_fail(d, "an 'ok' report has no 'error'");
	if (rc == 0 && v)
		rc = jd_get_error(d, v, "error", error_keys, BK_REPORT_MAX_TEXT, r->error_code,
				  &r->error_message);
	if (rc == 0)
		rc = jd_get_id(d, root, NULL, "revision", false, r->revision);
	if (rc == 0)
		rc = jd_get_list(d, root, NULL, "tags", false, BK_REPORT_MAX_TAGS, bk_tag_valid,
				 TAG_TEXT, &r->tags);
	if (rc == 0)
		rc = jd_get(d, root, NULL, "stats", false, false, JSON_OBJECT, &v);
	if (rc == 0 && v) {
		r->has_stats = true;
		rc = dec_stats(d, v, &r->stats);
	}
	if (rc == 0)
		rc = jd_get(d, root, NULL, "verify", false, false, JSON_OBJECT, &v);
	if (rc == 0 && v) {
		r->has_verify = true;
		rc = bk_scrub_counts_decode(d, v, "verify", &r->verify);
	}
	return rc;
}

int bk_report_decode(const void *text, size_t len, struct bk_report *out, struct bk_err *err)
{
	struct jd d = {.err = err, .what = WHAT, .strict = true};

	return jd_decode(&d, text, len, BK_REPORT_MAX_BYTES, DEPTH, JSON_OBJECT, dec_report,
			 clear_report, out);
}

/* ---- encoding ---- */

int bk_report_encode(const struct bk_report *r, struct bk_buf *out, struct bk_err *err)
{
	struct je e = {.bad = NULL};
	struct bk_report check;
	struct bk_buf text;
	struct bk_err e2 = {0};
	json_t *root = json_object(), *o;
	int precision = 17, rc;

	je_put_str(&e, root, "outcome", bk_report_outcome_name(r->outcome));
	if (r->error_code[0] || r->error_message) {
		o = json_object();
		je_put_str(&e, o, "code", r->error_code);
		je_put_str(&e, o, "message", r->error_message);
		je_put(&e, root, "error", o);
	}
	je_put_opt(&e, root, "revision", r->revision);
	if (r->tags.n)
		je_put_list(&e, root, "tags", &r->tags);
	if (r->has_stats) {
		o = json_object();
		je_put_uint(&e, o, "bytes_written", r->stats.bytes_written);
		je_put_uint(&e, o, "size", r->stats.size);
		je_put(&e, o, "duration",
		       isfinite(r->stats.duration) ? json_real(r->stats.duration) : NULL);
		je_put(&e, o, "full", json_boolean(r->stats.full));
		je_put(&e, root, "stats", o);
		if (isfinite(r->stats.duration))
			precision = je_precision(r->stats.duration);
	}
	if (r->has_verify)
		je_put(&e, root, "verify", bk_scrub_counts_encode(&e, &r->verify));
	bk_buf_init(&text);
	rc = je_dump(&e, WHAT, root, JSON_COMPACT | JSON_REAL_PRECISION(precision), &text, err);
	if (rc < 0)
		goto out;
	/* design note 2: what we write, the worker reads */
	bk_report_init(&check);
	rc = bk_report_decode(text.p, text.len, &check, &e2);
	bk_report_release(&check);
	if (rc < 0) {
		bk_err_set(err, rc, "cannot encode " WHAT ": %s", e2.msg);
		goto out;
	}
	bk_buf_add(out, text.p, text.len);
out:
	bk_buf_release(&text);
	return rc;
}

bool bk_report_equal(const struct bk_report *a, const struct bk_report *b)
{
	if (a->outcome != b->outcome || strcmp(a->error_code, b->error_code) ||
	    strcmp(a->revision, b->revision) || !bk_strv_equal(&a->tags, &b->tags) ||
	    a->has_stats != b->has_stats || a->has_verify != b->has_verify ||
	    (a->has_verify && !bk_scrub_counts_equal(&a->verify, &b->verify)))
		return false;
	if ((a->error_message == NULL) != (b->error_message == NULL) ||
	    (a->error_message && strcmp(a->error_message, b->error_message)))
		return false;
	if (a->has_stats &&
	    (a->stats.bytes_written != b->stats.bytes_written || a->stats.size != b->stats.size ||
	     a->stats.duration != b->stats.duration || a->stats.full != b->stats.full))
		return false;
	return true;
}
