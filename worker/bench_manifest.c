/*
 * bench_manifest.c: the manifest phases of an incremental backup, format 1
 * against format 2, for image geometries of any size (bench/manifest.sh).
 *
 * Per size it writes a parent manifest of both formats (64 KiB blocks) into
 * DIR, then ROUNDS times, alternating, with the parent's pages dropped from
 * the cache first:
 *   format 1, the I/O of the engine before issue 12: open = the whole-file
 *     seal check (the real reader); write + sync = every digest read from
 *     the parent, written, hashed into the seal, fsync; read-back = every
 *     digest of the new manifest read again (check_written read all);
 *   format 2, the engine now: open = header and segment table; write + sync
 *     = clone, skip the unchanged, put the CHANGED digests, finish (reseal,
 *     fsync, read back touched segments); read-back = the digests of the
 *     chunks holding changed blocks plus 16 sampled blocks (check_written).
 * Prints the median of each phase in seconds and the ratio 2 / 1.
 *
 * usage: bench_manifest DIR ROUNDS CHANGED SIZE_GIB...
 *        (CHANGED blocks in runs of 64: whole 4 MiB objects)
 */
#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"
#include "manifest.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define BS (64u << 10)
#define PER_CHUNK 64u /* the engine's 4 MiB chunk */
#define MAX_ROUNDS 15

