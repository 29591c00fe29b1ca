/*
 * source_spec.h: the one model of what a job backs up -- its source.
 *
 * A job names its source in four places: the coordinator's config
 * (jobs.NAME.source), the job message (proto.h), the repository config a
 * worker keeps (source.h embeds this struct plus local settings: secrets,
 * Ceph client, tuning) and `backy init`.  All of them use this enum, this
 * name table, this struct, this validator and this YAML reader, so a name
 * accepted in one place is accepted in every other.
 *
 * Why common/: it is below everything.  proto/ (the wire codec), the
 * coordinator and the storage engine (which does not link proto) all
 * include it without a header running back up.
 *
 * The rules (docs/messages.md, "Sources"):
 *
 *   filename     an absolute path of at most BK_SOURCE_PATH_MAX bytes, no
 *                "." or ".." components, no control characters
 *   pool, image  1 to BK_NAME_MAX characters from [A-Za-z0-9._-], the first
 *                one alphanumeric or '.', and after a leading '.' an
 *                alphanumeric: Ceph's own pools start with '.' (".rgw.root",
 *                ".mgr") and an RBD pool may too; "." and ".." and names
 *                starting with '-' (options) never pass.  '/' and '@'
 *                (rbd's pool/image@snap separators), spaces and anything
 *                outside ASCII are refused.
 *   vm           a name (bk_name_valid): like a job or host name; may be
 *                empty: a flyingcircus source without a vm takes its snapshot
 *                directly, without asking Consul (a job message still names
 *                one: the wire decoder requires it)
 *
 * Ownership: struct bk_source_spec owns filename; _release() frees it and
 * leaves the struct as after _init().
 */
#ifndef BK_SOURCE_SPEC_H
#define BK_SOURCE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ydoc.h"

#define BK_NAME_MAX 64          /* job, host, vm, pool and image names */
#define BK_SOURCE_PATH_MAX 4096 /* bytes of a source filename */

enum bk_source_type {
	BK_SOURCE_NONE = 0, /* no source (a job that keeps the repository's) */
	BK_SOURCE_FILE,
	BK_SOURCE_RBD,
	BK_SOURCE_FLYINGCIRCUS, /* rbd + Consul freeze of the VM */
};

/* What a job reads from.  Fields a type does not use are NULL / "". */
struct bk_source_spec {
	enum bk_source_type type;
	char *filename;               /* FILE: owned absolute path, else NULL */
	char pool[BK_NAME_MAX + 1];   /* RBD, FLYINGCIRCUS */
	char image[BK_NAME_MAX + 1];  /* RBD, FLYINGCIRCUS */
	char vm[BK_NAME_MAX + 1];     /* FLYINGCIRCUS */
};

void bk_source_spec_init(struct bk_source_spec *s);
void bk_source_spec_release(struct bk_source_spec *s);

/* Deep copy of SRC into DST (which must be released or empty). */
void bk_source_spec_copy(struct bk_source_spec *dst, const struct bk_source_spec *src);

/* Whether A and B name the same source: the fields their type uses are equal. */
bool bk_source_spec_equal(const struct bk_source_spec *a, const struct bk_source_spec *b);

/* Set the owned filename (a copy of F, or NULL). */
void bk_source_spec_set_filename(struct bk_source_spec *s, const char *f);

/* "file", "rbd", "flyingcircus"; NULL for NONE and values out of range. */
const char *bk_source_type_name(enum bk_source_type type);

/* The type named S ("ceph-rbd" is an alias of "rbd"); 0 or BK_ECONFIG. */
int bk_source_type_parse(const char *s, enum bk_source_type *out);

/* Job, host and vm names: 1 to BK_NAME_MAX of [A-Za-z0-9._-], alphanumeric first. */
bool bk_name_valid(const char *s);

/* Ceph pool and image names (the rule above). */
bool bk_ceph_name_valid(const char *s);

/* Source filenames (the rule above). */
bool bk_source_path_valid(const char *s);

/*
 * The validator: NULL when S is a complete, valid source of its type, else
 * the first field that is missing or invalid ("type", "filename", "pool",
 * "image", "vm") for the caller's message.  A NONE source is invalid.
 */
const char *bk_source_spec_invalid(const struct bk_source_spec *s);

/*
 * Called by bk_source_spec_read for a key of the `source:` map that is not
 * part of the model for TYPE (e.g. "ceph_conf").  Returns 0 when it took the
 * key, 1 when it does not know it (the reader then reports an unknown key),
 * or a negative error with ERR set.
 */
typedef int (*bk_source_extra_fn)(void *arg, enum bk_source_type type, const char *key,
				  const struct bk_ynode *value, struct bk_err *err);

/*
 * The YAML reader: the `source:` map MAP of file NAME into OUT (which needs
 * no initialisation; released on failure).  JOB (or NULL) is named in
 * messages: "NAME: line 3: job 'vm01': 'source.pool' must be ...".  Keys
 * outside the model go to EXTRA (NULL: every such key is unknown).  The
 * result is validated with bk_source_spec_invalid.  Returns 0 or
 * BK_ECONFIG (or what EXTRA returned).
 */
int bk_source_spec_read(const struct bk_ynode *map, const char *name, const char *job,
			struct bk_source_spec *out, bk_source_extra_fn extra, void *arg,
			struct bk_err *err);

#endif
