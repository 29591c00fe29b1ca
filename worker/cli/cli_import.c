/* cli_import.c: `backy adopt` and `backy import`, migration from Python backy (backy(1)). */
#include "adopt.h"
#include "cli.h"
#include "import_py.h"
#include "log.h"

#include <stdio.h>
#include <unistd.h>

int cmd_adopt(struct cli *c, int argc, char **argv)
{
	struct bk_adopt_stats st;
	char size[32];
	int r;

	(void)argv;
	if (argc != 1)
		return cli_usage_error("%s", "usage: backy [-b DIR] adopt");
	cli_open_log(c);
	r = bk_adopt(c->dir, &st, &c->err);
	if (r < 0)
		return cli_fail(c, r);
	bk_size_format(st.bytes_read, size, sizeof(size));
	bk_notice("adopted '%s': %zu revisions (%zu manifests computed from %s of images)%s", c->dir,
		  st.revisions, st.manifests, size,
		  st.incomplete ? ", incomplete revisions left alone" : "");
	return 0;
}

/* bk_import_step_fn: one line per imported revision. */
static void import_step(void *arg, const struct bk_rev *rev, uint64_t written)
{
	char size[32];

	(void)arg;
	bk_size_format(written, size, sizeof(size));
	bk_info("imported revision %s (%s written)", rev->id, size);
}

int cmd_import(struct cli *c, int argc, char **argv)
{
	struct bk_import_stats st;
	char size[32];
	int r;

	if (argc != 2)
		return cli_usage_error("%s", "usage: backy -b DIR import SRC");
	/* DIR exists only once import checked it (never inside SRC): the log starts after */
	r = bk_import_py(argv[1], c->dir, import_step, NULL, &st, &c->err);
	if (access(c->dir, F_OK) == 0)
		cli_open_log(c);
	if (r < 0)
		return cli_fail(c, r);
	bk_size_format(st.bytes_written, size, sizeof(size));
	bk_notice("imported '%s' into '%s': %zu revisions (%zu there already, %zu incomplete skipped), %llu chunks read, %s written",
		  argv[1], c->dir, st.imported, st.present, st.incomplete,
		  (unsigned long long)st.chunks_read, size);
	return 0;
}
