/*
 * fleet_worker.h: backy-worker, the storage-host daemon of the backy fleet.
 *
 * It consumes its host's job queue, runs every job as a `backy` child
 * process, publishes results and heartbeats.  The design notes are at the
 * top of fleet_worker.c; the operator's view is docs/backy-worker.8.
 */
#ifndef BK_FLEET_WORKER_H
#define BK_FLEET_WORKER_H

#include "error.h"
#include "worker_config.h"

/*
 * Run the daemon until SIGTERM/SIGINT with CFG (taken over: the daemon
 * releases it).  CONFIG_PATH is re-read on SIGHUP.  Returns 0 after a clean
 * stop, or an error that kept it from running (state directory locked, ...).
 */
int bk_fleet_run(const char *config_path, struct bk_fleet_config *cfg, struct bk_err *err);

#endif
