/*
 * backy.c: the `backy` command line, one repository at a time.
 *
 * Each command parses its options and calls into the store and engine;
 * errors are printed once, here.  Exit codes: 0 success, 1 error; `check`
 * uses the Nagios codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 */
#include "cli.h"
#include "clock.h"
#include "engine.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"
#include "retention.h"
#include "revspec.h"
#include "schedule.h"
#include "store.h"
#include "ydoc.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
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
	"  init [--replace] file PATH | rbd POOL/IMAGE | flyingcircus POOL/IMAGE,VM[,TOKEN]\n"
	"       [--schedule SPEC] [--block-size BYTES] [--ceph-conf FILE] [--ceph-id NAME]\n"
	"       [--consul-url URL]\n"
	"                          create DIR/config for an image file or block device,\n"
	"                          a Ceph RBD image, or an RBD image whose guest is frozen\n"
	"                          through Consul before the snapshot; --replace gives an\n"
	"                          existing repository another source, keeping its revisions\n"
	"  backup [-f] [TAGS]      back up now with TAGS (comma separated), or without TAGS\n"
	"                          run what the schedule says is due (then expire)\n"
	"  status [--json]         list revisions and a summary\n"
	"  restore [-r SPEC] TARGET\n"
	"                          write a revision to a file, block device, - (stdout)\n"
	"                          or rbd:POOL/IMAGE\n"
	"  find [-r SPEC]          print the image path of each matching revision\n"
	"  forget -r SPEC [--force] [--min-keep N] [--min-age DURATION]\n"
	"                          delete the matching revisions, within the floors\n"
	"  tags {set,add,remove} [-f] [-r SPEC] TAGS\n"
	"                          change the tags of revisions\n"
	"  expire [--dry-run] [--force] [--min-keep N] [--min-age DURATION]\n"
	"                          apply the schedule's retention, within the floors: the\n"
	"                          newest trusted revision, N (3) and all younger than\n"
	"                          DURATION (1d) stay unless --force\n"
	"  verify [-r SPEC] [--older-than DURATION]\n"
	"                          re-read revisions and compare them with their checksums;\n"
	"                          only those last found intact longer ago than DURATION\n"
	"  distrust [-r SPEC]      mark revisions as not to be trusted\n"
	"  check                   Nagios check of the SLA (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)\n"
	"  mount [-r SPEC] [--partition N] [-o OPTIONS] DIR\n"
	"                          mount a revision's file system read-only on DIR (no journal\n"
	"                          replay, no UUID clash with the live disk); --list shows them\n"
	"  umount DIR              undo a 'backy mount'\n"
	"  adopt                   take over the Python backy repository DIR of raw images\n"
	"                          (cowfile) in place: its revisions stay, manifests are added\n"
	"  import SRC              convert the chunked Python backy repository SRC into DIR\n"
	"                          (new): same revisions, sharing extents; SRC is only read\n"
	"\n"
	"options:\n"
	"  -b, --backupdir DIR     repository directory (default: .)\n"
	"  -l, --logfile FILE      log file (default: DIR/backy.log)\n"
	"  -v, --verbose           more output (repeat for debug output)\n"
	"      --result FILE       write the outcome as JSON to FILE (for backy-worker)\n"
	"      --progress-file FILE  keep FILE up to date with the progress of a long run\n"
	"                          (JSON, for backy-worker's heartbeats)\n"
	"  -h, --help              this help; --version prints the version\n"
	"\n"
	"SPEC selects revisions: an id, N (N-th newest, 0 = newest), latest, all,\n"
	"tag:NAME, trust:STATE, clean, A..B ranges (ids or dates), ',' union, '&'\n"
	"intersection, first(...), last(...), not(...).  Default: latest.\n"
	"Schedule SPEC: NAME=INTERVAL:KEEP,... (default " BK_DEFAULT_SCHEDULE ").\n"
	"BACKY_NOW=ISO-TIME overrides the current time.  See backy(1).\n";

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("backy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'backy --help' for more information.\n", stderr);
	return 1;
}

int cli_fail(struct cli *c, int code)
{
	bk_error("%s", bk_err_msg(&c->err, code));
	return 1;
}

void cli_open_log(struct cli *c)
{
	char path[PATH_MAX];
	int r;

	if (c->logfile)
		snprintf(path, sizeof(path), "%s", c->logfile);
	else
		snprintf(path, sizeof(path), "%s/backy.log", c->dir);
	r = bk_log_open(path);
	if (r == -ELOOP)
		bk_warn("unable to open log file '%s': it is a symbolic link", path);
	else if (r < 0)
		bk_warn("unable to open log file '%s': %s", path,
			r == -EINVAL || r == -EMLINK || r == -ENXIO ? "not a plain file"
								    : bk_strerror(r));
}

