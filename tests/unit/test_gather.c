/* fm_gather: jobs run side by side in children (proved by a rendezvous);
 * their facts come back; a job that overruns the deadline or dies is named
 * in "check.incomplete". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_gather.h"

#include <cjson/cJSON.h>
#include <poll.h>
#include <stdbool.h>
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

/* Side by side, proved: each job says it has arrived and then waits for
 * the word to go, which the test gives only once all three have arrived.
 * Jobs run one after another would each wait alone until their own
 * deadline and say so. */
static int arrive[2], go[2];

static int rendezvous(struct fm_loop *loop, struct fm_facts *facts, void *arg)
{
	(void)loop;
	char b = 1;
	struct pollfd p = {.fd = go[0], .events = POLLIN};
	bool together = write(arrive[1], &b, 1) == 1 && poll(&p, 1, 5000) == 1 && read(go[0], &b, 1) == 1;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddBoolToObject(f, "together", together);
	fm_facts_put(facts, "etcd.endpoint", arg, f);
	return 0;
}

static void jobs_run_side_by_side(void **state)
{
	(void)state;
	struct fm_facts *f = fm_facts_new();
	const char *names[] = {"a", "b", "c"};
	struct fm_gather_job jobs[3];
	assert_int_equal(pipe(arrive), 0);
	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < 3; i++)
		jobs[i] = (struct fm_gather_job){.name = names[i], .fn = rendezvous, .arg = (void *)names[i]};
	assert_int_equal(fm_gather_start(jobs, 3), 0);
	for (int n = 0; n < 3; n++) {
		char b;
		struct pollfd p = {.fd = arrive[0], .events = POLLIN};
		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(read(arrive[0], &b, 1), 1);
	}
	assert_int_equal(write(go[1], "\1\1\1", 3), 3);
	assert_int_equal(fm_gather_finish(jobs, 3, 10000, f), 0);
	for (int i = 0; i < 3; i++) {
		const cJSON *e = fm_facts_get(f, "etcd.endpoint", names[i]);
		assert_non_null(e);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "together")));
	}
	close(arrive[0]);
	close(arrive[1]);
	close(go[0]);
	close(go[1]);
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
		cmocka_unit_test(jobs_run_side_by_side),
		cmocka_unit_test(overrun_and_death_are_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
