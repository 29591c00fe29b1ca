/*
 * test_strv.c: sorted string sets (common/strv.c): add, remove, split, join, equal,
 * copy and merge.
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

#include "buf.h"
#include "error.h"
#include "strv.h"

/* --- strv ---------------------------------------------------------------- */

static void assert_strv(const struct bk_strv *s, const char *joined)
{
	struct bk_buf b;

	bk_buf_init(&b);
	bk_strv_join(s, "|", &b);
	assert_string_equal(b.p, joined);
	bk_buf_release(&b);
}

static void test_strv_add_keeps_sorted_unique(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_add(&s, "weekly");
	bk_strv_add(&s, "daily");
	bk_strv_add(&s, "monthly");
	bk_strv_add(&s, "daily");
	bk_strv_add(&s, "Z");
	bk_strv_add(&s, "manual:x");
	assert_int_equal(s.n, 5);
	assert_strv(&s, "Z|daily|manual:x|monthly|weekly");
	assert_true(bk_strv_has(&s, "monthly"));
	assert_false(bk_strv_has(&s, "month"));
	bk_strv_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	bk_strv_release(&s); /* twice is fine */
}

static void test_strv_remove(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_split(&s, "a,b,c,d");
	assert_true(bk_strv_remove(&s, "b"));
	assert_strv(&s, "a|c|d");
	assert_false(bk_strv_remove(&s, "b"));
	assert_false(bk_strv_remove(&s, "x"));
	assert_true(bk_strv_remove(&s, "d"));
	assert_true(bk_strv_remove(&s, "a"));
	assert_strv(&s, "c");
	assert_true(bk_strv_remove(&s, "c"));
	assert_int_equal(s.n, 0);
	assert_false(bk_strv_remove(&s, "c"));
	bk_strv_release(&s);
}

static void test_strv_split_trims_and_skips_empty_items(void **state)
{
	struct bk_strv s = BK_STRV_INIT;

	(void)state;
	bk_strv_split(&s, " weekly , daily,,\tmonthly\t,, ,");
	assert_strv(&s, "daily|monthly|weekly");
	bk_strv_release(&s);
	bk_strv_split(&s, "");
	assert_int_equal(s.n, 0);
	bk_strv_split(&s, ",,, ,");
	assert_int_equal(s.n, 0);
	bk_strv_split(&s, "b,a,b");
	assert_strv(&s, "a|b");
	bk_strv_split(&s, "c"); /* adds to what is there */
	assert_strv(&s, "a|b|c");
	bk_strv_release(&s);
	bk_strv_split(&s, "two words, x");
	assert_strv(&s, "two words|x");
	bk_strv_release(&s);
}

static void test_strv_join_equal_copy_merge(void **state)
{
	struct bk_strv a = BK_STRV_INIT, b = BK_STRV_INIT, c = BK_STRV_INIT;
	struct bk_buf out;

	(void)state;
	bk_buf_init(&out);
	bk_strv_join(&a, ", ", &out);
	assert_string_equal(out.p, "");
	bk_strv_split(&a, "x,y,z");
	bk_strv_join(&a, ", ", &out);
	assert_string_equal(out.p, "x, y, z");

	bk_strv_split(&b, "z,x,y");
	assert_true(bk_strv_equal(&a, &b));
	bk_strv_remove(&b, "y");
	assert_false(bk_strv_equal(&a, &b));
	bk_strv_add(&b, "w");
	assert_false(bk_strv_equal(&a, &b)); /* same size, other member */
	assert_true(bk_strv_equal(&c, &c));

	bk_strv_add(&c, "old");
	bk_strv_copy(&c, &a);
	assert_true(bk_strv_equal(&c, &a));
	assert_ptr_not_equal(c.v[0], a.v[0]);
	bk_strv_merge(&c, &b);
	assert_strv(&c, "w|x|y|z");
	bk_strv_release(&a);
	bk_strv_release(&b);
	bk_strv_release(&c);
	bk_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strv_add_keeps_sorted_unique),
		cmocka_unit_test(test_strv_remove),
		cmocka_unit_test(test_strv_split_trims_and_skips_empty_items),
		cmocka_unit_test(test_strv_join_equal_copy_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
