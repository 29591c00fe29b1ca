/* config.c: parse and validate the coordinator's central YAML config (see config.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "config_python.h"
#include "mq_yaml.h"
#include "scrub.h"
#include "ydoc.h"

void co_config_init(struct co_config *c)
{
	memset(c, 0, sizeof(*c));
	c->job_timeout = CO_DEFAULT_JOB_TIMEOUT;
	c->expire = true;
	c->amqp_tls_verify = true;
	c->scrub_period = CO_DEFAULT_SCRUB_PERIOD;
	c->scrub_slice = CO_DEFAULT_SCRUB_SLICE;
	c->status_interval = CO_DEFAULT_STATUS_INTERVAL;
}

void co_config_release(struct co_config *c)
{
	for (size_t i = 0; i < c->nscheds; i++) {
		free(c->scheds[i].name);
		bk_schedule_release(&c->scheds[i].s);
	}
	free(c->scheds);
	for (size_t i = 0; i < c->njobs; i++) {
		free(c->jobs[i].name);
		free(c->jobs[i].host);
		bk_source_spec_release(&c->jobs[i].source);
	}
	free(c->jobs);
	for (size_t i = 0; i < c->nhosts; i++)
		free(c->hosts[i]);
	free(c->hosts);
	free(c->path);
	free(c->amqp_url);
	free(c->amqp_ca_cert);
	free(c->state_file);
	free(c->base_dir);
	free(c->status_auth.cert_pem);
	free(c->status_auth.key_pem);
	free(c->status_auth.user);
	free(c->status_auth.password);
	free(c->completed_callback);
	free(c->status_file);
	co_config_init(c);
}

static int need_map(const struct bk_ynode *n, const char *name, const char *what,
		    struct bk_err *err)
{
	if (!n || n->type != BK_Y_MAP)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must be a map", name,
				  n ? n->line : 0, what);
	return 0;
}

static int get_strdup(const struct bk_ynode *v, const char *name, const char *what, char **out,
		      struct bk_err *err)
{
	const char *s;
	int r = bk_ynode_str(v, name, what, &s, err);

	if (r < 0)
		return r;
	if (!*s)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' must not be empty", name,
				  v->line, what);
	free(*out);
	*out = bk_strdup(s);
	return 0;
}

static int get_duration(const struct bk_ynode *v, const char *name, const char *what,
			int64_t *out, struct bk_err *err)
{
	const char *s;
	int r = bk_ynode_str(v, name, what, &s, err);

	if (r < 0)
		return r;
	if (bk_duration_parse(s, out) < 0 || *out <= 0)
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: '%s' must be a positive duration such as 6h or 90m, not '%s'",
				  name, v->line, what, s);
	return 0;
}

/* scrub: {period: 30d, slice: 1d}; period 0 turns scheduled verify jobs off (scrub.h). */
static int parse_scrub(const struct bk_ynode *n, const char *name, struct co_config *c,
		       struct bk_err *err)
{
	static const char *const keys[] = {"period", "slice", NULL};
	const struct bk_ynode *v;
	int r = need_map(n, name, "scrub", err);

	if (r == 0)
		r = bk_ymap_check_keys(n, keys, name, "scrub", err);
	v = bk_ymap_get(n, "period");
	if (r == 0 && v && v->type == BK_Y_SCALAR && strcmp(v->str, "0") == 0)
		c->scrub_period = 0;
	else if (r == 0 && v)
		r = get_duration(v, name, "scrub.period", &c->scrub_period, err);
	v = bk_ymap_get(n, "slice");
	if (r == 0 && v)
		r = get_duration(v, name, "scrub.slice", &c->scrub_slice, err);
	if (r == 0 && c->scrub_period && c->scrub_slice > c->scrub_period)
		r = bk_err_set(err, BK_ECONFIG,
			       "%s: line %d: 'scrub.slice' must not be longer than 'scrub.period'",
			       name, n->line);
	return r;
}


bool co_status_secured(const struct co_status_auth *a)
{
	return a->cert_pem && a->key_pem && a->user && a->password;
}

void co_status_auth_copy(struct co_status_auth *dst, const struct co_status_auth *src)
{
	char **d[] = {&dst->cert_pem, &dst->key_pem, &dst->user, &dst->password};
	char *const *s[] = {&src->cert_pem, &src->key_pem, &src->user, &src->password};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		free(*d[i]);
		*d[i] = *s[i] ? bk_strdup(*s[i]) : NULL;
	}
}

