/* fleetmedic-agent check: every source once, then the diagnosis, against a
 * real etcd (Debian's etcd-server, mTLS with the kubeadm-like PKI) and the
 * kube-apiserver STAND-IN (tests/harness/apiserver_standin.py; none can be
 * installed here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_standin.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[PATH_MAX];
/* An empty journal directory, and no kernel log: what other tests wrote to
 * this machine's logs must not become this test's findings. */
static char jdir[PATH_MAX];
static struct fmh_etcd etcd;
static struct fmh_standin healthy, etcd_down;


static int setup(void **state)
{
	(void)state;
	char sc[PATH_MAX];
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0 ||
	    fmh_tmpdir(jdir, sizeof(jdir)) < 0)
		return -1;
	if (fmh_etcd_start(&etcd, root, NULL) < 0 || fmh_standin_start(&healthy, root, "healthy", NULL) < 0)
		return -1;
	/* kube-apiserver when etcd refuses (incident 1's log line). */
	snprintf(sc, sizeof(sc), "%s/etcd-down.json", FM_APISERVER_FIXTURES);
	if (fmh_standin_start(&etcd_down, root, "etcd-down", sc) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_standin_stop(&healthy);
	fmh_standin_stop(&etcd_down);
	fmh_cleanup();
	return 0;
}


/* Everything answers and is healthy: no critical diagnosis, exit 0, and the
 * facts of both sources are in the JSON. */
static void healthy_node(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url, "--apiserver",
		      healthy.url, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(r.json);
	assert_string_equal(fmh_jstr(fmh_find(fmh_field(r.json, "facts"), "etcd.endpoint", etcd.url), "state"),
			    "ok");
	assert_string_equal(
		fmh_jstr(fmh_find(fmh_field(r.json, "facts"), "apiserver.endpoint", healthy.url), "state"),
		"ok");
	const cJSON *d;
	cJSON_ArrayForEach(d, fmh_field(r.json, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "severity"), "critical") == 0)
			fail_msg("critical diagnosis on a healthy node: %s", fmh_jstr(d, "summary"));
	}
	cJSON_Delete(r.json);

	fmh_run_agent(&r, "check", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url, "--apiserver", healthy.url, NULL);
	assert_int_equal(r.status, 0);
	assert_null(strstr(r.out, "\033[")); /* not a terminal: no colour */
	cJSON_Delete(r.json);
}

/* Copies file from to to (both small). */
static void copy_file(const char *from, const char *to)
{
	char buf[16384];
	FILE *in = fopen(from, "rb"), *out = NULL;
	assert_non_null(in);
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	assert_non_null(out = fopen(to, "wb"));
	assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_int_equal(fclose(out), 0);
}

/* Issue 20 (c): an expired certificate that no failing component uses
 * (etcd's peer certificate: this etcd is healthy, a single member that
 * talks to no peer), and kube-apiserver refusing for a reason of its own
 * (nothing listens). Two problems, two findings: the certificate does not
 * absorb the refusal. */
