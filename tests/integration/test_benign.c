/* Healthy chatter raises nothing critical (issue 19): every line of
 *   - the files NAME.log of tests/fixtures/benign: ordinary kubelet, k3s, containerd,
 *     dockerd, etcd and kernel output copied from public logs (each group
 *     under the URL it came from), and
 *   - what real servers of the test harness write while they work: etcd 3.4
 *     and 3.5 at debug level while the agent asks them what it asks, and
 *     dockerd while containers are made, started, stopped and removed,
 * goes through the agent's rules (fm_rules, the built-in set) as a line of
 * its unit. The count of critical matches must be 0; warnings and infos
 * are printed with the lines that raised them (a false-positive figure).
 */
#include "fm_harness.h"
#include "fm_rules.h"
#include "fmh_check.h"
#include "fmh_docker.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MIN_LINES 5000
/* How much the harness's servers are made to say: every probe is some 10
 * (3.4) to 20 (3.5) debug lines of etcd's, every container some 20 of
 * dockerd's. */
#define ETCD_PROBES 140
#define DOCKER_RUNS 30

struct tally {
	long lines, critical, warning, info;
};

static struct fm_rules *rs;
static struct tally total;

/* Every line of path (comments and blank lines aside) through the rules as
 * src's. */
static void feed(const char *path, enum fm_rules_source src, const char *what)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	char *l = NULL;
	size_t cap = 0;
	ssize_t n;
	struct tally t = {0};
	while ((n = getline(&l, &cap, f)) >= 0) {
		while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r'))
			l[--n] = '\0';
		if (n == 0 || l[0] == '#')
			continue;
		t.lines++;
		struct fm_rules_match m;
		for (int i = fm_rules_match(rs, 0, src, l, (size_t)n, &m); i >= 0;
		     i = fm_rules_match(rs, (size_t)i + 1, src, l, (size_t)n, &m)) {
			const char *sev = fm_rules_severity(rs, (size_t)i);
			if (strcmp(sev, "critical") == 0) {
				t.critical++;
				print_error("CRITICAL on healthy %s output: %s raised %s: %s\n", what,
					    fm_rules_id(rs, (size_t)i), fm_rules_signal(rs, (size_t)i), l);
			} else {
				*(strcmp(sev, "warning") == 0 ? &t.warning : &t.info) += 1;
				print_message("%s on healthy %s output: %s: %.200s\n", sev, what, fm_rules_id(rs, (size_t)i), l);
			}
		}
	}
	free(l);
	fclose(f);
	print_message("benign %-28s %6ld lines: %ld critical, %ld warning, %ld info\n", what, t.lines, t.critical,
		      t.warning, t.info);
	total.lines += t.lines;
	total.critical += t.critical;
	total.warning += t.warning;
	total.info += t.info;
}

static enum fm_rules_source source_named(const char *name)
{
	int s = fm_rules_source_named(name);
	if (s < 0)
		fail_msg("benign corpus: %s is not a source the agent follows", name);
	return (enum fm_rules_source)s;
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	rs = fm_rules_new();
	return rs && fm_rules_load_default(rs, err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fm_rules_delete(&rs);
	fmh_cleanup();
	return 0;
}

/* The public corpus: FILE.log is the output of the unit FILE. */
static void public_logs(void **state)
{
	(void)state;
	DIR *d = opendir(FM_BENIGN_FIXTURES);
	assert_non_null(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".log") != 0)
			continue;
		char name[64], path[PATH_MAX];
		snprintf(name, sizeof(name), "%.*s", (int)(l - 4), de->d_name);
		snprintf(path, sizeof(path), "%s/%s", FM_BENIGN_FIXTURES, de->d_name);
		feed(path, source_named(name), name);
		files++;
	}
	closedir(d);
	assert_true(files > 0);
}

/* etcd at debug level, asked by the agent what it asks (probe etcd). */
static void etcd_at_work(const char *bin, const char *what)
{
	char root[PATH_MAX];
	assert_int_equal(fmh_tmpdir(root, sizeof(root)), 0);
	assert_int_equal(fmh_pki(root), 0);
	struct fmh_etcd e;
	const char *extra[] = {"--log-level", "debug", NULL};
	assert_int_equal(fmh_etcd_start_bin(&e, bin, root, NULL, extra), 0);
	static struct fmh_agent_run r;
	for (int i = 0; i < ETCD_PROBES; i++) {
		fmh_run_agent(&r, "probe", "etcd", "--json", "--root", root, "--etcd", e.url, "--etcd-ca", e.ca,
			      "--etcd-cert", e.cert, "--etcd-key", e.key, NULL);
		assert_int_equal(r.status, 0);
		cJSON_Delete(r.json);
		r.json = NULL;
	}
	assert_int_equal(fmh_stop(e.pid), 0);
	feed(e.log, FM_RULES_SRC_ETCD, what);
}

static void etcd34(void **state)
{
	(void)state;
	etcd_at_work(NULL, "etcd 3.4 (harness, debug)");
}

static void etcd35(void **state)
{
	(void)state;
	const char *bin = getenv("FM_ETCD35");
	assert_non_null(bin);
	etcd_at_work(bin, "etcd 3.5 (harness, debug)");
}

/* dockerd while containers come and go. */
static void dockerd(void **state)
{
	(void)state;
	/* static: the harness stops it at exit by this address when an
	 * assertion leaves the test early */
	static struct fmh_docker dk;
	assert_int_equal(fmh_docker_start(&dk), 0);
	for (int i = 0; i < DOCKER_RUNS; i++) {
		char name[64], id[65];
		snprintf(name, sizeof(name), "benign-%d", i);
		assert_int_equal(fmh_docker_run_exited(&dk, name, id, i % 2 ? "exit 0" : "echo hello"), 0);
		char out[1024];
		assert_int_equal(fmh_docker_cli(&dk, out, sizeof(out), "rm", id, NULL), 0);
	}
	assert_int_equal(fmh_docker_stop(&dk), 0);
	feed(dk.log, FM_RULES_SRC_DOCKER, "dockerd (harness)");
}

/* The sum: enough lines, none critical. */
static void none_critical(void **state)
{
	(void)state;
	print_message("benign total: %ld lines, %ld critical, %ld warning, %ld info\n", total.lines, total.critical,
		      total.warning, total.info);
	assert_int_equal(total.critical, 0);
	assert_true(total.lines >= MIN_LINES);
}

int main(void)
{
	fmh_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(public_logs), cmocka_unit_test(etcd34), cmocka_unit_test(etcd35),
		cmocka_unit_test(dockerd),     cmocka_unit_test(none_critical),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
