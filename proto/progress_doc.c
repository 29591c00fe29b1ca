/* progress_doc.c: the progress document of a running backy child (see progress_doc.h). */
#include "progress_doc.h"

#include <stdio.h>
#include <string.h>

#include "jdoc.h"

#define WHAT "progress document"

static const char *const phases[] = {"backup", "restore", "verify"};

bool bk_phase_valid(const char *s)
{
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (strcmp(s, phases[i]) == 0)
			return true;
	return false;
}

static int dec_progress(struct jd *d, json_t *root, void *arg)
{
	static const char *const keys[] = {"phase", "done", "total", NULL};
	struct bk_progress_doc *p = arg;
	int64_t done = 0, total = 0;
	int phase = -1, rc;

	rc = jd_check_keys(d, root, NULL, keys);
	if (rc == 0)
		rc = jd_get_enum(d, root, NULL, "phase", true, phases, 3, &phase);
	if (rc == 0)
		rc = jd_get_int(d, root, NULL, "total", true, 0, INT64_MAX, &total);
	if (rc == 0)
		rc = jd_get_int(d, root, NULL, "done", true, 0, total, &done);
	if (rc < 0)
		return rc;
	snprintf(p->phase, sizeof(p->phase), "%s", phases[phase]);
	p->done = (uint64_t)done;
	p->total = (uint64_t)total;
	return 0;
}

static void clear_progress(void *arg)
{
	memset(arg, 0, sizeof(struct bk_progress_doc));
}

int bk_progress_doc_decode(const void *text, size_t len, struct bk_progress_doc *out,
			   struct bk_err *err)
{
	struct jd d = {.err = err, .what = WHAT, .strict = true};

	memset(out, 0, sizeof(*out));
	return jd_decode(&d, text, len, BK_PROGRESS_DOC_MAX_BYTES, 1, JSON_OBJECT, dec_progress,
			 clear_progress, out);
}

int bk_progress_doc_encode(const struct bk_progress_doc *p, struct bk_buf *out,
			   struct bk_err *err)
{
	struct je e = {.bad = NULL};
	json_t *root;

	if (!bk_phase_valid(p->phase) || p->done > p->total || p->total > INT64_MAX)
		return bk_err_set(err, BK_EPROTO, "invalid " WHAT);
	root = json_object();
	je_put_str(&e, root, "phase", p->phase);
	je_put_uint(&e, root, "done", p->done);
	je_put_uint(&e, root, "total", p->total);
	return je_dump(&e, WHAT, root, JSON_COMPACT, out, err);
}
