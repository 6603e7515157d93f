/* Least privilege (issue 11): what the agent will not be talked out of.
 *   - TLS verification cannot be turned off: no option does it, and a
 *     kubeconfig's insecure-skip-tls-verify: true is not honoured: against
 *     the apiserver stand-in, a CA that did not sign its certificate fails
 *     (unknown-ca) with the flag as without it; the right CA passes.
 *   - Plain CoAP (--insecure) is said in every report: each report on the
 *     wire (tcpdump on lo: plain CoAP is readable) carries "i":1, the agent
 *     logs a WARNING per report and once at start, the controller logs
 *     each as insecure, and the agent's /status says insecure.
 * The key file's mode and actions being off unless configured are tested
 * in test_uplink (config_errors: a 0644 key refused; a POST /act/rm
 * without allow-actions answered 4.03) and test_badconfig (run_checks).
 */
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_node.h"
#include "fmh_standin.h"
#include "fmh_uplink.h"
#include "fmh_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[PATH_MAX], pki_root[PATH_MAX + 8], board[PATH_MAX + 8], jdir[PATH_MAX + 16];
static struct fmh_standin api;
static struct fmh_controller ctl;

static int setup(void **st)
{
	(void)st;
	char cmd[PATH_MAX * 3], out[1024];
	int status;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(pki_root, sizeof(pki_root), "%s/pki", dir);
	snprintf(board, sizeof(board), "%s/board", dir);
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	/* The node's PKI, a CA that signed nothing of it, a board tree. */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/wrong-ca.key -out %s/wrong-ca.crt -subj /CN=not-kubernetes -days 2 2>&1 && "
		 "cp -a %s/generic-aarch64 %s",
		 pki_root, jdir, dir, dir, FM_BOARD_FIXTURES, board);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	if (fmh_pki(pki_root) < 0 || fmh_run(sh, out, sizeof(out), &status, 30000) < 0 || status != 0) {
		fprintf(stderr, "setup: %s\n", out);
		return -1;
	}
	if (fmh_standin_start(&api, pki_root, "privilege", NULL) < 0 || fmh_controller_start(&ctl, true) < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_standin_stop(&api);
	fmh_cleanup();
	return 0;
}

/* A kubeconfig for the stand-in with the CA file ca, asking to skip
 * verification or not. */
static void kubeconfig(char *path, size_t size, const char *ca, bool skip)
{
	snprintf(path, size, "%s/kubeconfig-%s-%d", dir, strstr(ca, "wrong") ? "wrong" : "right", skip);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n"
		"    certificate-authority: %s\n%s"
		"users:\n- name: u\n  user:\n    token: %s\ncontexts:\n- name: x\n  context:\n    cluster: c\n"
		"    user: u\ncurrent-context: x\n",
		api.url, ca, skip ? "    insecure-skip-tls-verify: true\n" : "", FMH_STANDIN_TOKEN);
	fclose(f);
}

/* probe apiserver with that kubeconfig: the endpoint fact's state and tls
 * fields into state/tls; returns the exit status. */
static int probe(const char *kc, char *state, char *tls, size_t size)
{
	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "apiserver", "--json", "--apiserver", api.url, "--kubeconfig", kc, "--timeout",
		      "3s", NULL);
	const cJSON *e = fmh_find(fmh_field(r.json, "facts"), "apiserver.endpoint", api.url);
	if (!e)
		fail_msg("no apiserver.endpoint fact (exit %d): %s %s", r.status, r.out, r.err);
	snprintf(state, size, "%s", fmh_jstr(e, "state"));
	snprintf(tls, size, "%s", fmh_jstr_opt(e, "tls") ? fmh_jstr(e, "tls") : "");
	int status = r.status;
	cJSON_Delete(r.json);
	return status;
}

static void tls_verification_stays_on(void **st)
{
	(void)st;
	char kc[PATH_MAX + 64], right[PATH_MAX + 64], wrong[PATH_MAX + 64], state[64], tls[64];
	snprintf(right, sizeof(right), "%s/etc/kubernetes/pki/ca.crt", pki_root);
	snprintf(wrong, sizeof(wrong), "%s/wrong-ca.crt", dir);
	/* The right CA: the stand-in is reached (the check can tell). */
	kubeconfig(kc, sizeof(kc), right, false);
	assert_int_equal(probe(kc, state, tls, sizeof(state)), 0);
	assert_string_equal(state, "ok");
	/* The wrong CA, with and without the kubeconfig's skip flag. */
	for (int skip = 0; skip <= 1; skip++) {
		kubeconfig(kc, sizeof(kc), wrong, skip);
		assert_int_equal(probe(kc, state, tls, sizeof(state)), 1);
		if (strcmp(state, "tls") != 0 || strcmp(tls, "unknown-ca") != 0)
			fail_msg("skip=%d: state %s tls %s, want tls unknown-ca", skip, state, tls);
	}
	/* No option turns it off. */
	static const char *const flags[] = {"--insecure-skip-tls-verify", "--no-verify", "--tls-verify=false", "-k"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct fmh_agent_run r;
		fmh_run_agent(&r, "probe", "apiserver", flags[i], "--apiserver", api.url, NULL);
		if (r.status != 2 || !strstr(r.err, "unknown option"))
			fail_msg("%s: exit %d: %s", flags[i], r.status, r.err);
		cJSON_Delete(r.json);
	}
}

