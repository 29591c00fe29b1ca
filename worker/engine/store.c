/* store.c: repository directories, revisions and the writer lock (see store.h). */
#include "store.h"

#include "clock.h"
#include "fs.h"
#include "manifest.h"
#include "ydoc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define REV_MAX_BYTES (64 << 10)

void bk_repo_config_release(struct bk_repo_config *cfg)
{
	bk_source_config_release(&cfg->source);
	bk_schedule_release(&cfg->schedule);
	bk_retention_release(&cfg->retention);
	memset(cfg, 0, sizeof(*cfg));
}

int bk_repo_config_parse(const char *buf, size_t len, const char *name,
			 struct bk_repo_config *cfg, struct bk_err *err)
{
	static const char *const known[] = {"source",	  "schedule", "tag-retention",
					    "block-size", "created",  "adopted"};
	struct bk_ynode *root = NULL;
	const struct bk_ynode *n;
	const char *s;
	uint64_t u;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->block_size = BK_DEFAULT_BLOCK_SIZE;
	r = bk_yaml_parse(buf, len, name, &root, err);
	if (r < 0)
		return r;
	if (!root || root->type != BK_Y_MAP) {
		r = bk_err_set(err, BK_ECONFIG, "%s: not a YAML map", name);
		goto out;
	}
	for (size_t i = 0; i < root->n; i++) {
		bool ok = false;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= strcmp(root->keys[i], known[k]) == 0;
		if (!ok) {
			r = bk_err_set(err, BK_ECONFIG, "%s: line %d: unknown key '%s'", name,
				       root->items[i]->line, root->keys[i]);
			goto out;
		}
	}
	r = bk_source_config_parse(bk_ymap_get(root, "source"), name, &cfg->source, err);
	if (r < 0)
		goto out;

	n = bk_ymap_get(root, "schedule");
	if (bk_ynode_is_null(n))
		r = bk_schedule_parse_spec(BK_DEFAULT_SCHEDULE, &cfg->schedule, err);
	else
		r = bk_schedule_from_yaml(n, name, &cfg->schedule, err);
	if (r < 0)
		goto out;
	n = bk_ymap_get(root, "tag-retention");
	if (!bk_ynode_is_null(n)) {
		r = bk_retention_from_yaml(n, name, &cfg->retention, err);
		if (r < 0)
			goto out;
	}
	/* repositories from before the record: the schedule is all they promised */
	bk_retention_merge_schedule(&cfg->retention, &cfg->schedule);

	n = bk_ymap_get(root, "block-size");
	if (n) {
		r = bk_ynode_u64(n, name, "block-size", &u, err);
		if (r < 0)
			goto out;
		if (bk_manifest_check_block_size(u) < 0) {
			r = bk_err_set(err, BK_ECONFIG,
				       "%s: 'block-size' must be a power of two from 4096 to 4194304",
				       name);
			goto out;
		}
		cfg->block_size = (uint32_t)u;
	}
	n = bk_ymap_get(root, "created");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "created", &s, err);
		if (r < 0)
			goto out;
		if (bk_time_parse(s, &cfg->created) < 0) {
			r = bk_err_set(err, BK_ECONFIG, "%s: 'created' is not an ISO 8601 time", name);
			goto out;
		}
	}
	n = bk_ymap_get(root, "adopted");
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_str(n, name, "adopted", &s, err);
		if (r < 0)
			goto out;
		if (bk_time_parse(s, &cfg->adopted) < 0) {
			r = bk_err_set(err, BK_ECONFIG, "%s: 'adopted' is not an ISO 8601 time", name);
			goto out;
		}
	}
	r = 0;
out:
	bk_ynode_free(root);
	if (r < 0)
		bk_repo_config_release(cfg);
	return r;
}

