/*
 * worker_config.h: backy-worker's config file: a small strict YAML map
 * (ydoc.h), loaded at start and again on SIGHUP.
 *
 *   host: storage01              required: the job queue is backy.jobs.<host>
 *   base-dir: /srv/backy         required: the repositories' parent
 *   amqp: {url: amqps://...}     required, url required (proto/mq_yaml.h)
 *   slots: 2                     jobs at once, 1 to BK_MSG_MAX_SLOTS
 *   grace: 600                   seconds running jobs get on SIGTERM
 *   heartbeat-interval: 5        seconds between heartbeat messages
 *   state-dir: DIR               journal; default <base-dir>/.backy-worker
 *   backy: /usr/bin/backy        default: next to backy-worker, else PATH
 *   keep-results: 7d             how long done journal entries are kept
 *   simulated-time: false        see below
 *   ceph: {conf, id}             local secrets and defaults of sources,
 *   consul: {url, token}           merged into the repository configs the
 *                                  worker writes; never taken from a message
 *   allow: ..., retention: ...   this host's policy (fleet_policy.h)
 *
 * Errors name the file and the line: "worker.yaml: line 3: 'slots' must be
 * from 1 to 1024".  A reload builds a new config and keeps the old one when
 * the new one is bad; host, base-dir and state-dir need a restart
 * (fleet_worker.c decides that).
 *
 * simulated-time: true is for drills and end-to-end tests with a
 * coordinator on simulated time (BACKY_NOW, --time-scale): each backy child
 * gets BACKY_NOW=<the job message's time>, which is the coordinator's now at
 * dispatch, so revision timestamps, expiry and the schedule follow the
 * simulated clock (child.h).  Never set it in production: the revisions
 * would carry the sender's clock, not the storage host's.
 */
#ifndef BK_WORKER_CONFIG_H
#define BK_WORKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fleet_policy.h"
#include "mq_yaml.h"

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
	struct bk_amqp_settings amqp; /* the broker (url always set) */
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

/* Free everything CFG owns and zero it; a zeroed config is a no-op. */
void bk_fleet_config_release(struct bk_fleet_config *cfg);

/*
 * Load and validate the worker config at PATH into CFG (which needs no
 * initialisation; release it after success; after an error it holds
 * nothing).  base-dir must exist (it is resolved with realpath) and an
 * explicit `backy` path must be executable.
 */
int bk_fleet_config_load(const char *path, struct bk_fleet_config *cfg, struct bk_err *err);

/*
 * The same from the text TEXT (LEN bytes); NAME stands for the file in
 * messages.  For tests and for bk_fleet_config_load.
 */
int bk_fleet_config_parse(const char *text, size_t len, const char *name,
			  struct bk_fleet_config *cfg, struct bk_err *err);

#endif
