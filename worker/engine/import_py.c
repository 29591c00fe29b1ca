/* import_py.c: converting a chunked Python backy repository (see import_py.h). */
#include "import_py.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "manifest.h"
#include "murmur3.h"
#include "py_chunkmap.h"
#include "pyrepo.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lzo/lzo1x.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK BK_PY_CHUNK_SIZE
/* python-lzo's header plus LZO1X's worst case for 4 MiB of input */
#define CHUNK_FILE_MAX (5 + CHUNK + CHUNK / 16 + 64 + 3)

/* What the import of one revision needs. */
struct imp {
	struct bk_repo *src, *dst;
	int chunksfd;                /* SRC/chunks */
	unsigned char *zbuf, *buf;   /* a chunk file, a chunk's data */
	struct bk_digest *pdig, *dig;
	struct bk_import_stats *st;
	/* the previous imported revision: the clone's origin */
	struct bk_py_chunkmap prev_map;
	struct bk_manifest prev;
	bool have_prev;
};

/* Read chunk HASH into imp->buf: decompressed, its hash checked; *LEN gets its length. */
static int read_chunk(struct imp *im, const char *id, size_t idx, const char *hash, size_t *len,
		      struct bk_err *err)
{
	char path[64], actual[33];
	lzo_uint out = CHUNK;
	struct stat st;
	uint32_t want;
	size_t got = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%.2s/%s.chunk.lzo", hash, hash);
	fd = openat(im->chunksfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return bk_err_set(err, errno == ENOENT ? BK_ECORRUPT : -errno,
				  "revision '%s', chunk %zu: unable to open '%s/chunks/%s': %s", id, idx,
				  im->src->path, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bk_err_set(err, BK_ECORRUPT,
				  "revision '%s', chunk %zu: '%s/chunks/%s' is not a regular file", id,
				  idx, im->src->path, path);
	}
	r = bk_pread_full(fd, im->zbuf, CHUNK_FILE_MAX, 0, &got);
	close(fd);
	if (r < 0)
		return bk_err_sys(err, r, "revision '%s', chunk %zu: unable to read '%s/chunks/%s'", id,
				  idx, im->src->path, path);
	want = got >= 5 ? (uint32_t)im->zbuf[1] << 24 | (uint32_t)im->zbuf[2] << 16 |
				  (uint32_t)im->zbuf[3] << 8 | im->zbuf[4]
			: 0;
	if (got < 5 || got == CHUNK_FILE_MAX || im->zbuf[0] != 0xf0 || want > CHUNK)
		return bk_err_set(err, BK_ECORRUPT,
				  "revision '%s', chunk %zu: '%s/chunks/%s' is not a python-lzo chunk of at most 4 MiB",
				  id, idx, im->src->path, path);
	if (lzo1x_decompress_safe(im->zbuf + 5, got - 5, im->buf, &out, NULL) != LZO_E_OK ||
	    out != want)
		return bk_err_set(err, BK_ECORRUPT,
				  "revision '%s', chunk %zu: '%s/chunks/%s' does not decompress to the %u bytes its header promises",
				  id, idx, im->src->path, path, want);
	bk_murmur3_hex(im->buf, out, actual);
	if (strcmp(actual, hash) != 0)
		return bk_err_set(err, BK_ECORRUPT,
				  "revision '%s', chunk %zu: '%s/chunks/%s' is damaged: its data hashes to %s",
				  id, idx, im->src->path, path, actual);
	im->st->chunks_read++;
	*len = out;
	return 0;
}

/*
 * Whether chunk IDX (LEN bytes from OFF) is the previous revision's as it
 * is: the same hash, whole in both images, and holding no short last block
 * of either (a last block is hashed over its own length).
 */
static bool chunk_unchanged(const struct imp *im, const struct bk_py_chunkmap *map, size_t idx,
			    uint64_t off, uint64_t len, uint32_t bs)
{
	uint64_t prev_whole = im->prev_map.size - im->prev_map.size % bs;
	uint64_t whole = map->size - map->size % bs;

	return im->have_prev && idx < im->prev_map.n &&
	       !strcmp(im->prev_map.hash[idx], map->hash[idx]) && len == CHUNK &&
	       off + len <= prev_whole && off + len <= whole;
}

/* Write chunk IDX of MAP into image FD and its digests into manifest M. */
static int put_chunk(struct imp *im, const char *id, const struct bk_py_chunkmap *map, size_t idx,
		     int fd, struct bk_manifest *m, struct bk_err *err)
{
	uint32_t bs = m->block_size;
	uint64_t off = (uint64_t)idx * CHUNK, first = off / bs;
	uint64_t len = map->size - off < CHUNK ? map->size - off : CHUNK;
	uint32_t count = (uint32_t)((len + bs - 1) / bs), pcount = 0;
	size_t have = 0;
	int r;

	if (chunk_unchanged(im, map, idx, off, len, bs)) {
		r = bk_manifest_read(&im->prev, first, count, im->dig, err);
		for (uint32_t i = 0; r == 0 && i < count; i++)
			r = bk_manifest_put(m, &im->dig[i], err);
		return r < 0 ? bk_err_sys(err, r, "revision '%s': unable to write its manifest", id) : 0;
	}
	r = read_chunk(im, id, idx, map->hash[idx], &have, err);
	if (r < 0)
		return r;
	if (have < len)
		memset(im->buf + have, 0, (size_t)(len - have));
	if (im->have_prev && first < im->prev.nblocks) {
		pcount = im->prev.nblocks - first < count ? (uint32_t)(im->prev.nblocks - first) : count;
		r = bk_manifest_read(&im->prev, first, pcount, im->pdig, err);
		if (r < 0)
			return bk_err_sys(err, r, "revision '%s': unable to read the previous manifest", id);
	}
	for (uint32_t i = 0; i < count; i++) {
		uint64_t boff = (uint64_t)i * bs, blen = len - boff < bs ? len - boff : bs;
		bool cloned = i < pcount;

		bk_hash(im->buf + boff, (size_t)blen, &im->dig[i]);
		r = bk_manifest_put(m, &im->dig[i], err);
		if (r < 0)
			return bk_err_sys(err, r, "revision '%s': unable to write its manifest", id);
		if (cloned && bk_digest_equal(&im->dig[i], &im->pdig[i]))
			continue; /* the clone has it: the extent stays shared */
		if (bk_is_zero(im->buf + boff, (size_t)blen))
			r = cloned ? bk_fs_punch(fd, off + boff, blen) : 0; /* new space is a hole */
		else
			r = bk_pwrite_full(fd, im->buf + boff, (size_t)blen, off + boff);
		if (r < 0)
			return bk_err_sys(err, r, "revision '%s': unable to write its image", id);
		if (!bk_is_zero(im->buf + boff, (size_t)blen))
			im->st->bytes_written += blen;
	}
	return 0;
}

/* Start the image of the new revision: a clone of the previous one, cut or grown to SIZE. */
static int seed_image(struct imp *im, const char *prev_id, int fd, uint64_t size,
		      struct bk_err *err)
{
	struct stat st;
	int pfd, r = 0;

