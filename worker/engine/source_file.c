/*
 * source_file.c: image files and block devices as backup sources.
 *
 * Design notes:
 * 1. A sparse image file's holes are found with SEEK_DATA/SEEK_HOLE and
 *    not read (BK_READ_ALLOCATED): they read as zeros, so reading them
 *    would only cost the kernel's zero-filling, the copy and the hashing.
 *    Block devices and file systems without hole reporting answer "all
 *    data".
 * 2. The engine reads the image in order, one chunk at a time, and hashes
 *    each before it asks for the next.  A reader thread reads the next
 *    chunk meanwhile into a second buffer, and the engine gets the buffers
 *    in turn (no copy), so the disk and the hashing overlap.  A read the
 *    thread did not guess is read at once.  The file may still shrink
 *    after its chunk was read ahead: a chunk is only handed out while the
 *    file still covers it.
 * 3. Data is read with O_DIRECT where the file system allows it: a backup
 *    reads each block once, so the page cache would only cost a second
 *    copy and evict what the host's other work has cached.  A read that
 *    O_DIRECT refuses (EINVAL: alignment the device does not accept) turns
 *    it off for the rest of the backup.
 */
#include "source.h"

#include "bitmap.h"
#include "buf.h"
#include "fs.h"
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRECT_ALIGN 4096u
#define MASK_BYTES (BK_SOURCE_MAX_READ / BK_MANIFEST_MIN_BLOCK / 8 + 1)

/* A chunk read (note 2): into BUF, what the read found, its result. */
struct chunk {
	uint64_t off;
	size_t len;
	unsigned char *buf; /* BK_SOURCE_MAX_READ bytes, aligned for O_DIRECT */
	unsigned char mask[MASK_BYTES];
	enum bk_read what;
	int r;
	struct bk_err err;
};

enum ahead_state { AHEAD_IDLE, AHEAD_ASKED, AHEAD_READY, AHEAD_STOP };

struct file_source {
	int fd;            /* buffered: sizes, holes, and reads O_DIRECT refuses */
	int dfd;           /* the same file with O_DIRECT (note 3), or -1 */
	bool sparse;       /* a regular file: ask the file system where its holes are */
	struct chunk c[2]; /* the one the engine holds, and the one read ahead */
	int held;          /* index of the one the engine holds */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum ahead_state state; /* of c[!held] */
	struct bk_source *src;
};

/* A second descriptor of the file FD with O_DIRECT, or -1 where it has none. */
static int open_direct(const char *path, int fd)
{
	struct stat a, b;
	int dfd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_DIRECT);

	if (dfd < 0)
		return -1;
	/* the same file, not one renamed into its place since */
	if (fstat(fd, &a) < 0 || fstat(dfd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || !(S_ISREG(b.st_mode) || S_ISBLK(b.st_mode))) {
		close(dfd);
		return -1;
	}
	fcntl(dfd, F_SETFL, fcntl(dfd, F_GETFL) & ~O_NONBLOCK);
	return dfd;
}

static int file_open(struct bk_source *src, const struct bk_source_config *cfg, const char *id,
		     const char *base, bool *use_base, struct bk_err *err)
{
	struct file_source *fs;
	struct stat st;
	int fd;

	(void)id;
	(void)base;
	(void)use_base; /* digests decide what changed: any base will do */
	/* O_NONBLOCK: a FIFO must be refused below, not block the open */
	fd = open(cfg->spec.filename, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to open source '%s'", cfg->spec.filename);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return bk_err_sys(err, -errno, "unable to stat source '%s'", cfg->spec.filename);
	}
	if (S_ISREG(st.st_mode)) {
		src->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &src->size) < 0) {
			close(fd);
			return bk_err_sys(err, -errno, "unable to get the size of '%s'", cfg->spec.filename);
		}
	} else {
		close(fd);
		return bk_err_set(err, BK_ESOURCE, "source '%s' is %s, not an image file or block device",
				  cfg->spec.filename, S_ISDIR(st.st_mode) ? "a directory" : "a special file");
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	fs = bk_calloc(1, sizeof(*fs));
	fs->fd = fd;
	fs->dfd = src->block_size % DIRECT_ALIGN == 0 ? open_direct(cfg->spec.filename, fd) : -1;
	fs->sparse = S_ISREG(st.st_mode);
	fs->src = src;
	for (int i = 0; i < 2; i++) {
		if (posix_memalign((void **)&fs->c[i].buf, DIRECT_ALIGN, BK_SOURCE_MAX_READ) != 0)
			abort(); /* as bk_malloc does */
	}
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->cond, NULL);
	src->priv = fs;
	return 0;
}

