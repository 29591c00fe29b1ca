/*
 * loopdev.h: read-only loop devices over a byte range of a file, through
 * the loop ioctls (LOOP_CTL_GET_FREE, LOOP_CONFIGURE), for `backy mount`.
 *
 * A device is attached with LO_FLAGS_READ_ONLY and LO_FLAGS_AUTOCLEAR: it
 * never writes to its file, and it detaches itself when its last user
 * closes it (the attaching process while it sets up, then the mount), so a
 * run that dies half way leaves no device behind.  The device keeps the
 * open file it was given (and with it any flock on that file) until it
 * detaches.
 *
 * Partitions are not scanned by the kernel (its partition parsers are a
 * build option and may be missing): the caller finds them (disk_probe.h)
 * and attaches exactly the bytes of one, by OFFSET and SIZE.
 */
#ifndef BK_LOOPDEV_H
#define BK_LOOPDEV_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct loopdev {
	int fd;        /* the open device, -1 when closed */
	int index;     /* N of /dev/loopN */
	char path[32]; /* /dev/loopN */
};

/*
 * Attach a free loop device to [OFFSET, OFFSET + SIZE) of FILE_FD,
 * read-only and autoclear; NAME (the file's path, cut to 63 bytes) is what
 * LOOP_GET_STATUS64 reports.  LD->fd stays open: the device lives at least
 * until loopdev_close().
 */
int loopdev_attach(int file_fd, uint64_t offset, uint64_t size, const char *name,
		   struct loopdev *ld, struct bk_err *err);

/* Close LD's descriptor; the device detaches once nobody else uses it.  No-op when closed. */
void loopdev_close(struct loopdev *ld);

/*
 * The file /dev/loopINDEX is bound to, as st_dev and st_ino: 0, -ENXIO when
 * it is not bound (or does not exist), or -errno.
 */
int loopdev_backing(int index, uint64_t *dev, uint64_t *ino);

/*
 * Detach /dev/loopINDEX if it is still bound to the file DEV:INO: at once,
 * or when its last user closes it.  0 also when it is already gone.
 */
int loopdev_detach(int index, uint64_t dev, uint64_t ino, struct bk_err *err);

/* The index N of the loop device with device number DEV (sysfs), or -1 if DEV is none. */
int loopdev_index_of(dev_t dev);

#endif
