/* fm_core, the daemon's decisions (issue 21), driven with a fake clock and
 * fake sources: no loop, no socket, no sleep. The clock is the test's
 * `now`; a "source" is whatever the test writes into the staging set the
 * collect hook was given, finished when the test says so.
 *   (a) a collection in flight while a live source's fact changes: the
 *       evaluation never sees the collected source half restated, and no
 *       symptom is raised beside its cause;
 *   (b) a raise lands in the pass of its change (0 ms of the fake clock)
 *       while another diagnosis is in its hold;
 *   (c) new options (SIGHUP) during a collection apply without losing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_core.h"
#include "fmh_uplink.h"

#include <stdio.h>
#include <string.h>

#define WALL 1795000000 /* the rules' clock: 2026-11-18 */
#define API "https://127.0.0.1:6443"
#define ETCD "https://127.0.0.1:2379"

static const char *const kinds[] = {"etcd.", "apiserver.", NULL};

/* What the hooks saw. */
struct seen {
	struct fm_facts *staging; /* the collection in flight's */
	int collects;
	uint64_t now;		  /* the fake clock, as the test moves it */
	char log[64][96];	  /* "CHANGE CODE @MS" per change, in order */
	int n;
};

static void on_collect(void *arg, struct fm_facts *staging)
{
	struct seen *s = arg;
	s->staging = staging; /* finished later, by the test */
	s->collects++;
}

static void on_changes(void *arg, const cJSON *changes)
{
	struct seen *s = arg;
	const cJSON *c;
	cJSON_ArrayForEach(c, changes)
	{
		if (s->n < 64)
			snprintf(s->log[s->n++], sizeof(s->log[0]), "%s %s @%llu",
				 cJSON_GetObjectItem(c, "change")->valuestring, cJSON_GetObjectItem(c, "code")->valuestring,
				 (unsigned long long)s->now);
	}
}

static int64_t wall(void *arg)
{
	(void)arg;
	return WALL;
}

static bool logged(const struct seen *s, const char *line)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->log[i], line) == 0)
			return true;
	return false;
}