int co_listen_parse(const char *s, bool secured, char *host, size_t size, unsigned *port,
		    struct bk_err *err)
{
	const char *colon = strrchr(s, ':');
	char addr[64];
	size_t alen;
	char *end = NULL;
	unsigned long p;
	struct in_addr a4;
	struct in6_addr a6;
	bool loopback;

	if (!colon || colon == s)
		return bk_err_set(err, BK_ECONFIG, "invalid listen address '%s': expected ADDRESS:PORT",
				  s);
	alen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (alen < 3 || s[alen - 1] != ']')
			return bk_err_set(err, BK_ECONFIG, "invalid listen address '%s'", s);
		s++;
		alen -= 2;
	}
	if (alen >= sizeof(addr) || alen >= size)
		return bk_err_set(err, BK_ECONFIG, "invalid listen address '%s'", s);
	memcpy(addr, s, alen);
	addr[alen] = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return bk_err_set(err, BK_ECONFIG, "invalid port in listen address '%s'", colon + 1);
	if (strcmp(addr, "localhost") == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1");
	if (inet_pton(AF_INET, addr, &a4) == 1)
		loopback = (ntohl(a4.s_addr) >> 24) == 127;
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		loopback = IN6_IS_ADDR_LOOPBACK(&a6);
	else
		return bk_err_set(err, BK_ECONFIG, "invalid listen address '%s': expected a numeric address",
				  addr);
	if (!loopback && !secured)
		return bk_err_set(err, BK_ECONFIG,
				  "listen address '%s' is not a loopback address: serving status beyond "
				  "loopback needs status.tls-cert, tls-key, auth-user and auth-password-file",
				  addr);
	snprintf(host, size, "%s", addr);
	*port = (unsigned)p;
	return 0;
}

/*
 * Read the secret or certificate file named by KEY of map N into *OUT.
 * SECRET: refuse a file others may read, and drop one trailing newline.
 */
static int read_status_file(const struct bk_ynode *n, const char *key, bool secret,
			    const char *name, char **out, struct bk_err *err)
{
	const struct bk_ynode *v = bk_ymap_get(n, key);
	const char *path;
	struct stat sb;
	size_t len = 0;
	char what[64];
	int r;

	snprintf(what, sizeof(what), "status.%s", key);
	r = bk_ynode_str(v, name, what, &path, err);
	if (r < 0)
		return r;
	if (secret && stat(path, &sb) == 0 && (sb.st_mode & 0007))
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: %s '%s' may be read by anyone (mode %04o): make it 0600 or 0640",
				  name, v->line, what, path, (unsigned)(sb.st_mode & 07777));
	r = bk_fs_read_all(AT_FDCWD, path, 1 << 20, out, &len);
	if (r < 0)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: unable to read %s '%s': %s", name,
				  v->line, what, path, strerror(-r));
	if (secret && len && (*out)[len - 1] == '\n')
		(*out)[--len] = 0;
	if (!len || strlen(*out) != len)
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: %s '%s' is empty or not text", name,
				  v->line, what, path);
	return 0;
}

/* status: {listen, tls-cert, tls-key, auth-user, auth-password-file} */
static int parse_status(const struct bk_ynode *n, const char *name, struct co_config *c,
			struct bk_err *err)
{
	static const char *const keys[] = {"listen", "tls-cert", "tls-key", "auth-user",
					   "auth-password-file", NULL};
	struct co_status_auth *a = &c->status_auth;
	const struct bk_ynode *v;
	struct bk_err e = {0};
	const char *s;
	int r;

