/* The etcd source's facts against real etcd: Debian 12's etcd-server 3.4
 * (from PATH) and Debian 13's 3.5 (FM_ETCD35, fetched by
 * toolchains/test-tools.sh) for what 3.4.23 cannot show: /livez and /readyz
 * (3.5.11+), clusters without a leader, learners and a CORRUPT alarm. Health,
 * version, status, members, alarms, the masterleases count, the disk latency
 * histograms of the metrics listener and the certificates, asked through
 * fm_etcd_collect (with an injected clock and the metrics URL, which the
 * command line cannot give) and through the agent binary as a person would.
 * What no etcd does on demand (an alarm as an enum number, a slow disk) is
 * in tests/unit/test_etcd_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_etcd.h"
#include "fm_harness.h"
#include "fmh_check.h"
#include "fm_httpc.h"
#include "fm_tls.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char root[PATH_MAX];
static char tpki[PATH_MAX];
static struct fmh_etcd etcd;

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

static const cJSON *must(const struct fm_facts *facts, const char *kind, const char *id)
{
	const cJSON *f = fm_facts_get(facts, kind, id);
	if (!f) {
		fmh_dump(facts);
		fail_msg("no fact %s %s", kind, id);
	}
	return f;
}

static void healthy_etcd(void **state)
{
	(void)state;
	struct fm_endpoint ep = endpoint_of(&etcd);
	int rc;
	struct fm_facts *facts = collect(&ep, etcd.metrics_url, &rc);
	if (rc != 0 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, 0);

	/* No fact says anything failed. */
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const char *st = fmh_jstr_opt(fm_facts_at(facts, i), "state");
		if (st && strcmp(st, "ok") != 0) {
			fmh_dump(facts);
			fail_msg("fact %zu has state %s", i, st);
		}
	}

	const cJSON *ep_f = must(facts, "etcd.endpoint", etcd.url);
	assert_string_equal(fmh_jstr(ep_f, "state"), "ok");
	assert_string_equal(fmh_jstr(ep_f, "tls_version"), "TLSv1.3");

	/* Debian 12's etcd is 3.4.23: no /livez, so /health. */
	const cJSON *v = must(facts, "etcd.version", etcd.url);
	assert_memory_equal(fmh_jstr(v, "server"), "3.4.", 4);
	const cJSON *h = must(facts, "etcd.health", etcd.url);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/health");
	assert_null(cJSON_GetObjectItem(h, "reason"));
	/* A round trip on the open connection: no handshake in it. */
	double rtt = fmh_jnum(h, "rtt_ms");
	assert_true(rtt >= 0 && rtt < 5000);

	const cJSON *st = must(facts, "etcd.status", etcd.url);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "is_leader")));
	assert_null(cJSON_GetObjectItem(st, "errors"));

	const cJSON *m = must(facts, "etcd.members", etcd.url);
	assert_int_equal((int)fmh_jnum(m, "count"), 1);
	const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "members"), 0);
	assert_string_equal(fmh_jstr(m0, "name"), "node");
	assert_string_equal(fmh_jstr(m0, "id"), fmh_jstr(st, "member_id"));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(m0, "is_learner")));
	char peer[64];
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", etcd.peer_port);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(m0, "peer_urls"), 0)->valuestring,
			    peer);
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItem(m0, "client_urls"), 0)->valuestring, etcd.url);

	/* Two leases; "/registry/masterleases" and "...leases0" are outside. */
	assert_int_equal((int)fmh_jnum(must(facts, "etcd.masterleases", etcd.url), "count"), 2);

	assert_int_equal(fmh_count_kind_set(facts, "etcd.alarm"), 0);

	const cJSON *d = must(facts, "etcd.disk", etcd.url);
	assert_true(fmh_jnum(d, "wal_fsync_count") > 0);
	assert_true(fmh_jnum(d, "backend_commit_count") > 0);
	double s1 = fmh_jnum(d, "wal_fsync_slow_share"), s2 = fmh_jnum(d, "backend_commit_slow_share");
	assert_true(s1 >= 0 && s1 <= 1);
	assert_true(s2 >= 0 && s2 <= 1);
	assert_int_equal((int)fmh_jnum(d, "bucket_le_ms"), 128);
	assert_string_equal(fmh_jstr(d, "metrics_url"), etcd.metrics_url);

	/* The certificate etcd served, and the files we used. */
	char id[128];
	snprintf(id, sizeof(id), "%s (served)", etcd.url);
	const cJSON *c = must(facts, "cert", id);
	assert_string_equal(fmh_jstr(c, "subject"), "CN=pi-master1");
	assert_string_equal(fmh_jstr(c, "issuer"), "CN=etcd-ca");
	int days = (int)fmh_jnum(c, "days_left");
	assert_true(days == 364 || days == 365);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "served")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(c, "expired")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(must(facts, "cert", etcd.ca), "is_ca")));
	assert_string_equal(fmh_jstr(must(facts, "cert", etcd.cert), "subject"),
			    "CN=kube-etcd-healthcheck-client");
	assert_int_equal(fmh_count_kind_set(facts, "cert"), 3);
	fm_facts_delete(&facts);
}

