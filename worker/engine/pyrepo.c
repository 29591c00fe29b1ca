/* pyrepo.c: reading Python backy repositories (see pyrepo.h). */
#include "pyrepo.h"

#include "fs.h"
#include "py_source_keys.h"
#include "ydoc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define REV_MAX_BYTES (64 << 10)

int bk_py_repo_config_parse(const char *buf, size_t len, const char *name,
			    struct bk_repo_config *cfg, struct bk_err *err)
{
	static const char *const keys[] = {"schedule", "source", NULL};
	const struct bk_ynode *src, *sched, *type;
	struct bk_ynode *root = NULL, model;
	struct bk_py_source_opts opts;
	enum bk_source_type t = BK_SOURCE_NONE;
	const char **mkeys = NULL;
	struct bk_ynode **mitems = NULL;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	bk_py_source_opts_init(&opts);
	r = bk_yaml_parse(buf, len, name, &root, err);
	if (r < 0)
		return r;
	src = bk_ymap_get(root, "source");
	if (!root || root->type != BK_Y_MAP || !src || src->type != BK_Y_MAP) {
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: not a Python backy repository config (a YAML map with 'source')",
			       name);
		goto out;
	}
	r = bk_ymap_check_keys(root, keys, name, "", err);
	if (r < 0)
		goto out;
	/* the model and our local keys go to the one reader, Python's own keys are taken here */
	type = bk_ymap_get(src, "type");
	if (type && type->type == BK_Y_SCALAR)
		bk_source_type_parse(type->str, &t);
	model = *src;
	model.n = 0;
	mkeys = bk_calloc(src->n + 1, sizeof(*mkeys));
	mitems = bk_calloc(src->n + 1, sizeof(*mitems));
	model.keys = (char **)mkeys;
	model.items = mitems;
	for (size_t i = 0; i < src->n; i++) {
		r = t == BK_SOURCE_NONE ? 1
					: bk_py_source_key(t, src->keys[i], src->items[i], name, NULL,
							   &opts, err);
		if (r < 0)
			goto out;
		if (r == 1) {
			mkeys[model.n] = src->keys[i];
			mitems[model.n++] = src->items[i];
		}
	}
	r = bk_source_config_parse(&model, name, &cfg->source, err);
	if (r < 0)
		goto out;
	cfg->source.verify_full |= opts.full_always;
	sched = bk_ymap_get(root, "schedule");
	if (bk_ynode_is_null(sched))
		r = bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &cfg->schedule, err);
	else
		r = bk_schedule_from_yaml(sched, name, &cfg->schedule, err);
	if (r < 0)
		goto out;
	bk_retention_merge_schedule(&cfg->retention, &cfg->schedule);
	cfg->block_size = BK_DEFAULT_BLOCK_SIZE;
out:
	free(mkeys);
	free(mitems);
	bk_ynode_free(root);
	if (r < 0)
		bk_repo_config_release(cfg);
	return r;
}

int bk_py_repo_open(struct bk_repo *repo, const char *dir, struct bk_err *err)
{
	char *text = NULL;
	size_t len;
	bool ours;
	int dirfd, r;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return bk_err_sys(err, -errno, "unable to open repository '%s'", dir);
	r = bk_fs_read_all(dirfd, "config", BK_YAML_MAX_BYTES, &text, &len);
	close(dirfd);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s/config'", dir);
	ours = bk_repo_config_origin(text, len) == BK_CONFIG_OURS;
	free(text);
	if (ours)
		return bk_err_set(err, BK_ECONFIG,
				  "'%s' has a backy config already: it is adopted or was never Python backy's",
				  dir);
	return bk_repo_open_as(repo, dir, bk_py_repo_config_parse, err);
}

int bk_py_rev_backend(const struct bk_repo *repo, size_t idx, enum bk_py_backend *out,
		      struct bk_err *err)
{
	const struct bk_ynode *n;
	struct bk_ynode *root = NULL;
	char name[BK_ID_MAX + 8];
	char *text = NULL;
	size_t len;
	int r;

	snprintf(name, sizeof(name), "%s.rev", repo->revs[idx].id);
	r = bk_fs_read_all(repo->dirfd, name, REV_MAX_BYTES, &text, &len);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s/%s'", repo->path, name);
	r = bk_yaml_parse(text, len, name, &root, err);
	free(text);
	if (r < 0)
		return r;
	n = bk_ymap_get(root, "backend_type");
	*out = BK_PY_COWFILE; /* what Python assumes when the key is missing */
	if (!bk_ynode_is_null(n) && n->type == BK_Y_SCALAR && !strcmp(n->str, "chunked"))
		*out = BK_PY_CHUNKED;
	else if (!bk_ynode_is_null(n) && (n->type != BK_Y_SCALAR || strcmp(n->str, "cowfile")))
		r = bk_err_set(err, BK_ECORRUPT, "%s/%s: 'backend_type' is neither chunked nor cowfile",
			       repo->path, name);
	bk_ynode_free(root);
	return r;
}

int bk_py_repo_lock(const struct bk_repo *repo, bool exclusive, int *fd, struct bk_err *err)
{
	int e;

	*fd = openat(repo->dirfd, ".backup", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? 0 : bk_err_sys(err, -errno, "unable to open '%s/.backup'", repo->path);
	if (flock(*fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
		return 0;
	e = errno;
	close(*fd);
	*fd = -1;
	errno = e;
	if (e == EWOULDBLOCK)
		return bk_err_set(err, BK_ELOCKED,
				  "repository '%s' is busy: Python backy holds '.backup' (stop its daemon first)",
				  repo->path);
	return bk_err_sys(err, -errno, "unable to lock '%s/.backup'", repo->path);
}
