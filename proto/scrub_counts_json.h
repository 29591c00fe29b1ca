/*
 * scrub_counts_json.h: the JSON codec of struct bk_scrub_counts
 * (scrub_counts.h), for the decoders and encoders in proto/ only.
 */
#ifndef BK_SCRUB_COUNTS_JSON_H
#define BK_SCRUB_COUNTS_JSON_H

#include "jdoc.h"
#include "scrub_counts.h"

/* Decode and validate the object OBJ (field PREFIX, e.g. "verify") into OUT (initialised). */
int bk_scrub_counts_decode(struct jd *d, json_t *obj, const char *prefix,
			   struct bk_scrub_counts *out);

/* The object of C, or NULL (je_put records the key as bad). */
json_t *bk_scrub_counts_encode(struct je *e, const struct bk_scrub_counts *c);

#endif
