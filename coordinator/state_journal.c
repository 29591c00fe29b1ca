/*
 * state_journal.c: snapshot + append-only journal of the coordinator's state
 * (see state_journal.h for the format and its invariants).
 */
#include "state_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "hash.h"

#define JOURNAL_MAGIC "backy-coordinator-journal"
#define JOURNAL_VERSION 1
#define FILE_MAX ((size_t)1 << 31)

void co_journal_init(struct co_journal *j, const char *state_path)
{
	size_t n = strlen(state_path) + sizeof(".journal");

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->state_path = bk_strdup(state_path);
	j->path = bk_malloc(n);
	snprintf(j->path, n, "%s.journal", state_path);
	j->compact_bytes = CO_JOURNAL_COMPACT_BYTES;
	j->compact_us = CO_JOURNAL_COMPACT_US;
}

void co_journal_release(struct co_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->state_path);
	free(j->path);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

/* --- replay ---------------------------------------------------------------- */

static int corrupt(struct co_journal *j, struct bk_err *err, int line, const char *what)
{
	return bk_err_set(err, BK_ECORRUPT,
			  "%s: line %d: %s (the journal is damaged before its last commit: the "
			  "coordinator will not guess which jobs ran)",
			  j->path, line, what);
}

/* Parse "C seq=N n=K sum=HEX" (NUL-terminated; exactly these fields, in this order). */
static bool parse_commit(const char *line, uint64_t *seq, uint64_t *n, uint64_t *sum)
{
	static const char *const keys[] = {"C seq=", " n=", " sum="};
	uint64_t *dst[] = {seq, n, sum};
	const char *p = line;

	for (int i = 0; i < 3; i++) {
		size_t k = strlen(keys[i]);
		char *end = NULL;

		if (strncmp(p, keys[i], k) != 0)
			return false;
		p += k;
		if (!((*p >= '0' && *p <= '9') || (i == 2 && *p >= 'a' && *p <= 'f')))
			return false;
		errno = 0;
		*dst[i] = strtoull(p, &end, i == 2 ? 16 : 10);
		if (errno || end == p)
			return false;
		p = end;
	}
	return *p == 0;
}

/* Replay BUF (the journal after its header line, which was line 1) into ST. */
static int replay(struct co_journal *j, struct co_state *st, char *buf, size_t len, size_t off,
		  struct bk_err *err)
{
	size_t *lines = NULL, nlines = 0, cap = 0, batch = off, pos = off;
	int lineno = 1, batch_line = 2;
	int r = 0;

	while (pos < len) {
		char *nl = memchr(buf + pos, '\n', len - pos);
		uint64_t seq = 0, n = 0, sum = 0;

		if (!nl)
			break; /* a partial last line: torn tail */
		lineno++;
		if (strncmp(buf + pos, "C ", 2) != 0) {
			if (nlines == cap) {
				cap = cap ? 2 * cap : 256;
				lines = bk_realloc(lines, cap * sizeof(*lines));
			}
			lines[nlines++] = pos;
			pos = (size_t)(nl - buf) + 1;
			continue;
		}
		*nl = 0;
		if (memchr(buf + pos, 0, (size_t)(nl - buf) - pos)) {
			r = corrupt(j, err, lineno, "NUL byte in a commit line");
			break;
		}
		if (!parse_commit(buf + pos, &seq, &n, &sum)) {
			r = corrupt(j, err, lineno, "malformed commit line");
			break;
		}
		if (seq != j->seq + 1) {
			char what[96];

			snprintf(what, sizeof(what), "commit %" PRIu64 " where %" PRIu64 " was expected",
				 seq, j->seq + 1);
			r = corrupt(j, err, lineno, what);
			break;
		}
		if (n != nlines || sum != (uint64_t)bk_hash64(buf + batch, pos - batch)) {
			char what[128];

			snprintf(what, sizeof(what),
				 "commit %" PRIu64 " does not match its %zu records (lines %d-%d)", seq,
				 nlines, batch_line, lineno - 1);
			r = corrupt(j, err, lineno, what);
			break;
		}
		for (size_t i = 0; i < nlines && r == 0; i++) {
			char *l = buf + lines[i];

			*(char *)memchr(l, '\n', len - lines[i]) = 0;
			r = co_state_record(st, l, j->path, batch_line + (int)i, err);
		}
		if (r < 0)
			break;
		j->seq = seq;
		j->replayed_batches++;
		j->replayed_records += nlines;
		nlines = 0;
		pos = (size_t)(nl - buf) + 1;
		batch = pos;
		batch_line = lineno + 1;
		j->size = pos;
	}
	if (r == 0)
		j->torn_bytes = len - j->size;
	free(lines);
	return r;
}