void bk_repo_config_format(const struct bk_repo_config *cfg, struct bk_buf *out)
{
	struct bk_retention rec = {NULL, 0};
	char when[64];

	bk_source_config_format(&cfg->source, out);
	bk_buf_adds(out, "schedule:\n");
	bk_schedule_format_yaml(&cfg->schedule, 2, out);
	bk_retention_merge(&rec, &cfg->retention);
	bk_retention_merge_schedule(&rec, &cfg->schedule);
	bk_buf_adds(out, "tag-retention: ");
	bk_retention_format_yaml(&rec, out);
	bk_buf_adds(out, "\n");
	bk_retention_release(&rec);
	bk_buf_addf(out, "block-size: %u\n", cfg->block_size);
	bk_time_format(cfg->created, when, sizeof(when), BK_TIME_ISO);
	bk_buf_addf(out, "created: %s\n", when);
	if (cfg->adopted) {
		bk_time_format(cfg->adopted, when, sizeof(when), BK_TIME_ISO);
		bk_buf_addf(out, "adopted: %s\n", when);
	}
}

void bk_repo_config_merge_retention(struct bk_repo_config *cfg, const struct bk_repo_config *old)
{
	bk_retention_merge(&cfg->retention, &old->retention);
	bk_retention_merge_schedule(&cfg->retention, &old->schedule);
	bk_retention_merge_schedule(&cfg->retention, &cfg->schedule);
}

mode_t bk_repo_config_mode(const struct bk_repo_config *cfg)
{
	/* the token lets whoever reads it freeze the VM's guest through Consul */
	if (cfg->source.consul_token && cfg->source.consul_token[0])
		return 0600;
	return 0640;
}

