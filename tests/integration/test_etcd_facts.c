/* The etcd source's facts against a real etcd (Debian etcd-server 3.4):
 * health, version, status, members, alarms, the masterleases count, the
 * disk latency histograms of its metrics listener and the certificates,
 * asked through fm_etcd_collect (with an injected clock and the metrics
 * URL, which the command line cannot give) and, for NOSPACE, through the
 * agent binary as a person would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_etcd.h"
#include "fm_harness.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char root[PATH_MAX];
static char tpki[PATH_MAX];
static struct fmh_etcd etcd;

static const char *agent(void)
{
	const char *a = getenv("FM_AGENT");
	return a ? a : "fleetmedic-agent";
}

/* etcdctl against e: args are the command (NULL-terminated, at most 8).
 * Returns its exit status; its output goes to out. */
static int etcdctl(const struct fmh_etcd *e, char *out, size_t outsize, const char *const args[])
{
	const char *argv[24] = {"env", "ETCDCTL_API=3", "etcdctl", "--endpoints", e->url,
				"--cacert", e->ca, "--cert", e->cert, "--key", e->key};
	size_t n = 11;
	for (size_t i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int status = -1;
	char scratch[4096];
	assert_int_equal(fmh_run(argv, out ? out : scratch, out ? outsize : sizeof(scratch),
				 &status, 20000),
			 0);
	return status;
}

static int setup(void **state)
{
	(void)state;
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0)
		return -1;
	snprintf(tpki, sizeof(tpki), "%s/test-pki", root);
	if (fmh_etcd_start(&etcd, root, NULL) < 0)
		return -1;
	/* Two kube-apiservers' leases, and keys just outside the range. */
	static const char *const puts[][4] = {
		{"put", "/registry/masterleases/192.168.1.10", "k8s-lease-1", NULL},
		{"put", "/registry/masterleases/192.168.1.11", "k8s-lease-2", NULL},
		{"put", "/registry/masterleases", "not-a-lease", NULL},
		{"put", "/registry/masterleases0", "not-a-lease", NULL},
		{"put", "/registry/pods/kube-system/etcd-pi-master1", "x", NULL},
	};
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++) {
		char out[4096];
		if (etcdctl(&etcd, out, sizeof(out), puts[i]) != 0) {
			fprintf(stderr, "etcdctl put: %s\n", out);
			return -1;
		}
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_etcd_stop(&etcd);
	fmh_cleanup();
	return 0;
}

static struct fm_endpoint endpoint_of(const struct fmh_etcd *e)
{
	struct fm_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.url, sizeof(ep.url), "%s", e->url);
	snprintf(ep.ca, sizeof(ep.ca), "%s", e->ca);
	snprintf(ep.cert, sizeof(ep.cert), "%s", e->cert);
	snprintf(ep.key, sizeof(ep.key), "%s", e->key);
	snprintf(ep.origin, sizeof(ep.origin), "test");
	return ep;
}

/* fm_etcd_collect on ep into a new fact set; *rc gets its result. */
static struct fm_facts *collect(const struct fm_endpoint *ep, const char *metrics_url, int *rc)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fm_facts_new();
	struct fm_collect_opts co = {.timeout_ms = 5000};
	assert_non_null(loop);
	assert_non_null(facts);
	*rc = fm_etcd_collect(loop, ep, metrics_url, time(NULL), &co, facts);
	fm_loop_delete(&loop);
	return facts;
}

static void dump(const struct fm_facts *facts)
{
	cJSON *all = fm_facts_json(facts, "");
	char *s = cJSON_Print(all);
	/* Not print_message: cmocka cuts long messages. */
	fprintf(stderr, "%s\n", s);
	free(s);
	cJSON_Delete(all);
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	if (!cJSON_IsNumber(v))
		fail_msg("no number \"%s\" in %s", key, o ? jstr(o, "kind") : "(no fact)");
	return v->valuedouble;
}

static const cJSON *must(const struct fm_facts *facts, const char *kind, const char *id)
{
	const cJSON *f = fm_facts_get(facts, kind, id);
	if (!f) {
		dump(facts);
		fail_msg("no fact %s %s", kind, id);
	}
	return f;
}

