/* libFuzzer target for the controller's control socket requests
 * (fc_relay_parse_request: what `fleetmedic-controller triage` writes to
 * serve): whatever is accepted fits its fields and bounds. */
#include "fc_relay.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_relay_request r;
	if (fc_relay_parse_request((const char *)data, size, &r) == 0 &&
	    (strlen(r.node) > FC_KEYS_ID_MAX || strlen(r.path) >= sizeof(r.path) ||
	     strlen(r.query) >= sizeof(r.query) || r.timeout_ms < 1 || r.timeout_ms > 3600000))
		__builtin_trap();
	return 0;
}
