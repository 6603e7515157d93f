/* Issue 24, Must show 1: a real Prometheus (Debian's prometheus) scrapes a
 * real `fleetmedic-controller serve --http` on loopback every second; the
 * incident-1 report (from an independent CoAP/DTLS client) is in
 * Prometheus's own query API by the second scrape after the report, and
 * gone by the second scrape after its resolve (the series goes stale).
 * "Within two scrape intervals" is shown on Prometheus's own count of its
 * scrapes, not on a clock: the test waits for two more scrapes, then asks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INCIDENT1_KEY "k8s_kube-apiserver_k~97304528"
#define SCRAPES "count_over_time(up{job=\"fleetmedic\"}[1h])"
#define CONFLICT "fleetmedic_diagnosis{code=\"container-name-conflict\"}"

static struct fmh_controller ctl;
static struct fmh_prometheus prom;

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_controller_start_http(&ctl, false) < 0)
		return -1;
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%d", ctl.http_port);
	return fmh_prometheus_start(&prom, target, 1) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_cleanup();
	return 0;
}

static void post(const char *path, const char *payload)
{
	if (fmh_post(&ctl, FMH_NODE_A, FMH_KEY_A, path, payload) < 0)
		fail_msg("POST /%s was not taken", path);
}

/* Waits until Prometheus has scraped the controller `more` times after
 * now (its own count); fails after a generous deadline. */
static void scrapes(int more)
{
	double c0 = fmh_prometheus_value(&prom, SCRAPES);
	uint64_t t0 = fm_now_ms();
	while (fmh_prometheus_value(&prom, SCRAPES) < c0 + more) {
		if (fm_now_ms() - t0 > 60000)
			fail_msg("Prometheus did not scrape %d more times in 60 s (its log: %s)", more, prom.log);
		usleep(100000);
	}
}

static void incident1_in_prometheus(void **state)
{
	(void)state;
	/* the target is up before anything is reported */
	uint64_t t0 = fm_now_ms();
	while (fmh_prometheus_value(&prom, "up{job=\"fleetmedic\"}") != 1) {
		if (fm_now_ms() - t0 > 60000)
			fail_msg("Prometheus never scraped the controller (its log: %s)", prom.log);
		usleep(100000);
	}
	cJSON *none = fmh_prometheus_query(&prom, CONFLICT);
	assert_non_null(none);
	assert_int_equal(cJSON_GetArraySize(none), 0);
	cJSON_Delete(none);

	post("hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}");
	post("rp", "{\"q\":1,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","
		   "\"m\":\"kube-apiserver blocked: name held by 0f2a9c1e77d3 (running)\","
		   "\"p\":\"kube-apiserver\",\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}]}");
	scrapes(2);
	cJSON *r = fmh_prometheus_query(&prom, CONFLICT);
	assert_non_null(r);
	if (cJSON_GetArraySize(r) != 1) {
		char *t = cJSON_PrintUnformatted(r);
		fail_msg("by the second scrape after the report, Prometheus has %s", t);
	}
	const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "metric");
	assert_string_equal(fmh_jstr(m, "node"), FMH_NODE_A);
	assert_string_equal(fmh_jstr(m, "severity"), "critical");
	assert_string_equal(fmh_jstr(m, "job"), "fleetmedic");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 0), "value"), 1)),
			    "1");
	cJSON_Delete(r);
	assert_true(fmh_prometheus_value(&prom, "fleetmedic_node_up{node=\"" FMH_NODE_A "\"}") == 1);
	assert_true(fmh_prometheus_value(&prom, "fleetmedic_controller_reports_total") >= 1);

	/* resolved: the series goes stale */
	post("rp", "{\"q\":2,\"r\":[[\"container-name-conflict\",\"" INCIDENT1_KEY "\"]]}");
	scrapes(2);
	r = fmh_prometheus_query(&prom, CONFLICT);
	assert_non_null(r);
	assert_int_equal(cJSON_GetArraySize(r), 0);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(incident1_in_prometheus),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