int cli_open_repo(struct cli *c, struct bk_repo *repo, bool writer)
{
	int r;

	r = bk_repo_open(repo, c->dir, &c->err);
	if (r < 0)
		return r;
	if (writer || c->logfile)
		cli_open_log(c);
	if (!writer)
		return 0;
	r = bk_repo_lock(repo, &c->err);
	if (r < 0)
		return r;
	/* what we loaded before the lock may be stale */
	return bk_repo_load(repo, &c->err);
}

int cli_sub_opt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

int cli_flag_opt(int argc, char **argv, const char *name, bool *flag)
{
	const struct option longopts[] = {{name, no_argument, NULL, 'F'}, {NULL, 0, NULL, 0}};
	int opt;

	*flag = false;
	while ((opt = cli_sub_opt(argc, argv, "", longopts)) != -1) {
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

/* --- backup and expire --------------------------------------------------- */

/* Floors of expire and forget (schedule.h); --force lifts them. */
struct floors {
	struct bk_expire_policy policy;
	bool force;
};

#define FLOORS_INIT {{BK_DEFAULT_MIN_KEEP, BK_DEFAULT_MIN_AGE, NULL}, false}

/* Parse "--min-keep N" (OPT 'K') or "--min-age DURATION" ('A', "0" or "0s" allowed) into F. */
static int floor_opt(int opt, const char *arg, struct floors *f)
{
	unsigned long long v;
	char *end;

	if (opt == 'K') {
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (arg[0] < '0' || arg[0] > '9' || errno || *end)
			return cli_usage_error("invalid --min-keep '%s': expected a number", arg);
		f->policy.min_keep = v;
	} else if (arg[0] == '0' && (!arg[1] || (strchr("smhdw", arg[1]) && !arg[2]))) {
		f->policy.min_age = 0; /* backy-worker writes its min-age in seconds */
	} else if (bk_duration_parse(arg, &f->policy.min_age) < 0) {
		return cli_usage_error("invalid --min-age '%s': expected 0 or N[wdhms]", arg);
	}
	return 0;
}

/* How `backy expire` reports a step: a log line, or with --dry-run a line on stdout. */
struct expire_report {
	const struct floors *f;
	bool dry_run;
};

static void expire_step(void *arg, const struct bk_expire_step *st)
{
	const struct expire_report *er = arg;
	struct bk_buf a, b;
	char why[64];

	bk_buf_init(&a);
	bk_buf_init(&b);
	bk_strv_join(&st->rev->tags, ",", &a);
	if (st->action == BK_EXPIRE_KEEP) {
		bk_floor_describe(&er->f->policy, st->floor, why, sizeof(why));
		if (er->dry_run)
			printf("would keep revision %s (tags: %s): %s\n", st->rev->id, a.p, why);
		else
			bk_info("expire: keeping revision %s (tags: %s): %s", st->rev->id, a.p, why);
	} else if (st->action == BK_EXPIRE_REMOVE) {
		if (er->dry_run)
			printf("would remove revision %s (tags: %s)\n", st->rev->id, a.p);
		else
			bk_info("expire: removing revision %s (tags: %s)", st->rev->id, a.p);
	} else {
		bk_strv_join(st->newtags, ",", &b);
		if (er->dry_run)
			printf("would retag revision %s: %s -> %s\n", st->rev->id, a.p, b.p);
		else
			bk_info("expire: retagging revision %s: %s -> %s", st->rev->id, a.p, b.p);
	}
	bk_buf_release(&a);
	bk_buf_release(&b);
}

/* Apply expiry under F (retention.h); with DRY_RUN only print what would happen. */
static int do_expire(struct cli *c, struct bk_repo *repo, struct floors *f, bool dry_run)
{
	struct expire_report er = {f, dry_run};

	return bk_repo_expire(repo, f->force ? NULL : &f->policy, bk_now(), dry_run, expire_step,
			      &er, &c->err);
}

/* `backy forget` logs each deletion. */
static void forget_step(void *arg, const struct bk_expire_step *st)
{
	(void)arg;
	bk_info("forgetting revision %s", st->rev->id);
}

static int cmd_backup(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"force", no_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	struct bk_strv tags = BK_STRV_INIT;
	struct floors floors = FLOORS_INIT;
	struct bk_backup_stats st;
	struct bk_repo repo;
	bool force = false, scheduled;
	struct bk_buf list;
	int opt, r;

	while ((opt = cli_sub_opt(argc, argv, "f", longopts)) != -1) {
		if (opt != 'f')
			return cli_usage_error("%s", "usage: backy backup [-f] [TAGS]");
		force = true;
	}
	if (argc - optind > 1)
		return cli_usage_error("%s", "usage: backy backup [-f] [TAGS]");
	scheduled = argc == optind;
	r = cli_open_repo(c, &repo, true);
	if (r < 0)
		return cli_fail(c, r);
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
				c->result->outcome = BK_REPORT_SKIPPED;
			goto out;
		}
	}
	if (r < 0)
		goto out;
	bk_buf_init(&list);
	bk_strv_join(&tags, ",", &list);
	bk_info("backup of '%s' started (tags: %s)", repo.name, list.p);
	r = bk_backup(&repo, &tags, true, &st, &c->err);
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
			snprintf(c->result->revision, sizeof(c->result->revision), "%s", st.id);
			bk_strv_copy(&c->result->tags, &tags);
			c->result->has_stats = true;
			c->result->stats.bytes_written = st.bytes_written;
			c->result->stats.size = st.size;
			c->result->stats.duration = st.duration;
			c->result->stats.full = st.full;
		}
		if (scheduled)
			r = do_expire(c, &repo, &floors, false);
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
	return r < 0 ? cli_fail(c, r) : 0;
}

