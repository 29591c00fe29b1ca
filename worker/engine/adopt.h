/*
 * adopt.h: taking over a Python backy 2.x repository of raw images
 * (`cowfile` backend) in place: `backy adopt`.
 *
 * Python's revision files stay as they are: images, .rev files (which
 * revision.h reads: the same fields), backy.log.  What adoption adds:
 *
 *   <id>.sums            a manifest per complete revision, computed by
 *                        reading its image (the revision's data as it is
 *                        now; Python kept no block checksums for cowfile)
 *   config               ours (store.h): the source and schedule of
 *                        Python's config (pyrepo.h), `created` and `adopted`
 *                        set to now; Python's own is kept first as
 *   config.python-backy  (a hard link to the original file)
 *   latest, .lock        as in every repository
 *
 * Python backy ignores the new files, so going back means renaming
 * config.python-backy to config.  Revision files are never rewritten by
 * adoption (later `backy tags` or `distrust` rewrite a .rev in our format,
 * which Python still reads).
 *
 * Refused, with nothing changed: a repository with chunked revisions
 * (`backy import` converts those), a config that does not parse, a .rev
 * that does not parse, a Python backup holding `.backup`.  A complete
 * revision without an image is an error too; incomplete ones (no
 * stats.duration: a Python run that died) are left alone and counted.
 * Interrupted adoption is safe to repeat: a manifest is renamed into place
 * only when complete, and the config, written last, commits the adoption.
 */
#ifndef BK_ADOPT_H
#define BK_ADOPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct bk_adopt_stats {
	size_t revisions;  /* complete revisions adopted */
	size_t manifests;  /* manifests computed by this run */
	size_t incomplete; /* incomplete revisions left alone */
	uint64_t bytes_read;
};

/* Adopt the Python backy repository DIR (see above). */
int bk_adopt(const char *dir, struct bk_adopt_stats *st, struct bk_err *err);

#endif