/*
 * Mark in MASK the blocks of [OFF, OFF+LEN) that hold data; returns how many
 * bytes of the range lie in data (0: all hole), or -errno.
 */
static int64_t data_mask(int fd, uint64_t off, size_t len, uint32_t bs, unsigned char *mask)
{
	uint64_t end = off + len, pos = off, data = 0;

	memset(mask, 0, (len / bs + 8) / 8);
	while (pos < end) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break; /* only a hole up to the end of the file */
		if (d < 0)
			return -errno;
		if ((uint64_t)d >= end)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		if ((uint64_t)h > end)
			h = (off_t)end;
		for (uint64_t b = ((uint64_t)d - off) / bs; b * bs < (uint64_t)h - off; b++)
			bk_bit_set(mask, b);
		data += (uint64_t)h - (uint64_t)d;
		pos = (uint64_t)h;
	}
	return (int64_t)data;
}

static int shrank(struct bk_source *src, uint64_t end, struct bk_err *err)
{
	return bk_err_set(err, BK_ESOURCE,
			  "source '%s' shrank during the backup (ends at %llu, expected %llu bytes)",
			  src->cfg->spec.filename, (unsigned long long)end,
			  (unsigned long long)src->size);
}

/* Whether the file still covers [0, END); an error in ERR if it does not. */
static int still_covers(struct bk_source *src, uint64_t end, struct bk_err *err)
{
	struct file_source *fs = src->priv;
	struct stat st;

	if (!fs->sparse)
		return 0; /* a block device does not shrink; a file without holes is read whole */
	if (fstat(fs->fd, &st) < 0)
		return bk_err_sys(err, -errno, "unable to stat source '%s'", src->cfg->spec.filename);
	return (uint64_t)st.st_size < end ? shrank(src, (uint64_t)st.st_size, err) : 0;
}

static int read_range(struct bk_source *src, void *buf, uint64_t off, size_t len,
		      struct bk_err *err)
{
	struct file_source *fs = src->priv;
	size_t got = 0;
	int r = -EINVAL;

	/* O_DIRECT reads whole sectors: the image's last one reads short at its end */
	if (fs->dfd >= 0)
		r = bk_pread_full(fs->dfd, buf, (len + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1),
				  off, &got);
	if (r == -EINVAL) {
		if (fs->dfd >= 0)
			close(fs->dfd);
		fs->dfd = -1;
		r = bk_pread_full(fs->fd, buf, len, off, &got);
	}
	if (r < 0)
		return bk_err_sys(err, r, "unable to read source '%s'", src->cfg->spec.filename);
	return got >= len ? 0 : shrank(src, off + got, err);
}

