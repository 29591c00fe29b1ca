/*
 * py_source_keys.h: the keys Python backy 2.x puts in a `source:` map that
 * are not part of the source model (source_spec.h), and what they become.
 *
 *   backend: chunked | cowfile   how Python stored revisions.  backy has one
 *                                format (raw images, reflinked): a cowfile
 *                                repository is adopted in place (`backy
 *                                adopt`), a chunked one converted (`backy
 *                                import`); the key itself is accepted.
 *   cow: true | false            (file) whether Python reflinked the parent:
 *                                backy always clones where the file system can.
 *   full-always: true | false    (ceph-rbd) Python read the whole image every
 *                                time.  The caller decides: the repository
 *                                config maps true to verify_full (every block
 *                                compared with the snapshot); the coordinator
 *                                refuses true, since it is a setting of the
 *                                storage host, not of the job message.
 *
 * Readers of a Python `source:` map (the coordinator's config loader,
 * worker/engine/pyrepo.c) call bk_py_source_key for each key outside the
 * model, so both accept the same keys with the same values.
 */
#ifndef BK_PY_SOURCE_KEYS_H
#define BK_PY_SOURCE_KEYS_H

#include <stdbool.h>

#include "error.h"
#include "source_spec.h"
#include "ydoc.h"

struct bk_py_source_opts {
	char backend[8]; /* "", "chunked" or "cowfile" */
	bool cow;        /* default true */
	bool full_always;
};

void bk_py_source_opts_init(struct bk_py_source_opts *o);

/*
 * KEY (of a source of TYPE) with value V, in file NAME (for messages, with
 * the JOB when not NULL): 0 when it is one of the keys above with a valid
 * value (recorded in O), 1 when it is not one of them, BK_ECONFIG for a bad
 * value or a key the type does not have.
 */
int bk_py_source_key(enum bk_source_type type, const char *key, const struct bk_ynode *v,
		     const char *name, const char *job, struct bk_py_source_opts *o,
		     struct bk_err *err);

#endif
