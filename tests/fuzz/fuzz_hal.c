/* libFuzzer target: one input read as the text files hal parses — each
 * line as a mountinfo line, the whole as meminfo/cpuinfo (hal_text_field),
 * as an nv_tegra_release line, and as a sysfs number. Built with
 * -fsanitize=fuzzer by `make fuzz`, replayed over its corpus in ctest. */
#include "hal/hal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[65536];
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';

	char v[64], rel[32], board[32];
	int64_t n;
	static const char *const keys[] = {"MemTotal", "SwapFree", "CPU architecture", "Model", ""};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (hal_text_field(text, keys[i], v, sizeof(v)) == 0)
			(void)strlen(v);
	if (hal_board_parse_l4t(text, rel, sizeof(rel), board, sizeof(board)) == 0)
		(void)(strlen(rel) + strlen(board));
	(void)hal_parse_s64(text, 0, &n);
	(void)hal_parse_s64(text, 16, &n);

	for (char *line = text; line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct hal_mount m;
		if (hal_storage_parse_mountinfo(line, &m) == 0)
			(void)(strlen(m.mount_point) + strlen(m.source) + strlen(m.errors));
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}
