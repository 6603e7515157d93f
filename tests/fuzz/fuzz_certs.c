/* libFuzzer target for the certificates a kubeconfig embeds
 * (fm_certs_put_pem: PEM text through Mbed TLS into cert facts): the first
 * four bytes are the clock (seconds since 1970, as an RTC-less board may
 * have it anywhere in 1970..2106), the rest is the PEM text. Every outcome
 * is a fact: certificates with dates, or one failure with state and
 * reason. Replayed in ctest over kubeadm-like certificates (pki.sh). */
#include "fm_certs.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "/etc/kubernetes/admin.conf#client-certificate-data"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	time_t now = (time_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			      (uint32_t)data[2] << 8 | data[3]);
	struct fm_facts *facts = fm_facts_new();
	if (!facts)
		return 0;
	int n = fm_certs_put_pem(facts, ID, "/etc/kubernetes/admin.conf", (const char *)data + 4,
				 size - 4, now);
	if (n == 0 || n > FM_CERTS_PER_FILE)
		__builtin_trap();
	const cJSON *f = fm_facts_get(facts, "cert", ID);
	if (!f)
		__builtin_trap();
	if (n < 0 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "reason")))
		__builtin_trap();
	if (n > 0 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "not_after")))
		__builtin_trap();
	fm_facts_delete(&facts);
	return 0;
}