int bk_repo_init(const char *dir, const struct bk_repo_config *cfg, struct bk_err *err)
{
	struct bk_buf text;
	int dirfd, r;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return bk_err_sys(err, -errno, "unable to create '%s'", dir);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s'", dir);
	if (faccessat(dirfd, "config", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		close(dirfd);
		return bk_err_set(err, BK_EUSAGE, "'%s/config' exists already: refusing to overwrite it",
				  dir);
	}
	bk_buf_init(&text);
	bk_repo_config_format(cfg, &text);
	r = bk_fs_write_atomic(dirfd, "config", text.p, text.len, bk_repo_config_mode(cfg));
	if (r < 0)
		bk_err_sys(err, r, "unable to write '%s/config'", dir);
	bk_buf_release(&text);
	close(dirfd);
	return r;
}

int bk_repo_save_config(struct bk_repo *repo, const struct bk_repo_config *cfg, struct bk_err *err)
{
	struct bk_buf text;
	int r;

	if (repo->lockfd < 0)
		return bk_err_set(err, BK_EUSAGE, "'%s': changing the config needs the lock", repo->path);
	bk_buf_init(&text);
	bk_repo_config_format(cfg, &text);
	r = bk_fs_write_atomic(repo->dirfd, "config", text.p, text.len, bk_repo_config_mode(cfg));
	if (r < 0)
		bk_err_sys(err, r, "unable to write '%s/config'", repo->path);
	bk_buf_release(&text);
	return r;
}

static void free_revs(struct bk_repo *repo)
{
	for (size_t i = 0; i < repo->n; i++)
		bk_rev_release(&repo->revs[i]);
	free(repo->revs);
	repo->revs = NULL;
	repo->n = 0;
}

void bk_repo_close(struct bk_repo *repo)
{
	free_revs(repo);
	bk_repo_config_release(&repo->cfg);
	if (repo->dirfd >= 0)
		close(repo->dirfd);
	if (repo->lockfd >= 0)
		close(repo->lockfd);
	free(repo->path);
	free(repo->name);
	memset(repo, 0, sizeof(*repo));
	repo->dirfd = -1;
	repo->lockfd = -1;
}

enum bk_config_origin bk_repo_config_origin(const char *text, size_t len)
{
	static const char *const ours[] = {"block-size", "created", "tag-retention", "adopted"};
	enum bk_config_origin origin = BK_CONFIG_FOREIGN;
	struct bk_ynode *root = NULL;

	if (bk_yaml_parse(text, len, "config", &root, NULL) < 0 || !root || root->type != BK_Y_MAP)
		origin = BK_CONFIG_UNREADABLE;
	for (size_t i = 0; origin == BK_CONFIG_FOREIGN && i < sizeof(ours) / sizeof(ours[0]); i++)
		if (bk_ymap_get(root, ours[i]))
			origin = BK_CONFIG_OURS;
	bk_ynode_free(root);
	return origin;
}

int bk_repo_open(struct bk_repo *repo, const char *dir, struct bk_err *err)
{
	return bk_repo_open_as(repo, dir, bk_repo_config_parse, err);
}

int bk_repo_open_as(struct bk_repo *repo, const char *dir, bk_repo_config_parser parse,
		    struct bk_err *err)
{
	char real[PATH_MAX];
	char *text = NULL;
	const char *base;
	struct stat st;
	size_t len;
	int r;

	memset(repo, 0, sizeof(*repo));
	repo->dirfd = -1;
	repo->lockfd = -1;
	repo->path = bk_strdup(dir);
	if (!realpath(dir, real)) {
		r = bk_err_sys(err, -errno, "unable to open repository '%s'", dir);
		goto fail;
	}
	base = strrchr(real, '/');
	repo->name = bk_strdup(base && base[1] ? base + 1 : real);
	repo->dirfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (repo->dirfd < 0) {
		r = bk_err_sys(err, -errno, "unable to open repository '%s'", dir);
		goto fail;
	}
	r = bk_fs_read_all(repo->dirfd, "config", BK_YAML_MAX_BYTES, &text, &len);
	if (r == -ENOENT) {
		r = bk_err_set(err, BK_ECONFIG, "'%s' is not a backy repository (no config): run 'backy init' first",
			       dir);
		goto fail;
	}
	if (r < 0) {
		r = bk_err_sys(err, r, "unable to read '%s/config'", dir);
		goto fail;
	}
	if (parse == bk_repo_config_parse &&
	    bk_repo_config_origin(text, len) == BK_CONFIG_FOREIGN) {
		r = bk_err_set(err, BK_ECONFIG,
			       "'%s/config' was not written by backy (it has no 'block-size' or 'created'): a Python backy repository is taken over with 'backy -b %s adopt' (raw images) or converted with 'backy -b NEWDIR import %s' (chunked)",
			       dir, dir, dir);
		goto fail;
	}
	r = parse(text, len, "config", &repo->cfg, err);
	if (r < 0)
		goto fail;
	if (!repo->cfg.created && fstatat(repo->dirfd, "config", &st, 0) == 0)
		repo->cfg.created = (int64_t)st.st_mtime * BK_USEC;
	r = bk_repo_load(repo, err);
	if (r < 0)
		goto fail;
	free(text);
	return 0;
fail:
	free(text);
	bk_repo_close(repo);
	return r;
}

static int rev_cmp(const void *a, const void *b)
{
	const struct bk_rev *x = a, *y = b;

	if (x->timestamp != y->timestamp)
		return x->timestamp < y->timestamp ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* If NAME is "<id><suffix>" with a valid id, copy the id to ID. */
static bool split_name(const char *name, const char *suffix, char id[BK_ID_MAX + 1])
{
	size_t n = strlen(name), s = strlen(suffix);

	if (n <= s || n - s > BK_ID_MAX || strcmp(name + n - s, suffix) != 0)
		return false;
	memcpy(id, name, n - s);
	id[n - s] = '\0';
	return bk_id_valid(id);
}

/* Start listing the repository directory. */
static int open_listing(const struct bk_repo *repo, DIR **d, struct bk_err *err)
{
	int fd = openat(repo->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && (*d = fdopendir(fd)))
		return 0;
	if (fd >= 0)
		close(fd);
	return bk_err_sys(err, -errno, "unable to list '%s'", repo->path);
}

int bk_repo_load(struct bk_repo *repo, struct bk_err *err)
{
	char id[BK_ID_MAX + 1];
	struct dirent *de;
	DIR *d = NULL;
	int r;

	free_revs(repo);
	r = open_listing(repo, &d, err);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		char *text = NULL;
		struct bk_rev rev;
		size_t len;

		if (!split_name(de->d_name, ".rev", id))
			continue;
		r = bk_fs_read_all(repo->dirfd, de->d_name, REV_MAX_BYTES, &text, &len);
		if (r < 0) {
			bk_err_sys(err, r, "unable to read '%s/%s'", repo->path, de->d_name);
			break;
		}
		r = bk_rev_parse(text, len, de->d_name, &rev, err);
		free(text);
		if (r < 0)
			break;
		if (strcmp(rev.id, id) != 0) {
			r = bk_err_set(err, BK_ECORRUPT, "%s: 'uuid' is '%s', not '%s'", de->d_name,
				       rev.id, id);
			bk_rev_release(&rev);
			break;
		}
		repo->revs = bk_realloc(repo->revs, (repo->n + 1) * sizeof(*repo->revs));
		repo->revs[repo->n++] = rev;
	}
	closedir(d);
	if (r < 0) {
		if (err && err->code)
			err->code = r;
		free_revs(repo);
		return r;
	}
	if (repo->n)
		qsort(repo->revs, repo->n, sizeof(*repo->revs), rev_cmp);
	return 0;
}

int bk_repo_lock(struct bk_repo *repo, struct bk_err *err)
{
	int fd;

	if (repo->lockfd >= 0)
		return 0;
	fd = openat(repo->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s/.lock'", repo->path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return bk_err_set(err, BK_ELOCKED,
					  "repository '%s' is busy: a backup or other change is already in progress",
					  repo->path);
		return bk_err_sys(err, -e, "unable to lock '%s/.lock'", repo->path);
	}
	repo->lockfd = fd;
	return 0;
}

