/*
 * fleet_repo.h: backy-worker's side of a repository: the directory under the
 * base directory and the config the worker writes for a job.
 *
 * Kept apart from fleet_worker.c because the wire format (proto.h) and the
 * store (source.h) both name their source types BK_SOURCE_*: this interface
 * uses neither.
 */
#ifndef BK_FLEET_REPO_H
#define BK_FLEET_REPO_H

#include <limits.h>

#include "error.h"
#include "fleet_worker.h"

enum bk_fleet_source_type {
	BK_FLEET_SOURCE_NONE = 0, /* keep the repository's source */
	BK_FLEET_SOURCE_FILE,
	BK_FLEET_SOURCE_RBD,
	BK_FLEET_SOURCE_FLYINGCIRCUS,
};

/* A job's source as the message gives it (borrowed strings, "" / NULL when unused). */
struct bk_fleet_source {
	enum bk_fleet_source_type type;
	const char *filename, *pool, *image, *vm;
};

/*
 * Make <base-dir>/<JOB> (BASEFD is base-dir) a real directory right under the
 * base directory -- never through a symlink -- with the config the job asks
 * for: SRC, SCHEDULE_YAML (the map body as bk_schedule_format_yaml writes it
 * with indent 2, or NULL to keep the current/default schedule), the local
 * secrets of CFG, and whatever the existing config says about the rest
 * (created, block size, tuning).  The config is written only when it
 * changes.  PATH (PATH_MAX bytes) receives the repository's path.
 * JOB must be a valid job name (proto.h note 7); it is checked again.
 */
int bk_fleet_repo_prepare(const struct bk_fleet_config *cfg, int basefd, const char *job,
			  const struct bk_fleet_source *src, const char *schedule_yaml, char *path,
			  struct bk_err *err);

#endif
