/* loopdev.c: read-only loop devices through the loop ioctls (see loopdev.h). */
#include "loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Another process may take the free device between GET_FREE and CONFIGURE: try again. */
#define ATTACH_TRIES 16

static void set_path(struct loopdev *ld, int index)
{
	ld->index = index;
	snprintf(ld->path, sizeof(ld->path), "/dev/loop%d", index);
}

int loopdev_attach(int file_fd, uint64_t offset, uint64_t size, const char *name,
		   struct loopdev *ld, struct bk_err *err)
{
	struct loop_config cfg;
	int ctl, index, r = -EBUSY;

	ld->fd = -1;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return bk_err_sys(err, -errno, "unable to open '/dev/loop-control'");
	for (int i = 0; i < ATTACH_TRIES && r == -EBUSY; i++) {
		index = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (index < 0) {
			r = bk_err_sys(err, -errno, "no free loop device");
			break;
		}
		set_path(ld, index);
		ld->fd = open(ld->path, O_RDWR | O_CLOEXEC);
		if (ld->fd < 0) {
			r = -errno;
			if (r != -ENOENT) /* a device node that udev has not made yet: next */
				break;
			r = -EBUSY;
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)file_fd;
		cfg.info.lo_offset = offset;
		cfg.info.lo_sizelimit = size;
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", name);
		r = ioctl(ld->fd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
		if (r < 0) {
			close(ld->fd);
			ld->fd = -1;
		}
	}
	close(ctl);
	if (r < 0 && !(err && err->code))
		bk_err_sys(err, r, "unable to attach a loop device to '%s'", name);
	return r;
}

void loopdev_close(struct loopdev *ld)
{
	if (ld->fd >= 0)
		close(ld->fd);
	ld->fd = -1;
}

/* LOOP_GET_STATUS64 on the open device FD: 0, -ENXIO when unbound, or -errno. */
static int status_of(int fd, uint64_t *dev, uint64_t *ino)
{
	struct loop_info64 info;

	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return -errno;
	*dev = info.lo_device;
	*ino = info.lo_inode;
	return 0;
}

static int open_index(int index)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/loop%d", index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? (errno == ENOENT ? -ENXIO : -errno) : fd;
}

int loopdev_backing(int index, uint64_t *dev, uint64_t *ino)
{
	int fd = open_index(index), r;

	if (fd < 0)
		return fd;
	r = status_of(fd, dev, ino);
	close(fd);
	return r;
}

int loopdev_detach(int index, uint64_t dev, uint64_t ino, struct bk_err *err)
{
	uint64_t d, i;
	int fd = open_index(index), r;

	if (fd == -ENXIO)
		return 0;
	if (fd < 0)
		return bk_err_sys(err, fd, "unable to open '/dev/loop%d'", index);
	/* while we hold it open, nobody can rebind it: checking, then clearing is safe */
	r = status_of(fd, &d, &i);
	if (r == 0 && d == dev && i == ino && ioctl(fd, LOOP_CLR_FD) < 0)
		r = -errno;
	close(fd);
	if (r == -ENXIO)
		r = 0;
	return r < 0 ? bk_err_sys(err, r, "unable to detach '/dev/loop%d'", index) : 0;
}

int loopdev_index_of(dev_t dev)
{
	char link[64], target[PATH_MAX], *base, *end;
	ssize_t n;
	long index;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(base, "loop", 4) != 0 || base[4] < '0' || base[4] > '9')
		return -1;
	errno = 0;
	index = strtol(base + 4, &end, 10);
	if (errno || *end || index > INT_MAX)
		return -1;
	return (int)index;
}