static bool has_rev(const struct bk_repo *repo, const char *id)
{
	for (size_t i = 0; i < repo->n; i++)
		if (strcmp(repo->revs[i].id, id) == 0)
			return true;
	return false;
}

/* Whether NAME is an image, manifest or report of a revision id backy generates. */
static bool data_file_id(const char *name, char id[BK_ID_MAX + 1])
{
	if (split_name(name, ".sums", id))
		return bk_id_generated(id);
	if (!bk_id_generated(name))
		return false;
	memcpy(id, name, strlen(name) + 1);
	return true;
}

int bk_repo_cleanup(struct bk_repo *repo, struct bk_err *err)
{
	char id[BK_ID_MAX + 1];
	struct dirent *de;
	DIR *d;
	int count = 0, r = 0;

	r = open_listing(repo, &d, err);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		bool junk = strncmp(name, ".new-", 5) == 0 || strncmp(name, ".tmp-", 5) == 0;

		/* data files whose revision was never committed (see design note 1) */
		if (!junk && data_file_id(name, id))
			junk = !has_rev(repo, id);
		if (!junk || (de->d_type != DT_REG && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN))
			continue; /* never a directory or device somebody put there */
		r = bk_fs_unlink(repo->dirfd, name);
		if (r < 0) {
			bk_err_sys(err, r, "unable to remove leftover '%s/%s'", repo->path, name);
			break;
		}
		count++;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (count)
		bk_fs_fsync_dir(repo->dirfd);
	return count;
}

long bk_repo_newest(const struct bk_repo *repo)
{
	for (size_t i = repo->n; i-- > 0;)
		if (repo->revs[i].complete)
			return (long)i;
	return -1;
}

