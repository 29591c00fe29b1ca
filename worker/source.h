/*
 * source.h: where a backup reads from.
 *
 * A source is configured in the repository config (`source:` map) and
 * opened once per backup.  The engine reads it sequentially in
 * block-aligned chunks.  A source that can tell which ranges changed since
 * the base revision (RBD diffs) answers "unchanged" instead of data, and
 * the engine keeps the cloned extents and the base's digests for them; a
 * source without that knowledge (files) always returns data, and the engine
 * compares digests.
 */
#ifndef BK_SOURCE_H
#define BK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "ydoc.h"

enum bk_source_type { BK_SOURCE_FILE };

struct bk_source_config {
	enum bk_source_type type;
	char *filename; /* file: image file or block device, absolute */
};

/* Parse the `source:` map of a repository config (NAME for messages). */
int bk_source_config_parse(const struct bk_ynode *map, const char *name,
			   struct bk_source_config *cfg, struct bk_err *err);

/* Append the `source:` block of a repository config. */
void bk_source_config_format(const struct bk_source_config *cfg, struct bk_buf *out);

void bk_source_config_release(struct bk_source_config *cfg);

/* Human-readable name of the source ("/dev/vg/vm01", "rbd/vm01.root"). */
const char *bk_source_describe(const struct bk_source_config *cfg);

struct bk_source;

struct bk_source_ops {
	/*
	 * Prepare a backup into revision ID.  BASE is the revision the new image
	 * starts from (NULL for a full backup); a source that cannot diff against
	 * it clears *USE_BASE (the engine then writes a full backup).  Sets
	 * src->size.
	 */
	int (*open)(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		    const char *base, bool *use_base, struct bk_err *err);
	/*
	 * Read LEN bytes at OFF (block aligned) into BUF.  With MAY_SKIP, a
	 * source that knows the range did not change since BASE may set
	 * *UNCHANGED instead and leave BUF alone.
	 */
	int (*read)(struct bk_source *src, void *buf, uint64_t off, size_t len, bool may_skip,
		    bool *unchanged, struct bk_err *err);
	/* The backup ended; COMMITTED says whether revision ID exists now. */
	void (*finish)(struct bk_source *src, bool committed);
	/* Release everything; src->priv is freed. */
	void (*close)(struct bk_source *src);
};

struct bk_source {
	const struct bk_source_ops *ops;
	const struct bk_source_config *cfg;
	uint64_t size;
	char consistency[32]; /* recorded in the .rev ("" for file sources) */
	void *priv;
};

/* Open the source of CFG for a backup into revision ID (see bk_source_ops.open). */
int bk_source_open(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		   const char *base, bool *use_base, struct bk_err *err);

/* finish() and close(); safe on a source that failed to open. */
void bk_source_close(struct bk_source *src, bool committed);

extern const struct bk_source_ops bk_source_file_ops;

#endif
