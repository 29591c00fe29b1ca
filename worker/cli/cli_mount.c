/*
 * cli_mount.c: `backy mount` and `backy umount` (backy(1)): one file of a
 * revision back without restoring the image.
 *
 * mount holds the revision (store.h, design note 4: expire and forget keep
 * it) through its open image, which it gives to a read-only loop device
 * over exactly the bytes of the chosen file system (disk_probe.h,
 * loopdev.h).  The file system is mounted read-only (MS_RDONLY, MS_NOSUID,
 * MS_NODEV), without journal replay and without the UUID check, so that it
 * mounts next to the live disk it was copied from:
 *
 *   ext4, ext3   noload                  (the journal is not replayed)
 *   ext2         (none)
 *   xfs          norecovery,nouuid       (no log recovery, no UUID clash)
 *   btrfs        refused: its device scan would pair it with the live disk
 *   other types  refused unless -o gives the options
 *
 * The mount is recorded (mount_record.h); umount undoes exactly that:
 * unmount, detach the loop device (which releases the hold), remove the
 * record.  Both run under the host's mount lock, so two of them never
 * interleave.
 */
#include "cli.h"
#include "clock.h"
#include "disk_probe.h"
#include "loopdev.h"
#include "mount_record.h"
#include "revspec.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV)

static const struct {
	const char *type;
	const char *options; /* NULL: refused */
} fs_options[] = {
	{"ext4", "noload"},           {"ext3", "noload"}, {"ext2", ""},
	{"xfs", "norecovery,nouuid"}, {"btrfs", NULL},
};

/* "partition N" or "whole disk" into BUF. */
static void part_name(const struct disk_part *part, char *buf, size_t size)
{
	if (part->partno)
		snprintf(buf, size, "partition %d", part->partno);
	else
		snprintf(buf, size, "whole disk");
}

/*
 * The options to mount PART of WHAT with: USER_OPTS (-o, NULL when not
 * given) or the table above.  BK_EUSAGE when PART holds no file system, is
 * btrfs, or is of another type and -o is not given.
 */
static int pick_options(const struct disk_part *part, const char *user_opts, const char *what,
			const char **options, struct bk_err *err)
{
	char where[32];

	part_name(part, where, sizeof(where));
	if (!part->is_fs)
		return bk_err_set(err, BK_EUSAGE, "%s of %s holds %s, not a file system", where,
				  what, part->type[0] ? part->type : "nothing backy can identify");
	for (size_t i = 0; i < sizeof(fs_options) / sizeof(fs_options[0]); i++) {
		if (strcmp(part->type, fs_options[i].type) != 0)
			continue;
		if (!fs_options[i].options)
			return bk_err_set(err, BK_EUSAGE,
					  "%s of %s holds %s, which backy does not mount: the "
					  "kernel would take it for the live file system with the "
					  "same UUID (restore the image instead)",
					  where, what, part->type);
		*options = user_opts ? user_opts : fs_options[i].options;
		return 0;
	}
	if (!user_opts)
		return bk_err_set(err, BK_EUSAGE,
				  "%s of %s holds %s, which backy mounts only with explicit "
				  "options (-o OPTIONS; it is always read-only)",
				  where, what, part->type);
	*options = user_opts;
	return 0;
}

/* Check that DIR can be a mount point (an empty directory, not mounted on) and resolve it into REAL. */
static int check_dir(const char *dir, char real[PATH_MAX], struct bk_err *err)
{
	struct mount_record m;
	struct dirent *de;
	struct stat st;
	dev_t dev;
	DIR *d;
	int r;

	if (!realpath(dir, real))
		return bk_err_sys(err, -errno, "unable to use '%s' as mount point", dir);
	if (stat(real, &st) < 0)
		return bk_err_sys(err, -errno, "unable to use '%s' as mount point", dir);
	if (!S_ISDIR(st.st_mode))
		return bk_err_set(err, BK_EUSAGE, "mount point '%s' is not a directory", dir);
	r = mount_record_find(real, &m, err);
	if (r == 0) {
		r = bk_err_set(err, BK_EUSAGE,
			       "'%s' is already a backy mount (revision %s of '%s'): 'backy "
			       "umount' it first",
			       dir, m.rev, m.repo);
		mount_record_release(&m);
		return r;
	}
	if (r != -ENOENT)
		return r;
	if (mount_point_dev(real, &dev) == 1)
		return bk_err_set(err, BK_EUSAGE,
				  "mount point '%s' has something else mounted on it already", dir);
	d = opendir(real);
	if (!d)
		return bk_err_sys(err, -errno, "unable to open '%s'", dir);
	while ((de = readdir(d)) && r == -ENOENT)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = bk_err_set(err, BK_EUSAGE, "mount point '%s' is not empty", dir);
	closedir(d);
	return r == -ENOENT ? 0 : r;
}