/*
 * Parse the options of expire (DRY_RUN not NULL) or forget (SPEC not NULL):
 * [--dry-run] [-r SPEC] [-f|--force] [--min-keep N] [--min-age DURATION].
 */
static int floor_opts(int argc, char **argv, bool *dry_run, const char **spec, struct floors *f)
{
	static const struct option longopts[] = {{"dry-run", no_argument, NULL, 'n'},
						 {"revision", required_argument, NULL, 'r'},
						 {"force", no_argument, NULL, 'f'},
						 {"min-keep", required_argument, NULL, 'K'},
						 {"min-age", required_argument, NULL, 'A'},
						 {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = cli_sub_opt(argc, argv, spec ? "r:f" : "f", longopts)) != -1) {
		if (opt == 'n' && dry_run)
			*dry_run = true;
		else if (opt == 'r' && spec)
			*spec = optarg;
		else if (opt == 'f')
			f->force = true;
		else if (opt != 'K' && opt != 'A')
			return -1;
		else if (floor_opt(opt, optarg, f))
			return 1;
	}
	return argc == optind ? 0 : -1;
}

static int cmd_expire(struct cli *c, int argc, char **argv)
{
	struct floors floors = FLOORS_INIT;
	struct bk_repo repo;
	bool dry_run = false;
	int r;

	r = floor_opts(argc, argv, &dry_run, NULL, &floors);
	if (r)
		return r > 0 ? 1
			     : cli_usage_error("%s", "usage: backy expire [--dry-run] [--force] "
						 "[--min-keep N] [--min-age DURATION]");
	r = cli_open_repo(c, &repo, !dry_run);
	if (r == 0)
		r = do_expire(c, &repo, &floors, dry_run);
	bk_repo_close(&repo);
	return r < 0 ? cli_fail(c, r) : 0;
}

/* --- revision commands ------------------------------------------------------ */

/* Parse "[-r SPEC]" (plus -f where FORCE is given) and the positional args. */
static int rev_opts(int argc, char **argv, const char **spec, bool *force)
{
	static const struct option longopts[] = {{"revision", required_argument, NULL, 'r'},
						 {"force", no_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = cli_sub_opt(argc, argv, force ? "r:f" : "r:", longopts)) != -1) {
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
		return cli_usage_error("%s", "usage: backy restore [-r SPEC] TARGET");
	r = cli_open_repo(c, &repo, false);
	if (r == 0)
		r = bk_revspec_one(spec, repo.revs, repo.n, &idx, &c->err);
	if (r == 0 && strncmp(argv[optind], "rbd:", 4) == 0) {
		const struct bk_source_config *src = &repo.cfg.source;
		bool rbd = src->spec.type != BK_SOURCE_FILE;

		r = bk_restore_rbd(&repo, idx, argv[optind] + 4, rbd ? src->ceph_conf : NULL,
				   rbd ? src->ceph_id : NULL, true, &c->err);
	} else if (r == 0) {
		r = bk_restore(&repo, idx, argv[optind], strcmp(argv[optind], "-") != 0, &c->err);
	}
	bk_repo_close(&repo);
	return r < 0 ? cli_fail(c, r) : 0;
}

static int cmd_find(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	char real[PATH_MAX];
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind)
		return cli_usage_error("%s", "usage: backy find [-r SPEC]");
	r = cli_open_repo(c, &repo, false);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	if (r == 0 && !realpath(c->dir, real))
		r = bk_err_sys(&c->err, -errno, "unable to resolve '%s'", c->dir);
	for (size_t i = 0; r == 0 && i < repo.n; i++)
		if (match[i])
			printf("%s/%s\n", real, repo.revs[i].id);
	free(match);
	bk_repo_close(&repo);
	return r < 0 ? cli_fail(c, r) : 0;
}

