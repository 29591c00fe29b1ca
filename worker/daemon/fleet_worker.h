/*
 * fleet_worker.h: backy-worker, the storage-host daemon of the backy fleet.
 *
 * It consumes its host's job queue, runs every job as a `backy` child
 * process, publishes results and heartbeats.  The design notes are at the
 * top of fleet_worker.c; the operator's view is docs/backy-worker.1.
 */
#ifndef BK_FLEET_WORKER_H
#define BK_FLEET_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fleet_policy.h"

#define BK_FLEET_DEFAULT_SLOTS 2
#define BK_FLEET_DEFAULT_GRACE 600          /* seconds */
#define BK_FLEET_DEFAULT_HEARTBEAT 5        /* seconds */
#define BK_FLEET_DEFAULT_KEEP (7 * 86400)   /* seconds a done journal entry is kept */

/* A parsed worker config; every string is owned (NULL when not set). */
struct bk_fleet_config {
	char *host;       /* storage host name: the job queue is backy.jobs.<host> */
	char *base_dir;   /* resolved absolute path of the repositories' parent */
	char *state_dir;  /* journal; default <base_dir>/.backy-worker */
	char *backy;      /* the backy binary (absolute, or a name looked up in PATH) */
	char *amqp_url;
	int amqp_heartbeat; /* seconds; 0: the adapter's default */
	char *amqp_ca_cert;
	bool amqp_tls_verify;
	unsigned slots;
	unsigned grace;              /* seconds running jobs get on SIGTERM */
	unsigned heartbeat_interval; /* seconds between heartbeat messages */
	int64_t keep;                /* seconds done journal entries are kept */
	bool simulated_time;         /* children get BACKY_NOW = the job's time (tests) */
	/* Local secrets and defaults for sources (never taken from messages). */
	char *ceph_conf, *ceph_id;
	char *consul_url, *consul_token;
	struct bk_fleet_policy policy; /* what jobs may ask of this host (fleet_policy.h) */
};

void bk_fleet_config_release(struct bk_fleet_config *cfg);

/*
 * Load and validate the worker config at PATH into CFG (which needs no
 * initialisation; release it after success).  Errors name the file and the
 * line: "worker.yaml: line 3: 'slots' must be from 1 to 1024".  ARGV0 helps
 * find the default backy binary (next to the worker's executable).
 */
int bk_fleet_config_load(const char *path, struct bk_fleet_config *cfg, struct bk_err *err);

/*
 * Run the daemon until SIGTERM/SIGINT with CFG (taken over: the daemon
 * releases it).  CONFIG_PATH is re-read on SIGHUP.  Returns 0 after a clean
 * stop, or an error that kept it from running (state directory locked, ...).
 */
int bk_fleet_run(const char *config_path, struct bk_fleet_config *cfg, struct bk_err *err);

#endif
