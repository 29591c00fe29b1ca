/*
 * source.h: where a backup reads from.
 *
 * A source is configured in the repository config (`source:` map) and
 * opened once per backup.  The engine reads it sequentially in
 * block-aligned chunks.  A source that can tell which ranges changed since
 * the base revision (RBD diffs) answers "unchanged" instead of data, and
 * the engine keeps the cloned extents and the base's digests for them; a
 * source without that knowledge (files) returns data (all but the holes of
 * a sparse file), and the engine compares digests.
 */
#ifndef BK_SOURCE_H
#define BK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "source_spec.h"
#include "ydoc.h"

#define BK_CONSUL_DEFAULT_URL "http://127.0.0.1:8500"

/*
 * A repository's source: the one source model (what is read: type, file or
 * pool/image, the VM to freeze) plus what stays on this host (Ceph client,
 * Consul secrets, tuning).
 */
struct bk_source_config {
	struct bk_source_spec spec; /* never NONE once parsed or checked */
	char *ceph_conf;         /* NULL: $CEPH_CONF or the default search path */
	char *ceph_id;           /* client id; NULL: "admin" */
	char *consul_token;      /* flyingcircus: ACL token (never leaves this host); NULL: no Consul */
	char *consul_url;        /* flyingcircus: default BK_CONSUL_DEFAULT_URL */
	double consul_initial_wait, consul_poll_interval, consul_timeout; /* seconds: 3, 2, 90 */
	/*
	 * rbd: every block a backup wrote is compared with the snapshot, plus
	 * a random sample of VERIFY_SAMPLE of the others (256), alongside the
	 * copy where a diff allows (source_verify.h); VERIFY_FULL compares
	 * every block; VERIFY_BUDGET is the seconds after the copy before the
	 * comparison stops as partial (300).  The keys verify_percent and
	 * verify_min_blocks of older configs are still read: verify_percent: 100
	 * means verify_full, anything else of theirs is superseded.
	 */
	uint64_t verify_sample;
	double verify_budget;
	bool verify_full;
	char desc[300];          /* what bk_source_describe returns */
};

/* An empty config with the defaults of every optional key. */
void bk_source_config_init(struct bk_source_config *cfg);

/*
 * Parse the `source:` map of a repository config (NAME for messages): the
 * model through bk_source_spec_read, the local keys here.  On failure CFG
 * is released.
 */
int bk_source_config_parse(const struct bk_ynode *map, const char *name,
			   struct bk_source_config *cfg, struct bk_err *err);

/*
 * Validate a config built in code (the spec with bk_source_spec_invalid,
 * the ranges of the tuning keys), fill the defaults that depend on the type
 * (consul_url) and the description.  Returns 0 or BK_ECONFIG; CFG is kept.
 */
int bk_source_config_check(struct bk_source_config *cfg, const char *name, struct bk_err *err);

/* Deep copy of SRC into DST (which must be released or empty). */
void bk_source_config_copy(struct bk_source_config *dst, const struct bk_source_config *src);

/* Append the `source:` block of a repository config. */
void bk_source_config_format(const struct bk_source_config *cfg, struct bk_buf *out);

void bk_source_config_release(struct bk_source_config *cfg);

/* Human-readable name of the source ("/dev/vg/vm01", "rbd/vm01.root"). */
const char *bk_source_describe(const struct bk_source_config *cfg);

struct bk_source;

#define BK_SOURCE_MAX_READ (4u << 20)

/* The most a verification read asks for at once (struct bk_verify_io). */
#define BK_SOURCE_VERIFY_READ (1u << 20)

enum bk_read {
	BK_READ_DATA,      /* BUF holds the data; what changed is unknown (compare digests) */
	BK_READ_UNCHANGED, /* nothing in the range changed since the base */
	BK_READ_MASK,      /* MASK says which blocks changed; changed ones are in BUF */
	BK_READ_ALLOCATED, /* MASK says which blocks hold data (in BUF); the others are
			    * holes (never written, or punched): zeros, not read */
};

