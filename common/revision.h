/*
 * revision.h: one revision's metadata, as stored in <repo>/<id>.rev.
 *
 * The .rev file is YAML with the fields of Python backy (uuid, timestamp,
 * parent, tags, trust, stats.bytes_written, stats.duration) plus ours
 * (size, block_size, consistency, verified_at, quarantine).  A revision is
 * complete when stats.duration is present; backy itself only ever writes
 * complete .rev files, incomplete ones come from Python backy repositories.
 */
#ifndef BK_REVISION_H
#define BK_REVISION_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "id.h"
#include "strv.h"

enum bk_trust { BK_TRUST_TRUSTED, BK_TRUST_DISTRUSTED, BK_TRUST_VERIFIED };

struct bk_rev {
	char id[BK_ID_MAX + 1];
	char parent[BK_ID_MAX + 1]; /* "" for a full backup */
	int64_t timestamp;          /* microseconds, UTC */
	struct bk_strv tags;
	enum bk_trust trust;
	bool complete;              /* stats.duration present */
	uint64_t bytes_written;
	double duration;            /* seconds */
	uint64_t size;              /* image size in bytes (0 when unknown) */
	char consistency[32];       /* "", "frozen" or "crash-consistent" (rbd sources) */
	int64_t verified_at;        /* 0 if never verified */
};

void bk_rev_init(struct bk_rev *rev);
void bk_rev_release(struct bk_rev *rev);
void bk_rev_copy(struct bk_rev *dst, const struct bk_rev *src);

/* Parse the text of a .rev file (NAME for messages).  Returns 0 or BK_ECORRUPT. */
int bk_rev_parse(const char *buf, size_t len, const char *name, struct bk_rev *rev,
		 struct bk_err *err);

/* Append the YAML text of REV. */
void bk_rev_format(const struct bk_rev *rev, struct bk_buf *out);

const char *bk_trust_name(enum bk_trust trust);
int bk_trust_parse(const char *s, enum bk_trust *out);

/*
 * Whether TAG is a well-formed tag: 1 to 64 characters from [A-Za-z0-9_.:-],
 * not starting or ending with ':' (as in "manual:NAME"; schedule tag names
 * may not contain ':' at all, see schedule.h).
 */
bool bk_tag_valid(const char *tag);

#endif
