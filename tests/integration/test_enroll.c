/* A fleet's keys over their life (issue 25), with real DTLS between two
 * real agents and a real `serve`:
 *   - `enroll NODE --out DIR` writes the node's config and psk; an agent run
 *     with that config reports, while serve took the new node without a
 *     restart (inotify);
 *   - `revoke NODE`: serve closes that node's session right after it reads
 *     the file again, and its next handshake is refused; the other node's
 *     session is untouched (its heartbeats go on, no new handshake);
 *   - `enroll --rotate`: the session goes on; the node given the new key
 *     (SIGHUP) handshakes with it, which retires the old key: an agent with
 *     the old key is refused from then on, also after serve restarts;
 *   - `enroll --rotate --now` closes the node's session at once;
 *   - a keys file broken on reload keeps the keys in use, said once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fc_db.h"
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_controller.h"
#include "fmh_faults_ctl.h"
#include "fmh_uplink.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE1 "pi-enrolled"
#define NODE2 "pi-other"

static struct fmh_controller ctl;
static char dir[PATH_MAX], root[PATH_MAX];

static int setup(void **st)
{
	(void)st;
	char cmd[PATH_MAX * 2 + 64], out[512];
	int status;
	if (fmh_init() < 0 || fmh_tmpdir(dir, sizeof(dir)) < 0 || fmh_controller_start(&ctl, false) < 0)
		return -1;
	snprintf(root, sizeof(root), "%s/board", dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s/generic-aarch64 %s", FM_BOARD_FIXTURES, root);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	if (fmh_run(sh, out, sizeof(out), &status, 10000) < 0 || status != 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

/* Waits (at most ms) until needle is in the log at least n times. */
static void wait_count(const char *path, const char *needle, int n, int ms)
{
	uint64_t t0 = fm_now_ms();
	while (fmh_log_count(path, needle) < n) {
		if (fm_now_ms() - t0 > (uint64_t)ms) {
			fmh_print_tail(path);
			fail_msg("'%s' not %d times in %s within %d ms", needle, n, path, ms);
		}
		usleep(20000);
	}
}

/* The controller's command line, its output into out; its exit status. */
static int controller(const char *const *args, char *out, size_t size)
{
	const char *argv[16] = {fmh_controller_bin()};
	int i = 1;
	for (; args[i - 1] && i < 15; i++)
		argv[i] = args[i - 1];
	argv[i] = NULL;
	int status = -1;
	assert_int_equal(fmh_run(argv, out, size, &status, 10000), 0);
	return status;
}

/* enroll NODE into serve's keys file, the node's files into out_dir, with
 * up to two more options. */
static void enroll(const char *node, const char *out_dir, const char *extra, const char *extra2)
{
	char out[2048];
	const char *args[] = {"enroll", node, "--keys", ctl.keys, "--controller", ctl.url, "--out", out_dir,
			      extra, extra2, NULL};
	int status = controller(args, out, sizeof(out));
	if (status != 0)
		fail_msg("enroll %s: exit %d: %s", node, status, out);
}

struct node {
	const char *name;
	char dir[PATH_MAX], conf[PATH_MAX], psk[PATH_MAX], log[PATH_MAX];
	pid_t pid;
};

/* Runs the agent with the config enroll wrote (its psk-file names the
 * node's /etc/fleetmedic/psk: the command line points it into the tree). */
static void agent_start(struct node *n, const char *log_name)
{
	char state[PATH_MAX + 8];
	snprintf(n->conf, sizeof(n->conf), "%s/etc/fleetmedic/fleetmedic.conf", n->dir);
	snprintf(n->psk, sizeof(n->psk), "%s/etc/fleetmedic/psk", n->dir);
	snprintf(state, sizeof(state), "%s/state", n->dir);
	snprintf(n->log, sizeof(n->log), "%s/%s", n->dir, log_name);
	const char *argv[] = {fmh_agent(), "run", "--config", n->conf, "--psk-file", n->psk, "--state-dir", state,
			      "--root", root, "--docker-host", "unix:///nonexistent/docker.sock", "--journal-dir",
			      n->dir, "--kmsg", "none", "--etcd", "https://127.0.0.1:1", "--apiserver",
			      "https://127.0.0.1:1", "--heartbeat", "1s", "--collect-interval", "500ms",
			      "--ack-timeout", "300ms", "--max-retransmit", "2", "--retry-max", "500ms", NULL};
	n->pid = fmh_spawn(argv, n->log);
	assert_true(n->pid > 0);
	if (fmh_wait_log_pid(n->log, "reporting to", n->pid, 10000) < 0) {
		fmh_print_tail(n->log);
		fail_msg("the agent of %s did not start", n->name);
	}
}