	if (!n || bk_ynode_is_null(n))
		return 0;
	r = need_map(n, name, "status", err);
	if (r == 0)
		r = bk_ymap_check_keys(n, keys, name, "status", err);
	if (r < 0)
		return r;
	if (!bk_ymap_get(n, "tls-cert") != !bk_ymap_get(n, "tls-key"))
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: status.tls-cert and status.tls-key go together",
				  name, n->line);
	if (!bk_ymap_get(n, "auth-user") != !bk_ymap_get(n, "auth-password-file"))
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: status.auth-user and status.auth-password-file go together",
				  name, n->line);
	if (bk_ymap_get(n, "tls-cert")) {
		r = read_status_file(n, "tls-cert", false, name, &a->cert_pem, err);
		if (r == 0)
			r = read_status_file(n, "tls-key", true, name, &a->key_pem, err);
	}
	if (r == 0 && bk_ymap_get(n, "auth-user")) {
		r = get_strdup(bk_ymap_get(n, "auth-user"), name, "status.auth-user", &a->user, err);
		if (r == 0 && strchr(a->user, ':'))
			r = bk_err_set(err, BK_ECONFIG, "%s: line %d: status.auth-user must not contain ':'",
				       name, bk_ymap_get(n, "auth-user")->line);
		if (r == 0)
			r = read_status_file(n, "auth-password-file", true, name, &a->password, err);
	}
	v = bk_ymap_get(n, "listen");
	if (r < 0 || !v)
		return r;
	r = bk_ynode_str(v, name, "status.listen", &s, err);
	if (r == 0 && co_listen_parse(s, co_status_secured(a), c->listen_host,
				      sizeof(c->listen_host), &c->listen_port, &e) < 0)
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: %s", name, v->line, e.msg);
	return r;
}

static int refuse_local(void *arg, enum bk_source_type type, const char *key,
			const struct bk_ynode *v, struct bk_err *err)
{
	static const char *const secret[] = {"consul_acl_token", "consul_token", NULL};
	static const char *const local[] = {"ceph_conf", "ceph_id", "consul_url",
					    "consul_initial_wait", "consul_poll_interval",
					    "consul_timeout", "verify_sample", "verify_budget",
					    "verify_full", "verify_percent", "verify_min_blocks",
					    NULL};
	const char *const *where = arg; /* {file name, job name} */
	int r = co_python_source_key(where, type, key, v, err);

	if (r <= 0)
		return r;
	for (size_t j = 0; secret[j]; j++)
		if (strcmp(key, secret[j]) == 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: job '%s': secrets do not belong in the central config (they would travel in job messages): remove 'source.%s' here and set it as 'consul: {token: ...}' in the worker's config on the storage host",
					  where[0], v->line, where[1], key);
	for (size_t j = 0; local[j]; j++)
		if (strcmp(key, local[j]) == 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: job '%s': 'source.%s' is a worker-local setting: set it in the worker's config on the storage host",
					  where[0], v->line, where[1], key);
	return 1;
}

/* source: the one source model (source_spec.h), nothing local. */
static int parse_source(const struct bk_ynode *map, const char *name, const char *job,
			struct bk_source_spec *src, struct bk_err *err)
{
	const char *where[] = {name, job};

	return bk_source_spec_read(map, name, job, src, refuse_local, (void *)where, err);
}

static int cmp_job(const void *a, const void *b)
{
	return strcmp(((const struct co_jobcfg *)a)->name, ((const struct co_jobcfg *)b)->name);
}

/* Validate a job as the wire format will: encode a sample job message. */
static int check_encodable(const struct co_config *c, const struct co_jobcfg *j, const char *name,
			   struct bk_err *err)
{
	struct bk_msg_job m;
	struct bk_buf b;
	struct bk_err e = {0};
	int r;

	bk_msg_job_init(&m);
	bk_buf_init(&b);
	bk_msg_head_new(&m.head);
	bk_id_new(m.job_id);
	snprintf(m.job, sizeof(m.job), "%s", j->name);
	snprintf(m.host, sizeof(m.host), "%s", j->host ? j->host : c->hosts[0]);
	m.action = BK_ACTION_BACKUP;
	bk_strv_add(&m.tags, c->scheds[j->sched].s.tags[0].name);
	m.deadline = m.head.time + c->job_timeout * BK_USEC;
	m.attempt = 1;
	bk_source_spec_copy(&m.source, &j->source);
	bk_schedule_copy(&m.schedule, &c->scheds[j->sched].s);
	r = bk_msg_encode_job(&m, &b, &e);
	if (r < 0)
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: job '%s' cannot be sent to a worker: %s",
			       name, j->line, j->name, e.msg);
	bk_msg_job_release(&m);
	bk_buf_release(&b);
	return r;
}