/* The command line shows the same facts (no metrics URL: none known). */
static void probe_json_shows_certs(void **state)
{
	(void)state;
	static char out[65536];
	char err[4096];
	int status;
	const char *const argv[] = {fmh_agent(), "probe", "etcd", "--json", "--etcd", etcd.url,
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
		if (strcmp(fmh_jstr(f, "kind"), "cert") != 0)
			continue;
		certs++;
		served += cJSON_IsTrue(cJSON_GetObjectItem(f, "served"));
		assert_non_null(fmh_jstr(f, "file"));
		assert_non_null(fmh_jstr(f, "not_after"));
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
	assert_string_equal(fmh_jstr(d, "state"), "refused");
	assert_non_null(strstr(fmh_jstr(d, "reason"), "connection refused"));
	assert_null(cJSON_GetObjectItem(d, "wal_fsync_count"));
	fm_facts_delete(&facts);

	/* Something that answers, but not with metrics: etcd's peer port. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", etcd.peer_port);
	facts = collect(&ep, url, &rc);
	d = must(facts, "etcd.disk", etcd.url);
	const char *dst = fmh_jstr(d, "state");
	if (strcmp(dst, "http-status") != 0 && strcmp(dst, "malformed") != 0)
		fail_msg("etcd.disk state %s: %s", dst, fmh_jstr(d, "reason"));
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
	assert_string_equal(fmh_jstr(must(facts, "etcd.endpoint", etcd.url), "tls"), "unknown-ca");
	snprintf(id, sizeof(id), "%s (served)", etcd.url);
	assert_string_equal(fmh_jstr(must(facts, "cert", id), "subject"), "CN=pi-master1");
	assert_null(fm_facts_get(facts, "etcd.health", etcd.url));
	fm_facts_delete(&facts);

	ep = endpoint_of(&etcd);
	snprintf(ep.cert, sizeof(ep.cert), "%s/expired-client.crt", tpki);
	snprintf(ep.key, sizeof(ep.key), "%s/expired-client.key", tpki);
	facts = collect(&ep, NULL, &rc);
	assert_int_equal(rc, -1);
	assert_string_equal(fmh_jstr(must(facts, "etcd.endpoint", etcd.url), "tls"),
			    "client-cert-rejected");
	const cJSON *c = must(facts, "cert", ep.cert);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "expired")));
	assert_true(fmh_jnum(c, "days_left") < 0);
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
	const char *const argv[] = {fmh_agent(), "probe", "etcd", "--json", "--etcd", small.url,
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
		if (strcmp(fmh_jstr(f, "kind"), "etcd.alarm") == 0)
			alarm = f;
		else if (strcmp(fmh_jstr(f, "kind"), "etcd.health") == 0)
			health = f;
		else if (strcmp(fmh_jstr(f, "kind"), "etcd.status") == 0)
			st = f;
	}
	assert_non_null(alarm);
	assert_string_equal(fmh_jstr(alarm, "id"), alarm_id);
	assert_string_equal(fmh_jstr(alarm, "alarm"), "NOSPACE");
	assert_string_equal(fmh_jstr(alarm, "member_id"), fmh_jstr(st, "member_id"));
	assert_non_null(health);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(health, "healthy")));
	/* 3.4's /health says only {"health":"false"}: the alarm gives the reason. */
	assert_string_equal(fmh_jstr(health, "reason"), "ALARM NOSPACE");
	assert_non_null(strstr(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "errors"), 0)->valuestring,
			       "NOSPACE"));
	cJSON_Delete(j);
	fmh_etcd_stop(&small);
}

