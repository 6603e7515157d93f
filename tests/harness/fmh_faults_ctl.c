/* fmh_faults_ctl: see fmh_faults_ctl.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fmh_faults_ctl.h"

#include "fc_db.h"
#include "fm_harness.h"
#include "fm_loop.h"
#include "fmh_check.h"
#include "fmh_journal.h"
#include "fmh_uplink.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fmh_fnode_init(struct fmh_fnode *n, const char *state)
{
	return fmh_fnode_init_as(n, state, FMH_NODE_A, FMH_KEY_A, NULL);
}

int fmh_fnode_init_as(struct fmh_fnode *n, const char *state, const char *identity, const char *key,
		      const struct fmh_controller *ctl)
{
	char hex[128], cmd[PATH_MAX * 2 + 64], out[512];
	int status;
	memset(n, 0, sizeof(*n));
	snprintf(n->identity, sizeof(n->identity), "%s", identity);
	if (fmh_init() < 0 || fmh_tmpdir(n->dir, sizeof(n->dir)) < 0)
		return -EIO;
	fmh_hex(key, hex, sizeof(hex));
	fmh_psk_file(n->dir, "psk", hex, n->psk, sizeof(n->psk));
	if (state)
		snprintf(n->state, sizeof(n->state), "%s", state);
	else
		snprintf(n->state, sizeof(n->state), "%s/state", n->dir);
	snprintf(n->conf, sizeof(n->conf), "%s/agent.conf", n->dir);
	snprintf(n->root, sizeof(n->root), "%s/root", n->dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s/generic-aarch64 %s", FM_BOARD_FIXTURES, n->root);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	if (fmh_run(sh, out, sizeof(out), &status, 10000) < 0 || status != 0)
		return -EIO;
	snprintf(n->jdir, sizeof(n->jdir), "%s/journal", n->dir);
	snprintf(n->jfile, sizeof(n->jfile), "%s/remote.journal", n->jdir);
	if (mkdir(n->jdir, 0755) < 0)
		return -errno;
	char *text = fmh_journal_kubelet_text(5, 0, NULL); /* routine kubelet lines */
	int rc = text ? fmh_journal_append(n->jfile, text) : -ENOMEM;
	free(text);
	if (rc < 0)
		return rc;
	if (ctl) {
		n->ctl = *ctl; /* borrowed: its owner stops it */
		return 0;
	}
	return fmh_controller_start(&n->ctl, false);
}

pid_t fmh_fnode_agent(struct fmh_fnode *n, const char *log_name, char *log, const char *etcd,
		      const char *apiserver, const char *const extra[])
{
	/* With --config first, the controller is the file's (SIGHUP may
	 * change it): the command line would win. */
	bool from_file = extra && extra[0] && strcmp(extra[0], "--config") == 0;
	const char *argv[64] = {fmh_agent(), "run", "--psk-identity", n->identity,
				"--psk-file", n->psk, "--state-dir", n->state, "--root", n->root,
				"--docker-host", "unix:///nonexistent/docker.sock", "--journal-dir", n->jdir,
				"--kmsg", "none", "--etcd", etcd ? etcd : "https://127.0.0.1:1",
				"--apiserver", apiserver ? apiserver : "https://127.0.0.1:1"};
	int k = 20;
	if (!from_file) {
		argv[k++] = "--controller";
		argv[k++] = n->ctl.url;
	}
	for (int i = 0; extra && extra[i] && i < 24; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	snprintf(log, PATH_MAX, "%s/%s", n->dir, log_name);
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	if (fmh_wait_log_pid(log, "reporting to", pid, 15000) < 0)
		fail_msg("the agent did not start; its log is %s", log);
	return pid;
}

void fmh_fnode_ext4_errors(const struct fmh_fnode *n, const char *dev, unsigned count)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/sys/fs/ext4/%s", n->root, dev);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
	/* Written whole under another name and renamed: the agent never reads
	 * half a number. */
	char tmp[PATH_MAX + 96], dst[PATH_MAX + 96];
	snprintf(tmp, sizeof(tmp), "%s/.errors_count.tmp", p);
	snprintf(dst, sizeof(dst), "%s/errors_count", p);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "%u\n", count);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, dst), 0);
}

