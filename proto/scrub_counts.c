/* scrub_counts.c: what one verify run found, and its JSON codec (see scrub_counts.h). */
#include "scrub_counts.h"
#include "scrub_counts_json.h"

#include <string.h>

#include "id.h"

void bk_scrub_counts_init(struct bk_scrub_counts *c)
{
	memset(c, 0, sizeof(*c));
}

void bk_scrub_counts_release(struct bk_scrub_counts *c)
{
	bk_strv_release(&c->revisions);
	bk_scrub_counts_init(c);
}

void bk_scrub_counts_copy(struct bk_scrub_counts *dst, const struct bk_scrub_counts *src)
{
	bk_scrub_counts_release(dst);
	dst->checked = src->checked;
	dst->distrusted = src->distrusted;
	bk_strv_copy(&dst->revisions, &src->revisions);
}

bool bk_scrub_counts_equal(const struct bk_scrub_counts *a, const struct bk_scrub_counts *b)
{
	return a->checked == b->checked && a->distrusted == b->distrusted &&
	       bk_strv_equal(&a->revisions, &b->revisions);
}

void bk_scrub_counts_add(struct bk_scrub_counts *c, bool distrusted)
{
	if (c->checked < BK_SCRUB_MAX_CHECKED)
		c->checked++;
	if (distrusted && c->distrusted < c->checked)
		c->distrusted++;
}

void bk_scrub_counts_list(struct bk_scrub_counts *c, const char *id)
{
	if (c->revisions.n < BK_SCRUB_MAX_LISTED && bk_id_valid(id) &&
	    !bk_strv_has(&c->revisions, id))
		bk_strv_add(&c->revisions, id);
}

int bk_scrub_counts_decode(struct jd *d, json_t *obj, const char *prefix,
			   struct bk_scrub_counts *out)
{
	static const char *const keys[] = {"checked", "distrusted", "distrusted_revisions", NULL};
	int64_t checked = 0, distrusted = 0;
	char f[128];
	int r;

	r = jd_check_keys(d, obj, prefix, keys);
	if (r == 0)
		r = jd_get_int(d, obj, prefix, "checked", true, 0, BK_SCRUB_MAX_CHECKED, &checked);
	if (r == 0)
		r = jd_get_int(d, obj, prefix, "distrusted", true, 0, BK_SCRUB_MAX_CHECKED,
			       &distrusted);
	if (r == 0)
		r = jd_get_list(d, obj, prefix, "distrusted_revisions", false, BK_SCRUB_MAX_LISTED,
				bk_id_valid, "an invalid revision id", &out->revisions);
	if (r < 0)
		return r;
	out->checked = (uint32_t)checked;
	out->distrusted = (uint32_t)distrusted;
	if (out->distrusted > out->checked)
		return jd_fail(d, "field '%s' is larger than field '%s.checked'",
			       jd_field(f, prefix, "distrusted"), prefix);
	return 0;
}

json_t *bk_scrub_counts_encode(struct je *e, const struct bk_scrub_counts *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	je_put_uint(e, o, "checked", c->checked);
	je_put_uint(e, o, "distrusted", c->distrusted);
	if (c->revisions.n)
		je_put_list(e, o, "distrusted_revisions", &c->revisions);
	return o;
}