/* --- etcd 3.5 and clusters: what Debian 12's etcd 3.4.23 cannot show --- */

/* Debian 13's etcd 3.5 (toolchains/test-tools.sh unpacks it; CMake passes
 * its path). Missing, the test fails: it does not skip. */
static const char *etcd35(void)
{
	const char *bin = getenv("FM_ETCD35");
	if (!bin || !bin[0])
		fail_msg("FM_ETCD35 is not set: run toolchains/test-tools.sh, then configure "
			 "again (make test does both)");
	if (access(bin, X_OK) != 0)
		fail_msg("FM_ETCD35=%s: %s: run toolchains/test-tools.sh", bin, strerror(errno));
	return bin;
}

static void start35(struct fmh_etcd *e)
{
	assert_int_equal(fmh_etcd_start_bin(e, etcd35(), root, NULL, NULL), 0);
	assert_memory_equal(e->version, "3.5.", 4);
}

/* The same fm_etcd_collect as collect(), with another per-request timeout. */
static struct fm_facts *collect_ms(const struct fm_endpoint *ep, int timeout_ms, int *rc)
{
	struct fm_loop *loop = fm_loop_new();
	struct fm_facts *facts = fm_facts_new();
	struct fm_collect_opts co = {.timeout_ms = timeout_ms};
	assert_non_null(loop);
	assert_non_null(facts);
	*rc = fm_etcd_collect(loop, ep, NULL, time(NULL), &co, facts);
	fm_loop_delete(&loop);
	return facts;
}

/* One request to e as its JSON gateway takes it, over mTLS; the body of
 * the answer goes to out. Returns the HTTP status. */
static int request(const struct fmh_etcd *e, const char *method, const char *url, const char *path,
		   const char *body, char *out, size_t outsize)
{
	struct fm_endpoint ep = endpoint_of(e);
	struct fm_tls_options to = fm_probe_tls_options(&ep, 0);
	struct fm_tls_config *tls = NULL;
	struct fm_loop *loop = fm_loop_new();
	struct fm_httpc c = {.fd = -1};
	char err[320];
	assert_non_null(loop);
	if ((strncmp(url, "https://", 8) == 0 &&
	     fm_tls_config_new(&tls, &to, err, sizeof(err)) < 0) ||
	    fm_httpc_init(&c, loop, url, tls, err, sizeof(err)) < 0)
		fail_msg("%s: %s", url, err);
	struct fm_httpc_req req = {
	    .method = method, .path = path, .timeout_ms = 10000, .max_body = 16 * 1024 * 1024};
	if (body) {
		req.content_type = "application/json";
		req.body = body;
		req.body_len = strlen(body);
	}
	if (fm_httpc_fetch(&c, &req) < 0)
		fail_msg("%s %s%s: %s", method, url, path, c.reason);
	int status = c.status;
	snprintf(out, outsize, "%.*s", (int)c.body.len, c.body.data ? c.body.data : "");
	fm_httpc_close(&c);
	fm_tls_config_delete(&tls);
	fm_loop_delete(&loop);
	return status;
}

