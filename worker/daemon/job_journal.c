/* job_journal.c: backy-worker's idempotency journal (see job_journal.h). */
#include "job_journal.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int bk_journal_open(struct bk_journal *j, const char *dir, struct bk_err *err)
{
	int r;

	j->dir = NULL;
	j->dirfd = -1;
	j->lockfd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, -errno, "unable to create state directory '%s'", dir);
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return bk_err_sys(err, -errno, "unable to open state directory '%s'", dir);
	j->lockfd = openat(j->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lockfd < 0) {
		r = bk_err_sys(err, -errno, "unable to open '%s/.lock'", dir);
		goto fail;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			r = bk_err_set(err, BK_ELOCKED,
				       "state directory '%s' is in use by another backy-worker", dir);
		else
			r = bk_err_sys(err, -errno, "unable to lock '%s/.lock'", dir);
		goto fail;
	}
	j->dir = bk_strdup(dir);
	return 0;
fail:
	bk_journal_close(j);
	return r;
}

void bk_journal_close(struct bk_journal *j)
{
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->dir);
	j->dir = NULL;
	j->dirfd = -1;
	j->lockfd = -1;
}

static int check_id(const char *job_id, struct bk_err *err)
{
	if (!bk_id_valid(job_id))
		return bk_err_set(err, BK_EUSAGE, "invalid job id '%.80s'", job_id);
	return 0;
}

int bk_journal_get(struct bk_journal *j, const char *job_id, struct bk_journal_entry *e,
		   struct bk_err *err)
{
	char name[BK_ID_MAX + 8];
	char *text = NULL;
	size_t len;
	int r;

	bk_journal_entry_init(e);
	r = check_id(job_id, err);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s.json", job_id);
	r = bk_fs_read_all(j->dirfd, name, BK_JOURNAL_MAX_ENTRY, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s/%s'", j->dir, name);
	r = bk_journal_entry_decode(text, len, e, NULL);
	free(text);
	if (r == 0 && strcmp(e->job_id, job_id) != 0) {
		bk_journal_entry_release(e);
		r = BK_ECORRUPT;
	}
	if (r < 0)
		return bk_err_set(err, r, "corrupt journal entry '%s/%s'", j->dir, name);
	return 0;
}

int bk_journal_put(struct bk_journal *j, const struct bk_journal_entry *e, bool durable,
		   struct bk_err *err)
{
	char name[BK_ID_MAX + 8], tmp[BK_ID_MAX + 16];
	struct bk_buf text;
	int fd = -1, r;

	bk_buf_init(&text);
	r = bk_journal_entry_encode(e, &text, err);
	if (r < 0)
		goto out;
	snprintf(name, sizeof(name), "%s.json", e->job_id);
	if (durable) {
		r = bk_fs_write_atomic(j->dirfd, name, text.p, text.len, 0600);
		if (r < 0)
			bk_err_sys(err, r, "unable to write '%s/%s'", j->dir, name);
		goto out;
	}
	/* crash-of-the-worker safe only: the page cache outlives us */
	snprintf(tmp, sizeof(tmp), ".tmp-%s.json", e->job_id);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = bk_err_sys(err, -errno, "unable to create '%s/%s'", j->dir, tmp);
		goto out;
	}
	r = bk_pwrite_full(fd, text.p, text.len, 0);
	if (r == 0 && renameat(j->dirfd, tmp, j->dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		bk_err_sys(err, r, "unable to write '%s/%s'", j->dir, name);
		bk_fs_unlink(j->dirfd, tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	bk_buf_release(&text);
	return r;
}

int bk_journal_sync(struct bk_journal *j, struct bk_err *err)
{
	if (fsync(j->dirfd) < 0)
		return bk_err_sys(err, -errno, "unable to sync '%s'", j->dir);
	return 0;
}

int bk_journal_put_final(struct bk_journal *j, const struct bk_journal_entry *e,
			 struct bk_err *err)
{
	char name[BK_ID_MAX + 8];
	struct bk_buf text;
	int fd, r;

	bk_buf_init(&text);
	r = bk_journal_entry_encode(e, &text, err);
	if (r < 0)
		goto out;
	snprintf(name, sizeof(name), "%s.json", e->job_id);
	fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = errno == ENOENT ? bk_journal_put(j, e, true, err)
				    : bk_err_sys(err, -errno, "unable to open '%s/%s'", j->dir, name);
		goto out;
	}
	r = bk_pwrite_full(fd, text.p, text.len, 0);
	if (r == 0 && (ftruncate(fd, (off_t)text.len) < 0 || fdatasync(fd) < 0))
		r = -errno;
	if (r < 0)
		bk_err_sys(err, r, "unable to write '%s/%s'", j->dir, name);
	close(fd);
out:
	bk_buf_release(&text);
	return r;
}

int bk_journal_remove(struct bk_journal *j, const char *job_id, struct bk_err *err)
{
	static const char *const suffixes[] = {".json", ".result", ".log"};
	char name[BK_ID_MAX + 16];
	int r;

	r = check_id(job_id, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", job_id, suffixes[i]);
		r = bk_fs_unlink(j->dirfd, name);
		if (r < 0)
			return bk_err_sys(err, r, "unable to remove '%s/%s'", j->dir, name);
	}
	return 0;
}

void bk_journal_ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int bk_journal_list(struct bk_journal *j, char ***ids, size_t *n, struct bk_err *err)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int fd;

	*ids = NULL;
	*n = 0;
	fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to open '%s'", j->dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return bk_err_sys(err, -errno, "unable to open '%s'", j->dir);
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *id;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		id = bk_strndup(de->d_name, len - 5);
		if (!bk_id_valid(id)) {
			free(id);
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*ids = bk_realloc(*ids, cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = id;
	}
	closedir(d);
	return 0;
}

int bk_journal_prune(struct bk_journal *j, int64_t cutoff, struct bk_err *err)
{
	struct bk_journal_entry e;
	char **ids = NULL;
	size_t n = 0;
	int r, count = 0;

	r = bk_journal_list(j, &ids, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (bk_journal_get(j, ids[i], &e, NULL) < 0)
			continue;
		if (e.state == BK_JOURNAL_DONE && e.published && e.finished < cutoff) {
			r = bk_journal_remove(j, ids[i], err);
			count += r == 0;
		}
		bk_journal_entry_release(&e);
	}
	bk_journal_ids_free(ids, n);
	return r < 0 ? r : count;
}

unsigned long long bk_journal_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	const char *p;
	size_t got = 0;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (bk_pread_full(fd, buf, sizeof(buf) - 1, 0, &got) < 0)
		got = 0;
	close(fd);
	buf[got] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and ')', skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* p is at the blank before field 3 (state); starttime is field 22 */
	for (int i = 0; i < 22 - 3 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return 0;
	errno = 0;
	start = strtoull(p + 1, NULL, 10);
	if (errno)
		return 0;
	/* a zombie still has its stat: it is gone for our purposes */
	p = strrchr(buf, ')');
	if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return 0;
	return start ? start : 1;
}

bool bk_journal_proc_alive(long pid, unsigned long long start)
{
	unsigned long long now;

	if (pid <= 0)
		return false;
	now = bk_journal_proc_start((pid_t)pid);
	return now != 0 && (start == 0 || now == start);
}

bool bk_journal_entry_stale(const struct bk_journal_entry *e)
{
	if (e->state != BK_JOURNAL_RUNNING)
		return false;
	return !bk_journal_proc_alive(e->pid, e->pid_start) &&
	       !(e->child > 0 && bk_journal_proc_alive(e->child, e->child_start));
}
