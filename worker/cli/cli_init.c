/* cli_init.c: `backy init`, creating a repository or replacing its source (backy(1)). */
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "manifest.h"
#include "schedule.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copy LEN bytes of ARG at S into OUT (BK_NAME_MAX + 1 bytes) when they are a valid WHAT. */
static int take_name(struct cli *c, const char *arg, const char *s, size_t len, const char *what,
		     bool (*valid)(const char *), char *out)
{
	char *name = bk_strndup(s, len);
	bool ok = valid(name);

	if (ok)
		snprintf(out, BK_NAME_MAX + 1, "%s", name);
	free(name);
	if (!ok)
		return bk_err_set(&c->err, BK_EUSAGE,
				  "invalid source '%s': the %s is not a valid name (1 to %d characters from [A-Za-z0-9._-]%s)",
				  arg, what, BK_NAME_MAX,
				  valid == bk_name_valid ? ", starting with a letter or digit"
							 : ", starting with a letter, a digit or '.'");
	return 0;
}

/*
 * PATH (absolute, owned, consumed) without "." or ".." components, which the
 * source model refuses: its directory resolved by the kernel's rules, its
 * last component kept as it is (a symlink such as /dev/vg/vm01 stays one).
 * Unchanged when there are none or the directory does not resolve.
 */
