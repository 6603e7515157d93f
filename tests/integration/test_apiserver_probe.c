/* The kube-apiserver probe against a TLS STAND-IN for kube-apiserver
 * (tests/harness/apiserver_standin.py: it serves the documented response
 * formats; it is not a kube-apiserver, none can be installed here), with the
 * kubeadm-like PKI of pki.sh: apiserver.crt served, ca.crt trusted, client
 * certificates from the kubernetes CA accepted.
 *
 * The health cases run the agent binary as a person would (`probe apiserver
 * --json`); the credential cases call fm_apiserver_collect() with an
 * endpoint filled in here, since finding credentials (kubeconfig) is
 * discovery's business, not this source's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_apiserver.h"
#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_standin.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef FM_APISERVER_FIXTURES
#define FM_APISERVER_FIXTURES "."
#endif

#define TOKEN FMH_STANDIN_TOKEN

static char root[PATH_MAX];
static char pki[PATH_MAX]; /* root/etc/kubernetes/pki */
static char admin_crt[PATH_MAX], admin_key[PATH_MAX];

static struct fmh_standin incident; /* healthy health checks, incident-1's pods */
static struct fmh_standin etcd_down; /* /livez and /readyz: etcd failed */

/* Writes text to root/name and puts its path in out. */
static int write_file(char *out, size_t size, const char *name, const char *text)
{
	snprintf(out, size, "%s/%s", root, name);
	FILE *f = fopen(out, "w");
	if (!f)
		return -errno;
	int rc = fputs(text, f) < 0 ? -EIO : 0;
	if (fclose(f) != 0)
		rc = -EIO;
	return rc;
}

/* A client certificate for kubernetes-admin (O=system:masters) signed by
 * the kubernetes CA, as kubeadm puts into admin.conf. */
static int make_admin_cert(void)
{
	char ext[PATH_MAX], csr[PATH_MAX], ca[PATH_MAX], cakey[PATH_MAX];
	snprintf(admin_crt, sizeof(admin_crt), "%s/admin.crt", root);
	snprintf(admin_key, sizeof(admin_key), "%s/admin.key", root);
	snprintf(csr, sizeof(csr), "%s/admin.csr", root);
	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", pki);
	int rc = write_file(ext, sizeof(ext), "admin.ext",
			    "basicConstraints = critical, CA:FALSE\n"
			    "keyUsage = critical, digitalSignature, keyEncipherment\n"
			    "extendedKeyUsage = clientAuth\n");
	if (rc < 0)
		return rc;
	const char *genkey[] = {"openssl", "genrsa", "-traditional", "-out", admin_key, "2048", NULL};
	const char *req[] = {"openssl", "req", "-new", "-key", admin_key, "-subj",
			     "/O=system:masters/CN=kubernetes-admin", "-out", csr, NULL};
	const char *sign[] = {"openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
			      "-set_serial", "4242", "-days", "2", "-sha256", "-extfile", ext,
			      "-out", admin_crt, NULL};
	const char *const *steps[] = {genkey, req, sign};
	for (size_t i = 0; i < 3; i++) {
		char out[4096];
		int status = -1;
		rc = fmh_run(steps[i], out, sizeof(out), &status, 30000);
		if (rc < 0 || status != 0) {
			print_message("%s failed (%d): %s\n", steps[i][1], status, out);
			return rc < 0 ? rc : -EIO;
		}
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	char sc[PATH_MAX];
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0)
		return -1;
	snprintf(pki, sizeof(pki), "%s/etc/kubernetes/pki", root);
	if (make_admin_cert() < 0)
		return -1;
	snprintf(sc, sizeof(sc), "%s/incident-etcd-2379.json", FM_APISERVER_FIXTURES);
	if (fmh_standin_start(&incident, root, "incident", sc) < 0)
		return -1;
	/* What kube-apiserver says when etcd refuses (incident 1's log:
	 * "dial tcp 127.0.0.1:2379: connect: connection refused"): the etcd
	 * check fails in both /livez and /readyz. */
	snprintf(sc, sizeof(sc), "%s/etcd-down.json", FM_APISERVER_FIXTURES);
	if (fmh_standin_start(&etcd_down, root, "etcd-down", sc) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_standin_stop(&incident);
	fmh_standin_stop(&etcd_down);
	fmh_cleanup();
	return 0;
}

/* --- helpers ---------------------------------------------------------------- */

static void assert_has(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("\"%s\" does not say \"%s\"", s, needle);
}

/* A collection called directly: the facts as a JSON array (caller frees)
 * and the return value in *ret. */
static cJSON *collect(const struct fm_endpoint *ep, int timeout_ms, int *ret)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fm_facts_new();
	assert_non_null(loop);
	assert_non_null(facts);
	struct fm_collect_opts co = {.timeout_ms = timeout_ms};
	int rc = fm_apiserver_collect(loop, ep, time(NULL), &co, facts);
	if (ret)
		*ret = rc;
	cJSON *all = fm_facts_json(facts, "");
	fm_facts_delete(&facts);
	fm_loop_delete(&loop);
	assert_non_null(all);
	return all;
}

