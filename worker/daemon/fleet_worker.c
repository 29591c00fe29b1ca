/*
 * fleet_worker.c: backy-worker, the storage-host daemon: job queue in,
 * `backy` child processes, results and heartbeats out.
 *
 * Design notes
 *
 * 1. Config.  A small strict YAML file (ydoc.h): host, base-dir, amqp {url,
 *    heartbeat, ca-cert, tls-verify}, slots, grace, heartbeat-interval,
 *    state-dir, backy, keep-results and the local secrets and defaults of
 *    sources (ceph {conf, id}, consul {url, token}).  Secrets are merged into
 *    the repository configs the worker writes; they never come from a
 *    message.  SIGHUP re-reads the file transactionally: a bad file keeps
 *    the old config; host, base-dir and state-dir need a restart.
 *
 *    simulated-time: true (default false) is for drills and end-to-end
 *    tests with a coordinator on simulated time (BACKY_NOW, --time-scale):
 *    each backy child gets BACKY_NOW=<the job message's time>, which is the
 *    coordinator's now at dispatch, so revision timestamps, expiry and the
 *    schedule follow the simulated clock.  Never set it in production: the
 *    revisions would carry the sender's clock, not the storage host's.
 *
 * 2. Journal (job_journal.h).  One file per job id in the state directory:
 *    `running` (before the child starts; not fsynced, as losing it only
 *    means the redelivered job runs again, which a stale entry means too)
 *    and `done` with the encoded result (durable: fsynced before the result
 *    is published and the delivery acknowledged), plus a
 *    `published` mark once the broker confirmed the result.  The state
 *    directory is flock()ed: one worker per directory.
 *
 * 3. Flow (ack late).  The worker consumes backy.jobs.<host> with prefetch =
 *    slots and manual acks, and acknowledges a job only after its result is
 *    journalled and confirmed by the broker:
 *
 *      delivery -> decode -- invalid ----------> rejected result, reject (DLX)
 *                   | job for another host -----> rejected result, reject (DLX)
 *                   | journal done: redelivered and published -> ack only
 *                   |               otherwise ---> republish the record, ack
 *                   | same job id running here --> remember the delivery tag
 *                   | same repository running ---> skipped result, ack
 *                   | all slots busy ------------> hold (pending) until one frees
 *                   v
 *      journal running -> prepare <base-dir>/<job> + config -> vfork/exec backy
 *      child exits -> read its --result file -> journal done -> publish
 *      (confirm) -> mark published -> ack every delivery tag of the job
 *
 *    Crash of the worker between any two steps: the child dies with it
 *    (PR_SET_PDEATHSIG), the broker redelivers the unacknowledged job, and
 *    the journal decides: stale running entry with a result file from the
 *    child -> the run had finished, use it; without -> run again (backy
 *    removes the partial revision); done -> publish the record if it was
 *    not confirmed.  So every job completes once and gets at least one
 *    result; consumers deduplicate by job_id.
 *
 * 4. Main loop.  Single-threaded.  Signal handlers only set flags (and
 *    stamp a child's exit).  SIGTERM, SIGINT, SIGHUP and SIGCHLD stay
 *    blocked except inside the wait: bk_mq_wait sleeps in ppoll with them
 *    unblocked (bk_mq_set_wait_mask; rabbitmq-c's own poll would restart on
 *    EINTR), so an exiting child or a SIGTERM ends the wait at once, also
 *    one that came while we were busy.  Without that, a tiny job's exit
 *    would be noticed only at the next timeout, and waking up every
 *    millisecond to look cost a third of a CPU.  The wait is at most
 *    WAIT_MS, so heartbeats, deadlines and the broker connection are
 *    serviced at least twice a second whatever runs.
 *
 * 5. Broker loss.  Any BK_EMQ closes the handle; the worker reconnects with
 *    backoff (0.5 s doubling to 30 s) from its main loop, so children are
 *    reaped and signals handled while the broker is away.  After
 *    connecting: publish every done-but-unpublished result from the
 *    journal, then consume (the coordinator declares the job queue; until
 *    it has, consuming fails with 404 and the worker retries with backoff).
 *    Delivery tags belong to a connection: each
 *    connection gets a generation number and a tag of an older generation is
 *    never acknowledged (that would close the new channel); the broker
 *    redelivers those jobs, and note 3 attaches the redelivery to the job
 *    still running here.  Pending (not started) deliveries are dropped on a
 *    loss: the broker has them back.
 *
 *    RabbitMQ's consumer_timeout (30 min by default) closes the channel when
 *    a delivery stays unacknowledged that long, which ack-late does for
 *    every long backup.  By design that is just a broker loss: reconnect,
 *    the job comes back redelivered, it is attached to the running child
 *    (no second run), and its result acknowledges the new delivery.  The
 *    alternative, ack early and keep a local queue, was not chosen: once
 *    acknowledged, the broker forgets the job, and a storage host that dies
 *    or is reinstalled loses it for good; with ack late the broker keeps
 *    every job until its result is safe.
 *
 * 6. SIGTERM/SIGINT.  Cancel the consumer, hand back pending deliveries, let
 *    running children finish for `grace` seconds, then SIGTERM their process
 *    groups, 10 s later SIGKILL.  Interrupted jobs are rejected with
 *    requeue, keep their `running` entry and are run again (by this host,
 *    after a restart, on redelivery).  Exit 0.  A second signal shortens
 *    the grace period to now.
 *
 * 7. Names are never trusted as paths: proto validates job names (no '/',
 *    no leading '.'), and the repository directory is opened relative to
 *    the base directory's fd with O_NOFOLLOW and checked to resolve to
 *    exactly <base-dir>/<job>, so a symlink never leads out of base-dir.
 *    Job ids (journal file names) are bk_id_valid() strings.
 *
 * 8. Logging: stderr, one line when a job starts and one when it ends (job,
 *    job id, revision, outcome, durations including the worker's overhead).
 */
#include "fleet_worker.h"

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "job_journal.h"
#include "log.h"
#include "mq.h"
#include "proto.h"
#include "fleet_repo.h"
#include "topology.h"
#include "ydoc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CONFIG_BYTES (64 * 1024)
#define KILL_WAIT_US (10 * BK_USEC)
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 30000
#define PRUNE_EVERY_US (3600 * BK_USEC)
#define WAIT_MS 500 /* longest wait for the broker or a signal (design note 4) */
#define NOT_DUE_CODE "NOTDUE"

/* ---- config --------------------------------------------------------------- */

void bk_fleet_config_release(struct bk_fleet_config *cfg)
{
	free(cfg->host);
	free(cfg->base_dir);
	free(cfg->state_dir);
	free(cfg->backy);
	free(cfg->amqp_url);
	free(cfg->amqp_ca_cert);
	free(cfg->ceph_conf);
	free(cfg->ceph_id);
	free(cfg->consul_url);
	free(cfg->consul_token);
	bk_fleet_policy_release(&cfg->policy);
	memset(cfg, 0, sizeof(*cfg));
}

/* Optional string KEY of MAP into *OUT (owned copy; untouched when absent). */
static int opt_str(const struct bk_ynode *map, const char *key, const char *name, const char *what,
		   char **out, struct bk_err *err)
{
	const struct bk_ynode *n = bk_ymap_get(map, key);
	const char *s;
	int r;

	if (bk_ynode_is_null(n))
		return 0;
	r = bk_ynode_str(n, name, what, &s, err);
	if (r < 0)
		return r;
	if (!s[0])
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must not be empty", name,
				  n->line, what);
	free(*out);
	*out = bk_strdup(s);
	return 0;
}

/* Optional integer KEY of MAP from LO to HI into *OUT. */
static int opt_uint(const struct bk_ynode *map, const char *key, const char *name, const char *what,
		    uint64_t lo, uint64_t hi, uint64_t *out, struct bk_err *err)
{
	const struct bk_ynode *n = bk_ymap_get(map, key);
	uint64_t v;
	int r;

	if (bk_ynode_is_null(n))
		return 0;
	r = bk_ynode_u64(n, name, what, &v, err);
	if (r < 0)
		return r;
	if (v < lo || v > hi)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be from %llu to %llu",
				  name, n->line, what, (unsigned long long)lo,
				  (unsigned long long)hi);
	*out = v;
	return 0;
}

/* The default backy binary: next to our own executable, else "backy" from PATH. */
static char *default_backy(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 8];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/backy", exe);
			if (access(path, X_OK) == 0)
				return bk_strdup(path);
		}
	}
	return bk_strdup("backy");
}

static int parse_config(const struct bk_ynode *root, const char *name, struct bk_fleet_config *cfg,
			struct bk_err *err)
{
	static const char *const known[] = {"host", "base-dir", "amqp", "slots", "grace",
					    "heartbeat-interval", "state-dir", "backy",
					    "keep-results", "ceph", "consul", "simulated-time",
					    "allow", "retention", NULL};
	static const char *const amqp_keys[] = {"url", "heartbeat", "ca-cert", "tls-verify", NULL};
	static const char *const ceph_keys[] = {"conf", "id", NULL};
	static const char *const consul_keys[] = {"url", "token", NULL};
	const struct bk_ynode *n, *amqp;
	char real[PATH_MAX];
	char *dir = NULL;
	uint64_t v;
	int r;

