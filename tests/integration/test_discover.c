/* fm_discover against node trees written by tests/harness/tree.sh: a kubeadm
 * node, a k3s node with and without embedded etcd, an empty root; every
 * field checked, the fallbacks when files are missing or broken, and the
 * explicit options. Then `fleetmedic-agent probe etcd --root ROOT` with no
 * other option finds a real etcd through the kubeadm manifests alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_discover.h"
#include "fm_harness.h"
#include "fmh_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FMH_TREE_SCRIPT
#error "FMH_TREE_SCRIPT must name tests/harness/tree.sh"
#endif

/* Ports no test listens on: discovery only reads files. */
#define ETCD_URL    "https://127.0.0.1:12379"
#define API_URL	    "https://127.0.0.1:16443"
#define METRICS_URL "http://127.0.0.1:12381"
#define K3S_API_URL "https://127.0.0.1:26443"

static char kubeadm_root[PATH_MAX], k3s_root[PATH_MAX], k3s_sqlite_root[PATH_MAX],
    empty_root[PATH_MAX];

/* Runs tree.sh ROOT FLAVOR [URLS...] (NULL-terminated). */
static int tree(const char *root, const char *flavor, ...)
{
	const char *argv[8] = {FMH_TREE_SCRIPT, root, flavor};
	int n = 3, status = -1;
	char out[4096];
	va_list ap;
	va_start(ap, flavor);
	const char *a;
	while (n < 7 && (a = va_arg(ap, const char *)))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	int rc = fmh_run(argv, out, sizeof(out), &status, 120000);
	if (rc < 0 || status != 0) {
		fprintf(stderr, "tree.sh %s %s: rc %d, status %d:\n%s\n", root, flavor, rc, status,
			out);
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_tmpdir(kubeadm_root, sizeof(kubeadm_root)) < 0 ||
	    fmh_tmpdir(k3s_root, sizeof(k3s_root)) < 0 ||
	    fmh_tmpdir(k3s_sqlite_root, sizeof(k3s_sqlite_root)) < 0 ||
	    fmh_tmpdir(empty_root, sizeof(empty_root)) < 0)
		return -1;
	if (tree(kubeadm_root, "kubeadm", ETCD_URL, API_URL, METRICS_URL, NULL) < 0 ||
	    tree(k3s_root, "k3s", "", K3S_API_URL, NULL) < 0 ||
	    tree(k3s_sqlite_root, "k3s", "none", NULL) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_cleanup();
	return 0;
}

/* root + rel, in a static buffer (one of four, so a few can be compared). */
static const char *at(const char *root, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, PATH_MAX, "%s%s", root, rel);
	return b;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open", path);
	char *buf = calloc(1, 65536);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void assert_file_equals(const char *pem, const char *path)
{
	assert_non_null(pem);
	char *want = slurp(path);
	assert_string_equal(pem, want);
	free(want);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void discover(struct fm_discovery *d, const char *root)
{
	struct fm_discover_opts o = {.root = root};
	char err[512] = "";
	if (fm_discover(d, &o, err, sizeof(err)) < 0)
		fail_msg("fm_discover: %s", err);
}

/* Runs argv; the exit status, with the merged output in out. */
static int run(const char *const argv[], char *out, size_t size)
{
	int status = -1;
	assert_int_equal(fmh_run(argv, out, size, &status, 30000), 0);
	return status;
}

/* The embedded client certificate is the admin's, signed by the cluster CA,
 * and the embedded key is its key: checked with the openssl CLI. */
static void check_admin_identity(const struct fm_discovery *d, const char *root)
{
	char crt[PATH_MAX], key[PATH_MAX], out[4096], pub1[2048], pub2[2048];
	char tmp[PATH_MAX];
	assert_int_equal(fmh_tmpdir(tmp, sizeof(tmp)), 0);
	snprintf(crt, sizeof(crt), "%s/admin.crt", tmp);
	snprintf(key, sizeof(key), "%s/admin.key", tmp);
	FILE *f = fopen(crt, "w");
	fputs(d->apiserver.cert_pem, f);
	fclose(f);
	f = fopen(key, "w");
	fputs(d->apiserver.key_pem, f);
	fclose(f);

	const char *subj[] = {"openssl", "x509", "-noout", "-subject", "-in", crt, NULL};
	assert_int_equal(run(subj, out, sizeof(out)), 0);
	assert_contains(out, "O = system:masters");
	assert_contains(out, "CN = kubernetes-admin");
	const char *verify[] = {
	    "openssl", "verify", "-CAfile", at(root, "/etc/kubernetes/pki/ca.crt"), crt, NULL};
	assert_int_equal(run(verify, out, sizeof(out)), 0);
	const char *p1[] = {"openssl", "x509", "-noout", "-pubkey", "-in", crt, NULL};
	const char *p2[] = {"openssl", "pkey", "-pubout", "-in", key, NULL};
	assert_int_equal(run(p1, pub1, sizeof(pub1)), 0);
	assert_int_equal(run(p2, pub2, sizeof(pub2)), 0);
	assert_string_equal(pub1, pub2);
}

static void kubeadm_node(void **state)
{
	(void)state;
	const char *r = kubeadm_root;
	struct fm_discovery d;
	discover(&d, r);

	assert_int_equal(d.flavor, FM_FLAVOR_KUBEADM);
	assert_string_equal(d.node_name, "pi-master1");

	/* etcd: the loopback entry of --listen-client-urls, not the advertised
	 * node address; kubeadm's healthcheck client. */
	assert_string_equal(d.etcd.url, ETCD_URL);
	assert_string_equal(d.etcd.ca, at(r, "/etc/kubernetes/pki/etcd/ca.crt"));
	assert_string_equal(d.etcd.cert, at(r, "/etc/kubernetes/pki/etcd/healthcheck-client.crt"));
	assert_string_equal(d.etcd.key, at(r, "/etc/kubernetes/pki/etcd/healthcheck-client.key"));
	assert_null(d.etcd.ca_pem);
	assert_null(d.etcd.cert_pem);
	assert_null(d.etcd.key_pem);
	assert_null(d.etcd.token);
	assert_string_equal(d.etcd.origin, at(r, "/etc/kubernetes/manifests/etcd.yaml"));
	assert_string_equal(d.etcd_metrics_url, METRICS_URL);

	/* The apiserver: admin.conf's server and embedded credentials. */
	assert_string_equal(d.apiserver.url, API_URL);
	assert_string_equal(d.apiserver.origin, at(r, "/etc/kubernetes/admin.conf"));
	assert_file_equals(d.apiserver.ca_pem, at(r, "/etc/kubernetes/pki/ca.crt"));
	assert_string_equal(d.apiserver.ca, "");
	assert_string_equal(d.apiserver.cert, "");
	assert_string_equal(d.apiserver.key, "");
	assert_null(d.apiserver.token);
	check_admin_identity(&d, r);

	assert_int_equal(d.n_pki_dirs, 1);
	assert_string_equal(d.pki_dirs[0], at(r, "/etc/kubernetes/pki"));
	assert_int_equal(d.n_kubeconfigs, 4);
	assert_string_equal(d.kubeconfigs[0], at(r, "/etc/kubernetes/admin.conf"));
	assert_string_equal(d.kubeconfigs[1], at(r, "/etc/kubernetes/kubelet.conf"));
	assert_string_equal(d.kubeconfigs[2], at(r, "/etc/kubernetes/controller-manager.conf"));
	assert_string_equal(d.kubeconfigs[3], at(r, "/etc/kubernetes/scheduler.conf"));
	assert_contains(d.notes, "kube-apiserver advertises 192.168.6.11");
	assert_null(strstr(d.notes, "not found"));
	fm_discovery_free(&d);
	assert_null(d.apiserver.ca_pem);
}

static void move(const char *root, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s%s", root, from);
	snprintf(b, sizeof(b), "%s%s", root, to);
	if (rename(a, b) < 0)
		fail_msg("rename %s %s: %s", a, b, strerror(errno));
}

/* Without the healthcheck client, etcd.yaml and admin.conf, what
 * kube-apiserver.yaml says takes their place. Each file is put back. */
static void kubeadm_fallbacks(void **state)
{
	(void)state;
	const char *r = kubeadm_root;
	struct fm_discovery d;

	move(r, "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "/hc.crt");
	discover(&d, r);
	assert_string_equal(d.etcd.cert, at(r, "/etc/kubernetes/pki/apiserver-etcd-client.crt"));
	assert_string_equal(d.etcd.key, at(r, "/etc/kubernetes/pki/apiserver-etcd-client.key"));
	assert_contains(d.notes, "--etcd-certfile");
	fm_discovery_free(&d);
	move(r, "/hc.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.crt");

	move(r, "/etc/kubernetes/manifests/etcd.yaml", "/etcd.yaml");
	discover(&d, r);
	assert_int_equal(d.flavor, FM_FLAVOR_KUBEADM);
	assert_string_equal(d.etcd.url, ETCD_URL); /* --etcd-servers */
	assert_string_equal(d.etcd.origin, at(r, "/etc/kubernetes/manifests/kube-apiserver.yaml"));
	assert_string_equal(d.etcd.ca,
			    at(r, "/etc/kubernetes/pki/etcd/ca.crt")); /* --etcd-cafile */
	assert_string_equal(d.etcd_metrics_url, "");
	assert_string_equal(d.node_name, "pi-master1"); /* from etc/hostname now */
	assert_contains(d.notes, "etcd.yaml: not found");
	fm_discovery_free(&d);

	/* A broken etcd.yaml is noted, not fatal. */
	FILE *f = fopen(at(r, "/etc/kubernetes/manifests/etcd.yaml"), "w");
	fputs("spec:\n  containers:\n  - command: [etcd, --name=x\n", f);
	fclose(f);
	discover(&d, r);
	assert_string_equal(d.etcd.url, ETCD_URL);
	assert_contains(d.notes, "etcd.yaml:4:");
	assert_contains(d.notes, "not valid YAML");
	fm_discovery_free(&d);
	move(r, "/etcd.yaml", "/etc/kubernetes/manifests/etcd.yaml");

	move(r, "/etc/kubernetes/admin.conf", "/admin.conf");
	discover(&d, r);
	assert_string_equal(d.apiserver.url, API_URL); /* 127.0.0.1:--secure-port */
	assert_string_equal(d.apiserver.origin,
			    at(r, "/etc/kubernetes/manifests/kube-apiserver.yaml"));
	assert_string_equal(d.apiserver.ca, at(r, "/etc/kubernetes/pki/ca.crt"));
	assert_null(d.apiserver.ca_pem);
	assert_null(d.apiserver.cert_pem);
	assert_string_equal(d.apiserver.cert, "");
	assert_contains(d.notes, "admin.conf: not found");
	assert_int_equal(d.n_kubeconfigs, 3);
	fm_discovery_free(&d);
	move(r, "/admin.conf", "/etc/kubernetes/admin.conf");
}

static void explicit_options(void **state)
{
	(void)state;
	const char *r = kubeadm_root;
	struct fm_discovery d;
	char err[512], kc[PATH_MAX];

	/* --etcd elsewhere: the discovered metrics URL is not its. */
	struct fm_discover_opts o = {
	    .root = r, .etcd_url = "https://127.0.0.1:1", .etcd_ca = "/x/ca.crt"};
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), 0);
	assert_string_equal(d.etcd.url, "https://127.0.0.1:1");
	assert_string_equal(d.etcd.origin, "--etcd");
	assert_string_equal(d.etcd.ca, "/x/ca.crt");
	assert_string_equal(d.etcd.cert, ""); /* --etcd-ca alone: no client certificate */
	assert_string_equal(d.etcd.key, "");
	assert_string_equal(d.etcd_metrics_url, "");
	assert_contains(d.notes, "metrics URL " METRICS_URL " dropped");
	fm_discovery_free(&d);

	/* --etcd naming the discovered etcd keeps its metrics. */
	o = (struct fm_discover_opts){
	    .root = r, .etcd_url = ETCD_URL, .etcd_cert = "/c.crt", .etcd_key = "/c.key"};
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), 0);
	assert_string_equal(d.etcd_metrics_url, METRICS_URL);
	assert_string_equal(d.etcd.cert, "/c.crt");
	assert_string_equal(d.etcd.key, "/c.key");
	assert_string_equal(d.etcd.ca, at(r, "/etc/kubernetes/pki/etcd/ca.crt"));
	fm_discovery_free(&d);

	/* --kubeconfig replaces the identity; --apiserver the URL. */
	assert_int_equal(fmh_tmpdir(kc, sizeof(kc)), 0);
	strcat(kc, "/token.conf");
	FILE *f = fopen(kc, "w");
	fputs("clusters: [{name: c, cluster: {server: 'https://127.0.0.1:7443',\n"
	      "  certificate-authority: /etc/kubernetes/pki/ca.crt}}]\n"
	      "users: [{name: u, user: {token: s3cr3t}}]\n"
	      "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
	      "current-context: x\n",
	      f);
	fclose(f);
	o = (struct fm_discover_opts){.root = r, .kubeconfig = kc};
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), 0);
	assert_string_equal(d.apiserver.url, "https://127.0.0.1:7443");
	assert_string_equal(d.apiserver.token, "s3cr3t");
	assert_null(d.apiserver.cert_pem);
	assert_null(d.apiserver.key_pem);
	assert_null(d.apiserver.ca_pem);
	assert_string_equal(d.apiserver.ca, at(r, "/etc/kubernetes/pki/ca.crt")); /* host path */
	assert_contains(d.apiserver.origin, "--kubeconfig ");
	assert_contains(d.apiserver.origin, kc);
	assert_int_equal(d.n_kubeconfigs, 5);
	assert_string_equal(d.kubeconfigs[4], kc);
	fm_discovery_free(&d);

	o.apiserver_url = "https://127.0.0.1:8443";
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), 0);
	assert_string_equal(d.apiserver.url, "https://127.0.0.1:8443");
	assert_string_equal(d.apiserver.origin, "--apiserver");
	assert_string_equal(d.apiserver.token, "s3cr3t");
	fm_discovery_free(&d);

	/* An explicit kubeconfig that cannot be used is an error. */
	f = fopen(kc, "w");
	fputs("current-context: [\n", f);
	fclose(f);
	o = (struct fm_discover_opts){.root = r, .kubeconfig = kc};
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), -EINVAL);
	assert_contains(err, "--kubeconfig: ");
	assert_contains(err, kc);
	fm_discovery_free(&d);
	unlink(kc);
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), -ENOENT);
	assert_contains(err, "No such file");
	fm_discovery_free(&d);
}

