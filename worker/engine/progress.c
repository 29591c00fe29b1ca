/*
 * progress.c: the progress of long runs (see progress.h).
 */
#include "progress.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "progress_doc.h"

static const char *g_file;

void bk_progress_file(const char *path)
{
	g_file = path;
}

/* The progress document, best effort: a watcher that misses one sees the next. */
static void write_file(const struct bk_progress *p, uint64_t done)
{
	struct bk_progress_doc doc = {.done = done, .total = p->total};
	char tmp[4096];
	struct bk_buf b;
	int fd;

	snprintf(doc.phase, sizeof(doc.phase), "%s", p->what);
	if (doc.done > doc.total)
		doc.done = doc.total;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", g_file) >= (int)sizeof(tmp))
		return;
	bk_buf_init(&b);
	if (bk_progress_doc_encode(&doc, &b, NULL) == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd >= 0) {
			bool ok = write(fd, b.p, b.len) == (ssize_t)b.len;

			if (close(fd) == 0 && ok)
				rename(tmp, g_file);
		}
	}
	bk_buf_release(&b);
}

void bk_progress_init(struct bk_progress *p, bool on, const char *what, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->on = on;
	p->tty = on && isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->start = bk_monotonic();
	p->last = p->start;
	if (g_file)
		write_file(p, 0);
	p->last_file = p->start;
}

void bk_progress_show(struct bk_progress *p, uint64_t done, bool final)
{
	char a[32], b[32], rate[32];
	int64_t now = bk_monotonic();
	double secs;

	if (g_file && (final || now - p->last_file >= BK_USEC)) {
		write_file(p, done);
		p->last_file = now;
	}
	if (!p->on)
		return;
	if (p->tty) {
		if (!final && now - p->last < BK_USEC)
			return;
	} else if (now - (final ? p->start : p->last) < BK_PROGRESS_LOG_EVERY * BK_USEC) {
		return; /* off a terminal, a run shorter than a log interval says nothing */
	}
	p->last = now;
	secs = (double)(now - p->start) / BK_USEC;
	bk_size_format(done, a, sizeof(a));
	bk_size_format(p->total, b, sizeof(b));
	bk_size_format(secs > 0 ? (unsigned long long)((double)done / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "%s%s: %3d%% %s of %s, %s/s%s", p->tty ? "\r" : "", p->what,
		p->total ? (int)(done * 100 / p->total) : 100, a, b, rate,
		p->tty ? (final ? "   \n" : "   ") : "\n");
}