/* An endpoint for url, trusting the kubernetes CA, no credentials. */
static void endpoint(struct fm_endpoint *ep, const char *url)
{
	memset(ep, 0, sizeof(*ep));
	snprintf(ep->url, sizeof(ep->url), "%s", url);
	snprintf(ep->ca, sizeof(ep->ca), "%s/ca.crt", pki);
	snprintf(ep->origin, sizeof(ep->origin), "test");
}

/* --- the agent binary --------------------------------------------------------- */

/* No credentials under --root: health, readiness and version are public;
 * the lists are not, which apiserver.auth says. The apiserver answered and is
 * healthy, so the exit status is 0: missing credentials are not a finding. */
static void healthy_standin(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "apiserver", "--json", "--apiserver", incident.url, "--root", root,
		  NULL);
	const cJSON *facts = fmh_field(r.json, "facts");
	const cJSON *ep = fmh_find(facts, "apiserver.endpoint", incident.url);
	assert_string_equal(fmh_jstr(ep, "state"), "ok");
	assert_string_equal(fmh_jstr(ep, "tls_version"), "TLSv1.3");
	assert_string_equal(fmh_jstr(ep, "origin"), "--apiserver");

	const cJSON *live = fmh_find(facts, "apiserver.livez", incident.url);
	assert_true(fmh_jbool(live, "healthy"));
	assert_int_equal(cJSON_GetArraySize(fmh_field(live, "failed")), 0);

	const cJSON *ready = fmh_find(facts, "apiserver.readyz", incident.url);
	assert_true(fmh_jbool(ready, "healthy"));
	assert_int_equal((int)fmh_jnum(ready, "http_status"), 200);
	const cJSON *checks = fmh_field(ready, "checks");
	assert_true(cJSON_GetArraySize(checks) > 10);
	const cJSON *c0 = cJSON_GetArrayItem(checks, 0);
	assert_string_equal(fmh_jstr(c0, "name"), "ping");
	assert_true(fmh_jbool(c0, "ok"));

	const cJSON *v = fmh_find(facts, "apiserver.version", incident.url);
	assert_string_equal(fmh_jstr(v, "git_version"), "v1.19.4");
	assert_int_equal((int)fmh_jnum(v, "major"), 1);
	assert_int_equal((int)fmh_jnum(v, "minor"), 19);
	assert_string_equal(fmh_jstr(v, "platform"), "linux/arm64");

	const cJSON *au = fmh_find(facts, "apiserver.auth", incident.url);
	assert_string_equal(fmh_jstr(au, "state"), "http-status");
	assert_int_equal((int)fmh_jnum(au, "http_status"), 401);
	assert_string_equal(fmh_jstr(au, "credentials"), "none");
	assert_null(fmh_find(facts, "node", NULL));
	assert_null(fmh_find(facts, "pod", NULL));

	/* What 6443 stands on: the certificate it served, and the node's PKI. */
	char id[PATH_MAX + 64];
	snprintf(id, sizeof(id), "%s (served)", incident.url);
	const cJSON *served = fmh_find(facts, "cert", id);
	assert_non_null(served);
	assert_true(fmh_jbool(served, "served"));
	assert_true(fmh_jnum(served, "days_left") >= 364);
	snprintf(id, sizeof(id), "%s/etc/kubernetes/pki/ca.crt", root);
	const cJSON *ca = fmh_find(facts, "cert", id);
	assert_non_null(ca);
	assert_true(fmh_jbool(ca, "is_ca"));
	assert_false(fmh_jbool(ca, "expired"));
	assert_int_equal(r.status, 0);
	cJSON_Delete(r.json);
}

