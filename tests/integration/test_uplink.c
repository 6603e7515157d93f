/* fleetmedic-agent run against the real fleetmedic-controller serve on
 * loopback, DTLS-PSK both ways:
 *   - kubelet's name-conflict line appended to real journal files (written
 *     by systemd-journal-remote) reaches the controller's stored report
 *     (read back with `show`) within 1 s;
 *   - the controller stopped while the node's board changes (ext4 error
 *     counters in a board tree, real files) and the agent is restarted:
 *     once the controller is back every change arrives, in order, none
 *     twice, the queue having survived the restart;
 *   - an independent DTLS client (libcoap3-bin's coap-client-openssl) reads
 *     the agent's triage resources through --listen;
 *   - a --config file with a bad line is refused with FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_node.h"
#include "fmh_journal.h"
#include "fmh_uplink.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKING "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"

static struct fmh_controller ctl;
static char dir[PATH_MAX], root[PATH_MAX], jfile[PATH_MAX], jdir[PATH_MAX], psk[PATH_MAX], state[PATH_MAX];
static int listen_port;

static int setup(void **st)
{
	(void)st;
	char hex[128], cmd[PATH_MAX * 2 + 64];
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_controller_start(&ctl, false) < 0)
		return -1;
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(dir, "psk", hex, psk, sizeof(psk));
	snprintf(state, sizeof(state), "%s/state", dir);
	/* A board tree of our own (real files the hal source reads). */
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s/generic-aarch64 %s", FM_BOARD_FIXTURES, root);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	int status;
	char out[512];
	if (fmh_run(sh, out, sizeof(out), &status, 10000) < 0 || status != 0)
		return -1;
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	snprintf(jfile, sizeof(jfile), "%s/remote.journal", jdir);
	char *text = fmh_journal_kubelet_text(5, 0, NULL); /* routine kubelet lines */
	const char *mk[] = {"mkdir", "-p", jdir, NULL};
	int rc = fmh_run(mk, out, sizeof(out), &status, 5000);
	if (rc < 0 || !text || fmh_journal_append(jfile, text) < 0) {
		free(text);
		return -1;
	}
	free(text);
	listen_port = fmh_free_udp_port();
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static pid_t agent_start(const char *log)
{
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", listen_port);
	const char *argv[] = {fmh_agent(), "run", "--controller", ctl.url, "--psk-identity", FMH_NODE_A,
			      "--psk-file", psk, "--state-dir", state, "--root", root,
			      "--docker-host", "unix:///nonexistent/docker.sock", "--journal-dir", jdir,
			      "--kmsg", "none", "--etcd", "https://127.0.0.1:1", "--apiserver", "https://127.0.0.1:1",
			      "--heartbeat", "2s", "--collect-interval", "200ms", "--hold", "1s",
			      "--ack-timeout", "200ms", "--max-retransmit", "2", "--retry-max", "500ms",
			      "--listen", listen, NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "reporting to", pid, 10000) < 0)
		fail_msg("the agent did not start; its log is %s", log);
	return pid;
}

/* The controller's view of the node (caller frees). */
static cJSON *show(void)
{
	int status;
	return fmh_controller_json(&ctl, &status, "show", FMH_NODE_A, "--history", "200", NULL);
}

static const cJSON *find_diag(const cJSON *j, const char *code, const char *key)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "diagnoses"))
	{
		if (strcmp(fmh_jstr(d, "code"), code) == 0 && (!key || strcmp(fmh_jstr(d, "key"), key) == 0))
			return d;
	}
	return NULL;
}

/* Waits (at most ms) until the controller holds code (and key), or, with
 * gone, no longer holds it. The time it took, or fails. */
static uint64_t wait_controller(const char *code, const char *key, bool gone, uint64_t ms)
{
	uint64_t t0 = fm_now_ms();
	for (;;) {
		cJSON *j = show();
		bool has = j && find_diag(j, code, key);
		cJSON_Delete(j);
		if (has != gone)
			return fm_now_ms() - t0;
		if (fm_now_ms() - t0 > ms)
			fail_msg("the controller %s %s %s after %llu ms", gone ? "still holds" : "does not hold", code,
				 key ? key : "", (unsigned long long)ms);
	}
}

