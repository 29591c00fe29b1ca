/* error.c: error codes and messages (see error.h). */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *bk_strerror(int code)
{
	switch (code) {
#define BK_ERR_CASE(name, value, text, transient) \
	case name:                     \
		return text;
		BK_ERRORS(BK_ERR_CASE)
#undef BK_ERR_CASE
	}
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}

const char *bk_error_name(int code)
{
	const char *name;

	switch (code) {
#define BK_ERR_NAME(name, value, text, transient) \
	case name:                     \
		return #name;
		BK_ERRORS(BK_ERR_NAME)
#undef BK_ERR_NAME
	}
	name = code < 0 && code > -4096 ? strerrorname_np(-code) : NULL;
	return name ? name : "EUNKNOWN";
}

bool bk_error_transient(int code)
{
	switch (code) {
#define BK_ERR_TRANSIENT(name, value, text, transient) \
	case name:                                     \
		return transient;
		BK_ERRORS(BK_ERR_TRANSIENT)
#undef BK_ERR_TRANSIENT
#define BK_ERRNO_CASE(e) case -e:
		BK_ERRNO_TRANSIENT(BK_ERRNO_CASE)
#undef BK_ERRNO_CASE
		return true;
	}
	return false;
}

bool bk_error_name_transient(const char *name)
{
	static const char *const transient[] = {
#define BK_ERR_TNAME(name, value, text, transient) transient ? #name : NULL,
		BK_ERRORS(BK_ERR_TNAME)
#undef BK_ERR_TNAME
#define BK_ERRNO_NAME(e) #e,
		BK_ERRNO_TRANSIENT(BK_ERRNO_NAME)
#undef BK_ERRNO_NAME
	};

	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (transient[i] && strcmp(name, transient[i]) == 0)
			return true;
	return false;
}

__attribute__((format(printf, 4, 0))) static int err_vset(struct bk_err *err, int code, bool sys,
						     const char *fmt, va_list ap)
{
	size_t len;

	if (!err || err->code)
		return code;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (sys) {
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", bk_strerror(code));
	}
	return code;
}

int bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, false, fmt, ap);
	va_end(ap);
	return code;
}

int bk_err_sys(struct bk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, true, fmt, ap);
	va_end(ap);
	return code;
}

void bk_err_clear(struct bk_err *err)
{
	err->code = 0;
	err->msg[0] = '\0';
}

const char *bk_err_msg(const struct bk_err *err, int code)
{
	if (err && err->code && err->msg[0])
		return err->msg;
	return bk_strerror(code);
}
