/* libFuzzer target: one input through the controller's uplink decoders
 * (fc_wire.h): as a report (POST /rp), as a heartbeat (POST /hb) and as
 * GET /me's query; what
 * decodes is walked as the store would walk it. Built with
 * -fsanitize=fuzzer by `make fuzz`, replayed over its corpus in ctest. */
#include "fc_wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_report r;
	struct fc_hb hb;
	char why[160];
	if (fc_wire_report(data, size, &r, why, sizeof(why)) == 0) {
		uint32_t h = FC_WIRE_HASH_INIT;
		for (size_t i = 0; i < r.nd; i++) {
			h = fc_wire_hash_line(h, r.d[i].code, r.d[i].key, r.d[i].severity);
			char *e = r.d[i].evidence ? cJSON_PrintUnformatted(r.d[i].evidence) : NULL;
			cJSON_free(e);
			(void)strlen(r.d[i].summary);
		}
		for (size_t i = 0; i < r.nr; i++)
			(void)fc_wire_code_ok(r.r[i].code);
		(void)h;
		fc_wire_report_free(&r);
	}
	if (fc_wire_hb(data, size, &hb, why, sizeof(why)) == 0)
		(void)strlen(hb.h);
	/* the same bytes as GET /me's query (n=NODE&b=BOARD) */
	char v[33];
	int n = fc_wire_query(data, size, "b", v, sizeof(v));
	if (n >= 0 && (size_t)n != strlen(v))
		__builtin_trap(); /* a value is whole, without NUL, or refused */
	if (n > 0)
		(void)fc_wire_board_ok(v);
	(void)fc_wire_query(data, size, "n", v, sizeof(v));
	return 0;
}