cJSON *fmh_fnode_show(const struct fmh_fnode *n)
{
	int status;
	return fmh_controller_json(&n->ctl, &status, "show", n->identity, "--history", "1000", NULL);
}

static bool row_is(const cJSON *h, const char *key, const char *event)
{
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(h, "key"));
	const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(h, "code"));
	const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(h, "event"));
	return ((k && strcmp(k, key) == 0) || (c && strcmp(c, key) == 0)) && e && strcmp(e, event) == 0;
}

int fmh_history_count(const cJSON *show, const char *key, const char *event)
{
	int n = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(show, "history"))
	{
		n += row_is(h, key, event);
	}
	return n;
}

int fmh_history_index(const cJSON *show, const char *key, const char *event)
{
	int i = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(show, "history"))
	{
		if (row_is(h, key, event))
			return i;
		i++;
	}
	return -1;
}

const cJSON *fmh_show_active(const cJSON *show, const char *key)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(show, "diagnoses"))
	{
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(d, "key"));
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(d, "code"));
		if ((k && strcmp(k, key) == 0) || (c && strcmp(c, key) == 0))
			return d;
	}
	return NULL;
}

void fmh_history_ordered(const cJSON *show)
{
	double last = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, fmh_field(show, "history"))
	{
		const cJSON *q = cJSON_GetObjectItem(h, "seq");
		if (!cJSON_IsNumber(q))
			continue; /* a row of the controller's own (the node went unreachable) */
		double seq = q->valuedouble;
		if (seq < last)
			fail_msg("the controller stored report %.0f after %.0f", seq, last);
		last = seq;
	}
}

void fmh_history_once_in_order(const cJSON *show, const char *const want[][2], size_t n)
{
	int last = -1;
	for (size_t i = 0; i < n; i++) {
		int count = fmh_history_count(show, want[i][0], want[i][1]);
		if (count != 1)
			fail_msg("%s of %s stored %d times", want[i][1], want[i][0], count);
		int at = fmh_history_index(show, want[i][0], want[i][1]);
		if (at <= last)
			fail_msg("%s of %s stored out of order", want[i][1], want[i][0]);
		last = at;
	}
}

/* Every log of the node (the agents' in its dir, the controller's). */
static void print_logs(const struct fmh_fnode *n)
{
	DIR *d = opendir(n->dir);
	const struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char path[PATH_MAX + 256];
		if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0) {
			snprintf(path, sizeof(path), "%s/%s", n->dir, e->d_name);
			fmh_print_tail(path);
		}
	}
	if (d)
		closedir(d);
	fmh_print_tail(n->ctl.log);
}

cJSON *fmh_fnode_wait_history(const struct fmh_fnode *n, const char *key, const char *event, uint64_t ms)
{
	uint64_t t0 = fm_now_ms();
	for (;;) {
		cJSON *j = fmh_fnode_show(n);
		if (j && fmh_history_count(j, key, event) > 0)
			return j;
		if (fm_now_ms() - t0 > ms) {
			char *t = j ? cJSON_Print(cJSON_GetObjectItem(j, "history")) : NULL;
			fprintf(stderr, "--- the controller's history ---\n%s\n", t ? t : "(none)");
			free(t);
			print_logs(n);
			cJSON_Delete(j);
			fail_msg("the controller has no %s of %s after %llu ms", event, key, (unsigned long long)ms);
		}
		cJSON_Delete(j);
		usleep(50000);
	}
}

int fmh_log_count(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

void fmh_asan_small_quarantine(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char v[1024];
	snprintf(v, sizeof(v), "%s%squarantine_size_mb=1", old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", v, 1);
}

int fmh_tcp_waiting(int port)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	if (!f)
		return 0;
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned lport, rport, st;
		/* "sl local_address rem_address st ...": addresses as HEX:PORT. */
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x", &lport, &rport, &st) == 3 && rport == (unsigned)port &&
		    (st == 1 || st == 2))
			n++;
	}
	fclose(f);
	return n;
}

