/* The board builds (make cross) run under qemu-user: the static agent for
 * $FM_CROSS_TRIPLET, started through $FM_AGENT (a wrapper that execs
 * $FM_CROSS_EMULATOR: binfmt_misc is not assumed), prints its version,
 * detects boards from the fixture roots, and runs `check` against a real
 * etcd over mTLS and real (zstd-compressed) journal files, and `run`
 * reports to the native fleetmedic-controller ($FM_CONTROLLER) over DTLS-PSK,
 * and `probe cri` asks a real containerd over gRPC (issue 22).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_containerd.h"
#include "fmh_controller.h"
#include "fmh_journal.h"
#include "fmh_uplink.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFLICT_ID "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
/* journal-file.h: HEADER_INCOMPATIBLE_COMPRESSED_ZSTD, in the le32 at 12. */
#define JOURNAL_ZSTD (1u << 3)

static const char *triplet;
static char root[PATH_MAX];
static char jdir[PATH_MAX];
static struct fmh_etcd etcd;

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "test_cross: %s is not set (tests/CMakeLists.txt sets it)\n", name);
		exit(1);
	}
	return v;
}

static int setup(void **state)
{
	(void)state;
	char file[PATH_MAX], fx[PATH_MAX];
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0 ||
	    fmh_tmpdir(jdir, sizeof(jdir)) < 0)
		return -1;
	if (fmh_etcd_start(&etcd, root, NULL) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/remote.journal", jdir);
	snprintf(fx, sizeof(fx), "%s/incident-etcd-2379.export", env("FM_JOURNAL_FIXTURES"));
	return fmh_journal_append_fixture(file, fx) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fmh_cleanup();
	return 0;
}

/* The emulator is there: a missing qemu fails here, with its name, rather
 * than as an obscure exit status of the wrapper. */
static void emulator_present(void **state)
{
	(void)state;
	const char *argv[] = {env("FM_CROSS_EMULATOR"), "--version", NULL};
	char out[512];
	int st = -1;
	int rc = fmh_run(argv, out, sizeof(out), &st, 10000);
	if (rc != 0 || st != 0)
		fail_msg("%s cannot be run (install qemu-user-static: toolchains/host-packages.sh)",
			 argv[0]);
	assert_non_null(strstr(out, "qemu-"));
}

static void prints_version(void **state)
{
	(void)state;
	struct fmh_agent_run r;
	fmh_run_agent(&r, "--version", NULL);
	if (r.status != 0)
		fail_msg("the %s agent under qemu exited %d: %s", triplet, r.status, r.err);
	print_message("%s", r.out);
	assert_true(strncmp(r.out, "fleetmedic-agent " FM_VERSION "\n", strlen("fleetmedic-agent " FM_VERSION "\n")) ==
		    0);
	assert_non_null(strstr(r.out, "Mbed TLS 3.6."));
	assert_non_null(strstr(r.out, "libcoap 4.3."));
	assert_non_null(strstr(r.out, "cJSON 1.7."));
	cJSON_Delete(r.json);
}

/* probe hal against a fixture root: the board, its architecture and the
 * build it takes, as the host build reads them (test_hal_boards). */
static void detect(const char *fixture, const char *board_id, const char *name, const char *arch)
{
	char dir[PATH_MAX];
	struct fmh_agent_run r;
	snprintf(dir, sizeof(dir), "%s/%s", env("FM_BOARD_FIXTURES"), fixture);
	fmh_run_agent(&r, "probe", "hal", "--json", "--root", dir, NULL);
	if (!r.json)
		fail_msg("probe hal --root %s printed no JSON (exit %d): %s", dir, r.status, r.err);
	const cJSON *b = fmh_find(fmh_field(r.json, "facts"), "hal.board", "board");
	assert_non_null(b);
	print_message("%s under qemu, %s: %s (%s, %s)\n", triplet, fixture, fmh_jstr(b, "name"), fmh_jstr(b, "arch"),
		      fmh_jstr(b, "triplet"));
	assert_string_equal(fmh_jstr(b, "board_id"), board_id);
	assert_string_equal(fmh_jstr(b, "name"), name);
	assert_string_equal(fmh_jstr(b, "arch"), arch);
	assert_string_equal(fmh_jstr(b, "state"), "ok");
	cJSON_Delete(r.json);
}

static void detects_boards(void **state)
{
	(void)state;
	detect("rpi3", "rpi3", "Raspberry Pi 3", "armhf");
	detect("rpi4", "rpi4", "Raspberry Pi 4", "aarch64");
	detect("rpi5", "rpi5", "Raspberry Pi 5", "aarch64");
	detect("jetson-orin-nano", "jetson-xavier-orin", "NVIDIA Jetson Xavier NX / Orin Nano", "aarch64");
}

/* check: etcd answers over mutual TLS with the node's PKI found under
 * --root, and the journal (zstd-compressed, as Debian 12's journald writes
 * it) yields incident 1's root cause. */