	if (prev_id) {
		pfd = openat(im->dst->dirfd, prev_id, O_RDONLY | O_CLOEXEC);
		if (pfd < 0)
			return bk_err_sys(err, -errno, "unable to open revision '%s'", prev_id);
		r = bk_fs_clone(pfd, fd);
		if (r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL || r == -ENOTTY)
			r = fstat(pfd, &st) < 0 ? -errno : bk_fs_copy(pfd, fd, (uint64_t)st.st_size);
		close(pfd);
	}
	if (r == 0 && ftruncate(fd, (off_t)size) < 0)
		r = -errno;
	return r < 0 ? bk_err_sys(err, r, "unable to start the image of the next revision") : 0;
}

/* Import revision REV of SRC (its chunk map MAP) after PREV_ID (NULL: the first). */
static int import_rev(struct imp *im, const struct bk_rev *rev, const struct bk_py_chunkmap *map,
		      const char *prev_id, struct bk_err *err)
{
	char img[BK_ID_MAX + 16], sums[BK_ID_MAX + 16], name[BK_ID_MAX + 16];
	struct bk_manifest m = {.fd = -1};
	struct bk_rev out;
	int fd, r;

	snprintf(img, sizeof(img), ".new-%s", rev->id);
	snprintf(sums, sizeof(sums), ".new-%s.sums", rev->id);
	bk_fs_unlink(im->dst->dirfd, img);
	bk_fs_unlink(im->dst->dirfd, sums);
	fd = openat(im->dst->dirfd, img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to create '%s/%s'", im->dst->path, img);
	r = seed_image(im, prev_id, fd, map->size, err);
	if (r == 0)
		r = bk_manifest_create(&m, im->dst->dirfd, sums, im->dst->cfg.block_size, map->size, err);
	for (size_t i = 0; r == 0 && i < map->n; i++)
		r = put_chunk(im, rev->id, map, i, fd, &m, err);
	if (r == 0 && (fdatasync(fd) < 0 || fchmod(fd, 0440) < 0))
		r = bk_err_sys(err, -errno, "unable to write '%s/%s'", im->dst->path, img);
	if (r == 0) {
		r = bk_manifest_finish(&m, err);
		if (r < 0)
			bk_err_sys(err, r, "unable to write '%s/%s'", im->dst->path, sums);
	}
	if (r == 0 && fchmod(m.fd, 0440) < 0)
		r = bk_err_sys(err, -errno, "unable to write '%s/%s'", im->dst->path, sums);
	close(fd);
	bk_manifest_close(&m);
	/* commit: image and manifest into place, then the .rev (store.h, note 1) */
	snprintf(name, sizeof(name), "%s.sums", rev->id);
	if (r == 0 && (renameat(im->dst->dirfd, img, im->dst->dirfd, rev->id) < 0 ||
		       renameat(im->dst->dirfd, sums, im->dst->dirfd, name) < 0))
		r = bk_err_sys(err, -errno, "unable to commit revision '%s'", rev->id);
	if (r == 0) {
		r = bk_fs_fsync_dir(im->dst->dirfd);
		if (r < 0)
			bk_err_sys(err, r, "unable to commit revision '%s'", rev->id);
	}
	if (r < 0) {
		bk_fs_unlink(im->dst->dirfd, img);
		bk_fs_unlink(im->dst->dirfd, sums);
		return r;
	}
	bk_rev_init(&out);
	bk_rev_copy(&out, rev);
	out.size = map->size;
	r = bk_repo_save_rev(im->dst, &out, err);
	if (r == 0)
		bk_repo_add_rev(im->dst, &out);
	bk_rev_release(&out);
	return r;
}

/* Load the chunk map of SRC's revision ID into MAP. */
static int load_map(struct imp *im, const char *id, struct bk_py_chunkmap *map, struct bk_err *err)
{
	char *text = NULL, shown[BK_ID_MAX + 64];
	size_t len;
	int r;

	memset(map, 0, sizeof(*map)); /* releasable whatever fails below */
	r = bk_fs_read_all(im->src->dirfd, id, BK_PY_MAP_MAX_BYTES, &text, &len);
	if (r == -ENOENT)
		return bk_err_set(err, BK_ECORRUPT, "revision '%s': its chunk map '%s/%s' is missing",
				  id, im->src->path, id);
	if (r < 0)
		return bk_err_sys(err, r, "revision '%s': unable to read its chunk map '%s/%s'", id,
				  im->src->path, id);
	snprintf(shown, sizeof(shown), "%s/%s", im->src->path, id);
	r = bk_py_chunkmap_decode(text, len, shown, map, err);
	free(text);
	return r;
}

/* Make IDX of SRC the previous revision: its map and the manifest of its import in DST. */
static int set_prev(struct imp *im, size_t idx, struct bk_err *err)
{
	char name[BK_ID_MAX + 16];

	bk_py_chunkmap_release(&im->prev_map);
	bk_manifest_close(&im->prev);
	im->have_prev = false;
	snprintf(name, sizeof(name), "%s.sums", im->src->revs[idx].id);
	if (load_map(im, im->src->revs[idx].id, &im->prev_map, err) < 0 ||
	    bk_manifest_open(&im->prev, im->dst->dirfd, name, err) < 0)
		return err->code;
	im->have_prev = true;
	return 0;
}

static bool dst_has(const struct bk_repo *dst, const char *id)
{
	for (size_t i = 0; i < dst->n; i++)
		if (!strcmp(dst->revs[i].id, id))
			return true;
	return false;
}

/* Check SRC before anything is written: chunked revisions only, the store marker. */
static int check_src(struct bk_repo *src, struct bk_err *err)
{
	char *marker = NULL;
	size_t len = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < src->n; i++) {
		enum bk_py_backend be;

		r = bk_py_rev_backend(src, i, &be, err);
		if (r == 0 && be != BK_PY_CHUNKED && src->revs[i].complete)
			r = bk_err_set(err, BK_EUSAGE,
				       "revision '%s' of '%s' is a raw image (cowfile): 'backy -b %s adopt' takes such a repository over in place",
				       src->revs[i].id, src->path, src->path);
	}
	if (r < 0)
		return r;
	r = bk_fs_read_all(src->dirfd, "chunks/store", 16, &marker, &len);
	if (r == 0 && strcmp(marker, "v2") != 0)
		r = bk_err_set(err, BK_EUSAGE,
			       "'%s/chunks/store' says '%.8s', not 'v2': run Python backy once on it to convert its chunk store",
			       src->path, marker);
	else if (r < 0)
		r = bk_err_sys(err, r,
			       "'%s' is not a chunked Python backy repository: unable to read 'chunks/store'",
			       src->path);
	free(marker);
	return r;
}

/* Open DST: a new repository with SRC's config, or one an earlier import of SRC began. */
static int open_dst(struct bk_repo *dst, const char *dir, const struct bk_repo *src,
		    struct bk_err *err)
{
	struct bk_repo_config cfg = src->cfg;
	int r;

