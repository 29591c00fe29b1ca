/* source.c: source configuration and dispatch (see source.h). */
#include "source.h"

#include <stdlib.h>
#include <string.h>

void bk_source_config_release(struct bk_source_config *cfg)
{
	free(cfg->filename);
	memset(cfg, 0, sizeof(*cfg));
}

int bk_source_config_parse(const struct bk_ynode *map, const char *name,
			   struct bk_source_config *cfg, struct bk_err *err)
{
	const char *type, *s;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (!map || map->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: 'source' must be a map with 'type'", name);
	r = bk_ynode_str(bk_ymap_get(map, "type"), name, "source.type", &type, err);
	if (r < 0)
		return r;
	if (strcmp(type, "file") != 0)
		return bk_err_set(err, BK_ECONFIG, "%s: source type '%s' is not supported", name, type);
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], "type") && strcmp(map->keys[i], "filename"))
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: unknown key 'source.%s'",
					  name, map->items[i]->line, map->keys[i]);
	cfg->type = BK_SOURCE_FILE;
	r = bk_ynode_str(bk_ymap_get(map, "filename"), name, "source.filename", &s, err);
	if (r < 0)
		return r;
	if (s[0] != '/')
		return bk_err_set(err, BK_ECONFIG, "%s: 'source.filename' must be an absolute path",
				  name);
	cfg->filename = bk_strdup(s);
	return 0;
}

void bk_source_config_format(const struct bk_source_config *cfg, struct bk_buf *out)
{
	bk_buf_adds(out, "source:\n  type: file\n  filename: ");
	bk_buf_add_quoted(out, cfg->filename);
	bk_buf_adds(out, "\n");
}

const char *bk_source_describe(const struct bk_source_config *cfg)
{
	return cfg->filename;
}

int bk_source_open(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		   const char *base, bool *use_base, struct bk_err *err)
{
	memset(src, 0, sizeof(*src));
	src->cfg = cfg;
	src->ops = &bk_source_file_ops;
	return src->ops->open(src, cfg, id, base, use_base, err);
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
