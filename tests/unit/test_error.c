/*
 * test_error.c: errors (common/error.c): the first error wins and the transient column
 * of the error table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

/* --- error --------------------------------------------------------------- */

static void test_err_keeps_the_first_error(void **state)
{
	struct bk_err err = {0};

	(void)state;
	assert_int_equal(bk_err_set(&err, BK_ECONFIG, "first %d", 1), BK_ECONFIG);
	assert_int_equal(bk_err_set(&err, BK_ECORRUPT, "second"), BK_ECORRUPT);
	assert_int_equal(err.code, BK_ECONFIG);
	assert_string_equal(err.msg, "first 1");
	bk_err_clear(&err);
	assert_int_equal(bk_err_sys(&err, -2, "unable to open '%s'", "x"), -2);
	assert_string_equal(err.msg, "unable to open 'x': No such file or directory");
	assert_string_equal(bk_err_msg(&err, -2), err.msg);
	assert_string_equal(bk_err_msg(NULL, BK_ELOCKED), "operation already in progress");
	assert_string_equal(bk_strerror(BK_EVERIFY), "verification failed");
	assert_int_equal(bk_err_set(NULL, BK_EUSAGE, "ignored"), BK_EUSAGE);
}

static void test_error_transient_column(void **state)
{
	static const char *const transient[] = {"BK_ELOCKED", "BK_ESOURCE", "BK_EMQ", "EINTR",
						"EAGAIN", "ETIMEDOUT", "ENOSPC", "EIO"};
	static const char *const permanent[] = {"BK_EUSAGE", "BK_ECONFIG", "BK_ECORRUPT",
						"BK_ESPEC", "BK_ENOREV", "BK_EVERIFY", "BK_ETAG",
						"BK_EPROTO", "BK_EVERSION", "BK_EDENIED", "ENOENT",
						"EACCES", "EUNKNOWN", "", "eio", "EIO "};

	(void)state;
	assert_true(bk_error_transient(BK_ELOCKED));
	assert_true(bk_error_transient(BK_ESOURCE));
	assert_true(bk_error_transient(BK_EMQ));
	assert_true(bk_error_transient(-EIO));
	assert_true(bk_error_transient(-ENOSPC));
	assert_true(bk_error_transient(-EAGAIN));
	assert_true(bk_error_transient(-ETIMEDOUT));
	assert_true(bk_error_transient(-EINTR));
	assert_false(bk_error_transient(BK_ECORRUPT));
	assert_false(bk_error_transient(BK_EDENIED));
	assert_false(bk_error_transient(-ENOENT));
	assert_false(bk_error_transient(0));
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		assert_true(bk_error_name_transient(transient[i]));
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
		assert_false(bk_error_name_transient(permanent[i]));
	assert_false(bk_error_name_transient(NULL));
	/* the code and its wire name agree */
	for (int code = -1012; code <= -1000; code++)
		assert_int_equal(bk_error_transient(code),
				 bk_error_name_transient(bk_error_name(code)));
	for (int e = 1; e < 134; e++)
		assert_int_equal(bk_error_transient(-e), bk_error_name_transient(bk_error_name(-e)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_keeps_the_first_error),
		cmocka_unit_test(test_error_transient_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
