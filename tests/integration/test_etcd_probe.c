/* `fleetmedic-agent probe etcd` against a real etcd (Debian etcd-server)
 * started with a freshly generated kubeadm-like PKI and --client-cert-auth.
 *
 * Each case runs the agent binary as a person would and reads its --json
 * output: the failure kind must be the right one, and the reason must say
 * what a person needs to fix it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[PATH_MAX];
static char pki[PATH_MAX];  /* root/etc/kubernetes/pki/etcd */
static char tpki[PATH_MAX]; /* root/test-pki */
static struct fmh_etcd etcd;

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0)
		return -1;
	snprintf(pki, sizeof(pki), "%s/etc/kubernetes/pki/etcd", root);
	snprintf(tpki, sizeof(tpki), "%s/test-pki", root);
	/* 127.0.0.2 too: same server, an address its certificate does not name. */
	return fmh_etcd_start(&etcd, root, "127.0.0.2") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_etcd_stop(&etcd);
	fmh_cleanup();
	return 0;
}

/* The fact of the given kind in the agent's {"source":..., "facts":[...]}. */
static const cJSON *fact(const struct fmh_agent_run *r, const char *kind)
{
	return fmh_find(cJSON_GetObjectItemCaseSensitive(r->json, "facts"), kind, NULL);
}

/* The etcd.endpoint fact says the request failed with state (and TLS kind),
 * and its reason says reason_has. */
static void assert_failure(struct fmh_agent_run *r, const char *state, const char *tls_kind,
			   const char *reason_has)
{
	if (!r->json)
		fail_msg("no JSON from the agent");
	assert_int_equal(r->status, 1);
	const cJSON *ep = fact(r, "etcd.endpoint");
	assert_non_null(ep);
	assert_non_null(fmh_jstr(ep, "state"));
	assert_string_equal(fmh_jstr(ep, "state"), state);
	if (tls_kind) {
		assert_non_null(fmh_jstr(ep, "tls"));
		assert_string_equal(fmh_jstr(ep, "tls"), tls_kind);
	}
	const char *reason = fmh_jstr(ep, "reason");
	assert_non_null(reason);
	if (!strstr(reason, reason_has))
		fail_msg("reason \"%s\" does not say \"%s\"", reason, reason_has);
	/* Nothing else could be learnt from an endpoint that did not answer. */
	assert_null(fact(r, "etcd.health"));
	cJSON_Delete(r->json);
}

static void assert_healthy(struct fmh_agent_run *r, const char *tls_version)
{
	if (!r->json)
		fail_msg("no JSON from the agent");
	if (r->status != 0)
		print_message("%s\n%s\n", r->out, r->err);
	assert_int_equal(r->status, 0);
	const cJSON *ep = fact(r, "etcd.endpoint");
	assert_string_equal(fmh_jstr(ep, "state"), "ok");
	assert_string_equal(fmh_jstr(ep, "tls_version"), tls_version);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fact(r, "etcd.health"), "healthy")));
	/* Debian 12's etcd-server is 3.4.x. */
	const char *v = fmh_jstr(fact(r, "etcd.version"), "server");
	assert_non_null(v);
	assert_memory_equal(v, "3.", 2);
	/* A single-member cluster: this member leads, and it has a database. */
	const cJSON *st = fact(r, "etcd.status");
	assert_non_null(fmh_jstr(st, "member_id"));
	assert_string_equal(fmh_jstr(st, "member_id"), fmh_jstr(st, "leader"));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "is_leader")));
	assert_true(fmh_jnum(st, "db_size") > 0);
	assert_true(fmh_jnum(st, "raft_term") >= 1);
	cJSON_Delete(r->json);
}

static void probe_with_client_cert(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", etcd.url, "--etcd-ca", etcd.ca,
		  "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_healthy(&r, "TLSv1.3");
}

static void probe_with_tls12(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--tls-max", "1.2", "--etcd", etcd.url,
		  "--etcd-ca", etcd.ca, "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_healthy(&r, "TLSv1.2");
}

/* The DNS subjectAltName ("localhost") is checked as well as the IP one;
 * "localhost" may resolve to ::1 first, where etcd does not listen, and the
 * client must go on to 127.0.0.1. */
static void probe_by_dns_name(void **state)
{
	(void)state;
	char url[64];
	snprintf(url, sizeof(url), "https://localhost:%d", etcd.client_port);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", url, "--etcd-ca", etcd.ca,
		  "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_healthy(&r, "TLSv1.3");
}

/* No certificate flags: kubeadm's paths under --root are used. */
static void probe_finds_kubeadm_pki_under_root(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--root", root, "--etcd", etcd.url, NULL);
	assert_healthy(&r, "TLSv1.3");
}