static int count_kind(const struct fm_facts *facts, const char *kind)
{
	int n = 0;
	for (size_t i = 0; i < fm_facts_count(facts); i++)
		n += strcmp(jstr(fm_facts_at(facts, i), "kind"), kind) == 0;
	return n;
}

static void healthy_etcd(void **state)
{
	(void)state;
	struct fm_endpoint ep = endpoint_of(&etcd);
	int rc;
	struct fm_facts *facts = collect(&ep, etcd.metrics_url, &rc);
	if (rc != 0 || getenv("DUMP"))
		dump(facts);
	assert_int_equal(rc, 0);

	/* No fact says anything failed. */
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const char *st = jstr(fm_facts_at(facts, i), "state");
		if (st && strcmp(st, "ok") != 0) {
			dump(facts);
			fail_msg("fact %zu has state %s", i, st);
		}
	}

	const cJSON *ep_f = must(facts, "etcd.endpoint", etcd.url);
	assert_string_equal(jstr(ep_f, "state"), "ok");
	assert_string_equal(jstr(ep_f, "tls_version"), "TLSv1.3");

	/* Debian 12's etcd is 3.4.23: no /livez, so /health. */
	const cJSON *v = must(facts, "etcd.version", etcd.url);
	assert_memory_equal(jstr(v, "server"), "3.4.", 4);
	const cJSON *h = must(facts, "etcd.health", etcd.url);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(jstr(h, "via"), "/health");
	assert_null(cJSON_GetObjectItem(h, "reason"));
	/* A round trip on the open connection: no handshake in it. */
	double rtt = jnum(h, "rtt_ms");
	assert_true(rtt >= 0 && rtt < 5000);

	const cJSON *st = must(facts, "etcd.status", etcd.url);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "is_leader")));
	assert_null(cJSON_GetObjectItem(st, "errors"));

	const cJSON *m = must(facts, "etcd.members", etcd.url);
	assert_int_equal((int)jnum(m, "count"), 1);
	const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "members"), 0);
	assert_string_equal(jstr(m0, "name"), "node");
	assert_string_equal(jstr(m0, "id"), jstr(st, "member_id"));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(m0, "is_learner")));
	char peer[64];
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", etcd.peer_port);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(m0, "peer_urls"), 0)->valuestring,
			    peer);
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItem(m0, "client_urls"), 0)->valuestring, etcd.url);

	/* Two leases; "/registry/masterleases" and "...leases0" are outside. */
	assert_int_equal((int)jnum(must(facts, "etcd.masterleases", etcd.url), "count"), 2);

	assert_int_equal(count_kind(facts, "etcd.alarm"), 0);

	const cJSON *d = must(facts, "etcd.disk", etcd.url);
	assert_true(jnum(d, "wal_fsync_count") > 0);
	assert_true(jnum(d, "backend_commit_count") > 0);
	double s1 = jnum(d, "wal_fsync_slow_share"), s2 = jnum(d, "backend_commit_slow_share");
	assert_true(s1 >= 0 && s1 <= 1);
	assert_true(s2 >= 0 && s2 <= 1);
	assert_int_equal((int)jnum(d, "bucket_le_ms"), 128);
	assert_string_equal(jstr(d, "metrics_url"), etcd.metrics_url);

	/* The certificate etcd served, and the files we used. */
	char id[128];
	snprintf(id, sizeof(id), "%s (served)", etcd.url);
	const cJSON *c = must(facts, "cert", id);
	assert_string_equal(jstr(c, "subject"), "CN=pi-master1");
	assert_string_equal(jstr(c, "issuer"), "CN=etcd-ca");
	int days = (int)jnum(c, "days_left");
	assert_true(days == 364 || days == 365);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "served")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(c, "expired")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(must(facts, "cert", etcd.ca), "is_ca")));
	assert_string_equal(jstr(must(facts, "cert", etcd.cert), "subject"),
			    "CN=kube-etcd-healthcheck-client");
	assert_int_equal(count_kind(facts, "cert"), 3);
	fm_facts_delete(&facts);
}

