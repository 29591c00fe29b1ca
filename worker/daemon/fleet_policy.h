/*
 * fleet_policy.h: what a storage host lets a job message do.
 *
 * The broker is not trusted (docs/architecture: the trust model): anyone
 * who can publish to it can put any job into a worker's queue.  So the
 * worker's own config decides, and this module holds that decision:
 *
 *   allow:
 *     pools: [rbd, rbd.ssd]     Ceph pools whose images may be backed up
 *     images: ["vm*"]           optional fnmatch(3) patterns for image names
 *     paths: [/srv/images]      directories whose files/devices may be read
 *   retention:
 *     min-keep: 3               expiry never leaves fewer revisions
 *     min-age: 1d               nor deletes a younger one
 *
 * Design notes:
 * 1. Deny by default: with no `allow` block no source is allowed, so a
 *    worker config copied from an old release refuses jobs loudly instead
 *    of reading whatever a message names.
 * 2. A path is allowed when it lies below an allowed directory, compared
 *    component-wise on the literal path (the wire format refuses `.`, `..`
 *    and relative paths, so the literal path is what the child opens).
 *    Symlinks inside an allowed directory are followed by the child: the
 *    directories must be writable only by root (documented).
 * 3. The retention floors are handed to every `backy expire` child
 *    (--min-keep, --min-age); the engine enforces them (schedule.h).
 * 4. The job digest identifies what a job asks for (repository, host,
 *    action, tags, source, schedule, older_than), not how often it was sent (id,
 *    time, deadline, attempt): a job id seen again with another digest is
 *    a forgery or a bug, and is rejected rather than answered from the
 *    journal.
 */
#ifndef BK_FLEET_POLICY_H
#define BK_FLEET_POLICY_H

#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "source_spec.h"
#include "strv.h"
#include "ydoc.h"

#define BK_FLEET_DEFAULT_MIN_KEEP 3
#define BK_FLEET_DEFAULT_MIN_AGE 86400 /* seconds */

struct bk_fleet_policy {
	struct bk_strv pools;  /* allowed Ceph pools; empty: no RBD source */
	struct bk_strv images; /* fnmatch patterns; empty: any image of an allowed pool */
	struct bk_strv paths;  /* allowed directories (absolute, no trailing '/'); empty: no file source */
	uint64_t min_keep;     /* revisions */
	int64_t min_age;       /* seconds */
};

/* Defaults: nothing allowed, floors BK_FLEET_DEFAULT_MIN_KEEP/_MIN_AGE. */
void bk_fleet_policy_init(struct bk_fleet_policy *p);
void bk_fleet_policy_release(struct bk_fleet_policy *p);

/*
 * Parse the `allow` and `retention` maps of a worker config (either may be
 * NULL: absent) into P (initialised by the caller).  NAME is the file, for
 * messages with line numbers.  BK_ECONFIG on anything unknown or invalid.
 */
int bk_fleet_policy_parse(const struct bk_ynode *allow, const struct bk_ynode *retention,
			  const char *name, struct bk_fleet_policy *p, struct bk_err *err);

/*
 * Whether this host may back up SRC: 0 (also for no source), or BK_EDENIED
 * with a message that names the source and the config key that would
 * allow it.
 */
int bk_fleet_policy_check(const struct bk_fleet_policy *p, const struct bk_source_spec *src,
			  struct bk_err *err);

struct bk_msg_job;

/* The digest of what job J asks for (note 4), as hex. */
void bk_fleet_job_digest(const struct bk_msg_job *j, char out[2 * BK_DIGEST_LEN + 1]);

#endif
