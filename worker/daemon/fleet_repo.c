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

/* Tags whose retention a repository records (store.h), at most: ~10 KiB of config. */
#define MAX_RECORDED_TAGS 256

/*
 * An existing repository is backed up only from the source it was created
 * with (fleet_policy.h); changing it takes an operator on this host.
 */
static int check_fixed_source(const char *job, const struct bk_source_spec *src,
			      const struct bk_repo_config *old, struct bk_err *err)
{
	if (src->type == BK_SOURCE_NONE || bk_source_spec_equal(&old->source.spec, src))
		return 0;
	return bk_err_set(err, BK_EDENIED,
			  "repository '%s' backs up '%s' and its source is fixed: a job cannot change it (an operator on this host can, with 'backy init --replace')",
			  job, bk_source_describe(&old->source));
}

static char *local_value(const char *s)
{
	return s && s[0] ? bk_strdup(s) : NULL;
}

/*
 * The source config for the job: SRC plus this host's settings, with the
 * operator's tuning of an existing source of the same type (or the defaults).
 */
static void compose_source(const struct bk_fleet_config *wc, const struct bk_source_spec *src,
			   const struct bk_source_config *os, struct bk_source_config *out)
{
	bk_source_config_init(out);
	bk_source_spec_copy(&out->spec, src);
	if (src->type == BK_SOURCE_FILE)
		return;
	out->ceph_conf = local_value(wc->ceph_conf);
	out->ceph_id = local_value(wc->ceph_id);
	if (src->type == BK_SOURCE_FLYINGCIRCUS) {
		out->consul_url = local_value(wc->consul_url);
		out->consul_token = local_value(wc->consul_token);
	}
	if (os && os->spec.type == src->type) {
		/* the operator's tuning of an existing repository stays */
		out->consul_initial_wait = os->consul_initial_wait;
		out->consul_poll_interval = os->consul_poll_interval;
		out->consul_timeout = os->consul_timeout;
		out->verify_sample = os->verify_sample;
		out->verify_budget = os->verify_budget;
		out->verify_full = os->verify_full;
	}
}

/*
 * The config for the job (see bk_fleet_repo_prepare) into CFG, built from
 * the model and the local settings.  A new schedule never shortens the
 * retention a tag had (store.h).
 */
static int compose_config(const struct bk_fleet_config *wc, const char *job,
			  const struct bk_source_spec *src, const struct bk_schedule *schedule,
			  const struct bk_repo_config *old, struct bk_repo_config *cfg,
			  struct bk_err *err)
{
	int r = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (src->type != BK_SOURCE_NONE)
		compose_source(wc, src, old ? &old->source : NULL, &cfg->source);
	else
		bk_source_config_copy(&cfg->source, &old->source);
	r = bk_source_config_check(&cfg->source, job, err);
	if (r < 0)
		goto fail;
	if (schedule)
		bk_schedule_copy(&cfg->schedule, schedule);
	else if (old)
		bk_schedule_copy(&cfg->schedule, &old->schedule);
	else
		r = bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &cfg->schedule, err);
	if (r < 0)
		goto fail;
	bk_retention_merge_schedule(&cfg->retention, &cfg->schedule);
	cfg->created = old ? old->created : bk_now();
	cfg->adopted = old ? old->adopted : 0; /* Python revisions start chains (store.h) */
	cfg->block_size = old ? old->block_size : BK_DEFAULT_BLOCK_SIZE;
	if (old)
		bk_repo_config_merge_retention(cfg, old);
	if (cfg->retention.n > MAX_RECORDED_TAGS &&
	    cfg->retention.n > (old ? old->retention.n : 0)) {
		/* each new tag is remembered for good: a hostile broker must not grow it forever */
		r = bk_err_set(err, BK_EDENIED,
			       "repository '%s' would record the retention of %zu tags, more than %d: refusing a schedule with new tag names (an operator can remove old ones from 'tag-retention' in its config)",
			       job, cfg->retention.n, MAX_RECORDED_TAGS);
		goto fail;
	}
	return 0;
fail:
	bk_repo_config_release(cfg);
	return r;
}

int bk_fleet_repo_prepare(const struct bk_fleet_config *wc, int basefd, const char *job,
			  const struct bk_source_spec *src, const struct bk_schedule *schedule,
			  char *path, struct bk_err *err)
{
	struct bk_repo_config old, cfg;
	bool have_old = false;
	char real[PATH_MAX];
	struct bk_buf want;
	char *text = NULL;
	size_t len = 0;
	int fd = -1, r;

	if (!bk_name_valid(job))
		return bk_err_set(err, BK_EPROTO, "invalid job name '%.80s'", job);
	snprintf(path, PATH_MAX, "%s/%s", wc->base_dir, job);
	/* refused before anything is created; the repository's own source is checked below */
	r = bk_fleet_policy_check(&wc->policy, src, err);
	if (r < 0)
		return r;
	if (src->type != BK_SOURCE_NONE && mkdirat(basefd, job, 0750) < 0 && errno != EEXIST)
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
	if (r == 0 && bk_repo_config_origin(text, len) == BK_CONFIG_FOREIGN) {
		/* Python backy's: never rewritten by a job (docs/operations.md, section 15) */
		r = bk_err_set(err, BK_ECONFIG,
			       "'%s/config' was not written by backy: take the Python backy repository over on this host first ('backy -b %s adopt' or 'backy import')",
			       path, path);
		goto out;
	}
	if (r == 0) {
		r = bk_repo_config_parse(text, len, path, &old, err);
		if (r < 0)
			goto out;
		have_old = true;
		r = check_fixed_source(job, src, &old, err);
		if (r < 0)
			goto out;
	} else if (r != -ENOENT) {
		r = bk_err_sys(err, r, "unable to read '%s/config'", path);
		goto out;
	} else if (src->type == BK_SOURCE_NONE) {
		r = bk_err_set(err, BK_ECONFIG,
			       "repository '%s' has no config and the job has no source", job);
		goto out;
	}
	r = 0;
	if (src->type == BK_SOURCE_NONE && !schedule)
		goto out; /* nothing to change */
	r = compose_config(wc, job, src, schedule, have_old ? &old : NULL, &cfg, err);
	if (r < 0)
		goto out;
	bk_buf_init(&want);
	bk_repo_config_format(&cfg, &want);
	if (!have_old) {
		r = bk_repo_init(path, &cfg, err);
	} else if (len != want.len || memcmp(text, want.p, len) != 0) {
		r = bk_fs_write_atomic(fd, "config", want.p, want.len, bk_repo_config_mode(&cfg));
		if (r < 0)
			bk_err_sys(err, r, "unable to write '%s/config'", path);
	}
	bk_buf_release(&want);
	bk_repo_config_release(&cfg);
out:
	if (have_old)
		bk_repo_config_release(&old);
	free(text);
	if (fd >= 0)
		close(fd);
	return r;
}
