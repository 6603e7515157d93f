/* Issue 24, Must show 3: a real headless Chromium (Debian's chromium) loads
 * the fleet page and the incident-1 node's page from a real
 * `fleetmedic-controller serve --http` on loopback (the report from an
 * independent CoAP/DTLS client): the DOM it builds holds the node,
 * container-name-conflict and the `docker rm` remedy, and no script: with
 * JavaScript off the page is the same: a browser without JavaScript
 * (Debian's w3m) shows the table, the fix and the filter working
 * (Chromium's headless mode cannot be asked for the DOM or a screenshot
 * with scripts off: --blink-settings=scriptEnabled=false makes both print
 * nothing, --disable-javascript is ignored); screenshots of both pages at desktop and phone widths are written to
 * $FMH_SCREENSHOTS (docs/screenshots/ holds the committed ones, README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"
#include "fmh_controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INCIDENT1_KEY "k8s_kube-apiserver_k~97304528"

static struct fmh_controller ctl;
static char profile[PATH_MAX], out[1 << 20];

static int setup(void **state)
{
	(void)state;
	char buf[4096];
	if (fmh_init() < 0 || fmh_tmpdir(profile, sizeof(profile)) < 0 || fmh_controller_start_http(&ctl, false) < 0)
		return -1;
	if (fmh_coap(&ctl, FMH_NODE_A, FMH_KEY_A, "get", "me?b=rpi4", NULL, buf, sizeof(buf)) < 0 ||
	    fmh_post(&ctl, FMH_NODE_A, FMH_KEY_A, "hb", "{\"q\":0,\"n\":0,\"w\":0,\"h\":\"811c9dc5\",\"i\":120}") < 0 ||
	    fmh_post(&ctl, FMH_NODE_A, FMH_KEY_A, "rp", "{\"q\":1,\"d\":[{\"c\":\"container-name-conflict\",\"s\":3,\"k\":\"" INCIDENT1_KEY "\","
		     "\"m\":\"kube-apiserver blocked: name held by 0f2a9c1e77d3 (running)\","
		     "\"e\":[\"journal.match:kubelet\",\"docker.stale_attempt:8470235abd66\"],\"p\":\"kube-apiserver\","
		     "\"x\":[\"apiserver-unreachable\"],\"f\":[\"docker rm 8470235abd66 5c0e4b1d2a90\"]}]}") < 0 ||
	    fmh_post(&ctl, FMH_NODE_B, FMH_KEY_B, "rp", "{\"q\":1,\"d\":[{\"c\":\"clock-unsynced\",\"s\":2,\"k\":\"clock\",\"m\":\"the clock is not "
		     "synchronised (NTP) and the board has no RTC\",\"f\":[\"timedatectl set-ntp true\"]}]}") < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fmh_cleanup();
	return 0;
}

/* Chromium headless on path, with more flags; its stdout into out. */
static void chromium(const char *path, const char *a1, const char *a2)
{
	char url[128], dir[PATH_MAX + 32];
	snprintf(url, sizeof(url), "%s%s", ctl.http_url, path);
	snprintf(dir, sizeof(dir), "--user-data-dir=%s", profile);
	const char *argv[] = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			      "--disable-extensions", dir, a1, a2 ? a2 : url, a2 ? url : NULL, NULL};
	int status;
	if (fmh_run2(argv, out, sizeof(out), NULL, 0, &status, 60000) < 0 || status != 0)
		fail_msg("chromium %s %s: exit %d", a1, path, status);
}

static void dom_has(const char *path, const char *const *want, size_t n)
{
	chromium(path, "--dump-dom", NULL);
	for (size_t i = 0; i < n; i++)
		if (!strstr(out, want[i]))
			fail_msg("%s: the DOM lacks '%s':\n%s", path, want[i], out);
	/* nothing for JavaScript to do: the DOM is the server's HTML */
	if (strstr(out, "<script"))
		fail_msg("%s holds a script", path);
}