static void probe_human_output(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--root", root, "--etcd", etcd.url, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "etcd.health https://127.0.0.1:"));
	assert_non_null(strstr(r.out, ": healthy\n"));
	assert_non_null(strstr(r.out, "TLSv1.3"));
	cJSON_Delete(r.json);

	char ca[PATH_MAX];
	snprintf(ca, sizeof(ca), "%s/wrong-ca.crt", tpki);
	fmh_run_agent(&r, "probe", "etcd", "--root", root, "--etcd", etcd.url, "--etcd-ca", ca,
		  "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, ": FAILED (tls: unknown-ca)"));
	cJSON_Delete(r.json);
}

static void wrong_ca(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	char ca[PATH_MAX];
	snprintf(ca, sizeof(ca), "%s/wrong-ca.crt", tpki);
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", etcd.url, "--etcd-ca", ca, "--etcd-cert",
		  etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_failure(&r, "tls", "unknown-ca", "unknown CA");
}

/* Probes with the test PKI's certificate NAME (or none) at TLS tls_max and
 * expects the failure kind and a reason that says reason_has. */
static void probe_client_cert(const char *name, const char *tls_max, const char *tls_kind,
			      const char *reason_has)
{
	char crt[PATH_MAX], key[PATH_MAX];
	snprintf(crt, sizeof(crt), "%s/%s.crt", tpki, name ? name : "");
	snprintf(key, sizeof(key), "%s/%s.key", tpki, name ? name : "");
	struct fmh_agent_run r;
	if (name)
		fmh_run_agent(&r, "probe", "etcd", "--json", "--tls-max", tls_max, "--etcd", etcd.url,
			  "--etcd-ca", etcd.ca, "--etcd-cert", crt, "--etcd-key", key, NULL);
	else /* --etcd-ca alone: no client certificate at all */
		fmh_run_agent(&r, "probe", "etcd", "--json", "--tls-max", tls_max, "--etcd", etcd.url,
			  "--etcd-ca", etcd.ca, NULL);
	assert_failure(&r, "tls", tls_kind, reason_has);
}

/* TLS 1.3 refuses in an alert after our Finished, TLS 1.2 during the
 * handshake: both versions must say the same thing. */
static void expired_client_cert(void **state)
{
	(void)state;
	probe_client_cert("expired-client", "1.3", "client-cert-rejected", "expired on");
	probe_client_cert("expired-client", "1.2", "client-cert-rejected", "expired on");
}

static void not_yet_valid_client_cert(void **state)
{
	(void)state;
	probe_client_cert("notyet-client", "1.3", "client-cert-rejected", "not valid before");
}

static void client_cert_from_wrong_ca(void **state)
{
	(void)state;
	probe_client_cert("wrong-ca-client", "1.3", "client-cert-rejected",
			  "rejected our client certificate");
	probe_client_cert("wrong-ca-client", "1.2", "client-cert-rejected",
			  "rejected our client certificate");
}

static void no_client_cert(void **state)
{
	(void)state;
	probe_client_cert(NULL, "1.3", "client-cert-required", "requires a client certificate");
	probe_client_cert(NULL, "1.2", "client-cert-required", "requires a client certificate");
}

static void name_mismatch(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", etcd.extra_url, "--etcd-ca", etcd.ca,
		  "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_failure(&r, "tls", "name-mismatch", "not valid for 127.0.0.2");
}

/* Nothing listening: refused at once. The deadline is 20 s, so a "refused"
 * (rather than "timeout") proves the agent did not wait for it. */
static void nothing_listening(void **state)
{
	(void)state;
	int port = fmh_free_port();
	assert_true(port > 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--timeout", "20s", "--etcd", url, "--etcd-ca",
		  etcd.ca, "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_failure(&r, "refused", NULL, "connection refused");
}

/* A listener that accepts (in the kernel backlog) and never answers. */
static void listener_never_answers(void **state)
{
	(void)state;
	int port = 0;
	int fd = fmh_listen_silent(&port);
	assert_true(fd >= 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--timeout", "500ms", "--etcd", url, "--etcd-ca",
		  etcd.ca, "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	close(fd);
	assert_failure(&r, "timeout", NULL, "timed out after 500 ms");
}

static void missing_ca_file_is_a_config_error(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", etcd.url, "--etcd-ca",
		  "/nonexistent/ca.crt", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(r.json);
	const cJSON *ep = fact(&r, "etcd.endpoint");
	assert_string_equal(fmh_jstr(ep, "state"), "config");
	assert_non_null(strstr(fmh_jstr(ep, "reason"), "/nonexistent/ca.crt"));
	cJSON_Delete(r.json);
}

static void usage_errors(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--timeout", "soon", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--timeout"));
	cJSON_Delete(r.json);
	fmh_run_agent(&r, "probe", "etcd", "--no-such-option", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown option"));
	cJSON_Delete(r.json);
}

/* Last: etcd goes away under us; the same probe now says refused. */
static void etcd_stopped(void **state)
{
	(void)state;
	pid_t pid = etcd.pid;
	assert_int_equal(fmh_etcd_stop(&etcd), 0);
	assert_int_equal(kill(pid, 0), -1);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "etcd", "--json", "--etcd", etcd.url, "--etcd-ca", etcd.ca,
		  "--etcd-cert", etcd.cert, "--etcd-key", etcd.key, NULL);
	assert_failure(&r, "refused", NULL, "nothing listens");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe_with_client_cert),
		cmocka_unit_test(probe_with_tls12),
		cmocka_unit_test(probe_by_dns_name),
		cmocka_unit_test(probe_finds_kubeadm_pki_under_root),
		cmocka_unit_test(probe_human_output),
		cmocka_unit_test(wrong_ca),
		cmocka_unit_test(expired_client_cert),
		cmocka_unit_test(not_yet_valid_client_cert),
		cmocka_unit_test(client_cert_from_wrong_ca),
		cmocka_unit_test(no_client_cert),
		cmocka_unit_test(name_mismatch),
		cmocka_unit_test(nothing_listening),
		cmocka_unit_test(listener_never_answers),
		cmocka_unit_test(missing_ca_file_is_a_config_error),
		cmocka_unit_test(usage_errors),
		cmocka_unit_test(etcd_stopped),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
