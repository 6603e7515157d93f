/* Issue 24, Must show 2: a real Alertmanager (Debian's
 * prometheus-alertmanager) receives the incident-1 alert from a real
 * `fleetmedic-controller serve --alertmanager`, with its labels and
 * annotations; the fix resolves it; Alertmanager stopped for a minute loses
 * nothing: what was raised meanwhile, and what stood, arrive after its
 * restart, and what was resolved meanwhile does not come back; a node gone
 * silent is one node-unreachable alert instead. Reports come
 * from an independent CoAP/DTLS client (coap-client-openssl). */
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
#define CONFLICT                                                                                                  \
	"{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","                                 \
	"\"m\":\"kube-apiserver blocked: name held by 0f2a9c1e77d3 (running)\",\"p\":\"kube-apiserver\","          \
	"\"f\":[\"docker ps -a --filter name=k8s_kube-apiserver\",\"docker rm 8470235abd66 5c0e4b1d2a90\"]}"
#define CLOCK "{\"c\":\"clock-unsynced\",\"s\":2,\"k\":\"clock\",\"m\":\"the clock is not synchronised\",\"f\":[\"timedatectl set-ntp true\"]}"
#define DISK "{\"c\":\"disk-pressure\",\"s\":2,\"k\":\"/var/lib/etcd\",\"m\":\"/var/lib/etcd is nearly full\",\"f\":[\"du -xsh /var/lib/etcd\"]}"

static struct fmh_controller ctl;
static struct fmh_alertmanager am;

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_alertmanager_start(&am) < 0)
		return -1;
	const char *extra[] = {"--alertmanager", am.url, "--alert-resend", "2s", NULL};
	return fmh_controller_start_with(&ctl, false, false, extra) < 0 ? -1 : 0;
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

/* Alertmanager's alert of code on our node, a copy (NULL: none). */
static cJSON *alert_of(const char *code)
{
	cJSON *all = fmh_alertmanager_alerts(&am), *found = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, all)
	{
		const cJSON *l = cJSON_GetObjectItem(a, "labels");
		if (fmh_jstr(l, "code") && strcmp(fmh_jstr(l, "code"), code) == 0 &&
		    strcmp(fmh_jstr(l, "node"), FMH_NODE_A) == 0)
			found = cJSON_Duplicate(a, 1);
	}
	cJSON_Delete(all);
	return found;
}

/* Waits until Alertmanager shows (want) or no longer shows (!want) code. */
static void wait_alert(const char *code, bool want)
{
	uint64_t t0 = fm_now_ms();
	for (;;) {
		cJSON *a = alert_of(code);
		bool there = a != NULL;
		cJSON_Delete(a);
		if (there == want)
			return;
		if (fm_now_ms() - t0 > 30000)
			fail_msg("Alertmanager %s %s after 30 s (serve's log: %s)", want ? "never showed" : "still shows", code,
				 ctl.log);
		usleep(100000);
	}
}

static void incident1_alert(void **state)
{
	(void)state;
	post("hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}");
	post("rp", "{\"q\":1,\"d\":[" CONFLICT "]}");
	wait_alert("container-name-conflict", true);
	cJSON *a = alert_of("container-name-conflict");
	const cJSON *l = cJSON_GetObjectItem(a, "labels"), *an = cJSON_GetObjectItem(a, "annotations");
	assert_string_equal(fmh_jstr(l, "alertname"), "fleetmedic");
	assert_string_equal(fmh_jstr(l, "severity"), "critical");
	assert_string_equal(fmh_jstr(an, "summary"), "kube-apiserver blocked: name held by 0f2a9c1e77d3 (running)");
	assert_string_equal(fmh_jstr(an, "remedy"),
			    "docker ps -a --filter name=k8s_kube-apiserver\ndocker rm 8470235abd66 5c0e4b1d2a90");
	assert_string_equal(fmh_jstr(cJSON_GetObjectItem(a, "status"), "state"), "active");
	cJSON_Delete(a);

	/* the fix: resolved at Alertmanager */
	post("rp", "{\"q\":2,\"r\":[[\"container-name-conflict\",\"" INCIDENT1_KEY "\"]]}");
	wait_alert("container-name-conflict", false);
}

