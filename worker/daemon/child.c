/*
 * child.c: the `backy` child of a backy-worker job: command line,
 * environment, vfork + exec, and its result (see child.h).
 */
#include "child.h"

#include "clock.h"
#include "fs.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REPORT_BYTES (1 << 20)

void bk_child_log_name(const char *job_id, char *out, size_t size)
{
	snprintf(out, size, "%s.log", job_id);
}

void bk_child_result_name(const char *job_id, char *out, size_t size)
{
	snprintf(out, size, "%s.result", job_id);
}

void bk_child_progress_name(const char *job_id, char *out, size_t size)
{
	snprintf(out, size, "%s.progress", job_id);
}

/*
 * The environment of the child: ours, plus BACKY_NOW=<TIME> under simulated
 * time (NOW is the storage for it).  Free the array, not the strings.
 */
static char **child_env(bool simulated, int64_t time, char now[80])
{
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = bk_calloc(n + 2, sizeof(*envp));
	for (size_t i = 0; i < n; i++)
		if (!simulated || strncmp(environ[i], "BACKY_NOW=", 10) != 0)
			envp[k++] = environ[i];
	if (simulated) {
		memcpy(now, "BACKY_NOW=", 10);
		bk_time_format(time, now + 10, 70, BK_TIME_ISO);
		envp[k++] = now;
	}
	return envp;
}

void bk_child_cmd_init(struct bk_child_cmd *c, const struct bk_fleet_config *cfg,
		       const struct bk_msg_job *job, const char *repo)
{
	char rname[BK_ID_MAX + 16];
	size_t argc = 0;

	memset(c, 0, sizeof(*c));
	bk_child_result_name(job->job_id, rname, sizeof(rname));
	snprintf(c->result, sizeof(c->result), "%s/%s", cfg->state_dir, rname);
	bk_child_progress_name(job->job_id, rname, sizeof(rname));
	snprintf(c->progress, sizeof(c->progress), "%s/%s", cfg->state_dir, rname);
	bk_buf_init(&c->tags);
	bk_strv_join(&job->tags, ",", &c->tags);
	c->argv[argc++] = cfg->backy;
	c->argv[argc++] = "-b";
	c->argv[argc++] = repo;
	c->argv[argc++] = "--result";
	c->argv[argc++] = c->result;
	c->argv[argc++] = "--progress-file";
	c->argv[argc++] = c->progress;
	switch (job->action) {
	case BK_ACTION_BACKUP:
		c->argv[argc++] = "backup";
		if (job->tags.n) {
			c->argv[argc++] = "-f";
			c->argv[argc++] = c->tags.p;
		}
		break;
	case BK_ACTION_EXPIRE:
		/* this host's floors, whatever the job's schedule says (note 4) */
		snprintf(c->min_keep, sizeof(c->min_keep), "%llu",
			 (unsigned long long)cfg->policy.min_keep);
		snprintf(c->min_age, sizeof(c->min_age), "%llds", (long long)cfg->policy.min_age);
		c->argv[argc++] = "expire";
		c->argv[argc++] = "--min-keep";
		c->argv[argc++] = c->min_keep;
		c->argv[argc++] = "--min-age";
		c->argv[argc++] = c->min_age;
		break;
	default:
		c->argv[argc++] = "verify";
		c->argv[argc++] = "-r";
		c->argv[argc++] = "all";
		if (job->older_than > 0) {
			/* a scrub slice: only what was not found intact lately */
			snprintf(c->older_than, sizeof(c->older_than), "%llds",
				 (long long)job->older_than);
			c->argv[argc++] = "--older-than";
			c->argv[argc++] = c->older_than;
		}
		break;
	}
	c->argv[argc] = NULL;
	c->envp = child_env(cfg->simulated_time && job->head.time, job->head.time, c->now);
}

void bk_child_cmd_release(struct bk_child_cmd *c)
{
	free(c->envp);
	c->envp = NULL;
	bk_buf_release(&c->tags);
}

/*
 * The child after vfork: it shares our memory until execve, so it only
 * makes system calls (no allocation, no setenv: ENVP is ready) and never
 * returns.  Handlers are reset before signals are unblocked, so none of
 * the worker's runs in it.
 */
static _Noreturn void child_exec(char *const *argv, char *const *envp, int logfd, pid_t parent)
{
	sigset_t none;
	int devnull;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126); /* the worker died before prctl: do not run unsupervised */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != STDIN_FILENO) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	if (logfd >= 0) {
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
	}
	if (strchr(argv[0], '/'))
		execve(argv[0], argv, envp);
	else
		execvpe(argv[0], argv, envp);
	dprintf(STDERR_FILENO, "backy-worker: unable to run '%s': %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t bk_child_spawn(const struct bk_child_cmd *c, int logfd, pid_t parent)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_exec((char *const *)c->argv, c->envp, logfd, parent);
	return pid;
}

