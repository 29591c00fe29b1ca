/*
 * clock.h: the one clock seam, and UTC time parsing and formatting.
 *
 * Times are int64_t microseconds since the Unix epoch, UTC.  Every binary
 * honours BACKY_NOW (an ISO 8601 UTC time) as the current time, for tests
 * and drills; bk_clock_init() validates it once at start-up.
 */
#ifndef BK_CLOCK_H
#define BK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BK_USEC 1000000LL

/* 0001-01-01T00:00:00Z in Unix seconds: the schedule epoch (a Monday). */
#define BK_EPOCH_0001 (-62135596800LL)

int bk_clock_init(struct bk_err *err);

/* Current time in microseconds (BACKY_NOW when set). */
int64_t bk_now(void);

/* Monotonic microseconds, for durations; ignores BACKY_NOW. */
int64_t bk_monotonic(void);

/* Test seam: make bk_now() return T (0 restores the real clock). */
void bk_clock_set(int64_t t);

/*
 * Parse an ISO 8601 UTC time: YYYY-MM-DD, optionally followed by 'T' or ' '
 * and HH:MM[:SS[.ffffff]], optionally followed by Z, +00:00 or another
 * numeric offset (converted to UTC).  Returns 0 or BK_EUSAGE.
 */
int bk_time_parse(const char *s, int64_t *out);

enum bk_time_style {
	BK_TIME_ISO,     /* 2026-11-26T12:00:00.123456+00:00 (metadata) */
	BK_TIME_DISPLAY, /* 2026-11-26 12:00:00 (tables) */
};

void bk_time_format(int64_t t, char *buf, size_t size, enum bk_time_style style);

/* "1h 3m" style rendering of a duration in seconds, for humans. */
void bk_duration_format(double seconds, char *buf, size_t size);

#endif
