/* fm_gather: jobs run side by side in children; their facts come back; a
 * job that overruns the deadline or dies is named in "check.incomplete". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_gather.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int put_two(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	(void)loop;
	const char *name = arg;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "state", "ok");
	cJSON_AddNumberToObject(f, "pid_differs", getpid() != getppid() ? 1 : 0);
	fm_facts_put(facts, "etcd.endpoint", name, f);
	fm_facts_put(facts, "etcd.version", name, cJSON_CreateObject());
	return 0;
}

static int sleeper(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	(void)loop;
	(void)arg;
	fm_facts_put(facts, "etcd.endpoint", "slow", cJSON_CreateObject());
	sleep(30); /* killed at the deadline */
	return 0;
}

static int crasher(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	(void)loop;
	(void)facts;
	(void)arg;
	_exit(3);
}

static uint64_t ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void facts_come_back(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	struct fm_gather_job jobs[] = {
		{.name = "a", .fn = put_two, .arg = "a"},
		{.name = "b", .fn = put_two, .arg = "b"},
	};
	assert_int_equal(fm_gather_start(jobs, 2), 0);
	assert_int_equal(fm_gather_finish(jobs, 2, 10000, f), 0);
	assert_int_equal(fm_facts_count(f), 4);
	const cJSON *a = fm_facts_get(f, "etcd.endpoint", "a");
	assert_non_null(a);
	assert_string_equal(cJSON_GetObjectItem(a, "state")->valuestring, "ok");
	assert_string_equal(cJSON_GetObjectItem(a, "kind")->valuestring, "etcd.endpoint");
	assert_non_null(fm_facts_get(f, "etcd.version", "b"));
	assert_null(fm_facts_get(f, "check.incomplete", "a"));
	fm_facts_delete(&f);
}

static void overrun_and_death_are_named(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	struct fm_gather_job jobs[] = {
		{.name = "slow", .fn = sleeper},
		{.name = "dead", .fn = crasher},
		{.name = "fine", .fn = put_two, .arg = "fine"},
	};
	uint64_t t0 = ms();
	assert_int_equal(fm_gather_start(jobs, 3), 0);
	assert_int_equal(fm_gather_finish(jobs, 3, 300, f), 2);
	/* The sleeper was killed at the deadline, not waited for (30 s). */
	assert_true(ms() - t0 < 10000);
	const cJSON *slow = fm_facts_get(f, "check.incomplete", "slow");
	assert_non_null(slow);
	assert_non_null(strstr(cJSON_GetObjectItem(slow, "reason")->valuestring, "within 300 ms"));
	assert_null(fm_facts_get(f, "etcd.endpoint", "slow"));
	const cJSON *dead = fm_facts_get(f, "check.incomplete", "dead");
	assert_non_null(dead);
	assert_non_null(strstr(cJSON_GetObjectItem(dead, "reason")->valuestring, "exit status 3"));
	assert_non_null(fm_facts_get(f, "etcd.endpoint", "fine"));
	fm_facts_delete(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(facts_come_back),
		cmocka_unit_test(overrun_and_death_are_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