	cfg.created = cfg.adopted = bk_now();
	r = bk_repo_init(dir, &cfg, err);
	if (r < 0 && r != BK_EUSAGE)
		return r;
	if (r == BK_EUSAGE)
		bk_err_clear(err); /* it has a config: continue an import, see below */
	r = bk_repo_open(dst, dir, err);
	if (r == 0)
		r = bk_repo_lock(dst, err);
	if (r == 0)
		r = bk_repo_load(dst, err);
	if (r == 0 && !dst->cfg.adopted)
		r = bk_err_set(err, BK_EUSAGE,
			       "'%s' is a backy repository that no import began: import into a new directory",
			       dir);
	if (r == 0 && bk_repo_cleanup(dst, err) < 0)
		r = err->code;
	if (r < 0)
		bk_repo_close(dst);
	return r;
}

/*
 * Whether directory DST is SRC or lies inside it (after resolving links; a
 * DST that does not exist yet is judged by its parent).
 */
static bool inside_src(const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX];
	size_t n;

	if (!realpath(src, s))
		return false;
	if (!realpath(dst, d)) {
		char *parent = bk_strdup(dst), *slash = strrchr(parent, '/');
		bool ok;

		if (slash && slash != parent)
			*slash = '\0';
		ok = realpath(slash ? (slash == parent ? "/" : parent) : ".", d) != NULL;
		free(parent);
		if (!ok)
			return false;
	}
	n = strlen(s);
	return !strncmp(s, d, n) && (d[n] == '\0' || d[n] == '/' || n == 1);
}

