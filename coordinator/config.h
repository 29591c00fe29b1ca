/*
 * config.h: the coordinator's central YAML configuration.
 *
 * A superset of Python backy's central config (global, schedules, jobs;
 * what its keys become: config_python.h) plus what a fleet needs:
 *
 *   include:   backy.conf             Python backy's config, unchanged: it
 *                                     supplies global, schedules and jobs,
 *                                     this file the rest (a key in both is
 *                                     an error); relative to this file
 *   global:    {base-dir: /srv/backy, worker-limit: 1, status-file: F, ...}
 *   schedules: {NAME: {TAG: {interval: 1d, keep: 7}, ...}, ...}
 *   jobs:      {NAME: {schedule: NAME, source: {type: ..., ...}, host: H}}
 *   amqp:      {url: amqp://..., heartbeat: 30, ca-cert: FILE, tls-verify: true}
 *   hosts:     [backy01, backy02]     storage hosts for automatic placement;
 *                                     default: this host alone (Python
 *                                     backy ran every job where it ran)
 *   status:    {listen: 127.0.0.1:PORT}  loopback, or any address with
 *              tls-cert, tls-key, auth-user and auth-password-file (all four)
 *   state-file: /var/lib/backy/state
 *   job-timeout: 6h                   deadline of a dispatched job
 *   expire: true                      expiry job after every good backup
 *   scrub:     {period: 30d, slice: 1d}  verify jobs: every revision re-read
 *                                     within period, one slice per job each
 *                                     slice (scrub.h); period: 0 turns it off
 *
 * Parsing is strict: unknown keys, wrong types, invalid names and secrets
 * (source.consul_acl_token) are errors naming the file and the line.  The
 * result is a complete, validated value: the daemon swaps it in whole or
 * not at all (transactional SIGHUP reload).
 *
 * Ownership: struct co_config owns every string and array in it.
 */
#ifndef CO_CONFIG_H
#define CO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "proto.h"
#include "schedule.h"

#define CO_DEFAULT_JOB_TIMEOUT (6 * 3600)
#define CO_DEFAULT_STATE_FILE "/var/lib/backy/state"
#define CO_DEFAULT_STATUS_INTERVAL 30 /* seconds, as Python backy */

struct co_sched {
	char *name;
	struct bk_schedule s;
};

struct co_jobcfg {
	char *name;
	size_t sched;                /* index into co_config.scheds */
	struct bk_source_spec source; /* what travels in the job message (source_spec.h) */
	char *host;                  /* explicit storage host, or NULL: automatic placement */
	int line;
};

/*
 * How the status server is protected beyond loopback: PEM certificate and
 * key, basic-auth user and password, read from their files at load time
 * (so --check-config and a restart see the same).  Each NULL when absent.
 */
struct co_status_auth {
	char *cert_pem;
	char *key_pem;
	char *user;
	char *password;
};

struct co_config {
	char *path;
	struct co_sched *scheds;
	size_t nscheds;
	struct co_jobcfg *jobs; /* sorted by name */
	size_t njobs;
	char *amqp_url;   /* NULL when absent (backyctl may get --url instead) */
	int amqp_heartbeat;
	char *amqp_ca_cert;
	bool amqp_tls_verify;
	char **hosts; /* storage hosts for placement, in file order */
	size_t nhosts;
	char listen_host[64]; /* "" when status.listen is absent */
	unsigned listen_port;
	struct co_status_auth status_auth;
	char *state_file;
	int64_t job_timeout; /* seconds */
	bool expire;
	int64_t scrub_period; /* seconds, 0: no scheduled verify jobs (scrub.h) */
	int64_t scrub_slice;  /* seconds, at most scrub_period */
	char *base_dir;          /* global.base-dir (config_python.h), NULL when absent */
	uint64_t worker_limit;   /* global.worker-limit, 0 when absent */
	char *completed_callback; /* global.backup-completed-callback (callback.h), or NULL */
	char *status_file;       /* global.status-file, or NULL: not written */
	int status_interval;     /* global.status-interval, seconds (30) */
};

void co_config_init(struct co_config *c);
void co_config_release(struct co_config *c);

/*
 * Parse LEN bytes of YAML (NAME for messages: the path, against whose
 * directory an `include` is resolved).  On error C is left released.
 */
int co_config_parse(const char *buf, size_t len, const char *name, struct co_config *c,
		    struct bk_err *err);

/* Read and parse PATH. */
int co_config_load(const char *path, struct co_config *c, struct bk_err *err);

/* The job config named NAME, or NULL (binary search). */
const struct co_jobcfg *co_config_job(const struct co_config *c, const char *name);

/* Whether A has TLS and basic auth both (what a non-loopback listener needs). */
bool co_status_secured(const struct co_status_auth *a);

/* Copy SRC into DST (owned strings), or release DST when SRC is NULL. */
void co_status_auth_copy(struct co_status_auth *dst, const struct co_status_auth *src);

/*
 * Parse "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:9180" or "localhost:8080"
 * into HOST (numeric) and PORT.  An address that is not loopback is refused
 * unless SECURED (TLS and basic auth are configured, co_status_secured).
 */
int co_listen_parse(const char *s, bool secured, char *host, size_t size, unsigned *port,
		    struct bk_err *err);

#endif