static void check_etcd_and_journal(void **state)
{
	(void)state;
	char file[PATH_MAX];
	unsigned char hdr[16];
	snprintf(file, sizeof(file), "%s/remote.journal", jdir);
	FILE *f = fopen(file, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	assert_memory_equal(hdr, "LPKSHHRH", 8);
	uint32_t incompat = (uint32_t)hdr[12] | (uint32_t)hdr[13] << 8 | (uint32_t)hdr[14] << 16 | (uint32_t)hdr[15] << 24;
	if (!(incompat & JOURNAL_ZSTD))
		fail_msg("systemd-journal-remote wrote an uncompressed journal: the zstd path is not exercised");

	struct fmh_agent_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	fmh_run_agent(r, "check", "--json", "--kmsg", "none", "--timeout", "10s", "--journal-dir", jdir, "--root", root,
		      "--etcd", etcd.url, "--apiserver", "https://127.0.0.1:1", NULL);
	if (!r->json)
		fail_msg("check printed no JSON (exit %d): %s", r->status, r->err);
	const cJSON *facts = fmh_field(r->json, "facts");

	const cJSON *e = fmh_find(facts, "etcd.endpoint", etcd.url);
	assert_non_null(e);
	if (strcmp(fmh_jstr(e, "state"), "ok") != 0)
		fail_msg("etcd over mTLS from the %s agent: %s (%s)", triplet, fmh_jstr(e, "state"),
			 fmh_jstr_opt(e, "reason") ? fmh_jstr_opt(e, "reason") : "");

	const cJSON *src = fmh_find(facts, "journal.source", jdir);
	assert_non_null(src);
	assert_string_equal(fmh_jstr(src, "state"), "ok");
	assert_int_equal((int)fmh_jnum(src, "entries_seen"), 3);
	const cJSON *c = fmh_find(facts, "journal.match", "container-name-conflict.docker/" CONFLICT_ID);
	assert_non_null(c);
	assert_string_equal(fmh_jstr(fmh_field(c, "fields"), "blocking_id"), CONFLICT_ID);
	assert_string_equal(fmh_jstr(c, "source"), "kubelet.service");

	/* The diagnosis the conflict leads to, with the apiserver refusing. */
	const cJSON *d = fmh_diagnosis(r->json, "container-name-conflict");
	assert_non_null(d);
	assert_string_equal(fmh_jstr(d, "severity"), "critical");
	assert_int_equal(r->status, 1);
	cJSON_Delete(r->json);
	free(r);
}

/* A host name from /etc/hosts, resolved by the static build (glibc's static
 * NSS: files and dns only, as the config file says): etcd named by the node
 * name its certificate carries (pi-master1), which a private /etc/hosts --
 * bind-mounted over the real one in a mount namespace of the agent's own --
 * maps to 127.0.0.1. TLS checks the name against the certificate's SANs. */
static void names_from_etc_hosts(void **state)
{
	(void)state;
	char dir[PATH_MAX], hosts[PATH_MAX + 8], url[96];
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	FILE *f = fopen(hosts, "w");
	assert_non_null(f);
	fprintf(f, "127.0.0.1 pi-master1 etcd.pi-cluster.test\n");
	assert_int_equal(fclose(f), 0);
	const char *port = strrchr(etcd.url, ':');
	assert_non_null(port);
	snprintf(url, sizeof(url), "https://pi-master1%s", port);
	const char *argv[] = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
			      "mount --bind \"$1\" /etc/hosts && shift && exec \"$@\"", "sh", hosts,
			      fmh_agent(), "probe", "etcd", "--json", "--timeout", "10s", "--root", root,
			      "--etcd", url, NULL};
	static char out[1 << 20], err[8192];
	int status = -1;
	assert_int_equal(fmh_run2(argv, out, sizeof(out), err, sizeof(err), &status, 120000), 0);
	cJSON *j = cJSON_Parse(out);
	if (!j)
		fail_msg("probe etcd printed no JSON (exit %d): %s", status, err);
	const cJSON *facts = cJSON_IsArray(j) ? j : fmh_field(j, "facts");
	const cJSON *e = fmh_find(facts, "etcd.endpoint", url);
	if (!e)
		fail_msg("no etcd.endpoint for %s: %s", url, out);
	if (strcmp(fmh_jstr(e, "state"), "ok") != 0)
		fail_msg("etcd at %s from the %s agent: %s (%s)", url, triplet, fmh_jstr(e, "state"),
			 fmh_jstr_opt(e, "reason") ? fmh_jstr_opt(e, "reason") : "");
	print_message("%s agent under qemu: %s resolved from /etc/hosts, etcd answered over mTLS\n", triplet, url);
	cJSON_Delete(j);
}

/* run: the board build's uplink (libcoap and the trimmed Mbed TLS, DTLS 1.2
 * PSK) to the native controller on loopback; the journal's name conflict
 * becomes the controller's stored diagnosis. */