int bk_import_py(const char *srcdir, const char *dstdir, bk_import_step_fn step, void *arg,
		 struct bk_import_stats *st, struct bk_err *err)
{
	struct bk_repo src, dst;
	struct imp im;
	const char *prev_id = NULL;
	int pylock = -1, r;

	memset(st, 0, sizeof(*st));
	memset(&im, 0, sizeof(im));
	im.prev.fd = -1;
	im.chunksfd = -1;
	if (inside_src(srcdir, dstdir))
		return bk_err_set(err, BK_EUSAGE,
				  "'%s' is (inside) the Python repository '%s', which import never changes: import into a new directory outside it",
				  dstdir, srcdir);
	r = bk_py_repo_open(&src, srcdir, err);
	if (r < 0)
		return r;
	r = bk_py_repo_lock(&src, false, &pylock, err);
	if (r == 0)
		r = bk_repo_load(&src, err); /* under Python's lock */
	if (r == 0)
		r = check_src(&src, err);
	if (r < 0) {
		bk_repo_close(&src);
		goto out_src;
	}
	r = open_dst(&dst, dstdir, &src, err);
	if (r < 0) {
		bk_repo_close(&src);
		goto out_src;
	}
	im.src = &src;
	im.dst = &dst;
	im.st = st;
	im.chunksfd = openat(src.dirfd, "chunks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im.chunksfd < 0 || lzo_init() != LZO_E_OK) {
		r = bk_err_sys(err, -errno, "unable to open '%s/chunks'", src.path);
		goto out;
	}
	im.zbuf = bk_malloc(CHUNK_FILE_MAX);
	im.buf = bk_malloc(CHUNK);
	im.dig = bk_malloc((CHUNK / BK_MANIFEST_MIN_BLOCK) * sizeof(*im.dig));
	im.pdig = bk_malloc((CHUNK / BK_MANIFEST_MIN_BLOCK) * sizeof(*im.pdig));
	for (size_t i = 0; r == 0 && i < src.n; i++) {
		const struct bk_rev *rev = &src.revs[i];
		struct bk_py_chunkmap map = {0};

		if (!rev->complete) {
			st->incomplete++;
			continue;
		}
		if (dst_has(&dst, rev->id)) {
			st->present++;
		} else {
			uint64_t before = st->bytes_written;

			r = load_map(&im, rev->id, &map, err);
			if (r == 0)
				r = import_rev(&im, rev, &map, prev_id, err);
			bk_py_chunkmap_release(&map);
			if (r < 0)
				break;
			st->imported++;
			if (step)
				step(arg, rev, st->bytes_written - before);
		}
		prev_id = rev->id;
		r = set_prev(&im, i, err);
	}
	if (r == 0)
		r = bk_repo_update_latest(&dst, err);
out:
	bk_py_chunkmap_release(&im.prev_map);
	bk_manifest_close(&im.prev);
	if (im.chunksfd >= 0)
		close(im.chunksfd);
	free(im.zbuf);
	free(im.buf);
	free(im.dig);
	free(im.pdig);
	bk_repo_close(&dst);
	bk_repo_close(&src);
out_src:
	if (pylock >= 0)
		close(pylock);
	return r;
}