/* The command line shows the same facts (no metrics URL: none known). */
static void probe_json_shows_certs(void **state)
{
	(void)state;
	static char out[65536];
	char err[4096];
	int status;
	const char *const argv[] = {agent(), "probe", "etcd", "--json", "--etcd", etcd.url,
				    "--etcd-ca", etcd.ca, "--etcd-cert", etcd.cert,
				    "--etcd-key", etcd.key, NULL};
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 30000), 0);
	if (status != 0)
		print_message("%s\n%s\n", out, err);
	assert_int_equal(status, 0);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	int certs = 0, served = 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "facts"))
	{
		if (strcmp(jstr(f, "kind"), "cert") != 0)
			continue;
		certs++;
		served += cJSON_IsTrue(cJSON_GetObjectItem(f, "served"));
		assert_non_null(jstr(f, "file"));
		assert_non_null(jstr(f, "not_after"));
	}
	assert_int_equal(certs, 3);
	assert_int_equal(served, 1);
	cJSON_Delete(j);
}

/* A failing request leaves its failure on its fact; the rest still comes. */
static void metrics_listener_failures(void **state)
{
	(void)state;
	struct fm_endpoint ep = endpoint_of(&etcd);
	char url[64];
	int rc;

	int port = fmh_free_port();
	assert_true(port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	struct fm_facts *facts = collect(&ep, url, &rc);
	assert_int_equal(rc, 0); /* etcd itself is healthy */
	const cJSON *d = must(facts, "etcd.disk", etcd.url);
	assert_string_equal(jstr(d, "state"), "refused");
	assert_non_null(strstr(jstr(d, "reason"), "connection refused"));
	assert_null(cJSON_GetObjectItem(d, "wal_fsync_count"));
	fm_facts_delete(&facts);

	/* Something that answers, but not with metrics: etcd's peer port. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", etcd.peer_port);
	facts = collect(&ep, url, &rc);
	d = must(facts, "etcd.disk", etcd.url);
	if (strcmp(jstr(d, "state"), "http-status") != 0 && strcmp(jstr(d, "state"), "malformed") != 0)
		fail_msg("etcd.disk state %s: %s", jstr(d, "state"), jstr(d, "reason"));
	fm_facts_delete(&facts);

	/* No metrics URL known: no etcd.disk fact at all. */
	facts = collect(&ep, "", &rc);
	assert_null(fm_facts_get(facts, "etcd.disk", etcd.url));
	fm_facts_delete(&facts);
}

/* The server's certificate is described even when the handshake fails on
 * it, and our own expired certificate shows as expired. */
static void certs_when_tls_fails(void **state)
{
	(void)state;
	struct fm_endpoint ep = endpoint_of(&etcd);
	char id[128];
	int rc;
	snprintf(ep.ca, sizeof(ep.ca), "%s/wrong-ca.crt", tpki);
	struct fm_facts *facts = collect(&ep, NULL, &rc);
	assert_int_equal(rc, -1);
	assert_string_equal(jstr(must(facts, "etcd.endpoint", etcd.url), "tls"), "unknown-ca");
	snprintf(id, sizeof(id), "%s (served)", etcd.url);
	assert_string_equal(jstr(must(facts, "cert", id), "subject"), "CN=pi-master1");
	assert_null(fm_facts_get(facts, "etcd.health", etcd.url));
	fm_facts_delete(&facts);

	ep = endpoint_of(&etcd);
	snprintf(ep.cert, sizeof(ep.cert), "%s/expired-client.crt", tpki);
	snprintf(ep.key, sizeof(ep.key), "%s/expired-client.key", tpki);
	facts = collect(&ep, NULL, &rc);
	assert_int_equal(rc, -1);
	assert_string_equal(jstr(must(facts, "etcd.endpoint", etcd.url), "tls"),
			    "client-cert-rejected");
	const cJSON *c = must(facts, "cert", ep.cert);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "expired")));
	assert_true(jnum(c, "days_left") < 0);
	fm_facts_delete(&facts);
}