/* etcd refused: kube-apiserver answers 500 and lists its checks. That is an
 * answer (the endpoint is fine), and it names the check. */
static void readyz_etcd_failed(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "apiserver", "--json", "--apiserver", etcd_down.url, "--root", root,
		  NULL);
	const cJSON *facts = fmh_field(r.json, "facts");
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", etcd_down.url), "state"), "ok");

	const cJSON *ready = fmh_find(facts, "apiserver.readyz", etcd_down.url);
	assert_false(fmh_jbool(ready, "healthy"));
	assert_int_equal((int)fmh_jnum(ready, "http_status"), 500);
	const cJSON *c, *etcd = NULL;
	cJSON_ArrayForEach(c, fmh_field(ready, "checks"))
	{
		if (strcmp(fmh_jstr(c, "name"), "etcd") == 0)
			etcd = c;
	}
	assert_non_null(etcd);
	assert_false(fmh_jbool(etcd, "ok"));
	/* The public endpoint never says why. */
	assert_string_equal(fmh_jstr(etcd, "reason"), "reason withheld");
	const cJSON *failed = fmh_field(ready, "failed");
	assert_int_equal(cJSON_GetArraySize(failed), 2);
	assert_string_equal(cJSON_GetArrayItem(failed, 0)->valuestring, "etcd");
	assert_string_equal(cJSON_GetArrayItem(failed, 1)->valuestring, "etcd-readiness");

	const cJSON *live = fmh_find(facts, "apiserver.livez", etcd_down.url);
	assert_false(fmh_jbool(live, "healthy"));
	assert_int_equal(cJSON_GetArraySize(fmh_field(live, "failed")), 1);
	assert_string_equal(cJSON_GetArrayItem(fmh_field(live, "failed"), 0)->valuestring, "etcd");
	assert_int_equal(r.status, 1);
	cJSON_Delete(r.json);

	/* The text form says so too. */
	const char *argv[] = {fmh_agent(), "probe", "apiserver", "--apiserver", etcd_down.url,
			      "--root", root, NULL};
	char out[65536];
	int status = -1;
	assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 30000), 0);
	assert_int_equal(status, 1);
	assert_has(out, ": UNHEALTHY\n");
	assert_has(out, "\"name\":\"etcd\",\"ok\":false,\"reason\":\"reason withheld\"");
}

/* Nothing listens: refused at once (the deadline is 20 s), and nothing else
 * is asked. */
static void nothing_listening(void **state)
{
	(void)state;
	int port = fmh_free_port();
	assert_true(port > 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "apiserver", "--json", "--timeout", "20s", "--apiserver", url,
		  "--root", root, NULL);
	const cJSON *facts = fmh_field(r.json, "facts");
	const cJSON *ep = fmh_find(facts, "apiserver.endpoint", url);
	assert_string_equal(fmh_jstr(ep, "state"), "refused");
	assert_has(fmh_jstr(ep, "reason"), "refused");
	assert_true(fmh_jnum(ep, "elapsed_ms") < 5000);
	assert_null(fmh_find(facts, "apiserver.livez", NULL));
	assert_null(fmh_find(facts, "apiserver.readyz", NULL));
	assert_null(fmh_find(facts, "apiserver.auth", NULL));
	assert_int_equal(r.status, 1);
	cJSON_Delete(r.json);
}