/* What the user asked for. */
struct mount_args {
	const char *spec;
	const char *options; /* -o, NULL when not given */
	int partition;       /* 0: not given */
	bool list;
};

/* Parse the options into A: 0, -1 on a usage error, 1 when an error was printed. */
static int mount_opts(int argc, char **argv, struct mount_args *a)
{
	static const struct option longopts[] = {{"revision", required_argument, NULL, 'r'},
						 {"partition", required_argument, NULL, 'P'},
						 {"options", required_argument, NULL, 'o'},
						 {"list", no_argument, NULL, 'L'},
						 {NULL, 0, NULL, 0}};
	char *end;
	long v;
	int opt;

	while ((opt = cli_sub_opt(argc, argv, "r:o:", longopts)) != -1) {
		if (opt == 'r') {
			a->spec = optarg;
		} else if (opt == 'o') {
			a->options = optarg;
		} else if (opt == 'L') {
			a->list = true;
		} else if (opt == 'P') {
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (optarg[0] < '1' || optarg[0] > '9' || errno || *end || v > 4096)
				return cli_usage_error(
					"invalid --partition '%s': expected a number from 1",
					optarg);
			a->partition = (int)v;
		} else {
			return -1;
		}
	}
	if (a->list)
		return argc == optind && !a->options && !a->partition ? 0 : -1;
	return argc - optind == 1 ? 0 : -1;
}

static int list_mounts(struct cli *c)
{
	struct mount_record *list = NULL;
	char when[64];
	size_t n = 0;
	int r;

	r = mount_record_list(&list, &n, &c->err);
	if (r == 0 && n)
		printf("%-32s  %-22s  %-9s  %-6s  %-19s  %s\n", "DIR", "REVISION", "PARTITION",
		       "TYPE", "MOUNTED (UTC)", "REPOSITORY");
	for (size_t i = 0; i < n; i++) {
		char part[16];

		if (list[i].partition)
			snprintf(part, sizeof(part), "%d", list[i].partition);
		else
			snprintf(part, sizeof(part), "-");
		bk_time_format(list[i].mounted, when, sizeof(when), BK_TIME_DISPLAY);
		printf("%-32s  %-22s  %-9s  %-6s  %-19s  %s\n", list[i].dir, list[i].rev, part,
		       list[i].type, when, list[i].repo);
		mount_record_release(&list[i]);
	}
	free(list);
	return r < 0 ? cli_fail(c, r) : 0;
}

/* Attach PART of the held image IMG of revision IDX, record and mount it on REAL. */
static int mount_part(struct cli *c, const struct bk_repo *repo, size_t idx, int img,
		      const struct disk_part *part, const char *options, const char *real)
{
	struct loopdev ld = {.fd = -1};
	struct mount_record m = {0}; /* its strings borrowed here: never released */
	char image[PATH_MAX + 80], repo_real[PATH_MAX];
	struct stat st;
	int r;

	if (fstat(img, &st) < 0 || !realpath(c->dir, repo_real))
		return bk_err_sys(&c->err, -errno, "unable to examine '%s'", c->dir);
	snprintf(image, sizeof(image), "%s/%s", repo_real, repo->revs[idx].id);
	r = loopdev_attach(img, part->offset, part->size, image, &ld, &c->err);
	if (r < 0)
		return r;
	m.dir = (char *)real;
	m.repo = repo_real;
	m.rev = repo->revs[idx].id;
	m.type = (char *)part->type;
	m.options = (char *)options;
	m.loop = ld.index;
	m.partition = part->partno;
	m.dev = st.st_dev;
	m.ino = st.st_ino;
	m.mounted = bk_now();
	r = mount_record_write(&m, &c->err);
	if (r == 0 && mount(ld.path, real, part->type, MOUNT_FLAGS, options) < 0) {
		r = bk_err_sys(&c->err, -errno,
			       "unable to mount %s (%s) of revision %s on '%s' with '%s'", ld.path,
			       part->type, m.rev, real, options);
		mount_record_remove(ld.index, NULL);
	}
	if (r == 0) {
		char where[32];

		part_name(part, where, sizeof(where));
		printf("mounted revision %s of '%s' (%s, %s, %s) read-only on '%s'\n", m.rev,
		       repo->name, where, part->type, ld.path, real);
	}
	loopdev_close(&ld); /* the device lives on with the mount, or detaches now */
	return r;
}

