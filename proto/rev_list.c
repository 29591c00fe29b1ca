/* rev_list.c: the revision list of `backy status --json` (see rev_list.h). */
#include "rev_list.h"

#include <math.h>

#include "clock.h"
#include "jdoc.h"

int bk_rev_list_encode(const struct bk_rev_entry *revs, size_t n, struct bk_buf *out,
		       struct bk_err *err)
{
	struct je e = {.bad = NULL};
	json_t *arr = json_array();
	char when[64];
	int r;

	for (size_t i = 0; arr && i < n; i++) {
		const struct bk_rev_entry *rev = &revs[i];
		json_t *o = json_object();

		bk_time_format(rev->timestamp, when, sizeof(when), BK_TIME_ISO);
		je_put_str(&e, o, "uuid", rev->uuid);
		je_put_str(&e, o, "timestamp", when);
		je_put_str_or_null(&e, o, "parent",
				   rev->parent && rev->parent[0] ? rev->parent : NULL);
		if (rev->tags) {
			je_put_list(&e, o, "tags", rev->tags);
		} else {
			struct bk_strv none = BK_STRV_INIT;

			je_put_list(&e, o, "tags", &none);
		}
		je_put_str(&e, o, "trust", rev->trust);
		je_put_uint(&e, o, "size", rev->size);
		je_put_uint(&e, o, "bytes_written", rev->bytes_written);
		je_put(&e, o, "complete", json_boolean(rev->complete));
		je_put(&e, o, "duration",
		       !rev->complete            ? json_null()
		       : isfinite(rev->duration) ? json_real(rev->duration)
						 : NULL);
		je_put_opt(&e, o, "consistency", rev->consistency);
		if (!o || json_array_append_new(arr, o) < 0)
			e.bad = "revision";
	}
	/* six significant digits of a duration are plenty for people and scripts */
	r = je_dump(&e, "revision list", arr, JSON_INDENT(2) | JSON_REAL_PRECISION(6), out, err);
	if (r == 0)
		bk_buf_adds(out, "\n");
	return r;
}