	if (!root)
		return bk_err_set(err, BK_ECONFIG, "%s: empty configuration", name);
	r = bk_ymap_check_keys(root, known, name, "", err);
	if (r < 0)
		return r;

	r = opt_str(root, "host", name, "host", &cfg->host, err);
	if (r < 0)
		return r;
	if (!cfg->host)
		return bk_err_set(err, BK_ECONFIG, "%s: 'host' is required", name);
	if (!bk_msg_name_valid(cfg->host))
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: 'host' must be 1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-': '%s'",
				  name, bk_ymap_get(root, "host")->line, cfg->host);

	r = opt_str(root, "base-dir", name, "base-dir", &dir, err);
	if (r < 0)
		return r;
	if (!dir)
		return bk_err_set(err, BK_ECONFIG, "%s: 'base-dir' is required", name);
	n = bk_ymap_get(root, "base-dir");
	if (dir[0] != '/') {
		free(dir);
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'base-dir' must be an absolute path",
				  name, n->line);
	}
	if (!realpath(dir, real)) {
		r = bk_err_sys(err, -errno, "%s: line %d: unable to resolve 'base-dir' '%s'", name,
			       n->line, dir);
		free(dir);
		return r;
	}
	free(dir);
	cfg->base_dir = bk_strdup(real);

	amqp = bk_ymap_get(root, "amqp");
	if (bk_ynode_is_null(amqp))
		return bk_err_set(err, BK_ECONFIG, "%s: 'amqp' with 'url' is required", name);
	r = bk_ymap_check_keys(amqp, amqp_keys, name, "amqp", err);
	if (r == 0)
		r = opt_str(amqp, "url", name, "amqp.url", &cfg->amqp_url, err);
	if (r == 0 && !cfg->amqp_url)
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: 'amqp.url' is required", name,
			       amqp->line);
	if (r == 0 && strncmp(cfg->amqp_url, "amqp://", 7) != 0 &&
	    strncmp(cfg->amqp_url, "amqps://", 8) != 0)
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: line %d: 'amqp.url' must start with amqp:// or amqps://", name,
			       bk_ymap_get(amqp, "url")->line);
	v = 0;
	if (r == 0)
		r = opt_uint(amqp, "heartbeat", name, "amqp.heartbeat", 0, 3600, &v, err);
	cfg->amqp_heartbeat = (int)v;
	if (r == 0)
		r = opt_str(amqp, "ca-cert", name, "amqp.ca-cert", &cfg->amqp_ca_cert, err);
	n = bk_ymap_get(amqp, "tls-verify");
	cfg->amqp_tls_verify = true;
	if (r == 0 && !bk_ynode_is_null(n)) {
		if (n->type != BK_Y_SCALAR || (strcmp(n->str, "true") && strcmp(n->str, "false")))
			r = bk_err_set(err, BK_ECONFIG, "%s: line %d: 'amqp.tls-verify' must be true or false",
				       name, n->line);
		else
			cfg->amqp_tls_verify = strcmp(n->str, "true") == 0;
	}
	if (r < 0)
		return r;
	n = bk_ymap_get(root, "simulated-time");
	cfg->simulated_time = false;
	if (!bk_ynode_is_null(n)) {
		if (n->type != BK_Y_SCALAR || (strcmp(n->str, "true") && strcmp(n->str, "false")))
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'simulated-time' must be true or false",
					  name, n->line);
		cfg->simulated_time = strcmp(n->str, "true") == 0;
	}

	v = BK_FLEET_DEFAULT_SLOTS;
	r = opt_uint(root, "slots", name, "slots", 1, BK_MSG_MAX_SLOTS, &v, err);
	cfg->slots = (unsigned)v;
	v = BK_FLEET_DEFAULT_GRACE;
	if (r == 0)
		r = opt_uint(root, "grace", name, "grace", 0, 7 * 86400, &v, err);
	cfg->grace = (unsigned)v;
	v = BK_FLEET_DEFAULT_HEARTBEAT;
	if (r == 0)
		r = opt_uint(root, "heartbeat-interval", name, "heartbeat-interval", 1, 3600, &v, err);
	cfg->heartbeat_interval = (unsigned)v;
	if (r < 0)
		return r;
	cfg->keep = BK_FLEET_DEFAULT_KEEP;
	n = bk_ymap_get(root, "keep-results");
	if (!bk_ynode_is_null(n)) {
		int64_t secs;

		if (n->type != BK_Y_SCALAR || bk_duration_parse(n->str, &secs) < 0 || secs <= 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: 'keep-results' must be a duration such as 7d",
					  name, n->line);
		cfg->keep = secs;
	}

	r = opt_str(root, "state-dir", name, "state-dir", &cfg->state_dir, err);
	if (r < 0)
		return r;
	if (cfg->state_dir && cfg->state_dir[0] != '/')
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'state-dir' must be an absolute path",
				  name, bk_ymap_get(root, "state-dir")->line);
	if (!cfg->state_dir) {
		struct bk_buf b;

		bk_buf_init(&b);
		bk_buf_addf(&b, "%s/.backy-worker", cfg->base_dir);
		cfg->state_dir = b.p;
	}
	r = opt_str(root, "backy", name, "backy", &cfg->backy, err);
	if (r < 0)
		return r;
	if (cfg->backy && strchr(cfg->backy, '/') && access(cfg->backy, X_OK) < 0)
		return bk_err_sys(err, -errno, "%s: line %d: 'backy' '%s' is not executable", name,
				  bk_ymap_get(root, "backy")->line, cfg->backy);
	if (!cfg->backy)
		cfg->backy = default_backy();

	n = bk_ymap_get(root, "ceph");
	if (!bk_ynode_is_null(n)) {
		r = bk_ymap_check_keys(n, ceph_keys, name, "ceph", err);
		if (r == 0)
			r = opt_str(n, "conf", name, "ceph.conf", &cfg->ceph_conf, err);
		if (r == 0)
			r = opt_str(n, "id", name, "ceph.id", &cfg->ceph_id, err);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(root, "consul");
	if (!bk_ynode_is_null(n)) {
		r = bk_ymap_check_keys(n, consul_keys, name, "consul", err);
		if (r == 0)
			r = opt_str(n, "url", name, "consul.url", &cfg->consul_url, err);
		if (r == 0)
			r = opt_str(n, "token", name, "consul.token", &cfg->consul_token, err);
		if (r < 0)
			return r;
	}
	return bk_fleet_policy_parse(bk_ymap_get(root, "allow"), bk_ymap_get(root, "retention"),
				     name, &cfg->policy, err);
}

int bk_fleet_config_load(const char *path, struct bk_fleet_config *cfg, struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	char *text = NULL;
	size_t len;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	bk_fleet_policy_init(&cfg->policy);
	r = bk_fs_read_all(AT_FDCWD, path, MAX_CONFIG_BYTES, &text, &len);
	if (r < 0)
		return bk_err_sys(err, r == -EFBIG ? BK_ECONFIG : r, "unable to read '%s'", path);
	r = bk_yaml_parse(text, len, path, &root, err);
	if (r == 0)
		r = parse_config(root, path, cfg, err);
	if (r < 0)
		bk_fleet_config_release(cfg);
	bk_ynode_free(root);
	free(text);
	return r;
}

/* ---- daemon state ------------------------------------------------------------ */

static volatile sig_atomic_t sig_term, sig_hup;
/* bk_monotonic() of the first SIGCHLD not yet taken by reap_children, or 0 */
static _Atomic int64_t sigchld_at;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		sig_hup = 1;
	} else if (sig == SIGCHLD) {
		int64_t none = 0;

		/* clock_gettime is async-signal-safe; the first exit of a batch counts */
		atomic_compare_exchange_strong(&sigchld_at, &none, bk_monotonic());
	} else {
		sig_term++;
	}
}

struct wtag {
	uint64_t tag;
	unsigned gen; /* connection generation the tag belongs to */
};

struct wjob {
	struct bk_msg_job msg;
	pid_t pid;             /* 0 while pending */
	int64_t received;      /* bk_monotonic() when the first delivery arrived */
	bool entry_synced;     /* its running entry's name is durable (job_journal.h, note 5) */
	int64_t spawned;       /* bk_monotonic() when vfork returned (backy exec'd) */
	int64_t exited;        /* bk_monotonic() at the SIGCHLD of its exit */
	int64_t started;       /* bk_now() at start (result.started) */
	struct wtag *tags;
	size_t ntags;
	bool interrupted;      /* stopped by our shutdown: hand the job back */
	/* confirming: the result is journalled and published, its confirm awaited */
	struct bk_journal_entry done; /* the done entry (owned result text) */
	uint64_t seq;          /* bk_mq_publish_nowait sequence number */
	int64_t published;     /* bk_monotonic() at the publish */
	char *summary;         /* owned: the start of the end-of-job log line */
	char digest[2 * BK_DIGEST_LEN + 1]; /* what the job asks for (fleet_policy.h, note 4) */
	double backup_s;       /* the backup's own duration (result stats) */
};