static int parse_jobs(const struct bk_ynode *jobs, const char *name, struct co_config *c,
		      struct bk_err *err)
{
	static const char *const keys[] = {"schedule", "source", "host", NULL};
	int r;

	r = need_map(jobs, name, "jobs", err);
	if (r < 0)
		return r;
	c->jobs = bk_calloc(jobs->n ? jobs->n : 1, sizeof(*c->jobs));
	for (size_t i = 0; i < jobs->n; i++) {
		const struct bk_ynode *jm = jobs->items[i];
		struct co_jobcfg *j = &c->jobs[c->njobs];
		const char *sname;
		char what[128];

		j->name = bk_strdup(jobs->keys[i]);
		j->line = jm->line;
		c->njobs++;
		if (!bk_msg_name_valid(j->name))
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: invalid job name '%s': 1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-'",
					  name, jm->line, j->name);
		snprintf(what, sizeof(what), "jobs.%s", j->name);
		r = need_map(jm, name, what, err);
		if (r == 0)
			r = bk_ymap_check_keys(jm, keys, name, what, err);
		if (r < 0)
			return r;
		snprintf(what, sizeof(what), "jobs.%s.schedule", j->name);
		r = bk_ynode_str(bk_ymap_get(jm, "schedule"), name, what, &sname, err);
		if (r < 0)
			return bk_ymap_get(jm, "schedule")
				       ? r
				       : bk_err_set(err, BK_ECONFIG, "%s: line %d: job '%s' has no schedule",
						    name, jm->line, j->name);
		for (j->sched = 0; j->sched < c->nscheds; j->sched++)
			if (strcmp(c->scheds[j->sched].name, sname) == 0)
				break;
		if (j->sched == c->nscheds)
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: job '%s': unknown schedule '%s'",
					  name, bk_ymap_get(jm, "schedule")->line, j->name, sname);
		r = parse_source(bk_ymap_get(jm, "source"), name, j->name, &j->source, err);
		if (r < 0)
			return r;
		if (bk_ymap_get(jm, "host") && !bk_ynode_is_null(bk_ymap_get(jm, "host"))) {
			snprintf(what, sizeof(what), "jobs.%s.host", j->name);
			r = get_strdup(bk_ymap_get(jm, "host"), name, what, &j->host, err);
			if (r < 0)
				return r;
			if (!bk_msg_name_valid(j->host))
				return bk_err_set(err, BK_ECONFIG, "%s: line %d: job '%s': invalid host name '%s'",
						  name, bk_ymap_get(jm, "host")->line, j->name, j->host);
		}
	}
	qsort(c->jobs, c->njobs, sizeof(*c->jobs), cmp_job);
	return 0;
}

/*
 * Section KEY (global, schedules, jobs) from the file that has it: the
 * included Python config INC (file INCNAME) or ROOT; *WHICH gets the file's
 * name.  NULL when neither has it; BK_ECONFIG in *R when both do.
 */
static const struct bk_ynode *section(const struct bk_ynode *root, const char *name,
				      const struct bk_ynode *inc, const char *incname,
				      const char *key, const char **which, int *r, struct bk_err *err)
{
	const struct bk_ynode *a = bk_ymap_get(root, key), *b = bk_ymap_get(inc, key);

	*which = b ? incname : name;
	if (a && b)
		*r = bk_err_set(err, BK_ECONFIG, "%s: line %d: '%s' is in the included '%s' as well: keep one",
				name, a->line, key, incname);
	return b ? b : a;
}

/* The host name of this machine, up to the first dot: the default of `hosts`. */
static int default_hosts(const char *name, struct co_config *c, struct bk_err *err)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0)
		return bk_err_sys(err, -errno, "%s: 'hosts' is not set and the host name is unknown", name);
	host[strcspn(host, ".")] = '\0';
	if (!bk_msg_name_valid(host))
		return bk_err_set(err, BK_ECONFIG,
				  "%s: 'hosts' is not set and this host's name '%s' is no valid host name: set 'hosts'",
				  name, host);
	c->hosts = bk_calloc(1, sizeof(*c->hosts));
	c->hosts[c->nhosts++] = bk_strdup(host);
	return 0;
}

