#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fm_harness.h"
#include "fmh_check.h"

#include <stdlib.h>
#include <string.h>

const char *fmh_agent(void)
{
	const char *a = getenv("FM_AGENT");
	return a ? a : "fleetmedic-agent";
}

void fmh_run_agentv(struct fmh_agent_run *r, const char *const args[])
{
	const char *argv[40];
	int n = 0;
	argv[n++] = fmh_agent();
	for (size_t i = 0; args[i]; i++) {
		if (n == 39)
			fail_msg("more than 38 arguments for the agent");
		argv[n++] = args[i];
	}
	argv[n] = NULL;

	memset(r, 0, sizeof(*r));
	int rc = fmh_run2(argv, r->out, sizeof(r->out), r->err, sizeof(r->err), &r->status, 30000);
	if (rc != 0)
		fail_msg("running %s: %s", argv[0], strerror(-rc));
	r->json = cJSON_Parse(r->out);
}

void fmh_run_agent(struct fmh_agent_run *r, ...)
{
	const char *args[40];
	int n = 0;
	va_list ap;
	va_start(ap, r);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 39)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	fmh_run_agentv(r, args);
}
