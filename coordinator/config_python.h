/*
 * config_python.h: what the keys of Python backy 2.x's central config
 * (`backy.conf`: global, schedules, jobs) become in backy-coordinator's
 * config (config.h).  An unmodified backy.conf is a valid config: alone
 * (fleet settings from the defaults) or included from a file with the
 * fleet settings (`include: backy.conf`).
 *
 * The `global` map, key by key:
 *
 *   base-dir                   kept (co_config.base_dir): the storage hosts'
 *                              base-dir, which their worker config sets
 *                              (backy-worker(8)); an absolute path
 *   worker-limit               kept (co_config.worker_limit): the storage
 *                              hosts' `slots`, jobs at once per host; 1..1024;
 *                              a worker reporting other slots is warned about
 *   backup-completed-callback  mapped: a program the coordinator runs after
 *                              each successful backup it accounts, with the
 *                              job name as its argument and the result
 *                              message on stdin (callback.h)
 *   status-file                mapped: the coordinator writes its status
 *                              document (GET /v1/status, JSON) there
 *   status-interval            mapped: seconds between status-file writes
 *   telnet-addrs, telnet-port  refused: the telnet console is replaced by
 *   api                        `backyctl status` and GET /v1/status
 *
 * Other keys of `global` are refused as unknown.  All refusals of one
 * section come in one message, each naming its replacement.  Source keys
 * of Python's (backend, cow, full-always) are read by py_source_keys.h.
 */
#ifndef CO_CONFIG_PYTHON_H
#define CO_CONFIG_PYTHON_H

#include "config.h"
#include "error.h"
#include "py_source_keys.h"
#include "ydoc.h"

/* Read the `global` map G of file NAME into C. */
int co_python_global(const struct bk_ynode *g, const char *name, struct co_config *c,
		     struct bk_err *err);

/*
 * A source key of Python's (py_source_keys.h) for the central config: 0
 * when taken, 1 when not one, BK_ECONFIG for a bad value or for
 * `full-always: true` (a setting of the storage host, not of the job).
 * WHERE is {file name, job name}.
 */
int co_python_source_key(const char *const *where, enum bk_source_type type, const char *key,
			 const struct bk_ynode *v, struct bk_err *err);

#endif