/* --- with credentials ----------------------------------------------------------- */

/* The facts of incident 1's kube-system, as the stand-in serves them. */
static void assert_incident(const cJSON *facts, const char *credentials)
{
	const cJSON *au = fmh_find(facts, "apiserver.auth", incident.url);
	assert_string_equal(fmh_jstr(au, "state"), "ok");
	assert_string_equal(fmh_jstr(au, "credentials"), credentials);

	/* Nodes. */
	const cJSON *nodes = fmh_find(facts, "apiserver.nodes", incident.url);
	assert_int_equal((int)fmh_jnum(nodes, "count"), 2);
	assert_int_equal((int)fmh_jnum(nodes, "kept"), 2);
	assert_false(fmh_jbool(nodes, "truncated"));
	const cJSON *m = fmh_find(facts, "node", "pi-master1");
	assert_true(fmh_jbool(m, "ready"));
	assert_string_equal(fmh_jstr(m, "ready_status"), "True");
	assert_false(fmh_jbool(m, "disk_pressure"));
	assert_false(fmh_jbool(m, "memory_pressure"));
	assert_false(fmh_jbool(m, "pid_pressure"));
	assert_false(fmh_jbool(m, "network_unavailable"));
	const cJSON *j = fmh_find(facts, "node", "jetson");
	assert_true(fmh_jbool(j, "ready"));
	assert_true(fmh_jbool(j, "disk_pressure"));

	/* Pods. */
	const cJSON *pods = fmh_find(facts, "apiserver.pods", incident.url);
	assert_string_equal(fmh_jstr(pods, "namespace"), "kube-system");
	assert_int_equal((int)fmh_jnum(pods, "count"), 5);
	assert_false(fmh_jbool(pods, "truncated"));
	assert_int_equal(fmh_count_kind(facts, "pod"), 5);

	const cJSON *api = fmh_find(facts, "pod", "kube-system/kube-apiserver-pi-master1");
	assert_string_equal(fmh_jstr(api, "namespace"), "kube-system");
	assert_string_equal(fmh_jstr(api, "name"), "kube-apiserver-pi-master1");
	assert_string_equal(fmh_jstr(api, "node"), "pi-master1");
	assert_string_equal(fmh_jstr(api, "phase"), "Running");
	const cJSON *cs = fmh_field(api, "containers");
	assert_int_equal(cJSON_GetArraySize(cs), 1);
	const cJSON *c = cJSON_GetArrayItem(cs, 0);
	assert_string_equal(fmh_jstr(c, "name"), "kube-apiserver");
	assert_false(fmh_jbool(c, "ready"));
	assert_int_equal((int)fmh_jnum(c, "restarts"), 23);
	assert_string_equal(fmh_jstr(c, "state"), "waiting");
	assert_string_equal(fmh_jstr(c, "waiting_reason"), "CreateContainerError");
	/* The evidence the diagnosis needs, whole: which name, which holder. */
	const char *msg = fmh_jstr(c, "waiting_message");
	assert_has(msg, "k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_"
			"1403dda53affdfee1130475a6d9609da_24\" is already in use by container "
			"\"eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b\"");
	assert_int_equal((int)fmh_jnum(c, "last_exit_code"), 0);

	const cJSON *ev = fmh_find(facts, "pod", "kube-system/kube-flannel-ds-arm64-dwq86");
	assert_string_equal(fmh_jstr(ev, "phase"), "Failed");
	assert_string_equal(fmh_jstr(ev, "reason"), "Evicted");
	assert_string_equal(fmh_jstr(ev, "node"), "jetson");
	assert_has(fmh_jstr(ev, "message"), "low on resource");

	const cJSON *etcd = fmh_find(facts, "pod", "kube-system/etcd-pi-master1");
	const cJSON *ec = cJSON_GetArrayItem(fmh_field(etcd, "containers"), 0);
	assert_string_equal(fmh_jstr(ec, "state"), "running");
	assert_true(fmh_jbool(ec, "ready"));
	assert_int_equal((int)fmh_jnum(ec, "restarts"), 18);
}