/* Waits until e's metrics listener says it has no leader
 * (etcd_server_has_leader 0), polling every 50 ms for at most timeout_ms.
 * Call it once the other members have exited (fmh_etcd_stop() waits for
 * that): a leader stopped with SIGTERM hands leadership over first, so the
 * one left may lead for an election timeout before it steps down; after
 * that, without a quorum, it can never have a leader again. */
static void wait_no_leader(const struct fmh_etcd *e, int timeout_ms)
{
	static char out[4 * 1024 * 1024];
	struct timespec t0, t, pause = {.tv_nsec = 50 * 1000000L};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		assert_int_equal(
		    request(e, "GET", e->metrics_url, "/metrics", NULL, out, sizeof(out)), 200);
		if (strstr(out, "\netcd_server_has_leader 0\n"))
			return;
		assert_non_null(strstr(out, "\netcd_server_has_leader 1\n"));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			fail_msg("%s still has a leader after %d ms", e->name, timeout_ms);
		nanosleep(&pause, NULL);
	}
}

/* The agent's facts about etcd, from `probe etcd --json` plus args (at most
 * 4, NULL-terminated); *status gets its exit status. Caller frees. */
static cJSON *probe_json(const struct fmh_etcd *e, const char *const args[], int *status)
{
	static char out[65536];
	char err[4096];
	const char *argv[20] = {fmh_agent(),       "probe", "etcd",	      "--json",
				"--etcd",      e->url,	"--etcd-ca",  e->ca,
				"--etcd-cert", e->cert, "--etcd-key", e->key};
	size_t n = 12;
	for (size_t i = 0; args[i] && n < 19; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), status, 60000), 0);
	cJSON *j = cJSON_Parse(out);
	if (!j || getenv("DUMP"))
		fprintf(stderr, "status %d\n%s\n%s\n", *status, out, err);
	assert_non_null(j);
	return j;
}

static const cJSON *fact_in(const cJSON *j, const char *kind)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "facts"))
	{
		if (strcmp(fmh_jstr(f, "kind"), kind) == 0)
			return f;
	}
	fail_msg("no %s fact", kind);
	return NULL;
}

static bool has_error(const cJSON *status_fact, const char *needle)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(status_fact, "errors"))
	{
		if (cJSON_IsString(e) && strstr(e->valuestring, needle))
			return true;
	}
	return false;
}

/* etcd 3.5.11+: health is asked on /livez and /readyz, not /health; the
 * rest reads as on 3.4. */
static void etcd35_livez_readyz(void **state)
{
	(void)state;
	static struct fmh_etcd e;
	start35(&e);
	struct fm_endpoint ep = endpoint_of(&e);
	int rc;
	struct fm_facts *facts = collect(&ep, e.metrics_url, &rc);
	if (rc != 0 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < fm_facts_count(facts); i++) {
		const char *st = fmh_jstr_opt(fm_facts_at(facts, i), "state");
		if (st && strcmp(st, "ok") != 0) {
			fmh_dump(facts);
			fail_msg("fact %zu has state %s", i, st);
		}
	}
	assert_string_equal(fmh_jstr(must(facts, "etcd.endpoint", e.url), "tls_version"), "TLSv1.3");
	assert_string_equal(fmh_jstr(must(facts, "etcd.version", e.url), "server"), e.version);

	const cJSON *h = must(facts, "etcd.health", e.url);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/livez+/readyz");
	assert_null(cJSON_GetObjectItem(h, "reason"));
	double rtt = fmh_jnum(h, "rtt_ms");
	assert_true(rtt >= 0 && rtt < 5000);

	const cJSON *st = must(facts, "etcd.status", e.url);
	assert_string_equal(fmh_jstr(st, "version"), e.version);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "is_leader")));
	assert_true(fmh_jnum(st, "db_size") > 0);
	assert_null(cJSON_GetObjectItem(st, "errors"));

	const cJSON *m = must(facts, "etcd.members", e.url);
	assert_int_equal((int)fmh_jnum(m, "count"), 1);
	const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "members"), 0);
	assert_string_equal(fmh_jstr(m0, "name"), "node");
	assert_string_equal(fmh_jstr(m0, "id"), fmh_jstr(st, "member_id"));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(m0, "is_learner")));

	/* Nothing under /registry/masterleases/: proto3 JSON leaves the zero
	 * count out. */
	assert_int_equal((int)fmh_jnum(must(facts, "etcd.masterleases", e.url), "count"), 0);
	assert_int_equal(fmh_count_kind_set(facts, "etcd.alarm"), 0);

	const cJSON *d = must(facts, "etcd.disk", e.url);
	assert_true(fmh_jnum(d, "wal_fsync_count") > 0);
	assert_true(fmh_jnum(d, "backend_commit_count") > 0);
	assert_int_equal((int)fmh_jnum(d, "bucket_le_ms"), 128);

	char id[128];
	snprintf(id, sizeof(id), "%s (served)", e.url);
	assert_string_equal(fmh_jstr(must(facts, "cert", id), "subject"), "CN=pi-master1");
	fm_facts_delete(&facts);
	fmh_etcd_stop(&e);
}

