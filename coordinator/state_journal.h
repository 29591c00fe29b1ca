/*
 * state_journal.h: how the coordinator's state reaches the disk: a snapshot (the
 * state file, state.h) plus an append-only journal "<state-file>.journal".
 *
 * Rewriting the whole state file costs about 0.8 s at 100,000 jobs; the
 * daemon must make every dispatch durable before publishing it and every
 * result before acknowledging it, which at about one due job per second
 * would keep it rewriting all the time.  So a commit appends only what
 * changed since the last one (state.h's change records) and fdatasyncs
 * that; a compaction rewrites the snapshot atomically and starts a new,
 * empty journal, occasionally.
 *
 * Journal format (text, one record per line):
 *
 *     backy-coordinator-journal 1 gen=G
 *     J name=vm01 host=b1 ...              \
 *     R name=vm01 kind=backup id=... ...    | one batch: the records of
 *     K name=vm02 kind=backup id=...        | one commit, in order
 *     Q id=...                             /
 *     C seq=1 n=4 sum=<xxh64 of the batch's bytes, hex>
 *     ...
 *
 * Invariants
 *   1. The snapshot's header names generation G; only a journal with the
 *      same G continues it.  A compaction writes the snapshot with G+1
 *      first (atomic rename, directory fsync), then replaces the journal
 *      by an empty one of G+1 (atomically too).  A crash in between leaves
 *      a journal of generation G next to a snapshot of G+1: stale, its
 *      content is in the snapshot, and it is ignored.  A journal NEWER
 *      than its snapshot (somebody restored or moved the state file) is an
 *      error, never guessed around.
 *   2. A batch counts only with its commit line: sequence numbers follow
 *      each other from 1 and the checksum and line count match.  Replay
 *      applies whole batches, so loading gives exactly the state of some
 *      commit (as an atomic full save would).
 *   3. What follows the last commit line (a partial line, a batch whose
 *      commit line never made it) is a torn tail: ignored, and cut off
 *      before the next append.  Only an interrupted append produces it and
 *      nothing depending on it was published or acknowledged (a commit
 *      returns after fdatasync).  Anything wrong before the last commit
 *      line is BK_ECORRUPT naming the line: the coordinator refuses to
 *      start rather than forget or repeat jobs.
 *   4. Records are images ('J' is the whole job, 'K' the confirmed flag of
 *      one run, 'Q' a request id), so applying a batch is idempotent per
 *      job, and state after snapshot + replay == state after a full save.
 *
 * Compaction happens when the state changed in a way records cannot say
 * (st->full: co_state_apply added, dropped or reordered jobs), when the
 * journal outgrows max(compact_bytes, size of the snapshot), when the
 * oldest commit is older than compact_us, when a previous write failed,
 * and when the caller asks (clean exit).
 *
 * Not thread-safe; one writer per state file (the daemon holds the lock).
 */
#ifndef CO_STATE_JOURNAL_H
#define CO_STATE_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "state.h"

#define CO_JOURNAL_COMPACT_BYTES ((uint64_t)4 << 20) /* at least; else the snapshot size */
#define CO_JOURNAL_COMPACT_US ((int64_t)300 * 1000000) /* 5 min after the first commit */

struct co_journal {
	char *state_path; /* owned copies */
	char *path;
	int fd;            /* open for writing once the first commit needs it, else -1 */
	bool broken;       /* a write failed: the next commit compacts */
	uint64_t gen;      /* generation of the journal file on disk */
	uint64_t seq;      /* last committed batch */
	uint64_t size;     /* bytes up to and including the last commit line */
	uint64_t file_size; /* bytes in the file (> size: a torn tail to cut) */
	uint64_t snap_bytes; /* size of the snapshot last read or written */
	int64_t first_commit; /* bk_monotonic() of the oldest commit in the journal, 0: none */
	/* policy; co_journal_init sets the defaults above, tests lower them */
	uint64_t compact_bytes;
	int64_t compact_us;
	/* what happened (for logs, metrics and the bench) */
	uint64_t replayed_batches, replayed_records;
	uint64_t torn_bytes; /* torn tail found by co_journal_load */
	bool stale;          /* co_journal_load ignored a journal of an older generation */
	uint64_t commits, compactions;
	uint64_t commit_bytes;
	int64_t last_commit_us, last_compact_us; /* durations */
};

/* Set up J for STATE_PATH (copied); nothing is opened yet. */
void co_journal_init(struct co_journal *j, const char *state_path);
void co_journal_release(struct co_journal *j);

/*
 * Fill ST (empty, as after co_state_init) from the snapshot and replay the
 * journal of its generation (invariants 1-3).  Missing files are an empty
 * state.  Opens nothing for writing.
 */
int co_journal_load(struct co_journal *j, struct co_state *st, struct bk_err *err);

/*
 * Make ST durable: compact (FORCE, or by the policy above), else append
 * and fdatasync the records of what changed (nothing to do when ST is not
 * dirty).  NOW (coordinator time) goes into the snapshot header.  On
 * success ST's change marks are cleared.  On error nothing is known to be
 * durable; the next commit compacts.
 */
int co_journal_commit(struct co_journal *j, struct co_state *st, int64_t now, bool force,
		      struct bk_err *err);

#endif
