/* source_file.c: image files and block devices as backup sources. */
#include "source.h"

#include "buf.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_source {
	int fd;
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
	src->priv = fs;
	return 0;
}

static int file_read(struct bk_source *src, void *buf, uint64_t off, size_t len, bool may_skip,
		     enum bk_read *what, unsigned char *mask, struct bk_err *err)
{
	struct file_source *fs = src->priv;
	size_t got;
	int r;

	(void)may_skip;
	(void)mask;
	*what = BK_READ_DATA;
	r = bk_pread_full(fs->fd, buf, len, off, &got);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read source '%s'", src->cfg->spec.filename);
	if (got != len)
		return bk_err_set(err, BK_ESOURCE,
				  "source '%s' shrank during the backup (ends at %llu, expected %llu bytes)",
				  src->cfg->spec.filename, (unsigned long long)(off + got),
				  (unsigned long long)src->size);
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