static int cmd_forget(struct cli *c, int argc, char **argv)
{
	struct floors floors = FLOORS_INIT;
	const char *spec = NULL;
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	r = floor_opts(argc, argv, NULL, &spec, &floors);
	if (r || !spec)
		return r > 0 ? 1
			     : cli_usage_error("%s", "usage: backy forget -r SPEC [--force] [--min-keep N] "
						 "[--min-age DURATION]");
	r = cli_open_repo(c, &repo, true);
	if (r == 0)
		r = select_revs(c, &repo, spec, &match);
	if (r == 0)
		r = bk_repo_forget(&repo, match, floors.force ? NULL : &floors.policy, bk_now(),
				   forget_step, NULL, &c->err);
	if (r == BK_EDENIED) /* say how to get past the floor, here only: the worker has no --force */
		snprintf(c->err.msg + strlen(c->err.msg), sizeof(c->err.msg) - strlen(c->err.msg),
			 " (--force deletes it anyway)");
	free(match);
	bk_repo_close(&repo);
	return r < 0 ? cli_fail(c, r) : 0;
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
		return cli_usage_error("%s", usage);
	action = argv[1];
	if (strcmp(action, "set") && strcmp(action, "add") && strcmp(action, "remove"))
		return cli_usage_error("unknown tags action '%s' (expected set, add or remove)", action);
	if (rev_opts(argc - 1, argv + 1, &spec, &force) < 0 || argc - 1 - optind != 1)
		return cli_usage_error("%s", usage);
	bk_strv_split(&tags, argv[1 + optind]);
	r = cli_open_repo(c, &repo, true);
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
	return r < 0 ? cli_fail(c, r) : 0;
}

/* When revision REV was last found intact: its verification, or else its backup. */
static int64_t last_checked(const struct bk_rev *rev)
{
	return rev->verified_at ? rev->verified_at : rev->timestamp;
}

/*
 * verify [-r SPEC] [--older-than DURATION]: re-read the matching revisions;
 * with --older-than (a scrub slice, backy-worker's verify jobs) only those
 * last found intact at least that long ago and not distrusted (a distrusted revision,
 * maybe by an operator's decision, stays so), and none at all is not an
 * error.  Each damaged revision is reported and the others are still
 * checked; the report (--result) counts them and lists every revision
 * distrusted afterwards.
 */
static int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"revision", required_argument, NULL, 'r'},
						 {"older-than", required_argument, NULL, 'O'},
						 {NULL, 0, NULL, 0}};
	static const char usage[] = "usage: backy verify [-r SPEC] [--older-than DURATION]";
	struct bk_scrub_counts found;
	const char *spec = "latest";
	struct bk_repo repo;
	bool *match = NULL;
	int64_t older = 0, now = bk_now();
	int opt, r;

	while ((opt = cli_sub_opt(argc, argv, "r:", longopts)) != -1) {
		if (opt == 'r')
			spec = optarg;
		else if (opt != 'O')
			return cli_usage_error("%s", usage);
		else if (bk_duration_parse(optarg, &older) < 0 || older <= 0)
			return cli_usage_error("invalid --older-than '%s': expected N[wdhms]", optarg);
	}
	if (argc != optind)
		return cli_usage_error("%s", usage);
	bk_scrub_counts_init(&found);
	r = cli_open_repo(c, &repo, true);
	if (r == 0 && !(older && repo.n == 0))
		r = select_revs(c, &repo, spec, &match);
	for (size_t i = 0; r == 0 && match && i < repo.n; i++) {
		const struct bk_rev *rev = &repo.revs[i];

		if (!match[i] || (older && (rev->trust == BK_TRUST_DISTRUSTED ||
					    now - last_checked(rev) < older * BK_USEC)))
			continue;
		r = bk_verify(&repo, i, true, &c->err);
		if (r == BK_EVERIFY) {
			/* report each damaged revision and go on with the others */
			bk_error("%s", c->err.msg);
			bk_err_clear(&c->err);
			bk_scrub_counts_add(&found, true);
			r = 0;
		} else if (r == 0) {
			bk_scrub_counts_add(&found, false);
			bk_info("revision %s verified", repo.revs[i].id);
		}
	}
	for (size_t i = 0; r == 0 && i < repo.n; i++)
		if (repo.revs[i].trust == BK_TRUST_DISTRUSTED)
			bk_scrub_counts_list(&found, repo.revs[i].id);
	free(match);
	bk_repo_close(&repo);
	if (r == 0 && found.distrusted)
		r = bk_err_set(&c->err, BK_EVERIFY,
			       "%u of %u revisions checked are damaged and now distrusted",
			       found.distrusted, found.checked);
	if (c->result) {
		c->result->has_verify = true;
		bk_scrub_counts_copy(&c->result->verify, &found);
	}
	bk_scrub_counts_release(&found);
	if (r == BK_EVERIFY)
		return 1; /* each damaged revision was reported above */
	return r < 0 ? cli_fail(c, r) : 0;
}