struct worker {
	struct bk_fleet_config cfg;
	const char *config_path;
	struct bk_journal journal;
	int basefd;
	struct bk_mq *mq;
	unsigned gen;
	bool consuming;
	int64_t next_connect;  /* monotonic */
	unsigned backoff_ms;
	struct wjob **running; /* children */
	size_t nrunning;
	struct wjob **pending; /* deliveries waiting for a slot */
	size_t npending;
	struct wjob **confirming; /* results published, confirm not yet seen */
	size_t nconfirming;
	int64_t next_heartbeat, next_prune;
	bool stopping;
	int64_t stop_deadline; /* monotonic: grace ends */
	int64_t kill_deadline; /* monotonic: SIGKILL after SIGTERM */
	bool hb_warned;
	bool queue_missing_logged; /* try_connect: said once that the job queue is missing */
	sigset_t wait_mask;    /* our signals are blocked except while waiting with this */
	unsigned long long self_start; /* bk_journal_proc_start(getpid()) */
};

static void wjob_free(struct wjob *j)
{
	if (!j)
		return;
	bk_msg_job_release(&j->msg);
	bk_journal_entry_release(&j->done);
	free(j->summary);
	free(j->tags);
	free(j);
}

static void wjob_add_tag(struct wjob *j, uint64_t tag, unsigned gen)
{
	j->tags = bk_realloc(j->tags, (j->ntags + 1) * sizeof(*j->tags));
	j->tags[j->ntags].tag = tag;
	j->tags[j->ntags].gen = gen;
	j->ntags++;
}

static void list_add(struct wjob ***list, size_t *n, struct wjob *j)
{
	*list = bk_realloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = j;
}

static void list_del(struct wjob **list, size_t *n, size_t i)
{
	memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof(*list));
	(*n)--;
}

/* ---- broker ---------------------------------------------------------------------- */

static void broker_lost(struct worker *w, const struct bk_err *err)
{
	if (!w->mq)
		return;
	bk_warn("connection to the broker lost: %s; reconnecting", err->msg);
	bk_mq_close(w->mq);
	w->mq = NULL;
	w->consuming = false;
	w->gen++;
	w->backoff_ms = RECONNECT_MIN_MS;
	w->next_connect = bk_monotonic();
	/* the broker has the pending deliveries back and will redeliver them */
	for (size_t i = 0; i < w->npending; i++)
		wjob_free(w->pending[i]);
	w->npending = 0;
	/*
	 * Unconfirmed results stay unpublished in the journal: try_connect
	 * publishes them again, and the redelivered jobs are answered from it.
	 */
	for (size_t i = 0; i < w->nconfirming; i++) {
		bk_notice("%s (result recorded, not confirmed by the broker)",
			  w->confirming[i]->summary);
		wjob_free(w->confirming[i]);
	}
	w->nconfirming = 0;
}

/* Check R from a bk_mq_* call: a transient error means the connection is gone. */
static int mq_check(struct worker *w, int r, const struct bk_err *err)
{
	if (r == BK_EMQ && w->mq && !bk_mq_usable(w->mq))
		broker_lost(w, err);
	return r;
}

static void ack_tag(struct worker *w, uint64_t tag, bool reject, bool requeue)
{
	struct bk_err err = {0};
	int r;

	if (!w->mq)
		return;
	r = reject ? bk_mq_reject(w->mq, tag, requeue, &err) : bk_mq_ack(w->mq, tag, &err);
	if (r < 0) {
		bk_warn("unable to %s a delivery: %s", reject ? "reject" : "acknowledge", err.msg);
		mq_check(w, r, &err);
	}
}

/* Ack (or reject) every delivery tag of J that belongs to the current connection. */
static void settle_job(struct worker *w, struct wjob *j, bool reject, bool requeue)
{
	for (size_t i = 0; i < j->ntags; i++)
		if (j->tags[i].gen == w->gen)
			ack_tag(w, j->tags[i].tag, reject, requeue);
	j->ntags = 0;
}

/*
 * Decode the recorded result TEXT into *M (release it after) and its routing
 * KEY; false, logged, when the record is not a valid result.
 */
static bool decode_recorded(const char *text, size_t len, struct bk_msg *m, char *key)
{
	struct bk_err err = {0};
	int r = bk_msg_decode(text, len, m, &err);

	if (r < 0 || m->kind != BK_MSG_RESULT) {
		bk_error("recorded result is invalid, dropping it: %s", err.msg);
		if (r == 0)
			bk_msg_release(m);
		return false;
	}
	bk_msg_routing_key_result(&m->u.result, key);
	return true;
}

/*
 * Publish the encoded result TEXT.  0 when the broker confirmed it (or it can
 * never be routed: logged, not retried), BK_EMQ when it must be sent again.
 */
static int publish_text(struct worker *w, const char *text, size_t len)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_err err = {0};
	struct bk_msg m;
	int r;

	if (!w->mq)
		return BK_EMQ;
	if (!decode_recorded(text, len, &m, key))
		return 0;
	r = bk_mq_publish(w->mq, BK_EX_RESULTS, key, text, len, m.u.result.head.id, &err);
	bk_msg_release(&m);
	if (r == BK_EMQ) {
		/* connection gone, or a nack: either way reconnect and send it again */
		broker_lost(w, &err);
		return BK_EMQ;
	}
	if (r < 0)
		bk_error("unable to publish result '%s': %s", key, err.msg);
	return 0;
}

/*
 * Publish the recorded result of J (j->done) without waiting for the
 * confirm.  0: sent, j->seq set; BK_EMQ: the connection is gone (published
 * again after reconnecting); 1: nothing to wait for (invalid record or a
 * permanent error, logged).
 */
static int start_publish(struct worker *w, struct wjob *j)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	const char *text = j->done.result;
	struct bk_err err = {0};
	struct bk_msg m;
	int r;

	if (!w->mq)
		return BK_EMQ;
	if (!decode_recorded(text, strlen(text), &m, key))
		return 1;
	r = bk_mq_publish_nowait(w->mq, BK_EX_RESULTS, key, text, strlen(text),
				 m.u.result.head.id, &j->seq, &err);
	bk_msg_release(&m);
	if (r == BK_EMQ) {
		broker_lost(w, &err);
		return BK_EMQ;
	}
	if (r < 0) {
		bk_error("unable to publish result '%s': %s", key, err.msg);
		return 1;
	}
	return 0;
}

/* Publish a result that is not journalled (rejected, skipped before a run). */
static void publish_result(struct worker *w, struct bk_msg_result *res)
{
	struct bk_buf b;
	struct bk_err err = {0};

	bk_buf_init(&b);
	if (bk_msg_encode_result(res, &b, &err) < 0)
		bk_error("unable to encode a result: %s", err.msg);
	else
		publish_text(w, b.p, b.len);
	bk_buf_release(&b);
}

/* Publish the recorded result of journal entry E and mark it published. */
static int publish_entry(struct worker *w, struct bk_journal_entry *e)
{
	struct bk_err err = {0};
	int r;

	if (!e->result)
		return 0;
	r = publish_text(w, e->result, strlen(e->result));
	if (r < 0)
		return r;
	e->published = true;
	if (bk_journal_put(&w->journal, e, false, &err) < 0)
		bk_warn("%s", err.msg);
	return 0;
}

/* "job 'vm01' (id X) backup done: ok, revision Y": the start of a job's last log line. */
static void outcome_line(const struct bk_msg_result *r, struct bk_buf *out)
{
	bk_buf_addf(out, "job '%s' (id %s) %s %s: %s%s%s%s%s", r->job, r->job_id,
		    bk_msg_action_name(r->action), r->outcome == BK_OUTCOME_OK ? "done" : "ended",
		    bk_msg_outcome_name(r->outcome), r->revision[0] ? ", revision " : "",
		    r->revision, r->error_message ? ": " : "",
		    r->error_message ? r->error_message : "");
}

/* Log the outcome of the job whose recorded result is TEXT, plus HOW. */
static void log_recorded(const char *text, const char *how)
{
	char key[BK_MSG_ROUTING_KEY_MAX + 1];
	struct bk_msg m;
	struct bk_buf line;

	if (!decode_recorded(text, strlen(text), &m, key))
		return;
	bk_buf_init(&line);
	outcome_line(&m.u.result, &line);
	bk_notice("%s (%s)", line.p, how);
	bk_buf_release(&line);
	bk_msg_release(&m);
}

