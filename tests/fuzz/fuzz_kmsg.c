/* libFuzzer target for the /dev/kmsg record parser: whatever it accepts,
 * the message it points at lies inside the input. */
#include "fm_kmsg.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_kmsg_record r;
	const char *buf = (const char *)data;
	if (fm_kmsg_parse(buf, size, &r) == 0) {
		if (r.msg < buf || r.msg + r.len > buf + size || r.level > 7)
			__builtin_trap();
	}
	return 0;
}
