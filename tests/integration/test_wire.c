/* The link's budget on a real capture (issue 8, PROTOCOL.md "The link's
 * budget"): fleetmedic-agent run against fleetmedic-controller serve over
 * DTLS-PSK on loopback, every datagram captured by tcpdump.
 *   - one DTLS handshake, and none again while the session idles;
 *   - an idle heartbeat slot costs at most 4096 / 30 bytes on average (IP,
 *     UDP and DTLS included, both directions): a healthy node's hour at the
 *     default 120 s fits 4 kB. Nothing else is sent while idle (no
 *     keep-alive, no second datagram per slot);
 *   - incident 1's first evidence (kubelet's name-conflict line, in real
 *     journal files, no Docker engine: the generic remedy, ~430 bytes of
 *     JSON; the whole incident's report is <= 320, test_report) goes out
 *     as one report datagram, acknowledged;
 *   - no datagram over 1024 bytes of CoAP plus that overhead.
 * The heartbeat is 1 s here (the interval changes none of the sizes: an
 * idle heartbeat carries no payload). FMH_WIRE_TSV=FILE writes every
 * datagram with its phase for bench/b_wire.sh; FMH_WIRE_CYCLES sets how
 * many three-heartbeat cycles of idling are captured (default 4).
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
#include "fmh_journal.h"
#include "fmh_uplink.h"
#include "fmh_wire.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKING "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
/* What a datagram carries besides its CoAP message: IPv4 20, UDP 8, the
 * DTLS record header 13, the Connection ID 8, the AEAD's 16 (ChaCha20-
 * Poly1305: tag; AES-CCM-8: nonce and tag), RFC 9146's inner content type 1
 * and Mbed TLS's padding to 16 (at most 15). */
#define RECORD_OVERHEAD_MAX (20 + 8 + 13 + 8 + 16 + 1 + 15)
/* A report's CoAP around its payload: header 4, token 2, Uri-Path "rp" 3,
 * Content-Format 2, payload marker 1. */
#define REPORT_COAP 12
#define HOUR_BUDGET 4096
#define HEARTBEATS_PER_HOUR 30 /* the default 120 s */

static struct fmh_controller ctl;
static char dir[PATH_MAX], root[PATH_MAX], jdir[PATH_MAX], jfile[PATH_MAX], psk[PATH_MAX], state[PATH_MAX];

