/*
 * backy.c: the `backy` command line, one repository at a time.
 *
 * Each command parses its options and calls into the store and engine;
 * errors are printed once, here.  Exit codes: 0 success, 1 error; `check`
 * uses the Nagios codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 */
#include "clock.h"
#include "engine.h"
#include "log.h"
#include "manifest.h"
#include "revspec.h"
#include "schedule.h"
#include "store.h"
#include "ydoc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: backy [-v] [-b DIR] [-l LOGFILE] COMMAND [ARGS]\n"
	"\n"
	"Block-based backup of one disk image into the repository DIR (default: .).\n"
	"\n"
	"commands:\n"
	"  init file PATH | rbd POOL/IMAGE | flyingcircus POOL/IMAGE,VM[,TOKEN]\n"
	"       [--schedule SPEC] [--block-size BYTES] [--ceph-conf FILE] [--ceph-id NAME]\n"
	"       [--consul-url URL]\n"
	"                          create DIR/config for an image file or block device,\n"
	"                          a Ceph RBD image, or an RBD image whose guest is frozen\n"
	"                          through Consul before the snapshot\n"
	"  backup [-f] [TAGS]      back up now with TAGS (comma separated), or without TAGS\n"
	"                          run what the schedule says is due (then expire)\n"
	"  status [--json]         list revisions and a summary\n"
	"  restore [-r SPEC] TARGET\n"
	"                          write a revision to a file, block device, - (stdout)\n"
	"                          or rbd:POOL/IMAGE\n"
	"  find [-r SPEC]          print the image path of each matching revision\n"
	"  forget -r SPEC          delete the matching revisions\n"
	"  tags {set,add,remove} [-f] [-r SPEC] TAGS\n"
	"                          change the tags of revisions\n"
	"  expire [--dry-run]      apply the schedule's retention\n"
	"  verify [-r SPEC]        re-read revisions and compare them with their checksums\n"
	"  distrust [-r SPEC]      mark revisions as not to be trusted\n"
	"  check                   Nagios check of the SLA (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)\n"
	"\n"
	"options:\n"
	"  -b, --backupdir DIR     repository directory (default: .)\n"
	"  -l, --logfile FILE      log file (default: DIR/backy.log)\n"
	"  -v, --verbose           more output (repeat for debug output)\n"
	"      --result FILE       write the outcome as JSON to FILE (for backy-worker)\n"
	"  -h, --help              this help; --version prints the version\n"
	"\n"
	"SPEC selects revisions: an id, N (N-th newest, 0 = newest), latest, all,\n"
	"tag:NAME, trust:STATE, clean, A..B ranges (ids or dates), ',' union, '&'\n"
	"intersection, first(...), last(...), not(...).  Default: latest.\n"
	"Schedule SPEC: NAME=INTERVAL:KEEP,... (default " BK_DEFAULT_SCHEDULE ").\n"
	"BACKY_NOW=ISO-TIME overrides the current time.  See backy(1).\n";

struct cli {
	const char *dir;
	const char *logfile;
	const char *result_path; /* --result: where to write the outcome as JSON */
	json_t *result;          /* what commands report there; NULL without --result */
	int verbose;
	bool tty; /* stderr is a terminal: show progress */
	struct bk_err err;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("backy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'backy --help' for more information.\n", stderr);
	return 1;
}

/* Print the recorded error once and return exit code 1. */
static int fail(struct cli *c, int code)
{
	bk_error("%s", bk_err_msg(&c->err, code));
	return 1;
}

/* Open the repository and start its log. */
static int open_repo(struct cli *c, struct bk_repo *repo, bool writer)
{
	char path[PATH_MAX];
	int r;

	r = bk_repo_open(repo, c->dir, &c->err);
	if (r < 0)
		return r;
	if (writer || c->logfile) {
		if (c->logfile)
			snprintf(path, sizeof(path), "%s", c->logfile);
		else
			snprintf(path, sizeof(path), "%s/backy.log", c->dir);
		if (bk_log_open(path) < 0)
			bk_warn("unable to open log file '%s'", path);
	}
	if (!writer)
		return 0;
	r = bk_repo_lock(repo, &c->err);
	if (r < 0)
		return r;
	/* what we loaded before the lock may be stale */
	return bk_repo_load(repo, &c->err);
}

