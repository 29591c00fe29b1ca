/*
 * check.h: checking revision data against its manifest, and collecting
 * what did not match (the body of a quarantine report).
 *
 * Every path that reads a revision (restore to a file or device, restore
 * into RBD, verify) checks each block on the way: one bad block in a shared
 * extent poisons every revision using it, so it must be seen where it is read.
 */
#ifndef BK_CHECK_H
#define BK_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "manifest.h"

#define BK_QUARANTINE_MAX 1000 /* mismatches listed in one report */

struct bk_quarantine {
	struct bk_buf text; /* YAML list items: offset, length, expected, actual */
	unsigned count;     /* all mismatches, also those past BK_QUARANTINE_MAX */
};

void bk_quarantine_init(struct bk_quarantine *q);
void bk_quarantine_release(struct bk_quarantine *q);
void bk_quarantine_add(struct bk_quarantine *q, uint64_t off, uint64_t len,
		       const struct bk_digest *expected, const struct bk_digest *actual);

/*
 * Check the blocks of one chunk (at OFF, LEN bytes, in BUF unless HOLE, which
 * reads as zeros) against their manifest digests DIG; record mismatches in Q.
 */
void bk_check_chunk(const struct bk_manifest *m, const unsigned char *buf, bool hole,
		    uint64_t off, uint64_t len, const struct bk_digest *dig,
		    struct bk_quarantine *q);

/* Whether [OFF, OFF+LEN) of the image FD is a hole. */
bool bk_image_hole(int fd, uint64_t off, uint64_t len);

#endif
