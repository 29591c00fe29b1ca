/*
 * cli.h: what the `backy` commands share (backy.c, cli_init.c, cli_status.c,
 * cli_mount.c, cli_import.c).
 *
 * A command is `int cmd_NAME(struct cli *c, int argc, char **argv)`: argv[0]
 * is the command name, getopt is reset, and the return value is the exit
 * code.  Errors go into c->err and are printed once, by cli_fail().
 */
#ifndef BK_CLI_H
#define BK_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "error.h"
#include "report.h"
#include "store.h"

struct cli {
	const char *dir;
	const char *logfile;
	const char *result_path;  /* --result: where to write the job report (report.h) */
	struct bk_report *result; /* what commands report there; NULL without --result */
	int verbose;
	bool tty; /* stderr is a terminal (progress.h picks its own display) */
	struct bk_err err;
};

/* Print "backy: MESSAGE" and a hint to --help; returns exit code 1. */
__attribute__((format(printf, 1, 2))) int cli_usage_error(const char *fmt, ...);

/* Print the recorded error once and return exit code 1. */
int cli_fail(struct cli *c, int code);

/*
 * Open the repository c->dir and start its log; WRITER also takes the
 * writer lock and reloads the revisions under it.
 */
int cli_open_repo(struct cli *c, struct bk_repo *repo, bool writer);

/* Start the log: --logfile, or DIR/backy.log. */
void cli_open_log(struct cli *c);

/* getopt_long for a command's options: the option, -1 at the end, '?' on errors. */
int cli_sub_opt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Parse a command whose only option is the flag --NAME and which takes no arguments. */
int cli_flag_opt(int argc, char **argv, const char *name, bool *flag);

int cmd_init(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_check(struct cli *c, int argc, char **argv);
int cmd_mount(struct cli *c, int argc, char **argv);
int cmd_umount(struct cli *c, int argc, char **argv);
int cmd_adopt(struct cli *c, int argc, char **argv);  /* cli_import.c */
int cmd_import(struct cli *c, int argc, char **argv); /* cli_import.c */

#endif