/* Check the header line HDR (NUL-terminated) and read its generation into *GEN. */
static int parse_header(struct co_journal *j, const char *hdr, uint64_t *gen, struct bk_err *err)
{
	char magic[sizeof(JOURNAL_MAGIC) + 16];
	const char *g;
	char *end = NULL;
	unsigned long long v;

	snprintf(magic, sizeof(magic), "%s %d gen=", JOURNAL_MAGIC, JOURNAL_VERSION);
	if (strncmp(hdr, magic, strlen(magic)) != 0)
		return bk_err_set(err, BK_ECORRUPT,
				  "%s: line 1: invalid header '%.64s' (not a coordinator journal of "
				  "version %d)",
				  j->path, hdr, JOURNAL_VERSION);
	g = hdr + strlen(magic);
	errno = 0;
	v = strtoull(g, &end, 10);
	if (*g < '0' || *g > '9' || *end || errno)
		return bk_err_set(err, BK_ECORRUPT, "%s: line 1: invalid header '%.64s'", j->path,
				  hdr);
	*gen = v;
	return 0;
}

int co_journal_load(struct co_journal *j, struct co_state *st, struct bk_err *err)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	uint64_t gen = 0;
	int r;

	r = bk_fs_read_all(AT_FDCWD, j->state_path, FILE_MAX, &buf, &len);
	if (r < 0 && r != -ENOENT)
		return bk_err_sys(err, r, "unable to read '%s'", j->state_path);
	if (r == 0) {
		r = co_state_parse(st, buf, len, j->state_path, err);
		free(buf);
		buf = NULL;
		if (r < 0)
			return r;
		j->snap_bytes = len;
	}
	j->gen = st->gen;
	j->seq = 0;
	j->size = j->file_size = 0;
	r = bk_fs_read_all(AT_FDCWD, j->path, FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		bk_err_sys(err, r, "unable to read '%s'", j->path);
		goto out;
	}
	j->file_size = len;
	nl = memchr(buf, '\n', len);
	if (!nl) { /* never written by us (the header is written atomically): ignore */
		j->torn_bytes = len;
		goto out;
	}
	*nl = 0;
	r = parse_header(j, buf, &gen, err);
	if (r < 0)
		goto out;
	if (gen < st->gen) { /* a compaction stopped before replacing it */
		j->stale = true;
		goto out;
	}
	if (gen > st->gen) {
		r = bk_err_set(err, BK_ECORRUPT,
			       "%s: generation %" PRIu64 " is newer than the state file '%s' "
			       "(generation %" PRIu64 "): that state file is not the one this journal "
			       "continues; restore the matching one, or move both aside to start "
			       "from an empty state",
			       j->path, gen, j->state_path, st->gen);
		goto out;
	}
	j->size = (size_t)(nl - buf) + 1;
	r = replay(j, st, buf, len, j->size, err);
	if (r == 0 && j->seq)
		j->first_commit = bk_monotonic();
out:
	free(buf);
	if (r < 0)
		co_state_release(st);
	return r;
}

/* --- writing --------------------------------------------------------------- */