/* A learner, added as kubeadm adds a joining control plane and not started
 * yet: listed without a name, the voting member stays healthy. */
static void etcd35_learner(void **state)
{
	(void)state;
	static struct fmh_etcd e;
	start35(&e);
	char peer[64], out[4096], learner_id[32] = "";
	int port = fmh_free_port();
	assert_true(port > 0);
	snprintf(peer, sizeof(peer), "--peer-urls=http://127.0.0.1:%d", port);
	const char *const add[] = {"member", "add", "pi-master2", "--learner", peer, NULL};
	if (etcdctl(&e, out, sizeof(out), add) != 0)
		fail_msg("etcdctl member add --learner: %s", out);
	/* "Member 4f1b6f8d26cd1da3 added to cluster ..." */
	const char *said = strstr(out, "Member ");
	assert_non_null(said);
	assert_int_equal(sscanf(said, "Member %31[0-9a-f] added", learner_id), 1);

	struct fm_endpoint ep = endpoint_of(&e);
	int rc;
	struct fm_facts *facts = collect(&ep, NULL, &rc);
	if (rc != 0 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, 0);
	assert_true(
	    cJSON_IsTrue(cJSON_GetObjectItem(must(facts, "etcd.health", e.url), "healthy")));
	const cJSON *m = must(facts, "etcd.members", e.url);
	assert_int_equal((int)fmh_jnum(m, "count"), 2);
	const cJSON *learner = NULL, *voter = NULL, *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(m, "members"))
	{
		if (cJSON_IsTrue(cJSON_GetObjectItem(x, "is_learner")))
			learner = x;
		else
			voter = x;
	}
	assert_non_null(learner);
	assert_non_null(voter);
	assert_string_equal(fmh_jstr(learner, "id"), learner_id);
	assert_string_equal(fmh_jstr(learner, "name"), "");
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(learner, "peer_urls"), 0)->valuestring,
	    peer + strlen("--peer-urls="));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(learner, "client_urls")), 0);
	assert_string_equal(fmh_jstr(voter, "name"), "node");
	fm_facts_delete(&facts);
	fmh_etcd_stop(&e);
}

/* A CORRUPT alarm raised on a real etcd 3.5 through its own Alarm API (what
 * the corruption checker does when members' hashes differ): 3.5's /readyz
 * fails its data_corruption check, and those words are the reason. */