static void write_errors(const char *dev, const char *count)
{
	assert_int_equal(fmh_node_ext4_errors(root, dev, count), 0);
}

static void end_to_end(void **st)
{
	(void)st;
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/agent1.log", dir);
	pid_t agent = agent_start(log);

	/* The board's ext4 counter (fixture: 1 on mmcblk0p2) is reported. */
	wait_controller("fs-corruption", "mmcblk0p2", false, 10000);

	/* Incident 1's evidence appears: kubelet's line in the journal. The
	 * time from the append to the controller's stored report. */
	char *text = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(text);
	uint64_t t0 = fm_now_ms();
	assert_int_equal(fmh_journal_append(jfile, text), 0);
	uint64_t append_ms = fm_now_ms() - t0;
	free(text);
	uint64_t ms = wait_controller("container-name-conflict", NULL, false, 5000) + append_ms;
	print_message("container-name-conflict stored by the controller %llu ms after the journal append began (the append took %llu ms)\n",
		      (unsigned long long)ms, (unsigned long long)append_ms);
	assert_true(ms <= 1000);
	cJSON *j = show();
	const cJSON *c = find_diag(j, "container-name-conflict", NULL);
	assert_int_equal(strlen(fmh_jstr(c, "key")), 29); /* the compact key */
	assert_true(fmh_lists(fmh_field(c, "remedy"), "docker ps -a --filter name=_kube-apiserver-pi-master1_kube-system_"));
	uint32_t seq_before = (uint32_t)fmh_jnum(j, "last_seq");
	cJSON_Delete(j);

	/* An independent DTLS client reads the agent's resources. */
	struct fmh_controller as_agent = ctl;
	snprintf(as_agent.url, sizeof(as_agent.url), "coaps://127.0.0.1:%d", listen_port);
	char out[65536];
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "get", "status", NULL, out, sizeof(out)), 0);
	if (!strstr(out, "\"node\"") || !strstr(out, "\"controller\""))
		fail_msg("GET /status through --listen: %s", out);
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "get", "journal?u=kubelet&n=3&g=already%20in%20use",
				  NULL, out, sizeof(out)), 0);
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "get", "journal?u=kubelet&n=3", NULL, out,
				  sizeof(out)), 0);
	if (!strstr(out, "\"u\":\"kubelet"))
		fail_msg("GET /journal through --listen: %s", out);
	/* Every fact of the node: longer than a datagram, block-wise. */
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "get", "facts", NULL, out, sizeof(out)), 0);
	if (strlen(out) <= 1024 || !strstr(out, "hal.ext4"))
		fail_msg("GET /facts through --listen (%zu bytes): %.2000s", strlen(out), out);
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "get", "journal?x=1", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "4.00"));
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_A, FMH_KEY_A, "post", "act/rm?id=8470235abd66", NULL, out,
				  sizeof(out)), 0);
	assert_non_null(strstr(out, "4.03"));
	/* Another identity is refused. */
	assert_int_equal(fmh_coap(&as_agent, FMH_NODE_B, FMH_KEY_B, "get", "status", NULL, out, sizeof(out)), 0);
	assert_null(strstr(out, "\"node\""));

	/* The controller goes away; the board changes meanwhile: errors on
	 * a second filesystem (raised), more of them (changed), the agent
	 * restarted (its queue on disk), the counter cleared (resolved). */
	assert_int_equal(fmh_controller_stop(&ctl, NULL), 0);
	write_errors("mmcblk0p3", "2");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis raised: fs-corruption the ext4 filesystem on mmcblk0p3", agent, 10000), 0);
	write_errors("mmcblk0p3", "5");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis changed: fs-corruption", agent, 10000), 0);
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	snprintf(log, sizeof(log), "%s/agent2.log", dir);
	agent = agent_start(log);
	write_errors("mmcblk0p3", "0");
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis resolved: fs-corruption", agent, 10000), 0);

	/* Back: every change arrives, in order, none twice. */
	assert_int_equal(fmh_controller_restart(&ctl, "serve2.log"), 0);
	uint64_t w0 = fm_now_ms();
	for (;;) {
		j = show();
		const cJSON *h;
		bool resolved = false;
		const cJSON *hist = j ? cJSON_GetObjectItem(j, "history") : NULL;
		cJSON_ArrayForEach(h, hist)
		{
			resolved = resolved || (strcmp(fmh_jstr(h, "key"), "mmcblk0p3") == 0 &&
						strcmp(fmh_jstr(h, "event"), "resolve") == 0);
		}
		if (resolved)
			break;
		cJSON_Delete(j);
		if (fm_now_ms() - w0 > 15000)
			fail_msg("the queued changes did not reach the controller within 15 s");
	}
	assert_true((uint32_t)fmh_jnum(j, "last_seq") > seq_before);
	assert_non_null(find_diag(j, "fs-corruption", "mmcblk0p2")); /* unchanged all along */
	const cJSON *h;
	int raise = -1, change = -1, resolve = -1, i = 0;
	uint32_t last = 0;
	cJSON_ArrayForEach(h, fmh_field(j, "history"))
	{
		uint32_t seq = (uint32_t)fmh_jnum(h, "seq");
		const char *ev = fmh_jstr(h, "event"), *key = fmh_jstr(h, "key");
		assert_true(seq >= last); /* stored in order */
		last = seq;
		if (strcmp(key, "mmcblk0p3") == 0) {
			int *slot = strcmp(ev, "raise") == 0 ? &raise : strcmp(ev, "change") == 0 ? &change : &resolve;
			if (*slot >= 0)
				fail_msg("%s of mmcblk0p3 arrived twice", ev);
			*slot = i;
		}
		i++;
	}
	cJSON_Delete(j);
	if (raise < 0 || change < 0 || resolve < 0)
		fail_msg("missing changes: raise %d, change %d, resolve %d", raise, change, resolve);
	assert_true(raise < change && change < resolve);

	/* SIGTERM: out within 1 s, exit status 0. */
	uint64_t s0 = fm_now_ms();
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_true(fm_now_ms() - s0 < 1000);
	assert_int_equal(status, 0);
}

