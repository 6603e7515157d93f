/* Fault: a damaged state dir (issue 25, item 5).
 *
 * Before `fleetmedic-agent run` starts, its state dir holds an uplink queue
 * of garbage (uplink.json), a journal cursor cut short (journal.state) and
 * a kmsg sequence of another owner (kmsg.state, chowned to uid 4242); the
 * journal holds a storm of kubelet's conflict line from 90 minutes ago
 * (this boot). The agent reports to a real `fleetmedic-controller serve`:
 *   - run starts (it used to exit 2: a restart loop under Restart=always);
 *   - the controller shows state-corrupt once per file (three raises, keyed
 *     uplink.json, journal.state, kmsg.state), each naming where the file
 *     was kept; the agent's log says it once per file;
 *   - each file is kept aside as NAME.bad-STAMP, whole, with its owner; the
 *     queue is written anew by the agent;
 *   - the journal, without a cursor, reads from the start of the boot: the
 *     old storm is counted, not raised (older than the log rules' hour);
 *   - the node's reports still arrive (the board's ext4 errors, a new one);
 *   - state-corrupt is not raised again while the agent runs on; removing
 *     uplink.json's kept file resolves that one, the others stand.
 * Every process is stopped by pid and the tmpdir removed, also on failure
 * (fmh_cleanup).
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

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCKING "eced8537863007db9a915924785306b26238cabbd3feec0e5226e2ad0710807b"
#define OTHER_UID 4242
#define STORM_AGO_S (90 * 60)

static struct fmh_fnode node;

static const char *const files[] = {"uplink.json", "journal.state", "kmsg.state"};

static int setup(void **st)
{
	(void)st;
	if (getuid() != 0) {
		fprintf(stderr, "a file of another owner needs root (chown)\n");
		return -1;
	}
	return fmh_fnode_init(&node, NULL) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	(void)st;
	fmh_cleanup();
	return 0;
}

static void put(const char *name, const char *text)
{
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/%s", node.state, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Ten conflict lines STORM_AGO_S ago in this boot, in a journal file of
 * their own (jdir/old.journal); false when the machine is up for less. */
static bool old_storm(void)
{
	uint64_t mono = clock_us(CLOCK_MONOTONIC), ago = (uint64_t)STORM_AGO_S * 1000000u;
	if (mono < ago + 60000000u)
		return false;
	char boot[64] = "", old[PATH_MAX + 16];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	assert_non_null(f);
	assert_non_null(fgets(boot, sizeof(boot), f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	char *line = fmh_journal_kubelet_text(1, 1, BLOCKING);
	assert_non_null(line);
	size_t cap = 10 * (strlen(line) + 256) + 1, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	uint64_t rt = clock_us(CLOCK_REALTIME) - ago;
	for (unsigned i = 0; i < 10; i++) {
		/* boot id without dashes, as the journal's export format has it */
		char id[40];
		size_t k = 0;
		for (const char *c = boot; *c && k < sizeof(id) - 1; c++)
			if (*c != '-')
				id[k++] = *c;
		id[k] = '\0';
		len += (size_t)snprintf(text + len, cap - len,
					"__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%llu\n_BOOT_ID=%s\n%s",
					(unsigned long long)(rt + i), (unsigned long long)(mono - ago + i), id, line);
	}
	snprintf(old, sizeof(old), "%s/old.journal", node.jdir);
	assert_int_equal(fmh_journal_append_export(old, text), 0);
	free(text);
	free(line);
	return true;
}

/* The damaged state dir: garbage, a cursor cut short, another's file. */
static void damage(void)
{
	char p[PATH_MAX + 32];
	assert_int_equal(mkdir(node.state, 0700), 0);
	put("uplink.json", "\x01\x02garbage{{{ not a queue");
	put("journal.state", "{\"cursor\":\"s=6f1c2a0b9e5d4c3b8a7f6e5d4c3b2a19;i=2a;b=9e1d");
	put("kmsg.state", "{\"boot_id\":\"x\",\"seq\":12}");
	snprintf(p, sizeof(p), "%s/kmsg.state", node.state);
	assert_int_equal(chown(p, OTHER_UID, OTHER_UID), 0);
}

/* name's files kept aside in the state dir: how many, the last into kept. */
static int kept_count(const char *name, char *kept, size_t size)
{
	char pre[64];
	int n = 0;
	snprintf(pre, sizeof(pre), "%s.bad-", name);
	DIR *d = opendir(node.state);
	assert_non_null(d);
	const struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, pre, strlen(pre)) == 0 && ++n)
			snprintf(kept, size, "%s", e->d_name);
	closedir(d);
	return n;
}

static const char *const extra[] = {"--heartbeat", "60s", "--collect-interval", "1s", "--hold", "1s",
				    "--kmsg", "/dev/kmsg", NULL};