static bool logged_prefix(const struct seen *s, const char *prefix)
{
	for (int i = 0; i < s->n; i++)
		if (strncmp(s->log[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void dump(const struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		print_message("  %s\n", s->log[i]);
}

/* kubelet's line: kube-apiserver's container blocked (a live source's). */
static void put_conflict(struct fm_facts *f, int count)
{
	char line[600];
	snprintf(line, sizeof(line),
		 "{\"signal\":\"container-name-conflict\",\"severity\":\"critical\",\"source\":\"kubelet\",\"count\":%d,"
		 "\"last_us\":%lld,\"fields\":{\"name\":\"k8s_kube-apiserver_kube-apiserver-k1_kube-system_0f2a_24\","
		 "\"blocking_id\":\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\"}}",
		 count, (long long)WALL * 1000000);
	fmh_put_fact(f, "journal.match", "container-name-conflict.docker/eced", line);
}

struct rig {
	struct seen s;
	struct fm_facts *facts;
	struct fm_core *core;
};

/* The daemon's wiring, as run does it: the observer marks the facts. */
static void observe(void *arg, const cJSON *fact, bool dropped)
{
	(void)fact;
	(void)dropped;
	struct rig *r = arg;
	if (r->core)
		fm_core_fact_changed(r->core, r->s.now);
}

static void rig_up(struct rig *r, uint64_t collect_ms, uint64_t hold_ms)
{
	memset(r, 0, sizeof(*r));
	r->facts = fm_facts_new();
	struct fm_core_opts o = {.collect_ms = collect_ms, .collect_idle_ms = collect_ms * 6, .hold_ms = hold_ms};
	struct fm_core_hooks h = {.arg = &r->s, .collect = on_collect, .changes = on_changes, .wall_s = wall};
	r->core = fm_core_new(r->facts, &o, &h, 0);
	assert_non_null(r->core);
	fm_facts_observe(r->facts, observe, r);
}

static void rig_down(struct rig *r)
{
	fm_facts_observe(r->facts, NULL, NULL);
	fm_core_delete(&r->core);
	fm_facts_delete(&r->facts);
}

/* One loop pass at now: what is due, then the before-sleep evaluation. */
static void pass(struct rig *r, uint64_t now)
{
	r->s.now = now;
	if (fm_core_next_ms(r->core) && now >= fm_core_next_ms(r->core))
		fm_core_tick(r->core, now);
	fm_core_before_sleep(r->core, now);
}

/* (a) */
static void collection_in_flight_is_never_half_seen(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 1000, 30000);
	put_conflict(r.facts, 1);
	/* the first collection: etcd silent (timeout), 6443 refusing */
	pass(&r, 1);
	assert_int_equal(r.s.collects, 1);
	assert_true(fm_core_collecting(r.core));
	fmh_put_fact(r.s.staging, "etcd.endpoint", ETCD, "{\"state\":\"timeout\"}");
	fmh_put_fact(r.s.staging, "apiserver.endpoint", API, "{\"state\":\"refused\"}");
	r.s.now = 1100;
	fm_core_collected(r.core, r.s.staging, kinds, 1100);
	assert_true(logged(&r.s, "raised container-name-conflict @1"));
	assert_true(logged(&r.s, "raised etcd-unreachable @1100"));
	assert_true(logged(&r.s, "changed container-name-conflict @1100")); /* now explains the refusal */

	/* the second collection, in flight for 1.5 s: etcd restated first,
	 * the apiserver not yet, while kubelet's lines keep coming */
	pass(&r, 2100);
	assert_int_equal(r.s.collects, 2);
	fmh_put_fact(r.s.staging, "etcd.endpoint", ETCD, "{\"state\":\"timeout\"}");
	for (uint64_t t = 2150; t < 3600; t += 50) {
		put_conflict(r.facts, (int)t);
		pass(&r, t);
		/* what the diagnosis reads still holds the apiserver's refusal */
		assert_non_null(fm_facts_get(r.facts, "apiserver.endpoint", API));
		assert_true(fm_core_collecting(r.core));
	}
	fmh_put_fact(r.s.staging, "apiserver.endpoint", API, "{\"state\":\"refused\"}");
	r.s.now = 3600;
	fm_core_collected(r.core, r.s.staging, kinds, 3600);
	pass(&r, 3601);
	if (logged_prefix(&r.s, "raised apiserver-unreachable") || logged_prefix(&r.s, "resolved etcd-unreachable") ||
	    logged_prefix(&r.s, "resolved container-name-conflict")) {
		dump(&r.s);
		fail_msg("a symptom stood on its own, or a half-restated source resolved something");
	}
	/* the next collection is scheduled (the interval: something critical) */
	assert_int_equal(fm_core_next_ms(r.core), 3600 + 1000);
	rig_down(&r);
}

/* (b) */
static void raise_not_delayed_by_a_hold(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 10000, 30000);
	pass(&r, 1);
	fm_core_collected(r.core, r.s.staging, kinds, 1);
	/* a warning raised, then gone: it is held for 30 s */
	fmh_put_fact(r.facts, "hal.throttle", "firmware", "{\"undervoltage_since_boot\":true,\"raw\":\"0x50000\"}");
	pass(&r, 500);
	assert_true(logged(&r.s, "raised undervoltage @500"));
	fm_facts_remove(r.facts, "hal.throttle", "firmware");
	pass(&r, 1000);
	assert_false(logged_prefix(&r.s, "resolved undervoltage")); /* held */
	/* the conflict line arrives during the hold: raised in the same pass */
	put_conflict(r.facts, 1);
	pass(&r, 1010);
	if (!logged(&r.s, "raised container-name-conflict @1010")) {
		dump(&r.s);
		fail_msg("the raise did not land in the pass of its change");
	}
	assert_false(logged_prefix(&r.s, "resolved undervoltage"));
	/* the hold ends on its own instant, without any fact changing */
	r.s.staging = NULL;
	for (uint64_t t = 1020; t <= 31000; t += 1000) {
		pass(&r, t);
		if (r.s.staging) { /* collections meanwhile: nothing new */
			fm_core_collected(r.core, r.s.staging, kinds, t);
			r.s.staging = NULL;
		}
	}
	pass(&r, 31000);
	assert_true(logged(&r.s, "resolved undervoltage @31000") || logged(&r.s, "resolved undervoltage @31020"));
	rig_down(&r);
}

/* (c) */
static void sighup_during_a_collection(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 10000, 30000);
	pass(&r, 1);
	assert_true(fm_core_collecting(r.core));
	fmh_put_fact(r.s.staging, "apiserver.endpoint", API, "{\"state\":\"refused\"}");
	/* SIGHUP: every 5 s now, a 2 s hold */
	fm_core_set_opts(r.core, &(struct fm_core_opts){.collect_ms = 5000, .collect_idle_ms = 60000, .hold_ms = 2000}, 50);
	assert_true(fm_core_collecting(r.core)); /* still the same collection */
	assert_int_equal(fm_core_next_ms(r.core), 0);
	r.s.now = 900;
	fm_core_collected(r.core, r.s.staging, kinds, 900);
	/* its facts are the node's, and diagnosed */
	assert_non_null(fm_facts_get(r.facts, "apiserver.endpoint", API));
	assert_true(logged(&r.s, "raised apiserver-unreachable @900"));
	/* the new interval and hold apply */
	assert_int_equal(fm_core_collect_every(r.core), 5000);
	assert_int_equal(fm_core_next_ms(r.core), 900 + 5000);
	pass(&r, 5900);
	assert_int_equal(r.s.collects, 2);
	r.s.now = 6000;
	fm_core_collected(r.core, r.s.staging, kinds, 6000); /* 6443 answers now: nothing said of it */
	/* last seen at 900, absent at 6000: more than the new 2 s hold */
	assert_true(logged(&r.s, "resolved apiserver-unreachable @6000"));
	rig_down(&r);
}

/* Restating the same facts wakes nothing; a quiet node stretches its wait. */
static void quiet_collections_stretch(void **state)
{
	(void)state;
	struct rig r;
	rig_up(&r, 1000, 30000);
	uint64_t t = 1;
	uint64_t waits[5];
	for (int i = 0; i < 5; i++) {
		pass(&r, t);
		assert_true(fm_core_collecting(r.core));
		fmh_put_fact(r.s.staging, "etcd.endpoint", ETCD, "{\"state\":\"ok\"}");
		fm_core_collected(r.core, r.s.staging, kinds, t);
		waits[i] = fm_core_next_ms(r.core) - t;
		t = fm_core_next_ms(r.core);
	}
	assert_int_equal(waits[0], 2000); /* nothing to say: quiet from the first */
	assert_int_equal(waits[1], 4000);
	assert_int_equal(waits[2], 6000); /* capped at the idle interval */
	assert_int_equal(waits[4], 6000);
	assert_int_equal(r.s.n, 0);
	/* a live change cuts the wait back to the interval */
	r.s.now = t - 3000;
	put_conflict(r.facts, 1);
	assert_int_equal(fm_core_next_ms(r.core), t - 3000 + 1000);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(collection_in_flight_is_never_half_seen),
		cmocka_unit_test(raise_not_delayed_by_a_hold),
		cmocka_unit_test(sighup_during_a_collection),
		cmocka_unit_test(quiet_collections_stretch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
