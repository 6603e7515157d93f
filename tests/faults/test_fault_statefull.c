/* Fault: the state dir's filesystem full (issue 11, item 2).
 *
 * `fleetmedic-agent run` keeps its state (uplink.json: the queue;
 * journal.state: the cursor) on a real 4 MiB ext4 on a loop device and
 * reports to a real `fleetmedic-controller serve`. The test fills that
 * filesystem (a file of zeros written until ENOSPC), then the node changes
 * (the board's ext4 error counters, kubelet's conflict line in the real
 * journal), part of it while serve is stopped:
 *   - the agent stays up and the controller shows state-unwritable (a
 *     warning naming the dir, the loop device and `df -h`); the failure is
 *     logged once, not per write (uplink.json, journal.state);
 *   - no temporary file is left in the full dir and what is there still
 *     parses (the last whole state, never a truncated one);
 *   - serve started again: every report queued in memory arrives, once, in
 *     order;
 *   - the space freed: state-unwritable resolves and uplink.json and
 *     journal.state are written again (they parse, and say what is now).
 * The loop device and the mount are undone even when the test fails
 * (fmh_loopdev, run first by fmh_cleanup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fm_loop.h"
#include "fm_state.h"
#include "fmh_check.h"
#include "fmh_faults_ctl.h"
#include "fmh_journal.h"
#include "fmh_loopdev.h"
#include "fmh_uplink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCKING "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
#define FS_MB 4

static struct fmh_fnode node;
static char dev[64], fill[PATH_MAX + 16];

static int setup(void **st)
{
	(void)st;
	char img[PATH_MAX + 16];
	if (getuid() != 0) {
		fprintf(stderr, "loop devices and mounts need root\n");
		return -1;
	}
	if (fmh_fnode_init(&node, NULL) < 0)
		return -1;
	snprintf(img, sizeof(img), "%s/state.img", node.dir);
	snprintf(fill, sizeof(fill), "%s/fill", node.state);
	if (fmh_ext4_image(img, FS_MB) < 0 || fmh_loop_attach(img, dev, sizeof(dev)) < 0 ||
	    mkdir(node.state, 0700) < 0 || fmh_mount(dev, node.state, "rw") < 0) {
		fprintf(stderr, "the %d MiB ext4 for the state dir: %s\n", FS_MB, strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup(); /* the mount and the loop device first */
	return 0;
}

