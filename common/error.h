/*
 * error.h: one error space for all of backy.
 *
 * Fallible functions return int: 0 on success, a negative errno value for
 * system errors, or one of the negative BK_E* project codes below.  Where a
 * caller needs more than a code (which file, which line, which revision),
 * the function also fills a struct bk_err supplied by the caller; library
 * code never logs, the program that called it logs err.msg once.
 */
#ifndef BK_ERROR_H
#define BK_ERROR_H

#include <stdbool.h>

/*
 * The project codes: name, value, text, and whether the failure is
 * transient (retrying later may succeed: a lock held by another run, a
 * source or broker that is away) or permanent (retrying changes nothing).
 */
#define BK_ERRORS(X)                                                               \
	X(BK_EUSAGE, -1000, "invalid usage", false)                                 \
	X(BK_ECONFIG, -1001, "invalid configuration", false)                        \
	X(BK_ECORRUPT, -1002, "corrupt metadata", false)                            \
	X(BK_ESPEC, -1003, "invalid revision specification", false)                 \
	X(BK_ENOREV, -1004, "no such revision", false)                              \
	X(BK_ELOCKED, -1005, "operation already in progress", true)                 \
	X(BK_EVERIFY, -1006, "verification failed", false)                          \
	X(BK_ESOURCE, -1007, "source failed", true)                                 \
	X(BK_ETAG, -1008, "invalid tag", false)                                     \
	X(BK_EPROTO, -1009, "invalid message", false)                               \
	X(BK_EVERSION, -1010, "unsupported message version", false)                 \
	X(BK_EMQ, -1011, "message broker unavailable", true)                        \
	X(BK_EDENIED, -1012, "refused by this host's policy", false)

/* The system errors that are transient (interrupted, busy, out of space or time, I/O). */
#define BK_ERRNO_TRANSIENT(X) X(EINTR) X(EAGAIN) X(ETIMEDOUT) X(ENOSPC) X(EIO)

enum bk_error {
#define BK_ERR_ENUM(name, value, text, transient) name = value,
	BK_ERRORS(BK_ERR_ENUM)
#undef BK_ERR_ENUM
};

/* A code plus a human readable message ("unable to open 'x': No such file"). */
struct bk_err {
	int code;
	char msg[1024];
};

/* Text for a code: strerror() for negative errno values, the table above otherwise. */
const char *bk_strerror(int code);

/* Symbolic name for a code: "BK_ELOCKED", "ENOSPC", ... ("EUNKNOWN" if none). */
const char *bk_error_name(int code);

/*
 * Whether a failure with CODE may go away by itself, so the job is worth
 * retrying later (the column of BK_ERRORS, BK_ERRNO_TRANSIENT for errno values).
 */
bool bk_error_transient(int code);

/*
 * The same for a wire name as bk_error_name() writes it ("BK_ELOCKED",
 * "EIO"); unknown names (and NULL) are permanent.
 */
bool bk_error_name_transient(const char *name);

/*
 * Record CODE and a printf-style message in ERR (which may be NULL) and
 * return CODE, so callers can write `return bk_err_set(err, -errno, ...)`.
 * Only the first error is kept: later calls do not overwrite it.
 */
int bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like bk_err_set, with ": <bk_strerror(code)>" appended. */
int bk_err_sys(struct bk_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void bk_err_clear(struct bk_err *err);

/* The message of ERR, or bk_strerror(CODE) when none was recorded. */
const char *bk_err_msg(const struct bk_err *err, int code);

#endif
