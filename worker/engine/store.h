/*
 * store.h: a backy repository: one directory per backed-up disk.
 *
 *   config          YAML: source, schedule, tag-retention, block-size, created,
 *                   adopted (mode 0600 when it holds a Consul token, else 0640)
 *   <id>            raw image, sparse, exact copy of the source (mode 0440)
 *   <id>.sums       block checksum manifest (manifest.h)
 *   <id>.rev        YAML metadata (revision.h); its presence commits the revision
 *   quarantine/     reports of verification failures (<id>-<time>.yaml), kept
 *   latest -> <id>  newest complete revision
 *   .lock           flock()ed by every writer
 *   .new-<id>*      the revision being written; removed if a run dies
 *
 * Design notes:
 * 1. A revision exists exactly when <id>.rev exists.  Its image and
 *    manifest are fsynced and renamed into place before the .rev is
 *    written (atomically), and the .rev is removed first when a revision
 *    is deleted.  So a crash at any moment leaves every revision intact,
 *    and leftovers are files the next backup deletes (bk_repo_cleanup).
 * 2. Writers (backup, expire, forget, tags, verify, distrust) hold an
 *    exclusive non-blocking flock on .lock; the kernel releases it when a
 *    process dies, so a lock can never go stale.  Readers (status, find,
 *    restore, check) take no lock: they only ever see complete revisions.
 * 3. Nothing is deleted because of metadata that does not parse: a corrupt
 *    config or .rev makes every command fail with a message naming it.  An
 *    incomplete revision (no stats.duration: a Python backy run that died,
 *    or damage) is listed but never deleted automatically.
 * 4. A revision can be held (bk_repo_hold_rev): its image open read-only
 *    with a shared flock.  The lock lives as long as that open file, also
 *    after it was handed to the kernel: `backy mount` gives it to a loop
 *    device, which keeps it until it is detached, so a hold never goes
 *    stale.  Deleting a revision takes an exclusive flock on its image
 *    first (bk_repo_remove_rev), so a held revision is never deleted:
 *    expire keeps it, forget refuses it (retention.h).
 */
#ifndef BK_STORE_H
#define BK_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "revision.h"
#include "expire.h"
#include "source.h"

#define BK_DEFAULT_BLOCK_SIZE (64u << 10)

struct bk_repo_config {
	struct bk_source_config source;
	struct bk_schedule schedule;
	uint32_t block_size;
	int64_t created;         /* when the repository was initialised */
	/*
	 * When revisions written by Python backy became ours (`backy adopt`,
	 * `backy import`: adopt.h), 0 if never.  Their manifests were made
	 * then, from their data, so a distrust Python recorded before says
	 * nothing about whether a manifest matches its image: each revision
	 * up to this time starts a chain of its own (engine.c, parent_trusted).
	 */
	int64_t adopted;
	/*
	 * The longest keep x interval each tag ever had (`tag-retention:`):
	 * expiry keeps a tag that left the schedule on revisions younger than
	 * this.  Never below the current schedule: parsing raises it to the
	 * schedule (a config without it gets the schedule's) and formatting
	 * writes at least the schedule's.
	 */
	struct bk_retention retention;
};

struct bk_repo {
	char *path;              /* as given */
	char *name;              /* job name: basename of the real path */
	int dirfd;
	int lockfd;              /* -1 unless locked */
	struct bk_repo_config cfg;
	struct bk_rev *revs;     /* every revision, oldest first */
	size_t n;
};

void bk_repo_config_release(struct bk_repo_config *cfg);

/* Parse a repository config (NAME for messages). */
int bk_repo_config_parse(const char *buf, size_t len, const char *name,
			 struct bk_repo_config *cfg, struct bk_err *err);
void bk_repo_config_format(const struct bk_repo_config *cfg, struct bk_buf *out);

/*
 * Before CFG replaces OLD (the same repository's previous config), carry
 * the retention record over: for each tag, CFG's record becomes the largest
 * of OLD's record, OLD's schedule and CFG's schedule.  Every writer that
 * changes the schedule of an existing repository must call this, so that a
 * new schedule (possibly from the broker) never shortens the retention a
 * tag had.
 */
void bk_repo_config_merge_retention(struct bk_repo_config *cfg, const struct bk_repo_config *old);

/*
 * Replace the config of the open, locked REPO with CFG (atomically, with
 * bk_repo_config_mode); repo->cfg is not changed.  Callers carry the
 * retention over first (bk_repo_config_merge_retention).
 */
int bk_repo_save_config(struct bk_repo *repo, const struct bk_repo_config *cfg, struct bk_err *err);

/* Mode of the config file: 0600 when it holds a secret (a Consul token), else 0640. */
mode_t bk_repo_config_mode(const struct bk_repo_config *cfg);