static void client_cert(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	snprintf(ep.cert, sizeof(ep.cert), "%s", admin_crt);
	snprintf(ep.key, sizeof(ep.key), "%s", admin_key);
	int ret;
	cJSON *facts = collect(&ep, 5000, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", incident.url), "state"), "ok");
	assert_incident(facts, "client-cert");
	cJSON_Delete(facts);
}

/* The same material from memory, as a kubeconfig embeds it. */
static void client_cert_pem(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	char *paths[3] = {ep.ca, admin_crt, admin_key};
	char **pems[3] = {&ep.ca_pem, &ep.cert_pem, &ep.key_pem};
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(paths[i], "r");
		assert_non_null(f);
		char *buf = calloc(1, 16384);
		assert_non_null(buf);
		size_t got = fread(buf, 1, 16383, f);
		fclose(f);
		assert_true(got > 0);
		*pems[i] = buf;
	}
	ep.ca[0] = '\0';
	cJSON *facts = collect(&ep, 5000, NULL);
	assert_incident(facts, "client-cert");
	cJSON_Delete(facts);
	free(ep.ca_pem);
	free(ep.cert_pem);
	free(ep.key_pem);
}

static void bearer_token(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	char token[] = TOKEN;
	ep.token = token;
	cJSON *facts = collect(&ep, 5000, NULL);
	assert_incident(facts, "token");
	/* The token is in no fact. */
	char *s = cJSON_PrintUnformatted(facts);
	assert_null(strstr(s, TOKEN));
	free(s);
	cJSON_Delete(facts);
}

/* A token the apiserver does not know: 401, and the reason says our
 * credentials were refused (not that there were none). */
static void wrong_token(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	char token[] = "not-the-token";
	ep.token = token;
	cJSON *facts = collect(&ep, 5000, NULL);
	const cJSON *au = fmh_find(facts, "apiserver.auth", incident.url);
	assert_string_equal(fmh_jstr(au, "state"), "http-status");
	assert_int_equal((int)fmh_jnum(au, "http_status"), 401);
	assert_string_equal(fmh_jstr(au, "credentials"), "token");
	assert_has(fmh_jstr(au, "reason"), "does not accept our credentials");
	assert_null(fmh_find(facts, "node", NULL));
	char *s = cJSON_PrintUnformatted(facts);
	assert_null(strstr(s, "not-the-token"));
	free(s);
	cJSON_Delete(facts);
}

/* No credentials: the lists are asked anonymously and refused with 401; the
 * rest of the probe is unaffected. */
static void no_credentials(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	int ret;
	cJSON *facts = collect(&ep, 5000, &ret);
	assert_int_equal(ret, 0); /* healthy: the apiserver is fine */
	const cJSON *au = fmh_find(facts, "apiserver.auth", incident.url);
	assert_string_equal(fmh_jstr(au, "state"), "http-status");
	assert_int_equal((int)fmh_jnum(au, "http_status"), 401);
	assert_string_equal(fmh_jstr(au, "credentials"), "none");
	assert_has(fmh_jstr(au, "reason"), "no client certificate or token");
	const cJSON *denied = fmh_field(au, "denied");
	assert_int_equal(cJSON_GetArraySize(denied), 2);
	assert_null(fmh_find(facts, "apiserver.nodes", NULL));
	assert_null(fmh_find(facts, "apiserver.pods", NULL));
	assert_null(fmh_find(facts, "node", NULL));
	assert_null(fmh_find(facts, "pod", NULL));
	assert_true(fmh_jbool(fmh_find(facts, "apiserver.readyz", incident.url), "healthy"));
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.version", incident.url), "git_version"),
			    "v1.19.4");
	cJSON_Delete(facts);
}