int bk_repo_save_rev(struct bk_repo *repo, const struct bk_rev *rev, struct bk_err *err)
{
	char name[BK_ID_MAX + 8];
	struct bk_buf text;
	int r;

	snprintf(name, sizeof(name), "%s.rev", rev->id);
	bk_buf_init(&text);
	bk_rev_format(rev, &text);
	r = bk_fs_write_atomic(repo->dirfd, name, text.p, text.len, 0440);
	bk_buf_release(&text);
	if (r < 0)
		return bk_err_sys(err, r, "unable to write '%s/%s'", repo->path, name);
	for (size_t i = 0; i < repo->n; i++)
		if (strcmp(repo->revs[i].id, rev->id) == 0 && &repo->revs[i] != rev)
			bk_rev_copy(&repo->revs[i], rev);
	return 0;
}

void bk_repo_add_rev(struct bk_repo *repo, const struct bk_rev *rev)
{
	repo->revs = bk_realloc(repo->revs, (repo->n + 1) * sizeof(*repo->revs));
	bk_rev_init(&repo->revs[repo->n]);
	bk_rev_copy(&repo->revs[repo->n], rev);
	repo->n++;
	qsort(repo->revs, repo->n, sizeof(*repo->revs), rev_cmp);
}

/*
 * Open the image of revision IDX read-only and try flock OP on it (design
 * note 4): 0 with *FD open and locked, -EWOULDBLOCK when the lock is held
 * elsewhere (*FD closed), or -errno (-ENOENT: no image).
 */