/* etcd over its quota raises NOSPACE: the agent says so, and exits 1. */
static void nospace(void **state)
{
	(void)state;
	static struct fmh_etcd small;
	/* etcd 3.4 takes any quota; 2 MiB fills in ~20 puts of 100 KB. */
	const char *const extra[] = {"--quota-backend-bytes", "2097152", NULL};
	assert_int_equal(fmh_etcd_start_args(&small, root, NULL, extra), 0);

	/* Values under 128 KiB: one argument of etcdctl cannot be larger. */
	static char value[100 * 1024];
	memset(value, 'x', sizeof(value) - 1);
	bool full = false;
	for (int i = 0; i < 100 && !full; i++) {
		char key[64], out[4096];
		snprintf(key, sizeof(key), "/fill/%03d", i);
		const char *const args[] = {"put", key, value, NULL};
		if (etcdctl(&small, out, sizeof(out), args) != 0) {
			if (!strstr(out, "etcdserver: mvcc: database space exceeded"))
				fail_msg("etcdctl put failed otherwise: %s", out);
			full = true;
		}
	}
	assert_true(full);

	static char out[65536];
	char err[4096];
	int status;
	const char *const argv[] = {agent(), "probe", "etcd", "--json", "--etcd", small.url,
				    "--etcd-ca", small.ca, "--etcd-cert", small.cert,
				    "--etcd-key", small.key, NULL};
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 30000), 0);
	cJSON *j = cJSON_Parse(out);
	if (!j || status != 1)
		print_message("status %d\n%s\n%s\n", status, out, err);
	assert_int_equal(status, 1);
	assert_non_null(j);
	const cJSON *alarm = NULL, *health = NULL, *st = NULL, *f;
	char alarm_id[128];
	snprintf(alarm_id, sizeof(alarm_id), "%s#NOSPACE", small.url);
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "facts"))
	{
		if (strcmp(jstr(f, "kind"), "etcd.alarm") == 0)
			alarm = f;
		else if (strcmp(jstr(f, "kind"), "etcd.health") == 0)
			health = f;
		else if (strcmp(jstr(f, "kind"), "etcd.status") == 0)
			st = f;
	}
	assert_non_null(alarm);
	assert_string_equal(jstr(alarm, "id"), alarm_id);
	assert_string_equal(jstr(alarm, "alarm"), "NOSPACE");
	assert_string_equal(jstr(alarm, "member_id"), jstr(st, "member_id"));
	assert_non_null(health);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(health, "healthy")));
	/* 3.4's /health says only {"health":"false"}: the alarm gives the reason. */
	assert_string_equal(jstr(health, "reason"), "ALARM NOSPACE");
	assert_non_null(strstr(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "errors"), 0)->valuestring,
			       "NOSPACE"));
	cJSON_Delete(j);
	fmh_etcd_stop(&small);
}

/* --- a stand-in for what Debian's etcd 3.4.23 cannot show --- */

/* Starts tests/harness/etcd_standin.py (a STAND-IN, not etcd) with scenario;
 * url gets its base URL, log its log path. */