static void config_errors(void **st)
{
	(void)st;
	char conf[PATH_MAX + 16];
	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	FILE *f = fopen(conf, "w");
	fprintf(f, "# the node's agent\n\nheartbeat = 30s\nhaertbeat = 30s\n");
	fclose(f);
	struct fmh_agent_run r;
	fmh_run_agent(&r, "run", "--config", conf, NULL);
	assert_int_equal(r.status, 2);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s:4: haertbeat: unknown key", conf);
	if (!strstr(r.err, want))
		fail_msg("want '%s' in: %s", want, r.err);
	f = fopen(conf, "w");
	fprintf(f, "heartbeat = soon\n");
	fclose(f);
	fmh_run_agent(&r, "run", "--config", conf, NULL);
	assert_int_equal(r.status, 2);
	snprintf(want, sizeof(want), "%s:1: heartbeat: --heartbeat soon", conf);
	assert_non_null(strstr(r.err, want));
	/* Plain CoAP without --insecure; a key file others can read. */
	fmh_run_agent(&r, "run", "--controller", "coap://127.0.0.1:9", "--root", root, "--state-dir", state, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--insecure"));
	char open_psk[PATH_MAX + 16];
	fmh_psk_file(dir, "psk-open", "00112233445566778899aabbccddeeff", open_psk, sizeof(open_psk));
	const char *chmod_argv[] = {"chmod", "644", open_psk, NULL};
	int status;
	char out[256];
	assert_int_equal(fmh_run(chmod_argv, out, sizeof(out), &status, 5000), 0);
	fmh_run_agent(&r, "run", "--controller", ctl.url, "--psk-file", open_psk, "--root", root, "--state-dir",
		      state, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "0644"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(end_to_end),
		cmocka_unit_test(config_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
