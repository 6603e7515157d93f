/* libFuzzer target: one input, read both as a kubeconfig and as a static
 * pod manifest (fm_kubeconfig.h); every flag the discovery asks for is
 * looked up. Built with -fsanitize=fuzzer by `make fuzz`, and replayed over
 * its corpus in ctest (replay.c). */
#include "fm_kubeconfig.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const flags[] = {"listen-client-urls",
					    "advertise-client-urls",
					    "listen-metrics-urls",
					    "trusted-ca-file",
					    "name",
					    "secure-port",
					    "etcd-servers",
					    "--etcd-certfile",
					    "-",
					    ""};
	struct fm_kubeconfig kc;
	struct fm_manifest m;
	char err[256];

	if (fm_kubeconfig_parse(&kc, data, size, "/base", "/root", "fuzz", err, sizeof(err)) == 0) {
		(void)strlen(kc.server); /* every string is terminated */
		(void)(kc.token ? strlen(kc.token) : 0);
		fm_kubeconfig_free(&kc);
	}
	if (fm_manifest_parse(&m, data, size, "fuzz", err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			(void)fm_manifest_flag(&m, flags[i]);
		fm_manifest_free(&m);
	}
	return 0;
}
