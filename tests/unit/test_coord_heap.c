/* test_coord_heap.c: the coordinator's indexed min-heap against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heap.h"

#define N 2000

static void test_heap_pops_in_key_order_after_random_updates(void **state)
{
	struct co_heap h;
	int64_t ref[N];
	bool in[N];
	int64_t key, last = INT64_MIN;
	uint32_t id;
	size_t count = 0;

	(void)state;
	srand(42);
	co_heap_init(&h);
	memset(in, 0, sizeof(in));
	for (int round = 0; round < 20000; round++) {
		uint32_t i = (uint32_t)(rand() % N);
		int op = rand() % 3;

		if (op < 2) {
			ref[i] = rand() % 100000;
			co_heap_set(&h, i, ref[i]);
			in[i] = true;
		} else {
			assert_int_equal(co_heap_remove(&h, i), in[i]);
			in[i] = false;
		}
		assert_int_equal(co_heap_has(&h, i), in[i]);
		if (in[i])
			assert_int_equal(co_heap_key(&h, i), ref[i]);
	}
	for (uint32_t i = 0; i < N; i++)
		count += in[i];
	assert_int_equal(h.n, count);
	while (co_heap_pop(&h, &key, &id)) {
		assert_true(in[id]);
		assert_int_equal(key, ref[id]);
		assert_true(key >= last);
		last = key;
		in[id] = false;
	}
	for (uint32_t i = 0; i < N; i++)
		assert_false(in[i]);
	co_heap_release(&h);
}

static void test_heap_peek_is_the_minimum_and_empty_heap_says_so(void **state)
{
	struct co_heap h;
	int64_t key;
	uint32_t id;

	(void)state;
	co_heap_init(&h);
	assert_false(co_heap_peek(&h, &key, &id));
	assert_false(co_heap_pop(&h, &key, &id));
	assert_false(co_heap_remove(&h, 7));
	co_heap_set(&h, 7, 50);
	co_heap_set(&h, 3, 60);
	co_heap_set(&h, 100000, 40);
	assert_true(co_heap_peek(&h, &key, &id));
	assert_int_equal(id, 100000);
	co_heap_set(&h, 3, 10); /* decrease */
	assert_true(co_heap_peek(&h, &key, &id));
	assert_int_equal(id, 3);
	co_heap_set(&h, 3, 99); /* increase */
	assert_true(co_heap_peek(&h, &key, &id));
	assert_int_equal(id, 100000);
	assert_int_equal(key, 40);
	co_heap_release(&h);
}

static void test_heap_equal_keys_pop_by_id(void **state)
{
	struct co_heap h;
	int64_t key;
	uint32_t id;

	(void)state;
	co_heap_init(&h);
	for (uint32_t i = 10; i-- > 0;)
		co_heap_set(&h, i, 5);
	for (uint32_t i = 0; i < 10; i++) {
		assert_true(co_heap_pop(&h, &key, &id));
		assert_int_equal(id, i);
	}
	co_heap_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_pops_in_key_order_after_random_updates),
		cmocka_unit_test(test_heap_peek_is_the_minimum_and_empty_heap_says_so),
		cmocka_unit_test(test_heap_equal_keys_pop_by_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
