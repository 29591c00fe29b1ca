/*
 * job_journal.h: backy-worker's idempotency journal, one small file per job id.
 *
 * The journal lives in the worker's state directory:
 *
 *   .lock              flock()ed by the one worker that owns the directory
 *   <job_id>.json      the entry of one job (written atomically)
 *   <job_id>.result    the child's --result file (the worker's scratch)
 *   <job_id>.log       the child's stderr
 *
 *        put(RUNNING, durable)        put(DONE, durable)      put(DONE+published)
 *   none ----------------------> running -------------------> done -------------> done
 *                                   |  worker died (stale)      ^
 *                                   +---- redelivery re-runs ---+
 *
 * Design notes:
 * 1. An entry (struct bk_journal_entry) and its file format live in
 *    proto/journal_entry.h: a JSON object with the state, the job, the
 *    processes, "digest" (what the job asked for, fleet_policy.h note 4)
 *    and, once done, the result message embedded as an object.
 * 2. A running entry is stale when neither the worker (pid) nor its child
 *    is alive any more.  A process counts as alive only when its pid exists
 *    AND its start time (/proc/PID/stat field 22) is the one recorded, so a
 *    reused pid never keeps a dead job alive.
 * 3. Job ids are bk_id_valid() strings ([A-Za-z0-9_-], not starting with
 *    '-'): safe file names.  Every function refuses anything else.
 * 4. Only one worker owns a state directory (the flock on .lock, taken by
 *    bk_journal_open): two workers sharing one would each consider the
 *    other's running entries their own business.
 * 5. The done entry of a job whose child ran costs one flush: the running
 *    entry written after the fork is made durable by a directory fsync
 *    while the child runs (bk_journal_sync), and the done entry overwrites
 *    that file in place (bk_journal_put_final).  A power failure during the
 *    overwrite leaves the running entry or a file that does not parse
 *    (trailing data is rejected): both mean "not done", which is true,
 *    as the result is published only after the flush returned.
 */
#ifndef BK_JOB_JOURNAL_H
#define BK_JOB_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "id.h"
#include "journal_entry.h"

struct bk_journal {
	char *dir;  /* owned */
	int dirfd;  /* -1 when closed */
	int lockfd; /* -1 when closed */
};

/*
 * Open (creating it 0700 when missing) the journal in DIR and take its lock.
 * BK_ELOCKED when another process holds it.  J needs no initialisation.
 */
int bk_journal_open(struct bk_journal *j, const char *dir, struct bk_err *err);
void bk_journal_close(struct bk_journal *j);

/*
 * Read the entry of JOB_ID into E (which needs no initialisation; release
 * it after success).  -ENOENT when there is none; BK_ECORRUPT when the file
 * does not parse (the caller may remove it).
 */
int bk_journal_get(struct bk_journal *j, const char *job_id, struct bk_journal_entry *e,
		   struct bk_err *err);

/*
 * Write E atomically (temporary file + rename).  DURABLE also fsyncs the file
 * and the directory, so the entry survives a power failure; without it the
 * entry survives a crash of the worker only.
 */
int bk_journal_put(struct bk_journal *j, const struct bk_journal_entry *e, bool durable,
		   struct bk_err *err);

/* Make the names of the entries written so far durable (fsync of the directory). */
int bk_journal_sync(struct bk_journal *j, struct bk_err *err);

/*
 * Write E durably with one flush: overwrite its existing entry file in
 * place (write, truncate, fdatasync) instead of temporary file, fsync,
 * rename and directory fsync.  Only for an entry whose name bk_journal_sync
 * made durable and that no rename replaced since (note 5).  Without an
 * entry file it is bk_journal_put(durable).
 */
int bk_journal_put_final(struct bk_journal *j, const struct bk_journal_entry *e,
			 struct bk_err *err);

/* Remove the entry of JOB_ID and its .result and .log files; missing ones are fine. */
int bk_journal_remove(struct bk_journal *j, const char *job_id, struct bk_err *err);

/*
 * The job ids that have an entry, in no particular order.  *IDS is an owned
 * array of owned strings: free with bk_journal_ids_free.
 */
int bk_journal_list(struct bk_journal *j, char ***ids, size_t *n, struct bk_err *err);
void bk_journal_ids_free(char **ids, size_t n);

/* Remove done entries finished before CUTOFF; returns how many, or an error. */
int bk_journal_prune(struct bk_journal *j, int64_t cutoff, struct bk_err *err);

/* Start time of process PID (/proc/PID/stat field 22), or 0 when it does not exist. */
unsigned long long bk_journal_proc_start(pid_t pid);

/* Whether PID is alive and started at START (note 2). */
bool bk_journal_proc_alive(long pid, unsigned long long start);

/* Whether E is a running entry whose worker and child are both gone. */
bool bk_journal_entry_stale(const struct bk_journal_entry *e);

#endif