/* After connecting: publish every done result the broker has not confirmed yet. */
static int publish_unpublished(struct worker *w)
{
	struct bk_journal_entry e;
	struct bk_err err = {0};
	char **ids = NULL;
	size_t n = 0;
	int r, count = 0;

	r = bk_journal_list(&w->journal, &ids, &n, &err);
	if (r < 0) {
		bk_error("%s", err.msg);
		return 0;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (bk_journal_get(&w->journal, ids[i], &e, NULL) < 0)
			continue;
		if (e.state == BK_JOURNAL_DONE && !e.published) {
			r = publish_entry(w, &e);
			if (r == 0 && e.result)
				log_recorded(e.result, "result published after reconnecting");
			count += r == 0;
		}
		bk_journal_entry_release(&e);
	}
	bk_journal_ids_free(ids, n);
	if (count)
		bk_notice("published %d recorded result%s", count, count == 1 ? "" : "s");
	return r;
}

static void try_connect(struct worker *w)
{
	struct bk_mq_config mc = {0};
	struct bk_err err = {0};
	char name[128];
	char queue[256] = "";
	int r;

	snprintf(name, sizeof(name), "backy-worker %s", w->cfg.host);
	mc.url = w->cfg.amqp_url;
	mc.heartbeat_s = w->cfg.amqp_heartbeat;
	mc.ca_cert = w->cfg.amqp_ca_cert;
	mc.tls_verify = w->cfg.amqp_tls_verify;
	mc.name = name;
	mc.timeout_ms = 10000;
	mc.max_body = 1 << 20; /* larger ones are dead-lettered by the adapter (BK_EPROTO) */
	/*
	 * No declare here: the worker's broker user may not configure anything
	 * (docs/operations.md, "Broker users and permissions"); backy-coordinator
	 * declares the topology and this host's job queue.
	 */
	r = bk_mq_connect(&w->mq, &mc, &err);
	if (r == 0) {
		bk_mq_set_wait_mask(w->mq, &w->wait_mask);
		w->gen++;
		r = publish_unpublished(w);
		if (r < 0 || !w->mq)
			return; /* lost again: broker_lost() already scheduled a retry */
	}
	if (r == 0 && !w->stopping) {
		bk_topology_jobs_queue(w->cfg.host, queue, sizeof(queue));
		r = bk_mq_consume(w->mq, queue, w->cfg.slots, &err);
		w->consuming = r == 0;
	}
	if (r == -ENOENT && !w->queue_missing_logged) {
		bk_warn("job queue '%s' does not exist yet: it is declared by backy-coordinator; "
			"retrying in %.1f s", queue, w->backoff_ms / 1000.0);
		w->queue_missing_logged = true;
	} else if (r == -ENOENT) {
		bk_debug("job queue '%s' still missing; retrying in %.1f s", queue,
			 w->backoff_ms / 1000.0);
	} else if (r < 0) {
		bk_warn("unable to connect to the broker: %s; retrying in %.1f s", err.msg,
			w->backoff_ms / 1000.0);
	}
	if (r < 0) {
		bk_mq_close(w->mq);
		w->mq = NULL;
		w->consuming = false;
		w->next_connect = bk_monotonic() + (int64_t)w->backoff_ms * 1000;
		w->backoff_ms = w->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
								     : w->backoff_ms * 2;
		return;
	}
	w->backoff_ms = RECONNECT_MIN_MS;
	w->queue_missing_logged = false;
	bk_notice("connected to the broker, %s %s (prefetch %u)",
		  w->consuming ? "consuming" : "not consuming", queue, w->cfg.slots);
}

/* ---- results ---------------------------------------------------------------------- */

/* A result for job J (or the salvaged fields of an invalid one), outcome OUTCOME. */
static void result_for(struct worker *w, const struct bk_msg_job *j, struct bk_msg_result *res,
		       enum bk_msg_outcome outcome)
{
	bk_msg_result_init(res);
	bk_msg_head_new(&res->head);
	snprintf(res->host, sizeof(res->host), "%s", w->cfg.host);
	res->outcome = outcome;
	if (j) {
		snprintf(res->job_id, sizeof(res->job_id), "%s", j->job_id);
		snprintf(res->job, sizeof(res->job), "%s", j->job);
		res->action = j->action;
	}
	res->started = bk_now();
	res->finished = res->started;
}

static bool errcode_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BK_MSG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool code_transient(const char *code)
{
	static const char *const transient[] = {"BK_ELOCKED", "BK_ESOURCE", "BK_EMQ", "EINTR",
						"EAGAIN", "ETIMEDOUT", "ENOSPC", "EIO", NULL};

	for (size_t i = 0; transient[i]; i++)
		if (strcmp(code, transient[i]) == 0)
			return true;
	return false;
}

/* The last non-empty line of the job's log (for failures without a result file). */
static void log_tail(struct worker *w, const char *job_id, char *out, size_t size)
{
	char name[BK_ID_MAX + 8], buf[1024];
	struct stat st;
	size_t got = 0;
	char *end, *start;
	int fd;

	out[0] = '\0';
	snprintf(name, sizeof(name), "%s.log", job_id);
	fd = openat(w->journal.dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		uint64_t off = (uint64_t)st.st_size > sizeof(buf) - 1 ? (uint64_t)st.st_size - (sizeof(buf) - 1) : 0;

		if (bk_pread_full(fd, buf, sizeof(buf) - 1, off, &got) < 0)
			got = 0;
	}
	close(fd);
	buf[got] = '\0';
	end = buf + got;
	while (end > buf && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(buf, '\n');
	snprintf(out, size, "%s", start ? start + 1 : buf);
}

/*
 * Fill RES from the child's --result file (read and removed here).  STATUS is
 * the wait status, or -1 when unknown (a run adopted from a dead worker).
 */
static void result_from_child(struct worker *w, struct wjob *j, int status,
			      struct bk_msg_result *res)
{
	char name[BK_ID_MAX + 16], msg[1200], tail[1024];
	json_t *o = NULL, *v, *e;
	json_error_t jerr;
	char *text = NULL;
	size_t len;
	const char *s;

	result_for(w, &j->msg, res, BK_OUTCOME_FAILED);
	res->started = j->started;
	res->finished = bk_now();
	if (res->finished < res->started)
		res->finished = res->started;
	snprintf(name, sizeof(name), "%s.result", j->msg.job_id);
	if (bk_fs_read_all(w->journal.dirfd, name, 1 << 20, &text, &len) == 0)
		o = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(o)) {
		log_tail(w, j->msg.job_id, tail, sizeof(tail));
		if (status != -1 && WIFSIGNALED(status))
			snprintf(msg, sizeof(msg), "backy was killed by signal %d%s%s",
				 WTERMSIG(status), tail[0] ? ": " : "", tail);
		else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
			snprintf(msg, sizeof(msg), "unable to run '%s'%s%s", w->cfg.backy,
				 tail[0] ? ": " : "", tail);
		else
			snprintf(msg, sizeof(msg), "backy ended without a result%s%s",
				 tail[0] ? ": " : "", tail);
		bk_msg_result_set_error(res, status != -1 && WIFSIGNALED(status) ? "EINTR" : "EIO",
					msg, true);
		json_decref(o);
		return;
	}
	s = json_string_value(json_object_get(o, "outcome"));
	if (s && strcmp(s, "ok") == 0)
		res->outcome = BK_OUTCOME_OK;
	else if (s && strcmp(s, "skipped") == 0)
		res->outcome = BK_OUTCOME_SKIPPED;
	e = json_object_get(o, "error");
	if (res->outcome != BK_OUTCOME_OK) {
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *text2 = json_string_value(json_object_get(e, "message"));

		if (!code && res->outcome == BK_OUTCOME_SKIPPED) {
			code = NOT_DUE_CODE;
			text2 = "nothing is due according to the schedule";
		}
		if (!code || !errcode_ok(code))
			code = "EUNKNOWN";
		if (!text2 || !text2[0])
			text2 = "backy failed without a message";
		bk_msg_result_set_error(res, code, text2, code_transient(code));
	}
	s = json_string_value(json_object_get(o, "revision"));
	if (s && bk_id_valid(s))
		snprintf(res->revision, sizeof(res->revision), "%s", s);
	v = json_object_get(o, "tags");
	for (size_t i = 0; json_is_array(v) && i < json_array_size(v) && i < BK_MSG_MAX_ITEMS; i++) {
		s = json_string_value(json_array_get(v, i));
		if (s && s[0] && strlen(s) <= BK_MSG_NAME_MAX)
			bk_strv_add(&res->tags, s);
	}
	v = json_object_get(o, "stats");
	if (json_is_object(v)) {
		json_t *bw = json_object_get(v, "bytes_written"), *sz = json_object_get(v, "size");
		double d = json_number_value(json_object_get(v, "duration"));

		res->has_stats = true;
		res->stats.bytes_written = json_is_integer(bw) && json_integer_value(bw) > 0
						   ? (uint64_t)json_integer_value(bw) : 0;
		res->stats.size = json_is_integer(sz) && json_integer_value(sz) > 0
					  ? (uint64_t)json_integer_value(sz) : 0;
		res->stats.duration = d > 0 && d < BK_MSG_MAX_DURATION ? d : 0;
	}
	json_decref(o);
}

