/* libFuzzer target for the agent's decoding of the controller's answers
 * (fm_report_answer: GET /me's {"q":…}, a heartbeat's {"t":…}): nothing
 * but a JSON object within the cap is taken, and q is a uint32. */
#include "fm_report.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_report_answer a;
	int rc = fm_report_answer(data, size, &a);
	if (rc < 0 && (a.has_q || a.waiting || a.q))
		__builtin_trap();
	if (rc == 0 && (size == 0 || size > FM_REPORT_MAX))
		__builtin_trap();
	if (!a.has_q && a.q)
		__builtin_trap();
	return 0;
}