static void k3s_node(void **state)
{
	(void)state;
	const char *r = k3s_root;
	const char *tls = "/var/lib/rancher/k3s/server/tls";
	char p[PATH_MAX];
	struct fm_discovery d;
	discover(&d, r);

	assert_int_equal(d.flavor, FM_FLAVOR_K3S);
	assert_string_equal(d.node_name, "pi-master1");
	assert_string_equal(d.etcd.url, "https://127.0.0.1:2379");
	snprintf(p, sizeof(p), "%s%s/etcd/server-ca.crt", r, tls);
	assert_string_equal(d.etcd.ca, p);
	snprintf(p, sizeof(p), "%s%s/etcd/client.crt", r, tls);
	assert_string_equal(d.etcd.cert, p);
	snprintf(p, sizeof(p), "%s%s/etcd/client.key", r, tls);
	assert_string_equal(d.etcd.key, p);
	assert_null(d.etcd.ca_pem);
	assert_string_equal(d.etcd.origin, at(r, "/var/lib/rancher/k3s/server/db/etcd"));
	assert_string_equal(d.etcd_metrics_url, "http://127.0.0.1:2381");

	assert_string_equal(d.apiserver.url, K3S_API_URL);
	assert_string_equal(d.apiserver.origin, at(r, "/etc/rancher/k3s/k3s.yaml"));
	snprintf(p, sizeof(p), "%s%s/server-ca.crt", r, tls);
	assert_file_equals(d.apiserver.ca_pem, p);
	snprintf(p, sizeof(p), "%s%s/client-admin.crt", r, tls);
	assert_file_equals(d.apiserver.cert_pem, p);
	snprintf(p, sizeof(p), "%s%s/client-admin.key", r, tls);
	assert_file_equals(d.apiserver.key_pem, p);
	assert_contains(d.apiserver.key_pem, "-----BEGIN EC PRIVATE KEY-----");
	assert_string_equal(d.apiserver.ca, "");
	assert_string_equal(d.apiserver.cert, "");
	assert_null(d.apiserver.token);

	assert_int_equal(d.n_pki_dirs, 1);
	assert_string_equal(d.pki_dirs[0], at(r, tls));
	assert_int_equal(d.n_kubeconfigs, 1);
	assert_string_equal(d.kubeconfigs[0], at(r, "/etc/rancher/k3s/k3s.yaml"));
	assert_string_equal(d.notes, "");
	fm_discovery_free(&d);

	/* Without k3s.yaml: the admin client certificate from server/tls. */
	move(r, "/etc/rancher/k3s/k3s.yaml", "/k3s.yaml");
	discover(&d, r);
	assert_int_equal(d.flavor, FM_FLAVOR_K3S);
	assert_string_equal(d.apiserver.url, "https://127.0.0.1:6443");
	assert_string_equal(d.apiserver.origin, at(r, tls));
	snprintf(p, sizeof(p), "%s%s/server-ca.crt", r, tls);
	assert_string_equal(d.apiserver.ca, p);
	snprintf(p, sizeof(p), "%s%s/client-admin.crt", r, tls);
	assert_string_equal(d.apiserver.cert, p);
	assert_null(d.apiserver.cert_pem);
	assert_int_equal(d.n_kubeconfigs, 0);
	assert_contains(d.notes, "k3s.yaml: not found");
	fm_discovery_free(&d);
	move(r, "/k3s.yaml", "/etc/rancher/k3s/k3s.yaml");
}