/* Read chunk C (its off and len set): its data and holes (note 1). */
static int read_chunk(struct bk_source *src, struct chunk *c)
{
	struct file_source *fs = src->priv;
	uint32_t bs = src->block_size;
	size_t nblocks = (c->len + bs - 1) / bs;
	int64_t data;
	int r;

	bk_err_clear(&c->err);
	c->what = BK_READ_DATA;
	data = fs->sparse ? data_mask(fs->fd, c->off, c->len, bs, c->mask) : (int64_t)c->len;
	if (data < 0) {
		fs->sparse = false; /* no hole reporting after all: read everything */
		data = (int64_t)c->len;
	}
	if ((uint64_t)data == c->len)
		return read_range(src, c->buf, c->off, c->len, &c->err);
	/* past the end of a shrunk file there is no data either: not a hole */
	r = still_covers(src, c->off + c->len, &c->err);
	if (r < 0)
		return r;
	/* read each run of blocks that holds data; the rest are holes */
	c->what = BK_READ_ALLOCATED;
	for (size_t i = 0; i < nblocks;) {
		size_t j = i;

		if (!bk_bit(c->mask, i)) {
			i++;
			continue;
		}
		while (j < nblocks && bk_bit(c->mask, j))
			j++;
		r = read_range(src, c->buf + i * bs, c->off + i * bs,
			       j * bs < c->len ? (j - i) * bs : c->len - i * bs, &c->err);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

/* The reader thread (note 2): reads c[!held] whenever it is asked to. */
static void *reader(void *arg)
{
	struct file_source *fs = arg;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		struct chunk *c;

		while (fs->state == AHEAD_IDLE || fs->state == AHEAD_READY)
			pthread_cond_wait(&fs->cond, &fs->lock);
		if (fs->state == AHEAD_STOP)
			break;
		c = &fs->c[!fs->held];
		pthread_mutex_unlock(&fs->lock);
		c->r = read_chunk(fs->src, c);
		pthread_mutex_lock(&fs->lock);
		if (fs->state == AHEAD_ASKED)
			fs->state = AHEAD_READY;
		pthread_cond_broadcast(&fs->cond);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/* Wait until the reader thread is not reading (called with the lock held). */
static void wait_reader(struct file_source *fs)
{
	while (fs->state == AHEAD_ASKED)
		pthread_cond_wait(&fs->cond, &fs->lock);
}

static int file_read(struct bk_source *src, unsigned char **data, uint64_t off, size_t len,
		     bool may_skip, enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	struct file_source *fs = src->priv;
	struct chunk *c;
	int r;

	(void)may_skip;
	pthread_mutex_lock(&fs->lock);
	wait_reader(fs);
	c = &fs->c[!fs->held];
	if (fs->state == AHEAD_READY && c->off == off && c->len == len) {
		fs->held = !fs->held;
		if (c->r < 0)
			*err = c->err;
		r = c->r < 0 ? c->r : still_covers(src, off + len, err);
	} else {
		c = &fs->c[fs->held];
		c->off = off;
		c->len = len;
		r = read_chunk(src, c);
		if (r < 0)
			*err = c->err;
	}
	fs->state = AHEAD_IDLE;
	if (r == 0 && off + len < src->size) {
		struct chunk *n = &fs->c[!fs->held];

		n->off = off + len;
		n->len = src->size - n->off < len ? (size_t)(src->size - n->off) : len;
		if (!fs->started)
			fs->started = pthread_create(&fs->thread, NULL, reader, fs) == 0;
		fs->state = fs->started ? AHEAD_ASKED : AHEAD_IDLE;
		pthread_cond_broadcast(&fs->cond);
	}
	pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		return r;
	*what = c->what;
	if (c->what != BK_READ_DATA)
		memcpy(mask, c->mask, (len / src->block_size + 8) / 8);
	*data = c->buf;
	return 0;
}

static void file_close(struct bk_source *src)
{
	struct file_source *fs = src->priv;

	if (!fs)
		return;
	if (fs->started) {
		pthread_mutex_lock(&fs->lock);
		wait_reader(fs);
		fs->state = AHEAD_STOP;
		pthread_cond_broadcast(&fs->cond);
		pthread_mutex_unlock(&fs->lock);
		pthread_join(fs->thread, NULL);
	}
	pthread_mutex_destroy(&fs->lock);
	pthread_cond_destroy(&fs->cond);
	close(fs->fd);
	if (fs->dfd >= 0)
		close(fs->dfd);
	free(fs->c[0].buf);
	free(fs->c[1].buf);
	free(fs);
	src->priv = NULL;
}

const struct bk_source_ops bk_source_file_ops = {
	.open = file_open,
	.read = file_read,
	.finish = NULL,
	.close = file_close,
};