/* kubeadm's classic setup: anonymous requests are authenticated as
 * system:anonymous, and RBAC forbids it the lists: 403 with the reason. */
static void anonymous_forbidden(void **state)
{
	(void)state;
	char sc[PATH_MAX];
	struct fmh_standin s;
	assert_int_equal(write_file(sc, sizeof(sc), "anonymous-all.json",
				    "{\"anonymous\": \"all\"}\n"),
			 0);
	assert_int_equal(fmh_standin_start(&s, root, "anonymous-all", sc), 0);
	struct fm_endpoint ep;
	endpoint(&ep, s.url);
	cJSON *facts = collect(&ep, 5000, NULL);
	fmh_standin_stop(&s);
	const cJSON *au = fmh_find(facts, "apiserver.auth", s.url);
	assert_string_equal(fmh_jstr(au, "state"), "http-status");
	assert_int_equal((int)fmh_jnum(au, "http_status"), 403);
	assert_has(fmh_jstr(au, "message"),
		   "nodes is forbidden: User \"system:anonymous\" cannot list resource \"nodes\"");
	assert_has(fmh_jstr(au, "reason"), "403 Forbidden");
	cJSON_Delete(facts);
}

/* --anonymous-auth=false: even /livez wants credentials. Without them the
 * health facts carry the 401; with a token everything answers. */
static void anonymous_disabled(void **state)
{
	(void)state;
	char sc[PATH_MAX];
	struct fmh_standin s;
	assert_int_equal(write_file(sc, sizeof(sc), "anonymous-none.json",
				    "{\"anonymous\": \"none\"}\n"),
			 0);
	assert_int_equal(fmh_standin_start(&s, root, "anonymous-none", sc), 0);
	struct fm_endpoint ep;
	endpoint(&ep, s.url);
	int ret;
	cJSON *facts = collect(&ep, 5000, &ret);
	assert_int_equal(ret, -1);
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", s.url), "state"), "ok");
	const cJSON *live = fmh_find(facts, "apiserver.livez", s.url);
	assert_string_equal(fmh_jstr(live, "state"), "http-status");
	assert_int_equal((int)fmh_jnum(live, "http_status"), 401);
	assert_null(cJSON_GetObjectItem(live, "healthy"));
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.version", s.url), "state"), "http-status");
	cJSON_Delete(facts);

	char token[] = TOKEN;
	ep.token = token;
	facts = collect(&ep, 5000, &ret);
	fmh_standin_stop(&s);
	assert_int_equal(ret, 0);
	assert_true(fmh_jbool(fmh_find(facts, "apiserver.livez", s.url), "healthy"));
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.auth", s.url), "state"), "ok");
	cJSON_Delete(facts);
}

/* The server's certificate is not from the CA we trust. */
static void wrong_ca(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	snprintf(ep.ca, sizeof(ep.ca), "%s/test-pki/wrong-ca.crt", root);
	int ret;
	cJSON *facts = collect(&ep, 5000, &ret);
	assert_int_equal(ret, -1);
	const cJSON *e = fmh_find(facts, "apiserver.endpoint", incident.url);
	assert_string_equal(fmh_jstr(e, "state"), "tls");
	assert_string_equal(fmh_jstr(e, "tls"), "unknown-ca");
	assert_has(fmh_jstr(e, "reason"), "unknown CA");
	/* the words for people, Mbed TLS's code (X509 verification failed) kept */
	assert_string_equal(fmh_jstr(e, "error_code"), "mbedtls -0x2700");
	assert_null(strstr(fmh_jstr(e, "reason"), "mbedtls"));
	assert_string_equal(fmh_jstr(e, "origin"), "test");
	assert_null(fmh_find(facts, "apiserver.livez", NULL));
	assert_null(fmh_find(facts, "apiserver.auth", NULL));
	cJSON_Delete(facts);
}

