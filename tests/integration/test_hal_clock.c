/* The clock against the node's certificates: with the kubeadm PKI that
 * pki.sh writes (real openssl certificates, notBefore = now), a clock set
 * before them (an RTC-less board that booted in 2001) is reported behind
 * the newest notBefore; the real clock is not. The clock is injected; the
 * rest of hal.clock comes from the running kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_discover.h"
#include "fm_facts.h"
#include "fm_hal.h"
#include "fm_harness.h"
#include "fmh_check.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char root[PATH_MAX];

static const cJSON *clock_at(struct fm_facts *f, struct fm_discovery *d, time_t now)
{
	assert_int_equal(fm_hal_collect(root, d, now, f), 0);
	const cJSON *c = fm_facts_get(f, "hal.clock", "clock");
	assert_non_null(c);
	return c;
}

static void clock_vs_newest_cert(void **state)
{
	(void)state;
	struct fm_discover_opts o = {.root = root};
	struct fm_discovery d;
	char err[256];
	assert_int_equal(fm_discover(&d, &o, err, sizeof(err)), 0);

	struct fm_facts *f = fm_facts_new();
	const cJSON *c = clock_at(f, &d, (time_t)1000000000); /* 2001-09-09 */
	assert_true(fmh_jnum(c, "certs_checked") >= 5);
	char nb[32];
	snprintf(nb, sizeof(nb), "%s", fmh_jstr(c, "newest_cert_not_before"));
	assert_true(strncmp(nb, "2001", 4) > 0);
	assert_non_null(strstr(fmh_jstr(c, "newest_cert"), root));
	assert_true(fmh_jbool(c, "clock_before_newest_cert"));
	fm_facts_delete(&f);

	f = fm_facts_new();
	c = clock_at(f, &d, time(NULL) + 60);
	assert_false(fmh_jbool(c, "clock_before_newest_cert"));
	assert_string_equal(fmh_jstr(c, "newest_cert_not_before"), nb);
	/* From the kernel: known one way or the other on Linux. */
	assert_true(cJSON_IsBool(fmh_field(c, "synchronised")));
	fm_facts_delete(&f);
	fm_discovery_free(&d);

	/* A node without certificates: unknown, with the reason. */
	char empty[PATH_MAX];
	assert_int_equal(fmh_tmpdir(empty, sizeof(empty)), 0);
	struct fm_discover_opts o2 = {.root = empty};
	assert_int_equal(fm_discover(&d, &o2, err, sizeof(err)), 0);
	f = fm_facts_new();
	assert_int_equal(fm_hal_collect(empty, &d, time(NULL), f), 0);
	c = fm_facts_get(f, "hal.clock", "clock");
	assert_true(cJSON_IsNull(fmh_field(c, "clock_before_newest_cert")));
	assert_string_equal(fmh_jstr(c, "cert_reason"), "no certificates found on the node");
	fm_facts_delete(&f);
	fm_discovery_free(&d);
}

int main(void)
{
	if (fmh_init() < 0 || fmh_tmpdir(root, sizeof(root)) < 0 || fmh_pki(root) < 0) {
		fprintf(stderr, "cannot write the test PKI\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(clock_vs_newest_cert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
