/*
 * child.h: the `backy` child process that runs one job for backy-worker:
 * its command line and environment, starting it, and turning its exit
 * status and its --result file into the job's result message.
 *
 * Design notes
 *
 * 1. Files.  A job's child writes its output to <state-dir>/<job id>.log
 *    and its job report (proto/report.h) to <state-dir>/<job id>.result;
 *    both live next to the journal (job_journal.h) and are read back here.
 *
 * 2. Supervision.  The child runs in its own process group (so a shutdown
 *    can signal everything backy started) with PR_SET_PDEATHSIG = SIGKILL:
 *    if the worker dies the child dies with it, and the broker redelivers
 *    the job.  A child whose worker died before prctl took effect exits 126
 *    instead of running unsupervised.
 *
 * 3. vfork: no copy of the worker's page tables, and the worker goes on
 *    once backy is exec'd.  The child shares the worker's memory until
 *    execve, so everything it needs (argv, envp) is built before the fork.
 *
 * 4. Retention floors.  An expire child always gets this host's floors
 *    (--min-keep, --min-age; fleet_policy.h), whatever the job's schedule
 *    says.
 *
 * 5. Simulated time (worker_config.h): the child gets BACKY_NOW=<the job
 *    message's time> instead of any BACKY_NOW of the worker's environment.
 *
 * 6. Verify jobs read and mark revisions only: `backy verify` re-reads
 *    them under the repository lock and changes nothing but their trust
 *    (verified, or distrusted with a quarantine report); its counts
 *    (checked, distrusted) travel in the result (scrub_counts.h).
 *
 * 7. Results.  A report that is missing or invalid becomes a failure with
 *    the last line of the child's log (killed by a signal: EINTR, otherwise
 *    EIO; both transient).  Whether a failure is transient comes from the
 *    error table (bk_error_name_transient, error.h).
 */
#ifndef BK_WORKER_CHILD_H
#define BK_WORKER_CHILD_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "proto.h"
#include "worker_config.h"

#define BK_CHILD_NOT_DUE_CODE "NOTDUE" /* error code of a skipped job without one */

/* The command line and environment of one child; everything it points to is its own. */
struct bk_child_cmd {
	const char *argv[20]; /* NULL-terminated; argv[0] is the backy binary */
	char **envp;          /* owned array of borrowed strings (environ, now) */
	struct bk_buf tags;   /* the job's tags joined by ',' ("" when none) */
	char min_keep[32], min_age[32], older_than[32];
	char now[80];         /* "BACKY_NOW=..." under simulated time */
	char result[PATH_MAX]; /* the --result path */
	char progress[PATH_MAX]; /* the --progress-file path */
};

/*
 * Build the command for JOB of CFG: `backy -b REPO --result
 * <state-dir>/<job id>.result --progress-file <state-dir>/<job id>.progress
 * backup [-f TAGS] | expire --min-keep N --min-age Ns | verify -r all
 * [--older-than Ns]`, and the environment (note 5).  Release
 * with bk_child_cmd_release().
 */
void bk_child_cmd_init(struct bk_child_cmd *c, const struct bk_fleet_config *cfg,
		       const struct bk_msg_job *job, const char *repo);
void bk_child_cmd_release(struct bk_child_cmd *c);

/*
 * Start C with stdout and stderr on LOGFD (or inherited when -1) and stdin
 * on /dev/null (notes 2 and 3).  PARENT is getpid() of the caller.  The pid,
 * or -1 with errno set.  The caller also calls setpgid(pid, pid).
 */
pid_t bk_child_spawn(const struct bk_child_cmd *c, int logfd, pid_t parent);

/* "<job id>.log" and "<job id>.result": the child's files in the state directory. */
void bk_child_log_name(const char *job_id, char *out, size_t size);
void bk_child_result_name(const char *job_id, char *out, size_t size);
/* "<job id>.progress": where a running child keeps its progress (progress_doc.h). */
void bk_child_progress_name(const char *job_id, char *out, size_t size);

/*
 * A result of HOST for JOB (NULL: an invalid job, fields left empty) with
 * OUTCOME, a fresh message head and started = finished = now.  Release it.
 */
void bk_child_result_init(struct bk_msg_result *res, const char *host,
			  const struct bk_msg_job *job, enum bk_msg_outcome outcome);

/*
 * The result of JOB's child from its report in the state directory DIRFD
 * (read, not removed) and, without one, its log (note 7).  STATUS is the
 * wait status, or -1 when unknown (a run adopted from a dead worker).
 * STARTED is when the run began (bk_now()); BACKY names the binary for
 * "unable to run" messages.  Release RES after.
 */
void bk_child_result(int dirfd, const char *host, const char *backy,
		     const struct bk_msg_job *job, int64_t started, int status,
		     struct bk_msg_result *res);

#endif