static void state_dir_damaged(void **st)
{
	(void)st;
	char log[PATH_MAX], kept[3][160];
	damage();
	bool storm = old_storm();
	if (!storm)
		fprintf(stderr, "up for less than %d min: no old storm in the journal\n", STORM_AGO_S / 60 + 1);
	uint64_t t0 = fm_now_ms();
	pid_t agent = fmh_fnode_agent(&node, "agent.log", log, NULL, NULL, extra);

	/* Each file: raised once at serve, kept aside whole, said once. */
	cJSON *j = NULL;
	for (size_t i = 0; i < 3; i++) {
		cJSON_Delete(j);
		j = fmh_fnode_wait_history(&node, files[i], "raise", 30000);
	}
	uint64_t raise_ms = fm_now_ms() - t0;
	for (size_t i = 0; i < 3; i++) {
		char said[224];
		assert_int_equal(kept_count(files[i], kept[i], sizeof(kept[i])), 1);
		const cJSON *d = fmh_show_active(j, files[i]);
		if (!d)
			fail_msg("no active diagnosis keyed %s", files[i]);
		assert_string_equal(fmh_jstr(d, "code"), "state-corrupt");
		assert_string_equal(fmh_jstr(d, "severity"), "warning");
		if (!strstr(fmh_jstr(d, "summary"), kept[i]))
			fail_msg("summary \"%s\" does not name %s", fmh_jstr(d, "summary"), kept[i]);
		snprintf(said, sizeof(said), "kept aside as %s, starting from a clean state", kept[i]);
		assert_int_equal(fmh_log_count(log, said), 1);
	}
	cJSON_Delete(j);
	char p[PATH_MAX + 200];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", node.state, kept[2]);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_uid, OTHER_UID);

	/* The node's reports arrive: the fixture board's ext4 errors, then
	 * a change made now. */
	j = fmh_fnode_wait_history(&node, "mmcblk0p2", "raise", 30000);
	cJSON_Delete(j);
	fmh_fnode_ext4_errors(&node, "faulta", 1);
	j = fmh_fnode_wait_history(&node, "faulta", "raise", 30000);
	fmh_history_ordered(j);
	/* Several collections later: still one raise per file, none resolved. */
	assert_int_equal(fmh_history_count(j, "state-corrupt", "raise"), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(fmh_history_count(j, files[i], "raise"), 1);
	assert_int_equal(fmh_history_count(j, "state-corrupt", "resolve"), 0);
	cJSON_Delete(j);
	/* The old storm was read (the journal from the boot's start: its ten
	 * lines counted in the cursor the agent saves) and not raised, older
	 * than the log rules' hour. */
	if (storm) {
		uint64_t w0 = fm_now_ms();
		for (;;) {
			int rc;
			cJSON *js = fm_state_read_json(node.state, "journal.state", &rc);
			double matched = js ? fmh_jnum(js, "matched") : 0;
			cJSON_Delete(js);
			if (matched >= 10)
				break;
			if (fm_now_ms() - w0 > 15000)
				fail_msg("journal.state: the old storm not counted (%s, matched %.0f)",
					 rc ? strerror(-rc) : "parsed", matched);
			usleep(50000);
		}
		fmh_fnode_ext4_errors(&node, "faulta", 2);
		j = fmh_fnode_wait_history(&node, "faulta", "change", 30000);
		assert_int_equal(fmh_history_count(j, "container-name-conflict", "raise"), 0);
		cJSON_Delete(j);
	}

	/* The agent's own queue written in place of the garbage. */
	int rc;
	cJSON *q = fm_state_read_json(node.state, "uplink.json", &rc);
	if (!q)
		fail_msg("uplink.json not written again: %s", strerror(-rc));
	cJSON_Delete(q);

	/* The kept file removed: that one resolves, the others stand. */
	snprintf(p, sizeof(p), "%s/%s", node.state, kept[0]);
	assert_int_equal(unlink(p), 0);
	uint64_t r0 = fm_now_ms();
	j = fmh_fnode_wait_history(&node, "uplink.json", "resolve", 30000);
	uint64_t resolve_ms = fm_now_ms() - r0;
	assert_int_equal(fmh_history_count(j, "state-corrupt", "resolve"), 1);
	assert_non_null(fmh_show_active(j, "journal.state"));
	assert_non_null(fmh_show_active(j, "kmsg.state"));
	assert_null(fmh_show_active(j, "uplink.json"));
	cJSON_Delete(j);

	int status;
	assert_int_equal(fmh_stop_status(agent, &status), 0);
	assert_int_equal(status, 0);
	fmh_fault_line("test_fault_statecorrupt",
		       "injects=statedir-garbage-cutcursor-otherowner old_storm=%s raises=3 raise_ms=%llu resolve_ms=%llu",
		       storm ? "yes" : "skipped", (unsigned long long)raise_ms, (unsigned long long)resolve_ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_dir_damaged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
