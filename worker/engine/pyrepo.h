/*
 * pyrepo.h: reading a repository written by Python backy 2.x, for `backy
 * adopt` and `backy import` (adopt.h, import_py.h).  Nothing here writes.
 *
 * What Python leaves in a repository (tests/fixtures/python-backy/README.md):
 *
 *   config        YAML {schedule: {TAG: {interval, keep}}, source: {type, ...,
 *                 [backend], [cow], [full-always]}}
 *   <uuid>.rev    revision metadata: what revision.h reads, plus
 *                 backend_type (chunked | cowfile; missing means cowfile)
 *   <uuid>        cowfile: the raw image; chunked: the chunk map (py_chunkmap.h)
 *   chunks/store  chunked: the marker "v2"; chunks/<h[0:2]>/<h>.chunk.lzo
 *   .backup       Python's writer lock: flock()ed by every Python backup
 *
 * The config maps onto ours (struct bk_repo_config): the source through the
 * one source model plus the Python keys (py_source_keys.h: full-always true
 * becomes verify_full), the schedule as it is, the retention from the
 * schedule, the default block size.
 */
#ifndef BK_PYREPO_H
#define BK_PYREPO_H

#include <stdbool.h>

#include "error.h"
#include "store.h"

enum bk_py_backend { BK_PY_COWFILE, BK_PY_CHUNKED };

/* A bk_repo_config_parser (store.h) for Python backy's repository config. */
int bk_py_repo_config_parse(const char *buf, size_t len, const char *name,
			    struct bk_repo_config *cfg, struct bk_err *err);

/*
 * Open the Python repository DIR into REPO (store.h: its config mapped,
 * its revisions loaded; close with bk_repo_close).  Fails with BK_ECONFIG
 * when DIR has a config of ours already ("adopted already").
 */
int bk_py_repo_open(struct bk_repo *repo, const char *dir, struct bk_err *err);

/* The backend of revision IDX of REPO, from its .rev (backend_type). */
int bk_py_rev_backend(const struct bk_repo *repo, size_t idx, enum bk_py_backend *out,
		      struct bk_err *err);

/*
 * Take Python backy's writer lock (flock on DIR/.backup, never created):
 * EXCLUSIVE for a writer (adopt), shared for a reader (import), without
 * waiting.  *FD gets the descriptor to close (-1 when there is no .backup).
 * BK_ELOCKED while a Python backup runs.
 */
int bk_py_repo_lock(const struct bk_repo *repo, bool exclusive, int *fd, struct bk_err *err);

#endif