void bk_child_result_init(struct bk_msg_result *res, const char *host,
			  const struct bk_msg_job *job, enum bk_msg_outcome outcome)
{
	bk_msg_result_init(res);
	bk_msg_head_new(&res->head);
	snprintf(res->host, sizeof(res->host), "%s", host);
	res->outcome = outcome;
	if (job) {
		snprintf(res->job_id, sizeof(res->job_id), "%s", job->job_id);
		snprintf(res->job, sizeof(res->job), "%s", job->job);
		res->action = job->action;
	}
	res->started = bk_now();
	res->finished = res->started;
}

/* The last non-empty line of the job's log (for failures without a report). */
static void log_tail(int dirfd, const char *job_id, char *out, size_t size)
{
	char name[BK_ID_MAX + 8], buf[1024];
	struct stat st;
	size_t got = 0;
	char *end, *start;
	int fd;

	out[0] = '\0';
	bk_child_log_name(job_id, name, sizeof(name));
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		uint64_t off = (uint64_t)st.st_size > sizeof(buf) - 1
				       ? (uint64_t)st.st_size - (sizeof(buf) - 1)
				       : 0;

		if (bk_pread_full(fd, buf, sizeof(buf) - 1, off, &got) < 0)
			got = 0;
	}
	close(fd);
	buf[got] = '\0';
	end = buf + got;
	while (end > buf && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(buf, '\n');
	snprintf(out, size, "%s", start ? start + 1 : buf);
}

/* The failure of a child that left no valid report (note 7). */
static void result_without_report(int dirfd, const char *backy, const struct bk_msg_job *job,
				  int status, struct bk_msg_result *res)
{
	char msg[1200], tail[1024];
	bool killed = status != -1 && WIFSIGNALED(status);

	log_tail(dirfd, job->job_id, tail, sizeof(tail));
	if (killed)
		snprintf(msg, sizeof(msg), "backy was killed by signal %d%s%s", WTERMSIG(status),
			 tail[0] ? ": " : "", tail);
	else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
		snprintf(msg, sizeof(msg), "unable to run '%s'%s%s", backy, tail[0] ? ": " : "",
			 tail);
	else
		snprintf(msg, sizeof(msg), "backy ended without a result%s%s", tail[0] ? ": " : "",
			 tail);
	bk_msg_result_set_error(res, killed ? "EINTR" : "EIO", msg, true);
}

void bk_child_result(int dirfd, const char *host, const char *backy,
		     const struct bk_msg_job *job, int64_t started, int status,
		     struct bk_msg_result *res)
{
	char name[BK_ID_MAX + 16];
	struct bk_report rep;
	char *text = NULL;
	size_t len;
	int r;

	bk_child_result_init(res, host, job, BK_OUTCOME_FAILED);
	res->started = started;
	res->finished = bk_now();
	if (res->finished < res->started)
		res->finished = res->started;
	bk_report_init(&rep);
	bk_child_result_name(job->job_id, name, sizeof(name));
	r = bk_fs_read_all(dirfd, name, MAX_REPORT_BYTES, &text, &len);
	if (r == 0)
		r = bk_report_decode(text, len, &rep, NULL);
	free(text);
	if (r < 0) {
		result_without_report(dirfd, backy, job, status, res);
		bk_report_release(&rep);
		return;
	}
	if (rep.outcome == BK_REPORT_OK)
		res->outcome = BK_OUTCOME_OK;
	else if (rep.outcome == BK_REPORT_SKIPPED)
		res->outcome = BK_OUTCOME_SKIPPED;
	if (res->outcome != BK_OUTCOME_OK) {
		const char *code = rep.error_code;
		const char *msg = rep.error_message;

		if (!code[0] && res->outcome == BK_OUTCOME_SKIPPED) {
			code = BK_CHILD_NOT_DUE_CODE;
			msg = "nothing is due according to the schedule";
		}
		if (!code[0] || strlen(code) > BK_MSG_NAME_MAX)
			code = "EUNKNOWN";
		if (!msg || !msg[0])
			msg = "backy failed without a message";
		bk_msg_result_set_error(res, code, msg, bk_error_name_transient(code));
	}
	snprintf(res->revision, sizeof(res->revision), "%s", rep.revision);
	for (size_t i = 0; i < rep.tags.n && i < BK_MSG_MAX_ITEMS; i++)
		if (strlen(rep.tags.v[i]) <= BK_MSG_NAME_MAX)
			bk_strv_add(&res->tags, rep.tags.v[i]);
	if (rep.has_verify && job->action == BK_ACTION_VERIFY) {
		res->has_verify = true;
		bk_scrub_counts_copy(&res->verify, &rep.verify);
	}
	if (rep.has_stats) {
		res->has_stats = true;
		res->stats.bytes_written = rep.stats.bytes_written;
		res->stats.size = rep.stats.size;
		res->stats.duration = rep.stats.duration < BK_MSG_MAX_DURATION ? rep.stats.duration : 0;
	}
	bk_report_release(&rep);
}