static void node_init(struct node *n, const char *name)
{
	n->name = name;
	snprintf(n->dir, sizeof(n->dir), "%s/%s", dir, name);
	assert_int_equal(mkdir(n->dir, 0700), 0);
}

/* The node as `show` has it (caller frees). */
static cJSON *show(const char *node)
{
	int status;
	return fmh_controller_json(&ctl, &status, "show", node, NULL);
}

static double last_seen(const char *node)
{
	cJSON *j = show(node);
	double t = j ? cJSON_GetNumberValue(cJSON_GetObjectItem(j, "last_seen")) : 0;
	cJSON_Delete(j);
	return t;
}

static void test_enroll_revoke_rotate(void **st)
{
	(void)st;
	static struct node a, b;
	char needle[256];
	node_init(&a, NODE1);
	node_init(&b, NODE2);

	/* enroll both while serve runs: it reads the file again by itself */
	enroll(NODE1, a.dir, NULL, NULL);
	enroll(NODE2, b.dir, NULL, NULL);
	wait_count(ctl.log, "keys (the file changed)", 1, 10000);
	struct stat sb;
	assert_int_equal(stat(ctl.keys, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char out[2048];
	const char *again[] = {"enroll", NODE1, "--keys", ctl.keys, NULL};
	assert_int_equal(controller(again, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "enrolled already"));

	agent_start(&a, "agent.log");
	agent_start(&b, "agent.log");
	snprintf(needle, sizeof(needle), "as '%s'", NODE1);
	wait_count(ctl.log, needle, 1, 15000);
	snprintf(needle, sizeof(needle), "as '%s'", NODE2);
	wait_count(ctl.log, needle, 1, 15000);
	/* both report what they see (etcd refusing on 127.0.0.1:1) */
	snprintf(needle, sizeof(needle), "node %s: report", NODE1);
	wait_count(ctl.log, needle, 1, 15000);
	snprintf(needle, sizeof(needle), "node %s: report", NODE2);
	wait_count(ctl.log, needle, 1, 15000);

	/* revoke NODE1: its session closes right after the reload */
	int reloads = fmh_log_count(ctl.log, "reloaded:");
	const char *rv[] = {"revoke", NODE1, "--keys", ctl.keys, NULL};
	uint64_t t0 = fm_now_ms();
	assert_int_equal(controller(rv, out, sizeof(out)), 0);
	snprintf(needle, sizeof(needle), "node %s: DTLS session with", NODE1);
	wait_count(ctl.log, needle, 1, 10000);
	uint64_t closed_ms = fm_now_ms() - t0;
	print_message("revoke -> session closed: %llu ms (the revoke command's own run included)\n",
		      (unsigned long long)closed_ms);
	/* the close is the reload's doing, in the same pass: its line says so */
	wait_count(ctl.log, "1 session closed", 1, 1000);
	assert_int_equal(fmh_log_count(ctl.log, "reloaded:"), reloads + 1);
	/* its next handshake is refused */
	snprintf(needle, sizeof(needle), "unknown PSK identity '%s'", NODE1);
	wait_count(ctl.log, needle, 1, 15000);

	/* NODE2 untouched: heartbeats after the revoke, on the same session */
	double seen = last_seen(NODE2);
	uint64_t t1 = fm_now_ms();
	while (last_seen(NODE2) <= seen + 1) {
		if (fm_now_ms() - t1 > 15000)
			fail_msg("%s's heartbeats stopped after another node was revoked", NODE2);
		usleep(100000);
	}
	snprintf(needle, sizeof(needle), "as '%s'", NODE2);
	assert_int_equal(fmh_log_count(ctl.log, needle), 1);
	snprintf(needle, sizeof(needle), "node %s: DTLS session with", NODE2);
	assert_int_equal(fmh_log_count(ctl.log, needle), 0);

	int status;
	/* rotate NODE2: its session goes on with the old key */
	char old_psk[256] = "";
	FILE *f = fopen(b.psk, "r");
	assert_non_null(f);
	assert_non_null(fgets(old_psk, sizeof(old_psk), f));
	fclose(f);
	char rot[PATH_MAX + 8];
	snprintf(rot, sizeof(rot), "%s/rotated", b.dir);
	enroll(NODE2, rot, "--rotate", NULL);
	wait_count(ctl.log, "reloaded:", reloads + 2, 10000);
	/* NODE2's session is not closed by the rotation (nor later, until
	 * it has handshaken with the new key) */
	snprintf(needle, sizeof(needle), "node %s: DTLS session with", NODE2);
	assert_int_equal(fmh_log_count(ctl.log, needle), 0);
	/* the node restarts still holding its old key: the new one is offered
	 * first and fails once, then the old one works, and is remembered:
	 * after serve restarts it is offered first (no failure) */
	int wrong = fmh_log_count(ctl.log, "wrong key, or not our protocol");
	assert_int_equal(fmh_stop(b.pid), 0);
	agent_start(&b, "agent-restarted.log");
	snprintf(needle, sizeof(needle), "as '%s'", NODE2);
	wait_count(ctl.log, needle, 2, 30000);
	assert_int_equal(fmh_log_count(ctl.log, "wrong key, or not our protocol"), wrong + 1);
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
	assert_int_equal(fmh_controller_restart(&ctl, "serve-rotating.log"), 0);
	wait_count(ctl.log, needle, 1, 30000);
	assert_int_equal(fmh_log_count(ctl.log, "wrong key, or not our protocol"), 0);

	/* the node gets its new key (its psk file) and SIGHUP */
	char new_psk[PATH_MAX + 32];
	snprintf(new_psk, sizeof(new_psk), "%s/etc/fleetmedic/psk", rot);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp %s %s", new_psk, b.psk);
	const char *cp[] = {"sh", "-c", cmd, NULL};
	assert_int_equal(fmh_run(cp, out, sizeof(out), &status, 5000), 0);
	assert_int_equal(status, 0);
	assert_int_equal(kill(b.pid, SIGHUP), 0);
	snprintf(needle, sizeof(needle), "node %s has handshaken with its new key", NODE2);
	wait_count(ctl.log, needle, 1, 15000);
	snprintf(needle, sizeof(needle), "as '%s'", NODE2);
	wait_count(ctl.log, needle, 2, 1000);

	/* the old key no longer works: an agent that holds it is refused */
	static struct node stale;
	node_init(&stale, "stale");
	stale.name = NODE2;
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/etc/fleetmedic && cp %s %s/etc/fleetmedic/fleetmedic.conf && "
		 "printf '%%s' '%s' > %s/etc/fleetmedic/psk && chmod 600 %s/etc/fleetmedic/psk",
		 stale.dir, b.conf, stale.dir, old_psk, stale.dir, stale.dir);
	assert_int_equal(fmh_run(cp, out, sizeof(out), &status, 5000), 0);
	assert_int_equal(status, 0);
	int failures = fmh_log_count(ctl.log, "wrong key, or not our protocol");
	agent_start(&stale, "agent.log");
	wait_count(ctl.log, "wrong key, or not our protocol", failures + 1, 15000);
	assert_int_equal(fmh_stop(stale.pid), 0);

	/* ... also after serve restarts (the store remembers the new key) */
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
	assert_int_equal(fmh_controller_restart(&ctl, "serve2.log"), 0);
	agent_start(&stale, "agent2.log");
	wait_count(ctl.log, "wrong key, or not our protocol", 1, 15000);
	assert_int_equal(fmh_stop(stale.pid), 0);
	/* while the node with the new key carries on */
	snprintf(needle, sizeof(needle), "as '%s'", NODE2);
	wait_count(ctl.log, needle, 1, 15000);

	/* --rotate --now: the session goes at once */
	snprintf(rot, sizeof(rot), "%s/now", b.dir);
	enroll(NODE2, rot, "--rotate", "--now");
	wait_count(ctl.log, "its key was replaced (enroll --rotate --now)", 1, 10000);

	/* a keys file broken on reload: the keys in use stay, said once */
	f = fopen(ctl.keys, "a");
	assert_non_null(f);
	fputs("this line is no key\n", f);
	fclose(f);
	wait_count(ctl.log, "the keys in use stay", 1, 10000);
	assert_int_equal(kill(ctl.pid, SIGHUP), 0);
	wait_count(ctl.log, "keys (SIGHUP): the file still does not load", 1, 10000);
	assert_int_equal(fmh_log_count(ctl.log, "the keys in use stay"), 1);
	/* enroll and revoke do not edit a file that does not load */
	const char *rv2[] = {"revoke", NODE2, "--keys", ctl.keys, NULL};
	assert_int_equal(controller(rv2, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "found 4 fields"));
	/* mended, it is taken again */
	snprintf(cmd, sizeof(cmd), "grep -v 'no key' %s > %s.new && chmod 600 %s.new && mv %s.new %s", ctl.keys,
		 ctl.keys, ctl.keys, ctl.keys, ctl.keys);
	assert_int_equal(fmh_run(cp, out, sizeof(out), &status, 5000), 0);
	assert_int_equal(status, 0);
	wait_count(ctl.log, "reloaded:", 2, 10000);
	assert_int_equal(fmh_stop(a.pid), 0);
	assert_int_equal(fmh_stop(b.pid), 0);
}

/* SQL on serve's database behind its back (SQLite's WAL or PostgreSQL:
 * serve writes meanwhile). */
static void sql(const char *db, const char *text)
{
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(db, true, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	if (fc_db_exec(h, text) < 0)
		fail_msg("%s: failed (the log says why)", text);
	fc_db_close(&h);
}

/* The tables a copy of the store holds (what a restore brings back). */
static const char *const copied[] = {"nodes", "diagnoses", "history", "node_keys"};

/* The node's raised set at the controller as sorted "code key" lines. */
static void stored_set(const char *node, char *out, size_t size)
{
	cJSON *j = show(node);
	const cJSON *d;
	size_t o = 0;
	out[0] = '\0';
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "diagnoses"))
	{
		int n = snprintf(out + o, size - o, "%s %s;", cJSON_GetStringValue(cJSON_GetObjectItem(d, "code")),
				 cJSON_GetStringValue(cJSON_GetObjectItem(d, "key")));
		if (n > 0 && (size_t)n < size - o)
			o += (size_t)n;
	}
	cJSON_Delete(j);
}