static void k3s_without_etcd(void **state)
{
	(void)state;
	struct fm_discovery d;
	discover(&d, k3s_sqlite_root);
	assert_int_equal(d.flavor, FM_FLAVOR_K3S);
	assert_string_equal(d.etcd.url, "");
	assert_string_equal(d.etcd.ca, "");
	assert_string_equal(d.etcd.cert, "");
	assert_contains(d.etcd.origin, "none: k3s without embedded etcd (no ");
	assert_contains(d.etcd.origin, "/var/lib/rancher/k3s/server/db/etcd)");
	assert_string_equal(d.etcd_metrics_url, "");
	assert_contains(d.notes, "k3s without embedded etcd");
	assert_string_equal(d.apiserver.url, "https://127.0.0.1:6443");
	assert_non_null(d.apiserver.cert_pem);
	fm_discovery_free(&d);
}

static void nothing_found(void **state)
{
	(void)state;
	const char *r = empty_root;
	struct fm_discovery d;
	discover(&d, r);
	assert_int_equal(d.flavor, FM_FLAVOR_NONE);
	assert_string_equal(d.node_name, "");
	/* no kubeadm CA either: nothing to ask, and the flags to say where */
	assert_string_equal(d.etcd.url, "");
	assert_contains(d.etcd.origin, "none: no control plane found under");
	assert_contains(d.etcd.origin, "--etcd URL --etcd-ca FILE --etcd-cert FILE --etcd-key FILE");
	assert_string_equal(d.etcd_metrics_url, "");
	assert_string_equal(d.apiserver.url, "");
	assert_contains(d.apiserver.origin, "--apiserver URL --kubeconfig FILE");
	assert_int_equal(d.n_pki_dirs, 0);
	assert_int_equal(d.n_kubeconfigs, 0);
	assert_contains(d.notes, "no kubeadm");
	fm_discovery_free(&d);
}

