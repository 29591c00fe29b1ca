/*
 * service.h: a daemon's side of systemd's service protocol (sd_notify(3)),
 * for units with Type=notify and WatchdogSec= (dist/systemd/).
 *
 * Every call is a no-op without NOTIFY_SOCKET (not started by systemd, or
 * a unit of another type), so the daemons call them unconditionally.  The
 * protocol, as the daemons use it:
 *
 *      start --> READY=1 (connected, topology in place) --+--> STOPPING=1
 *                  ^                                      |
 *                  +-- READY=1 <-- RELOADING=1 (SIGHUP) <-+
 *
 *   and WATCHDOG=1 every half of WATCHDOG_USEC from the main loop, so a
 *   hung main loop gets the daemon restarted.
 *
 * Library code: errors are returned (negative errno from sd_notify), never
 * logged; a daemon has nothing better to do with them than go on.
 */
#ifndef BK_SERVICE_H
#define BK_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct bk_service {
	uint64_t watchdog_usec; /* 0: no watchdog asked for */
	uint64_t watchdog_last; /* CLOCK_MONOTONIC, usec, of the last ping */
	bool ready;             /* READY=1 was sent */
	bool stopping;          /* STOPPING=1 was sent */
};

/* Read the watchdog interval (WATCHDOG_USEC, WATCHDOG_PID) into SVC. */
void bk_service_init(struct bk_service *svc);

/* READY=1 with STATUS (a line for `systemctl status`; NULL: none). */
int bk_service_ready(struct bk_service *svc, const char *status);

/* STATUS only: what the daemon is doing (waiting for the broker ...). */
int bk_service_status(struct bk_service *svc, const char *status);

/*
 * RELOADING=1 (with MONOTONIC_USEC) before a reload, and READY=1 with STATUS
 * after it, whether the new config was taken or not.  Both are no-ops before
 * the first READY=1: a reload during start-up ends in the start-up's READY.
 */
int bk_service_reloading(struct bk_service *svc);
int bk_service_reloaded(struct bk_service *svc, const char *status);

/* STOPPING=1, once. */
int bk_service_stopping(struct bk_service *svc);

/* WATCHDOG=1 if half the watchdog interval passed since the last ping. */
int bk_service_watchdog(struct bk_service *svc);

/*
 * MS, or less if the next ping is due sooner: how long a main loop may wait
 * before it calls bk_service_watchdog() again (at least 1 ms).
 */
int bk_service_wait_ms(const struct bk_service *svc, int ms);

#endif
