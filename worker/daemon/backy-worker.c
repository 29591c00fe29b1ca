/*
 * backy-worker.c: the storage-host daemon's entry point: options, config,
 * then bk_fleet_run() (fleet_worker.c) until SIGTERM.
 *
 * Exit codes: 0 clean stop (or --check passed), 1 error.
 */
#include "clock.h"
#include "fleet_worker.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_text[] =
	"usage: backy-worker [-v] -c CONFIG [--check]\n"
	"\n"
	"Run the backy jobs of this storage host from RabbitMQ (see backy-worker(8)).\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   worker configuration (YAML)\n"
	"      --check         validate the configuration and exit\n"
	"  -v, --verbose       more output (repeat for debug output)\n"
	"  -h, --help          this help; --version prints the version\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"check", no_argument, NULL, 'C'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, 'V'},
						 {NULL, 0, NULL, 0}};
	struct bk_fleet_config cfg;
	struct bk_err err = {0};
	const char *config = NULL;
	bool check = false;
	int opt, verbose = 0;

	while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			puts("backy-worker " BACKY_VERSION);
			return 0;
		default:
			fputs("Try 'backy-worker --help' for more information.\n", stderr);
			return 1;
		}
	}
	if (!config || optind != argc) {
		fputs(!config ? "backy-worker: no configuration given (-c FILE)\n"
			      : "backy-worker: unexpected arguments\n",
		      stderr);
		fputs("Try 'backy-worker --help' for more information.\n", stderr);
		return 1;
	}
	bk_log_init("backy-worker", verbose);
	if (bk_clock_init(&err) < 0 || bk_fleet_config_load(config, &cfg, &err) < 0) {
		bk_error("%s", err.msg);
		return 1;
	}
	if (check) {
		printf("%s: ok (host %s, base-dir %s, state-dir %s, %u slots, backy %s)\n", config,
		       cfg.host, cfg.base_dir, cfg.state_dir, cfg.slots, cfg.backy);
		bk_fleet_config_release(&cfg);
		return 0;
	}
	if (bk_fleet_run(config, &cfg, &err) < 0) {
		bk_error("%s", err.msg);
		return 1;
	}
	return 0;
}