static void die(const char *what, const struct bk_err *err)
{
	fprintf(stderr, "bench_manifest: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static void digest_of(uint64_t i, uint64_t gen, struct bk_digest *d)
{
	uint64_t v[2] = {i, gen};

	bk_hash(v, sizeof(v), d);
}

static void drop_cache(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* Format 1 as backy wrote it: 32-byte header, digests, one seal (streamed, like its writer). */
static int v1_write(int dirfd, const char *name, uint64_t size, struct bk_manifest *parent,
		    const uint64_t *changed, uint64_t nchanged)
{
	enum { PENDING = 4096 };
	uint64_t nb = (size + BS - 1) / BS, c = 0;
	struct bk_digest *pend = bk_malloc(PENDING * sizeof(*pend));
	unsigned char h[32] = "BKYSUMS1";
	uint32_t bs = htole32(BS);
	uint64_t sz = htole64(size), n = htole64(nb), off = 32;
	XXH3_state_t *st = XXH3_createState();
	XXH128_canonical_t seal;
	struct bk_err err = {0};
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 || !st)
		die(name, NULL);
	memcpy(h + 8, &bs, 4);
	memcpy(h + 16, &sz, 8);
	memcpy(h + 24, &n, 8);
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, h, 32);
	if (bk_pwrite_full(fd, h, 32, 0) < 0)
		die(name, NULL);
	for (uint64_t first = 0; first < nb; first += PENDING) {
		uint32_t cnt = nb - first < PENDING ? (uint32_t)(nb - first) : PENDING;

		if (parent) {
			for (uint32_t i = 0; i < cnt; i += PER_CHUNK) /* per chunk, as the engine read */
				if (bk_manifest_read(parent, first + i,
						     cnt - i < PER_CHUNK ? cnt - i : PER_CHUNK, pend + i,
						     &err) < 0)
					die("read parent", &err);
		} else {
			for (uint32_t i = 0; i < cnt; i++)
				digest_of(first + i, 0, &pend[i]);
		}
		for (; c < nchanged && changed[c] < first + cnt; c++)
			digest_of(changed[c], 1, &pend[changed[c] - first]);
		XXH3_128bits_update(st, pend, (size_t)cnt * 16);
		if (bk_pwrite_full(fd, pend, (size_t)cnt * 16, off) < 0)
			die(name, NULL);
		off += (uint64_t)cnt * 16;
	}
	XXH128_canonicalFromHash(&seal, XXH3_128bits_digest(st));
	if (bk_pwrite_full(fd, seal.digest, 16, off) < 0 || fsync(fd) < 0)
		die(name, NULL);
	XXH3_freeState(st);
	free(pend);
	return fd;
}

static void v2_write(int dirfd, const char *name, uint64_t size)
{
	struct bk_manifest m;
	struct bk_err err = {0};
	struct bk_digest d;

	if (bk_manifest_create(&m, dirfd, name, BS, size, &err) < 0)
		die("create", &err);
	for (uint64_t i = 0; i < m.nblocks; i++) {
		digest_of(i, 0, &d);
		if (bk_manifest_put(&m, &d, &err) < 0)
			die("put", &err);
	}
	if (bk_manifest_finish(&m, &err) < 0)
		die("finish", &err);
	bk_manifest_close(&m);
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double since(int64_t t)
{
	return (double)(bk_monotonic() - t) / BK_USEC;
}

int main(int argc, char **argv)
{
	int dirfd, rounds;
	uint64_t nchanged;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_manifest DIR ROUNDS CHANGED SIZE_GIB...\n");
		return 2;
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rounds = atoi(argv[2]);
	nchanged = strtoull(argv[3], NULL, 10);
	if (dirfd < 0 || rounds < 1 || rounds > MAX_ROUNDS)
		die(argv[1], NULL);
	printf("%-8s %-7s %10s %10s %10s %10s   (median seconds of %d rounds, %llu changed blocks)\n",
	       "size", "format", "open", "write+sync", "read-back", "total", rounds,
	       (unsigned long long)nchanged);
	for (int a = 4; a < argc; a++) {
		uint64_t size = strtoull(argv[a], NULL, 10) << 30, nb = size / BS;
		uint64_t *changed = bk_malloc((nchanged + 1) * sizeof(*changed));
		double ph[2][4][MAX_ROUNDS], med[2][4];
		uint64_t seed = 0x9e3779b97f4a7c15ULL;
		uint64_t stride = nb / (nchanged / PER_CHUNK + 2) / PER_CHUNK * PER_CHUNK;

		/* CHANGED blocks as whole objects of 64 blocks at random places, in order */
		for (uint64_t i = 0; i < nchanged; i += PER_CHUNK) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			for (uint64_t j = 0; j < PER_CHUNK && i + j < nchanged; j++)
				changed[i + j] = (i / PER_CHUNK + 1) * stride + (seed % 4) * PER_CHUNK + j;
		}
		close(v1_write(dirfd, "p1.sums", size, NULL, NULL, 0));
		v2_write(dirfd, "p2.sums", size);
		for (int r = 0; r < rounds; r++) {
			struct bk_manifest p, n;
			struct bk_err err = {0};
			struct bk_digest *dig = bk_malloc(PER_CHUNK * sizeof(*dig)), d;
			uint64_t at = 0;
			int64_t t;
			int fd;

			/* format 1 */
			drop_cache(dirfd, "p1.sums");
			t = bk_monotonic();
			if (bk_manifest_open(&p, dirfd, "p1.sums", &err) < 0)
				die("open p1", &err);
			ph[0][0][r] = since(t);
			t = bk_monotonic();
			fd = v1_write(dirfd, "n1.sums", size, &p, changed, nchanged);
			ph[0][1][r] = since(t);
			t = bk_monotonic();
			for (uint64_t first = 0; first < nb; first += PER_CHUNK) {
				size_t got;

				if (bk_pread_full(fd, dig, PER_CHUNK * 16, 32 + first * 16, &got) < 0)
					die("read back", NULL);
			}
			ph[0][2][r] = since(t);
			close(fd);
			bk_manifest_close(&p);
			unlinkat(dirfd, "n1.sums", 0);

			/* format 2 */
			drop_cache(dirfd, "p2.sums");
			t = bk_monotonic();
			if (bk_manifest_open(&p, dirfd, "p2.sums", &err) < 0)
				die("open p2", &err);
			ph[1][0][r] = since(t);
			t = bk_monotonic();
			if (bk_manifest_clone(&n, dirfd, "n2.sums", &p, size, &err) < 0)
				die("clone", &err);
			for (uint64_t c = 0; c < nchanged; c++) {
				digest_of(changed[c], 1, &d);
				if (bk_manifest_skip(&n, changed[c] - at, &err) < 0 ||
				    bk_manifest_put(&n, &d, &err) < 0)
					die("put", &err);
				at = changed[c] + 1;
			}
			if (bk_manifest_skip(&n, nb - at, &err) < 0 || bk_manifest_finish(&n, &err) < 0)
				die("finish", &err);
			ph[1][1][r] = since(t);
			t = bk_monotonic();
			seed = 12345 + (uint64_t)r;
			for (uint64_t c = 0; c < nchanged; c += PER_CHUNK)
				if (bk_manifest_read(&n, changed[c] / PER_CHUNK * PER_CHUNK, PER_CHUNK, dig,
						     &err) < 0)
					die("read back", &err);
			for (int s = 0; s < 16; s++) {
				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				if (bk_manifest_read(&n, seed % nb / PER_CHUNK * PER_CHUNK, PER_CHUNK, dig,
						     &err) < 0)
					die("read back", &err);
			}
			ph[1][2][r] = since(t);
			bk_manifest_close(&n);
			bk_manifest_close(&p);
			unlinkat(dirfd, "n2.sums", 0);
			free(dig);
			for (int f = 0; f < 2; f++)
				ph[f][3][r] = ph[f][0][r] + ph[f][1][r] + ph[f][2][r];
		}
		for (int f = 0; f < 2; f++) {
			for (int k = 0; k < 4; k++)
				med[f][k] = median(ph[f][k], rounds);
			printf("%4llu GiB %-7s %10.4f %10.4f %10.4f %10.4f\n",
			       (unsigned long long)(size >> 30), f ? "2" : "1", med[f][0], med[f][1],
			       med[f][2], med[f][3]);
		}
		printf("%4llu GiB %-7s %10.3f %10.3f %10.3f %10.3f\n",
		       (unsigned long long)(size >> 30), "2 / 1", med[1][0] / med[0][0],
		       med[1][1] / med[0][1], med[1][2] / med[0][2], med[1][3] / med[0][3]);
		unlinkat(dirfd, "p1.sums", 0);
		unlinkat(dirfd, "p2.sums", 0);
		free(changed);
	}
	close(dirfd);
	return 0;
}
