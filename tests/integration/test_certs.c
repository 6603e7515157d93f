/* fm_certs and fm_tls' certificate inspection, on the kubeadm-like PKI that
 * tests/harness/pki.sh writes with the openssl CLI, judged against an
 * injected clock: a certificate can be looked at on any day of its life.
 * openssl itself is the referee for the dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_certs.h"
#include "fm_harness.h"
#include "fmh_check.h"
#include "fm_tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400

static char root[PATH_MAX];
static char pki[PATH_MAX];  /* root/etc/kubernetes/pki */
static char tpki[PATH_MAX]; /* root/test-pki */

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0)
		return -1;
	snprintf(pki, sizeof(pki), "%s/etc/kubernetes/pki", root);
	snprintf(tpki, sizeof(tpki), "%s/test-pki", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_cleanup();
	return 0;
}

/* openssl's view of path's validity, "YYYY-MM-DDTHH:MM:SSZ" each. */
static void openssl_dates(const char *path, char *nb, char *na)
{
	const char *const argv[] = {"openssl", "x509", "-noout", "-startdate", "-enddate",
				    "-dateopt", "iso_8601", "-in", path, NULL};
	char out[512], d1[16], t1[16], d2[16], t2[16];
	int status;
	assert_int_equal(fmh_run(argv, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	/* notBefore=2026-11-23 13:50:35Z\nnotAfter=2027-11-23 13:50:35Z */
	assert_int_equal(sscanf(out, "notBefore=%15s %15s notAfter=%15s %15s", d1, t1, d2, t2), 4);
	sprintf(nb, "%sT%s", d1, t1);
	sprintf(na, "%sT%s", d2, t2);
}

static struct fm_cert_info info_of(const char *path)
{
	struct fm_cert_info ci[2];
	size_t n = 0;
	char err[512];
	int rc = fm_tls_cert_info_file(path, ci, 2, &n, err, sizeof(err));
	if (rc < 0)
		fail_msg("%s", err);
	assert_int_equal(n, 1);
	return ci[0];
}

/* The fact of a 1-year leaf ten days into its life. */
static void one_year_leaf_ten_days_in(void **state)
{
	(void)state;
	char path[PATH_MAX], nb[40], na[40];
	snprintf(path, sizeof(path), "%s/etcd/server.crt", pki);
	struct fm_cert_info ci = info_of(path);
	assert_string_equal(ci.subject, "CN=pi-master1");
	assert_string_equal(ci.issuer, "CN=etcd-ca");
	assert_false(ci.is_ca);
	assert_int_equal((long long)(ci.not_after - ci.not_before), 365LL * DAY);
	assert_int_equal(ci.sans_total, 4);
	assert_int_equal(ci.n_sans, 4);
	assert_string_equal(ci.sans[0], "DNS:localhost");
	assert_string_equal(ci.sans[1], "DNS:pi-master1");
	assert_string_equal(ci.sans[2], "IP:127.0.0.1");
	assert_string_equal(ci.sans[3], "IP:::1");

	struct fm_facts *facts = fm_facts_new();
	assert_int_equal(fm_certs_put_file(facts, path, ci.not_before + 10 * DAY), 1);
	const cJSON *f = fm_facts_get(facts, "cert", path);
	assert_non_null(f);
	openssl_dates(path, nb, na);
	assert_string_equal(fmh_jstr(f, "file"), path);
	assert_string_equal(fmh_jstr(f, "subject"), "CN=pi-master1");
	assert_string_equal(fmh_jstr(f, "not_before"), nb);
	assert_string_equal(fmh_jstr(f, "not_after"), na);
	assert_int_equal((int)fmh_jnum(f, "days_left"), 355);
	assert_false(fmh_jbool(f, "expired"));
	assert_false(fmh_jbool(f, "not_yet_valid"));
	assert_false(fmh_jbool(f, "clock_outside_validity"));
	assert_false(fmh_jbool(f, "is_ca"));
	assert_null(cJSON_GetObjectItem(f, "state"));

	/* One second before the end: still valid, 0 days left. */
	assert_int_equal(fm_certs_put_file(facts, path, ci.not_after - 1), 1);
	f = fm_facts_get(facts, "cert", path);
	assert_int_equal((int)fmh_jnum(f, "days_left"), 0);
	assert_false(fmh_jbool(f, "expired"));
	fm_facts_delete(&facts);
}

static void expired_one_day_after(void **state)
{
	(void)state;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/etcd/healthcheck-client.crt", pki);
	struct fm_cert_info ci = info_of(path);
	struct fm_facts *facts = fm_facts_new();
	assert_int_equal(fm_certs_put_file(facts, path, ci.not_after + DAY), 1);
	const cJSON *f = fm_facts_get(facts, "cert", path);
	assert_int_equal((int)fmh_jnum(f, "days_left"), -1);
	assert_true(fmh_jbool(f, "expired"));
	assert_false(fmh_jbool(f, "not_yet_valid"));
	assert_true(fmh_jbool(f, "clock_outside_validity"));
	fm_facts_delete(&facts);
}

/* A board without RTC that booted with yesterday's clock (or 1970's). */
static void not_yet_valid_one_day_before(void **state)
{
	(void)state;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/apiserver.crt", pki);
	struct fm_cert_info ci = info_of(path);
	struct fm_facts *facts = fm_facts_new();
	assert_int_equal(fm_certs_put_file(facts, path, ci.not_before - DAY), 1);
	const cJSON *f = fm_facts_get(facts, "cert", path);
	assert_int_equal((int)fmh_jnum(f, "days_left"), 366);
	assert_false(fmh_jbool(f, "expired"));
	assert_true(fmh_jbool(f, "not_yet_valid"));
	assert_true(fmh_jbool(f, "clock_outside_validity"));

	assert_int_equal(fm_certs_put_file(facts, path, 0), 1);
	f = fm_facts_get(facts, "cert", path);
	assert_true(fmh_jbool(f, "not_yet_valid"));
	assert_true(fmh_jnum(f, "days_left") > 365 * 50);
	fm_facts_delete(&facts);
}

/* The negative certificates of the test PKI, against the real clock. */
static void test_pki_with_the_real_clock(void **state)
{
	(void)state;
	char path[PATH_MAX], nb[40], na[40];
	struct fm_facts *facts = fm_facts_new();
	time_t now = time(NULL);

	snprintf(path, sizeof(path), "%s/expired-client.crt", tpki);
	assert_int_equal(fm_certs_put_file(facts, path, now), 1);
	const cJSON *f = fm_facts_get(facts, "cert", path);
	openssl_dates(path, nb, na);
	assert_string_equal(fmh_jstr(f, "not_after"), na);
	assert_string_equal(fmh_jstr(f, "subject"), "CN=kube-etcd-healthcheck-client");
	assert_true(fmh_jbool(f, "expired"));
	assert_true(fmh_jbool(f, "clock_outside_validity"));
	/* Valid until a day ago (plus the seconds pki.sh took): -1 or -2. */
	assert_true(fmh_jnum(f, "days_left") <= -1 && fmh_jnum(f, "days_left") >= -2);

	snprintf(path, sizeof(path), "%s/notyet-client.crt", tpki);
	assert_int_equal(fm_certs_put_file(facts, path, now), 1);
	f = fm_facts_get(facts, "cert", path);
	assert_true(fmh_jbool(f, "not_yet_valid"));
	assert_false(fmh_jbool(f, "expired"));

	snprintf(path, sizeof(path), "%s/wrong-ca.crt", tpki);
	assert_int_equal(fm_certs_put_file(facts, path, now), 1);
	f = fm_facts_get(facts, "cert", path);
	assert_true(fmh_jbool(f, "is_ca"));
	assert_string_equal(fmh_jstr(f, "subject"), "CN=wrong-ca");
	/* Ten years, less the seconds since pki.sh made it (none within its second). */
	int days = (int)fmh_jnum(f, "days_left");
	assert_true(days == 3649 || days == 3650);
	fm_facts_delete(&facts);
}

static void scan_kubeadm_pki(void **state)
{
	(void)state;
	static const char *const certs[] = {
		"apiserver-etcd-client.crt", "apiserver.crt", "ca.crt", "etcd/ca.crt",
		"etcd/healthcheck-client.crt", "etcd/peer.crt", "etcd/server.crt",
	};
	struct fm_facts *facts = fm_facts_new();
	char err[512], path[PATH_MAX];
	int n = -1;
	assert_int_equal(fm_certs_scan_dir(facts, pki, time(NULL), &n, err, sizeof(err)), 0);
	/* Every certificate file there (pki.sh may grow: find is the referee),
	 * at least the seven kubeadm ones below. */
	const char *const find[] = {"sh", "-c", "find \"$0\" -name '*.crt' -o -name '*.pem' | wc -l",
				    pki, NULL};
	char out[64];
	int status;
	assert_int_equal(fmh_run(find, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	assert_true(n >= 7);
	assert_int_equal(n, atoi(out));
	assert_int_equal(fmh_count_kind_set(facts, "cert"), n);
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pki, certs[i]);
		const cJSON *f = fm_facts_get(facts, "cert", path);
		if (!f)
			fail_msg("no fact for %s", path);
		assert_null(cJSON_GetObjectItem(f, "state"));
		assert_false(fmh_jbool(f, "expired"));
		/* CAs ten years, leaves one. */
		assert_int_equal(fmh_jbool(f, "is_ca"), strstr(certs[i], "ca.crt") != NULL);
	}
	/* The keys lie next to them and are not facts. */
	for (size_t i = 0; i < fm_facts_count(facts); i++)
		assert_null(strstr(fmh_jstr(fm_facts_at(facts, i), "id"), ".key"));
	/* Facts come in name order, whatever readdir says. */
	size_t at[3] = {0};
	static const char *const ordered[] = {"apiserver-etcd-client.crt", "apiserver.crt", "ca.crt"};
	for (size_t k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "%s/%s", pki, ordered[k]);
		while (at[k] < fm_facts_count(facts) &&
		       strcmp(fmh_jstr(fm_facts_at(facts, at[k]), "id"), path) != 0)
			at[k]++;
	}
	assert_true(at[0] < at[1] && at[1] < at[2] && at[2] < fm_facts_count(facts));
	fm_facts_delete(&facts);

	assert_int_equal(fm_certs_scan_dir(facts = fm_facts_new(), "/nonexistent/pki", 0, &n, err,
					   sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/pki"));
	fm_facts_delete(&facts);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = malloc(65536);
	assert_non_null(buf);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

/* What a PKI directory can hold besides plain certificates. */
static void scan_odd_files(void **state)
{
	(void)state;
	char dir[PATH_MAX], p[PATH_MAX], q[PATH_MAX], err[512];
	size_t len_ca, len_key, len_leaf;
	snprintf(p, sizeof(p), "%s/etcd/ca.crt", pki);
	char *ca = slurp(p, &len_ca);
	snprintf(p, sizeof(p), "%s/etcd/ca.key", pki);
	char *key = slurp(p, &len_key);
	snprintf(p, sizeof(p), "%s/etcd/server.crt", pki);
	char *leaf = slurp(p, &len_leaf);

	snprintf(dir, sizeof(dir), "%s/odd", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	/* A key saved as .pem: skipped silently. */
	snprintf(p, sizeof(p), "%s/only-key.pem", dir);
	write_file(p, key, len_key);
	/* kubelet-client-current.pem style: certificate and key in one file. */
	snprintf(p, sizeof(p), "%s/cert-and-key.pem", dir);
	char *both = malloc(len_leaf + len_key);
	memcpy(both, leaf, len_leaf);
	memcpy(both + len_leaf, key, len_key);
	write_file(p, both, len_leaf + len_key);
	free(both);
	/* A bundle: leaf then CA (k3s client certificates look like this). */
	snprintf(p, sizeof(p), "%s/bundle.crt", dir);
	char *bundle = malloc(len_leaf + len_ca);
	memcpy(bundle, leaf, len_leaf);
	memcpy(bundle + len_leaf, ca, len_ca);
	write_file(p, bundle, len_leaf + len_ca);
	free(bundle);
	/* Garbage under a certificate's name. */
	snprintf(p, sizeof(p), "%s/broken.crt", dir);
	static const char broken[] =
		"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n";
	write_file(p, broken, sizeof(broken) - 1);
	/* Not a certificate name: ignored. */
	snprintf(p, sizeof(p), "%s/ca.txt", dir);
	write_file(p, ca, len_ca);
	/* A symlink to a certificate is followed... */
	snprintf(p, sizeof(p), "%s/link.crt", dir);
	snprintf(q, sizeof(q), "%s/etcd/ca.crt", pki);
	assert_int_equal(symlink(q, p), 0);
	/* ... a symlink to a directory is not. */
	snprintf(p, sizeof(p), "%s/linkdir", dir);
	assert_int_equal(symlink(pki, p), 0);
	/* Depth: a/b/c/d (4 below) is walked, a/b/c/d/e (5) is not. */
	snprintf(p, sizeof(p), "%s/a/b/c/d/e", dir);
	const char *const mk[] = {"mkdir", "-p", p, NULL};
	int status;
	assert_int_equal(fmh_run(mk, NULL, 0, &status, 5000), 0);
	assert_int_equal(status, 0);
	snprintf(p, sizeof(p), "%s/a/b/c/d/deep4.crt", dir);
	write_file(p, ca, len_ca);
	snprintf(p, sizeof(p), "%s/a/b/c/d/e/deep5.crt", dir);
	write_file(p, ca, len_ca);

	struct fm_facts *facts = fm_facts_new();
	int n = -1;
	assert_int_equal(fm_certs_scan_dir(facts, dir, time(NULL), &n, err, sizeof(err)), 0);
	/* bundle.crt (2 certificates), cert-and-key.pem, link.crt, deep4.crt */
	assert_int_equal(n, 4);
	assert_int_equal(fmh_count_kind_set(facts, "cert"), 6); /* + bundle.crt#2, broken.crt */

	snprintf(p, sizeof(p), "%s/bundle.crt", dir);
	assert_string_equal(fmh_jstr(fm_facts_get(facts, "cert", p), "subject"), "CN=pi-master1");
	snprintf(q, sizeof(q), "%s#2", p);
	const cJSON *f = fm_facts_get(facts, "cert", q);
	assert_non_null(f);
	assert_string_equal(fmh_jstr(f, "subject"), "CN=etcd-ca");
	assert_string_equal(fmh_jstr(f, "file"), p);

	snprintf(p, sizeof(p), "%s/cert-and-key.pem", dir);
	assert_non_null(fm_facts_get(facts, "cert", p));
	snprintf(p, sizeof(p), "%s/only-key.pem", dir);
	assert_null(fm_facts_get(facts, "cert", p));
	snprintf(p, sizeof(p), "%s/link.crt", dir);
	assert_true(fmh_jbool(fm_facts_get(facts, "cert", p), "is_ca"));
	snprintf(p, sizeof(p), "%s/a/b/c/d/deep4.crt", dir);
	assert_non_null(fm_facts_get(facts, "cert", p));
	snprintf(p, sizeof(p), "%s/a/b/c/d/e/deep5.crt", dir);
	assert_null(fm_facts_get(facts, "cert", p));

	snprintf(p, sizeof(p), "%s/broken.crt", dir);
	f = fm_facts_get(facts, "cert", p);
	assert_non_null(f);
	assert_string_equal(fmh_jstr(f, "state"), "malformed");
	assert_non_null(strstr(fmh_jstr(f, "reason"), p));
	assert_null(cJSON_GetObjectItem(f, "days_left"));
	fm_facts_delete(&facts);
	free(ca);
	free(key);
	free(leaf);
}

/* No more than FM_CERTS_MAX_FILES files are looked at in one scan. */
static void scan_is_capped(void **state)
{
	(void)state;
	char dir[PATH_MAX], p[PATH_MAX], err[512];
	size_t len;
	snprintf(p, sizeof(p), "%s/etcd/ca.crt", pki);
	char *ca = slurp(p, &len);
	snprintf(dir, sizeof(dir), "%s/many", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = 0; i < FM_CERTS_MAX_FILES + 20; i++) {
		snprintf(p, sizeof(p), "%s/c%03d.crt", dir, i);
		write_file(p, ca, len);
	}
	struct fm_facts *facts = fm_facts_new();
	int n = -1;
	assert_int_equal(fm_certs_scan_dir(facts, dir, time(NULL), &n, err, sizeof(err)), 0);
	assert_int_equal(n, FM_CERTS_MAX_FILES);
	assert_int_equal(fmh_count_kind_set(facts, "cert"), FM_CERTS_MAX_FILES);
	fm_facts_delete(&facts);
	free(ca);
}

/* Embedded in a kubeconfig (client-certificate-data, decoded). */
static void embedded_pem(void **state)
{
	(void)state;
	char p[PATH_MAX];
	size_t len;
	snprintf(p, sizeof(p), "%s/apiserver-etcd-client.crt", pki);
	char *pem = slurp(p, &len);
	struct fm_cert_info ci = info_of(p);
	struct fm_facts *facts = fm_facts_new();
	const char *kc = "/etc/kubernetes/admin.conf";
	assert_int_equal(fm_certs_put_pem(facts, "/etc/kubernetes/admin.conf#kubernetes-admin", kc,
					  pem, len, ci.not_before + 100 * DAY),
			 1);
	const cJSON *f = fm_facts_get(facts, "cert", "/etc/kubernetes/admin.conf#kubernetes-admin");
	assert_non_null(f);
	assert_string_equal(fmh_jstr(f, "file"), kc);
	assert_string_equal(fmh_jstr(f, "subject"), "O=system:masters, CN=kube-apiserver-etcd-client");
	assert_int_equal((int)fmh_jnum(f, "days_left"), 265);

	/* Not even PEM. */
	assert_int_equal(fm_certs_put_pem(facts, "kc#bad", kc, "garbage", 7, 0), -EINVAL);
	f = fm_facts_get(facts, "cert", "kc#bad");
	assert_string_equal(fmh_jstr(f, "state"), "malformed");
	assert_non_null(strstr(fmh_jstr(f, "reason"), "kc#bad"));
	/* A key where the certificate should be. */
	snprintf(p, sizeof(p), "%s/apiserver-etcd-client.key", pki);
	char *key = slurp(p, &len);
	assert_int_equal(fm_certs_put_pem(facts, "kc#key", kc, key, len, 0), -ENODATA);
	assert_string_equal(fmh_jstr(fm_facts_get(facts, "cert", "kc#key"), "state"), "malformed");
	fm_facts_delete(&facts);
	free(pem);
	free(key);
}

/* A DER certificate parses too; files that are not there say so. */
static void der_and_missing(void **state)
{
	(void)state;
	char pem[PATH_MAX], der[PATH_MAX], err[512];
	snprintf(pem, sizeof(pem), "%s/ca.crt", pki);
	snprintf(der, sizeof(der), "%s/ca.der", root);
	const char *const argv[] = {"openssl", "x509", "-in", pem, "-outform", "DER", "-out", der, NULL};
	int status;
	assert_int_equal(fmh_run(argv, NULL, 0, &status, 10000), 0);
	assert_int_equal(status, 0);
	struct fm_cert_info a = info_of(pem), b = info_of(der);
	assert_string_equal(a.subject, b.subject);
	assert_true(a.not_after == b.not_after);
	assert_true(b.is_ca);

	struct fm_facts *facts = fm_facts_new();
	assert_int_equal(fm_certs_put_file(facts, "/nonexistent/ca.crt", 0), -ENOENT);
	const cJSON *f = fm_facts_get(facts, "cert", "/nonexistent/ca.crt");
	assert_string_equal(fmh_jstr(f, "state"), "missing");
	assert_non_null(strstr(fmh_jstr(f, "reason"), "/nonexistent/ca.crt"));
	/* A directory is not a certificate file. */
	assert_int_equal(fm_certs_put_file(facts, pki, 0), -EINVAL);
	fm_facts_delete(&facts);

	struct fm_cert_info ci;
	size_t n;
	assert_int_equal(fm_tls_cert_info_pem("", 0, &ci, 1, &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_year_leaf_ten_days_in),
		cmocka_unit_test(expired_one_day_after),
		cmocka_unit_test(not_yet_valid_one_day_before),
		cmocka_unit_test(test_pki_with_the_real_clock),
		cmocka_unit_test(scan_kubeadm_pki),
		cmocka_unit_test(scan_odd_files),
		cmocka_unit_test(scan_is_capped),
		cmocka_unit_test(embedded_pem),
		cmocka_unit_test(der_and_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
