/* fleet_repo.c: repository directories and configs written by backy-worker (see fleet_repo.h). */
#include "fleet_repo.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The same rule as proto's bk_msg_name_valid, checked again where it becomes a path. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Tags whose retention a repository records (store.h), at most: ~10 KiB of config. */
#define MAX_RECORDED_TAGS 256

/* The store's source type of each enum bk_fleet_source_type (NONE: unused). */
static const enum bk_source_type store_type[] = {BK_SOURCE_FILE, BK_SOURCE_FILE, BK_SOURCE_RBD,
						 BK_SOURCE_FLYINGCIRCUS};

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether the existing source OS is the one SRC names (what is read, not how). */
static bool same_source(const struct bk_source_config *os, const struct bk_fleet_source *src)
{
	if (os->type != store_type[src->type])
		return false;
	if (src->type == BK_FLEET_SOURCE_FILE)
		return str_eq(os->filename, src->filename);
	return str_eq(os->pool, src->pool) && str_eq(os->image, src->image) &&
	       (src->type != BK_FLEET_SOURCE_FLYINGCIRCUS || str_eq(os->vm, src->vm));
}

/*
 * What a job may name (fleet_policy.h): a source this host allows, and for
 * an existing repository only the source it was created with.
 */
static int check_source(const struct bk_fleet_config *wc, const char *job,
			const struct bk_fleet_source *src, const struct bk_repo_config *old,
			struct bk_err *err)
{
	int r;

	if (src->type == BK_FLEET_SOURCE_NONE)
		return 0;
	r = bk_fleet_policy_check(&wc->policy,
				  src->type == BK_FLEET_SOURCE_FILE ? src->filename : NULL, src->pool,
				  src->image, err);
	if (r < 0 || !old || same_source(&old->source, src))
		return r;
	return bk_err_set(err, BK_EDENIED,
			  "repository '%s' backs up '%s' and its source is fixed: a job cannot change it (an operator on this host can, with 'backy init --replace')",
			  job, bk_source_describe(&old->source));
}

static void add_quoted_kv(struct bk_buf *b, const char *key, const char *value)
{
	if (!value || !value[0])
		return;
	bk_buf_addf(b, "  %s: ", key);
	bk_buf_add_quoted(b, value);
	bk_buf_adds(b, "\n");
}

/*
 * The config text for the job (see bk_fleet_repo_prepare) and the mode of its
 * file.  A new schedule never shortens the retention a tag had (store.h).
 */
static int compose_config(const struct bk_fleet_config *wc, const char *job,
			  const struct bk_fleet_source *src, const char *schedule_yaml,
			  const struct bk_repo_config *old, struct bk_buf *out, mode_t *mode,
			  struct bk_err *err)
{
	static const char *const types[] = {"", "file", "rbd", "flyingcircus"};
	const struct bk_source_config *os = old ? &old->source : NULL;
	struct bk_repo_config cfg;
	struct bk_buf y;
	int r;

	bk_buf_init(&y);
	if (src->type != BK_FLEET_SOURCE_NONE) {
		bk_buf_addf(&y, "source:\n  type: %s\n", types[src->type]);
		if (src->type == BK_FLEET_SOURCE_FILE) {
			add_quoted_kv(&y, "filename", src->filename);
		} else {
			bool same = os && os->type == store_type[src->type];

			add_quoted_kv(&y, "pool", src->pool);
			add_quoted_kv(&y, "image", src->image);
			add_quoted_kv(&y, "ceph_conf", wc->ceph_conf);
			add_quoted_kv(&y, "ceph_id", wc->ceph_id);
			if (src->type == BK_FLEET_SOURCE_FLYINGCIRCUS) {
				add_quoted_kv(&y, "vm", src->vm);
				add_quoted_kv(&y, "consul_url", wc->consul_url);
				add_quoted_kv(&y, "consul_acl_token", wc->consul_token);
			}
			if (same) {
				/* the operator's tuning of an existing repository stays */
				if (src->type == BK_FLEET_SOURCE_FLYINGCIRCUS)
					bk_buf_addf(&y,
						    "  consul_initial_wait: %g\n  consul_poll_interval: %g\n  consul_timeout: %g\n",
						    os->consul_initial_wait, os->consul_poll_interval,
						    os->consul_timeout);
				bk_buf_addf(&y,
					    "  verify_percent: %g\n  verify_min_blocks: %llu\n  verify_budget: %g\n  verify_full: %s\n",
					    os->verify_percent, (unsigned long long)os->verify_min_blocks,
					    os->verify_budget, os->verify_full ? "true" : "false");
			}
		}
	} else {
		bk_source_config_format(os, &y);
	}
	if (schedule_yaml) {
		bk_buf_adds(&y, "schedule:\n");
		bk_buf_adds(&y, schedule_yaml);
	} else if (old) {
		bk_buf_adds(&y, "schedule:\n");
		bk_schedule_format_yaml(&old->schedule, 2, &y);
	}
	r = bk_repo_config_parse(y.p, y.len, job, &cfg, err);
	bk_buf_release(&y);
	if (r < 0)
		return r;
	cfg.created = old ? old->created : bk_now();
	if (old) {
		cfg.block_size = old->block_size;
		bk_repo_config_merge_retention(&cfg, old);
	}
	if (cfg.retention.n > MAX_RECORDED_TAGS && cfg.retention.n > (old ? old->retention.n : 0)) {
		/* each new tag is remembered for good: a hostile broker must not grow it forever */
		r = bk_err_set(err, BK_EDENIED,
			       "repository '%s' would record the retention of %zu tags, more than %d: refusing a schedule with new tag names (an operator can remove old ones from 'tag-retention' in its config)",
			       job, cfg.retention.n, MAX_RECORDED_TAGS);
		bk_repo_config_release(&cfg);
		return r;
	}
	bk_repo_config_format(&cfg, out);
	*mode = bk_repo_config_mode(&cfg);
	bk_repo_config_release(&cfg);
	return 0;
}

