/* config.c: parse and validate the coordinator's central YAML config (see config.h). */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "fs.h"
#include "mq_yaml.h"
#include "ydoc.h"

void co_config_init(struct co_config *c)
{
	memset(c, 0, sizeof(*c));
	c->job_timeout = CO_DEFAULT_JOB_TIMEOUT;
	c->expire = true;
	c->amqp_tls_verify = true;
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

int co_listen_parse(const char *s, char *host, size_t size, unsigned *port, struct bk_err *err)
{
	const char *colon = strrchr(s, ':');
	char addr[64];
	size_t alen;
	char *end = NULL;
	unsigned long p;
	struct in_addr a4;
	struct in6_addr a6;

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
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) != 127)
			return bk_err_set(err, BK_ECONFIG,
					  "listen address '%s' is not a loopback address: the status endpoint has no authentication, put a proxy in front of it",
					  addr);
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6))
			return bk_err_set(err, BK_ECONFIG,
					  "listen address '%s' is not a loopback address: the status endpoint has no authentication, put a proxy in front of it",
					  addr);
	} else {
		return bk_err_set(err, BK_ECONFIG, "invalid listen address '%s': expected a numeric loopback address", addr);
	}
	snprintf(host, size, "%s", addr);
	*port = (unsigned)p;
	return 0;
}

/* Keys of a `source:` map outside the model: secrets and worker-local settings are refused. */
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

	(void)type;
	for (size_t j = 0; secret[j]; j++)
		if (strcmp(key, secret[j]) == 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: job '%s': secrets do not belong in the central config (they would travel in job messages): move 'source.%s' to the worker's local config on the storage host",
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

static int parse_root(const struct bk_ynode *root, const char *name, struct co_config *c,
		      struct bk_err *err)
{
	static const char *const keys[] = {"global", "schedules", "jobs", "amqp", "hosts",
					   "status", "state-file", "job-timeout", "expire", NULL};
	static const char *const gkeys[] = {"base-dir", "worker-limit", NULL};
	static const char *const skeys[] = {"listen", NULL};
	const struct bk_ynode *n;
	int r;

	if (!root)
		return bk_err_set(err, BK_ECONFIG, "%s: empty configuration", name);
	r = need_map(root, name, "(top level)", err);
	if (r == 0)
		r = bk_ymap_check_keys(root, keys, name, "", err);
	if (r < 0)
		return r;
	n = bk_ymap_get(root, "global");
	if (n && !bk_ynode_is_null(n)) {
		r = need_map(n, name, "global", err);
		if (r == 0)
			r = bk_ymap_check_keys(n, gkeys, name, "global", err);
		if (r == 0 && bk_ymap_get(n, "base-dir"))
			r = get_strdup(bk_ymap_get(n, "base-dir"), name, "global.base-dir", &c->base_dir,
				       err);
		if (r == 0 && bk_ymap_get(n, "worker-limit"))
			r = bk_ynode_u64(bk_ymap_get(n, "worker-limit"), name, "global.worker-limit",
					 &c->worker_limit, err);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(root, "schedules");
	r = need_map(n, name, "schedules", err);
	if (r < 0)
		return n ? r : bk_err_set(err, BK_ECONFIG, "%s: 'schedules' is required", name);
	c->scheds = bk_calloc(n->n ? n->n : 1, sizeof(*c->scheds));
	for (size_t i = 0; i < n->n; i++) {
		struct co_sched *s = &c->scheds[c->nscheds];
		struct bk_err e = {0};

		s->name = bk_strdup(n->keys[i]);
		c->nscheds++;
		r = bk_schedule_from_yaml(n->items[i], name, &s->s, &e);
		if (r < 0)
			return bk_err_set(err, BK_ECONFIG, "%s (schedule '%s', line %d)", e.msg, s->name,
					  n->items[i]->line);
		if (s->s.n == 0)
			return bk_err_set(err, BK_ECONFIG, "%s: line %d: schedule '%s' has no tags", name,
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
	n = bk_ymap_get(root, "status");
	if (n && !bk_ynode_is_null(n)) {
		const char *s;

		r = need_map(n, name, "status", err);
		if (r == 0)
			r = bk_ymap_check_keys(n, skeys, name, "status", err);
		if (r == 0 && bk_ymap_get(n, "listen")) {
			struct bk_err e = {0};

			r = bk_ynode_str(bk_ymap_get(n, "listen"), name, "status.listen", &s, err);
			if (r == 0 &&
			    co_listen_parse(s, c->listen_host, sizeof(c->listen_host), &c->listen_port,
					    &e) < 0)
				r = bk_err_set(err, BK_ECONFIG, "%s: line %d: %s", name,
					       bk_ymap_get(n, "listen")->line, e.msg);
		}
		if (r < 0)
			return r;
	}
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
	n = bk_ymap_get(root, "jobs");
	if (n && !bk_ynode_is_null(n)) {
		r = parse_jobs(n, name, c, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->njobs; i++) {
		if (!c->jobs[i].host && c->nhosts == 0)
			return bk_err_set(err, BK_ECONFIG,
					  "%s: line %d: job '%s' names no host and 'hosts' lists none for automatic placement",
					  name, c->jobs[i].line, c->jobs[i].name);
		r = check_encodable(c, &c->jobs[i], name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int co_config_parse(const char *buf, size_t len, const char *name, struct co_config *c,
		    struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	int r;

	co_config_init(c);
	r = bk_yaml_parse(buf, len, name, &root, err);
	if (r < 0)
		return r;
	r = parse_root(root, name, c, err);
	bk_ynode_free(root);
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