/* Replace the journal by an empty one of generation GEN (atomically) and open it. */
static int journal_create(struct co_journal *j, uint64_t gen, struct bk_err *err)
{
	char hdr[96];
	const char *base;
	int dirfd = -1, len, r;

	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	len = snprintf(hdr, sizeof(hdr), "%s %d gen=%" PRIu64 "\n", JOURNAL_MAGIC,
		       JOURNAL_VERSION, gen);
	r = bk_fs_open_parent(j->path, &dirfd, &base);
	if (r < 0)
		return bk_err_sys(err, r, "unable to open the directory of '%s'", j->path);
	r = bk_fs_write_atomic(dirfd, base, hdr, (size_t)len, 0600);
	close(dirfd);
	if (r < 0)
		return bk_err_sys(err, r, "unable to write '%s'", j->path);
	j->fd = open(j->path, O_WRONLY | O_CLOEXEC);
	if (j->fd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s'", j->path);
	j->gen = gen;
	j->seq = 0;
	j->size = j->file_size = (uint64_t)len;
	j->first_commit = 0;
	return 0;
}

/* Open the journal that continues ST's snapshot for appending, cutting a torn tail. */
static int journal_open(struct co_journal *j, const struct co_state *st, struct bk_err *err)
{
	if (j->fd >= 0 && j->gen == st->gen)
		return 0;
	if (j->size == 0 || j->gen != st->gen)
		return journal_create(j, st->gen, err);
	j->fd = open(j->path, O_WRONLY | O_CLOEXEC);
	if (j->fd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s'", j->path);
	if (j->file_size > j->size) {
		if (ftruncate(j->fd, (off_t)j->size) < 0 || fdatasync(j->fd) < 0)
			return bk_err_sys(err, -errno, "unable to cut the torn tail of '%s'", j->path);
		j->file_size = j->size;
	}
	return 0;
}

static int compact(struct co_journal *j, struct co_state *st, int64_t now, struct bk_err *err)
{
	uint64_t old = st->gen;
	int64_t t = bk_monotonic();
	struct stat sb;
	int r;

	/* 1. the snapshot names the next generation; 2. then that journal replaces the old one */
	st->gen = (st->gen > j->gen ? st->gen : j->gen) + 1;
	r = co_state_save(st, j->state_path, now, err);
	if (r < 0) {
		st->gen = old;
		j->broken = true;
		return r;
	}
	if (stat(j->state_path, &sb) == 0)
		j->snap_bytes = (uint64_t)sb.st_size;
	r = journal_create(j, st->gen, err);
	if (r < 0) {
		j->broken = true; /* the snapshot has everything; the old journal is stale now */
		return r;
	}
	j->broken = false;
	j->compactions++;
	j->last_compact_us = bk_monotonic() - t;
	return 0;
}

static bool want_compaction(const struct co_journal *j, const struct co_state *st)
{
	uint64_t limit = j->snap_bytes > j->compact_bytes ? j->snap_bytes : j->compact_bytes;

	return st->full || j->broken || j->size > limit ||
	       (j->first_commit && bk_monotonic() - j->first_commit >= j->compact_us);
}

int co_journal_commit(struct co_journal *j, struct co_state *st, int64_t now, bool force,
		      struct bk_err *err)
{
	struct bk_buf b;
	size_t n;
	int64_t t;
	int r;

	if (force || (st->dirty && want_compaction(j, st)))
		return compact(j, st, now, err);
	if (!st->dirty)
		return 0;
	t = bk_monotonic();
	r = journal_open(j, st, err);
	if (r < 0) {
		j->broken = true;
		return r;
	}
	bk_buf_init(&b);
	n = co_state_format_changes(st, &b);
	if (n == 0) {
		bk_buf_release(&b);
		co_state_changes_done(st);
		return 0;
	}
	bk_buf_addf(&b, "C seq=%" PRIu64 " n=%zu sum=%016llx\n", j->seq + 1, n,
		    bk_hash64(b.p, b.len));
	r = bk_pwrite_full(j->fd, b.p, b.len, j->size);
	if (r == 0 && fdatasync(j->fd) < 0)
		r = -errno;
	if (r < 0) {
		/* what reached the file is unknown: never append after it */
		j->broken = true;
		close(j->fd);
		j->fd = -1;
		bk_buf_release(&b);
		return bk_err_sys(err, r, "unable to append to '%s'", j->path);
	}
	j->size += b.len;
	j->file_size = j->size;
	j->seq++;
	if (!j->first_commit)
		j->first_commit = bk_monotonic();
	j->commits++;
	st->c.journal_commits++;
	j->commit_bytes += b.len;
	j->last_commit_us = bk_monotonic() - t;
	bk_buf_release(&b);
	co_state_changes_done(st);
	return 0;
}
