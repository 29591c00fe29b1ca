/* fs.c: explicit-offset I/O, reflinks, holes and atomic publication (see fs.h). */
#include "fs.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int bk_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	*got = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int bk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int bk_fs_clone(int src, int dst)
{
	if (ioctl(dst, FICLONE, src) < 0)
		return -errno;
	return 0;
}

int bk_fs_copy(int src, int dst, uint64_t size)
{
	enum { CHUNK = 4 << 20 };
	char *buf = NULL;
	off_t data, hole;
	int r = 0;

	if (ftruncate(dst, (off_t)size) < 0)
		return -errno;
	buf = bk_malloc(CHUNK);
	for (off_t pos = 0; (uint64_t)pos < size; pos = hole) {
		data = lseek(src, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			r = -errno;
			goto out;
		}
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0) {
			r = -errno;
			goto out;
		}
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		for (off_t o = data; o < hole;) {
			size_t want = (size_t)(hole - o) < CHUNK ? (size_t)(hole - o) : CHUNK;
			size_t got;

			r = bk_pread_full(src, buf, want, (uint64_t)o, &got);
			if (r < 0)
				goto out;
			if (got != want) {
				r = -EIO;
				goto out;
			}
			r = bk_pwrite_full(dst, buf, got, (uint64_t)o);
			if (r < 0)
				goto out;
			o += (off_t)got;
		}
	}
out:
	free(buf);
	return r;
}

int bk_fs_clone_or_copy(int src, int dst, uint64_t size, bool *copied)
{
	int r = bk_fs_clone(src, dst);

	*copied = r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL || r == -ENOTTY;
	return *copied ? bk_fs_copy(src, dst, size) : r;
}

int bk_fs_extents(int fd, uint64_t off, uint64_t len, unsigned max)
{
	struct fiemap *fm = bk_calloc(1, sizeof(*fm) + (size_t)max * sizeof(struct fiemap_extent));
	int r;

	fm->fm_start = off;
	fm->fm_length = len;
	fm->fm_extent_count = max;
	r = ioctl(fd, FS_IOC_FIEMAP, fm) < 0 ? -errno : (int)fm->fm_mapped_extents;
	free(fm);
	return r;
}

int bk_fs_punch(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static void *sync_thread(void *arg)
{
	struct bk_fs_sync *s = arg;

	s->r = fdatasync(s->fd) < 0 ? -errno : 0;
	return NULL;
}

void bk_fs_sync_start(struct bk_fs_sync *s, int fd)
{
	s->fd = fd;
	s->r = 0;
	s->threaded = pthread_create(&s->thread, NULL, sync_thread, s) == 0;
	if (!s->threaded)
		sync_thread(s);
}

int bk_fs_sync_wait(struct bk_fs_sync *s)
{
	if (s->threaded)
		pthread_join(s->thread, NULL);
	s->threaded = false;
	return s->r;
}

int bk_fs_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int bk_fs_open_parent(const char *path, int *dirfd, const char **base)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	if (!slash) {
		*dirfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*base = path;
	} else {
		dir = slash == path ? bk_strdup("/") : bk_strndup(path, (size_t)(slash - path));
		*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(dir);
		*base = slash + 1;
	}
	return *dirfd < 0 ? -errno : 0;
}

int bk_fs_unlink(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int bk_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[512];
	int fd = -1;
	int r;

	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	/* a fresh file: never through a link someone left under the temporary name */
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = bk_pwrite_full(fd, data, len, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return bk_fs_fsync_dir(dirfd);
}

int bk_fs_symlink_atomic(int dirfd, const char *target, const char *name)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
	unlinkat(dirfd, tmp, 0);
	if (symlinkat(target, dirfd, tmp) < 0)
		return -errno;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int r = -errno;

		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return bk_fs_fsync_dir(dirfd);
}

int bk_fs_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	buf = bk_malloc((size_t)st.st_size + 1);
	r = bk_pread_full(fd, buf, (size_t)st.st_size, 0, &got);
	if (r < 0)
		goto out;
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}