void fmh_wait_for(const char *path, const char *needle, pid_t pid, int ms, const char *other)
{
	if (fmh_wait_log_pid(path, needle, pid, ms) == 0)
		return;
	fmh_print_tail(path);
	if (other)
		fmh_print_tail(other);
	fail_msg("'%s' not in %s within %d ms", needle, path, ms);
}

int64_t fmh_store_peek(const char *db, const char *sql, const char *arg)
{
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(db, false, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	struct fc_db_stmt *q = fc_db_prepare(h, sql, false);
	assert_non_null(q);
	if (arg)
		fc_db_bind_text(q, 1, arg);
	int rc = fc_db_step(q);
	assert_true(rc >= 0);
	int64_t v = rc == 1 ? fc_db_col_int(q, 0) : -1;
	fc_db_finalize(q);
	fc_db_close(&h);
	return v;
}

pid_t fmh_load_start(const struct fmh_controller *ctl, const char *dir, int nodes, char *log, char *acked)
{
	const char *load = getenv("FM_COAP_LOAD");
	assert_non_null(load);
	char cmd[2 * PATH_MAX], out[4096], server[64], n[16], needle[64];
	int status;
	/* the simulated agents' keys, taken by serve without a restart */
	snprintf(cmd, sizeof(cmd), "%s keys %d | grep -v '^#' >> %s", load, nodes, ctl->keys);
	const char *sh[] = {"sh", "-c", cmd, NULL};
	assert_int_equal(fmh_run(sh, out, sizeof(out), &status, 10000), 0);
	assert_int_equal(status, 0);
	fmh_wait_for(ctl->log, "reloaded:", ctl->pid, 10000, NULL);
	snprintf(log, PATH_MAX + 16, "%s/coap_load.log", dir);
	snprintf(acked, PATH_MAX + 16, "%s/acked", dir);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ctl->port);
	snprintf(n, sizeof(n), "%d", nodes);
	/* longer than any test: it ends by SIGTERM */
	const char *argv[] = {load, "run", "--server", server, "--nodes", n, "--seconds", "600", "--kind", "rp",
			      "--acked", acked, NULL};
	pid_t pid = fmh_spawn(argv, log);
	assert_true(pid > 0);
	snprintf(needle, sizeof(needle), "connected nodes=%d failed=0", nodes);
	fmh_wait_for(log, needle, pid, 60000, ctl->log);
	/* well into the load: the first and the last node have reports
	 * stored (and acknowledged) back to back */
	fmh_wait_for(ctl->log, "node load-00000: report 20 stored", ctl->pid, 30000, log);
	snprintf(needle, sizeof(needle), "node load-%05d: report 20 stored", nodes - 1);
	fmh_wait_for(ctl->log, needle, ctl->pid, 30000, log);
	return pid;
}

void fmh_load_acked(const char *db, const char *acked, struct fmh_acked *a)
{
	memset(a, 0, sizeof(*a));
	struct fc_db *h = NULL;
	char why[256];
	if (fc_db_open(db, false, &h, why, sizeof(why)) < 0)
		fail_msg("%s", why);
	struct fc_db_stmt *q = fc_db_prepare(h, "SELECT last_seq FROM nodes WHERE name = ?1", false);
	assert_non_null(q);
	FILE *f = fopen(acked, "r");
	assert_non_null(f);
	char node[64];
	unsigned long n_acked;
	while (fscanf(f, "%63s %lu", node, &n_acked) == 2) {
		fc_db_bind_text(q, 1, node);
		unsigned long stored = fc_db_step(q) == 1 ? (unsigned long)fc_db_col_int(q, 0) : 0;
		fc_db_reset(q);
		if (stored < n_acked) {
			print_error("%s: %lu reports acknowledged, only %lu stored\n", node, n_acked, stored);
			a->lost += n_acked - stored;
		}
		/* one request out per node: at most one stored and unanswered */
		if (stored > n_acked + 1) {
			print_error("%s: %lu stored, but only %lu acknowledged\n", node, stored, n_acked);
			a->over++;
		}
		a->acked += n_acked;
		a->stored += stored;
		a->nodes++;
	}
	fclose(f);
	fc_db_finalize(q);
	fc_db_close(&h);
}