static char *absolute_path(char *path)
{
	char dir[PATH_MAX];
	char *slash = strrchr(path, '/');
	char *out;
	size_t size;

	if (bk_source_path_valid(path) || !slash || slash == path ||
	    !strcmp(slash, "/.") || !strcmp(slash, "/.."))
		return path;
	*slash = '\0';
	if (!realpath(path, dir)) {
		*slash = '/';
		return path;
	}
	size = strlen(dir) + strlen(slash + 1) + 2;
	out = bk_calloc(size, 1);
	snprintf(out, size, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", slash + 1);
	free(path);
	return out;
}

/*
 * Fill SRC (the model, and the Consul token of a flyingcircus source) from
 * "file PATH", "rbd POOL/IMAGE" or "flyingcircus POOL/IMAGE,VM[,TOKEN]".
 */
static int init_source(struct cli *c, const char *type, const char *arg,
		       struct bk_source_config *src)
{
	struct bk_source_spec *spec = &src->spec;
	char cwd[PATH_MAX];
	const char *slash, *comma, *token = NULL;
	struct bk_buf b;
	struct stat st;
	int r;

	if (bk_source_type_parse(type, &spec->type) < 0)
		return bk_err_set(&c->err, BK_EUSAGE,
				  "unknown source type '%s' (expected file, rbd, ceph-rbd or flyingcircus)",
				  type);
	if (spec->type == BK_SOURCE_FILE) {
		bk_buf_init(&b);
		if (arg[0] != '/' && getcwd(cwd, sizeof(cwd)))
			bk_buf_addf(&b, "%s/", cwd);
		bk_buf_adds(&b, arg);
		spec->filename = absolute_path(b.p);
		if (stat(spec->filename, &st) == 0 && S_ISDIR(st.st_mode))
			return bk_err_set(&c->err, BK_EUSAGE, "source '%s' is a directory", arg);
		if (stat(spec->filename, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return bk_err_set(&c->err, BK_EUSAGE,
					  "source '%s' is a special file, not an image file or block device",
					  arg);
		return 0;
	}
	slash = strchr(arg, '/');
	comma = strchr(arg, ',');
	if (!slash || (comma && comma < slash) ||
	    (spec->type == BK_SOURCE_FLYINGCIRCUS) != (comma != NULL))
		return bk_err_set(&c->err, BK_EUSAGE, "invalid source '%s': expected %s", arg,
				  spec->type == BK_SOURCE_RBD ? "POOL/IMAGE" : "POOL/IMAGE,VM[,TOKEN]");
	if (comma)
		token = strchr(comma + 1, ',');
	r = take_name(c, arg, arg, (size_t)(slash - arg), "pool", bk_ceph_name_valid, spec->pool);
	if (r == 0)
		r = take_name(c, arg, slash + 1, comma ? (size_t)(comma - slash - 1) : strlen(slash + 1),
			      "image", bk_ceph_name_valid, spec->image);
	if (r == 0 && comma)
		r = take_name(c, arg, comma + 1,
			      token ? (size_t)(token - comma - 1) : strlen(comma + 1), "vm",
			      bk_name_valid, spec->vm);
	if (r == 0 && token)
		src->consul_token = bk_strdup(token + 1);
	return r;
}

/*
 * `init --replace`: give the existing repository the source of CFG (and its
 * schedule if NEW_SCHEDULE, else the current one), keeping its revisions,
 * creation and adoption times, block size and the retention its tags had.  The one way to
 * change a repository's source: backy-worker refuses jobs that try (its
 * design notes).  The next backup compares with the newest revision, so
 * it writes what differs from the old source.
 */
static int replace_source(struct cli *c, struct bk_repo_config *cfg, bool new_schedule)
{
	struct bk_repo repo;
	char old[sizeof(repo.cfg.source.desc)];
	int r = cli_open_repo(c, &repo, true);

	if (r < 0)
		return r;
	snprintf(old, sizeof(old), "%s", bk_source_describe(&repo.cfg.source));
	cfg->created = repo.cfg.created;
	cfg->adopted = repo.cfg.adopted;
	cfg->block_size = repo.cfg.block_size;
	if (!new_schedule) {
		bk_schedule_release(&cfg->schedule);
		cfg->schedule = repo.cfg.schedule; /* taken over */
		memset(&repo.cfg.schedule, 0, sizeof(repo.cfg.schedule));
	}
	bk_repo_config_merge_retention(cfg, &repo.cfg);
	r = bk_repo_save_config(&repo, cfg, &c->err);
	if (r == 0)
		bk_notice("source of '%s' replaced: '%s' -> '%s' (%zu revision%s kept)", repo.name,
			  old, bk_source_describe(&cfg->source), repo.n, repo.n == 1 ? "" : "s");
	bk_repo_close(&repo);
	return r;
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"usage: backy init [--replace] {file PATH | rbd POOL/IMAGE | flyingcircus POOL/IMAGE,VM[,TOKEN]}\n"
		"       [--schedule SPEC] [--block-size BYTES] [--ceph-conf FILE] [--ceph-id NAME]\n"
		"       [--consul-url URL]";
	static const struct option longopts[] = {{"schedule", required_argument, NULL, 's'},
						 {"block-size", required_argument, NULL, 'B'},
						 {"ceph-conf", required_argument, NULL, 'C'},
						 {"ceph-id", required_argument, NULL, 'I'},
						 {"consul-url", required_argument, NULL, 'U'},
						 {"replace", no_argument, NULL, 'R'},
						 {NULL, 0, NULL, 0}};
	struct bk_repo_config cfg = {0};
	const char *spec = NULL, *conf = NULL, *id = NULL, *url = NULL;
	bool replace = false, block_size = false;
	unsigned long long bs = BK_DEFAULT_BLOCK_SIZE;
	char *end;
	int opt, r;

	while ((opt = cli_sub_opt(argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case 's':
			spec = optarg;
			break;
		case 'B':
			errno = 0;
			bs = strtoull(optarg, &end, 10);
			if (errno || *end || bk_manifest_check_block_size(bs) < 0)
				return cli_usage_error("invalid block size '%s': a power of two from 4096 to 4194304",
						   optarg);
			block_size = true;
			break;
		case 'C':
			conf = optarg;
			break;
		case 'I':
			id = optarg;
			break;
		case 'U':
			url = optarg;
			break;
		case 'R':
			replace = true;
			break;
		default:
			return cli_usage_error("%s", usage);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("%s", usage);
	bk_source_config_init(&cfg.source);
	r = init_source(c, argv[optind], argv[optind + 1], &cfg.source);
	if (r == 0 && cfg.source.spec.type == BK_SOURCE_FILE && (conf || id || url))
		r = bk_err_set(&c->err, BK_EUSAGE, "--ceph-conf, --ceph-id and --consul-url need an rbd source");
	if (r == 0 && url && cfg.source.spec.type != BK_SOURCE_FLYINGCIRCUS)
		r = bk_err_set(&c->err, BK_EUSAGE, "--consul-url needs a flyingcircus source");
	if (r == 0) {
		cfg.source.ceph_conf = conf ? bk_strdup(conf) : NULL;
		cfg.source.ceph_id = id ? bk_strdup(id) : NULL;
		cfg.source.consul_url = url ? bk_strdup(url) : NULL;
		r = bk_schedule_parse_spec(spec ? spec : BK_DEFAULT_SCHEDULE, &cfg.schedule, &c->err);
	}
	cfg.block_size = (uint32_t)bs;
	cfg.created = bk_now();
	if (r == 0) {
		/* validate a copy: the defaults it fills (consul_url) stay out of the file */
		struct bk_source_config check;

		bk_source_config_copy(&check, &cfg.source);
		r = bk_source_config_check(&check, "source", &c->err);
		snprintf(cfg.source.desc, sizeof(cfg.source.desc), "%s", check.desc);
		bk_source_config_release(&check);
	}
	if (r == 0 && replace && block_size)
		r = bk_err_set(&c->err, BK_EUSAGE,
			       "--block-size cannot change with --replace: the revisions have theirs");
	if (r == 0 && replace)
		r = replace_source(c, &cfg, spec != NULL);
	else if (r == 0)
		r = bk_repo_init(c->dir, &cfg, &c->err);
	if (r == 0 && cfg.source.spec.type == BK_SOURCE_FILE &&
	    access(cfg.source.spec.filename, R_OK) != 0)
		bk_warn("source '%s' is not readable yet", argv[optind + 1]);
	bk_repo_config_release(&cfg);
	return r < 0 ? cli_fail(c, r) : 0;
}