/* Alertmanager down for a minute: nothing lost. */
static void outage_loses_nothing(void **state)
{
	(void)state;
	post("rp", "{\"q\":3,\"d\":[" CLOCK "," DISK "]}");
	wait_alert("clock-unsynced", true);
	wait_alert("disk-pressure", true);
	assert_int_equal(fmh_stop(am.pid), 0);
	uint64_t down = fm_now_ms();
	/* meanwhile: the conflict again, the disk resolved */
	post("rp", "{\"q\":4,\"d\":[" CONFLICT "],\"r\":[[\"disk-pressure\",\"/var/lib/etcd\"]]}");
	if (fmh_wait_log_pid(ctl.log, "alerts not delivered", ctl.pid, 30000) < 0)
		fail_msg("serve never said Alertmanager did not take its alerts (%s)", ctl.log);
	while (fm_now_ms() - down < 60000)
		usleep(200000);
	assert_int_equal(fmh_alertmanager_start(&am), 0);
	wait_alert("container-name-conflict", true);
	wait_alert("clock-unsynced", true);
	if (fmh_wait_log_pid(ctl.log, "reachable again", ctl.pid, 30000) < 0)
		fail_msg("serve never said Alertmanager was back (%s)", ctl.log);
	cJSON *d = alert_of("disk-pressure");
	if (d) {
		char *t = cJSON_PrintUnformatted(d);
		fail_msg("the disk resolved during the outage came back: %s", t);
	}
	assert_int_equal(fmh_wait_log(ctl.log, "alertmanager", 1), 0);
}

/* A node gone silent is one node-unreachable alert instead of its
 * diagnoses'; they come back with its next heartbeat. */
static void unreachable_node(void **state)
{
	(void)state;
	/* a heartbeat every second: unreachable after three missed */
	post("hb", "{\"q\":4,\"n\":2,\"w\":3,\"h\":\"811c9dc5\",\"i\":1}");
	wait_alert("node-unreachable", true);
	wait_alert("container-name-conflict", false);
	wait_alert("clock-unsynced", false);
	cJSON *a = alert_of("node-unreachable");
	assert_string_equal(fmh_jstr(cJSON_GetObjectItem(a, "labels"), "severity"), "critical");
	assert_non_null(strstr(fmh_jstr(cJSON_GetObjectItem(a, "annotations"), "summary"), "unreachable"));
	cJSON_Delete(a);
	post("hb", "{\"q\":4,\"n\":2,\"w\":3,\"h\":\"811c9dc5\",\"i\":120}");
	wait_alert("node-unreachable", false);
	wait_alert("container-name-conflict", true);
}

/* The counter of a serve's /metrics named name (-1: not there). */
static long long metric(const struct fmh_controller *c, const char *name)
{
	char url[128], out[65536];
	snprintf(url, sizeof(url), "%s/metrics", c->http_url);
	if (fmh_curl(NULL, "GET", url, NULL, out, sizeof(out)) != 200)
		return -1;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ' ')
			return atoll(line + strlen(name) + 1);
	return -1;
}

/* How many alerts Alertmanager holds for our node and code. */
static int alerts_of(const char *code)
{
	cJSON *all = fmh_alertmanager_alerts(&am);
	int n = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, all)
	{
		const cJSON *l = cJSON_GetObjectItem(a, "labels");
		n += fmh_jstr(l, "code") && strcmp(fmh_jstr(l, "code"), code) == 0 &&
		     strcmp(fmh_jstr(l, "node"), FMH_NODE_A) == 0;
	}
	cJSON_Delete(all);
	return n;
}

/* Two serves on one PostgreSQL store, both sending to one Alertmanager
 * (issue 28): each sends what the shared store holds, with the same labels
 * (alertname, node, code, severity: no label names the serve), so
 * Alertmanager's fingerprint of the label set makes them one alert; a
 * resolve read from the store by both resolves it. */
static void two_serves_one_alert(void **state)
{
	(void)state;
	static struct fmh_controller second;
	const char *extra[] = {"--alertmanager", am.url, "--alert-resend", "2s", NULL};
	assert_int_equal(fmh_controller_start_beside(&second, &ctl, true, extra), 0);
	post("rp", "{\"q\":5,\"d\":[" DISK "]}");
	wait_alert("disk-pressure", true);
	/* the second has sent it too (its first send, then a resend) */
	uint64_t t0 = fm_now_ms();
	while (metric(&second, "fleetmedic_controller_alerts_sent_total") < 2 && fm_now_ms() - t0 < 30000)
		usleep(100000);
	assert_true(metric(&second, "fleetmedic_controller_alerts_sent_total") >= 2);
	assert_int_equal(alerts_of("disk-pressure"), 1);
	assert_int_equal(alerts_of("container-name-conflict"), 1);
	post("rp", "{\"q\":6,\"r\":[[\"disk-pressure\",\"/var/lib/etcd\"]]}");
	wait_alert("disk-pressure", false);
	int status;
	assert_int_equal(fmh_controller_stop(&second, &status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(incident1_alert),
		cmocka_unit_test(outage_loses_nothing),
		cmocka_unit_test(unreachable_node),
		/* several serves need PostgreSQL: the _pg variant's last case */
		cmocka_unit_test(two_serves_one_alert),
	};
	size_t n = sizeof(tests) / sizeof(tests[0]) - !fmh_controller_pg();
	return _cmocka_run_group_tests("test_alertmanager", tests, n, setup, teardown);
}