/* Parse the options of a subcommand.  Returns the option or -1; '?' on errors. */
static int sub_opt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

/* Parse a command whose only option is the flag --NAME and which takes no arguments. */
static int flag_opt(int argc, char **argv, const char *name, bool *flag)
{
	const struct option longopts[] = {{name, no_argument, NULL, 'F'}, {NULL, 0, NULL, 0}};
	int opt;

	*flag = false;
	while ((opt = sub_opt(argc, argv, "", longopts)) != -1) {
		if (opt != 'F')
			return -1;
		*flag = true;
	}
	return argc == optind ? 0 : -1;
}

/* Evaluate SPEC into a freshly allocated match array; requires at least one match. */
static int select_revs(struct cli *c, const struct bk_repo *repo, const char *spec, bool **match)
{
	bool any = false;
	int r;

	*match = bk_calloc(repo->n ? repo->n : 1, sizeof(**match));
	r = bk_revspec_eval(spec, repo->revs, repo->n, *match, &c->err);
	for (size_t i = 0; r == 0 && i < repo->n; i++)
		any |= (*match)[i];
	if (r == 0 && !any)
		r = bk_err_set(&c->err, BK_ENOREV, "no revision matches '%s'", spec);
	if (r < 0) {
		free(*match);
		*match = NULL;
	}
	return r;
}

/* --- init ---------------------------------------------------------------- */

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

