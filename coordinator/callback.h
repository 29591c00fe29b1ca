/*
 * callback.h: Python backy's `backup-completed-callback` in the coordinator.
 *
 * After a successful backup result counts (co_result), the daemon runs the
 * configured program as `PROGRAM JOB` -- no shell, the coordinator's
 * environment, stdout and stderr going to the coordinator's stderr -- with
 * the result message (docs/messages.md, "result") on stdin.  Python backy
 * ran it with the job's `backy status --yaml` on stdin; the result message
 * carries the new revision, its tags and statistics instead.
 *
 * Never blocking the daemon's loop: the program is started with
 * posix_spawn, its stdin is an in-memory file holding the whole document
 * (so a program that does not read cannot stall anyone), and the loop reaps
 * finished ones (co_callbacks_poll) and kills those running longer than
 * CO_CALLBACK_TIMEOUT.  At most CO_CALLBACK_MAX run at once; a result
 * beyond that is not called back (the caller logs it).  Callbacks still
 * running when the daemon stops are left to finish on their own.  A result
 * counts when it is received, before the state is durable: after a crash in
 * between, the redelivered result counts and calls back again (at least
 * once).
 */
#ifndef CO_CALLBACK_H
#define CO_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define CO_CALLBACK_TIMEOUT (300 * 1000000LL) /* microseconds */
#define CO_CALLBACK_MAX 16

struct co_callback_run {
	pid_t pid;
	int64_t started; /* bk_monotonic() */
	bool killed;
	char job[65];
};

struct co_callbacks {
	struct co_callback_run run[CO_CALLBACK_MAX];
	size_t n;
};

/*
 * Start PROGRAM JOB with the LEN bytes of BODY on stdin.  BK_ELOCKED when
 * CO_CALLBACK_MAX are running, a negative errno when it cannot start.
 */
int co_callback_start(struct co_callbacks *cb, const char *program, const char *job,
		      const void *body, size_t len, struct bk_err *err);

/* What became of a callback: it exited with STATUS (waitpid's), or was KILLED after the timeout. */
typedef void (*co_callback_done_fn)(void *arg, const char *job, int status, bool killed);

/* Reap callbacks that ended (DONE for each) and kill those past the timeout at NOW (monotonic). */
void co_callbacks_poll(struct co_callbacks *cb, int64_t now, co_callback_done_fn done, void *arg);

#endif
