/*
 * worker_config.c: load and validate backy-worker's config file (see
 * worker_config.h); the `amqp:` block is read by proto/mq_yaml.c, the
 * `allow:` and `retention:` blocks by fleet_policy.c.
 */
#include "worker_config.h"

#include "buf.h"
#include "fs.h"
#include "proto.h"
#include "schedule.h"
#include "ydoc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONFIG_BYTES (64 * 1024)

void bk_fleet_config_release(struct bk_fleet_config *cfg)
{
	free(cfg->host);
	free(cfg->base_dir);
	free(cfg->state_dir);
	free(cfg->backy);
	bk_amqp_settings_release(&cfg->amqp);
	free(cfg->ceph_conf);
	free(cfg->ceph_id);
	free(cfg->consul_url);
	free(cfg->consul_token);
	bk_fleet_policy_release(&cfg->policy);
	memset(cfg, 0, sizeof(*cfg));
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

	r = bk_ymap_str(root, "host", name, "host", &cfg->host, err);
	if (r < 0)
		return r;
	if (!cfg->host)
		return bk_err_set(err, BK_ECONFIG, "%s: 'host' is required", name);
	if (!bk_msg_name_valid(cfg->host))
		return bk_err_set(err, BK_ECONFIG,
				  "%s: line %d: 'host' must be 1 to 64 characters from [A-Za-z0-9._-], not starting with '.' or '-': '%s'",
				  name, bk_ymap_get(root, "host")->line, cfg->host);

	r = bk_ymap_str(root, "base-dir", name, "base-dir", &dir, err);
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
	r = bk_mq_config_from_yaml(amqp, name, &cfg->amqp, err);
	if (r == 0 && !cfg->amqp.url)
		r = bk_err_set(err, BK_ECONFIG, "%s: line %d: 'amqp.url' is required", name,
			       amqp->line);
	if (r < 0)
		return r;
	n = bk_ymap_get(root, "simulated-time");
	cfg->simulated_time = false;
	if (!bk_ynode_is_null(n)) {
		r = bk_ynode_bool(n, name, "simulated-time", &cfg->simulated_time, err);
		if (r < 0)
			return r;
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

	r = bk_ymap_str(root, "state-dir", name, "state-dir", &cfg->state_dir, err);
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
	r = bk_ymap_str(root, "backy", name, "backy", &cfg->backy, err);
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
			r = bk_ymap_str(n, "conf", name, "ceph.conf", &cfg->ceph_conf, err);
		if (r == 0)
			r = bk_ymap_str(n, "id", name, "ceph.id", &cfg->ceph_id, err);
		if (r < 0)
			return r;
	}
	n = bk_ymap_get(root, "consul");
	if (!bk_ynode_is_null(n)) {
		r = bk_ymap_check_keys(n, consul_keys, name, "consul", err);
		if (r == 0)
			r = bk_ymap_str(n, "url", name, "consul.url", &cfg->consul_url, err);
		if (r == 0)
			r = bk_ymap_str(n, "token", name, "consul.token", &cfg->consul_token, err);
		if (r < 0)
			return r;
	}
	return bk_fleet_policy_parse(bk_ymap_get(root, "allow"), bk_ymap_get(root, "retention"),
				     name, &cfg->policy, err);
}

int bk_fleet_config_parse(const char *text, size_t len, const char *name,
			  struct bk_fleet_config *cfg, struct bk_err *err)
{
	struct bk_ynode *root = NULL;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	bk_amqp_settings_init(&cfg->amqp);
	bk_fleet_policy_init(&cfg->policy);
	r = bk_yaml_parse(text, len, name, &root, err);
	if (r == 0)
		r = parse_config(root, name, cfg, err);
	if (r < 0)
		bk_fleet_config_release(cfg);
	bk_ynode_free(root);
	return r;
}

int bk_fleet_config_load(const char *path, struct bk_fleet_config *cfg, struct bk_err *err)
{
	char *text = NULL;
	size_t len;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	r = bk_fs_read_all(AT_FDCWD, path, MAX_CONFIG_BYTES, &text, &len);
	if (r < 0)
		return bk_err_sys(err, r == -EFBIG ? BK_ECONFIG : r, "unable to read '%s'", path);
	r = bk_fleet_config_parse(text, len, path, cfg, err);
	free(text);
	return r;
}
