/*
 * progress.h: how far a long run (backup, restore, verify) is, for the
 * people and programs watching it.
 *
 * On a terminal, one line on stderr redrawn at most once a second
 * (percentage, bytes done and rate).  Off a terminal (cron, a log file, a
 * worker's job log), a plain line every 30 seconds, and a last one when
 * the run took that long.  With bk_progress_file(), also a progress
 * document (proto/progress_doc.h) rewritten at most once a second, which
 * backy-worker reads for its heartbeats.
 */
#ifndef BK_PROGRESS_H
#define BK_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define BK_PROGRESS_LOG_EVERY 30 /* seconds between lines off a terminal */

struct bk_progress {
	bool on;      /* lines on stderr */
	bool tty;     /* ... redrawn in place */
	const char *what;
	uint64_t total;
	int64_t start;
	int64_t last;      /* of the last line */
	int64_t last_file; /* of the last progress document */
};

/*
 * Also write the progress of every run of this process to PATH (NULL: no
 * more).  PATH must stay valid; the document is written next to it first
 * (PATH.tmp) and renamed.  For the CLI's --progress-file.
 */
void bk_progress_file(const char *path);

/* Start a display of WHAT ("backup", "restore", "verify") over TOTAL bytes; lines only if ON. */
void bk_progress_init(struct bk_progress *p, bool on, const char *what, uint64_t total);

/* DONE bytes are done; FINAL draws the last line and ends it. */
void bk_progress_show(struct bk_progress *p, uint64_t done, bool final);

#endif
