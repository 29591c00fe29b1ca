/*
 * import_py.h: converting a chunked Python backy 2.x repository into a
 * backy repository of raw revisions: `backy import SRC`.
 *
 * SRC is only read (never a file created, changed or locked for writing:
 * Python's `.backup` is flock()ed shared, so no Python backup runs
 * meanwhile).  What it holds (pyrepo.h): chunk maps (py_chunkmap.h) and
 * LZO-compressed 4 MiB chunks named by their MurmurHash3 (murmur3.h),
 * python-lzo's format: the byte 0xf0, the uncompressed length (4 bytes,
 * big-endian), an LZO1X stream.
 *
 * DST gets, for every complete revision of SRC, oldest first, a revision
 * with the same id, timestamp, parent, tags, trust and stats, plus its size
 * and our manifest.  Each new image starts as a reflink clone of the
 * previous imported one and only blocks that differ from it are written
 * (zero blocks become holes), so the revisions share extents as if backy
 * had made them.  Every chunk is decompressed into at most 4 MiB and its
 * hash checked against its name before a byte of it is written; a chunk
 * whose index has the same hash as in the previous revision is not read at
 * all (its blocks are the clone's).  Of each chunk, min(4 MiB, size -
 * offset) bytes belong to the image; a chunk stored shorter than that
 * reads as zeros past its end (Python's sparse chunks).
 *
 * DST is new (no config: one is written from SRC's, `created` and
 * `adopted` set to now) or a repository an earlier import of SRC began
 * (it has `adopted`): revisions it has are skipped, so an interrupted
 * import continues where it stopped.  Any damage (a map that does not
 * parse, a chunk missing, short of its header, failing to decompress or
 * not matching its hash) stops the import with BK_ECORRUPT naming the
 * revision and the chunk; the revision being written is not committed.
 * Incomplete revisions of SRC are skipped and counted; cowfile revisions
 * are refused (`backy adopt` takes those in place).
 */
#ifndef BK_IMPORT_PY_H
#define BK_IMPORT_PY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "revision.h"

struct bk_import_stats {
	size_t imported;        /* revisions written by this run */
	size_t present;         /* revisions DST had already */
	size_t incomplete;      /* incomplete revisions of SRC, skipped */
	uint64_t chunks_read;   /* chunks decompressed and checked */
	uint64_t bytes_written; /* data written into DST */
};

/* Called after each imported revision (for the caller's log); may be NULL. */
typedef void (*bk_import_step_fn)(void *arg, const struct bk_rev *rev, uint64_t bytes_written);

/* Import the chunked Python repository SRC into DST (see above). */
int bk_import_py(const char *src, const char *dst, bk_import_step_fn step, void *arg,
		 struct bk_import_stats *st, struct bk_err *err);

#endif