static int cmd_init(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"usage: backy init {file PATH | rbd POOL/IMAGE | flyingcircus POOL/IMAGE,VM[,TOKEN]}\n"
		"       [--schedule SPEC] [--block-size BYTES] [--ceph-conf FILE] [--ceph-id NAME]\n"
		"       [--consul-url URL]";
	static const struct option longopts[] = {{"schedule", required_argument, NULL, 's'},
						 {"block-size", required_argument, NULL, 'B'},
						 {"ceph-conf", required_argument, NULL, 'C'},
						 {"ceph-id", required_argument, NULL, 'I'},
						 {"consul-url", required_argument, NULL, 'U'},
						 {NULL, 0, NULL, 0}};
	struct bk_repo_config cfg = {0};
	const char *spec = BK_DEFAULT_SCHEDULE, *conf = NULL, *id = NULL, *url = NULL;
	struct bk_ynode *root = NULL;
	struct bk_buf text;
	unsigned long long bs = BK_DEFAULT_BLOCK_SIZE;
	char *end;
	int opt, r;

	while ((opt = sub_opt(argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case 's':
			spec = optarg;
			break;
		case 'B':
			errno = 0;
			bs = strtoull(optarg, &end, 10);
			if (errno || *end || bk_manifest_check_block_size(bs) < 0)
				return usage_error("invalid block size '%s': a power of two from 4096 to 4194304",
						   optarg);
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
		default:
			return usage_error("%s", usage);
		}
	}
	if (argc - optind != 2)
		return usage_error("%s", usage);
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
		r = bk_schedule_parse_spec(spec, &cfg.schedule, &c->err);
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
	if (r == 0)
		r = bk_repo_init(c->dir, &cfg, &c->err);
	if (r == 0 && cfg.source.type == BK_SOURCE_FILE && access(cfg.source.filename, R_OK) != 0)
		bk_warn("source '%s' is not readable yet", argv[optind + 1]);
	bk_ynode_free(root);
	bk_buf_release(&text);
	bk_repo_config_release(&cfg);
	return r < 0 ? fail(c, r) : 0;
}

/* --- backup and expire --------------------------------------------------- */

/* Apply expiry; with DRY_RUN only print what would happen. */
static int do_expire(struct cli *c, struct bk_repo *repo, bool dry_run)
{
	size_t n = repo->n;
	struct bk_strv *newtags = bk_calloc(n ? n : 1, sizeof(*newtags));
	bool *remove = bk_calloc(n ? n : 1, sizeof(*remove));
	struct bk_buf a, b;
	int r = 0;

	bk_buf_init(&a);
	bk_buf_init(&b);
	bk_expire(&repo->cfg.schedule, repo->revs, n, bk_now(), newtags, remove);
	/* newest first, so removals never shift an index still to be visited */
	for (size_t i = n; r == 0 && i-- > 0;) {
		struct bk_rev *rev = &repo->revs[i];

		bk_buf_reset(&a);
		bk_buf_reset(&b);
		bk_strv_join(&rev->tags, ",", &a);
		bk_strv_join(&newtags[i], ",", &b);
		if (remove[i]) {
			if (dry_run)
				printf("would remove revision %s (tags: %s)\n", rev->id, a.p);
			else
				bk_info("expire: removing revision %s (tags: %s)", rev->id, a.p);
			if (!dry_run)
				r = bk_repo_remove_rev(repo, i, &c->err);
		} else if (!bk_strv_equal(&rev->tags, &newtags[i])) {
			if (dry_run)
				printf("would retag revision %s: %s -> %s\n", rev->id, a.p, b.p);
			else
				bk_info("expire: retagging revision %s: %s -> %s", rev->id, a.p, b.p);
			if (!dry_run) {
				bk_strv_copy(&rev->tags, &newtags[i]);
				r = bk_repo_save_rev(repo, rev, &c->err);
			}
		}
	}
	if (r == 0 && !dry_run)
		r = bk_repo_update_latest(repo, &c->err);
	for (size_t i = 0; i < n; i++)
		bk_strv_release(&newtags[i]);
	free(newtags);
	free(remove);
	bk_buf_release(&a);
	bk_buf_release(&b);
	return r;
}

static int cmd_backup(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"force", no_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	struct bk_strv tags = BK_STRV_INIT;
	struct bk_backup_stats st;
	struct bk_repo repo;
	bool force = false, scheduled;
	struct bk_buf list;
	int opt, r;

	while ((opt = sub_opt(argc, argv, "f", longopts)) != -1) {
		if (opt != 'f')
			return usage_error("%s", "usage: backy backup [-f] [TAGS]");
		force = true;
	}
	if (argc - optind > 1)
		return usage_error("%s", "usage: backy backup [-f] [TAGS]");
	scheduled = argc == optind;
	r = open_repo(c, &repo, true);
	if (r < 0)
		return fail(c, r);
	if (!scheduled) {
		bk_strv_split(&tags, argv[optind]);
		if (!tags.n)
			r = bk_err_set(&c->err, BK_ETAG, "no tags given");
		for (size_t i = 0; r == 0 && i < tags.n; i++)
			r = bk_repo_check_tag(&repo, tags.v[i], force, &c->err);
	} else {
		bk_sched_due(&repo.cfg.schedule, bk_schedule_spread(repo.name, &repo.cfg.schedule),
			     repo.revs, repo.n, repo.cfg.created, bk_now(), &tags);
		if (!tags.n) {
			bk_debug("nothing is due");
			if (c->result)
				json_object_set_new(c->result, "outcome", json_string("skipped"));
			goto out;
		}
	}
	if (r < 0)
		goto out;
	bk_buf_init(&list);
	bk_strv_join(&tags, ",", &list);
	bk_info("backup of '%s' started (tags: %s)", repo.name, list.p);
	r = bk_backup(&repo, &tags, c->tty, &st, &c->err);
	if (r == 0) {
		char size[32], written[32];
		char line[512];

		bk_size_format(st.size, size, sizeof(size));
		bk_size_format(st.bytes_written, written, sizeof(written));
		snprintf(line, sizeof(line), "backup %s of '%s' done: %s, %s written (%s), %.1fs, tags %s",
			 st.id, repo.name, size, written, st.full ? "full" : "incremental",
			 st.duration, list.p);
		if (c->tty)
			bk_notice("%s", line);
		else
			bk_info("%s", line);
		if (c->result) {
			json_t *jt = json_array();

			for (size_t i = 0; i < tags.n; i++)
				json_array_append_new(jt, json_string(tags.v[i]));
			json_object_set_new(c->result, "revision", json_string(st.id));
			json_object_set_new(c->result, "tags", jt);
			json_object_set_new(c->result, "stats",
					    json_pack("{s:I, s:I, s:f, s:b}", "bytes_written",
						      (json_int_t)st.bytes_written, "size",
						      (json_int_t)st.size, "duration", st.duration,
						      "full", st.full));
		}
		if (scheduled)
			r = do_expire(c, &repo, false);
		if (r == 0 && st.verify_checked < st.verify_planned)
			r = bk_err_set(&c->err, BK_EVERIFY,
				       "backup %s is committed but only partially verified: %llu of %llu sampled blocks compared with the source within the time budget",
				       st.id, (unsigned long long)st.verify_checked,
				       (unsigned long long)st.verify_planned);
	}
	bk_buf_release(&list);
out:
	bk_strv_release(&tags);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

static int cmd_expire(struct cli *c, int argc, char **argv)
{
	struct bk_repo repo;
	bool dry_run;
	int r;

	if (flag_opt(argc, argv, "dry-run", &dry_run) < 0)
		return usage_error("%s", "usage: backy expire [--dry-run]");
	r = open_repo(c, &repo, !dry_run);
	if (r == 0)
		r = do_expire(c, &repo, dry_run);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

/* --- status and check ---------------------------------------------------- */

static void status_json(const struct bk_repo *repo)
{
	json_t *arr = json_array();
	char when[64];
	char *text;

	for (size_t i = 0; i < repo->n; i++) {
		const struct bk_rev *rev = &repo->revs[i];
		json_t *tags = json_array(), *o;

		for (size_t t = 0; t < rev->tags.n; t++)
			json_array_append_new(tags, json_string(rev->tags.v[t]));
		bk_time_format(rev->timestamp, when, sizeof(when), BK_TIME_ISO);
		o = json_pack("{s:s, s:s, s:s?, s:o, s:s, s:I, s:I, s:b}", "uuid", rev->id,
			      "timestamp", when, "parent", rev->parent[0] ? rev->parent : NULL,
			      "tags", tags, "trust", bk_trust_name(rev->trust), "size",
			      (json_int_t)rev->size, "bytes_written", (json_int_t)rev->bytes_written,
			      "complete", rev->complete);
		json_object_set_new(o, "duration",
				    rev->complete ? json_real(rev->duration) : json_null());
		if (rev->consistency[0])
			json_object_set_new(o, "consistency", json_string(rev->consistency));
		json_array_append_new(arr, o);
	}
	text = json_dumps(arr, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	puts(text);
	free(text);
	json_decref(arr);
}

static void status_table(const struct bk_repo *repo)
{
	unsigned long long total = 0;
	int64_t now = bk_now(), overdue, next;
	int64_t spread = bk_schedule_spread(repo->name, &repo->cfg.schedule);
	struct bk_strv next_tags = BK_STRV_INIT;
	struct bk_buf tags;
	char when[64], size[32], dur[32];

	bk_buf_init(&tags);
	printf("%-19s  %-22s  %10s  %8s  %-24s  %s\n", "Date (UTC)", "ID", "Size", "Duration",
	       "Tags", "Trust");
	for (size_t i = 0; i < repo->n; i++) {
		const struct bk_rev *rev = &repo->revs[i];

		bk_buf_reset(&tags);
		bk_strv_join(&rev->tags, ",", &tags);
		bk_time_format(rev->timestamp, when, sizeof(when), BK_TIME_DISPLAY);
		bk_size_format(rev->bytes_written, size, sizeof(size));
		if (rev->complete)
			bk_duration_format(rev->duration, dur, sizeof(dur));
		else
			snprintf(dur, sizeof(dur), "-");
		printf("%-19s  %-22s  %10s  %8s  %-24s  %s%s%s\n", when, rev->id, size, dur, tags.p,
		       bk_trust_name(rev->trust), rev->complete ? "" : " (incomplete)",
		       strcmp(rev->consistency, "crash-consistent") == 0 ? " (crash-consistent)"
									    : "");
		total += rev->bytes_written;
	}
	bk_size_format(total, size, sizeof(size));
	printf("\n== Summary\n%zu revision%s\n%s data (estimated)\n", repo->n,
	       repo->n == 1 ? "" : "s", size);
	if (bk_sla_ok(&repo->cfg.schedule, repo->revs, repo->n, repo->cfg.created, now, &overdue))
		printf("SLA: ok\n");
	else
		printf("SLA: overdue by %s\n", (bk_duration_format((double)overdue, dur, sizeof(dur)), dur));
	next = bk_sched_next(&repo->cfg.schedule, spread, repo->revs, repo->n, now, &next_tags);
	bk_buf_reset(&tags);
	bk_strv_join(&next_tags, ",", &tags);
	bk_time_format(next, when, sizeof(when), BK_TIME_DISPLAY);
	printf("next scheduled backup: %s UTC (%s)\n", when, tags.p);
	bk_strv_release(&next_tags);
	bk_buf_release(&tags);
}

static int cmd_status(struct cli *c, int argc, char **argv)
{
	struct bk_repo repo;
	bool json;
	int r;

	if (flag_opt(argc, argv, "json", &json) < 0)
		return usage_error("%s", "usage: backy status [--json]");
	r = open_repo(c, &repo, false);
	if (r < 0)
		return fail(c, r);
	if (json)
		status_json(&repo);
	else
		status_table(&repo);
	bk_repo_close(&repo);
	return 0;
}

static int cmd_check(struct cli *c, int argc, char **argv)
{
	struct bk_repo repo;
	int64_t overdue, age;
	size_t distrusted = 0;
	char dur[32];
	long newest;
	int r;

	(void)argv;
	if (argc != 1) {
		printf("UNKNOWN: usage: backy check\n");
		return 3;
	}
	r = bk_repo_open(&repo, c->dir, &c->err);
	if (r < 0) {
		printf("UNKNOWN: %s\n", bk_err_msg(&c->err, r));
		return 3;
	}
	for (size_t i = 0; i < repo.n; i++)
		distrusted += repo.revs[i].trust == BK_TRUST_DISTRUSTED;
	newest = bk_repo_newest(&repo);
	if (!bk_sla_ok(&repo.cfg.schedule, repo.revs, repo.n, repo.cfg.created, bk_now(), &overdue)) {
		bk_duration_format((double)overdue, dur, sizeof(dur));
		printf("CRITICAL: '%s' is not within its SLA: %s overdue\n", repo.name,
		       newest < 0 ? "no revision yet," : dur);
		r = 2;
	} else if (distrusted) {
		printf("WARNING: '%s' has %zu distrusted revision%s\n", repo.name, distrusted,
		       distrusted == 1 ? "" : "s");
		r = 1;
	} else {
		age = newest < 0 ? 0 : (bk_now() - repo.revs[newest].timestamp) / BK_USEC;
		bk_duration_format((double)age, dur, sizeof(dur));
		if (newest < 0)
			printf("OK: '%s' has no revision yet (within SLA)\n", repo.name);
		else
			printf("OK: '%s' within SLA, newest revision %s old\n", repo.name, dur);
		r = 0;
	}
	bk_repo_close(&repo);
	return r;
}

/* --- revision commands ------------------------------------------------------ */

/* Parse "[-r SPEC]" (plus -f where FORCE is given) and the positional args. */
static int rev_opts(int argc, char **argv, const char **spec, bool *force)
{
	static const struct option longopts[] = {{"revision", required_argument, NULL, 'r'},
						 {"force", no_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = sub_opt(argc, argv, force ? "r:f" : "r:", longopts)) != -1) {
		if (opt == 'r')
			*spec = optarg;
		else if (opt == 'f' && force)
			*force = true;
		else
			return -1;
	}
	return 0;
}

static int cmd_restore(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	struct bk_repo repo;
	size_t idx;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc - optind != 1)
		return usage_error("%s", "usage: backy restore [-r SPEC] TARGET");
	r = open_repo(c, &repo, false);
	if (r == 0)
		r = bk_revspec_one(spec, repo.revs, repo.n, &idx, &c->err);
	if (r == 0 && strncmp(argv[optind], "rbd:", 4) == 0) {
		const struct bk_source_config *src = &repo.cfg.source;
		bool rbd = src->type != BK_SOURCE_FILE;

		r = bk_restore_rbd(&repo, idx, argv[optind] + 4, rbd ? src->ceph_conf : NULL,
				   rbd ? src->ceph_id : NULL, c->tty, &c->err);
	} else if (r == 0) {
		r = bk_restore(&repo, idx, argv[optind], c->tty && strcmp(argv[optind], "-"), &c->err);
	}
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

static int cmd_find(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	char real[PATH_MAX];
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind)
		return usage_error("%s", "usage: backy find [-r SPEC]");
	r = open_repo(c, &repo, false);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	if (r == 0 && !realpath(c->dir, real))
		r = bk_err_sys(&c->err, -errno, "unable to resolve '%s'", c->dir);
	for (size_t i = 0; r == 0 && i < repo.n; i++)
		if (match[i])
			printf("%s/%s\n", real, repo.revs[i].id);
	free(match);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

static int cmd_forget(struct cli *c, int argc, char **argv)
{
	const char *spec = NULL;
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind || !spec)
		return usage_error("%s", "usage: backy forget -r SPEC");
	r = open_repo(c, &repo, true);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	for (size_t i = repo.n; r == 0 && i-- > 0;) {
		if (!match[i])
			continue;
		bk_info("forgetting revision %s", repo.revs[i].id);
		r = bk_repo_remove_rev(&repo, i, &c->err);
	}
	if (r == 0)
		r = bk_repo_update_latest(&repo, &c->err);
	free(match);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

static int cmd_tags(struct cli *c, int argc, char **argv)
{
	const char *usage = "usage: backy tags {set,add,remove} [-f] [-r SPEC] TAGS";
	struct bk_strv tags = BK_STRV_INIT;
	const char *spec = "latest", *action;
	bool force = false, *match = NULL;
	struct bk_repo repo;
	int r;

	if (argc < 2)
		return usage_error("%s", usage);
	action = argv[1];
	if (strcmp(action, "set") && strcmp(action, "add") && strcmp(action, "remove"))
		return usage_error("unknown tags action '%s' (expected set, add or remove)", action);
	if (rev_opts(argc - 1, argv + 1, &spec, &force) < 0 || argc - 1 - optind != 1)
		return usage_error("%s", usage);
	bk_strv_split(&tags, argv[1 + optind]);
	r = open_repo(c, &repo, true);
	if (r == 0 && !tags.n)
		r = bk_err_set(&c->err, BK_ETAG, "no tags given");
	for (size_t i = 0; r == 0 && strcmp(action, "remove") && i < tags.n; i++)
		r = bk_repo_check_tag(&repo, tags.v[i], force, &c->err);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	for (size_t i = 0; r == 0 && i < repo.n; i++) {
		struct bk_rev *rev = &repo.revs[i];

		if (!match[i])
			continue;
		if (strcmp(action, "set") == 0) {
			bk_strv_copy(&rev->tags, &tags);
		} else if (strcmp(action, "add") == 0) {
			bk_strv_merge(&rev->tags, &tags);
		} else {
			for (size_t t = 0; t < tags.n; t++)
				bk_strv_remove(&rev->tags, tags.v[t]);
		}
		r = bk_repo_save_rev(&repo, rev, &c->err);
	}
	free(match);
	bk_strv_release(&tags);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

static int cmd_verify(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	struct bk_repo repo;
	bool *match = NULL;
	int r, bad = 0;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind)
		return usage_error("%s", "usage: backy verify [-r SPEC]");
	r = open_repo(c, &repo, true);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	for (size_t i = 0; r == 0 && i < repo.n; i++) {
		if (!match[i])
			continue;
		r = bk_verify(&repo, i, c->tty, &c->err);
		if (r == BK_EVERIFY) {
			/* report each damaged revision and go on with the others */
			bk_error("%s", c->err.msg);
			bk_err_clear(&c->err);
			bad++;
			r = 0;
		} else if (r == 0) {
			bk_info("revision %s verified", repo.revs[i].id);
		}
	}
	free(match);
	bk_repo_close(&repo);
	if (r < 0)
		return fail(c, r);
	return bad ? 1 : 0;
}

static int cmd_distrust(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind)
		return usage_error("%s", "usage: backy distrust [-r SPEC]");
	r = open_repo(c, &repo, true);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	for (size_t i = 0; r == 0 && i < repo.n; i++) {
		if (!match[i])
			continue;
		repo.revs[i].trust = BK_TRUST_DISTRUSTED;
		r = bk_repo_save_rev(&repo, &repo.revs[i], &c->err);
	}
	free(match);
	bk_repo_close(&repo);
	return r < 0 ? fail(c, r) : 0;
}

/* --- main ---------------------------------------------------------------- */

/* Write the --result file: {"outcome", "error": {"code", "message"}, ...}. */
static void write_result(struct cli *c, int status)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!json_object_get(c->result, "outcome"))
		json_object_set_new(c->result, "outcome", json_string(status ? "failed" : "ok"));
	if (status && c->err.code)
		json_object_set_new(c->result, "error",
				    json_pack("{s:s, s:s}", "code", bk_error_name(c->err.code),
					      "message", c->err.msg));
	else if (status)
		json_object_set_new(c->result, "error",
				    json_pack("{s:s, s:s}", "code", bk_error_name(BK_EUSAGE),
					      "message", "invalid usage"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->result_path);
	f = fopen(tmp, "we");
	if (!f || json_dumpf(c->result, f, JSON_COMPACT) < 0 || fclose(f) != 0 ||
	    rename(tmp, c->result_path) < 0)
		bk_warn("unable to write result file '%s'", c->result_path);
}

static const struct {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
} commands[] = {
	{"init", cmd_init},       {"backup", cmd_backup},   {"status", cmd_status},
	{"restore", cmd_restore}, {"find", cmd_find},       {"forget", cmd_forget},
	{"tags", cmd_tags},       {"expire", cmd_expire},   {"verify", cmd_verify},
	{"distrust", cmd_distrust}, {"check", cmd_check},
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"backupdir", required_argument, NULL, 'b'},
						 {"logfile", required_argument, NULL, 'l'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {"result", required_argument, NULL, 'R'},
						 {NULL, 0, NULL, 0}};
	struct cli c = {.dir = "."};
	int opt, r;

	while ((opt = getopt_long(argc, argv, "+b:l:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			c.dir = optarg;
			break;
		case 'l':
			c.logfile = optarg;
			break;
		case 'v':
			c.verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			puts("backy " BACKY_VERSION);
			return 0;
		case 'R':
			c.result_path = optarg;
			break;
		default:
			return usage_error("%s", "invalid option");
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	c.tty = isatty(STDERR_FILENO);
	bk_log_init("backy", c.verbose);
	if (bk_clock_init(&c.err) < 0) {
		if (strcmp(argv[optind], "check") == 0) {
			printf("UNKNOWN: %s\n", c.err.msg);
			return 3;
		}
		return fail(&c, c.err.code);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0; /* reset getopt for the command's options */
			if (c.result_path)
				c.result = json_object();
			r = commands[i].run(&c, argc, argv);
			if (c.result) {
				write_result(&c, r);
				json_decref(c.result);
			}
			bk_log_close();
			return r;
		}
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
