/*
 * backyctl.h: the parts of backyctl (backyctl.c) in files of their own.
 */
#ifndef CO_BACKYCTL_H
#define CO_BACKYCTL_H

#include <stdbool.h>

#include "mq.h"

/*
 * `backyctl watch`: print the results published on backy.results that
 * match BINDING ("#": all), one line each (JSON: the message as published),
 * until SIGINT/SIGTERM or COUNT results (0: no limit).  Connects with MC,
 * whose user must be a dashboard's (backyctl_watch.c).  Exit code.
 */
int backyctl_watch(const struct bk_mq_config *mc, const char *binding, bool json, long count);

#endif