static int cmd_distrust(struct cli *c, int argc, char **argv)
{
	const char *spec = "latest";
	struct bk_repo repo;
	bool *match = NULL;
	int r;

	if (rev_opts(argc, argv, &spec, NULL) < 0 || argc != optind)
		return cli_usage_error("%s", "usage: backy distrust [-r SPEC]");
	r = cli_open_repo(c, &repo, true);
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
	return r < 0 ? cli_fail(c, r) : 0;
}

/* --- main ---------------------------------------------------------------- */

/* Write the --result file (report.h): the outcome, the error, what was made. */
static void write_result(struct cli *c, int status)
{
	struct bk_report *rep = c->result;
	struct bk_err err = {0};
	struct bk_buf text;
	char tmp[PATH_MAX];
	FILE *f;
	int r;

	if (status && rep->outcome == BK_REPORT_OK)
		rep->outcome = BK_REPORT_FAILED;
	if (status && c->err.code)
		bk_report_set_error(rep, bk_error_name(c->err.code), c->err.msg);
	else if (status)
		bk_report_set_error(rep, bk_error_name(BK_EUSAGE), "invalid usage");
	bk_buf_init(&text);
	r = bk_report_encode(rep, &text, &err);
	if (r < 0) {
		bk_warn("unable to write result file '%s': %s", c->result_path, bk_err_msg(&err, r));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->result_path);
	f = fopen(tmp, "we");
	if (f) {
		bool ok = fwrite(text.p, 1, text.len, f) == text.len;

		if (fclose(f) == 0 && ok && rename(tmp, c->result_path) == 0)
			goto out;
	}
	bk_warn("unable to write result file '%s'", c->result_path);
out:
	bk_buf_release(&text);
}

static const struct {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
} commands[] = {
	{"init", cmd_init},       {"backup", cmd_backup},   {"status", cmd_status},
	{"restore", cmd_restore}, {"find", cmd_find},       {"forget", cmd_forget},
	{"tags", cmd_tags},       {"expire", cmd_expire},   {"verify", cmd_verify},
	{"distrust", cmd_distrust}, {"check", cmd_check},
	{"mount", cmd_mount},     {"umount", cmd_umount},
	{"adopt", cmd_adopt},     {"import", cmd_import},
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"backupdir", required_argument, NULL, 'b'},
						 {"logfile", required_argument, NULL, 'l'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {"result", required_argument, NULL, 'R'},
						 {"progress-file", required_argument, NULL, 'P'},
						 {NULL, 0, NULL, 0}};
	struct cli c = {.dir = "."};
	struct bk_report report;
	int opt, r;

	/*
	 * A fixed mmap threshold: librados threads allocate and free the 4 MiB
	 * buffers of every read; with glibc's sliding threshold those land in
	 * per-thread arenas that keep their pages, which doubled the peak RSS
	 * of an RBD backup (bench/rbd.sh).  Mapped, they go back when freed.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);

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
		case 'P':
			bk_progress_file(optarg);
			break;
		default:
			return cli_usage_error("%s", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("%s", "no command given");
	c.tty = isatty(STDERR_FILENO);
	bk_log_init("backy", c.verbose);
	if (bk_clock_init(&c.err) < 0) {
		if (strcmp(argv[optind], "check") == 0) {
			printf("UNKNOWN: %s\n", c.err.msg);
			return 3;
		}
		return cli_fail(&c, c.err.code);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0; /* reset getopt for the command's options */
			if (c.result_path) {
				c.result = &report;
				bk_report_init(c.result);
			}
			r = commands[i].run(&c, argc, argv);
			if (c.result) {
				write_result(&c, r);
				bk_report_release(c.result);
			}
			bk_log_close();
			return r;
		}
	}
	return cli_usage_error("unknown command '%s'", argv[optind]);
}
