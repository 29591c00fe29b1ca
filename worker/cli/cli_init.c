/* cli_init.c: `backy init`, creating a repository or replacing its source (backy(1)). */
#include "cli.h"
#include "clock.h"
#include "log.h"
#include "manifest.h"
#include "schedule.h"
#include "ydoc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fill CFG->source from "file PATH", "rbd POOL/IMAGE" or "flyingcircus POOL/IMAGE,VM[,TOKEN]". */
static int init_source(struct cli *c, const char *type, const char *arg,
		       struct bk_source_config *src)
{
	char cwd[PATH_MAX];
	const char *slash, *comma;
	struct bk_buf b;
	struct stat st;

	if (strcmp(type, "file") == 0) {
		src->type = BK_SOURCE_FILE;
		bk_buf_init(&b);
		if (arg[0] != '/' && getcwd(cwd, sizeof(cwd)))
			bk_buf_addf(&b, "%s/", cwd);
		bk_buf_adds(&b, arg);
		src->filename = b.p;
		if (stat(src->filename, &st) == 0 && S_ISDIR(st.st_mode))
			return bk_err_set(&c->err, BK_EUSAGE, "source '%s' is a directory", arg);
		if (stat(src->filename, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return bk_err_set(&c->err, BK_EUSAGE,
					  "source '%s' is a special file, not an image file or block device",
					  arg);
		return 0;
	}
	if (strcmp(type, "rbd") == 0 || strcmp(type, "ceph-rbd") == 0)
		src->type = BK_SOURCE_RBD;
	else if (strcmp(type, "flyingcircus") == 0)
		src->type = BK_SOURCE_FLYINGCIRCUS;
	else
		return bk_err_set(&c->err, BK_EUSAGE,
				  "unknown source type '%s' (expected file, rbd, ceph-rbd or flyingcircus)",
				  type);
	slash = strchr(arg, '/');
	comma = strchr(arg, ',');
	if (!slash || (comma && comma < slash) ||
	    (src->type == BK_SOURCE_FLYINGCIRCUS) != (comma != NULL))
		return bk_err_set(&c->err, BK_EUSAGE, "invalid source '%s': expected %s", arg,
				  src->type == BK_SOURCE_RBD ? "POOL/IMAGE" : "POOL/IMAGE,VM[,TOKEN]");
	src->pool = bk_strndup(arg, (size_t)(slash - arg));
	src->image = comma ? bk_strndup(slash + 1, (size_t)(comma - slash - 1)) : bk_strdup(slash + 1);
	if (comma) {
		const char *token = strchr(comma + 1, ',');

		src->vm = token ? bk_strndup(comma + 1, (size_t)(token - comma - 1)) : bk_strdup(comma + 1);
		if (token)
			src->consul_token = bk_strdup(token + 1);
	}
	return 0;
}

/*
 * `init --replace`: give the existing repository the source of CFG (and its
 * schedule if NEW_SCHEDULE, else the current one), keeping its revisions,
 * creation time, block size and the retention its tags had.  The one way to
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
	struct bk_ynode *root = NULL;
	struct bk_buf text;
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
	if (r == 0 && cfg.source.type == BK_SOURCE_FILE && (conf || id || url))
		r = bk_err_set(&c->err, BK_EUSAGE, "--ceph-conf, --ceph-id and --consul-url need an rbd source");
	if (r == 0 && url && cfg.source.type != BK_SOURCE_FLYINGCIRCUS)
		r = bk_err_set(&c->err, BK_EUSAGE, "--consul-url needs a flyingcircus source");
	if (r == 0) {
		cfg.source.ceph_conf = conf ? bk_strdup(conf) : NULL;
		cfg.source.ceph_id = id ? bk_strdup(id) : NULL;
		cfg.source.consul_url = url ? bk_strdup(url) : NULL;
		r = bk_schedule_parse_spec(spec ? spec : BK_DEFAULT_SCHEDULE, &cfg.schedule, &c->err);
	}
	cfg.block_size = (uint32_t)bs;
	cfg.created = bk_now();
	bk_buf_init(&text);
	if (r == 0) {
		/* validate through the parser the repository will use */
		struct bk_repo_config check;

		bk_source_config_format(&cfg.source, &text);
		r = bk_yaml_parse(text.p, text.len, "source", &root, &c->err);
		if (r == 0)
			r = bk_source_config_parse(bk_ymap_get(root, "source"), "source", &check.source,
						   &c->err);
		if (r == 0)
			bk_source_config_release(&check.source);
	}
	if (r == 0 && replace && block_size)
		r = bk_err_set(&c->err, BK_EUSAGE,
			       "--block-size cannot change with --replace: the revisions have theirs");
	if (r == 0 && replace)
		r = replace_source(c, &cfg, spec != NULL);
	else if (r == 0)
		r = bk_repo_init(c->dir, &cfg, &c->err);
	if (r == 0 && cfg.source.type == BK_SOURCE_FILE && access(cfg.source.filename, R_OK) != 0)
		bk_warn("source '%s' is not readable yet", argv[optind + 1]);
	bk_ynode_free(root);
	bk_buf_release(&text);
	bk_repo_config_release(&cfg);
	return r < 0 ? cli_fail(c, r) : 0;
}