static int parse_root(const struct bk_ynode *root, const char *name, const struct bk_ynode *inc,
		      const char *incname, struct co_config *c, struct bk_err *err)
{
	static const char *const keys[] = {"global", "schedules", "jobs", "amqp", "hosts",
					   "status", "state-file", "job-timeout", "expire", "scrub",
					   "include", NULL};
	static const char *const ikeys[] = {"global", "schedules", "jobs", NULL};
	const struct bk_ynode *n;
	const char *sname, *jname = name;
	int r;

	if (!root)
		return bk_err_set(err, BK_ECONFIG, "%s: empty configuration", name);
	r = need_map(root, name, "(top level)", err);
	if (r == 0)
		r = bk_ymap_check_keys(root, keys, name, "", err);
	if (r == 0 && inc)
		r = need_map(inc, incname, "(top level)", err);
	if (r == 0 && inc)
		r = bk_ymap_check_keys(inc, ikeys, incname, "", err);
	if (r < 0)
		return r;
	n = section(root, name, inc, incname, "global", &sname, &r, err);
	if (r == 0 && n && !bk_ynode_is_null(n))
		r = co_python_global(n, sname, c, err);
	if (r < 0)
		return r;
	n = section(root, name, inc, incname, "schedules", &sname, &r, err);
	if (r == 0)
		r = need_map(n, sname, "schedules", err);
	if (r < 0)
		return n ? r : bk_err_set(err, BK_ECONFIG, "%s: 'schedules' is required", sname);
	c->scheds = bk_calloc(n->n ? n->n : 1, sizeof(*c->scheds));
	for (size_t i = 0; i < n->n; i++) {
		struct co_sched *s = &c->scheds[c->nscheds];
		struct bk_err e = {0};

		s->name = bk_strdup(n->keys[i]);
		c->nscheds++;
		r = bk_schedule_from_yaml(n->items[i], sname, &s->s, &e);
		if (r < 0)
			return bk_err_set(err, BK_ECONFIG, "%s (schedule '%s', line %d)", e.msg, s->name,
					  n->items[i]->line);
		if (s->s.n == 0)
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule '%s' has no tags", sname,
					  n->items[i]->line, s->name);
	}
	n = bk_ymap_get(root, "hosts");
	if (n && !bk_ynode_is_null(n)) {
		if (n->type != BK_Y_SEQ)
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'hosts' must be a list", name,
					  n->line);
		c->hosts = bk_calloc(n->n ? n->n : 1, sizeof(*c->hosts));
		for (size_t i = 0; i < n->n; i++) {
			r = get_strdup(n->items[i], name, "hosts", &c->hosts[c->nhosts], err);
			if (r < 0)
				return r;
			c->nhosts++;
			if (!bk_msg_name_valid(c->hosts[i]))
				return bk_err_set(err, BK_ECONFIG, "%s: line %d: invalid host name '%s'",
						  name, n->items[i]->line, c->hosts[i]);
			for (size_t j = 0; j < i; j++)
				if (strcmp(c->hosts[j], c->hosts[i]) == 0)
					return bk_err_set(err, BK_ECONFIG, "%s: line %d: host '%s' is listed twice",
							  name, n->items[i]->line, c->hosts[i]);
		}
	}
	n = bk_ymap_get(root, "amqp");
	if (n && !bk_ynode_is_null(n)) {
		/* the one reader of `amqp:`, shared with backy-worker (proto/mq_yaml.h) */
		struct bk_amqp_settings as;

		r = bk_mq_config_from_yaml(n, name, &as, err);
		if (r == 0) {
			c->amqp_url = as.url;
			c->amqp_ca_cert = as.ca_cert;
			c->amqp_heartbeat = as.heartbeat_s;
			c->amqp_tls_verify = as.tls_verify;
			as.url = NULL;
			as.ca_cert = NULL;
		}
		bk_amqp_settings_release(&as);
		if (r < 0)
			return r;
	}
	r = parse_status(bk_ymap_get(root, "status"), name, c, err);
	if (r < 0)
		return r;
	n = bk_ymap_get(root, "state-file");
	if (n) {
		r = get_strdup(n, name, "state-file", &c->state_file, err);
		if (r < 0)
			return r;
	} else {
		c->state_file = bk_strdup(CO_DEFAULT_STATE_FILE);
	}
	n = bk_ymap_get(root, "job-timeout");
	if (n) {
		r = get_duration(n, name, "job-timeout", &c->job_timeout, err);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(root, "expire");
	if (n) {
		r = bk_ynode_bool(n, name, "expire", &c->expire, err);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(root, "scrub");
	if (n && !bk_ynode_is_null(n)) {
		r = parse_scrub(n, name, c, err);
		if (r < 0)
			return r;
	}
	n = section(root, name, inc, incname, "jobs", &jname, &r, err);
	if (r == 0 && n && !bk_ynode_is_null(n))
		r = parse_jobs(n, jname, c, err);
	if (r < 0)
		return r;
	if (!bk_ymap_get(root, "hosts")) {
		for (size_t i = 0; r == 0 && i < c->njobs; i++)
			if (!c->jobs[i].host && c->nhosts == 0)
				r = default_hosts(name, c, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->njobs; i++) {
		if (!c->jobs[i].host && c->nhosts == 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: job '%s' names no host and 'hosts' lists none for automatic placement",
					  jname, c->jobs[i].line, c->jobs[i].name);
		r = check_encodable(c, &c->jobs[i], jname, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The file `include:` of ROOT names, relative to the directory of NAME,
 * parsed into *INC (its name, owned, into *INCNAME); both NULL without one.
 */
/* "DIR/FILE" from the first DIRLEN bytes of NAME and FILE into OUT (sized by the caller). */
static void join_path(char *out, const char *name, size_t dirlen, const char *file)
{
	memcpy(out, name, dirlen);
	out[dirlen] = '/';
	memcpy(out + dirlen + 1, file, strlen(file) + 1);
}

static int load_include(const struct bk_ynode *root, const char *name, struct bk_ynode **inc,
			char **incname, struct bk_err *err)
{
	const struct bk_ynode *n = bk_ymap_get(root, "include");
	const char *slash = strrchr(name, '/');
	char *buf = NULL;
	size_t len = 0;
	int r;

	*inc = NULL;
	*incname = NULL;
	if (!n || bk_ynode_is_null(n))
		return 0;
	if (n->type != BK_Y_SCALAR || !n->str[0])
		return bk_err_set(err, BK_ECONFIG, "%s: line %d: 'include' must name a file", name,
				  n->line);
	if (n->str[0] == '/' || !slash) {
		*incname = bk_strdup(n->str);
	} else {
		*incname = bk_malloc((size_t)(slash - name) + strlen(n->str) + 2);
		join_path(*incname, name, (size_t)(slash - name), n->str);
	}
	r = bk_fs_read_all(AT_FDCWD, *incname, BK_YAML_MAX_BYTES, &buf, &len);
	if (r < 0)
		return bk_err_sys(err, r, "%s: line %d: unable to read the included '%s'", name, n->line,
				  *incname);
	r = bk_yaml_parse(buf, len, *incname, inc, err);
	free(buf);
	if (r == 0 && !*inc)
		r = bk_err_set(err, BK_ECONFIG, "%s: the included file is empty", *incname);
	return r;
}

int co_config_parse(const char *buf, size_t len, const char *name, struct co_config *c,
		    struct bk_err *err)
{
	struct bk_ynode *root = NULL, *inc = NULL;
	char *incname = NULL;
	int r;

	co_config_init(c);
	r = bk_yaml_parse(buf, len, name, &root, err);
	if (r < 0)
		return r;
	r = load_include(root, name, &inc, &incname, err);
	if (r == 0)
		r = parse_root(root, name, inc, incname, c, err);
	bk_ynode_free(root);
	bk_ynode_free(inc);
	free(incname);
	if (r < 0) {
		co_config_release(c);
		return r < 0 && r != BK_ECONFIG ? r : BK_ECONFIG;
	}
	c->path = bk_strdup(name);
	return 0;
}

int co_config_load(const char *path, struct co_config *c, struct bk_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	co_config_init(c);
	r = bk_fs_read_all(AT_FDCWD, path, BK_YAML_MAX_BYTES, &buf, &len);
	if (r < 0)
		return bk_err_sys(err, r, "unable to read '%s'", path);
	r = co_config_parse(buf, len, path, c, err);
	free(buf);
	return r;
}

const struct co_jobcfg *co_config_job(const struct co_config *c, const char *name)
{
	size_t lo = 0, hi = c->njobs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->jobs[mid].name, name);

		if (d == 0)
			return &c->jobs[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