/* Waits until the stored set is want. */
static void wait_set(const char *node, const char *want, int ms)
{
	char have[4096];
	uint64_t t0 = fm_now_ms();
	for (;;) {
		stored_set(node, have, sizeof(have));
		if (strcmp(have, want) == 0)
			return;
		if (fm_now_ms() - t0 > (uint64_t)ms) {
			fmh_print_tail(ctl.log);
			fail_msg("%s's stored set is '%s', not '%s', after %d ms", node, have, want, ms);
		}
		usleep(50000);
	}
}

/* Resync: the store loses rows behind serve's back, or is restored from an
 * older copy; the heartbeat's hash differs and serve asks the node. */
static void test_resync(void **st)
{
	(void)st;
	static struct node n;
	char needle[256], want[4096], cmd[4 * PATH_MAX];
	node_init(&n, "pi-resync");
	enroll(n.name, n.dir, NULL, NULL);
	snprintf(needle, sizeof(needle), "keys (the file changed): %s reloaded", ctl.keys);
	wait_count(ctl.log, needle, 1, 10000);
	/* a copy of the store from before the node ever reported: its
	 * tables copied beside them (in SQL both engines run) */
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		snprintf(cmd, sizeof(cmd), "CREATE TABLE old_%s AS SELECT * FROM %s", copied[i], copied[i]);
		sql(ctl.db, cmd);
	}

	agent_start(&n, "agent.log");
	snprintf(needle, sizeof(needle), "node %s: report", n.name);
	wait_count(ctl.log, needle, 1, 15000);
	/* the node's set settles (etcd and the apiserver refusing) */
	uint64_t t0 = fm_now_ms();
	do {
		stored_set(n.name, want, sizeof(want));
		usleep(300000);
		char again[4096];
		stored_set(n.name, again, sizeof(again));
		if (want[0] && strcmp(want, again) == 0)
			break;
		if (fm_now_ms() - t0 > 20000)
			fail_msg("%s's set does not settle", n.name);
	} while (1);
	print_message("the node's set: %s\n", want);

	/* rows gone and one made up, behind serve's back */
	snprintf(cmd, sizeof(cmd),
		 "BEGIN; DELETE FROM diagnoses WHERE node = '%s';"
		 "INSERT INTO diagnoses (node, code, key, severity, summary, evidence, remedy, explains, raised_at,"
		 " changed_at, seq) VALUES ('%s', 'clock-unsynced', 'made-up', 2, 'not on the node', '[]', '[]', '[]',"
		 " 1, 1, 1); COMMIT;",
		 n.name, n.name);
	sql(ctl.db, cmd);
	snprintf(needle, sizeof(needle), "node %s: resync:", n.name);
	int before = fmh_log_count(ctl.log, needle);
	wait_set(n.name, want, 10000);
	wait_count(ctl.log, needle, before + 1, 5000);
	cJSON *j = show(n.name);
	char *text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "resync: the node does not raise it"));
	assert_non_null(strstr(text, "\"detail\":\"resync: "));
	cJSON_free(text);
	cJSON_Delete(j);

	/* the store restored from the copy made before the node reported:
	 * serve stopped, every table's rows replaced by the copy's */
	int status;
	assert_int_equal(fmh_controller_stop(&ctl, &status), 0);
	size_t o = (size_t)snprintf(cmd, sizeof(cmd), "BEGIN;");
	for (size_t i = sizeof(copied) / sizeof(copied[0]); i-- > 0;) /* diagnoses before nodes */
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, " DELETE FROM %s;", copied[i]);
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, " INSERT INTO %s SELECT * FROM old_%s;", copied[i],
				      copied[i]);
	snprintf(cmd + o, sizeof(cmd) - o, " COMMIT;");
	sql(ctl.db, cmd);
	assert_int_equal(fmh_controller_restart(&ctl, "serve-restored.log"), 0);
	wait_set(n.name, want, 15000);
	wait_count(ctl.log, needle, 1, 5000);
	assert_int_equal(fmh_stop(n.pid), 0);
}