static int setup(void **st)
{
	(void)st;
	char hex[128], cmd[PATH_MAX * 3 + 256], out[512];
	int status;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_controller_start(&ctl, false) < 0)
		return -1;
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(dir, "psk", hex, psk, sizeof(psk));
	snprintf(state, sizeof(state), "%s/state", dir);
	/* A board without faults: the generic fixture with its ext4 error
	 * counter cleared and / mounted read-write. */
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(cmd, sizeof(cmd),
		 "cp -a %s/generic-aarch64 %s && echo 0 > %s/sys/fs/ext4/mmcblk0p2/errors_count && "
		 "sed -i 's|mmcblk0p2 ro,|mmcblk0p2 rw,|' %s/proc/self/mountinfo",
		 FM_BOARD_FIXTURES, root, root, root);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	if (fmh_run(sh, out, sizeof(out), &status, 10000) < 0 || status != 0)
		return -1;
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	snprintf(jfile, sizeof(jfile), "%s/remote.journal", jdir);
	const char *mk[] = {"mkdir", "-p", jdir, NULL};
	char *text = fmh_journal_kubelet_text(5, 0, NULL); /* routine kubelet lines */
	int rc = fmh_run(mk, out, sizeof(out), &status, 5000);
	if (rc < 0 || !text || fmh_journal_append(jfile, text) < 0) {
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static bool is_up_app(const struct fmh_dgram *d, void *arg)
{
	(void)arg;
	return d->up && (d->ctype == FMH_DTLS_APP || d->ctype == FMH_DTLS_CID);
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The phase a datagram belongs to, for the bench's table. */
enum phase { PH_HANDSHAKE, PH_SETUP, PH_IDLE, PH_REPORT, PH_END };
static const char *phase_name[] = {"handshake", "setup", "idle", "report", "end"};

static void wire_budget(void **st)
{
	(void)st;
	const char *cy = getenv("FMH_WIRE_CYCLES");
	int cycles = cy && atoi(cy) > 0 ? atoi(cy) : 4;
	struct fmh_capture cap;
	assert_int_equal(fmh_capture_start(&cap, ctl.port), 0);

	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	const char *argv[] = {fmh_agent(), "run", "--controller", ctl.url, "--psk-identity", FMH_NODE_A,
			      "--psk-file", psk, "--state-dir", state, "--root", root, "--journal-dir", jdir,
			      "--kmsg", "none", "--heartbeat", "1s", "--collect-interval", "200ms", "--hold", "1s",
			      NULL};
	pid_t agent = fmh_spawn(argv, log);
	assert_true(agent > 0);
	if (fmh_wait_log_pid(log, "reporting to", agent, 10000) < 0)
		fail_msg("the agent did not start; its log is %s", log);

	/* The session's set-up (GET /me, the first reports, the first
	 * heartbeat), then three heartbeats per cycle, plus one. */
	int idle_up = 3 * cycles + 1;
	if (fmh_capture_wait(&cap, (size_t)(4 + idle_up), is_up_app, NULL, 10000 + 2000 * idle_up) < 0)
		fail_msg("fewer than %d datagrams to the controller in the capture", 4 + idle_up);

	/* Incident 1's first evidence: kubelet's line in the journal. */
	double t_trigger = wall_now();
	char *text = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(jfile, text), 0);
	free(text);
	uint64_t t0 = fm_now_ms();
	for (;;) {
		int status;
		cJSON *j = fmh_controller_json(&ctl, &status, "show", FMH_NODE_A, NULL);
		bool has = false;
		const cJSON *d;
		const cJSON *list = j ? cJSON_GetObjectItem(j, "diagnoses") : NULL;
		cJSON_ArrayForEach(d, list)
		has = has || strcmp(fmh_jstr(d, "code"), "container-name-conflict") == 0;
		cJSON_Delete(j);
		if (has)
			break;
		if (fm_now_ms() - t0 > 10000)
			fail_msg("the controller does not hold container-name-conflict after 10 s");
	}
	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(fmh_capture_stop(&cap), 0);

	static struct fmh_dgram d[4096];
	static enum phase ph[4096];
	int n = fmh_capture_read(cap.pcap, ctl.port, d, sizeof(d) / sizeof(d[0]));
	assert_true(n > 0);

	/* The handshake: the records before the first application data. */
	int i = 0, handshakes = 0;
	unsigned hs_bytes = 0;
	for (; i < n && d[i].ctype != FMH_DTLS_APP && d[i].ctype != FMH_DTLS_CID; i++) {
		ph[i] = PH_HANDSHAKE;
		hs_bytes += d[i].ip_len;
		handshakes += d[i].ctype == FMH_DTLS_HANDSHAKE && d[i].up && i == 0;
	}
	assert_int_equal(handshakes, 1);
	/* Bursts: datagrams less than 300 ms apart (the heartbeat is 1 s). The
	 * first is the session's set-up; those before the trigger are idle
	 * heartbeat slots: one datagram up, at most its answer down. */
	int slots = 0, answered = 0, report_up = -1, report_acks = 0;
	unsigned idle_bytes = 0, max_len = 0;
	enum phase cur = PH_SETUP;
	for (int b = i; i < n; i = b) {
		for (b = i + 1; b < n && d[b].t - d[b - 1].t < 0.3 && (d[b - 1].t >= t_trigger || d[b].t < t_trigger);
		     b++)
			;
		if (cur == PH_IDLE && d[i].t >= t_trigger)
			cur = PH_REPORT;
		int up = 0, down = 0;
		for (int k = i; k < b; k++) {
			if (d[k].ctype == FMH_DTLS_HANDSHAKE || d[k].ctype == FMH_DTLS_CCS)
				fail_msg("a DTLS handshake record (%u bytes) %.3f s into the session", d[k].ip_len,
					 d[k].t - d[0].t);
			if (d[k].ctype == FMH_DTLS_ALERT) { /* the agent's close_notify on SIGTERM */
				ph[k] = PH_END;
				continue;
			}
			ph[k] = cur;
			up += d[k].up;
			down += !d[k].up;
			if (d[k].ip_len > max_len)
				max_len = d[k].ip_len;
			if (cur == PH_IDLE)
				idle_bytes += d[k].ip_len;
			if (cur == PH_REPORT && d[k].up && (report_up < 0 || d[k].ip_len > d[report_up].ip_len))
				report_up = k;
			report_acks += cur == PH_REPORT && !d[k].up;
		}
		if (cur == PH_IDLE) {
			if (up != 1 || down > 1)
				fail_msg("an idle heartbeat slot at %.3f s holds %d datagrams up and %d down",
					 d[i].t - d[0].t, up, down);
			slots++;
			answered += down;
		}
		if (cur == PH_SETUP)
			cur = PH_IDLE;
	}

	const char *tsv = getenv("FMH_WIRE_TSV");
	if (tsv && *tsv) {
		FILE *f = fopen(tsv, "w");
		assert_non_null(f);
		for (int k = 0; k < n; k++)
			fprintf(f, "%.6f\t%s\t%u\t%u\t%s\n", d[k].t - d[0].t, d[k].up ? "up" : "down", d[k].ip_len,
				d[k].ctype, phase_name[ph[k]]);
		fclose(f);
	}
	print_message("handshake %u bytes; %d idle heartbeats, %d answered, %u bytes: %.1f per heartbeat, "
		      "%.0f per hour at 120 s; report datagram %u bytes, %d datagrams back\n",
		      hs_bytes, slots, answered, idle_bytes, (double)idle_bytes / slots,
		      (double)idle_bytes / slots * HEARTBEATS_PER_HOUR, report_up >= 0 ? d[report_up].ip_len : 0,
		      report_acks);

	/* The liveness check: one heartbeat in three is confirmable. */
	assert_true(slots >= 3 * cycles);
	assert_true(answered * 3 >= slots - 2 && answered * 3 <= slots + 2);
	/* The hour's budget, per heartbeat slot. */
	assert_true(idle_bytes * HEARTBEATS_PER_HOUR <= (unsigned)slots * HOUR_BUDGET);
	/* The report: one datagram (at most 1024 bytes of JSON and its CoAP
	 * and DTLS around it), acknowledged. */
	assert_true(report_up >= 0);
	assert_true(d[report_up].ip_len > 81 && d[report_up].ip_len <= 1024 + REPORT_COAP + RECORD_OVERHEAD_MAX);
	assert_true(report_acks >= 1);
	assert_true(max_len <= 1024 + REPORT_COAP + RECORD_OVERHEAD_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wire_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
