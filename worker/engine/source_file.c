/*
 * source_file.c: image files and block devices as backup sources.
 *
 * A sparse image file's holes are found with SEEK_DATA/SEEK_HOLE and not
 * read (BK_READ_ALLOCATED): they read as zeros, so reading them would only
 * cost the kernel's zero-filling, the copy and the hashing.  Block devices
 * and file systems without hole reporting answer "all data".
 */
#include "source.h"

#include "bitmap.h"
#include "buf.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_source {
	int fd;
	bool sparse; /* a regular file: ask the file system where its holes are */
};

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
	fs = bk_malloc(sizeof(*fs));
	fs->fd = fd;
	fs->sparse = S_ISREG(st.st_mode);
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

static int read_range(struct bk_source *src, void *buf, uint64_t off, size_t len,
		      struct bk_err *err)
{
	struct file_source *fs = src->priv;
	size_t got;
	int r;

	r = bk_pread_full(fs->fd, buf, len, off, &got);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read source '%s'", src->cfg->spec.filename);
	return got == len ? 0 : shrank(src, off + got, err);
}

static int file_read(struct bk_source *src, void *buf, uint64_t off, size_t len, bool may_skip,
		     enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	struct file_source *fs = src->priv;
	uint32_t bs = src->block_size;
	size_t nblocks = (len + bs - 1) / bs;
	struct stat st;
	int64_t data;
	int r;

	(void)may_skip;
	*what = BK_READ_DATA;
	data = fs->sparse ? data_mask(fs->fd, off, len, bs, mask) : (int64_t)len;
	if (data < 0) {
		fs->sparse = false; /* no hole reporting after all: read everything */
		data = (int64_t)len;
	}
	if ((uint64_t)data == len)
		return read_range(src, buf, off, len, err);
	/* past the end of a shrunk file there is no data either: not a hole */
	if (fstat(fs->fd, &st) < 0)
		return bk_err_sys(err, -errno, "unable to stat source '%s'", src->cfg->spec.filename);
	if ((uint64_t)st.st_size < off + len)
		return shrank(src, (uint64_t)st.st_size, err);
	/* read each run of blocks that holds data; the rest are holes */
	*what = BK_READ_ALLOCATED;
	for (size_t i = 0; i < nblocks;) {
		size_t j = i;

		if (!bk_bit(mask, i)) {
			i++;
			continue;
		}
		while (j < nblocks && bk_bit(mask, j))
			j++;
		r = read_range(src, (unsigned char *)buf + i * bs, off + i * bs,
			       j * bs < len ? (j - i) * bs : len - i * bs, err);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

static void file_close(struct bk_source *src)
{
	struct file_source *fs = src->priv;

	if (fs)
		close(fs->fd);
	free(fs);
	src->priv = NULL;
}

const struct bk_source_ops bk_source_file_ops = {
	.open = file_open,
	.read = file_read,
	.finish = NULL,
	.close = file_close,
};