int cmd_mount(struct cli *c, int argc, char **argv)
{
	const char *usage =
		"usage: backy mount [-r SPEC] [--partition N] [-o OPTIONS] DIR | --list";
	struct mount_args a = {.spec = "latest"};
	const struct disk_part *part = NULL;
	struct disk_layout layout = {0};
	const char *options = NULL;
	char real[PATH_MAX], what[128];
	struct bk_repo repo;
	bool opened = false;
	int lockfd = -1, img = -1, r;
	struct stat st;
	size_t idx;

	r = mount_opts(argc, argv, &a);
	if (r)
		return r > 0 ? 1 : cli_usage_error("%s", usage);
	r = mount_records_lock(&lockfd, &c->err);
	if (r == 0 && a.list) {
		r = list_mounts(c);
		close(lockfd);
		return r;
	}
	if (r == 0)
		r = check_dir(argv[optind], real, &c->err);
	if (r == 0) {
		r = cli_open_repo(c, &repo, false);
		opened = r == 0;
	}
	if (r == 0)
		r = bk_revspec_one(a.spec, repo.revs, repo.n, &idx, &c->err);
	if (r == 0)
		r = bk_repo_hold_rev(&repo, idx, &img, &c->err);
	if (r == 0 && fstat(img, &st) < 0)
		r = bk_err_sys(&c->err, -errno, "unable to examine revision %s", repo.revs[idx].id);
	if (r == 0) {
		snprintf(what, sizeof(what), "revision %s", repo.revs[idx].id);
		r = disk_probe(img, (uint64_t)st.st_size, what, &layout, &c->err);
	}
	if (r == 0)
		r = disk_choose(&layout, a.partition, what, &part, &c->err);
	if (r == 0)
		r = pick_options(part, a.options, what, &options, &c->err);
	if (r == 0)
		r = mount_part(c, &repo, idx, img, part, options, real);
	disk_layout_release(&layout);
	if (img >= 0)
		close(img); /* the hold lives on in the loop device while mounted */
	if (opened)
		bk_repo_close(&repo);
	if (lockfd >= 0)
		close(lockfd);
	return r < 0 ? cli_fail(c, r) : 0;
}

int cmd_umount(struct cli *c, int argc, char **argv)
{
	struct mount_record m = {0};
	char real[PATH_MAX];
	int lockfd = -1, r;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage_error("%s", "usage: backy umount DIR");
	if (!realpath(argv[1], real))
		return cli_fail(c,
				bk_err_sys(&c->err, -errno, "'%s' is not a backy mount", argv[1]));
	r = mount_records_lock(&lockfd, &c->err);
	if (r == 0)
		r = mount_record_find(real, &m, &c->err);
	if (r == -ENOENT)
		r = bk_err_set(&c->err, BK_EUSAGE, "'%s' is not a backy mount", argv[1]);
	if (r == 0 && umount2(real, UMOUNT_NOFOLLOW) < 0)
		r = bk_err_sys(&c->err, -errno, "unable to unmount '%s'", real);
	if (r == 0)
		r = loopdev_detach(m.loop, m.dev, m.ino, &c->err);
	if (r == 0)
		r = mount_record_remove(m.loop, &c->err);
	if (r == 0)
		printf("unmounted revision %s of '%s' from '%s'\n", m.rev, m.repo, real);
	mount_record_release(&m);
	if (lockfd >= 0)
		close(lockfd);
	return r < 0 ? cli_fail(c, r) : 0;
}