static void run_reports_over_dtls(void **state)
{
	(void)state;
	struct fmh_controller ctl;
	char dir[PATH_MAX], hex[128], psk[PATH_MAX], st[PATH_MAX], log[PATH_MAX + 16];
	assert_int_equal(fmh_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(fmh_controller_start(&ctl, false), 0);
	fmh_hex(FMH_KEY_A, hex, sizeof(hex));
	fmh_psk_file(dir, "psk", hex, psk, sizeof(psk));
	snprintf(st, sizeof(st), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	const char *argv[] = {fmh_agent(), "run", "--controller", ctl.url, "--psk-identity", FMH_NODE_A,
			      "--psk-file", psk, "--state-dir", st, "--root", root, "--journal-dir", jdir,
			      "--docker-host", "unix:///nonexistent/docker.sock", "--kmsg", "none",
			      "--etcd", etcd.url, "--apiserver", "https://127.0.0.1:1", "--heartbeat", "2s",
			      "--collect-interval", "200ms", "--hold", "1s", NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "reporting to", pid, 30000) < 0)
		fail_msg("the %s agent's run did not start; its log is %s", triplet, log);

	uint64_t t0 = fm_now_ms();
	const cJSON *d = NULL;
	cJSON *j = NULL;
	for (;;) {
		int status;
		cJSON_Delete(j);
		j = fmh_controller_json(&ctl, &status, "show", FMH_NODE_A, NULL);
		const cJSON *x, *diagnoses = j ? cJSON_GetObjectItem(j, "diagnoses") : NULL;
		cJSON_ArrayForEach(x, diagnoses)
		{
			if (strcmp(fmh_jstr(x, "code"), "container-name-conflict") == 0)
				d = x;
		}
		if (d)
			break;
		if (fm_now_ms() - t0 > 30000)
			fail_msg("the controller holds no container-name-conflict from the %s agent after 30 s; "
				 "agent log %s, controller log %s",
				 triplet, log, ctl.log);
	}
	print_message("%s agent under qemu: container-name-conflict stored by the controller %llu ms after run started\n",
		      triplet, (unsigned long long)(fm_now_ms() - t0));
	assert_string_equal(fmh_jstr(d, "severity"), "critical");
	assert_true(fmh_lists(fmh_field(d, "remedy"),
			      "docker ps -a --filter name=_kube-apiserver-pi-master1_kube-system_"));
	cJSON_Delete(j);
	assert_int_equal(fmh_stop(pid), 0);
	int status;
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
}

/* The board build's CRI client (nghttp2 and protobuf-c, static, for the
 * board's architecture) against a real containerd: its version and a
 * control-plane container through gRPC on the unix socket. */
static void probe_cri_containerd(void **state)
{
	(void)state;
	struct fmh_containerd ctd;
	char out[8192], pod[65], ctr[65];
	assert_int_equal(fmh_containerd_start(&ctd), 0);
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "runp", "etcd-pi-master1", "kube-system",
					    "9c5ee5e3ad3f9bd5b1e5a4c9dbd0cb8e", "0", NULL), 0);
	cJSON *j = cJSON_Parse(out);
	snprintf(pod, sizeof(pod), "%s", fmh_jstr(j, "id"));
	cJSON_Delete(j);
	assert_int_equal(fmh_containerd_cri(&ctd, out, sizeof(out), "create", pod, "etcd", "0", "sleep", "100000",
					    NULL), 0);
	j = cJSON_Parse(out);
	snprintf(ctr, sizeof(ctr), "%.12s", fmh_jstr(j, "id"));
	cJSON_Delete(j);

	struct fmh_agent_run r;
	fmh_run_agent(&r, "probe", "cri", "--json", "--timeout", "10s", "--runtime-endpoint", ctd.endpoint, NULL);
	if (!r.json)
		fail_msg("probe cri (%s) printed no JSON: %s %s", triplet, r.out, r.err);
	const cJSON *facts = fmh_field(r.json, "facts");
	const cJSON *rt = fmh_find(facts, "cri.runtime", ctd.endpoint);
	assert_non_null(rt);
	assert_string_equal(fmh_jstr(rt, "state"), "ok");
	assert_string_equal(fmh_jstr(rt, "runtime_name"), "containerd");
	const cJSON *c = fmh_find(facts, "cri.container", ctr);
	assert_non_null(c);
	assert_string_equal(fmh_jstr(c, "container"), "etcd");
	assert_string_equal(fmh_jstr(c, "state"), "created");
	assert_int_equal(r.status, 0);
	cJSON_Delete(r.json);
	assert_int_equal(fmh_containerd_stop(&ctd), 0);
}

int main(void)
{
	triplet = env("FM_CROSS_TRIPLET");
	env("FM_AGENT");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emulator_present),
		cmocka_unit_test(prints_version),
		cmocka_unit_test(detects_boards),
		cmocka_unit_test(check_etcd_and_journal),
		cmocka_unit_test(names_from_etc_hosts),
		cmocka_unit_test(run_reports_over_dtls),
		cmocka_unit_test(probe_cri_containerd),
	};
	return cmocka_run_group_tests_name(triplet, tests, setup, teardown);
}