/* The whole way: a real etcd on the tree's PKI, described by the tree's
 * manifests; the agent is given nothing but --root. */
static void probe_finds_etcd_from_manifests(void **state)
{
	(void)state;
	char root[PATH_MAX], out[65536], err[8192], origin[PATH_MAX];
	struct fmh_etcd e;
	int status = -1;

	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	assert_int_equal(fmh_pki(root), 0);
	assert_int_equal(fmh_etcd_start(&e, root, NULL), 0);
	assert_int_equal(
	    tree(root, "kubeadm", e.url, "https://127.0.0.1:6443", e.metrics_url, NULL), 0);

	const char *argv[] = {fmh_agent(), "probe", "etcd", "--json", "--root", root, NULL};
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 30000), 0);
	if (status != 0)
		fail_msg("probe etcd: status %d\nstdout: %s\nstderr: %s", status, out, err);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	const cJSON *facts = cJSON_GetObjectItem(j, "facts"), *f;
	bool endpoint = false, disk = false;
	snprintf(origin, sizeof(origin), "%s/etc/kubernetes/manifests/etcd.yaml", root);
	cJSON_ArrayForEach(f, facts)
	{
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(f, "kind"));
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(f, "id"));
		if (!strcmp(kind, "etcd.endpoint")) {
			endpoint = true;
			assert_string_equal(id, e.url);
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(f, "state")),
					    "ok");
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(f, "origin")),
					    origin);
		} else if (!strcmp(kind, "etcd.disk")) {
			disk = true;
			assert_string_equal(
			    cJSON_GetStringValue(cJSON_GetObjectItem(f, "metrics_url")),
			    e.metrics_url);
			assert_null(cJSON_GetObjectItem(f, "state"));
		}
	}
	if (!endpoint || !disk)
		fail_msg("no etcd.endpoint or etcd.disk fact in %s", out);
	cJSON_Delete(j);
	fmh_etcd_stop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kubeadm_node),
	    cmocka_unit_test(kubeadm_fallbacks),
	    cmocka_unit_test(explicit_options),
	    cmocka_unit_test(k3s_node),
	    cmocka_unit_test(k3s_without_etcd),
	    cmocka_unit_test(nothing_found),
	    cmocka_unit_test(probe_finds_etcd_from_manifests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