/* ---- jobs --------------------------------------------------------------------- */

static struct wjob *find_running(struct worker *w, const char *job_id, const char *job)
{
	for (size_t i = 0; i < w->nrunning; i++) {
		if (job_id && strcmp(w->running[i]->msg.job_id, job_id) == 0)
			return w->running[i];
		if (job && strcmp(w->running[i]->msg.job, job) == 0)
			return w->running[i];
	}
	return NULL;
}

static struct wjob *find_pending(struct worker *w, const char *job_id)
{
	for (size_t i = 0; i < w->npending; i++)
		if (strcmp(w->pending[i]->msg.job_id, job_id) == 0)
			return w->pending[i];
	return NULL;
}

/*
 * J's result is confirmed (or can never be): acknowledge its deliveries, log
 * the end of the job, then mark the journal entry published.  Frees J.
 */
static void finish_job(struct worker *w, struct wjob *j)
{
	struct bk_err err = {0};
	int64_t total, child, now, t_pub;

	settle_job(w, j, false, false);
	now = bk_monotonic();
	total = now - j->received;
	t_pub = now - j->published;
	child = j->spawned && j->exited > j->spawned ? j->exited - j->spawned : 0;
	/*
	 * Overhead: what the worker adds to the backy run, from the delivery to
	 * the result confirmed and the delivery acknowledged, minus the child
	 * (vfork returned to its exit, stamped by SIGCHLD).
	 */
	bk_notice("%s, %.3f s (backy %.3f s, backup %.3f s, worker overhead %.1f ms = %.1f before + %.1f after, of which %.1f publish and ack)",
		  j->summary, total / 1e6, child / 1e6, j->backup_s, (total - child) / 1e3,
		  child ? (j->spawned - j->received) / 1e3 : 0.0,
		  child ? (now - j->exited) / 1e3 : 0.0, t_pub / 1e3);
	/* after the ack: a crash before this line only republishes the result */
	j->done.published = true;
	if (bk_journal_put(&w->journal, &j->done, false, &err) < 0)
		bk_warn("%s", err.msg);
	wjob_free(j);
}

/* Take the confirms that arrived: finish their jobs (or reconnect on a nack). */
static void collect_confirms(struct worker *w)
{
	struct bk_err err = {0};
	uint64_t seq;
	int r;

	while (w->mq && (r = bk_mq_confirmed(w->mq, &seq, &err)) != 0) {
		size_t i = 0;

		while (i < w->nconfirming && w->confirming[i]->seq != seq)
			i++;
		if (i == w->nconfirming)
			continue;
		if (r == BK_EMQ) {
			/* a nack: reconnect and send it again (the journal still says unpublished) */
			broker_lost(w, &err);
			return;
		}
		if (r < 0)
			bk_error("unable to publish the result of job '%s' (id %s): %s",
				 w->confirming[i]->msg.job, w->confirming[i]->msg.job_id, err.msg);
		bk_err_clear(&err);
		{
			struct wjob *j = w->confirming[i];

			list_del(w->confirming, &w->nconfirming, i);
			finish_job(w, j);
		}
	}
}

/*
 * Record RES as the outcome of J (durably: before the result leaves the
 * host), publish it and settle the deliveries once it is confirmed.  Takes
 * over J: it waits in w->confirming for its confirm, or is freed.
 */
static void complete_job(struct worker *w, struct wjob *j, struct bk_msg_result *res)
{
	struct bk_err err = {0};
	struct bk_buf b, line;
	char nm[BK_ID_MAX + 16];
	int r;

	bk_buf_init(&b);
	if (bk_msg_encode_result(res, &b, &err) < 0) {
		/* cannot happen with the values set above; never leave the job hanging */
		bk_error("job '%s' (id %s): unable to encode its result: %s", j->msg.job,
			 j->msg.job_id, err.msg);
		bk_buf_reset(&b);
		bk_err_clear(&err);
		bk_msg_result_set_error(res, "EUNKNOWN", "the worker could not encode the result", false);
		res->outcome = BK_OUTCOME_FAILED;
		res->revision[0] = '\0';
		bk_strv_release(&res->tags);
		res->has_stats = false;
		bk_msg_encode_result(res, &b, &err);
	}
	bk_journal_entry_init(&j->done);
	j->done.state = BK_JOURNAL_DONE;
	snprintf(j->done.job_id, sizeof(j->done.job_id), "%s", j->msg.job_id);
	snprintf(j->done.job, sizeof(j->done.job), "%s", j->msg.job);
	j->done.pid = (long)getpid();
	j->done.started = res->started;
	j->done.finished = bk_now();
	snprintf(j->done.digest, sizeof(j->done.digest), "%s", j->digest);
	j->done.result = b.p; /* owned by the entry now */
	r = j->entry_synced ? bk_journal_put_final(&w->journal, &j->done, &err)
			    : bk_journal_put(&w->journal, &j->done, true, &err);
	if (r < 0)
		bk_error("job '%s' (id %s): %s", j->msg.job, j->msg.job_id, err.msg);
	snprintf(nm, sizeof(nm), "%s.result", j->msg.job_id);
	bk_fs_unlink(w->journal.dirfd, nm);

	bk_buf_init(&line);
	outcome_line(res, &line);
	j->summary = line.p;
	j->backup_s = res->has_stats ? res->stats.duration : 0.0;

	j->published = bk_monotonic();
	r = start_publish(w, j);
	if (r == 0) {
		list_add(&w->confirming, &w->nconfirming, j);
		return;
	}
	if (r == BK_EMQ) {
		/* published after reconnecting (logged again then); the redelivery is acked then */
		bk_notice("%s (result recorded, the broker is away)", j->summary);
		wjob_free(j);
		return;
	}
	finish_job(w, j);
}

/*
 * Publish a failure of J that happened before its child ran, and settle it
 * (takes over J).  A refusal by this host's policy is a rejection.
 */
static void fail_before_run(struct worker *w, struct wjob *j, int code, const char *msg)
{
	struct bk_msg_result res;

	result_for(w, &j->msg, &res, code == BK_EDENIED ? BK_OUTCOME_REJECTED : BK_OUTCOME_FAILED);
	bk_msg_result_set_error(&res, bk_error_name(code), msg, code_transient(bk_error_name(code)));
	j->started = res.started;
	complete_job(w, j, &res);
	bk_msg_result_release(&res);
}

/* Answer J without running it (skipped/rejected, not journalled) and settle the delivery. */
static void answer_unjournalled(struct worker *w, const struct bk_msg_job *job, uint64_t tag,
				enum bk_msg_outcome outcome, const char *code, const char *msg,
				bool transient)
{
	struct bk_msg_result res;

	result_for(w, job, &res, outcome);
	bk_msg_result_set_error(&res, code, msg, transient);
	publish_result(w, &res);
	bk_notice("job '%s' (id %s) %s: %s", job->job, job->job_id, bk_msg_outcome_name(outcome),
		  msg);
	bk_msg_result_release(&res);
	if (w->mq)
		ack_tag(w, tag, outcome == BK_OUTCOME_REJECTED, false);
}

/* Prepare the repository of job J (fleet_repo.c; proto and store types do not mix). */
static int prepare_job_repo(struct worker *w, const struct bk_msg_job *j, char *path,
			    struct bk_err *err)
{
	struct bk_fleet_source src = {0};
	struct bk_buf sched;
	int r;

	src.type = j->source.type == BK_SOURCE_FILE	      ? BK_FLEET_SOURCE_FILE
		   : j->source.type == BK_SOURCE_RBD	      ? BK_FLEET_SOURCE_RBD
		   : j->source.type == BK_SOURCE_FLYINGCIRCUS ? BK_FLEET_SOURCE_FLYINGCIRCUS
							      : BK_FLEET_SOURCE_NONE;
	src.filename = j->source.filename;
	src.pool = j->source.pool;
	src.image = j->source.image;
	src.vm = j->source.vm;
	bk_buf_init(&sched);
	if (j->schedule.n)
		bk_schedule_format_yaml(&j->schedule, 2, &sched);
	r = bk_fleet_repo_prepare(&w->cfg, w->basefd, j->job, &src, j->schedule.n ? sched.p : NULL,
				  path, err);
	bk_buf_release(&sched);
	return r;
}

/*
 * The child after vfork: it shares our memory until execve, so it only
 * makes system calls (no allocation, no setenv: ENVP is ready) and never
 * returns.  Handlers are reset before signals are unblocked, so none of
 * ours runs in it.
 */
