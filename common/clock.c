/* clock.c: current time with the BACKY_NOW seam; ISO 8601 parsing (see clock.h). */
#include "clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t fixed_now;
static bool fixed;

int bk_clock_init(struct bk_err *err)
{
	const char *s = getenv("BACKY_NOW");
	int64_t t;

	if (!s || !*s)
		return 0;
	if (bk_time_parse(s, &t) < 0)
		return bk_err_set(err, BK_EUSAGE, "invalid BACKY_NOW '%s': expected an ISO 8601 UTC time", s);
	fixed_now = t;
	fixed = true;
	return 0;
}

void bk_clock_set(int64_t t)
{
	fixed_now = t;
	fixed = t != 0;
}

int64_t bk_now(void)
{
	struct timespec ts;

	if (fixed)
		return fixed_now;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * BK_USEC + ts.tv_nsec / 1000;
}

int64_t bk_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * BK_USEC + ts.tv_nsec / 1000;
}

/* Read exactly N digits from *P. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	int64_t yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int bk_time_parse(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	int64_t usec = 0;
	int sign = 0;
	const char *p = s;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return BK_EUSAGE;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return BK_EUSAGE;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return BK_EUSAGE;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return BK_EUSAGE;
			if (*p == '.') {
				int64_t scale = 100000;

				p++;
				if (*p < '0' || *p > '9')
					return BK_EUSAGE;
				for (; *p >= '0' && *p <= '9'; p++) {
					usec += (*p - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return BK_EUSAGE;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh))
			return BK_EUSAGE;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			return BK_EUSAGE;
	}
	if (*p)
		return BK_EUSAGE;
	*out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
		sign * (oh * 3600 + om * 60)) * BK_USEC + usec;
	return 0;
}

void bk_time_format(int64_t t, char *buf, size_t size, enum bk_time_style style)
{
	int64_t secs = t >= 0 ? t / BK_USEC : -((-t + BK_USEC - 1) / BK_USEC);
	int64_t usec = t - secs * BK_USEC;
	time_t tt = (time_t)secs;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (style == BK_TIME_DISPLAY)
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long long)usec);
}

void bk_duration_format(double seconds, char *buf, size_t size)
{
	long long s = (long long)(seconds + 0.5);

	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %02llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
}