/*
 * Create repository DIR (the directory may exist, its config must not) with
 * CFG.  Returns BK_EUSAGE if a config exists already.
 */
int bk_repo_init(const char *dir, const struct bk_repo_config *cfg, struct bk_err *err);

/*
 * Open DIR and load its config and revisions.  A config backy did not
 * write (BK_CONFIG_FOREIGN) is refused with BK_ECONFIG, naming `backy
 * adopt` and `backy import`.
 */
int bk_repo_open(struct bk_repo *repo, const char *dir, struct bk_err *err);

/*
 * Who wrote the config text TEXT: backy (a YAML map with a key every version
 * writes, block-size or created, or one it adds, tag-retention or adopted),
 * another program (a map without them: Python backy's configs hold source
 * and schedule only, and may parse as ours, but must not be used as ours:
 * adopt.h, import_py.h), or nobody can tell (not a YAML map: the parser
 * says why).
 */
enum bk_config_origin { BK_CONFIG_OURS, BK_CONFIG_FOREIGN, BK_CONFIG_UNREADABLE };

enum bk_config_origin bk_repo_config_origin(const char *text, size_t len);

/* A parser of DIR/config: ours (bk_repo_config_parse) or Python backy's (pyrepo.h). */
typedef int (*bk_repo_config_parser)(const char *buf, size_t len, const char *name,
				     struct bk_repo_config *cfg, struct bk_err *err);

/* bk_repo_open with the config read by PARSE (bk_repo_open uses bk_repo_config_parse). */
int bk_repo_open_as(struct bk_repo *repo, const char *dir, bk_repo_config_parser parse,
		    struct bk_err *err);
void bk_repo_close(struct bk_repo *repo);

/* (Re)load every <id>.rev; fails on the first corrupt one. */
int bk_repo_load(struct bk_repo *repo, struct bk_err *err);

/* Take the writer lock, failing at once with BK_ELOCKED if it is held. */
int bk_repo_lock(struct bk_repo *repo, struct bk_err *err);

/* Remove leftovers of interrupted runs (needs the lock); returns how many files. */
int bk_repo_cleanup(struct bk_repo *repo, struct bk_err *err);

/* Index of the newest complete revision, or -1. */
long bk_repo_newest(const struct bk_repo *repo);

/* Write REV's .rev atomically and update the in-memory copy (needs the lock). */
int bk_repo_save_rev(struct bk_repo *repo, const struct bk_rev *rev, struct bk_err *err);

/* Insert a freshly committed revision into the loaded history. */
void bk_repo_add_rev(struct bk_repo *repo, const struct bk_rev *rev);

/*
 * Delete revision IDX: .rev first, then image and manifest (needs the
 * lock).  BK_ELOCKED, deleting nothing, while the revision is held.
 */
int bk_repo_remove_rev(struct bk_repo *repo, size_t idx, struct bk_err *err);

/*
 * Hold revision IDX (design note 4): open its image read-only (O_CLOEXEC)
 * with a shared flock into *FD, which the caller owns and closes (or hands
 * to the kernel).  While that open file lives, the revision is not deleted.
 * BK_ELOCKED if it is being deleted right now, BK_ENOREV if it was deleted
 * since REPO was loaded.  Needs no writer lock.
 */
int bk_repo_hold_rev(const struct bk_repo *repo, size_t idx, int *fd, struct bk_err *err);

/*
 * BK_ELOCKED, saying so in ERR (may be NULL), when anyone holds revision
 * IDX (bk_repo_hold_rev); 0 otherwise, also when its image is missing.
 */
int bk_repo_rev_held(const struct bk_repo *repo, size_t idx, struct bk_err *err);

/* Point 'latest' at the newest complete revision (or remove it). */
int bk_repo_update_latest(struct bk_repo *repo, struct bk_err *err);

/*
 * Refuse (BK_EUSAGE) to write to PATH when that would write into REPO:
 * PATH, following links, is a file of the repository directory or another
 * name of one (hard link, symlink, a path through a symlinked directory),
 * or the directory PATH is or would be created in resolves to the
 * repository directory or one below it.  FD, when >= 0, is what will be
 * written (PATH opened, or stdout with PATH NULL) and is checked too.
 * Returns 0 otherwise, also when PATH cannot be examined (opening it will
 * say why).
 */
int bk_repo_check_target(const struct bk_repo *repo, const char *path, int fd, struct bk_err *err);

/* Validate a tag for TAGS commands: in the schedule, "manual:" prefixed, or FORCE. */
int bk_repo_check_tag(const struct bk_repo *repo, const char *tag, bool force, struct bk_err *err);

#endif