static pid_t standin(const char *scenario, char *url, size_t size, char *log, size_t logsize)
{
	char port_s[16];
	int port = fmh_free_port();
	assert_true(port > 0);
	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(log, logsize, "%s/standin-%s.log", root, scenario);
	const char *const argv[] = {"python3", FMH_ETCD_STANDIN, port_s, scenario, NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	assert_int_equal(fmh_wait_tcp("127.0.0.1", port, 10000), 0);
	snprintf(url, size, "http://127.0.0.1:%d", port);
	return pid;
}

static bool log_has(const char *log, const char *needle)
{
	return fmh_wait_log(log, needle, 0) == 0;
}

/* etcd 3.5.11+: /livez and /readyz?verbose instead of /health; the failing
 * readyz check is the reason; a CORRUPT alarm written as its enum number;
 * no leader; a learner; slow disks in /metrics. */
static void standin_etcd35(void **state)
{
	(void)state;
	char url[64], log[PATH_MAX], alarm_id[128];
	pid_t pid = standin("v35-unready", url, sizeof(url), log, sizeof(log));
	struct fm_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.url, sizeof(ep.url), "%s", url);
	snprintf(ep.origin, sizeof(ep.origin), "stand-in");
	int rc;
	struct fm_facts *facts = collect(&ep, url, &rc);
	if (getenv("DUMP"))
		dump(facts);
	assert_int_equal(rc, -1);

	const cJSON *h = must(facts, "etcd.health", url);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(jstr(h, "via"), "/livez+/readyz");
	/* The server's words win over the alarm's name. */
	assert_string_equal(jstr(h, "reason"),
			    "/readyz: linearizable_read failed: etcdserver: leader changed");
	assert_true(jnum(h, "rtt_ms") >= 0);
	assert_true(log_has(log, "GET /livez?verbose"));
	assert_true(log_has(log, "GET /readyz?verbose"));
	assert_false(log_has(log, "GET /health"));

	snprintf(alarm_id, sizeof(alarm_id), "%s#CORRUPT", url);
	const cJSON *a = must(facts, "etcd.alarm", alarm_id);
	assert_string_equal(jstr(a, "alarm"), "CORRUPT");
	assert_string_equal(jstr(a, "member_id"), "8e9e05c52164694d");

	const cJSON *st = must(facts, "etcd.status", url);
	assert_null(cJSON_GetObjectItem(st, "leader"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(st, "is_leader")));

	const cJSON *m = must(facts, "etcd.members", url);
	assert_int_equal((int)jnum(m, "count"), 2);
	const cJSON *learner = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "members"), 1);
	assert_string_equal(jstr(learner, "id"), "1");
	assert_string_equal(jstr(learner, "name"), "");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(learner, "is_learner")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(learner, "client_urls")), 0);

	/* proto3 JSON leaves a zero count out. */
	assert_int_equal((int)jnum(must(facts, "etcd.masterleases", url), "count"), 0);

	const cJSON *d = must(facts, "etcd.disk", url);
	assert_int_equal((int)jnum(d, "wal_fsync_count"), 100);
	assert_true(jnum(d, "wal_fsync_slow_share") > 0.0999 && jnum(d, "wal_fsync_slow_share") < 0.1001);
	assert_int_equal((int)jnum(d, "backend_commit_count"), 40);
	assert_true(jnum(d, "backend_commit_slow_share") > 0.2499 &&
		    jnum(d, "backend_commit_slow_share") < 0.2501);
	assert_null(cJSON_GetObjectItem(d, "state"));
	/* Plain http: no certificate anywhere. */
	assert_int_equal(count_kind(facts, "cert"), 0);
	fm_facts_delete(&facts);
	fmh_stop(pid);
}

/* The connection dies after /version: /health fails, and the requests after
 * it are not sent but each says so. */
static void standin_dies(void **state)
{
	(void)state;
	char url[64], log[PATH_MAX];
	pid_t pid = standin("dies", url, sizeof(url), log, sizeof(log));
	struct fm_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.url, sizeof(ep.url), "%s", url);
	int rc;
	struct fm_facts *facts = collect(&ep, NULL, &rc);
	if (getenv("DUMP"))
		dump(facts);
	assert_int_equal(rc, -1);
	assert_string_equal(jstr(must(facts, "etcd.endpoint", url), "state"), "ok");
	assert_string_equal(jstr(must(facts, "etcd.version", url), "server"), "3.4.23");
	const cJSON *h = must(facts, "etcd.health", url);
	assert_string_equal(jstr(h, "state"), "closed");
	assert_null(cJSON_GetObjectItem(h, "healthy"));
	static const char *const kinds[] = {"etcd.alarm", "etcd.status", "etcd.members",
					    "etcd.masterleases"};
	for (size_t i = 0; i < 4; i++) {
		const cJSON *f = must(facts, kinds[i], url);
		assert_string_equal(jstr(f, "state"), "skipped");
		assert_non_null(strstr(jstr(f, "reason"), "not asked"));
		assert_non_null(strstr(jstr(f, "reason"), "closed the connection"));
	}
	assert_false(log_has(log, "POST /v3/"));
	fm_facts_delete(&facts);
	fmh_stop(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_etcd),
		cmocka_unit_test(probe_json_shows_certs),
		cmocka_unit_test(metrics_listener_failures),
		cmocka_unit_test(certs_when_tls_fails),
		cmocka_unit_test(nospace),
		cmocka_unit_test(standin_etcd35),
		cmocka_unit_test(standin_dies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