static _Noreturn void child_exec(char *const *argv, char *const *envp, int logfd, pid_t parent)
{
	sigset_t none;
	int devnull;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126); /* the worker died before prctl: do not run unsupervised */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != STDIN_FILENO) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	if (logfd >= 0) {
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
	}
	if (strchr(argv[0], '/'))
		execve(argv[0], argv, envp);
	else
		execvpe(argv[0], argv, envp);
	dprintf(STDERR_FILENO, "backy-worker: unable to run '%s': %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* vfork: no copy of our page tables, and we go on once backy is exec'd */
static pid_t spawn(char *const *argv, char *const *envp, int logfd, pid_t parent)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_exec(argv, envp, logfd, parent);
	return pid;
}

/*
 * The environment of J's child: ours, plus BACKY_NOW=<the job's time> under
 * simulated time (NOW is the storage for it).  Free the array, not the strings.
 */
static char **child_env(const struct worker *w, const struct wjob *j, char now[80])
{
	bool simulated = w->cfg.simulated_time && j->msg.head.time;
	size_t n = 0, k = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = bk_calloc(n + 2, sizeof(*envp));
	for (size_t i = 0; i < n; i++)
		if (!simulated || strncmp(environ[i], "BACKY_NOW=", 10) != 0)
			envp[k++] = environ[i];
	if (simulated) {
		memcpy(now, "BACKY_NOW=", 10);
		bk_time_format(j->msg.head.time, now + 10, 70, BK_TIME_ISO);
		envp[k++] = now;
	}
	return envp;
}