/*
 * The engine's side of a verification read (bk_source_ops.verify_read):
 * NEXT gives the next range to read from the snapshot (block aligned, at
 * most BK_SOURCE_VERIFY_READ bytes) and returns 1, or 0 when there is no
 * more; CHECK receives each range's data, in the order NEXT gave them.  A
 * negative return of either (an error set in ERR) stops the reads.
 */
struct bk_verify_io {
	int (*next)(void *arg, uint64_t *off, size_t *len);
	int (*check)(void *arg, uint64_t off, size_t len, const unsigned char *data,
		     struct bk_err *err);
	void *arg;
};

struct bk_source_ops {
	/*
	 * Prepare a backup into revision ID.  BASE is the revision the new image
	 * starts from (NULL for a full backup); a source that must not use it
	 * clears *USE_BASE (the engine then writes a full backup).  Sets
	 * src->size.  On failure it releases what it acquired.
	 */
	int (*open)(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		    const char *base, bool *use_base, struct bk_err *err);
	/*
	 * Read LEN bytes at OFF (block aligned, at most BK_SOURCE_MAX_READ)
	 * and say what is known about them (enum bk_read).  *DATA comes in as
	 * a buffer of BK_SOURCE_MAX_READ bytes the source may read into and
	 * goes out as where the bytes are: that buffer, or one of the source's
	 * own (read ahead, so not copied), which is the caller's to read and
	 * change until the next read or close.  Only with MAY_SKIP (the engine
	 * has the base's digests for the range) may the answer be
	 * BK_READ_UNCHANGED or BK_READ_MASK; for BK_READ_MASK, bit i of MASK
	 * (one bit per block of BLOCK_SIZE, as given to open) says whether
	 * block i changed since the base, and the data is only valid for
	 * changed blocks.  Reads ask for the image in order; a source may read
	 * ahead on that guess, but must answer any read.
	 */
	int (*read)(struct bk_source *src, unsigned char **data, uint64_t off, size_t len,
		    bool may_skip, enum bk_read *what, unsigned char *mask, struct bk_err *err);
	/*
	 * The blocks read may answer as changed (bit per block), known from
	 * open on and valid until close: an incremental's diff.  NULL (or a NULL
	 * op) when any block may be, as for a full backup.
	 */
	const unsigned char *(*changes)(struct bk_source *src);
	/*
	 * Read the ranges IO asks for from the snapshot, many at a time, and hand
	 * them to IO->check (struct bk_verify_io), for verification outside the
	 * sequential stream; NULL for sources without a stable snapshot (files
	 * may change under a backup, so comparing with them proves nothing).
	 * May run in a second thread alongside read (source_verify.h).
	 */
	int (*verify_read)(struct bk_source *src, const struct bk_verify_io *io,
			   struct bk_err *err);
	/* The backup ended; COMMITTED says whether revision ID exists now. */
	void (*finish)(struct bk_source *src, bool committed);
	/* Release everything; src->priv is freed. */
	void (*close)(struct bk_source *src);
};

struct bk_source {
	const struct bk_source_ops *ops;
	const struct bk_source_config *cfg;
	uint32_t block_size;  /* manifest block size, set before open */
	uint64_t size;
	char consistency[32]; /* recorded in the .rev ("" for file sources) */
	void *priv;
};

/* Open the source of CFG for a backup into revision ID (see bk_source_ops.open). */
int bk_source_open(struct bk_source *src, const struct bk_source_config *cfg,
		   uint32_t block_size, const char *id, const char *base, bool *use_base,
		   struct bk_err *err);

/* finish() and close(); safe on a source that failed to open. */
void bk_source_close(struct bk_source *src, bool committed);

extern const struct bk_source_ops bk_source_file_ops;
extern const struct bk_source_ops bk_source_rbd_ops; /* rbd and flyingcircus */

#endif