/* A PNG of width w (its IHDR), written by Chromium. */
static void screenshot(const char *path, const char *name, int w, int h)
{
	const char *dir = getenv("FMH_SCREENSHOTS");
	char file[PATH_MAX + 64], flag[PATH_MAX + 80], size[32];
	if (!dir || !*dir)
		fail_msg("FMH_SCREENSHOTS is not set (ctest sets it)");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	snprintf(file, sizeof(file), "%s/%s.png", dir, name);
	snprintf(flag, sizeof(flag), "--screenshot=%s", file);
	snprintf(size, sizeof(size), "--window-size=%d,%d", w, h);
	remove(file);
	chromium(path, flag, size);
	FILE *f = fopen(file, "rb");
	if (!f)
		fail_msg("no screenshot %s", file);
	unsigned char hdr[24];
	size_t n = fread(hdr, 1, sizeof(hdr), f);
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	fclose(f);
	assert_int_equal(n, sizeof(hdr));
	assert_memory_equal(hdr, "\x89PNG\r\n\x1a\n", 8);
	int width = hdr[16] << 24 | hdr[17] << 16 | hdr[18] << 8 | hdr[19];
	assert_int_equal(width, w);
	assert_true(bytes > 5000); /* a page, not a blank */
	fprintf(stderr, "screenshot %s: %dx%d, %ld bytes\n", file, w, h, bytes);
}

static void pages_in_chromium(void **state)
{
	(void)state;
	static const char *const fleet[] = {FMH_NODE_A, FMH_NODE_B, "container-name-conflict", "clock-unsynced",
					    "<table class=\"fleet\">"};
	static const char *const node[] = {FMH_NODE_A, "container-name-conflict", "docker rm 8470235abd66 5c0e4b1d2a90",
					   "apiserver-unreachable", "History"};
	dom_has("/", fleet, sizeof(fleet) / sizeof(fleet[0]));
	dom_has("/nodes/" FMH_NODE_A, node, sizeof(node) / sizeof(node[0]));
	/* worst first: the critical node's row before the warning one's */
	chromium("/", "--dump-dom", NULL);
	char *a = strstr(out, "/nodes/" FMH_NODE_A), *b = strstr(out, "/nodes/" FMH_NODE_B);
	assert_true(a && b && a < b);

	screenshot("/", "fleet-desktop", 1280, 720);
	screenshot("/", "fleet-phone", 390, 844);
	screenshot("/nodes/" FMH_NODE_A, "node-desktop", 1280, 900);
	screenshot("/nodes/" FMH_NODE_A, "node-phone", 390, 1200);
}

/* The same pages in a browser without JavaScript at all (Debian's w3m):
 * the table and the fix are there as text, the filter form works. */
static void pages_without_javascript(void **state)
{
	(void)state;
	char url[128];
	int status;
	const char *paths[] = {"/", "/nodes/" FMH_NODE_A, "/?code=clock-unsynced"};
	const char *const want[][4] = {
		{FMH_NODE_A, FMH_NODE_B, "container-name-conflict", "critical"},
		{FMH_NODE_A, "container-name-conflict", "docker rm 8470235abd66 5c0e4b1d2a90", "apiserver-unreachable"},
		{FMH_NODE_B, "clock-unsynced", "warning", "1 critical"},
	};
	for (size_t i = 0; i < 3; i++) {
		snprintf(url, sizeof(url), "%s%s", ctl.http_url, paths[i]);
		const char *argv[] = {"w3m", "-dump", "-cols", "120", url, NULL};
		if (fmh_run2(argv, out, sizeof(out), NULL, 0, &status, 30000) < 0 || status != 0)
			fail_msg("w3m -dump %s: exit %d", url, status);
		for (size_t k = 0; k < 4; k++)
			if (!strstr(out, want[i][k]))
				fail_msg("w3m shows no '%s' at %s:\n%s", want[i][k], paths[i], out);
	}
	/* the filter left the critical node out of the table (its count stays) */
	assert_null(strstr(out, FMH_NODE_A));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pages_in_chromium),
		cmocka_unit_test(pages_without_javascript),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
