/*
 * coord_compat.c: what backy-coordinator does for Python backy's global
 * keys (config_python.h): backup-completed-callback (callback.h) and
 * status-file, both driven from the main loop, and worker-limit held
 * against the slots the workers report.
 */
#include "coord.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fs.h"
#include "log.h"

/* co_callback_done_fn: log how a backup-completed-callback ended, once. */
static void callback_done(void *arg, const char *job, int status, bool killed)
{
	(void)arg;
	if (killed)
		bk_warn("backup-completed-callback for '%s' killed after %lld s", job,
			(long long)(CO_CALLBACK_TIMEOUT / BK_USEC));
	else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bk_warn("backup-completed-callback for '%s' failed (%s %d)", job,
			status >= 0 && WIFSIGNALED(status) ? "signal" : "exit status",
			status < 0 ? -1 : WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	else
		bk_debug("backup-completed-callback for '%s' done", job);
}

/* After a good backup counted: the callback with the result message BODY on stdin. */
void coord_compat_result(struct coord *co, const struct bk_msg_result *r, const void *body,
			 size_t len)
{
	struct bk_err err = {0};
	int ret;

	if (!co->cfg->completed_callback || r->action != BK_ACTION_BACKUP ||
	    r->outcome != BK_OUTCOME_OK)
		return;
	ret = co_callback_start(&co->callbacks, co->cfg->completed_callback, r->job, body, len, &err);
	if (ret < 0)
		bk_warn("backup-completed-callback for '%s' not run: %s", r->job, bk_err_msg(&err, ret));
}

/* Python backy's status-file: the status document, every status-interval seconds. */
static void write_status_file(struct coord *co)
{
	const char *path = co->cfg->status_file, *base;
	int64_t mono = bk_monotonic();
	struct bk_buf doc;
	int dirfd = -1, r;

	if (!path || mono - co->status_file_mono < (int64_t)co->cfg->status_interval * BK_USEC)
		return;
	co->status_file_mono = mono;
	bk_buf_init(&doc);
	pthread_mutex_lock(&co->lock);
	co_status_json(&co->st, co->now, "active", &doc);
	pthread_mutex_unlock(&co->lock);
	r = bk_fs_open_parent(path, &dirfd, &base);
	if (r == 0)
		r = bk_fs_write_atomic(dirfd, base, doc.p, doc.len, 0644);
	if (dirfd >= 0)
		close(dirfd);
	if (r < 0 && !co->status_file_failing)
		bk_warn("unable to write status-file '%s': %s", path, bk_strerror(r));
	else if (r == 0 && co->status_file_failing)
		bk_notice("status-file '%s' written again", path);
	co->status_file_failing = r < 0;
	bk_buf_release(&doc);
}

void coord_compat_heartbeat(struct coord *co, const struct bk_msg_heartbeat *hb)
{
	uint64_t limit = co->cfg->worker_limit;

	if (!limit || hb->slots == limit || !co_host_configured(&co->st, hb->host))
		return;
	for (size_t i = 0; i < co->st.nworkers; i++)
		if (!strcmp(co->st.workers[i].host, hb->host) && co->st.workers[i].slots == hb->slots)
			return; /* said when it changed */
	bk_warn("worker '%s' runs %u jobs at once, global.worker-limit says %llu: set 'slots: %llu' in its config",
		hb->host, hb->slots, (unsigned long long)limit, (unsigned long long)limit);
}

void coord_compat_tick(struct coord *co)
{
	co_callbacks_poll(&co->callbacks, bk_monotonic(), callback_done, NULL);
	write_status_file(co);
}
