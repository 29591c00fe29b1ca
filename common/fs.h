/*
 * fs.h: file system helpers with explicit offsets and durable publication.
 *
 * Everything works on file descriptors relative to a directory fd, never on
 * an implicit file position (backy 2.1.5 corrupted data by mixing a file
 * position with hole punching).  All return 0 or a negative errno value.
 */
#ifndef BK_FS_H
#define BK_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Full pread/pwrite: loop over short transfers; EOF before LEN is -EIO for writes, *got for reads. */
int bk_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
int bk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Share all extents of SRC with DST (FICLONE); -EOPNOTSUPP, -EXDEV or -EINVAL if unsupported. */
int bk_fs_clone(int src, int dst);

/* Copy SIZE bytes of SRC to DST keeping holes (SEEK_DATA/SEEK_HOLE); DST is truncated to SIZE. */
int bk_fs_copy(int src, int dst, uint64_t size);

/*
 * bk_fs_clone, or bk_fs_copy of SRC's first SIZE bytes where the file
 * system cannot share extents; *COPIED says which happened.
 */
int bk_fs_clone_or_copy(int src, int dst, uint64_t size, bool *copied);

/*
 * Number of extents that map [OFF, OFF+LEN) of FD (FIEMAP, without a sync:
 * data not yet written back counts as delayed-allocation extents), counting
 * no further than MAX.
 */
int bk_fs_extents(int fd, uint64_t off, uint64_t len, unsigned max);

/* Deallocate [OFF, OFF+LEN) keeping the file size. */
int bk_fs_punch(int fd, uint64_t off, uint64_t len);

int bk_fs_fsync_dir(int dirfd);

/*
 * fdatasync(FD) in a thread of its own, so the caller can read what it
 * wrote meanwhile: bk_fs_sync_start, then always bk_fs_sync_wait (0 or
 * -errno) before FD is closed.  Where no thread can be made the sync runs
 * in bk_fs_sync_start.
 */
struct bk_fs_sync {
	pthread_t thread;
	bool threaded;
	int fd;
	int r;
};
void bk_fs_sync_start(struct bk_fs_sync *s, int fd);
int bk_fs_sync_wait(struct bk_fs_sync *s);

/*
 * Write DATA to NAME in DIRFD atomically: temporary file, fsync, chmod MODE,
 * rename over NAME, fsync the directory.  Readers see the old or the new
 * content, never a mix, whenever the machine stops.
 */
int bk_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* Point symlink NAME at TARGET atomically (temporary link + rename). */
int bk_fs_symlink_atomic(int dirfd, const char *target, const char *name);

/* Read all of NAME (at most MAX bytes, else -EFBIG) into a NUL-terminated malloc'd buffer. */
int bk_fs_read_all(int dirfd, const char *name, size_t max, char **out, size_t *len);

/*
 * Open the directory of PATH into *DIRFD ("." when PATH has no slash) and
 * point *BASE at PATH's last component.  0 or -errno.
 */
int bk_fs_open_parent(const char *path, int *dirfd, const char **base);

/* unlinkat() that counts a missing file as success. */
int bk_fs_unlink(int dirfd, const char *name);

#endif