static void etcd35_corrupt_alarm(void **state)
{
	(void)state;
	static struct fmh_etcd e;
	start35(&e);
	struct fm_endpoint ep = endpoint_of(&e);
	int rc;
	struct fm_facts *facts = collect(&ep, NULL, &rc);
	assert_int_equal(rc, 0);
	char member_hex[32], body[160], out[4096], alarm_id[128];
	snprintf(member_hex, sizeof(member_hex), "%s",
		 fmh_jstr(must(facts, "etcd.status", e.url), "member_id"));
	fm_facts_delete(&facts);

	snprintf(body, sizeof(body),
		 "{\"action\":\"ACTIVATE\",\"memberID\":\"%llu\",\"alarm\":\"CORRUPT\"}",
		 strtoull(member_hex, NULL, 16));
	assert_int_equal(
	    request(&e, "POST", e.url, "/v3/maintenance/alarm", body, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "CORRUPT"));

	facts = collect(&ep, NULL, &rc);
	if (rc != -1 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, -1);
	const cJSON *h = must(facts, "etcd.health", e.url);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/livez+/readyz");
	/* The server's words win over the alarm's name. */
	assert_string_equal(fmh_jstr(h, "reason"),
			    "/readyz: data_corruption failed: alarm activated: CORRUPT");
	snprintf(alarm_id, sizeof(alarm_id), "%s#CORRUPT", e.url);
	const cJSON *a = must(facts, "etcd.alarm", alarm_id);
	assert_string_equal(fmh_jstr(a, "alarm"), "CORRUPT");
	assert_string_equal(fmh_jstr(a, "member_id"), member_hex);
	assert_int_equal((int)fmh_jnum(a, "members"), 1);
	assert_true(has_error(must(facts, "etcd.status", e.url), "alarm:CORRUPT"));
	fm_facts_delete(&facts);
	fmh_etcd_stop(&e);
}

/* Leader loss on a real cluster: two members, one stopped; the one left
 * cannot win an election. Short raft timers so the loss shows in about a
 * second; etcd's own request timeout (5 s + 2 election timeouts) bounds
 * what a leaderless member takes to answer a linearizable request. */
static const char *const fast_raft[] = {"--heartbeat-interval", "50", "--election-timeout", "500",
					NULL};
/* etcd's request timeout: 5 s + 2 election timeouts of 500 ms. */
#define LEADERLESS_ANSWER_MS 6000
#define PATIENT_MS	     (LEADERLESS_ANSWER_MS + 4000)

/* etcd 3.5 without a leader: /readyz's linearizable_read check fails (after
 * etcd's own timeout) and says why; status shows no leader. With a timeout
 * shorter than etcd's, /readyz times out instead, and the requests after
 * it are not sent -- each fact says so. */
