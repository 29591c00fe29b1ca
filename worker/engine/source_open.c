/*
 * source_open.c: opening a source, dispatched to its implementation (file
 * or RBD, see source.h).  Apart from source.c, the configuration, so that a
 * program that only reads and writes source configs (backy-worker's
 * repository configs) links neither librbd nor libcurl.
 */
#include "source.h"

#include <string.h>

int bk_source_open(struct bk_source *src, const struct bk_source_config *cfg,
		   uint32_t block_size, const char *id, const char *base, bool *use_base,
		   struct bk_err *err)
{
	int r;

	memset(src, 0, sizeof(*src));
	src->cfg = cfg;
	src->block_size = block_size;
	src->ops = cfg->spec.type == BK_SOURCE_FILE ? &bk_source_file_ops : &bk_source_rbd_ops;
	r = src->ops->open(src, cfg, id, base, use_base, err);
	if (r < 0)
		src->ops = NULL; /* open cleaned up after itself */
	return r;
}

void bk_source_close(struct bk_source *src, bool committed)
{
	if (!src->ops)
		return;
	if (src->ops->finish)
		src->ops->finish(src, committed);
	src->ops->close(src);
	src->ops = NULL;
}