static void expired_cert_beside_refusing_apiserver(void **state)
{
	(void)state;
	char peer[PATH_MAX + 64], saved[PATH_MAX + 64], expired[PATH_MAX + 64], refusing[64];
	snprintf(peer, sizeof(peer), "%s/etc/kubernetes/pki/etcd/peer.crt", root);
	snprintf(saved, sizeof(saved), "%s/peer.crt.saved", root);
	snprintf(expired, sizeof(expired), "%s/test-pki/expired-client.crt", root);
	copy_file(peer, saved);
	copy_file(expired, peer);
	int port = fmh_free_port();
	assert_true(port > 0);
	snprintf(refusing, sizeof(refusing), "https://127.0.0.1:%d", port);

	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url,
		      "--apiserver", refusing, NULL);
	if (r.status != 1 || !r.json)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_string_equal(fmh_jstr(fmh_find(fmh_field(r.json, "facts"), "etcd.endpoint", etcd.url), "state"), "ok");
	const cJSON *c = NULL, *a = fmh_diagnosis(r.json, "apiserver-unreachable"), *d;
	int critical = 0;
	cJSON_ArrayForEach(d, fmh_field(r.json, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "code"), "cert-expired") == 0 && strcmp(fmh_jstr(d, "key"), peer) == 0)
			c = d;
		critical += strcmp(fmh_jstr(d, "severity"), "critical") == 0;
	}
	if (!c || !a || critical != 2)
		fail_msg("want cert-expired for %s and apiserver-unreachable, both standing:\n%s", peer, r.out);
	assert_string_equal(fmh_jstr(c, "component"), "certificate");
	assert_string_equal(fmh_jstr(c, "instance"), peer);
	assert_null(cJSON_GetObjectItem(c, "explains"));
	assert_string_equal(fmh_jstr(a, "component"), "kube-apiserver");
	assert_string_equal(fmh_jstr(a, "severity"), "critical");
	cJSON_Delete(r.json);

	fmh_run_agent(&r, "check", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url,
		      "--apiserver", refusing, NULL);
	copy_file(saved, peer);
	assert_int_equal(r.status, 1);
	if (!strstr(r.out, ", 2 independent problems") || !strstr(r.out, "critical cert-expired (certificate)") ||
	    !strstr(r.out, "critical apiserver-unreachable (kube-apiserver)"))
		fail_msg("the report does not say 2 independent problems:\n%s", r.out);
	cJSON_Delete(r.json);
}

/* etcd stopped: the apiserver's [-]etcd is its symptom. One cause, naming
 * the symptom and carrying its evidence; exit 1; the human report says the
 * fix. */
static void etcd_down_is_the_cause(void **state)
{
	(void)state;
	assert_int_equal(fmh_etcd_stop(&etcd), 0); /* etcd.url stays: nothing listens there now */

	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url, "--apiserver",
		      etcd_down.url, NULL);
	if (r.status != 1)
		fail_msg("check exited %d:\n%s\n%s", r.status, r.out, r.err);
	const cJSON *first = cJSON_GetArrayItem(fmh_field(r.json, "diagnoses"), 0);
	assert_non_null(first);
	assert_string_equal(fmh_jstr(first, "code"), "etcd-unreachable");
	assert_string_equal(fmh_jstr(first, "severity"), "critical");
	assert_true(fmh_lists(fmh_field(first, "explains"), "apiserver-unreachable"));
	assert_null(fmh_diagnosis(r.json, "apiserver-unreachable"));
	assert_non_null(fmh_find(fmh_field(first, "evidence"), "apiserver.readyz", etcd_down.url));
	const cJSON *ev = fmh_find(fmh_field(first, "evidence"), "etcd.endpoint", etcd.url);
	assert_string_equal(fmh_jstr(ev, "state"), "refused");
	cJSON_Delete(r.json);

	fmh_run_agent(&r, "check", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", etcd.url, "--apiserver", etcd_down.url,
		      NULL);
	assert_int_equal(r.status, 1);
	if (!strstr(r.out, "critical etcd-unreachable") || !strstr(r.out, "explains: apiserver-unreachable") ||
	    !strstr(r.out, "fix:\n    $ "))
		fail_msg("the report does not say cause, symptom and fix:\n%s", r.out);
	cJSON_Delete(r.json);
}

/* Nothing answers at all (one server silent, one refusing): check still
 * ends, in about its per-request deadline per source, and says so. The time
 * is printed, not asserted (bench/ measures it). */
static void every_server_down(void **state)
{
	(void)state;
	int port;
	assert_true(fmh_listen_silent(&port) >= 0);
	char silent[64];
	snprintf(silent, sizeof(silent), "https://127.0.0.1:%d", port);
	struct fmh_agent_run r;
	uint64_t t0 = fm_now_ms();
	fmh_run_agent(&r, "check", "--json", "--kmsg", "none", "--journal-dir", jdir, "--root", root, "--etcd", silent, "--apiserver",
		      "https://127.0.0.1:1", NULL);
	uint64_t ms = fm_now_ms() - t0;
	print_message("check with etcd silent and the apiserver refusing: %llu ms\n", (unsigned long long)ms);
	assert_int_equal(r.status, 1);
	const cJSON *e = fmh_diagnosis(r.json, "etcd-unreachable");
	assert_non_null(e);
	assert_non_null(strstr(fmh_jstr(e, "summary"), silent));
	assert_true(fmh_lists(fmh_field(e, "explains"), "apiserver-unreachable"));
	cJSON_Delete(r.json);
}

