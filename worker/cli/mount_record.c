/* mount_record.c: records of `backy mount` in /run/backy/mounts (see mount_record.h). */
#include "mount_record.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "loopdev.h"
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
#include <sys/sysmacros.h>
#include <unistd.h>

#define RECORD_MAX_BYTES (64 << 10)

void mount_record_release(struct mount_record *m)
{
	free(m->dir);
	free(m->repo);
	free(m->rev);
	free(m->type);
	free(m->options);
	memset(m, 0, sizeof(*m));
}

/* Open (creating) /run/backy/mounts. */
static int open_dir(int *dfd, struct bk_err *err)
{
	if (mkdir("/run/backy", 0755) < 0 && errno != EEXIST)
		return bk_err_sys(err, -errno, "unable to create '/run/backy'");
	if (mkdir(MOUNT_RECORD_DIR, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, -errno, "unable to create '%s'", MOUNT_RECORD_DIR);
	*dfd = open(MOUNT_RECORD_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s'", MOUNT_RECORD_DIR);
	return 0;
}

int mount_records_lock(int *fd, struct bk_err *err)
{
	int dfd, r;

	*fd = -1;
	r = open_dir(&dfd, err);
	if (r < 0)
		return r;
	*fd = openat(dfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = *fd < 0 ? -errno : 0;
	close(dfd);
	if (r == 0 && flock(*fd, LOCK_EX) < 0) {
		r = -errno;
		close(*fd);
		*fd = -1;
	}
	return r < 0 ? bk_err_sys(err, r, "unable to lock '%s/.lock'", MOUNT_RECORD_DIR) : 0;
}

int mount_record_write(const struct mount_record *m, struct bk_err *err)
{
	char name[32], when[64];
	struct bk_buf text;
	int dfd, r;

	r = open_dir(&dfd, err);
	if (r < 0)
		return r;
	bk_buf_init(&text);
	bk_buf_adds(&text, "dir: ");
	bk_buf_add_quoted(&text, m->dir);
	bk_buf_adds(&text, "\nrepository: ");
	bk_buf_add_quoted(&text, m->repo);
	bk_buf_adds(&text, "\nrevision: ");
	bk_buf_add_quoted(&text, m->rev);
	bk_buf_adds(&text, "\ntype: ");
	bk_buf_add_quoted(&text, m->type);
	bk_buf_adds(&text, "\noptions: ");
	bk_buf_add_quoted(&text, m->options);
	bk_time_format(m->mounted, when, sizeof(when), BK_TIME_ISO);
	bk_buf_addf(&text,
		    "\nloop: %d\npartition: %d\nimage-dev: %llu\nimage-inode: %llu\nmounted: %s\n",
		    m->loop, m->partition, (unsigned long long)m->dev, (unsigned long long)m->ino,
		    when);
	snprintf(name, sizeof(name), "loop%d", m->loop);
	r = bk_fs_write_atomic(dfd, name, text.p, text.len, 0600);
	bk_buf_release(&text);
	close(dfd);
	return r < 0 ? bk_err_sys(err, r, "unable to write '%s/%s'", MOUNT_RECORD_DIR, name) : 0;
}

int mount_record_remove(int loop, struct bk_err *err)
{
	char name[32];
	int dfd, r;

	r = open_dir(&dfd, err);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "loop%d", loop);
	r = bk_fs_unlink(dfd, name);
	close(dfd);
	return r < 0 ? bk_err_sys(err, r, "unable to remove '%s/%s'", MOUNT_RECORD_DIR, name) : 0;
}

static int get_str(const struct bk_ynode *root, const char *key, const char *name, char **out,
		   struct bk_err *err)
{
	const char *s = NULL;
	int r = bk_ynode_str(bk_ymap_get(root, key), name, key, &s, err);

	if (r == 0)
		*out = bk_strdup(s);
	return r;
}

static int get_int(const struct bk_ynode *root, const char *key, const char *name, int *out,
		   struct bk_err *err)
{
	uint64_t v = 0;
	int r = bk_ynode_u64(bk_ymap_get(root, key), name, key, &v, err);

	if (r == 0 && v > INT_MAX)
		r = bk_err_set(err, BK_ECORRUPT, "%s: '%s' is out of range", name, key);
	*out = (int)v;
	return r;
}

/* Parse the record file NAME (loopN) of DFD into M. */
static int read_record(int dfd, const char *name, struct mount_record *m, struct bk_err *err)
{
	static const char *const known[] = {"dir",         "repository", "revision",  "type",
					    "options",     "loop",       "partition", "image-dev",
					    "image-inode", "mounted",    NULL};
	struct bk_ynode *root = NULL;
	const char *when = NULL;
	char path[sizeof(MOUNT_RECORD_DIR) + 32];
	char *text = NULL;
	size_t len;
	int r;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s", MOUNT_RECORD_DIR, name);
	r = bk_fs_read_all(dfd, name, RECORD_MAX_BYTES, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s'", path);
	r = bk_yaml_parse(text, len, path, &root, err);
	if (r == 0 && !root)
		r = bk_err_set(err, BK_ECORRUPT, "%s: empty", path);
	if (r == 0)
		r = bk_ymap_check_keys(root, known, path, "", err);
	if (r == 0)
		r = get_str(root, "dir", path, &m->dir, err);
	if (r == 0)
		r = get_str(root, "repository", path, &m->repo, err);
	if (r == 0)
		r = get_str(root, "revision", path, &m->rev, err);
	if (r == 0)
		r = get_str(root, "type", path, &m->type, err);
	if (r == 0)
		r = get_str(root, "options", path, &m->options, err);
	if (r == 0)
		r = get_int(root, "loop", path, &m->loop, err);
	if (r == 0)
		r = get_int(root, "partition", path, &m->partition, err);
	if (r == 0)
		r = bk_ynode_u64(bk_ymap_get(root, "image-dev"), path, "image-dev", &m->dev, err);
	if (r == 0)
		r = bk_ynode_u64(bk_ymap_get(root, "image-inode"), path, "image-inode", &m->ino,
				 err);
	if (r == 0)
		r = bk_ynode_str(bk_ymap_get(root, "mounted"), path, "mounted", &when, err);
	if (r == 0 && bk_time_parse(when, &m->mounted) < 0)
		r = bk_err_set(err, BK_ECORRUPT, "%s: 'mounted' is not a time", path);
	snprintf(path, sizeof(path), "loop%d", m->loop);
	if (r == 0 && strcmp(path, name) != 0)
		r = bk_err_set(err, BK_ECORRUPT, "%s/%s: 'loop' is %d", MOUNT_RECORD_DIR, name,
			       m->loop);
	bk_ynode_free(root);
	free(text);
	if (r < 0)
		mount_record_release(m);
	return r < 0 ? BK_ECORRUPT : 0;
}

int mount_point_dev(const char *dir, dev_t *dev)
{
	struct statx stx;

	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -ENOTSUP;
	*dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

bool mount_record_live(const struct mount_record *m)
{
	uint64_t dev, ino;
	dev_t mdev = 0;

	if (loopdev_backing(m->loop, &dev, &ino) < 0 || dev != m->dev || ino != m->ino)
		return false;
	return mount_point_dev(m->dir, &mdev) == 1 && loopdev_index_of(mdev) == m->loop;
}

int mount_record_find(const char *dir, struct mount_record *m, struct bk_err *err)
{
	char name[32];
	dev_t dev;
	int dfd, index, r;

	memset(m, 0, sizeof(*m));
	r = mount_point_dev(dir, &dev);
	if (r < 0 && r != -ENOTSUP)
		return bk_err_sys(err, r, "unable to examine '%s'", dir);
	index = r == 1 ? loopdev_index_of(dev) : -1;
	if (index < 0)
		return -ENOENT;
	r = open_dir(&dfd, err);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "loop%d", index);
	r = read_record(dfd, name, m, err);
	close(dfd);
	if (r == 0 && (strcmp(m->dir, dir) != 0 || !mount_record_live(m))) {
		mount_record_release(m);
		r = -ENOENT;
	}
	return r;
}

static int cmp_dir(const void *a, const void *b)
{
	return strcmp(((const struct mount_record *)a)->dir, ((const struct mount_record *)b)->dir);
}

int mount_record_list(struct mount_record **out, size_t *n, struct bk_err *err)
{
	struct mount_record m;
	struct dirent *de;
	DIR *d;
	int dfd, r;

	*out = NULL;
	*n = 0;
	r = open_dir(&dfd, err);
	if (r < 0)
		return r;
	d = fdopendir(dfd);
	if (!d) {
		r = bk_err_sys(err, -errno, "unable to list '%s'", MOUNT_RECORD_DIR);
		close(dfd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "loop", 4) != 0 ||
		    read_record(dfd, de->d_name, &m, NULL) < 0)
			continue; /* not a record, or one that does not parse: not ours to judge */
		if (!mount_record_live(&m)) {
			bk_fs_unlink(dfd, de->d_name); /* stale (design note 1) */
			mount_record_release(&m);
			continue;
		}
		*out = bk_realloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = m;
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_dir);
	return 0;
}
