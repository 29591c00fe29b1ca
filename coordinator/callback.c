/* callback.c: running backup-completed-callback without blocking (see callback.h). */
#include "callback.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fs.h"

extern char **environ;

int co_callback_start(struct co_callbacks *cb, const char *program, const char *job,
		      const void *body, size_t len, struct bk_err *err)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {(char *)program, (char *)job, NULL};
	struct co_callback_run *run;
	pid_t pid;
	int fd, r;

	if (cb->n >= CO_CALLBACK_MAX)
		return bk_err_set(err, BK_ELOCKED, "%d callbacks are running already", CO_CALLBACK_MAX);
	fd = memfd_create("backy-result", MFD_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, -errno, "unable to start '%s'", program);
	r = bk_pwrite_full(fd, body, len, 0);
	if (r < 0) {
		close(fd);
		return bk_err_sys(err, r, "unable to start '%s'", program);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO); /* dup2 clears O_CLOEXEC */
	posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	r = posix_spawn(&pid, program, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	if (r != 0)
		return bk_err_sys(err, -r, "unable to start '%s'", program);
	run = &cb->run[cb->n++];
	run->pid = pid;
	run->started = bk_monotonic();
	run->killed = false;
	snprintf(run->job, sizeof(run->job), "%s", job);
	return 0;
}

void co_callbacks_poll(struct co_callbacks *cb, int64_t now, co_callback_done_fn done, void *arg)
{
	for (size_t i = 0; i < cb->n;) {
		struct co_callback_run *run = &cb->run[i];
		int status = 0;
		pid_t p = waitpid(run->pid, &status, WNOHANG);

		if (p == 0) {
			if (!run->killed && now - run->started > CO_CALLBACK_TIMEOUT) {
				kill(run->pid, SIGKILL);
				run->killed = true;
			}
			i++;
			continue;
		}
		/* ended (or, p < 0, no longer ours to wait for) */
		if (done)
			done(arg, run->job, p < 0 ? -1 : status, run->killed);
		*run = cb->run[--cb->n];
	}
}