/* Bad usage is exit 2 with one line saying what is wrong. */
static void usage_errors(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--follow", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--follow"));
	fmh_run_agent(&r, "check", "--timeout", "forever", NULL);
	assert_int_equal(r.status, 2);
	fmh_run_agent(&r, "check", "extra", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "extra"));
}

/* A node with no control plane under --root (issue 19): check says so and
 * which flags point it at etcd and the apiserver, in words, never a TLS
 * library's error code; a CA that is not there is said as the system says
 * it. Exit 2: there is nothing to check until it is told where. */
static void nothing_found(void **state)
{
	(void)state;
	char empty[PATH_MAX], missing[PATH_MAX + 16];
	assert_int_equal(fmh_tmpdir(empty, sizeof(empty)), 0);
	struct fmh_agent_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	fmh_run_agent(r, "check", "--root", empty, "--journal-dir", jdir, "--kmsg", "none", NULL);
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->out, "not checked"));
	assert_non_null(strstr(r->out, "no control plane found under"));
	assert_non_null(strstr(r->out, "--etcd URL --etcd-ca FILE"));
	assert_non_null(strstr(r->out, "--apiserver URL --kubeconfig FILE"));
	assert_null(strstr(r->out, "mbedtls"));
	assert_null(strstr(r->err, "mbedtls"));
	/* pointed at an etcd whose CA file is not there */
	snprintf(missing, sizeof(missing), "%s/ca.crt", empty);
	fmh_run_agent(r, "check", "--root", empty, "--journal-dir", jdir, "--kmsg", "none", "--etcd",
		      "https://127.0.0.1:2379", "--etcd-ca", missing, NULL);
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->out, "No such file or directory"));
	assert_null(strstr(r->out, "mbedtls"));
	/* and one that is there but is not a certificate */
	FILE *bad = fopen(missing, "w");
	assert_non_null(bad);
	fputs("not a certificate at all\n", bad);
	fclose(bad);
	fmh_run_agent(r, "check", "--root", empty, "--journal-dir", jdir, "--kmsg", "none", "--etcd",
		      "https://127.0.0.1:2379", "--etcd-ca", missing, NULL);
	assert_int_equal(r->status, 2);
	assert_non_null(strstr(r->out, "not a certificate (PEM or DER)"));
	assert_null(strstr(r->out, "mbedtls"));
	assert_null(strstr(r->err, "mbedtls"));
	cJSON_Delete(r->json);
	/* the library's code is kept for machines: in --json's fact */
	fmh_run_agent(r, "check", "--json", "--root", empty, "--journal-dir", jdir, "--kmsg", "none", "--etcd",
		      "https://127.0.0.1:2379", "--etcd-ca", missing, NULL);
	assert_int_equal(r->status, 2);
	assert_non_null(r->json);
	const cJSON *ep = fmh_find(fmh_field(r->json, "facts"), "etcd.endpoint", "https://127.0.0.1:2379");
	assert_non_null(ep);
	assert_string_equal(fmh_jstr(ep, "state"), "config");
	assert_non_null(strstr(fmh_jstr(ep, "reason"), "not a certificate (PEM or DER)"));
	if (strncmp(fmh_jstr(ep, "error_code"), "mbedtls -0x", 11) != 0)
		fail_msg("no library code kept in --json: %s", r->out);
	cJSON_Delete(r->json);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_node),
		cmocka_unit_test(expired_cert_beside_refusing_apiserver),
		cmocka_unit_test(etcd_down_is_the_cause),
		cmocka_unit_test(every_server_down),
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(nothing_found),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
