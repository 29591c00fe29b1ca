/*
 * progress.h: a one-line progress display on stderr for long runs
 * (backup, restore, verify): percentage, bytes done and rate, redrawn at
 * most once a second.
 */
#ifndef BK_PROGRESS_H
#define BK_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct bk_progress {
	bool on;
	const char *what;
	uint64_t total;
	int64_t start;
	int64_t last;
};

/* Start a display of WHAT over TOTAL bytes; nothing is shown unless ON. */
void bk_progress_init(struct bk_progress *p, bool on, const char *what, uint64_t total);

/* DONE bytes are done; FINAL draws the last line and ends it. */
void bk_progress_show(struct bk_progress *p, uint64_t done, bool final);

#endif