static int lock_image(const struct bk_repo *repo, size_t idx, int op, int *fd)
{
	int r = 0;

	*fd = openat(repo->dirfd, repo->revs[idx].id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	if (flock(*fd, op | LOCK_NB) < 0)
		r = -errno;
	if (r < 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

int bk_repo_hold_rev(const struct bk_repo *repo, size_t idx, int *fd, struct bk_err *err)
{
	const char *id = repo->revs[idx].id;
	char name[BK_ID_MAX + 8];
	struct stat st;
	int r;

	r = lock_image(repo, idx, LOCK_SH, fd);
	if (r == -EWOULDBLOCK)
		return bk_err_set(err, BK_ELOCKED, "revision %s of '%s' is being deleted", id,
				  repo->path);
	if (r == -ENOENT)
		return bk_err_set(err, BK_ENOREV, "revision %s of '%s' has no image", id, repo->path);
	if (r < 0)
		return bk_err_sys(err, r, "unable to open '%s/%s'", repo->path, id);
	/* deletion unlinks the .rev under the exclusive lock: if it is gone, so is the revision */
	snprintf(name, sizeof(name), "%s.rev", id);
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink == 0 ||
	    faccessat(repo->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		close(*fd);
		*fd = -1;
		return bk_err_set(err, BK_ENOREV, "revision %s of '%s' no longer exists", id,
				  repo->path);
	}
	return 0;
}

static int held_error(const struct bk_repo *repo, size_t idx, struct bk_err *err)
{
	return bk_err_set(err, BK_ELOCKED,
			  "revision %s of '%s' is mounted: 'backy umount' it first ('backy mount --list' shows where)",
			  repo->revs[idx].id, repo->path);
}

int bk_repo_rev_held(const struct bk_repo *repo, size_t idx, struct bk_err *err)
{
	int fd, r;

	r = lock_image(repo, idx, LOCK_EX, &fd);
	if (r == 0)
		close(fd);
	return r == -EWOULDBLOCK ? held_error(repo, idx, err) : 0;
}

int bk_repo_remove_rev(struct bk_repo *repo, size_t idx, struct bk_err *err)
{
	static const char *const suffixes[] = {".rev", "", ".sums"};
	char name[BK_ID_MAX + 16];
	int fd, r;

	/* exclusive until the image is gone, so nobody takes a hold half way (design note 4) */
	r = lock_image(repo, idx, LOCK_EX, &fd);
	if (r == -EWOULDBLOCK)
		return held_error(repo, idx, err);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", repo->revs[idx].id, suffixes[i]);
		r = bk_fs_unlink(repo->dirfd, name);
		if (r < 0) {
			bk_err_sys(err, r, "unable to remove '%s/%s'", repo->path, name);
			goto out;
		}
		if (i == 0) {
			/* the revision is gone once its .rev is: make that durable first */
			r = bk_fs_fsync_dir(repo->dirfd);
			if (r < 0) {
				bk_err_sys(err, r, "unable to sync '%s'", repo->path);
				goto out;
			}
		}
	}
	bk_rev_release(&repo->revs[idx]);
	memmove(repo->revs + idx, repo->revs + idx + 1, (repo->n - idx - 1) * sizeof(*repo->revs));
	repo->n--;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int bk_repo_update_latest(struct bk_repo *repo, struct bk_err *err)
{
	long newest = bk_repo_newest(repo);
	int r;

	if (newest < 0)
		r = bk_fs_unlink(repo->dirfd, "latest");
	else
		r = bk_fs_symlink_atomic(repo->dirfd, repo->revs[newest].id, "latest");
	if (r < 0)
		return bk_err_sys(err, r, "unable to update '%s/latest'", repo->path);
	return 0;
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether T is the inode of an entry of REPO's directory, or of what a symlink there names. */
static bool repo_has_inode(const struct bk_repo *repo, const struct stat *t)
{
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (open_listing(repo, &d, NULL) < 0)
		return false;
	while (!found && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		found = (fstatat(repo->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			 same_inode(&st, t)) ||
			(fstatat(repo->dirfd, de->d_name, &st, 0) == 0 && same_inode(&st, t));
	}
	closedir(d);
	return found;
}

/* Whether the directory DIR is REPO's directory or lies below it (after resolving links). */
static bool repo_contains_dir(const struct bk_repo *repo, const char *dir)
{
	char real[PATH_MAX];
	struct stat rs, st;
	char *slash;

	if (fstat(repo->dirfd, &rs) < 0 || !realpath(dir, real))
		return false;
	for (;;) {
		if (stat(real, &st) == 0 && same_inode(&st, &rs))
			return true;
		slash = strrchr(real, '/');
		if (!slash || slash == real)
			return false;
		*slash = '\0';
	}
}

int bk_repo_check_target(const struct bk_repo *repo, const char *path, int fd, struct bk_err *err)
{
	const char *shown = path ? path : "-";
	char real[PATH_MAX];
	struct stat st;
	char *dir, *slash;
	bool inside;

	if ((fd >= 0 && fstat(fd, &st) == 0 && repo_has_inode(repo, &st)) ||
	    (path && stat(path, &st) == 0 && repo_has_inode(repo, &st)))
		return bk_err_set(err, BK_EUSAGE,
				  "target '%s' is a file of this repository: refusing to overwrite it",
				  shown);
	if (!path)
		return 0;
	/* the directory the data lands in: the resolved target's, or the new file's */
	if (realpath(path, real))
		dir = bk_strdup(real);
	else
		dir = bk_strdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	inside = repo_contains_dir(repo, !slash ? "." : slash == dir ? "/" : dir);
	free(dir);
	if (inside)
		return bk_err_set(err, BK_EUSAGE,
				  "target '%s' is inside this repository: refusing to write there",
				  shown);
	return 0;
}

int bk_repo_check_tag(const struct bk_repo *repo, const char *tag, bool force, struct bk_err *err)
{
	if (!bk_tag_valid(tag))
		return bk_err_set(err, BK_ETAG,
				  "invalid tag '%s': use letters, digits, '_', '-', '.' and ':'", tag);
	if (force || strncmp(tag, "manual:", 7) == 0 || bk_schedule_find(&repo->cfg.schedule, tag))
		return 0;
	return bk_err_set(err, BK_ETAG,
			  "tag '%s' is not in the schedule: prefix it with 'manual:' or use --force",
			  tag);
}