static void etcd35_no_leader(void **state)
{
	(void)state;
	static struct fmh_etcd c[2];
	assert_int_equal(fmh_etcd_cluster_start(c, 2, etcd35(), root, fast_raft), 0);
	assert_memory_equal(c[0].version, "3.5.", 4);
	assert_int_equal(fmh_etcd_stop(&c[1]), 0);
	wait_no_leader(&c[0], 15000);

	struct fm_endpoint ep = endpoint_of(&c[0]);
	int rc;
	struct fm_facts *facts = collect_ms(&ep, PATIENT_MS, &rc);
	if (rc != -1 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, -1);
	const cJSON *h = must(facts, "etcd.health", c[0].url);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/livez+/readyz");
	/* etcd 3.5.16's words: "[-]linearizable_read failed: etcdserver:
	 * request timed out" (/livez has no linearizable check: it passes). */
	assert_string_equal(fmh_jstr(h, "reason"),
			    "/readyz: linearizable_read failed: etcdserver: request timed out");
	/* The alarm list goes through raft: without a leader it fails too
	 * (504 after etcd's timeout), and says so on its own fact. */
	assert_string_equal(fmh_jstr(must(facts, "etcd.alarm", c[0].url), "state"), "http-status");
	const cJSON *st = must(facts, "etcd.status", c[0].url);
	assert_null(cJSON_GetObjectItem(st, "leader"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(st, "is_leader")));
	assert_true(has_error(st, "etcdserver: no leader"));
	/* The member list is served locally: both members, the stopped one too. */
	assert_int_equal((int)fmh_jnum(must(facts, "etcd.members", c[0].url), "count"), 2);
	fm_facts_delete(&facts);

	/* A timeout shorter than etcd's: /readyz times out (a leaderless etcd
	 * cannot answer it before its own 5 s floor, so this is not a race).
	 * etcd has answered /version already, so that is one slow request,
	 * not a dead endpoint: the status still comes, answered from local
	 * state, and says why etcd is unhealthy. */
	facts = collect_ms(&ep, 1000, &rc);
	if (rc != -1 || getenv("DUMP"))
		fmh_dump(facts);
	assert_int_equal(rc, -1);
	assert_string_equal(fmh_jstr(must(facts, "etcd.endpoint", c[0].url), "state"), "ok");
	assert_string_equal(fmh_jstr(must(facts, "etcd.version", c[0].url), "server"), c[0].version);
	h = must(facts, "etcd.health", c[0].url);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/livez+/readyz");
	assert_non_null(fmh_jstr(h, "reason"));
	assert_non_null(strstr(fmh_jstr(h, "reason"), "RAFT NO LEADER (/livez+/readyz did not answer: "
						  "timed out after 1000 ms"));
	st = must(facts, "etcd.status", c[0].url);
	assert_null(cJSON_GetObjectItem(st, "leader"));
	assert_true(has_error(st, "etcdserver: no leader"));
	/* The raft-bound alarm list times out on its own fact. */
	assert_string_equal(fmh_jstr(must(facts, "etcd.alarm", c[0].url), "state"), "timeout");
	assert_int_equal((int)fmh_jnum(must(facts, "etcd.members", c[0].url), "count"), 2);
	fm_facts_delete(&facts);
	fmh_etcd_stop(&c[0]);
}

/* etcd 3.4 without a leader: /health says only {"health":"false"}; the
 * status's missing leader gives the reason. */
static void etcd34_no_leader(void **state)
{
	(void)state;
	static struct fmh_etcd c[2];
	assert_int_equal(fmh_etcd_cluster_start(c, 2, NULL, root, fast_raft), 0);
	assert_memory_equal(c[0].version, "3.4.", 4);
	assert_int_equal(fmh_etcd_stop(&c[0]), 0);
	wait_no_leader(&c[1], 15000);

	char timeout[16];
	snprintf(timeout, sizeof(timeout), "%dms", PATIENT_MS);
	const char *const args[] = {"--timeout", timeout, NULL};
	int status;
	cJSON *j = probe_json(&c[1], args, &status);
	assert_int_equal(status, 1);
	const cJSON *h = fact_in(j, "etcd.health");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "healthy")));
	assert_string_equal(fmh_jstr(h, "via"), "/health");
	assert_string_equal(fmh_jstr(h, "reason"), "RAFT NO LEADER");
	/* 3.4's alarm list goes through raft as well (500 after its timeout). */
	assert_string_equal(fmh_jstr(fact_in(j, "etcd.alarm"), "state"), "http-status");
	const cJSON *st = fact_in(j, "etcd.status");
	assert_null(cJSON_GetObjectItem(st, "leader"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(st, "is_leader")));
	assert_true(has_error(st, "etcdserver: no leader"));
	cJSON_Delete(j);
	fmh_etcd_stop(&c[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_etcd),
		cmocka_unit_test(probe_json_shows_certs),
		cmocka_unit_test(metrics_listener_failures),
		cmocka_unit_test(certs_when_tls_fails),
		cmocka_unit_test(nospace),
		cmocka_unit_test(etcd35_livez_readyz),
		cmocka_unit_test(etcd35_learner),
		cmocka_unit_test(etcd35_corrupt_alarm),
		cmocka_unit_test(etcd35_no_leader),
		cmocka_unit_test(etcd34_no_leader),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
