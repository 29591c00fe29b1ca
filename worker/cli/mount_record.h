/*
 * mount_record.h: the record of each `backy mount` on this host, so that
 * `backy umount DIR` knows DIR is a backy mount and what to undo, and
 * `backy mount --list` can show them.
 *
 *   /run/backy/mounts/loopN   YAML, one per mount, named by its loop device
 *   /run/backy/mounts/.lock   flock()ed by mount and umount while they work
 *
 * Design notes:
 * 1. /run is emptied at boot, when mounts and loop devices go too.  A
 *    record outlives its mount only when somebody unmounts DIR by hand:
 *    then the loop device detaches itself (loopdev.h, autoclear) and the
 *    record is stale.  A record counts only while it is live
 *    (mount_record_live): its loop device is bound to the revision's image
 *    (same st_dev and st_ino) and DIR is a mount point of that device.
 *    Stale records are removed by the next mount, umount or --list.
 * 2. The record is written before the mount(2) and removed after the
 *    umount2(2), so a live mount made by backy always has its record.
 */
#ifndef BK_MOUNT_RECORD_H
#define BK_MOUNT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define MOUNT_RECORD_DIR "/run/backy/mounts"

/* All strings are owned (mount_record_release frees them). */
struct mount_record {
	char *dir;     /* the mount point (a real path) */
	char *repo;    /* the repository (a real path) */
	char *rev;     /* the revision id */
	char *type;    /* the file system type given to mount(2) */
	char *options; /* the data options given to mount(2), may be "" */
	int loop;      /* N of /dev/loopN */
	int partition; /* partition number, 0: the whole disk */
	uint64_t dev;  /* st_dev and st_ino of the revision's image */
	uint64_t ino;
	int64_t mounted; /* when, microseconds UTC */
};

void mount_record_release(struct mount_record *m);

/* Take the host's lock of mount and umount into *FD (close it to release); waits. */
int mount_records_lock(int *fd, struct bk_err *err);

/* Write M as /run/backy/mounts/loopN, atomically. */
int mount_record_write(const struct mount_record *m, struct bk_err *err);

/* Remove the record of /dev/loopLOOP (0 also when there is none). */
int mount_record_remove(int loop, struct bk_err *err);

/* Whether M is live (design note 1). */
bool mount_record_live(const struct mount_record *m);

/*
 * Whether DIR is a mount point: 1 with *DEV the device number of what is
 * mounted there, 0 not, or -errno.
 */
int mount_point_dev(const char *dir, dev_t *dev);

/*
 * The live record of the mount on DIR (a real path) into M: 0, or -ENOENT
 * when DIR is not a backy mount; other errors with a message in ERR.
 */
int mount_record_find(const char *dir, struct mount_record *m, struct bk_err *err);

/*
 * Every live record into *OUT (*N of them, sorted by DIR; the caller
 * releases each and frees the array); stale ones are removed.
 */
int mount_record_list(struct mount_record **out, size_t *n, struct bk_err *err);

#endif