/* The reports in a pcap file's bytes (plain CoAP: the JSON as sent), and
 * how many of them carry "i":1. */
static size_t reports_in(const char *pcap, size_t *with_i)
{
	FILE *f = fopen(pcap, "rb");
	assert_non_null(f);
	static char buf[4 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f), count = 0;
	fclose(f);
	*with_i = 0;
	for (char *p = memmem(buf, n, "{\"q\":", 5); p; p = memmem(p + 5, n - (size_t)(p + 5 - buf), "{\"q\":", 5)) {
		/* a report: {"q":N,["t":T,]["i":1,]"d":[ or "r":[ ... (a
		 * heartbeat has "n" and no "d" or "r") */
		char head[160];
		size_t left = n - (size_t)(p - buf), k = left < sizeof(head) - 1 ? left : sizeof(head) - 1;
		memcpy(head, p, k);
		head[k] = '\0';
		char *hb = strstr(head, ",\"n\":"), *d = strstr(head, ",\"d\":["), *r = strstr(head, ",\"r\":[");
		if (r && (!d || r < d))
			d = r; /* only resolves: "r" without "d" */
		if (!d || d - head > 48 || (hb && hb < d))
			continue;
		count++;
		char *i = strstr(head, ",\"i\":1");
		*with_i += i && i < d;
	}
	return count;
}

static void write_errors(const char *dev, const char *count)
{
	assert_int_equal(fmh_node_ext4_errors(board, dev, count), 0);
}

static void insecure_said_everywhere(void **st)
{
	(void)st;
	struct fmh_capture cap;
	assert_int_equal(fmh_capture_start(&cap, ctl.port), 0);
	char log[PATH_MAX + 16], state[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	const char *argv[] = {fmh_agent(), "run", "--controller", ctl.url, "--insecure", "--psk-identity", FMH_NODE_A,
			      "--state-dir", state, "--root", board, "--kmsg", "none", "--journal-dir", jdir,
			      "--etcd", "https://127.0.0.1:1", "--apiserver", "https://127.0.0.1:1",
			      "--heartbeat", "2s", "--collect-interval", "200ms", "--hold", "1s", NULL};
	pid_t agent = fmh_spawn(argv, log);
	assert_true(agent > 0);
	assert_int_equal(fmh_wait_log_pid(log, "reporting to", agent, 15000), 0);
	assert_int_equal(fmh_wait_log_pid(log, "INSECURE: plain CoAP", agent, 5000), 0);
	/* Reports: the fixture's ext4 errors, a second filesystem raised,
	 * changed, resolved. */
	write_errors("mmcblk0p3", "2");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis raised: fs-corruption the ext4 filesystem on mmcblk0p3", agent, 10000), 0);
	write_errors("mmcblk0p3", "5");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis changed: fs-corruption", agent, 10000), 0);
	write_errors("mmcblk0p3", "0");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis resolved: fs-corruption", agent, 10000), 0);
	/* Until the controller holds them all. */
	uint32_t last = 0;
	char needle[128];
	for (uint64_t t0 = fm_now_ms(); fm_now_ms() - t0 < 15000;) {
		int status;
		cJSON *j = fmh_controller_json(&ctl, &status, "show", FMH_NODE_A, "--history", "50", NULL);
		last = j ? (uint32_t)fmh_jnum(j, "last_seq") : 0;
		bool insecure = j && fmh_jbool(j, "insecure");
		cJSON_Delete(j);
		snprintf(needle, sizeof(needle), "report %u goes to", last + 1);
		if (last >= 3 && insecure && fmh_wait_log_pid(log, needle, agent, 1) < 0)
			break;
	}
	if (last < 3)
		fail_msg("the controller holds %u reports, want at least 3", last);
	/* The agent's /status over its session says so too. */
	int status;
	cJSON *t = fmh_controller_json(&ctl, &status, "triage", FMH_NODE_A, "status", "--timeout", "20s", NULL);
	assert_int_equal(status, 0);
	char *txt = cJSON_PrintUnformatted(t);
	if (!txt || !strstr(txt, "\\\"insecure\\\":true"))
		fail_msg("triage status: %s", txt ? txt : "(none)");
	free(txt);
	cJSON_Delete(t);
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(fmh_capture_stop(&cap), 0);

	/* Each report: "i":1 on the wire, a warning in the agent's log, an
	 * insecure line in the controller's. */
	size_t with_i, n = reports_in(cap.pcap, &with_i);
	fprintf(stderr, "%zu reports on the wire, %zu with \"i\":1; the controller holds %u\n", n, with_i, last);
	assert_true(n >= last);
	assert_int_equal(with_i, n);
	for (uint32_t q = 1; q <= last; q++) {
		snprintf(needle, sizeof(needle), "report %u goes to %s without DTLS (--insecure)", q, ctl.url);
		if (fmh_wait_log(log, needle, 1) < 0)
			fail_msg("no '%s' in %s", needle, log);
		snprintf(needle, sizeof(needle), "report %u came over an insecure session", q);
		if (fmh_wait_log(ctl.log, needle, 1) < 0)
			fail_msg("no '%s' in %s", needle, ctl.log);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tls_verification_stays_on),
		cmocka_unit_test(insecure_said_everywhere),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