int bk_fleet_repo_prepare(const struct bk_fleet_config *wc, int basefd, const char *job,
			  const struct bk_fleet_source *src, const char *schedule_yaml, char *path,
			  struct bk_err *err)
{
	struct bk_repo_config old;
	bool have_old = false;
	char real[PATH_MAX];
	struct bk_buf want;
	char *text = NULL;
	size_t len = 0;
	mode_t mode = 0640;
	int fd = -1, r;

	if (!name_ok(job))
		return bk_err_set(err, BK_EPROTO, "invalid job name '%.80s'", job);
	snprintf(path, PATH_MAX, "%s/%s", wc->base_dir, job);
	/* refused before anything is created; the repository's own source is checked below */
	r = check_source(wc, job, src, NULL, err);
	if (r < 0)
		return r;
	if (src->type != BK_FLEET_SOURCE_NONE && mkdirat(basefd, job, 0750) < 0 && errno != EEXIST)
		return bk_err_sys(err, -errno, "unable to create '%s'", path);
	fd = openat(basefd, job, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return bk_err_set(err, BK_ECONFIG,
				  "repository '%s' does not exist on this host and the job has no source",
				  job);
	if (fd < 0)
		return bk_err_sys(err, errno == ELOOP || errno == ENOTDIR ? BK_ECONFIG : -errno,
				  "refusing to use '%s' (a symlink or not a directory)", path);
	if (!realpath(path, real) || strcmp(real, path) != 0) {
		r = bk_err_set(err, BK_ECONFIG, "refusing to use '%s': it does not resolve to itself",
			       path);
		goto out;
	}
	r = bk_fs_read_all(fd, "config", 1 << 20, &text, &len);
	if (r == 0) {
		r = bk_repo_config_parse(text, len, path, &old, err);
		if (r < 0)
			goto out;
		have_old = true;
		r = check_source(wc, job, src, &old, err);
		if (r < 0)
			goto out;
	} else if (r != -ENOENT) {
		r = bk_err_sys(err, r, "unable to read '%s/config'", path);
		goto out;
	} else if (src->type == BK_FLEET_SOURCE_NONE) {
		r = bk_err_set(err, BK_ECONFIG,
			       "repository '%s' has no config and the job has no source", job);
		goto out;
	}
	r = 0;
	if (src->type == BK_FLEET_SOURCE_NONE && !schedule_yaml)
		goto out; /* nothing to change */
	bk_buf_init(&want);
	r = compose_config(wc, job, src, schedule_yaml, have_old ? &old : NULL, &want, &mode, err);
	if (r == 0 && !have_old) {
		struct bk_repo_config cfg;

		r = bk_repo_config_parse(want.p, want.len, path, &cfg, err);
		if (r == 0) {
			r = bk_repo_init(path, &cfg, err);
			bk_repo_config_release(&cfg);
		}
	} else if (r == 0 && (len != want.len || memcmp(text, want.p, len) != 0)) {
		r = bk_fs_write_atomic(fd, "config", want.p, want.len, mode);
		if (r < 0)
			bk_err_sys(err, r, "unable to write '%s/config'", path);
	}
	bk_buf_release(&want);
out:
	if (have_old)
		bk_repo_config_release(&old);
	free(text);
	if (fd >= 0)
		close(fd);
	return r;
}