/* Writes len bytes of zeros to fd, as far as they go: 0 or -errno. */
static int zeros(int fd, size_t len, uint64_t *total)
{
	static const char z[64 * 1024];
	while (len) {
		ssize_t n = write(fd, z, len < sizeof(z) ? len : sizeof(z));
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		*total += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fills the state dir's filesystem: zeros appended to fill until ENOSPC,
 * in ever smaller pieces, until not even one block more goes in (a new
 * 1 KiB file, synced, fails). The bytes written. */
static uint64_t fill_up(void)
{
	uint64_t total = 0;
	int fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (int round = 0; round < 16; round++) {
		for (size_t piece = 64 * 1024; piece >= 512; piece /= 2) {
			int rc;
			while ((rc = zeros(fd, piece, &total)) == 0)
				;
			if (rc != -ENOSPC)
				fail_msg("filling %s: %s", fill, strerror(-rc));
		}
		int rc = fsync(fd) < 0 ? -errno : 0;
		if (rc < 0 && rc != -ENOSPC)
			fail_msg("fsync %s: %s", fill, strerror(-rc));
		/* One block more, in a file of its own? */
		char probe[PATH_MAX + 16];
		snprintf(probe, sizeof(probe), "%s/probe", node.state);
		int p = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		uint64_t ignored = 0;
		rc = p < 0 ? -errno : zeros(p, 1024, &ignored);
		if (rc == 0 && fsync(p) < 0)
			rc = -errno;
		if (p >= 0)
			close(p);
		unlink(probe);
		if (rc == -ENOSPC) {
			close(fd);
			return total;
		}
		if (rc < 0)
			fail_msg("probing %s: %s", probe, strerror(-rc));
	}
	fail_msg("%s never filled up", node.state);
	return 0;
}

/* No ".NAME.tmp" left in the state dir. */
static void no_tmp_left(void)
{
	DIR *d = opendir(node.state);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp"))
			fail_msg("%s/%s left behind", node.state, e->d_name);
	closedir(d);
}

static cJSON *state_json(const char *name)
{
	int rc;
	cJSON *o = fm_state_read_json(node.state, name, &rc);
	if (!o)
		fail_msg("%s/%s: %s", node.state, name, strerror(-rc));
	return o;
}

/* Whether a string of arr starts with prefix. */
static bool starts(const cJSON *arr, const char *prefix)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x) && strncmp(x->valuestring, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

static void agent_alive(pid_t agent)
{
	struct fmh_proc p;
	if (fmh_proc_sample(agent, &p) < 0)
		fail_msg("the agent is gone");
}

static const char *const extra[] = {"--heartbeat", "60s", "--collect-interval", "1s", "--hold", "1s",
				    "--ack-timeout", "500ms", "--max-retransmit", "2", "--retry-max", "2s", NULL};

static void state_dir_full(void **st)
{
	(void)st;
	char log[PATH_MAX];
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);

	/* Before: the fixture board's ext4 errors reach serve, the queue is
	 * on the small filesystem. */
	cJSON *j = fmh_fnode_wait_history(&node, "mmcblk0p2", "raise", 30000);
	cJSON_Delete(j);
	cJSON *q = state_json("uplink.json");
	cJSON_Delete(q);

	uint64_t filled = fill_up();
	fprintf(stderr, "%s full after %llu bytes of zeros\n", node.state, (unsigned long long)filled);

	/* A change while full: reported, not persisted; the controller is told. */
	uint64_t t0 = fm_now_ms();
	fmh_fnode_ext4_errors(&node, "faulta", 1);
	j = fmh_fnode_wait_history(&node, "state-unwritable", "raise", 30000);
	uint64_t raise_ms = fm_now_ms() - t0;
	cJSON_Delete(j);
	j = fmh_fnode_wait_history(&node, "faulta", "raise", 30000);
	const cJSON *d = fmh_show_active(j, "state-unwritable");
	if (!d)
		fail_msg("state-unwritable is not among the node's diagnoses");
	/* The agent's summary whole (its log); the controller's (long strings
	 * are cut in a report) with the cause, the device and what to run. */
	char want[PATH_MAX + 128], dev_said[80];
	const char *loop = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	snprintf(want, sizeof(want), "diagnosis raised: state-unwritable the agent cannot persist its state: no space left on %s (device %s)",
		 node.state, loop);
	assert_int_equal(fmh_wait_log_pid(log, want, agent, 1000), 0);
	snprintf(dev_said, sizeof(dev_said), "(device %s)", loop);
	const char *summary = fmh_jstr(d, "summary");
	if (!strstr(summary, "no space left on ") || !strstr(summary, dev_said))
		fail_msg("summary \"%s\" does not say no space left on %s", summary, dev_said);
	assert_string_equal(fmh_jstr(d, "severity"), "warning");
	assert_true(starts(cJSON_GetObjectItem(d, "remedy"), "df -h "));
	cJSON_Delete(j);

	/* serve stopped: what changes now waits in the queue, in memory. */
	assert_int_equal(fmh_controller_stop(&node.ctl, NULL), 0);
	fmh_fnode_ext4_errors(&node, "faultb", 2);
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis raised: fs-corruption the ext4 filesystem on faultb", agent, 15000), 0);
	char *text = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(node.jfile, text), 0);
	free(text);
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis raised: container-name-conflict", agent, 15000), 0);
	/* Two more, one by one: each a journal batch whose cursor cannot be
	 * saved (counted in memory, said once in the log). */
	for (int i = 0; i < 2; i++) {
		text = fmh_journal_kubelet_text(1, 1, BLOCKING);
		assert_non_null(text);
		assert_int_equal(fmh_journal_append(node.jfile, text), 0);
		free(text);
	}
	fmh_fnode_ext4_errors(&node, "faulta", 7);
	assert_int_equal(fmh_wait_log_pid(log, "diagnosis changed: fs-corruption the ext4 filesystem on faulta", agent, 15000), 0);
	agent_alive(agent);
	/* What is on disk is the last state written whole. */
	no_tmp_left();
	q = state_json("uplink.json");
	cJSON_Delete(q);
	int complaints = fmh_log_count(log, "uplink: cannot write");

	/* serve back: every queued report arrives once, in order. */
	uint64_t b0 = fm_now_ms();
	assert_int_equal(fmh_controller_restart(&node.ctl, "serve2.log"), 0);
	j = fmh_fnode_wait_history(&node, "faulta", "change", 30000);
	uint64_t drain_ms = fm_now_ms() - b0;
	fmh_history_ordered(j);
	static const char *const order[][2] = {
		{"faulta", "raise"}, {"state-unwritable", "raise"}, {"faultb", "raise"},
		{"container-name-conflict", "raise"}, {"faulta", "change"},
	};
	fmh_history_once_in_order(j, order, sizeof(order) / sizeof(order[0]));
	assert_int_equal(fmh_history_count(j, "state-unwritable", "resolve"), 0);
	cJSON_Delete(j);
	agent_alive(agent);

	/* Space again: the next write works, the diagnosis resolves. */
	assert_int_equal(unlink(fill), 0);
	uint64_t f0 = fm_now_ms();
	fmh_fnode_ext4_errors(&node, "faultb", 0);
	j = fmh_fnode_wait_history(&node, "state-unwritable", "resolve", 30000);
	uint64_t resolve_ms = fm_now_ms() - f0;
	assert_int_equal(fmh_history_count(j, "faultb", "resolve"), 1);
	assert_int_equal(fmh_history_count(j, "state-unwritable", "raise"), 1);
	assert_null(fmh_show_active(j, "state-unwritable"));
	fmh_history_ordered(j);
	uint32_t ctl_q = (uint32_t)fmh_jnum(j, "last_seq");
	cJSON_Delete(j);

	/* The queue on disk says what is now: everything acknowledged, up to
	 * the controller's last sequence number (written after the last ACK). */
	uint64_t w0 = fm_now_ms();
	for (;;) {
		q = state_json("uplink.json");
		int waiting = cJSON_GetArraySize(cJSON_GetObjectItem(q, "reports"));
		uint32_t last_q = (uint32_t)fmh_jnum(q, "last_q");
		cJSON_Delete(q);
		if (waiting == 0 && last_q == ctl_q)
			break;
		if (fm_now_ms() - w0 > 10000)
			fail_msg("uplink.json: %d reports waiting, last_q %u, the controller's %u", waiting, last_q, ctl_q);
		usleep(50000);
	}
	/* The journal cursor too: a fourth conflict line, and the four are
	 * counted on disk. */
	text = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(text);
	assert_int_equal(fmh_journal_append(node.jfile, text), 0);
	free(text);
	w0 = fm_now_ms();
	for (;;) {
		int rc;
		cJSON *js = fm_state_read_json(node.state, "journal.state", &rc);
		double matched = js ? fmh_jnum(js, "matched") : 0;
		bool cursor = js && cJSON_IsString(cJSON_GetObjectItem(js, "cursor"));
		cJSON_Delete(js);
		if (cursor && matched >= 4)
			break;
		if (fm_now_ms() - w0 > 15000)
			fail_msg("journal.state not written again (%s, matched %.0f)", rc ? strerror(-rc) : "parsed", matched);
		usleep(50000);
	}
	no_tmp_left();
	agent_alive(agent);
	/* Said once per run of failures, not per write. */
	assert_int_equal(complaints, 1);
	assert_int_equal(fmh_log_count(log, "uplink: cannot write"), 1);
	assert_true(fmh_log_count(log, "cannot save state in") <= 1);

	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	fmh_fault_line("test_fault_statefull",
		       "injects=statedir-enospc fs_mb=%d filled_kb=%llu queued_offline=3 delivered_once=3 raise_ms=%llu drain_ms=%llu resolve_ms=%llu complaints=%d",
		       FS_MB, (unsigned long long)(filled / 1024), (unsigned long long)raise_ms,
		       (unsigned long long)drain_ms, (unsigned long long)resolve_ms, complaints);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_dir_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
