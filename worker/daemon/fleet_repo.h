/*
 * fleet_repo.h: backy-worker's side of a repository: the directory under the
 * base directory and the config the worker writes for a job.
 *
 * The job names its source with the one source model (source_spec.h); the
 * repository config is built from it and this host's local settings
 * (Ceph client, Consul secrets) directly, as a struct, and written only
 * when it changes.
 */
#ifndef BK_FLEET_REPO_H
#define BK_FLEET_REPO_H

#include <limits.h>

#include "error.h"
#include "fleet_worker.h"
#include "schedule.h"
#include "source_spec.h"

/*
 * Make <base-dir>/<JOB> (BASEFD is base-dir) a real directory right under the
 * base directory -- never through a symlink -- with the config the job asks
 * for: SRC (type NONE: keep the repository's source), SCHEDULE (NULL: keep
 * the current/default schedule), the local settings of CFG (ceph.conf,
 * ceph.id, consul url and token), and whatever the existing config says
 * about the rest (created, block size, the tuning of a source of the same
 * type).  What a job may name is checked first (fleet_policy.h: the
 * allow-list; an existing repository's source is fixed; the retention
 * record is capped).  The config is written only when it changes.  PATH
 * (PATH_MAX bytes) receives the repository's path.  JOB must be a valid
 * job name (proto.h note 7); it is checked again.
 */
int bk_fleet_repo_prepare(const struct bk_fleet_config *cfg, int basefd, const char *job,
			  const struct bk_source_spec *src, const struct bk_schedule *schedule,
			  char *path, struct bk_err *err);

#endif