/* The number in "KEY=N" of the last line of the log holding prefix. */
static long log_value(const char *path, const char *prefix, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	long v = -1;
	while (f && fgets(line, sizeof(line), f)) {
		const char *k = strstr(line, key);
		if (strstr(line, prefix) && k)
			v = strtol(k + strlen(key), NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

/* Waits (at most ms) until pid (ours, not reaped) has exited by itself. */
static void wait_exited(pid_t pid, int ms)
{
	if (fmh_wait_exit(pid, ms) < 0)
		fail_msg("pid %d did not exit within %d ms", (int)pid, ms);
}

/* Keys changing under load: 100 simulated agents (bench/coap_load) report
 * back to back while one is rotated and another revoked. */
static void test_rotation_under_load(void **st)
{
	(void)st;
	const char *load = getenv("FM_COAP_LOAD");
	assert_non_null(load);
	char cmd[4 * PATH_MAX], out[4096], log[PATH_MAX + 16], acked[PATH_MAX + 16], keyfile[PATH_MAX + 16];
	char rot[PATH_MAX + 16], server[64];
	int status;
	/* the simulated agents' keys, added while serve runs */
	int reloads = fmh_log_count(ctl.log, "reloaded:");
	snprintf(cmd, sizeof(cmd), "%s keys 100 | grep -v '^#' >> %s", load, ctl.keys);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	assert_int_equal(fmh_run(sh, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	wait_count(ctl.log, "reloaded:", reloads + 1, 10000);

	snprintf(log, sizeof(log), "%s/coap_load.log", dir);
	snprintf(acked, sizeof(acked), "%s/acked", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/load-00001.key", dir);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ctl.port);
	char rekey[PATH_MAX + 32];
	snprintf(rekey, sizeof(rekey), "load-00001=%s", keyfile);
	const char *argv[] = {load, "run", "--server", server, "--nodes", "100", "--seconds", "8", "--kind", "rp",
			      "--rekey", rekey, "--revoked", "load-00002", "--acked", acked, NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "connected nodes=100 failed=0", pid, 60000) < 0) {
		fmh_print_tail(log);
		fail_msg("coap_load's 100 sessions did not come up");
	}
	/* under load (well into it): rotate one, give it its new key, revoke
	 * another */
	wait_count(ctl.log, "node load-00001: report 50 stored", 1, 30000);
	wait_count(ctl.log, "node load-00002: report 50 stored", 1, 30000);

	snprintf(rot, sizeof(rot), "%s/rotated-load", dir);
	const char *args[] = {"enroll", "load-00001", "--keys", ctl.keys, "--rotate", "--out", rot, NULL};
	assert_int_equal(controller(args, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "cp %s/etc/fleetmedic/psk %s", rot, keyfile);
	assert_int_equal(fmh_run(sh, out, sizeof(out), &status, 5000), 0);
	assert_int_equal(status, 0);
	wait_count(ctl.log, "reloaded:", reloads + 2, 10000);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	const char *rv[] = {"revoke", "load-00002", "--keys", ctl.keys, NULL};
	assert_int_equal(controller(rv, out, sizeof(out)), 0);

	/* the run ends by itself: every node's acknowledged count written */
	uint64_t t0 = fm_now_ms();
	while (fmh_log_count(acked, "load-") < 100) {
		/* exited without writing it: a node's request went unanswered */
		bool gone = fmh_wait_exit(pid, 0) == 0 && fmh_log_count(acked, "load-") < 100;
		if (gone || fm_now_ms() - t0 > 60000) {
			fmh_print_tail(log);
			fmh_print_tail(ctl.log);
			fail_msg("coap_load did not finish");
		}
		usleep(100000);
	}
	wait_exited(pid, 60000);
	assert_int_equal(fmh_stop_status(pid, &status), 0);
	if (status != 0) {
		fmh_print_tail(log);
		fail_msg("coap_load: exit %d (a node other than the revoked one failed)", status);
	}
	fmh_print_tail(log);
	wait_count(log, "rekeyed load-00001 at q=", 1, 1000);
	wait_count(log, "revoked load-00002 closed at q=", 1, 1000);
	wait_count(ctl.log, "node load-00001 has handshaken with its new key", 1, 1000);

	/* zero lost: every report a node had acknowledged is stored, for each
	 * of the 99 others (the rotated one too), and the rotated one went on
	 * reporting after its new handshake */
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(ctl.db, false, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	struct fc_db_stmt *q = fc_db_prepare(h, "SELECT last_seq FROM nodes WHERE name = ?1", false);
	assert_non_null(q);
	FILE *f = fopen(acked, "r");
	assert_non_null(f);
	char node[64];
	unsigned long n_acked, total = 0;
	int nodes = 0;
	while (fscanf(f, "%63s %lu", node, &n_acked) == 2) {
		fc_db_bind_text(q, 1, node);
		assert_int_equal(fc_db_step(q), 1);
		unsigned long stored = (unsigned long)fc_db_col_int(q, 0);
		fc_db_reset(q);
		if (strcmp(node, "load-00002") == 0)
			continue;
		if (stored != n_acked)
			fail_msg("%s: %lu reports acknowledged, %lu stored", node, n_acked, stored);
		if (n_acked == 0)
			fail_msg("%s acknowledged no report", node);
		total += n_acked;
		nodes++;
	}
	fclose(f);
	fc_db_finalize(q);
	fc_db_close(&h);
	assert_int_equal(nodes, 99);
	long at_rekey = log_value(log, "rekeyed load-00001", "q=");
	snprintf(cmd, sizeof(cmd), "load-00001 ");
	f = fopen(acked, "r");
	long final_q = -1;
	while (f && fscanf(f, "%63s %lu", node, &n_acked) == 2)
		if (strcmp(node, "load-00001") == 0)
			final_q = (long)n_acked;
	if (f)
		fclose(f);
	print_message("99 nodes: %lu reports acknowledged and stored; load-00001 rekeyed at q=%ld, ended at %ld\n",
		      total, at_rekey, final_q);
	assert_true(at_rekey >= 0 && final_q > at_rekey);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_enroll_revoke_rotate),
	    cmocka_unit_test(test_resync),
	    cmocka_unit_test(test_rotation_under_load),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
