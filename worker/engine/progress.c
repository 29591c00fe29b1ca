/*
 * progress.c: the progress line of long runs (see progress.h).
 */
#include "progress.h"

#include <stdio.h>

#include "clock.h"
#include "buf.h"

void bk_progress_init(struct bk_progress *p, bool on, const char *what, uint64_t total)
{
	p->on = on;
	p->what = what;
	p->total = total;
	p->start = bk_monotonic();
	p->last = p->start;
}

void bk_progress_show(struct bk_progress *p, uint64_t done, bool final)
{
	char a[32], b[32], rate[32];
	int64_t now;
	double secs;

	if (!p->on)
		return;
	now = bk_monotonic();
	if (!final && now - p->last < BK_USEC)
		return;
	p->last = now;
	secs = (double)(now - p->start) / BK_USEC;
	bk_size_format(done, a, sizeof(a));
	bk_size_format(p->total, b, sizeof(b));
	bk_size_format(secs > 0 ? (unsigned long long)((double)done / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "\r%s: %3d%% %s of %s, %s/s   ", p->what,
		p->total ? (int)(done * 100 / p->total) : 100, a, b, rate);
	if (final)
		fputc('\n', stderr);
}
