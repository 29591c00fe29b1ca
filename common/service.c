/* service.c: sd_notify(3) for the daemons (see service.h). */
#include "service.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* STATE, then STATUS=... on a line of its own when STATUS is not NULL. */
static int notify(const char *state, const char *status)
{
	char msg[600];

	if (!*state && !status)
		return 0;
	if (status)
		snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", state, *state ? "\n" : "", status);
	else
		snprintf(msg, sizeof(msg), "%s", state);
	return sd_notify(0, msg);
}

void bk_service_init(struct bk_service *svc)
{
	uint64_t usec = 0;

	svc->ready = false;
	svc->stopping = false;
	svc->watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
	svc->watchdog_last = 0;
}

int bk_service_ready(struct bk_service *svc, const char *status)
{
	svc->ready = true;
	return notify("READY=1", status);
}

int bk_service_status(struct bk_service *svc, const char *status)
{
	(void)svc;
	return notify("", status);
}

int bk_service_reloading(struct bk_service *svc)
{
	char msg[64];

	if (!svc->ready)
		return 0;
	/* MONOTONIC_USEC: what Type=notify-reload (systemd 253) wants, harmless before */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)mono_usec());
	return sd_notify(0, msg);
}

int bk_service_reloaded(struct bk_service *svc, const char *status)
{
	if (!svc->ready)
		return 0;
	return notify("READY=1", status);
}

int bk_service_stopping(struct bk_service *svc)
{
	if (svc->stopping)
		return 0;
	svc->stopping = true;
	return notify("STOPPING=1", "stopping");
}

int bk_service_watchdog(struct bk_service *svc)
{
	uint64_t now;

	if (!svc->watchdog_usec)
		return 0;
	now = mono_usec();
	if (svc->watchdog_last && now - svc->watchdog_last < svc->watchdog_usec / 2)
		return 0;
	svc->watchdog_last = now;
	return sd_notify(0, "WATCHDOG=1");
}

int bk_service_wait_ms(const struct bk_service *svc, int ms)
{
	uint64_t due, now, left;

	if (!svc->watchdog_usec || !svc->watchdog_last)
		return ms;
	due = svc->watchdog_last + svc->watchdog_usec / 2;
	now = mono_usec();
	left = due > now ? (due - now) / 1000 : 0;
	if (left < 1)
		left = 1;
	return left < (uint64_t)ms ? (int)left : ms;
}