/* Start job J (taken over: on return it is running or answered and freed). */
static void start_job(struct worker *w, struct wjob *j)
{
	char path[PATH_MAX], result[PATH_MAX], logname[BK_ID_MAX + 8], rname[BK_ID_MAX + 16];
	struct bk_journal_entry e;
	struct bk_err err = {0};
	const char *argv[20];
	char now[80], **envp, min_keep[32], min_age[32];
	struct bk_buf tags;
	size_t argc = 0;
	int logfd = -1, r;
	pid_t pid, self = getpid();

	snprintf(rname, sizeof(rname), "%s.result", j->msg.job_id);
	r = bk_journal_get(&w->journal, j->msg.job_id, &e, &err);
	if (r == 0 && e.state == BK_JOURNAL_RUNNING &&
	    faccessat(w->journal.dirfd, rname, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		/* a dead worker's child finished: its result counts, no second run */
		struct bk_msg_result res;

		bk_notice("job '%s' (id %s) finished under the previous worker: recording its result",
			  j->msg.job, j->msg.job_id);
		j->started = e.started ? e.started : bk_now();
		result_from_child(w, j, -1, &res);
		complete_job(w, j, &res);
		bk_msg_result_release(&res);
		bk_journal_entry_release(&e);
		return;
	}
	if (r == 0)
		bk_journal_entry_release(&e);
	else if (r != -ENOENT)
		bk_warn("%s; starting the job anew", err.msg);
	bk_err_clear(&err);

	r = prepare_job_repo(w, &j->msg, path, &err);
	if (r < 0) {
		fail_before_run(w, j, r, err.msg);
		return;
	}

	j->started = bk_now();
	bk_journal_entry_init(&e);
	e.state = BK_JOURNAL_RUNNING;
	snprintf(e.job_id, sizeof(e.job_id), "%s", j->msg.job_id);
	snprintf(e.job, sizeof(e.job), "%s", j->msg.job);
	e.pid = (long)self;
	e.pid_start = w->self_start;
	e.started = j->started;
	snprintf(e.digest, sizeof(e.digest), "%s", j->digest);
	bk_fs_unlink(w->journal.dirfd, rname);
	/*
	 * Not fsynced: losing a running entry in a power failure has the same
	 * effect as finding it stale (the redelivered job runs again).  The
	 * entry rewritten after the fork is synced while the child runs, for
	 * the done entry's sake (job_journal.h, note 5).
	 */
	r = bk_journal_put(&w->journal, &e, false, &err);
	if (r < 0) {
		fail_before_run(w, j, r, err.msg);
		return;
	}

	snprintf(logname, sizeof(logname), "%s.log", j->msg.job_id);
	logfd = openat(w->journal.dirfd, logname,
		       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	snprintf(result, sizeof(result), "%s/%s", w->cfg.state_dir, rname);
	bk_buf_init(&tags);
	bk_strv_join(&j->msg.tags, ",", &tags);
	argv[argc++] = w->cfg.backy;
	argv[argc++] = "-b";
	argv[argc++] = path;
	argv[argc++] = "--result";
	argv[argc++] = result;
	switch (j->msg.action) {
	case BK_ACTION_BACKUP:
		argv[argc++] = "backup";
		if (j->msg.tags.n) {
			argv[argc++] = "-f";
			argv[argc++] = tags.p;
		}
		break;
	case BK_ACTION_EXPIRE:
		/* this host's floors, whatever the job's schedule says (fleet_policy.h) */
		snprintf(min_keep, sizeof(min_keep), "%llu",
			 (unsigned long long)w->cfg.policy.min_keep);
		snprintf(min_age, sizeof(min_age), "%llds", (long long)w->cfg.policy.min_age);
		argv[argc++] = "expire";
		argv[argc++] = "--min-keep";
		argv[argc++] = min_keep;
		argv[argc++] = "--min-age";
		argv[argc++] = min_age;
		break;
	default:
		argv[argc++] = "verify";
		argv[argc++] = "-r";
		argv[argc++] = "all";
		break;
	}
	argv[argc] = NULL;

	envp = child_env(w, j, now);
	pid = spawn((char *const *)argv, envp, logfd, self);
	j->spawned = bk_monotonic();
	free(envp);
	if (logfd >= 0)
		close(logfd);
	if (pid < 0) {
		r = -errno;
		bk_buf_release(&tags);
		fail_before_run(w, j, r, "unable to start backy: vfork failed");
		return;
	}
	setpgid(pid, pid); /* also in the child: whoever runs first */
	j->pid = pid;
	list_add(&w->running, &w->nrunning, j);
	e.child = (long)pid;
	e.child_start = bk_journal_proc_start(pid);
	/* durable while the child runs, so the done entry costs one flush (job_journal.h, note 5) */
	if (bk_journal_put(&w->journal, &e, false, &err) < 0 || bk_journal_sync(&w->journal, &err) < 0)
		bk_warn("%s", err.msg);
	else
		j->entry_synced = true;
	bk_notice("job '%s' (id %s) %s started%s%s (attempt %u, pid %ld)", j->msg.job,
		  j->msg.job_id, bk_msg_action_name(j->msg.action), tags.len ? ", tags " : "",
		  tags.p, j->msg.attempt, (long)pid);
	bk_buf_release(&tags);
}

/*
 * Whether J's deadline passed before it could start: then the coordinator
 * considers it lost and dispatches it again, so running it now could only
 * duplicate work (docs/messages.md, result outcomes).  Answered skipped and
 * freed.  Not under simulated time: the deadline is on the sender's clock.
 */
static bool deadline_passed(struct worker *w, struct wjob *j)
{
	char when[64], msg[160];

	if (w->cfg.simulated_time || j->msg.deadline >= bk_now())
		return false;
	bk_time_format(j->msg.deadline, when, sizeof(when), BK_TIME_ISO);
	snprintf(msg, sizeof(msg), "the job's deadline %s passed before it could start", when);
	for (size_t i = 0; i < j->ntags; i++)
		if (j->tags[i].gen == w->gen)
			answer_unjournalled(w, &j->msg, j->tags[i].tag, BK_OUTCOME_SKIPPED,
					    "ETIMEDOUT", msg, false);
	wjob_free(j);
	return true;
}

/* Start pending jobs while slots are free. */
static void start_pending(struct worker *w)
{
	while (!w->stopping && w->npending && w->nrunning < w->cfg.slots) {
		struct wjob *j = w->pending[0];
		struct wjob *other;

		list_del(w->pending, &w->npending, 0);
		if (deadline_passed(w, j))
			continue;
		other = find_running(w, NULL, j->msg.job);
		if (other) {
			char msg[300];

			snprintf(msg, sizeof(msg), "job '%s' is already running on host '%s' (id %s)",
				 j->msg.job, w->cfg.host, other->msg.job_id);
			for (size_t i = 0; i < j->ntags; i++)
				if (j->tags[i].gen == w->gen)
					answer_unjournalled(w, &j->msg, j->tags[i].tag,
							    BK_OUTCOME_SKIPPED,
							    bk_error_name(BK_ELOCKED), msg, true);
			wjob_free(j);
			continue;
		}
		start_job(w, j);
	}
}

/* A child exited with STATUS at EXITED (monotonic). */
static void child_done(struct worker *w, size_t idx, int status, int64_t exited)
{
	struct wjob *j = w->running[idx];
	struct bk_msg_result res;

	list_del(w->running, &w->nrunning, idx);
	/* a SIGCHLD older than the fork belongs to an earlier child (or came before we looked) */
	j->exited = exited >= j->spawned ? exited : bk_monotonic();
	if (j->interrupted) {
		bk_notice("job '%s' (id %s) stopped by the shutdown: handing it back to the broker",
			  j->msg.job, j->msg.job_id);
		settle_job(w, j, true, true);
		wjob_free(j);
		return;
	}
	result_from_child(w, j, status, &res);
	complete_job(w, j, &res);
	bk_msg_result_release(&res);
}

static void reap_children(struct worker *w)
{
	/* every child reaped now exited at or after the first SIGCHLD not yet taken */
	int64_t exited = atomic_exchange(&sigchld_at, 0);

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		for (size_t i = 0; i < w->nrunning; i++) {
			if (w->running[i]->pid == pid) {
				child_done(w, i, status, exited);
				break;
			}
		}
	}
}

/* ---- deliveries ------------------------------------------------------------------ */

static void reject_invalid(struct worker *w, const struct bk_mq_delivery *d, int code,
			   const char *msg)
{
	struct bk_msg_peek pk;
	struct bk_msg_result res;

	memset(&pk, 0, sizeof(pk));
	if (d->body)
		bk_msg_peek(d->body, d->len, &pk);
	bk_msg_result_init(&res);
	bk_msg_head_new(&res.head);
	snprintf(res.host, sizeof(res.host), "%s", w->cfg.host);
	snprintf(res.job_id, sizeof(res.job_id), "%s", pk.job_id);
	snprintf(res.job, sizeof(res.job), "%s", pk.job);
	res.action = pk.action;
	res.outcome = BK_OUTCOME_REJECTED;
	res.started = bk_now();
	res.finished = res.started;
	bk_msg_result_set_error(&res, bk_error_name(code), msg, false);
	bk_warn("rejected a message (%zu bytes, id '%.64s', job '%s'): %s", d->len, pk.id, pk.job,
		msg);
	publish_result(w, &res);
	bk_msg_result_release(&res);
	if (d->tag)
		ack_tag(w, d->tag, true, false);
}

/*
 * Answer a delivery whose job id was seen here with other content: rejected
 * and dead-lettered (takes over J).  The result leaves the job id out (a
 * rejected result may), so the coordinator does not take it for the answer
 * to the genuine job of that id, which may be in flight.
 */
static void refuse_changed_job(struct worker *w, struct wjob *j, uint64_t tag)
{
	struct bk_msg_result res;
	char msg[300];

	snprintf(msg, sizeof(msg),
		 "job id '%s' was seen before with different content (job, host, action, tags, source or schedule): refusing to run or answer it",
		 j->msg.job_id);
	result_for(w, NULL, &res, BK_OUTCOME_REJECTED);
	snprintf(res.job, sizeof(res.job), "%s", j->msg.job);
	res.action = j->msg.action;
	bk_msg_result_set_error(&res, bk_error_name(BK_EPROTO), msg, false);
	publish_result(w, &res);
	bk_warn("job '%s': %s", j->msg.job, msg);
	bk_msg_result_release(&res);
	if (w->mq)
		ack_tag(w, tag, true, false);
	wjob_free(j);
}

static void handle_delivery(struct worker *w, struct bk_mq_delivery *d)
{
	struct bk_journal_entry e;
	struct bk_err err = {0};
	struct wjob *j;
	struct bk_msg m;
	char msg[400];
	int r;

	if (w->stopping) {
		ack_tag(w, d->tag, true, true);
		return;
	}
	if (d->len > BK_MSG_MAX_BODY) {
		snprintf(msg, sizeof(msg), "message of %zu bytes exceeds the limit of %d bytes",
			 d->len, BK_MSG_MAX_BODY);
		reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	r = bk_msg_decode(d->body, d->len, &m, &err);
	if (r < 0) {
		reject_invalid(w, d, r, err.msg);
		return;
	}
	if (m.kind != BK_MSG_JOB) {
		snprintf(msg, sizeof(msg), "expected a job message, got a %s message",
			 bk_msg_kind_name(m.kind));
		bk_msg_release(&m);
		reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	if (strcmp(m.u.job.host, w->cfg.host) != 0) {
		snprintf(msg, sizeof(msg), "job for host '%s' delivered to host '%s'", m.u.job.host,
			 w->cfg.host);
		bk_msg_release(&m);
		reject_invalid(w, d, BK_EPROTO, msg);
		return;
	}
	j = bk_calloc(1, sizeof(*j));
	j->msg = m.u.job; /* takes over what m owns */
	j->received = bk_monotonic();
	bk_fleet_job_digest(&j->msg, j->digest);

	r = bk_journal_get(&w->journal, j->msg.job_id, &e, &err);
	if (r == 0 && e.digest[0] && strcmp(e.digest, j->digest) != 0) {
		/* never answer a forged or changed job with the record of another one */
		bk_journal_entry_release(&e);
		refuse_changed_job(w, j, d->tag);
		return;
	}
	if (r == 0 && e.state == BK_JOURNAL_DONE) {
		if (d->redelivered && e.published) {
			/* our own unacknowledged delivery came back: the result is out already */
			ack_tag(w, d->tag, false, false);
		} else if (publish_entry(w, &e) == 0) {
			bk_notice("job '%s' (id %s) finished before: answered from the journal",
				  j->msg.job, j->msg.job_id);
			ack_tag(w, d->tag, false, false);
		}
		bk_journal_entry_release(&e);
		wjob_free(j);
		return;
	}
	if (r == 0)
		bk_journal_entry_release(&e);
	else if (r != -ENOENT)
		bk_warn("%s", err.msg);

	{
		struct wjob *same = find_running(w, j->msg.job_id, NULL);

		if (!same)
			same = find_pending(w, j->msg.job_id);
		if (same && strcmp(same->digest, j->digest) != 0) {
			refuse_changed_job(w, j, d->tag);
			return;
		}
		if (same) {
			/* a redelivery (broker loss, consumer_timeout) of a job running here */
			wjob_add_tag(same, d->tag, w->gen);
			bk_info("job '%s' (id %s) redelivered while running: not starting it again",
				j->msg.job, j->msg.job_id);
			wjob_free(j);
			return;
		}
	}
	{
		struct wjob *other = find_running(w, NULL, j->msg.job);

		if (other) {
			snprintf(msg, sizeof(msg), "job '%s' is already running on host '%s' (id %s)",
				 j->msg.job, w->cfg.host, other->msg.job_id);
			answer_unjournalled(w, &j->msg, d->tag, BK_OUTCOME_SKIPPED,
					    bk_error_name(BK_ELOCKED), msg, true);
			wjob_free(j);
			return;
		}
	}
	bk_err_clear(&err);
	if (j->msg.source.type != BK_SOURCE_NONE &&
	    bk_fleet_policy_check(&w->cfg.policy,
				  j->msg.source.type == BK_SOURCE_FILE ? j->msg.source.filename : NULL,
				  j->msg.source.pool, j->msg.source.image, &err) < 0) {
		/* nothing is read or created (the repository's own source is checked at start) */
		answer_unjournalled(w, &j->msg, d->tag, BK_OUTCOME_REJECTED,
				    bk_error_name(BK_EDENIED), err.msg, false);
		wjob_free(j);
		return;
	}
	wjob_add_tag(j, d->tag, w->gen);
	list_add(&w->pending, &w->npending, j);
	start_pending(w);
}


/* ---- heartbeats, stop, reload --------------------------------------------------------- */

static void heartbeat(struct worker *w)
{
	struct bk_msg_heartbeat hb;
	struct bk_err err = {0};
	struct statvfs sv;
	struct bk_buf b;
	int r;

	bk_msg_heartbeat_init(&hb);
	bk_msg_head_new(&hb.head);
	snprintf(hb.host, sizeof(hb.host), "%s", w->cfg.host);
	snprintf(hb.version, sizeof(hb.version), "%s", BACKY_VERSION);
	hb.slots = w->cfg.slots;
	hb.busy = w->nrunning < w->cfg.slots ? (unsigned)w->nrunning : w->cfg.slots;
	if (statvfs(w->cfg.base_dir, &sv) == 0)
		hb.free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	for (size_t i = 0; i < w->nrunning && i < w->cfg.slots; i++)
		bk_strv_add(&hb.running, w->running[i]->msg.job);
	bk_buf_init(&b);
	r = bk_msg_encode_heartbeat(&hb, &b, &err);
	if (r == 0)
		r = bk_mq_publish(w->mq, BK_EX_WORKERS, w->cfg.host, b.p, b.len, hb.head.id, &err);
	if (r < 0 && !w->hb_warned) {
		bk_warn("unable to publish a heartbeat: %s", err.msg);
		w->hb_warned = r != BK_EMQ;
	} else if (r == 0) {
		w->hb_warned = false;
	}
	mq_check(w, r, &err);
	bk_buf_release(&b);
	bk_msg_heartbeat_release(&hb);
}

static void begin_stop(struct worker *w)
{
	struct bk_err err = {0};

	if (w->stopping) {
		bk_notice("second signal: stopping running jobs now");
		w->stop_deadline = bk_monotonic();
		return;
	}
	w->stopping = true;
	w->stop_deadline = bk_monotonic() + (int64_t)w->cfg.grace * BK_USEC;
	bk_notice("stopping: no new jobs; %zu running job%s get%s up to %u s", w->nrunning,
		  w->nrunning == 1 ? "" : "s", w->nrunning == 1 ? "s" : "", w->cfg.grace);
	if (w->mq && w->consuming) {
		int r = bk_mq_cancel(w->mq, &err);

		if (r < 0)
			bk_warn("unable to cancel the consumer: %s", err.msg);
		mq_check(w, r, &err);
		w->consuming = false;
	}
	for (size_t i = 0; i < w->npending; i++) {
		settle_job(w, w->pending[i], true, true);
		wjob_free(w->pending[i]);
	}
	w->npending = 0;
}

static void stop_step(struct worker *w)
{
	int64_t now = bk_monotonic();

	if (!w->stopping || !w->nrunning || now < w->stop_deadline)
		return;
	if (!w->kill_deadline) {
		bk_notice("grace period over: terminating %zu job%s", w->nrunning,
			  w->nrunning == 1 ? "" : "s");
		for (size_t i = 0; i < w->nrunning; i++) {
			w->running[i]->interrupted = true;
			kill(-w->running[i]->pid, SIGTERM);
		}
		w->kill_deadline = now + KILL_WAIT_US;
	} else if (now >= w->kill_deadline) {
		for (size_t i = 0; i < w->nrunning; i++)
			kill(-w->running[i]->pid, SIGKILL);
		w->kill_deadline = now + KILL_WAIT_US;
	}
}

static void reload(struct worker *w)
{
	struct bk_fleet_config nc;
	struct bk_err err = {0};
	bool reconnect;

	if (bk_fleet_config_load(w->config_path, &nc, &err) < 0) {
		bk_error("reload failed, keeping the old configuration: %s", err.msg);
		return;
	}
	if (strcmp(nc.host, w->cfg.host) || strcmp(nc.base_dir, w->cfg.base_dir) ||
	    strcmp(nc.state_dir, w->cfg.state_dir)) {
		bk_warn("host, base-dir and state-dir changes need a restart: keeping '%s', '%s', '%s'",
			w->cfg.host, w->cfg.base_dir, w->cfg.state_dir);
		free(nc.host);
		nc.host = bk_strdup(w->cfg.host);
		free(nc.base_dir);
		nc.base_dir = bk_strdup(w->cfg.base_dir);
		free(nc.state_dir);
		nc.state_dir = bk_strdup(w->cfg.state_dir);
	}
	reconnect = nc.slots != w->cfg.slots || strcmp(nc.amqp_url, w->cfg.amqp_url) ||
		    nc.amqp_heartbeat != w->cfg.amqp_heartbeat ||
		    nc.amqp_tls_verify != w->cfg.amqp_tls_verify ||
		    (nc.amqp_ca_cert == NULL) != (w->cfg.amqp_ca_cert == NULL) ||
		    (nc.amqp_ca_cert && strcmp(nc.amqp_ca_cert, w->cfg.amqp_ca_cert));
	bk_fleet_config_release(&w->cfg);
	w->cfg = nc;
	bk_notice("configuration reloaded%s", reconnect ? "; reconnecting to the broker" : "");
	if (reconnect && w->mq) {
		struct bk_err e2 = {0};

		bk_err_set(&e2, BK_EMQ, "reconnecting for the new configuration");
		broker_lost(w, &e2);
	}
}

/* Kill children of a dead predecessor that outlived it (they hold repository locks). */
static void recover(struct worker *w)
{
	struct bk_journal_entry e;
	struct bk_err err = {0};
	char **ids = NULL;
	size_t n = 0;

	if (bk_journal_list(&w->journal, &ids, &n, &err) < 0) {
		bk_error("%s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (bk_journal_get(&w->journal, ids[i], &e, &err) < 0) {
			bk_warn("%s", err.msg);
			bk_err_clear(&err);
			continue;
		}
		if (e.state == BK_JOURNAL_RUNNING && e.child > 0 &&
		    bk_journal_proc_alive(e.child, e.child_start)) {
			bk_warn("job '%s' (id %s): killing pid %ld left over from a previous worker",
				e.job, e.job_id, e.child);
			kill(-(pid_t)e.child, SIGKILL);
			kill((pid_t)e.child, SIGKILL);
			for (int k = 0; k < 100 && bk_journal_proc_alive(e.child, e.child_start); k++)
				poll(NULL, 0, 100);
		}
		if (e.state == BK_JOURNAL_RUNNING)
			bk_info("job '%s' (id %s) was interrupted: it runs again when redelivered",
				e.job, e.job_id);
		bk_journal_entry_release(&e);
	}
	bk_journal_ids_free(ids, n);
}

int bk_fleet_run(const char *config_path, struct bk_fleet_config *cfg, struct bk_err *err)
{
	static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct worker w = {.basefd = -1};
	struct sigaction sa;
	sigset_t sigs;
	int r, pruned;

	w.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	w.config_path = config_path;
	w.backoff_ms = RECONNECT_MIN_MS;
	w.journal.dirfd = -1;
	w.journal.lockfd = -1;

	/*
	 * Our signals stay blocked except while we wait (design note 4): a
	 * SIGCHLD or SIGTERM then ends the wait at once, also when it came
	 * just before the wait began.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sigs);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		sa.sa_flags = SA_RESTART | (handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
		sigaction(handled[i], &sa, NULL);
		sigaddset(&sigs, handled[i]);
	}
	sigprocmask(SIG_BLOCK, &sigs, &w.wait_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigdelset(&w.wait_mask, handled[i]);
	signal(SIGPIPE, SIG_IGN);

	w.basefd = open(w.cfg.base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.basefd < 0) {
		r = bk_err_sys(err, -errno, "unable to open base directory '%s'", w.cfg.base_dir);
		goto out;
	}
	r = bk_journal_open(&w.journal, w.cfg.state_dir, err);
	if (r < 0)
		goto out;
	recover(&w);
	w.self_start = bk_journal_proc_start(getpid());
	bk_notice("backy-worker %s for host '%s' starting: base %s, %u slot%s, backy '%s'",
		  BACKY_VERSION, w.cfg.host, w.cfg.base_dir, w.cfg.slots,
		  w.cfg.slots == 1 ? "" : "s", w.cfg.backy);

	for (;;) {
		struct bk_mq_delivery d;
		struct bk_err e2 = {0};
		int64_t now;

		if (sig_term) {
			sig_term = 0;
			begin_stop(&w);
		}
		if (sig_hup) {
			sig_hup = 0;
			reload(&w);
		}
		reap_children(&w);
		stop_step(&w);
		if (w.stopping && !w.nrunning && !w.npending && !w.nconfirming)
			break;
		now = bk_monotonic();
		if (!w.mq && now >= w.next_connect)
			try_connect(&w);
		start_pending(&w);
		now = bk_monotonic();
		if (w.mq && now >= w.next_heartbeat) {
			heartbeat(&w);
			w.next_heartbeat = now + (int64_t)w.cfg.heartbeat_interval * BK_USEC;
		}
		if (now >= w.next_prune) {
			pruned = bk_journal_prune(&w.journal, bk_now() - w.cfg.keep * BK_USEC, &e2);
			if (pruned < 0)
				bk_warn("%s", e2.msg);
			else if (pruned > 0)
				bk_info("pruned %d old journal entr%s", pruned, pruned == 1 ? "y" : "ies");
			w.next_prune = now + PRUNE_EVERY_US;
		}
		if (!w.mq) {
			int64_t left = (w.next_connect - bk_monotonic()) / 1000;
			int ms = left < WAIT_MS ? (left < 1 ? 1 : (int)left) : WAIT_MS;
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

			ppoll(NULL, 0, &ts, &w.wait_mask);
			continue;
		}
		r = bk_mq_wait(w.mq, WAIT_MS, &d, &e2);
		if (r >= 0)
			collect_confirms(&w);
		if (r == 1) {
			handle_delivery(&w, &d);
			bk_mq_delivery_release(&d);
		} else if (r == BK_EPROTO) {
			struct bk_mq_delivery none = {0};

			/* an oversized body, dead-lettered by the adapter: answer it all the same */
			reject_invalid(&w, &none, BK_EPROTO, e2.msg);
		} else if (r < 0) {
			broker_lost(&w, &e2);
		}
	}
	bk_notice("stopped");
	r = 0;
out:
	bk_mq_close(w.mq);
	for (size_t i = 0; i < w.npending; i++)
		wjob_free(w.pending[i]);
	for (size_t i = 0; i < w.nrunning; i++)
		wjob_free(w.running[i]);
	for (size_t i = 0; i < w.nconfirming; i++)
		wjob_free(w.confirming[i]);
	free(w.pending);
	free(w.running);
	free(w.confirming);
	if (w.journal.dirfd >= 0)
		bk_journal_close(&w.journal);
	if (w.basefd >= 0)
		close(w.basefd);
	bk_fleet_config_release(&w.cfg);
	return r;
}