/* Whether the file holds needle. */
static bool file_has(const char *path, const char *needle)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* A client certificate the apiserver does not trust (etcd's, signed by
 * kubeadm's etcd CA) passes the handshake and gets 401 on every path, as
 * kube-apiserver answers it: the agent says it was not accepted, and does
 * not take it for a TLS failure or an unhealthy server (issue 19). */
static void untrusted_client_cert(void **state)
{
	(void)state;
	struct fm_endpoint ep;
	endpoint(&ep, incident.url);
	snprintf(ep.cert, sizeof(ep.cert), "%s/etcd/healthcheck-client.crt", pki);
	snprintf(ep.key, sizeof(ep.key), "%s/etcd/healthcheck-client.key", pki);
	int ret;
	cJSON *facts = collect(&ep, 5000, &ret);
	assert_string_equal(fmh_jstr(fmh_find(facts, "apiserver.endpoint", incident.url), "state"), "ok");
	const cJSON *live = fmh_find(facts, "apiserver.livez", incident.url);
	assert_non_null(live);
	assert_int_equal((int)fmh_jnum(live, "http_status"), 401);
	cJSON_Delete(facts);
}

/* etcd hangs: kube-apiserver's etcd check waits 2 s (its default
 * --etcd-healthcheck-timeout) and answers "[-]etcd failed". The agent waits
 * for that answer (longer than its 1 s per request) and names the check,
 * and does not wait as long again for /readyz (issue 19). */
static void etcd_hanging(void **state)
{
	(void)state;
	char sc[PATH_MAX];
	assert_int_equal(write_file(sc, sizeof(sc), "etcd-hanging.json",
				    "{\"livez\": {\"failing\": {\"etcd\": \"context deadline exceeded\"}, \"delay_s\": 2},\n"
				    " \"readyz\": {\"failing\": {\"etcd\": \"context deadline exceeded\"}, \"delay_s\": 2}}\n"),
			 0);
	struct fmh_standin s;
	assert_int_equal(fmh_standin_start(&s, root, "etcd-hanging", sc), 0);
	struct fm_endpoint ep;
	endpoint(&ep, s.url);
	char token[] = TOKEN;
	ep.token = token;
	cJSON *facts = collect(&ep, 1000, NULL);
	/* check, with its per-request 1 s and everything cut at 2.8 s: the
	 * apiserver's answer is in, not cut (no check.incomplete for it) */
	char jdir[PATH_MAX];
	assert_int_equal(fmh_tmpdir(jdir, sizeof(jdir)), 0);
	static struct fmh_agent_run r;
	fmh_run_agent(&r, "check", "--json", "--root", root, "--apiserver", s.url, "--journal-dir", jdir, "--kmsg",
		      "none", NULL);
	const cJSON *cf = fmh_field(r.json, "facts");
	assert_null(fmh_find(cf, "check.incomplete", "apiserver"));
	const cJSON *clive = fmh_find(cf, "apiserver.livez", s.url);
	assert_non_null(clive);
	assert_string_equal(cJSON_GetArrayItem(fmh_field(clive, "failed"), 0)->valuestring, "etcd");
	cJSON_Delete(r.json);
	fmh_standin_stop(&s);
	const cJSON *live = fmh_find(facts, "apiserver.livez", s.url);
	assert_false(fmh_jbool(live, "healthy"));
	assert_int_equal((int)fmh_jnum(live, "http_status"), 500);
	assert_string_equal(cJSON_GetArrayItem(fmh_field(live, "failed"), 0)->valuestring, "etcd");
	const cJSON *ready = fmh_find(facts, "apiserver.readyz", s.url);
	assert_string_equal(fmh_jstr(ready, "state"), "skipped");
	assert_has(fmh_jstr(ready, "reason"), "to fail on etcd");
	/* asked once: the stand-in's log has one /livez and no /readyz */
	assert_true(file_has(s.log, "/livez"));
	assert_false(file_has(s.log, "/readyz"));
	cJSON_Delete(facts);
}

/* 300 filler pods and one with a long message: at most 256 pod facts, the
 * list fact says how many exist, messages are cut on a UTF-8 boundary.
 * Once with the server paging (?limit), once with one that ignores it. */
static void many_pods(const char *name, bool ignore_limit)
{
	char sc[PATH_MAX], text[8192], longmsg[1500];
	size_t n = 0;
	/* "é" is two bytes: a cut at an odd place would split one. */
	n += (size_t)snprintf(longmsg + n, sizeof(longmsg) - n, "x");
	while (n + 2 < 1400)
		n += (size_t)snprintf(longmsg + n, sizeof(longmsg) - n, "\xc3\xa9");
	snprintf(text, sizeof(text),
		 "{\"ignore_limit\": %s,\n"
		 " \"pods\": [{\"name\": \"kube-scheduler-pi-master1\",\n"
		 "   \"containers\": [{\"name\": \"kube-scheduler\", \"restartCount\": 7,\n"
		 "     \"state\": {\"waiting\": {\"reason\": \"CrashLoopBackOff\",\n"
		 "                            \"message\": \"%s\"}}}]}],\n"
		 " \"filler_pods\": {\"count\": 300}}\n",
		 ignore_limit ? "true" : "false", longmsg);
	assert_int_equal(write_file(sc, sizeof(sc), name, text), 0);
	struct fmh_standin s;
	assert_int_equal(fmh_standin_start(&s, root, name, sc), 0);
	struct fm_endpoint ep;
	endpoint(&ep, s.url);
	char token[] = TOKEN;
	ep.token = token;
	cJSON *facts = collect(&ep, 10000, NULL);
	fmh_standin_stop(&s);
	/* the lists came chunked, as kube-apiserver sends large ones */
	assert_true(file_has(s.log, "/api/v1/namespaces/kube-system/pods"));
	assert_true(file_has(s.log, ": chunked, "));

	const cJSON *pods = fmh_find(facts, "apiserver.pods", s.url);
	assert_int_equal((int)fmh_jnum(pods, "count"), 301);
	assert_int_equal((int)fmh_jnum(pods, "kept"), 256);
	assert_true(fmh_jbool(pods, "truncated"));
	assert_int_equal(fmh_count_kind(facts, "pod"), 256);

	const cJSON *p = fmh_find(facts, "pod", "kube-system/kube-scheduler-pi-master1");
	const cJSON *c = cJSON_GetArrayItem(fmh_field(p, "containers"), 0);
	assert_string_equal(fmh_jstr(c, "waiting_reason"), "CrashLoopBackOff");
	const char *msg = fmh_jstr(c, "waiting_message");
	size_t len = strlen(msg);
	assert_true(len <= 511);
	assert_string_equal(msg + len - 3, "...");
	/* x, then whole "é"s only. */
	assert_true((len - 3 - 1) % 2 == 0);
	assert_int_equal((unsigned char)msg[len - 4], 0xa9);
	cJSON_Delete(facts);
}

static void many_pods_paged(void **state)
{
	(void)state;
	many_pods("many-pods-paged.json", false);
}

static void many_pods_unpaged(void **state)
{
	(void)state;
	many_pods("many-pods-unpaged.json", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_standin),
		cmocka_unit_test(readyz_etcd_failed),
		cmocka_unit_test(nothing_listening),
		cmocka_unit_test(client_cert),
		cmocka_unit_test(client_cert_pem),
		cmocka_unit_test(bearer_token),
		cmocka_unit_test(wrong_token),
		cmocka_unit_test(no_credentials),
		cmocka_unit_test(anonymous_forbidden),
		cmocka_unit_test(anonymous_disabled),
		cmocka_unit_test(wrong_ca),
		cmocka_unit_test(many_pods_paged),
		cmocka_unit_test(many_pods_unpaged),
		cmocka_unit_test(untrusted_client_cert),
		cmocka_unit_test(etcd_hanging),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
